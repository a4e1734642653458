//! The CA bundle the installers trust, from the host's environment: `PIP_CERT`
//! (pip's `--cert`), `REQUESTS_CA_BUNDLE` and `CURL_CA_BUNDLE` (read by the
//! requests library inside pip), `SSL_CERT_FILE` (OpenSSL's; read by uv, and
//! by pip only where it uses the system trust store). Behind a TLS-intercepting
//! proxy or with a private index one of them names the CA to trust.
//!
//! Each file is checked before any work (missing or unreadable: exit 2), each
//! installer is given the variable it reads when the user set only another
//! one, and a `--root` build shows the files read-only at the same path inside
//! the root (`root_ca.rs`), where the variables, inherited, still name them.
//! Without any of them nothing is added: the installer trusts what it trusts on
//! that system (in a root: the root's own bundle).

use crate::error::{Error, Result};
use crate::util::paths::normalize;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The variables that name a CA bundle, in the order they are shown.
pub(crate) const VARS: [&str; 4] = [
    "PIP_CERT",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
];

/// The CA bundle variables set on the host.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Trust {
    /// (variable, its value as set, the file as an absolute path), in [`VARS`]
    /// order; unset and empty variables are left out.
    pub set: Vec<(&'static str, OsString, PathBuf)>,
}

impl Trust {
    /// From this process's environment; relative paths are taken from `cwd`.
    pub fn from_env(cwd: &Path) -> Result<Trust> {
        Trust::from_vars(|k| std::env::var_os(k), cwd)
    }

    /// From the variables `get` returns. A variable naming a path that cannot
    /// be read is a config error (exit 2): pip would fail on it only at its
    /// first HTTPS request, after the virtualenv is made.
    pub fn from_vars(get: impl Fn(&str) -> Option<OsString>, cwd: &Path) -> Result<Trust> {
        let mut set = Vec::new();
        for var in VARS {
            let Some(value) = get(var).filter(|v| !v.is_empty()) else {
                continue;
            };
            let path = normalize(&cwd.join(&value));
            if let Err(e) = readable(&path) {
                return Err(Error::config(format!(
                    "{var}={} names a CA bundle that cannot be read: {e}",
                    Path::new(&value).display()
                ))
                .with(format!(
                    "point {var} at the PEM file of the CA certificates to trust, or unset it"
                )));
            }
            set.push((var, value, path));
        }
        Ok(Trust { set })
    }

    /// The files named, each once, in [`VARS`] order.
    pub fn files(&self) -> Vec<PathBuf> {
        let mut out: Vec<PathBuf> = Vec::new();
        for (_, _, p) in &self.set {
            if !out.contains(p) {
                out.push(p.clone());
            }
        }
        out
    }

    fn value(&self, var: &str) -> Option<&OsString> {
        self.set.iter().find(|(v, ..)| *v == var).map(|(_, x, _)| x)
    }

