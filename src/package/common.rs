//! The `-common` package of a distribution. The manager's agent installer looks
//! the celeryd templates and the requiretty script up by distribution only
//! (`packages/templates/<Distribution>-celeryd-cloudify.conf.template`), so every
//! release's agent package would ship the same paths, and dpkg refuses a second
//! package owning a file. These files go into one package per distribution,
//! `cloudify-<distribution>-agent-common` (`Architecture: all`, `noarch`); each
//! agent package holds only its own tar and depends on it (`>=` its own version,
//! so agents of several versions share the newest). Per-release file names would
//! not do: the installer would not find them.
//!
//! The package does not depend on the build, so it is stamped with a time that
//! does not either (`SOURCE_DATE_EPOCH` when set, else the newest mtime of its
//! files, [`builtin::SET_TIME`] for a built-in set): runs for two releases,
//! on two machines, write the same bytes, and a repository that already holds it
//! takes it again as unchanged.

use super::{InstallFile, PackagePlan, Role, Source, builtin};
use crate::error::{IoContext, Result};
use std::path::Path;

/// `cloudify-<distribution>-agent-common`, in package-name characters.
pub(super) fn default_name(distribution: &str) -> String {
    super::naming::sanitize(&format!("cloudify-{distribution}-agent-common"))
}

/// Splits the distribution's config files off `agent` into its common package;
/// `agent` then depends on it.
pub(super) fn split(agent: &mut PackagePlan) -> Result<PackagePlan> {
    let (shared, own): (Vec<InstallFile>, Vec<InstallFile>) = agent
        .files
        .drain(..)
        .partition(|f| matches!(f.source, Source::File(_)));
    agent.files = own;
    let stamp = match builtin::set_of(&agent.config_dir) {
        Some(_) => builtin::SET_TIME,
        None => newest_mtime(&shared)?,
    };
    let name = default_name(&agent.distribution);
    agent.common = Some(name.clone());
    Ok(PackagePlan {
        name,
        role: Role::Common,
        common: None,
        stamp: Some(stamp),
        architecture: Some("all".into()),
        depends: Vec::new(),
        rpm_depends: None,
        files: shared,
        outputs: Vec::new(),
        ..agent.clone()
    })
}

/// Whether `a` and `b` are the same common package from the same files, to be
/// written once (several roots of one distribution in a run).
pub(crate) fn same_common(a: &PackagePlan, b: &PackagePlan) -> bool {
    a.role == Role::Common
        && b.role == Role::Common
        && a.name == b.name
        && a.full_version() == b.full_version()
        && a.distribution == b.distribution
        && a.files == b.files
        && a.output_paths() == b.output_paths()
}

/// The newest modification time of the files (whole seconds).
fn newest_mtime(files: &[InstallFile]) -> Result<u64> {
    let mut newest = 0;
    for f in files {
        if let Source::File(p) = &f.source {
            newest = newest.max(mtime(p)?);
        }
    }
    Ok(newest)
}

fn mtime(path: &Path) -> Result<u64> {
    let m = path.metadata().ctx("reading", path)?;
    Ok(m.modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(default_name("Ubuntu"), "cloudify-ubuntu-agent-common");
        assert_eq!(default_name("Red Hat"), "cloudify-red-hat-agent-common");
    }
}
