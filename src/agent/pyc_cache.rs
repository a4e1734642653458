//! The bytecode cache: `.pyc` compiled by earlier builds, reused when nothing
//! that shapes their bytes changed (config `bytecode_cache`, default on).
//!
//! An entry is keyed by the sha256 of everything its bytes depend on: the
//! interpreter (magic number, cache tag, full `sys.version`), the invalidation
//! mode (checked-hash with `SOURCE_DATE_EPOCH`, else timestamp), the compiling
//! script itself (a change to it is a new key), the path the file is compiled
//! under (it is embedded as `co_filename`) and the sha256 of the source. The
//! script makes each file's bytes independent of what its process compiled
//! before (`bytecode`), so a cached `.pyc` is the one a fresh compile writes.
//! In timestamp mode the header's mtime and size are those of the file at hand.
//!
//! The entries a build adds go into one pack file (`<name>.pack`: `PACK`, then
//! per entry its key, the payload's length and sha256, the payload: the whole
//! `.pyc`), not one file per entry: on a slow disk creating a file per entry
//! made a build with a cold cache slower than one without a cache. Every pack is
//! read when the cache is opened; an entry that does not verify (truncated,
//! flipped, another interpreter's) is a miss, and the next pack holding the key
//! is tried; the fresh compile goes into this build's pack. A pack is written to
//! a temporary file and renamed, so concurrent builds never see half of one.
//! When a build finds `MERGE_AT` packs or more, its pack takes every intact
//! entry of those too and they are removed (a concurrent build that misses them
//! only compiles). The cache lives outside the venv (see `plan::bytecode_cache`): nothing
//! of it goes into the agent but the `.pyc` themselves.

use super::python::PycId;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Write;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// Part of every key too: a new format is a new set of keys.
const MAGIC: &[u8] = b"cfy-ap pyc 1\n";
/// The start of a pack file.
const PACK: &[u8] = b"cfy-ap pyc pack 1\n";
/// Key (hex), payload length (u32 LE), payload sha256.
const RECORD_HEAD: usize = 64 + 4 + 32;
/// How many packs a build merges into its own.
const MERGE_AT: usize = 16;
/// The largest pack read (README "Limits"); larger ones are skipped, and no
/// build writes one. A build of the test fixtures' agent writes 614 entries in
/// 5.8 MB (about 9.4 kB each): this is some 27,000 `.pyc`, over 40 such agents.
pub(super) const MAX_PACK: u64 = 256 << 20;

pub(super) struct PycCache {
    root: PathBuf,
    /// Hash state over interpreter, mode and script: each key goes on from it.
    base: Sha256,
    magic: Vec<u8>,
    checked: bool,
    /// The packs read when the cache was opened: (path, bytes).
    packs: Vec<(PathBuf, Vec<u8>)>,
    /// Key → where its records are: (pack, record head..end), in pack order.
    index: HashMap<String, Vec<(usize, Range<usize>)>>,
    /// `*.pack` names left out when the cache was opened, and why (for `-v`).
    pub skipped: Vec<String>,
}

