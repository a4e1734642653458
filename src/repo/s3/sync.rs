//! A publish into a bucket, in the phases of `repo::transaction` with an
//! object store's commit:
//!
//! 1. **Lease** ([`super::lease`]) — not for a dry run or `--list`, which
//!    write nothing.
//! 2. **Read the live state** into a private working copy: the format's
//!    [`Layout`] fetches what its local publisher reads (the switch objects,
//!    the indices or metadata they list; never the packages, never a LIST of
//!    the pool).
//! 3. **Decide and render**: the format's local publisher runs on the working
//!    copy, unchanged: the same checks, duplicate policy, indices, signatures.
//! 4. **Commit in client order**: every object of the working copy that is new
//!    or changed is uploaded, the [`Layout::rank`] order (packages, then
//!    content-addressed objects, then plain names, each a server-side copy
//!    when [`Layout::copy_source`] names one, then signatures), the switch
//!    object last, as a compare-and-swap on the ETag read in 2 (on a conflict
//!    the whole publish is done again on the new state, a few times, else exit
//!    3). A client reading the old switch finds every object it names; one
//!    reading the new one finds every object *it* names, written before it.
//! 5. **Garbage**: what the new generation stopped naming is listed with the
//!    time ([`super::garbage`]) and deleted by a publish after the grace
//!    period; plain names that vanished are deleted after the switch.

use super::client::Bucket;
use super::garbage::{self, Garbage};
use super::lease::Lease;
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::repo::kind::PackageKind;
use crate::repo::storage::{Storage, Swap, Tag, sha256_file};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Publishes done again after losing the commit's compare-and-swap.
const ATTEMPTS: usize = 3;

/// What a generation names (relative keys).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Names {
    /// Package files (pool files, rpms) and the SHA256 of each.
    pub(crate) packages: BTreeMap<String, String>,
    /// Content-addressed objects (by-hash copies, checksum-named metadata).
    pub(crate) addressed: BTreeSet<String>,
}

/// What a format brings to a publish into a bucket.
pub(crate) trait Layout {
    /// The kind of packages it publishes (a prefix holding the other kind of
    /// repository is refused: `repo::kind::check_layout`).
    fn kind(&self) -> PackageKind;
    /// Fetch into `work` what the local publisher reads of the live
    /// repository (through [`Work::fetch`], [`Work::fetch_verified`]).
    fn fetch(&self, work: &mut Work<'_>) -> Result<()>;
    /// What the repository in `dir` names.
    fn names(&self, dir: &Path) -> Result<Names>;
    /// The switch object of the repository in `dir`: writing it makes the
    /// generation live (`None`: there is none).
    fn switch(&self, dir: &Path) -> Option<String>;
    /// Where a key goes in the upload order (lower first; the switch is last).
    fn rank(&self, rel: &str) -> u8;
    /// Where a copy of `rel`'s bytes is kept under their SHA256: the key
    /// prefix (of a lower rank) the hex digest completes (apt: an index's
    /// `by-hash/SHA256/`), so that `rel` is a server-side copy of that object
    /// instead of a second upload; `None` (the default, and for packages: no
    /// file is hashed for it): uploaded.
    fn copy_source(&self, _rel: &str) -> Option<String> {
        None
    }
}

/// The private working copy a publish reads and renders in.
pub(crate) struct Work<'b> {
    bucket: &'b Bucket,
    dir: tempfile::TempDir,
    /// Keys fetched: the SHA256 of what the bucket holds under that name and
    /// its tag (`None`: no such object; or not known to match, to upload).
    known: BTreeMap<String, Option<(String, Tag)>>,
    /// The garbage list, fetched with the first round of reads (one round
    /// trip fewer than after the switch); `None` until then.
    garbage: Option<Garbage>,
}

