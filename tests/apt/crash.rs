//! Crash consistency of `cfy-ap publish` (issue 10, item 11; issue 14 for
//! `--remove`): a publish killed with SIGKILL at spread-out moments, again and
//! again; after every kill the
//! repository must read cleanly for a plain client (`Acquire::By-Hash "no"`) and
//! a by-hash client (`"force"`), both real apt over loopback HTTP, and be
//! consistent on disk: every file the Release lists has the listed size and
//! SHA256, `InRelease` and `Release.gpg` verify with gpgv over the current
//! Release.

use crate::common;

use common::apt::*;
use common::http::Http;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const ITERATIONS: u32 = 36;

/// What is wrong with the Release of `dist` and the files it lists, if anything.
fn inconsistencies(dist: &Path, pubkey: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let release = fs::read_to_string(dist.join("Release")).unwrap();
    let mut in_sha256 = false;
    for line in release.lines() {
        if !line.starts_with(' ') {
            in_sha256 = line == "SHA256:";
            continue;
        }
        if !in_sha256 {
            continue;
        }
        let parts: Vec<&str> = line.split_whitespace().collect();
        let (hash, size, path) = (parts[0], parts[1], parts[2]);
        match fs::read(dist.join(path)) {
            Ok(bytes) => {
                if bytes.len().to_string() != size || hex::encode(Sha256::digest(&bytes)) != hash {
                    bad.push(format!("{path} does not match Release"));
                }
            }
            Err(e) => bad.push(format!("{path}: {e}")),
        }
    }
    let o = gpgv(pubkey, &[&dist.join("InRelease")]);
    if !o.status.success() {
        bad.push(format!("InRelease: {}", text(&o)));
    }
    // The clearsigned text (as gpgv extracts it) is the Release, byte for byte.
    let o = Command::new("gpgv")
        .arg("--keyring")
        .arg(pubkey)
        .args(["--output", "-"])
        .arg(dist.join("InRelease"))
        .output()
        .unwrap();
    let extracted = String::from_utf8_lossy(&o.stdout);
    if extracted.trim_end() != release.trim_end() {
        bad.push("InRelease is not the current Release".into());
    }
    let o = gpgv(pubkey, &[&dist.join("Release.gpg"), &dist.join("Release")]);
    if !o.status.success() {
        bad.push(format!("Release.gpg: {}", text(&o)));
    }
    bad
}

/// The inode of a left-behind `dists/.stable.next`, if any.
fn next_generation(repo: &Path) -> Option<u64> {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(repo.join("dists/.stable.next"))
        .ok()
        .map(|m| m.ino())
}

/// A signed repository with some history (so indices have several chunks),
/// served over loopback HTTP to a plain and a by-hash apt client.
struct Fixture {
    w: tempfile::TempDir,
    arch: String,
    repo: PathBuf,
    key: PathBuf,
    pubkey: PathBuf,
    debs: PathBuf,
    clients: Vec<(&'static str, Apt)>,
    _http: Http,
    _gpg: Gpg,
}

impl Fixture {
    fn new() -> Fixture {
        require_tools();
        let w = workdir();
        let arch = host_arch();
        let gpg = Gpg::new();
        let (key, pubkey) = gpg.signing_key("Crash <crash@example.invalid>", w.path());
        let repo = w.path().join("repo");
        let debs = w.path().join("debs");
        fs::create_dir_all(&debs).unwrap();
        let base: Vec<_> = (0..40)
            .map(|i| make_deb(&debs, &format!("base{i}-agent"), "1.0", &arch))
            .collect();
        let base: Vec<&Path> = base.iter().map(|p| p.as_path()).collect();
        let (r, k) = (repo.to_str().unwrap(), key.to_str().unwrap());
        ok(publish(&["--repo", r, "--sign-key", k], &base));
        let http = Http::serve(w.path(), &w.path().join("http.log"));
        let clients = ["no", "force"]
            .into_iter()
            .map(|by_hash| {
                let apt = Apt::new(w.path(), &format!("apt-{by_hash}"));
                fs::write(
                    apt.root.join("etc/apt.conf.d/by-hash"),
                    format!("Acquire::By-Hash \"{by_hash}\";\n"),
                )
                .unwrap();
                apt.sources(&format!(
                    "deb [signed-by={}] {} stable main",
                    pubkey.display(),
                    http.url("repo")
                ));
                apt.update_clean();
                (by_hash, apt)
            })
            .collect();
        Fixture {
            w,
            arch,
            repo,
            key,
            pubkey,
            debs,
            clients,
            _http: http,
            _gpg: gpg,
        }
    }

    /// `cfy-ap publish --repo R --sign-key K` plus `args`, as a command.
    fn publish_cmd(&self, args: &[&std::ffi::OsStr]) -> Command {
        let mut c = Command::new(BIN);
        c.args(["publish", "-q", "--repo"])
            .arg(&self.repo)
            .arg("--sign-key")
            .arg(&self.key)
            .args(args)
            .env_remove("SOURCE_DATE_EPOCH")
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        c
    }

