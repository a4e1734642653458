//! The client of one bucket: the few requests a publish makes, made
//! synchronous (a current-thread runtime drives `object_store`), counted, and
//! their failures turned into the tool's errors: a missing bucket or refused
//! credentials are exit 2 (the first request of a publish is a read, so
//! nothing was written); a store that keeps failing after the retries
//! (`AWS_MAX_ATTEMPTS`, exponential backoff) is exit 1.
//!
//! It is the object-store backend of the storage seam
//! ([`crate::repo::storage::Storage`]).

use super::settings::{Addressing, Settings};
use super::url::S3Url;
use crate::error::{Error, Result};
use crate::repo::storage::{Storage, Swap, Tag};
use object_store::aws::{AmazonS3, AmazonS3Builder};
use object_store::path::Path as Key;
use object_store::{
    BackoffConfig, ClientOptions, ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload,
    RetryConfig, UpdateVersion, WriteMultipart,
};
use std::cell::Cell;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

/// Objects up to this size go in one PUT; larger ones in parts of it.
const PART: usize = 8 << 20;

/// What a publish's requests were, for `-v`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Counts {
    pub(crate) get: u64,
    pub(crate) head: u64,
    pub(crate) put: u64,
    pub(crate) delete: u64,
    pub(crate) list: u64,
    pub(crate) up: u64,
    pub(crate) down: u64,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.get + self.head + self.put + self.delete + self.list;
        write!(
            f,
            "s3: {n} requests ({} GET, {} HEAD, {} PUT, {} DELETE, {} LIST), {} bytes up, {} bytes down",
            self.get, self.head, self.put, self.delete, self.list, self.up, self.down
        )
    }
}

/// One bucket, at a repository's prefix.
pub(crate) struct Bucket {
    url: S3Url,
    /// Attempts of one request (`AWS_MAX_ATTEMPTS`).
    attempts: usize,
    /// Uploads in flight at once.
    parallel: usize,
    /// The endpoint, for messages (`AWS` for AWS itself).
    endpoint: String,
    store: Arc<AmazonS3>,
    runtime: tokio::runtime::Runtime,
    counts: Cell<Counts>,
}

