//! The seed packages of a new virtualenv, taken from the interpreter's own
//! `ensurepip` wheels (`ensurepip/_bundled`, or the distribution's
//! `WHEEL_PKG_DIR` such as Debian's `/usr/share/python-wheels`).
//!
//! `python -m venv` runs ensurepip, which starts pip once just to install pip and
//! setuptools (~1.9 s). Instead the virtualenv is made without pip and the very
//! same wheels (`pip==X`, `setuptools==Y`, from a local `--find-links` directory,
//! offline) go into the one install pass with the modules: the agent gets exactly
//! what `python -m venv` would have given it, with either installer.

use super::python::Interpreter;
use super::sandbox::Sandbox;
use crate::log::Log;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Seeds {
    /// The directory to add as `--find-links`.
    pub dir: PathBuf,
    /// The pip wheel itself (pip can run from it: `python <wheel>/pip`).
    pub pip_wheel: PathBuf,
    /// Exact requirements, pip first: `pip==23.0.1`, `setuptools==66.1.1`.
    pub requirements: Vec<String>,
}

/// The interpreter's seed wheels (found by the probe), or None when it has no
/// usable pip wheel.
pub(super) fn find(interpreter: &Interpreter, sandbox: &Sandbox, log: &Log) -> Option<Seeds> {
    // Inside a `--root` the wheel directory is the root's, not the host's: the
    // venv is made with ensurepip there instead.
    if sandbox.in_root() {
        return None;
    }
    let dir = interpreter.wheel_dir.as_deref()?;
    let seeds = from_dir(dir);
    if seeds.is_none() {
        log.detail(&format!("no pip wheel in {}", dir.display()));
    }
    seeds
}

/// pip and setuptools wheels in `dir` (the newest of each).
fn from_dir(dir: &Path) -> Option<Seeds> {
    let mut files: Vec<String> = std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".whl"))
        .collect();
    files.sort();
    let newest = |dist: &str| -> Option<(String, String)> {
        files
            .iter()
            .filter_map(|f| {
                let mut parts = f.split('-');
                if parts.next()? != dist {
                    return None;
                }
                Some((parts.next()?.to_string(), f.clone()))
            })
            .max_by(|a, b| version_key(&a.0).cmp(&version_key(&b.0)))
    };
    let (pip_version, pip_file) = newest("pip")?;
    let mut requirements = vec![format!("pip=={pip_version}")];
    if let Some((v, _)) = newest("setuptools") {
        requirements.push(format!("setuptools=={v}"));
    }
    Some(Seeds {
        dir: dir.to_path_buf(),
        pip_wheel: dir.join(pip_file),
        requirements,
    })
}

fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newest_pip_and_setuptools() {
        let d = tempfile::tempdir().unwrap();
        for f in [
            "pip-9.0.1-py2.py3-none-any.whl",
            "pip-23.0.1-py3-none-any.whl",
            "setuptools-66.1.1-py3-none-any.whl",
            "wheel-0.38.4-py3-none-any.whl",
            "notes.txt",
        ] {
            std::fs::write(d.path().join(f), b"").unwrap();
        }
        let s = from_dir(d.path()).unwrap();
        assert_eq!(s.requirements, ["pip==23.0.1", "setuptools==66.1.1"]);
        assert_eq!(s.pip_wheel, d.path().join("pip-23.0.1-py3-none-any.whl"));
        std::fs::remove_file(d.path().join("pip-9.0.1-py2.py3-none-any.whl")).unwrap();
        std::fs::remove_file(d.path().join("pip-23.0.1-py3-none-any.whl")).unwrap();
        assert_eq!(from_dir(d.path()), None);
    }
}
