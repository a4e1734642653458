//! The publish transaction on a repository directory: the current state, the
//! decisions (`decide.rs`) and the ordered writes (see the module docs of
//! [`super`]).

use super::decide::{Plans, decide};
use super::digest::{Digests, HASH_NAMES};
use super::incoming::{self, Incoming};
use super::index::{self, Key, Stanza};
use super::lifecycle::{self, Changes, Request};
use super::release::{self, Release};
use super::render::{self, Rendered, Stream};
use super::state::{Component, load_components};
use super::table::Table;
use super::write::{current_index, write_indices};
use super::{Action, PublishOptions, Published, Report, Summary};
use super::{copy, foreign, precheck};
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::openpgp::Signer;
use crate::repo::storage::{self, LocalDir, Storage};
use crate::repo::{generation, transaction};
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
    let staging = || {
        if debs.is_empty() {
            return Ok(Incoming::none());
        }
        log.step(&format!("read {} package(s)", debs.len()), || {
            incoming::read(debs, &opts.component, root)
        })
    };
    transaction::run(root, log, staging, |incoming| {
        commit(opts, req, incoming, signer, log)
    })
}

/// The transaction under the lock, in phases: read the live state, decide
/// the changes (a dry run stops there), apply them to the component's table,
/// then render the next generation and commit it ([`writes`]).
fn commit(
    opts: &PublishOptions,
    req: &Request,
    incoming: Incoming,
    signer: Option<&Signer>,
    log: &Log,
) -> Result<Summary> {
    let root = &opts.repo;
    // 1. The live state. Readers use `live`; this publish writes the next
    // generation beside it.
    let live = root.join("dists").join(&opts.codename);
    let moved_from = super::suite::check(opts, signer.is_some())?;
    generation::remove_debris(&live)?;
    let mut comps = load_components(&live)?;
    let signed = precheck::signatures(&live, signer.is_some(), opts)?;
    let (previous, foreign) = precheck::release(&live, opts)?;

    // 2. The changes: the packages given, copies, removals and retention,
    // all decided before anything is written.
    let mut plans = decide(
        opts,
        comps.entry(opts.component.clone()).or_default(),
        incoming,
        &req.debs,
    )?;
    let source = copy_source(opts, req)?;
    let mut changes = lifecycle::plan(
        req,
        opts.force,
        &format!("{}/{}", opts.codename, opts.component),
        &comps[&opts.component].stanzas,
        &plans.table,
        source.as_ref().map(|(n, s)| (n.as_str(), s)),
    )?;
    // Replaced by a dpkg-equal version string (`decide.rs`): removed too.
    changes.removals.extend(plans.superseded.iter().cloned());
    let others = report_lines(&comps[&opts.component], &changes, &plans)?;
    let summary = |plans: Plans, changed: bool, deleted: Vec<String>, dry_run: bool| Summary {
        packages: Report::new(plans, others),
        changed,
        release: live.join("Release"),
        signed_by: signer.map(Signer::primary_fingerprint),
        deleted,
        dry_run,
    };
    if req.dry_run {
        return Ok(summary(plans, false, Vec::new(), true));
    }

    // 3. The changes applied to the component's table.
    let comp = comps.get_mut(&opts.component).expect("inserted above");
    let applied = apply(comp, &changes, &mut plans)?;

    // 4. The next generation, rendered and committed.
    let before = Before {
        comps: &comps,
        signed,
        listed: previous
            .as_deref()
            .map(release::listed_files)
            .unwrap_or_default(),
        release: previous,
        foreign,
        moved_from,
    };
    let (changed, deleted) = std::thread::scope(|scope| {
        let new = New {
            component: &opts.component,
            plans: &plans,
            copies: &applied.copies,
            gained: &applied.gained,
            lost: &applied.lost,
            garbage: &applied.garbage,
        };
        writes(scope, opts, req, before, new, signer, log)
    })?;
    Ok(summary(plans, changed, deleted, false))
}

/// With `--copy FROM`: `FROM/<component>` and its stanzas.
fn copy_source(opts: &PublishOptions, req: &Request) -> Result<Option<(String, Table)>> {
    let root = &opts.repo;
    match &req.copy_from {
        Some(from) if *from == opts.codename => Err(Error::config(format!(
            "--copy {from}: that is the target codename"
        ))),
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
            Ok(Some((format!("{from}/{}", opts.component), stanzas)))
        }
        None => Ok(None),
    }
}

