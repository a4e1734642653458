//! The pool: where a package's file lives, and which paths may be used at all.
//!
//! Pool identity is the whole version, epoch included:
//! `pool/<component>/<prefix>/<source>/<package>_<version>_<arch>.deb` where a
//! version's epoch colon is written `%3a` (as `apt-get download` names files),
//! so `1:1.0` → `pkg_1%3a1.0_all.deb` and `1.0` → `pkg_1.0_all.deb`. `%` is not
//! allowed in Debian versions, so two different version strings never map to one
//! file name.
//!
//! Paths read from a repository's own indices (`Filename:`) are not trusted: they
//! must be relative, without `.`/`..`/empty components, and must not leave the
//! repository through a symlink.

use super::debfile::Control;
use crate::error::{Error, Result};
use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

/// The pool path of a package (see the module docs).
pub(super) fn pool_path(component: &str, c: &Control) -> String {
    let source = c.source();
    let prefix = if source.starts_with("lib") && source.len() > 3 {
        &source[..4]
    } else {
        &source[..1]
    };
    format!(
        "pool/{component}/{prefix}/{source}/{}_{}_{}.deb",
        c.package(),
        c.version().replace(':', "%3a"),
        c.architecture()
    )
}

/// Who names a path that must stay inside the repository, for the refusal
/// when it does not: the file naming it (an index, a metadata document), the
/// field, and what to do about it. The yum publisher confines its paths with
/// the same checks ([`crate::yum`]).
#[derive(Clone, Copy)]
pub(crate) struct Naming<'a> {
    pub file: &'a Path,
    pub field: &'a str,
    pub fix: &'a str,
}

impl<'a> Naming<'a> {
    /// The `Filename` of a stanza in the apt index `file`.
    pub fn index(file: &'a Path) -> Naming<'a> {
        Naming {
            file,
            field: "Filename",
            fix: "repair that index (or remove the stanza) before publishing",
        }
    }

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
    pub fn plain(&self, rel: &str) -> Result<()> {
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
    root: &'a Path,
    plain: HashSet<PathBuf>,
}

impl<'a> Resolver<'a> {
    pub fn new(root: &'a Path) -> Resolver<'a> {
        Resolver {
            root,
            plain: HashSet::new(),
        }
    }

    /// Same answer as [`resolve`]: walks `rel` from the root; below a missing
    /// component nothing can lead elsewhere, and any symlink on the way takes
    /// the full check.
    pub fn resolve(&mut self, rel: &str, by: &Naming) -> Result<PathBuf> {
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
                Ok(m) if m.file_type().is_symlink() => return resolve(self.root, rel, by),
                Ok(m) if !last && m.is_dir() => {
                    self.plain.insert(cur.clone());
                }
                Ok(_) => return Ok(path),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(path),
                Err(_) => return resolve(self.root, rel, by),
            }
        }
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_never_collide() {
        let c = |v: &str| {
            Control::parse(&format!("Package: pkg\nVersion: {v}\nArchitecture: all\n")).unwrap()
        };
        let a = pool_path("main", &c("1:1.0"));
        let b = pool_path("main", &c("1.0"));
        let z = pool_path("main", &c("0:1.0"));
        assert_eq!(b, "pool/main/p/pkg/pkg_1.0_all.deb");
        assert_eq!(a, "pool/main/p/pkg/pkg_1%3a1.0_all.deb");
        assert!(a != b && z != b && z != a);
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
            assert!(Naming::index(Path::new("P")).plain(bad).is_err(), "{bad}");
        }
        assert!(
            Naming::index(Path::new("P"))
                .plain("pool/main/a/a/a_1_all.deb")
                .is_ok()
        );
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
        let idx = &Naming::index(Path::new("Packages"));
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
