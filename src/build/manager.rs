//! The cloudify-manager source tree the management modules are installed from:
//! downloaded (URL) or extracted (local .tar.gz) into a temporary directory that is
//! removed afterwards and never ends up in the agent; a local directory is used as is.

use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::redact::redact;
use std::fs::File;
use std::path::{Path, PathBuf};
use tempfile::TempDir;

pub struct ManagerTree {
    /// Keeps the temporary directory alive; removed on drop.
    _tmp: Option<TempDir>,
    pub root: PathBuf,
}

impl ManagerTree {
    pub fn fetch(source: &str, log: &Log) -> Result<ManagerTree> {
        if source.starts_with("http://") || source.starts_with("https://") {
            let tmp = temp_dir()?;
            let archive = tmp.path().join("source.tar.gz");
            download(source, &archive, log)?;
            let root = extract(&archive, &tmp.path().join("tree"))?;
            return Ok(ManagerTree {
                _tmp: Some(tmp),
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
                _tmp: None,
                root: source_root(path)?,
            });
        }
        if path.is_file() {
            let tmp = temp_dir()?;
            let root = extract(path, &tmp.path().join("tree"))?;
            return Ok(ManagerTree {
                _tmp: Some(tmp),
                root,
            });
        }
        Err(Error::build(format!(
            "management_modules_source {source} does not exist"
        ))
        .with("point it at a cloudify-manager .tar.gz, a source directory, or a URL template with {version}"))
    }

    /// The directory of one management module, e.g. `plugins/agent-installer`.
    pub fn module_dir(&self, key: &str, subdir: &str) -> Result<PathBuf> {
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

fn temp_dir() -> Result<TempDir> {
    tempfile::Builder::new()
        .prefix("cfy-ap-manager.")
        .tempdir()
        .map_err(|e| Error::build(format!("creating a temporary directory: {e}")))
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
