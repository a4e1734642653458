//! Integration tests that build whole agents: the real `cfy-ap` binary with a
//! real Python, pip and uv (and pyenv's Python 2.7, 3.6 and 3.7) against the
//! offline fixtures, most of them several times over. Each fixture build costs
//! about half a minute of CPU (pip builds the source-tree modules in isolated
//! build environments), so this target is left out of `bash tests/run.sh
//! --fast`:
//!
//! Tier: full

#[path = "../common/mod.rs"]
mod common;

/// The shared bytecode cache: warm, cold and damaged entries.
mod bytecode_cache;
/// pip and uv, Python 2.7 and 3.6 agents, index and CA handling.
mod installer;
/// A whole build: the agent extracts and runs, rebuilds are byte-identical.
mod pipeline;
/// The agent runs from any directory; `relocatable: false`.
mod relocate;
