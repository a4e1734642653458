//! Reading one gzip member (RFC 1952) with inflate state that each thread keeps
//! and reuses: the publisher reads the `control.tar.gz` of thousands of small
//! packages, and a fresh decoder per package (a 32 KiB buffer and a 32 KiB
//! window, freed while the package's parsed control stays allocated) left the
//! heap so fragmented that peak memory grew by ~16 KiB per package. Here the
//! buffers are allocated once per thread. The CRC-32 and length in the trailer
//! are checked, as `flate2::read::GzDecoder` does; data after the first member is
//! not read.

use flate2::{Crc, Decompress, FlushDecompress, Status};
use std::cell::RefCell;
use std::io::{self, Read};

const BUF: usize = 32 << 10;

struct State {
    inflate: Decompress,
    buf: Box<[u8]>,
}

thread_local! {
    static SPARE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// A reader of the decompressed bytes of the gzip member `src` starts with.
pub(crate) struct GzMember<R: Read> {
    src: R,
    state: Option<State>,
    pos: usize,
    len: usize,
    crc: Crc,
    done: bool,
}

fn bad(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("gzip: {what}"))
}

impl<R: Read> GzMember<R> {
    /// Read the member header; the body is read through [`Read`].
    pub(crate) fn new(src: R) -> io::Result<GzMember<R>> {
        let mut state = SPARE
            .with(|s| s.borrow_mut().take())
            .unwrap_or_else(|| State {
                inflate: Decompress::new(false),
                buf: vec![0u8; BUF].into_boxed_slice(),
            });
        state.inflate.reset(false);
        let mut r = GzMember {
            src,
            state: Some(state),
            pos: 0,
            len: 0,
            crc: Crc::new(),
            done: false,
        };
        r.header()?;
        Ok(r)
    }

    fn state(&mut self) -> &mut State {
        self.state.as_mut().expect("state held until drop")
    }

    /// Refill the input buffer when it is empty; `false` at the end of `src`.
    fn fill(&mut self) -> io::Result<bool> {
        if self.pos < self.len {
            return Ok(true);
        }
        let mut state = self.state.take().expect("state held until drop");
        let n = loop {
            match self.src.read(&mut state.buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                other => break other,
            }
        };
        self.state = Some(state);
        (self.pos, self.len) = (0, n?);
        Ok(self.len > 0)
    }

    fn byte(&mut self) -> io::Result<u8> {
        if !self.fill()? {
            return Err(bad("truncated"));
        }
        let pos = self.pos;
        let b = self.state().buf[pos];
        self.pos += 1;
        Ok(b)
    }

    fn skip_zero_terminated(&mut self) -> io::Result<()> {
        while self.byte()? != 0 {}
        Ok(())
    }

    fn header(&mut self) -> io::Result<()> {
        let mut h = [0u8; 10];
        for b in &mut h {
            *b = self.byte()?;
        }
        if h[..3] != [0x1f, 0x8b, 8] {
            return Err(bad("not a gzip stream"));
        }
        let flags = h[3];
        if flags & 0xe0 != 0 {
            return Err(bad("reserved header flags set"));
        }
        if flags & 0x04 != 0 {
            let len = u16::from_le_bytes([self.byte()?, self.byte()?]);
            for _ in 0..len {
                self.byte()?;
            }
        }
        if flags & 0x08 != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & 0x10 != 0 {
            self.skip_zero_terminated()?;
        }
        if flags & 0x02 != 0 {
            self.byte()?;
            self.byte()?;
        }
        Ok(())
    }

    fn trailer(&mut self) -> io::Result<()> {
        let mut t = [0u8; 8];
        for b in &mut t {
            *b = self.byte()?;
        }
        let crc = u32::from_le_bytes([t[0], t[1], t[2], t[3]]);
        let size = u32::from_le_bytes([t[4], t[5], t[6], t[7]]);
        if crc != self.crc.sum() || size != self.crc.amount() {
            return Err(bad("checksum mismatch (corrupt data)"));
        }
        Ok(())
    }
}

impl<R: Read> Read for GzMember<R> {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        loop {
            let more = self.fill()?;
            let (pos, len) = (self.pos, self.len);
            let state = self.state.as_mut().expect("state held until drop");
            let (in0, out0) = (state.inflate.total_in(), state.inflate.total_out());
            let status = state
                .inflate
                .decompress(&state.buf[pos..len], out, FlushDecompress::None)
                .map_err(|e| bad(&e.to_string()))?;
            let used = (state.inflate.total_in() - in0) as usize;
            let made = (state.inflate.total_out() - out0) as usize;
            self.pos += used;
            self.crc.update(&out[..made]);
            if status == Status::StreamEnd {
                self.done = true;
                self.trailer()?;
                return Ok(made);
            }
            if made > 0 {
                return Ok(made);
            }
            if !more {
                return Err(bad("truncated"));
            }
            if used == 0 {
                return Err(bad("no progress (corrupt data)"));
            }
        }
    }
}

impl<R: Read> Drop for GzMember<R> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            SPARE.with(|s| *s.borrow_mut() = Some(state));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn gzip(data: &[u8], name: Option<&[u8]>) -> Vec<u8> {
        let mut b = flate2::GzBuilder::new();
        if let Some(n) = name {
            b = b.filename(n).comment("c").extra(vec![1, 2, 3]);
        }
        let mut e = b.write(Vec::new(), flate2::Compression::new(6));
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn gunzip(bytes: &[u8]) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        GzMember::new(bytes)?.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn reads_what_flate2_writes_and_reuses_its_state() {
        let big: Vec<u8> = (0..300_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for data in [&b""[..], b"control text\n", &big[..]] {
            for name in [None, Some(&b"control.tar"[..])] {
                // Twice on one thread: the second reuses the first's state.
                assert_eq!(gunzip(&gzip(data, name)).unwrap(), data);
                assert_eq!(gunzip(&gzip(data, name)).unwrap(), data);
            }
        }
    }

    #[test]
    fn refuses_corrupt_and_truncated_input() {
        let good = gzip(b"some control data, some control data", None);
        let mut bad_crc = good.clone();
        let n = bad_crc.len();
        bad_crc[n - 8] ^= 1;
        assert!(gunzip(&bad_crc).is_err());
        assert!(gunzip(&good[..good.len() - 3]).is_err());
        assert!(gunzip(&good[..12]).is_err());
        assert!(gunzip(b"not gzip at all").is_err());
        // A failed read leaves the state usable for the next member.
        assert_eq!(
            gunzip(&good).unwrap(),
            b"some control data, some control data"
        );
    }
}
