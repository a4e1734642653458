//! Deterministic tar.gz of a directory tree (the agent archive, and `cfy-ap archive`).
//!
//! Entries sorted by name at every level, GNU headers (long names via `././@LongLink`,
//! never PAX), symlinks stored as symlinks, hard links as links to the first copy,
//! modes kept, owner root:root (uid/gid 0), mtimes clamped to SOURCE_DATE_EPOCH,
//! gzip header without name or time. Streamed: memory does not grow with the payload.

use crate::codec::gzip::{GzipOptions, GzipWriter};
use crate::error::{Error, IoContext, Result};
use crate::util::atomic::AtomicFile;
use crate::util::epoch;
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use tar::{EntryType, Header};

#[derive(Debug, Default, Clone)]
pub struct Stats {
    pub entries: u64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Sockets, fifos and devices: not archived.
    pub skipped: Vec<PathBuf>,
}

/// Write `dir` as `out` (a .tar.gz) with members under `prefix`.
pub fn write_tar_gz(
    dir: &Path,
    prefix: &str,
    out: &Path,
    level: u32,
    force: bool,
) -> Result<Stats> {
    let meta = std::fs::symlink_metadata(dir).ctx("reading", dir)?;
    if !meta.is_dir() {
        return Err(Error::config(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let mut file = AtomicFile::create(out)?;
    let tmp = file.path().to_path_buf();
    let gz = GzipWriter::new(
        file.file(),
        GzipOptions {
            level,
            ..GzipOptions::default()
        },
    );
    let mut builder = tar::Builder::new(gz);
    let mut stats = append_tree(&mut builder, dir, prefix, epoch::source_date_epoch()?)?;
    let gz = builder.into_inner().ctx("writing", &tmp)?;
    stats.bytes_in = gz.bytes_in();
    gz.finish().ctx("writing", &tmp)?;
    stats.bytes_out = file.file().metadata().ctx("reading", &tmp)?.len();
    file.commit(force)?;
    Ok(stats)
}

/// Append every entry under `dir` (itself included, as `prefix/`) to `builder`.
pub fn append_tree<W: Write>(
    builder: &mut tar::Builder<W>,
    dir: &Path,
    prefix: &str,
    clamp: Option<u64>,
) -> Result<Stats> {
    let prefix = prefix.trim_matches('/');
    let mut stats = Stats::default();
    let mut seen_inodes: HashMap<(u64, u64), String> = HashMap::new();
    let walker = walkdir::WalkDir::new(dir)
        .follow_links(false)
        .sort_by_file_name();
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().map(Path::to_path_buf).unwrap_or_default();
            Error::build(format!("reading {}: {e}", path.display()))
        })?;
        let path = entry.path();
        let meta = entry
            .metadata()
            .map_err(|e| Error::build(format!("reading {}: {e}", path.display())))?;
        let rel = path.strip_prefix(dir).unwrap_or(path);
        let mut name = prefix.to_string();
        for c in rel.components() {
            name.push('/');
            name.push_str(&c.as_os_str().to_string_lossy());
        }
        let mut header = Header::new_gnu();
        header.set_mode(meta.mode() & 0o7777);
        header.set_uid(0);
        header.set_gid(0);
        header.set_username("root").ctx("archiving", path)?;
        header.set_groupname("root").ctx("archiving", path)?;
        let mtime = meta.mtime().max(0) as u64;
        header.set_mtime(clamp.map_or(mtime, |c| mtime.min(c)));
        let ft = meta.file_type();
        if ft.is_dir() {
            header.set_entry_type(EntryType::Directory);
            header.set_size(0);
            name.push('/');
            builder
                .append_data(&mut header, &name, std::io::empty())
                .ctx("archiving", path)?;
        } else if ft.is_symlink() {
            let target = std::fs::read_link(path).ctx("reading link", path)?;
            header.set_entry_type(EntryType::Symlink);
            header.set_size(0);
            builder
                .append_link(&mut header, &name, &target)
                .ctx("archiving", path)?;
        } else if ft.is_file() {
            let key = (meta.dev(), meta.ino());
            if meta.nlink() > 1 {
                if let Some(first) = seen_inodes.get(&key) {
                    header.set_entry_type(EntryType::Link);
                    header.set_size(0);
                    builder
                        .append_link(&mut header, &name, first)
                        .ctx("archiving", path)?;
                    stats.entries += 1;
                    continue;
                }
                seen_inodes.insert(key, name.clone());
            }
            header.set_entry_type(EntryType::Regular);
            header.set_size(meta.len());
            let f = File::open(path).ctx("reading", path)?;
            // A file that changes size while we read it would corrupt the archive.
            builder
                .append_data(&mut header, &name, crate::log::Counted(f.take(meta.len())))
                .ctx("archiving", path)?;
        } else {
            stats.skipped.push(path.to_path_buf());
            continue;
        }
        stats.entries += 1;
    }
    Ok(stats)
}

