//! The yum publish transaction on a repository directory: duplicate decisions
//! and the ordered writes (see the module docs of [`super`]).

use super::existing::{self, Entry, Existing};
use super::incoming::{self, Incoming};
use super::repomd::{self, NewRecord};
use super::{Compression, YumOptions};
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::openpgp::Signer;
use crate::repo::confine::{Naming, Resolver};
use crate::repo::duplicate::{self, Verdict};
use crate::repo::report::{Action, Published, Summary};
use crate::repo::storage::{LocalDir, Storage, Swap, remove_partials, sha256_file};
use crate::repo::{generation, stage, transaction};
use sha2::{Digest, Sha256};
use std::collections::{HashMap, HashSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// What identifies an rpm in a repository: name, epoch, version, release,
/// arch (`name [epoch:]version-release (arch)` in messages).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Key {
    name: String,
    epoch: String,
    ver: String,
    rel: String,
    arch: String,
}

impl std::fmt::Display for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.epoch == "0" {
            write!(f, "{} {}-{} ({})", self.name, self.ver, self.rel, self.arch)
        } else {
            let (e, v, r) = (&self.epoch, &self.ver, &self.rel);
            write!(f, "{} {e}:{v}-{r} ({})", self.name, self.arch)
        }
    }
}

impl duplicate::Identity for Key {
    const BUMP: &'static str = "the version or release";
}

fn key(e: &Entry) -> Key {
    Key {
        name: e.name.clone(),
        epoch: e.epoch.clone(),
        ver: e.ver.clone(),
        rel: e.rel.clone(),
        arch: e.arch.clone(),
    }
}

pub(super) fn run(
    opts: &YumOptions,
    rpms: &[PathBuf],
    signer: Option<&Signer>,
    log: &Log,
) -> Result<Summary> {
    let root = std::path::absolute(&opts.repo).ctx("resolving", &opts.repo)?;
    let clamp = crate::util::epoch::source_date_epoch()?.map(|t| t as i64);
    let staging = || {
        log.step(&format!("read {} package(s)", rpms.len()), || {
            incoming::stage_all(&root, rpms, clamp)
        })
    };
    transaction::run(&root, log, staging, |staged| {
        // Again under the lock: another process may have changed it meanwhile.
        check_repodata(&root)?;
        remove_partials(&root.join("repodata"));
        // A killed publish's unfinished `.repodata.next`.
        generation::remove_debris(&root.join("repodata"))?;
        commit(&root, opts, staged, signer)
    })
}

/// `repodata/` must be a directory of the repository: it is replaced by its
/// next generation in one rename, which would replace a symlink by a
/// directory (and leave the metadata it pointed to behind, stale). Read-only.
pub(super) fn check_repodata(root: &Path) -> Result<()> {
    let path = root.join("repodata");
    let why = match fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => "is a symlink",
        Ok(m) if !m.is_dir() => "is not a directory",
        _ => return Ok(()),
    };
    Err(Error::config(format!(
        "{} {why}: publishing replaces repodata/ as a whole",
        path.display()
    ))
    .with(
        "make repodata/ a real directory of the repository (move what it points to in its place)",
    ))
}

/// What to do with one staged package.
struct Plan {
    incoming: Incoming,
    /// Where it goes (relative to the root); `None`: already there.
    copy_to: Option<String>,
    /// Its entries join the metadata (added or replaced).
    new: bool,
    published: Published,
}

/// `name [epoch:]version-release` and `name … (arch)`, for messages.
fn evr(e: &Entry) -> String {
    if e.epoch == "0" {
        format!("{}-{}", e.ver, e.rel)
    } else {
        format!("{}:{}-{}", e.epoch, e.ver, e.rel)
    }
}

/// How a package file that would leave the repository is refused.
fn naming(root: &Path) -> Naming<'_> {
    Naming {
        file: root,
        field: "location",
        fix: "Packages/ and the directories in it must stay inside the repository: \
              replace a symlink leading elsewhere by a directory",
    }
}

