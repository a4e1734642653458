//! The base interpreter: what it is, and making the virtualenv with it.

use super::command::{Run, run};
use super::sandbox::Sandbox;
use crate::error::{Error, Result};
use crate::log::Log;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VenvTool {
    /// `python -m venv` (stdlib, needs ensurepip).
    Venv,
    /// `python -m virtualenv`.
    Virtualenv,
}

#[derive(Debug, Clone)]
pub(crate) struct Interpreter {
    pub version: String,
    pub tool: VenvTool,
    /// Where ensurepip keeps its wheels, if anywhere (see `seed`).
    pub wheel_dir: Option<PathBuf>,
    /// CPython 3.7 or later: what its `.pyc` depend on (see `bytecode`).
    pub pyc: Option<PycId>,
    /// `virtualenv_path`: where `virtualenv` is found (put on `PYTHONPATH`
    /// for the probe and `-m virtualenv` only, never for the agent's pip).
    pub virtualenv_path: Option<PathBuf>,
}

impl Interpreter {
    /// Python `major.minor` or later.
    pub(crate) fn at_least(&self, major: u32, minor: u32) -> bool {
        let v: Vec<u32> = self
            .version
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        v.as_slice() >= [major, minor].as_slice()
    }
}

/// `run` with `virtualenv_path` first on `PYTHONPATH` (before any inherited one).
fn with_virtualenv_path(run: Run, dir: Option<&Path>) -> Run {
    let Some(dir) = dir else {
        return run;
    };
    let mut path = dir.as_os_str().to_owned();
    if let Some(old) = std::env::var_os("PYTHONPATH").filter(|p| !p.is_empty()) {
        path.push(":");
        path.push(old);
    }
    run.env("PYTHONPATH", path)
}

/// A CPython 3.7+ interpreter's bytecode identity, from the probe's `pyc` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PycId {
    /// `importlib.util.MAGIC_NUMBER`.
    pub magic: Vec<u8>,
    /// `sys.implementation.cache_tag`, e.g. `cpython-37`.
    pub cache_tag: String,
    /// The minor version (3.<minor>).
    pub minor: u32,
    /// The whole line (magic, tag, `sys.version` with its build): the cache key part.
    pub line: String,
}

impl PycId {
    /// `pyc <magic hex> <cache tag> <minor> <sys.version>`.
    fn parse(line: &str) -> Option<PycId> {
        let mut it = line.strip_prefix("pyc ")?.splitn(4, ' ');
        let magic = hex::decode(it.next()?).ok()?;
        let cache_tag = it.next()?.to_string();
        let minor = it.next()?.parse().ok()?;
        (magic.len() == 4 && !cache_tag.is_empty()).then(|| PycId {
            magic,
            cache_tag,
            minor,
            line: line.to_string(),
        })
    }
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
    print("virtualenv " + sys.modules["virtualenv"].__file__)
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
try:
    import binascii, importlib.util
    if sys.version_info >= (3, 7) and sys.implementation.name == "cpython":
        print("pyc %s %s %d %s" % (binascii.hexlify(importlib.util.MAGIC_NUMBER).decode(),
              sys.implementation.cache_tag, sys.version_info[1], " ".join(sys.version.split())))
except Exception:
    pass
"#;

/// What `python` is; `virtualenv_path` is where to look for virtualenv first.
pub(crate) fn probe(
    python: &Path,
    virtualenv_path: Option<&Path>,
    sandbox: &Sandbox,
    log: &Log,
) -> Result<Interpreter> {
    let out = run(
        with_virtualenv_path(
            Run::new(python).arg("-c").arg_shown_as(PROBE, "<probe>"),
            virtualenv_path,
        ),
        sandbox,
        log,
    )
    .map_err(|e| {
        // The interpreter's own last words say why (a missing library, a bad
        // PYTHONHOME); without them (-v showed them), how it failed.
        let why = super::command::last_words(&e).unwrap_or(&e.message);
        Error::build(format!(
            "cannot run python interpreter {}: {why}",
            python.display()
        ))
        .with("set python_path to a working interpreter")
    })?;
    let mut lines = out.lines();
    let version = lines.next().unwrap_or_default().trim().to_string();
    let tool = match lines.next().map(str::trim) {
        Some("venv") => VenvTool::Venv,
        Some(l) if l.starts_with("virtualenv") => {
            log.detail(&format!("virtualenv: {}", l["virtualenv".len()..].trim()));
            VenvTool::Virtualenv
        }
        _ => {
            return Err(Error::build(format!(
                "python {} ({version}) can neither `-m venv` nor `-m virtualenv`",
                python.display()
            ))
            .with("install the venv module (Debian/Ubuntu: apt-get install python3-venv), or virtualenv into a directory of its own (`<python> -m pip install --target DIR virtualenv`) and set virtualenv_path: DIR, or set python_path to another interpreter"));
        }
    };
    let (mut wheel_dir, mut pyc) = (None, None);
    for line in lines.map(str::trim).filter(|l| !l.is_empty()) {
        if line.starts_with("pyc ") {
            pyc = PycId::parse(line);
        } else if wheel_dir.is_none() {
            wheel_dir = Some(std::path::PathBuf::from(line));
        }
    }
    Ok(Interpreter {
        version,
        tool,
        wheel_dir,
        pyc,
        virtualenv_path: virtualenv_path.map(Path::to_path_buf),
    })
}

pub(crate) fn create_venv(
    python: &Path,
    interpreter: &Interpreter,
    venv: &Path,
    sandbox: &Sandbox,
    log: &Log,
) -> Result<()> {
    create_parent(venv, sandbox)?;
    let module = match interpreter.tool {
        VenvTool::Venv => "venv",
        VenvTool::Virtualenv => "virtualenv",
    };
    let cmd = Run::new(python).arg("-m").arg(module).arg(venv);
    let cmd = match interpreter.tool {
        VenvTool::Virtualenv => with_virtualenv_path(cmd, interpreter.virtualenv_path.as_deref()),
        VenvTool::Venv => cmd,
    };
    run(cmd, sandbox, log).map_err(|e| {
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
pub(crate) fn create_venv_without_pip(
    python: &Path,
    venv: &Path,
    sandbox: &Sandbox,
    log: &Log,
) -> Result<()> {
    create_parent(venv, sandbox)?;
    run(
        Run::new(python)
            .args(["-m", "venv", "--without-pip"])
            .arg(venv),
        sandbox,
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
pub(crate) fn create_parent(venv: &Path, sandbox: &Sandbox) -> Result<()> {
    if let Some(parent) = sandbox.host_path(venv).parent() {
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
