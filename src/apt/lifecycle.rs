//! A repository over time: removing packages (`--remove`), keeping the newest N
//! versions (`--keep`), copying packages from one codename to another
//! (`--copy`), listing (`--list`), and deleting the pool files no index names
//! any more — only after the new Release is in place.
//!
//! All of these run inside the one publish transaction (`repo.rs`): same lock,
//! same write order, same signing rules, and bad input (an unknown name) changes
//! nothing.

use super::index::{self, Key, Stanza};
use super::pool;
use super::render::{self, Stream};
use super::state::subdirs;
use super::table::Table;
use crate::debian::version;
use crate::error::{Error, Result};
use crate::repo::confine;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `NAME[=VERSION][/ARCH]`: which packages an operation applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Selector {
    pub name: String,
    pub version: Option<String>,
    pub arch: Option<String>,
}

impl Selector {
    pub(crate) fn parse(spec: &str) -> Result<Selector> {
        let (rest, arch) = match spec.rsplit_once('/') {
            Some((r, a)) => (r, Some(a.to_string())),
            None => (spec, None),
        };
        let (name, version) = match rest.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (rest, None),
        };
        let bad_version = version.as_deref().is_some_and(|v| !version::is_valid(v));
        let bad_arch = arch.as_deref().is_some_and(str::is_empty);
        if !crate::debian::is_package_name(name) || bad_version || bad_arch {
            return Err(Error::config(format!(
                "{spec:?}: expected NAME[=VERSION][/ARCH], e.g. cloudify-agent=4.0-1/amd64"
            )));
        }
        Ok(Selector {
            name: name.to_string(),
            version,
            arch,
        })
    }

    pub(crate) fn matches(&self, key: &Key) -> bool {
        self.name == key.package()
            && self.version.as_ref().is_none_or(|v| v == key.version())
            && self.arch.as_ref().is_none_or(|a| a == key.arch())
    }
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.name)?;
        if let Some(v) = &self.version {
            write!(f, "={v}")?;
        }
        if let Some(a) = &self.arch {
            write!(f, "/{a}")?;
        }
        Ok(())
    }
}

/// What one run does besides adding `.deb` files.
#[derive(Debug, Clone, Default)]
pub(crate) struct Request {
    /// `.deb` files to add.
    pub debs: Vec<PathBuf>,
    /// Packages to drop from the codename's indices.
    pub remove: Vec<Selector>,
    /// Keep only the newest N versions of each package and architecture.
    pub keep: Option<usize>,
    /// Codename to copy packages from, into `PublishOptions::codename` (not
    /// with `debs`: a run copies or adds, so no key comes from both).
    pub copy_from: Option<String>,
    /// What to copy (`copy_all`: everything).
    pub copy: Vec<Selector>,
    pub copy_all: bool,
    /// Say what would change, change nothing.
    pub dry_run: bool,
}

impl Request {
    /// Only adding packages.
    pub(crate) fn add(debs: &[PathBuf]) -> Request {
        Request {
            debs: debs.to_vec(),
            ..Request::default()
        }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.debs.is_empty()
            && self.remove.is_empty()
            && self.keep.is_none()
            && self.copy_from.is_none()
    }
}

/// Which packages `selectors` pick, asked one package at a time; every
/// selector must pick one (exit 2 naming it, before anything is written).
struct Picker<'a> {
    selectors: &'a [Selector],
    matched: Vec<bool>,
}

