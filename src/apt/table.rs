//! A component's stanzas as a table over the indices they were read from
//! (or over the file of the packages given, `incoming.rs`): per stanza where
//! its text is and a hash of its key, its fields read again when it is looked
//! at, in index order.

use super::index::{self, Key, Reader, Stanza, order};
use super::render::Stream;
use super::spill::Spill;
use crate::error::{Error, Result};
use crate::util::merge::Merge;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

/// A component's stanzas, one per key (package, version, architecture), in
/// the order indices list them ([`index::order`]). What stays in memory per
/// package is where its text is (16 bytes) and a hash of its key (16 bytes):
/// a stanza's fields are read again from its index when it is looked at, so
/// memory does not grow by the ~250 bytes each stanza's fields take.
/// Removing a stanza only marks it.
#[derive(Default)]
pub(super) struct Table {
    /// The indices read, with their paths (for errors).
    files: Vec<(Arc<Spill>, PathBuf)>,
    rows: Vec<Row>,
    /// (hash of the key, row), sorted: finds a key's row without reading others.
    by_key: Vec<(u64, u32)>,
    /// The architectures the stanzas name.
    arches: BTreeSet<String>,
}

/// Where a stanza's text is: `len` bytes at `at` of `files[file]`.
#[derive(Clone, Copy)]
struct Row {
    at: u64,
    len: u32,
    file: u16,
    gone: bool,
}

impl Table {
    /// The table of the stanzas of `indices` (each in index order, as cfy-ap
    /// writes them: merged as they are read); of stanzas with the same key the
    /// first is kept (an `all` package is listed in the index of every
    /// architecture). Indices in another order are read whole and sorted.
    pub(super) fn read(indices: Vec<Reader>) -> Result<Table> {
        let mut t = Table::default();
        for r in &indices {
            t.files.push((r.file().clone(), r.path().to_path_buf()));
        }
        let mut last: Option<Stanza> = None;
        for item in Merge::new(indices, order)? {
            let (i, s) = item?;
            match last.as_ref().map(|l| order(l, &s)) {
                // Only an index out of order makes the merge go backwards.
                Some(std::cmp::Ordering::Greater) => return Table::sorted(t.files),
                Some(std::cmp::Ordering::Equal) => continue,
                _ => {}
            }
            t.push(i, &s);
            last = Some(s);
        }
        Ok(t.done())
    }

    /// The table of `files` read whole and sorted (indices not in index order).
    fn sorted(files: Vec<(Arc<Spill>, PathBuf)>) -> Result<Table> {
        let mut all = Vec::new();
        for (i, (_, path)) in files.iter().enumerate() {
            for s in Reader::open(path)?.into_iter().flatten() {
                all.push((i, s?));
            }
        }
        // Stable: the first of equal keys stays first.
        all.sort_by(|a, b| order(&a.1, &b.1));
        all.dedup_by(|later, first| order(&later.1, &first.1).is_eq());
        let mut t = Table {
            files,
            ..Table::default()
        };
        for (i, s) in &all {
            t.push(*i, s);
        }
        Ok(t.done())
    }

    fn push(&mut self, file: usize, s: &Stanza) {
        let (_, at, len) = s.location().expect("a stanza read from an index");
        self.push_at(file, at, len, s);
    }

    /// A table over `file` (named `path` in errors), rows to be added in
    /// index order ([`Table::push_at`]) and the table then [`Table::done`].
    pub(super) fn over(file: Arc<Spill>, path: PathBuf) -> Table {
        Table {
            files: vec![(file, path)],
            ..Table::default()
        }
    }

    /// Add the stanza `s`, whose text is `len` bytes at `at` of `files[file]`.
    pub(super) fn push_at(&mut self, file: usize, at: u64, len: u32, s: &Stanza) {
        self.by_key.push((s.stable_hash(), self.rows.len() as u32));
        self.rows.push(Row {
            at,
            len,
            file: file as u16,
            gone: false,
        });
        if !self.arches.contains(s.arch()) {
            self.arches.insert(s.arch().to_string());
        }
    }

    /// The table, its rows all added.
    pub(super) fn done(mut self) -> Table {
        self.by_key.sort_unstable();
        self.rows.shrink_to_fit();
        self.by_key.shrink_to_fit();
        self
    }

