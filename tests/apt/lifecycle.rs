//! A repository over time (issue 14): `--remove`, `--keep`, `--copy`, `--list`,
//! checked with the real apt (private APT_CONFIG, loopback HTTP) and on disk;
//! bad input changes nothing (tree hash); a pool file another codename still
//! names is never deleted.

use crate::common;

use common::apt::*;
use common::http::Http;
use std::fs;
use std::path::{Path, PathBuf};

fn pool_files(repo: &Path) -> Vec<String> {
    let mut v: Vec<String> = walkdir::WalkDir::new(repo.join("pool"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

fn client(w: &Path, http: &Http, codename: &str) -> Apt {
    let apt = Apt::new(w, &format!("apt-{codename}"));
    apt.sources(&format!(
        "deb [trusted=yes] {} {codename} main",
        http.url("repo")
    ));
    apt
}

/// Packages of `name` with the given versions, each with its own bytes.
fn versions(dir: &Path, name: &str, versions: &[&str], arch: &str) -> Vec<PathBuf> {
    versions
        .iter()
        .map(|v| {
            let d = dir.join(v.replace([':', '~'], "_"));
            fs::create_dir_all(&d).unwrap();
            make_deb_with(&d, name, v, arch, v.as_bytes(), "")
        })
        .collect()
}

#[test]
fn remove_drops_a_version_and_its_pool_file_only() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let debs = versions(w.path(), "rm-agent", &["1.0", "2.0"], &arch);
    let other = make_deb(w.path(), "other-agent", "1.0", &arch);
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    ok(publish(&["--repo", r], &[&debs[0], &debs[1], &other]));
    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = client(w.path(), &http, "stable");
    apt.update_clean();
    assert!(apt.policy("rm-agent").contains("Candidate: 2.0"));

    // Bad input and a dry run change nothing.
    let before = tree_hash(&repo);
    for (args, code, needle) in [
        (
            vec!["--remove", "no-such-agent"],
            2,
            "no such package in stable/main",
        ),
        (
            vec!["--remove", "rm-agent=9.9"],
            2,
            "rm-agent=9.9: no such package",
        ),
        (
            vec!["--remove", "Bad_Name"],
            2,
            "expected NAME[=VERSION][/ARCH]",
        ),
        (vec!["--copy", "nowhere", "--all"], 2, "no nowhere/main"),
    ] {
        let o = publish(&[&["--repo", r][..], &args].concat(), &[]);
        refused(&o, code, needle, &repo, &before);
    }
    let nowhere = w.path().join("nowhere");
    let o = publish(
        &["--repo", nowhere.to_str().unwrap(), "--remove", "rm-agent"],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(!nowhere.exists());
    let o = ok(publish(
        &["--repo", r, "--remove", "rm-agent=2.0", "--dry-run"],
        &[],
    ));
    assert!(
        text(&o).contains("would remove: rm-agent 2.0"),
        "{}",
        text(&o)
    );
    assert_eq!(before, tree_hash(&repo));

    // python's http.server answers If-Modified-Since to the second: a Release
    // written in the second apt last fetched it would be "not modified".
    std::thread::sleep(std::time::Duration::from_millis(1010));
    let o = ok(publish(&["--repo", r, "--remove", "rm-agent=2.0"], &[]));
    assert!(text(&o).contains("deleted from the pool"), "{}", text(&o));
    assert_eq!(
        pool_files(&repo),
        [
            "other-agent_1.0_".to_string() + &arch + ".deb",
            format!("rm-agent_1.0_{arch}.deb")
        ]
    );
    apt.update_clean();
    let policy = apt.policy("rm-agent");
    assert!(
        policy.contains("Candidate: 1.0") && !policy.contains("2.0"),
        "{policy}"
    );
    if is_root() {
        let root = dpkg_root(w.path(), &arch);
        let o = install_into(&apt, &root, "rm-agent");
        assert!(o.status.success(), "{}", text(&o));
        assert!(root.join("opt/rm-agent/bin/rm-agent").exists());
    }
}

#[test]
fn keep_leaves_the_newest_versions_in_dpkg_order() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    // dpkg order: 1.0 < 1.1~rc1 < 1.1 < 2.0~beta < 1:0.5
    let debs = versions(
        w.path(),
        "keep-agent",
        &["1.1", "1.0", "1:0.5", "1.1~rc1", "2.0~beta"],
        &arch,
    );
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    for deb in &debs[..4] {
        ok(publish(&["--repo", r], &[deb]));
    }
    // The fifth publish, with --keep 2: the two newest stay.
    ok(publish(&["--repo", r, "--keep", "2"], &[&debs[4]]));
    assert_eq!(
        pool_files(&repo),
        [
            format!("keep-agent_1%3a0.5_{arch}.deb"),
            format!("keep-agent_2.0~beta_{arch}.deb")
        ]
    );
    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = client(w.path(), &http, "stable");
    apt.update_clean();
    let policy = apt.policy("keep-agent");
    assert!(policy.contains("Candidate: 1:0.5"), "{policy}");
    assert!(
        policy.contains("2.0~beta") && !policy.contains(" 1.1 "),
        "{policy}"
    );
    let listed = String::from_utf8(ok(publish(&["--repo", r, "--list"], &[])).stdout).unwrap();
    assert_eq!(listed.lines().count(), 2, "{listed}");
    assert!(listed.starts_with("keep-agent\t2.0~beta\t"), "{listed}");
}

#[test]
fn copy_promotes_without_a_second_pool_file_and_shared_files_survive_removal() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let deb = make_deb(w.path(), "promo-agent", "3.0", &arch);
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    ok(publish(&["--repo", r, "--codename", "testing"], &[&deb]));
    ok(publish(
        &["--repo", r, "--codename", "stable"],
        &[&make_deb(w.path(), "base-agent", "1.0", &arch)],
    ));
    let o = ok(publish(
        &[
            "--repo",
            r,
            "--copy",
            "testing",
            "--codename",
            "stable",
            "promo-agent=3.0",
        ],
        &[],
    ));
    assert!(text(&o).contains("copied: promo-agent 3.0"), "{}", text(&o));
    assert_eq!(pool_files(&repo).len(), 2, "{:?}", pool_files(&repo));
    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let stable = client(w.path(), &http, "stable");
    stable.update_clean();
    assert!(stable.policy("promo-agent").contains("Candidate: 3.0"));

    // Copying again is a no-op; the JSON listing names the one pool file.
    ok(publish(
        &[
            "--repo",
            r,
            "--copy",
            "testing",
            "--codename",
            "stable",
            "--all",
        ],
        &[],
    ));
    let json =
        String::from_utf8(ok(publish(&["--repo", r, "--list", "--json"], &[])).stdout).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    let promo = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["package"] == "promo-agent")
        .unwrap();
    assert_eq!(
        promo["filename"],
        format!("pool/main/p/promo-agent/promo-agent_3.0_{arch}.deb")
    );

    // Removed from testing: stable still names the pool file, so it stays.
    ok(publish(
        &[
            "--repo",
            r,
            "--codename",
            "testing",
            "--remove",
            "promo-agent",
        ],
        &[],
    ));
    assert_eq!(pool_files(&repo).len(), 2);
    std::thread::sleep(std::time::Duration::from_millis(1010));
    stable.update_clean();
    let dl = w.path().join("dl");
    fs::create_dir_all(&dl).unwrap();
    let o = std::process::Command::new("apt-get")
        .current_dir(&dl)
        .env("APT_CONFIG", &stable.conf)
        .args(["download", "promo-agent"])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    // Removed from stable too: now nothing names it, and it goes.
    ok(publish(&["--repo", r, "--remove", "promo-agent"], &[]));
    assert_eq!(pool_files(&repo), [format!("base-agent_1.0_{arch}.deb")]);
}
