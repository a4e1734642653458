//! The `ar` container of a .deb (writer and streaming reader), in the common
//! format dpkg accepts (deb(5)):
//! `!<arch>\n`, then per member a 60-byte header (name ≤ 16 bytes without a trailing
//! `/`, decimal mtime, uid/gid 0, octal mode 100644, decimal size) and the data,
//! padded with `\n` to an even length.
//!
//! Our own writer rather than the `ar` crate: the data member is streamed straight
//! into the final file with a placeholder size that is patched afterwards by seeking
//! back, and the control member is rewritten in place once the md5sums are known.
//! The crate wants each member's size up front, which would mean holding or copying
//! the whole payload.

use std::io::{self, Read, Seek, SeekFrom, Write};

pub(crate) const MAGIC: &[u8; 8] = b"!<arch>\n";
/// The size field has 10 decimal digits.
pub(crate) const MAX_MEMBER: u64 = 9_999_999_999;
const HEADER_LEN: u64 = 60;

/// A 60-byte member header.
pub(crate) fn header(name: &str, mtime: u64, size: u64) -> io::Result<[u8; 60]> {
    if name.is_empty() || name.len() > 16 || name.contains('/') || !name.is_ascii() {
        return Err(io::Error::other(format!("bad ar member name {name:?}")));
    }
    if size > MAX_MEMBER {
        return Err(too_big(name, size));
    }
    let text = format!(
        "{name:<16}{mtime:<12}{:<6}{:<6}{:<8o}{size:<10}`\n",
        0, 0, 0o100644
    );
    let mut out = [0u8; 60];
    if text.len() != 60 {
        return Err(io::Error::other(format!("ar mtime {mtime} does not fit")));
    }
    out.copy_from_slice(text.as_bytes());
    Ok(out)
}

fn too_big(name: &str, size: u64) -> io::Error {
    io::Error::other(format!(
        "{name} is {size} bytes; a .deb (ar) member cannot be larger than {MAX_MEMBER} bytes"
    ))
}

/// A member whose data is being streamed; finish it with [`ArWriter::end`].
#[must_use]
pub(crate) struct Open {
    name: String,
    header_at: u64,
    data_at: u64,
}

pub(crate) struct ArWriter<W: Write + Seek> {
    inner: W,
    mtime: u64,
}

impl<W: Write + Seek> ArWriter<W> {
    pub(crate) fn new(mut inner: W, mtime: u64) -> io::Result<Self> {
        inner.write_all(MAGIC)?;
        Ok(ArWriter { inner, mtime })
    }

    /// Appends a whole member; returns the offset of its data.
    pub(crate) fn append(&mut self, name: &str, data: &[u8]) -> io::Result<u64> {
        self.inner
            .write_all(&header(name, self.mtime, data.len() as u64)?)?;
        let at = self.inner.stream_position()?;
        self.inner.write_all(data)?;
        if data.len() % 2 == 1 {
            self.inner.write_all(b"\n")?;
        }
        Ok(at)
    }

    /// Replaces the data of a member written by [`append`](Self::append) with
    /// bytes of exactly the same length.
    pub(crate) fn rewrite(&mut self, data_at: u64, old_len: usize, data: &[u8]) -> io::Result<()> {
        if data.len() != old_len {
            return Err(io::Error::other(
                "ar member rewritten with a different size",
            ));
        }
        let end = self.inner.stream_position()?;
        self.inner.seek(SeekFrom::Start(data_at))?;
        self.inner.write_all(data)?;
        self.inner.seek(SeekFrom::Start(end))?;
        Ok(())
    }

    /// Starts a member of unknown size: write its data to [`get_mut`](Self::get_mut).
    pub(crate) fn begin(&mut self, name: &str) -> io::Result<Open> {
        let header_at = self.inner.stream_position()?;
        self.inner.write_all(&header(name, self.mtime, 0)?)?;
        Ok(Open {
            name: name.to_string(),
            header_at,
            data_at: header_at + HEADER_LEN,
        })
    }

