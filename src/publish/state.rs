//! The repository as found on disk: the components of a codename with their
//! stanzas (parsed from the existing `Packages` indices, never from the debs),
//! and which index names a pool file.

use super::PublishOptions;
use super::index::{self, Key, Stanza};
use super::spill::Spill;
use crate::error::{Error, IoContext, Result};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Every stanza of a codename, by component, sorted (read-only, no lock).
pub(super) fn list(root: &Path, codename: &str) -> Result<Vec<(String, Stanza)>> {
    let mut out = Vec::new();
    for (name, comp) in load_components(&root.join("dists").join(codename))? {
        let mut stanzas: Vec<Stanza> = comp.stanzas.into_values();
        stanzas.sort_by(index::order);
        out.extend(stanzas.into_iter().map(|s| (name.clone(), s)));
    }
    Ok(out)
}

/// One component of the distribution as found on disk.
#[derive(Default)]
pub(super) struct Component {
    pub stanzas: Table,
    /// The component's directory (`dists/<codename>/<component>`).
    pub dir: PathBuf,
    /// Architectures that have a `binary-<arch>` directory.
    pub arches: BTreeSet<String>,
    /// The current `Packages` file, by architecture (its stanzas point into it).
    pub current: HashMap<String, Arc<Spill>>,
}

impl Component {
    /// The index a stanza was read from (for errors): its architecture's, or for
    /// `all` the first architecture's.
    pub fn source(&self, key: &Key) -> PathBuf {
        let arch = match key.arch() {
            "all" => self.arches.iter().next().map_or("all", String::as_str),
            arch => arch,
        };
        self.dir.join(format!("binary-{arch}")).join("Packages")
    }
}

pub(super) fn load_components(dist: &Path) -> Result<BTreeMap<String, Component>> {
    let mut comps = BTreeMap::new();
    for comp_dir in subdirs(dist)? {
        let mut comp = Component {
            dir: comp_dir.clone(),
            ..Component::default()
        };
        // Every architecture's stanzas (one index's list is taken as it is).
        let mut read = Vec::new();
        for bin_dir in subdirs(&comp_dir)? {
            let name = file_name(&bin_dir);
            let Some(arch) = name.strip_prefix("binary-") else {
                continue;
            };
            comp.arches.insert(arch.to_string());
            let path = bin_dir.join("Packages");
            let Some((file, parsed)) = index::read(&path)? else {
                continue;
            };
            match read.is_empty() {
                true => read = parsed,
                false => read.extend(parsed),
            }
            comp.current.insert(arch.to_string(), file);
        }
        comp.stanzas = Table::new(read);
        if !comp.arches.is_empty() {
            comps.insert(file_name(&comp_dir), comp);
        }
    }
    Ok(comps)
}

/// A component's stanzas, one per key (package, version, architecture): a
/// list sorted by key, searched by halving, where removing only marks the
/// entry. (A hash map keyed by a copy of each key took 2.5 times the memory:
/// ~220 bytes per package against ~90.)
#[derive(Default)]
pub(super) struct Table {
    rows: Vec<Stanza>,
    gone: Vec<bool>,
}

impl Table {
    /// The table of `stanzas`; of stanzas with the same key the first is kept
    /// (an `all` package is listed in the index of every architecture).
    pub fn new(mut stanzas: Vec<Stanza>) -> Table {
        // Stable: the first of equal keys stays first.
        stanzas.sort_by(|a, b| triple(a).cmp(&triple(b)));
        stanzas.dedup_by(|later, first| triple(later) == triple(first));
        stanzas.shrink_to_fit();
        Table {
            gone: vec![false; stanzas.len()],
            rows: stanzas,
        }
    }

    fn find(&self, key: &Key) -> Option<usize> {
        let want = (key.package(), key.version(), key.arch());
        let at = self.rows.binary_search_by(|s| triple(s).cmp(&want)).ok()?;
        (!self.gone[at]).then_some(at)
    }

    pub fn get(&self, key: &Key) -> Option<&Stanza> {
        self.find(key).map(|i| &self.rows[i])
    }

    pub fn contains_key(&self, key: &Key) -> bool {
        self.find(key).is_some()
    }

    /// Drop the stanza of `key`, returning it.
    pub fn remove(&mut self, key: &Key) -> Option<Stanza> {
        let at = self.find(key)?;
        self.gone[at] = true;
        Some(self.rows[at].clone())
    }

