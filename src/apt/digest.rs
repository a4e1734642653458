//! The four checksums apt repositories carry (MD5Sum, SHA1, SHA256, SHA512),
//! computed together in one pass over the bytes, and which of them a Release
//! lists ([`ReleaseHashes`]).

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};
use std::sync::Arc;
use std::sync::mpsc::SyncSender;
use std::thread::JoinHandle;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_at_once_equals_one_by_one() {
        let big = vec![7u8; 1 << 20];
        let bufs: [&[u8]; 3] = [b"", b"abc", &big];
        let each: Vec<Digests> = bufs.iter().map(|b| Digests::of(b)).collect();
        assert_eq!(Digests::of_all(&bufs, ReleaseHashes::ALL), each);
        let lean = Digests::of_all(&bufs, ReleaseHashes::default());
        assert_eq!(lean[2].sha256, each[2].sha256);
        let weak = (lean[2].md5.as_str(), lean[2].sha1.as_str());
        assert_eq!((weak, lean[2].sha512.as_str()), (("", ""), ""));
        assert_eq!(each[2].clone().only(ReleaseHashes::default()), lean[2]);
        // Fed in parts, on threads: the same digests.
        for hashes in [ReleaseHashes::ALL, ReleaseHashes::default()] {
            let mut parts = PartsHasher::new(hashes);
            parts.update(&Arc::new(vec![b"ab".to_vec(), Vec::new()]));
            parts.update(&Arc::new(vec![b"c".to_vec()]));
            assert_eq!(parts.finish(), each[1].clone().only(hashes));
        }
        assert_eq!(
            each[1].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn release_hash_lists() {
        let names = |h: ReleaseHashes| h.names().collect::<Vec<_>>().join(",");
        assert_eq!(names(ReleaseHashes::default()), "SHA256");
        let all = ReleaseHashes::parse(&["sha512", "MD5Sum", "sha1", "SHA256"]).unwrap();
        assert_eq!(all, ReleaseHashes::ALL);
        assert_eq!(names(all), "MD5Sum,SHA1,SHA256,SHA512");
        assert_eq!(names(ReleaseHashes::parse(&["SHA256"]).unwrap()), "SHA256");
        let e = ReleaseHashes::parse(&["SHA512", "md5"]).unwrap_err();
        assert!(
            e.contains("md5") && e.contains("MD5Sum, SHA1, SHA256, SHA512"),
            "{e}"
        );
        let e = ReleaseHashes::parse(&["SHA512"]).unwrap_err();
        assert!(e.contains("SHA256"), "{e}");
    }
}

/// Which checksums a Release lists for each index (and which `by-hash/`
/// directories it has). SHA256 always: apt needs a strong hash, and packages'
/// stanzas and earlier Releases are matched on it. Default SHA256 alone, the
/// strong hash Debian's own archive lists: apt refuses MD5Sum/SHA1 alone and
/// needs no more than SHA256; SHA512 (no hardware help here, 27% of the CPU
/// time of adding one package to 5,000) and the two weak ones, for old
/// mirroring tools, are there to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReleaseHashes([bool; 4]);

impl Default for ReleaseHashes {
    fn default() -> Self {
        ReleaseHashes([false, false, true, false])
    }
}

impl ReleaseHashes {
    pub const ALL: ReleaseHashes = ReleaseHashes([true; 4]);

    /// From names as a Release spells them (any case); SHA256 must be one.
    pub fn parse<S: AsRef<str>>(names: &[S]) -> Result<ReleaseHashes, String> {
        let mut on = [false; 4];
        for name in names {
            let name = name.as_ref().trim();
            let i = HASH_NAMES
                .iter()
                .position(|h| h.eq_ignore_ascii_case(name))
                .ok_or_else(|| {
                    format!(
                        "unknown checksum {name:?} (known: {})",
                        HASH_NAMES.join(", ")
                    )
                })?;
            on[i] = true;
        }
        if !on[2] {
            return Err("the list must include SHA256 (what apt and publishing rely on)".into());
        }
        Ok(ReleaseHashes(on))
    }

    /// The selected names, in `HASH_NAMES` order.
    pub fn names(self) -> impl Iterator<Item = &'static str> {
        HASH_NAMES
            .into_iter()
            .zip(self.0)
            .filter(|(_, on)| *on)
            .map(|(n, _)| n)
    }
}

/// Size and hex digests of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Digests {
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

/// The digest names used in Release files and as `by-hash/<name>/` directories.
pub(super) const HASH_NAMES: [&str; 4] = ["MD5Sum", "SHA1", "SHA256", "SHA512"];

impl Digests {
    #[cfg(test)]
    pub(super) fn of(bytes: &[u8]) -> Digests {
        let mut h = Hasher::default();
        h.update(bytes);
        h.finish()
    }

