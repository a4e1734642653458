//! Reading and checking one `.rpm` in a single streaming pass: the lead, the
//! signature header and the header are read and checked as rpm reads them
//! (`rpmhead.rs`) and then parsed by the `rpm` crate, the whole file is
//! checksummed (its SHA-256 is the repository's `pkgid`) and, when
//! publishing, copied to a staging file; the header and payload digests the
//! package carries are checked on the way. Memory use does not grow with the
//! payload.

use crate::error::{Error, Result};
use crate::repo::kind::{self, PackageKind};
use md5::Md5;
use rpm::{IndexSignatureTag, IndexTag, PackageMetadata};
use sha2::{Digest, Sha256};
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::path::Path;

const CHUNK: usize = 256 << 10;

/// What publishing needs of one `.rpm`.
pub(crate) struct Rpm {
    pub meta: PackageMetadata,
    /// SHA-256 of the whole file, hex.
    pub sha256: String,
    pub size: u64,
    /// Modification time of the file (seconds since 1970).
    pub mtime: i64,
    /// Byte range of the header (`rpm:header-range`).
    pub header_start: u64,
    pub header_end: u64,
}

impl Rpm {
    pub(super) fn name(&self) -> &str {
        self.meta.get_name().unwrap_or_default()
    }
    pub(super) fn epoch(&self) -> u32 {
        self.meta.get_epoch().unwrap_or(0)
    }
    pub(super) fn version(&self) -> &str {
        self.meta.get_version().unwrap_or_default()
    }
    pub(super) fn release(&self) -> &str {
        self.meta.get_release().unwrap_or_default()
    }
    pub(super) fn arch(&self) -> &str {
        self.meta.get_arch().unwrap_or_default()
    }
    /// A string tag, empty when absent.
    pub(super) fn text(&self, tag: IndexTag) -> &str {
        self.meta
            .header
            .get_entry_data_as_string(tag)
            .or_else(|_| self.meta.header.get_entry_data_as_i18n_string(tag))
            .unwrap_or_default()
    }
    /// The payload size before compression, as rpm merges it from the
    /// signature header (`LONGARCHIVESIZE`, else `PAYLOADSIZE`), or 0.
    pub(super) fn archive_size(&self) -> u64 {
        let sig = &self.meta.signature;
        let hdr = &self.meta.header;
        sig.get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGARCHIVESIZE)
            .or_else(|_| hdr.get_entry_data_as_u64(IndexTag::RPMTAG_LONGARCHIVESIZE))
            .or_else(|_| {
                sig.get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_PAYLOADSIZE)
                    .map(u64::from)
            })
            .or_else(|_| {
                hdr.get_entry_data_as_u32(IndexTag::RPMTAG_ARCHIVESIZE)
                    .map(u64::from)
            })
            .unwrap_or(0)
    }
}

/// Reads through a `BufReader`, hashing (and optionally copying) exactly the
/// bytes consumed.
struct Tee<'a> {
    inner: BufReader<File>,
    pos: u64,
    whole: Sha256,
    /// Hashes the bytes from where it is set on (the payload).
    payload: Option<Sha256>,
    /// Likewise, for the MD5 digest of header and payload.
    md5: Option<Md5>,
    copy: Option<&'a mut dyn Write>,
    write_error: Option<io::Error>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = {
            let avail = self.fill_buf()?;
            let n = avail.len().min(buf.len());
            buf[..n].copy_from_slice(&avail[..n]);
            n
        };
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Tee<'_> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if let Some(e) = &self.write_error {
            return Err(io::Error::new(e.kind(), e.to_string()));
        }
        self.inner.fill_buf()
    }

    fn consume(&mut self, n: usize) {
        let bytes = &self.inner.buffer()[..n];
        self.whole.update(bytes);
        if let Some(h) = &mut self.payload {
            h.update(bytes);
        }
        if let Some(h) = &mut self.md5 {
            h.update(bytes);
        }
        if self.write_error.is_none()
            && let Some(w) = self.copy.as_mut()
            && let Err(e) = w.write_all(bytes)
        {
            self.write_error = Some(e);
        }
        self.pos += n as u64;
        self.inner.consume(n);
    }
}