    /// How many rows (removed ones included).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.rows.len()
    }

    /// Mark row `i` removed.
    pub(super) fn drop_row(&mut self, i: usize) {
        self.rows[i].gone = true;
    }

    /// The stanza of row `i` (removed or not), read again from its index.
    pub(super) fn row(&self, i: usize) -> Result<Stanza> {
        let r = self.rows[i];
        let (file, path) = &self.files[usize::from(r.file)];
        let mut text = Vec::with_capacity(r.len as usize);
        file.get(r.at, r.len as usize, &mut text)
            .map_err(|e| Error::io("reading", path, e))?;
        index::reread(file, r.at, &text, path)
    }

    fn find(&self, key: &Key) -> Result<Option<(usize, Stanza)>> {
        let h = key.stable_hash();
        let from = self.by_key.partition_point(|(k, _)| *k < h);
        for &(_, i) in self.by_key[from..].iter().take_while(|(k, _)| *k == h) {
            let i = i as usize;
            if !self.rows[i].gone {
                let s = self.row(i)?;
                if s.key() == *key {
                    return Ok(Some((i, s)));
                }
            }
        }
        Ok(None)
    }

    pub(super) fn get(&self, key: &Key) -> Result<Option<Stanza>> {
        Ok(self.find(key)?.map(|(_, s)| s))
    }

    /// Drop the stanza of `key`, returning it.
    pub(super) fn remove(&mut self, key: &Key) -> Result<Option<Stanza>> {
        let found = self.find(key)?;
        if let Some((i, _)) = &found {
            self.rows[*i].gone = true;
        }
        Ok(found.map(|(_, s)| s))
    }

    /// The stanzas left of package `name`, in order: found by halving (a few
    /// stanzas read again), not by reading them all.
    pub(super) fn named(&self, name: &str) -> Result<Vec<Stanza>> {
        let (mut lo, mut hi) = (0, self.rows.len());
        while lo < hi {
            let mid = (lo + hi) / 2;
            match self.row(mid)?.package() < name {
                true => lo = mid + 1,
                false => hi = mid,
            }
        }
        let mut out = Vec::new();
        for i in lo..self.rows.len() {
            let s = self.row(i)?;
            if s.package() != name {
                break;
            }
            if !self.rows[i].gone {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The architectures named by the stanzas read (removed ones included).
    pub(super) fn arches(&self) -> &BTreeSet<String> {
        &self.arches
    }

    /// The stanzas left, in order, read again from their indices a block at
    /// a time.
    pub(super) fn stream(&self) -> Stream<'_> {
        Box::new(self.rows(false).map(|r| r.map(|(_, s)| s)))
    }

    /// Every row with its number, in order (removed ones too with
    /// `removed`), read a block at a time.
    pub(super) fn rows(&self, removed: bool) -> Rows<'_> {
        Rows {
            table: self,
            next: 0,
            removed,
            windows: vec![(0, Vec::new()); self.files.len()],
        }
    }
}

/// [`Table::rows`]: each index is read through a window of a block.
pub(super) struct Rows<'a> {
    table: &'a Table,
    next: usize,
    removed: bool,
    /// Per index: the offset of a block read from it, and the block.
    windows: Vec<(u64, Vec<u8>)>,
}

impl Rows<'_> {
    fn read(&mut self, r: Row) -> Result<Stanza> {
        let (file, path) = &self.table.files[usize::from(r.file)];
        let (start, block) = &mut self.windows[usize::from(r.file)];
        let end = r.at + u64::from(r.len);
        if r.at < *start || end > *start + block.len() as u64 {
            *start = r.at;
            // A block, or what is left of the file when that is less.
            let left = usize::try_from(file.len().saturating_sub(r.at)).unwrap_or(usize::MAX);
            block.resize((r.len as usize).max(index::READ_BLOCK.min(left)), 0);
            let mut got = 0;
            while got < block.len() {
                let n = file.read_some(r.at + got as u64, &mut block[got..]);
                match n.map_err(|e| Error::io("reading", path, e))? {
                    0 => break,
                    n => got += n,
                }
            }
            block.truncate(got);
            if got < r.len as usize {
                return Err(Error::build(format!("{} was cut short", path.display())));
            }
        }
        let from = (r.at - *start) as usize;
        index::reread(file, r.at, &block[from..from + r.len as usize], path)
    }
}

