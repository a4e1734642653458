//! Running external programs (python, pip): commands are echoed at `-v` with
//! credentials redacted; output streams to stderr at `-v`, line by line and
//! redacted too (pip and uv print index and download URLs as given), otherwise
//! it is captured and its tail is shown when the command fails.

use super::sandbox::Sandbox;
use crate::error::Error;
use crate::log::Log;
use crate::util::redact::redact;
use crate::util::signals;
use std::ffi::{OsStr, OsString};
use std::io::{BufRead, Read, Seek, SeekFrom, Write};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};

pub(super) struct Run {
    program: OsString,
    args: Vec<OsString>,
    /// How each argument is shown (a script passed with `-c` as `<probe>`).
    shown: Vec<Option<String>>,
    /// Return stdout (kept out of the log) instead of streaming it.
    capture_stdout: bool,
    /// Set for this program only (shown before it at `-v`).
    envs: Vec<(String, OsString)>,
}

impl Run {
    pub(super) fn new(program: impl AsRef<OsStr>) -> Run {
        Run {
            program: program.as_ref().to_os_string(),
            args: Vec::new(),
            shown: Vec::new(),
            capture_stdout: true,
            envs: Vec::new(),
        }
    }
    /// Set the environment variable `key` for this program only.
    pub(super) fn env(mut self, key: &str, value: impl AsRef<OsStr>) -> Run {
        self.envs
            .push((key.to_string(), value.as_ref().to_os_string()));
        self
    }
    pub(super) fn arg(mut self, a: impl AsRef<OsStr>) -> Run {
        self.args.push(a.as_ref().to_os_string());
        self.shown.push(None);
        self
    }
    pub(super) fn args<I: IntoIterator<Item = S>, S: AsRef<OsStr>>(mut self, it: I) -> Run {
        for a in it {
            self = self.arg(a);
        }
        self
    }
    /// An argument shown in messages as `shown` (a whole script is noise).
    pub(super) fn arg_shown_as(mut self, a: impl AsRef<OsStr>, shown: &str) -> Run {
        self = self.arg(a);
        *self.shown.last_mut().expect("just pushed") = Some(shown.to_string());
        self
    }
    /// Treat stdout as progress output (pip), not as a result.
    pub(super) fn stream(mut self) -> Run {
        self.capture_stdout = false;
        self
    }
    pub(super) fn display(&self) -> String {
        let mut s = String::new();
        for (k, v) in &self.envs {
            s.push_str(&format!("{k}={} ", v.to_string_lossy()));
        }
        s.push_str(&self.program.to_string_lossy());
        for (a, shown) in self.args.iter().zip(&self.shown) {
            s.push(' ');
            match shown {
                Some(label) => s.push_str(label),
                None => s.push_str(&a.to_string_lossy()),
            }
        }
        redact(&s)
    }
}

/// How many lines of a failed command's output to show.
const TAIL_LINES: usize = 25;
/// The hint of a program that could not be started.
const NOT_STARTED: &str = "check that the program exists and is executable";

/// The last line a failed program printed, if it ran and printed any (its
/// output's tail is the error's details, see [`run`]).
pub(super) fn last_words(e: &Error) -> Option<&str> {
    e.details
        .last()
        .map(String::as_str)
        .filter(|l| *l != NOT_STARTED)
}