fn decide(
    root: &Path,
    opts: &YumOptions,
    old: &Existing,
    staged: Vec<Incoming>,
) -> Result<Vec<Plan>> {
    let index: HashMap<Key, &Entry> = old.packages.iter().map(|e| (key(e), e)).collect();
    // Which package each file is: one file is never written for another.
    let mut owners: HashMap<String, (Key, String)> = old
        .packages
        .iter()
        .map(|e| (e.location.clone(), (key(e), key(e).to_string())))
        .collect();
    let mut files = Resolver::new(root);
    let mut given = duplicate::Given::default();
    let mut plans = Vec::new();
    for inc in staged {
        let e = &inc.entry;
        let k = key(e);
        let what = k.to_string();
        if !given.first(&k, e.pkgid.clone(), &inc.src)? {
            continue;
        }
        let published = index.get(&k).map(|o| duplicate::Published {
            digest: o.pkgid.as_str(),
            location: o.location.as_str(),
        });
        let (action, at) =
            match duplicate::against(&k, e.pkgid.as_str(), &inc.src, published, opts.force)? {
                Verdict::Same => (Action::Unchanged, &index[&k].location),
                Verdict::Replace => (Action::Replaced, &e.location),
                Verdict::New => (Action::Added, &e.location),
            };
        let dest = files.resolve(at, &naming(root))?;
        let copy = match action {
            Action::Replaced => true,
            _ if !dest.exists() => true,
            Action::Unchanged => false,
            _ => sha256_file(&dest)? != e.pkgid,
        };
        if copy {
            match owners.get(at) {
                Some((owner, other)) if *owner != k => {
                    return Err(Error::exists(format!(
                        "{at} is the file of {other}, published in {}; \
                         {what} cannot be written there",
                        root.display()
                    ))
                    .with("that entry would then name other bytes (-f does not replace it): bump the version or release"));
                }
                _ => {
                    owners.insert(at.clone(), (k.clone(), what.clone()));
                }
            }
        }
        plans.push(Plan {
            published: Published {
                package: e.name.clone(),
                version: evr(e),
                architecture: e.arch.clone(),
                filename: at.clone(),
                sha256: e.pkgid.clone(),
                action,
            },
            new: action != Action::Unchanged,
            copy_to: copy.then(|| at.clone()),
            incoming: inc,
        });
    }
    Ok(plans)
}

