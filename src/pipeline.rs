//! One run of the tool, in order: refusals and key checks before any work → the
//! agent (built, or an existing tar with `--from-tar`) → each requested package
//! writer (`crate::writers`) → publishing the deb into an apt repository
//! (`publish:`) and the rpm into a yum repository (`publish.rpm_repo`).

mod multi;
mod targets;

pub use multi::Run;
pub(crate) use multi::{execute_all, plans};
pub(crate) use targets::Targets;

use crate::agent::{self, Outcome};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::package::{AgentInfo, Format, PackagePlan, Role, WriteJob, Written};
use crate::plan::Plan;
use crate::util::atomic;
use crate::{apt, writers};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// What a run produced.
#[derive(Debug, Default)]
pub struct Report {
    /// Present when the agent was built (not with `--from-tar`).
    pub outcome: Option<Outcome>,
    /// Every package written, in the order written (agent, then common, each
    /// in every format).
    pub packages: Vec<(Format, PathBuf)>,
}

impl Report {
    /// The packages written in `format`.
    pub fn written(&self, format: Format) -> impl Iterator<Item = &PathBuf> {
        self.packages
            .iter()
            .filter(move |(f, _)| *f == format)
            .map(|(_, p)| p)
    }
}

/// A prepared writer: which of the plan's packages, in which format. No
/// writer: the file is already there, the same bytes ([`already_written`]).
pub(crate) struct Job {
    package: usize,
    format: Format,
    job: Option<Rc<dyn WriteJob>>,
}

/// Everything that can be refused, refused before any work: a bad
/// SOURCE_DATE_EPOCH, outputs that are inputs or would be overwritten (exit 3),
/// unwritable directories, unusable signing keys, packages the repositories
/// would refuse. Returns each package writer, prepared.
pub(crate) fn preflight(plan: &Plan, targets: &Targets) -> Result<Vec<Job>> {
    let jobs = prepare(plan, targets)?;
    check_targets(targets, &planned_debs(&plan.packages))?;
    Ok(jobs)
}

/// Everything [`preflight`] refuses but the repositories' own checks: a run of
/// several plans prepares each plan once, then checks the repositories once.
fn prepare(plan: &Plan, targets: &Targets) -> Result<Vec<Job>> {
    crate::util::epoch::check()?;
    let outputs = plan.outputs();
    let mut inputs = plan.inputs();
    inputs.extend(targets.inputs());
    atomic::check_not_inputs(&outputs, &inputs)?;
    if plan.from_tar.is_none() {
        // The venv is deleted (`-f`, a failed build) and archived: nothing this
        // run writes may be in it, the repositories it publishes into included.
        let mut written = outputs.clone();
        written.extend(targets.repos());
        atomic::check_outside(&written, &plan.venv, "the venv")?;
    }
    // A common package that exists (another release's run wrote it into the same
    // directory) is checked by its bytes once its writer is ready.
    let shared: Vec<PathBuf> = plan
        .packages
        .iter()
        .filter(|p| p.role == Role::Common)
        .flat_map(PackagePlan::output_paths)
        .filter(|p| p.symlink_metadata().is_ok())
        .collect();
    let own: Vec<PathBuf> = outputs
        .iter()
        .filter(|o| !shared.contains(o))
        .cloned()
        .collect();
    agent::precheck(plan, &own)?;
    for s in &shared {
        atomic::check_replaceable(s)?;
    }
    // One prepared writer per format serves every package of the plan: they
    // share the `package:` settings, so a signing key is loaded (and its
    // passphrase tried) once.
    let mut prepared: Vec<(Format, Rc<dyn WriteJob>)> = Vec::new();
    let mut jobs = Vec::new();
    for (package, pkg) in plan.packages.iter().enumerate() {
        for format in pkg.formats() {
            let job = match prepared.iter().find(|(f, _)| *f == format) {
                Some((_, job)) => Rc::clone(job),
                None => {
                    let writer = writers::get(format).expect("the plan only holds known writers");
                    let job: Rc<dyn WriteJob> = Rc::from(writer.prepare(pkg)?);
                    prepared.push((format, Rc::clone(&job)));
                    job
                }
            };
            let dest = pkg.output(format).expect("planned output");
            let kept =
                shared.iter().any(|s| s == dest) && already_written(plan, pkg, job.as_ref(), dest)?;
            jobs.push(Job {
                package,
                format,
                job: (!kept).then_some(job),
            });
        }
    }
    Ok(jobs)
}

