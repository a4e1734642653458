//! Fast, deterministic, streaming gzip writer (pigz-style parallel deflate).
//!
//! Input is cut into fixed-size chunks. Each chunk is raw-deflated on its own
//! with the previous 32 KiB of input as preset dictionary and ends with a sync
//! flush (byte aligned, non-final), so the concatenation of the chunks is a
//! single deflate stream and the whole output is ONE gzip member. Chunk
//! boundaries depend only on the byte positions of the input and the
//! [`GzipWriter::set_store`] calls, so the output is byte-identical for any
//! number of threads. Bytes written in store mode become deflate stored blocks
//! (a copy plus CRC, no compression work).

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crc32fast::Hasher;
use flate2::{Compress, Compression, FlushCompress, Status};

/// Deflate window size: the dictionary carried from one chunk to the next.
const WINDOW: usize = 32 * 1024;
/// Largest payload of one deflate stored block.
const MAX_STORED: usize = 65535;

/// Tuning knobs for [`GzipWriter`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GzipOptions {
    /// Compression level 0–9 (0 = everything stored); larger values are clamped to 9.
    pub level: u32,
    /// Number of compression threads; 1 compresses inline without spawning.
    pub threads: usize,
    /// Bytes of input per independently compressed chunk.
    pub chunk_size: usize,
}

impl Default for GzipOptions {
    fn default() -> Self {
        let cpus = crate::util::parallel::cores();
        GzipOptions {
            level: 6,
            threads: cpus.clamp(1, 4),
            chunk_size: 1 << 20,
        }
    }
}

/// Output of one chunk, waiting to be written in sequence order.
enum Piece {
    /// Literal bytes (gzip header, final empty block).
    Raw(Vec<u8>),
    /// Deflated chunk plus the CRC of its uncompressed bytes.
    Deflated(Vec<u8>, Hasher),
    /// Uncompressed bytes to be framed as stored blocks.
    Stored(Vec<u8>),
}

struct Job {
    seq: u64,
    dict: Vec<u8>,
    data: Vec<u8>,
    last: bool,
}

type Outcome = (u64, Result<Piece, String>);

/// Worker threads; dropping it closes the job queue and joins every thread.
struct Pool {
    jobs: Option<SyncSender<Job>>,
    results: Receiver<Outcome>,
    handles: Vec<JoinHandle<()>>,
}

impl Pool {
    fn new(threads: usize, level: u32) -> io::Result<Pool> {
        let (jobs, job_rx) = mpsc::sync_channel::<Job>(threads);
        let (res_tx, results) = mpsc::channel::<Outcome>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let mut pool = Pool {
            jobs: Some(jobs),
            results,
            handles: Vec::new(),
        };
        for i in 0..threads {
            let (rx, tx) = (Arc::clone(&job_rx), res_tx.clone());
            let handle = std::thread::Builder::new()
                .name(format!("gzip-{i}"))
                .spawn(move || worker(&rx, &tx, level))?;
            pool.handles.push(handle);
        }
        Ok(pool)
    }
}

impl Drop for Pool {
    fn drop(&mut self) {
        self.jobs = None;
        for handle in self.handles.drain(..) {
            let _ = handle.join();
        }
    }
}

fn worker(jobs: &Mutex<Receiver<Job>>, results: &mpsc::Sender<Outcome>, level: u32) {
    loop {
        let job = match jobs.lock() {
            Ok(rx) => rx.recv(),
            Err(poisoned) => poisoned.into_inner().recv(),
        };
        let Ok(job) = job else { return };
        let out = catch_unwind(AssertUnwindSafe(|| deflate_job(level, &job)))
            .unwrap_or_else(|_| Err("gzip worker panicked".to_string()));
        if results.send((job.seq, out)).is_err() {
            return;
        }
    }
}