impl Bucket {
    /// A client of `url`'s bucket with `settings` (no request made yet).
    pub(crate) fn connect(url: &S3Url, settings: &Settings) -> Result<Bucket> {
        // reqwest's rustls is built without a provider; ring is this tool's.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&url.bucket)
            .with_region(&settings.region)
            .with_retry(RetryConfig {
                backoff: BackoffConfig {
                    init_backoff: Duration::from_millis(100),
                    max_backoff: Duration::from_secs(5),
                    base: 2.0,
                },
                max_retries: settings.attempts - 1,
                retry_timeout: Duration::from_secs(120),
            })
            .with_client_options(
                ClientOptions::new()
                    .with_connect_timeout(Duration::from_secs(10))
                    .with_timeout(Duration::from_secs(120))
                    .with_allow_http(
                        settings
                            .endpoint
                            .as_deref()
                            .is_some_and(|e| e.starts_with("http://")),
                    ),
            );
        let addressing = addressing_of(&url.bucket, settings.addressing);
        if let Some(endpoint) = &settings.endpoint {
            b = match addressing {
                Addressing::Path => b.with_endpoint(endpoint.trim_end_matches('/')),
                Addressing::Virtual => {
                    let (scheme, host) = endpoint.split_once("://").unwrap_or(("https", endpoint));
                    b.with_endpoint(format!(
                        "{scheme}://{}.{}",
                        url.bucket,
                        host.trim_end_matches('/')
                    ))
                }
            };
        }
        // Virtual-hosted: with an endpoint, the bucket's host was made above;
        // without one (AWS), the client makes `BUCKET.s3.REGION.amazonaws.com`.
        b = b.with_virtual_hosted_style_request(addressing == Addressing::Virtual);
        if let (Some(id), Some(secret)) = (&settings.key_id, &settings.secret) {
            b = b.with_access_key_id(id).with_secret_access_key(secret);
            if let Some(t) = &settings.token {
                b = b.with_token(t);
            }
        }
        let store = b.build().map_err(|e| {
            Error::config(format!(
                "S3 client for {url}: {}",
                first_line(&e.to_string())
            ))
        })?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| Error::build(format!("starting the S3 client: {e}")))?;
        Ok(Bucket {
            url: url.clone(),
            attempts: settings.attempts,
            parallel: settings.parallel,
            endpoint: settings
                .endpoint
                .clone()
                .unwrap_or_else(|| format!("AWS ({})", settings.region)),
            store: Arc::new(store),
            runtime,
            counts: Cell::new(Counts::default()),
        })
    }

    /// The repository's URL.
    pub(crate) fn url(&self) -> &S3Url {
        &self.url
    }

    /// The requests made so far.
    pub(crate) fn counts(&self) -> Counts {
        self.counts.get()
    }

    fn count(&self, f: impl FnOnce(&mut Counts)) {
        let mut c = self.counts.get();
        f(&mut c);
        self.counts.set(c);
    }

    fn key(&self, rel: &str) -> Key {
        Key::from(self.url.key(rel))
    }

    /// The first request of every publish (a read): the "directories" under
    /// `rel/` (its common prefixes, relative to the repository). A missing
    /// bucket or refused credentials fail here (exit 2).
    pub(crate) fn dirs(&self, rel: &str) -> Result<Vec<String>> {
        self.count(|c| c.list += 1);
        let prefix = self.key(rel.trim_end_matches('/'));
        let listed = self
            .runtime
            .block_on(self.store.list_with_delimiter(Some(&prefix)))
            .map_err(|e| self.error("listing", rel, e))?;
        let base = match prefix.as_ref() {
            "" => String::new(),
            p => format!("{p}/"),
        };
        Ok(listed
            .common_prefixes
            .iter()
            .filter_map(|p| p.as_ref().strip_prefix(&base).map(str::to_string))
            .collect())
    }

    /// The objects `(rel, dest)` into their files (created), up to
    /// `max_concurrent_requests` at a time: each one's tag, or `None` when
    /// there is no such object. Bodies are streamed into the files, never
    /// whole in memory (an index of a large repository is tens of MB).
    pub(crate) fn download(&self, files: &[(&str, &Path)]) -> Result<Vec<Option<Tag>>> {
        let jobs = files.iter().map(|(rel, dest)| {
            let store = self.store.clone();
            let key = self.key(rel);
            async move { (*rel, *dest, fetch(store, key, dest).await) }
        });
        let results = self.all(jobs, true);
        let mut tags = Vec::with_capacity(results.len());
        for (rel, dest, result) in results {
            self.count(|c| c.get += 1);
            match result {
                Ok(Some((tag, bytes))) => {
                    self.count(|c| c.down += bytes);
                    tags.push(Some(tag));
                }
                Ok(None) => tags.push(None),
                Err(Fault::File(e)) => return Err(Error::io("writing", dest, e)),
                Err(Fault::Store(e)) => return Err(self.error("reading", rel, e)),
            }
        }
        Ok(tags)
    }

    /// Upload the files `(rel, src)` (unconditionally: packages, or objects
    /// clients do not read yet), `max_concurrent_requests` at a time; large ones streamed
    /// in parts, never whole in memory.
    pub(crate) fn upload(&self, files: &[(&str, &Path)]) -> Result<()> {
        let jobs = files.iter().map(|(rel, src)| {
            let store = self.store.clone();
            let key = self.key(rel);
            async move { (*rel, *src, send(store, key, src).await) }
        });
        let results = self.all(jobs, false);
        for (rel, src, result) in results {
            match result {
                Ok((bytes, requests)) => self.count(|c| {
                    c.put += requests;
                    c.up += bytes;
                }),
                Err(Fault::File(e)) => return Err(Error::io("reading", src, e)),
                Err(Fault::Store(e)) => return Err(self.error("uploading", rel, e)),
            }
        }
        Ok(())
    }

    /// Server-side copies `(from, to)` (CopyObject: one PUT request each,
    /// no bytes sent), `max_concurrent_requests` at a time.
    pub(crate) fn copy(&self, pairs: &[(&str, &str)]) -> Result<()> {
        let jobs = pairs.iter().map(|(from, to)| {
            let store = self.store.clone();
            let (from, key) = (self.key(from), self.key(to));
            async move { (*to, store.copy(&from, &key).await) }
        });
        for (to, result) in self.all(jobs, false) {
            self.count(|c| c.put += 1);
            result.map_err(|e| self.error("copying into", to, e))?;
        }
        Ok(())
    }

    /// Run `jobs`, up to `max_concurrent_requests` at once: their results,
    /// in the jobs' order when `ordered`, else as they end.
    fn all<F: std::future::Future>(
        &self,
        jobs: impl Iterator<Item = F>,
        ordered: bool,
    ) -> Vec<F::Output> {
        use futures_util::StreamExt;
        let jobs = futures_util::stream::iter(jobs);
        match ordered {
            true => self
                .runtime
                .block_on(jobs.buffered(self.parallel).collect()),
            false => self
                .runtime
                .block_on(jobs.buffer_unordered(self.parallel).collect()),
        }
    }

    fn put(&self, rel: &str, bytes: &[u8], mode: PutMode) -> Result<Option<Tag>, Put> {
        self.count(|c| {
            c.put += 1;
            c.up += bytes.len() as u64;
        });
        let opts = PutOptions {
            mode,
            ..Default::default()
        };
        let payload = PutPayload::from(bytes.to_vec());
        match self
            .runtime
            .block_on(self.store.put_opts(&self.key(rel), payload, opts))
        {
            Ok(r) => Ok(r.e_tag.map(Tag)),
            Err(
                object_store::Error::Precondition { .. }
                | object_store::Error::AlreadyExists { .. },
            ) => Err(Put::Conflict),
            Err(e) => {
                // The client retries what failed with a 5xx or a timeout, and
                // says so; not a conditional PUT lost in transit.
                let retried = e.to_string().contains(" retries, max_retries");
                Err(Put::Failed(self.error("writing", rel, e), retried))
            }
        }
    }

    /// Create `rel` only when there is none (`If-None-Match: *`): its tag, or
    /// `None` when one exists.
    pub(crate) fn create(&self, rel: &str, bytes: &[u8]) -> Result<Option<Tag>> {
        match self.compare_and_swap(rel, None, Some(bytes))? {
            Swap::Done(tag) => Ok(Some(tag.unwrap_or_else(|| Tag(String::new())))),
            Swap::Conflict(_) => Ok(None),
        }
    }

    /// A failure as the tool's error: what the store said, on which object.
    fn error(&self, what: &str, rel: &str, e: object_store::Error) -> Error {
        let at = self.url.show(rel);
        let text = first_line(&e.to_string());
        let endpoint = &self.endpoint;
        let full = e.to_string();
        let status = |code: &str| full.contains(&format!("status code: {code}"));
        let missing = matches!(e, object_store::Error::NotFound { .. })
            || full.contains("NoSuchBucket")
            || (status("404") && what == "listing");
        let refused = matches!(
            e,
            object_store::Error::PermissionDenied { .. }
                | object_store::Error::Unauthenticated { .. }
        ) || status("403")
            || status("401");
        if missing {
            Error::config(format!(
                "{what} {at}: the bucket {} does not exist at {endpoint}",
                self.url.bucket
            ))
        } else if refused {
            Error::config(format!("{what} {at}: access refused: {text}")).with(
                "check AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY or AWS_PROFILE, and the bucket's policy",
            )
        } else {
            Error::build(format!("{what} {at}: {text}"))
        }
        .caused_by(e)
    }
}

