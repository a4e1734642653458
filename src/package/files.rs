//! What the package installs and where those files come from: the agent tar,
//! the per-distribution config files (found next to the config, in the current
//! directory or under [`SYSTEM_PACKAGING`]), and the `--from-tar` check.

use super::Format;
use crate::error::{Error, Result};
use crate::util::paths::normalize;
use std::path::{Path, PathBuf};

/// Last place searched for `packaging/<distribution>/`.
pub(super) const SYSTEM_PACKAGING: &str = "/usr/share/cfy-ap/packaging";
/// The per-distribution files: name in the config directory, directory under
/// `<resources>/packages/`, mode. Installed as `<Distribution>-<name>`.
pub(crate) const CONFIG_FILES: [(&str, &str, u32); 3] = [
    ("agent-disable-requiretty.sh", "scripts", 0o755),
    ("celeryd-cloudify.conf.template", "templates", 0o644),
    ("celeryd-cloudify.init.template", "templates", 0o644),
];

/// Where an installed file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The agent tar.gz (`output_tar`, or the `--from-tar` file).
    AgentTar,
    File(PathBuf),
}

/// One file the package installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallFile {
    /// Absolute path on the target, e.g. `/opt/manager/resources/packages/agents/x.tar.gz`.
    pub path: String,
    pub source: Source,
    pub mode: u32,
}

/// What the package says about the agent it carries.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub tar: PathBuf,
    /// Unknown when packaging an existing tar (`--from-tar`).
    pub python_version: Option<String>,
    pub installed: Vec<(String, String)>,
}

impl AgentInfo {
    pub fn from_tar(tar: &Path) -> AgentInfo {
        AgentInfo {
            tar: tar.to_path_buf(),
            python_version: None,
            installed: Vec::new(),
        }
    }
}

/// `--from-tar PATH`: an existing gzip file, packaged with `--format deb` (not tar).
pub(crate) fn check_from_tar(path: &Path, formats: &[Format]) -> Result<PathBuf> {
    let path = normalize(path);
    if formats.contains(&Format::Tar) || formats.is_empty() {
        return Err(Error::config(
            "--from-tar packages an existing agent tar: use it with --format deb and/or rpm (not tar)",
        ));
    }
    let mut magic = [0u8; 2];
    let read = std::fs::File::open(&path).and_then(|mut f| {
        use std::io::Read;
        f.read_exact(&mut magic)
    });
    match read {
        Ok(()) if magic == [0x1f, 0x8b] => Ok(path),
        Ok(()) => Err(Error::config(format!(
            "--from-tar {}: not a gzip file (expected an agent .tar.gz)",
            path.display()
        ))),
        Err(e) => Err(Error::config(format!(
            "--from-tar {}: cannot read it: {e}",
            path.display()
        ))),
    }
}

/// `package.config_files`, else `packaging/<distribution>/` next to the config file,
/// in the current directory, then under [`SYSTEM_PACKAGING`], then the built-in set.
pub(super) fn find_config_dir(given: Option<&str>, ctx: &super::Context) -> Result<PathBuf> {
    let dist = ctx.distribution.to_lowercase();
    let candidates: Vec<PathBuf> = match given {
        Some(g) => vec![normalize(&ctx.cwd.join(g))],
        None => {
            let mut bases: Vec<PathBuf> = ctx
                .config_dir
                .map(|d| d.join("packaging"))
                .into_iter()
                .collect();
            bases.push(ctx.cwd.join("packaging"));
            bases.push(PathBuf::from(SYSTEM_PACKAGING));
            let mut dirs: Vec<PathBuf> = Vec::new();
            for b in bases {
                let d = normalize(&b.join(&dist));
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
            dirs
        }
    };
    let found = candidates.iter().find(|d| d.is_dir());
    // Nothing on disk: the set compiled into the binary (not for an explicit path).
    if let (None, None, Some(set)) = (found, given, super::builtin::for_distribution(&dist)) {
        return Ok(super::builtin::dir_of(set));
    }
    let Some(dir) = found else {
        let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        return Err(Error::config(format!(
            "no agent config files for distribution {}: looked in {}",
            ctx.distribution,
            looked.join(", ")
        ))
        .with(format!(
            "set package.config_files to a directory holding {}",
            CONFIG_FILES.map(|c| c.0).join(", ")
        )));
    };
    let missing: Vec<&str> = CONFIG_FILES
        .iter()
        .filter(|(f, _, _)| config_file(dir, f, ctx.distribution).is_none())
        .map(|c| c.0)
        .collect();
    if !missing.is_empty() {
        return Err(Error::config(format!(
            "agent config files missing in {}: {}",
            dir.display(),
            missing.join(", ")
        )));
    }
    Ok(dir.clone())
}

/// `<dir>/<file>`, or the packman-style `<dir>/<Distribution>-<file>`.
pub(super) fn config_file(dir: &Path, file: &str, distribution: &str) -> Option<PathBuf> {
    [dir.join(file), dir.join(format!("{distribution}-{file}"))]
        .into_iter()
        .find(|p| p.is_file())
}
