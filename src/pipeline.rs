//! One run of the tool, in order: refusals and key checks before any work → the
//! agent (built, or an existing tar with `--from-tar`) → each requested package
//! writer (`crate::writers`) → publishing the deb into an apt repository
//! (`publish:`) and the rpm into a yum repository (`publish.rpm_repo`).

use crate::agent::{self, Outcome};
use crate::error::Result;
use crate::log::Log;
use crate::package::{AgentInfo, Format, WriteJob, Written};
use crate::plan::Plan;
use crate::util::atomic;
use crate::{publish, writers};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What a run produced.
#[derive(Debug, Default)]
pub struct Report {
    /// Present when the agent was built (not with `--from-tar`).
    pub outcome: Option<Outcome>,
    /// Every package written, by format.
    pub packages: BTreeMap<Format, PathBuf>,
}

/// Everything that can be refused, refused before any work: a bad
/// SOURCE_DATE_EPOCH, outputs that are inputs or would be overwritten (exit 3),
/// unwritable directories, unusable signing keys. Returns each package writer,
/// prepared.
pub fn preflight(plan: &Plan) -> Result<Vec<(Format, Box<dyn WriteJob>)>> {
    crate::util::epoch::check()?;
    let outputs = plan.outputs();
    atomic::check_not_inputs(&outputs, &plan.inputs())?;
    if plan.from_tar.is_none() {
        // The venv is deleted (`-f`, a failed build) and archived: nothing this
        // run writes may be in it, the repositories it publishes into included.
        let mut written = outputs.clone();
        written.extend(plan.publish.iter().map(|p| p.repo.clone()));
        written.extend(plan.yum_publish.iter().map(|p| p.repo.clone()));
        atomic::check_outside(&written, &plan.venv, "the venv")?;
    }
    agent::precheck(plan, &outputs)?;
    let mut jobs: Vec<(Format, Box<dyn WriteJob>)> = Vec::new();
    if let Some(pkg) = &plan.package {
        for format in pkg.formats() {
            let writer = writers::get(format).expect("the plan only holds known writers");
            jobs.push((format, writer.prepare(pkg)?));
        }
    }
    if let Some(opts) = &plan.publish {
        // The deb this run publishes, when it builds one: refused now if taken.
        let planned: Vec<publish::Planned> = plan
            .package
            .iter()
            .filter(|p| p.formats().contains(&Format::Deb))
            .map(|p| (p.name.clone(), p.full_version(), p.deb_arch()))
            .collect();
        publish::check(opts, &planned)?;
    }
    if let Some(opts) = &plan.yum_publish {
        crate::yum::check(opts)?;
    }
    Ok(jobs)
}

pub fn execute(plan: &Plan, log: &Log) -> Result<Report> {
    // From here on, SIGINT/SIGTERM stop the run cleanly (see util::signals).
    crate::util::signals::install()?;
    let jobs = preflight(plan)?;
    let mut report = Report::default();
    let agent = match &plan.from_tar {
        Some(tar) => AgentInfo::from_tar(tar),
        None => {
            let outcome = agent::run(plan, log)?;
            log.info(&format!(
                "agent ready: {} ({} entries, {} bytes)",
                outcome.output_tar.display(),
                outcome.archive.entries,
                outcome.archive.bytes_out
            ));
            let info = AgentInfo {
                tar: outcome.output_tar.clone(),
                python_version: Some(outcome.python_version.clone()),
                installed: outcome.installed.clone(),
            };
            report.outcome = Some(outcome);
            info
        }
    };
    let Some(pkg) = &plan.package else {
        return Ok(report);
    };
    // A built-in packaging set is written to a temporary directory for the writers.
    let staged = crate::package::builtin::stage(pkg)?;
    let pkg = staged.plan();
    for (format, job) in jobs {
        crate::util::signals::check()?;
        let dest = pkg.output(format).expect("planned output");
        let written: Written = log.step(&format!("wrote {}", dest.display()), || {
            job.write(pkg, &agent, dest, plan.force, log)
        })?;
        log.info(&format!(
            "{} ready: {} ({} files, {} bytes{})",
            format.name(),
            written.path.display(),
            written.files,
            written.bytes,
            written.note
        ));
        if format == Format::Deb
            && let Some(opts) = &plan.publish
        {
            let summary = log.step(&format!("published into {}", opts.repo.display()), || {
                publish::publish(opts, std::slice::from_ref(&written.path), log)
            })?;
            publish::report(&summary, log);
        }
        if format == Format::Rpm
            && let Some(opts) = &plan.yum_publish
        {
            let summary = log.step(&format!("published into {}", opts.repo.display()), || {
                crate::yum::publish(opts, std::slice::from_ref(&written.path), log)
            })?;
            publish::report(&summary, log);
        }
        report.packages.insert(format, written.path);
    }
    Ok(report)
}
