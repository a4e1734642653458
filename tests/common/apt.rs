//! Helpers for the apt repository tests (`tests/apt`, and signing in `tests/package`):
//! packages built by the real `dpkg-deb`, `cfy-ap publish` run as a process, a
//! whole-tree hash for "nothing changed", a private apt (its own APT_CONFIG,
//! state, cache and sources), throwaway gpg keys, hand-made `ar`/tar members for
//! packages dpkg-deb refuses to build.

use super::Cmd;
use sha2::{Digest, Sha256};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub const BIN: &str = env!("CARGO_BIN_EXE_cfy-ap");

pub fn require_tools() {
    for tool in ["dpkg-deb", "apt-get", "apt-cache", "gpg", "gpgv", "python3"] {
        let found = Command::new("sh")
            .args(["-c", &format!("command -v {tool}")])
            .output()
            .is_ok_and(|o| o.status.success());
        assert!(
            found,
            "{tool} is needed by the apt tests (apt-get install dpkg-dev apt gpg gpgv python3)"
        );
    }
}

pub fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

pub fn host_arch() -> String {
    let out = Command::new("dpkg")
        .arg("--print-architecture")
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

pub fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

pub fn sha256_file(p: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(p).unwrap()))
}

/// A scratch directory that apt's unprivileged `_apt` user can traverse.
pub fn workdir() -> tempfile::TempDir {
    let w = tempfile::Builder::new()
        .prefix("cfy-ap-publish-test.")
        .tempdir()
        .unwrap();
    fs::set_permissions(w.path(), fs::Permissions::from_mode(0o755)).unwrap();
    w
}

/// Build a package with dpkg-deb from a generated tree; `payload` bytes go to
/// /opt/<name>/data, `extra` lines into the control file.
pub fn make_deb_with(
    dir: &Path,
    name: &str,
    version: &str,
    arch: &str,
    payload: &[u8],
    extra: &str,
) -> PathBuf {
    let tree = tempfile::tempdir_in(dir).unwrap();
    let t = tree.path();
    fs::create_dir_all(t.join("DEBIAN")).unwrap();
    fs::create_dir_all(t.join(format!("opt/{name}/bin"))).unwrap();
    let script = t.join(format!("opt/{name}/bin/{name}"));
    fs::write(&script, format!("#!/bin/sh\necho {name} {version}\n")).unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    fs::write(t.join(format!("opt/{name}/data")), payload).unwrap();
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
         Maintainer: Test <test@example.invalid>\nInstalled-Size: {}\n{extra}\
         Section: admin\nPriority: optional\nDescription: test package {name}\n \
         Built by tests/publish.rs.\n .\n Second paragraph.\n",
        payload.len() / 1024 + 4
    );
    fs::write(t.join("DEBIAN/control"), control).unwrap();
    let out = dir.join(format!("{name}_{}_{arch}.deb", version.replace(':', "%3a")));
    let mut cmd = Command::new("dpkg-deb");
    cmd.arg("--root-owner-group");
    if payload.len() > 1 << 20 {
        cmd.arg("-Znone");
    }
    let o = cmd.arg("-b").arg(t).arg(&out).output().unwrap();
    assert!(o.status.success(), "dpkg-deb: {}", text(&o));
    out
}

pub fn make_deb(dir: &Path, name: &str, version: &str, arch: &str) -> PathBuf {
    make_deb_with(dir, name, version, arch, b"", "")
}

pub fn publish(args: &[&str], debs: &[&Path]) -> Output {
    publish_env(args, debs, &[])
}

/// `cfy-ap publish ARGS DEBS` ([`Cmd::cfy_ap`]: no SOURCE_DATE_EPOCH) with no
/// passphrase inherited and `env` set; its output, whatever the exit.
pub fn publish_env(args: &[&str], debs: &[&Path], env: &[(&str, &str)]) -> Output {
    Cmd::cfy_ap()
        .arg("publish")
        .args(args)
        .args(debs)
        .env_remove("CFY_AP_SIGN_PASSPHRASE")
        .envs(env)
        .output()
}

#[track_caller]
pub fn ok(o: Output) -> Output {
    assert!(o.status.success(), "cfy-ap failed: {}", text(&o));
    o
}

pub use super::tree_hash;

/// A private apt: its own configuration, sources, state and cache.
pub struct Apt {
    pub root: PathBuf,
    pub conf: PathBuf,
}

