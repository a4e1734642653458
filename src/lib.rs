//! cfy-ap: builds Cloudify agents (a Python virtualenv with celery, the Cloudify
//! modules and your plugins) and ships them as a deterministic tar.gz, a manager
//! .deb or .rpm, and through an apt repository.
//!
//! Pipeline: [`config`] (schema, defaults, validation) → [`plan`] (what `--dry-run`
//! prints; with [`package`] for deb/rpm) → [`pipeline`], which runs [`build`]
//! (virtualenv, pip, validation, relocation) → [`archive`] (deterministic tar over
//! the parallel [`gzip`] writer) → one writer per format ([`deb`], [`rpm`]) →
//! [`publish`] (apt repository). Every output goes through [`output`] (temp file +
//! rename).

pub mod archive;
pub mod build;
pub mod compress;
pub mod config;
pub mod date;
pub mod deb;
pub mod error;
pub mod gzip;
pub mod init;
pub mod log;
pub mod modules;
pub mod output;
pub mod package;
pub mod pipeline;
pub mod plan;
pub mod publish;
pub mod redact;
pub mod root;
pub mod rpm;
pub mod schema;

pub use build::Outcome;
pub use config::Config;
pub use error::{Error, Kind, Result};
pub use plan::{Format, Options, Plan};

use std::path::Path;

/// The original tool's entry point: build an agent from a config given as a value,
/// or else read from `config_file` (default `config.yaml`).
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
    let plan = Plan::resolve(&config, &options)?;
    build::run(&plan, &log::Log::new(verbose, false))
}
