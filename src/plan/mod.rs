//! The resolved plan: every default applied, every path made absolute, every module
//! in install order with its source. `--dry-run` prints it (`display.rs`); the
//! pipeline executes it.

mod arch;
pub(crate) mod bytecode_cache;
pub(crate) mod ca;
mod display;
pub(crate) mod installer;
mod modules;
mod paths;
mod root_ca;

pub(crate) use paths::{agent_name, tar_prefix};

use crate::config::modules::DEFAULT_MANAGER_SOURCE;
use crate::config::{Config, detect};
use crate::error::{Error, Result};
use crate::package::{Format, PackagePlan, PackageWriter};
use crate::util::paths::{normalize, parent_dir};
pub(crate) use modules::module_list;
use paths::resolve_python;
use std::path::{Path, PathBuf};

/// Where one module is installed from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Spec {
    /// Handed to pip as written.
    Pip(String),
    /// A subdirectory of the cloudify-manager source tree.
    Manager(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Module {
    /// Config name (`celery`, `rest_client`, `agent_installer`, `additional_modules[0]`).
    pub key: String,
    pub spec: Spec,
}

/// What a build will do, every default applied and path resolved: what `--dry-run` prints.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The agent's distribution (`ubuntu`, `debian`, `centos`).
    pub distribution: String,
    /// Its release (`trusty`, `bookworm`).
    pub release: String,
    /// True when distribution/release came from the host's /etc files.
    pub detected: bool,
    /// The CPU architecture the agent is for, rpm/uname style (`x86_64`,
    /// `aarch64`; `debian::arch::canonical`): detected from the interpreter's ELF
    /// header (the root's), or `architecture:`. [`Plan::deb_architecture`] gives
    /// Debian's name.
    pub architecture: String,
    /// How the architecture was found (and how the root's programs run), shown
    /// in the plan.
    pub architecture_note: String,
    /// The interpreter the venv is made with.
    pub python: PathBuf,
    /// Said to the user when the interpreter is not the configured/default one.
    pub python_note: Option<String>,
    /// Said before the build (and in `--dry-run`) when the interpreter is private
    /// to this host, so the agent cannot run on the target.
    pub python_warning: Option<String>,
    /// Where the venv is built (the path the agent runs from).
    pub venv: PathBuf,
    /// Member prefix inside the tar (the venv path, normalised, no leading `/`).
    pub tar_prefix: String,
    /// `profile`: the module set the keys left out stand for.
    pub profile: crate::config::Profile,
    /// False when the config has no `profile` key (the default was taken).
    pub profile_given: bool,
    /// The modules installed, in order.
    pub modules: Vec<Module>,
    /// Resolved cloudify-manager source, present only when a module needs it.
    pub manager_source: Option<String>,
    /// Options given to pip (and translated for uv).
    pub pip_options: Vec<String>,
    /// Which installer builds the agent (`installer`, `uv_path`, `cache_dir`).
    pub installer: installer::InstallerPlan,
    /// `virtualenv_path`: where `python -m virtualenv` finds virtualenv first.
    pub virtualenv_path: Option<PathBuf>,
    /// The bytecode cache (`bytecode_cache`, `--no-bytecode-cache`), or why none.
    pub bytecode_cache: std::result::Result<PathBuf, &'static str>,
    /// The agent tar to write.
    pub output_tar: PathBuf,
    /// Keep the venv after the tar is written.
    pub keep_venv: bool,
    /// Rewrite bin/ scripts and activate to work from any path (`relocatable`).
    pub relocatable: bool,
    /// The tar's gzip level.
    pub tar_level: u32,
    /// What the run writes.
    pub formats: Vec<Format>,
    /// Check that every requested module got installed.
    pub validate: bool,
    /// Replace outputs that exist (`-f`).
    pub force: bool,
    /// `--from-tar`: package this existing agent tar; no virtualenv is built.
    pub from_tar: Option<PathBuf>,
    /// The manager packages: the agent's, then its distribution's common one
    /// (empty without a package format).
    pub packages: Vec<PackagePlan>,
    /// The config file read, if any (an input no output may overwrite).
    pub config_file: Option<PathBuf>,
    /// `--root DIR`: build inside that root filesystem (`python`, `venv` are paths in it).
    pub root: Option<crate::root::Root>,
}

/// Command-line choices that shape the plan.
#[derive(Debug, Clone)]
pub struct Options {
    /// `--format`: what the run writes.
    pub formats: Vec<Format>,
    /// false: `--no-validation`.
    pub validate: bool,
    /// false: `--no-bytecode-cache`.
    pub bytecode_cache: bool,
    /// `-f`: replace outputs that exist.
    pub force: bool,
    /// The config file read (its directory is searched for `packaging/`).
    pub config_path: Option<PathBuf>,
    /// Package an existing agent tar instead of building one.
    pub from_tar: Option<PathBuf>,
    /// `--installer`, over the config's `installer`.
    pub installer: Option<crate::config::InstallerChoice>,
    /// `--root` (repeatable): the roots to build in; empty: `build_roots:` or the host.
    pub roots: Vec<PathBuf>,
    /// The one root this plan builds in (set per root by `pipeline::plans`).
    pub root: Option<PathBuf>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            formats: vec![Format::Tar],
            validate: true,
            bytecode_cache: true,
            force: false,
            config_path: None,
            from_tar: None,
            installer: None,
            roots: Vec::new(),
            root: None,
        }
    }
}