/// Why a transfer failed: the local file, or the store.
enum Fault {
    File(std::io::Error),
    Store(object_store::Error),
}

/// Download `key` into the file `dest` (its directory made): its tag and
/// size, or `None` when there is no such object (no file made).
async fn fetch(store: Arc<AmazonS3>, key: Key, dest: &Path) -> Result<Option<(Tag, u64)>, Fault> {
    use futures_util::StreamExt;
    use std::io::Write;
    let r = match store.get(&key).await {
        Ok(r) => r,
        Err(object_store::Error::NotFound { .. }) => return Ok(None),
        Err(e) => return Err(Fault::Store(e)),
    };
    let tag = Tag(r.meta.e_tag.clone().unwrap_or_default());
    if let Some(dir) = dest.parent() {
        std::fs::create_dir_all(dir).map_err(Fault::File)?;
    }
    let file = std::fs::File::create(dest).map_err(Fault::File)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 16, file);
    let mut body = r.into_stream();
    let mut size = 0u64;
    while let Some(chunk) = body.next().await {
        let chunk = chunk.map_err(Fault::Store)?;
        out.write_all(&chunk).map_err(Fault::File)?;
        size += chunk.len() as u64;
    }
    out.flush().map_err(Fault::File)?;
    Ok(Some((tag, size)))
}