fn commit(
    root: &Path,
    opts: &YumOptions,
    staged: Vec<Incoming>,
    signer: Option<&Signer>,
) -> Result<Summary> {
    let repodata = root.join("repodata");
    let repomd_path = repodata.join("repomd.xml");
    let asc_path = repodata.join("repomd.xml.asc");
    // The live state.
    let old = existing::load(root)?;
    let signed_before = asc_path.exists();
    if signer.is_none() && signed_before && !opts.unsigned {
        return Err(Error::exists(format!(
            "{} is signed; publishing without --sign-key would drop its signature",
            repodata.display()
        ))
        .with("give --sign-key, or --unsigned to publish it unsigned"));
    }
    // The changes.
    let mut plans = decide(root, opts, &old, staged)?;
    let summary = |plans: Vec<Plan>, changed: bool| Summary {
        packages: plans
            .into_iter()
            .map(|p| p.published)
            .collect::<Vec<_>>()
            .into(),
        changed,
        release: repomd_path.clone(),
        signed_by: signer.map(Signer::primary_fingerprint),
        deleted: Vec::new(),
        dry_run: opts.dry_run,
    };
    if opts.dry_run {
        return Ok(summary(plans, false));
    }

    // The next generation, rendered and committed:
    // 1. Packages, renamed into place while, on another thread, the metadata
    // documents are rendered and compressed.
    let moves: Vec<(String, TempPath)> = plans
        .iter_mut()
        .filter_map(|p| Some((p.copy_to.clone()?, p.incoming.tmp.take()?)))
        .collect();
    let wrote = !moves.is_empty();
    let metadata_current = old.repomd.is_some() && !plans.iter().any(|p| p.new);
    if metadata_current {
        persist_packages(root, moves)?;
        // Only the signature may need work (signing added, or a repository
        // written by a version that renamed repomd.xml and its signature in
        // turn and was killed in between).
        let text = old.repomd.as_deref().unwrap_or_default();
        let changed = fix_signature(&repodata, text, signer, signed_before)?;
        return Ok(summary(plans, wrote || changed));
    }
    let entries = next_entries(&old, &plans);
    // The packages this publish adds to `Packages/`: gone again if it fails
    // before the switch (no metadata would name them).
    let fresh = moves.iter().map(|(rel, _)| root.join(rel));
    let mut fresh = generation::Fresh::new(fresh.filter(|p| !p.exists()).collect());
    let (docs, persisted) = std::thread::scope(|s| {
        let render = s.spawn(|| render_documents(&entries, opts.compression));
        let persisted = persist_packages(root, moves);
        (render.join().expect("metadata renderer"), persisted)
    });
    persisted?;
    let docs = docs?;

    // 2. The next `repodata`, beside the live one (`.repodata.next`, a
    // hard-linked copy of it): the new metadata files, repomd.xml and its
    // signature written there, and what neither this repomd.xml nor the
    // previous one names pruned. One filesystem sync makes it durable with
    // the packages.
    let next = generation::prepare(&repodata)?;
    let store = LocalDir::new(&next);
    let revision = crate::util::epoch::build_time()? as i64;
    let (records, text) = next_repomd(&docs, &old, opts.compression, revision);
    for (d, r) in docs.iter().zip(&records) {
        let name = r.href.strip_prefix("repodata/").unwrap_or(&r.href);
        if !store.exists(name)? {
            store.write_new(name, &d.compressed)?;
        }
    }
    store.write_new("repomd.xml", text.as_bytes())?;
    match signer {
        Some(s) => store.write_new(
            "repomd.xml.asc",
            s.detached(text.as_bytes(), revision)?.as_bytes(),
        )?,
        None => store.delete("repomd.xml.asc")?,
    }
    let keep: HashSet<String> = records
        .iter()
        .map(|r| r.href.clone())
        .chain(old.records.iter().map(|r| r.href.clone()))
        .collect();
    prune(&store, &keep);
    stage::sync_filesystem(root)?;

    // 3. The switch: repomd.xml, its signature and the files they name
    // change in one step (a reader, or a publish killed at any point, never
    // pairs a repomd.xml with another one's signature).
    generation::exchange(&next, &repodata, &mut fresh)?;
    Ok(summary(plans, true))
}

/// The packages of the next metadata: those published, less those replaced,
/// and the new ones, in the order of the documents (name, arch, epoch,
/// version, release, location).
fn next_entries<'a>(old: &'a Existing, plans: &'a [Plan]) -> Vec<&'a Entry> {
    let replaced: HashSet<Key> = plans
        .iter()
        .filter(|p| p.published.action == Action::Replaced)
        .map(|p| key(&p.incoming.entry))
        .collect();
    let mut entries: Vec<&Entry> = old
        .packages
        .iter()
        .filter(|e| !replaced.contains(&key(e)))
        .chain(plans.iter().filter(|p| p.new).map(|p| &p.incoming.entry))
        .collect();
    entries.sort_by(|a, b| {
        (&a.name, &a.arch, &a.epoch, &a.ver, &a.rel, &a.location).cmp(&(
            &b.name,
            &b.arch,
            &b.epoch,
            &b.ver,
            &b.rel,
            &b.location,
        ))
    });
    entries
}

/// The records of the metadata documents `docs` (each named by its
/// checksum) and the `repomd.xml` text of revision `revision` listing them,
/// with the records of other tools' documents in `old` carried over.
fn next_repomd(
    docs: &[Document],
    old: &Existing,
    compression: Compression,
    revision: i64,
) -> (Vec<NewRecord>, String) {
    let records: Vec<NewRecord> = docs
        .iter()
        .map(|d| NewRecord {
            kind: d.kind,
            href: format!("repodata/{}-{}{}", d.checksum, d.kind, compression.suffix()),
            checksum: d.checksum.clone(),
            open_checksum: d.open_checksum.clone(),
            size: d.compressed.len() as u64,
            open_size: d.open_size,
        })
        .collect();
    let carried: Vec<&repomd::Record> = old
        .records
        .iter()
        .filter(|r| !repomd::managed(&r.kind))
        .collect();
    let text = repomd::render(revision, &records, &carried);
    (records, text)
}

