//! Debian root filesystems for the `--root` and portable-binary tests: made once
//! by `tests/tools/roots.sh` (mmdebstrap, cached outside the checkout in
//! $CFY_AP_TEST_ROOTS, default /var/cache/cfy-ap-test/roots) and copied fresh
//! (`cp -a`) for each test. Also a root's listing, for "left unchanged" checks.

use super::{repo, tool};
use std::path::{Path, PathBuf};
use std::process::Command;

/// A fresh copy of the cached `suite` root (bullseye: Debian 11, trixie: 13;
/// `bookworm:arm64`: Debian 12 for arm64, run through qemu-user), made first
/// when missing. Removed with the returned directory.
pub fn copy(suite: &str) -> (tempfile::TempDir, PathBuf) {
    let script = repo().join("tests/tools/roots.sh");
    tool("bash", &[script.to_str().unwrap(), suite]);
    let cache = std::env::var("CFY_AP_TEST_ROOTS")
        .unwrap_or_else(|_| "/var/cache/cfy-ap-test/roots".to_string());
    let name = suite.replace(':', "-");
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join(&name);
    tool(
        "cp",
        &["-a", &format!("{cache}/{name}"), root.to_str().unwrap()],
    );
    (dir, root)
}

/// Every entry of `root` with type, mode, owner, size, mtime and link target,
/// sorted, hashed: equal before and after means the root was left as it was.
pub fn listing(root: &Path) -> String {
    let out = tool(
        "find",
        &[
            root.to_str().unwrap(),
            "-printf",
            "%P %y %m %U %G %s %T@ %l\\n",
        ],
    );
    let mut lines: Vec<&str> = out.lines().collect();
    lines.sort();
    let text = lines.join("\n");
    format!("{} entries, {}", lines.len(), sha256_text(&text))
}

fn sha256_text(text: &str) -> String {
    use std::io::Write;
    let mut child = Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("sha256sum");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_string()
}

/// Mount points (of this process's namespace) that mention `needle`.
pub fn mounts_with(needle: &str) -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// The offline fixture config for a root build: no distribution/release (they
/// come from the root), the root's python3, every module from its wheel in
/// `fixtures/wheels` ([`super::wheel_modules`]). `extra` is appended verbatim.
pub fn config(extra: &str) -> String {
    format!("{}{extra}", super::wheel_modules("/usr/bin/python3"))
}

/// [`config`] with the modules from the fixture source trees and the manager
/// tarball ([`super::offline_modules`]): pip builds them inside the root.
pub fn source_config(extra: &str) -> String {
    format!("{}{extra}", super::offline_modules("/usr/bin/python3"))
}

/// `<dir>/c.yaml`: [`config`] with `extra`.
pub fn write_config(dir: &Path, extra: &str) {
    std::fs::write(dir.join("c.yaml"), config(extra)).unwrap();
}

/// `chroot ROOT ARGS…` (must succeed): its stdout.
pub fn chroot(root: &Path, args: &[&str]) -> String {
    let mut v = vec![root.to_str().unwrap()];
    v.extend_from_slice(args);
    tool("chroot", &v)
}

/// The modules every fixture agent imports.
pub const IMPORTS: &str = "import celery, cloudify_rest_client, cloudify, script_runner, diamond_agent, worker_installer, plugin_installer, windows_agent_installer, windows_plugin_installer, my_plugin; print('ok')";

/// Unmounts a mount point when dropped (a test's read-only bind mount).
pub struct Mounted(pub PathBuf);

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// Make `dir` read-only by bind-mounting it over itself read-only.
pub fn read_only(dir: &Path) -> Mounted {
    let d = dir.to_str().unwrap();
    tool("mount", &["--bind", d, d]);
    let m = Mounted(dir.to_path_buf());
    tool("mount", &["-o", "remount,bind,ro", d]);
    m
}
