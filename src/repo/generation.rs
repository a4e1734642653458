//! One atomic switch per publish: the new `dists/<codename>` is prepared beside
//! the live one (`dists/.<codename>.next`, a hard-linked copy of it: by-hash
//! files, indices, Release files, files of other tools), completed there, made
//! durable, and then exchanged with the live directory in one
//! `renameat2(RENAME_EXCHANGE)`. A reader (plain or by-hash) therefore sees either
//! the whole old generation or the whole new one, never a mix; the old one keeps
//! its by-hash files in the new one, for clients that fetched the old
//! `InRelease` just before the switch. A publish killed before the switch left
//! the live directory untouched; debris (`.<codename>.next`) is removed by the
//! next publish, under the lock.
//!
//! On a filesystem without `RENAME_EXCHANGE` the live directory is renamed away
//! and the new one renamed in: readers may then get "not found" for an instant,
//! but still never a mix.

use super::stage::Background;
use crate::error::{Error, IoContext, Result};
use rustix::fs::{CWD, RenameFlags};
use std::fs::{self, File};
use std::io;
use std::path::{Path, PathBuf};

/// The directory the next generation of `live` is built in.
pub(super) fn next_dir(live: &Path) -> PathBuf {
    let name = live.file_name().unwrap_or_default().to_string_lossy();
    live.with_file_name(format!(".{name}.next"))
}

/// The next generation's directory ([`prepare`]). Dropped, it is removed: a
/// publish that fails before the switch leaves nothing behind; after it (see
/// [`exchange`]) the path holds the old generation, removed there already.
pub(crate) struct Next(PathBuf);

impl std::ops::Deref for Next {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Next {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

/// Files a publish writes outside the next generation for it to name (pool
/// files, packages) that were not there before: removed when dropped, unless
/// the switch made them part of the repository ([`switch`], [`exchange`]).
/// A publish failing before its switch so leaves nothing no index names. The
/// list is only made then (a publish that succeeds pays nothing for it).
#[derive(Default)]
pub(crate) struct Fresh<'a>(Option<Finder<'a>>);

/// What gives [`Fresh`] its files.
type Finder<'a> = Box<dyn FnOnce() -> Vec<PathBuf> + 'a>;

impl<'a> Fresh<'a> {
    /// These files.
    pub(crate) fn new(files: Vec<PathBuf>) -> Fresh<'a> {
        Fresh(Some(Box::new(move || files)))
    }

    /// The files `find` gives, asked for only when they are to be removed.
    pub(crate) fn found_by(find: impl FnOnce() -> Vec<PathBuf> + 'a) -> Fresh<'a> {
        Fresh(Some(Box::new(find)))
    }
}

impl Drop for Fresh<'_> {
    fn drop(&mut self) {
        let Some(find) = self.0.take() else {
            return;
        };
        for path in find() {
            let _ = fs::remove_file(&path);
            // Its directories too, where that left them empty
            // (`pool/<component>/<prefix>/<name>`, `Packages/<letter>`).
            for dir in path.ancestors().skip(1).take(2) {
                let _ = fs::remove_dir(dir);
            }
        }
    }
}

/// Remove a previous run's unfinished generation, then make the next one a
/// copy of `live` (hard links; empty when `live` does not exist).
pub(crate) fn prepare(live: &Path) -> Result<Next> {
    remove_debris(live)?;
    let next = Next(next_dir(live));
    fs::create_dir_all(&*next).ctx("creating", &next)?;
    if live.is_dir() {
        clone_tree(live, &next)?;
    }
    Ok(next)
}

/// Remove what killed runs left: `.<codename>.next` and `.<codename>.old`.
pub(crate) fn remove_debris(live: &Path) -> Result<()> {
    let next = next_dir(live);
    for dir in [next.clone(), next.with_extension("old")] {
        match fs::remove_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io("removing", &dir, e)),
        }
    }
    Ok(())
}

