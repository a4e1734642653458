//! What the package writers stream through: one compressor type for every format
//! (gzip via our [`GzipWriter`], with stored mode for already-compressed content;
//! xz; zstd; none), and a bounded, hashed copy of a file into it.

use super::Compression;
use super::gzip::{GzipOptions, GzipWriter};
use crate::error::{Error, IoContext, Result};
use md5::Digest;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

pub(crate) enum Compressor<W: Write> {
    Gzip(GzipWriter<W>),
    Xz(liblzma::write::XzEncoder<W>),
    Zstd(zstd::Encoder<'static, W>),
    Plain(W),
}

impl<W: Write> Compressor<W> {
    /// gzip level 0 stores everything; gzip runs on one thread here (the package
    /// payloads are mostly the stored agent tar, and output must not depend on it).
    pub(crate) fn new(w: W, c: Compression, level: u32) -> io::Result<Self> {
        Ok(match c {
            Compression::Gzip => Compressor::Gzip(GzipWriter::new(
                w,
                GzipOptions {
                    level,
                    threads: 1,
                    ..GzipOptions::default()
                },
            )),
            Compression::Xz => Compressor::Xz(liblzma::write::XzEncoder::new(w, level)),
            Compression::Zstd => Compressor::Zstd(zstd::Encoder::new(w, level as i32)?),
            Compression::None => Compressor::Plain(w),
        })
    }

    /// Store the next bytes without compressing them (gzip only; others ignore it).
    pub(crate) fn set_store(&mut self, store: bool) {
        if let Compressor::Gzip(g) = self {
            g.set_store(store);
        }
    }

    pub(crate) fn finish(self) -> io::Result<W> {
        match self {
            Compressor::Gzip(g) => g.finish(),
            Compressor::Xz(x) => x.finish(),
            Compressor::Zstd(z) => z.finish(),
            Compressor::Plain(w) => Ok(w),
        }
    }

    fn inner(&mut self) -> &mut dyn Write {
        match self {
            Compressor::Gzip(g) => g,
            Compressor::Xz(x) => x,
            Compressor::Zstd(z) => z,
            Compressor::Plain(w) => w,
        }
    }
}

impl<W: Write> Write for Compressor<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner().write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.inner().write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner().flush()
    }
}

/// Copy exactly `size` bytes of `path` into `out`, feeding them to `hash`. A file
/// that changes size while it is read is an error (the archive header already
/// promised `size` bytes). `what` names the output in write errors.
pub(crate) fn copy_hashed<W: Write, D: Digest>(
    path: &Path,
    size: u64,
    out: &mut W,
    buf: &mut [u8],
    hash: &mut D,
    what: &str,
) -> Result<()> {
    let mut f = File::open(path).ctx("reading", path)?;
    let mut left = size;
    while left > 0 {
        crate::util::signals::check()?;
        let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        let n = f.read(&mut buf[..want]).ctx("reading", path)?;
        if n == 0 {
            break;
        }
        hash.update(&buf[..n]);
        out.write_all(&buf[..n])
            .map_err(|e| Error::build(format!("writing {what}: {e}")))?;
        left -= n as u64;
    }
    if left != 0 || f.read(&mut [0u8; 1]).ctx("reading", path)? != 0 {
        return Err(Error::build(format!(
            "{} changed size while it was being packaged",
            path.display()
        )));
    }
    Ok(())
}
