//! `cfy-ap packaging-files DISTRO DIR`: write the built-in packaging set out for
//! editing (then point `package.config_files` at DIR, or keep it as
//! `packaging/<distro>/` next to the config).

use agent_packager::package::builtin;
use agent_packager::{Error, log::Log};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct PackagingFilesArgs {
    /// Distribution whose set to write (ubuntu, debian, centos; Red Hat- and
    /// Debian-like names map to their family's set)
    #[arg(value_name = "DISTRO")]
    pub distribution: String,
    /// Directory to write the files into (created when missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
}

pub fn packaging_files(a: &PackagingFilesArgs, force: bool, log: &Log) -> Result<(), Error> {
    let set = builtin::for_distribution(&a.distribution).ok_or_else(|| {
        Error::config(format!(
            "no built-in packaging files for distribution {:?}",
            a.distribution
        ))
        .with(format!("built-in sets: {}", builtin::names().join(", ")))
    })?;
    let written = builtin::write_set(set, &a.dir, force)?;
    for p in &written {
        log.info(&format!("wrote {}", p.display()));
    }
    log.info(&format!(
        "built-in set {}: edit the files, then set package.config_files: {}",
        set.name,
        a.dir.display()
    ));
    Ok(())
}
