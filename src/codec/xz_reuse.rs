//! `Packages.xz` as one standard xz stream made of independent blocks, one per
//! chunk of stanzas, each block carrying the SHA-256 of its uncompressed data
//! (the xz "check"). When an index is rewritten, blocks of the previous file whose
//! check equals the SHA-256 of a new chunk are reused as they are, so adding one
//! package recompresses one chunk instead of the whole index ([`super::gz_reuse`] does
//! the same for `Packages.gz`). Any xz decoder
//! (apt's liblzma included) reads the result like any other `.xz` file.
//!
//! Format reference: "The .xz File Format" 1.1.0 (stream header/footer, blocks,
//! index, variable-length integers).

// The one place that calls liblzma directly: every `unsafe` here has its SAFETY note.
#![allow(unsafe_code)]

use super::{Chunk, Previous};
use std::collections::HashMap;
use std::io;

const MAGIC: [u8; 6] = [0xFD, b'7', b'z', b'X', b'Z', 0x00];
const FOOTER_MAGIC: [u8; 2] = [b'Y', b'Z'];
/// Stream flags: no reserved bits, check type 0x0A = SHA-256.
const FLAGS: [u8; 2] = [0x00, 0x0A];
const CHECK_LEN: usize = 32;
/// Preset 4 (binary-tree match finder, "normal" mode, like 6) with a 256 KiB
/// dictionary: on a 5,000-package `Packages` (about 150 chunks of 20 KB) this
/// is 1.8x faster than preset 6 for a file 0.9% bigger. The dictionary is the
/// same for every chunk (a chunk is rarely bigger): liblzma keeps an encoder's
/// tables only while the dictionary size stays the same, and tables allocated
/// afresh for each chunk cost more than compressing it (see [`Encoder1`]).
const PRESET: u32 = 4;
const DICT_SIZE: u32 = 256 << 10;

/// One compressed block, as stored in a stream (padding and check included):
/// fresh, or a slice of the previous file.
#[derive(Clone)]
struct Block<B> {
    bytes: B,
    unpadded: u64,
    uncompressed: u64,
}

/// Compress `chunks` into one xz stream, one block per chunk, reusing the blocks
/// of `previous` (an earlier output of this function) where the data is equal.
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
/// returns the rest. Only the reused blocks of the previous file are read.
pub(crate) struct Encoder<'p> {
    previous: Option<Previous<'p>>,
    /// Where each block of the previous file is (its offset as `bytes`).
    reusable: Blocks,
    /// (unpadded, uncompressed) size of each block written, for the index.
    sizes: Vec<(u64, u64)>,
    out: Vec<u8>,
}

impl<'p> Encoder<'p> {
    pub(crate) fn new(previous: Option<Previous<'p>>) -> io::Result<Encoder<'p>> {
        let mut out = Vec::with_capacity(12);
        out.extend_from_slice(&MAGIC);
        out.extend_from_slice(&FLAGS);
        out.extend_from_slice(&crc32fast::hash(&FLAGS).to_le_bytes());
        Ok(Encoder {
            reusable: match previous {
                Some(p) => old_blocks(p)?,
                None => HashMap::new(),
            },
            previous,
            sizes: Vec::new(),
            out,
        })
    }

    /// The next chunks, in order: blocks reused where the data is equal, the
    /// others compressed on every core.
    pub(crate) fn push(&mut self, chunks: &[Chunk]) -> io::Result<()> {
        let key = |c: &Chunk| (c.sha256, c.data.len() as u64);
        let todo: Vec<&Chunk> = chunks
            .iter()
            .filter(|c| !self.reusable.contains_key(&key(c)))
            .collect();
        let fresh = crate::util::parallel::parallel_map(&todo, |c| compress(c.data));
        let mut fresh = fresh.iter();
        for c in chunks {
            let (unpadded, uncompressed) = match (self.reusable.get(&key(c)), self.previous) {
                (Some(b), Some(previous)) => {
                    let start = self.out.len();
                    self.out.resize(start + padded(b.unpadded), 0);
                    previous.read_into(b.bytes, &mut self.out[start..])?;
                    (b.unpadded, b.uncompressed)
                }
                _ => {
                    let b = fresh.next().expect("one fresh block per todo");
                    self.out.extend_from_slice(&b.bytes);
                    (b.unpadded, b.uncompressed)
                }
            };
            self.sizes.push((unpadded, uncompressed));
        }
        Ok(())
    }

    /// The bytes produced since the last call.
    pub(crate) fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.out)
    }

    /// The rest of the stream: what was not taken yet, the index, the footer.
    pub(crate) fn finish(mut self) -> io::Result<Vec<u8>> {
        let mut index = vec![0u8];
        put_varint(&mut index, self.sizes.len() as u64);
        for (unpadded, uncompressed) in &self.sizes {
            put_varint(&mut index, *unpadded);
            put_varint(&mut index, *uncompressed);
        }
        while index.len() % 4 != 0 {
            index.push(0);
        }
        let crc = crc32fast::hash(&index);
        index.extend_from_slice(&crc.to_le_bytes());
        self.out.extend_from_slice(&index);
        let mut tail = Vec::with_capacity(6);
        tail.extend_from_slice(&((index.len() / 4 - 1) as u32).to_le_bytes());
        tail.extend_from_slice(&FLAGS);
        self.out
            .extend_from_slice(&crc32fast::hash(&tail).to_le_bytes());
        self.out.extend_from_slice(&tail);
        self.out.extend_from_slice(&FOOTER_MAGIC);
        Ok(self.out)
    }
}

