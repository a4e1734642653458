//! The `Release` file of a distribution (`dists/<codename>/Release`) and the
//! `by-hash/` copies of the index files it names.

use super::digest::{Digests, HASH_NAMES, ReleaseHashes};
use crate::debian::deb822;
use crate::error::{Error, IoContext, Result};
use crate::repo::storage::{LocalDir, Storage};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::Path;

/// Everything a Release file says.
pub(super) struct Release<'a> {
    pub origin: &'a str,
    pub label: &'a str,
    pub suite: &'a str,
    pub codename: &'a str,
    /// Seconds since the Unix epoch.
    pub date: i64,
    pub architectures: &'a [String],
    pub components: &'a [String],
    pub description: &'a str,
    /// Fields of another tool kept as written (`Valid-Until: ...`), after Description.
    pub extra: &'a [String],
    /// Index files, by path relative to the Release file's directory.
    pub files: &'a BTreeMap<String, Digests>,
    /// Which checksum lists it has.
    pub hashes: ReleaseHashes,
}

impl Release<'_> {
    pub(super) fn render(&self) -> String {
        let mut out = String::with_capacity(512 + self.files.len() * 4 * 120);
        let mut field = |name: &str, value: &str| {
            out.push_str(name);
            out.push_str(": ");
            out.push_str(value);
            out.push('\n');
        };
        field("Origin", self.origin);
        field("Label", self.label);
        field("Suite", self.suite);
        field("Codename", self.codename);
        field("Date", &crate::util::date::rfc2822(self.date));
        field("Architectures", &self.architectures.join(" "));
        field("Components", &self.components.join(" "));
        field("Description", self.description);
        for f in self.extra {
            out.push_str(f);
            out.push('\n');
        }
        out.push_str("Acquire-By-Hash: yes\n");
        for name in self.hashes.names() {
            out.push_str(name);
            out.push_str(":\n");
            for (path, d) in self.files {
                out.push_str(&format!(" {} {:>16} {path}\n", d.get(name), d.size));
            }
        }
        out
    }
}