/// Raw-deflates one chunk with its dictionary; sync flush, or finish if last.
///
/// A fresh `Compress` per chunk is required for determinism: `reset()` keeps
/// stale window bytes that influence match choices near the end of the input.
fn deflate_job(level: u32, job: &Job) -> Result<Piece, String> {
    let mut crc = Hasher::new();
    crc.update(&job.data);
    let c = &mut Compress::new(Compression::new(level), false);
    if !job.dict.is_empty() {
        c.set_dictionary(&job.dict).map_err(|e| e.to_string())?;
    }
    let flush = if job.last {
        FlushCompress::Finish
    } else {
        FlushCompress::Sync
    };
    let mut out = Vec::with_capacity(job.data.len() + job.data.len() / 16 + 256);
    let mut pos = 0;
    loop {
        let before = c.total_in();
        let status = c
            .compress_vec(&job.data[pos..], &mut out, flush)
            .map_err(|e| e.to_string())?;
        pos += (c.total_in() - before) as usize;
        let done = if job.last {
            status == Status::StreamEnd
        } else {
            pos == job.data.len() && out.len() < out.capacity()
        };
        if done {
            return Ok(Piece::Deflated(out, crc));
        }
        out.reserve(out.capacity().max(4096));
    }
}

/// Streaming gzip encoder; call [`GzipWriter::finish`] to write the trailer.
///
/// `flush()` only writes chunks that are already complete (it never cuts a
/// chunk), so the output does not depend on how the input was written.
/// Dropping the writer without `finish` stops and joins its threads and
/// leaves a truncated stream.
pub(crate) struct GzipWriter<W: Write> {
    inner: W,
    level: u32,
    chunk_size: usize,
    max_in_flight: u64,
    store: bool,
    buf: Vec<u8>,
    window: Vec<u8>,
    crc: Hasher,
    total_in: u64,
    next_seq: u64,
    next_write: u64,
    pending: BTreeMap<u64, Piece>,
    pool: Option<Pool>,
    failed: bool,
}

