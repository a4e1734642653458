//! The pip installer: one `pip install` run for the seed packages and every module.
//!
//! Where the interpreter has `venv` and its ensurepip wheels, the virtualenv is
//! made `--without-pip` and pip runs from its own wheel (`python <pip.whl>/pip
//! install …`, which pip supports), installing pip and setuptools into the agent
//! in the same pass as the modules, instead of ensurepip starting pip once more
//! for them. Otherwise (`virtualenv`, e.g. Python 2.7) the virtualenv comes with
//! pip and that pip installs the modules. Bytecode is compiled afterwards by
//! `bytecode` (`--no-compile` here), on all cores.

use super::command::{Run, run};
use super::install::Installer;
use super::python::{self, Interpreter, VenvTool};
use super::sandbox::Sandbox;
use crate::error::Result;
use crate::log::Log;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

pub(super) struct Pip {
    options: Vec<String>,
    cache_dir: Option<PathBuf>,
    venv: PathBuf,
    /// Run pip from this wheel (the venv has no pip until the pass installs it).
    wheel: Option<PathBuf>,
    /// `--find-links` for the seed wheels.
    seed_dir: Option<PathBuf>,
    version: Option<String>,
    /// Set for every pip run (the CA bundle variable pip reads, see `ca`).
    env: Option<(&'static str, OsString)>,
    /// Where pip runs: in the root of a `--root` build.
    sandbox: Sandbox,
}

impl Pip {
    pub(super) fn new(options: &[String], cache_dir: Option<PathBuf>, sandbox: Sandbox) -> Pip {
        Pip {
            options: options.to_vec(),
            cache_dir,
            venv: PathBuf::new(),
            wheel: None,
            seed_dir: None,
            version: None,
            env: None,
            sandbox,
        }
    }

    pub(super) fn with_env(mut self, env: Option<(&'static str, OsString)>) -> Pip {
        self.env = env;
        self
    }
}

impl Installer for Pip {
    fn name(&self) -> String {
        match &self.version {
            Some(v) => format!("pip {v}"),
            None => "pip".into(),
        }
    }

    fn create_venv(
        &mut self,
        py: &Path,
        interpreter: &Interpreter,
        venv: &Path,
        log: &Log,
    ) -> Result<Vec<String>> {
        self.venv = venv.to_path_buf();
        let seeds = match interpreter.tool {
            VenvTool::Venv => super::seed::find(interpreter, &self.sandbox, log),
            VenvTool::Virtualenv => None,
        };
        let Some(seeds) = seeds else {
            python::create_venv(py, interpreter, venv, &self.sandbox, log)?;
            return Ok(Vec::new());
        };
        python::create_venv_without_pip(py, venv, &self.sandbox, log)?;
        self.version = seeds.requirements[0]
            .strip_prefix("pip==")
            .map(str::to_string);
        self.wheel = Some(seeds.pip_wheel.clone());
        self.seed_dir = Some(seeds.dir.clone());
        Ok(seeds.requirements)
    }

    fn install(&self, requirements: &[String], log: &Log) -> Result<()> {
        let python = self.venv.join("bin/python");
        let mut cmd = match &self.wheel {
            Some(w) => Run::new(&python).arg(w.join("pip")),
            None => Run::new(&python).args(["-m", "pip"]),
        };
        // Bytecode is compiled afterwards, on all cores (see `bytecode`).
        cmd = cmd.args(["install", "--progress-bar", "off", "--no-compile"]);
        if let Some((k, v)) = &self.env {
            cmd = cmd.env(k, v);
        }
        if let Some(c) = &self.cache_dir {
            cmd = cmd.arg("--cache-dir").arg(c);
        }
        let hidden = super::install::hide_credentials(
            &self.options,
            requirements,
            &self.venv,
            &self.sandbox,
        )?;
        cmd = cmd.args(&hidden.options);
        if let Some(d) = &self.seed_dir {
            cmd = cmd.arg("--find-links").arg(d);
        }
        run(cmd.args(&hidden.requirements).stream(), &self.sandbox, log)?;
        Ok(())
    }

    fn venv(&self) -> &Path {
        &self.venv
    }

    fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }
}
