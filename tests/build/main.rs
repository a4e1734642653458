//! Integration tests of building an agent and of the command line around it: the
//! real `cfy-ap` binary with a real Python (and uv, and pyenv's Python 2.7 when
//! present) against the offline fixtures. No Debian root, no chroot, no dnf, no
//! portable build: part of the fast tier (`bash tests/run.sh --fast`).

#[path = "../common/mod.rs"]
mod common;

/// `cfy-ap archive`: prefixes, reproducibility, GNU tar reading it back.
mod archive;
/// The shared bytecode cache: warm, cold and damaged entries.
mod bytecode_cache;
/// Error messages and exit codes: config, pip, outputs, usage.
mod errors;
/// Special files, signals, credentials and other hostile inputs.
mod hardening;
/// pip and uv, Python 2.7 and 3.6 agents, index and CA handling.
mod installer;
/// A whole build: the agent extracts and runs, rebuilds are byte-identical.
mod pipeline;
/// `cfy-ap init --profile` and what a config must install.
mod profiles;
/// The agent runs from any directory; `relocatable: false`.
mod relocate;
/// init, completions, man page, schema, progress and help texts.
mod ux;