impl<'a> Picker<'a> {
    fn new(selectors: &'a [Selector]) -> Picker<'a> {
        Picker {
            selectors,
            matched: vec![false; selectors.len()],
        }
    }

    fn picks(&mut self, key: &Key) -> bool {
        let mut any = false;
        for (sel, m) in self.selectors.iter().zip(&mut self.matched) {
            if sel.matches(key) {
                *m = true;
                any = true;
            }
        }
        any
    }

    /// Every selector picked a package in `place`.
    fn all_matched(&self, place: &str) -> Result<()> {
        match self.selectors.iter().zip(&self.matched).find(|(_, m)| !**m) {
            Some((sel, _)) => Err(Error::config(format!("{sel}: no such package in {place}"))
                .with("`cfy-ap publish --repo R --list` shows what is there")),
            None => Ok(()),
        }
    }
}

/// The keys beyond the newest `keep` versions of each (package, architecture),
/// in dpkg version order.
pub(super) fn beyond(keys: &[Key], keep: usize) -> Vec<Key> {
    let mut groups: BTreeMap<(&str, &str), Vec<&Key>> = BTreeMap::new();
    for k in keys {
        groups.entry((k.package(), k.arch())).or_default().push(k);
    }
    let mut out = Vec::new();
    for mut keys in groups.into_values() {
        keys.sort_by(|a, b| {
            version::compare(b.version(), a.version()).then_with(|| b.version().cmp(a.version()))
        });
        out.extend(keys.into_iter().skip(keep).cloned());
    }
    out.sort();
    out
}

/// What a request changes in one codename and component besides the added debs.
#[derive(Debug, Default)]
pub(super) struct Changes {
    /// Stanzas copied in from another codename (same pool files).
    pub copies: Vec<Stanza>,
    /// Copies already there with the same bytes.
    pub already: Vec<Stanza>,
    /// Keys dropped (by `--remove` or `--keep`).
    pub removals: Vec<Key>,
}

/// Decide copies and removals for `req` against `target` (the current stanzas)
/// plus the stanzas being `added`; `source` holds the copy source's stanzas.
/// Both tables are streamed: what is kept in memory is what changes.
pub(super) fn plan(
    req: &Request,
    force: bool,
    place: &str,
    target: &Table,
    added: &Table,
    source: Option<(&str, &Table)>,
) -> Result<Changes> {
    let mut changes = Changes::default();
    if let Some((from, src)) = source {
        let mut picker = Picker::new(&req.copy);
        let mut picked = Vec::new();
        for st in src.stream() {
            let st = st?;
            if picker.picks(&st.key()) || req.copy_all {
                picked.push(st);
            }
        }
        if !req.copy_all {
            picker.all_matched(from)?;
        }
        for st in picked {
            let key = st.key();
            match target.get(&key)? {
                Some(old) if old.sha256() == st.sha256() => changes.already.push(st),
                Some(old) if !force => {
                    return Err(Error::exists(format!(
                        "{key} is already in {place} with different contents ({})",
                        old.filename()
                    ))
                    .with("use -f/--force to replace it with the copy"));
                }
                _ => changes.copies.push(st),
            }
        }
    }
    if req.remove.is_empty() && req.keep.is_none() {
        return Ok(changes);
    }
    // The component as it will be, in order, a package's versions at a time.
    // (A run copies or adds: `copies` and `added` are never both non-empty.)
    let mut copies: Vec<&Stanza> = changes.copies.iter().collect();
    copies.sort_by(|a, b| index::order(a, b));
    let mut picker = Picker::new(&req.remove);
    let mut removals = Vec::new();
    let mut group: Vec<Key> = Vec::new();
    let keep_group = |group: &mut Vec<Key>, removals: &mut Vec<Key>| {
        if let Some(n) = req.keep {
            removals.extend(beyond(group, n));
        }
        group.clear();
    };
    let projected = match req.keep {
        Some(_) => {
            let new = render::merged(added.stream(), listed(copies));
            render::merged(target.stream(), new)
        }
        // Only the packages named: each found in the tables by halving.
        None => {
            let mut names: Vec<&str> = req.remove.iter().map(|s| s.name.as_str()).collect();
            names.sort_unstable();
            names.dedup();
            let (mut old, mut new) = (Vec::new(), Vec::new());
            for name in &names {
                old.extend(target.named(name)?.into_iter().map(Ok));
                new.extend(added.named(name)?.into_iter().map(Ok));
            }
            copies.retain(|s| names.contains(&s.package()));
            let new = render::merged(Box::new(new.into_iter()), listed(copies));
            render::merged(Box::new(old.into_iter()), new)
        }
    };
    for st in projected {
        let key = st?.key();
        if group.last() == Some(&key) {
            continue; // replaced by a new stanza
        }
        if group.first().is_some_and(|g| g.package() != key.package()) {
            keep_group(&mut group, &mut removals);
        }
        if picker.picks(&key) {
            removals.push(key.clone());
        }
        group.push(key);
    }
    keep_group(&mut group, &mut removals);
    picker.all_matched(place)?;
    removals.sort();
    removals.dedup();
    changes.removals = removals;
    Ok(changes)
}

/// Stanzas listed in memory, as a stream.
fn listed<'a>(stanzas: Vec<&'a Stanza>) -> Stream<'a> {
    Box::new(stanzas.into_iter().cloned().map(Ok))
}

/// The `candidates` that some index of some codename still names: a scan of
/// their `Filename:` lines, a block at a time (the indices are not parsed).
fn still_named(root: &Path, candidates: &[String]) -> Result<HashSet<String>> {
    let wanted: HashSet<&[u8]> = candidates.iter().map(|c| c.as_bytes()).collect();
    let mut names = HashSet::new();
    for dist in subdirs(&root.join("dists"))? {
        for comp in subdirs(&dist)? {
            for bin in subdirs(&comp)? {
                let path = bin.join("Packages");
                let file = match fs::File::open(&path) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io("reading", &path, e)),
                };
                filenames(file, |f| {
                    if let Some(rel) = wanted.get(f) {
                        names.insert(String::from_utf8_lossy(rel).into_owned());
                    }
                })
                .map_err(|e| Error::io("reading", &path, e))?;
            }
        }
    }
    Ok(names)
}

