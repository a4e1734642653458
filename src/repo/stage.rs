//! The first phase of a publish, for both formats: reading the packages
//! given before the repository is touched ([`stage_all_with`], [`in_root`]),
//! outside the lock; and what the later phases share: syncing ([`sync_all`],
//! [`sync_filesystem`]) and work on another thread ([`Background`]). The apt
//! publisher copies new packages straight into the pool at commit, checking
//! the bytes against the checksums taken when they were read; the yum
//! publisher stages copies in the repository root ([`stage_copy`]).

use crate::error::{Error, IoContext, Result};
use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use tempfile::TempPath;

pub(crate) const STAGING_PREFIX: &str = ".cfy-ap-incoming.";

/// `stage` over `srcs` on a few threads, results in order; the first failure
/// stops the others and is returned.
pub(crate) fn stage_all_with<T: Send>(
    srcs: &[PathBuf],
    stage: impl Fn(&Path) -> Result<T> + Sync,
) -> Result<Vec<T>> {
    let workers = crate::util::parallel::cores() * 2;
    crate::util::parallel::try_map(srcs, workers.clamp(1, 8), |src| stage(src))
}

/// Create the repository root (and its missing parents), then `read` the
/// packages into it (before the lock). When that fails the directories made
/// here are removed again: a refused publish into a new directory leaves
/// nothing behind.
pub(crate) fn in_root<T>(root: &Path, read: impl FnOnce() -> Result<T>) -> Result<T> {
    let made: Vec<&Path> = root.ancestors().take_while(|d| !d.exists()).collect();
    fs::create_dir_all(root)
        .map_err(|e| Error::build(format!("cannot create repository {}: {e}", root.display())))?;
    let read = read();
    if read.is_err() {
        // Deepest first; one that is not empty stops it.
        for dir in made {
            if fs::remove_dir(dir).is_err() {
                break;
            }
        }
    }
    read
}

/// Copy `src` into a staging file in `root` (mode 0644 once complete):
/// `read` gets a writer for the copy and the staging file's path, and reads
/// and checks `src` while writing every byte it reads to the copy.
pub(crate) fn stage_copy<T>(
    root: &Path,
    src: &Path,
    read: impl FnOnce(&mut dyn Write, &Path) -> Result<T>,
) -> Result<(T, TempPath)> {
    let prefix = format!("{STAGING_PREFIX}{}.", std::process::id());
    // Created 0600; mode 0644 once complete.
    let mut tmp = tempfile::Builder::new()
        .prefix(&prefix)
        .suffix(".partial")
        .tempfile_in(root)
        .map_err(|e| Error::io("cannot write into", root, e))?;
    let tmp_path = tmp.path().to_path_buf();
    let item = {
        let len = fs::metadata(src).map_or(0, |m| m.len());
        let capacity = usize::try_from(len)
            .unwrap_or(usize::MAX)
            .clamp(4096, 256 << 10);
        let mut w = BufWriter::with_capacity(capacity, tmp.as_file_mut());
        let item = read(&mut w, &tmp_path)?;
        w.flush().ctx("writing", &tmp_path)?;
        item
    };
    set_mode(tmp.as_file(), &tmp_path)?;
    Ok((item, tmp.into_temp_path()))
}

/// Give a file the mode readers (web servers, apt's `_apt` user) need.
pub(crate) fn set_mode(file: &File, path: &Path) -> Result<()> {
    file.set_permissions(fs::Permissions::from_mode(0o644))
        .ctx("setting permissions of", path)
}

/// Staging files of publishers that died (killed mid-copy). Live ones are kept:
/// they stage before taking the lock.
pub(crate) fn remove_stale_staging(root: &Path) {
    let Ok(entries) = fs::read_dir(root) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let Some(rest) = name.strip_prefix(STAGING_PREFIX) else {
            continue;
        };
        let pid = rest.split('.').next().and_then(|p| p.parse::<i32>().ok());
        let ours = pid == i32::try_from(std::process::id()).ok();
        let dead = !ours && pid.is_some_and(gone);
        if dead {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// Whether what a publish writes is flushed to disk (see [`Scratch`]).
static DURABLE: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// While one lives, publishes flush nothing to disk: the repository they
/// write is a scratch working copy (a publish into a bucket, `repo::s3`),
/// deleted afterwards; the store makes what is uploaded durable. Every
/// flush of the repository kit and the publishers asks [`durable`].
pub(crate) struct Scratch(bool);

impl Scratch {
    pub(crate) fn new() -> Scratch {
        Scratch(DURABLE.swap(false, std::sync::atomic::Ordering::SeqCst))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        DURABLE.store(self.0, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Whether to flush what is written (not inside a [`Scratch`]).
pub(crate) fn durable() -> bool {
    DURABLE.load(std::sync::atomic::Ordering::SeqCst)
}

/// Make the files written so far durable before anything names them: one
/// `syncfs` (the yum publisher; the apt one syncs exactly what it wrote, [`sync_all`]).
pub(crate) fn sync_filesystem(root: &Path) -> Result<()> {
    if !durable() {
        return Ok(());
    }
    let dir = File::open(root).ctx("opening", root)?;
    rustix::fs::syncfs(&dir).map_err(|e| Error::io("syncing", root, e.into()))
}

/// Make `files` (their data; paths relative to `root`, or absolute) and `dirs`
/// (their entries: new names, renames, hard links) durable: an fsync of each,
/// exactly these, never the whole filesystem. Run on several threads at once,
/// so the filesystem can commit them together instead of one journal commit
/// each. (Each path is made as its turn comes: no list of them all.)
pub(crate) fn sync_all<F: AsRef<Path> + Sync, D: AsRef<Path> + Sync>(
    root: &Path,
    files: &[F],
    dirs: &[D],
) -> Result<()> {
    if !durable() {
        return Ok(());
    }
    let jobs: Vec<usize> = (0..files.len() + dirs.len()).collect();
    crate::util::parallel::try_for_each(&jobs, 64, |&i| {
        let (path, data) = match files.get(i) {
            Some(f) => (root.join(f), true),
            None => (root.join(&dirs[i - files.len()]), false),
        };
        let f = File::open(&path).ctx("flushing", &path)?;
        if data { f.sync_data() } else { f.sync_all() }.ctx("flushing", &path)
    })
}

/// Work on a thread of a scope while the caller goes on (the pool is copied
/// and synced while the indices are built). [`Background::wait`] for its
/// result; a dropped one is waited for too, so nothing runs on after an error
/// returns.
pub(crate) struct Background<'s>(Option<std::thread::ScopedJoinHandle<'s, Result<()>>>);

impl<'s> Background<'s> {
    pub(crate) fn spawn(
        scope: &'s std::thread::Scope<'s, '_>,
        work: impl FnOnce() -> Result<()> + Send + 's,
    ) -> Background<'s> {
        Background(Some(scope.spawn(work)))
    }

    /// Nothing running.
    pub(crate) fn idle() -> Background<'static> {
        Background(None)
    }

    pub(crate) fn wait(mut self) -> Result<()> {
        self.join()
    }

    fn join(&mut self) -> Result<()> {
        match self.0.take() {
            Some(h) => h.join().expect("background thread"),
            None => Ok(()),
        }
    }
}

impl Drop for Background<'_> {
    fn drop(&mut self) {
        let _ = self.join();
    }
}

/// Whether no process `pid` runs on this host (signal 0 only checks that it
/// exists; one of another user, `EPERM`, still runs).
pub(crate) fn gone(pid: i32) -> bool {
    rustix::process::Pid::from_raw(pid)
        .is_some_and(|pid| rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH))
}
