//! One error type for the whole tool. Every error carries the exit code class the
//! CLI reports (see README, "Exit codes"), a one-line message and optional context
//! lines (what was being done, how to fix it).

use std::fmt;
use std::io;
use std::path::Path;

/// What kind of failure this is; decides the process exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The build itself failed: python, venv, pip, download, I/O. Exit 1.
    Build,
    /// Bad command line or bad configuration. Exit 2.
    Config,
    /// Refused: the venv or an output already exists and `--force` was not given. Exit 3.
    Exists,
    /// Stopped by this signal (SIGINT, SIGTERM, SIGHUP) after cleaning up. Exit 128 + signal.
    Interrupted(u8),
}

impl Kind {
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Build => 1,
            Kind::Config => 2,
            Kind::Exists => 3,
            Kind::Interrupted(sig) => 128 + i32::from(sig),
        }
    }
}

#[derive(Debug)]
pub struct Error {
    pub kind: Kind,
    pub message: String,
    /// Extra lines printed under the message (context, captured tool output, hints).
    pub details: Vec<String>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            details: Vec::new(),
        }
    }
    pub fn build(message: impl Into<String>) -> Self {
        Self::new(Kind::Build, message)
    }
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    pub fn exists(message: impl Into<String>) -> Self {
        Self::new(Kind::Exists, message)
    }
    /// An I/O failure on `path` while doing `what` (e.g. "writing", "reading").
    pub fn io(what: &str, path: &Path, err: io::Error) -> Self {
        Self::build(format!("{what} {}: {}", path.display(), io_cause(&err)))
    }
    /// Add a context or hint line.
    pub fn with(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }
    pub fn exit_code(&self) -> i32 {
        self.kind.exit_code()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.message)?;
        for line in &self.details {
            write!(f, "\n  {line}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

/// What an I/O error says, without the name of the temporary file it was about
/// (`tempfile` wraps the OS error and appends ` at path "DIR/.NAME.XXXXXX"`):
/// that name is internal, and the message names the directory.
pub fn io_cause(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at path \"") {
        Some(at) if err.get_ref().is_some() && text.ends_with('"') => text[..at].to_string(),
        _ => text,
    }
}

/// Attach a path to an I/O result.
pub trait IoContext<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(what, path, e))
    }
}
