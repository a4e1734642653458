//! `cfy-ap publish` for rpms: add `.rpm` packages to a yum/dnf repository
//! (`Packages/<first letter>/` + `repodata/`) and regenerate its metadata,
//! optionally signed (`repodata/repomd.xml.asc`).
//!
//! Library entry points: [`publish()`] (what `cfy-ap publish X.rpm…` and a
//! `publish.rpm_repo` config key run) and [`check()`].
//!
//! How a publish goes, with the guarantees of the apt side ([`crate::apt`]),
//! both built on the repository kit ([`crate::repo`]: staging, lock,
//! duplicate policy, generations, storage):
//! 1. The key is loaded and unlocked, and every `.rpm` is read once — its
//!    header parsed, header and payload digests checked, the file checksummed
//!    — while it is copied to a staging file in the repository root, and its
//!    primary, filelists and other entries are rendered. Bad input stops here,
//!    before the repository is touched. This runs outside the lock.
//! 2. An exclusive `flock` on `<repo>/.cfy-ap.lock` serialises publishers.
//! 3. The published metadata is read back (`existing.rs`: packages already
//!    there are never re-read) and duplicates are decided: same name, epoch,
//!    version, release and arch with the same bytes → nothing to do; other
//!    bytes → refused (exit 3) unless `force`. Every path written or read is
//!    confined to the repository (`repo::confine`), and a file one
//!    package's entry names is never written for another (the epoch is part
//!    of the file name: `incoming::location`).
//! 4. Writes: packages, each a temporary file renamed into place; then the next
//!    `repodata` beside the live one (`.repodata.next`, a hard-linked copy,
//!    written through the storage seam, `repo::storage`):
//!    the new metadata files (named by their checksum), `repomd.xml` and
//!    `repomd.xml.asc` written there and the metadata files older than the
//!    previous `repomd.xml` pruned; one filesystem sync; then the two
//!    directories exchanged in one step (`repo::generation`). A reader sees
//!    the old `repomd.xml` with its signature or the new one with its own; the
//!    metadata files of the previous `repomd.xml` are kept (a client holding it
//!    still finds them).

mod existing;
mod filelists;
mod incoming;
mod other;
mod primary;
mod remote;
mod repo;
mod repomd;
mod rpmfile;
mod rpmhead;
mod xml;

use crate::error::{Error, Result};
use crate::log::Log;
use crate::openpgp::{self, Signer};
use crate::repo::kind::{self, PackageKind};
use crate::repo::report::Summary;
use crate::repo::s3::S3Url;
use std::path::PathBuf;

/// How the metadata documents are compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Compression {
    /// `.xml.gz`: every yum and dnf reads it (EL7's yum needs it).
    #[default]
    Gzip,
    /// `.xml.zst`: smaller and faster to read; dnf with libsolv built with zstd.
    Zstd,
}

impl Compression {
    pub fn parse(s: &str) -> Result<Compression> {
        match s {
            "gzip" | "gz" => Ok(Compression::Gzip),
            "zstd" | "zst" => Ok(Compression::Zstd),
            other => Err(Error::config(format!(
                "publish: unknown metadata compression {other:?} (gzip or zstd)"
            ))),
        }
    }

    fn suffix(self) -> &'static str {
        match self {
            Compression::Gzip => ".xml.gz",
            Compression::Zstd => ".xml.zst",
        }
    }
}

/// Where and how to publish rpms.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YumOptions {
    /// The repository root (created when missing).
    pub repo: PathBuf,
    /// An OpenPGP secret key (armored or binary); without one `repomd.xml` is
    /// not signed (clients need `repo_gpgcheck=0`).
    pub sign_key: Option<PathBuf>,
    /// The key's passphrase; `None` reads `$CFY_AP_SIGN_PASSPHRASE`.
    pub passphrase: Option<String>,
    /// How the metadata files are compressed (gzip, zstd...).
    pub compression: Compression,
    /// Replace a published package whose bytes differ.
    pub force: bool,
    /// Publish unsigned into a signed repository, removing its signature (`-f`
    /// is no consent to that: `--unsigned` only).
    pub unsigned: bool,
    /// In an object store (`s3://`): seconds objects a publish stopped naming
    /// are kept before a later publish deletes them (default a day).
    pub grace: u64,
    /// Say what a publish would do; write nothing.
    pub dry_run: bool,
}

