//! The publisher lock: an exclusive `flock` on `<repo>/.cfy-ap.lock`
//! serialises the read-modify-write of a publish between publishers on one
//! machine (or one shared filesystem), so none loses another's package.

use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use std::fs::{self, File};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

const LOCK_FILE: &str = ".cfy-ap.lock";

/// Exclusive lock on the repository, held until the returned file is dropped.
/// The lock is a regular file in the repository: a symlink there (which could
/// create a file elsewhere) or a FIFO (which would block the open) is refused,
/// exit 2.
pub(crate) fn lock(root: &Path, log: &Log) -> Result<File> {
    let path = root.join(LOCK_FILE);
    let not_regular = |what: &str| {
        Error::config(format!(
            "lock file {} is {what}, not a regular file",
            path.display()
        ))
        .with("remove it (cfy-ap creates it) and publish again")
    };
    // No-follow and non-blocking: a symlink fails (ELOOP), a FIFO opens at once.
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .mode(0o644)
        .custom_flags(libc_flags())
        .open(&path);
    let file = match file {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(not_regular("a symbolic link"));
        }
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::NXIO.raw_os_error()) => {
            return Err(not_regular("a FIFO"));
        }
        Err(e) => return Err(Error::io("opening lock file", &path, e)),
    };
    let meta = file.metadata().ctx("reading", &path)?;
    if !meta.is_file() {
        return Err(not_regular(crate::util::input::kind(&meta)));
    }
    match file.try_lock() {
        Ok(()) => return Ok(file),
        Err(fs::TryLockError::WouldBlock) => {}
        Err(fs::TryLockError::Error(e)) => return Err(Error::io("locking", &path, e)),
    }
    log.info(&format!(
        "waiting for another publisher to finish ({})",
        path.display()
    ));
    loop {
        match file.lock() {
            Ok(()) => return Ok(file),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("locking", &path, e)),
        }
    }
}

/// `O_NOFOLLOW | O_NONBLOCK`.
fn libc_flags() -> i32 {
    (rustix::fs::OFlags::NOFOLLOW | rustix::fs::OFlags::NONBLOCK).bits() as i32
}
