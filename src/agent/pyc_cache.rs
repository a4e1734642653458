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
//! Entries are `MAGIC`, the sha256 of the payload, then the payload (the whole
//! `.pyc`); one that does not verify (truncated, flipped, another interpreter's)
//! is a miss and is overwritten. Written to a temporary file and renamed, so
//! concurrent builds never see half an entry. The cache lives outside the venv
//! (see `location`): nothing of it goes into the agent but the `.pyc` themselves.

use super::python::PycId;
use sha2::{Digest, Sha256};
use std::io::Write;
use std::path::{Path, PathBuf};

const MAGIC: &[u8] = b"cfy-ap pyc 1\n";

/// Where the cache is: `<cache_dir>/cfy-ap-pyc` when `cache_dir` is set, else
/// `$XDG_CACHE_HOME/cfy-ap/pyc`, else `~/.cache/cfy-ap/pyc`; None without a home.
pub fn location(cache_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(c) = cache_dir {
        return Some(c.join("cfy-ap-pyc"));
    }
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) if Path::new(&x).is_absolute() => PathBuf::from(x),
        _ => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(base.join("cfy-ap").join("pyc"))
}

pub struct PycCache {
    root: PathBuf,
    /// Hash state over interpreter, mode and script: each key goes on from it.
    base: Sha256,
    magic: Vec<u8>,
    checked: bool,
}

impl PycCache {
    pub fn new(root: &Path, id: &PycId, checked: bool, script: &str) -> PycCache {
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
        PycCache {
            root: root.to_path_buf(),
            base,
            magic: id.magic.clone(),
            checked,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The key of `source` compiled under the path `compiled_as`.
    pub fn key(&self, compiled_as: &Path, source: &[u8]) -> String {
        let mut h = self.base.clone();
        let path = compiled_as.as_os_str().as_encoded_bytes();
        h.update((path.len() as u64).to_le_bytes());
        h.update(path);
        h.update(Sha256::digest(source));
        hex::encode(h.finalize())
    }

    fn entry(&self, key: &str) -> PathBuf {
        self.root.join(&key[..2]).join(&key[2..])
    }

    /// The cached `.pyc`, if present and intact; `mtime_size` is the source's,
    /// for the header of a timestamp-based `.pyc`.
    pub fn load(&self, key: &str, mtime_size: (u32, u32)) -> Option<Vec<u8>> {
        let raw = std::fs::read(self.entry(key)).ok()?;
        let mut pyc = self.verify(&raw)?;
        if !self.checked {
            pyc[8..12].copy_from_slice(&mtime_size.0.to_le_bytes());
            pyc[12..16].copy_from_slice(&mtime_size.1.to_le_bytes());
        }
        Some(pyc)
    }

    /// The payload of an entry whose hash, magic number and mode match.
    fn verify(&self, raw: &[u8]) -> Option<Vec<u8>> {
        let rest = raw.strip_prefix(MAGIC)?;
        if rest.len() < 32 + 16 {
            return None;
        }
        let (sum, pyc) = rest.split_at(32);
        let flags: u32 = if self.checked { 0b11 } else { 0 };
        (Sha256::digest(pyc).as_slice() == sum
            && pyc[..4] == self.magic[..]
            && pyc[4..8] == flags.to_le_bytes())
        .then(|| pyc.to_vec())
    }

    /// Keep `pyc` under `key`; false when it could not be written (a cache is
    /// never a reason for a build to fail).
    pub fn store(&self, key: &str, pyc: &[u8]) -> bool {
        let dest = self.entry(key);
        let Some(dir) = dest.parent() else {
            return false;
        };
        if self.verify_len(pyc).is_none() || std::fs::create_dir_all(dir).is_err() {
            return false;
        }
        let Ok(mut tmp) = tempfile::Builder::new().prefix(".tmp.").tempfile_in(dir) else {
            return false;
        };
        let ok = tmp.write_all(MAGIC).is_ok()
            && tmp.write_all(&Sha256::digest(pyc)).is_ok()
            && tmp.write_all(pyc).is_ok();
        ok && tmp.persist(&dest).is_ok()
    }

    /// Only whole `.pyc` of this interpreter and mode go in.
    fn verify_len(&self, pyc: &[u8]) -> Option<()> {
        let flags: u32 = if self.checked { 0b11 } else { 0 };
        (pyc.len() >= 16 && pyc[..4] == self.magic[..] && pyc[4..8] == flags.to_le_bytes())
            .then_some(())
    }
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

    #[test]
    fn stored_entries_load_and_damaged_ones_do_not() {
        let d = tempfile::tempdir().unwrap();
        let c = PycCache::new(d.path(), &id(), true, "s");
        let k = c.key(Path::new("/a/x.py"), b"x");
        assert_eq!(c.load(&k, (0, 0)), None);
        assert!(c.store(&k, &pyc(3)));
        assert_eq!(c.load(&k, (1, 2)), Some(pyc(3)));
        // No temporary file is left beside the entry.
        assert_eq!(
            std::fs::read_dir(c.entry(&k).parent().unwrap())
                .unwrap()
                .count(),
            1
        );
        let path = c.entry(&k);
        let good = std::fs::read(&path).unwrap();
        let mut flipped = good.clone();
        *flipped.last_mut().unwrap() ^= 1;
        for bad in [flipped, good[..good.len() - 3].to_vec(), Vec::new()] {
            std::fs::write(&path, bad).unwrap();
            assert_eq!(c.load(&k, (0, 0)), None);
        }
        // A timestamp-mode or foreign .pyc is never stored in a checked cache.
        assert!(!c.store(&k, &pyc(0)));
        let mut foreign = pyc(3);
        foreign[0] = 0x55;
        assert!(!c.store(&k, &foreign));
    }

    #[test]
    fn timestamp_entries_take_the_source_mtime_and_size() {
        let d = tempfile::tempdir().unwrap();
        let c = PycCache::new(d.path(), &id(), false, "s");
        let k = c.key(Path::new("/a/x.py"), b"x");
        assert!(c.store(&k, &pyc(0)));
        let got = c.load(&k, (0x01020304, 9)).unwrap();
        assert_eq!(&got[8..16], &[4, 3, 2, 1, 9, 0, 0, 0]);
        assert_eq!(&got[16..], b"marshalled code");
    }

    #[test]
    fn location_prefers_cache_dir_then_xdg_then_home() {
        assert_eq!(
            location(Some(Path::new("/c"))),
            Some(PathBuf::from("/c/cfy-ap-pyc"))
        );
    }
}
