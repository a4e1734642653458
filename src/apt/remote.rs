//! An apt repository in an S3-compatible bucket (`--repo s3://BUCKET/PREFIX`):
//! what the object-store publish ([`crate::repo::s3`]) needs to know of the
//! apt layout. The local publisher runs unchanged on a working copy of
//! `dists/` (never of the pool); this file says what to fetch for it and in
//! what order clients must find the objects written:
//!
//! 1. pool files (a package is in place before an index names it);
//! 2. indices under their `by-hash/` names (content-addressed, so writing them
//!    disturbs no reader);
//! 3. the indices' plain names (the one race left: apt without by-hash, which
//!    reads the plain names, may see an index newer than its Release for an
//!    instant);
//! 4. `Release`, `Release.gpg`, then `InRelease` — the switch, written by a
//!    compare-and-swap. Signed, `InRelease` is the switch (apt reads it first);
//!    unsigned, `Release` is.

use super::digest::HASH_NAMES;
use super::release::listed_files;
use super::state::load_components;
use super::{Entry, PublishOptions, Request, Summary};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::openpgp::Signer;
use crate::repo::kind::PackageKind;
use crate::repo::s3::{self, Layout, Names, S3Url, Work};
use std::collections::BTreeSet;
use std::path::Path;

/// [`super::apply`] on a repository in a bucket.
pub(super) fn apply(
    url: &S3Url,
    opts: &PublishOptions,
    req: &Request,
    log: &Log,
) -> Result<Summary> {
    let apt = Apt { opts };
    apt.check()?;
    let bucket = s3::open(url)?;
    let options = s3::Options {
        grace: opts.grace,
        read_only: req.dry_run,
        log,
    };
    s3::run(&bucket, &apt, &options, |dir| {
        let here = PublishOptions {
            repo: dir.to_path_buf(),
            ..opts.clone()
        };
        let mut summary = super::apply_here(&here, req, log)?;
        summary.release = s3::url_of(&summary.release, dir, &bucket);
        Ok(summary)
    })
}

/// Before a build publishes there, the refusals of a local repository's
/// precheck (signatures that would be dropped, `planned` already published
/// without `force`) on a read-only copy of the live `dists/`: the bucket is
/// reachable, the credentials accepted, the prefix no yum repository. Takes no
/// lease and writes nothing.
pub(super) fn check(
    url: &S3Url,
    opts: &PublishOptions,
    signing: bool,
    planned: &[super::Planned],
) -> Result<()> {
    read_only(url, opts, |here| {
        super::precheck::repository(here, signing, planned)
    })
}

/// [`super::list`] of a repository in a bucket (reads only).
pub(super) fn list(url: &S3Url, opts: &PublishOptions) -> Result<Vec<Entry>> {
    read_only(url, opts, super::list_here)
}

/// `f` on a copy of the live `dists/` (no lease, nothing written): the
/// options it gets name the copy as their repository.
fn read_only<T>(
    url: &S3Url,
    opts: &PublishOptions,
    f: impl Fn(&PublishOptions) -> Result<T>,
) -> Result<T> {
    let apt = Apt { opts };
    apt.check()?;
    let bucket = s3::open(url)?;
    let log = Log::new(false, true);
    let options = s3::Options {
        grace: opts.grace,
        read_only: true,
        log: &log,
    };
    s3::run(&bucket, &apt, &options, |dir| {
        f(&PublishOptions {
            repo: dir.to_path_buf(),
            ..opts.clone()
        })
    })
}

/// The apt layout of the publish `opts`.
struct Apt<'a> {
    opts: &'a PublishOptions,
}

/// The SHA256 column of [`HASH_NAMES`].
const SHA256: usize = 2;

/// The directory part of a Release-listed path (`main/binary-amd64`).
fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(d, _)| d)
}

/// The by-hash key of a listed file.
fn by_hash(dist: &str, path: &str, hash: &str, hex: &str) -> String {
    match parent(path) {
        "" => format!("{dist}/by-hash/{hash}/{hex}"),
        dir => format!("{dist}/{dir}/by-hash/{hash}/{hex}"),
    }
}

