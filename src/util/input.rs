//! Bounded reads of input files: only regular files (a FIFO would hang the run,
//! `/dev/zero` would never end), and never more than a stated limit: the
//! config and packages ([`read_bounded`], exit 2), the bytecode cache's packs
//! ([`read_regular`], skipped).

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The largest config file read (see README "Limits").
pub(crate) const MAX_CONFIG: u64 = 4 << 20;

/// Refuse `path` (named `what` in errors) unless it is a regular file (symlinks
/// followed) of at most `limit` bytes. Exit 2 otherwise.
pub(crate) fn check_regular(path: &Path, what: &str, limit: u64) -> Result<u64> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Error::config(format!("{what} {}: cannot read it: {e}", path.display())))?;
    if !meta.is_file() {
        return Err(Error::config(format!(
            "{what} {} is not a regular file ({})",
            path.display(),
            kind(&meta)
        )));
    }
    if meta.len() > limit {
        return Err(Error::config(format!(
            "{what} {} is {} bytes, more than the limit of {limit} bytes",
            path.display(),
            meta.len()
        )));
    }
    Ok(meta.len())
}

/// Read a regular file of at most `limit` bytes (checked before and while reading).
pub(crate) fn read_bounded(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>> {
    check_regular(path, what, limit)?;
    let mut bytes = Vec::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
        .map_err(|e| Error::config(format!("{what} {}: cannot read it: {e}", path.display())))?;
    if bytes.len() as u64 > limit {
        return Err(Error::config(format!(
            "{what} {} grew past the limit of {limit} bytes while it was read",
            path.display()
        )));
    }
    Ok(bytes)
}

/// Read `path` if it is, itself (a symlink is not followed), a regular file of
/// at most `limit` bytes; Err says why not. Opened without blocking (a FIFO
/// would hang the run), then checked on the open file, so nothing swapped in
/// between the check and the read is read.
pub(crate) fn read_regular(path: &Path, limit: u64) -> std::result::Result<Vec<u8>, String> {
    use rustix::fs::{Mode, OFlags};
    let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(rustix::io::Errno::LOOP) => return Err("it is a symbolic link".into()),
        Err(e) => return Err(format!("cannot open it: {e}")),
    };
    let meta = file
        .metadata()
        .map_err(|e| format!("cannot read it: {e}"))?;
    if !meta.is_file() {
        return Err(format!("it is not a regular file ({})", kind(&meta)));
    }
    if meta.len() > limit {
        return Err(format!(
            "it is {} bytes, more than the limit of {limit} bytes",
            meta.len()
        ));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "it grew past the limit of {limit} bytes while it was read"
        ));
    }
    Ok(bytes)
}

/// What kind of file this is, for messages.
pub(crate) fn kind(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_socket() {
        "a socket"
    } else {
        "a regular file"
    }
}

#[cfg(test)]
mod tests {
    use super::read_regular;

    #[test]
    fn only_regular_files_within_the_limit_are_read() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("f");
        std::fs::write(&f, b"12345").unwrap();
        assert_eq!(read_regular(&f, 5).unwrap(), b"12345");
        assert!(
            read_regular(&f, 4)
                .unwrap_err()
                .contains("more than the limit")
        );
        let link = d.path().join("zero");
        std::os::unix::fs::symlink("/dev/zero", &link).unwrap();
        assert!(
            read_regular(&link, 5)
                .unwrap_err()
                .contains("symbolic link")
        );
        assert!(
            read_regular(std::path::Path::new("/dev/zero"), 5)
                .unwrap_err()
                .contains("a character device")
        );
        let fifo = d.path().join("fifo");
        rustix::fs::mkfifoat(
            rustix::fs::CWD,
            &fifo,
            rustix::fs::Mode::from_raw_mode(0o600),
        )
        .unwrap();
        assert!(read_regular(&fifo, 5).unwrap_err().contains("a FIFO"));
        assert!(
            read_regular(d.path(), 5)
                .unwrap_err()
                .contains("a directory")
        );
    }
}