/// The Release text without its Date line: two Releases that differ only in
/// Date describe the same repository.
pub(super) fn without_date(release: &str) -> String {
    release
        .lines()
        .filter(|l| !l.starts_with("Date:"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One file as listed in an existing Release: its size and the digests given.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(super) struct Listed {
    pub size: u64,
    /// Indexed like [`HASH_NAMES`].
    pub digests: [Option<String>; 4],
}

/// The files an existing Release lists, by path. Tolerant: unknown or odd lines
/// are skipped (the Release being replaced may come from another tool).
pub(super) fn listed_files(release: &str) -> BTreeMap<String, Listed> {
    let mut files: BTreeMap<String, Listed> = BTreeMap::new();
    for field in deb822::fields(release) {
        let Some(i) = HASH_NAMES
            .iter()
            .position(|h| h.eq_ignore_ascii_case(field.name))
        else {
            continue;
        };
        for line in field.continuation.lines() {
            let mut parts = line.split_whitespace();
            let (Some(hex), Some(size), Some(path), None) =
                (parts.next(), parts.next(), parts.next(), parts.next())
            else {
                continue;
            };
            let Ok(size) = size.parse() else { continue };
            let entry = files.entry(path.to_string()).or_default();
            entry.size = size;
            entry.digests[i] = Some(hex.to_ascii_lowercase());
        }
    }
    files
}

/// Does the Release listing agree with these digests?
pub(super) fn matches(listed: Option<&Listed>, d: &Digests) -> bool {
    listed.is_some_and(|l| {
        l.size == d.size
            && HASH_NAMES
                .iter()
                .zip(&l.digests)
                .all(|(name, got)| got.as_deref().is_none_or(|g| g == d.get(name)))
            && l.digests[2].is_some()
    })
}

/// Make `dir/by-hash/<hash>/<hex>` entries for a complete file at `src` (a hard
/// link when possible, else a copy). Entries are content-addressed, so one that
/// already exists is left alone.
pub(super) fn link_by_hash(dir: &Path, src: &Path, d: &Digests) -> Result<()> {
    for name in HASH_NAMES.into_iter().filter(|n| !d.get(n).is_empty()) {
        let sub = dir.join("by-hash").join(name);
        let dest = sub.join(d.get(name));
        let mut linked = fs::hard_link(src, &dest);
        if matches!(&linked, Err(e) if e.kind() == io::ErrorKind::NotFound) {
            fs::create_dir_all(&sub).ctx("creating", &sub)?;
            linked = fs::hard_link(src, &dest);
        }
        match linked {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(_) => {
                let tmp = tempfile::Builder::new()
                    .prefix(".by-hash.")
                    .suffix(".partial")
                    .tempfile_in(&sub)
                    .ctx("writing to", &sub)?;
                fs::copy(src, tmp.path()).ctx("writing", tmp.path())?;
                crate::repo::stage::set_mode(tmp.as_file(), tmp.path())?;
                if crate::repo::stage::durable() {
                    tmp.as_file().sync_data().ctx("flushing", tmp.path())?;
                }
                tmp.persist(&dest)
                    .map_err(|e| Error::io("writing", &dest, e.error))?;
            }
        }
    }
    Ok(())
}

/// Remove the `by-hash` entries of the index directory `rel` of `store`
/// whose digest is not in `keep` (the digests of the current and the
/// previous generation of its files).
pub(super) fn prune_by_hash(store: &LocalDir, rel: &str, keep: &HashSet<String>) -> Result<()> {
    for name in HASH_NAMES {
        let prefix = format!("{rel}/by-hash/{name}/");
        for key in store.list(&prefix)? {
            let file = &key[prefix.len()..];
            if !file.contains('/') && !keep.contains(file) {
                store.delete(&key)?;
            }
        }
        // A checksum no longer listed leaves its directory empty: it goes too.
        store.remove_empty_dir(&prefix[..prefix.len() - 1]);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn render(files: &BTreeMap<String, Digests>, hashes: ReleaseHashes) -> String {
        Release {
            origin: "o",
            label: "l",
            suite: "s",
            codename: "c",
            date: 0,
            architectures: &["amd64".to_string()],
            components: &["main".to_string()],
            description: "d",
            extra: &["Valid-Until: x".to_string()],
            files,
            hashes,
        }
        .render()
    }

    #[test]
    fn render_then_list() {
        let mut files = BTreeMap::new();
        files.insert("main/binary-amd64/Packages".to_string(), Digests::of(b"x"));
        let text = render(&files, ReleaseHashes::ALL);
        assert!(text.contains("\nValid-Until: x\nAcquire-By-Hash: yes\nMD5Sum:\n"));
        let listed = listed_files(&text);
        let d = Digests::of(b"x");
        assert!(matches(listed.get("main/binary-amd64/Packages"), &d));
        assert!(!matches(
            listed.get("main/binary-amd64/Packages"),
            &Digests::of(b"y")
        ));
        assert!(without_date(&text).find("Date").is_none());
    }

    #[test]
    fn only_the_selected_lists_and_by_hash_directories() {
        let two = ReleaseHashes::parse(&["SHA256", "SHA512"]).unwrap();
        let d = Digests::of(b"x").only(two);
        let files = BTreeMap::from([("main/binary-amd64/Packages".to_string(), d.clone())]);
        let text = render(&files, two);
        let lists: Vec<&str> = text.lines().filter(|l| l.ends_with(':')).collect();
        assert_eq!(lists, ["SHA256:", "SHA512:"]);
        // A Release listing only these still matches the full digests.
        let listed = listed_files(&text);
        assert!(matches(
            listed.get("main/binary-amd64/Packages"),
            &Digests::of(b"x")
        ));
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("Packages");
        fs::write(&src, b"x").unwrap();
        link_by_hash(t.path(), &src, &d).unwrap();
        let mut dirs: Vec<String> = fs::read_dir(t.path().join("by-hash"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        dirs.sort();
        assert_eq!(dirs, ["SHA256", "SHA512"]);
    }

    #[test]
    fn by_hash_entries_not_kept_are_pruned_and_their_emptied_directories() {
        let t = tempfile::tempdir().unwrap();
        let by_hash = t.path().join("main/binary-amd64/by-hash");
        for (name, files) in [("SHA256", ["aa", "bb"]), ("SHA512", ["cc", "dd"])] {
            fs::create_dir_all(by_hash.join(name)).unwrap();
            for f in files {
                fs::write(by_hash.join(name).join(f), f).unwrap();
            }
        }
        let other = t.path().join("main/binary-arm64/by-hash/SHA256");
        fs::create_dir_all(&other).unwrap();
        fs::write(other.join("ee"), "ee").unwrap();
        let keep: HashSet<String> = ["aa".to_string()].into();
        prune_by_hash(&LocalDir::new(t.path()), "main/binary-amd64", &keep).unwrap();
        let left: Vec<String> = fs::read_dir(by_hash.join("SHA256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(left, ["aa"]);
        assert!(!by_hash.join("SHA512").exists());
        assert!(
            other.join("ee").exists(),
            "another directory's entries stay"
        );
    }
}