use std::io::Read as _;

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{PermissionsExt, symlink};

    fn tree() -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        let r = d.path();
        std::fs::create_dir_all(r.join("bin")).unwrap();
        std::fs::create_dir_all(r.join("lib/a.b")).unwrap();
        std::fs::write(r.join("bin/tool"), "#!/bin/sh\necho hi\n").unwrap();
        std::fs::set_permissions(r.join("bin/tool"), std::fs::Permissions::from_mode(0o755))
            .unwrap();
        std::fs::write(r.join("lib/a.b/x.py"), "x = 1\n").unwrap();
        std::fs::write(r.join("lib/a"), "file named a\n").unwrap();
        symlink("/usr/bin/python3", r.join("bin/python")).unwrap();
        let long = "d".repeat(120);
        std::fs::create_dir_all(r.join(&long)).unwrap();
        std::fs::write(r.join(&long).join("f".repeat(150)), "long\n").unwrap();
        std::fs::hard_link(r.join("lib/a"), r.join("lib/z-hardlink")).unwrap();
        d
    }

    fn list(path: &Path) -> Vec<(String, EntryType, u32, u64, String)> {
        let f = File::open(path).unwrap();
        let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
        a.entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                let h = e.header();
                (
                    e.path().unwrap().to_string_lossy().into_owned(),
                    h.entry_type(),
                    h.mode().unwrap(),
                    h.mtime().unwrap(),
                    e.link_name()
                        .unwrap()
                        .map(|l| l.to_string_lossy().into_owned())
                        .unwrap_or_default(),
                )
            })
            .collect()
    }

    #[test]
    fn sorted_links_modes_long_names() {
        let t = tree();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("a.tar.gz");
        write_tar_gz(t.path(), "/opt/agent/env/", &dest, 6, false).unwrap();
        let entries = list(&dest);
        let names: Vec<&str> = entries.iter().map(|e| e.0.as_str()).collect();
        assert_eq!(names[0], "opt/agent/env/");
        assert_eq!(names[1], "opt/agent/env/bin/");
        assert_eq!(names[2], "opt/agent/env/bin/python");
        assert_eq!(names[3], "opt/agent/env/bin/tool");
        assert!(names.iter().any(|n| n.ends_with(&"f".repeat(150))));
        let py = &entries[2];
        assert_eq!(
            (py.1, py.4.as_str()),
            (EntryType::Symlink, "/usr/bin/python3")
        );
        assert_eq!(entries[3].2, 0o755);
        let hl = entries
            .iter()
            .find(|e| e.0.ends_with("z-hardlink"))
            .unwrap();
        assert_eq!(
            (hl.1, hl.4.as_str()),
            (EntryType::Link, "opt/agent/env/lib/a")
        );
        // `lib/a` (file) sorts before `lib/a.b/` (dir): per-directory byte order.
        let ia = names
            .iter()
            .position(|n| *n == "opt/agent/env/lib/a")
            .unwrap();
        let iab = names
            .iter()
            .position(|n| *n == "opt/agent/env/lib/a.b/")
            .unwrap();
        assert!(ia < iab);
    }

    #[test]
    fn existing_output_is_kept_without_force() {
        let t = tree();
        let out = tempfile::tempdir().unwrap();
        let dest = out.path().join("a.tar.gz");
        std::fs::write(&dest, "precious").unwrap();
        let e = write_tar_gz(t.path(), "x", &dest, 6, false).unwrap_err();
        assert_eq!(e.exit_code(), 3);
        assert_eq!(std::fs::read(&dest).unwrap(), b"precious");
        assert_eq!(
            std::fs::read_dir(out.path()).unwrap().count(),
            1,
            "temp file left behind"
        );
    }
}