/// Read `src` once: parse and check it, checksum every byte, and copy the bytes
/// to `copy` (named `copy_path` in errors) when given.
pub(crate) fn read(src: &Path, copy: Option<(&mut dyn Write, &Path)>) -> Result<Rpm> {
    let file = File::open(src).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::config(format!("{}: no such file", src.display())),
        _ => Error::io("reading", src, e),
    })?;
    let stat = file.metadata().map_err(|e| Error::io("reading", src, e))?;
    let mtime = stat
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs() as i64);
    let (copy, copy_path) = match copy {
        Some((w, p)) => (Some(w), Some(p)),
        None => (None, None),
    };
    let buffer = usize::try_from(stat.len())
        .unwrap_or(CHUNK)
        .clamp(4096, CHUNK);
    let mut tee = Tee {
        inner: BufReader::with_capacity(buffer, file),
        pos: 0,
        whole: Sha256::new(),
        payload: None,
        md5: None,
        copy,
        write_error: None,
    };
    let head = tee
        .fill_buf()
        .map(|b| b[..b.len().min(21)].to_vec())
        .unwrap_or_default();
    if head.starts_with(b"!<arch>\ndebian-binary") {
        return Err(kind::mixed(src, PackageKind::Rpm));
    }
    let parsed = parse(&mut tee);
    if let Some(e) = tee.write_error.take() {
        return Err(Error::io("writing", copy_path.unwrap_or(src), e));
    }
    let (meta, header_start, header_end) = parsed.map_err(|msg| invalid(src, &msg))?;
    Ok(Rpm {
        meta,
        sha256: hex::encode(tee.whole.finalize()),
        size: tee.pos,
        mtime,
        header_start,
        header_end,
    })
}

fn invalid(src: &Path, msg: &str) -> Error {
    Error::config(format!("{}: not a valid binary rpm: {msg}", src.display()))
        .with("publish takes binary .rpm files as built by rpmbuild or `cfy-ap --format rpm`")
}

fn parse(tee: &mut Tee) -> std::result::Result<(PackageMetadata, u64, u64), String> {
    // Checked first: the crate is only given a head rpm would read.
    let head = super::rpmhead::read(tee)?;
    let meta =
        PackageMetadata::parse(&mut &head.bytes[..]).map_err(|e| format!("broken header: {e}"))?;
    let offsets = meta.get_package_segment_offsets();
    if offsets.header != head.header_start as u64 || offsets.payload != head.bytes.len() as u64 {
        return Err("inconsistent header sizes".into());
    }
    let header = &head.bytes[head.header_start..];
    check_header_digest(&meta, header)?;
    check_package(&meta)?;

    // rpm -K checks every digest the package carries, the MD5 of header and
    // payload (in older packages the only one) too.
    let sig = &meta.signature;
    let md5 = sig
        .get_entry_data_as_binary(IndexSignatureTag::RPMSIGTAG_MD5)
        .ok();
    tee.md5 = md5.map(|_| Md5::new_with_prefix(header));
    tee.payload = Some(Sha256::new());
    io::copy(tee, &mut io::sink()).map_err(|e| format!("read failed: {e}"))?;
    let payload = hex::encode(tee.payload.take().unwrap_or_default().finalize());
    if let (Some(want), Some(got)) = (md5, tee.md5.take())
        && got.finalize().as_slice() != want
    {
        return Err("MD5 digest of header and payload mismatch (truncated or corrupted)".into());
    }
    let hdr = &meta.header;
    let algo = hdr.get_entry_data_as_u32(IndexTag::RPMTAG_PAYLOADSHA256ALGO);
    if let Ok(want) = hdr.get_entry_data_as_string_array(IndexTag::RPMTAG_PAYLOADSHA256)
        && matches!(algo, Ok(8) | Err(_))
        && want
            .first()
            .is_some_and(|w| !w.eq_ignore_ascii_case(&payload))
    {
        return Err("payload digest mismatch (truncated or corrupted)".into());
    }
    let declared = sig
        .get_entry_data_as_u64(IndexSignatureTag::RPMSIGTAG_LONGSIZE)
        .or_else(|_| {
            sig.get_entry_data_as_u32(IndexSignatureTag::RPMSIGTAG_SIZE)
                .map(u64::from)
        });
    if let Ok(size) = declared
        && size != tee.pos - offsets.header
    {
        return Err(format!(
            "header and payload are {} bytes, the signature header says {size} (truncated?)",
            tee.pos - offsets.header
        ));
    }
    Ok((meta, offsets.header, offsets.payload))
}