/// The report lines besides the packages given: copied, already there,
/// removed (a removal names the stanza it drops, wherever it was found).
fn report_lines(comp: &Component, changes: &Changes, plans: &Plans) -> Result<Vec<Published>> {
    let mut removed: Vec<Published> = Vec::new();
    for key in &changes.removals {
        let st = match comp.stanzas.get(key)? {
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
    let mut lines: Vec<Published> = changes
        .copies
        .iter()
        .map(|s| super::published_of(s, Action::Copied))
        .collect();
    lines.extend(
        changes
            .already
            .iter()
            .map(|s| super::published_of(s, Action::Unchanged)),
    );
    lines.extend(removed);
    Ok(lines)
}

/// What applying the changes to a component's table gives the writes.
struct Applied<'a> {
    /// The copies kept, in the order indices list them (to be merged with
    /// the table's).
    copies: Vec<&'a Stanza>,
    /// Architectures whose index loses a stanza (replaced or removed), and
    /// those of the new stanzas.
    lost: BTreeSet<String>,
    gained: BTreeSet<String>,
    /// Pool files of the stanzas removed.
    garbage: Vec<String>,
}

/// Apply `changes` to `comp`: its table keeps what was there, less what is
/// replaced or removed; the new stanzas stay where they are (the plans'
/// table, the copies) and join it when the indices are rendered.
fn apply<'a>(comp: &mut Component, changes: &'a Changes, plans: &mut Plans) -> Result<Applied<'a>> {
    let dropped: HashSet<&Key> = changes.removals.iter().collect();
    let mut garbage = Vec::new();
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
    let mut copies: Vec<&Stanza> = changes
        .copies
        .iter()
        .filter(|s| !dropped.contains(&s.key()))
        .collect();
    copies.sort_by(|a, b| index::order(a, b));
    Ok(Applied {
        copies,
        lost,
        gained,
        garbage,
    })
}

/// The live generation as this publish found it.
struct Before<'a> {
    /// Its components.
    comps: &'a BTreeMap<String, Component>,
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
    /// Pool files of the stanzas removed: deleted after the switch when no
    /// index names them any more.
    garbage: &'a [String],
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

/// The next generation of `dists/<codename>` being written: its directory,
/// the storage over it, and the indices streamed there (synced with what the
/// storage wrote before the switch).
struct Next<'a> {
    dir: &'a Path,
    store: LocalDir,
    written: Vec<PathBuf>,
}

impl Next<'_> {
    /// Write `name` (relative to the generation).
    fn write(&mut self, name: &str, bytes: &[u8]) -> Result<()> {
        self.store.write_new(name, bytes)
    }

    /// Everything written, to be made durable by the switch.
    fn written(&mut self) -> Vec<PathBuf> {
        let mut all = std::mem::take(&mut self.written);
        all.extend(self.store.take_written());
        all
    }
}

