//! The seam between the format-neutral package plan and the format writers: each
//! writer (`crate::writers::{deb,rpm}`) implements [`PackageWriter`]; the plan
//! asks it for its file name and dry-run notes, the pipeline for a [`WriteJob`]
//! before any work (so keys are checked first) and then for the package.

use super::{AgentInfo, Format, PackagePlan};
use crate::error::Result;
use crate::log::Log;
use std::path::{Path, PathBuf};

pub trait PackageWriter: Sync {
    fn format(&self) -> Format;

    /// The package's file name (it is written into `package.output_dir`).
    fn file_name(&self, pkg: &PackagePlan) -> String;

    /// Validates this format's settings of `package:` when the plan is resolved;
    /// returns the lines the dry run prints under the output path.
    fn check(&self, pkg: &PackagePlan) -> Result<Vec<String>>;

    /// Files the writer adds besides the plan's own (absolute paths), for the dry run.
    fn generated_files(&self, _pkg: &PackagePlan) -> Vec<String> {
        Vec::new()
    }

    /// Everything that can fail before the agent is built (e.g. loading and
    /// trying a signing key); the returned job writes the package later. It is
    /// prepared with the agent's package and writes the plan's common package
    /// too: they share the `package:` settings, and checks of what only the
    /// agent's has (its Depends) belong here.
    fn prepare(&self, pkg: &PackagePlan) -> Result<Box<dyn WriteJob>>;
}

/// A prepared writer: writes the package for `pkg` around the agent tar to `dest`
/// (through a temporary file renamed into place; `force` allows replacing).
pub trait WriteJob {
    fn write(
        &self,
        pkg: &PackagePlan,
        agent: &AgentInfo,
        dest: &Path,
        force: bool,
        log: &Log,
    ) -> Result<Written>;
}

/// What a writer produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub path: PathBuf,
    pub bytes: u64,
    pub files: usize,
    /// Format-specific tail of the "ready" line (e.g. `, signed`).
    pub note: String,
}
