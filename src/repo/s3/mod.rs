//! Repositories in an S3-compatible object store (`--repo s3://BUCKET/PREFIX`).
//!
//! There is no rename and no directory on an object store, so a generation
//! cannot be switched by an atomic exchange as on a local disk
//! ([`crate::repo::generation`]). The guarantee that a client always sees a
//! consistent repository comes instead from the order of the writes, names
//! that never change content (by-hash copies, checksum-named metadata), old
//! objects kept for a grace period, and a compare-and-swap on the switch
//! object as the commit (`sync`).
//!
//! - `url`: `s3://BUCKET/PREFIX`;
//! - `settings`: endpoint, region, credentials, addressing, as the AWS tools
//!   take them;
//! - `client`: the bucket's client, the object-store backend of the storage
//!   seam ([`crate::repo::storage::Storage`]), with request counts;
//! - `lease`: publishers queue on a lease object, stale ones taken over;
//! - `garbage`: what a generation stopped naming, deleted after the grace;
//! - `sync`: the publish — working copy, format publisher, ordered upload,
//!   switch, garbage — driven by a format's [`Layout`].

mod client;
mod garbage;
mod lease;
mod settings;
mod sync;
mod url;

pub(crate) use client::Bucket;
pub(crate) use sync::{Layout, Names, Options, Work, check, run, url_of};
pub(crate) use url::S3Url;

use crate::error::{Error, Result};

/// The default grace period: a day, far longer than any client takes between
/// reading a switch object and the files it names.
pub(crate) const DEFAULT_GRACE: u64 = 86_400;

/// A client of the bucket of `url`, set up from the environment and the AWS
/// shared files (no request made yet).
pub(crate) fn open(url: &S3Url) -> Result<Bucket> {
    Bucket::connect(url, &settings::Settings::from_env()?)
}

/// `publish.grace` / `--grace` (`1d`, `6h`, `90s`, `0`): seconds; the
/// default without one.
pub(crate) fn grace(text: Option<&str>) -> Result<u64> {
    match text {
        None => Ok(DEFAULT_GRACE),
        Some(t) => garbage::parse_grace(t).map_err(|e| Error::config(format!("grace: {e}"))),
    }
}
