//! `cfy-ap publish` with rpms: which publisher the packages go to, and the
//! yum publish with the command line's options.

use super::args::PublishArgs;
use crate::repo::kind::{self, PackageKind};
use crate::repo::report;
use crate::yum::{self, Compression, YumOptions};
use crate::{Error, log::Log};

/// Are the packages rpms (checked by content)? Mixed kinds, and options of the
/// other kind of repository, are usage errors.
pub(crate) fn is_rpm(a: &PublishArgs) -> Result<bool, Error> {
    let kind = kind::kind_of(&a.debs)?;
    if kind == PackageKind::Deb {
        if a.compression.is_some() {
            return Err(Error::config(
                "publish: --compression applies to yum repositories (rpms); apt indices are always gzip and xz",
            ));
        }
        return Ok(false);
    }
    let apt_only = [
        ("--codename", a.codename != "stable"),
        ("--suite", a.suite.is_some()),
        ("--component", a.component != "main"),
        ("--origin", a.origin != "cfy-ap"),
        ("--label", a.label != "cfy-ap"),
    ];
    if let Some((flag, _)) = apt_only.iter().find(|(_, given)| *given) {
        return Err(Error::config(format!(
            "publish: {flag} applies to apt repositories; a yum repository has no distributions or components"
        ))
        .with("leave it out when publishing rpms"));
    }
    Ok(true)
}

pub(crate) fn publish(a: &PublishArgs, force: bool, log: &Log) -> Result<(), Error> {
    let opts = YumOptions {
        repo: a.repo.clone().unwrap_or_default(),
        sign_key: a.sign_key.clone(),
        compression: Compression::parse(a.compression.as_deref().unwrap_or("gzip"))?,
        force,
        unsigned: a.unsigned,
        grace: crate::repo::s3::grace(a.grace.as_deref())?,
        dry_run: a.dry_run,
        ..YumOptions::default()
    };
    let summary = yum::publish(&opts, &a.debs, log)?;
    report::report(&summary, log);
    Ok(())
}
