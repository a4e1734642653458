//! Progress reporting on stderr.
//!
//! * Not a terminal (logs, CI): one line per step with its duration, `==> what (1.23s)`.
//! * A terminal: the same lines, and while a step runs a spinner with its elapsed
//!   time (a bar with bytes done for compression). Colour unless `NO_COLOR` is set.
//!   `CFY_AP_PROGRESS=plain` forces the plain lines; `TERM=dumb` gets them too.
//! * `-v`: the commands run and their output (plain lines: tool output would break
//!   a spinner). `-q`: errors only.
//! * Without a spinner (logs, CI, `-v`), a step that runs long says so every 10 s,
//!   `... still installing … (20 s)`; `CFY_AP_HEARTBEAT=SECONDS` sets the interval
//!   (`0`: never).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::{IsTerminal, Read, Write};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// Where progress goes: step lines on stderr, more with `verbose`, none with `quiet`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Log {
    /// `-v`: commands, their output, more detail.
    pub verbose: bool,
    /// `-q`: errors only.
    pub quiet: bool,
}

/// The spinner or bar of the step running now (at most one: nested steps print
/// their line only).
static ACTIVE: Mutex<Option<ProgressBar>> = Mutex::new(None);
/// Fast path for [`advance`]: true while a byte bar is shown.
static COUNTING: AtomicBool = AtomicBool::new(false);

/// Whether stderr is an interactive terminal that can take a spinner.
pub(crate) fn stderr_is_live_terminal() -> bool {
    if std::env::var("CFY_AP_PROGRESS").is_ok_and(|v| v == "plain") {
        return false;
    }
    if std::env::var("TERM").is_ok_and(|t| t == "dumb") {
        return false;
    }
    std::io::stderr().is_terminal()
}

/// `NO_COLOR` (any non-empty value) turns colour off: <https://no-color.org>.
pub(crate) fn color_enabled() -> bool {
    std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
}

/// `error: `, in red on a terminal unless `NO_COLOR` is set.
pub(crate) fn error_prefix() -> &'static str {
    if stderr_is_live_terminal() && color_enabled() {
        "\x1b[1;31merror:\x1b[0m "
    } else {
        "error: "
    }
}

fn with_active<R>(f: impl FnOnce(Option<&ProgressBar>) -> R) -> R {
    let guard = ACTIVE.lock().unwrap_or_else(|e| e.into_inner());
    f(guard.as_ref())
}

/// Print a line to stderr without tearing the spinner. A stderr that cannot
/// be written (closed, full) loses the line; it never stops the run.
fn line(msg: &str) {
    let put = || {
        let _ = writeln!(std::io::stderr(), "{msg}");
    };
    with_active(|bar| match bar {
        Some(bar) => bar.suspend(put),
        None => put(),
    })
}

/// Count `n` bytes done in the running byte bar, if any.
pub(crate) fn advance(n: u64) {
    if COUNTING.load(Ordering::Relaxed) {
        with_active(|bar| {
            if let Some(bar) = bar {
                bar.inc(n)
            }
        });
    }
}

/// A reader that counts what it reads into the running byte bar.
pub(crate) struct Counted<R>(pub R);

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.0.read(buf)?;
        advance(n as u64);
        Ok(n)
    }
}

/// Total size of the regular files under `dir` (for a byte bar).
pub(crate) fn tree_bytes(dir: &std::path::Path) -> u64 {
    walkdir::WalkDir::new(dir)
        .follow_links(false)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .filter_map(|e| e.metadata().ok())
        .map(|m| m.len())
        .sum()
}

