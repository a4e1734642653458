//! Which kind of package each file is (by content, not by name) and which kind
//! of repository a directory holds, so `cfy-ap publish` can pick the apt or the
//! yum publisher and refuse mixtures.

use crate::error::{Error, Result};
use std::io::Read;
use std::path::{Path, PathBuf};

/// A package format, as found in a file's first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PackageKind {
    /// ar archive whose first member is `debian-binary`.
    Deb,
    /// rpm lead magic `ed ab ee db`.
    Rpm,
}

impl PackageKind {
    fn name(self) -> &'static str {
        match self {
            PackageKind::Deb => ".deb",
            PackageKind::Rpm => ".rpm",
        }
    }
}

/// The kind of `path`, `None` for anything else (an unreadable file is
/// `None` too: the publisher then reports it properly).
pub(crate) fn package_kind(path: &Path) -> Option<PackageKind> {
    let mut head = [0u8; 21];
    let mut f = std::fs::File::open(path).ok()?;
    let mut got = 0;
    while got < head.len() {
        match f.read(&mut head[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => return None,
        }
    }
    let head = &head[..got];
    if looks_like_rpm(head) {
        Some(PackageKind::Rpm)
    } else if head.starts_with(b"!<arch>\ndebian-binary") {
        Some(PackageKind::Deb)
    } else {
        None
    }
}

/// The kind of the first file of a known kind (a file of neither kind goes
/// with it and is refused by that publisher, with its reasons); when none is
/// known, a `.rpm` name picks rpm, else deb. Only the first files are opened:
/// the publishers check every file anyway, and the rpm reader names a deb
/// among rpms as a mixture.
pub(crate) fn kind_of(files: &[PathBuf]) -> Result<PackageKind> {
    // Only regular files are opened: a FIFO would block the read of its magic.
    // (A missing file is reported by the publisher that reads it.)
    for f in files.iter().filter(|f| f.exists()) {
        crate::util::input::check_regular(f, "package", u64::MAX)?;
    }
    if let Some(k) = files.iter().find_map(|f| package_kind(f)) {
        return Ok(k);
    }
    Ok(
        if files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "rpm"))
        {
            PackageKind::Rpm
        } else {
            PackageKind::Deb
        },
    )
}

/// Does `head` (the first bytes of a file) start like an rpm (its lead magic)?
pub(crate) fn looks_like_rpm(head: &[u8]) -> bool {
    head.starts_with(&[0xed, 0xab, 0xee, 0xdb])
}

/// The error for a package of the other kind among `kind` packages.
pub(crate) fn mixed(path: &Path, kind: PackageKind) -> Error {
    let (is, want) = match kind {
        PackageKind::Rpm => (PackageKind::Deb, PackageKind::Rpm),
        PackageKind::Deb => (PackageKind::Rpm, PackageKind::Deb),
    };
    Error::config(format!(
        "publish: {} is a {} among {} packages: one kind per call",
        path.display(),
        is.name(),
        want.name()
    ))
    .with(
        "publish the debs into an apt repository and the rpms into a yum repository, in two calls",
    )
}

/// Refuse to put `kind` packages into `repo` when it is no directory (a file,
/// `/dev/null`) or already holds the other kind of repository (`dists/` or
/// `pool/` for apt, `repodata/` for yum).
pub(crate) fn check_repo_kind(repo: &Path, kind: PackageKind) -> Result<()> {
    if let Ok(meta) = std::fs::metadata(repo)
        && !meta.is_dir()
    {
        return Err(Error::config(format!(
            "publish: repository {} is not a directory ({})",
            repo.display(),
            crate::util::input::kind(&meta)
        ))
        .with("give a directory (created when missing) as --repo"));
    }
    check_layout(&repo.display().to_string(), |d| repo.join(d).is_dir(), kind)
}

/// Refuse to put `kind` packages where the other kind of repository is:
/// `has(name)` tells whether the top-level directory `name` is there
/// (`dists/` or `pool/` for apt, `repodata/` for yum) — on disk, or as a
/// prefix in a bucket.
pub(crate) fn check_layout(
    repo: &str,
    has: impl Fn(&str) -> bool,
    kind: PackageKind,
) -> Result<()> {
    let apt = has("dists") || has("pool");
    let yum = has("repodata");
    let (clash, is, wants) = match kind {
        PackageKind::Rpm if apt => (true, "an apt repository", "rpms go into a yum repository"),
        PackageKind::Deb if yum => (true, "a yum repository", "debs go into an apt repository"),
        _ => (false, "", ""),
    };
    if clash {
        return Err(Error::config(format!("publish: {repo} is {is}; {wants}"))
            .with("give another --repo directory or prefix"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_by_content() {
        let d = tempfile::tempdir().unwrap();
        let deb = d.path().join("a.rpm");
        std::fs::write(
            &deb,
            b"!<arch>\ndebian-binary   0           0     0     100644  4         `\n2.0\n",
        )
        .unwrap();
        let rpm = d.path().join("b.deb");
        std::fs::write(&rpm, [0xed, 0xab, 0xee, 0xdb, 3, 0]).unwrap();
        let text = d.path().join("c.rpm");
        std::fs::write(&text, "hello").unwrap();
        assert_eq!(package_kind(&deb), Some(PackageKind::Deb));
        assert_eq!(package_kind(&rpm), Some(PackageKind::Rpm));
        assert_eq!(package_kind(&text), None);
        assert!(looks_like_rpm(&[0xed, 0xab, 0xee, 0xdb, 3]));
        assert!(!looks_like_rpm(b"!<arch>\n"));
        assert_eq!(
            kind_of(&[rpm.clone(), text.clone()]).unwrap(),
            PackageKind::Rpm
        );
        assert_eq!(
            kind_of(&[text.clone(), deb.clone(), rpm.clone()]).unwrap(),
            PackageKind::Deb
        );
        assert_eq!(mixed(&deb, PackageKind::Rpm).exit_code(), 2);
        assert_eq!(kind_of(&[text]).unwrap(), PackageKind::Rpm);
        assert_eq!(
            kind_of(&[d.path().join("x.deb")]).unwrap(),
            PackageKind::Deb
        );
        std::fs::create_dir(d.path().join("repodata")).unwrap();
        assert!(check_repo_kind(d.path(), PackageKind::Rpm).is_ok());
        assert_eq!(
            check_repo_kind(d.path(), PackageKind::Deb)
                .unwrap_err()
                .exit_code(),
            2
        );
    }
}
