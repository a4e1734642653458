//! Progress reporting on stderr: one line per step with its duration; `-v` adds the
//! commands run and their output; quiet mode prints errors only.

use std::time::Instant;

#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    pub verbose: bool,
    pub quiet: bool,
}

impl Log {
    pub fn new(verbose: bool, quiet: bool) -> Log {
        Log { verbose, quiet }
    }

    /// A normal progress line.
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            eprintln!("{msg}");
        }
    }

    /// Only at `-v`.
    pub fn detail(&self, msg: &str) {
        if self.verbose && !self.quiet {
            eprintln!("    {msg}");
        }
    }

    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }

    /// Run one step; print `==> what (1.23s)` when it succeeds.
    pub fn step<T, E>(&self, what: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        if self.verbose && !self.quiet {
            eprintln!("--> {what} ...");
        }
        let start = Instant::now();
        let out = f();
        if out.is_ok() {
            self.info(&format!(
                "==> {what} ({:.2}s)",
                start.elapsed().as_secs_f64()
            ));
        }
        out
    }
}
