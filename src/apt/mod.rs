//! `cfy-ap publish`: add `.deb` packages to an apt repository (`dists/` + `pool/`
//! layout) and regenerate its indices, optionally signed.
//!
//! Library entry points: [`publish()`] (what `cfy-ap publish` and a `publish:`
//! config section run) and [`export_key()`].
//!
//! How a publish goes, and why it is safe (the phases of
//! `repo::transaction`, on the parts of the repository kit
//! [`crate::repo`]; `repo.rs` is the transaction):
//! 1. The signing key is loaded and unlocked, and every `.deb` is read once —
//!    checksummed, its control parsed — while being copied to a hidden staging
//!    file in the repository root. Any bad input stops here, before the
//!    repository is touched. Staging runs outside the lock, so concurrent
//!    publishers copy their packages in parallel.
//! 2. An exclusive `flock` on `<repo>/.cfy-ap.lock` serialises the
//!    read-modify-write below between publishers; none loses another's package.
//! 3. Existing `Packages` indices are parsed (old packages are never re-read) and
//!    every duplicate (same name, version, architecture) is decided: identical
//!    bytes → nothing to do; different bytes → refused (exit 3) unless `force`
//!    (`repo::duplicate`, the policy the yum publisher shares).
//! 4. Writes: pool files first; then the next `dists/<codename>` is prepared
//!    beside the live one (hard links of its files, `repo::generation`), its
//!    indices (`Packages`, `.gz`, `.xz`) with their `by-hash/` copies,
//!    `Release`, `Release.gpg` and `InRelease` written there, made durable, and
//!    swapped with the live directory in one atomic rename. Plain and by-hash
//!    readers see the old or the new generation whole; by-hash copies of the
//!    previous generation are kept, so a client holding the previous
//!    `InRelease` still finds the indices it names. A publish killed at any
//!    point leaves the live repository as it was (debris is cleared by the next
//!    publish).
//! 5. Indices are rewritten only when their content changes, and then only the
//!    changed chunks of `Packages.gz`/`.xz` are recompressed (`gz.rs`, `xz.rs`):
//!    the compression work of adding one package does not grow with the
//!    repository.

mod copy;
mod debfile;
mod decide;
mod digest;
mod foreign;
mod incoming;
mod index;
mod lifecycle;
mod limits;
mod pool;
mod precheck;
mod release;
mod remote;
mod render;
mod repo;
mod spill;
mod state;
mod suite;
mod table;
mod write;

pub use crate::repo::report::Summary;
pub(crate) use crate::repo::report::{Action, Published, Report, report};
#[cfg(test)]
use digest::Digests;
pub(crate) use digest::ReleaseHashes;
pub(crate) use lifecycle::{Request, Selector};

use crate::openpgp::{self, Signer};
use crate::repo::s3::S3Url;

use crate::error::{Error, Result};
use crate::log::Log;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Where and how to publish. [`Default`] gives the documented defaults with an
/// empty `repo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishOptions {
    /// The repository root (created when missing).
    pub repo: PathBuf,
    /// Distribution directory name under `dists/` (default `stable`).
    pub codename: String,
    /// `Suite:` of the Release (default: the codename). When it differs from the
    /// codename, `dists/<suite>` is made a symlink to `dists/<codename>`.
    pub suite: Option<String>,
    /// Component (default `main`).
    pub component: String,
    /// `Origin:` (default `cfy-ap`).
    pub origin: String,
    /// `Label:` (default `cfy-ap`).
    pub label: String,
    /// `Description:` of the Release (default: `"<label> <codename> repository"`).
    pub description: Option<String>,
    /// An armored (or binary) OpenPGP secret key; without one the repository is
    /// published unsigned (clients need `[trusted=yes]`).
    pub sign_key: Option<PathBuf>,
    /// The key's passphrase; `None` reads `$CFY_AP_SIGN_PASSPHRASE`
    /// (`openpgp::passphrase`).
    pub passphrase: Option<String>,
    /// Replace a published package whose bytes differ.
    pub force: bool,
    /// Publish without a key into a signed repository, dropping its signatures
    /// (never implied by `force`).
    pub unsigned: bool,
    /// Take over a repository whose Origin/Label differ or that lists index
    /// variants cfy-ap does not write (see `foreign.rs`).
    pub adopt: bool,
    /// Which key of a key file holding several (fingerprint or key ID, hex).
    pub sign_key_id: Option<String>,
    /// Retention applied by every publish: keep the newest N versions of each
    /// package and architecture (`publish.keep`; `--keep` on the command line).
    pub keep: Option<usize>,
    /// The checksums the Release lists (`publish.release_hashes`,
    /// `--release-hashes`; default SHA256 alone).
    pub release_hashes: ReleaseHashes,
    /// Debian architectures the Release lists (each with its indices) besides
    /// those of the packages and the indices already there: the agents'
    /// architectures of a build run, `publish.architectures`, `--architecture`.
    /// Without any, a repository of `Architecture: all` packages lists this
    /// host's.
    pub architectures: BTreeSet<String>,
    /// In an object store (`s3://`): how long, in seconds, objects a publish
    /// stopped naming are kept before a later publish deletes them
    /// (`publish.grace`, `--grace`; default a day).
    pub grace: u64,
}

