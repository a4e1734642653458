//! cfy-ap: builds Cloudify agents (a Python virtualenv with the Cloudify modules,
//! celery for Cloudify 3.x, and your plugins) and ships them as a deterministic tar.gz, a manager
//! .deb or .rpm, and through apt and yum/dnf repositories.
//!
//! Data flows one way: [`config`] (schema, defaults, validation) → [`plan`] (what
//! `--dry-run` prints: the installer, the CA bundle and the bytecode cache resolved,
//! a build [`root`] checked; with the format-neutral [`package`] plan) → [`pipeline`]
//! (one plan per build root, where the packages are published, preflight once per
//! plan), which runs [`agent`] (virtualenv, installer, validation, relocation; inside
//! a root through its `Sandbox`) → [`archive`] (deterministic tar over the parallel
//! gzip of [`codec`]) → one [`writers`] module per package format (deb, rpm, behind
//! [`package::PackageWriter`]) → [`apt`] (apt repository) and [`yum`] (yum/dnf
//! repository): siblings built on the repository kit [`repo`], never importing each
//! other, beside the build side (of it they import only [`config`]).
//! Shared below them:
//! [`debian`] (deb822, versions, architectures, ar), [`openpgp`] (one key
//! loader for apt and rpm signing) and [`util`] (atomic outputs, the one
//! SOURCE_DATE_EPOCH policy, dates, redaction, the `$PATH` lookup).
//! `tests/layering.rs` fails on any cycle between these modules.

pub mod agent;
pub mod apt;
pub mod archive;
pub mod codec;
pub mod config;
pub mod debian;
pub mod error;
pub mod log;
pub mod openpgp;
pub mod package;
pub mod pipeline;
pub mod plan;
pub mod repo;
pub mod root;
pub mod util;
pub mod writers;
pub mod yum;

pub use agent::Outcome;
pub use config::Config;
pub use error::{Error, Kind, Result};
pub use package::Format;
pub use plan::{Options, Plan};

use std::path::Path;

/// The original tool's entry point: build an agent from a config given as a
/// value, or else read from `config_file` (default `config.yaml`), the way the
/// command line's build does (`cfy-ap -c FILE`): one plan per build root, every
/// check before any work (outputs, keys, repositories), then the agent, the
/// packages its config asks for with `package:` given `--format` (here the
/// tar), and the publishing of `publish:`. Returns the first agent's outcome.
///
/// ```no_run
/// let cfg = agent_packager::config::parse_str(
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
    let run = pipeline::plans(&config, &options, writers::ALL)?;
    let log = log::Log::new(verbose, false);
    let reports = pipeline::execute_all(&run, &log)?;
    reports
        .into_iter()
        .find_map(|r| r.outcome)
        .ok_or_else(|| Error::build("no agent was built"))
}
