//! Files of stanza texts, so that memory does not grow with the number of
//! packages: stanzas are read again from them when they are looked at or
//! written. Two kinds: the existing `Packages` indices, read in place
//! ([`Spill::open`]), and the new packages' stanzas, kept on disk while a
//! publish runs ([`Spill::new`], `incoming.rs`). Those files have no name
//! (`O_TMPFILE` where the filesystem has it, else unlinked at once): nothing is
//! left behind, whatever ends the process.

use crate::error::{Error, Result};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// A file of stanza texts: an existing index (read only), or an append-only
/// spill file written by many threads at once.
#[derive(Debug)]
pub(super) struct Spill {
    file: File,
    len: AtomicU64,
}

impl Spill {
    /// A new, empty spill file in `dir` (on the filesystem being published to).
    pub(super) fn new(dir: &Path) -> Result<Spill> {
        let file =
            tempfile::tempfile_in(dir).map_err(|e| Error::io("cannot write into", dir, e))?;
        Ok(Spill {
            file,
            len: AtomicU64::new(0),
        })
    }

    /// An existing file, to read stanzas from.
    pub(super) fn open(path: &Path) -> io::Result<Spill> {
        let file = File::open(path)?;
        let len = file.metadata()?.len();
        Ok(Spill {
            file,
            len: AtomicU64::new(len),
        })
    }

    /// The file's length.
    pub(super) fn len(&self) -> u64 {
        self.len.load(Ordering::Relaxed)
    }

    /// Read what is at `at` into `buf`, as much as there is (0 at the end).
    pub(super) fn read_some(&self, at: u64, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.file.read_at(buf, at) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => return r,
            }
        }
    }

    /// Append `bytes` (several threads may append at once); returns where
    /// they are.
    pub(super) fn append(&self, bytes: &[u8]) -> io::Result<u64> {
        let at = self.len.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.file.write_all_at(bytes, at)?;
        Ok(at)
    }

    /// Append the `len` bytes at `at` to `out`.
    pub(super) fn get(&self, at: u64, len: usize, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.resize(start + len, 0);
        self.file.read_exact_at(&mut out[start..], at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn threads_append_and_read_back() {
        let t = tempfile::tempdir().unwrap();
        let spill = Spill::new(t.path()).unwrap();
        let texts: Vec<String> = (0..200).map(|i| format!("stanza {i}\n")).collect();
        let at = crate::util::parallel::try_map(&texts, 8, |t| spill.append(t.as_bytes())).unwrap();
        let mut out = b"head:".to_vec();
        for (t, at) in texts.iter().zip(&at).rev() {
            spill.get(*at, t.len(), &mut out).unwrap();
        }
        let want: String = texts.iter().rev().map(String::as_str).collect();
        assert_eq!(out, format!("head:{want}").into_bytes());
        // No name in the directory.
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }
}