    /// The stanzas left, sorted by key.
    pub fn values(&self) -> impl Iterator<Item = &Stanza> {
        self.rows
            .iter()
            .zip(&self.gone)
            .filter(|(_, gone)| !**gone)
            .map(|(s, _)| s)
    }

    pub fn keys(&self) -> impl Iterator<Item = Key> + '_ {
        self.values().map(Stanza::key)
    }

    /// The stanzas left, sorted by key.
    pub fn into_values(self) -> Vec<Stanza> {
        let (mut rows, mut gone) = (self.rows, self.gone.into_iter());
        rows.retain(|_| !gone.next().expect("a mark per row"));
        rows
    }
}

impl FromIterator<Stanza> for Table {
    fn from_iter<I: IntoIterator<Item = Stanza>>(iter: I) -> Table {
        Table::new(iter.into_iter().collect())
    }
}

fn triple(s: &Stanza) -> (&str, &str, &str) {
    (s.package(), s.version(), s.arch())
}

/// Visible subdirectories (not symlinks, not `.hidden`).
pub(super) fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("reading", dir, e)),
    };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.ctx("reading", dir)?;
        let name = entry.file_name();
        if entry.file_type().ctx("reading", dir)?.is_dir()
            && !name.to_string_lossy().starts_with('.')
        {
            out.push(entry.path());
        }
    }
    Ok(out)
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

pub(super) fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

/// Which index (other than this codename and component's own stanza for `key`)
/// names `filename`: a pool file shared with it must never be replaced.
pub(super) fn referenced_elsewhere(
    root: &Path,
    opts: &PublishOptions,
    key: &Key,
    filename: &str,
) -> Result<Option<PathBuf>> {
    for dist in subdirs(&root.join("dists"))? {
        for comp in subdirs(&dist)? {
            let ours = file_name(&dist) == opts.codename && file_name(&comp) == opts.component;
            for bin in subdirs(&comp)? {
                let path = bin.join("Packages");
                let Some((_, stanzas)) = index::read(&path)? else {
                    continue;
                };
                let hit = stanzas
                    .iter()
                    .any(|s| s.filename() == filename && !(ours && s.key() == *key));
                if hit {
                    return Ok(Some(path));
                }
            }
        }
    }
    Ok(None)
}

/// A stanza of package `p`, version `v`, architecture `a` and SHA256 `sha`
/// (for tests of the table and of what is decided against it).
#[cfg(test)]
pub(super) fn test_stanza(p: &str, v: &str, a: &str, sha: &str) -> Stanza {
    let text = format!(
        "Package: {p}\nVersion: {v}\nArchitecture: {a}\n\
         Filename: pool/{p}_{v}_{a}.deb\nSize: 1\nSHA256: {sha}\n\n"
    );
    index::parse(&text.into(), Path::new("P"))
        .unwrap()
        .remove(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use test_stanza as stanza;

    #[test]
    fn table_finds_keeps_the_first_of_a_key_and_removes_by_marking() {
        let mut t = Table::new(vec![
            stanza("b", "1", "amd64", "01"),
            stanza("a", "2", "all", "02"),
            stanza("a", "10", "amd64", "03"),
            // The same `all` package as read from a second architecture's index.
            stanza("a", "2", "all", "04"),
        ]);
        let order: Vec<String> = t.keys().map(|k| k.to_string()).collect();
        assert_eq!(order, ["a 10 (amd64)", "a 2 (all)", "b 1 (amd64)"]);
        let a2 = stanza("a", "2", "all", "ff").key();
        assert_eq!(t.get(&a2).unwrap().sha256(), "02");
        assert!(t.contains_key(&stanza("a", "10", "amd64", "00").key()));
        assert!(!t.contains_key(&stanza("a", "1", "amd64", "00").key()));

        assert_eq!(t.remove(&a2).unwrap().sha256(), "02");
        assert!(t.get(&a2).is_none());
        assert!(t.remove(&a2).is_none());
        let left: Vec<&str> = t.values().map(Stanza::sha256).collect();
        assert_eq!(left, ["03", "01"]);
        let left: Vec<String> = t.into_values().iter().map(|s| s.sha256().into()).collect();
        assert_eq!(left, ["03", "01"]);
    }
}