impl<'b> Work<'b> {
    /// A working copy of `bucket`'s repository; `read_only`: for a dry run or
    /// a listing, which do not read the garbage list.
    fn new(bucket: &'b Bucket, read_only: bool) -> Result<Work<'b>> {
        remove_dead_copies();
        let dir = tempfile::Builder::new()
            .prefix(&format!("{COPY}{}.", std::process::id()))
            .tempdir()
            .map_err(|e| Error::build(format!("creating a working directory: {e}")))?;
        Ok(Work {
            bucket,
            dir,
            known: BTreeMap::new(),
            garbage: read_only.then(Garbage::default),
        })
    }

    /// The working copy's root.
    pub(crate) fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The bucket.
    pub(crate) fn bucket(&self) -> &Bucket {
        self.bucket
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// Where the bytes the bucket holds under `rel` are kept (a hidden
    /// directory of the working copy): what a failed publish puts back.
    fn original(&self, rel: &str) -> PathBuf {
        self.dir.path().join(ORIGINALS).join(rel)
    }

    /// Keep the file `rel` as fetched (a hard link: the publisher replaces
    /// files, it never writes into them).
    fn keep_original(&self, rel: &str) -> Result<()> {
        let (src, dest) = (self.path(rel), self.original(rel));
        let _ = std::fs::remove_file(&dest);
        if let Some(dir) = dest.parent() {
            std::fs::create_dir_all(dir).ctx("creating", dir)?;
        }
        if std::fs::hard_link(&src, &dest).is_err() {
            std::fs::copy(&src, &dest).ctx("copying", &src)?;
        }
        Ok(())
    }

    /// Fetch `rels` into the working copy (in parallel): whether each was
    /// there.
    pub(crate) fn fetch(&mut self, rels: &[String]) -> Result<Vec<bool>> {
        let paths: Vec<PathBuf> = rels.iter().map(|r| self.path(r)).collect();
        let mut files: Vec<(&str, &Path)> = rels
            .iter()
            .zip(&paths)
            .map(|(r, p)| (r.as_str(), p.as_path()))
            .collect();
        // The first round brings the garbage list too (a hidden file: never
        // uploaded as part of the generation).
        let list = self.path(garbage::KEY);
        let first = self.garbage.is_none();
        if first {
            files.push((garbage::KEY, list.as_path()));
        }
        let mut tags = self.bucket.download(&files)?;
        if first {
            let bytes = match tags.pop().flatten() {
                Some(_) => Some(std::fs::read(&list).ctx("reading", &list)?),
                None => None,
            };
            self.garbage = Some(Garbage::of(bytes, self.bucket)?);
        }
        let mut found = Vec::with_capacity(rels.len());
        for ((rel, path), tag) in rels.iter().zip(&paths).zip(tags) {
            let known = match tag {
                Some(tag) => {
                    self.keep_original(rel)?;
                    Some((sha256_file(path)?, tag))
                }
                None => None,
            };
            found.push(known.is_some());
            self.known.insert(rel.clone(), known);
        }
        Ok(found)
    }

    /// Fetch the files `(rel, sha256, fallback)` (in parallel), each one's
    /// SHA256 given by a signed listing: when the object under the name `rel`
    /// does not match (a publish that died between its plain names and its
    /// switch), its content-addressed copy `fallback` instead, and the plain
    /// name is uploaded again by this publish. Whether each was found.
    pub(crate) fn fetch_verified(
        &mut self,
        wanted: &[(String, String, String)],
    ) -> Result<Vec<bool>> {
        let rels: Vec<String> = wanted.iter().map(|(rel, _, _)| rel.clone()).collect();
        let plain = self.fetch(&rels)?;
        let mut found = Vec::with_capacity(wanted.len());
        for ((rel, sha256, fallback), plain) in wanted.iter().zip(plain) {
            found.push(
                plain && self.matches(rel, sha256)
                    || self.fall_back(rel, sha256, fallback, plain)?,
            );
        }
        Ok(found)
    }

    /// [`Work::fetch_verified`] of one file whose plain name did not match
    /// (or was missing: `plain` false).
    fn fall_back(&mut self, rel: &str, sha256: &str, fallback: &str, plain: bool) -> Result<bool> {
        let dest = self.path(rel);
        let tag = self
            .bucket
            .download(&[(fallback, dest.as_path())])?
            .remove(0);
        if plain {
            // Known not to match: the plain name is written again.
            self.known.insert(rel.to_string(), None);
        }
        match tag {
            Some(_) if sha256_file(&dest)? == sha256 => Ok(true),
            None if !plain => Ok(false),
            _ => {
                let _ = std::fs::remove_file(&dest);
                Err(Error::build(format!(
                    "{}: does not match its listing, and {} is missing or does not either",
                    self.bucket.url().show(rel),
                    self.bucket.url().show(fallback)
                ))
                .with(
                    "the repository was changed by something other than cfy-ap; republish it whole",
                ))
            }
        }
    }

    /// Replace `rel` in the working copy by `bytes` (`None`: remove it), as
    /// what the bucket holds is not what the live generation says: it is
    /// uploaded again (or its object deleted) by this publish.
    pub(crate) fn correct(&mut self, rel: &str, bytes: Option<&[u8]>) -> Result<()> {
        let path = self.path(rel);
        let _ = std::fs::remove_file(self.original(rel));
        match bytes {
            Some(b) => {
                std::fs::write(&path, b).ctx("writing", &path)?;
                self.keep_original(rel)?;
            }
            None => match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(Error::io("removing", &path, e));
                }
                _ => {}
            },
        }
        if let Some(known) = self.known.get_mut(rel)
            && let Some((_, tag)) = known.take()
        {
            // Known to exist, not to match: kept so that a name the
            // generation drops is still deleted.
            *known = Some((String::new(), tag));
        }
        Ok(())
    }

