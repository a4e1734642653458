//! Outputs are written to a temporary file beside their destination and renamed
//! into place only when complete, so a failed run never leaves a partial file at
//! an output path and never touches a file that was there before.

use crate::error::{Error, IoContext, Result};
use std::fs::{File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

pub struct AtomicFile {
    tmp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    pub fn create(dest: &Path) -> Result<AtomicFile> {
        let dir = super::paths::parent_dir(dest);
        let name = dest
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let tmp = tempfile::Builder::new()
            .prefix(&format!(".{name}."))
            .suffix(".partial")
            .tempfile_in(&dir)
            .map_err(|e| unwritable(&dir, e))?;
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
        })
    }

    pub fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Give the file mode 0644 and rename it into place. Without `overwrite`, an
    /// existing destination (even one created meanwhile) is never replaced.
    pub fn commit(self, overwrite: bool) -> Result<()> {
        let AtomicFile { tmp, dest } = self;
        tmp.as_file()
            .set_permissions(Permissions::from_mode(0o644))
            .ctx("setting permissions of", tmp.path())?;
        tmp.as_file().sync_all().ctx("flushing", tmp.path())?;
        let result = if overwrite {
            tmp.persist(&dest)
        } else {
            tmp.persist_noclobber(&dest)
        };
        result.map(|_| ()).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                Error::exists(format!("{} already exists", dest.display()))
                    .with("use -f/--force to replace it")
            } else {
                Error::io("writing", &dest, e.error)
            }
        })
    }
}

fn unwritable(dir: &Path, e: std::io::Error) -> Error {
    Error::build(format!(
        "cannot write to output directory {}: {e}",
        dir.display()
    ))
    .with("create the directory or make it writable, or choose another output path")
}

/// Fail early (before any build work) when an output's directory cannot take it.
pub fn check_writable(dest: &Path) -> Result<()> {
    let dir = super::paths::parent_dir(dest);
    tempfile::Builder::new()
        .prefix(".cfy-ap-probe.")
        .tempfile_in(&dir)
        .map(drop)
        .map_err(|e| unwritable(&dir, e))
}