/// `created virtualenv X` → `creating virtualenv X`: what a step is doing while
/// it runs (the spinner, the heartbeat).
fn ongoing(what: &str) -> String {
    const VERBS: [(&str, &str); 21] = [
        ("added", "adding"),
        ("built", "building"),
        ("checked", "checking"),
        ("compiled", "compiling"),
        ("copied", "copying"),
        ("created", "creating"),
        ("downloaded", "downloading"),
        ("extracted", "extracting"),
        ("fetched", "fetching"),
        ("generated", "generating"),
        ("installed", "installing"),
        ("made", "making"),
        ("packaged", "packaging"),
        ("published", "publishing"),
        ("read", "reading"),
        ("removed", "removing"),
        ("signed", "signing"),
        ("updated", "updating"),
        ("validated", "validating"),
        ("verified", "verifying"),
        ("wrote", "writing"),
    ];
    let (first, rest) = what.split_once(' ').unwrap_or((what, ""));
    match VERBS.iter().find(|(done, _)| *done == first) {
        Some((_, doing)) if rest.is_empty() => doing.to_string(),
        Some((_, doing)) => format!("{doing} {rest}"),
        None => what.to_string(),
    }
}

/// Between two heartbeat lines: `CFY_AP_HEARTBEAT` seconds (`0`: none), else 10.
fn heartbeat_interval() -> Option<Duration> {
    let secs = std::env::var("CFY_AP_HEARTBEAT")
        .ok()
        .and_then(|v| v.trim().parse::<f64>().ok())
        .filter(|s| s.is_finite() && *s >= 0.0)
        .unwrap_or(10.0);
    (secs > 0.0).then(|| Duration::from_secs_f64(secs))
}

/// True while a heartbeat runs (at most one: nested steps have none).
static BEATING: AtomicBool = AtomicBool::new(false);

/// The heartbeat of a step shown without a spinner: every interval a line
/// `... still <doing> (N s)`, so a log shows the run is alive. Stops when dropped.
struct Heartbeat {
    stop: std::sync::mpsc::Sender<()>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Heartbeat {
    fn start(what: &str, start: Instant) -> Option<Heartbeat> {
        let every = heartbeat_interval()?;
        if BEATING.swap(true, Ordering::SeqCst) {
            return None;
        }
        let doing = ongoing(what);
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(every)
            {
                line(&format!(
                    "... still {doing} ({} s)",
                    start.elapsed().as_secs()
                ));
            }
        });
        Some(Heartbeat {
            stop,
            thread: Some(thread),
        })
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        BEATING.store(false, Ordering::SeqCst);
    }
}

enum Kind {
    Spinner,
    Bytes(u64),
}

impl Log {
    /// A log with these settings.
    pub fn new(verbose: bool, quiet: bool) -> Log {
        Log { verbose, quiet }
    }

    /// Spinners and bars are shown: a terminal, not quiet, not verbose.
    pub fn live(&self) -> bool {
        !self.quiet && !self.verbose && stderr_is_live_terminal()
    }

    fn colored(&self) -> bool {
        self.live() && color_enabled()
    }

    /// A normal progress line.
    pub fn info(&self, msg: &str) {
        if !self.quiet {
            line(msg);
        }
    }

    /// Only at `-v`.
    pub fn detail(&self, msg: &str) {
        if self.verbose && !self.quiet {
            line(&format!("    {msg}"));
        }
    }

    /// A warning line (not with `quiet`).
    pub fn warn(&self, msg: &str) {
        if !self.quiet {
            if self.colored() {
                line(&format!("\x1b[1;33mwarning:\x1b[0m {msg}"));
            } else {
                line(&format!("warning: {msg}"));
            }
        }
    }

    /// Run one step; print `==> what (1.23s)` when it succeeds.
    pub fn step<T, E>(&self, what: &str, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
        self.run_step(what, None, Kind::Spinner, f)
    }

    /// A step that is item `i` (from 1) of `n`: the spinner shows `[i/n]`; the line
    /// printed afterwards is the same as [`Log::step`]'s.
    pub fn step_of<T, E>(
        &self,
        i: usize,
        n: usize,
        what: &str,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        self.run_step(what, Some((i, n)), Kind::Spinner, f)
    }

    /// A step that reads about `total()` bytes through `Counted`: on a terminal,
    /// a bar with bytes done and throughput. `total` is only computed then.
    pub fn step_bytes<T, E>(
        &self,
        what: &str,
        total: impl FnOnce() -> u64,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        let kind = if self.live() {
            Kind::Bytes(total())
        } else {
            Kind::Spinner
        };
        self.run_step(what, None, kind, f)
    }

