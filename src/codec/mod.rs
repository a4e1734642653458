//! Compression, in one place: the compressor names and levels users configure
//! (one parser, [`Setting`]), the [`Compressor`] every package writer streams
//! through, the parallel deterministic [`gzip`] writer of the agent archive, and
//! the member/block reuse that lets the apt publisher recompress only what
//! changed in `Packages.gz` ([`gz_reuse`]) and `Packages.xz` ([`xz_reuse`]),
//! and the gzip reader with per-thread state the publishers read packages with
//! ([`gunzip`]).

mod compressor;
pub(crate) mod gunzip;
pub(crate) mod gz_reuse;
pub(crate) mod gzip;
pub(crate) mod xz_reuse;

pub(crate) use compressor::{Compressor, copy_hashed};

use crate::error::{Error, Result};
use std::ops::RangeInclusive;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
    None,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }

    /// The levels each compressor accepts.
    pub fn levels(self) -> RangeInclusive<u32> {
        match self {
            Compression::Gzip => 0..=9,
            Compression::Xz => 0..=9,
            Compression::Zstd => 1..=22,
            Compression::None => 0..=0,
        }
    }
}

/// A configured compressor and level; `level: None` lets each writer use its
/// own default ([`Setting::level_or`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    pub compression: Compression,
    pub level: Option<u32>,
}

impl Setting {
    /// Parse a name (`gzip`/`gz`, `xz`, `zstd`/`zst`, `none`; default gzip) and an
    /// optional level, checked against the compressor's range. `key` names the
    /// config key in errors (e.g. `package.compression`).
    pub fn from_config(key: &str, name: Option<&str>, level: Option<u32>) -> Result<Setting> {
        let compression = match name.unwrap_or("gzip") {
            "gzip" | "gz" => Compression::Gzip,
            "xz" => Compression::Xz,
            "zstd" | "zst" => Compression::Zstd,
            "none" => Compression::None,
            other => {
                return Err(Error::config(format!(
                    "{key} {other:?} is not known: use gzip, xz, zstd or none"
                )));
            }
        };
        let range = compression.levels();
        if let Some(l) = level
            && !range.contains(&l)
        {
            return Err(Error::config(format!(
                "{key}_level {l} is out of range for {}: {}-{}",
                compression.name(),
                range.start(),
                range.end()
            )));
        }
        Ok(Setting { compression, level })
    }

    /// The configured level, else `default` for this compressor.
    pub fn level_or(&self, default: impl Fn(Compression) -> u32) -> u32 {
        self.level.unwrap_or_else(|| default(self.compression))
    }
}

/// An earlier output of a reusing encoder ([`gz_reuse`], [`xz_reuse`]), read
/// a piece at a time: its layout from a few headers, and only the members or
/// blocks that are reused, so a previous file is never held whole.
#[derive(Clone, Copy)]
pub(crate) enum Previous<'a> {
    Bytes(&'a [u8]),
    File(&'a std::fs::File),
}

impl Previous<'_> {
    /// Its size in bytes.
    pub(crate) fn size(&self) -> std::io::Result<u64> {
        match self {
            Previous::Bytes(b) => Ok(b.len() as u64),
            Previous::File(f) => Ok(f.metadata()?.len()),
        }
    }

    /// The `len` bytes at `at` (an error when they are not all there).
    pub(crate) fn read(&self, at: u64, len: usize) -> std::io::Result<Vec<u8>> {
        let mut buf = vec![0; len];
        self.read_into(at, &mut buf)?;
        Ok(buf)
    }

    /// Fill `buf` with the bytes at `at`.
    pub(crate) fn read_into(&self, at: u64, buf: &mut [u8]) -> std::io::Result<()> {
        match self {
            Previous::Bytes(b) => {
                let start = usize::try_from(at).unwrap_or(usize::MAX);
                let part = start
                    .checked_add(buf.len())
                    .and_then(|end| b.get(start..end))
                    .ok_or(std::io::ErrorKind::UnexpectedEof)?;
                buf.copy_from_slice(part);
                Ok(())
            }
            Previous::File(f) => std::os::unix::fs::FileExt::read_exact_at(*f, buf, at),
        }
    }
}

/// One chunk of a text being compressed (e.g. an index) and the SHA-256 of its bytes (how compressed chunks of
/// the previous files are recognised for reuse).
pub(crate) struct Chunk<'a> {
    pub data: &'a [u8],
    pub sha256: [u8; 32],
}

impl<'a> Chunk<'a> {
    pub(crate) fn new(data: &'a [u8]) -> Chunk<'a> {
        use sha2::Digest;
        Chunk {
            data,
            sha256: sha2::Sha256::digest(data).into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_levels_and_errors() {
        let s = Setting::from_config("k", None, None).unwrap();
        assert_eq!((s.compression, s.level), (Compression::Gzip, None));
        let s = Setting::from_config("k", Some("zst"), Some(19)).unwrap();
        assert_eq!((s.compression, s.level), (Compression::Zstd, Some(19)));
        assert_eq!(s.level_or(|_| 3), 19);
        let e = Setting::from_config("k", Some("brotli"), None).unwrap_err();
        assert!(e.message.contains("not known"), "{e}");
        let e = Setting::from_config("k", Some("zstd"), Some(30)).unwrap_err();
        assert!(e.message.contains("out of range"), "{e}");
        assert!(Setting::from_config("k", Some("none"), Some(1)).is_err());
    }

    /// Both reusing encoders: the bytes taken piece by piece, then the rest,
    /// are the file `encode` makes whole (reusing everything of it).
    #[test]
    fn reuse_encoders_taken_piece_by_piece_give_the_same_file() {
        let texts: Vec<String> = (0..5)
            .map(|i| format!("Package: p{i}\n\n").repeat(50))
            .collect();
        let chunks: Vec<Chunk> = texts.iter().map(|t| Chunk::new(t.as_bytes())).collect();
        macro_rules! check {
            ($codec:ident) => {{
                let whole = $codec::encode(&chunks, None);
                let mut enc = $codec::Encoder::new(Some(Previous::Bytes(&whole))).unwrap();
                let mut out = enc.take();
                for c in chunks.chunks(2) {
                    enc.push(c).unwrap();
                    out.extend(enc.take());
                }
                out.extend(enc.finish().unwrap());
                assert_eq!(out, whole, stringify!($codec));
                // The previous file read from disk, a member or block at a time.
                let mut file = tempfile::tempfile().unwrap();
                std::io::Write::write_all(&mut file, &whole).unwrap();
                let mut enc = $codec::Encoder::new(Some(Previous::File(&file))).unwrap();
                enc.push(&chunks).unwrap();
                let mut out = enc.take();
                out.extend(enc.finish().unwrap());
                assert_eq!(out, whole, stringify!($codec));
                // Truncated, it gives no reuse, and still the same file.
                file.set_len(whole.len() as u64 - 1).unwrap();
                let mut enc = $codec::Encoder::new(Some(Previous::File(&file))).unwrap();
                enc.push(&chunks).unwrap();
                let mut out = enc.take();
                out.extend(enc.finish().unwrap());
                assert_eq!(out, whole, stringify!($codec));
            }};
        }
        check!(gz_reuse);
        check!(xz_reuse);
    }
}