    fn matches(&self, rel: &str, sha256: &str) -> bool {
        matches!(self.known.get(rel), Some(Some((s, _))) if s == sha256)
    }

    /// The files of the working copy (not the hidden ones: locks, staging).
    fn files(&self) -> Result<BTreeMap<String, PathBuf>> {
        let mut out = BTreeMap::new();
        let walk = walkdir::WalkDir::new(self.dir())
            .min_depth(1)
            .follow_links(false);
        let visible = |e: &walkdir::DirEntry| !e.file_name().to_string_lossy().starts_with('.');
        for entry in walk.into_iter().filter_entry(visible) {
            let entry =
                entry.map_err(|e| Error::build(format!("reading the working copy: {e}")))?;
            if entry.file_type().is_file() {
                let rel = entry
                    .path()
                    .strip_prefix(self.dir())
                    .unwrap_or(entry.path());
                out.insert(
                    rel.to_string_lossy().into_owned(),
                    entry.path().to_path_buf(),
                );
            }
        }
        Ok(out)
    }
}

/// The directory of the working copy keeping what was fetched.
const ORIGINALS: &str = ".fetched";

/// The working copies' name prefix, followed by the process ID.
const COPY: &str = "cfy-ap-s3.";

/// Remove the working copies of publishers that no longer run (killed).
fn remove_dead_copies() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(COPY)
            .and_then(|rest| rest.split('.').next())
            .and_then(|p| p.parse::<i32>().ok())
        else {
            continue;
        };
        if crate::repo::stage::gone(pid) {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
}

/// How a publish into a bucket goes.
pub(crate) struct Options<'a> {
    /// Retired objects are deleted this many seconds later.
    pub(crate) grace: u64,
    /// Read only: a dry run or a listing (no lease, no writes).
    pub(crate) read_only: bool,
    pub(crate) log: &'a Log,
}

/// Run `local` (the format's publisher, on a repository directory) on a
/// working copy of the repository in `bucket`, then commit what it changed
/// (see the module docs). `local`'s result is returned with the working
/// copy's path replaced by the repository's URL in it; `rewrite` does that.
pub(crate) fn run<L: Layout, T>(
    bucket: &Bucket,
    layout: &L,
    opts: &Options<'_>,
    mut local: impl FnMut(&Path) -> Result<T>,
) -> Result<T> {
    let log = opts.log;
    // The working copy is scratch: nothing in it is flushed to disk.
    let _scratch = crate::repo::stage::Scratch::new();
    let result = (|| {
        // The first request, a read: a missing bucket or refused credentials
        // fail here, before anything is written.
        check(bucket, layout.kind())?;
        if opts.read_only {
            let mut work = Work::new(bucket, true)?;
            layout.fetch(&mut work)?;
            return local(work.dir()).map_err(|e| rewrite(e, &work, bucket));
        }
        let mut lease = Lease::take(bucket, log)?;
        for attempt in 1..=ATTEMPTS {
            let mut work = Work::new(bucket, false)?;
            layout.fetch(&mut work)?;
            let before = layout.names(work.dir())?;
            let out = local(work.dir()).map_err(|e| rewrite(e, &work, bucket))?;
            lease.renew()?;
            match commit(&work, layout, &before, opts)? {
                true => return Ok(out),
                false if attempt < ATTEMPTS => {
                    log.info("the repository changed under this publish: publishing again on the new state");
                }
                false => {}
            }
        }
        Err(Error::exists(format!(
            "{}: changed by another publish {ATTEMPTS} times while this one ran; nothing of this publish is live",
            bucket.url()
        )))
    })();
    log.detail(&bucket.counts().to_string());
    result
}

