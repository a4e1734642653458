//! Integration tests of the command line around a build: config errors and exit
//! codes, hostile inputs and signals, `init` and its profiles, help, completions,
//! man page, schema and progress, `cfy-ap archive`. The real `cfy-ap` binary
//! against the offline fixtures; most runs stop before or at the virtualenv (a
//! few build the fixture agent). Fast tier.

#[path = "../common/mod.rs"]
mod common;

/// `cfy-ap archive`: prefixes, reproducibility, GNU tar reading it back.
mod archive;
/// Error messages and exit codes: config, pip, outputs, usage.
mod errors;
/// Special files, signals, credentials and other hostile inputs.
mod hardening;
/// `cfy-ap init --profile` and what a config must install.
mod profiles;
/// init, completions, man page, schema, progress and help texts.
mod ux;