/// Upload the file `src` as `key`: its size and the requests made.
async fn send(store: Arc<AmazonS3>, key: Key, src: &Path) -> Result<(u64, u64), Fault> {
    let mut file = std::fs::File::open(src).map_err(Fault::File)?;
    let size = file.metadata().map_err(Fault::File)?.len();
    if size as usize <= PART {
        let mut bytes = Vec::with_capacity(size as usize);
        file.read_to_end(&mut bytes).map_err(Fault::File)?;
        store
            .put(&key, PutPayload::from(bytes))
            .await
            .map_err(Fault::Store)?;
        return Ok((size, 1));
    }
    let upload = store.put_multipart(&key).await.map_err(Fault::Store)?;
    let mut w = WriteMultipart::new_with_chunk_size(upload, PART);
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) => {
                let _ = w.abort().await;
                return Err(Fault::File(e));
            }
        };
        w.wait_for_capacity(4).await.map_err(Fault::Store)?;
        w.write(&buf[..n]);
    }
    w.finish().await.map_err(Fault::Store)?;
    Ok((size, size.div_ceil(PART as u64) + 2))
}

/// The addressing of `bucket`: a name with dots is no valid TLS host name
/// under the endpoint's certificate, so path-style for it, as boto3 does.
fn addressing_of(bucket: &str, asked: Addressing) -> Addressing {
    match bucket.contains('.') {
        true => Addressing::Path,
        false => asked,
    }
}

/// A PUT's failure: a precondition not met, or anything else.
enum Put {
    Conflict,
    /// The error, and whether the client retried it already.
    Failed(Error, bool),
}

/// The first line of a client error, without the response body it quotes.
fn first_line(text: &str) -> String {
    let line = text.lines().next().unwrap_or_default();
    match line.find(": <?xml") {
        Some(i) => line[..i].to_string(),
        None => line.to_string(),
    }
}

impl Storage for Bucket {
    fn read(&self, rel: &str) -> Result<Option<(Vec<u8>, Tag)>> {
        self.count(|c| c.get += 1);
        let got = self.runtime.block_on(async {
            let r = self.store.get(&self.key(rel)).await?;
            let tag = Tag(r.meta.e_tag.clone().unwrap_or_default());
            Ok::<_, object_store::Error>((r.bytes().await?.to_vec(), tag))
        });
        match got {
            Ok((bytes, tag)) => {
                self.count(|c| c.down += bytes.len() as u64);
                Ok(Some((bytes, tag)))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.error("reading", rel, e)),
        }
    }

    fn exists(&self, rel: &str) -> Result<bool> {
        self.count(|c| c.head += 1);
        match self.runtime.block_on(self.store.head(&self.key(rel))) {
            Ok(_) => Ok(true),
            Err(object_store::Error::NotFound { .. }) => Ok(false),
            Err(e) => Err(self.error("reading", rel, e)),
        }
    }

    fn write_new(&self, rel: &str, bytes: &[u8]) -> Result<()> {
        match self.put(rel, bytes, PutMode::Overwrite) {
            Ok(_) => Ok(()),
            Err(Put::Conflict) => Err(Error::build(format!(
                "writing {}: refused",
                self.url.show(rel)
            ))),
            Err(Put::Failed(e, _)) => Err(e),
        }
    }

