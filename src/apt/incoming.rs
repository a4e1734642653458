//! The packages given to a publish, read before the lock and kept on disk in
//! index order, so that memory does not grow with how many are given: what
//! stays in memory per package is its [`Table`] row (32 bytes) and which
//! `.deb` it was read from (4 bytes).
//!
//! They are read a run at a time: a run's packages on a few threads (each
//! `.deb` read once: checked, its control parsed, checksummed), their stanzas
//! sorted in memory and written to a file of their own. Runs are merged
//! [`FAN_IN`] at a time into longer ones as they pile up (so no more than a
//! few dozen are ever read side by side), and the last ones into one file in
//! index order, the table's. The same package given twice is published once
//! when the bytes are the same, else refused. Every file here is unnamed
//! (`spill.rs`): nothing is left behind.

use super::index::{Reader, Stanza, order};
use super::limits::MAX_STANZA;
use super::spill::Spill;
use super::table::Table;
use super::{debfile, pool};
use crate::debian::version;
use crate::error::{Error, IoContext, Result};
use crate::repo::stage;
use crate::util::merge::Merge;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Packages read and sorted in memory at a time.
const RUN: usize = 256;
/// Runs of one length merged into a longer one.
const FAN_IN: usize = 16;
/// How much of each run the merge reads at a time (many are read side by side).
const MERGE_BLOCK: usize = 16 << 10;
/// How much merged text is written at a time.
const WRITE_BLOCK: usize = 256 << 10;
/// What the files here are called in messages.
const NAME: &str = "the stanzas of the packages given";

/// The packages given, in index order.
pub(super) struct Incoming {
    pub table: Table,
    /// Per row: the index, among the `.deb` files given, of the one it was read from.
    pub src: Vec<u32>,
}

impl Incoming {
    /// No packages.
    pub(super) fn none() -> Incoming {
        Incoming {
            table: Table::default(),
            src: Vec::new(),
        }
    }
}

/// Read every one of `debs` (their stanzas naming pool paths in `component`);
/// the files go into `dir`.
pub(super) fn read(debs: &[PathBuf], component: &str, dir: &Path) -> Result<Incoming> {
    if u32::try_from(debs.len()).is_err() {
        return Err(Error::config("publish: over 4 billion packages given"));
    }
    // levels[l]: runs of about RUN * FAN_IN^l packages.
    let mut levels: Vec<Vec<Run>> = Vec::new();
    for (n, part) in debs.chunks(RUN).enumerate() {
        let stanzas = stage::stage_all_with(part, |src| {
            let deb = debfile::read(src, None)?;
            let filename = pool::pool_path(component, &deb.control);
            let stanza = Stanza::from_deb(&deb, &filename);
            // With its newline: what apt reads of it.
            let len = stanza.text_len() + 1;
            if len > MAX_STANZA {
                return Err(Error::config(format!(
                    "{}: its index stanza would be {len} bytes, over the limit of {MAX_STANZA} \
                     (apt cannot read a longer one)",
                    src.display()
                ))
                .with("shorten its control fields (Description, Depends...)"));
            }
            Ok(stanza)
        })?;
        let first = n * RUN;
        let mut read: Vec<(u32, Stanza)> = stanzas
            .into_iter()
            .enumerate()
            .map(|(i, s)| ((first + i) as u32, s))
            .collect();
        // Of the same package given twice, the one given first comes first.
        read.sort_by(|a, b| order(&a.1, &b.1).then(a.0.cmp(&b.0)));
        let mut run = Run::write(dir, read)?;
        for level in 0.. {
            if levels.len() == level {
                levels.push(Vec::new());
            }
            levels[level].push(run);
            if levels[level].len() < FAN_IN {
                break;
            }
            run = Run::merge(dir, std::mem::take(&mut levels[level]))?;
        }
    }
    merge(dir, levels.into_iter().flatten().collect(), debs)
}

/// Stanzas in index order in a file of their own, with where each came from.
struct Run {
    stanzas: Reader,
    src: std::vec::IntoIter<u32>,
}

impl Run {
    fn write(dir: &Path, read: Vec<(u32, Stanza)>) -> Result<Run> {
        let mut out = Out::new(dir)?;
        for (_, s) in &read {
            out.put(s)?;
        }
        let src: Vec<u32> = read.into_iter().map(|(i, _)| i).collect();
        Ok(Run {
            stanzas: Reader::over(out.finish()?, Path::new(NAME), MERGE_BLOCK),
            src: src.into_iter(),
        })
    }

    /// `runs` merged into one, in order (ties: the one given first).
    fn merge(dir: &Path, runs: Vec<Run>) -> Result<Run> {
        let mut out = Out::new(dir)?;
        let mut src = Vec::new();
        for item in merged(runs)? {
            let (_, (s, from)) = item?;
            out.put(&s)?;
            src.push(from);
        }
        Ok(Run {
            stanzas: Reader::over(out.finish()?, Path::new(NAME), MERGE_BLOCK),
            src: src.into_iter(),
        })
    }
}

impl Iterator for Run {
    type Item = Result<(Stanza, u32)>;

    fn next(&mut self) -> Option<Self::Item> {
        let s = self.stanzas.next()?;
        Some(s.map(|s| (s, self.src.next().expect("one per stanza"))))
    }
}

/// The stanzas of `runs`, in order; of the same package, the one given first.
fn merged(runs: Vec<Run>) -> Result<Merge<(Stanza, u32), Run>> {
    Merge::new(runs, |a, b| order(&a.0, &b.0).then(a.1.cmp(&b.1)))
}

/// A new file of stanzas, written a block at a time.
struct Out {
    file: Arc<Spill>,
    buf: Vec<u8>,
    /// Where the next stanza goes.
    at: u64,
}