/// Rename staged packages to their places in `Packages/`.
fn persist_packages(root: &Path, moves: Vec<(String, TempPath)>) -> Result<()> {
    let mut dirs: HashSet<PathBuf> = HashSet::new();
    for (rel, tmp) in moves {
        let dest = root.join(rel);
        let dir = dest.parent().unwrap_or(root);
        if !dirs.contains(dir) {
            fs::create_dir_all(dir).ctx("creating", dir)?;
            dirs.insert(dir.to_path_buf());
        }
        tmp.persist(&dest)
            .map_err(|e| Error::io("writing", &dest, e.error))?;
    }
    Ok(())
}

/// Make `repomd.xml.asc` match `repomd` (written with a signer, removed
/// without one): a compare-and-swap on the signature, the switch object of a
/// change of signature alone. Returns whether anything changed.
fn fix_signature(
    repodata: &Path,
    repomd: &str,
    signer: Option<&Signer>,
    signed_before: bool,
) -> Result<bool> {
    const ASC: &str = "repomd.xml.asc";
    let store = LocalDir::new(repodata);
    let current = store.read(ASC)?;
    let tag = current.as_ref().map(|(_, tag)| tag);
    let next = match signer {
        Some(s) => {
            let valid = current.as_ref().is_some_and(|(asc, _)| {
                std::str::from_utf8(asc)
                    .is_ok_and(|asc| s.verifies_detached(repomd.as_bytes(), asc))
            });
            if valid {
                return Ok(false);
            }
            Some(s.detached(repomd.as_bytes(), crate::util::epoch::build_time()? as i64)?)
        }
        None if signed_before => None,
        None => return Ok(false),
    };
    match store.compare_and_swap(ASC, tag, next.as_deref().map(str::as_bytes))? {
        Swap::Done(_) => Ok(true),
        Swap::Conflict(_) => Err(Error::build(format!(
            "{} changed during this publish (another publisher without the lock?)",
            repodata.join(ASC).display()
        ))
        .with("publish again")),
    }
}

/// Remove the metadata files (`<sha256>-<type>.<ext>`) of `repodata` not in
/// `keep` (best effort: what is left is collected by a later publish).
fn prune(repodata: &impl Storage, keep: &HashSet<String>) {
    let Ok(names) = repodata.list("") else {
        return;
    };
    for name in names {
        let ours = name.len() > 65
            && name.as_bytes()[64] == b'-'
            && name[..64].bytes().all(|c| c.is_ascii_hexdigit())
            && !name.contains('/');
        if ours && !keep.contains(&format!("repodata/{name}")) {
            let _ = repodata.delete(&name);
        }
    }
}

/// One metadata document, rendered and compressed.
struct Document {
    kind: &'static str,
    compressed: Vec<u8>,
    checksum: String,
    open_checksum: String,
    open_size: u64,
}

/// A document's type, root element, entry of a package and closing tag.
type DocShape = (&'static str, String, fn(&Entry) -> &str, &'static str);