    /// Ends a streamed member: patches its size, pads it. Returns the size.
    pub(crate) fn end(&mut self, open: Open) -> io::Result<u64> {
        let end = self.inner.stream_position()?;
        let size = end - open.data_at;
        if size > MAX_MEMBER {
            return Err(too_big(&open.name, size));
        }
        self.inner.seek(SeekFrom::Start(open.header_at))?;
        self.inner
            .write_all(&header(&open.name, self.mtime, size)?)?;
        self.inner.seek(SeekFrom::Start(end))?;
        if size % 2 == 1 {
            self.inner.write_all(b"\n")?;
        }
        Ok(size)
    }

    pub(crate) fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    pub(crate) fn into_inner(self) -> W {
        self.inner
    }
}

// Reading (the apt publisher reads every .deb it is given once, streaming).

/// Read and check the archive signature.
pub(crate) fn read_magic(r: &mut impl Read) -> std::result::Result<(), String> {
    let mut magic = [0u8; 8];
    if read_full(r, &mut magic)? != 8 || &magic != MAGIC {
        return Err("no ar archive signature".into());
    }
    Ok(())
}

pub(crate) fn read_err(e: io::Error) -> String {
    format!("read failed: {e}")
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::result::Result<usize, String> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    Ok(got)
}

/// The next member header while reading: (name, size), or `None` at the end of the archive.
pub(crate) fn next_member(r: &mut impl Read) -> std::result::Result<Option<(String, u64)>, String> {
    let mut h = [0u8; 60];
    match read_full(r, &mut h)? {
        0 => return Ok(None),
        60 => {}
        _ => return Err("truncated ar member header".into()),
    }
    if &h[58..60] != b"`\n" {
        return Err("corrupt ar member header".into());
    }
    let name = String::from_utf8_lossy(&h[..16])
        .trim_end()
        .trim_end_matches('/')
        .to_string();
    let size = std::str::from_utf8(&h[48..58])
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("bad size in ar header of {name:?}"))?;
    Ok(Some((name, size)))
}

/// Consume the `left` bytes remaining of a member of `size` bytes plus its padding.
pub(crate) fn skip(r: &mut impl Read, left: u64, size: u64) -> std::result::Result<(), String> {
    let want = left + size % 2;
    let got = drain(&mut r.take(want)).map_err(read_err)?;
    // The padding byte of the very last member may be missing.
    if got < left {
        return Err("truncated ar member".into());
    }
    Ok(())
}

pub(crate) fn drain(r: &mut impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Cursor;

    #[test]
    fn byte_layout() {
        let mut ar = ArWriter::new(Cursor::new(Vec::new()), 1_700_000_000).unwrap();
        ar.append("debian-binary", b"2.0\n").unwrap();
        let open = ar.begin("data.tar.gz").unwrap();
        ar.get_mut().write_all(b"abc").unwrap();
        assert_eq!(ar.end(open).unwrap(), 3);
        let out = ar.into_inner().into_inner();
        let want = [
            &b"!<arch>\n"[..],
            b"debian-binary   1700000000  0     0     100644  4         `\n2.0\n",
            b"data.tar.gz     1700000000  0     0     100644  3         `\nabc\n",
        ]
        .concat();
        assert_eq!(
            String::from_utf8_lossy(&out),
            String::from_utf8_lossy(&want)
        );
    }

    #[test]
    fn rewrite_in_place_and_limits() {
        let mut ar = ArWriter::new(Cursor::new(Vec::new()), 0).unwrap();
        let at = ar.append("control.tar.gz", b"xxxxx").unwrap();
        ar.append("z", b"end").unwrap();
        ar.rewrite(at, 5, b"yyyyy").unwrap();
        assert!(ar.rewrite(at, 5, b"yy").is_err());
        let out = ar.into_inner().into_inner();
        assert_eq!(&out[8 + 60..8 + 65], b"yyyyy");
        assert_eq!(out[8 + 65], b'\n');
        assert!(out.ends_with(b"`\nend\n"));
        assert!(header("data.tar.gz", 0, MAX_MEMBER).is_ok());
        let e = header("data.tar.gz", 0, MAX_MEMBER + 1).unwrap_err();
        assert!(e.to_string().contains("cannot be larger"), "{e}");
        assert!(header("debian-binary/", 0, 1).is_err());
        assert!(header("a-name-longer-than-16", 0, 1).is_err());
    }
}