impl Plan {
    /// Resolve `cfg` with the command-line choices; `writers` are the package
    /// writers available (`crate::writers::ALL`).
    pub fn resolve(cfg: &Config, opts: &Options, writers: &[&dyn PackageWriter]) -> Result<Plan> {
        let cwd = std::env::current_dir()
            .map_err(|e| Error::build(format!("cannot read the current directory: {e}")))?;
        let root = match &opts.root {
            Some(dir) => Some(crate::root::Root::open(&cwd.join(dir))?),
            None => None,
        };
        let (distribution, release, detected) = match (&cfg.distribution, &cfg.release) {
            (Some(d), Some(r)) => (d.clone(), r.clone(), false),
            (d, r) => {
                let host = match &root {
                    Some(root) => root.detect()?,
                    None => detect::detect()?,
                };
                (
                    d.clone().unwrap_or(host.distribution),
                    r.clone().unwrap_or(host.release),
                    true,
                )
            }
        };
        for (key, value) in [("distribution", &distribution), ("release", &release)] {
            if value.trim().is_empty() || value.contains('/') {
                return Err(Error::config(format!(
                    "`{key}` must be a non-empty name without '/', got {value:?}"
                )));
            }
        }
        let (python, python_note) = match opts.from_tar {
            Some(_) => (PathBuf::new(), None),
            None => match &root {
                Some(root) => root.python(cfg.python_path.as_deref())?,
                None => resolve_python(cfg.python_path.as_deref())?,
            },
        };

        let architecture = arch::resolve(
            cfg.architecture.as_ref(),
            opts.config_path.as_deref(),
            root.as_ref(),
            opts.from_tar
                .is_none()
                .then(|| normalize(&cwd.join(&python)))
                .as_deref(),
        )?;
        let agent = agent_name(&distribution, &release, &architecture.name);

        let venv_text = cfg
            .venv
            .clone()
            .unwrap_or_else(|| format!("/cloudify/{agent}/env"));
        // In a root, the venv is a path inside it (relative: to its `/`).
        let venv_base = if root.is_some() { Path::new("/") } else { &cwd };
        let venv = normalize(&venv_base.join(&venv_text));
        let tar_prefix = tar_prefix(&venv_text, &venv)?;

        // In a root the interpreter is the root's own; with --from-tar there is none.
        let python_warning = match (&root, &opts.from_tar) {
            (None, None) => paths::private_python_warning(&normalize(&cwd.join(&python))),
            _ => None,
        };

        let output_tar = normalize(
            &cwd.join(
                cfg.output_tar
                    .clone()
                    .unwrap_or_else(|| format!("{agent}.tar.gz")),
            ),
        );
        if output_tar.starts_with(&venv) {
            return Err(Error::config(format!(
                "output_tar {} is inside the venv {}: choose a path outside it",
                output_tar.display(),
                venv.display()
            )));
        }

        let profile = cfg.profile.unwrap_or_default();
        let modules = module_list(cfg);
        if modules.is_empty() && opts.from_tar.is_none() {
            return Err(Error::config(format!(
                "no module to install: the config skips every module of profile {} and adds none",
                profile.name()
            ))
            .with("give a module in base_modules or additional_modules, or remove a `none`"));
        }
        let needs_manager = modules.iter().any(|m| matches!(m.spec, Spec::Manager(_)));
        let manager_source = needs_manager.then(|| {
            let version = cfg
                .management_modules_version
                .clone()
                .unwrap_or_else(|| "master".into());
            let template = cfg
                .management_modules_source
                .clone()
                .unwrap_or_else(|| DEFAULT_MANAGER_SOURCE.into());
            let source = template.replace("{version}", &version);
            if source.contains("://") {
                source
            } else {
                normalize(&cwd.join(source)).display().to_string()
            }
        });

        let pip_options = cfg.pip_options.clone().unwrap_or_default();
        // With --from-tar nothing is installed: no installer is needed.
        let choice = match opts.from_tar {
            Some(_) => crate::config::InstallerChoice::Pip,
            None => opts.installer.or(cfg.installer).unwrap_or_default(),
        };
        let installer = installer::InstallerPlan::resolve(
            choice,
            cfg.uv_path
                .as_ref()
                .map(|p| normalize(&cwd.join(p)))
                .as_deref(),
            cfg.cache_dir.as_ref().map(|p| normalize(&cwd.join(p))),
            &pip_options,
            &venv,
            match opts.from_tar {
                Some(_) => ca::Trust::default(),
                None => ca::Trust::from_env(&cwd)?,
            },
        )?;

        let virtualenv_path = match (&cfg.virtualenv_path, &opts.from_tar, &root) {
            (None, ..) | (_, Some(_), _) => None,
            (Some(_), None, Some(_)) => {
                return Err(Error::config(
                    "virtualenv_path names a directory on this host and cannot be used in a --root build",
                )
                .with("install virtualenv in the root, or remove virtualenv_path"));
            }
            (Some(p), None, None) => {
                let dir = normalize(&cwd.join(p));
                paths::check_virtualenv_path(&dir)?;
                Some(dir)
            }
        };

        let bytecode_cache = bytecode_cache::resolve(
            opts.bytecode_cache && cfg.bytecode_cache != Some(false),
            installer.cache_dir.as_deref(),
            &venv,
        );

        let tar_level = cfg
            .tar_compression_level
            .unwrap_or(crate::config::DEFAULT_TAR_LEVEL);
        if !(1..=9).contains(&tar_level) {
            return Err(Error::config(format!(
                "tar_compression_level must be between 1 and 9, got {tar_level}"
            )));
        }

        let from_tar = match &opts.from_tar {
            Some(t) => Some(crate::package::check_from_tar(&cwd.join(t), &opts.formats)?),
            None => None,
        };
        let config_dir = opts
            .config_path
            .as_ref()
            .map(|c| parent_dir(&normalize(&cwd.join(c))));
        let packages = crate::package::resolve(&crate::package::Context {
            package: cfg.package.as_ref(),
            formats: &opts.formats,
            writers,
            distribution: &distribution,
            release: &release,
            agent: &agent,
            architecture: &architecture.name,
            output_tar: &output_tar,
            config_dir: config_dir.as_deref(),
            cwd: &cwd,
        })?;

        let pip_options = cfg.pip_options.clone().unwrap_or_default();
        let pip_specs: Vec<&str> = modules
            .iter()
            .filter_map(|m| match &m.spec {
                Spec::Pip(s) => Some(s.as_str()),
                Spec::Manager(_) => None,
            })
            .collect();
        let root = match root {
            Some(r) => Some(
                r.with_host_paths(&pip_specs, &pip_options, manager_source.as_deref(), &cwd)?
                    .with_ca_files(&installer.ca)?,
            ),
            None => None,
        };
        Ok(Plan {
            distribution,
            release,
            detected,
            architecture: architecture.name,
            architecture_note: architecture.note,
            python,
            python_note,
            python_warning,
            venv,
            tar_prefix,
            profile,
            profile_given: cfg.profile.is_some(),
            modules,
            manager_source,
            pip_options,
            bytecode_cache,
            installer,
            virtualenv_path,
            output_tar,
            keep_venv: cfg.keep_venv.unwrap_or(false),
            relocatable: cfg.relocatable.unwrap_or(true),
            tar_level,
            formats: opts.formats.clone(),
            validate: opts.validate,
            force: opts.force,
            from_tar,
            packages,
            config_file: opts.config_path.as_ref().map(|c| normalize(&cwd.join(c))),
            root,
        })
    }