/// One chunk as a single-block stream, from which the block is cut out.
fn compress(data: &[u8]) -> Block<Vec<u8>> {
    let stream = ENCODER.with_borrow_mut(|e| e.get_or_insert_with(Encoder1::new).stream(data));
    let mut blocks = split(&stream).expect("liblzma wrote a well-formed stream");
    assert_eq!(blocks.len(), 1, "one chunk, one block");
    let b = blocks.pop().expect("one block");
    Block {
        bytes: b.bytes.to_vec(),
        unpadded: b.unpadded,
        uncompressed: b.uncompressed,
    }
}

thread_local! {
    /// Each thread's encoder, initialized again for every chunk.
    static ENCODER: std::cell::RefCell<Option<Encoder1>> = const { std::cell::RefCell::new(None) };
}

/// One liblzma stream encoder, used for one chunk after another: initializing
/// it again keeps the match finder's tables when the dictionary size is the
/// same (it is, [`DICT_SIZE`]), and only clears the hash table. Tables
/// allocated afresh come from the kernel as zero pages: the match finder reads
/// them before it writes them, and each first write to such a page in a
/// multi-threaded process interrupts the other cores to flush their TLBs. With
/// a fresh encoder per chunk that was a third of a 5,000-package publish's
/// system time.
struct Encoder1(liblzma_sys::lzma_stream);

impl Encoder1 {
    fn new() -> Encoder1 {
        // SAFETY: all zeros is LZMA_STREAM_INIT.
        let mut strm: liblzma_sys::lzma_stream = unsafe { std::mem::zeroed() };
        strm.allocator = &ALLOCATOR.0;
        Encoder1(strm)
    }

