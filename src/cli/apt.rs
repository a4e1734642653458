//! `cfy-ap publish` with debs (and `--remove`, `--keep`, `--copy`, `--list`,
//! `--export-key`): the apt publish with the command line's options.

use super::args::PublishArgs;
use crate::apt::{self, PublishOptions};
use crate::util::atomic;
use crate::{Error, log::Log};
use std::path::Path;

/// `--export-key FILE`: the public half of `--sign-key`.
pub(crate) fn export_key(key: &Path, dest: &Path, force: bool, log: &Log) -> Result<(), Error> {
    atomic::check_not_inputs(
        &[dest.to_path_buf()],
        &[("--sign-key".to_string(), key.to_path_buf())],
    )?;
    let fpr = apt::export_key(key, dest, force)?;
    log.info(&format!("wrote {} (key {fpr})", dest.display()));
    Ok(())
}

pub(crate) fn publish(mut a: PublishArgs, force: bool, log: &Log) -> Result<(), Error> {
    let opts = PublishOptions {
        repo: a.repo.clone().unwrap_or_default(),
        codename: a.codename.clone(),
        suite: a.suite.clone(),
        component: a.component.clone(),
        origin: a.origin.clone(),
        label: a.label.clone(),
        sign_key: a.sign_key.clone(),
        sign_key_id: a.sign_key_id.clone(),
        unsigned: a.unsigned,
        adopt: a.adopt,
        release_hashes: if a.release_hashes.is_empty() {
            apt::ReleaseHashes::default()
        } else {
            apt::ReleaseHashes::parse(&a.release_hashes)
                .map_err(|e| Error::config(format!("--release-hashes: {e}")))?
        },
        architectures: crate::debian::arch::debian_list(&a.architectures)
            .map_err(|e| Error::config(format!("--architecture: {e}")))?,
        grace: crate::repo::s3::grace(a.grace.as_deref())?,
        force,
        ..Default::default()
    };
    if a.list {
        return list(&opts, a.json);
    }
    let selectors = |specs: Vec<String>| -> Result<Vec<apt::Selector>, Error> {
        specs.iter().map(|s| apt::Selector::parse(s)).collect()
    };
    // With --copy the positional arguments are package names, else .deb files
    // (moved, not copied: there may be thousands).
    let positional = std::mem::take(&mut a.debs);
    let (debs, copy) = match a.copy {
        Some(_) => {
            let names = positional.iter().map(|d| d.display().to_string());
            (Vec::new(), selectors(names.collect())?)
        }
        None => (positional, Vec::new()),
    };
    let req = apt::Request {
        debs,
        remove: selectors(a.remove.clone())?,
        keep: a.keep.map(|n| n as usize),
        copy_from: a.copy.clone(),
        copy,
        copy_all: a.all,
        dry_run: a.dry_run,
    };
    let summary = apt::apply(&opts, &req, log)?;
    apt::report(&summary, log);
    Ok(())
}

/// `publish --list`: one line per package (or JSON) on standard output.
fn list(opts: &PublishOptions, json: bool) -> Result<(), Error> {
    let entries = apt::list(opts)?;
    if json {
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|e| Error::build(format!("writing JSON: {e}")))?;
        return super::commands::print(format!("{text}\n").as_bytes());
    }
    let mut text = String::new();
    for e in entries {
        text.push_str(&format!(
            "{}\t{}\t{}\t{}\t{}\n",
            e.package, e.version, e.architecture, e.size, e.filename
        ));
    }
    super::commands::print(text.as_bytes())
}
