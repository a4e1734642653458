//! A `Packages` file to write, produced from an ordered stream of stanzas a
//! chunk at a time: neither the file's text nor its list of stanzas is ever
//! held whole, so memory does not grow with the index.
//!
//! Chunk boundaries depend only on the stanzas next to them (a hash of the
//! package key), so adding a package changes one chunk and leaves the others
//! byte-identical (a `Packages.gz` member, a `Packages.xz` block: see
//! [`crate::codec::gz_reuse`], [`crate::codec::xz_reuse`]).

use super::index::{self, Stanza};
use super::spill::Spill;
use crate::error::Result;
use crate::util::merge::Merge;
use std::io;
use std::sync::Arc;

/// Average stanzas per chunk, and the most.
const CHUNK_EVERY: u64 = 32;
const CHUNK_MAX: usize = 128;

/// Stanzas in the order they are written ([`index::order`]).
pub(super) type Stream<'a> = Box<dyn Iterator<Item = Result<Stanza>> + Send + 'a>;

/// A `Packages` file to write: a way to stream its stanzas, in order, as
/// often as it is read (to compare it with the file there, to write it).
pub(super) struct Rendered<'a> {
    source: Box<dyn Fn() -> Stream<'a> + Send + Sync + 'a>,
}

impl<'a> Rendered<'a> {
    /// The file `source` streams (in order, no key twice).
    pub(super) fn new(source: impl Fn() -> Stream<'a> + Send + Sync + 'a) -> Rendered<'a> {
        Rendered {
            source: Box::new(source),
        }
    }

    /// The file of `stanzas`, sorted here.
    #[cfg(test)]
    pub(super) fn sorted(mut stanzas: Vec<&'a Stanza>) -> Rendered<'a> {
        stanzas.sort_by(|a, b| index::order(a, b));
        Rendered::new(move || Box::new(stanzas.clone().into_iter().cloned().map(Ok)))
    }

    /// Its chunks, in order: runs of whole stanzas.
    pub(super) fn chunks(&self) -> Chunks<'a> {
        Chunks {
            stream: (self.source)(),
        }
    }

    /// Whether `current` (an index read in place) holds exactly this file.
    /// Stanzas read from it, in its order, are not read again.
    pub(super) fn is(&self, current: &Arc<Spill>) -> Result<bool> {
        let len = current.len();
        // Where the next stanza must start; after a stanza read from
        // `current`, the two bytes that must be a blank line.
        let mut pos = 0u64;
        let mut gap = None;
        let (mut want, mut have) = (Vec::new(), Vec::new());
        let blank = |at: u64, have: &mut Vec<u8>| -> io::Result<bool> {
            have.clear();
            Ok(at + 2 <= len && {
                current.get(at, 2, have)?;
                have == b"\n\n"
            })
        };
        for s in (self.source)() {
            let s = s?;
            // A stanza right after another one read from there is preceded by
            // a blank line (see `follows`).
            if let Some((file, at, l)) = s.location()
                && Arc::ptr_eq(file, current)
                && at == pos
            {
                gap = Some(at + u64::from(l));
                pos = at + u64::from(l) + 2;
                continue;
            }
            if let Some(at) = gap.take()
                && !blank(at, &mut have).map_err(unreadable)?
            {
                return Ok(false);
            }
            want.clear();
            s.append_text(&mut want).map_err(unreadable)?;
            want.extend_from_slice(b"\n\n");
            have.clear();
            if pos + want.len() as u64 > len {
                return Ok(false);
            }
            current
                .get(pos, want.len(), &mut have)
                .map_err(unreadable)?;
            if have != want {
                return Ok(false);
            }
            pos += want.len() as u64;
        }
        if let Some(at) = gap
            && !blank(at, &mut have).map_err(unreadable)?
        {
            return Ok(false);
        }
        Ok(pos == len)
    }

    /// The whole text (tests).
    #[cfg(test)]
    pub(super) fn text(&self) -> String {
        let mut bytes = Vec::new();
        for chunk in self.chunks() {
            bytes.extend(text(&chunk.unwrap()).unwrap());
        }
        String::from_utf8(bytes).expect("stanzas are text")
    }
}

fn unreadable(e: io::Error) -> crate::error::Error {
    crate::error::Error::build(format!("cannot read back a stanza: {e}"))
}

/// The chunks of a [`Rendered`] file, in order.
pub(super) struct Chunks<'a> {
    stream: Stream<'a>,
}

