//! The publish transaction on a repository directory: the current state, the
//! decisions (`decide.rs`) and the ordered writes (see the module docs of
//! [`super`]).

use super::decide::{Plans, decide};
use super::digest::{Digests, HASH_NAMES};
use super::incoming::{self, Incoming};
use super::index::{self, Key, Stanza};
use super::lifecycle::{self, Request};
use super::release::{self, Release};
use super::render::{self, Rendered, Stream};
use super::state::{Component, load_components, read_optional};
use super::write::{current_index, write_atomic, write_indices};
use super::{Action, PublishOptions, Published, Report, Summary};
use super::{copy, foreign, precheck};
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::openpgp::Signer;
use crate::repo::{generation, lock, stage, storage};
use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

pub(super) fn run(
    opts: &PublishOptions,
    req: &Request,
    signer: Option<&Signer>,
    log: &Log,
) -> Result<Summary> {
    let debs = &req.debs;
    // Absolute once, rather than resolved against the cwd for every file.
    let opts = &PublishOptions {
        repo: std::path::absolute(&opts.repo).ctx("resolving", &opts.repo)?,
        ..opts.clone()
    };
    let root = &opts.repo;
    let incoming = stage::in_root(root, || {
        if debs.is_empty() {
            return Ok(Incoming::none());
        }
        log.step(&format!("read {} package(s)", debs.len()), || {
            incoming::read(debs, &opts.component, root)
        })
    })?;
    let _lock = lock::lock(root, log)?;
    stage::remove_stale_staging(root);
    commit(opts, req, incoming, signer, log)
}

fn commit(
    opts: &PublishOptions,
    req: &Request,
    incoming: Incoming,
    signer: Option<&Signer>,
    log: &Log,
) -> Result<Summary> {
    let root = &opts.repo;
    // Readers use `live`; this publish writes the next generation beside it.
    let live = root.join("dists").join(&opts.codename);
    let moved_from = super::suite::check(opts, signer.is_some())?;
    generation::remove_debris(&live)?;
    let mut comps = load_components(&live)?;
    let signed = precheck::signatures(&live, signer.is_some(), opts)?;
    let (previous, foreign) = precheck::release(&live, opts)?;
    let before = Before {
        signed,
        listed: previous
            .as_deref()
            .map(release::listed_files)
            .unwrap_or_default(),
        release: previous,
        foreign,
        moved_from,
    };
    let mut plans = decide(
        opts,
        comps.entry(opts.component.clone()).or_default(),
        incoming,
        &req.debs,
    )?;
    // Copies, removals and retention: decided before anything is written.
    let place = format!("{}/{}", opts.codename, opts.component);
    let source = match &req.copy_from {
        Some(from) if *from == opts.codename => {
            return Err(Error::config(format!(
                "--copy {from}: that is the target codename"
            )));
        }
        Some(from) => {
            let dir = root.join("dists").join(from);
            let mut src = load_components(&dir)?;
            let stanzas = src
                .remove(&opts.component)
                .map(|c| c.stanzas)
                .ok_or_else(|| {
                    Error::config(format!(
                        "--copy {from}: no {from}/{} in {}",
                        opts.component,
                        root.display()
                    ))
                })?;
            Some((format!("{from}/{}", opts.component), stanzas))
        }
        None => None,
    };
    let mut changes = lifecycle::plan(
        req,
        opts.force,
        &place,
        &comps[&opts.component].stanzas,
        &plans.table,
        source.as_ref().map(|(n, s)| (n.as_str(), s)),
    )?;
    // Replaced by a dpkg-equal version string (`decide.rs`): removed too.
    changes.removals.extend(plans.superseded.iter().cloned());
    let mut removed: Vec<Published> = Vec::new();
    for key in &changes.removals {
        let st = match comps[&opts.component].stanzas.get(key)? {
            Some(st) => Some(st),
            None => match changes.copies.iter().find(|c| c.key() == *key) {
                Some(st) => Some(st.clone()),
                None => plans.table.get(key)?,
            },
        };
        if let Some(st) = st {
            removed.push(super::published_of(&st, Action::Removed));
        }
    }
    let mut copied: Vec<Published> = changes
        .copies
        .iter()
        .map(|s| super::published_of(s, Action::Copied))
        .collect();
    copied.extend(
        changes
            .already
            .iter()
            .map(|s| super::published_of(s, Action::Unchanged)),
    );
    copied.extend(removed);
    let others = copied;
    if req.dry_run {
        return Ok(Summary {
            packages: Report::new(plans, others),
            changed: false,
            release: live.join("Release"),
            signed_by: signer.map(Signer::primary_fingerprint),
            deleted: Vec::new(),
            dry_run: true,
        });
    }

    // The component's table keeps what was there, less what is replaced or
    // removed; the new stanzas stay where they are (the plans' table, the
    // copies) and join it when the indices are rendered.
    let dropped: HashSet<&Key> = changes.removals.iter().collect();
    let mut garbage = Vec::new();
    let comp = comps.get_mut(&opts.component).expect("inserted above");
    // Architectures whose index loses a stanza (replaced or removed), and
    // those of the new stanzas.
    let mut lost: BTreeSet<String> = BTreeSet::new();
    let mut gained: BTreeSet<String> = BTreeSet::new();
    let copies = changes.copies.iter().cloned().map(Ok);
    for st in plans.table.stream().chain(copies) {
        let st = st?;
        let key = st.key();
        if let Some(old) = comp.stanzas.remove(&key)? {
            lost.insert(old.arch().to_string());
        }
        match dropped.contains(&key) {
            true => garbage.push(st.filename().to_string()),
            false => drop(gained.insert(st.arch().to_string())),
        }
    }
    for key in &changes.removals {
        if let Some(st) = comp.stanzas.remove(key)? {
            lost.insert(st.arch().to_string());
            garbage.push(st.filename().to_string());
        }
        plans.table.remove(key)?;
    }
    // In the order indices list them, to be merged with the table's.
    let mut copies: Vec<&Stanza> = changes
        .copies
        .iter()
        .filter(|s| !dropped.contains(&s.key()))
        .collect();
    copies.sort_by(|a, b| index::order(a, b));
    let (changed, deleted) = std::thread::scope(|scope| {
        let new = New {
            component: &opts.component,
            plans: &plans,
            copies: &copies,
            gained: &gained,
            lost: &lost,
        };
        writes(scope, opts, req, &comps, new, before, signer, log, garbage)
    })?;
    Ok(Summary {
        packages: Report::new(plans, others),
        changed,
        release: live.join("Release"),
        signed_by: signer.map(Signer::primary_fingerprint),
        deleted,
        dry_run: false,
    })
}

