//! SIGINT, SIGTERM and SIGHUP (the terminal or ssh session closed) during a
//! run: instead of dying with half-built state
//! behind, the run notices ([`check`]), stops the program it is waiting for
//! (pip, uv), and returns an error; the guards then remove what this run
//! created (the venv unless `keep_venv`, the manager work directory, partial
//! outputs) and the process exits 130 (SIGINT), 143 (SIGTERM) or 129 (SIGHUP).

use crate::error::{Error, Result};
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

static RECEIVED: OnceLock<Arc<AtomicUsize>> = OnceLock::new();

const SIGINT: i32 = signal_hook::consts::SIGINT;
const SIGTERM: i32 = signal_hook::consts::SIGTERM;
const SIGHUP: i32 = signal_hook::consts::SIGHUP;

/// Catch SIGINT, SIGTERM and SIGHUP from now on (once per process; later calls do nothing).
pub(crate) fn install() -> Result<()> {
    if RECEIVED.get().is_some() {
        return Ok(());
    }
    let flag = Arc::new(AtomicUsize::new(0));
    for sig in [SIGINT, SIGTERM, SIGHUP] {
        signal_hook::flag::register_usize(sig, Arc::clone(&flag), sig as usize)
            .map_err(|e| Error::build(format!("cannot handle signal {sig}: {e}")))?;
    }
    let _ = RECEIVED.set(flag);
    Ok(())
}

/// The signal received, if any.
pub(crate) fn pending() -> Option<i32> {
    let sig = RECEIVED.get()?.load(Ordering::SeqCst);
    (sig != 0).then_some(sig as i32)
}

/// Err when a signal was received: the caller stops and cleans up.
pub(crate) fn check() -> Result<()> {
    match pending() {
        Some(sig) => Err(interrupted(sig)),
        None => Ok(()),
    }
}

/// The error a run stopped by `sig` ends with (exit 128 + sig).
pub(crate) fn interrupted(sig: i32) -> Error {
    let name = match sig {
        SIGINT => "SIGINT",
        SIGTERM => "SIGTERM",
        SIGHUP => "SIGHUP",
        _ => "a signal",
    };
    Error::new(
        crate::error::Kind::Interrupted(sig as u8),
        format!("interrupted by {name}: stopped and removed what this run created"),
    )
}