impl Out {
    fn new(dir: &Path) -> Result<Out> {
        Ok(Out {
            file: Arc::new(Spill::new(dir)?),
            buf: Vec::with_capacity(WRITE_BLOCK + (4 << 10)),
            at: 0,
        })
    }

    /// Append `s` (and the blank line after it); returns where its text is and its length.
    fn put(&mut self, s: &Stanza) -> Result<(u64, u32)> {
        let at = self.at;
        let len = s.text_len();
        s.append_text(&mut self.buf)
            .ctx("reading", Path::new(NAME))?;
        self.buf.extend_from_slice(b"\n\n");
        self.at += len as u64 + 2;
        if self.buf.len() >= WRITE_BLOCK {
            self.flush()?;
        }
        Ok((at, len as u32))
    }

    fn flush(&mut self) -> Result<()> {
        self.file
            .append(&self.buf)
            .ctx("writing", Path::new(NAME))?;
        self.buf.clear();
        Ok(())
    }

    fn finish(mut self) -> Result<Arc<Spill>> {
        self.flush()?;
        Ok(self.file)
    }
}

/// The runs merged into the table's file (the same package given twice:
/// once, or refused when the bytes differ).
fn merge(dir: &Path, runs: Vec<Run>, debs: &[PathBuf]) -> Result<Incoming> {
    let mut out = Out::new(dir)?;
    let mut table = Table::over(out.file.clone(), PathBuf::from(NAME));
    let mut src = Vec::with_capacity(debs.len());
    let mut last: Option<(Stanza, u32)> = None;
    // The stanzas read of the current package and dpkg version (`1.0`, `0:1.0`
    // and `1.00` are one version to dpkg): one architecture twice is refused.
    let mut same_version: Vec<(Stanza, u32)> = Vec::new();
    for item in merged(runs)? {
        let (_, head) = item?;
        let (s, from) = &head;
        if same_version.first().is_some_and(|(f, _)| {
            f.package() != s.package() || !version::compare(f.version(), s.version()).is_eq()
        }) {
            same_version.clear();
        }
        if let Some((o, o_from)) = same_version
            .iter()
            .find(|(o, _)| o.arch() == s.arch() && o.version() != s.version())
        {
            return Err(Error::config(format!(
                "{} and {} given: one version to dpkg, with different contents: {} and {}",
                o.key(),
                s.key(),
                debs[*o_from as usize].display(),
                debs[*from as usize].display()
            )));
        }
        same_version.push(head.clone());
        if let Some((l, l_from)) = &last
            && order(l, s).is_eq()
        {
            if l.sha256() == s.sha256() {
                continue; // published once
            }
            return Err(crate::repo::duplicate::given_twice(
                &s.key(),
                &debs[*l_from as usize],
                &debs[*from as usize],
            ));
        }
        let (at, len) = out.put(s)?;
        table.push_at(0, at, len, s);
        src.push(*from);
        last = Some(head);
    }
    out.finish()?;
    Ok(Incoming {
        table: table.done(),
        src,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::state::test_stanza;

    fn run(dir: &Path, stanzas: &[(u32, Stanza)]) -> Run {
        let mut read = stanzas.to_vec();
        read.sort_by(|a, b| order(&a.1, &b.1).then(a.0.cmp(&b.0)));
        Run::write(dir, read).unwrap()
    }

    #[test]
    fn runs_merge_in_index_order_and_a_package_given_twice_is_kept_once() {
        let t = tempfile::tempdir().unwrap();
        let debs: Vec<PathBuf> = (0..7).map(|i| format!("{i}.deb").into()).collect();
        // Dpkg order inside a package (2 < 10); `b 1` given twice, same bytes.
        let one = run(
            t.path(),
            &[
                (0, test_stanza("b", "1", "amd64", "01")),
                (1, test_stanza("a", "10", "amd64", "02")),
                (2, test_stanza("c", "1", "all", "03")),
            ],
        );
        let two = run(
            t.path(),
            &[
                (3, test_stanza("a", "2", "amd64", "04")),
                (4, test_stanza("b", "1", "amd64", "01")),
                (5, test_stanza("a", "10", "arm64", "05")),
            ],
        );
        let three = run(t.path(), &[(6, test_stanza("a", "1", "amd64", "06"))]);
        // Two merged into a longer run first, then that with the third.
        let longer = Run::merge(t.path(), vec![one, two]).unwrap();
        let got = merge(t.path(), vec![longer, three], &debs).unwrap();
        let keys: Vec<String> = got
            .table
            .stream()
            .map(|s| s.unwrap().key().to_string())
            .collect();
        let want = [
            "a 1 (amd64)",
            "a 2 (amd64)",
            "a 10 (amd64)",
            "a 10 (arm64)",
            "b 1 (amd64)",
            "c 1 (all)",
        ];
        assert_eq!(keys, want);
        assert_eq!(got.src, [6, 3, 1, 5, 0, 2]);
        // Read again from the merged file: the whole text, found by key.
        let b1 = test_stanza("b", "1", "amd64", "01");
        assert_eq!(got.table.get(&b1.key()).unwrap().unwrap().text(), b1.text());
        assert_eq!(got.table.len(), 6);

        // Other bytes under the same key: refused, naming both files in the
        // order given.
        let one = run(t.path(), &[(1, test_stanza("b", "1", "amd64", "01"))]);
        let two = run(t.path(), &[(4, test_stanza("b", "1", "amd64", "ff"))]);
        let err = merge(t.path(), vec![two, one], &debs).err().unwrap();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.message
                .contains("b 1 (amd64) given twice with different contents: 1.deb and 4.deb"),
            "{err}"
        );
        // Nothing named was left in the directory.
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
    }
}
