//! Copying new packages into the pool, under the lock, straight into their
//! final directories: each copy is an unnamed file (`O_TMPFILE`) in the pool
//! directory, given its name (`linkat`) only once complete and checked. A
//! publish killed mid-copy leaves nothing behind, and no file is renamed across
//! directories (on ext4 a rename out of one crowded staging directory costs
//! several times a plain create, see `benches/publish.sh`).
//!
//! The bytes copied are checked against the checksums taken when the package
//! was read (before the lock): a package changed in between is refused.
//! Where `O_TMPFILE` or `/proc` is missing, and for a replaced file (`-f`), the
//! copy is staged under a temporary name in the repository root and renamed into
//! place (stale ones are removed by the next publish, `stage::remove_stale_staging`).

use super::decide::{Plans, ToCopy as Job};
use crate::error::{Error, IoContext, Result};
use crate::repo::stage;
use rustix::fs::{AtFlags, CWD, Mode, OFlags};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

/// Files copied, then synced, at a time (their list is what memory holds).
const ROUND: usize = 1024;

/// Copy the packages of `plans` that go into the pool (`debs`: the files
/// given) and sync what that wrote, on a thread of `scope` (it mostly waits
/// on the filesystem while the caller builds the indices).
pub(super) fn start<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    root: &Path,
    plans: &'s Plans,
    debs: &'s [PathBuf],
) -> stage::Background<'s> {
    let root = root.to_path_buf();
    stage::Background::spawn(scope, move || {
        let mut jobs = plans.to_copy(debs).peekable();
        while jobs.peek().is_some() {
            let round: Vec<Job> = jobs.by_ref().take(ROUND).collect::<Result<_>>()?;
            let dirs = copy_all(&root, &round)?;
            let files: Vec<&str> = round.iter().map(target).collect();
            stage::sync_all(&root, &files, &dirs)?;
        }
        Ok(())
    })
}

/// Where a job's file goes, relative to the repository root.
fn target<'a>(job: &'a Job) -> &'a str {
    job.to.unwrap_or(job.stanza.filename())
}

/// Copy every job's file; returns the directories that got new entries
/// (created ones and those they were created in, relative to `root`), to be
/// synced with the files before any index names them.
pub(super) fn copy_all<'a>(root: &Path, jobs: &'a [Job]) -> Result<Vec<&'a str>> {
    let dirs = touched_dirs(root, jobs);
    // The directories first, on this thread, parents before children (the
    // list is sorted): creating an entry takes its directory's lock, and the
    // new package directories mostly share a parent (`pool/main/b`), so
    // threads making them at once would only queue for it, spinning.
    for dir in &dirs {
        let path = root.join(dir);
        match fs::create_dir(&path) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(Error::io("creating", &path, e));
            }
            _ => {}
        }
    }
    // Mostly waiting on the filesystem: more threads than cores pay.
    crate::util::parallel::try_for_each(jobs, 8, |job| copy_one(root, job))?;
    Ok(dirs)
}

/// The directories that will get new entries, found before anything is created:
/// each job's directory and, for one that does not exist yet, its parents up to
/// the first that does (`""` is `root`). Pool paths are relative and
/// `/`-separated, without `.` or `..` (`confine::Naming::plain`).
fn touched_dirs<'a>(root: &Path, jobs: &'a [Job]) -> Vec<&'a str> {
    let parent = |rel: &'a str| rel.rsplit_once('/').map_or("", |(dir, _)| dir);
    let mut touched: BTreeSet<&str> = BTreeSet::new();
    for job in jobs {
        let mut dir = parent(target(job));
        // A directory seen before had its parents seen then.
        while touched.insert(dir) && !dir.is_empty() && !root.join(dir).is_dir() {
            dir = parent(dir);
        }
    }
    touched.into_iter().collect()
}