impl<W: Write> GzipWriter<W> {
    /// Creates the writer; nothing is written to `inner` until data flows.
    pub(crate) fn new(inner: W, opts: GzipOptions) -> Self {
        let level = opts.level.min(9);
        let chunk_size = opts.chunk_size.max(1);
        let threads = opts.threads.max(1);
        let pool = if threads > 1 && level > 0 {
            Pool::new(threads, level).ok()
        } else {
            None
        };
        let xfl = match level {
            9 => 2,
            1 => 4,
            _ => 0,
        };
        let header = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, xfl, 3];
        GzipWriter {
            inner,
            level,
            chunk_size,
            max_in_flight: 2 * threads as u64,
            store: false,
            buf: Vec::with_capacity(chunk_size),
            window: Vec::with_capacity(WINDOW),
            crc: Hasher::new(),
            total_in: 0,
            next_seq: 1,
            next_write: 0,
            pending: BTreeMap::from([(0, Piece::Raw(header))]),
            pool,
            failed: false,
        }
    }

    /// Total uncompressed bytes accepted so far.
    pub(crate) fn bytes_in(&self) -> u64 {
        self.total_in
    }

    /// Switches between deflate (false) and stored blocks (true) for the bytes
    /// written from now on. A real switch ends the current chunk.
    pub(crate) fn set_store(&mut self, store: bool) {
        if store != self.store && self.level > 0 && !self.failed {
            // An error is remembered in `failed` and reported by the next write/finish.
            let _ = self.cut(false);
        }
        self.store = store;
    }

    /// Writes the remaining data and the gzip trailer; returns the inner writer.
    pub(crate) fn finish(mut self) -> io::Result<W> {
        self.check()?;
        if self.storing() || self.buf.is_empty() {
            self.cut(false)?;
            self.push(Piece::Raw(vec![0x03, 0x00]))?;
        } else {
            self.cut(true)?;
        }
        while self.next_write < self.next_seq {
            self.receive(true)?;
            self.drain()?;
        }
        let crc = self.crc.clone().finalize();
        self.inner.write_all(&crc.to_le_bytes())?;
        self.inner
            .write_all(&(self.total_in as u32).to_le_bytes())?;
        self.inner.flush()?;
        drop(self.pool.take());
        Ok(self.inner)
    }

    fn storing(&self) -> bool {
        self.store || self.level == 0
    }

    fn check(&self) -> io::Result<()> {
        if self.failed {
            return Err(io::Error::other("gzip writer failed earlier"));
        }
        Ok(())
    }

    /// Ends the current chunk (if non-empty); `last` makes it the final deflate block.
    fn cut(&mut self, last: bool) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let data = std::mem::replace(&mut self.buf, Vec::with_capacity(self.chunk_size));
        let dict = if self.storing() {
            Vec::new()
        } else {
            self.window.clone()
        };
        if data.len() >= WINDOW {
            self.window.clear();
        } else if self.window.len() + data.len() > WINDOW {
            self.window.drain(..self.window.len() + data.len() - WINDOW);
        }
        self.window
            .extend_from_slice(&data[data.len().saturating_sub(WINDOW)..]);
        if self.storing() {
            return self.push(Piece::Stored(data));
        }
        let seq = self.reserve_seq()?;
        let job = Job {
            seq,
            dict,
            data,
            last,
        };
        if let Some(pool) = &self.pool {
            let sent = pool.jobs.as_ref().map(|tx| tx.send(job).is_ok());
            if sent != Some(true) {
                return Err(self.fail(io::Error::other("gzip worker threads exited")));
            }
            self.receive(false)?;
        } else {
            let piece =
                deflate_job(self.level, &job).map_err(|e| self.fail(io::Error::other(e)))?;
            self.pending.insert(seq, piece);
        }
        self.drain()
    }

    /// Queues an already finished piece in sequence order.
    fn push(&mut self, piece: Piece) -> io::Result<()> {
        let seq = self.reserve_seq()?;
        self.pending.insert(seq, piece);
        self.drain()
    }

    /// Waits until fewer than `max_in_flight` chunks are unwritten, then takes a number.
    fn reserve_seq(&mut self) -> io::Result<u64> {
        while self.next_seq - self.next_write >= self.max_in_flight && self.pool.is_some() {
            self.receive(true)?;
            self.drain()?;
        }
        self.next_seq += 1;
        Ok(self.next_seq - 1)
    }

    /// Collects worker results: at least one if `block`, otherwise what is ready.
    fn receive(&mut self, block: bool) -> io::Result<()> {
        let Some(pool) = &self.pool else {
            return Ok(());
        };
        if block && self.pending.contains_key(&self.next_write) {
            return Ok(());
        }
        let mut got = Vec::new();
        let first = if block {
            pool.results.recv().ok()
        } else {
            pool.results.try_recv().ok()
        };
        if block && first.is_none() {
            return Err(self.fail(io::Error::other("gzip worker threads exited")));
        }
        got.extend(first);
        got.extend(pool.results.try_iter());
        for (seq, out) in got {
            let piece = out.map_err(|e| self.fail(io::Error::other(e)))?;
            self.pending.insert(seq, piece);
        }
        Ok(())
    }

    /// Writes every piece that is next in order.
    fn drain(&mut self) -> io::Result<()> {
        while let Some(piece) = self.pending.remove(&self.next_write) {
            self.write_piece(piece).map_err(|e| self.fail(e))?;
            self.next_write += 1;
        }
        Ok(())
    }

    fn write_piece(&mut self, piece: Piece) -> io::Result<()> {
        match piece {
            Piece::Raw(bytes) => self.inner.write_all(&bytes),
            Piece::Deflated(bytes, crc) => {
                self.crc.combine(&crc);
                self.inner.write_all(&bytes)
            }
            Piece::Stored(data) => {
                self.crc.update(&data);
                for block in data.chunks(MAX_STORED) {
                    let len = block.len() as u16;
                    let [a, b] = len.to_le_bytes();
                    let [c, d] = (!len).to_le_bytes();
                    self.inner.write_all(&[0, a, b, c, d])?;
                    self.inner.write_all(block)?;
                }
                Ok(())
            }
        }
    }

    fn fail(&mut self, e: io::Error) -> io::Error {
        self.failed = true;
        e
    }
}