impl Iterator for Rows<'_> {
    type Item = Result<(usize, Stanza)>;

    fn next(&mut self) -> Option<Result<(usize, Stanza)>> {
        while let Some(&r) = self.table.rows.get(self.next) {
            self.next += 1;
            if !r.gone || self.removed {
                return Some(self.read(r).map(|s| (self.next - 1, s)));
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::state::test_stanza as stanza;
    use std::fs;
    use std::path::Path;

    /// A table of `files` (name, text) written to `dir`.
    fn table(dir: &Path, files: &[(&str, String)]) -> Table {
        let readers = files.iter().map(|(name, text)| {
            let path = dir.join(name);
            fs::write(&path, text).unwrap();
            Reader::open(&path).unwrap().unwrap()
        });
        Table::read(readers.collect()).unwrap()
    }

    fn index(stanzas: &[Stanza]) -> String {
        stanzas
            .iter()
            .map(|s| format!("{}\n\n", s.text()))
            .collect()
    }

    #[test]
    fn table_finds_keeps_the_first_of_a_key_and_removes_by_marking() {
        let t = tempfile::tempdir().unwrap();
        // Two indices in index order (dpkg versions: 2 < 10), merged; the
        // same `all` package in both, with other bytes in the second.
        let amd64 = index(&[
            stanza("a", "2", "all", "02"),
            stanza("a", "10", "amd64", "03"),
            stanza("b", "1", "amd64", "01"),
        ]);
        let arm64 = index(&[
            stanza("a", "2", "all", "04"),
            stanza("c", "1", "arm64", "05"),
        ]);
        let mut t = table(t.path(), &[("amd64", amd64.clone()), ("arm64", arm64)]);
        let order = |t: &Table| -> Vec<String> {
            t.stream().map(|s| s.unwrap().key().to_string()).collect()
        };
        let want = ["a 2 (all)", "a 10 (amd64)", "b 1 (amd64)", "c 1 (arm64)"];
        assert_eq!(order(&t), want);
        let arches: Vec<&str> = t.arches().iter().map(String::as_str).collect();
        assert_eq!(arches, ["all", "amd64", "arm64"]);
        let a2 = stanza("a", "2", "all", "ff").key();
        assert_eq!(t.get(&a2).unwrap().unwrap().sha256(), "02");
        assert!(
            t.get(&stanza("a", "10", "amd64", "00").key())
                .unwrap()
                .is_some()
        );
        assert!(
            t.get(&stanza("a", "1", "amd64", "00").key())
                .unwrap()
                .is_none()
        );
        // Read again from the index: the same text, the same place.
        let got = t.get(&a2).unwrap().unwrap();
        assert_eq!(got.text(), stanza("a", "2", "all", "02").text());
        assert_eq!(got.location().map(|(_, at, _)| at), Some(0));

        assert_eq!(t.remove(&a2).unwrap().unwrap().sha256(), "02");
        assert!(t.get(&a2).unwrap().is_none());
        assert!(t.remove(&a2).unwrap().is_none());
        let left: Vec<String> = t.stream().map(|s| s.unwrap().sha256().into()).collect();
        assert_eq!(left, ["03", "01", "05"]);
        let named = |t: &Table, name| -> Vec<String> {
            let got = t.named(name).unwrap();
            got.iter().map(|s| s.key().to_string()).collect()
        };
        assert_eq!(named(&t, "a"), ["a 10 (amd64)"]);
        assert_eq!(named(&t, "c"), ["c 1 (arm64)"]);
        assert!(named(&t, "b0").is_empty() && named(&t, "0").is_empty());
        assert!(named(&t, "z").is_empty());

        // An index in another order (another tool's) is sorted.
        let dir = tempfile::tempdir().unwrap();
        let unsorted = index(&[
            stanza("b", "1", "amd64", "01"),
            stanza("a", "10", "amd64", "03"),
            stanza("a", "2", "all", "02"),
        ]);
        let t = table(dir.path(), &[("amd64", unsorted)]);
        assert_eq!(order(&t), want[..3]);
        assert_eq!(t.get(&a2).unwrap().unwrap().sha256(), "02");
    }
}