impl Apt<'_> {
    /// Refuse what has no object-store form.
    fn check(&self) -> Result<()> {
        if self.opts.suite() != self.opts.codename {
            return Err(Error::config(format!(
                "publish: a suite ({}) other than the codename ({}) is a symlink under dists/, \
                 and an object store has none",
                self.opts.suite(),
                self.opts.codename
            ))
            .with("publish to s3:// with --codename set to the suite's name instead"));
        }
        Ok(())
    }
}

impl Layout for Apt<'_> {
    fn kind(&self) -> PackageKind {
        PackageKind::Deb
    }

    fn fetch(&self, work: &mut Work<'_>) -> Result<()> {
        // Names a publish could have made (others, e.g. `..`, never become
        // paths of the working copy).
        let plausible = |c: &String| {
            !c.is_empty()
                && !c.starts_with('.')
                && c.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"._+-".contains(&b))
        };
        let listed = work.bucket().dirs("dists")?;
        let mut codenames: BTreeSet<String> = listed.into_iter().filter(plausible).collect();
        codenames.insert(self.opts.codename.clone());
        // Every distribution's Release, and the target's signatures, at once;
        // then every index they list, at once. The other distributions: their
        // indices only, for --copy and for knowing which pool files they still
        // name.
        let mut first = Vec::new();
        for codename in &codenames {
            let dist = format!("dists/{codename}");
            if *codename == self.opts.codename {
                first.push(format!("{dist}/InRelease"));
                first.push(format!("{dist}/Release.gpg"));
            }
            first.push(format!("{dist}/Release"));
        }
        let found = work.fetch(&first)?;
        let mut indices = Vec::new();
        let mut plain = Vec::new();
        for codename in &codenames {
            let dist = format!("dists/{codename}");
            let release = format!("{dist}/Release");
            if !first
                .iter()
                .zip(&found)
                .any(|(rel, f)| *rel == release && *f)
            {
                continue;
            }
            let target = *codename == self.opts.codename;
            let read = |name: &str| {
                let path = work.dir().join(&dist).join(name);
                std::fs::read_to_string(&path).ok()
            };
            let mut text = read("Release").unwrap_or_default();
            // Signed, InRelease is the switch and says what is live: a
            // Release (and Release.gpg) written by a publish that died or
            // lost before its switch is taken back to it.
            if let Some(signed) = read("InRelease").as_deref().and_then(Signer::clear_text)
                && signed != text
            {
                work.correct(&release, Some(signed.as_bytes()))?;
                work.correct(&format!("{dist}/Release.gpg"), None)?;
                text = signed;
            }
            for (path, listed) in listed_files(&text) {
                let index = path.ends_with("/Packages") && path.contains("binary-");
                if !target && !index {
                    continue;
                }
                let rel = format!("{dist}/{path}");
                match &listed.digests[SHA256] {
                    Some(hex) => {
                        let fallback = by_hash(&dist, &path, HASH_NAMES[SHA256], hex);
                        indices.push((rel, hex.clone(), fallback));
                    }
                    None => plain.push(rel),
                }
            }
        }
        work.fetch_verified(&indices)?;
        work.fetch(&plain)?;
        Ok(())
    }

    fn names(&self, dir: &Path) -> Result<Names> {
        let mut names = Names::default();
        let dists = dir.join("dists");
        let Ok(entries) = std::fs::read_dir(&dists) else {
            return Ok(names);
        };
        for entry in entries.flatten() {
            let codename = entry.file_name().to_string_lossy().into_owned();
            if codename.starts_with('.') || !entry.path().is_dir() {
                continue;
            }
            let dist = format!("dists/{codename}");
            let Ok(text) = std::fs::read_to_string(entry.path().join("Release")) else {
                continue;
            };
            for (path, listed) in listed_files(&text) {
                for (i, hex) in listed.digests.iter().enumerate() {
                    if let Some(hex) = hex {
                        names
                            .addressed
                            .insert(by_hash(&dist, &path, HASH_NAMES[i], hex));
                    }
                }
            }
            for comp in load_components(&entry.path())?.values() {
                for stanza in comp.stanzas.stream() {
                    let stanza = stanza?;
                    names
                        .packages
                        .insert(stanza.filename().to_string(), stanza.sha256().to_string());
                }
            }
        }
        Ok(names)
    }

    fn switch(&self, dir: &Path) -> Option<String> {
        let dist = format!("dists/{}", self.opts.codename);
        ["InRelease", "Release"]
            .into_iter()
            .map(|name| format!("{dist}/{name}"))
            .find(|rel| dir.join(rel).is_file())
    }

    fn rank(&self, rel: &str) -> u8 {
        if rel.starts_with("pool/") {
            0
        } else if rel.contains("/by-hash/") {
            1
        } else if rel.ends_with("/Release") {
            3
        } else if rel.ends_with("/Release.gpg") {
            4
        } else if rel.ends_with("/InRelease") {
            5
        } else {
            2
        }
    }

    /// An index under `dists/` is a copy of its by-hash object (written
    /// before it, rank 1), which the local publisher always makes.
    fn copy_source(&self, rel: &str) -> Option<String> {
        let (dir, _) = rel.rsplit_once('/')?;
        (rel.starts_with("dists/") && self.rank(rel) == 2).then(|| format!("{dir}/by-hash/SHA256/"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clients_find_packages_then_by_hash_then_indices_then_the_release() {
        let opts = PublishOptions::default();
        let apt = Apt { opts: &opts };
        let mut keys = [
            "dists/stable/InRelease",
            "dists/stable/Release.gpg",
            "dists/stable/Release",
            "dists/stable/main/binary-amd64/Packages.xz",
            "dists/stable/main/binary-amd64/by-hash/SHA256/ab",
            "pool/main/a/a/a_1_all.deb",
        ];
        keys.sort_by_key(|k| apt.rank(k));
        assert_eq!(keys[0], "pool/main/a/a/a_1_all.deb");
        assert_eq!(keys[1], "dists/stable/main/binary-amd64/by-hash/SHA256/ab");
        assert_eq!(keys[2], "dists/stable/main/binary-amd64/Packages.xz");
        assert_eq!(
            &keys[3..],
            [
                "dists/stable/Release",
                "dists/stable/Release.gpg",
                "dists/stable/InRelease"
            ]
        );
        assert_eq!(
            by_hash("dists/stable", "main/binary-amd64/Packages", "SHA256", "ff"),
            "dists/stable/main/binary-amd64/by-hash/SHA256/ff"
        );
        // The plain index names are copies of their by-hash objects; nothing
        // else is.
        assert_eq!(
            apt.copy_source("dists/stable/main/binary-amd64/Packages.xz")
                .as_deref(),
            Some("dists/stable/main/binary-amd64/by-hash/SHA256/")
        );
        for other in [
            "pool/main/a/a/a_1_all.deb",
            "dists/stable/Release",
            "dists/stable/InRelease",
            "dists/stable/main/binary-amd64/by-hash/SHA256/ab",
        ] {
            assert_eq!(apt.copy_source(other), None, "{other}");
        }
    }

    #[test]
    fn names_are_the_pool_files_and_the_by_hash_copies_a_release_lists() {
        let t = tempfile::tempdir().unwrap();
        let dist = t.path().join("dists/stable");
        std::fs::create_dir_all(dist.join("main/binary-amd64")).unwrap();
        std::fs::write(
            dist.join("main/binary-amd64/Packages"),
            "Package: a\nVersion: 1\nArchitecture: all\nFilename: pool/main/a/a/a_1_all.deb\nSize: 1\nSHA256: aa\n\n\
             Package: b\nVersion: 2\nArchitecture: all\nFilename: pool/main/b/b/b_2_all.deb\nSize: 1\nSHA256: bb\n",
        )
        .unwrap();
        std::fs::write(
            dist.join("Release"),
            "Origin: x\nAcquire-By-Hash: yes\nSHA256:\n 00ff 10 main/binary-amd64/Packages\n",
        )
        .unwrap();
        let opts = PublishOptions::default();
        let names = Apt { opts: &opts }.names(t.path()).unwrap();
        assert_eq!(
            names.packages.keys().collect::<Vec<_>>(),
            ["pool/main/a/a/a_1_all.deb", "pool/main/b/b/b_2_all.deb"]
        );
        assert_eq!(names.packages["pool/main/b/b/b_2_all.deb"], "bb");
        assert_eq!(
            names.addressed.into_iter().collect::<Vec<_>>(),
            ["dists/stable/main/binary-amd64/by-hash/SHA256/00ff"]
        );
        assert_eq!(
            Apt { opts: &opts }.switch(t.path()).as_deref(),
            Some("dists/stable/Release")
        );
    }
}
