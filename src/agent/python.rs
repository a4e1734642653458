//! The base interpreter: what it is, and making the virtualenv with it.

use super::command::{Run, run};
use crate::error::{Error, Result};
use crate::log::Log;
use std::path::Path;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VenvTool {
    /// `python -m venv` (stdlib, needs ensurepip).
    Venv,
    /// `python -m virtualenv`.
    Virtualenv,
}

#[derive(Debug, Clone)]
pub struct Interpreter {
    pub version: String,
    pub tool: VenvTool,
    /// Where ensurepip keeps its wheels, if anywhere (see `seed`).
    pub wheel_dir: Option<std::path::PathBuf>,
}

/// Works on Python 2.6+ and 3.x.
const PROBE: &str = r#"
import sys
print("%d.%d.%d" % tuple(sys.version_info[:3]))
def has(m):
    try:
        __import__(m)
        return True
    except Exception:
        return False
if has("venv") and has("ensurepip"):
    print("venv")
elif has("virtualenv"):
    print("virtualenv")
else:
    print("none")
try:
    import os, sysconfig, ensurepip
    for d in (sysconfig.get_config_var("WHEEL_PKG_DIR"),
              getattr(ensurepip, "_WHEEL_PKG_DIR", None),
              os.path.join(os.path.dirname(ensurepip.__file__), "_bundled")):
        if d and os.path.isdir(d):
            print(d)
            break
except Exception:
    pass
"#;

pub fn probe(python: &Path, log: &Log) -> Result<Interpreter> {
    let out = run(Run::new(python).arg("-c").arg(PROBE), log).map_err(|e| {
        Error::build(format!(
            "cannot run python interpreter {}",
            python.display()
        ))
        .with(e.message)
        .with("set python_path to a working interpreter")
    })?;
    let mut lines = out.lines();
    let version = lines.next().unwrap_or_default().trim().to_string();
    let tool = match lines.next().map(str::trim) {
        Some("venv") => VenvTool::Venv,
        Some("virtualenv") => VenvTool::Virtualenv,
        _ => {
            return Err(Error::build(format!(
                "python {} ({version}) can neither `-m venv` nor `-m virtualenv`",
                python.display()
            ))
            .with("install the venv module (Debian/Ubuntu: apt-get install python3-venv) or virtualenv (`<python> -m pip install virtualenv`), or set python_path to another interpreter"));
        }
    };
    let wheel_dir = lines
        .next()
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(std::path::PathBuf::from);
    Ok(Interpreter {
        version,
        tool,
        wheel_dir,
    })
}

pub fn create_venv(python: &Path, tool: VenvTool, venv: &Path, log: &Log) -> Result<()> {
    create_parent(venv)?;
    let module = match tool {
        VenvTool::Venv => "venv",
        VenvTool::Virtualenv => "virtualenv",
    };
    run(Run::new(python).arg("-m").arg(module).arg(venv), log).map_err(|e| {
        super::install::wrap(
            format!(
                "creating the virtualenv {} with {} -m {module} failed",
                venv.display(),
                python.display()
            ),
            e,
        )
    })?;
    Ok(())
}

/// `python -m venv --without-pip`: the seed packages come with the modules (see `seed`).
pub fn create_venv_without_pip(python: &Path, venv: &Path, log: &Log) -> Result<()> {
    create_parent(venv)?;
    run(
        Run::new(python)
            .args(["-m", "venv", "--without-pip"])
            .arg(venv),
        log,
    )
    .map_err(|e| {
        super::install::wrap(
            format!(
                "creating the virtualenv {} with {} -m venv --without-pip failed",
                venv.display(),
                python.display()
            ),
            e,
        )
    })?;
    Ok(())
}

/// Create the directory the virtualenv goes into (in a `--root` build: in the
/// root's overlay on the host).
pub fn create_parent(venv: &Path) -> Result<()> {
    if let Some(parent) = super::root::host_path(venv).parent() {
        std::fs::create_dir_all(parent).map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::PermissionDenied {
                "run as a user who may write there (the default venv is under /cloudify), or set `venv` to a writable path such as cloudify/<agent>/env"
            } else {
                "set `venv` to a path whose parent directory can be created"
            };
            Error::io("creating the virtualenv's parent directory", parent, e).with(hint)
        })?;
    }
    Ok(())
}
