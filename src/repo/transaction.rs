//! The publish transaction of both formats, in explicit phases:
//!
//! 0. **Stage** (before the lock, so concurrent publishers read their
//!    packages in parallel): every package given read once, checked and
//!    checksummed; bad input stops here, before the repository is touched
//!    ([`super::stage`]).
//! 1. **Read the live state** under the lock ([`super::lock`]): the indices
//!    or metadata as published (packages already there are never re-read).
//! 2. **Decide the changes** against it: duplicates ([`super::duplicate`]),
//!    removals, retention, copies — all before anything is written; a dry
//!    run stops here.
//! 3. **Render the next generation**: packages into place first, then the
//!    indices or metadata of the next generation beside the live one
//!    ([`super::generation`], written through [`super::storage`]), signed,
//!    made durable.
//! 4. **Commit**: the switch (one atomic exchange of the generation's
//!    directory; on an object store the compare-and-swap of the switch
//!    object), then the garbage collected (what no live index names).
//!
//! [`run`] drives phase 0 and the lock; each format's `commit` runs 1–4.

use super::{lock, stage};
use crate::error::Result;
use crate::log::Log;
use std::path::Path;

/// Stage into the repository at `root` (created, and removed again when
/// staging fails and it was made here), take the lock, clear the staging
/// debris of dead publishers, then run `commit` on what was staged.
pub(crate) fn run<S, T>(
    root: &Path,
    log: &Log,
    staging: impl FnOnce() -> Result<S>,
    commit: impl FnOnce(S) -> Result<T>,
) -> Result<T> {
    let staged = stage::in_root(root, staging)?;
    let _lock = lock::lock(root, log)?;
    stage::remove_stale_staging(root);
    commit(staged)
}