fn clone_tree(from: &Path, to: &Path) -> Result<()> {
    for entry in fs::read_dir(from).ctx("reading", from)? {
        let entry = entry.ctx("reading", from)?;
        let name = entry.file_name();
        let lossy = name.to_string_lossy();
        if lossy.starts_with('.') && lossy.ends_with(".partial") {
            continue;
        }
        let (src, dest) = (entry.path(), to.join(&name));
        let ft = entry.file_type().ctx("reading", &src)?;
        if ft.is_dir() {
            fs::create_dir(&dest).ctx("creating", &dest)?;
            clone_tree(&src, &dest)?;
        } else if ft.is_symlink() {
            let target = fs::read_link(&src).ctx("reading", &src)?;
            std::os::unix::fs::symlink(target, &dest).ctx("creating", &dest)?;
        } else if ft.is_file() && fs::hard_link(&src, &dest).is_err() {
            fs::copy(&src, &dest).ctx("copying", &src)?;
        }
    }
    Ok(())
}

/// Make `next` the live directory in one step, then remove the old generation.
/// First, in one parallel batch, the `written` files and every directory of
/// `next` are synced, and the pool's copy and sync (`pool`, started earlier) is waited
/// for: the new generation and all it names are on disk before it becomes visible.
/// Once switched, `fresh` is part of the repository.
pub(crate) fn switch(
    next: &Next,
    live: &Path,
    written: &[PathBuf],
    pool: Background<'_>,
    fresh: &mut Fresh<'_>,
) -> Result<()> {
    let dirs: Vec<PathBuf> = walkdir::WalkDir::new(&**next)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_dir())
        .map(|e| e.into_path())
        .collect();
    super::stage::sync_all(next, written, &dirs)?;
    // On failure the new generation names pool files that are not all there:
    // it goes when `next` is dropped.
    pool.wait()?;
    exchange(next, live, fresh)
}

/// Make `next` (complete and on disk) the live directory in one step, make
/// that durable, then remove the old generation. (The yum publisher's
/// `repodata` too: `repomd.xml` and its signature change together.) Once
/// switched, `fresh` is part of the repository.
pub(crate) fn exchange(next: &Path, live: &Path, fresh: &mut Fresh<'_>) -> Result<()> {
    swap(next, live)?;
    fresh.0 = None;
    settle(next, live)
}

/// The switch itself: `next` becomes `live` (the old generation goes to `next`).
fn swap(next: &Path, live: &Path) -> Result<()> {
    if !live.exists() {
        fs::rename(next, live).ctx("creating", live)?;
    } else {
        match rustix::fs::renameat_with(CWD, next, CWD, live, RenameFlags::EXCHANGE) {
            Ok(()) => {}
            Err(rustix::io::Errno::INVAL | rustix::io::Errno::NOSYS) => {
                let old = next.with_extension("old");
                fs::rename(live, &old).ctx("moving aside", live)?;
                fs::rename(next, live).ctx("creating", live)?;
                fs::rename(&old, next).ctx("moving", &old)?;
            }
            Err(e) => return Err(Error::io("switching to", live, e.into())),
        }
    }
    Ok(())
}

/// After [`swap`]: the switch made durable, then the old generation (now at
/// `next`) removed.
fn settle(next: &Path, live: &Path) -> Result<()> {
    let parent = live.parent().unwrap_or(Path::new("."));
    if super::stage::durable() {
        File::open(parent)
            .and_then(|d| d.sync_all())
            .ctx("flushing", parent)?;
    }
    match fs::remove_dir_all(next) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::io("removing", next, e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_generation_leaves_nothing_and_an_exchanged_one_goes_live() {
        let t = tempfile::tempdir().unwrap();
        let live = t.path().join("repodata");
        fs::create_dir(&live).unwrap();
        fs::write(live.join("repomd.xml"), "old").unwrap();
        let next = prepare(&live).unwrap();
        // A hard-linked copy: replacing a file there leaves the live one alone.
        assert_eq!(fs::read(next.join("repomd.xml")).unwrap(), b"old");
        fs::remove_file(next.join("repomd.xml")).unwrap();
        fs::write(next.join("repomd.xml"), "new").unwrap();
        let path = next.to_path_buf();
        drop(next);
        assert!(!path.exists());
        assert_eq!(fs::read(live.join("repomd.xml")).unwrap(), b"old");

        let next = prepare(&live).unwrap();
        fs::remove_file(next.join("repomd.xml")).unwrap();
        fs::write(next.join("repomd.xml"), "new").unwrap();
        exchange(&next, &live, &mut Fresh::default()).unwrap();
        drop(next);
        assert_eq!(fs::read(live.join("repomd.xml")).unwrap(), b"new");
        let left: Vec<_> = fs::read_dir(t.path()).unwrap().flatten().collect();
        assert_eq!(left.len(), 1, "{left:?}");
    }
}