impl PycCache {
    /// Open the cache at `root`, reading every pack in it (an unreadable or
    /// foreign file is left out: its entries are misses; so is anything but a
    /// regular file of at most `MAX_PACK` bytes, see `skipped`). Stops reading
    /// when a signal arrives (the run is stopping).
    pub(super) fn new(root: &Path, id: &PycId, checked: bool, script: &str) -> PycCache {
        let mut base = Sha256::new();
        for part in [
            MAGIC,
            id.line.as_bytes(),
            if checked { b"checked" } else { b"timestamp" },
            script.as_bytes(),
        ] {
            base.update((part.len() as u64).to_le_bytes());
            base.update(part);
        }
        let mut names: Vec<PathBuf> = std::fs::read_dir(root)
            .map(|d| {
                d.flatten()
                    .map(|e| e.path())
                    .filter(|p| p.extension().is_some_and(|x| x == "pack"))
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        let mut cache = PycCache {
            root: root.to_path_buf(),
            base,
            magic: id.magic.clone(),
            checked,
            packs: Vec::new(),
            index: HashMap::new(),
            skipped: Vec::new(),
        };
        for path in names {
            if crate::util::signals::pending().is_some() {
                break;
            }
            let bytes = match crate::util::input::read_regular(&path, MAX_PACK) {
                Ok(b) => b,
                Err(why) => {
                    cache.skipped.push(format!("{}: {why}", path.display()));
                    continue;
                }
            };
            if !bytes.starts_with(PACK) {
                cache
                    .skipped
                    .push(format!("{}: not a pack of this format", path.display()));
                continue;
            }
            let n = cache.packs.len();
            for (key, range) in records(&bytes) {
                cache.index.entry(key).or_default().push((n, range));
            }
            cache.packs.push((path, bytes));
        }
        cache
    }

    pub(super) fn root(&self) -> &Path {
        &self.root
    }

    /// The key of `source` compiled under the path `compiled_as`.
    pub(super) fn key(&self, compiled_as: &Path, source: &[u8]) -> String {
        let mut h = self.base.clone();
        let path = compiled_as.as_os_str().as_encoded_bytes();
        h.update((path.len() as u64).to_le_bytes());
        h.update(path);
        h.update(Sha256::digest(source));
        hex::encode(h.finalize())
    }

    /// The first intact `.pyc` stored under `key` (see `verify`).
    fn intact(&self, key: &str) -> Option<&[u8]> {
        self.index.get(key)?.iter().find_map(|(pack, range)| {
            let record = &self.packs[*pack].1[range.clone()];
            let (sum, pyc) = record[64 + 4..].split_at(32);
            (Sha256::digest(pyc).as_slice() == sum && self.verify_len(pyc).is_some()).then_some(pyc)
        })
    }

    /// The cached `.pyc`, if present and intact; `mtime_size` is the source's,
    /// for the header of a timestamp-based `.pyc`.
    pub(super) fn load(&self, key: &str, mtime_size: (u32, u32)) -> Option<Vec<u8>> {
        let mut pyc = self.intact(key)?.to_vec();
        if !self.checked {
            pyc[8..12].copy_from_slice(&mtime_size.0.to_le_bytes());
            pyc[12..16].copy_from_slice(&mtime_size.1.to_le_bytes());
        }
        Some(pyc)
    }

    /// Keep `entries` ((key, `.pyc`)) in one new pack; how many went in (a
    /// cache is never a reason for a build to fail: 0 when it cannot be
    /// written). With `MERGE_AT` packs or more, their intact entries go in too
    /// and the old packs are removed.
    pub(super) fn store(&self, entries: &[(String, Vec<u8>)]) -> usize {
        let mut pack = PACK.to_vec();
        let mut stored = 0;
        let mut seen = std::collections::HashSet::new();
        // Never more than a build reads back (MAX_PACK): what does not fit is a miss.
        let fits =
            |pack: &Vec<u8>, pyc: &[u8]| (pack.len() + RECORD_HEAD + pyc.len()) as u64 <= MAX_PACK;
        for (key, pyc) in entries {
            if key.len() != 64
                || self.verify_len(pyc).is_none()
                || !fits(&pack, pyc)
                || !seen.insert(key.as_str())
            {
                continue;
            }
            push_record(&mut pack, key, pyc);
            stored += 1;
        }
        let merge = self.packs.len() >= MERGE_AT;
        if merge {
            let mut keys: Vec<&String> = self.index.keys().collect();
            keys.sort();
            for key in keys {
                if seen.insert(key.as_str())
                    && let Some(pyc) = self.intact(key)
                    && fits(&pack, pyc)
                {
                    push_record(&mut pack, key, pyc);
                }
            }
        }
        if pack.len() == PACK.len() || std::fs::create_dir_all(&self.root).is_err() {
            return 0;
        }
        let Ok(mut tmp) = tempfile::Builder::new()
            .prefix(".tmp.")
            .tempfile_in(&self.root)
        else {
            return 0;
        };
        let name = hex::encode(&Sha256::digest(&pack)[..12]) + ".pack";
        if tmp.write_all(&pack).is_err() || tmp.persist(self.root.join(name)).is_err() {
            return 0;
        }
        if merge {
            for (path, _) in &self.packs {
                let _ = std::fs::remove_file(path);
            }
        }
        stored
    }

    /// Only whole `.pyc` of this interpreter and mode go in.
    fn verify_len(&self, pyc: &[u8]) -> Option<()> {
        let flags: u32 = if self.checked { 0b11 } else { 0 };
        (pyc.len() >= 16 && pyc[..4] == self.magic[..] && pyc[4..8] == flags.to_le_bytes())
            .then_some(())
    }
}

fn push_record(pack: &mut Vec<u8>, key: &str, pyc: &[u8]) {
    pack.extend_from_slice(key.as_bytes());
    pack.extend_from_slice(&(pyc.len() as u32).to_le_bytes());
    pack.extend_from_slice(&Sha256::digest(pyc));
    pack.extend_from_slice(pyc);
}

/// The records of a pack, (key, head..end), up to the first that is cut short
/// or whose key is not hex (the rest of a damaged pack are misses).
fn records(pack: &[u8]) -> Vec<(String, Range<usize>)> {
    let mut out = Vec::new();
    let mut at = PACK.len();
    while pack.len() - at >= RECORD_HEAD {
        let key = &pack[at..at + 64];
        if !key.iter().all(|b| b.is_ascii_hexdigit()) {
            break;
        }
        let len = u32::from_le_bytes(pack[at + 64..at + 68].try_into().expect("4 bytes")) as usize;
        let end = at + RECORD_HEAD + len;
        if end > pack.len() {
            break;
        }
        out.push((String::from_utf8_lossy(key).into_owned(), at..end));
        at = end;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> PycId {
        PycId {
            magic: vec![0x42, 0x0d, 0x0d, 0x0a],
            cache_tag: "cpython-37".into(),
            minor: 7,
            line: "pyc 420d0d0a cpython-37 7 3.7.16".into(),
        }
    }

    fn pyc(flags: u32) -> Vec<u8> {
        let mut p = vec![0x42, 0x0d, 0x0d, 0x0a];
        p.extend(flags.to_le_bytes());
        p.extend([7u8; 8]);
        p.extend(b"marshalled code");
        p
    }

    #[test]
    fn keys_follow_everything_that_shapes_the_bytes() {
        let d = tempfile::tempdir().unwrap();
        let c = PycCache::new(d.path(), &id(), true, "script");
        let k = c.key(Path::new("/a/x.py"), b"x = 1\n");
        assert_eq!(k, c.key(Path::new("/a/x.py"), b"x = 1\n"));
        assert_ne!(k, c.key(Path::new("/b/x.py"), b"x = 1\n"));
        assert_ne!(k, c.key(Path::new("/a/x.py"), b"x = 2\n"));
        let other = |checked, script: &str, line: &str| {
            let mut i = id();
            i.line = line.into();
            PycCache::new(d.path(), &i, checked, script).key(Path::new("/a/x.py"), b"x = 1\n")
        };
        assert_ne!(k, other(false, "script", &id().line));
        assert_ne!(k, other(true, "script2", &id().line));
        assert_ne!(k, other(true, "script", "pyc 420d0d0a cpython-37 7 3.7.17"));
    }

    fn packs(dir: &Path) -> Vec<PathBuf> {
        let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.path())
            .collect();
        v.sort();
        v
    }

    #[test]
    fn stored_entries_load_and_damaged_ones_do_not() {
        let d = tempfile::tempdir().unwrap();
        let open = || PycCache::new(d.path(), &id(), true, "s");
        let c = open();
        let (k, k2) = (
            c.key(Path::new("/a/x.py"), b"x"),
            c.key(Path::new("/a/y.py"), b"y"),
        );
        assert_eq!(c.load(&k, (0, 0)), None);
        let mut other = pyc(3);
        other.extend(b" of y");
        assert_eq!(
            c.store(&[(k.clone(), pyc(3)), (k2.clone(), other.clone())]),
            2
        );
        // One pack, no temporary file beside it; read when the cache is opened.
        let files = packs(d.path());
        assert_eq!(files.len(), 1, "{files:?}");
        assert!(files[0].extension().is_some_and(|x| x == "pack"));
        assert_eq!(c.load(&k, (0, 0)), None);
        let c = open();
        assert_eq!(c.load(&k, (1, 2)), Some(pyc(3)));
        assert_eq!(c.load(&k2, (1, 2)), Some(other.clone()));
        let good = std::fs::read(&files[0]).unwrap();
        // A flipped payload byte: that entry is a miss, the other one is not.
        let mut flipped = good.clone();
        let at = PACK.len() + RECORD_HEAD + 20;
        flipped[at] ^= 1;
        std::fs::write(&files[0], &flipped).unwrap();
        let c = open();
        assert_eq!(c.load(&k, (0, 0)), None);
        assert_eq!(c.load(&k2, (0, 0)), Some(other.clone()));
        // Repaired by a later pack.
        assert_eq!(c.store(&[(k.clone(), pyc(3))]), 1);
        assert_eq!(open().load(&k, (0, 0)), Some(pyc(3)));
        std::fs::remove_file(&files[0]).unwrap();
        // Cut short, emptied, or not a pack at all: misses.
        for bad in [
            good[..good.len() - 3].to_vec(),
            Vec::new(),
            b"junk".to_vec(),
        ] {
            std::fs::write(&files[0], &bad).unwrap();
            assert_eq!(open().load(&k2, (0, 0)), None);
        }
        std::fs::write(&files[0], &good[..good.len() - 3]).unwrap();
        assert_eq!(open().load(&k, (0, 0)), Some(pyc(3)));
        // A timestamp-mode or foreign .pyc is never stored in a checked cache.
        assert_eq!(c.store(&[(k.clone(), pyc(0))]), 0);
        let mut foreign = pyc(3);
        foreign[0] = 0x55;
        assert_eq!(c.store(&[(k.clone(), foreign)]), 0);
    }

    #[test]
    fn many_packs_are_merged_into_one() {
        let d = tempfile::tempdir().unwrap();
        let open = || PycCache::new(d.path(), &id(), true, "s");
        let mut keys = Vec::new();
        for i in 0..MERGE_AT {
            let c = open();
            let k = c.key(Path::new("/a/x.py"), i.to_string().as_bytes());
            assert_eq!(c.store(&[(k.clone(), pyc(3))]), 1);
            keys.push(k);
        }
        assert_eq!(packs(d.path()).len(), MERGE_AT);
        let c = open();
        let k = c.key(Path::new("/a/new.py"), b"new");
        assert_eq!(c.store(&[(k.clone(), pyc(3))]), 1);
        assert_eq!(packs(d.path()).len(), 1);
        keys.push(k);
        let c = open();
        for k in &keys {
            assert_eq!(c.load(k, (0, 0)), Some(pyc(3)));
        }
    }

    #[test]
    fn timestamp_entries_take_the_source_mtime_and_size() {
        let d = tempfile::tempdir().unwrap();
        let c = PycCache::new(d.path(), &id(), false, "s");
        let k = c.key(Path::new("/a/x.py"), b"x");
        assert_eq!(c.store(&[(k.clone(), pyc(0))]), 1);
        let c = PycCache::new(d.path(), &id(), false, "s");
        let got = c.load(&k, (0x01020304, 9)).unwrap();
        assert_eq!(&got[8..16], &[4, 3, 2, 1, 9, 0, 0, 0]);
        assert_eq!(&got[16..], b"marshalled code");
    }
}