    /// `data` as a whole xz stream (one block, SHA-256 check).
    fn stream(&mut self, data: &[u8]) -> Vec<u8> {
        use liblzma_sys as sys;
        // SAFETY: plain data; lzma_lzma_preset fills it in (false = success).
        let mut opts: sys::lzma_options_lzma = unsafe { std::mem::zeroed() };
        // SAFETY: `opts` is a valid, exclusively borrowed options struct.
        let failed = unsafe { sys::lzma_lzma_preset(&mut opts, PRESET) };
        assert_eq!(failed, 0, "xz preset");
        opts.dict_size = DICT_SIZE;
        let filters = [
            sys::lzma_filter {
                id: sys::LZMA_FILTER_LZMA2,
                options: (&raw mut opts).cast(),
            },
            sys::lzma_filter {
                id: sys::LZMA_VLI_UNKNOWN,
                options: std::ptr::null_mut(),
            },
        ];
        let strm = &mut self.0;
        // SAFETY: `strm` is LZMA_STREAM_INIT or a stream this thread used
        // before (liblzma reuses its memory); the filters outlive the call.
        let ret =
            unsafe { sys::lzma_stream_encoder(strm, filters.as_ptr(), sys::LZMA_CHECK_SHA256) };
        assert_eq!(ret, sys::LZMA_OK, "xz encoder");
        // SAFETY: pure arithmetic.
        let bound = unsafe { sys::lzma_stream_buffer_bound(data.len()) };
        let mut out: Vec<u8> = Vec::with_capacity(bound.max(64));
        strm.next_in = data.as_ptr();
        strm.avail_in = data.len();
        loop {
            if out.len() == out.capacity() {
                out.reserve(out.capacity());
            }
            let room = out.capacity() - out.len();
            // SAFETY: the output pointer and its room are within `out`'s
            // allocation; liblzma writes at most `room` bytes there.
            strm.next_out = unsafe { out.as_mut_ptr().add(out.len()) };
            strm.avail_out = room;
            // SAFETY: `strm` was set up by lzma_stream_encoder above; its input
            // is `data` (alive for the call) and its output the room just given.
            let ret = unsafe { sys::lzma_code(strm, sys::LZMA_FINISH) };
            let wrote = room - strm.avail_out;
            // SAFETY: liblzma initialized `wrote` more bytes.
            unsafe { out.set_len(out.len() + wrote) };
            match ret {
                sys::LZMA_STREAM_END => break,
                sys::LZMA_OK => {}
                e => panic!("xz encoder failed ({e})"),
            }
        }
        strm.next_in = std::ptr::null();
        strm.next_out = std::ptr::null_mut();
        out
    }
}

/// liblzma's allocations through `malloc`, which makes it clear the hash table
/// itself (`lzma_alloc_zero` does with an allocator, and calls `calloc`
/// without one). A table from `calloc` is fresh zero pages that the match
/// finder reads before it writes them: each first write then replaces a
/// zero page, and in a multi-threaded process that interrupts the other
/// cores to flush their TLBs (~15% of a 500-package publish's samples, where
/// each thread's first chunk is a large share of the work). Written at once,
/// the pages are simply allocated.
struct Allocator(liblzma_sys::lzma_allocator);

// SAFETY: never written after construction; `opaque` is null and unused.
unsafe impl Sync for Allocator {}

static ALLOCATOR: Allocator = Allocator(liblzma_sys::lzma_allocator {
    alloc: Some(lzma_malloc),
    free: Some(lzma_free),
    opaque: std::ptr::null_mut(),
});

unsafe extern "C" {
    fn malloc(size: usize) -> *mut std::ffi::c_void;
    fn free(ptr: *mut std::ffi::c_void);
}

extern "C" fn lzma_malloc(
    _opaque: *mut std::ffi::c_void,
    nmemb: usize,
    size: usize,
) -> *mut std::ffi::c_void {
    match nmemb.checked_mul(size) {
        // SAFETY: plain malloc; liblzma checks for null.
        Some(bytes) => unsafe { malloc(bytes) },
        None => std::ptr::null_mut(),
    }
}

extern "C" fn lzma_free(_opaque: *mut std::ffi::c_void, ptr: *mut std::ffi::c_void) {
    // SAFETY: `ptr` came from `lzma_malloc` (or is null).
    unsafe { free(ptr) }
}

impl Drop for Encoder1 {
    fn drop(&mut self) {
        // SAFETY: ends the stream and frees its memory, once.
        unsafe { liblzma_sys::lzma_end(&mut self.0) };
    }
}

/// (check, data size) of a block → where it is in the earlier stream.
type Blocks = HashMap<([u8; 32], u64), Block<u64>>;

/// Where the blocks of an earlier stream are, by (check = SHA-256 of the
/// data, data size): from its index, and each block's check. Anything
/// unexpected (another tool's file, other check type) means no reuse.
fn old_blocks(stream: Previous) -> io::Result<Blocks> {
    let mut map = HashMap::new();
    let mut check = [0u8; CHECK_LEN];
    for b in layout(stream)?.unwrap_or_default() {
        stream.read_into(
            b.bytes + padded(b.unpadded) as u64 - CHECK_LEN as u64,
            &mut check,
        )?;
        map.insert((check, b.uncompressed), b);
    }
    Ok(map)
}

/// The size of a block in the stream: its unpadded size rounded up to 4.
fn padded(unpadded: u64) -> usize {
    usize::try_from(unpadded.div_ceil(4) * 4).unwrap_or(usize::MAX)
}