    /// The venv's path as the host sees it: inside the root for `--root` builds.
    pub fn venv_on_host(&self) -> PathBuf {
        match &self.root {
            Some(r) => r.join(&self.venv),
            None => self.venv.clone(),
        }
    }

    /// The agent's architecture by Debian's name (`arm64`, `amd64`).
    pub fn deb_architecture(&self) -> String {
        crate::debian::arch::deb_name(&self.architecture)
    }

    /// Every file this run reads that an output could overwrite: `(what, path)`.
    pub fn inputs(&self) -> Vec<(String, PathBuf)> {
        let mut out = Vec::new();
        if let Some(c) = &self.config_file {
            out.push(("the config file".into(), c.clone()));
        }
        if let Some(t) = &self.from_tar {
            out.push(("--from-tar".into(), t.clone()));
        }
        if let Some(src) = &self.manager_source
            && !src.contains("://")
        {
            out.push(("management_modules_source".into(), PathBuf::from(src)));
        }
        for p in &self.packages {
            out.extend(p.inputs());
        }
        out
    }

    /// The credentials in the config's module sources, pip_options and
    /// manager source (`redact::secrets`): none may end up in the agent.
    pub fn secrets(&self) -> Vec<String> {
        let mut text: Vec<&str> = self.pip_options.iter().map(String::as_str).collect();
        for m in &self.modules {
            if let Spec::Pip(s) = &m.spec {
                text.push(s);
            }
        }
        text.extend(self.manager_source.as_deref());
        crate::util::redact::secrets(&text.join("\n"))
    }

    /// Every file this plan writes, checked before any work.
    pub fn outputs(&self) -> Vec<PathBuf> {
        let mut out = Vec::new();
        if self.from_tar.is_none() {
            out.push(self.output_tar.clone());
        }
        for p in &self.packages {
            out.extend(p.output_paths());
        }
        out
    }
}