    /// What pip must be given besides the environment: `PIP_CERT` when only
    /// `SSL_CERT_FILE` is set (pip's own bundle, certifi, ignores it).
    pub fn pip_env(&self) -> Option<(&'static str, OsString)> {
        let reads = ["PIP_CERT", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"];
        if reads.iter().any(|v| self.value(v).is_some()) {
            return None;
        }
        self.value("SSL_CERT_FILE").map(|v| ("PIP_CERT", v.clone()))
    }

    /// What uv must be given besides the environment: `SSL_CERT_FILE` (the one
    /// uv reads) when only pip's or requests' variables are set.
    pub fn uv_env(&self) -> Option<(&'static str, OsString)> {
        if self.value("SSL_CERT_FILE").is_some() {
            return None;
        }
        self.set
            .first()
            .map(|(_, v, _)| ("SSL_CERT_FILE", v.clone()))
    }

    /// For `--dry-run`: one line per file, with the variables naming it and
    /// `note(file)` (how a root shows it), if any.
    pub fn describe(&self, in_root: bool, note: impl Fn(&Path) -> Option<String>) -> Vec<String> {
        if self.set.is_empty() {
            let whose = if in_root {
                "the root's own"
            } else {
                "the installer's default"
            };
            return vec![format!("{whose} (none of {} is set)", VARS.join(", "))];
        }
        self.files()
            .iter()
            .map(|f| {
                let vars: Vec<&str> = self
                    .set
                    .iter()
                    .filter(|(_, _, p)| p == f)
                    .map(|(v, ..)| *v)
                    .collect();
                match note(f) {
                    Some(n) => format!("{} ({}; {n})", f.display(), vars.join(", ")),
                    None => format!("{} ({})", f.display(), vars.join(", ")),
                }
            })
            .collect()
    }
}

/// A file that opens for reading, or a directory that lists (requests takes a
/// directory of hashed certificates too).
fn readable(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        std::fs::read_dir(path).map(drop)
    } else {
        std::fs::File::open(path).map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn trust(vars: &[(&str, &str)], cwd: &Path) -> Result<Trust> {
        let map: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Trust::from_vars(|k| map.get(k).cloned(), cwd)
    }

    #[test]
    fn each_installer_gets_the_variable_it_reads() {
        let d = tempfile::tempdir().unwrap();
        let ca = d.path().join("ca.pem");
        std::fs::write(&ca, "PEM").unwrap();
        let abs = ca.to_str().unwrap();

        // Only SSL_CERT_FILE: pip is given PIP_CERT; uv reads it itself.
        let t = trust(&[("SSL_CERT_FILE", abs)], Path::new("/")).unwrap();
        assert_eq!(t.pip_env(), Some(("PIP_CERT", abs.into())));
        assert_eq!(t.uv_env(), None);
        assert_eq!(t.files(), std::slice::from_ref(&ca));

        // Only PIP_CERT, relative: uv is given SSL_CERT_FILE as written; the file
        // is found from the current directory.
        let t = trust(&[("PIP_CERT", "ca.pem"), ("CURL_CA_BUNDLE", "")], d.path()).unwrap();
        assert_eq!(t.pip_env(), None);
        assert_eq!(t.uv_env(), Some(("SSL_CERT_FILE", "ca.pem".into())));
        assert_eq!(t.files(), std::slice::from_ref(&ca));
        assert_eq!(
            t.describe(true, |_| Some("shown".into())),
            [format!("{} (PIP_CERT; shown)", ca.display())]
        );

        // Both: nothing to add; one file named twice is shown once.
        let t = trust(
            &[("SSL_CERT_FILE", abs), ("REQUESTS_CA_BUNDLE", abs)],
            d.path(),
        )
        .unwrap();
        assert_eq!((t.pip_env(), t.uv_env()), (None, None));
        assert_eq!(
            t.describe(false, |_| None),
            [format!(
                "{} (REQUESTS_CA_BUNDLE, SSL_CERT_FILE)",
                ca.display()
            )]
        );

        // None: nothing at all.
        let t = trust(&[], d.path()).unwrap();
        assert_eq!((t.pip_env(), t.uv_env()), (None, None));
        assert!(t.files().is_empty());
        assert!(t.describe(true, |_| None)[0].starts_with("the root's own (none of PIP_CERT"));
    }

    #[test]
    fn a_missing_or_unreadable_bundle_is_a_config_error() {
        let d = tempfile::tempdir().unwrap();
        let err = trust(&[("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")], d.path()).unwrap_err();
        assert_eq!(err.kind, crate::Kind::Config);
        assert!(
            err.message.starts_with(
                "REQUESTS_CA_BUNDLE=/nonexistent/ca.pem names a CA bundle that cannot be read"
            ),
            "{err}"
        );
        // A directory of certificates is taken (requests reads one).
        assert!(trust(&[("PIP_CERT", ".")], d.path()).is_ok());
    }
}
