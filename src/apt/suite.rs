//! The suite link `dists/<suite>` → `<codename>`, and what may change it.
//!
//! Clients that name a suite (`stable`) follow the link to a codename
//! (`bookworm`). Moving the link switches those clients to another
//! distribution, so it is never done by accident:
//! - publishing with `--codename X` where `dists/X` is a suite link of another
//!   codename is refused (exit 3): it would replace the link with a directory;
//! - `--suite S` when `dists/S` already points to another codename is refused
//!   (exit 3) unless `-f` asks for the move; then the link is moved and the old
//!   codename's Release no longer names the suite (`Suite: <its codename>`,
//!   signed again when it was signed).

use super::PublishOptions;
use super::state::read_optional;
use super::write::write_atomic;
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::openpgp::Signer;
use crate::repo::generation;
use crate::repo::stage::Background;
use std::fs;
use std::path::{Path, PathBuf};

/// Where `dists/<name>` points when it is a symbolic link.
fn link_target(root: &Path, name: &str) -> Option<PathBuf> {
    let path = root.join("dists").join(name);
    let meta = fs::symlink_metadata(&path).ok()?;
    meta.file_type()
        .is_symlink()
        .then(|| fs::read_link(&path).ok())
        .flatten()
}

/// Whether `dists/<codename>` is signed.
fn signed(root: &Path, codename: &str) -> bool {
    let dist = root.join("dists").join(codename);
    dist.join("InRelease").exists() || dist.join("Release.gpg").exists()
}

/// The refusals above, read-only. Returns the codename the suite link is moved
/// away from (only with `force`).
pub(super) fn check(opts: &PublishOptions, signing: bool) -> Result<Option<String>> {
    let root = &opts.repo;
    if let Some(to) = link_target(root, &opts.codename) {
        return Err(Error::exists(format!(
            "dists/{} in {} is a suite link to {}, not a codename",
            opts.codename,
            root.display(),
            to.display()
        ))
        .with(format!(
            "publish into the codename: --codename {} --suite {}",
            to.display(),
            opts.codename
        )));
    }
    let suite = opts.suite();
    if suite == opts.codename {
        return Ok(None);
    }
    let Some(to) = link_target(root, suite) else {
        return Ok(None);
    };
    let old = to.to_string_lossy().into_owned();
    if old == opts.codename {
        return Ok(None);
    }
    if !opts.force {
        return Err(Error::exists(format!(
            "suite {suite} is {old} in {}; --suite {suite} with --codename {} would move it",
            root.display(),
            opts.codename
        ))
        .with(format!(
            "clients of {suite} would switch from {old} to {}: use -f/--force to move it",
            opts.codename
        )));
    }
    if signed(root, &old) && !signing {
        return Err(Error::exists(format!(
            "moving suite {suite} rewrites the Release of {old}, which is signed"
        ))
        .with("give --sign-key (publish.sign_key) to sign it again"));
    }
    Ok(Some(old))
}

/// Point `dists/<suite>` at the codename when the suite has its own name;
/// `moved_from` (see [`check`]) then loses the suite in its Release.
pub(super) fn link(
    opts: &PublishOptions,
    moved_from: Option<&str>,
    signer: Option<&Signer>,
    log: &Log,
) -> Result<()> {
    let root = &opts.repo;
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
    fs::rename(&tmp, &link).ctx("creating", &link)?;
    if let Some(old) = moved_from {
        retitle(root, old, signer)?;
        log.info(&format!(
            "suite {suite} moved from {old} to {}",
            opts.codename
        ));
    }
    Ok(())
}

/// The Release of `codename` with `Suite:` its own codename, switched in as a
/// new generation (signed again when it was signed).
fn retitle(root: &Path, codename: &str, signer: Option<&Signer>) -> Result<()> {
    let live = root.join("dists").join(codename);
    let was_signed = signed(root, codename);
    let next = generation::prepare(&live)?;
    let Some(text) = read_optional(&next.join("Release"))? else {
        return Ok(());
    };
    let text = with_suite(&text, codename);
    let mut written = Vec::new();
    write_atomic(&next.join("Release"), text.as_bytes(), &mut written)?;
    if let (true, Some(signer)) = (was_signed, signer) {
        let date = crate::util::epoch::build_time()? as i64;
        let sigs = signer.sign(&text, date)?;
        write_atomic(
            &next.join("Release.gpg"),
            sigs.release_gpg.as_bytes(),
            &mut written,
        )?;
        write_atomic(
            &next.join("InRelease"),
            sigs.in_release.as_bytes(),
            &mut written,
        )?;
    }
    generation::switch(
        &next,
        &live,
        &written,
        Background::idle(),
        &mut generation::Fresh::default(),
    )
}

/// `text` (a Release) with its `Suite:` field set to `suite`.
fn with_suite(text: &str, suite: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.split_inclusive('\n') {
        match line.strip_prefix("Suite:") {
            Some(_) => out.push_str(&format!("Suite: {suite}\n")),
            None => out.push_str(line),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::with_suite;

    #[test]
    fn the_suite_field_alone_changes() {
        let text = "Origin: o\nSuite: stable\nCodename: bookworm\nSHA256:\n Suite: x 1\n";
        assert_eq!(
            with_suite(text, "bookworm"),
            "Origin: o\nSuite: bookworm\nCodename: bookworm\nSHA256:\n Suite: x 1\n"
        );
    }
}
