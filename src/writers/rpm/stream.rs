//! The payload streamed once, beside the crate.
//!
//! The `rpm` crate (0.30) reads every file twice and, for v4 packages too, runs
//! SHA-256, SHA-512 and SHA3-256 over both the cpio archive and the compressed
//! payload, which it keeps in memory: for a 20 MB agent that is most of the build
//! time. So the crate builds the package with an empty stand-in for each file
//! (header, dependencies, file list, inodes, modes, mtimes — all its work), and
//! this module then writes the cpio payload itself, in the crate's order and
//! format (newc, the crate's inode numbers and modes), in one pass per file:
//! each file is read once while its SHA-256, the archive's and the compressed
//! payload's SHA-256 are computed, straight into the output after a placeholder
//! of the metadata. The header entries that depend on the contents (file sizes
//! and digests, total size, payload digests) are then replaced, the header is
//! rebuilt with [`Header::from_entries`], the signature header (sizes, header
//! digests) computed by the crate, and both written over the placeholder, which
//! has exactly their size. A signature then goes into the signature header's
//! reserved space (`Package::apply_signature_in_place`).
//!
//! Files of 4 GiB or more (in total) need 64-bit sizes and the stripped cpio
//! format: those packages are left to the crate.

use crate::codec::Compression;
use crate::codec::{Compressor, copy_hashed};
use crate::error::{Error, IoContext, Result};
use ::rpm::{
    CompressionWithLevel, Header, HeaderEntry, IndexData, IndexTag, PackageBuilder,
    PackageMetadata, SignatureHeaderBuilder,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, BufWriter, Seek, Write};
use std::path::PathBuf;
use std::sync::mpsc;

/// Payloads up to this size (all files together) are streamed here; the margin
/// keeps the compressed payload plus header under 4 GiB (32-bit size tags).
pub(crate) const LIMIT: u64 = (u32::MAX - (1 << 28)) as u64;

/// Builds the header with the crate (every file in `sources`, by target path,
/// added to `builder` as an empty stand-in) and writes the package to `out`:
/// the crate's metadata first as a placeholder of the final size (digests are
/// fixed-length hex, sizes fixed-width integers), then the payload streamed after
/// it, then the real metadata over the placeholder. Returns the header bytes
/// (what a signature signs).
pub(crate) fn write(
    builder: &mut PackageBuilder,
    sources: &BTreeMap<String, PathBuf>,
    compression: CompressionWithLevel,
    out: &mut File,
) -> Result<Vec<u8>> {
    let crate_err = |e: ::rpm::Error| Error::build(format!("building the rpm: {e}"));
    let werr = |e: io::Error| Error::build(format!("writing the rpm: {e}"));
    let pkg = builder.build().map_err(crate_err)?;
    let entries = pkg.metadata.header.get_all_entries().map_err(crate_err)?;
    let files = file_list(&entries)?;
    let mut placeholder = Vec::new();
    pkg.metadata.write(&mut placeholder).map_err(crate_err)?;
    out.rewind().map_err(werr)?;
    out.set_len(0).map_err(werr)?;
    let mut buffered = BufWriter::with_capacity(1 << 20, &mut *out);
    buffered.write_all(&placeholder).map_err(werr)?;

    // Two threads: this one reads the files and hashes them and the archive; the
    // other compresses, hashes the payload and writes it. Chunks of 1 MiB, at
    // most four in flight.
    let compressor = compressor(Hashing::new(buffered), compression)?;
    let (tx, rx) = mpsc::sync_channel::<Vec<u8>>(4);
    let (archive, written) = std::thread::scope(|scope| {
        let writer = scope.spawn(move || -> io::Result<(String, u64)> {
            let mut compressor = compressor;
            for chunk in rx {
                compressor.write_all(&chunk)?;
            }
            let (buffered, sha, len) = compressor.finish()?.finish();
            buffered.into_inner().map_err(|e| e.into_error())?;
            Ok((sha, len))
        });
        let archive = write_archive(&files, sources, Hashing::new(Chunks::new(tx)));
        let written = writer.join().expect("the rpm payload writer panicked");
        (archive, written)
    });
    // A failed write stops the reader too: report the write error first.
    let (payload_sha, payload_len) = written.map_err(werr)?;
    let (sizes, digests, raw_sha) = archive?;
    let total: u64 = sizes.iter().map(|s| u64::from(*s)).sum();
    if total >= LIMIT {
        return Err(Error::build("the files add up to 4 GiB or more"));
    }

    let tag = |t: IndexTag| u32::from(t);
    let mut replaced = 0;
    let mut new_entries = Vec::with_capacity(entries.len());
    for (t, data) in entries {
        let data = match t {
            _ if t == tag(IndexTag::RPMTAG_HEADERIMMUTABLE) => continue,
            _ if t == tag(IndexTag::RPMTAG_FILESIZES) => IndexData::Int32(sizes.clone()),
            _ if t == tag(IndexTag::RPMTAG_FILEDIGESTS) => IndexData::StringArray(digests.clone()),
            _ if t == tag(IndexTag::RPMTAG_SIZE) => IndexData::Int32(vec![total as u32]),
            _ if t == tag(IndexTag::RPMTAG_PAYLOADSHA256) => {
                IndexData::StringArray(vec![payload_sha.clone()])
            }
            _ if t == tag(IndexTag::RPMTAG_PAYLOADSHA256ALT) => {
                IndexData::StringArray(vec![raw_sha.clone()])
            }
            _ => {
                new_entries.push(HeaderEntry::new(t, data));
                continue;
            }
        };
        replaced += 1;
        new_entries.push(HeaderEntry::new(t, data));
    }
    if replaced != 5 {
        return Err(Error::build(format!(
            "unexpected header from the rpm crate: {replaced} of the 5 content tags"
        )));
    }
    let mut metadata = PackageMetadata {
        lead: pkg.metadata.lead,
        signature: pkg.metadata.signature,
        header: Header::from_entries(new_entries, IndexTag::RPMTAG_HEADERIMMUTABLE),
    };
    let header_bytes = metadata.header_bytes().map_err(crate_err)?;
    metadata.signature = SignatureHeaderBuilder::from_existing(&metadata.signature)
        .map_err(crate_err)?
        .set_content_length(header_bytes.len() as u64 + payload_len)
        .calculate_digests(&header_bytes)
        .build()
        .map_err(crate_err)?;
    let mut real = Vec::with_capacity(placeholder.len());
    metadata.write(&mut real).map_err(crate_err)?;
    if real.len() != placeholder.len() {
        return Err(Error::build(format!(
            "rpm metadata changed size ({} to {} bytes)",
            placeholder.len(),
            real.len()
        )));
    }
    out.rewind().map_err(werr)?;
    out.write_all(&real).map_err(werr)?;
    Ok(header_bytes)
}