/// The first request of a publish, a read (a missing bucket or refused
/// credentials fail here, exit 2, before anything is written): the prefix
/// holds no repository of the other kind than `kind`.
pub(crate) fn check(bucket: &Bucket, kind: PackageKind) -> Result<()> {
    let top = bucket.dirs("")?;
    let url = bucket.url().to_string();
    crate::repo::kind::check_layout(&url, |d| top.iter().any(|t| t == d), kind)
}

/// Upload what changed in `work`, switch, collect. `false`: the switch's
/// compare-and-swap failed (another publish came first).
fn commit<L: Layout>(
    work: &Work<'_>,
    layout: &L,
    before: &Names,
    opts: &Options<'_>,
) -> Result<bool> {
    let bucket = work.bucket;
    let files = work.files()?;
    let switch = layout.switch(work.dir());
    let mut uploads = Vec::new();
    for (rel, path) in &files {
        if Some(rel) == switch.as_ref() || before.addressed.contains(rel) {
            continue;
        }
        // A package already there with these bytes (written into the
        // working copy again because it was not there).
        if let Some(sha) = before.packages.get(rel)
            && *sha == sha256_file(path)?
        {
            continue;
        }
        if let Some(Some((sha, _))) = work.known.get(rel)
            && *sha == sha256_file(path)?
        {
            continue;
        }
        uploads.push(rel.clone());
    }
    uploads.sort_by_key(|rel| (layout.rank(rel), rel.clone()));
    // Plain names whose bytes a content-addressed object this publish writes
    // (at a lower rank) holds: copied server-side once that one is written,
    // not sent again.
    let uploading: BTreeSet<&str> = uploads.iter().map(String::as_str).collect();
    let mut copies = BTreeMap::new();
    for rel in &uploads {
        let Some(prefix) = layout.copy_source(rel) else {
            continue;
        };
        let src = format!("{prefix}{}", sha256_file(&files[rel])?);
        if uploading.contains(src.as_str()) && layout.rank(&src) < layout.rank(rel) {
            copies.insert(rel.clone(), src);
        }
    }
    let switch_changed = match &switch {
        Some(s) => {
            !matches!(work.known.get(s), Some(Some((sha, _))) if *sha == sha256_file(&files[s])?)
        }
        None => false,
    };
    if uploads.is_empty() && !switch_changed {
        return Ok(true);
    }
    match upload_and_switch(
        work,
        layout,
        &files,
        (&uploads, &copies),
        switch.as_deref(),
        switch_changed,
    ) {
        Ok(true) => {}
        Ok(false) => return Ok(false),
        Err(e) => {
            restore(work, &uploads);
            return Err(e);
        }
    }
    // Plain names the new generation no longer has (a signature dropped, an
    // index gone): after the switch, no client is sent to them.
    for (rel, known) in &work.known {
        if known.is_some() && !files.contains_key(rel) {
            bucket.delete(rel)?;
        }
    }
    collect(work, layout, before, &uploads, opts)?;
    Ok(true)
}

