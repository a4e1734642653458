//! One writer per package format, each behind [`PackageWriter`]. [`ALL`] is the
//! one list that drives the plan's outputs, the dry run, the pre-checks and the
//! pipeline: adding a format is one module here plus one line in [`ALL`] (and a
//! variant of [`crate::package::Format`]).

pub(crate) mod deb;
pub(crate) mod rpm;

use crate::package::{Format, PackageWriter};

/// Every package writer, in the order the pipeline runs them.
pub(crate) const ALL: &[&dyn PackageWriter] = &[&deb::DebWriter, &rpm::RpmWriter];

/// The writer of `format` (None for `tar`, which is the agent archive itself).
pub(crate) fn get(format: Format) -> Option<&'static dyn PackageWriter> {
    ALL.iter().copied().find(|w| w.format() == format)
}
