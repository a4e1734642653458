//! Repositories that other tools (reprepro, apt-ftparchive, aptly) or other
//! options made: what publishing keeps, and what it refuses to change silently.
//!
//! Kept, always: every Release field cfy-ap does not write (`Valid-Until`,
//! `NotAutomatic`, `Changelogs`, …) and every listed file it does not manage
//! (`Sources`, `Contents-*`, `Translation-*`, per-component `Release`, …), with
//! their checksums (re-computed when the file changed) and by-hash copies. The
//! existing `Description` is kept unless one is given.
//!
//! Refused (exit 3) unless `--adopt`: changes a client would notice — a different
//! `Origin` or `Label` (apt asks users to accept those), and listed variants of
//! the `Packages` indices cfy-ap rewrites that it does not write (`Packages.bz2`,
//! `.lzma`, `.zst`): they would go stale, so they are dropped from the Release.

use super::PublishOptions;
use super::digest::Digests;
use super::release::Listed;
use crate::debian::deb822;
use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;

/// The Release fields cfy-ap writes itself.
const OURS: [&str; 13] = [
    "Origin",
    "Label",
    "Suite",
    "Codename",
    "Date",
    "Architectures",
    "Components",
    "Description",
    "Acquire-By-Hash",
    "MD5Sum",
    "SHA1",
    "SHA256",
    "SHA512",
];

/// What an existing Release holds beyond what cfy-ap writes.
#[derive(Debug, Default)]
pub(super) struct Foreign {
    /// Fields to carry over, each as written (name, rest of the line and
    /// continuation lines).
    pub fields: Vec<String>,
    /// Listed files to carry over (paths relative to `dists/<codename>`).
    pub files: Vec<String>,
    /// The existing Description.
    pub description: Option<String>,
    /// What this publish would change or drop (needs `--adopt`).
    pub changes: Vec<String>,
}

/// Whether cfy-ap writes `path` (`<component>/binary-<arch>/Packages{,.gz,.xz}`).
fn managed(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(parts.as_slice(), [_, bin, "Packages" | "Packages.gz" | "Packages.xz"]
        if bin.starts_with("binary-"))
}

/// A variant of a managed index cfy-ap does not write (`Packages.bz2`).
fn superseded(path: &str) -> bool {
    let parts: Vec<&str> = path.split('/').collect();
    matches!(parts.as_slice(), [_, bin, name]
        if bin.starts_with("binary-") && name.starts_with("Packages.") && !managed(path))
}

/// Read an existing Release against the options of this publish.
pub(super) fn inspect(
    release: &str,
    listed: &BTreeMap<String, Listed>,
    opts: &PublishOptions,
) -> Foreign {
    let mut f = Foreign::default();
    for field in deb822::fields(release) {
        let ours = OURS.iter().any(|o| o.eq_ignore_ascii_case(field.name));
        let value = field.value;
        match field.name {
            "Origin" if value != opts.origin => f
                .changes
                .push(format!("Origin {value:?} would become {:?}", opts.origin)),
            "Label" if value != opts.label => f
                .changes
                .push(format!("Label {value:?} would become {:?}", opts.label)),
            "Description" => f.description = Some(value.to_string()),
            _ => {}
        }
        if !ours {
            let mut text = format!("{}: {value}", field.name);
            for line in field.continuation.lines() {
                text.push('\n');
                text.push_str(line);
            }
            f.fields.push(text);
        }
    }
    for path in listed.keys() {
        if superseded(path) {
            f.changes.push(format!(
                "{path} would be dropped (cfy-ap writes only Packages, .gz and .xz)"
            ));
        } else if !managed(path) {
            f.files.push(path.clone());
        }
    }
    f
}

/// Refuse the changes unless adopting.
pub(super) fn refuse(f: &Foreign, dist: &Path, opts: &PublishOptions) -> Result<()> {
    if f.changes.is_empty() || opts.adopt {
        return Ok(());
    }
    let mut err = Error::exists(format!(
        "{} was not made by cfy-ap with these options; publishing would change it",
        dist.display()
    ));
    for c in &f.changes {
        err = err.with(c.clone());
    }
    Err(err.with(
        "give the same --origin/--label, or --adopt to take the repository over with these changes",
    ))
}

/// The digests of a carried file: the listed ones when the file still has the
/// listed size and all four are given, else computed; `None` when it is gone.
pub(super) fn digests(dist: &Path, path: &str, listed: Option<&Listed>) -> Result<Option<Digests>> {
    let file = dist.join(path);
    let Ok(meta) = std::fs::metadata(&file) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if let Some(l) = listed
        && l.size == meta.len()
        && let [Some(md5), Some(sha1), Some(sha256), Some(sha512)] = &l.digests
    {
        return Ok(Some(Digests {
            size: l.size,
            md5: md5.clone(),
            sha1: sha1.clone(),
            sha256: sha256.clone(),
            sha512: sha512.clone(),
        }));
    }
    super::digest::hash_file(&file).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_fields_and_files_and_names_changes() {
        let release = "Origin: Debian\nLabel: Debian\nSuite: stable\nValid-Until: x\n\
                       MD5Sum:\n 00 1 main/binary-amd64/Packages\n 00 1 main/binary-amd64/Packages.bz2\n \
                       00 1 main/source/Sources.xz\n 00 1 main/i18n/Translation-en\n";
        let listed = super::super::release::listed_files(release);
        let opts = PublishOptions {
            repo: "r".into(),
            ..Default::default()
        };
        let f = inspect(release, &listed, &opts);
        assert_eq!(f.fields, ["Valid-Until: x"]);
        assert_eq!(
            f.files,
            ["main/i18n/Translation-en", "main/source/Sources.xz"]
        );
        assert_eq!(f.changes.len(), 3, "{:?}", f.changes);
        let same = PublishOptions {
            origin: "Debian".into(),
            label: "Debian".into(),
            ..opts
        };
        assert_eq!(inspect(release, &listed, &same).changes.len(), 1);
    }
}