/// The writes, in order (see the module docs of [`super`]): pool files on a
/// thread of `scope` while the next generation is rendered (indices,
/// Release, signatures, by-hash pruned), then the commit: the switch, and the
/// pool's clean-up. Returns whether anything changed and the pool files
/// deleted.
fn writes<'s>(
    scope: &'s std::thread::Scope<'s, '_>,
    opts: &'s PublishOptions,
    req: &'s Request,
    before: Before<'_>,
    new: New<'s>,
    signer: Option<&Signer>,
    log: &Log,
) -> Result<(bool, Vec<String>)> {
    let root = &opts.repo;
    let live = root.join("dists").join(&opts.codename);
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

    // 2. Indices and their by-hash copies, in the next generation.
    let dist = generation::prepare(&live)?;
    let mut next = Next {
        dir: &dist,
        store: LocalDir::new(&dist),
        written: Vec::new(),
    };
    let arches = index_arches(
        &opts.architectures,
        before.comps.iter().map(|(name, c)| {
            // An `all` package goes into every architecture's index (a
            // `binary-all` directory, where there is one, is kept).
            let gained = match *name == new.component {
                true => new.gained.iter(),
                false => Default::default(),
            };
            (&c.arches, c.stanzas.arches().iter().chain(gained))
        }),
    );
    let (mut files, changed_indices) = indices(&mut next, opts, &before, new, &arches)?;

    // 3. Release, Release.gpg, InRelease.
    let arches: Vec<String> = arches.into_iter().collect();
    // Files of other tools listed in the Release stay listed (see foreign.rs).
    for path in &before.foreign.files {
        if let Some(d) = foreign::digests(&dist, path, before.listed.get(path))? {
            let d = d.only(opts.release_hashes);
            let file = dist.join(path);
            release::link_by_hash(file.parent().unwrap_or(&dist), &file, &d)?;
            files.insert(path.clone(), d);
        }
    }
    let date = crate::util::epoch::build_time()? as i64;
    let text = release_text(opts, &before, &arches, &files, date);
    let (write_release, release_text) =
        next_release(before.release.as_deref(), text, changed_indices);
    let mut changed = wrote_pool || changed_indices;
    if signer.is_none() && before.signed {
        for name in ["InRelease", "Release.gpg"] {
            let p = dist.join(name);
            fs::remove_file(&p).ctx("removing", &p)?;
        }
        changed = true;
    }
    if write_release {
        next.write("Release", release_text.as_bytes())?;
        changed = true;
    }
    if let Some(signer) = signer {
        changed |= sign(&mut next, signer, &release_text, write_release, date)?;
    }

    // 4. Housekeeping: old by-hash generations.
    if changed {
        for name in before.comps.keys() {
            for arch in &arches {
                let rel = format!("{name}/binary-{arch}");
                let keep = by_hash_kept(&rel, &files, &before.listed);
                release::prune_by_hash(&next.store, &rel, &keep)?;
            }
        }
    }
    // 5. The commit: the switch (readers see the whole new generation at
    // once), the suite link, then the garbage: pool files no index names any
    // more, now that the new Release is live.
    if changed {
        generation::switch(&dist, &live, &next.written(), pool, &mut fresh)?;
    } else {
        pool.wait()?;
        generation::remove_debris(&live)?;
    }
    super::suite::link(opts, before.moved_from.as_deref(), signer, log)?;
    let deleted = lifecycle::collect_garbage(root, new.garbage)?;
    Ok((changed, deleted))
}