/// The live generation as this publish found it.
struct Before {
    /// Whether it is signed.
    signed: bool,
    /// Its Release, and the files that lists.
    release: Option<String>,
    listed: BTreeMap<String, release::Listed>,
    /// What other tools put there (`foreign.rs`).
    foreign: foreign::Foreign,
    /// The codename the suite link is moved away from (`suite.rs`).
    moved_from: Option<String>,
}

/// What a publish adds to its component: the packages given (the plans'
/// table) and copies.
#[derive(Clone, Copy)]
struct New<'a> {
    component: &'a str,
    plans: &'a Plans,
    copies: &'a [&'a Stanza],
    /// The architectures of the new stanzas.
    gained: &'a BTreeSet<String>,
    /// Architectures whose index loses a stanza.
    lost: &'a BTreeSet<String>,
}

impl<'a> New<'a> {
    /// The new stanzas of component `name`, in order.
    fn stream(self, name: &str) -> Stream<'a> {
        match name == self.component {
            true => {
                let copies = self.copies.iter().copied().cloned().map(Ok);
                render::merged(self.plans.table.stream(), Box::new(copies))
            }
            false => Box::new(std::iter::empty()),
        }
    }

    /// Whether the index of `arch` in component `name` is known to change.
    fn changes(self, name: &str, arch: &str) -> bool {
        let here = |a: &String| a == arch || a == "all";
        name == self.component && (self.lost.iter().any(here) || self.gained.iter().any(here))
    }
}

