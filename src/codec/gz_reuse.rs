//! `Packages.gz` as a series of gzip members, one per chunk of stanzas (RFC 1952
//! allows any number of members; gzip, zlib's `gzread` as used by apt, Python
//! and Go read them as one stream). Each member's header carries an extra
//! subfield `CA` with the SHA-256 of its uncompressed data and the length of its
//! compressed data, so the members of the previous file can be found without
//! inflating and reused when a chunk is unchanged, like the xz blocks in
//! [`super::xz_reuse`]. No name and no timestamp: equal chunks give equal bytes.

use super::{Chunk, Previous};
use std::collections::HashMap;
use std::io;

const LEVEL: u32 = 9;
/// Subfield id (RFC 1952 2.3.1.1) and its length: SHA-256 + u32 length.
const SUBFIELD: [u8; 2] = [b'C', b'A'];
const SUB_LEN: usize = 32 + 4;
const XLEN: usize = 4 + SUB_LEN;
const HEADER_LEN: usize = 10 + 2 + XLEN;

/// Compress `chunks` into gzip members, reusing members of `previous` (an
/// earlier output of this function) whose data is equal.
#[cfg(test)]
pub(crate) fn encode(chunks: &[Chunk], previous: Option<&[u8]>) -> Vec<u8> {
    let in_memory = "reading memory";
    let mut enc = Encoder::new(previous.map(Previous::Bytes)).expect(in_memory);
    enc.push(chunks).expect(in_memory);
    enc.finish().expect(in_memory)
}

/// [`encode`] a few chunks at a time. The output is produced as it goes: each
/// [`Encoder::take`] hands over the bytes made since the last one (so neither
/// the text nor the compressed file is ever held whole); [`Encoder::finish`]
/// returns the rest. Only the reused members of the previous file are read.
pub(crate) struct Encoder<'p> {
    previous: Option<Previous<'p>>,
    /// Where each member of the previous file is: (offset, length).
    reusable: Members,
    out: Vec<u8>,
    chunks: usize,
}

