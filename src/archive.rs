//! Deterministic tar.gz of a directory tree (the agent archive, and `cfy-ap archive`).
//!
//! Entries sorted by name at every level, GNU headers (long names via `././@LongLink`,
//! never PAX), symlinks stored as symlinks, hard links as links to the first copy,
//! modes kept (setuid/setgid cleared where a non-root owner becomes root), owner
//! root:root (uid/gid 0), names as raw bytes, mtimes clamped to SOURCE_DATE_EPOCH,
//! gzip header without name or time. Streamed: memory does not grow with the
//! payload; a file that changes size while it is read fails the run instead of
//! corrupting the archive.

use crate::codec::gzip::{GzipOptions, GzipWriter};
use crate::error::{Error, IoContext, Result};
use crate::util::atomic::AtomicFile;
use crate::util::epoch;
use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::File;
use std::io::{Read, Write};
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
    /// Files whose setuid/setgid bits were cleared (their owner was not root).
    pub cleared_setid: Vec<PathBuf>,
}

/// How to archive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct TarOptions {
    /// gzip level 1-9.
    pub level: u32,
    /// Replace an existing output.
    pub force: bool,
    /// Keep setuid/setgid bits even where the owner is rewritten to root.
    pub keep_setid: bool,
}

/// Write `dir` as `out` (a .tar.gz) with members under `prefix`.
pub(crate) fn write_tar_gz(
    dir: &Path,
    prefix: &str,
    out: &Path,
    level: u32,
    force: bool,
) -> Result<Stats> {
    let opts = TarOptions {
        level,
        force,
        keep_setid: false,
    };
    write_tar_gz_with(dir, prefix, out, &opts)
}

/// [`write_tar_gz`] with every option. When `out` lies inside `dir`, the output
/// and its temporary file are left out of the archive (so the result does not
/// depend on whether `out` existed before).
pub(crate) fn write_tar_gz_with(
    dir: &Path,
    prefix: &str,
    out: &Path,
    opts: &TarOptions,
) -> Result<Stats> {
    let meta = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::config(format!(
                "{}: no such directory",
                dir.display()
            )));
        }
        Err(e) => return Err(Error::config(format!("{}: {e}", dir.display()))),
    };
    if !meta.is_dir() {
        return Err(Error::config(format!(
            "{} is not a directory",
            dir.display()
        )));
    }
    let prefix = check_prefix(prefix)?;
    let mut file = AtomicFile::create(out)?;
    let tmp = file.path().to_path_buf();
    let exclude = [out, tmp.as_path()]
        .iter()
        .filter_map(|p| within(dir, p))
        .collect::<Vec<_>>();
    let gz = GzipWriter::new(
        file.file(),
        GzipOptions {
            level: opts.level,
            ..GzipOptions::default()
        },
    );
    let mut builder = tar::Builder::new(gz);
    let walk = Walk {
        clamp: epoch::source_date_epoch()?,
        exclude: &exclude,
        keep_setid: opts.keep_setid,
    };
    let mut stats = walk.append_tree(&mut builder, dir, &prefix)?;
    let gz = builder.into_inner().ctx("writing", &tmp)?;
    stats.bytes_in = gz.bytes_in();
    gz.finish().ctx("writing", &tmp)?;
    stats.bytes_out = file.file().metadata().ctx("reading", &tmp)?.len();
    file.commit(opts.force)?;
    Ok(stats)
}

/// A member prefix must be a relative path without `..` (a leading `/` is
/// dropped, as tar does): exit 2 otherwise.
pub(crate) fn check_prefix(prefix: &str) -> Result<String> {
    let trimmed = prefix.trim_matches('/');
    let parts: Vec<&str> = trimmed
        .split('/')
        .filter(|p| !p.is_empty() && *p != ".")
        .collect();
    if parts.is_empty() || parts.contains(&"..") {
        return Err(Error::config(format!(
            "the member prefix {prefix:?} cannot be used: give a relative path without `..`, e.g. opt/agent/env"
        )));
    }
    Ok(parts.join("/"))
}

/// `p` as a path under `dir` (as the walk names it), when it is inside `dir`.
fn within(dir: &Path, p: &Path) -> Option<PathBuf> {
    let canon_dir = dir.canonicalize().ok()?;
    let canon = crate::util::atomic::canonical(p)?;
    let rel = canon.strip_prefix(&canon_dir).ok()?;
    Some(dir.join(rel))
}

/// The mtime stored for a file whose mtime is `mtime`: negative as 0, clamped
/// to SOURCE_DATE_EPOCH (`clamp`). A timestamp-based `.pyc` holds its source's
/// mtime, so `bytecode` gives the sources this one before compiling them.
pub(crate) fn member_mtime(mtime: i64, clamp: Option<u64>) -> u64 {
    let mtime = mtime.max(0) as u64;
    clamp.map_or(mtime, |c| mtime.min(c))
}

/// One walk over a tree into a tar stream.
struct Walk<'a> {
    /// Latest mtime stored (SOURCE_DATE_EPOCH).
    clamp: Option<u64>,
    /// Paths (as the walk names them) left out.
    exclude: &'a [PathBuf],
    keep_setid: bool,
}