/// Run to completion. Ok(stdout) on exit 0; Err with the output's tail otherwise.
pub(super) fn run(cmd: Run, sandbox: &Sandbox, log: &Log) -> Result<String, Error> {
    log.detail(&format!("$ {}", cmd.display()));
    // In a `--root` build the command runs inside the root (sandbox.rs).
    let (program, args) = sandbox.wrap(&cmd.program, &cmd.args);
    let mut command = Command::new(&program);
    command
        .args(&args)
        .stdin(Stdio::null())
        .env("PIP_DISABLE_PIP_VERSION_CHECK", "1")
        .env("PIP_NO_INPUT", "1")
        // Fixed str hashing: set constants in .pyc files (Python < 3.11 at least)
        // are written in hash order, so a random seed makes rebuilds differ.
        .env("PYTHONHASHSEED", "0")
        .envs(cmd.envs.iter().map(|(k, v)| (k, v)));
    // The log file collects what is not captured as a result (stderr, pip output).
    let mut logfile = tempfile::tempfile().map_err(|e| {
        Error::build(format!(
            "cannot create a temporary file for the output of {}: {e}",
            cmd.program.to_string_lossy()
        ))
        .with("make the temporary directory ($TMPDIR, else /tmp) writable and not full")
    })?;
    let streaming = log.verbose && !log.quiet;
    let err_target = if streaming {
        Stdio::piped()
    } else {
        Stdio::from(
            logfile
                .try_clone()
                .map_err(|e| Error::build(format!("duplicating a temporary file handle: {e}")))?,
        )
    };
    command.stderr(err_target);
    if cmd.capture_stdout || streaming {
        // Streamed progress output goes to our stderr (see `relay`), keeping
        // stdout for results only.
        command.stdout(Stdio::piped());
    } else {
        command.stdout(Stdio::from(logfile.try_clone().map_err(|e| {
            Error::build(format!("duplicating a temporary file handle: {e}"))
        })?));
    }
    // Its own process group: on SIGINT/SIGTERM the whole tree (pip and its build
    // backends) is stopped by us, then the run cleans up (`util::signals`).
    command.process_group(0);
    let mut child = command.spawn().map_err(|e| {
        Error::build(format!("cannot run {}: {e}", cmd.program.to_string_lossy())).with(NOT_STARTED)
    })?;
    // Relayed output is kept in the log file too: a failure's tail is its
    // details (and tells `install::blame` why) at -v as well.
    let copy = || logfile.try_clone().ok();
    let mut relays: Vec<_> = child
        .stderr
        .take()
        .map(|e| relay(e, copy()))
        .into_iter()
        .collect();
    let reader = match child.stdout.take() {
        Some(mut out) if cmd.capture_stdout => Some(std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = out.read_to_end(&mut bytes);
            bytes
        })),
        Some(out) => {
            relays.push(relay(out, copy()));
            None
        }
        None => None,
    };
    let status = wait(&mut child).map_err(|e| match e.kind {
        crate::error::Kind::Build => {
            Error::build(format!("waiting for {}: {}", cmd.display(), e.message))
        }
        _ => e,
    })?;
    let stdout_bytes = reader
        .map(|r| r.join().unwrap_or_default())
        .unwrap_or_default();
    for r in relays {
        let _ = r.join();
    }
    let output = std::process::Output {
        status,
        stdout: stdout_bytes,
        stderr: Vec::new(),
    };
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    if output.status.success() {
        return Ok(stdout);
    }
    let mut text = String::new();
    let _ = logfile.seek(SeekFrom::Start(0));
    let _ = logfile.read_to_string(&mut text);
    text.push_str(&stdout);
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(TAIL_LINES)..];
    let status = match output.status.code() {
        Some(c) => format!("exit code {c}"),
        None => "killed by a signal".to_string(),
    };
    let mut err = Error::build(format!("`{}` failed ({status})", cmd.display()));
    for l in tail {
        err = err.with(redact(l));
    }
    Err(err)
}

/// Copy a program's output to our stderr line by line, each line redacted as
/// our own are: pip and uv print index and download URLs as given
/// (`Looking in indexes: …`, `Downloading …?token=…`). Each line also goes to
/// `keep` as it came (one write per line: the two relays share the file).
fn relay(
    from: impl Read + Send + 'static,
    mut keep: Option<std::fs::File>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let mut from = std::io::BufReader::new(from);
        let mut line = Vec::new();
        while matches!(from.read_until(b'\n', &mut line), Ok(n) if n > 0) {
            let text = String::from_utf8_lossy(&line);
            let shown = redact(text.trim_end_matches(['\n', '\r']));
            let _ = writeln!(std::io::stderr().lock(), "{shown}");
            if let Some(f) = keep.as_mut() {
                if !line.ends_with(b"\n") {
                    line.push(b'\n');
                }
                let _ = f.write_all(&line);
            }
            line.clear();
        }
    })
}

/// Wait for a child spawned in its own process group, polling for signals:
/// on SIGINT/SIGTERM/SIGHUP its group is stopped and the run's error returned.
pub(super) fn wait(child: &mut Child) -> Result<std::process::ExitStatus, Error> {
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(status),
            Ok(None) => {}
            Err(e) => return Err(Error::build(e.to_string())),
        }
        if signals::pending().is_some() {
            stop(child);
            signals::check()?;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// Stop a child's whole process group: SIGTERM, then SIGKILL if it lingers.
fn stop(child: &mut Child) {
    use rustix::process::{Pid, Signal, kill_process_group};
    let Some(pid) = Pid::from_raw(child.id() as i32) else {
        return;
    };
    let _ = kill_process_group(pid, Signal::TERM);
    for _ in 0..100 {
        if matches!(child.try_wait(), Ok(Some(_))) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = kill_process_group(pid, Signal::KILL);
    let _ = child.wait();
}
