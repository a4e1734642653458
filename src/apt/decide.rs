//! What to do with each package read, decided against the component as found
//! on disk before anything is written: new, unchanged (same bytes), replaced
//! (`force`), or refused (other bytes published, a pool file shared with
//! another index). (The same package given twice is settled when they are
//! read, `incoming.rs`.)

use super::digest::hash_file;
use super::incoming::Incoming;
use super::index::{Key, Stanza};
use super::pool;
use super::state::{Component, referenced_elsewhere};
use super::table::Table;
use super::{Action, PublishOptions, Published};
use crate::debian::version;
use crate::error::{Error, Result};
use crate::repo::confine::Resolver;
use crate::repo::duplicate::{self, Verdict};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What to do with the packages given: their table (in index order; the rows
/// of unchanged ones marked removed, as they are not indexed again) and, per
/// row, the decision. Nothing per package is held besides the table's row.
pub(super) struct Plans {
    pub table: Table,
    /// Per row: the index, among the `.deb` files given, of the one it was read from.
    src: Vec<u32>,
    what: Vec<What>,
    /// Unchanged packages whose published pool path is not the one cfy-ap
    /// would give them (another tool's layout): that path, by row.
    elsewhere: HashMap<usize, String>,
    /// Published packages replaced (`force`) by one whose version string
    /// differs but dpkg compares equal (`1.0` by `0:1.0`): they leave the index.
    pub superseded: Vec<Key>,
}

/// The decision on one package.
#[derive(Clone, Copy)]
struct What {
    action: Action,
    /// Whether the `.deb` goes into the pool (not when the pool already has
    /// those bytes).
    copy: bool,
    /// Whether that creates the pool file (it was not there).
    fresh: bool,
}

/// A package to copy into the pool.
pub(super) struct ToCopy<'a> {
    /// The `.deb` given.
    pub src: &'a Path,
    /// Its stanza: where it goes (`Filename`), unless `to` says otherwise,
    /// and the size and SHA256 the copy must have.
    pub stanza: Stanza,
    pub to: Option<&'a str>,
    /// The pool already has a file there (replaced with `-f`).
    pub replace: bool,
}

impl Plans {
    /// Whether any package goes into the pool.
    pub(super) fn copies_any(&self) -> bool {
        self.what.iter().any(|w| w.copy)
    }

    /// The packages to copy into the pool (of `debs`, the files given), in
    /// order, read again from the table.
    pub(super) fn to_copy<'a>(
        &'a self,
        debs: &'a [PathBuf],
    ) -> impl Iterator<Item = Result<ToCopy<'a>>> + 'a {
        let picked = self.table.rows(true).filter(|r| match r {
            Ok((i, _)) => self.what[*i].copy,
            Err(_) => true,
        });
        picked.map(|r| {
            let (i, stanza) = r?;
            Ok(ToCopy {
                src: &debs[self.src[i] as usize],
                stanza,
                to: self.elsewhere.get(&i).map(String::as_str),
                replace: self.what[i].action == Action::Replaced,
            })
        })
    }

    /// The pool files (relative to the repository) the copies create: what a
    /// publish failing before its switch removes again, as no index names them.
    pub(super) fn fresh(&self) -> Result<Vec<String>> {
        let mut out = Vec::new();
        for r in self.table.rows(true) {
            let (i, stanza) = r?;
            if self.what[i].fresh {
                out.push(match self.elsewhere.get(&i) {
                    Some(to) => to.clone(),
                    None => stanza.filename().to_string(),
                });
            }
        }
        Ok(out)
    }

    /// The report lines, in order.
    pub(super) fn published(&self) -> impl Iterator<Item = Result<Published>> + '_ {
        self.table.rows(true).map(|r| {
            let (i, s) = r?;
            let mut p = super::published_of(&s, self.what[i].action);
            if let Some(f) = self.elsewhere.get(&i) {
                p.filename = f.clone();
            }
            Ok(p)
        })
    }
}

impl duplicate::Identity for Key {
    const BUMP: &'static str = "the version";
}

