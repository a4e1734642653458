//! Refusals decided from the repository as it is, read-only, so they come
//! before any work: before the packages are read in `cfy-ap publish`, before
//! the agent is built in a run with a `publish:` section. The commit repeats the
//! same checks under the lock (another publisher may have changed the
//! repository meanwhile).

use super::PublishOptions;
use super::foreign::{self, Foreign};
use super::index;
use super::release;
use crate::error::{Error, Result};
use crate::repo::duplicate;
use std::fs;
use std::path::Path;

/// Refuse an unsigned publish into a signed distribution unless `unsigned`.
pub(super) fn signatures(dist: &Path, signing: bool, opts: &PublishOptions) -> Result<bool> {
    let signed = dist.join("InRelease").exists() || dist.join("Release.gpg").exists();
    if signed && !signing && !opts.unsigned {
        return Err(Error::exists(format!(
            "{} is signed; publishing without --sign-key would drop its signatures",
            dist.display()
        ))
        .with("give --sign-key (publish.sign_key), or `cfy-ap publish --unsigned` to drop them (-f does not)"));
    }
    Ok(signed)
}

/// The existing Release (if any), checked against the options (see `foreign.rs`).
pub(super) fn release(dist: &Path, opts: &PublishOptions) -> Result<(Option<String>, Foreign)> {
    let Some(text) = super::state::read_optional(&dist.join("Release"))? else {
        return Ok((None, Foreign::default()));
    };
    let listed = release::listed_files(&text);
    let f = foreign::inspect(&text, &listed, opts);
    foreign::refuse(&f, dist, opts)?;
    Ok((Some(text), f))
}

/// Every read-only refusal for publishing `planned` packages (name, version,
/// architecture; their bytes are not known yet) into `opts.repo`: signatures
/// that would be dropped, a foreign repository, and, without `force`, a package
/// already published under the same name, version and architecture.
pub(super) fn repository(
    opts: &PublishOptions,
    signing: bool,
    planned: &[super::Planned],
) -> Result<()> {
    super::suite::check(opts, signing)?;
    let dist = opts.repo.join("dists").join(&opts.codename);
    if !dist.exists() {
        return Ok(());
    }
    signatures(&dist, signing, opts)?;
    release(&dist, opts)?;
    if opts.force || planned.is_empty() {
        return Ok(());
    }
    let comp = dist.join(&opts.component);
    let Ok(entries) = fs::read_dir(&comp) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let packages = entry.path().join("Packages");
        if !entry.file_name().to_string_lossy().starts_with("binary-") {
            continue;
        }
        for s in index::Reader::open(&packages)?.into_iter().flatten() {
            let s = s?;
            // dpkg's identity: `0:1.0` is `1.0`.
            if planned.iter().any(|(p, v, a)| {
                (p.as_str(), a.as_str()) == (s.package(), s.arch())
                    && crate::debian::version::compare(v, s.version()).is_eq()
            }) {
                return Err(Error::exists(format!(
                    "{} {} ({}) is already published in {} ({})",
                    s.package(),
                    s.version(),
                    s.arch(),
                    opts.repo.display(),
                    s.filename()
                ))
                .with(duplicate::bump_or_force::<index::Key>()));
            }
        }
    }
    Ok(())
}