    fn run_step<T, E>(
        &self,
        what: &str,
        count: Option<(usize, usize)>,
        kind: Kind,
        f: impl FnOnce() -> Result<T, E>,
    ) -> Result<T, E> {
        if self.verbose && !self.quiet {
            let _ = writeln!(std::io::stderr(), "--> {} ...", ongoing(what));
        }
        let start = Instant::now();
        let shown = self.live() && with_active(|b| b.is_none());
        if shown {
            let bar = self.bar(what, count, &kind);
            if matches!(kind, Kind::Bytes(_)) {
                COUNTING.store(true, Ordering::Relaxed);
            }
            *ACTIVE.lock().unwrap_or_else(|e| e.into_inner()) = Some(bar);
        }
        let beat = (!self.quiet && !self.live())
            .then(|| Heartbeat::start(what, start))
            .flatten();
        let out = f();
        drop(beat);
        if shown {
            COUNTING.store(false, Ordering::Relaxed);
            if let Some(bar) = ACTIVE.lock().unwrap_or_else(|e| e.into_inner()).take() {
                bar.finish_and_clear();
            }
        }
        if out.is_ok() {
            self.done(what, start);
        }
        out
    }

    /// The line of a step that ran since `start` without a spinner, for steps whose
    /// description is only known at their end: `==> what (1.23s)`.
    pub fn done(&self, what: &str, start: Instant) {
        let secs = start.elapsed().as_secs_f64();
        if self.colored() {
            self.info(&format!(
                "\x1b[1;32m==>\x1b[0m {what} \x1b[2m({secs:.2}s)\x1b[0m"
            ));
        } else {
            self.info(&format!("==> {what} ({secs:.2}s)"));
        }
    }

    fn bar(&self, what: &str, count: Option<(usize, usize)>, kind: &Kind) -> ProgressBar {
        let color = self.colored();
        let prefix = count
            .map(|(i, n)| format!("[{i}/{n}] "))
            .unwrap_or_default();
        let (len, template) = match kind {
            // `wide_msg` last: cut to the terminal's width, so the line never wraps.
            Kind::Spinner if color => (None, "{spinner:.cyan} {elapsed:>4.dim} {prefix}{wide_msg}"),
            Kind::Spinner => (None, "{spinner} {elapsed:>4} {prefix}{wide_msg}"),
            Kind::Bytes(total) if color => (
                Some(*total),
                "{spinner:.cyan} {elapsed:>4.dim} [{bar:20.cyan/blue}] {bytes:>10}/{total_bytes} {wide_msg}",
            ),
            Kind::Bytes(total) => (
                Some(*total),
                "{spinner} {elapsed:>4} [{bar:20}] {bytes:>10}/{total_bytes} {wide_msg}",
            ),
        };
        let style = ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_spinner())
            .progress_chars("=> ");
        let bar = ProgressBar::with_draw_target(len, ProgressDrawTarget::stderr_with_hz(10))
            .with_style(style)
            .with_prefix(prefix)
            .with_message(format!("{}…", ongoing(what)));
        bar.enable_steady_tick(Duration::from_millis(100));
        bar
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ongoing_forms() {
        assert_eq!(
            ongoing("created virtualenv /x (python 3.11)"),
            "creating virtualenv /x (python 3.11)"
        );
        assert_eq!(ongoing("wrote a.tar.gz"), "writing a.tar.gz");
        assert_eq!(ongoing("compiled"), "compiling");
        assert_eq!(ongoing("something else"), "something else");
    }

    #[test]
    fn steps_off_a_terminal_are_plain_and_nest() {
        // cargo test's stderr is captured (not a terminal): no bar is ever made.
        let log = Log::new(false, true);
        let r: Result<u32, ()> = log.step("outer", || log.step("inner", || Ok(7)));
        assert_eq!(r, Ok(7));
        assert!(with_active(|b| b.is_none()));
        let mut data: &[u8] = b"abc";
        let mut out = Vec::new();
        std::io::copy(&mut Counted(&mut data), &mut out).unwrap();
        assert_eq!(out, b"abc");
    }
}