impl Apt {
    pub fn new(work: &Path, name: &str) -> Apt {
        let root = work.join(name);
        for d in [
            "state/lists/partial",
            "cache/archives/partial",
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/apt.conf.d",
            "etc/trusted.gpg.d",
            "log",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        let r = root.display();
        let conf = root.join("apt.conf");
        fs::write(
            &conf,
            format!(
                "Dir::Etc::main \"/dev/null\";\n\
                 Dir::Etc::parts \"{r}/etc/apt.conf.d\";\n\
                 Dir::Etc::sourcelist \"{r}/etc/sources.list\";\n\
                 Dir::Etc::sourceparts \"{r}/etc/sources.list.d\";\n\
                 Dir::Etc::preferencesparts \"{r}/etc/preferences.d\";\n\
                 Dir::Etc::trusted \"{r}/etc/trusted.gpg\";\n\
                 Dir::Etc::trustedparts \"{r}/etc/trusted.gpg.d\";\n\
                 Dir::State \"{r}/state\";\n\
                 Dir::State::status \"/var/lib/dpkg/status\";\n\
                 Dir::Cache \"{r}/cache\";\n\
                 Dir::Log \"{r}/log\";\n\
                 Debug::NoLocking \"true\";\n\
                 Acquire::Languages \"none\";\n"
            ),
        )
        .unwrap();
        Apt { root, conf }
    }

    pub fn sources(&self, line: &str) {
        fs::write(self.root.join("etc/sources.list"), format!("{line}\n")).unwrap();
    }

    /// Use the repository at `url` (codename stable, component main), trusted
    /// without a key.
    pub fn trust(&self, url: &str) {
        self.sources(&format!("deb [trusted=yes] {url} stable main"));
    }

    pub fn run(&self, tool: &str, args: &[&str]) -> Output {
        Command::new(tool)
            .env("APT_CONFIG", &self.conf)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .args(args)
            .output()
            .unwrap()
    }

    /// `apt-get update` that must succeed without a warning or an error.
    #[track_caller]
    pub fn update_clean(&self) -> String {
        let o = self.run("apt-get", &["update"]);
        let out = text(&o);
        let bad: Vec<&str> = out
            .lines()
            .filter(|l| l.starts_with("W:") || l.starts_with("E:") || l.starts_with("Err:"))
            .collect();
        assert!(
            o.status.success() && bad.is_empty(),
            "apt-get update not clean:\n{out}"
        );
        out
    }

    pub fn policy(&self, package: &str) -> String {
        text(&self.run("apt-cache", &["policy", package]))
    }
}

/// A throwaway GnuPG home for making keys; its agent is stopped on drop.
pub struct Gpg {
    pub home: tempfile::TempDir,
}

impl Gpg {
    pub fn new() -> Gpg {
        Gpg {
            home: tempfile::Builder::new().prefix("cfyg.").tempdir().unwrap(),
        }
    }

    pub fn cmd(&self) -> Command {
        let mut c = Command::new("gpg");
        c.env("GNUPGHOME", self.home.path())
            .args(["--batch", "--pinentry-mode", "loopback"]);
        c
    }

    /// Make a key (`algo`, `usage` as for --quick-gen-key) and return its fingerprint.
    pub fn new_key(&self, uid: &str, algo: &str, usage: &str, passphrase: &str) -> String {
        let o = self
            .cmd()
            .args([
                "--passphrase",
                passphrase,
                "--quick-gen-key",
                uid,
                algo,
                usage,
                "1y",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "gpg: {}", text(&o));
        let o = self
            .cmd()
            .args(["--with-colons", "--list-keys", uid])
            .output()
            .unwrap();
        String::from_utf8(o.stdout)
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("fpr:")
                    .map(|r| r.trim_matches(':').to_string())
            })
            .unwrap()
    }

    pub fn add_signing_subkey(&self, fpr: &str, passphrase: &str) {
        let o = self
            .cmd()
            .args([
                "--passphrase",
                passphrase,
                "--quick-add-key",
                fpr,
                "ed25519",
                "sign",
                "1y",
            ])
            .output()
            .unwrap();
        assert!(o.status.success(), "gpg: {}", text(&o));
    }

    pub fn export_secret(&self, fpr: &str, passphrase: &str, dest: &Path) {
        let o = self
            .cmd()
            .args([
                "--passphrase",
                passphrase,
                "--armor",
                "--export-secret-keys",
                fpr,
            ])
            .output()
            .unwrap();
        assert!(
            o.status.success() && !o.stdout.is_empty(),
            "gpg: {}",
            text(&o)
        );
        fs::write(dest, o.stdout).unwrap();
    }

