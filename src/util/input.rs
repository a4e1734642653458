//! Bounded reads of input files: only regular files (a FIFO would hang the run,
//! `/dev/zero` would never end), and never more than a stated limit.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::Path;

/// The largest config file read (see README "Limits").
pub const MAX_CONFIG: u64 = 4 << 20;

/// Refuse `path` (named `what` in errors) unless it is a regular file (symlinks
/// followed) of at most `limit` bytes. Exit 2 otherwise.
pub fn check_regular(path: &Path, what: &str, limit: u64) -> Result<u64> {
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
pub fn read_bounded(path: &Path, what: &str, limit: u64) -> Result<Vec<u8>> {
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

/// What kind of file this is, for messages.
pub fn kind(meta: &std::fs::Metadata) -> &'static str {
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