impl Default for PublishOptions {
    fn default() -> Self {
        PublishOptions {
            repo: PathBuf::new(),
            codename: "stable".into(),
            suite: None,
            component: "main".into(),
            origin: "cfy-ap".into(),
            label: "cfy-ap".into(),
            description: None,
            sign_key: None,
            passphrase: None,
            force: false,
            unsigned: false,
            adopt: false,
            sign_key_id: None,
            keep: None,
            release_hashes: ReleaseHashes::default(),
            architectures: BTreeSet::new(),
            grace: crate::repo::s3::DEFAULT_GRACE,
        }
    }
}

impl PublishOptions {
    /// Options from a config file's `publish:` section (`repo` is required there).
    pub fn from_config(p: &crate::config::Publish, force: bool) -> Result<Self> {
        let d = PublishOptions::default();
        let repo = p.repo.as_deref().filter(|r| !r.is_empty()).ok_or_else(|| {
            Error::config("publish.repo: missing (the repository directory to publish into)")
        })?;
        Ok(PublishOptions {
            repo: PathBuf::from(repo),
            codename: p.codename.clone().unwrap_or(d.codename),
            suite: p.suite.clone(),
            component: p.component.clone().unwrap_or(d.component),
            origin: p.origin.clone().unwrap_or(d.origin),
            label: p.label.clone().unwrap_or(d.label),
            sign_key: p.sign_key.as_ref().map(PathBuf::from),
            keep: match p.keep {
                Some(0) => {
                    return Err(Error::config(
                        "publish.keep must be at least 1 (the newest versions kept)",
                    ));
                }
                k => k.map(|k| k as usize),
            },
            release_hashes: match &p.release_hashes {
                Some(names) => ReleaseHashes::parse(names)
                    .map_err(|e| Error::config(format!("publish.release_hashes: {e}")))?,
                None => d.release_hashes,
            },
            architectures: match &p.architectures {
                Some(names) => crate::debian::arch::debian_list(names)
                    .map_err(|e| Error::config(format!("publish.architectures: {e}")))?,
                None => d.architectures,
            },
            grace: crate::repo::s3::grace(p.grace.as_deref())?,
            force,
            ..d
        })
    }

    /// These options, also listing `arches` (any spelling: `arm64`, `aarch64`).
    pub fn listing<'a>(mut self, arches: impl IntoIterator<Item = &'a str>) -> Self {
        let debian = arches.into_iter().map(crate::debian::arch::deb_name);
        self.architectures
            .extend(debian.filter(|a| a != "all" && !a.is_empty()));
        self
    }

    /// The Release's `Suite:`: the suite given, else the codename.
    pub fn suite(&self) -> &str {
        self.suite.as_deref().unwrap_or(&self.codename)
    }

    fn passphrase(&self) -> Option<String> {
        openpgp::passphrase(self.passphrase.as_deref())
    }

    fn validate(&self) -> Result<()> {
        if self.repo.as_os_str().is_empty() {
            return Err(Error::config(
                "publish: no repository directory given (--repo DIR, or publish.repo in the config)",
            ));
        }
        crate::repo::kind::check_repo_kind(&self.repo, crate::repo::kind::PackageKind::Deb)?;
        let names = [
            ("codename", self.codename.as_str()),
            ("suite", self.suite()),
            ("component", self.component.as_str()),
        ];
        for (what, v) in names {
            if v.len() > limits::MAX_DIST_NAME {
                return Err(Error::config(format!(
                    "publish: {what} is {} bytes long, over the limit of {}",
                    v.len(),
                    limits::MAX_DIST_NAME
                )));
            }
            let ok = !v.is_empty()
                && !v.starts_with('.')
                && v.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || b"._+-".contains(&c));
            if !ok {
                return Err(Error::config(format!(
                    "publish: bad {what} {v:?} (letters, digits and `._+-`, not starting with `.`)"
                )));
            }
        }
        if let Some(why) = limits::reserved_component(&self.component) {
            return Err(Error::config(format!("publish: bad component: {why}")));
        }
        let texts = [
            ("origin", self.origin.as_str()),
            ("label", self.label.as_str()),
            ("description", self.description.as_deref().unwrap_or("-")),
        ];
        for (what, v) in texts {
            if v.len() > limits::MAX_TEXT {
                return Err(Error::config(format!(
                    "publish: {what} is {} bytes long, over the limit of {}",
                    v.len(),
                    limits::MAX_TEXT
                )));
            }
            if v.trim().is_empty() || v.contains(['\n', '\r']) {
                return Err(Error::config(format!(
                    "publish: bad {what} {v:?} (one non-empty line)"
                )));
            }
        }
        Ok(())
    }
}

