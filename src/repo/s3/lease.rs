//! The lease: publishers into one prefix queue on the object `.cfy-ap.lock`,
//! created only when there is none (`If-None-Match: *`). It names its holder
//! (host, process, a random token) and when it expires. A lease whose holder
//! is gone is taken over with a compare-and-swap on its ETag, so two waiters
//! cannot both take it: one expired by its time (a holder on another machine),
//! or held by a process of this host that no longer runs (a killed publisher,
//! taken over at once). The holder renews it before its commit; a publish that
//! lost its lease fails its commit's compare-and-swap instead of overwriting.

use super::client::Bucket;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::repo::storage::{Storage, Swap, Tag};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The lease object, relative to the repository.
pub(crate) const KEY: &str = ".cfy-ap.lock";

/// How long a lease lasts unless renewed.
const TTL: u64 = 600;

/// How long a publisher waits for another one's lease.
const WAIT: Duration = Duration::from_secs(900);

/// A lease held; released (deleted) when dropped.
pub(crate) struct Lease<'a> {
    bucket: &'a Bucket,
    token: String,
    tag: Tag,
    /// When it was taken or last renewed (this host's monotonic clock).
    since: Instant,
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn host() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// A lease's text.
fn text(token: &str, expires: u64) -> String {
    format!(
        "cfy-ap publish lease\nholder {} {} {token}\nexpires {expires}\n",
        host(),
        std::process::id()
    )
}

/// Whether the lease `text` may be taken over now.
fn stale(text: &str, now: u64) -> bool {
    let field = |name: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_string()))
    };
    let expired = field("expires ")
        .and_then(|e| e.parse::<u64>().ok())
        .is_none_or(|e| e <= now);
    let dead_here = field("holder ").is_some_and(|h| {
        let mut parts = h.split_whitespace();
        let (host_name, pid) = (
            parts.next(),
            parts.next().and_then(|p| p.parse::<i32>().ok()),
        );
        host_name == Some(host().as_str()) && pid.is_some_and(crate::repo::stage::gone)
    });
    expired || dead_here
}

impl<'a> Lease<'a> {
    /// Take the lease of `bucket`'s repository, waiting (bounded) for another
    /// publisher's; exit 3 when it is still held after the wait.
    pub(crate) fn take(bucket: &'a Bucket, log: &Log) -> Result<Lease<'a>> {
        let token = format!("{:016x}", rand::random::<u64>());
        let start = Instant::now();
        let mut pause = Duration::from_millis(100);
        let mut told = false;
        loop {
            let mine = text(&token, now() + TTL);
            if let Some(tag) = bucket.create(KEY, mine.as_bytes())? {
                return Ok(Lease {
                    bucket,
                    token,
                    tag,
                    since: Instant::now(),
                });
            }
            let held = bucket.read(KEY)?;
            if let Some((theirs, tag)) = &held {
                let theirs = String::from_utf8_lossy(theirs);
                if theirs.contains(&token) {
                    // Our create went through and its retry was refused.
                    return Ok(Lease {
                        bucket,
                        token,
                        tag: tag.clone(),
                        since: Instant::now(),
                    });
                }
                if stale(&theirs, now()) {
                    log.detail(&format!(
                        "taking over a stale lease: {}",
                        theirs.trim().replace('\n', "; ")
                    ));
                    if let Swap::Done(Some(tag)) =
                        bucket.compare_and_swap(KEY, Some(tag), Some(mine.as_bytes()))?
                    {
                        return Ok(Lease {
                            bucket,
                            token,
                            tag,
                            since: Instant::now(),
                        });
                    }
                    continue;
                }
                if start.elapsed() > WAIT {
                    return Err(Error::exists(format!(
                        "{}: another publish holds the lease ({})",
                        bucket.url().show(KEY),
                        theirs.lines().nth(1).unwrap_or_default()
                    ))
                    .with("it is released when that publish ends, or taken over when it expires"));
                }
                if !told {
                    log.info("waiting for another publish into this repository to end");
                    told = true;
                }
            }
            std::thread::sleep(pause + Duration::from_millis(rand::random::<u64>() % 100));
            pause = (pause * 2).min(Duration::from_secs(2));
        }
    }

    /// Renew the lease for another [`TTL`]; an error when another publisher
    /// took it over meanwhile. A lease taken or renewed less than half its
    /// TTL ago is left as it is (no request): until it expires no other
    /// publisher may take it over (this process is alive). A commit that
    /// outlasts it stays safe: its switch is a compare-and-swap.
    pub(crate) fn renew(&mut self) -> Result<()> {
        if self.since.elapsed() < Duration::from_secs(TTL / 2) {
            return Ok(());
        }
        let mine = text(&self.token, now() + TTL);
        match self
            .bucket
            .compare_and_swap(KEY, Some(&self.tag), Some(mine.as_bytes()))?
        {
            Swap::Done(Some(tag)) => {
                self.tag = tag;
                self.since = Instant::now();
                Ok(())
            }
            _ => Err(Error::exists(format!(
                "{}: this publish's lease was taken over by another one (it ran longer than {TTL} s)",
                self.bucket.url().show(KEY)
            ))),
        }
    }
}

impl Drop for Lease<'_> {
    /// Release the lease. One taken or renewed less than half its TTL ago is
    /// still this publisher's (as in [`Lease::renew`]): deleted with no read
    /// first, one request; an older one only when it is still ours.
    fn drop(&mut self) {
        if self.since.elapsed() < Duration::from_secs(TTL / 2) {
            let _ = self.bucket.delete(KEY);
        } else {
            let _ = self.bucket.compare_and_swap(KEY, Some(&self.tag), None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_dead_holders_are_stale() {
        let live = text("t", 1_000);
        assert!(!stale(&live, 999), "held by this live process, not expired");
        assert!(stale(&live, 1_000), "expired");
        let dead = format!(
            "cfy-ap publish lease\nholder {} 999999999 t\nexpires 5000\n",
            host()
        );
        assert!(stale(&dead, 10), "its process is gone");
        let elsewhere = "cfy-ap publish lease\nholder other-host 1 t\nexpires 5000\n";
        assert!(!stale(elsewhere, 10), "another host's, not expired");
        assert!(stale("garbage", 10), "unreadable: taken over");
    }
}
