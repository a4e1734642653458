//! A yum repository in an S3-compatible bucket (`--repo s3://BUCKET/PREFIX`):
//! what the object-store publish ([`crate::repo::s3`]) needs to know of the
//! yum layout. The local publisher runs unchanged on a working copy of
//! `repodata/` (never of the packages). Clients find, in order:
//!
//! 1. the packages (each in place before metadata names it);
//! 2. the metadata files, named by their checksum (content-addressed);
//! 3. `repomd.xml.asc`, then `repomd.xml` — the switch, a compare-and-swap.
//!
//! The signature and the document are two objects: dnf with
//! `repo_gpgcheck=1` that reads them in the instant between the two writes
//! may find them mismatched and retry; `gpgcheck` of the packages is not
//! affected.

use super::{YumOptions, existing, repomd};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::repo::kind::PackageKind;
use crate::repo::report::Summary;
use crate::repo::s3::{self, Layout, Names, S3Url, Work};
use std::path::{Path, PathBuf};

/// The yum layout.
struct Yum;

const REPOMD: &str = "repodata/repomd.xml";

impl Layout for Yum {
    fn kind(&self) -> PackageKind {
        PackageKind::Rpm
    }

    fn fetch(&self, work: &mut Work<'_>) -> Result<()> {
        let found = work.fetch(&[format!("{REPOMD}.asc"), REPOMD.to_string()])?;
        if !found[1] {
            return Ok(());
        }
        let path = work.dir().join(REPOMD);
        let text = std::fs::read_to_string(&path).map_err(|e| Error::io("reading", &path, e))?;
        let records = repomd::parse(&text).map_err(|e| {
            Error::build(format!(
                "{}: unreadable: {e}",
                work.bucket().url().show(REPOMD)
            ))
        })?;
        let mut hrefs = Vec::new();
        for r in records {
            if !r.href.starts_with("repodata/") || r.href.contains("..") {
                return Err(Error::build(format!(
                    "{}: names {} outside repodata/",
                    work.bucket().url().show(REPOMD),
                    r.href
                )));
            }
            hrefs.push(r.href);
        }
        work.fetch(&hrefs)?;
        Ok(())
    }

    fn names(&self, dir: &Path) -> Result<Names> {
        let old = existing::load(dir)?;
        Ok(Names {
            packages: old
                .packages
                .into_iter()
                .map(|e| (e.location, e.pkgid))
                .collect(),
            addressed: old.records.into_iter().map(|r| r.href).collect(),
        })
    }

    fn switch(&self, dir: &Path) -> Option<String> {
        dir.join(REPOMD).is_file().then(|| REPOMD.to_string())
    }

    fn rank(&self, rel: &str) -> u8 {
        match rel {
            _ if !rel.starts_with("repodata/") => 0,
            "repodata/repomd.xml.asc" => 3,
            _ => 1,
        }
    }
}

/// Before a build publishes there: the bucket is reachable, the credentials
/// accepted, the prefix no apt repository (one LIST request).
pub(super) fn check(url: &S3Url) -> Result<()> {
    s3::check(&s3::open(url)?, PackageKind::Rpm)
}

/// [`super::publish`] into a bucket.
pub(super) fn publish(
    url: &S3Url,
    opts: &YumOptions,
    rpms: &[PathBuf],
    log: &Log,
) -> Result<Summary> {
    let bucket = s3::open(url)?;
    let options = s3::Options {
        grace: opts.grace,
        read_only: opts.dry_run,
        log,
    };
    s3::run(&bucket, &Yum, &options, |dir| {
        let here = YumOptions {
            repo: dir.to_path_buf(),
            ..opts.clone()
        };
        let mut summary = super::publish_here(&here, rpms, log)?;
        summary.release = s3::url_of(&summary.release, dir, &bucket);
        Ok(summary)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_then_metadata_then_the_signature() {
        let mut keys = [
            "repodata/repomd.xml.asc",
            "repodata/abc-primary.xml.gz",
            "Packages/c/cloudify-agent-1-1.noarch.rpm",
        ];
        keys.sort_by_key(|k| Yum.rank(k));
        assert_eq!(
            keys,
            [
                "Packages/c/cloudify-agent-1-1.noarch.rpm",
                "repodata/abc-primary.xml.gz",
                "repodata/repomd.xml.asc"
            ]
        );
    }
}
