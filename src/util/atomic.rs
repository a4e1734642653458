//! Outputs are written to a temporary file beside their destination and renamed
//! into place only when complete, so a failed run never leaves a partial file at
//! an output path and never touches a file that was there before. An output path
//! that holds anything but a regular file (a device, FIFO, socket, directory or
//! symbolic link) is never replaced, even with `-f`; and no output may be one of
//! the run's inputs ([`check_not_inputs`]).

use crate::error::{Error, IoContext, Result};
use std::fs::{File, Permissions};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::NamedTempFile;

pub(crate) struct AtomicFile {
    tmp: NamedTempFile,
    dest: PathBuf,
}

impl AtomicFile {
    pub(crate) fn create(dest: &Path) -> Result<AtomicFile> {
        check_replaceable(dest)?;
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

    pub(crate) fn file(&mut self) -> &mut File {
        self.tmp.as_file_mut()
    }

    pub(crate) fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Give the file mode 0644 and rename it into place. Without `overwrite`, an
    /// existing destination (even one created meanwhile) is never replaced.
    pub(crate) fn commit(self, overwrite: bool) -> Result<()> {
        let AtomicFile { tmp, dest } = self;
        // Again at the last moment: something may have appeared meanwhile.
        check_replaceable(&dest)?;
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
        "cannot write to output directory {}: {}",
        dir.display(),
        crate::error::io_cause(&e)
    ))
    .with("create the directory or make it writable, or choose another output path")
    .caused_by(e)
}

/// Fail early (before any build work) when an output's directory cannot take it.
pub(crate) fn check_writable(dest: &Path) -> Result<()> {
    let dir = super::paths::parent_dir(dest);
    tempfile::Builder::new()
        .prefix(".cfy-ap-probe.")
        .tempfile_in(&dir)
        .map(drop)
        .map_err(|e| unwritable(&dir, e))
}

/// Refuse (exit 2) an output path holding anything but a regular file: `-f`
/// replaces files, never devices, FIFOs, sockets, directories or symlinks.
pub(crate) fn check_replaceable(dest: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dest) {
        Ok(meta) if !meta.is_file() => Err(Error::config(format!(
            "output {} is {}: refusing to replace it (only regular files are replaced)",
            dest.display(),
            super::input::kind(&meta)
        ))
        .with("give the path of a new or regular file instead")),
        _ => Ok(()),
    }
}

/// Whether `a` and `b` name the same file: the same device and inode when both
/// exist, else the same canonical path.
/// Whether the files `a` and `b` hold the same bytes (read in blocks).
pub(crate) fn same_bytes(a: &Path, b: &Path) -> Result<bool> {
    use std::io::Read;
    let open = |p: &Path| std::fs::File::open(p).ctx("reading", p);
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let len = |f: &std::fs::File, p: &Path| f.metadata().ctx("reading", p).map(|m| m.len());
    if len(&fa, a)? != len(&fb, b)? {
        return Ok(false);
    }
    let (mut ba, mut bb) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = fa.read(&mut ba).ctx("reading", a)?;
        if n == 0 {
            return Ok(true);
        }
        fb.read_exact(&mut bb[..n]).ctx("reading", b)?;
        if ba[..n] != bb[..n] {
            return Ok(false);
        }
    }
}

pub(crate) fn same_file(a: &Path, b: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
        _ => canonical(a).is_some_and(|ca| canonical(b).is_some_and(|cb| ca == cb)),
    }
}

/// The canonical form of a path whose file may not exist yet: its parent
/// canonicalized, plus its name.
pub(crate) fn canonical(path: &Path) -> Option<PathBuf> {
    if let Ok(c) = path.canonicalize() {
        return Some(c);
    }
    let name = path.file_name()?;
    let parent = super::paths::parent_dir(path).canonicalize().ok()?;
    Some(parent.join(name))
}

/// Refuse (exit 2) any output that is also an input (`(label, path)`): writing
/// it would destroy what the run reads.
pub(crate) fn check_not_inputs(outputs: &[PathBuf], inputs: &[(String, PathBuf)]) -> Result<()> {
    for out in outputs {
        if let Some((label, _)) = inputs.iter().find(|(_, input)| same_file(out, input)) {
            return Err(Error::config(format!(
                "output {} is also an input ({label}): refusing to overwrite it",
                out.display()
            ))
            .with("choose another output path"));
        }
    }
    Ok(())
}