impl<'p> Encoder<'p> {
    pub(crate) fn new(previous: Option<Previous<'p>>) -> io::Result<Encoder<'p>> {
        Ok(Encoder {
            reusable: match previous {
                Some(p) => old_members(p)?,
                None => HashMap::new(),
            },
            previous,
            out: Vec::new(),
            chunks: 0,
        })
    }

    /// The next chunks, in order: members reused where the data is equal, the
    /// others compressed on every core.
    pub(crate) fn push(&mut self, chunks: &[Chunk]) -> io::Result<()> {
        let key = |c: &Chunk| (c.sha256, c.data.len() as u32);
        let todo: Vec<&Chunk> = chunks
            .iter()
            .filter(|c| !self.reusable.contains_key(&key(c)))
            .collect();
        let fresh = crate::util::parallel::parallel_map(&todo, |c| member(c.data, &c.sha256));
        let mut fresh = fresh.iter();
        for c in chunks {
            match (self.reusable.get(&key(c)), self.previous) {
                (Some(&(at, len)), Some(previous)) => {
                    let start = self.out.len();
                    self.out.resize(start + len, 0);
                    previous.read_into(at, &mut self.out[start..])?;
                }
                _ => self
                    .out
                    .extend_from_slice(fresh.next().expect("one fresh member per todo")),
            }
        }
        self.chunks += chunks.len();
        Ok(())
    }

    /// The bytes produced since the last call.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The rest of the file (an empty text is one empty member).
    pub(crate) fn finish(mut self) -> io::Result<Vec<u8>> {
        if self.chunks == 0 {
            self.push(&[Chunk::new(b"")])?;
        }
        Ok(self.out)
    }
}

thread_local! {
    /// Each thread's deflate state (~300 KB), reset for every member instead
    /// of allocated (and unmapped) again: see `xz_reuse::Encoder1`.
    static DEFLATE: std::cell::RefCell<Option<flate2::Compress>> =
        const { std::cell::RefCell::new(None) };
}

/// `data` as raw deflate.
fn deflate(data: &[u8]) -> Vec<u8> {
    DEFLATE.with_borrow_mut(|c| {
        let c =
            c.get_or_insert_with(|| flate2::Compress::new(flate2::Compression::new(LEVEL), false));
        c.reset();
        let mut out = Vec::with_capacity(data.len() / 3 + 64);
        loop {
            let read = usize::try_from(c.total_in()).expect("in memory");
            let status = c
                .compress_vec(&data[read..], &mut out, flate2::FlushCompress::Finish)
                .expect("deflating in memory");
            match status {
                flate2::Status::StreamEnd => return out,
                _ => out.reserve(out.capacity().max(64)),
            }
        }
    })
}

fn member(data: &[u8], digest: &[u8; 32]) -> Vec<u8> {
    let deflated = deflate(data);
    let mut out = Vec::with_capacity(HEADER_LEN + deflated.len() + 8);
    // ID1 ID2 CM=deflate FLG=FEXTRA MTIME=0 XFL=2 (best) OS=255 (unknown)
    out.extend_from_slice(&[0x1f, 0x8b, 8, 0x04, 0, 0, 0, 0, 2, 255]);
    out.extend_from_slice(&(XLEN as u16).to_le_bytes());
    out.extend_from_slice(&SUBFIELD);
    out.extend_from_slice(&(SUB_LEN as u16).to_le_bytes());
    out.extend_from_slice(digest);
    out.extend_from_slice(&(deflated.len() as u32).to_le_bytes());
    out.extend_from_slice(&deflated);
    out.extend_from_slice(&crc32fast::hash(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// (SHA-256, size) of a member's data → (offset, length) of the member.
type Members = HashMap<([u8; 32], u32), (u64, usize)>;

/// Where the members of an earlier file are, by (SHA-256, size) of their
/// data: read header by header. A file not made of such members (another
/// tool's) gives no reuse.
fn old_members(gz: Previous) -> io::Result<Members> {
    let mut map = HashMap::new();
    let len = gz.size()?;
    let mut at = 0u64;
    let mut h = [0u8; HEADER_LEN];
    let mut size = [0u8; 4];
    while at < len {
        if len - at < HEADER_LEN as u64 {
            return Ok(HashMap::new());
        }
        gz.read_into(at, &mut h)?;
        let ok = h[..4] == [0x1f, 0x8b, 8, 0x04]
            && usize::from(u16::from_le_bytes([h[10], h[11]])) == XLEN
            && h[12..14] == SUBFIELD
            && usize::from(u16::from_le_bytes([h[14], h[15]])) == SUB_LEN;
        if !ok {
            return Ok(HashMap::new());
        }
        let digest: [u8; 32] = h[16..48].try_into().expect("32 bytes");
        let deflated = u32::from_le_bytes(h[48..52].try_into().expect("4 bytes")) as usize;
        let member = HEADER_LEN + deflated + 8;
        let end = at + member as u64;
        if end > len {
            return Ok(HashMap::new());
        }
        gz.read_into(end - 4, &mut size)?;
        map.insert((digest, u32::from_le_bytes(size)), (at, member));
        at = end;
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::super::Chunk;
    use std::io::Read;

    fn encode(chunks: &[&[u8]], previous: Option<&[u8]>) -> Vec<u8> {
        let chunks: Vec<Chunk> = chunks.iter().map(|c| Chunk::new(c)).collect();
        super::encode(&chunks, previous)
    }

    fn decode(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(gz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn members_round_trip_and_are_reused() {
        let a = "Package: a\n\n".repeat(300);
        let b = "Package: b\n\n".repeat(200);
        let c = "Package: c\n\n".repeat(100);
        let first = encode(&[a.as_bytes(), b.as_bytes()], None);
        assert_eq!(decode(&first), format!("{a}{b}").into_bytes());
        let second = encode(&[a.as_bytes(), c.as_bytes(), b.as_bytes()], Some(&first));
        assert_eq!(decode(&second), format!("{a}{c}{b}").into_bytes());
        assert_eq!(
            second,
            encode(&[a.as_bytes(), c.as_bytes(), b.as_bytes()], None)
        );
        assert_eq!(
            encode(&[a.as_bytes()], Some(b"junk")),
            encode(&[a.as_bytes()], None)
        );
        let empty = encode(&[], None);
        assert!(!empty.is_empty() && decode(&empty).is_empty());
    }
}
