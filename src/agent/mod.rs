//! Executing a plan: checks → virtualenv → modules → validation → secrets
//! scrubbed (`scrub`) → tar.gz → cleanup.

mod bytecode;
mod command;
pub(crate) mod dists;
mod failure;
pub(crate) mod install;
mod manager;
mod pip;
mod pyc_cache;
pub(crate) mod python;
pub(crate) mod relocate;
mod sandbox;
mod scrub;
mod seed;
mod uv;

use crate::archive;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::plan::Plan;
use crate::util::atomic::check_writable;
use sandbox::Sandbox;
use std::path::{Path, PathBuf};

/// What a successful build produced.
/// What building an agent produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The agent tar written.
    pub output_tar: PathBuf,
    /// The agent's Python version (`3.11.2`).
    pub python_version: String,
    /// Every distribution in the venv: (name, version), sorted by name.
    pub installed: Vec<(String, String)>,
    /// What went into the tar: entries, bytes in and out.
    pub archive: archive::Stats,
}

/// Refuse before any work when something would be overwritten without `--force`,
/// or when an output directory cannot be written.
pub(crate) fn precheck(plan: &Plan, outputs: &[PathBuf]) -> Result<()> {
    let venv = plan.venv_on_host();
    if plan.from_tar.is_none()
        && let Ok(meta) = std::fs::symlink_metadata(&venv)
        && !meta.is_dir()
    {
        // A symlink (even a dangling one) or a file: never used, never deleted.
        return Err(Error::exists(format!(
            "{} exists and is {}, not a virtualenv directory; refusing to use or delete it",
            plan.venv.display(),
            crate::util::input::kind(&meta)
        ))
        .with("choose another `venv` path, or remove it yourself"));
    }
    if plan.from_tar.is_none() && venv.exists() {
        if !plan.force {
            return Err(Error::exists(format!(
                "virtualenv {} already exists",
                plan.venv.display()
            ))
            .with("use -f/--force to delete and recreate it, or choose another `venv`"));
        }
        if !is_replaceable_venv(&venv) {
            return Err(Error::exists(format!(
                "{} exists but does not look like a virtualenv (no pyvenv.cfg or bin/activate); refusing to delete it even with --force",
                plan.venv.display()
            ))
            .with("choose another `venv` path, or remove that directory yourself"));
        }
    }
    for out in outputs {
        crate::util::atomic::check_replaceable(out)?;
        if out.exists() && !plan.force {
            return Err(Error::exists(format!("{} already exists", out.display()))
                .with("use -f/--force to replace it, or choose another output path"));
        }
        check_writable(out)?;
    }
    Ok(())
}

fn is_replaceable_venv(dir: &Path) -> bool {
    dir.join("pyvenv.cfg").is_file()
        || dir.join("bin/activate").is_file()
        || std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_none())
}

/// Build the agent virtualenv and its tar.gz.
pub(crate) fn run(plan: &Plan, log: &Log) -> Result<Outcome> {
    precheck(plan, &plan.outputs())?;
    for said in [&plan.python_note, &plan.python_warning]
        .into_iter()
        .flatten()
    {
        log.warn(said);
    }
    // With a root: commands run inside it, files land in its overlay
    // (sandbox.rs); `venv` is where the venv's files are on the host.
    let sandbox = Sandbox::start(plan, log)?;
    let venv = sandbox.host_path(&plan.venv);
    // The installer depends on the interpreter, so this step's line is printed
    // when both are known.
    let started = std::time::Instant::now();
    let interpreter = python::probe(&plan.python, plan.virtualenv_path.as_deref(), &sandbox, log)?;
    let (mut installer, why) = install::select(plan, &interpreter, &sandbox, log)?;
    log.done(
        &format!(
            "checked python {} ({}), installer {} ({why})",
            plan.python.display(),
            interpreter.version,
            installer.name()
        ),
        started,
    );
    if plan.venv_on_host().exists() {
        sandbox::remove_venv(plan, &sandbox, log)?;
    }
    let mut guard = VenvGuard {
        path: &venv,
        keep: plan.keep_venv,
        log,
        armed: true,
    };
    let seeds = log.step(
        &format!(
            "created virtualenv {} (python {})",
            plan.venv.display(),
            interpreter.version
        ),
        || installer.create_venv(&plan.python, &interpreter, &plan.venv, log),
    )?;
    crate::util::signals::check()?;
    let installed = install::install_modules(plan, installer.as_ref(), &seeds, &interpreter, log)?;
    crate::util::signals::check()?;
    scrub::scrub(&venv, &plan.secrets(), log)?;
    if plan.relocatable {
        let r = log.step("made the virtualenv relocatable", || {
            relocate::make_relocatable_at(&venv, &plan.venv, log)
        })?;
        log.detail(&format!(
            "{} console scripts and {} activate scripts rewritten",
            r.scripts.len(),
            r.activate.len()
        ));
    }
    let archive = log.step_bytes(
        &format!("wrote {}", plan.output_tar.display()),
        || crate::log::tree_bytes(&venv),
        || {
            archive::write_tar_gz(
                &venv,
                &plan.tar_prefix,
                &plan.output_tar,
                plan.tar_level,
                plan.force,
            )
        },
    )?;
    for skipped in &archive.skipped {
        log.warn(&format!(
            "not archived (not a file, directory or link): {}",
            skipped.display()
        ));
    }
    guard.armed = false;
    if plan.keep_venv && plan.root.is_some() {
        let kept = sandbox::keep_in_root(plan, &venv)?;
        log.info(&format!("kept virtualenv {} in the root", kept.display()));
    } else if plan.keep_venv {
        log.info(&format!("kept virtualenv {}", plan.venv.display()));
    } else {
        std::fs::remove_dir_all(&venv)
            .map_err(|e| Error::io("removing the virtualenv", &venv, e))?;
    }
    Ok(Outcome {
        output_tar: plan.output_tar.clone(),
        python_version: interpreter.version,
        installed,
        archive,
    })
}

/// The bytecode cache `--dry-run` names: the plan's, when the build would use
/// it. Only CPython 3.7 to 3.10 does, so the interpreter is asked (its probe
/// writes nothing); a `--root` build compiles inside the root, without it.
pub(crate) fn dry_run_bytecode_cache(plan: &Plan) -> std::result::Result<PathBuf, &'static str> {
    let dir = plan.bytecode_cache.clone()?;
    if plan.root.is_some() {
        return Err("off: --root builds compile inside the root");
    }
    match python::probe(
        &plan.python,
        plan.virtualenv_path.as_deref(),
        &Sandbox::host(),
        &Log::new(false, true),
    ) {
        Ok(i) if !bytecode::uses_cache(i.pyc.as_ref()) => {
            Err("not used: the interpreter is not CPython 3.7-3.10")
        }
        _ => Ok(dir),
    }
}

/// Where the manager source is unpacked: beside the venv, with a fixed name.
pub(super) fn manager_work_dir(venv: &Path) -> PathBuf {
    let name = venv
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    venv.with_file_name(format!(".{name}.cfy-ap-manager-src"))
}

/// Removes a half-built virtualenv when the build fails (unless keep_venv).
struct VenvGuard<'a> {
    path: &'a Path,
    keep: bool,
    log: &'a Log,
    armed: bool,
}

impl Drop for VenvGuard<'_> {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        if self.keep {
            self.log.info(&format!(
                "the failed build's virtualenv is kept at {} (keep_venv); use -f to rebuild",
                self.path.display()
            ));
        } else {
            let _ = std::fs::remove_dir_all(self.path);
        }
    }
}