/// Give the regular file `path` the contents `data` without writing to it: a new
/// file beside it, with its permissions (and `mtime`, when given), is renamed over
/// it. The old inode is never modified, so where it is hard-linked (uv links the
/// agent's files from its cache) the other names keep their bytes.
pub(crate) fn replace_contents(
    path: &Path,
    data: &[u8],
    mtime: Option<std::time::SystemTime>,
) -> std::io::Result<()> {
    use std::io::Write;
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Err(std::io::Error::other("not a regular file"));
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".cfy-ap-tmp")
        .tempfile_in(super::paths::parent_dir(path))?;
    tmp.write_all(data)?;
    let file = tmp.as_file();
    file.set_permissions(meta.permissions())?;
    if let Some(t) = mtime {
        file.set_times(std::fs::FileTimes::new().set_modified(t))?;
    }
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Refuse (exit 2) an output (a file, or a repository directory) inside `dir`,
/// as written or after following symlinks: the run deletes or archives `dir`
/// (`what` says which directory it is).
pub(crate) fn check_outside(outputs: &[PathBuf], dir: &Path, what: &str) -> Result<()> {
    let lexical = |p: &Path| {
        std::path::absolute(p)
            .ok()
            .map(|a| super::paths::normalize(&a))
    };
    for out in outputs {
        let inside = |form: fn(&Path) -> Option<PathBuf>| {
            form(dir).is_some_and(|d| form(out).is_some_and(|o| o.starts_with(&d)))
        };
        if inside(canonical) || inside(lexical) {
            return Err(Error::config(format!(
                "output {} is inside {what} {}: choose a path outside it",
                out.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn special_files_are_never_replaced() {
        let d = tempfile::tempdir().unwrap();
        let link = d.path().join("link");
        std::os::unix::fs::symlink("/dev/null", &link).unwrap();
        assert_eq!(check_replaceable(&link).unwrap_err().exit_code(), 2);
        assert_eq!(
            check_replaceable(Path::new("/dev/null"))
                .unwrap_err()
                .exit_code(),
            2
        );
        assert_eq!(check_replaceable(d.path()).unwrap_err().exit_code(), 2);
        assert!(check_replaceable(&d.path().join("new")).is_ok());
        std::fs::write(d.path().join("f"), "x").unwrap();
        assert!(check_replaceable(&d.path().join("f")).is_ok());
        assert!(AtomicFile::create(&link).is_err());
    }

    #[test]
    fn replacing_contents_leaves_hard_links_alone() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let (cache, file) = (d.path().join("cache"), d.path().join("file"));
        std::fs::write(&cache, "original").unwrap();
        std::fs::set_permissions(&cache, Permissions::from_mode(0o751)).unwrap();
        std::fs::hard_link(&cache, &file).unwrap();
        let then = std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000);
        replace_contents(&file, b"new", Some(then)).unwrap();
        assert_eq!(std::fs::read(&cache).unwrap(), b"original");
        assert_eq!(std::fs::read(&file).unwrap(), b"new");
        let (c, f) = (
            std::fs::metadata(&cache).unwrap(),
            std::fs::metadata(&file).unwrap(),
        );
        assert_ne!(c.ino(), f.ino());
        assert_eq!((c.nlink(), f.nlink()), (1, 1));
        assert_eq!(f.mode() & 0o7777, 0o751);
        assert_eq!(f.mtime(), 1_000_000);
        // Nothing else is left in the directory.
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 2);
        // A symlink is not followed (nor replaced).
        let link = d.path().join("link");
        std::os::unix::fs::symlink(&cache, &link).unwrap();
        assert!(replace_contents(&link, b"x", None).is_err());
        assert_eq!(std::fs::read(&cache).unwrap(), b"original");
    }

    #[test]
    fn outputs_that_are_inputs() {
        let d = tempfile::tempdir().unwrap();
        let input = d.path().join("c.yaml");
        std::fs::write(&input, "x").unwrap();
        std::fs::create_dir(d.path().join("sub")).unwrap();
        let via = d.path().join("sub/../c.yaml");
        let inputs = vec![("the config file".to_string(), input.clone())];
        let e = check_not_inputs(&[via], &inputs).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.contains("the config file"), "{e}");
        assert!(check_not_inputs(&[d.path().join("new.tar.gz")], &inputs).is_ok());
        let alias = d.path().join("alias");
        std::os::unix::fs::symlink(d.path().join("sub"), &alias).unwrap();
        let e = check_outside(&[alias.join("x.tar.gz")], &d.path().join("sub"), "the venv");
        assert_eq!(e.unwrap_err().exit_code(), 2);
    }
}