/// primary, filelists and other for `entries`, compressed on their own threads.
fn render_documents(entries: &[&Entry], compression: Compression) -> Result<Vec<Document>> {
    let n = entries.len();
    let kinds: [DocShape; 3] = [
        (
            "primary",
            format!(
                "<metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
                 xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"{n}\">"
            ),
            |e| &e.primary,
            "</metadata>",
        ),
        (
            "filelists",
            format!(
                "<filelists xmlns=\"http://linux.duke.edu/metadata/filelists\" packages=\"{n}\">"
            ),
            |e| &e.filelists,
            "</filelists>",
        ),
        (
            "other",
            format!("<otherdata xmlns=\"http://linux.duke.edu/metadata/other\" packages=\"{n}\">"),
            |e| &e.other,
            "</otherdata>",
        ),
    ];
    std::thread::scope(|s| {
        let jobs: Vec<_> = kinds
            .iter()
            .map(|(kind, open, part, close)| {
                s.spawn(move || {
                    let mut doc = String::with_capacity(
                        entries.iter().map(|e| part(e).len() + 1).sum::<usize>() + 256,
                    );
                    doc.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
                    doc.push_str(open);
                    doc.push('\n');
                    for e in entries {
                        doc.push_str(part(e));
                        doc.push('\n');
                    }
                    // As createrepo_c: no newline after the root element.
                    doc.push_str(close);
                    let compressed = compress(doc.as_bytes(), compression)?;
                    Ok(Document {
                        kind,
                        checksum: hex::encode(Sha256::digest(&compressed)),
                        open_checksum: hex::encode(Sha256::digest(doc.as_bytes())),
                        open_size: doc.len() as u64,
                        compressed,
                    })
                })
            })
            .collect();
        jobs.into_iter()
            .map(|j| j.join().expect("metadata writer"))
            .collect()
    })
}