/// Cut a single xz stream with SHA-256 checks into its blocks.
fn split(s: &[u8]) -> Option<Vec<Block<&[u8]>>> {
    let blocks = layout(Previous::Bytes(s)).ok()??;
    blocks
        .into_iter()
        .map(|b| {
            let at = usize::try_from(b.bytes).ok()?;
            Some(Block {
                bytes: s.get(at..at + padded(b.unpadded))?,
                unpadded: b.unpadded,
                uncompressed: b.uncompressed,
            })
        })
        .collect()
}

/// The blocks of a single xz stream with SHA-256 checks, each with its offset
/// (as `bytes`), read from the stream's footer and index.
fn layout(s: Previous) -> io::Result<Option<Vec<Block<u64>>>> {
    let len = s.size()?;
    if len < 24 {
        return Ok(None);
    }
    let head = s.read(0, 8)?;
    let footer = s.read(len - 12, 12)?;
    if head[..6] != MAGIC || head[6..8] != FLAGS || footer[10..] != FOOTER_MAGIC {
        return Ok(None);
    }
    if footer[8..10] != FLAGS {
        return Ok(None);
    }
    let backward = u32::from_le_bytes(footer[4..8].try_into().expect("4 bytes"));
    let index_len = (u64::from(backward) + 1) * 4;
    let Some(index_start) = len.checked_sub(12 + index_len).filter(|&i| i >= 12) else {
        return Ok(None);
    };
    let index = s.read(index_start, index_len as usize)?;
    Ok(parse_index(&index, index_start))
}

/// The blocks an index lists, laid out from offset 12 up to `index_start`.
fn parse_index(index: &[u8], index_start: u64) -> Option<Vec<Block<u64>>> {
    if index[0] != 0 {
        return None;
    }
    let mut pos = 1;
    let count = varint(index, &mut pos)?;
    let mut blocks = Vec::new();
    let mut at = 12u64;
    for _ in 0..count {
        let unpadded = varint(index, &mut pos)?;
        let uncompressed = varint(index, &mut pos)?;
        let total = unpadded.checked_add(3)? / 4 * 4;
        if total < (CHECK_LEN + 8) as u64 {
            return None;
        }
        blocks.push(Block {
            bytes: at,
            unpadded,
            uncompressed,
        });
        at = at.checked_add(total)?;
    }
    (at == index_start).then_some(blocks)
}

fn varint(buf: &[u8], pos: &mut usize) -> Option<u64> {
    let mut value = 0u64;
    for i in 0..9 {
        let b = *buf.get(*pos)?;
        *pos += 1;
        value |= u64::from(b & 0x7F) << (7 * i);
        if b & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

fn put_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8 & 0x7F) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

#[cfg(test)]
mod tests {
    use super::super::Chunk;
    use std::io::Read;

    fn encode(chunks: &[&[u8]], previous: Option<&[u8]>) -> Vec<u8> {
        let chunks: Vec<Chunk> = chunks.iter().map(|c| Chunk::new(c)).collect();
        super::encode(&chunks, previous)
    }

    fn decode(xz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        liblzma::read::XzDecoder::new(xz)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn blocks_round_trip_and_are_reused() {
        let a = "Package: a\n\n".repeat(300);
        let b = "Package: b\n\n".repeat(200);
        let c = "Package: c\n\n".repeat(100);
        let first = encode(&[a.as_bytes(), b.as_bytes()], None);
        assert_eq!(decode(&first), format!("{a}{b}").into_bytes());
        let second = encode(&[a.as_bytes(), c.as_bytes(), b.as_bytes()], Some(&first));
        assert_eq!(decode(&second), format!("{a}{c}{b}").into_bytes());
        // Deterministic: the same chunks give the same bytes, reused or not.
        let fresh = encode(&[a.as_bytes(), c.as_bytes(), b.as_bytes()], None);
        assert_eq!(second, fresh);
        // Garbage as "previous" is ignored.
        assert_eq!(
            encode(&[a.as_bytes()], Some(b"junk")),
            encode(&[a.as_bytes()], None)
        );
        assert!(decode(&encode(&[], None)).is_empty());
    }
}