    /// A new passphrase-less ed25519 signing key for `uid`, exported into
    /// `dir` as `key.asc` (secret, armored) and `key.gpg` (public, binary).
    pub fn signing_key(&self, uid: &str, dir: &Path) -> (PathBuf, PathBuf) {
        let fpr = self.new_key(uid, "ed25519", "sign", "");
        let (secret, public) = (dir.join("key.asc"), dir.join("key.gpg"));
        self.export_secret(&fpr, "", &secret);
        self.export_public(&fpr, &public);
        (secret, public)
    }

    pub fn export_public(&self, fpr: &str, dest: &Path) {
        let o = self.cmd().args(["--export", fpr]).output().unwrap();
        assert!(
            o.status.success() && !o.stdout.is_empty(),
            "gpg: {}",
            text(&o)
        );
        fs::write(dest, o.stdout).unwrap();
    }
}

impl Drop for Gpg {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

pub fn gpgv(keyring: &Path, args: &[&Path]) -> Output {
    Command::new("gpgv")
        .arg("--keyring")
        .arg(keyring)
        .args(args)
        .output()
        .unwrap()
}

pub fn packages_file(repo: &Path, arch: &str) -> String {
    fs::read_to_string(repo.join(format!("dists/stable/main/binary-{arch}/Packages"))).unwrap()
}

/// A throwaway dpkg root whose status says libc6 is installed.
pub fn dpkg_root(work: &Path, arch: &str) -> PathBuf {
    let r = work.join("root");
    for d in [
        "var/lib/dpkg/info",
        "var/lib/dpkg/updates",
        "var/lib/dpkg/triggers",
        "var/log",
    ] {
        fs::create_dir_all(r.join(d)).unwrap();
    }
    fs::write(r.join("var/lib/dpkg/available"), "").unwrap();
    fs::write(
        r.join("var/lib/dpkg/status"),
        format!(
            "Package: libc6\nStatus: install ok installed\nVersion: 2.36-9\n\
             Architecture: {arch}\nMaintainer: x <x@example.invalid>\nDescription: fake\n\n"
        ),
    )
    .unwrap();
    r
}

pub fn install_into(apt: &Apt, root: &Path, what: &str) -> Output {
    let status = format!("Dir::State::status={}/var/lib/dpkg/status", root.display());
    let dpkg_root = format!("DPkg::Options::=--root={}", root.display());
    let dpkg_log = format!("DPkg::Options::=--log={}/var/log/dpkg.log", root.display());
    apt.run(
        "apt-get",
        &[
            "install", "-y", "-o", &status, "-o", &dpkg_root, "-o", &dpkg_log, what,
        ],
    )
}

/// An ar archive made by hand (for packages dpkg-deb refuses to build).
pub fn ar(members: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut out = b"!<arch>\n".to_vec();
    for (name, data) in members {
        let header = format!(
            "{:<16}{:<12}{:<6}{:<6}{:<8}{:<10}`\n",
            name,
            0,
            0,
            0,
            "100644",
            data.len()
        );
        out.extend_from_slice(header.as_bytes());
        out.extend_from_slice(data);
        if data.len() % 2 == 1 {
            out.push(b'\n');
        }
    }
    out
}

pub fn tar_gz(files: &[(&str, &str)]) -> Vec<u8> {
    let enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut t = tar::Builder::new(enc);
    for (path, body) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, path, body.as_bytes()).unwrap();
    }
    t.into_inner().unwrap().finish().unwrap()
}

/// A `.deb` with `control` as its control file, made by hand (dpkg-deb refuses
/// broken ones); written to `dir/file`.
pub fn crafted_deb(dir: &Path, file: &str, control: &str) -> PathBuf {
    let path = dir.join(file);
    fs::write(
        &path,
        ar(&[
            ("debian-binary", b"2.0\n".to_vec()),
            ("control.tar.gz", tar_gz(&[("./control", control)])),
            ("data.tar.gz", tar_gz(&[])),
        ]),
    )
    .unwrap();
    path
}

/// `publish` must have failed with `code`, its message containing `needle`, the
/// tree at `repo` unchanged from `before`.
#[track_caller]
pub fn refused(o: &Output, code: i32, needle: &str, repo: &Path, before: &str) {
    let msg = text(o);
    assert_eq!(o.status.code(), Some(code), "{msg}");
    assert!(msg.contains(needle), "expected {needle:?} in:\n{msg}");
    assert_eq!(before, tree_hash(repo), "repository changed: {msg}");
}