impl Default for YumOptions {
    fn default() -> Self {
        YumOptions {
            repo: PathBuf::new(),
            sign_key: None,
            passphrase: None,
            compression: Compression::default(),
            force: false,
            unsigned: false,
            grace: crate::repo::s3::DEFAULT_GRACE,
            dry_run: false,
        }
    }
}

impl YumOptions {
    /// Options from a config file's `publish:` section, when it has `rpm_repo`.
    pub fn from_config(p: &crate::config::Publish, force: bool) -> Result<Option<YumOptions>> {
        let Some(repo) = p.rpm_repo.as_deref().filter(|r| !r.is_empty()) else {
            return Ok(None);
        };
        Ok(Some(YumOptions {
            repo: PathBuf::from(repo),
            sign_key: p.sign_key.as_ref().map(PathBuf::from),
            grace: crate::repo::s3::grace(p.grace.as_deref())?,
            force,
            ..YumOptions::default()
        }))
    }

    fn signer(&self) -> Result<Option<Signer>> {
        let pass = openpgp::passphrase(self.passphrase.as_deref());
        self.sign_key
            .as_ref()
            .map(|k| Signer::load(k, pass.as_deref()))
            .transpose()
    }

    fn validate(&self) -> Result<()> {
        if self.repo.as_os_str().is_empty() {
            return Err(Error::config(
                "publish: no repository directory given (--repo DIR, or publish.rpm_repo in the config)",
            ));
        }
        if S3Url::of(&self.repo)?.is_some() {
            return Ok(());
        }
        kind::check_repo_kind(&self.repo, PackageKind::Rpm)?;
        repo::check_repodata(&self.repo)
    }
}

/// Publish `rpms` into the yum repository described by `opts`.
///
/// Errors (the repository is left unchanged unless noted): a file that is not a
/// valid binary rpm (as `rpm -K` reads it), an apt repository at `opts.repo`,
/// an unusable key or a wrong passphrase, a `repodata/` that is a symlink, a
/// package file or a metadata location that would lead out of the repository →
/// [`Kind::Config`](crate::Kind); a package already published with other
/// bytes, or an unsigned publish into a signed repository, without `force`, or
/// a package whose file another published package names (even with `force`) →
/// [`Kind::Exists`](crate::Kind); I/O failures →
/// [`Kind::Build`](crate::Kind) (an interrupted publish leaves a repository
/// that clients read consistently; publishing again completes it).
pub(crate) fn publish(opts: &YumOptions, rpms: &[PathBuf], log: &Log) -> Result<Summary> {
    opts.validate()?;
    if rpms.is_empty() {
        return Err(Error::config("publish: no .rpm files given"));
    }
    if let Some(url) = S3Url::of(&opts.repo)? {
        return remote::publish(&url, opts, rpms, log);
    }
    publish_here(opts, rpms, log)
}

/// [`publish`] into a repository directory.
fn publish_here(opts: &YumOptions, rpms: &[PathBuf], log: &Log) -> Result<Summary> {
    opts.validate()?;
    let signer = opts.signer()?;
    repo::run(opts, rpms, signer.as_ref(), log)
}

/// Check the options and unlock the key without touching anything, so a build
/// with `publish.rpm_repo` fails before any work.
pub(crate) fn check(opts: &YumOptions) -> Result<()> {
    opts.validate()?;
    opts.signer()?;
    match S3Url::of(&opts.repo)? {
        Some(url) => remote::check(&url),
        None => Ok(()),
    }
}
