//! The repository as found on disk: the components of a codename with their
//! stanzas (parsed from the existing `Packages` indices, never from the debs),
//! and which index names a pool file.

use super::PublishOptions;
use super::index::{Key, Reader, Stanza};
use super::spill::Spill;
use super::table::Table;
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
        for s in comp.stanzas.stream() {
            out.push((name.clone(), s?));
        }
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
    pub(super) fn source(&self, key: &Key) -> PathBuf {
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
        let mut indices = Vec::new();
        for bin_dir in subdirs(&comp_dir)? {
            let name = file_name(&bin_dir);
            let Some(arch) = name.strip_prefix("binary-") else {
                continue;
            };
            comp.arches.insert(arch.to_string());
            let path = bin_dir.join("Packages");
            if let Some(reader) = Reader::open(&path)? {
                comp.current.insert(arch.to_string(), reader.file().clone());
                indices.push(reader);
            }
        }
        comp.stanzas = Table::read(indices)?;
        if !comp.arches.is_empty() {
            comps.insert(file_name(&comp_dir), comp);
        }
    }
    Ok(comps)
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
    out.sort();
    Ok(out)
}

pub(super) fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// The largest Release or InRelease read back (a real one lists a few hundred
/// files in a few hundred KiB).
const MAX_RELEASE: u64 = 64 << 20;

/// A Release or InRelease file of the repository, if there is one. A file that
/// is not text (or no regular file, or absurdly large) is a broken repository:
/// exit 2, named.
pub(super) fn read_optional(path: &Path) -> Result<Option<String>> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("reading", path, e)),
        Ok(_) => {}
    }
    let bytes = crate::util::input::read_bounded(path, "repository file", MAX_RELEASE)?;
    String::from_utf8(bytes).map(Some).map_err(|_| {
        Error::config(format!(
            "{}: broken repository file (not UTF-8 text)",
            path.display()
        ))
        .with("restore it from a backup, or remove it and publish again to rewrite it")
    })
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
                for s in Reader::open(&path)?.into_iter().flatten() {
                    let s = s?;
                    if s.filename() == filename && !(ours && s.key() == *key) {
                        return Ok(Some(path));
                    }
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
    super::index::parse(&text.into(), Path::new("P"))
        .unwrap()
        .remove(0)
}
