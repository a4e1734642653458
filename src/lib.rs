//! cfy-ap: builds Cloudify agents (a Python virtualenv with celery, the Cloudify
//! modules and your plugins) and ships them as a deterministic tar.gz.
//!
//! Pipeline: [`config`] (schema, defaults, validation) → [`plan`] (what `--dry-run`
//! prints) → [`build`] (virtualenv, pip, validation) → [`archive`] (deterministic
//! tar over the parallel [`gzip`] writer) with atomic [`output`]s.

pub mod archive;
pub mod build;
pub mod config;
pub mod error;
pub mod gzip;
pub mod log;
pub mod modules;
pub mod output;
pub mod plan;
pub mod redact;

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
