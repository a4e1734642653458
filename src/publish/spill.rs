//! The text of new packages' stanzas, kept on disk while a publish runs so
//! that memory does not grow with the number of packages read: each stanza
//! keeps in memory only the fields publishing looks at, and its text is read
//! back when its chunk of the index is written (`index::Rendered::chunk`).
//! The file has no name (`O_TMPFILE` where the filesystem has it, else
//! unlinked at once): nothing is left behind, whatever ends the process.

use crate::error::{Error, Result};
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

/// Packages read in one publish above which their stanzas are spilled (below
/// it the file costs more than the memory it saves).
pub const SPILL_ABOVE: usize = 64;

/// An append-only file of stanza texts, written by many threads at once.
#[derive(Debug)]
pub struct Spill {
    file: File,
    len: AtomicU64,
}

impl Spill {
    /// A new, empty spill file in `dir` (on the filesystem being published to).
    pub fn new(dir: &Path) -> Result<Spill> {
        let file = tempfile::tempfile_in(dir)
            .map_err(|e| Error::build(format!("cannot write into {}: {e}", dir.display())))?;
        Ok(Spill {
            file,
            len: AtomicU64::new(0),
        })
    }

    /// Append `bytes`; returns where they are.
    pub fn put(&self, bytes: &[u8]) -> io::Result<u64> {
        let at = self.len.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        self.file.write_all_at(bytes, at)?;
        Ok(at)
    }

    /// Append the `len` bytes at `at` (as [`Spill::put`] returned) to `out`.
    pub fn get(&self, at: u64, len: u32, out: &mut Vec<u8>) -> io::Result<()> {
        let start = out.len();
        out.resize(start + len as usize, 0);
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
        let at = crate::util::parallel::try_map(&texts, 8, |t| spill.put(t.as_bytes())).unwrap();
        let mut out = b"head:".to_vec();
        for (t, at) in texts.iter().zip(&at).rev() {
            spill.get(*at, t.len() as u32, &mut out).unwrap();
        }
        let want: String = texts.iter().rev().map(String::as_str).collect();
        assert_eq!(out, format!("head:{want}").into_bytes());
        // No name in the directory.
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }
}