/// The repositories' checks: the debs `planned` (every plan's agent debs in a
/// run of several) refused when taken, the keys loaded and tried.
fn check_targets(targets: &Targets, planned: &[apt::Planned]) -> Result<()> {
    if let Some(opts) = &targets.apt {
        apt::check(opts, planned)?;
    }
    if let Some(opts) = &targets.yum {
        crate::yum::check(opts)?;
    }
    Ok(())
}

/// Whether `dest` already holds the package `job` would write there (the common
/// package, written by another release's run): then it is kept. Other bytes
/// are refused (exit 3) unless `-f`. The package is small; it is written into a
/// temporary directory and compared.
fn already_written(
    plan: &Plan,
    pkg: &PackagePlan,
    job: &dyn WriteJob,
    dest: &Path,
) -> Result<bool> {
    let staged = crate::package::builtin::stage(pkg)?;
    let dir = tempfile::Builder::new()
        .prefix("cfy-ap-common.")
        .tempdir()
        .map_err(|e| Error::build(format!("cannot create a temporary directory: {e}")))?;
    let probe = dir.path().join("package");
    let quiet = Log::new(false, true);
    job.write(
        staged.plan(),
        &AgentInfo::from_tar(&plan.output_tar),
        &probe,
        true,
        &quiet,
    )?;
    if atomic::same_bytes(&probe, dest)? {
        return Ok(true);
    }
    if plan.force {
        return Ok(false);
    }
    Err(Error::exists(format!(
        "{} already exists with other contents",
        dest.display()
    ))
    .with(format!(
        "it is {} {} from another run: other packaging files, package settings or cfy-ap version",
        pkg.name,
        pkg.full_version()
    ))
    .with("bump the version, or use -f/--force to replace it"))
}

/// The agent debs a publish will add, refused before any work when their name,
/// version and architecture are taken. Not the common package: the repository
/// may hold it already from another release's run, and the publish takes it
/// again unchanged when its bytes are the same (it is stamped so that they are).
pub(crate) fn planned_debs(packages: &[PackagePlan]) -> Vec<apt::Planned> {
    packages
        .iter()
        .filter(|p| p.role == Role::Agent && p.formats().contains(&Format::Deb))
        .map(|p| (p.name.clone(), p.full_version(), p.deb_arch()))
        .collect()
}

/// Run `plan`, publishing its packages into `targets`.
pub(crate) fn execute(plan: &Plan, targets: &Targets, log: &Log) -> Result<Report> {
    // From here on, SIGINT/SIGTERM stop the run cleanly (see util::signals).
    crate::util::signals::install()?;
    let jobs = preflight(plan, targets)?;
    build(plan, jobs, targets, log)
}

/// Run `plan` with the writers [`preflight`] prepared for it.
fn build(plan: &Plan, jobs: Vec<Job>, targets: &Targets, log: &Log) -> Result<Report> {
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
    // A built-in packaging set is written to a temporary directory for the writers.
    let staged = plan
        .packages
        .iter()
        .map(crate::package::builtin::stage)
        .collect::<Result<Vec<_>>>()?;
    for Job {
        package,
        format,
        job,
    } in jobs
    {
        crate::util::signals::check()?;
        let pkg = staged[package].plan();
        let dest = pkg.output(format).expect("planned output");
        let Some(job) = job else {
            log.info(&format!(
                "{} ready: {} (already there, the same bytes)",
                format.name(),
                dest.display()
            ));
            report.packages.push((format, dest.to_path_buf()));
            continue;
        };
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
        report.packages.push((format, written.path));
    }
    if let Some(opts) = &targets.apt {
        let debs: Vec<PathBuf> = report.written(Format::Deb).cloned().collect();
        let summary = log.step(&format!("published into {}", opts.repo.display()), || {
            apt::publish(opts, &debs, log)
        })?;
        apt::report(&summary, log);
    }
    if let Some(opts) = &targets.yum {
        let rpms: Vec<PathBuf> = report.written(Format::Rpm).cloned().collect();
        let summary = log.step(&format!("published into {}", opts.repo.display()), || {
            crate::yum::publish(opts, &rpms, log)
        })?;
        apt::report(&summary, log);
    }
    Ok(report)
}