/// Call `found` with the value of every `Filename:` line of an index.
pub(super) fn filenames(mut file: impl io::Read, mut found: impl FnMut(&[u8])) -> io::Result<()> {
    const FIELD: &[u8] = b"Filename:";
    let finder = memchr::memmem::Finder::new(FIELD);
    // A newline before the text: the first line starts a line too.
    let mut buf = vec![b'\n'];
    loop {
        let have = buf.len();
        buf.resize(have + index::READ_BLOCK, 0);
        let got = loop {
            match file.read(&mut buf[have..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                r => break r?,
            }
        };
        buf.truncate(have + got);
        // Whole lines only, but for the last block.
        let end = match got {
            0 => buf.len(),
            _ => match memchr::memrchr(b'\n', &buf) {
                Some(i) if i > 0 => i,
                _ => continue,
            },
        };
        for at in finder.find_iter(&buf[..end]) {
            if at > 0 && buf[at - 1] == b'\n' {
                let rest = &buf[at + FIELD.len()..end];
                let line = memchr::memchr(b'\n', rest).map_or(rest, |n| &rest[..n]);
                found(line.trim_ascii());
            }
        }
        if got == 0 {
            return Ok(());
        }
        buf.drain(..end);
    }
}

/// Delete the `candidates` (pool paths) that no index names any more, and the
/// directories that leaves empty. Run after the new Release is in place.
/// Returns the paths deleted.
pub(super) fn collect_garbage(root: &Path, candidates: &[String]) -> Result<Vec<String>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let live = still_named(root, candidates)?;
    let mut deleted = Vec::new();
    for rel in candidates {
        if live.contains(rel) || deleted.contains(rel) {
            continue;
        }
        let path = confine::resolve(root, rel, &pool::by_index(Path::new("the index")))?;
        match fs::remove_file(&path) {
            Ok(()) => deleted.push(rel.clone()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(Error::io("removing", &path, e)),
        }
        let mut dir = path.parent();
        while let Some(d) = dir {
            if d == root.join("pool") || fs::remove_dir(d).is_err() {
                break;
            }
            dir = d.parent();
        }
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(keys: &[(&str, &str, &str)]) -> Vec<Key> {
        keys.iter()
            .map(|(p, v, a)| crate::apt::state::test_stanza(p, v, a, "00").key())
            .collect()
    }

    #[test]
    fn selectors() {
        let s = Selector::parse("agent=1:2.0-1/amd64").unwrap();
        assert_eq!(
            (s.name.as_str(), s.version.as_deref(), s.arch.as_deref()),
            ("agent", Some("1:2.0-1"), Some("amd64"))
        );
        assert_eq!(Selector::parse("agent").unwrap().version, None);
        for bad in ["", "Agent", "agent=", "agent=x/", "a/b/c"] {
            assert!(Selector::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn keep_newest_in_dpkg_order() {
        let keys = keys(&[
            ("ab", "1.0", "amd64"),
            ("ab", "1.10", "amd64"),
            ("ab", "1.9", "amd64"),
            ("ab", "1:0.1", "amd64"),
            ("ab", "2.0~rc1", "amd64"),
            ("ab", "1.0", "arm64"),
            ("bc", "1", "all"),
        ]);
        let gone = beyond(&keys, 2);
        let versions: Vec<&str> = gone.iter().map(Key::version).collect();
        assert_eq!(versions, ["1.0", "1.10", "1.9"]);
        assert!(gone.iter().all(|k| k.arch() == "amd64"));
        // Every selector must pick a package.
        let sels = [
            Selector::parse("ab/arm64").unwrap(),
            Selector::parse("zzz").unwrap(),
        ];
        let mut picker = Picker::new(&sels);
        let picked: Vec<bool> = keys.iter().map(|k| picker.picks(k)).collect();
        assert_eq!(picked, [false, false, false, false, false, true, false]);
        let e = picker.all_matched("stable/main").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(
            e.message.starts_with("zzz: no such package in stable/main"),
            "{e}"
        );
        assert!(Picker::new(&sels[..1]).all_matched("s").is_err());
        let mut one = Picker::new(&sels[..1]);
        let picked = keys.iter().filter(|k| one.picks(k)).count();
        assert_eq!(picked, 1);
        assert!(one.all_matched("s").is_ok());
    }

    #[test]
    fn filenames_of_an_index_across_blocks() {
        let mut text = String::from("Filename: first.deb\n");
        for i in 0..20_000 {
            text.push_str(&format!(
                "Package: p{i}\nDescription: x\n  Filename: not/a/field\nFilename:  pool/p{i}.deb \n\n"
            ));
        }
        text.push_str("Filename: last.deb");
        assert!(text.len() > 3 * index::READ_BLOCK);
        let mut got = Vec::new();
        filenames(text.as_bytes(), |f| {
            got.push(String::from_utf8(f.to_vec()).unwrap())
        })
        .unwrap();
        assert_eq!(got.len(), 20_002);
        assert_eq!(
            (got[0].as_str(), got[1].as_str()),
            ("first.deb", "pool/p0.deb")
        );
        assert_eq!(got[20_000], "pool/p19999.deb");
        assert_eq!(got[20_001], "last.deb");
    }
}