/// The writes, in order (see the module docs of [`super`]): pool files on a
/// thread of `scope` while the next generation is prepared, then the switch
/// and the pool's clean-up. Returns whether anything changed and the pool
/// files deleted.
#[allow(clippy::too_many_arguments)]
fn writes<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    opts: &'s PublishOptions,
    req: &'s Request,
    comps: &BTreeMap<String, Component>,
    new: New<'s>,
    before: Before,
    signer: Option<&Signer>,
    log: &Log,
    garbage: Vec<String>,
) -> Result<(bool, Vec<String>)> {
    let root = &opts.repo;
    let live = root.join("dists").join(&opts.codename);
    let Before {
        signed: signed_before,
        release: previous,
        foreign,
        listed,
        moved_from,
    } = before;
    // 1. Pool files, straight into their directories (`copy.rs`), copied and
    // synced on another thread while the indices are built; waited for
    // before the switch.
    let wrote_pool = new.plans.copies_any();
    // Declared before the copy's thread: on an early return that thread is
    // joined first, then what it created goes.
    let mut fresh = generation::Fresh::found_by(|| {
        let files = new.plans.fresh().unwrap_or_default();
        files.iter().map(|f| root.join(f)).collect()
    });
    let pool = copy::start(scope, root, new.plans, &req.debs);
    let mut written: Vec<PathBuf> = Vec::new();

    // 2. Indices and their by-hash copies, in the next generation.
    let dist = generation::prepare(&live)?;
    let dist = &dist;
    let mut arches: BTreeSet<String> = BTreeSet::new();
    for (name, c) in comps {
        arches.extend(c.arches.iter().cloned());
        // An `all` package goes into every architecture's index (a
        // `binary-all` directory, where there is one, is kept above).
        let gained = match *name == new.component {
            true => new.gained.iter(),
            false => Default::default(),
        };
        for arch in c.stanzas.arches().iter().chain(gained) {
            if arch != "all" && !arches.contains(arch) {
                arches.insert(arch.to_string());
            }
        }
    }
    if arches.is_empty() {
        arches.insert(crate::debian::arch::host_deb());
    }
    let mut files: BTreeMap<String, Digests> = BTreeMap::new();
    let mut to_write: Vec<(PathBuf, String, Rendered)> = Vec::new();
    for (name, c) in comps {
        for arch in &arches {
            let rel = format!("{name}/binary-{arch}");
            let dir = dist.join(&rel);
            storage::remove_partials(&dir);
            let index = Rendered::new(move || {
                // This architecture's and `all` stanzas; errors go through.
                let here = move |s: &Result<Stanza>| {
                    s.as_ref()
                        .map_or(true, |s| s.arch() == arch || s.arch() == "all")
                };
                let old = c.stanzas.stream().filter(here);
                render::merged(Box::new(old), Box::new(new.stream(name).filter(here)))
            });
            // An index known to change is not compared with the one there.
            let found = match new.changes(name, arch) {
                true => None,
                false => current_index(&dir, &rel, c.current.get(arch), &index, &listed)?,
            };
            match found {
                Some(found) => {
                    for (suffix, d) in found {
                        let d = d.only(opts.release_hashes);
                        release::link_by_hash(&dir, &dir.join(format!("Packages{suffix}")), &d)?;
                        files.insert(format!("{rel}/Packages{suffix}"), d);
                    }
                }
                None => to_write.push((dir, rel, index)),
            }
        }
    }
    let changed_indices = !to_write.is_empty();
    write_indices(&to_write, opts.release_hashes, &mut files, &mut written)?;
    drop(to_write);

    // 3. Release, Release.gpg, InRelease.
    let components: Vec<String> = comps.keys().cloned().collect();
    let arches: Vec<String> = arches.into_iter().collect();
    // Files of other tools listed in the Release stay listed (see foreign.rs).
    for path in &foreign.files {
        if let Some(d) = foreign::digests(dist, path, listed.get(path))? {
            let d = d.only(opts.release_hashes);
            let file = dist.join(path);
            release::link_by_hash(file.parent().unwrap_or(dist), &file, &d)?;
            files.insert(path.clone(), d);
        }
    }
    let description = opts
        .description
        .clone()
        .or_else(|| foreign.description.clone())
        .unwrap_or_else(|| format!("{} {} repository", opts.label, opts.codename));
    let date = crate::util::epoch::build_time()? as i64;
    let text = Release {
        origin: &opts.origin,
        label: &opts.label,
        suite: opts.suite(),
        codename: &opts.codename,
        date,
        architectures: &arches,
        components: &components,
        description: &description,
        extra: &foreign.fields,
        files: &files,
        hashes: opts.release_hashes,
    }
    .render();
    let same_release = previous
        .as_deref()
        .is_some_and(|p| release::without_date(p) == release::without_date(&text));
    let write_release = changed_indices || !same_release;
    let release_text = if write_release {
        text
    } else {
        previous.clone().unwrap_or(text)
    };
    let mut changed = wrote_pool || changed_indices;
    if signer.is_none() && signed_before {
        for name in ["InRelease", "Release.gpg"] {
            let p = dist.join(name);
            fs::remove_file(&p).ctx("removing", &p)?;
        }
        changed = true;
    }
    if write_release {
        write_atomic(&dist.join("Release"), release_text.as_bytes(), &mut written)?;
        changed = true;
    }
    if let Some(signer) = signer {
        let in_release = read_optional(&dist.join("InRelease"))?;
        let current = !write_release
            && dist.join("Release.gpg").exists()
            && in_release.is_some_and(|t| signer.signed(&t, &release_text));
        if !current {
            let sigs = signer.sign(&release_text, date)?;
            let gpg = dist.join("Release.gpg");
            write_atomic(&gpg, sigs.release_gpg.as_bytes(), &mut written)?;
            write_atomic(
                &dist.join("InRelease"),
                sigs.in_release.as_bytes(),
                &mut written,
            )?;
            changed = true;
        }
    }

    // 4. Housekeeping: old by-hash generations, the suite link.
    if changed {
        for name in comps.keys() {
            for arch in &arches {
                let rel = format!("{name}/binary-{arch}");
                let mut keep = HashSet::new();
                // Current and previous generation of every file in that directory.
                let here = |path: &String| Path::new(path).parent() == Some(Path::new(&rel));
                for d in files.iter().filter(|(p, _)| here(p)).map(|(_, d)| d) {
                    keep.extend(HASH_NAMES.iter().map(|h| d.get(h).to_string()));
                }
                for l in listed.iter().filter(|(p, _)| here(p)).map(|(_, l)| l) {
                    keep.extend(l.digests.iter().flatten().cloned());
                }
                release::prune_by_hash(&dist.join(&rel), &keep)?;
            }
        }
    }
    // 5. The switch: readers see the whole new generation at once.
    if changed {
        generation::switch(dist, &live, &written, pool, &mut fresh)?;
    } else {
        pool.wait()?;
        generation::remove_debris(&live)?;
    }
    super::suite::link(opts, moved_from.as_deref(), signer, log)?;
    // 6. Pool files no index names any more, now that the new Release is live.
    let deleted = lifecycle::collect_garbage(root, &garbage)?;
    Ok((changed, deleted))
}
