//! Several build roots in one run: one plan per root, named by each root's own
//! distribution, release and architecture; clashes are refused before any work. The agents are
//! built one after another; with `publish:` every deb goes into the repository in
//! one publish at the end (one writer, one index update).

use super::Targets;
use crate::apt;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::package::{Format, PackageWriter};
use crate::pipeline::{self, Report};
use crate::plan::{Options, Plan};
use std::path::PathBuf;

/// What one invocation builds: a plan per build root (or the host's), and where
/// their packages are published.
#[derive(Debug)]
pub struct Run {
    /// One plan per build root (or the host's).
    pub plans: Vec<Plan>,
    /// Where their packages are published.
    pub targets: Targets,
}

/// The run: its plans (one per root: `--root`, else `build_roots:`; or the
/// host's) and its publishing targets. `writers`: the package writers available
/// (`crate::writers::ALL`).
pub(crate) fn plans(cfg: &Config, opts: &Options, writers: &[&dyn PackageWriter]) -> Result<Run> {
    let plans = root_plans(cfg, opts, writers)?;
    let mut targets = Targets::resolve(cfg, opts)?;
    // One publish takes every agent's deb: the repository lists each agent's
    // architecture, so that its hosts' apt finds indices even when every
    // package is `Architecture: all`.
    let arches: Vec<String> = plans.iter().map(Plan::deb_architecture).collect();
    targets.apt = targets
        .apt
        .map(|o| o.listing(arches.iter().map(String::as_str)));
    Ok(Run { plans, targets })
}

fn root_plans(cfg: &Config, opts: &Options, writers: &[&dyn PackageWriter]) -> Result<Vec<Plan>> {
    let roots: Vec<PathBuf> = if !opts.roots.is_empty() {
        opts.roots.clone()
    } else {
        cfg.build_roots
            .iter()
            .flatten()
            .map(PathBuf::from)
            .collect()
    };
    if roots.is_empty() {
        return Ok(vec![Plan::resolve(cfg, opts, writers)?]);
    }
    if opts.from_tar.is_some() {
        return Err(Error::config(
            "--from-tar packages an existing agent: it cannot be combined with --root/build_roots",
        ));
    }
    let mut plans: Vec<Plan> = Vec::new();
    for dir in roots {
        let one = Options {
            root: Some(dir),
            ..opts.clone()
        };
        let mut plan = Plan::resolve(cfg, &one, writers)?;
        // Roots of one distribution share its common package: written once.
        plan.packages.retain(|p| {
            !plans
                .iter()
                .flat_map(|e| &e.packages)
                .any(|q| crate::package::same_common(p, q))
        });
        check_clashes(&plans, &plan)?;
        if plan.keep_venv
            && let Some(r) = plan.root.as_ref().filter(|r| r.read_only)
        {
            return Err(Error::config(format!(
                "keep_venv writes the virtualenv into the root, but {} is on a read-only mount",
                r.dir.display()
            ))
            .with("remount it read-write, or drop keep_venv (without it the root is only read)"));
        }
        plans.push(plan);
    }
    Ok(plans)
}

fn check_clashes(earlier: &[Plan], plan: &Plan) -> Result<()> {
    let dir = |p: &Plan| {
        p.root
            .as_ref()
            .map(|r| r.dir.display().to_string())
            .unwrap_or_default()
    };
    for other in earlier {
        if other.distribution == plan.distribution
            && other.release == plan.release
            && other.architecture == plan.architecture
        {
            return Err(Error::config(format!(
                "the roots {} and {} are both {} {} for {}: each agent is named by its root's distribution, release and architecture",
                dir(other),
                dir(plan),
                plan.distribution,
                plan.release,
                plan.architecture
            ))
            .with("give each distribution release and architecture one root (and do not set distribution/release/architecture in the config when building in several roots)"));
        }
        let theirs = other.outputs();
        if let Some(clash) = plan.outputs().into_iter().find(|o| theirs.contains(o)) {
            return Err(Error::config(format!(
                "the roots {} and {} would both write {}",
                dir(other),
                dir(plan),
                clash.display()
            ))
            .with(
                "remove output_tar / package.name from the config so each agent gets its own name",
            ));
        }
    }
    Ok(())
}

/// Run every plan; with several, refuse before any work what any of them would
/// refuse (each plan's checks and writers once, the repositories' once for all),
/// then build each and publish all debs at once.
pub(crate) fn execute_all(run: &Run, log: &Log) -> Result<Vec<Report>> {
    let Run { plans, targets } = run;
    if let [plan] = plans.as_slice() {
        return Ok(vec![pipeline::execute(plan, targets, log)?]);
    }
    // From here on, SIGINT/SIGTERM stop the run cleanly (see util::signals).
    crate::util::signals::install()?;
    let mut prepared = Vec::new();
    for plan in plans {
        prepared.push(pipeline::prepare(plan, targets)?);
    }
    // Every deb these runs will publish: refused now if already taken.
    let planned: Vec<apt::Planned> = plans
        .iter()
        .flat_map(|p| pipeline::planned_debs(&p.packages))
        .collect();
    pipeline::check_targets(targets, &planned)?;
    // The debs are published once, below; the rpms with each plan.
    let each = Targets {
        apt: None,
        yum: targets.yum.clone(),
    };
    let mut reports = Vec::new();
    for (i, (plan, jobs)) in plans.iter().zip(prepared).enumerate() {
        log.info(&format!(
            "==> agent {}/{}: {} {} {}{}",
            i + 1,
            plans.len(),
            plan.distribution,
            plan.release,
            plan.architecture,
            plan.root
                .as_ref()
                .map(|r| format!(" (root {})", r.dir.display()))
                .unwrap_or_default()
        ));
        reports.push(pipeline::build(plan, jobs, &each, log)?);
    }
    if let Some(opts) = &targets.apt {
        let debs: Vec<PathBuf> = reports
            .iter()
            .flat_map(|r| r.written(Format::Deb).cloned())
            .collect();
        let summary = log.step(
            &format!("published {} debs into {}", debs.len(), opts.repo.display()),
            || apt::publish(opts, &debs, log),
        )?;
        apt::report(&summary, log);
    }
    Ok(reports)
}
