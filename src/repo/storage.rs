//! The storage seam: the few operations a publish needs from where a
//! repository lives, so that a backend other than a local directory (an
//! S3-compatible object store) can serve the same transactions.
//!
//! Keys are `/`-separated paths relative to the repository (or to a
//! generation of part of it): `repodata/repomd.xml`, `dists/stable/InRelease`.
//! The operations are those an object store offers with the guarantees a
//! publish relies on:
//! - [`Storage::read`]: an object and its [`Tag`] (the version a later
//!   compare-and-swap expects: an ETag on an object store, the SHA256 of the
//!   content here);
//! - [`Storage::write_new`]: an object clients do not read yet: one under a
//!   content-addressed name, or one of a generation not yet switched to;
//! - [`Storage::compare_and_swap`]: replace (or remove) the *switch object* —
//!   the one whose change makes a generation live (`InRelease`, `repomd.xml`
//!   and its signature) — only when it still is the version read at the
//!   start; else [`Swap::Conflict`], and the publisher re-reads and retries or
//!   fails, never overwriting another publish;
//! - [`Storage::delete`] and [`Storage::list`] (by prefix): collecting the
//!   garbage of older generations after the switch.
//!
//! [`LocalDir`] keeps today's guarantees of a local repository: every object
//! written through a temporary file renamed into place (a name shared by hard
//! link with another generation is replaced, never written into), what was
//! written made durable by the caller before a switch (`LocalDir::take_written`
//! lists it), the switch one
//! atomic rename, and every key confined to the directory, symlinks not
//! followed out of it (`repo::confine`). A whole generation of a directory
//! (`dists/<codename>`, `repodata`) is switched by an atomic directory
//! exchange (`repo::generation`); a [`LocalDir`] over the next generation
//! is where its objects are written.

use super::confine::{Naming, Resolver};
use super::stage::set_mode;
use crate::error::{Error, IoContext, Result};
use sha2::{Digest, Sha256};
use std::cell::RefCell;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tempfile::{NamedTempFile, TempPath};

/// The SHA256 of the file at `path`, in hex.
pub(crate) fn sha256_file(path: &Path) -> Result<String> {
    let mut f = File::open(path).ctx("reading", path)?;
    let mut h = Sha256::new();
    io::copy(&mut f, &mut h).ctx("reading", path)?;
    Ok(hex::encode(h.finalize()))
}

/// The version of an object, as a compare-and-swap expects it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Tag(pub String);

/// The outcome of a [`Storage::compare_and_swap`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Swap {
    /// Switched: the object's new version (`None`: removed).
    Done(Option<Tag>),
    /// Another publish changed it since it was read: its version now.
    Conflict(Option<Tag>),
}

/// Where a repository's objects live (see the module docs).
pub(crate) trait Storage {
    /// The object `key` and its version; `None` when there is none.
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Tag)>>;

    /// Whether the object `key` exists.
    fn exists(&self, key: &str) -> Result<bool>;

    /// Write the object `key`, which clients do not read yet (a generation not
    /// switched to, or a content-addressed name whose content cannot differ).
    fn write_new(&self, key: &str, bytes: &[u8]) -> Result<()>;

    /// Replace the switch object `key` by `bytes` (`None`: remove it) when its
    /// version is `expected` (`None`: when there is none).
    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&Tag>,
        bytes: Option<&[u8]>,
    ) -> Result<Swap>;

    /// Remove the object `key` (none there is no error).
    fn delete(&self, key: &str) -> Result<()>;

    /// The keys that start with `prefix`, sorted.
    fn list(&self, prefix: &str) -> Result<Vec<String>>;
}

/// A [`Storage`] over a local directory (see the module docs).
pub(crate) struct LocalDir {
    root: PathBuf,
    resolver: RefCell<Resolver<'static>>,
    /// What [`Storage::write_new`] wrote, for [`Storage::flush`].
    written: RefCell<Vec<PathBuf>>,
}

impl LocalDir {
    /// The directory `root` (it must exist).
    pub(crate) fn new(root: &Path) -> LocalDir {
        LocalDir {
            root: root.to_path_buf(),
            resolver: RefCell::new(Resolver::owned(root.to_path_buf())),
            written: RefCell::new(Vec::new()),
        }
    }