/// The cpio archive of `files` into `raw`; returns the file sizes, the files'
/// SHA-256 (hex) and the archive's.
fn write_archive<W: Write>(
    files: &[FileEntry],
    sources: &BTreeMap<String, PathBuf>,
    mut raw: Hashing<W>,
) -> Result<(Vec<u32>, Vec<String>, String)> {
    let werr = |e: io::Error| Error::build(format!("writing the rpm payload: {e}"));
    let mut sizes = Vec::with_capacity(files.len());
    let mut digests = Vec::with_capacity(files.len());
    let mut buf = vec![0u8; 1 << 20];
    for f in files {
        let src = sources.get(&f.path).ok_or_else(|| {
            Error::build(format!("the rpm crate listed an unknown file {}", f.path))
        })?;
        let size = std::fs::metadata(src).ctx("reading", src)?.len();
        if size >= LIMIT {
            return Err(Error::build(format!("{} is 4 GiB or more", src.display())));
        }
        let head = newc(
            &f.cpio_name(),
            f.ino,
            f.mode,
            1,
            f.mtime,
            size as u32,
            f.rdev,
        );
        raw.write_all(&head).map_err(werr)?;
        let mut sha = Sha256::new();
        copy_hashed(src, size, &mut raw, &mut buf, &mut sha, "the rpm payload")?;
        digests.push(hex::encode(sha.finalize()));
        raw.write_all(&[0; 3][..pad4(size as usize)])
            .map_err(werr)?;
        sizes.push(size as u32);
    }
    raw.write_all(&newc("TRAILER!!!", 0, 0, 1, 0, 0, 0))
        .map_err(werr)?;
    raw.flush().map_err(werr)?;
    let (_, sha, _) = raw.finish();
    Ok((sizes, digests, sha))
}

/// Sends what is written in 1 MiB chunks (the rest on flush) to the writer thread.
struct Chunks {
    buf: Vec<u8>,
    tx: mpsc::SyncSender<Vec<u8>>,
}

impl Chunks {
    const SIZE: usize = 1 << 20;
    fn new(tx: mpsc::SyncSender<Vec<u8>>) -> Self {
        Chunks {
            buf: Vec::with_capacity(Self::SIZE),
            tx,
        }
    }
    fn send(&mut self) -> io::Result<()> {
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(Self::SIZE));
        self.tx
            .send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the payload writer stopped"))
    }
}

impl Write for Chunks {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = data.len().min(Self::SIZE - self.buf.len());
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() == Self::SIZE {
            self.send()?;
        }
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        self.send()
    }
}

