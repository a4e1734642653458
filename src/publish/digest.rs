//! The four checksums apt repositories carry (MD5Sum, SHA1, SHA256, SHA512),
//! computed together in one pass over the bytes.

use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256, Sha512};

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