    /// How a key that would leave the directory is refused.
    fn naming(&self) -> Naming<'_> {
        Naming {
            file: &self.root,
            field: "object",
            fix: "the repository's directories must stay inside it: \
                  replace a symlink leading elsewhere by a directory",
        }
    }

    /// The path of `key` to read it, confined to the directory (a symlink on
    /// the way, the last component too, must not lead out of it).
    fn path(&self, key: &str) -> Result<PathBuf> {
        self.resolver.borrow_mut().resolve(key, &self.naming())
    }

    /// The path of `key` to replace or remove it: its directories confined;
    /// the last component may be a symlink, as a rename or an unlink acts on
    /// the link itself, never on what it points to.
    fn path_to_change(&self, key: &str) -> Result<PathBuf> {
        self.naming().plain(key)?;
        if let Some((dir, _)) = key.rsplit_once('/') {
            self.path(dir)?;
        }
        Ok(self.root.join(key))
    }

    /// Remove the directory `key` when it is empty (best effort: an object
    /// store has no directories, a local one keeps none it emptied).
    pub(crate) fn remove_empty_dir(&self, key: &str) {
        if let Ok(path) = self.path_to_change(key) {
            let _ = fs::remove_dir(path);
        }
    }

    /// The files [`Storage::write_new`] wrote and no [`Storage::flush`] made
    /// durable yet (for a generation switch, which syncs them with the rest).
    pub(crate) fn take_written(&self) -> Vec<PathBuf> {
        std::mem::take(&mut *self.written.borrow_mut())
    }
}

/// The version of local content: its SHA256.
fn tag_of(bytes: &[u8]) -> Tag {
    Tag(hex::encode(Sha256::digest(bytes)))
}

fn read_file(path: &Path) -> Result<Option<Vec<u8>>> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

/// Flush a file's data (`data`) or a directory's entries to disk.
fn sync(path: &Path, data: bool) -> Result<()> {
    if !super::stage::durable() {
        return Ok(());
    }
    let f = File::open(path).ctx("flushing", path)?;
    if data { f.sync_data() } else { f.sync_all() }.ctx("flushing", path)
}

impl Storage for LocalDir {
    fn read(&self, key: &str) -> Result<Option<(Vec<u8>, Tag)>> {
        let path = self.path(key)?;
        Ok(read_file(&path)?.map(|b| {
            let tag = tag_of(&b);
            (b, tag)
        }))
    }

    fn exists(&self, key: &str) -> Result<bool> {
        Ok(self.path(key)?.exists())
    }

    fn write_new(&self, key: &str, bytes: &[u8]) -> Result<()> {
        let path = self.path_to_change(key)?;
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).ctx("creating", dir)?;
        }
        replace_file(&path, bytes)?;
        self.written.borrow_mut().push(path);
        Ok(())
    }

    fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&Tag>,
        bytes: Option<&[u8]>,
    ) -> Result<Swap> {
        // Publishers of one directory hold its lock (`super::lock`): the
        // check and the rename below are not interleaved with another's.
        let path = self.path(key)?;
        let now = read_file(&path)?.map(|b| tag_of(&b));
        if now.as_ref() != expected {
            return Ok(Swap::Conflict(now));
        }
        let dir = path.parent().unwrap_or(&self.root);
        let tag = match bytes {
            Some(bytes) => {
                let name = path.file_name().unwrap_or_default().to_string_lossy();
                let tmp = temp_file(dir, &name, bytes)?;
                sync(&tmp, true)?;
                tmp.persist(&path)
                    .map_err(|e| Error::io("writing", &path, e.error))?;
                Some(tag_of(bytes))
            }
            None => {
                fs::remove_file(&path).ctx("removing", &path)?;
                None
            }
        };
        sync(dir, false)?;
        Ok(Swap::Done(tag))
    }

    fn delete(&self, key: &str) -> Result<()> {
        let path = self.path_to_change(key)?;
        match fs::remove_file(&path) {
            Err(e) if e.kind() != io::ErrorKind::NotFound => Err(Error::io("removing", &path, e)),
            _ => Ok(()),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        // The deepest directory the prefix names completely: only it is walked.
        let base = match prefix.rfind('/') {
            Some(i) => &prefix[..i],
            None => "",
        };
        let start = if base.is_empty() {
            self.root.clone()
        } else {
            self.path(base)?
        };
        let mut keys = Vec::new();
        for e in walkdir::WalkDir::new(&start)
            .follow_links(false)
            .min_depth(1)
        {
            let e = match e {
                Ok(e) => e,
                Err(e)
                    if e.io_error()
                        .is_some_and(|e| e.kind() == io::ErrorKind::NotFound) =>
                {
                    continue;
                }
                Err(e) => return Err(Error::build(format!("listing {}: {e}", start.display()))),
            };
            if !e.file_type().is_file() {
                continue;
            }
            let rel = e.path().strip_prefix(&self.root).unwrap_or(e.path());
            let key = rel.to_string_lossy().into_owned();
            if key.starts_with(prefix) {
                keys.push(key);
            }
        }
        keys.sort();
        Ok(keys)
    }
}

/// A complete temporary file beside `dir/name`, mode 0644 (synced later, with
/// everything else this publish wrote, before the switch).
pub(crate) fn temp_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<TempPath> {
    Ok(open_temp(dir, name, bytes)?.into_temp_path())
}

