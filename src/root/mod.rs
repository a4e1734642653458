//! Build roots (`--root DIR`, `build_roots:`): the agent is built for the
//! distribution whose root filesystem is DIR, with DIR's own Python, at the
//! venv's final path inside DIR. This module checks a root and resolves what the
//! plan needs from it (distribution, Python, the host paths the build must see);
//! [`paths`] resolves paths inside a root; [`binfmt`] tells whether a root of
//! another architecture can run here. `pipeline::multi` makes one plan per root
//! and runs them with one publish; the build commands themselves run through
//! `agent::sandbox` (a private mount namespace over an overlay of the root).

pub(crate) mod binfmt;
pub(crate) mod paths;

use crate::config::detect;
use crate::error::{Error, Result};
use crate::util::paths::normalize;
use std::fmt;
use std::path::{Path, PathBuf};

/// Where a Python is looked for inside a root, in order.
const SEARCH: [&str; 3] = ["/usr/local/bin", "/usr/bin", "/bin"];

#[derive(Debug, Clone)]
pub struct Root {
    /// The root directory on the host (absolute, symlinks resolved).
    pub dir: PathBuf,
    /// Host paths the build reads (local modules, find-links directories, a local
    /// manager source): made visible read-only at the same path inside the root.
    pub binds: Vec<PathBuf>,
    /// The host's current directory: the working directory inside the root too.
    pub cwd: PathBuf,
    /// The root's filesystem is mounted read-only (fine unless keep_venv).
    pub read_only: bool,
}

impl Root {
    /// Check that `dir` is a directory the build can use as a root.
    pub fn open(dir: &Path) -> Result<Root> {
        let shown = dir.display();
        match dir.metadata() {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::config(format!("--root {shown}: not a directory")));
            }
            Err(e) => {
                return Err(Error::config(format!("--root {shown}: {e}")).with(
                    "give the directory of a root filesystem (made by debootstrap/mmdebstrap, `docker export`, dnf --installroot, an unpacked image)",
                ));
            }
        }
        let dir = dir
            .canonicalize()
            .map_err(|e| Error::config(format!("--root {shown}: {e}")))?;
        if dir == Path::new("/") {
            return Err(Error::config(
                "--root /: that is the host itself; build without --root",
            ));
        }
        // The overlay mount takes the path in a comma/colon-separated option.
        if dir.to_string_lossy().contains([',', ':', '\\']) {
            return Err(Error::config(format!(
                "--root {}: the path must not contain ',', ':' or '\\' (mount options cannot carry them); move or link the root elsewhere",
                dir.display()
            )));
        }
        let read_only = paths::on_read_only_mount(&dir);
        Ok(Root {
            dir,
            binds: Vec::new(),
            cwd: PathBuf::new(),
            read_only,
        })
    }

    /// Distribution and release from the root's /etc files.
    pub fn detect(&self) -> Result<detect::Host> {
        detect::detect_in(&self.dir).map_err(|e| {
            e.with(format!(
                "--root {}: is this a root filesystem? Its etc/os-release names the distribution",
                self.dir.display()
            ))
        })
    }

    /// The interpreter inside the root: `python_path` (a path inside the root, or a
    /// name searched in its /usr/local/bin, /usr/bin, /bin), else /usr/bin/python,
    /// else python3. Returns the path inside the root and a note when defaulted.
    pub fn python(&self, configured: Option<&str>) -> Result<(PathBuf, Option<String>)> {
        let search =
            |name: &str| -> Vec<String> { SEARCH.iter().map(|d| format!("{d}/{name}")).collect() };
        let candidates: Vec<String> = match configured {
            Some(p) if p.contains('/') => vec![p.to_string()],
            Some(name) => search(name),
            None => {
                let mut c = vec!["/usr/bin/python".to_string()];
                c.extend(search("python3"));
                c
            }
        };
        for c in &candidates {
            let found = paths::resolve(&self.dir, Path::new(c)).is_some_and(|p| p.is_file());
            if found {
                let note = (configured.is_none() && c != "/usr/bin/python").then(|| {
                    format!(
                        "/usr/bin/python does not exist in the root; using {c} (set python_path to choose)"
                    )
                });
                return Ok((PathBuf::from(c), note));
            }
        }
        Err(Error::config(format!(
            "no Python in the root {}: looked for {}",
            self.dir.display(),
            candidates.join(", ")
        ))
        .with("install Python with venv in the root (Debian: mmdebstrap --include=python3,python3-venv, or `chroot ROOT apt-get install python3-venv`), or set python_path to the interpreter's path inside the root"))
    }

    /// Find the host paths the plan's modules (`specs`: those handed to pip as
    /// written), pip options and manager source name, and check that each can be
    /// shown at the same path inside the root.
    pub fn with_host_paths(
        mut self,
        specs: &[&str],
        pip_options: &[String],
        manager_source: Option<&str>,
        cwd: &Path,
    ) -> Result<Root> {
        let mut words: Vec<&str> = pip_options.iter().map(String::as_str).collect();
        words.extend(specs);
        // A local manager directory is installed from; a .tar.gz is read on the host.
        words.extend(manager_source.filter(|m| Path::new(m).is_dir()));
        let mut binds: Vec<PathBuf> = Vec::new();
        for w in words {
            if w.contains("://") && !w.starts_with("file://") {
                continue;
            }
            // `--find-links=DIR`, `file:///x`, `path[extra]` name the path part.
            let w = w
                .rsplit_once('=')
                .filter(|(k, _)| k.starts_with('-'))
                .map_or(w, |(_, v)| v);
            let w = w.strip_prefix("file://").unwrap_or(w);
            let w = w.split('[').next().unwrap_or(w);
            if w.is_empty() || w.starts_with('-') {
                continue;
            }
            let p = normalize(&cwd.join(w));
            if p.exists() && p != Path::new("/") && !binds.contains(&p) {
                binds.push(p);
            }
        }
        binds.sort();
        // A path under another one is visible through it.
        let mut kept: Vec<PathBuf> = Vec::new();
        for b in binds {
            if !kept.iter().any(|k| b.starts_with(k)) {
                kept.push(b);
            }
        }
        let mut targets = kept.clone();
        targets.extend([cwd.to_path_buf(), std::env::temp_dir()]);
        targets.extend(["/dev", "/proc", "/etc", "/tmp"].map(PathBuf::from));
        for t in &targets {
            if let Some(link) = paths::first_symlink(&self.dir, t) {
                return Err(Error::config(format!(
                    "cannot show the host path {} inside the root {}: {} is a symbolic link there",
                    t.display(),
                    self.dir.display(),
                    link.display()
                ))
                .with("move that path on the host (e.g. the working directory or the module), or replace the link in the root"));
            }
        }
        self.binds = kept;
        self.cwd = cwd.to_path_buf();
        Ok(self)
    }

    /// Where a path inside the root is in the root's own directory (no links
    /// followed). A build writes elsewhere: see `agent::sandbox::Sandbox::host_path`.
    pub fn join(&self, inside: &Path) -> PathBuf {
        self.dir.join(inside.strip_prefix("/").unwrap_or(inside))
    }
}

