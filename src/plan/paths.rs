//! Paths of a plan: the interpreter (configured, `/usr/bin/python`, or python3
//! on PATH), the agent's default name (tar and venv) and the tar member prefix
//! derived from the venv as written.

use crate::error::{Error, Result};
use crate::util::paths::find_on_path;
use std::path::{Component, Path, PathBuf};

pub(super) fn resolve_python(configured: Option<&str>) -> Result<(PathBuf, Option<String>)> {
    const DEFAULT: &str = "/usr/bin/python";
    match configured {
        Some(p) => {
            let path = PathBuf::from(p);
            let found = if p.contains('/') {
                path.is_file().then_some(path.clone())
            } else {
                find_on_path(p)
            };
            found.map(|f| (f, None)).ok_or_else(|| {
                Error::build(format!("python interpreter {p} not found (python_path)")).with(
                    "install that Python, or set python_path to an existing interpreter such as /usr/bin/python3",
                )
            })
        }
        None if Path::new(DEFAULT).is_file() => Ok((PathBuf::from(DEFAULT), None)),
        None => match find_on_path("python3") {
            Some(p) => {
                let note = format!(
                    "{DEFAULT} does not exist; using python3 from PATH: {} (set python_path to choose)",
                    p.display()
                );
                Ok((p, Some(note)))
            }
            None => Err(Error::build(format!(
                "python interpreter {DEFAULT} not found, and no python3 on PATH"
            ))
            .with("install Python, or set python_path in the config to an existing interpreter")),
        },
    }
}

/// `virtualenv_path`, checked before any work: a directory holding the
/// `virtualenv` package (or the single-file `virtualenv.py` of versions before 20).
pub(super) fn check_virtualenv_path(dir: &Path) -> Result<()> {
    if dir.join("virtualenv/__main__.py").is_file() || dir.join("virtualenv.py").is_file() {
        return Ok(());
    }
    Err(Error::config(format!(
        "virtualenv_path {}: no virtualenv there ({} is missing)",
        dir.display(),
        dir.join("virtualenv/__main__.py").display()
    ))
    .with(format!(
        "install it there without touching the interpreter: <python_path> -m pip install --target {} 'virtualenv<20.22' (20.22 dropped Python 2), or remove virtualenv_path to use the interpreter's own virtualenv",
        dir.display()
    )))
}

/// Where distributions install Python: an interpreter elsewhere (pyenv, a home
/// directory, a build tree, a relative path) is private to this host.
const SYSTEM_PYTHON_DIRS: [&str; 3] = ["/usr", "/bin", "/opt"];

/// The warning for an interpreter (absolute, normalised) that is not under a
/// [`SYSTEM_PYTHON_DIRS`] directory: the venv's `bin/python` links to it, so
/// the agent runs only on hosts that have that very file.
pub(super) fn private_python_warning(python: &Path) -> Option<String> {
    if SYSTEM_PYTHON_DIRS.iter().any(|d| python.starts_with(d)) {
        return None;
    }
    Some(format!(
        "python_path {} is not where a distribution installs Python (under {}): the agent's bin/python points at it, so only hosts with that same file can run the agent; build with the distribution's interpreter (python_path: /usr/bin/python3), or for another distribution with --root DIR",
        python.display(),
        SYSTEM_PYTHON_DIRS.join(", ")
    ))
}

/// The agent's default name, for its tar (`<name>.tar.gz`) and its venv
/// (`/cloudify/<name>/env`): `<distribution>-<release>-agent`, with the
/// architecture (`arch`, canonical: `aarch64`) before `-agent` unless it is the
/// one managers assume (`debian::arch::UNNAMED`), whose names stay as they were.
pub(crate) fn agent_name(distribution: &str, release: &str, arch: &str) -> String {
    if arch == crate::debian::arch::UNNAMED {
        format!("{distribution}-{release}-agent")
    } else {
        format!("{distribution}-{release}-{arch}-agent")
    }
}

/// The venv as written, normalised, without a leading `/`: the tar member prefix.
/// A relative path that climbs out of the current directory falls back to the
/// absolute path.
pub(crate) fn tar_prefix(written: &str, absolute: &Path) -> Result<String> {
    let mut parts: Vec<String> = Vec::new();
    let mut climbed = false;
    for c in Path::new(written).components() {
        match c {
            Component::Normal(s) => parts.push(s.to_string_lossy().into_owned()),
            Component::ParentDir => climbed |= parts.pop().is_none(),
            _ => {}
        }
    }
    if climbed {
        parts = absolute
            .components()
            .filter_map(|c| match c {
                Component::Normal(s) => Some(s.to_string_lossy().into_owned()),
                _ => None,
            })
            .collect();
    }
    if parts.is_empty() {
        return Err(Error::config(format!(
            "venv {written:?} names the current or root directory: give the virtualenv its own directory, e.g. cloudify/Ubuntu-trusty-agent/env"
        )));
    }
    Ok(parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn agent_names_carry_other_architectures() {
        assert_eq!(
            agent_name("debian", "bookworm", "x86_64"),
            "debian-bookworm-agent"
        );
        assert_eq!(
            agent_name("debian", "bookworm", "aarch64"),
            "debian-bookworm-aarch64-agent"
        );
        assert_eq!(
            agent_name("Ubuntu", "trusty", "i686"),
            "Ubuntu-trusty-i686-agent"
        );
    }

    #[test]
    fn tar_prefix_rules() {
        let abs = Path::new("/w/x/env");
        assert_eq!(
            tar_prefix("/cloudify/U-t-agent/env", abs).unwrap(),
            "cloudify/U-t-agent/env"
        );
        assert_eq!(
            tar_prefix("./cloudify//a/../b/env/", abs).unwrap(),
            "cloudify/b/env"
        );
        assert_eq!(tar_prefix("../x/env", abs).unwrap(), "w/x/env");
        assert!(tar_prefix(".", abs).is_err());
        assert!(tar_prefix("/", abs).is_err());
    }
}
