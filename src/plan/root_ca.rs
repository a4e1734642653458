//! The host's CA bundle (`plan::ca`: `PIP_CERT`, `SSL_CERT_FILE`, …) in a
//! `--root` build: each file is shown read-only at its own path inside the
//! root, like the other host paths the build reads, so the variables, which
//! the commands inherit, name the same file there. Nothing is shown when no
//! variable is set: the root's own bundle serves, as on that distribution.
//! The host's system bundle is not shown by itself, because at its usual path
//! it would hide the root's own bundle without anyone asking for it; naming it
//! (`SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt`) does, and `--dry-run`
//! says so.

use super::ca::Trust;
use crate::error::{Error, Result};
use crate::root::{Root, paths};
use std::path::Path;

impl Root {
    /// Add the CA bundle files of `trust` to the paths shown inside the root.
    pub fn with_ca_files(mut self, trust: &Trust) -> Result<Root> {
        for file in trust.files() {
            if self.binds.iter().any(|b| file.starts_with(b)) {
                continue;
            }
            if let Some(link) = paths::first_symlink(&self.dir, &file) {
                let vars: Vec<&str> = trust
                    .set
                    .iter()
                    .filter(|(_, _, p)| *p == file)
                    .map(|(v, ..)| *v)
                    .collect();
                return Err(Error::config(format!(
                    "cannot show the CA bundle {} ({}) inside the root {}: {} is a symbolic link there",
                    file.display(),
                    vars.join(", "),
                    self.dir.display(),
                    link.display()
                ))
                .with("copy the file to a path the root does not link (e.g. under /opt or your home) and point the variable at the copy"));
            }
            self.binds.push(file);
        }
        Ok(self)
    }

    /// How a host CA file is seen inside the root, for `--dry-run`.
    pub fn ca_note(&self, file: &Path) -> &'static str {
        let own = paths::resolve(&self.dir, file).is_some_and(|p| p.exists());
        if own {
            "shown read-only inside the root, over the root's own file there"
        } else {
            "shown read-only inside the root"
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::ffi::OsString;

    #[test]
    fn ca_files_are_shown_unless_a_shown_directory_has_them() {
        let host = tempfile::tempdir().unwrap();
        let h = host.path();
        std::fs::create_dir(h.join("wheels")).unwrap();
        std::fs::write(h.join("wheels/ca.pem"), "PEM").unwrap();
        std::fs::write(h.join("ca.pem"), "PEM").unwrap();
        let root = tempfile::tempdir().unwrap();
        let set = |files: &[&str]| Trust {
            set: files
                .iter()
                .zip(["PIP_CERT", "SSL_CERT_FILE"])
                .map(|(f, v)| (v, OsString::from(h.join(f)), h.join(f)))
                .collect(),
        };
        let options = [
            "--find-links".to_string(),
            h.join("wheels").display().to_string(),
        ];
        let r = Root::open(root.path())
            .unwrap()
            .with_host_paths(&[], &options, None, h)
            .unwrap()
            .with_ca_files(&set(&["wheels/ca.pem", "ca.pem"]))
            .unwrap();
        assert_eq!(r.binds, [h.join("wheels"), h.join("ca.pem")]);
        assert_eq!(
            r.ca_note(&h.join("ca.pem")),
            "shown read-only inside the root"
        );

        // The root has a file there: the dry run says it is hidden for the build.
        let inside = root.path().join(h.strip_prefix("/").unwrap());
        std::fs::create_dir_all(&inside).unwrap();
        std::fs::write(inside.join("ca.pem"), "root's").unwrap();
        assert!(
            r.ca_note(&h.join("ca.pem"))
                .ends_with("over the root's own file there")
        );

        // A link in the root on the way: refused, naming the variable.
        let root = tempfile::tempdir().unwrap();
        let first = h.components().nth(1).unwrap().as_os_str().to_owned();
        std::os::unix::fs::symlink("/elsewhere", root.path().join(&first)).unwrap();
        let err = Root::open(root.path())
            .unwrap()
            .with_ca_files(&set(&["ca.pem"]))
            .map(drop)
            .unwrap_err();
        assert_eq!(err.kind, crate::Kind::Config);
        assert!(err.message.contains("(PIP_CERT)"), "{err}");
        assert!(err.message.contains("is a symbolic link there"), "{err}");
    }
}
