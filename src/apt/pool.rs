//! The pool: where a package's file lives, and which paths may be used at all.
//!
//! Pool identity is the whole version, epoch included:
//! `pool/<component>/<prefix>/<source>/<package>_<version>_<arch>.deb` where a
//! version's epoch colon is written `%3a` (as `apt-get download` names files),
//! so `1:1.0` → `pkg_1%3a1.0_all.deb` and `1.0` → `pkg_1.0_all.deb`. `%` is not
//! allowed in Debian versions, so two different version strings never map to one
//! file name.
//!
//! Paths read from a repository's own indices (`Filename:`) are not trusted:
//! they are confined to the repository ([`crate::repo::confine`]).

use super::debfile::Control;
use crate::repo::confine::Naming;
use std::path::Path;

/// How a `Filename` of a stanza in the apt index `file` that would leave the
/// repository is refused.
pub(super) fn by_index(file: &Path) -> Naming<'_> {
    Naming {
        file,
        field: "Filename",
        fix: "repair that index (or remove the stanza) before publishing",
    }
}

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
}
