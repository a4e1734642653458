//! Writing the indices and the Release files: temporary file, then rename.

use super::digest::hash_file;
use super::digest::{Batch, Digests, PartsHasher, ReleaseHashes};
use super::index::Stanza;
use super::release;
use super::render::{self, Rendered};
use super::spill::Spill;
use crate::codec::{Chunk, Previous, gz_reuse, xz_reuse};
use crate::error::{Error, IoContext, Result};
use crate::repo::storage::{open_temp, replace_file};
use crate::util::parallel::Workers;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tempfile::{NamedTempFile, TempPath};

/// The digests of an index directory's `Packages{,.gz,.xz}` when they are up to
/// date: `Packages` holds `want` and all three match the previous Release (so
/// they belong to one generation). `None` means they must be written.
pub(super) fn current_index(
    dir: &Path,
    rel: &str,
    current: Option<&Arc<Spill>>,
    want: &Rendered,
    listed: &BTreeMap<String, release::Listed>,
) -> Result<Option<Vec<(&'static str, Digests)>>> {
    let Some(current) = current else {
        return Ok(None);
    };
    if !want.is(current)? {
        return Ok(None);
    }
    let mut found = Vec::new();
    for suffix in ["", ".gz", ".xz"] {
        let path = dir.join(format!("Packages{suffix}"));
        let d = if path.exists() {
            hash_file(&path)?
        } else {
            return Ok(None);
        };
        if !release::matches(listed.get(&format!("{rel}/Packages{suffix}")), &d) {
            return Ok(None);
        }
        found.push((suffix, d));
    }
    Ok(Some(found))
}

/// A new stanza's text could not be read back from its spill file.
fn spill_error(e: io::Error) -> Error {
    Error::build(format!(
        "cannot read back the new stanzas (spilled to disk): {e}"
    ))
}

/// Chunks produced, compressed and written per step: enough to keep every
/// core compressing. Up to three batches are in memory at once (one being
/// compressed, one queued for the writer, one being written), ~20 KB of text
/// per chunk, whatever the index's size.
fn batch() -> usize {
    4 * crate::util::parallel::cores()
}

