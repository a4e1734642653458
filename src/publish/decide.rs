//! What to do with each package read, decided against the component as found
//! on disk before anything is written: new, unchanged (same bytes), replaced
//! (`force`), or refused (other bytes published, a pool file shared with
//! another index, the same package given twice with other bytes).

use super::index::{Key, Stanza};
use super::pool;
use super::stage::{Staged, hash_file};
use super::state::{Component, referenced_elsewhere};
use super::{Action, PublishOptions, Published};
use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::PathBuf;

/// What to do with one staged package.
pub(super) struct Plan {
    /// The package read.
    pub src: PathBuf,
    /// Its stanza: the new one, or when unchanged the published one (same
    /// bytes). Its size and SHA256 are what the copy is checked against.
    pub stanza: Stanza,
    pub action: Action,
    /// Whether `src` goes into the pool at `stanza.filename()` (not when the
    /// pool already has those bytes).
    pub copy: bool,
}

impl Plan {
    /// Whether its stanza goes into the index (it is not there yet).
    pub fn indexed(&self) -> bool {
        self.action != Action::Unchanged
    }

    /// The report line.
    pub fn published(&self) -> Published {
        Published::of(&self.stanza, self.action)
    }
}

pub(super) fn decide(
    opts: &PublishOptions,
    comp: &Component,
    staged: Vec<Staged>,
) -> Result<Vec<Plan>> {
    let root = &opts.repo;
    let mut pool = pool::Resolver::new(root);
    let skip = given_twice(&staged)?;
    let mut plans: Vec<Plan> = Vec::with_capacity(staged.len());
    for (s, skip) in staged.into_iter().zip(skip) {
        if skip {
            continue;
        }
        let st = &s.stanza;
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
        let shared = |idx: PathBuf| {
            Error::exists(format!(
                "{filename} already exists with other contents and is also indexed by {}",
                idx.display()
            ))
            .with("replacing it would break that index (pool files are shared): bump the version")
        };
        let (action, copy, stanza) = match published {
            Some(old) if old.sha256() == sha256 => {
                // Identical: nothing to do, unless its pool file went missing.
                let missing = !pool.resolve(old.filename(), &index)?.exists();
                (Action::Unchanged, missing, old)
            }
            Some(old) if !opts.force => {
                return Err(Error::exists(format!(
                    "{what} is already published with different contents ({})",
                    old.filename()
                ))
                .with(format!(
                    "published SHA256 {}, {} has {sha256}",
                    old.sha256(),
                    s.src.display()
                ))
                .with("bump the version, or use -f/--force to replace it"));
            }
            Some(_) => {
                pool.resolve(filename, &index)?;
                if let Some(idx) = referenced_elsewhere(root, opts, &key, filename)? {
                    return Err(shared(idx));
                }
                (Action::Replaced, true, s.stanza)
            }
            None => {
                let dest = pool.resolve(filename, &index)?;
                let copy = if !dest.exists() {
                    true
                } else if hash_file(&dest)?.sha256 == *sha256 {
                    false
                } else if let Some(idx) = referenced_elsewhere(root, opts, &key, filename)? {
                    return Err(shared(idx));
                } else {
                    true
                };
                (Action::Added, copy, s.stanza)
            }
        };
        plans.push(Plan {
            src: s.src,
            stanza,
            action,
            copy,
        });
    }
    Ok(plans)
}

/// Which of `staged` repeat an earlier one (same name, version and
/// architecture, same bytes: published once). The same package given twice
/// with different bytes is an error.
fn given_twice(staged: &[Staged]) -> Result<Vec<bool>> {
    let mut first: HashMap<(&str, &str, &str), &Staged> = HashMap::with_capacity(staged.len());
    let mut skip = vec![false; staged.len()];
    for (s, skip) in staged.iter().zip(&mut skip) {
        let st = &s.stanza;
        let key = (st.package(), st.version(), st.arch());
        match first.entry(key) {
            std::collections::hash_map::Entry::Vacant(v) => {
                v.insert(s);
            }
            std::collections::hash_map::Entry::Occupied(o)
                if o.get().stanza.sha256() == st.sha256() =>
            {
                *skip = true;
            }
            std::collections::hash_map::Entry::Occupied(o) => {
                return Err(Error::config(format!(
                    "{} {} ({}) given twice with different contents: {} and {}",
                    key.0,
                    key.1,
                    key.2,
                    o.get().src.display(),
                    s.src.display()
                )));
            }
        }
    }
    Ok(skip)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::sync::Arc;

    fn staged(src: &str, version: &str, sha256: &str) -> Staged {
        let text = format!(
            "Package: demo\nVersion: {version}\nArchitecture: all\n\
             Filename: pool/demo_{version}_all.deb\nSize: 1\nSHA256: {sha256}\n\n"
        );
        Staged {
            src: PathBuf::from(src),
            stanza: crate::publish::index::parse(&Arc::from(text), Path::new("P"))
                .unwrap()
                .remove(0),
        }
    }

    #[test]
    fn a_package_given_twice_is_published_once_unless_the_bytes_differ() {
        let same = [
            staged("a.deb", "1", "aa"),
            staged("b.deb", "2", "bb"),
            staged("c.deb", "1", "aa"),
        ];
        assert_eq!(given_twice(&same).unwrap(), [false, false, true]);
        let differ = [staged("a.deb", "1", "aa"), staged("c.deb", "1", "cc")];
        let err = given_twice(&differ).unwrap_err();
        assert_eq!(err.exit_code(), 2);
        assert!(
            err.message.contains("demo 1 (all) given twice")
                && err.message.contains("a.deb and c.deb"),
            "{err}"
        );
    }
}
