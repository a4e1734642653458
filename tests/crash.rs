//! Crash consistency of `cfy-ap publish` (issue 10, item 11): a publish killed
//! with SIGKILL at spread-out moments, again and again; after every kill the
//! repository must read cleanly for a plain client (`Acquire::By-Hash "no"`) and
//! a by-hash client (`"force"`), both real apt over loopback HTTP, and be
//! consistent on disk: every file the Release lists has the listed size and
//! SHA256, `InRelease` and `Release.gpg` verify with gpgv over the current
//! Release.

mod common;

use common::apt::*;
use common::http::Http;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;
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

#[test]
fn kill_9_at_any_moment_leaves_a_consistent_repository() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let gpg = Gpg::new();
    let fpr = gpg.new_key("Crash <crash@example.invalid>", "ed25519", "sign", "");
    let key = w.path().join("key.asc");
    gpg.export_secret(&fpr, "", &key);
    let pubkey = w.path().join("key.gpg");
    gpg.export_public(&fpr, &pubkey);
    let repo = w.path().join("repo");
    let (r, k) = (repo.to_str().unwrap(), key.to_str().unwrap());
    let dist = repo.join("dists/stable");

    // A repository with some history, so indices have several chunks.
    let debs = w.path().join("debs");
    fs::create_dir_all(&debs).unwrap();
    let base: Vec<_> = (0..40)
        .map(|i| make_deb(&debs, &format!("base{i}-agent"), "1.0", &arch))
        .collect();
    let base: Vec<&Path> = base.iter().map(|p| p.as_path()).collect();
    ok(publish(&["--repo", r, "--sign-key", k], &base));

    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let clients: Vec<(&str, Apt)> = ["no", "force"]
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

    // How long one publish of two packages takes here: kills are spread over it.
    let timed = make_deb(&debs, "timed-agent", "1.0", &arch);
    let start = Instant::now();
    ok(publish(&["--repo", r, "--sign-key", k], &[&timed]));
    let duration = start.elapsed();
    eprintln!("one publish: {duration:?}");

    let (mut mid_commit, mut finished) = (0, 0);
    let mut failures = Vec::new();
    for i in 0..ITERATIONS {
        let a = make_deb(&debs, "crash-agent", &format!("1.{i}"), &arch);
        let b = make_deb(&debs, &format!("crash{i}-agent"), "1.0", &arch);
        let delay = duration.mul_f64(f64::from(i % 12) / 10.0);
        let before = next_generation(&repo);
        let mut child = Command::new(BIN)
            .args(["publish", "-q", "--repo", r, "--sign-key", k])
            .arg(&a)
            .arg(&b)
            .env_remove("SOURCE_DATE_EPOCH")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        finished += u32::from(status.success());
        // A new next generation left behind: killed between prepare and switch.
        let after = next_generation(&repo);
        mid_commit += u32::from(after.is_some() && after != before);
        // The HTTP server answers If-Modified-Since with second granularity:
        // a new InRelease within the same second as the last fetch would be
        // "not modified" to apt. Wait for the next second.
        std::thread::sleep(Duration::from_millis(1010));
        for bad in inconsistencies(&dist, &pubkey) {
            failures.push(format!("iteration {i} (kill after {delay:?}): {bad}"));
        }
        for (by_hash, apt) in &clients {
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
    eprintln!("{ITERATIONS} kills: {mid_commit} inside the commit, {finished} after it finished");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        mid_commit >= 3,
        "only {mid_commit} kills landed inside the commit: the test did not probe the window"
    );

    // The next publish completes the job and clears the debris.
    let last = make_deb(&debs, "last-agent", "1.0", &arch);
    ok(publish(&["--repo", r, "--sign-key", k], &[&last]));
    std::thread::sleep(Duration::from_millis(1010));
    assert!(!repo.join("dists/.stable.next").exists());
    assert!(inconsistencies(&dist, &pubkey).is_empty());
    for (_, apt) in &clients {
        apt.update_clean();
        let policy = apt.policy("last-agent");
        assert!(policy.contains("Candidate: 1.0"), "{policy}");
    }
}