/// Write `Packages`, `.gz` and `.xz` of each index, a batch of chunks at a
/// time: each batch's text is written to the temporary `Packages` (on a
/// writer thread, which flushes the file at the end) and checksummed (each
/// algorithm on its own thread) while its chunks are compressed (unchanged
/// ones reused from the previous files, the others on all cores); the
/// compressed bytes of the batch are then written and checksummed the same
/// way, so no file is ever held whole. The
/// temporary files are linked into `by-hash/`, then renamed into place with
/// the uncompressed `Packages` (the one publishing reads back) last. (All of
/// this is in the next generation; the compressed files and its directories
/// are synced before the switch.)
pub(super) fn write_indices(
    to_write: &[(PathBuf, String, Rendered)],
    hashes: ReleaseHashes,
    files: &mut BTreeMap<String, Digests>,
    written: &mut Vec<PathBuf>,
) -> Result<()> {
    // Read only where members or blocks are reused (`codec::Previous`).
    let open_previous = |path: PathBuf| match fs::File::open(&path) {
        Ok(f) => Ok(Some(f)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", &path, e)),
    };
    let mut pending = Vec::new();
    for (dir, rel, r) in to_write {
        let (gz_path, xz_path) = (dir.join("Packages.gz"), dir.join("Packages.xz"));
        let prev_gz = open_previous(gz_path.clone())?;
        let prev_xz = open_previous(xz_path.clone())?;
        fs::create_dir_all(dir).ctx("creating", dir)?;
        let plain = open_temp(dir, "Packages", b"")?;
        let mut plain_d = PartsHasher::new(hashes);
        let mut gz = gz_reuse::Encoder::new(prev_gz.as_ref().map(Previous::File))
            .ctx("reading", &gz_path)?;
        let xz = xz_reuse::Encoder::new(prev_xz.as_ref().map(Previous::File))
            .ctx("reading", &xz_path)?;
        let mut gz_out = Streamed::new(dir, "Packages.gz", hashes)?;
        let mut xz_out = Streamed::new(dir, "Packages.xz", hashes)?;
        // One thread writes the batches to the temporary `Packages` as they come
        // and flushes it to disk at the end; another compresses them to xz,
        // while this one compresses to gzip; one per core makes the chunks'
        // text. All of them live as long as the index is written.
        let (to_writer, batches) = std::sync::mpsc::sync_channel::<Batch>(1);
        let (to_xz, xz_batches) = std::sync::mpsc::sync_channel::<(Batch, Vec<[u8; 32]>)>(1);
        let text_of = |stanzas: Vec<Stanza>| -> io::Result<(Vec<u8>, [u8; 32])> {
            let text = render::text(&stanzas)?;
            let sum = Chunk::new(&text).sha256;
            Ok((text, sum))
        };
        let (flushed, xz_done, outs) = std::thread::scope(|s| {
            let writer = s.spawn(|| {
                let mut f = plain.as_file();
                for batch in batches {
                    batch.iter().try_for_each(|t| f.write_all(t))?;
                }
                match crate::repo::stage::durable() {
                    true => f.sync_data(),
                    false => Ok(()),
                }
            });
            let xz_thread = s.spawn(|| -> Result<Streamed> {
                let mut xz = xz;
                for (texts, sums) in xz_batches {
                    xz.push(&chunks_of(&texts, sums)).ctx("reading", &xz_path)?;
                    xz_out.put(xz.take())?;
                }
                xz_out.put(xz.finish().ctx("reading", &xz_path)?)?;
                Ok(xz_out)
            });
            let workers = Workers::start(s, &text_of);
            // The next batch's stanzas are read while this one is compressed.
            let (to_main, next) = std::sync::mpsc::sync_channel(1);
            s.spawn(move || {
                let mut chunks = r.chunks();
                loop {
                    let batch = chunks.by_ref().take(batch()).collect::<Result<Vec<_>>>();
                    let last = batch.as_ref().map_or(true, Vec::is_empty);
                    if to_main.send(batch).is_err() || last {
                        break;
                    }
                }
            });
            let fed = (|| -> Result<()> {
                for batch in next {
                    let batch = batch?;
                    if batch.is_empty() {
                        break;
                    }
                    let mut texts = Vec::with_capacity(batch.len());
                    let mut sums = Vec::with_capacity(batch.len());
                    for text in workers.map(batch) {
                        let (text, sum) = text.map_err(spill_error)?;
                        texts.push(text);
                        sums.push(sum);
                    }
                    let texts = Arc::new(texts);
                    // A closed channel: that thread failed, its error is returned below.
                    let sent = to_writer.send(texts.clone()).is_ok()
                        && to_xz.send((texts.clone(), sums.clone())).is_ok();
                    if !sent {
                        break;
                    }
                    plain_d.update(&texts);
                    gz.push(&chunks_of(&texts, sums)).ctx("reading", &gz_path)?;
                    gz_out.put(gz.take())?;
                }
                Ok(())
            })();
            drop((to_writer, to_xz, workers));
            let outs = fed.and_then(|()| gz_out.put(gz.finish().ctx("reading", &gz_path)?));
            let xz_done = xz_thread.join().expect("xz thread");
            (writer.join().expect("writer thread"), xz_done, outs)
        });
        let xz_out = xz_done?;
        flushed.ctx("writing", plain.path())?;
        outs?;
        for (name, out) in [("Packages.xz", xz_out), ("Packages.gz", gz_out)] {
            let (tmp, d) = out.finish();
            pending.push((tmp, dir, format!("{rel}/{name}"), name, d));
        }
        // Renamed last: the uncompressed index is the one publishing reads back.
        let plain = plain.into_temp_path();
        pending.push((
            plain,
            dir,
            format!("{rel}/Packages"),
            "Packages",
            plain_d.finish(),
        ));
    }
    for (tmp, dir, key, name, d) in pending {
        release::link_by_hash(dir, &tmp, &d)?;
        let dest = dir.join(name);
        tmp.persist(&dest)
            .map_err(|e| Error::io("writing", &dest, e.error))?;
        written.push(dest);
        files.insert(key, d);
    }
    Ok(())
}

/// The chunks of a batch: their texts and checksums.
fn chunks_of(texts: &Batch, sums: Vec<[u8; 32]>) -> Vec<Chunk<'_>> {
    let texts = texts.iter().zip(sums);
    texts.map(|(data, sha256)| Chunk { data, sha256 }).collect()
}

/// A temporary file written a part at a time, each part checksummed as it is
/// written (each algorithm on its own thread).
struct Streamed {
    file: NamedTempFile,
    digests: PartsHasher,
}

impl Streamed {
    fn new(dir: &Path, name: &str, hashes: ReleaseHashes) -> Result<Streamed> {
        Ok(Streamed {
            file: open_temp(dir, name, b"")?,
            digests: PartsHasher::new(hashes),
        })
    }

    fn put(&mut self, part: Vec<u8>) -> Result<()> {
        if part.is_empty() {
            return Ok(());
        }
        self.file
            .write_all(&part)
            .ctx("writing", self.file.path())?;
        self.digests.update(&Arc::new(vec![part]));
        Ok(())
    }

    fn finish(self) -> (TempPath, Digests) {
        (self.file.into_temp_path(), self.digests.finish())
    }
}

/// [`replace_file`] (its directory created first); its path goes to
/// `written` (synced before the switch).
pub(super) fn write_atomic(dest: &Path, bytes: &[u8], written: &mut Vec<PathBuf>) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).ctx("creating", dir)?;
    replace_file(dest, bytes)?;
    written.push(dest.to_path_buf());
    Ok(())
}
