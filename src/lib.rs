//! cfy-ap: builds Cloudify agents (a Python virtualenv with the Cloudify modules,
//! celery for Cloudify 3.x, and your plugins) and ships them as a deterministic tar.gz, a manager
//! .deb or .rpm, and through apt and yum/dnf repositories.
//!
//! Data flows one way: `config` (schema, defaults, validation) → `plan` (what
//! `--dry-run` prints: the installer, the CA bundle and the bytecode cache resolved,
//! a build `root` checked; with the format-neutral `package` plan) → `pipeline`
//! (one plan per build root, where the packages are published, preflight once per
//! plan), which runs `agent` (virtualenv, installer, validation, relocation; inside
//! a root through its `Sandbox`) → `archive` (deterministic tar over the parallel
//! gzip of `codec`) → one `writers` module per package format (deb, rpm, behind
//! `package::PackageWriter`) → `apt` (apt repository) and `yum` (yum/dnf
//! repository): siblings built on the repository kit `repo`, never importing each
//! other, beside the build side (of it they import only `config`).
//! Shared below them:
//! `debian` (deb822, versions, architectures, ar), `openpgp` (one key
//! loader for apt and rpm signing) and `util` (atomic outputs, the one
//! SOURCE_DATE_EPOCH policy, dates, redaction, the `$PATH` lookup).
//! `tests/layering.rs` fails on any cycle between these modules.
//!
//! The modules are the crate's own; other programs use the facade below: load or
//! parse a config, resolve a [`Run`] with [`plan()`], [`execute()`] it, publish
//! with [`publish_debs()`] / [`publish_rpms()`], list with [`list_debs()`], or the
//! original tool's [`create()`].

// Lints for the library alone: nothing reachable from outside but the facade,
// and all of that documented.
#![warn(unreachable_pub, missing_docs)]

mod agent;
mod apt;
mod archive;
mod cli;
mod codec;
mod config;
mod debian;
mod error;
mod log;
mod openpgp;
mod package;
mod pipeline;
mod plan;
mod repo;
mod root;
mod util;
mod writers;
mod yum;

pub use agent::Outcome;
pub use apt::{Entry, PublishOptions, Summary};
pub use cli::main;
pub use config::Config;
pub use error::{Error, Kind, Result};
pub use log::Log;
pub use package::Format;
pub use pipeline::{Report, Run};
pub use plan::{Options, Plan};
pub use yum::YumOptions;

/// Reads a config file (YAML), every error located at `file:line:col`.
///
/// ```no_run
/// let config = agent_packager::load_config(std::path::Path::new("config.yaml"))?;
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn load_config(path: &Path) -> Result<Config> {
    config::load_file(path)
}

/// Parses a config given as text; `origin` names it in errors (`origin:line:col`).
///
/// ```
/// let config = agent_packager::parse_config("release: trusty\n", "inline")?;
/// assert!(agent_packager::parse_config("relase: x\n", "inline").is_err());
/// # let _ = config;
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn parse_config(text: &str, origin: &str) -> Result<Config> {
    config::parse_str(text, origin)
}

/// The JSON Schema (draft-07) of the config file, as `cfy-ap schema` prints it.
///
/// ```
/// let schema = agent_packager::config_schema();
/// assert!(schema["properties"]["python_path"].is_object());
/// ```
pub fn config_schema() -> serde_json::Value {
    config::json_schema::config_schema()
}

/// Resolves what a build would do: one plan per build root (`options.roots`,
/// else the config's `build_roots`, else the host's) and where the packages
/// are published. Nothing is written; `Plan`'s `Display` is what `--dry-run`
/// prints.
///
/// ```no_run
/// let config = agent_packager::load_config(std::path::Path::new("config.yaml"))?;
/// let run = agent_packager::plan(&config, &agent_packager::Options::default())?;
/// for plan in &run.plans {
///     println!("{} {} {}", plan.distribution, plan.release, plan.architecture);
/// }
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn plan(config: &Config, options: &Options) -> Result<Run> {
    pipeline::plans(config, options, writers::ALL)
}

