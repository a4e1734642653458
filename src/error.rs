//! One error type for the whole tool. Every error carries the exit code class the
//! CLI reports (see README, "Exit codes"), a one-line message, optional context
//! lines (what was being done, how to fix it) and, where one was behind it, the
//! underlying error ([`std::error::Error::source`]; `-v` prints the chain).

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
    /// The process exit code of this kind.
    pub fn exit_code(self) -> i32 {
        match self {
            Kind::Build => 1,
            Kind::Config => 2,
            Kind::Exists => 3,
            Kind::Interrupted(sig) => 128 + i32::from(sig),
        }
    }
}

/// An error: what failed, why, and what to do.
#[derive(Debug)]
pub struct Error {
    /// Which exit code it means.
    pub kind: Kind,
    /// The one-line message.
    pub message: String,
    /// Extra lines printed under the message (context, captured tool output, hints).
    pub details: Vec<String>,
    /// The error behind this one (an I/O error, a parser's), kept whole.
    pub cause: Option<Box<dyn std::error::Error + Send + Sync + 'static>>,
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind` with `message`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            details: Vec::new(),
            cause: None,
        }
    }
    /// A build failure (exit 1).
    pub fn build(message: impl Into<String>) -> Self {
        Self::new(Kind::Build, message)
    }
    /// A usage or config error (exit 2).
    pub fn config(message: impl Into<String>) -> Self {
        Self::new(Kind::Config, message)
    }
    /// A refusal to overwrite (exit 3).
    pub fn exists(message: impl Into<String>) -> Self {
        Self::new(Kind::Exists, message)
    }
    /// An I/O failure on `path` while doing `what` (e.g. "writing", "reading").
    pub fn io(what: &str, path: &Path, err: io::Error) -> Self {
        Self::build(format!("{what} {}: {}", path.display(), io_cause(&err))).caused_by(err)
    }
    /// Keep `cause` as the error behind this one (its text is usually in the
    /// message already; `-v` shows it whole, e.g. an OS error's code).
    pub fn caused_by(mut self, cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        self.cause = Some(cause.into());
        self
    }
    /// The chain of causes behind this error, nearest first, one line each:
    /// what `-v` prints under the message.
    pub fn causes(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut next = std::error::Error::source(self);
        while let Some(e) = next {
            out.push(format!("{e} ({e:?})"));
            next = e.source();
        }
        out
    }
    /// Add a context or hint line.
    pub fn with(mut self, line: impl Into<String>) -> Self {
        self.details.push(line.into());
        self
    }
    /// The process exit code of this error.
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

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.cause
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// What an I/O error says, without the name of the temporary file it was about
/// (`tempfile` wraps the OS error and appends ` at path "DIR/.NAME.XXXXXX"`):
/// that name is internal, and the message names the directory.
pub(crate) fn io_cause(err: &io::Error) -> String {
    let text = err.to_string();
    match text.rfind(" at path \"") {
        Some(at) if err.get_ref().is_some() && text.ends_with('"') => text[..at].to_string(),
        _ => text,
    }
}

/// Attach a path to an I/O result.
pub(crate) trait IoContext<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T>;
}

impl<T> IoContext<T> for io::Result<T> {
    fn ctx(self, what: &str, path: &Path) -> Result<T> {
        self.map_err(|e| Error::io(what, path, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_its_cause() {
        let gone = io::Error::from_raw_os_error(2);
        let e = Error::io("reading", Path::new("/x"), gone).with("hint");
        assert_eq!(
            e.to_string(),
            "reading /x: No such file or directory (os error 2)\n  hint"
        );
        let causes = e.causes();
        assert_eq!(causes.len(), 1);
        assert!(
            causes[0].contains("code: 2") && causes[0].contains("NotFound"),
            "{causes:?}"
        );
        // Nested: an Error caused by an Error caused by an io::Error.
        let outer = Error::config("bad").caused_by(e);
        assert_eq!(outer.causes().len(), 2);
        assert!(Error::build("plain").causes().is_empty());
    }
}