/// The architectures with an index: every component's `binary-<arch>`
/// directories (`all` too, where there is one) and the architectures of its
/// stanzas, old and new (an `all` stanza is in every index, not in one of
/// its own), and those `listed` (the agents' of a build run,
/// `publish.architectures`, `--architecture`); the host's when there are none.
fn index_arches<'a, A: Iterator<Item = &'a String>>(
    listed: &BTreeSet<String>,
    comps: impl Iterator<Item = (&'a BTreeSet<String>, A)>,
) -> BTreeSet<String> {
    let mut arches: BTreeSet<String> = listed.clone();
    for (dirs, stanzas) in comps {
        arches.extend(dirs.iter().cloned());
        for arch in stanzas {
            if arch != "all" && !arches.contains(arch) {
                arches.insert(arch.to_string());
            }
        }
    }
    if arches.is_empty() {
        arches.insert(crate::debian::arch::host_deb());
    }
    arches
}

/// Every index of the next generation: those known to change, or that
/// differ from the one there, rendered and written (with their by-hash
/// copies); the others kept. Returns the files the Release lists and
/// whether any index was written.
fn indices(
    next: &mut Next<'_>,
    opts: &PublishOptions,
    before: &Before<'_>,
    new: New<'_>,
    arches: &BTreeSet<String>,
) -> Result<(BTreeMap<String, Digests>, bool)> {
    let mut files: BTreeMap<String, Digests> = BTreeMap::new();
    let mut to_write: Vec<(PathBuf, String, Rendered)> = Vec::new();
    for (name, c) in before.comps {
        for arch in arches {
            let rel = format!("{name}/binary-{arch}");
            let dir = next.dir.join(&rel);
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
                false => current_index(&dir, &rel, c.current.get(arch), &index, &before.listed)?,
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
    let changed = !to_write.is_empty();
    write_indices(
        &to_write,
        opts.release_hashes,
        &mut files,
        &mut next.written,
    )?;
    Ok((files, changed))
}

/// The Release text of the next generation, dated `date`.
fn release_text(
    opts: &PublishOptions,
    before: &Before<'_>,
    arches: &[String],
    files: &BTreeMap<String, Digests>,
    date: i64,
) -> String {
    let components: Vec<String> = before.comps.keys().cloned().collect();
    let description = opts
        .description
        .clone()
        .or_else(|| before.foreign.description.clone())
        .unwrap_or_else(|| format!("{} {} repository", opts.label, opts.codename));
    Release {
        origin: &opts.origin,
        label: &opts.label,
        suite: opts.suite(),
        codename: &opts.codename,
        date,
        architectures: arches,
        components: &components,
        description: &description,
        extra: &before.foreign.fields,
        files,
        hashes: opts.release_hashes,
    }
    .render()
}

/// Whether the Release is written, and its text: `text`, unless the indices
/// are unchanged and it differs from the `previous` one only in its Date
/// (the repository is the same: the previous Release, and its signatures,
/// stay).
fn next_release(previous: Option<&str>, text: String, changed_indices: bool) -> (bool, String) {
    let same = previous.is_some_and(|p| release::without_date(p) == release::without_date(&text));
    let write = changed_indices || !same;
    match (write, previous) {
        (false, Some(previous)) => (false, previous.to_string()),
        _ => (write, text),
    }
}

/// Make `Release.gpg` and `InRelease` sign `release` (unless they already
/// do and the Release is not rewritten). Returns whether they were written.
fn sign(
    next: &mut Next<'_>,
    signer: &Signer,
    release: &str,
    write_release: bool,
    date: i64,
) -> Result<bool> {
    let in_release = next.store.read("InRelease")?;
    let current = !write_release
        && next.store.exists("Release.gpg")?
        && in_release
            .is_some_and(|(t, _)| std::str::from_utf8(&t).is_ok_and(|t| signer.signed(t, release)));
    if current {
        return Ok(false);
    }
    let sigs = signer.sign(release, date)?;
    next.write("Release.gpg", sigs.release_gpg.as_bytes())?;
    next.write("InRelease", sigs.in_release.as_bytes())?;
    Ok(true)
}

/// The by-hash names kept in the index directory `rel`: those of the current
/// and of the previous generation of every file there.
fn by_hash_kept(
    rel: &str,
    files: &BTreeMap<String, Digests>,
    listed: &BTreeMap<String, release::Listed>,
) -> HashSet<String> {
    let mut keep = HashSet::new();
    let here = |path: &String| Path::new(path).parent() == Some(Path::new(rel));
    for d in files.iter().filter(|(p, _)| here(p)).map(|(_, d)| d) {
        keep.extend(HASH_NAMES.iter().map(|h| d.get(h).to_string()));
    }
    for l in listed.iter().filter(|(p, _)| here(p)).map(|(_, l)| l) {
        keep.extend(l.digests.iter().flatten().cloned());
    }
    keep
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::ReleaseHashes;
    use sha2::{Digest, Sha256};

    fn set(items: &[&str]) -> BTreeSet<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn indices_are_for_the_directories_and_the_stanzas_architectures() {
        let arches = |comps: &[(&[&str], &[&str])]| {
            let sets: Vec<(BTreeSet<String>, Vec<String>)> = comps
                .iter()
                .map(|(d, s)| (set(d), s.iter().map(|a| a.to_string()).collect()))
                .collect();
            index_arches(&set(&[]), sets.iter().map(|(d, s)| (d, s.iter())))
        };
        // Directories and stanzas of every component; `all` alone adds none.
        let got = arches(&[(&["amd64"], &["amd64", "all"]), (&["i386"], &["arm64"])]);
        assert_eq!(got, set(&["amd64", "arm64", "i386"]));
        // A `binary-all` directory there is kept.
        assert_eq!(
            arches(&[(&["all", "amd64"], &["all"])]),
            set(&["all", "amd64"])
        );
        // Nothing known: the host's architecture.
        let host = crate::debian::arch::host_deb();
        assert_eq!(arches(&[]), set(&[host.as_str()]));
        assert_eq!(arches(&[(&[], &["all"])]), set(&[host.as_str()]));
        // Listed ones join whatever is there, and replace the host's.
        let listed = set(&["arm64"]);
        let none: [(&BTreeSet<String>, std::slice::Iter<String>); 0] = [];
        assert_eq!(index_arches(&listed, none.into_iter()), set(&["arm64"]));
        let dirs = set(&["amd64"]);
        let stanzas = ["all".to_string()];
        assert_eq!(
            index_arches(&listed, [(&dirs, stanzas.iter())].into_iter()),
            set(&["amd64", "arm64"])
        );
    }

    #[test]
    fn a_release_from_the_state_and_the_indices() {
        let opts = PublishOptions {
            codename: "bookworm".into(),
            suite: Some("stable".into()),
            release_hashes: ReleaseHashes::parse(&["SHA256", "SHA512"]).unwrap(),
            ..PublishOptions::default()
        };
        let comps: BTreeMap<String, Component> = [("contrib", ()), ("main", ())]
            .into_iter()
            .map(|(n, ())| (n.to_string(), Component::default()))
            .collect();
        let foreign = foreign::Foreign {
            fields: vec!["Valid-Until: Sat, 01 Jan 2000 00:00:00 +0000".into()],
            ..Default::default()
        };
        let before = Before {
            comps: &comps,
            signed: false,
            release: None,
            listed: BTreeMap::new(),
            foreign,
            moved_from: None,
        };
        let index = b"Package: a\n\n";
        let files: BTreeMap<String, Digests> = [(
            "main/binary-amd64/Packages".to_string(),
            Digests::of(index).only(opts.release_hashes),
        )]
        .into();
        let arches = ["amd64".to_string(), "arm64".to_string()];
        let text = release_text(&opts, &before, &arches, &files, 1_700_000_000);
        let sha256 = hex::encode(Sha256::digest(index));
        let sha512 = hex::encode(sha2::Sha512::digest(index));
        let expected = format!(
            "Origin: cfy-ap\nLabel: cfy-ap\nSuite: stable\nCodename: bookworm\n\
             Date: Tue, 14 Nov 2023 22:13:20 +0000\nArchitectures: amd64 arm64\n\
             Components: contrib main\nDescription: cfy-ap bookworm repository\n\
             Valid-Until: Sat, 01 Jan 2000 00:00:00 +0000\nAcquire-By-Hash: yes\n\
             SHA256:\n {sha256}               12 main/binary-amd64/Packages\n\
             SHA512:\n {sha512}               12 main/binary-amd64/Packages\n"
        );
        assert_eq!(text, expected);
        // A Description given, else the existing one, else the default.
        let described = Before {
            foreign: foreign::Foreign {
                description: Some("theirs".into()),
                ..Default::default()
            },
            ..before
        };
        let text = release_text(&opts, &described, &arches, &files, 0);
        assert!(text.contains("\nDescription: theirs\n"), "{text}");
        let opts = PublishOptions {
            description: Some("ours".into()),
            ..opts
        };
        let text = release_text(&opts, &described, &arches, &files, 0);
        assert!(text.contains("\nDescription: ours\n"), "{text}");
    }

    #[test]
    fn a_release_that_differs_only_in_its_date_is_kept() {
        let old = "Origin: o\nDate: Thu, 01 Jan 1970 00:00:00 +0000\nSHA256:\n x 1 f\n";
        let new = "Origin: o\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nSHA256:\n x 1 f\n";
        let other = "Origin: p\nDate: Tue, 14 Nov 2023 22:13:20 +0000\nSHA256:\n x 1 f\n";
        assert_eq!(
            next_release(Some(old), new.into(), false),
            (false, old.into())
        );
        // Rewritten when an index changed, the content differs, or there is none.
        assert_eq!(
            next_release(Some(old), new.into(), true),
            (true, new.into())
        );
        assert_eq!(
            next_release(Some(old), other.into(), false),
            (true, other.into())
        );
        assert_eq!(next_release(None, new.into(), false), (true, new.into()));
    }

    #[test]
    fn by_hash_keeps_the_current_and_the_previous_generation_of_its_directory() {
        let (now, was) = (Digests::of(b"now"), Digests::of(b"was"));
        let files: BTreeMap<String, Digests> = [
            ("main/binary-amd64/Packages".to_string(), now.clone()),
            (
                "main/binary-arm64/Packages".to_string(),
                Digests::of(b"arm"),
            ),
        ]
        .into();
        let listed = release::listed_files(&format!(
            "SHA256:\n {} 3 main/binary-amd64/Packages.gz\n {} 3 main/binary-arm64/Packages\n",
            was.get("SHA256"),
            Digests::of(b"old arm").get("SHA256"),
        ));
        let keep = by_hash_kept("main/binary-amd64", &files, &listed);
        let mut expected: HashSet<String> =
            HASH_NAMES.iter().map(|h| now.get(h).to_string()).collect();
        expected.insert(was.get("SHA256").to_string());
        assert_eq!(keep, expected);
    }
}
