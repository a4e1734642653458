//! One run of the tool, in order: refusals and key checks before any work → the
//! agent (built, or an existing tar with `--from-tar`) → one writer per output
//! format (deb, rpm) → publishing the deb into an apt repository (`publish:`).

use crate::build::{self, Outcome};
use crate::error::Result;
use crate::log::Log;
use crate::package::AgentInfo;
use crate::plan::{Format, Plan};
use crate::{deb, publish, rpm};
use std::path::PathBuf;

/// What a run produced.
#[derive(Debug, Default)]
pub struct Report {
    /// Present when the agent was built (not with `--from-tar`).
    pub outcome: Option<Outcome>,
    pub deb: Option<PathBuf>,
    pub rpm: Option<PathBuf>,
}

pub fn execute(plan: &Plan, log: &Log) -> Result<Report> {
    // Everything that can be refused is refused before any work: existing outputs
    // (exit 3), unwritable directories, unusable signing keys.
    build::precheck(plan, &plan.outputs())?;
    let rpm_signer = match &plan.package {
        Some(pkg) if plan.formats.contains(&Format::Rpm) => rpm::signer(pkg)?,
        _ => None,
    };
    if let Some(opts) = &plan.publish {
        publish::check(opts)?;
    }
    let mut report = Report::default();
    let agent = match &plan.from_tar {
        Some(tar) => AgentInfo::from_tar(tar),
        None => {
            let outcome = build::run(plan, log)?;
            log.info(&format!(
                "agent ready: {} ({} entries, {} bytes)",
                outcome.output_tar.display(),
                outcome.archive.entries,
                outcome.archive.bytes_out
            ));
            let agent = AgentInfo::from_outcome(&outcome);
            report.outcome = Some(outcome);
            agent
        }
    };
    let Some(pkg) = &plan.package else {
        return Ok(report);
    };
    let staged = crate::package::builtin::stage(pkg)?;
    let pkg = staged.plan();
    if plan.formats.contains(&Format::Deb) {
        let path = pkg.output(Format::Deb);
        let stats = log.step(&format!("wrote {}", path.display()), || {
            deb::write(pkg, &agent, plan.force, log)
        })?;
        log.info(&format!(
            "deb ready: {} ({} files, {} bytes, Installed-Size {} KiB)",
            stats.path.display(),
            stats.files,
            stats.bytes,
            stats.installed_size_kib
        ));
        if let Some(opts) = &plan.publish {
            let summary = log.step(&format!("published into {}", opts.repo.display()), || {
                publish::publish(opts, std::slice::from_ref(&stats.path), log)
            })?;
            publish::report(&summary, log);
        }
        report.deb = Some(stats.path);
    }
    if plan.formats.contains(&Format::Rpm) {
        let path = pkg.output(Format::Rpm);
        let stats = log.step(&format!("wrote {}", path.display()), || {
            rpm::write(pkg, &agent, rpm_signer.as_ref(), plan.force, log)
        })?;
        log.info(&format!(
            "rpm ready: {} ({} files, {} bytes{})",
            stats.path.display(),
            stats.files,
            stats.bytes,
            if stats.signed { ", signed" } else { "" }
        ));
        report.rpm = Some(stats.path);
    }
    Ok(report)
}