/// The header's SHA-256 and SHA-1 digests the signature header gives (either,
/// both, or none in very old packages) must match, as rpm -K checks them.
fn check_header_digest(meta: &PackageMetadata, header: &[u8]) -> std::result::Result<(), String> {
    let sig = &meta.signature;
    if let Ok(want) = sig.get_entry_data_as_string(IndexSignatureTag::RPMSIGTAG_SHA256)
        && !want.eq_ignore_ascii_case(&hex::encode(Sha256::digest(header)))
    {
        return Err("header SHA-256 digest mismatch (corrupted header)".into());
    }
    if let Ok(want) = sig.get_entry_data_as_string(IndexSignatureTag::RPMSIGTAG_SHA1)
        && !want.eq_ignore_ascii_case(&hex::encode(sha1::Sha1::digest(header)))
    {
        return Err("header SHA-1 digest mismatch (corrupted header)".into());
    }
    Ok(())
}

/// What a repository needs: a binary package with a usable identity and a
/// payload that rpm can unpack.
fn check_package(meta: &PackageMetadata) -> std::result::Result<(), String> {
    if meta.is_source_package() {
        return Err("a source rpm (publish binary packages)".into());
    }
    fn get(
        what: &str,
        v: std::result::Result<&str, rpm::Error>,
    ) -> std::result::Result<(), String> {
        v.map_err(|e| format!("no {what}: {e}"))
            .and_then(|s| check_word(what, s))
    }
    get("name", meta.get_name())?;
    get("version", meta.get_version())?;
    get("release", meta.get_release())?;
    get("arch", meta.get_arch())?;
    let hdr = &meta.header;
    match hdr.get_entry_data_as_string(IndexTag::RPMTAG_PAYLOADFORMAT) {
        Ok("cpio") | Err(rpm::Error::TagNotFound(_)) => {}
        Ok(other) => return Err(format!("unsupported payload format {other:?}")),
        Err(e) => return Err(format!("payload format: {e}")),
    }
    match hdr.get_entry_data_as_string(IndexTag::RPMTAG_PAYLOADCOMPRESSOR) {
        Ok("gzip" | "bzip2" | "xz" | "lzma" | "zstd" | "none")
        | Err(rpm::Error::TagNotFound(_)) => {}
        Ok(other) => return Err(format!("unsupported payload compressor {other:?}")),
        Err(e) => return Err(format!("payload compressor: {e}")),
    }
    Ok(())
}

/// Names, versions, releases and arches become file names and XML: one
/// printable word, no `/`, not starting with `.`.
fn check_word(what: &str, v: &str) -> std::result::Result<(), String> {
    let ok = !v.is_empty()
        && !v.starts_with('.')
        && v.bytes().all(|c| c.is_ascii_graphic() && c != b'/');
    if ok {
        Ok(())
    } else {
        Err(format!("bad {what} {v:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words() {
        for ok in ["cloudify-agent", "1.0~rc1", "x86_64", "1.el9"] {
            assert!(check_word("x", ok).is_ok(), "{ok}");
        }
        for bad in ["", "../x", "a/b", ".hidden", "a b", "tab\t"] {
            assert!(check_word("x", bad).is_err(), "{bad:?}");
        }
    }
}
