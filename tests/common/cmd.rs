//! [`Cmd`]: the one way the integration tests run a program, cfy-ap or a system
//! tool. A builder over [`std::process::Command`] that remembers the command line
//! and directory, so a failure says what ran, where, how it ended and what it
//! printed; with an optional time limit (a hang is a failure, not a stuck suite)
//! and, for cfy-ap, private caches removed after the run.
//!
//! ```ignore
//! let out = Cmd::cfy_ap().current_dir(dir).args(["-c", "c.yaml"]).run();
//! let listing = Cmd::new("dpkg-deb").arg("-c").arg(&deb).stdout();
//! ```

use super::text;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Cmd {
    command: Command,
    /// The program and its arguments as given, for messages.
    line: Vec<String>,
    dir: Option<PathBuf>,
    limit: Option<Duration>,
    /// A cfy-ap run's private caches, removed when the run is over.
    caches: Option<tempfile::TempDir>,
}

impl Cmd {
    /// `program` (a name looked up on PATH, or a path), with the test's environment.
    pub fn new(program: impl AsRef<OsStr>) -> Cmd {
        let program = program.as_ref();
        Cmd {
            command: Command::new(program),
            line: vec![program.to_string_lossy().into_owned()],
            dir: None,
            limit: None,
            caches: None,
        }
    }

    /// The `cfy-ap` binary of this build, in a hermetic environment: no
    /// SOURCE_DATE_EPOCH inherited, and private pip, uv, XDG cache and XDG data
    /// directories, removed after the run. pip's shared cache is not safe for
    /// the parallel builds the test harness runs (a half-written entry breaks
    /// another build), the bytecode cache lives under XDG_CACHE_HOME (tests that
    /// look at it set their own), and virtualenv keeps its app data (seed
    /// wheels, interpreter info) under XDG_DATA_HOME. Later `env` calls override
    /// any of these.
    pub fn cfy_ap() -> Cmd {
        let caches = tempfile::tempdir().expect("a temporary directory for cfy-ap's caches");
        let c = caches.path();
        let mut cmd = Cmd::new(super::bin())
            .env_remove("SOURCE_DATE_EPOCH")
            .env("PIP_CACHE_DIR", c)
            .env("UV_CACHE_DIR", c.join("uv"))
            .env("XDG_CACHE_HOME", c.join("xdg"))
            .env("XDG_DATA_HOME", c.join("xdg-data"));
        cmd.line[0] = "cfy-ap".to_string();
        cmd.caches = Some(caches);
        cmd
    }

    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cmd {
        let arg = arg.as_ref();
        self.line.push(arg.to_string_lossy().into_owned());
        self.command.arg(arg);
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        for a in args {
            self = self.arg(a);
        }
        self
    }

    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cmd {
        self.command.env(key, value);
        self
    }

    /// Each `(key, value)` of `vars`, in order.
    pub fn envs<K: AsRef<OsStr>, V: AsRef<OsStr>>(mut self, vars: &[(K, V)]) -> Cmd {
        for (k, v) in vars {
            self.command.env(k, v);
        }
        self
    }

    pub fn env_remove(mut self, key: impl AsRef<OsStr>) -> Cmd {
        self.command.env_remove(key);
        self
    }

    /// Removes each of `keys` from the environment.
    pub fn envs_remove<K: AsRef<OsStr>>(mut self, keys: &[K]) -> Cmd {
        for k in keys {
            self.command.env_remove(k);
        }
        self
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Cmd {
        self.dir = Some(dir.as_ref().to_path_buf());
        self.command.current_dir(dir);
        self
    }

    /// Kills the program and fails the test when it runs longer than `limit`.
    pub fn within(mut self, limit: Duration) -> Cmd {
        self.limit = Some(limit);
        self
    }

    /// The command line and directory, for messages: `` `cfy-ap -c c.yaml` in /tmp/x ``.
    pub fn describe(&self) -> String {
        let mut s = format!("`{}`", self.line.join(" "));
        if let Some(d) = &self.dir {
            s += &format!(" in {}", d.display());
        }
        s
    }

    /// Runs it to the end (or its time limit) and returns what it printed and
    /// how it ended, success or not. Panics only when it cannot start or hangs.
    #[track_caller]
    pub fn output(mut self) -> Output {
        let what = self.describe();
        let Some(limit) = self.limit else {
            return self
                .command
                .output()
                .unwrap_or_else(|e| panic!("cannot run {what} (is it installed?): {e}"));
        };
        let mut child = self
            .command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {what} (is it installed?): {e}"));
        let start = Instant::now();
        while child.try_wait().expect("waiting for a child").is_none() {
            if start.elapsed() > limit {
                child.kill().expect("killing a child that hung");
                let o = child.wait_with_output().expect("reading a killed child");
                panic!("{what} hung for {limit:?} and was killed\n{}", text(&o));
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        child.wait_with_output().expect("reading a child's output")
    }

    /// Runs it and panics, with the command line, directory, exit status and
    /// output, unless it exits 0. Returns its output.
    #[track_caller]
    pub fn run(self) -> Output {
        let what = self.describe();
        let o = self.output();
        assert!(o.status.success(), "{what} failed\n{}", text(&o));
        o
    }

    /// [`Cmd::run`], returning standard output as text.
    #[track_caller]
    pub fn stdout(self) -> String {
        String::from_utf8_lossy(&self.run().stdout).into_owned()
    }
}