/// One file of the header's list, in payload order.
struct FileEntry {
    path: String,
    ino: u32,
    mode: u32,
    mtime: u32,
    rdev: u16,
}

impl FileEntry {
    fn cpio_name(&self) -> String {
        format!(".{}", self.path)
    }
}

fn file_list(entries: &[(u32, IndexData)]) -> Result<Vec<FileEntry>> {
    let get = |t: IndexTag| {
        entries
            .iter()
            .find(|(tag, _)| *tag == u32::from(t))
            .map(|(_, d)| d)
    };
    let unexpected = || Error::build("unexpected file list from the rpm crate");
    let (
        Some(IndexData::StringArray(base)),
        Some(IndexData::StringArray(dirs)),
        Some(IndexData::Int32(dir_idx)),
        Some(IndexData::Int32(inodes)),
        Some(IndexData::Int16(modes)),
        Some(IndexData::Int32(mtimes)),
        Some(IndexData::Int16(rdevs)),
    ) = (
        get(IndexTag::RPMTAG_BASENAMES),
        get(IndexTag::RPMTAG_DIRNAMES),
        get(IndexTag::RPMTAG_DIRINDEXES),
        get(IndexTag::RPMTAG_FILEINODES),
        get(IndexTag::RPMTAG_FILEMODES),
        get(IndexTag::RPMTAG_FILEMTIMES),
        get(IndexTag::RPMTAG_FILERDEVS),
    )
    else {
        return Err(unexpected());
    };
    let n = base.len();
    if [
        dir_idx.len(),
        inodes.len(),
        modes.len(),
        mtimes.len(),
        rdevs.len(),
    ] != [n; 5]
    {
        return Err(unexpected());
    }
    (0..n)
        .map(|i| {
            let dir = dirs.get(dir_idx[i] as usize).ok_or_else(unexpected)?;
            Ok(FileEntry {
                path: format!("{dir}{}", base[i]),
                ino: inodes[i],
                mode: u32::from(modes[i]),
                mtime: mtimes[i],
                rdev: rdevs[i],
            })
        })
        .collect()
}

/// A cpio "newc" header with the name, padded to 4 bytes, as the crate writes it.
fn newc(name: &str, ino: u32, mode: u32, nlink: u32, mtime: u32, size: u32, rdev: u16) -> Vec<u8> {
    let fields = [
        ino,
        mode,
        0,
        0,
        nlink,
        mtime,
        size,
        0,
        0,
        u32::from(rdev >> 8),
        u32::from(rdev & 0xff),
        name.len() as u32 + 1,
        0,
    ];
    let mut h = b"070701".to_vec();
    for f in fields {
        h.extend_from_slice(format!("{f:08x}").as_bytes());
    }
    h.extend_from_slice(name.as_bytes());
    h.push(0);
    h.resize(h.len() + pad4(h.len()), 0);
    h
}

fn pad4(len: usize) -> usize {
    (4 - len % 4) % 4
}

/// A writer that hashes (SHA-256) and counts what passes through.
struct Hashing<W> {
    inner: W,
    sha: Sha256,
    len: u64,
}

impl<W: Write> Hashing<W> {
    fn new(inner: W) -> Self {
        Hashing {
            inner,
            sha: Sha256::new(),
            len: 0,
        }
    }
    fn finish(self) -> (W, String, u64) {
        (self.inner, hex::encode(self.sha.finalize()), self.len)
    }
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// The payload compressor named in the header (the crate's encoders and levels).
/// The payload compressor for the rpm crate's compression setting.
fn compressor<W: Write>(w: W, c: CompressionWithLevel) -> Result<Compressor<W>> {
    let (kind, level) = match c {
        CompressionWithLevel::Gzip(l) => (Compression::Gzip, l),
        CompressionWithLevel::Xz(l) => (Compression::Xz, l),
        CompressionWithLevel::Zstd(l) => (Compression::Zstd, l.max(0) as u32),
        CompressionWithLevel::None => (Compression::None, 0),
        other => {
            return Err(Error::build(format!(
                "payload compression {other} is not built in"
            )));
        }
    };
    Compressor::new(w, kind, level)
        .map_err(|e| Error::build(format!("starting the payload compressor: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newc_header_layout() {
        let h = newc("./a", 1, 0o100644, 1, 2, 3, 0);
        assert_eq!(h.len() % 4, 0);
        assert_eq!(&h[..6], b"070701");
        assert_eq!(&h[6..14], b"00000001");
        assert_eq!(&h[14..22], b"000081a4");
        assert_eq!(&h[94..102], b"00000004", "name size with NUL");
        assert_eq!(&h[110..114], b"./a\0");
        assert_eq!(newc("TRAILER!!!", 0, 0, 1, 0, 0, 0).len(), 124);
    }
}