    /// Run `iterations` publishes built by `cmd(i)` (after `prepare(i)`), each
    /// killed after a delay spread over `duration`; collect every inconsistency
    /// seen on disk or by either apt client. Returns (failures, kills inside the
    /// commit).
    fn kill_loop(
        &self,
        iterations: u32,
        duration: Duration,
        mut prepare: impl FnMut(u32),
        mut cmd: impl FnMut(u32) -> Command,
    ) -> (Vec<String>, u32) {
        let dist = self.repo.join("dists/stable");
        let (mut mid_commit, mut finished) = (0, 0);
        let mut failures = Vec::new();
        for i in 0..iterations {
            prepare(i);
            let delay = duration.mul_f64(f64::from(i % 12) / 10.0);
            let before = next_generation(&self.repo);
            // The HTTP server answers If-Modified-Since to the second: a Release
            // written in the second apt last fetched it would be "not modified",
            // and the clients would not look at the new generation at all.
            std::thread::sleep(Duration::from_millis(1010));
            let mut child = cmd(i).spawn().unwrap();
            std::thread::sleep(delay);
            let _ = child.kill();
            finished += u32::from(child.wait().unwrap().success());
            // A new next generation left behind: killed between prepare and switch.
            let after = next_generation(&self.repo);
            mid_commit += u32::from(after.is_some() && after != before);
            for bad in inconsistencies(&dist, &self.pubkey) {
                failures.push(format!("iteration {i} (kill after {delay:?}): {bad}"));
            }
            for (by_hash, apt) in &self.clients {
                let o = apt.run("apt-get", &["update"]);
                let out = text(&o);
                let errors: Vec<&str> = out
                    .lines()
                    .filter(|l| l.starts_with("W:") || l.starts_with("E:") || l.starts_with("Err:"))
                    .collect();
                if !o.status.success() || !errors.is_empty() {
                    failures.push(format!("iteration {i}, By-Hash {by_hash}: {errors:?}"));
                }
            }
        }
        eprintln!(
            "{iterations} kills: {mid_commit} inside the commit, {finished} after it finished"
        );
        (failures, mid_commit)
    }

    /// A complete publish afterwards: debris gone, consistent, both clients clean.
    fn finish(&self, name: &str) {
        let last = make_deb(&self.debs, name, "1.0", &self.arch);
        std::thread::sleep(Duration::from_millis(1010));
        assert!(
            self.publish_cmd(&[last.as_os_str()])
                .status()
                .unwrap()
                .success()
        );
        assert!(!self.repo.join("dists/.stable.next").exists());
        assert!(inconsistencies(&self.repo.join("dists/stable"), &self.pubkey).is_empty());
        for (_, apt) in &self.clients {
            apt.update_clean();
            let policy = apt.policy(name);
            assert!(policy.contains("Candidate: 1.0"), "{policy}");
        }
    }

    /// How long `cmd` takes here: kills are spread over that.
    fn time(&self, mut cmd: Command) -> Duration {
        let start = Instant::now();
        assert!(cmd.status().unwrap().success());
        let d = start.elapsed();
        eprintln!("one run: {d:?}");
        d
    }
}

#[test]
fn kill_9_at_any_moment_leaves_a_consistent_repository() {
    let f = Fixture::new();
    let timed = make_deb(&f.debs, "timed-agent", "1.0", &f.arch);
    let duration = f.time(f.publish_cmd(&[timed.as_os_str()]));
    let debs = |i: u32| {
        let a = make_deb(&f.debs, "crash-agent", &format!("1.{i}"), &f.arch);
        let b = make_deb(&f.debs, &format!("crash{i}-agent"), "1.0", &f.arch);
        (a, b)
    };
    let (failures, mid_commit) = f.kill_loop(
        ITERATIONS,
        duration,
        |_| {},
        |i| {
            let (a, b) = debs(i);
            f.publish_cmd(&[a.as_os_str(), b.as_os_str()])
        },
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        mid_commit >= 3,
        "only {mid_commit} kills landed inside the commit: the test did not probe the window"
    );
    f.finish("last-agent");
}

#[test]
fn kill_9_during_remove_leaves_a_consistent_repository() {
    let f = Fixture::new();
    let version = |i: u32| make_deb(&f.debs, "gone-agent", &format!("1.{i}"), &f.arch);
    let remove = |i: u32| {
        let spec = format!("gone-agent=1.{i}");
        let mut c = f.publish_cmd(&[]);
        c.args(["--remove", &spec]);
        c
    };
    let publish_version = |i: u32| {
        let deb = version(i);
        assert!(
            f.publish_cmd(&[deb.as_os_str()])
                .status()
                .unwrap()
                .success()
        );
    };
    publish_version(1000);
    let duration = f.time(remove(1000));
    let (failures, mid_commit) = f.kill_loop(20, duration, publish_version, remove);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        mid_commit >= 2,
        "only {mid_commit} kills landed inside the commit"
    );
    f.finish("after-remove-agent");
    let _ = &f.w;
}
