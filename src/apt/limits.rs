//! What `publish` accepts, checked before the repository is touched: lengths of
//! the names that become path components (so no write can fail half-way with
//! ENAMETOOLONG), the size of a control file, relation fields apt can parse,
//! and component names that cannot collide with the files apt expects under
//! `dists/<codename>/`. README "Limits" lists the numbers.

use crate::debian::relation;

/// `Package:` and `Source:` names, in bytes.
pub(super) const MAX_NAME: usize = 100;
/// `Version:`, in bytes (epoch included).
pub(super) const MAX_VERSION: usize = 100;
/// `Architecture:`, in bytes.
pub(super) const MAX_ARCH: usize = 32;
/// A package's stanza in the index, in bytes (its control fields with the
/// location and checksums added): apt 2.6 fails `apt-get update` ("Unable to
/// parse package file") on a stanza of 1,048,703 bytes and more (measured:
/// 1,048,702 parses), so one MiB is the most published.
pub(super) const MAX_STANZA: usize = 1 << 20;
/// A package's `control` file, in bytes (refused beyond, never truncated): no
/// bigger one fits in a stanza.
pub(super) const MAX_CONTROL: u64 = MAX_STANZA as u64;
/// `--codename`, `--suite`, `--component`, in bytes.
pub(super) const MAX_DIST_NAME: usize = 64;
/// `--origin`, `--label`, description, in bytes.
pub(super) const MAX_TEXT: usize = 256;

/// Check a control file's identity fields' lengths and every relation field.
/// `fields` are the control file's fields in order.
pub(super) fn check_control(fields: &[(String, String)]) -> Result<(), String> {
    for (name, value) in fields {
        let max = match name.to_ascii_lowercase().as_str() {
            "package" | "source" => MAX_NAME,
            "version" => MAX_VERSION,
            "architecture" => MAX_ARCH,
            _ => usize::MAX,
        };
        // Source may carry `(version)`: both parts are limited.
        let longest = value.split_whitespace().map(str::len).max().unwrap_or(0);
        if longest > max {
            return Err(format!(
                "{name}: {} bytes long, over the limit of {max}",
                longest
            ));
        }
        relation::check_field(name, value).map_err(|e| format!("{name}: {e}"))?;
    }
    Ok(())
}

/// Names apt looks for directly under `dists/<codename>/` (case-insensitively),
/// and prefixes of the indices it may find there: a component must not be one.
const RESERVED: [&str; 7] = [
    "release",
    "inrelease",
    "release.gpg",
    "by-hash",
    "i18n",
    "source",
    "dep11",
];
const RESERVED_PREFIXES: [&str; 7] = [
    "contents-",
    "translation-",
    "packages",
    "sources",
    "binary-",
    "commands-",
    "icons-",
];

/// Why `component` cannot be a component, if it cannot.
pub(super) fn reserved_component(component: &str) -> Option<String> {
    let lower = component.to_ascii_lowercase();
    let clash = RESERVED.contains(&lower.as_str())
        || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p));
    clash.then(|| {
        format!(
            "{component:?} collides with a file apt expects under dists/<codename>/ \
             (Release, InRelease, Release.gpg, by-hash, Contents-*, Packages*, ...)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn lengths_and_relations() {
        let ok = fields(&[("Package", "a"), ("Depends", "b (>= 1)")]);
        assert!(check_control(&ok).is_ok());
        let long = "a".repeat(MAX_NAME + 1);
        assert!(check_control(&fields(&[("Package", &long)])).is_err());
        let src = format!("x ({})", "1".repeat(MAX_VERSION + 1));
        assert!(check_control(&fields(&[("Source", &src)])).is_err());
        let arch = "a".repeat(MAX_ARCH + 1);
        assert!(check_control(&fields(&[("Architecture", &arch)])).is_err());
        let e = check_control(&fields(&[("Pre-Depends", "x (>= ")])).unwrap_err();
        assert!(e.starts_with("Pre-Depends: "), "{e}");
    }

    #[test]
    fn reserved_components() {
        for bad in [
            "Release",
            "InRelease",
            "release.gpg",
            "by-hash",
            "Contents-amd64",
            "i18n",
            "Packages",
        ] {
            assert!(reserved_component(bad).is_some(), "{bad}");
        }
        for good in ["main", "contrib", "non-free-firmware", "agents"] {
            assert!(reserved_component(good).is_none(), "{good}");
        }
    }
}
