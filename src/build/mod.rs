//! Executing a plan: checks → virtualenv → modules → validation → tar.gz → cleanup.

mod command;
mod manager;
mod pip;
mod python;
pub mod relocate;
mod root;

use crate::archive;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::output::check_writable;
use crate::plan::{Plan, Spec};
use manager::ManagerTree;
use std::path::{Path, PathBuf};

/// What a successful build produced.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub output_tar: PathBuf,
    pub python_version: String,
    /// Every distribution in the venv: (name, version), sorted by name.
    pub installed: Vec<(String, String)>,
    pub archive: archive::Stats,
}

/// Refuse before any work when something would be overwritten without `--force`,
/// or when an output directory cannot be written.
pub fn precheck(plan: &Plan, outputs: &[PathBuf]) -> Result<()> {
    let venv = crate::root::venv_on_host(plan);
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
pub fn run(plan: &Plan, log: &Log) -> Result<Outcome> {
    precheck(plan, &plan.outputs())?;
    if let Some(note) = &plan.python_note {
        log.warn(note);
    }
    // With a root: commands run inside it, files land in its overlay (root.rs);
    // `venv` is where the venv's files are on the host.
    let _session = root::Session::start(plan, log)?;
    let venv = root::host_path(&plan.venv);
    let interpreter = log.step(&format!("checked python {}", plan.python.display()), || {
        python::probe(&plan.python, log)
    })?;
    if crate::root::venv_on_host(plan).exists() {
        root::remove_venv(plan, log)?;
    }
    let mut guard = VenvGuard {
        path: &venv,
        keep: plan.keep_venv,
        log,
        armed: true,
    };
    log.step(
        &format!(
            "created virtualenv {} (python {})",
            plan.venv.display(),
            interpreter.version
        ),
        || python::create_venv(&plan.python, interpreter.tool, &plan.venv, &venv, log),
    )?;
    let installed = install_all(plan, log)?;
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
        let kept = root::keep_in_root(plan, &venv)?;
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

fn install_all(plan: &Plan, log: &Log) -> Result<Vec<(String, String)>> {
    let pip = pip::Pip::new(&plan.venv, &plan.pip_options, log)?;
    let manager = match &plan.manager_source {
        Some(src) => Some(log.step(
            &format!(
                "fetched the cloudify-manager source {}",
                crate::redact::redact(src)
            ),
            || ManagerTree::fetch(src, &manager_work_dir(&root::host_path(&plan.venv)), log),
        )?),
        None => None,
    };
    let mut expected: Vec<(String, String)> = Vec::new();
    for (i, m) in plan.modules.iter().enumerate() {
        let spec = match &m.spec {
            Spec::Pip(s) => s.clone(),
            Spec::Manager(sub) => {
                let tree = manager.as_ref().expect("manager source planned");
                root::inside_path(tree.module_dir(&m.key, sub)?)
                    .display()
                    .to_string()
            }
        };
        let names = log.step_of(
            i + 1,
            plan.modules.len(),
            &format!("installed {} ({})", m.key, crate::redact::redact(&spec)),
            || pip.install(&m.key, &spec, log),
        )?;
        if names.is_empty() && plan.validate {
            log.detail(&format!(
                "cannot tell which distribution {} installs; not validated",
                m.key
            ));
        }
        expected.extend(names.into_iter().map(|n| (m.key.clone(), n)));
    }
    drop(manager);
    let installed = pip.installed(log)?;
    if plan.validate {
        let missing: Vec<String> = expected
            .iter()
            .filter(|(_, name)| !installed.contains_key(name))
            .map(|(key, name)| format!("{name} (module {key})"))
            .collect();
        if !missing.is_empty() {
            return Err(Error::build(format!(
                "validation failed: not installed in the virtualenv: {}",
                missing.join(", ")
            ))
            .with("run with -v to see pip's output, or --no-validation to skip this check"));
        }
        log.info(&format!(
            "==> validated {} requested modules",
            expected.len()
        ));
    }
    let all: Vec<(String, String)> = installed.into_values().collect();
    log.detail("installed in the agent:");
    for (name, version) in &all {
        log.detail(&format!("  {name}=={version}"));
    }
    Ok(all)
}

/// Where the manager source is unpacked: beside the venv, with a fixed name.
fn manager_work_dir(venv: &Path) -> PathBuf {
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