/// Upload `uploads` in rank order (those in `copies` copied server-side from
/// the key it gives), then the switch; `false` when its compare-and-swap met
/// another publish's.
fn upload_and_switch<L: Layout>(
    work: &Work<'_>,
    layout: &L,
    files: &BTreeMap<String, PathBuf>,
    (uploads, copies): (&[String], &BTreeMap<String, String>),
    switch: Option<&str>,
    switch_changed: bool,
) -> Result<bool> {
    let bucket = work.bucket;
    // One rank after the other; inside a rank, in parallel.
    let mut start = 0;
    while start < uploads.len() {
        let rank = layout.rank(&uploads[start]);
        let end = start
            + uploads[start..]
                .iter()
                .take_while(|r| layout.rank(r) == rank)
                .count();
        let (copied, sent): (Vec<&String>, Vec<&String>) = uploads[start..end]
            .iter()
            .partition(|rel| copies.contains_key(*rel));
        let sent: Vec<(&str, &Path)> = sent
            .into_iter()
            .map(|rel| (rel.as_str(), files[rel].as_path()))
            .collect();
        let copied: Vec<(&str, &str)> = copied
            .into_iter()
            .map(|rel| (copies[rel].as_str(), rel.as_str()))
            .collect();
        bucket.upload(&sent)?;
        bucket.copy(&copied)?;
        start = end;
    }
    if let Some(s) = switch
        && switch_changed
    {
        let bytes = std::fs::read(&files[s]).ctx("reading", &files[s])?;
        let expected = work.known.get(s).cloned().flatten().map(|(_, t)| t);
        if let Swap::Conflict(_) = bucket.compare_and_swap(s, expected.as_ref(), Some(&bytes))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// After a failure before the switch: put back, best effort, what this
/// publish overwrote under the names clients read without a digest (the
/// plain index names, `Release`, `repomd.xml.asc`), so that readers of those
/// see the live generation again rather than waiting for the next publish.
/// (New objects stay: no live listing names them.)
fn restore(work: &Work<'_>, uploaded: &[String]) {
    for rel in uploaded.iter().rev() {
        let original = work.original(rel);
        if matches!(work.known.get(rel), Some(Some(_))) && original.is_file() {
            let _ = work.bucket.upload(&[(rel.as_str(), original.as_path())]);
        }
    }
}

/// Retire what the new generation no longer names; delete what was retired
/// longer ago than the grace period.
fn collect<L: Layout>(
    work: &Work<'_>,
    layout: &L,
    before: &Names,
    uploaded: &[String],
    opts: &Options<'_>,
) -> Result<()> {
    let bucket = work.bucket;
    let after = layout.names(work.dir())?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut garbage = match &work.garbage {
        Some(g) => g.clone(),
        None => Garbage::load(bucket)?,
    };
    let live: BTreeSet<&String> = after
        .packages
        .keys()
        .chain(&after.addressed)
        .chain(uploaded)
        .collect();
    garbage.revive(live.iter().copied());
    let gone = before
        .packages
        .keys()
        .filter(|k| !after.packages.contains_key(*k));
    let retired = gone
        .chain(before.addressed.difference(&after.addressed))
        .cloned();
    garbage.retire(retired, now);
    let due = garbage.due(now, opts.grace);
    for rel in &due {
        bucket.delete(rel)?;
    }
    if !due.is_empty() {
        opts.log.detail(&format!(
            "deleted {} object(s) retired more than {} s ago",
            due.len(),
            opts.grace
        ));
    }
    garbage.save(bucket)
}

/// An error of the local publisher, naming the bucket rather than the
/// working copy.
fn rewrite(mut e: Error, work: &Work<'_>, bucket: &Bucket) -> Error {
    let from = work.dir().to_string_lossy().into_owned();
    let to = bucket.url().to_string();
    let to = to.trim_end_matches('/');
    e.message = e.message.replace(&from, to);
    for d in &mut e.details {
        *d = d.replace(&from, to);
    }
    e
}

/// A path in the working copy, as the repository's URL (for summaries).
pub(crate) fn url_of(path: &Path, work_dir: &Path, bucket: &Bucket) -> PathBuf {
    match path.strip_prefix(work_dir) {
        Ok(rel) => PathBuf::from(bucket.url().show(&rel.to_string_lossy())),
        Err(_) => path.to_path_buf(),
    }
}
