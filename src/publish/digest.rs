//! The four checksums apt repositories carry (MD5Sum, SHA1, SHA256, SHA512),
//! computed together in one pass over the bytes.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn all_at_once_equals_one_by_one() {
        let big = vec![7u8; 1 << 20];
        let bufs: [&[u8]; 3] = [b"", b"abc", &big];
        let each: Vec<Digests> = bufs.iter().map(|b| Digests::of(b)).collect();
        assert_eq!(Digests::of_all(&bufs), each);
        assert_eq!(
            each[1].sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}

/// Size and hex digests of one file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub size: u64,
    pub md5: String,
    pub sha1: String,
    pub sha256: String,
    pub sha512: String,
}

/// The digest names used in Release files and as `by-hash/<name>/` directories.
pub const HASH_NAMES: [&str; 4] = ["MD5Sum", "SHA1", "SHA256", "SHA512"];

impl Digests {
    pub fn of(bytes: &[u8]) -> Digests {
        let mut h = Hasher::default();
        h.update(bytes);
        h.finish()
    }

    /// The digests of each of `buffers`, the four algorithms of all of them
    /// spread over every core (a `Packages` of 5,000 packages is 3 MB; hashing
    /// it and its compressed forms four times is most of the CPU time of adding
    /// one package).
    pub fn of_all(buffers: &[&[u8]]) -> Vec<Digests> {
        let jobs: Vec<(usize, usize)> = (0..buffers.len())
            .flat_map(|b| (0..4).map(move |algo| (b, algo)))
            .collect();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
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
        buffers
            .iter()
            .map(|data| Digests {
                size: data.len() as u64,
                md5: hex.next().expect("four per buffer"),
                sha1: hex.next().expect("four per buffer"),
                sha256: hex.next().expect("four per buffer"),
                sha512: hex.next().expect("four per buffer"),
            })
            .collect()
    }

    /// The hex digest for one of the `HASH_NAMES`.
    pub fn get(&self, name: &str) -> &str {
        match name {
            "MD5Sum" => &self.md5,
            "SHA1" => &self.sha1,
            "SHA256" => &self.sha256,
            _ => &self.sha512,
        }
    }
}

/// Incremental hasher for all four digests at once.
#[derive(Default)]
pub struct Hasher {
    size: u64,
    md5: Md5,
    sha1: Sha1,
    sha256: Sha256,
    sha512: Sha512,
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.size += bytes.len() as u64;
        self.md5.update(bytes);
        self.sha1.update(bytes);
        self.sha256.update(bytes);
        self.sha512.update(bytes);
    }

    pub fn finish(self) -> Digests {
        Digests {
            size: self.size,
            md5: hex::encode(self.md5.finalize()),
            sha1: hex::encode(self.sha1.finalize()),
            sha256: hex::encode(self.sha256.finalize()),
            sha512: hex::encode(self.sha512.finalize()),
        }
    }
}