fn copy_one(root: &Path, job: &Job) -> Result<()> {
    let dest = root.join(target(job));
    let dir = dest.parent().unwrap_or(root);
    if !job.replace
        && let Ok(fd) = rustix::fs::open(dir, OFlags::WRONLY | OFlags::TMPFILE, Mode::from(0o644))
    {
        let mut file = File::from(fd);
        copy_checked(job, &mut file, &dest)?;
        stage::set_mode(&file, &dest)?;
        let proc_path = format!("/proc/self/fd/{}", file.as_raw_fd());
        match rustix::fs::linkat(CWD, &proc_path, CWD, &dest, AtFlags::SYMLINK_FOLLOW) {
            Ok(()) => return Ok(()),
            // No /proc, or a file appeared there: the staged way below.
            Err(rustix::io::Errno::NOENT | rustix::io::Errno::EXIST) => {}
            Err(e) => return Err(Error::io("writing", &dest, e.into())),
        }
    }
    let ((), tmp) = stage::stage_copy(root, job.src, |w, tmp_path| copy_checked(job, w, tmp_path))?;
    tmp.persist(&dest)
        .map_err(|e| Error::io("writing", &dest, e.error))?;
    Ok(())
}

/// Copy `job.src` to `out` (named `out_path` in errors), checking size and SHA256
/// against what was read before.
fn copy_checked(job: &Job, out: &mut dyn Write, out_path: &Path) -> Result<()> {
    let mut src = File::open(job.src).ctx("reading", job.src)?;
    let len = usize::try_from(job.stanza.size()).unwrap_or(usize::MAX);
    let mut buf = vec![0u8; len.clamp(4096, 256 << 10)];
    let mut sha = Sha256::new();
    let mut size = 0u64;
    loop {
        let n = match src.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Error::io("reading", job.src, e)),
        };
        sha.update(&buf[..n]);
        size += n as u64;
        out.write_all(&buf[..n]).ctx("writing", out_path)?;
    }
    out.flush().ctx("writing", out_path)?;
    if size != job.stanza.size() || hex::encode(sha.finalize()) != job.stanza.sha256() {
        return Err(Error::config(format!(
            "{}: changed while being published",
            job.src.display()
        ))
        .with("publish it again once it is complete"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::index::Stanza;

    fn stanza(rel: &str, bytes: &[u8]) -> Stanza {
        let d = crate::apt::Digests::of(bytes);
        let text = format!(
            "Package: a\nVersion: 1\nArchitecture: all\nFilename: {rel}\nSize: {}\nSHA256: {}\n\n",
            d.size, d.sha256
        );
        crate::apt::index::parse(&text.into(), Path::new("P"))
            .unwrap()
            .remove(0)
    }

    #[test]
    fn copies_into_new_directories_and_reports_them() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        fs::create_dir_all(root.join("pool/main")).unwrap();
        let src = t.path().join("a.deb");
        fs::write(&src, b"package bytes").unwrap();
        let stanzas = ["pool/main/a/a/a_1_all.deb", "pool/main/a/a/a_2_all.deb"]
            .map(|rel| stanza(rel, b"package bytes"));
        let jobs = stanzas.map(|stanza| Job {
            src: &src,
            stanza,
            to: None,
            replace: false,
        });
        let dirs = copy_all(&root, &jobs).unwrap();
        for j in &jobs {
            let f = root.join(j.stanza.filename());
            assert_eq!(fs::read(f).unwrap(), b"package bytes");
        }
        assert_eq!(dirs, ["pool/main", "pool/main/a", "pool/main/a/a"]);
        // Nothing else was left anywhere (no temporary names).
        let all: Vec<_> = walkdir::WalkDir::new(&root)
            .into_iter()
            .flatten()
            .filter(|e| e.file_type().is_file())
            .collect();
        assert_eq!(all.len(), 2);
    }

    #[test]
    fn a_changed_source_is_refused_and_leaves_nothing() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        fs::create_dir_all(&root).unwrap();
        let src = t.path().join("a.deb");
        fs::write(&src, b"new bytes!").unwrap();
        for replace in [false, true] {
            let old = stanza("pool/a.deb", b"old bytes!");
            let jobs = [Job {
                src: &src,
                stanza: old,
                to: None,
                replace,
            }];
            let err = copy_all(&root, &jobs).err().unwrap();
            assert!(
                err.to_string().contains("changed while being published"),
                "{err}"
            );
            assert!(!root.join("pool/a.deb").exists());
            let left: Vec<_> = fs::read_dir(&root)
                .unwrap()
                .flatten()
                .filter(|e| e.path().is_file())
                .collect();
            assert!(left.is_empty(), "{left:?}");
        }
    }
}