/// Runs a resolved [`Run`]: every check first (outputs, keys, repositories),
/// then each agent, its packages and the publishing; one report per plan.
///
/// ```no_run
/// let config = agent_packager::load_config(std::path::Path::new("config.yaml"))?;
/// let run = agent_packager::plan(&config, &agent_packager::Options::default())?;
/// let log = agent_packager::Log::new(false, false);
/// for report in agent_packager::execute(&run, &log)? {
///     println!("{:?}", report.packages);
/// }
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn execute(run: &Run, log: &Log) -> Result<Vec<Report>> {
    pipeline::execute_all(run, log)
}

/// Publishes `.deb` files into the apt repository of `options` (made when
/// missing), as `cfy-ap publish --repo DIR DEB...`.
///
/// ```no_run
/// let options = agent_packager::PublishOptions {
///     repo: "repo".into(),
///     ..Default::default()
/// };
/// let log = agent_packager::Log::new(false, false);
/// let summary = agent_packager::publish_debs(&options, &["agent.deb".into()], &log)?;
/// println!("changed: {}", summary.changed);
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn publish_debs(options: &PublishOptions, debs: &[PathBuf], log: &Log) -> Result<Summary> {
    apt::publish(options, debs, log)
}

/// Publishes `.rpm` files into the yum/dnf repository of `options`, as
/// `cfy-ap publish --repo DIR RPM...`.
///
/// ```no_run
/// let options = agent_packager::YumOptions {
///     repo: "yum".into(),
///     ..Default::default()
/// };
/// let log = agent_packager::Log::new(false, false);
/// agent_packager::publish_rpms(&options, &["agent.rpm".into()], &log)?;
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn publish_rpms(options: &YumOptions, rpms: &[PathBuf], log: &Log) -> Result<Summary> {
    yum::publish(options, rpms, log)
}

/// The packages of an apt repository's codename, as `cfy-ap publish --list`
/// prints them.
///
/// ```no_run
/// let options = agent_packager::PublishOptions {
///     repo: "repo".into(),
///     ..Default::default()
/// };
/// for entry in agent_packager::list_debs(&options)? {
///     println!("{} {} {}", entry.package, entry.version, entry.architecture);
/// }
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn list_debs(options: &PublishOptions) -> Result<Vec<Entry>> {
    apt::list(options)
}

use std::path::{Path, PathBuf};

/// The original tool's entry point: build an agent from a config given as a
/// value, or else read from `config_file` (default `config.yaml`), the way the
/// command line's build does (`cfy-ap -c FILE`): one plan per build root, every
/// check before any work (outputs, keys, repositories), then the agent, the
/// packages its config asks for with `package:` given `--format` (here the
/// tar), and the publishing of `publish:`. Returns the first agent's outcome.
///
/// ```no_run
/// let cfg = agent_packager::parse_config(
///     "distribution: Ubuntu\nrelease: trusty\noutput_tar: agent.tar.gz\n",
///     "inline",
/// )?;
/// let outcome = agent_packager::create(Some(cfg), None, false, false)?;
/// println!("{}", outcome.output_tar.display());
/// # Ok::<(), agent_packager::Error>(())
/// ```
pub fn create(
    config: Option<Config>,
    config_file: Option<&Path>,
    force: bool,
    verbose: bool,
) -> Result<Outcome> {
    let config = match config {
        Some(c) => c,
        None => config::load_file(config_file.unwrap_or(Path::new("config.yaml")))?,
    };
    let options = Options {
        force,
        ..Options::default()
    };
    let run = plan(&config, &options)?;
    let reports = execute(&run, &Log::new(verbose, false))?;
    reports
        .into_iter()
        .find_map(|r| r.outcome)
        .ok_or_else(|| Error::build("no agent was built"))
}