fn compress(bytes: &[u8], compression: Compression) -> Result<Vec<u8>> {
    let fail = |e: std::io::Error| Error::build(format!("compressing metadata: {e}"));
    match compression {
        Compression::Gzip => {
            // No file name and no time in the header: reproducible.
            let mut enc = flate2::GzBuilder::new().write(
                Vec::with_capacity(bytes.len() / 4),
                flate2::Compression::new(6),
            );
            enc.write_all(bytes).map_err(fail)?;
            enc.finish().map_err(fail)
        }
        Compression::Zstd => zstd::bulk::compress(bytes, 9).map_err(fail),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn entry(epoch: &str, pkgid: &str, location: &str) -> Entry {
        let s = |v: &str| v.to_string();
        Entry {
            name: s("a"),
            arch: s("noarch"),
            epoch: s(epoch),
            ver: s("1"),
            rel: s("1"),
            pkgid: s(pkgid),
            location: s(location),
            primary: String::new(),
            filelists: String::new(),
            other: String::new(),
        }
    }

    fn gunzip(bytes: &[u8]) -> String {
        let mut text = String::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_string(&mut text)
            .unwrap();
        text
    }

    #[test]
    fn the_next_metadata_from_the_state_and_the_changes() {
        let e = |name: &str, pkgid: &str| Entry {
            name: name.into(),
            arch: "noarch".into(),
            epoch: "0".into(),
            ver: "1".into(),
            rel: "1".into(),
            pkgid: pkgid.into(),
            location: format!("Packages/{name}.rpm"),
            primary: format!("<package>{name} {pkgid}</package>"),
            filelists: format!("<package pkgid=\"{pkgid}\"/>"),
            other: format!("<package pkgid=\"{pkgid}\" name=\"{name}\"/>"),
        };
        let updateinfo = "<data type=\"updateinfo\"><location href=\"repodata/u.xml\"/></data>";
        let old = Existing {
            repomd: Some(String::new()),
            records: vec![
                repomd::Record {
                    kind: "primary".into(),
                    href: "repodata/old-primary.xml.gz".into(),
                    checksum: "old".into(),
                    checksum_type: "sha256".into(),
                    raw: "<data type=\"primary\"/>".into(),
                },
                repomd::Record {
                    kind: "updateinfo".into(),
                    href: "repodata/u.xml".into(),
                    checksum: "u".into(),
                    checksum_type: "sha256".into(),
                    raw: updateinfo.into(),
                },
            ],
            packages: vec![e("b", "b1"), e("a", "a1")],
        };
        let plan = |entry: Entry, action: Action| Plan {
            published: Published {
                package: entry.name.clone(),
                version: "1-1".into(),
                architecture: "noarch".into(),
                filename: entry.location.clone(),
                sha256: entry.pkgid.clone(),
                action,
            },
            new: action != Action::Unchanged,
            copy_to: None,
            incoming: Incoming {
                src: PathBuf::from("x.rpm"),
                entry,
                tmp: None,
            },
        };
        // b replaced (-f), c added, a given again unchanged.
        let plans = [
            plan(e("c", "c1"), Action::Added),
            plan(e("b", "b2"), Action::Replaced),
            plan(e("a", "a1"), Action::Unchanged),
        ];
        let entries = next_entries(&old, &plans);
        let ids: Vec<&str> = entries.iter().map(|e| e.pkgid.as_str()).collect();
        assert_eq!(ids, ["a1", "b2", "c1"]);

        let docs = render_documents(&entries, Compression::Gzip).unwrap();
        let primary = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <metadata xmlns=\"http://linux.duke.edu/metadata/common\" \
             xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\" packages=\"3\">\n\
             <package>a a1</package>\n<package>b b2</package>\n<package>c c1</package>\n\
             </metadata>";
        assert_eq!(docs[0].kind, "primary");
        assert_eq!(gunzip(&docs[0].compressed), primary);
        let other = gunzip(&docs[2].compressed);
        assert!(other.contains("packages=\"3\">\n<package pkgid=\"a1\" name=\"a\"/>\n"));
        assert!(other.ends_with("<package pkgid=\"c1\" name=\"c\"/>\n</otherdata>"));

        let (records, text) = next_repomd(&docs, &old, Compression::Gzip, 1_700_000_000);
        let kinds: Vec<&str> = records.iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["primary", "filelists", "other"]);
        let p = &records[0];
        assert_eq!(p.open_checksum, hex::encode(Sha256::digest(primary)));
        assert_eq!(p.open_size, primary.len() as u64);
        assert_eq!(p.checksum, hex::encode(Sha256::digest(&docs[0].compressed)));
        let expected = format!(
            "  <data type=\"primary\">\n    <checksum type=\"sha256\">{c}</checksum>\n    \
             <open-checksum type=\"sha256\">{o}</open-checksum>\n    \
             <location href=\"repodata/{c}-primary.xml.gz\"/>\n    \
             <timestamp>1700000000</timestamp>\n    <size>{s}</size>\n    \
             <open-size>{n}</open-size>\n  </data>\n",
            c = p.checksum,
            o = p.open_checksum,
            s = docs[0].compressed.len(),
            n = primary.len()
        );
        assert!(text.contains(&expected), "{text}");
        assert!(text.contains("  <revision>1700000000</revision>\n"));
        // Another tool's record is carried; the old primary is not.
        assert!(
            text.ends_with(&format!("  {updateinfo}\n</repomd>\n")),
            "{text}"
        );
        assert!(!text.contains("old-primary"));
        let zstd = next_repomd(&docs, &old, Compression::Zstd, 0).0;
        assert!(zstd[2].href.ends_with("-other.xml.zst"));
    }

    #[test]
    fn a_file_another_entry_names_is_never_written() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path();
        // A repository from before epochs were in file names: epoch 1 at the
        // epoch-less name.
        let legacy = "Packages/a/a-1-1.noarch.rpm";
        fs::create_dir_all(root.join("Packages/a")).unwrap();
        fs::write(root.join(legacy), b"epoch 1").unwrap();
        let old = Existing {
            packages: vec![entry("1", "111", legacy)],
            ..Existing::default()
        };
        let incoming = |epoch: &str, pkgid: &str| Incoming {
            src: PathBuf::from("a.rpm"),
            entry: entry(epoch, pkgid, legacy),
            tmp: None,
        };
        for force in [false, true] {
            let opts = YumOptions {
                force,
                ..YumOptions::default()
            };
            // Epoch 0 would be written over epoch 1's file: refused, -f or not.
            let e = decide(root, &opts, &old, vec![incoming("0", "000")])
                .err()
                .expect("refused");
            assert_eq!(e.exit_code(), 3, "{e}");
            assert!(
                e.to_string().contains("is the file of a 1:1-1 (noarch)"),
                "{e}"
            );
            // Two new packages for one file in one publish: the second refused.
            let two = vec![incoming("2", "222"), incoming("3", "333")];
            let fresh = Existing::default();
            assert!(decide(&root.join("elsewhere"), &opts, &fresh, two).is_err());
        }
        assert_eq!(fs::read(root.join(legacy)).unwrap(), b"epoch 1");
    }
}
