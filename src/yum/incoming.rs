//! The packages of one publish: each `.rpm` read, checked and copied to a
//! staging file in the repository root in one pass (outside the lock, a few at a
//! time, with the apt publisher's staging helpers), and its three metadata
//! entries rendered on the same worker thread.

use super::existing::Entry;
use super::primary::FileRow;
use super::rpmfile::{self, Rpm};
use super::{filelists, other, primary, xml};
use crate::error::{Error, Result};
use crate::repo::stage;
use rpm::IndexTag;
use std::path::{Path, PathBuf};
use tempfile::TempPath;

/// A staged package and its entries.
pub(crate) struct Incoming {
    pub src: PathBuf,
    pub entry: Entry,
    /// Taken when the file is renamed into `Packages/`; else removed on drop.
    pub tmp: Option<TempPath>,
}

/// Stage every package. `clamp`: the latest file time to record
/// (`SOURCE_DATE_EPOCH`), so that republishing the same files gives the same
/// metadata.
pub(crate) fn stage_all(
    root: &Path,
    rpms: &[PathBuf],
    clamp: Option<i64>,
) -> Result<Vec<Incoming>> {
    stage::stage_all_with(rpms, |src| {
        let ((entry, mtime), tmp) = stage::stage_copy(root, src, |w, tmp_path| {
            let mut rpm = rpmfile::read(src, Some((w, tmp_path)))?;
            if let Some(c) = clamp {
                rpm.mtime = rpm.mtime.min(c);
            }
            Ok((entry(&rpm, src)?, rpm.mtime))
        })?;
        // The published file keeps the time its entry records (createrepo_c
        // reads `time file` from the file itself).
        set_mtime(&tmp, mtime)?;
        Ok(Incoming {
            src: src.to_path_buf(),
            entry,
            tmp: Some(tmp),
        })
    })
}

/// Set a file's modification time by path (no need to open it again).
fn set_mtime(path: &Path, secs: i64) -> Result<()> {
    use rustix::fs::{AtFlags, CWD, Timespec, Timestamps, UTIME_OMIT, utimensat};
    let times = Timestamps {
        last_access: Timespec {
            tv_sec: 0,
            tv_nsec: UTIME_OMIT,
        },
        last_modification: Timespec {
            tv_sec: secs,
            tv_nsec: 0,
        },
    };
    utimensat(CWD, path, &times, AtFlags::empty())
        .map_err(|e| Error::io("setting the time of", path, e.into()))
}

/// `Packages/<first letter, lowercase>/<name>-<version>-<release>.<arch>.rpm`
/// (the layout of the EL and Fedora repositories), with the epoch when it is
/// not 0 — `<name>-<epoch>:<version>-<release>.<arch>.rpm`, as rpm writes an
/// NEVRA — so that packages differing only in epoch have files of their own
/// (rpmbuild allows no `:` in a version; a crafted name that still lands on
/// another package's file is refused, `repo.rs`).
pub(crate) fn location(rpm: &Rpm) -> String {
    let first = rpm
        .name()
        .chars()
        .next()
        .map_or('_', |c| c.to_ascii_lowercase());
    let epoch = match rpm.epoch() {
        0 => String::new(),
        e => format!("{e}:"),
    };
    format!(
        "Packages/{first}/{}-{epoch}{}-{}.{}.rpm",
        rpm.name(),
        rpm.version(),
        rpm.release(),
        rpm.arch()
    )
}

/// The package's identity and rendered entries.
fn entry(rpm: &Rpm, src: &Path) -> Result<Entry> {
    for tag in [
        IndexTag::RPMTAG_SUMMARY,
        IndexTag::RPMTAG_DESCRIPTION,
        IndexTag::RPMTAG_PACKAGER,
        IndexTag::RPMTAG_URL,
        IndexTag::RPMTAG_LICENSE,
        IndexTag::RPMTAG_VENDOR,
        IndexTag::RPMTAG_GROUP,
        IndexTag::RPMTAG_BUILDHOST,
        IndexTag::RPMTAG_SOURCERPM,
    ] {
        if !xml::writable(rpm.text(tag)) {
            return Err(Error::config(format!(
                "{}: its {tag:?} holds control characters, which XML metadata cannot carry",
                src.display()
            )));
        }
    }
    let files = FileRow::all(rpm);
    if let Some(f) = files.iter().find(|f| !xml::writable(&f.path)) {
        return Err(Error::config(format!(
            "{}: file name {:?} holds control characters",
            src.display(),
            f.path
        )));
    }
    let location = location(rpm);
    Ok(Entry {
        name: rpm.name().to_string(),
        arch: rpm.arch().to_string(),
        epoch: rpm.epoch().to_string(),
        ver: rpm.version().to_string(),
        rel: rpm.release().to_string(),
        pkgid: rpm.sha256.clone(),
        primary: primary::render(rpm, &location, &files),
        filelists: filelists::render(rpm, &files),
        other: other::render(rpm),
        location,
    })
}
