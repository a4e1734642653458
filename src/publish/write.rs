//! Writing the indices and the Release files: temporary file, then rename.

use super::digest::{Digests, ReleaseHashes};
use super::stage::{hash_file, set_mode};
use super::{PublishOptions, index, release};
use crate::codec::{gz_reuse, xz_reuse};
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use std::collections::BTreeMap;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// The digests of an index directory's `Packages{,.gz,.xz}` when they are up to
/// date: `Packages` holds `want` and all three match the previous Release (so
/// they belong to one generation). `None` means they must be written.
pub(super) fn current_index(
    dir: &Path,
    rel: &str,
    current: Option<&str>,
    want: &str,
    listed: &BTreeMap<String, release::Listed>,
) -> Result<Option<Vec<(&'static str, Digests)>>> {
    if current != Some(want) {
        return Ok(None);
    }
    let mut found = Vec::new();
    for suffix in ["", ".gz", ".xz"] {
        let path = dir.join(format!("Packages{suffix}"));
        let d = if suffix.is_empty() {
            Digests::of(want.as_bytes())
        } else if path.exists() {
            hash_file(&path)?
        } else {
            return Ok(None);
        };
        if !release::matches(listed.get(&format!("{rel}/Packages{suffix}")), &d) {
            return Ok(None);
        }
        found.push((suffix, d));
    }
    Ok(Some(found))
}

/// Write `Packages`, `.gz` and `.xz` of each index: compressed and checksummed
/// in parallel, written to temporary files (each fsynced), linked into
/// `by-hash/`, then renamed into place with the uncompressed `Packages` (the
/// one publishing reads back) last. (All of this is in the next generation;
/// its directories are synced before the switch.)
pub(super) fn write_indices(
    to_write: &[(PathBuf, String, index::Rendered)],
    hashes: ReleaseHashes,
    files: &mut BTreeMap<String, Digests>,
    written: &mut Vec<PathBuf>,
) -> Result<()> {
    let read_previous = |path: PathBuf| match fs::read(&path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", &path, e)),
    };
    let mut previous = Vec::with_capacity(to_write.len());
    for (dir, _, _) in to_write {
        previous.push((
            read_previous(dir.join("Packages.gz"))?,
            read_previous(dir.join("Packages.xz"))?,
        ));
    }
    // The uncompressed text is checksummed on its own threads, and written and
    // flushed to disk on another, while the chunks are compressed (unchanged
    // ones reused from the previous files, the others on all cores inside
    // gz_reuse::encode and xz_reuse::encode) and both compressed files
    // checksummed.
    let mut outputs = Vec::with_capacity(to_write.len());
    for ((dir, _, r), (prev_gz, prev_xz)) in to_write.iter().zip(&previous) {
        outputs.push(std::thread::scope(|s| {
            let plain = s.spawn(|| Digests::of_all(&[r.text.as_bytes()], hashes));
            let plain_file = s.spawn(|| {
                fs::create_dir_all(dir).ctx("creating", dir)?;
                let tmp = temp_file(dir, "Packages", r.text.as_bytes())?;
                fs::File::open(&tmp)
                    .and_then(|f| f.sync_data())
                    .ctx("flushing", &tmp)?;
                Ok::<_, Error>(tmp)
            });
            let chunks = r.chunks();
            let (xz, gz) = std::thread::scope(|s| {
                let xz = s.spawn(|| xz_reuse::encode(&chunks, prev_xz.as_deref()));
                let gz = gz_reuse::encode(&chunks, prev_gz.as_deref());
                (xz.join().expect("xz thread"), gz)
            });
            let mut d = Digests::of_all(&[&xz, &gz], hashes).into_iter();
            let mut next = || d.next().expect("one digest per buffer");
            let (xz_d, gz_d) = (next(), next());
            let mut plain = plain.join().expect("checksum thread").into_iter();
            let plain_file = plain_file.join().expect("writer thread");
            let plain = (plain_file, plain.next().expect("one digest"));
            ((xz, xz_d), (gz, gz_d), plain)
        }));
    }
    let mut pending = Vec::new();
    for ((dir, rel, _), ((xz, xz_d), (gz, gz_d), (plain, plain_d))) in to_write.iter().zip(outputs)
    {
        let plain = plain?;
        for (name, bytes, d) in [
            ("Packages.xz", &xz[..], xz_d),
            ("Packages.gz", &gz[..], gz_d),
        ] {
            let tmp = temp_file(dir, name, bytes)?;
            pending.push((tmp, dir, format!("{rel}/{name}"), name, d));
        }
        // Renamed last: the uncompressed index is the one publishing reads back.
        pending.push((plain, dir, format!("{rel}/Packages"), "Packages", plain_d));
    }
    for (tmp, dir, key, name, d) in pending {
        release::link_by_hash(dir, &tmp, &d)?;
        let dest = dir.join(name);
        tmp.persist(&dest)
            .map_err(|e| Error::io("writing", &dest, e.error))?;
        written.push(dest);
        files.insert(key, d);
    }
    Ok(())
}

/// A complete temporary file beside `dir/name`, mode 0644 (synced later, with
/// everything else this publish wrote, before the switch).
pub(crate) fn temp_file(dir: &Path, name: &str, bytes: &[u8]) -> Result<TempPath> {
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".partial")
        .tempfile_in(dir)
        .ctx("writing to", dir)?;
    tmp.write_all(bytes).ctx("writing", tmp.path())?;
    set_mode(tmp.as_file(), tmp.path())?;
    Ok(tmp.into_temp_path())
}

/// Write `dest` through a temporary file; its path goes to `written` (synced
/// before the switch).
pub(super) fn write_atomic(dest: &Path, bytes: &[u8], written: &mut Vec<PathBuf>) -> Result<()> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).ctx("creating", dir)?;
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    let tmp = temp_file(dir, &name, bytes)?;
    tmp.persist(dest)
        .map_err(|e| Error::io("writing", dest, e.error))?;
    written.push(dest.to_path_buf());
    Ok(())
}

/// `dists/<suite>` → `<codename>` when the suite has its own name.
pub(super) fn link_suite(root: &Path, opts: &PublishOptions, log: &Log) -> Result<()> {
    let suite = opts.suite();
    if suite == opts.codename {
        return Ok(());
    }
    let link = root.join("dists").join(suite);
    match fs::symlink_metadata(&link) {
        Ok(m) if m.file_type().is_symlink() => {
            if fs::read_link(&link).ok().as_deref() == Some(Path::new(&opts.codename)) {
                return Ok(());
            }
        }
        Ok(_) => {
            log.warn(&format!(
                "{} exists and is not a symlink; clients must use the codename {}",
                link.display(),
                opts.codename
            ));
            return Ok(());
        }
        Err(_) => {}
    }
    let tmp = root
        .join("dists")
        .join(format!(".{suite}.{}.partial", std::process::id()));
    let _ = fs::remove_file(&tmp);
    std::os::unix::fs::symlink(&opts.codename, &tmp).ctx("creating", &tmp)?;
    fs::rename(&tmp, &link).ctx("creating", &link)
}

/// Remove temporary files left in `dir` by a publish that was killed. Only lock
/// holders write them, so any found under the lock are debris.
pub(crate) fn remove_partials(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        if name.starts_with('.') && name.ends_with(".partial") && !name.starts_with(".cfy-ap-") {
            let _ = fs::remove_file(entry.path());
        }
    }
}