impl<W: Write> Write for GzipWriter<W> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.check()?;
        let mut rest = data;
        while !rest.is_empty() {
            let n = (self.chunk_size - self.buf.len()).min(rest.len());
            self.buf.extend_from_slice(&rest[..n]);
            self.total_in += n as u64;
            rest = &rest[n..];
            if self.buf.len() == self.chunk_size {
                self.cut(false)?;
            }
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.check()?;
        self.receive(false)?;
        self.drain()?;
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::GzDecoder;
    use std::io::Read;
    use std::process::Command;

    fn opts(level: u32, threads: usize, chunk_size: usize) -> GzipOptions {
        GzipOptions {
            level,
            threads,
            chunk_size,
        }
    }

    /// Deterministic xorshift bytes (incompressible).
    fn random(len: usize, mut seed: u64) -> Vec<u8> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 24) as u8
            })
            .collect()
    }

    /// Pseudo-text from a small vocabulary (compresses like source code/prose).
    fn text(len: usize) -> Vec<u8> {
        const WORDS: &[&str] = &[
            "def ", "self", ".path", " = ", "import ", "return ", "None", "\n    ", "if ", "else:",
            "for ", " in ", "range(", ")", "(", "os", "sys", "value", "name", ", ", "\n", "class ",
        ];
        let mut out = Vec::with_capacity(len + 16);
        for (i, r) in random(len, 7).iter().enumerate() {
            if out.len() >= len {
                break;
            }
            out.extend_from_slice(WORDS[(*r as usize + i / 4096) % WORDS.len()].as_bytes());
        }
        out.truncate(len);
        out
    }

    /// Writes `parts` (bool = store mode) in uneven pieces; returns the gzip bytes.
    fn gz(o: GzipOptions, parts: &[(bool, &[u8])]) -> Vec<u8> {
        let mut w = GzipWriter::new(Vec::new(), o);
        for (store, data) in parts {
            w.set_store(*store);
            for piece in data.chunks(7777) {
                w.write_all(piece).unwrap();
            }
        }
        let total: usize = parts.iter().map(|p| p.1.len()).sum();
        assert_eq!(w.bytes_in(), total as u64);
        w.finish().unwrap()
    }

    fn gunzip(gz: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        GzDecoder::new(gz).read_to_end(&mut out).unwrap();
        out
    }

    /// Checks with the real `gzip -t` and `gzip -dc` (skipped if gzip is missing).
    fn system_gunzip(gz: &[u8], expect: &[u8]) {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), gz).unwrap();
        let Ok(t) = Command::new("gzip").arg("-t").arg(file.path()).status() else {
            eprintln!("gzip not installed; skipping system check");
            return;
        };
        assert!(t.success(), "gzip -t failed");
        let out = Command::new("gzip")
            .arg("-dc")
            .arg(file.path())
            .output()
            .unwrap();
        assert!(out.status.success());
        assert!(out.stdout == expect, "gzip -dc output differs");
    }

    fn round_trip(o: GzipOptions, parts: &[(bool, &[u8])]) -> Vec<u8> {
        let z = gz(o, parts);
        let expect: Vec<u8> = parts.iter().flat_map(|p| p.1.iter().copied()).collect();
        assert!(gunzip(&z) == expect, "flate2 round trip differs");
        system_gunzip(&z, &expect);
        z
    }

    #[test]
    fn empty_and_tiny_inputs() {
        for level in [0, 1, 6, 9] {
            for threads in [1, 2] {
                let z = round_trip(opts(level, threads, 1 << 16), &[]);
                assert_eq!(z.len(), 10 + 2 + 8);
                round_trip(opts(level, threads, 1 << 16), &[(false, b"x")]);
            }
        }
    }

    #[test]
    fn header_is_fixed() {
        let z = gz(opts(6, 2, 1 << 16), &[(false, b"hello")]);
        assert_eq!(z[..10], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
        assert_eq!(gz(opts(9, 1, 1 << 16), &[])[8], 2);
        assert_eq!(gz(opts(1, 1, 1 << 16), &[])[8], 4);
        assert_eq!(z[z.len() - 4..], 5u32.to_le_bytes());
        assert_eq!(
            z[z.len() - 8..z.len() - 4],
            crc32fast::hash(b"hello").to_le_bytes()
        );
    }

    #[test]
    fn chunk_boundaries_and_many_chunks() {
        let t = text(300_000);
        let r = random(200_000, 3);
        round_trip(opts(6, 2, 1 << 16), &[(false, &t[..1 << 16])]);
        round_trip(opts(6, 1, 1 << 16), &[(false, &t[..(1 << 16) + 1])]);
        round_trip(opts(6, 3, 1 << 16), &[(false, &t)]);
        round_trip(opts(4, 2, 1 << 15), &[(false, &r), (false, &t)]);
        // chunks smaller than the window: the dictionary spans several chunks
        round_trip(opts(1, 2, 1000), &[(false, &t[..100_000])]);
    }

    #[test]
    fn store_switching_and_level_zero() {
        let t = text(400_000);
        let r = random(150_000, 9);
        let parts: &[(bool, &[u8])] = &[
            (false, &t[..90_000]),
            (true, &r),
            (false, &t[90_000..]),
            (true, b""),
            (true, &t[..70_000]),
        ];
        let z = round_trip(opts(6, 2, 1 << 16), parts);
        let stored = round_trip(opts(0, 2, 1 << 16), parts);
        assert!(z.len() < stored.len());
        assert!(
            stored.len() > 620_000 && stored.len() < 620_000 + 200,
            "{}",
            stored.len()
        );
        round_trip(opts(0, 1, 100_000), &[(true, &r), (false, &t)]);
        // compressing right after stored data still uses it as dictionary
        let after = gz(
            opts(6, 1, 1 << 20),
            &[(true, &t[..20_000]), (false, &t[..20_000])],
        );
        assert!(after.len() < 20_000 + 500, "{}", after.len());
    }

    #[test]
    fn identical_for_any_thread_count() {
        // Interleaved random/text chunks: with reused compressors, stale window
        // bytes from whichever chunk a worker did before changed the output.
        let (t, r) = (text(600_000), random(400_000, 5));
        let mut mixed = Vec::new();
        for i in 0..40 {
            mixed.extend_from_slice(if i % 3 == 0 {
                &r[i * 9000..][..9000]
            } else {
                &t[i * 15000..][..15000]
            });
        }
        for (level, chunk) in [(1, 1 << 16), (1, 1 << 14), (6, 1 << 14)] {
            let parts: &[(bool, &[u8])] =
                &[(false, &mixed), (true, &r[..1000]), (false, &t[..1234])];
            let one = gz(opts(level, 1, chunk), parts);
            for threads in [2, 4, 4, 4] {
                assert!(
                    gz(opts(level, threads, chunk), parts) == one,
                    "threads={threads}"
                );
            }
        }
    }

    #[test]
    fn size_close_to_single_stream() {
        let t = text(3 << 20);
        let mut single = flate2::write::GzEncoder::new(Vec::new(), Compression::new(6));
        single.write_all(&t).unwrap();
        let single = single.finish().unwrap().len() as f64;
        let ours = round_trip(opts(6, 2, 1 << 20), &[(false, &t)]).len() as f64;
        assert!(ours <= single * 1.01, "ours {ours} vs single {single}");
    }

    struct Failing(usize);
    impl Write for Failing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.0 < buf.len() {
                return Err(io::Error::other("disk full"));
            }
            self.0 -= buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn inner_errors_propagate() {
        let r = random(300_000, 11);
        for threads in [1, 2] {
            let mut w = GzipWriter::new(Failing(50_000), opts(6, threads, 1 << 15));
            let res = w.write_all(&r).and_then(|_| w.finish().map(|_| ()));
            assert_eq!(res.unwrap_err().to_string(), "disk full");
        }
    }

    #[test]
    fn drop_without_finish_does_not_hang() {
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let r = random(600_000, 13);
            let mut w = GzipWriter::new(Vec::new(), opts(6, 4, 1 << 14));
            w.write_all(&r).unwrap();
            drop(w);
            tx.send(()).unwrap();
        });
        rx.recv_timeout(std::time::Duration::from_secs(60))
            .expect("drop hung");
    }
}
