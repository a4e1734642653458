//! The packaging defaults compiled into the binary: the `packaging/<distro>/` files
//! of this repository (links resolved), used when neither `package.config_files`
//! nor a `packaging/<distro>/` directory on disk is found. `cfy-ap packaging-files`
//! writes a set out for editing; before a package is written, [`stage`] puts the
//! set's bytes into a temporary directory so the deb and rpm writers read files as
//! always.

use super::{CONFIG_FILES, PackagePlan, Source};
use crate::error::{Error, IoContext, Result};
use crate::util::atomic::AtomicFile;
use std::borrow::Cow;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The time stamped into a common package made from a built-in set when
/// `SOURCE_DATE_EPOCH` is not set (2026-12-03 00:00 UTC): the last change to the
/// sets. Move it forward whenever `packaging/` changes, so a changed set is
/// stamped later than the one it replaces.
pub(crate) const SET_TIME: u64 = 1_796_256_000;

/// The directory name plans show for a built-in set: `(built-in)/<set>`.
pub(crate) const MARKER: &str = "(built-in)";

/// One distribution's files, in the order of [`CONFIG_FILES`].
pub(crate) struct Set {
    pub name: &'static str,
    pub files: [&'static [u8]; 3],
}

macro_rules! set {
    ($dir:literal) => {
        Set {
            name: $dir,
            files: [
                include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/packaging/",
                    $dir,
                    "/agent-disable-requiretty.sh"
                )),
                include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/packaging/",
                    $dir,
                    "/celeryd-cloudify.conf.template"
                )),
                include_bytes!(concat!(
                    env!("CARGO_MANIFEST_DIR"),
                    "/packaging/",
                    $dir,
                    "/celeryd-cloudify.init.template"
                )),
            ],
        }
    };
}

pub(crate) static SETS: [Set; 3] = [set!("ubuntu"), set!("debian"), set!("centos")];

/// The rpmlint filters for the manager rpm (`rpmlint -r cfy-ap.rpmlintrc X.rpm`),
/// written beside every set: what cfy-ap's rpm is known to trip, each explained.
pub(crate) const RPMLINTRC: (&str, &[u8]) = (
    "cfy-ap.rpmlintrc",
    include_bytes!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/packaging/cfy-ap.rpmlintrc"
    )),
);

/// The set for a distribution name (any case): its own, else its family's
/// (Red Hat-like → `centos`, Debian-like → `debian`).
pub(crate) fn for_distribution(distribution: &str) -> Option<&'static Set> {
    let d = distribution.to_lowercase();
    let name = match d.as_str() {
        "ubuntu" | "debian" | "centos" => d.as_str(),
        "redhat" | "rhel" | "rocky" | "almalinux" | "ol" | "oracle" | "fedora" | "amzn"
        | "scientific" => "centos",
        "raspbian" | "linuxmint" | "devuan" | "kali" => "debian",
        _ => return None,
    };
    SETS.iter().find(|s| s.name == name)
}

/// The virtual directory a plan names for `set`.
pub(crate) fn dir_of(set: &Set) -> PathBuf {
    Path::new(MARKER).join(set.name)
}

/// The set a plan's config directory names, if it is a built-in one.
pub(crate) fn set_of(config_dir: &Path) -> Option<&'static Set> {
    let name = config_dir.strip_prefix(MARKER).ok()?.to_str()?;
    SETS.iter().find(|s| s.name == name)
}

/// The known set names, for messages.
pub(crate) fn names() -> Vec<&'static str> {
    SETS.iter().map(|s| s.name).collect()
}

/// Write `set` into `dir` (created when missing) as `<file>` with the modes the
/// package gives them, and [`RPMLINTRC`] beside them (it is not packaged).
/// Refuses (exit 3) before writing anything when a file exists, unless `force`.
pub(crate) fn write_set(set: &Set, dir: &Path, force: bool) -> Result<Vec<PathBuf>> {
    let mut paths: Vec<PathBuf> = CONFIG_FILES.iter().map(|(f, _, _)| dir.join(f)).collect();
    paths.push(dir.join(RPMLINTRC.0));
    if !force && let Some(p) = paths.iter().find(|p| p.symlink_metadata().is_ok()) {
        return Err(Error::exists(format!("{} already exists", p.display()))
            .with("use -f/--force to replace the files, or choose another directory"));
    }
    std::fs::create_dir_all(dir).ctx("creating", dir)?;
    for (i, path) in paths.iter().enumerate() {
        let (bytes, mode) = match CONFIG_FILES.get(i) {
            Some((_, _, mode)) => (set.files[i], *mode),
            None => (RPMLINTRC.1, 0o644),
        };
        let mut file = AtomicFile::create(path)?;
        file.file().write_all(bytes).ctx("writing", path)?;
        file.commit(true)?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
            .ctx("setting permissions of", path)?;
    }
    Ok(paths)
}

/// A package plan whose built-in files (if any) exist on disk while it lives.
pub(crate) struct Staged<'a> {
    _dir: Option<tempfile::TempDir>,
    plan: Cow<'a, PackagePlan>,
}

impl Staged<'_> {
    pub(crate) fn plan(&self) -> &PackagePlan {
        &self.plan
    }
}

/// `pkg` as is, or, when it uses a built-in set, a copy whose config files point
/// at the set written into a temporary directory.
pub(crate) fn stage(pkg: &PackagePlan) -> Result<Staged<'_>> {
    let Some(set) = set_of(&pkg.config_dir) else {
        return Ok(Staged {
            _dir: None,
            plan: Cow::Borrowed(pkg),
        });
    };
    let dir = tempfile::Builder::new()
        .prefix("cfy-ap-packaging.")
        .tempdir()
        .map_err(|e| {
            Error::build(format!(
                "cannot create a temporary directory for the built-in packaging files: {e}"
            ))
        })?;
    write_set(set, dir.path(), true)?;
    let mut plan = pkg.clone();
    for f in &mut plan.files {
        if let Source::File(p) = &f.source
            && p.starts_with(&pkg.config_dir)
            && let Some(name) = p.file_name()
        {
            f.source = Source::File(dir.path().join(name));
        }
    }
    plan.config_dir = dir.path().to_path_buf();
    Ok(Staged {
        _dir: Some(dir),
        plan: Cow::Owned(plan),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_hold_the_repository_files() {
        for set in &SETS {
            for (i, (file, _, _)) in CONFIG_FILES.iter().enumerate() {
                let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("packaging")
                    .join(set.name)
                    .join(file);
                assert_eq!(std::fs::read(&path).unwrap(), set.files[i], "{path:?}");
            }
        }
        assert!(set_of(&dir_of(&SETS[2])).is_some_and(|s| s.name == "centos"));
        assert!(set_of(Path::new("/usr/share/cfy-ap/packaging/centos")).is_none());
    }

    #[test]
    fn families_map_to_sets() {
        assert_eq!(for_distribution("Ubuntu").unwrap().name, "ubuntu");
        assert_eq!(for_distribution("redhat").unwrap().name, "centos");
        assert_eq!(for_distribution("rocky").unwrap().name, "centos");
        assert!(for_distribution("arch").is_none());
    }
}