/// The report line of the package `st` describes.
fn published_of(st: &index::Stanza, action: Action) -> Published {
    Published {
        package: st.package().to_string(),
        version: st.version().to_string(),
        architecture: st.arch().to_string(),
        filename: st.filename().to_string(),
        sha256: st.sha256().to_string(),
        action,
    }
}

/// Publish `debs` into the repository described by `opts`.
///
/// Creates the repository when missing, copies the packages into
/// `pool/<component>/<prefix>/<source>/`, updates
/// `dists/<codename>/<component>/binary-<arch>/Packages{,.gz,.xz}` (an
/// `Architecture: all` package goes into every architecture's index) and writes
/// `dists/<codename>/Release` (plus `InRelease` and `Release.gpg` with a key).
///
/// Errors (the repository is left unchanged unless noted): a file that is not a
/// valid `.deb`, an unusable key or a wrong passphrase → [`Kind::Config`](crate::Kind);
/// a package already published with other bytes without `force`, or an unsigned
/// publish into a signed repository without `force` → [`Kind::Exists`](crate::Kind);
/// I/O failures → [`Kind::Build`](crate::Kind) (an interrupted publish leaves a
/// repository that clients still read consistently; publishing again completes it).
pub(crate) fn publish(opts: &PublishOptions, debs: &[PathBuf], log: &Log) -> Result<Summary> {
    let req = Request {
        keep: opts.keep,
        ..Request::add(debs)
    };
    apply(opts, &req, log)
}

/// [`publish()`] with removals, retention and copies (see [`Request`]), in one
/// transaction.
pub(crate) fn apply(opts: &PublishOptions, req: &Request, log: &Log) -> Result<Summary> {
    if req.is_empty() {
        return Err(Error::config(
            "publish: no .deb files given (nor --remove, --keep or --copy)",
        ));
    }
    if req.copy_from.is_some() && !req.copy_all && req.copy.is_empty() {
        return Err(Error::config(
            "--copy FROM needs the packages to copy (NAME[=VERSION][/ARCH]...) or --all",
        ));
    }
    if req.copy_from.is_some() && !req.debs.is_empty() {
        return Err(Error::config(
            "--copy FROM takes package names, not .deb files: copy and add in two runs",
        ));
    }
    // Before anything is created: a directory, FIFO or device is no package (a
    // FIFO would block the staging copy forever).
    for deb in &req.debs {
        crate::util::input::check_regular(deb, "package", u64::MAX)?;
    }
    if let Some(url) = S3Url::of(&opts.repo)? {
        return remote::apply(&url, opts, req, log);
    }
    apply_here(opts, req, log)
}

/// [`apply`] on a repository directory.
fn apply_here(opts: &PublishOptions, req: &Request, log: &Log) -> Result<Summary> {
    if req.debs.is_empty() && !opts.repo.join("dists").is_dir() {
        return Err(Error::config(format!(
            "{}: no apt repository there (nothing to remove, keep or copy)",
            opts.repo.display()
        )));
    }
    let signer = checked(opts)?;
    precheck::repository(opts, signer.is_some(), &[])?;
    repo::run(opts, req, signer.as_ref(), log)
}

/// Every setting (options, SOURCE_DATE_EPOCH, the key) checked, the key unlocked.
fn checked(opts: &PublishOptions) -> Result<Option<Signer>> {
    opts.validate()?;
    if opts.unsigned && opts.sign_key.is_some() {
        return Err(Error::config(
            "publish: --unsigned and a signing key exclude each other",
        ));
    }
    crate::util::epoch::build_time()?;
    match &opts.sign_key {
        Some(key) => Ok(Some(Signer::load_selected(
            "signing key",
            key,
            opts.passphrase().as_deref(),
            opts.sign_key_id.as_deref(),
        )?)),
        None => Ok(None),
    }
}