    /// The digests of each of `buffers`, the `hashes` of all of them spread
    /// over every core (a `Packages` of 5,000 packages is 3 MB; hashing it and
    /// its compressed forms is most of the CPU time of adding one package).
    /// The digests not selected are left empty.
    #[cfg(test)]
    pub(super) fn of_all(buffers: &[&[u8]], hashes: ReleaseHashes) -> Vec<Digests> {
        let jobs: Vec<(usize, usize)> = (0..buffers.len())
            .flat_map(|b| {
                (0..4)
                    .filter(move |&a| hashes.0[a])
                    .map(move |algo| (b, algo))
            })
            .collect();
        let threads = crate::util::parallel::cores();
        let hex = crate::util::parallel::try_map(&jobs, threads, |&(b, algo)| {
            let data = buffers[b];
            Ok::<_, std::convert::Infallible>(match algo {
                0 => hex::encode(Md5::digest(data)),
                1 => hex::encode(Sha1::digest(data)),
                2 => hex::encode(Sha256::digest(data)),
                _ => hex::encode(Sha512::digest(data)),
            })
        })
        .unwrap_or_else(|never| match never {});
        let mut hex = hex.into_iter();
        let mut next = |algo: usize| match hashes.0[algo] {
            true => hex.next().expect("one per buffer and algorithm"),
            false => String::new(),
        };
        buffers
            .iter()
            .map(|data| Digests {
                size: data.len() as u64,
                md5: next(0),
                sha1: next(1),
                sha256: next(2),
                sha512: next(3),
            })
            .collect()
    }

    /// These digests with the ones `hashes` does not select left empty.
    pub(super) fn only(mut self, hashes: ReleaseHashes) -> Digests {
        for (on, d) in hashes.0.iter().zip([
            &mut self.md5,
            &mut self.sha1,
            &mut self.sha256,
            &mut self.sha512,
        ]) {
            if !on {
                d.clear();
            }
        }
        self
    }

    /// The hex digest for one of the `HASH_NAMES`.
    pub(super) fn get(&self, name: &str) -> &str {
        match name {
            "MD5Sum" => &self.md5,
            "SHA1" => &self.sha1,
            "SHA256" => &self.sha256,
            _ => &self.sha512,
        }
    }
}

/// The selected digests of a text fed in batches of parts (an index written
/// piece by piece): each algorithm runs on its own thread for the whole text,
/// so hashing overlaps whatever the caller does meanwhile.
pub(super) struct PartsHasher {
    size: u64,
    workers: Vec<(SyncSender<Batch>, JoinHandle<Algo>)>,
}

/// Parts of a text, in order, shared with the hashing threads.
pub(super) type Batch = Arc<Vec<Vec<u8>>>;

enum Algo {
    Md5(Md5),
    Sha1(Sha1),
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Algo {
    fn update(&mut self, b: &[u8]) {
        match self {
            Algo::Md5(h) => h.update(b),
            Algo::Sha1(h) => h.update(b),
            Algo::Sha256(h) => h.update(b),
            Algo::Sha512(h) => h.update(b),
        }
    }
}

impl PartsHasher {
    pub(super) fn new(hashes: ReleaseHashes) -> PartsHasher {
        let all = [
            Algo::Md5(Md5::new()),
            Algo::Sha1(Sha1::new()),
            Algo::Sha256(Sha256::new()),
            Algo::Sha512(Sha512::new()),
        ];
        let workers = all
            .into_iter()
            .zip(hashes.0)
            .filter(|(_, on)| *on)
            .map(|(mut algo, _)| {
                let (tx, rx) = std::sync::mpsc::sync_channel::<Batch>(2);
                let worker = std::thread::spawn(move || {
                    for batch in rx {
                        batch.iter().for_each(|p| algo.update(p));
                    }
                    algo
                });
                (tx, worker)
            })
            .collect();
        PartsHasher { size: 0, workers }
    }

    /// The next parts, in order.
    pub(super) fn update(&mut self, batch: &Batch) {
        self.size += batch.iter().map(|p| p.len() as u64).sum::<u64>();
        for (tx, _) in &self.workers {
            tx.send(batch.clone()).expect("hashing thread");
        }
    }

    /// The digests (the ones not selected empty).
    pub(super) fn finish(self) -> Digests {
        let mut d = Digests {
            size: self.size,
            md5: String::new(),
            sha1: String::new(),
            sha256: String::new(),
            sha512: String::new(),
        };
        for (tx, worker) in self.workers {
            drop(tx);
            match worker.join().expect("hashing thread") {
                Algo::Md5(h) => d.md5 = hex::encode(h.finalize()),
                Algo::Sha1(h) => d.sha1 = hex::encode(h.finalize()),
                Algo::Sha256(h) => d.sha256 = hex::encode(h.finalize()),
                Algo::Sha512(h) => d.sha512 = hex::encode(h.finalize()),
            }
        }
        d
    }
}

/// Incremental hasher for all four digests at once.
#[derive(Default)]
pub(super) struct Hasher {
    size: u64,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    sha512: Sha512,
}

impl Hasher {
    pub(super) fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.sha512.update(bytes);
    }

    pub(super) fn finish(self) -> Digests {
        Digests {
            size: self.size,
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
        }
    }
}

/// The checksums of the file at `path`.
pub(super) fn hash_file(path: &std::path::Path) -> crate::Result<Digests> {
    use crate::error::{Error, IoContext};
    use std::io::{self, Read};
    let mut f = std::fs::File::open(path).ctx("reading", path)?;
    let mut h = Hasher::default();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match f.read(&mut buf) {
            Ok(0) => return Ok(h.finish()),
            Ok(n) => h.update(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(Error::io("reading", path, e)),
        }
    }
}