impl Iterator for Chunks<'_> {
    type Item = Result<Vec<Stanza>>;

    fn next(&mut self) -> Option<Result<Vec<Stanza>>> {
        let mut chunk = Vec::new();
        for s in self.stream.by_ref() {
            let s = match s {
                Ok(s) => s,
                Err(e) => return Some(Err(e)),
            };
            let last = s.stable_hash().is_multiple_of(CHUNK_EVERY) || chunk.len() + 1 == CHUNK_MAX;
            chunk.push(s);
            if last {
                break;
            }
        }
        (!chunk.is_empty()).then_some(Ok(chunk))
    }
}

/// The text of a chunk: its stanzas, each ended by a blank line. Stanzas next
/// to each other in the same file (an index read in place) are read from it
/// in one go, blank lines between them included.
pub(super) fn text(stanzas: &[Stanza]) -> io::Result<Vec<u8>> {
    let mut out = Vec::with_capacity(stanzas.iter().map(|s| s.text_len() + 2).sum());
    let mut rest = stanzas;
    while let Some((first, _)) = rest.split_first() {
        let run = 1 + rest
            .windows(2)
            .take_while(|w| follows(&w[0], &w[1]))
            .count();
        match (first.location(), rest[run - 1].location()) {
            (Some((file, at, _)), Some((_, last, len))) if run > 1 => {
                let end = last + u64::from(len);
                file.get(at, (end - at) as usize, &mut out)?;
            }
            _ => first.append_text(&mut out)?,
        }
        out.extend_from_slice(b"\n\n");
        rest = &rest[run..];
    }
    Ok(out)
}

/// Whether `b`'s text comes right after `a`'s in the same file, with only a
/// blank line between them. Two bytes between two paragraphs can only be
/// `"\n\n"`: a paragraph's text ends where its last line's newline is
/// (trailing blanks trimmed) and the next one starts a line; the file of new
/// packages' stanzas puts a blank line after each text (`incoming.rs`).
fn follows(a: &Stanza, b: &Stanza) -> bool {
    match (a.location(), b.location()) {
        (Some((fa, at_a, len_a)), Some((fb, at_b, _))) => {
            Arc::ptr_eq(fa, fb) && at_b == at_a + u64::from(len_a) + 2
        }
        _ => false,
    }
}

/// `old` (a stream in order) and `new` (sorted, no key of `old`) as one
/// stream in order.
pub(super) fn merged<'a>(old: Stream<'a>, new: Stream<'a>) -> Stream<'a> {
    match Merge::new(vec![old, new], index::order) {
        Ok(m) => Box::new(m.map(|item| item.map(|(_, s)| s))),
        Err(e) => Box::new(std::iter::once(Err(e))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::index::Reader;
    use crate::apt::state::test_stanza;

    #[test]
    fn an_index_merged_with_new_stanzas_is_the_whole_sorted() {
        // 300 packages, every third one new; the rest in an index file.
        let all: Vec<Stanza> = (0..300)
            .map(|i| {
                test_stanza(
                    &format!("p{:03}", i / 3),
                    &format!("1.{}", 10 - i % 3),
                    "all",
                    "00",
                )
            })
            .collect();
        let (new, old): (Vec<&Stanza>, Vec<&Stanza>) =
            all.iter().partition(|s| s.version() == "1.9");
        let mut old_sorted = old.clone();
        old_sorted.sort_by(|a, b| index::order(a, b));
        let t = tempfile::tempdir().unwrap();
        let path = t.path().join("Packages");
        std::fs::write(&path, Rendered::sorted(old_sorted).text()).unwrap();
        let whole = Rendered::sorted(all.iter().collect());

        let mut new_sorted = new.clone();
        new_sorted.sort_by(|a, b| index::order(a, b));
        let merged = Rendered::new(|| {
            let old = Reader::open(&path).unwrap().unwrap();
            let new = new_sorted.clone().into_iter().cloned().map(Ok);
            merged(Box::new(old), Box::new(new))
        });
        assert_eq!(merged.text(), whole.text());
        // Dpkg order inside a package (1.8 < 1.9 < 1.10), and the same chunks.
        assert!(whole.text().starts_with("Package: p000\nVersion: 1.8\n"));
        let sizes = |r: &Rendered| r.chunks().map(|c| c.unwrap().len()).collect::<Vec<_>>();
        assert_eq!(sizes(&merged), sizes(&whole));
        assert!(sizes(&whole).len() > 3 && sizes(&whole).iter().all(|n| *n <= CHUNK_MAX));
        // The file read back is recognised as the old stanzas, not as all of them.
        let file = Reader::open(&path).unwrap().unwrap().file().clone();
        assert!(!merged.is(&file).unwrap());
        let old_only = Rendered::new(|| Box::new(Reader::open(&path).unwrap().unwrap()));
        assert!(old_only.is(&file).unwrap());
    }
}