impl crate::repo::report::Given for Plans {
    fn lines(&self) -> Box<dyn Iterator<Item = Result<Published>> + '_> {
        Box::new(self.published())
    }
}

/// Decide on every package of `incoming` (read from `debs`) against `comp`.
pub(super) fn decide(
    opts: &PublishOptions,
    comp: &Component,
    incoming: Incoming,
    debs: &[PathBuf],
) -> Result<Plans> {
    let root = &opts.repo;
    let mut pool = Resolver::new(root);
    let mut decided = Vec::with_capacity(incoming.src.len());
    let mut elsewhere = HashMap::new();
    let mut superseded = Vec::new();
    for row in incoming.table.rows(true) {
        let (i, st) = row?;
        let st = &st;
        let src = &debs[incoming.src[i] as usize];
        let key: Key = st.key();
        let sha256 = st.sha256();
        let what = key.to_string();
        // The pool path of a new package (the stanza names it).
        let filename = st.filename();
        let published = comp.stanzas.get(&key)?;
        let index = match published {
            Some(_) => comp.source(&key),
            None => PathBuf::new(),
        };
        let by = pool::by_index(&index);
        let shared = |idx: PathBuf| {
            Error::exists(format!(
                "{filename} already exists with other contents and is also indexed by {}",
                idx.display()
            ))
            .with("replacing it would break that index (pool files are shared): bump the version")
        };
        let verdict = duplicate::against(
            &key,
            sha256,
            src,
            published.as_ref().map(|old| duplicate::Published {
                digest: old.sha256(),
                location: old.filename(),
            }),
            opts.force,
        )?;
        let (action, copy, fresh) = match published {
            Some(old) if verdict == Verdict::Same => {
                // Identical: nothing to do, unless its pool file went missing.
                let missing = !pool.resolve(old.filename(), &by)?.exists();
                if old.filename() != filename {
                    elsewhere.insert(i, old.filename().to_string());
                }
                (Action::Unchanged, missing, missing)
            }
            Some(_) => {
                pool.resolve(filename, &by)?;
                if let Some(idx) = referenced_elsewhere(root, opts, &key, filename)? {
                    return Err(shared(idx));
                }
                (Action::Replaced, true, false)
            }
            None if let Some(old) = dpkg_equal(comp, &key)? => {
                // The same package to dpkg (and apt), under another version string.
                if !opts.force {
                    return Err(Error::exists(format!(
                        "{what} is the same version as the published {} ({}): dpkg compares {} and {} equal",
                        old.key(),
                        old.filename(),
                        key.version(),
                        old.version()
                    ))
                    .with(format!("{} has other contents", src.display()))
                    .with(duplicate::bump_or_force::<Key>()));
                }
                let there = pool.resolve(filename, &by)?.exists();
                superseded.push(old.key());
                (Action::Replaced, true, !there)
            }
            None => {
                let dest = pool.resolve(filename, &by)?;
                let fresh = !dest.exists();
                let copy = if fresh {
                    true
                } else if hash_file(&dest)?.sha256 == *sha256 {
                    false
                } else if let Some(idx) = referenced_elsewhere(root, opts, &key, filename)? {
                    return Err(shared(idx));
                } else {
                    true
                };
                (Action::Added, copy, fresh)
            }
        };
        decided.push(What {
            action,
            copy,
            fresh,
        });
    }
    let mut table = incoming.table;
    for (i, w) in decided.iter().enumerate() {
        if w.action == Action::Unchanged {
            table.drop_row(i);
        }
    }
    Ok(Plans {
        table,
        src: incoming.src,
        what: decided,
        elsewhere,
        superseded,
    })
}

/// The published stanza of `key`'s package and architecture whose version is
/// another string that dpkg compares equal (`1.0`, `0:1.0`, `1.00`), if any.
fn dpkg_equal(comp: &Component, key: &Key) -> Result<Option<Stanza>> {
    let found = comp.stanzas.named(key.package())?.into_iter().find(|s| {
        s.arch() == key.arch()
            && s.version() != key.version()
            && version::compare(s.version(), key.version()).is_eq()
    });
    Ok(found)
}