/// A package a run is about to build and publish: (name, version, architecture).
pub(crate) type Planned = (String, String, String);

/// Check the options, SOURCE_DATE_EPOCH and the signing key, and the target
/// repository (read-only: signatures that would be dropped, a foreign
/// repository, `planned` already published without `force`), touching
/// nothing: lets a build with a `publish:` section fail before any work.
pub(crate) fn check(opts: &PublishOptions, planned: &[Planned]) -> Result<()> {
    let signer = checked(opts)?;
    match S3Url::of(&opts.repo)? {
        Some(url) => remote::check(&url, opts, signer.is_some(), planned),
        None => precheck::repository(opts, signer.is_some(), planned),
    }
}

/// One package of a codename, as [`list_debs`](crate::list_debs) gives it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Entry {
    /// The package's name.
    pub package: String,
    /// Its version, as the index says it.
    pub version: String,
    /// Its Debian architecture (`amd64`, `all`).
    pub architecture: String,
    /// The `.deb`'s size in bytes.
    pub size: u64,
    /// Pool path, relative to the repository root.
    pub filename: String,
    /// The component it is in.
    pub component: String,
}

/// The packages of `opts.codename` (every component), sorted by name, dpkg
/// version and architecture. Read-only: takes no lock and writes nothing.
pub(crate) fn list(opts: &PublishOptions) -> Result<Vec<Entry>> {
    opts.validate()?;
    if let Some(url) = S3Url::of(&opts.repo)? {
        return remote::list(&url, opts);
    }
    list_here(opts)
}

/// [`list`] of a repository directory.
fn list_here(opts: &PublishOptions) -> Result<Vec<Entry>> {
    let dist = opts.repo.join("dists").join(&opts.codename);
    if !dist.is_dir() {
        return Err(Error::config(format!(
            "{}: no such codename",
            dist.display()
        )));
    }
    Ok(state::list(&opts.repo, &opts.codename)?
        .into_iter()
        .map(|(component, s)| Entry {
            package: s.package().to_string(),
            version: s.version().to_string(),
            architecture: s.arch().to_string(),
            size: s.size(),
            filename: s.filename().to_string(),
            component,
        })
        .collect())
}

/// Write the public half of the secret key `sign_key` to `dest`, for clients'
/// `signed-by=`: binary when `dest` ends in `.gpg`, else ASCII-armored. Returns
/// the primary key's fingerprint. An existing `dest` is replaced only with `force`.
pub(crate) fn export_key(sign_key: &Path, dest: &Path, force: bool) -> Result<String> {
    let signer = Signer::open(sign_key)?;
    let binary = dest.extension().is_some_and(|e| e == "gpg");
    let bytes = signer.public_key(!binary)?;
    if dest.exists() && !force {
        return Err(Error::exists(format!("{} already exists", dest.display()))
            .with("use -f/--force to replace it"));
    }
    let mut out = crate::util::atomic::AtomicFile::create(dest)?;
    std::io::Write::write_all(out.file(), &bytes)
        .map_err(|e| Error::io("writing", out.path(), e))?;
    out.commit(force)?;
    Ok(signer.primary_fingerprint())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_from_config_and_validation() {
        let p = crate::config::Publish {
            repo: Some("/srv/apt".into()),
            codename: Some("bookworm".into()),
            sign_key: Some("key.asc".into()),
            ..Default::default()
        };
        let o = PublishOptions::from_config(&p, true).unwrap();
        assert_eq!(o.repo, PathBuf::from("/srv/apt"));
        assert_eq!((o.codename.as_str(), o.suite()), ("bookworm", "bookworm"));
        assert_eq!(
            (o.component.as_str(), o.origin.as_str()),
            ("main", "cfy-ap")
        );
        assert_eq!(o.sign_key, Some(PathBuf::from("key.asc")));
        assert!(o.force && o.validate().is_ok());
        let err = PublishOptions::from_config(&crate::config::Publish::default(), false);
        assert_eq!(err.unwrap_err().exit_code(), 2);
        for bad in ["../x", "a/b", "", ".hidden", "a b"] {
            let o = PublishOptions {
                repo: "r".into(),
                codename: bad.into(),
                ..Default::default()
            };
            assert!(o.validate().is_err(), "{bad:?}");
        }
        let o = PublishOptions {
            repo: "r".into(),
            origin: "two\nlines".into(),
            ..Default::default()
        };
        assert!(o.validate().is_err());
    }
}
