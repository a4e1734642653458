//! Shared helpers for the integration tests: run the real `cfy-ap` binary with a
//! real Python against the offline fixtures.
#![allow(dead_code)]

pub mod apt;
pub mod cmd;
pub mod dnf;
pub mod http;
pub mod package;
pub mod proxy;
pub mod roots;
pub mod s3;

pub use cmd::Cmd;
use std::path::{Path, PathBuf};
use std::process::Output;

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixtures() -> PathBuf {
    repo().join("fixtures")
}

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_cfy-ap"))
}

pub const PYTHON: &str = "/usr/bin/python3";

/// A config that builds a full agent offline from `fixtures/`: every module from a
/// local source (wheels, source trees, the mock manager tarball). `extra` is
/// appended verbatim (more keys).
pub fn offline_config(venv: &str, output_tar: &str, extra: &str) -> String {
    format!(
        "distribution: Ubuntu\nrelease: trusty\nvenv: {venv}\n{}output_tar: {output_tar}\n{extra}",
        offline_modules(PYTHON)
    )
}

/// The interpreter, every module from `fixtures/` and the offline pip options:
/// the part of the fixture config every build shares (each line ends in `\n`).
pub fn offline_modules(python: &str) -> String {
    let f = fixtures();
    let f = f.display();
    format!(
        "python_path: {python}
base_modules:
  celery: celery==3.1.17
  rest_client: {f}/modules/cloudify-rest-client
  plugins_common: cloudify-plugins-common==3.2
  script_plugin: {f}/modules/cloudify-script-plugin
  diamond_plugin: {f}/modules/cloudify-diamond-plugin
management_modules_source: {f}/cloudify-manager-master.tar.gz
additional_modules:
  - {f}/modules/my-plugin
pip_options: [--no-index, --find-links, {f}/wheels]
"
    )
}

/// Run cfy-ap in `dir` with `args` and the variables `envs` set, in the
/// environment of [`Cmd::cfy_ap`]; its output, whatever the exit.
pub fn cfy_ap(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> Output {
    Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .envs(envs)
        .output()
}

/// How a program ended and what it printed (exit code, then stdout and stderr
/// under headings): for assertion messages.
pub fn text(o: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Run a system tool; panic with its output unless it exits 0. Returns stdout.
#[track_caller]
pub fn tool(program: &str, args: &[&str]) -> String {
    Cmd::new(program).args(args).stdout()
}

/// Every file and directory below `dir`, relative, sorted.
pub fn tree(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = walk(dir)
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            out.push(p.clone());
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.extend(walk(&p));
            }
        }
    }
    out
}

pub fn sha256(path: &Path) -> String {
    tool("sha256sum", &[path.to_str().unwrap()])
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// A hash of a whole directory tree: paths, types, contents, link targets.
pub fn tree_hash(root: &Path) -> String {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    for e in walkdir::WalkDir::new(root).sort_by_file_name() {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap();
        h.update(rel.to_string_lossy().as_bytes());
        let ft = e.file_type();
        if ft.is_symlink() {
            h.update(b"L");
            h.update(
                std::fs::read_link(e.path())
                    .unwrap()
                    .to_string_lossy()
                    .as_bytes(),
            );
        } else if ft.is_file() {
            h.update(b"F");
            h.update(std::fs::read(e.path()).unwrap());
        } else {
            h.update(b"D");
        }
    }
    hex::encode(h.finalize())
}

/// Every file, directory and symlink below `root` by relative path: its inode,
/// and a description that changes with it: for a file its mode, modification time
/// (ns) and the sha256 of its bytes, for a symlink its target.
pub fn tree_state(root: &Path) -> std::collections::BTreeMap<String, (u64, String)> {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    let mut out = std::collections::BTreeMap::new();
    for e in walkdir::WalkDir::new(root) {
        let e = e.unwrap();
        let rel = e.path().strip_prefix(root).unwrap().display().to_string();
        let m = e.metadata().unwrap();
        let ft = e.file_type();
        let what = if ft.is_symlink() {
            format!("-> {}", std::fs::read_link(e.path()).unwrap().display())
        } else if ft.is_file() {
            let sum = sha2::Sha256::digest(std::fs::read(e.path()).unwrap());
            format!(
                "{:o} {}.{:09} {}",
                m.mode(),
                m.mtime(),
                m.mtime_nsec(),
                hex::encode(sum)
            )
        } else {
            "dir".to_string()
        };
        out.insert(rel, (m.ino(), what));
    }
    out
}
