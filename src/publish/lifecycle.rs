//! A repository over time: removing packages (`--remove`), keeping the newest N
//! versions (`--keep`), copying packages from one codename to another
//! (`--copy`), listing (`--list`), and deleting the pool files no index names
//! any more — only after the new Release is in place.
//!
//! All of these run inside the one publish transaction (`repo.rs`): same lock,
//! same write order, same signing rules, and bad input (an unknown name) changes
//! nothing.

use super::index::{Key, Stanza};
use super::state::{Table, subdirs};
use crate::debian::version;
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// `NAME[=VERSION][/ARCH]`: which packages an operation applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selector {
    pub name: String,
    pub version: Option<String>,
    pub arch: Option<String>,
}

impl Selector {
    pub fn parse(spec: &str) -> Result<Selector> {
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

    pub fn matches(&self, key: &Key) -> bool {
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
pub struct Request {
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
    pub fn add(debs: &[PathBuf]) -> Request {
        Request {
            debs: debs.to_vec(),
            ..Request::default()
        }
    }

    pub fn is_empty(&self) -> bool {
        self.debs.is_empty()
            && self.remove.is_empty()
            && self.keep.is_none()
            && self.copy_from.is_none()
    }
}

/// The keys `selectors` pick from `keys`; every selector must pick one (exit 2
/// naming it, before anything is written).
pub(super) fn select(keys: &[Key], selectors: &[Selector], place: &str) -> Result<Vec<Key>> {
    let mut out = Vec::new();
    for sel in selectors {
        let before = out.len();
        out.extend(keys.iter().filter(|k| sel.matches(k)).cloned());
        if out.len() == before {
            return Err(Error::config(format!("{sel}: no such package in {place}"))
                .with("`cfy-ap publish --repo R --list` shows what is there"));
        }
    }
    out.sort();
    out.dedup();
    Ok(out)
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
pub(super) fn plan(
    req: &Request,
    force: bool,
    place: &str,
    target: &Table,
    added: &[&Stanza],
    source: Option<(&str, &Table)>,
) -> Result<Changes> {
    let mut changes = Changes::default();
    if let Some((from, src)) = source {
        let keys: Vec<Key> = src.keys().collect();
        let picked = if req.copy_all {
            let mut all = keys;
            all.sort();
            all
        } else {
            select(&keys, &req.copy, from)?
        };
        for key in picked {
            let st = src.get(&key).expect("picked from its keys");
            match target.get(&key) {
                Some(old) if old.sha256() == st.sha256() => changes.already.push(st.clone()),
                Some(old) if !force => {
                    return Err(Error::exists(format!(
                        "{key} is already in {place} with different contents ({})",
                        old.filename()
                    ))
                    .with("use -f/--force to replace it with the copy"));
                }
                _ => changes.copies.push(st.clone()),
            }
        }
    }
    if req.remove.is_empty() && req.keep.is_none() {
        return Ok(changes);
    }
    let mut projected: Vec<Key> = target.keys().collect();
    projected.extend(added.iter().map(|s| s.key()));
    projected.extend(changes.copies.iter().map(Stanza::key));
    projected.sort();
    projected.dedup();
    let mut removals = select(&projected, &req.remove, place)?;
    if let Some(n) = req.keep {
        removals.extend(beyond(&projected, n));
    }
    removals.sort();
    removals.dedup();
    changes.removals = removals;
    Ok(changes)
}

/// The codename just published and the pool paths its indices name (known
/// without reading them back).
pub(super) type Ours<'a> = (&'a str, &'a HashSet<&'a str>);

/// The `candidates` that some index of some codename still names: `ours` from
/// memory, the other codenames by a scan of their `Filename:` lines (the
/// indices are not parsed again).
fn still_named(root: &Path, ours: Ours, candidates: &[String]) -> Result<HashSet<String>> {
    let wanted: HashSet<&str> = candidates.iter().map(String::as_str).collect();
    let mut names: HashSet<String> = candidates
        .iter()
        .filter(|c| ours.1.contains(c.as_str()))
        .cloned()
        .collect();
    for dist in subdirs(&root.join("dists"))? {
        if super::state::file_name(&dist) == ours.0 {
            continue;
        }
        for comp in subdirs(&dist)? {
            for bin in subdirs(&comp)? {
                let path = bin.join("Packages");
                let text = match fs::read_to_string(&path) {
                    Ok(t) => t,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(Error::io("reading", &path, e)),
                };
                for line in text.lines() {
                    if let Some(f) = line.strip_prefix("Filename:")
                        && let Some(rel) = wanted.get(f.trim())
                    {
                        names.insert(rel.to_string());
                    }
                }
            }
        }
    }
    Ok(names)
}

/// Delete the `candidates` (pool paths) that no index names any more, and the
/// directories that leaves empty. Run after the new Release is in place.
/// Returns the paths deleted.
pub(super) fn collect_garbage(
    root: &Path,
    ours: Ours,
    candidates: &[String],
) -> Result<Vec<String>> {
    if candidates.is_empty() {
        return Ok(Vec::new());
    }
    let live = still_named(root, ours, candidates)?;
    let mut deleted = Vec::new();
    for rel in candidates {
        if live.contains(rel) || deleted.contains(rel) {
            continue;
        }
        let path = super::pool::resolve(root, rel, Path::new("the index"))?;
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

    fn stanzas(keys: &[(&str, &str, &str)]) -> Table {
        keys.iter()
            .map(|(p, v, a)| crate::publish::state::test_stanza(p, v, a, "00"))
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
        let all = stanzas(&[
            ("ab", "1.0", "amd64"),
            ("ab", "1.10", "amd64"),
            ("ab", "1.9", "amd64"),
            ("ab", "1:0.1", "amd64"),
            ("ab", "2.0~rc1", "amd64"),
            ("ab", "1.0", "arm64"),
            ("bc", "1", "all"),
        ]);
        let keys: Vec<Key> = all.keys().collect();
        let gone = beyond(&keys, 2);
        let versions: Vec<&str> = gone.iter().map(Key::version).collect();
        assert_eq!(versions, ["1.0", "1.10", "1.9"]);
        assert!(gone.iter().all(|k| k.arch() == "amd64"));
        let e = select(&keys, &[Selector::parse("zzz").unwrap()], "stable/main").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        let req = Request {
            remove: vec![Selector::parse("ab/arm64").unwrap()],
            keep: Some(1),
            ..Request::default()
        };
        let c = plan(&req, false, "s/main", &all, &[], None).unwrap();
        let left: Vec<&Key> = keys.iter().filter(|k| !c.removals.contains(k)).collect();
        assert_eq!(left.len(), 2, "{left:?}");
    }
}