impl fmt::Display for Root {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "root:         {} (python, venv are inside it; commands run in a private mount namespace over an overlay of it, so it stays unchanged{})",
            self.dir.display(),
            if self.read_only { "; read-only" } else { "" }
        )?;
        if !self.binds.is_empty() {
            let list: Vec<String> = self.binds.iter().map(|b| b.display().to_string()).collect();
            write!(
                f,
                "\n  host paths shown read-only inside: {}",
                list.join(", ")
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_from_specs_and_pip_options() {
        let host = tempfile::tempdir().unwrap();
        let h = host.path();
        for d in ["wheels", "more", "mods/a", "mods/b"] {
            std::fs::create_dir_all(h.join(d)).unwrap();
        }
        std::fs::write(h.join("reqs.txt"), "").unwrap();
        let root = tempfile::tempdir().unwrap();
        let b = format!("file://{}/mods/b", h.display());
        let modules = [
            "celery==3.1.17",
            "mods/a[extra]",
            "https://x.invalid/p.tar.gz",
            &b,
        ];
        let options: Vec<String> = [
            "--no-index",
            "--find-links",
            "wheels",
            &format!("--find-links={}/more", h.display()),
            "-r",
            "reqs.txt",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let r = Root::open(root.path())
            .unwrap()
            .with_host_paths(&modules, &options, Some(&h.display().to_string()), h)
            .unwrap();
        // The manager source directory contains everything else.
        assert_eq!(r.binds, [h.to_path_buf()]);
        let r = Root::open(root.path())
            .unwrap()
            .with_host_paths(&modules, &options, None, h)
            .unwrap();
        let want: Vec<PathBuf> = ["mods/a", "mods/b", "more", "reqs.txt", "wheels"]
            .iter()
            .map(|p| h.join(p))
            .collect();
        assert_eq!(r.binds, want);
    }

    #[test]
    fn a_symlink_in_the_way_is_refused() {
        // The host's temp directory is shown inside the root at its own path: a
        // link there would send the mount outside the root.
        let root = tempfile::tempdir().unwrap();
        let tmp = std::env::temp_dir();
        let first = tmp.components().nth(1).unwrap().as_os_str().to_owned();
        std::os::unix::fs::symlink("/elsewhere", root.path().join(&first)).unwrap();
        let err = Root::open(root.path())
            .unwrap()
            .with_host_paths(&[], &[], None, Path::new("/"))
            .map(drop)
            .unwrap_err();
        assert_eq!(err.kind, crate::Kind::Config);
        let want = format!(
            "{} is a symbolic link there",
            Path::new("/").join(&first).display()
        );
        assert!(err.message.contains(&want), "{err}");
    }
}
