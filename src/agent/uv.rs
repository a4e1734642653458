//! The uv installer: `uv venv` makes the virtualenv, one `uv pip install
//! --python <venv>/bin/python` installs the seed packages and every module; the
//! bytecode is compiled afterwards (reproducibly, see `bytecode`).
//!
//! Files are hard-linked from uv's cache (`--link-mode hardlink`, uv's own default
//! on Linux; uv copies by itself where the cache is on another filesystem), which
//! saves creating most of the agent's bytes. The cache must never change with the
//! agent, so nothing after the install writes to a file of the venv in place:
//! every rewrite (relocation, `RECORD` below, the `.pyc` from the bytecode cache
//! and from the compiling script) is a new file renamed over the old name, and
//! files are only ever removed (unlinked), never truncated or re-moded.

use super::command::{Run, run};
use super::install::{Installer, wrap};
use super::python::Interpreter;
use super::sandbox::Sandbox;
use super::seed::Seeds;
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use std::path::{Path, PathBuf};

/// `uv --version` → `0.13.9`.
pub(super) fn version(uv: &Path, sandbox: &Sandbox, log: &Log) -> Result<String> {
    let out = run(Run::new(uv).arg("--version"), sandbox, log).map_err(|e| {
        Error::config(format!("uv at {} does not run", uv.display()))
            .with(e.message)
            .with("install it with `pip install uv`, or set uv_path to a working uv")
    })?;
    Ok(out.split_whitespace().nth(1).unwrap_or("?").to_string())
}

pub(super) struct Uv {
    pub exe: PathBuf,
    pub version: String,
    /// pip_options already translated.
    pub options: Vec<String>,
    pub cache_dir: Option<PathBuf>,
    venv: PathBuf,
    seeds: Option<Seeds>,
    /// Set for every uv run (the CA bundle variable uv reads, see `ca`).
    env: Option<(&'static str, std::ffi::OsString)>,
    /// Where uv runs (the host: `install::select` takes no uv for a `--root` build).
    sandbox: Sandbox,
}

impl Uv {
    pub(super) fn new(
        exe: PathBuf,
        version: String,
        options: Vec<String>,
        cache: Option<PathBuf>,
        sandbox: Sandbox,
    ) -> Uv {
        Uv {
            exe,
            version,
            options,
            cache_dir: cache,
            venv: PathBuf::new(),
            seeds: None,
            env: None,
            sandbox,
        }
    }

    pub(super) fn with_env(mut self, env: Option<(&'static str, std::ffi::OsString)>) -> Uv {
        self.env = env;
        self
    }

    fn command(&self, sub: &[&str]) -> Run {
        let mut cmd = Run::new(&self.exe).args(sub);
        if let Some((k, v)) = &self.env {
            cmd = cmd.env(k, v);
        }
        if let Some(c) = &self.cache_dir {
            cmd = cmd.arg("--cache-dir").arg(c);
        }
        cmd
    }
}

impl Installer for Uv {
    fn name(&self) -> String {
        format!("uv {}", self.version)
    }

    fn create_venv(
        &mut self,
        python: &Path,
        interpreter: &Interpreter,
        venv: &Path,
        log: &Log,
    ) -> Result<Vec<String>> {
        super::python::create_parent(venv, &self.sandbox)?;
        self.venv = venv.to_path_buf();
        // The interpreter's own pip/setuptools wheels, installed with the modules;
        // without them, uv seeds pip/setuptools/wheel from the index.
        self.seeds = super::seed::find(interpreter, &self.sandbox, log);
        let mut cmd = self
            .command(&["venv", "--quiet", "--no-project"])
            .arg("--python")
            .arg(python);
        if self.seeds.is_none() {
            cmd = cmd.arg("--seed").args(&self.options);
        }
        run(cmd.arg(venv), &self.sandbox, log).map_err(|e| {
            wrap(
                format!("creating the virtualenv {} with uv failed", venv.display()),
                e,
            )
        })?;
        Ok(self
            .seeds
            .as_ref()
            .map(|s| s.requirements.clone())
            .unwrap_or_default())
    }

    fn install(&self, requirements: &[String], log: &Log) -> Result<()> {
        // A `--root` build copies: its venv lives in an overlay (uv never runs
        // inside a root today, see `install::select`; this keeps it safe if it does).
        let link = if self.sandbox.in_root() {
            "copy"
        } else {
            "hardlink"
        };
        let hidden = super::install::hide_credentials(
            &self.options,
            requirements,
            &self.venv,
            &self.sandbox,
        )?;
        let mut cmd = self
            .command(&["pip", "install", "--link-mode", link])
            .arg("--python")
            .arg(self.venv.join("bin/python"))
            .args(&hidden.options)
            .stream();
        if let Some(s) = &self.seeds {
            cmd = cmd.arg("--find-links").arg(&s.dir);
        }
        run(cmd.args(&hidden.requirements), &self.sandbox, log)?;
        Ok(())
    }

    fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    fn finish(&self, _log: &Log) -> Result<()> {
        tidy(&self.venv)
    }

    fn venv(&self) -> &Path {
        &self.venv
    }
}

/// What uv leaves that a pip-built agent does not have and must not ship: its
/// cache records in each `.dist-info` (`uv_cache.json` holds a timestamp, so the
/// bytes would differ per build; also dropped from `RECORD`), the `.lock`,
/// `.gitignore` and `CACHEDIR.TAG` at the top of the virtualenv (the tag makes
/// backup tools skip the agent), and the Windows-only `bin/*.bat`.
fn tidy(venv: &Path) -> Result<()> {
    for name in [".lock", ".gitignore", "CACHEDIR.TAG"] {
        remove(&venv.join(name))?;
    }
    let bin = venv.join("bin");
    for e in std::fs::read_dir(&bin).ctx("reading", &bin)?.flatten() {
        if e.file_name().to_string_lossy().ends_with(".bat") {
            remove(&e.path())?;
        }
    }
    const DROP: [&str; 2] = ["uv_cache.json", "uv_build.json"];
    for sp in super::dists::site_packages(venv)? {
        for e in std::fs::read_dir(&sp).ctx("reading", &sp)?.flatten() {
            let info = e.file_name().to_string_lossy().into_owned();
            if !info.ends_with(".dist-info") {
                continue;
            }
            let mut dropped = false;
            for name in DROP {
                let p = e.path().join(name);
                if p.exists() {
                    remove(&p)?;
                    dropped = true;
                }
            }
            let record = e.path().join("RECORD");
            if dropped && let Ok(text) = std::fs::read_to_string(&record) {
                let kept: String = text
                    .split_inclusive('\n')
                    .filter(|l| !DROP.iter().any(|d| l.starts_with(&format!("{info}/{d},"))))
                    .collect();
                crate::util::atomic::replace_contents(&record, kept.as_bytes(), None)
                    .ctx("rewriting", &record)?;
            }
        }
    }
    Ok(())
}

fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e).ctx("removing", path),
        _ => Ok(()),
    }
}
