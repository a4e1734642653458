//! No-follow confinement: paths read from a repository's own metadata (an apt
//! index's `Filename`, a yum `location`) are not trusted. They must be
//! relative, without `.`/`..`/empty components, and must not leave the
//! repository through a symlink; a refusal names the file and field that gave
//! the path.

use crate::error::{Error, Result};
use std::borrow::Cow;
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Who names a path that must stay inside the repository, for the refusal
/// when it does not: the file naming it (an index, a metadata document), the
/// field, and what to do about it.
#[derive(Clone, Copy)]
pub(crate) struct Naming<'a> {
    pub file: &'a Path,
    pub field: &'a str,
    pub fix: &'a str,
}

impl<'a> Naming<'a> {
    /// Refused (exit 2): `{file}: {field} "{rel}" {why}`, with the fix.
    fn refuse(&self, rel: &str, why: &str) -> Error {
        Error::config(format!(
            "{}: {} {rel:?} {why}",
            self.file.display(),
            self.field
        ))
        .with(self.fix)
    }

    /// Check the form of a path: relative, plain components.
    pub(crate) fn plain(&self, rel: &str) -> Result<()> {
        // Segments between slashes: none empty (no leading, doubled or trailing
        // slash), none `.` or `..`.
        let plain = rel
            .split('/')
            .all(|seg| !seg.is_empty() && seg != "." && seg != "..");
        if plain {
            Ok(())
        } else {
            Err(self.refuse(rel, "is not a plain relative path inside the repository"))
        }
    }
}

/// `root/rel`, checked to stay inside `root` even through symlinks: the deepest
/// existing entry on the way is resolved, and must resolve (a dangling symlink
/// could be created anywhere).
pub(crate) fn resolve(root: &Path, rel: &str, by: &Naming) -> Result<PathBuf> {
    by.plain(rel)?;
    let path = root.join(rel);
    let real_root = root
        .canonicalize()
        .map_err(|e| Error::io("resolving", root, e))?;
    // A symlink as the last component is followed by every later open: resolve it too.
    let mut probe = path.as_path();
    let resolved = loop {
        match probe.canonicalize() {
            Ok(p) => break Some(p),
            // It exists but does not resolve: a dangling symlink on the way.
            Err(_) if probe.symlink_metadata().is_ok() => break None,
            Err(_) => match probe.parent() {
                Some(parent) => probe = parent,
                None => break None,
            },
        }
    };
    if !resolved.is_some_and(|r| r.starts_with(&real_root)) {
        return Err(by.refuse(rel, "leads outside the repository (through a symlink)"));
    }
    Ok(path)
}

/// [`resolve`] for many paths of one repository: the directories already found
/// to be plain (no symlink) are remembered, so each path costs a few `lstat`s
/// instead of a full canonicalization.
pub(crate) struct Resolver<'a> {
    root: Cow<'a, Path>,
    plain: HashSet<PathBuf>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(root: &'a Path) -> Resolver<'a> {
        Resolver {
            root: Cow::Borrowed(root),
            plain: HashSet::new(),
        }
    }

    /// A resolver that owns its root.
    pub(crate) fn owned(root: PathBuf) -> Resolver<'static> {
        Resolver {
            root: Cow::Owned(root),
            plain: HashSet::new(),
        }
    }

    /// Same answer as [`resolve`]: walks `rel` from the root; below a missing
    /// component nothing can lead elsewhere, and any symlink on the way takes
    /// the full check.
    pub(crate) fn resolve(&mut self, rel: &str, by: &Naming) -> Result<PathBuf> {
        by.plain(rel)?;
        let path = self.root.join(rel);
        let mut cur = self.root.to_path_buf();
        let mut parts = Path::new(rel).components().peekable();
        while let Some(part) = parts.next() {
            cur.push(part);
            let last = parts.peek().is_none();
            if !last && self.plain.contains(&cur) {
                continue;
            }
            match fs::symlink_metadata(&cur) {
                Ok(m) if m.file_type().is_symlink() => return resolve(&self.root, rel, by),
                Ok(m) if !last && m.is_dir() => {
                    self.plain.insert(cur.clone());
                }
                Ok(_) => return Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path),
                Err(_) => return resolve(&self.root, rel, by),
            }
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn named() -> Naming<'static> {
        Naming {
            file: Path::new("P"),
            field: "Filename",
            fix: "repair it",
        }
    }

    #[test]
    fn index_paths_must_be_plain() {
        for bad in [
            "../x.deb",
            "/etc/x.deb",
            "pool/../../x",
            "pool//x",
            "./pool/x",
            "pool/./x",
            "pool/x/",
            "pool/..",
            "",
        ] {
            assert!(named().plain(bad).is_err(), "{bad}");
        }
        assert!(named().plain("pool/main/a/a/a_1_all.deb").is_ok());
    }

    #[test]
    fn resolver_agrees_with_the_full_check() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("repo");
        let outside = t.path().join("outside");
        fs::create_dir_all(root.join("pool/main/a/a")).unwrap();
        fs::create_dir_all(&outside).unwrap();
        fs::write(root.join("pool/main/a/a/a_1_all.deb"), b"x").unwrap();
        std::os::unix::fs::symlink(&outside, root.join("pool/main/o")).unwrap();
        std::os::unix::fs::symlink("a", root.join("pool/main/in")).unwrap();
        std::os::unix::fs::symlink(
            outside.join("gone"),
            root.join("pool/main/a/a/dangling.deb"),
        )
        .unwrap();
        std::os::unix::fs::symlink(outside.join("gone"), root.join("pool/main/d")).unwrap();
        let mut r = Resolver::new(&root);
        let idx = &named();
        for rel in [
            "pool/main/a/a/a_1_all.deb",
            "pool/main/a/a/a_2_all.deb",
            "pool/main/n/new/new_1_all.deb",
            "pool/main/o/x.deb",
            "pool/main/o/sub/x.deb",
            "pool/main/in/a/a_1_all.deb",
            "pool/main/a/a/dangling.deb",
            "pool/main/a/a/a_1_all.deb/below",
            "pool/main/d/dangling-dir/x.deb",
        ] {
            for _ in 0..2 {
                let fast = r.resolve(rel, idx).map_err(|e| e.to_string());
                let full = resolve(&root, rel, idx).map_err(|e| e.to_string());
                assert_eq!(fast, full, "{rel}");
            }
        }
        assert!(r.resolve("pool/main/o/x.deb", idx).is_err());
        assert!(r.resolve("pool/main/d/dangling-dir/x.deb", idx).is_err());
    }
}
