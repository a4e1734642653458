//! The cloudify-manager source tree the management modules are installed from:
//! downloaded (URL) or extracted (local .tar.gz) into a work directory beside the
//! venv (never inside it) that is removed afterwards; a local directory is used as is.
//! The work directory has a fixed name because pip records each module's source path
//! (`direct_url.json`): a random temp name would make rebuilds differ.

use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::util::redact::redact;
use std::fs::File;
use std::path::{Path, PathBuf};

pub(super) struct ManagerTree {
    /// Removed on drop.
    _work: Option<WorkDir>,
    pub root: PathBuf,
}

struct WorkDir(PathBuf);

impl WorkDir {
    fn create(path: &Path) -> Result<WorkDir> {
        if path.exists() {
            std::fs::remove_dir_all(path).ctx("removing the stale work directory", path)?;
        }
        std::fs::create_dir_all(path).ctx("creating", path)?;
        Ok(WorkDir(path.to_path_buf()))
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

impl ManagerTree {
    /// `work` is the directory to download/extract into (created, then removed on drop).
    pub(super) fn fetch(source: &str, work: &Path, log: &Log) -> Result<ManagerTree> {
        if source.starts_with("http://") || source.starts_with("https://") {
            let dir = WorkDir::create(work)?;
            let archive = dir.0.join("source.tar.gz");
            download(source, &archive, log)?;
            let root = extract(&archive, &dir.0.join("tree"))?;
            return Ok(ManagerTree {
                _work: Some(dir),
                root,
            });
        }
        if source.contains("://") {
            return Err(Error::config(format!(
                "management_modules_source {}: only http://, https:// URLs, local .tar.gz files and directories are supported",
                redact(source)
            )));
        }
        let path = Path::new(source);
        if path.is_dir() {
            return Ok(ManagerTree {
                _work: None,
                root: source_root(path)?,
            });
        }
        if path.is_file() {
            let dir = WorkDir::create(work)?;
            let root = extract(path, &dir.0.join("tree"))?;
            return Ok(ManagerTree {
                _work: Some(dir),
                root,
            });
        }
        Err(Error::build(format!(
            "management_modules_source {source} does not exist"
        ))
        .with("point it at a cloudify-manager .tar.gz, a source directory, or a URL template with {version}"))
    }

    /// The directory of one management module, e.g. `plugins/agent-installer`.
    pub(super) fn module_dir(&self, key: &str, subdir: &str) -> Result<PathBuf> {
        let dir = self.root.join(subdir);
        if dir.is_dir() {
            Ok(dir)
        } else {
            Err(Error::build(format!(
                "the cloudify-manager source has no {subdir} (needed for module {key})"
            ))
            .with("set management_modules_version/management_modules_source to a tree that has it, give the module a source under management_modules, or set it to none"))
        }
    }
}

fn download(url: &str, dest: &Path, log: &Log) -> Result<()> {
    let shown = redact(url);
    log.detail(&format!("downloading {shown}"));
    let response = ureq::get(url).call().map_err(|e| match e {
        ureq::Error::StatusCode(code) => {
            Error::build(format!("downloading {shown} failed: HTTP status {code}"))
                .with("check management_modules_version and management_modules_source")
        }
        other => Error::build(format!("cannot download {shown}: {other}"))
            .with("check the URL and the network, or use a local .tar.gz / directory as management_modules_source"),
    })?;
    let mut body = response.into_body().into_reader();
    let mut file = File::create(dest).ctx("writing", dest)?;
    std::io::copy(&mut body, &mut file)
        .map_err(|e| Error::build(format!("downloading {shown} failed: {e}")))?;
    Ok(())
}

fn extract(archive: &Path, into: &Path) -> Result<PathBuf> {
    let file = File::open(archive).ctx("reading", archive)?;
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(file));
    tar.set_preserve_permissions(false);
    std::fs::create_dir_all(into).ctx("creating", into)?;
    tar.unpack(into).map_err(|e| {
        Error::build(format!(
            "cannot extract the manager source {}: {e}",
            archive.display()
        ))
        .with("management_modules_source must be a gzip-compressed tar (like GitHub's archive/<version>.tar.gz)")
    })?;
    source_root(into)
}

/// The tree itself when it has `plugins/`, else its single top directory (GitHub
/// archives wrap everything in `cloudify-manager-<version>/`).
fn source_root(dir: &Path) -> Result<PathBuf> {
    if dir.join("plugins").is_dir() {
        return Ok(dir.to_path_buf());
    }
    let entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .ctx("reading", dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    match entries.as_slice() {
        [only] if only.is_dir() => Ok(only.clone()),
        _ => Ok(dir.to_path_buf()),
    }
}
