//! The one duplicate-package policy of apt and yum publishing, generic over
//! what identifies a package (apt: name, version, architecture; yum: name,
//! epoch, version, release, arch) and its digest (the SHA256 of its bytes),
//! with one set of messages.
//!
//! - The same identity given twice: published once when the bytes are the
//!   same, refused (exit 2) when they differ.
//! - A package already published: nothing to do with the same bytes; with
//!   other bytes refused (exit 3) unless `force`, which replaces it.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::fmt::Display;
use std::hash::Hash;
use std::path::{Path, PathBuf};

/// What identifies a package in a repository.
pub(crate) trait Identity: Display + Eq + Hash + Clone {
    /// What a packager changes to publish other bytes: `"the version"`,
    /// `"the version or release"`.
    const BUMP: &'static str;
}

/// The decision on one package against the published one of its identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// None of its identity is published.
    New,
    /// Published with the same bytes: nothing to do.
    Same,
    /// Published with other bytes, replaced (`force`).
    Replace,
}

/// A published package, as the policy needs it.
pub(crate) struct Published<'a, D: ?Sized> {
    pub digest: &'a D,
    /// Where it is (a path relative to the repository).
    pub location: &'a str,
}

/// Decide on the package `id`, read from `src` with `digest`, against
/// `published`: see the module docs.
pub(crate) fn against<I: Identity, D: PartialEq + Display + ?Sized>(
    id: &I,
    digest: &D,
    src: &Path,
    published: Option<Published<'_, D>>,
    force: bool,
) -> Result<Verdict> {
    match published {
        None => Ok(Verdict::New),
        Some(p) if p.digest == digest => Ok(Verdict::Same),
        Some(_) if force => Ok(Verdict::Replace),
        Some(p) => Err(Error::exists(format!(
            "{id} is already published with different contents ({})",
            p.location
        ))
        .with(format!(
            "published SHA256 {}, {} has {digest}",
            p.digest,
            src.display()
        ))
        .with(bump_or_force::<I>())),
    }
}

/// The advice of a refusal that `-f` overrides.
pub(crate) fn bump_or_force<I: Identity>() -> String {
    format!("bump {}, or use -f/--force to replace it", I::BUMP)
}

/// The error for `id` given twice (from `first` and `second`) with other bytes.
pub(crate) fn given_twice(id: &impl Display, first: &Path, second: &Path) -> Error {
    Error::config(format!(
        "{id} given twice with different contents: {} and {}",
        first.display(),
        second.display()
    ))
}

/// The packages given so far, to settle one given twice.
pub(crate) struct Given<I, D> {
    seen: HashMap<I, (D, PathBuf)>,
}

impl<I: Identity, D: PartialEq> Default for Given<I, D> {
    fn default() -> Self {
        Given {
            seen: HashMap::new(),
        }
    }
}

impl<I: Identity, D: PartialEq> Given<I, D> {
    /// Record `id` read from `src`: `Ok(true)` when it is new, `Ok(false)`
    /// when it was given before with the same bytes (published once), an
    /// error when with other bytes.
    pub(crate) fn first(&mut self, id: &I, digest: D, src: &Path) -> Result<bool> {
        match self.seen.get(id) {
            Some((d, _)) if *d == digest => Ok(false),
            Some((_, first)) => Err(given_twice(id, first, src)),
            None => {
                self.seen.insert(id.clone(), (digest, src.to_path_buf()));
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, PartialEq, Eq, Hash)]
    struct Id(&'static str);

    impl Display for Id {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "{} 1.0 (all)", self.0)
        }
    }

    impl Identity for Id {
        const BUMP: &'static str = "the version";
    }

    fn published(digest: &String) -> Option<Published<'_, String>> {
        Some(Published {
            digest,
            location: "pool/a.deb",
        })
    }

    #[test]
    fn same_bytes_are_nothing_to_do_other_bytes_need_force() {
        let (a, b) = ("aa".to_string(), "bb".to_string());
        let src = Path::new("in/a.deb");
        let id = Id("a");
        assert_eq!(against(&id, &a, src, None, false).unwrap(), Verdict::New);
        for force in [false, true] {
            let v = against(&id, &a, src, published(&a), force).unwrap();
            assert_eq!(v, Verdict::Same);
        }
        let v = against(&id, &b, src, published(&a), true).unwrap();
        assert_eq!(v, Verdict::Replace);
        let e = against(&id, &b, src, published(&a), false).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        let text = format!("{e:#}");
        for part in [
            "a 1.0 (all) is already published with different contents (pool/a.deb)",
            "published SHA256 aa, in/a.deb has bb",
            "bump the version, or use -f/--force to replace it",
        ] {
            assert!(text.contains(part), "{part:?} in {text}");
        }
    }

    #[test]
    fn a_package_given_twice_is_published_once_or_refused() {
        let mut given = Given::default();
        let id = Id("a");
        assert!(given.first(&id, 1, Path::new("1.deb")).unwrap());
        assert!(given.first(&Id("b"), 2, Path::new("2.deb")).unwrap());
        assert!(!given.first(&id, 1, Path::new("3.deb")).unwrap());
        let e = given.first(&id, 2, Path::new("4.deb")).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.to_string()
                .contains("a 1.0 (all) given twice with different contents: 1.deb and 4.deb"),
            "{e}"
        );
    }
}