    fn compare_and_swap(
        &self,
        rel: &str,
        expected: Option<&Tag>,
        bytes: Option<&[u8]>,
    ) -> Result<Swap> {
        let Some(bytes) = bytes else {
            // S3 has no conditional delete: check, then delete (the lease
            // keeps other publishers out of the gap).
            let now = self.read(rel)?.map(|(_, t)| t);
            if now.as_ref() != expected {
                return Ok(Swap::Conflict(now));
            }
            self.delete(rel)?;
            return Ok(Swap::Done(None));
        };
        let mode = match expected {
            None => PutMode::Create,
            Some(t) => PutMode::Update(UpdateVersion {
                e_tag: Some(t.0.clone()),
                version: None,
            }),
        };
        // The client does not retry a conditional PUT that failed in transit
        // (it is not idempotent): whether it took effect is read back here,
        // and it is sent again only when it did not.
        let mut pause = Duration::from_millis(100);
        for attempt in 1.. {
            match self.put(rel, bytes, mode.clone()) {
                Ok(tag) => return Ok(Swap::Done(tag)),
                Err(Put::Conflict) => {
                    // Also what a PUT sent again after its first attempt went
                    // through meets: the object is then what we wrote.
                    return match self.read(rel)? {
                        Some((now, tag)) if now == bytes => Ok(Swap::Done(Some(tag))),
                        other => Ok(Swap::Conflict(other.map(|(_, t)| t))),
                    };
                }
                Err(Put::Failed(e, false)) if attempt < self.attempts && e.exit_code() == 1 => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(Duration::from_secs(5));
                    match self.read(rel) {
                        Ok(Some((now, tag))) if now == bytes => return Ok(Swap::Done(Some(tag))),
                        Ok(now) if now.as_ref().map(|(_, t)| t) != expected => {
                            return Ok(Swap::Conflict(now.map(|(_, t)| t)));
                        }
                        _ => continue,
                    }
                }
                Err(Put::Failed(e, _)) => return Err(e),
            }
        }
        unreachable!("the loop returns")
    }

    fn delete(&self, rel: &str) -> Result<()> {
        self.count(|c| c.delete += 1);
        match self.runtime.block_on(self.store.delete(&self.key(rel))) {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.error("deleting", rel, e)),
        }
    }

    fn list(&self, prefix: &str) -> Result<Vec<String>> {
        use futures_util::TryStreamExt;
        self.count(|c| c.list += 1);
        let key = self.key(prefix.trim_end_matches('/'));
        let base = match self.url.prefix.is_empty() {
            true => String::new(),
            false => format!("{}/", self.url.prefix),
        };
        let metas: Vec<_> = self
            .runtime
            .block_on(self.store.list(Some(&key)).try_collect::<Vec<_>>())
            .map_err(|e| self.error("listing", prefix, e))?;
        let mut keys: Vec<String> = metas
            .iter()
            .filter_map(|m| m.location.as_ref().strip_prefix(&base).map(str::to_string))
            .collect();
        keys.sort();
        Ok(keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_buckets_are_path_style_and_counts_read_as_documented() {
        assert_eq!(
            addressing_of("agents", Addressing::Virtual),
            Addressing::Virtual
        );
        assert_eq!(
            addressing_of("agents.example.com", Addressing::Virtual),
            Addressing::Path
        );
        assert_eq!(addressing_of("agents", Addressing::Path), Addressing::Path);
        let c = Counts {
            get: 8,
            head: 0,
            put: 11,
            delete: 1,
            list: 2,
            up: 5829,
            down: 1853,
        };
        assert_eq!(
            c.to_string(),
            "s3: 22 requests (8 GET, 0 HEAD, 11 PUT, 1 DELETE, 2 LIST), 5829 bytes up, 1853 bytes down"
        );
        assert_eq!(
            first_line("PUT failed: <?xml version=\"1.0\"?><Error/>\nmore"),
            "PUT failed"
        );
    }
}