impl Walk<'_> {
    fn append_tree<W: Write>(
        &self,
        builder: &mut tar::Builder<W>,
        dir: &Path,
        prefix: &str,
    ) -> Result<Stats> {
        let prefix = prefix.trim_matches('/');
        let mut stats = Stats::default();
        let mut seen_inodes: HashMap<(u64, u64), PathBuf> = HashMap::new();
        let walker = walkdir::WalkDir::new(dir)
            .follow_links(false)
            .sort_by_file_name();
        for entry in walker {
            let entry = entry.map_err(|e| {
                let path = e.path().map(Path::to_path_buf).unwrap_or_default();
                Error::build(format!("reading {}: {e}", path.display()))
            })?;
            crate::util::signals::check()?;
            let path = entry.path();
            if self.exclude.iter().any(|x| x == path) {
                continue;
            }
            let meta = entry
                .metadata()
                .map_err(|e| Error::build(format!("reading {}: {e}", path.display())))?;
            // Names are stored as raw bytes (as GNU tar does): not valid UTF-8 is fine.
            let rel = path.strip_prefix(dir).unwrap_or(path);
            let mut name = OsString::from(prefix);
            for c in rel.components() {
                name.push("/");
                name.push(c.as_os_str());
            }
            let mut header = Header::new_gnu();
            header.set_mode(self.mode(&meta, path, &mut stats));
            header.set_uid(0);
            header.set_gid(0);
            header.set_username("root").ctx("archiving", path)?;
            header.set_groupname("root").ctx("archiving", path)?;
            header.set_mtime(member_mtime(meta.mtime(), self.clamp));
            let ft = meta.file_type();
            if ft.is_dir() {
                header.set_entry_type(EntryType::Directory);
                header.set_size(0);
                name.push("/");
                builder
                    .append_data(&mut header, Path::new(&name), std::io::empty())
                    .ctx("archiving", path)?;
            } else if ft.is_symlink() {
                let target = std::fs::read_link(path).ctx("reading link", path)?;
                header.set_entry_type(EntryType::Symlink);
                header.set_size(0);
                builder
                    .append_link(&mut header, Path::new(&name), &target)
                    .ctx("archiving", path)?;
            } else if ft.is_file() {
                let key = (meta.dev(), meta.ino());
                if meta.nlink() > 1 {
                    if let Some(first) = seen_inodes.get(&key) {
                        header.set_entry_type(EntryType::Link);
                        header.set_size(0);
                        builder
                            .append_link(&mut header, Path::new(&name), first)
                            .ctx("archiving", path)?;
                        stats.entries += 1;
                        continue;
                    }
                    seen_inodes.insert(key, PathBuf::from(&name));
                }
                header.set_entry_type(EntryType::Regular);
                header.set_size(meta.len());
                let f = File::open(path).ctx("reading", path)?;
                let mut exact = Exact {
                    inner: crate::log::Counted(f),
                    left: meta.len(),
                    changed: false,
                };
                let appended = builder.append_data(&mut header, Path::new(&name), &mut exact);
                if exact.changed || (appended.is_ok() && exact.left != 0) {
                    return Err(Error::build(format!(
                        "{} changed size while it was being archived (or reports a size it does not have): archive it again when it is stable",
                        path.display()
                    )));
                }
                appended.ctx("archiving", path)?;
            } else {
                stats.skipped.push(path.to_path_buf());
                continue;
            }
            stats.entries += 1;
        }
        Ok(stats)
    }

    /// The stored mode: setuid/setgid are cleared (and reported) where the owner
    /// or group is rewritten to root, unless asked to keep them.
    fn mode(&self, meta: &std::fs::Metadata, path: &Path, stats: &mut Stats) -> u32 {
        let mut mode = meta.mode() & 0o7777;
        if !self.keep_setid && !meta.file_type().is_symlink() {
            let mut clear = 0;
            if mode & 0o4000 != 0 && meta.uid() != 0 {
                clear |= 0o4000;
            }
            if mode & 0o2000 != 0 && meta.gid() != 0 && !meta.is_dir() {
                clear |= 0o2000;
            }
            if clear != 0 {
                mode &= !clear;
                stats.cleared_setid.push(path.to_path_buf());
            }
        }
        mode
    }
}

/// Reads exactly the size the header promised: a file that ends early or has
/// more bytes than that is reported (`changed`) instead of corrupting the tar.
struct Exact<R> {
    inner: R,
    left: u64,
    changed: bool,
}

impl<R: Read> Read for Exact<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            // One probe past the promised size: a grown file is a changed file.
            let mut probe = [0u8; 1];
            if self.inner.read(&mut probe)? != 0 {
                self.changed = true;
                return Err(std::io::Error::other("file grew while being archived"));
            }
            return Ok(0);
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        if n == 0 {
            self.changed = true;
            return Err(std::io::Error::other("file shrank while being archived"));
        }
        self.left -= n as u64;
        Ok(n)
    }
}

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