/// [`temp_file`], still open for more.
pub(crate) fn open_temp(dir: &Path, name: &str, bytes: &[u8]) -> Result<NamedTempFile> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .ctx("writing to", dir)?;
    tmp.write_all(bytes).ctx("writing", tmp.path())?;
    set_mode(tmp.as_file(), tmp.path())?;
    Ok(tmp)
}

/// Write `dest` through a temporary file beside it, renamed over it: a name
/// that is a hard link shared with another generation is replaced, never
/// written into.
pub(crate) fn replace_file(dest: &Path, bytes: &[u8]) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    temp_file(dir, &name, bytes)?
        .persist(dest)
        .map_err(|e| Error::io("writing", dest, e.error))?;
    Ok(())
}

/// Remove temporary files left in `dir` by a publish that was killed. Only lock
/// holders write them, so any found under the lock are debris.
pub(crate) fn remove_partials(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".partial") && !name.starts_with(".cfy-ap-") {
            let _ = fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_local_directory_reads_writes_swaps_deletes_and_lists() {
        let t = tempfile::tempdir().unwrap();
        let s = LocalDir::new(t.path());
        assert_eq!(s.read("a/x").unwrap(), None);
        s.write_new("a/x", b"one").unwrap();
        s.write_new("a/b/y", b"two").unwrap();
        s.write_new("c", b"three").unwrap();
        assert_eq!(s.take_written().len(), 3);
        let (bytes, tag) = s.read("a/x").unwrap().unwrap();
        assert_eq!(bytes, b"one");
        assert!(s.exists("a/b/y").unwrap() && !s.exists("a/z").unwrap());
        assert_eq!(s.list("a/").unwrap(), ["a/b/y", "a/x"]);
        assert_eq!(s.list("a/b").unwrap(), ["a/b/y"]);
        assert_eq!(s.list("").unwrap(), ["a/b/y", "a/x", "c"]);
        assert!(s.list("none/").unwrap().is_empty());

        // The switch object: swapped from the version read, not from another.
        let stale = Tag("0".repeat(64));
        let conflict = s.compare_and_swap("a/x", Some(&stale), Some(b"new"));
        assert_eq!(conflict.unwrap(), Swap::Conflict(Some(tag.clone())));
        assert!(matches!(
            s.compare_and_swap("a/x", None, Some(b"new")).unwrap(),
            Swap::Conflict(_)
        ));
        let done = s.compare_and_swap("a/x", Some(&tag), Some(b"new")).unwrap();
        let Swap::Done(Some(new)) = done else {
            panic!("{done:?}")
        };
        assert_eq!(s.read("a/x").unwrap(), Some((b"new".to_vec(), new.clone())));
        assert_eq!(
            s.compare_and_swap("fresh", None, Some(b"f")).unwrap(),
            Swap::Done(Some(tag_of(b"f")))
        );
        assert_eq!(
            s.compare_and_swap("a/x", Some(&new), None).unwrap(),
            Swap::Done(None)
        );
        assert!(!t.path().join("a/x").exists());

        s.delete("c").unwrap();
        s.delete("c").unwrap();
        assert_eq!(s.list("").unwrap(), ["a/b/y", "fresh"]);
        // No temporary file is left behind.
        let left = walkdir::WalkDir::new(t.path())
            .into_iter()
            .flatten()
            .filter(|e| e.file_name().to_string_lossy().ends_with(".partial"))
            .count();
        assert_eq!(left, 0);
    }

    #[test]
    fn keys_stay_inside_the_directory() {
        let t = tempfile::tempdir().unwrap();
        let (root, outside) = (t.path().join("repo"), t.path().join("outside"));
        fs::create_dir_all(&root).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(outside.join("secret"), b"s").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("out")).unwrap();
        let s = LocalDir::new(&root);
        for key in ["../outside/secret", "/etc/passwd", "a//b", "out/secret"] {
            let e = s.read(key).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{key}: {e}");
            assert!(s.write_new(key, b"x").is_err(), "{key}");
            assert!(s.delete(key).is_err(), "{key}");
        }
        assert!(s.list("out/").is_err());
        assert_eq!(fs::read(outside.join("secret")).unwrap(), b"s");
        // A symlink as the object itself: never read through, but replaced
        // or removed as a link (what it points to is left alone).
        std::os::unix::fs::symlink(outside.join("secret"), root.join("link")).unwrap();
        assert!(s.read("link").is_err());
        s.write_new("link", b"mine").unwrap();
        assert_eq!(fs::read(root.join("link")).unwrap(), b"mine");
        std::os::unix::fs::symlink(outside.join("secret"), root.join("link2")).unwrap();
        s.delete("link2").unwrap();
        assert!(fs::symlink_metadata(root.join("link2")).is_err());
        assert_eq!(fs::read(outside.join("secret")).unwrap(), b"s");
        assert_eq!(s.take_written(), [root.join("link")]);
    }
}
