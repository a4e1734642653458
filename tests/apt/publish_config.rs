//! A `publish:` section: `--format deb` builds the deb and publishes it in one run;
//! a bad publish setting fails before anything is built.

use crate::common;

use common::*;

fn setup() -> tempfile::TempDir {
    let w = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(w.path().join("env/bin")).unwrap();
    std::fs::write(w.path().join("env/bin/tool"), "#!/bin/sh\n").unwrap();
    let out = cfy_ap(w.path(), &["archive", "env", "agent.tar.gz"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    w
}

/// Build the manager deb from the agent tar with c.yaml.
const BUILD: [&str; 6] = [
    "-c",
    "c.yaml",
    "--format",
    "deb",
    "--from-tar",
    "agent.tar.gz",
];

fn config(extra: &str) -> String {
    format!(
        "distribution: Ubuntu\nrelease: trusty\noutput_tar: Ubuntu-trusty-agent.tar.gz\n\
         package:\n  version: '3.2'\n  config_files: {}/packaging/ubuntu\n{extra}",
        repo().display()
    )
}

#[test]
fn deb_is_published_in_the_same_run() {
    let w = setup();
    std::fs::write(
        w.path().join("c.yaml"),
        config("publish:\n  repo: apt\n  codename: agents\n  architectures: [aarch64]\n"),
    )
    .unwrap();
    let args = BUILD;
    let dry = cfy_ap(w.path(), &[&args[..], &["--dry-run"]].concat(), &[]);
    assert!(dry.status.success(), "{}", text(&dry));
    // The agent's architecture (the host's, for an agent from a tar) is listed
    // with the configured ones.
    let arch = tool("dpkg", &["--print-architecture"]);
    assert_eq!(arch.trim(), "amd64", "this test assumes an amd64 host");
    let plan = String::from_utf8_lossy(&dry.stdout).into_owned();
    assert!(
        plan.contains("publish: the debs into apt (agents main, unsigned, listing amd64 arm64)"),
        "{plan}"
    );
    let out = cfy_ap(w.path(), &args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let deb = std::fs::read_dir(w.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().ends_with(".deb") && !p.to_string_lossy().contains("common"))
        .expect("the deb");
    let name = deb.file_name().unwrap().to_str().unwrap();
    let pooled = w
        .path()
        .join("apt/pool/main/c/cloudify-ubuntu-trusty-agent")
        .join(name);
    assert_eq!(sha256(&deb), sha256(&pooled));
    let packages = std::fs::read_to_string(w.path().join(format!(
        "apt/dists/agents/main/binary-{}/Packages",
        arch.trim()
    )))
    .unwrap();
    assert!(
        packages.contains("Package: cloudify-ubuntu-trusty-agent\n"),
        "{packages}"
    );
    assert!(
        packages.contains(&format!("SHA256: {}\n", sha256(&deb))),
        "{packages}"
    );
    let release = std::fs::read_to_string(w.path().join("apt/dists/agents/Release")).unwrap();
    assert!(
        release.contains("\nArchitectures: amd64 arm64\n"),
        "{release}"
    );
    assert!(
        packages.contains("Package: cloudify-ubuntu-agent-common\n"),
        "{packages}"
    );

    // Another release's run into the same repository: its agent is added, the
    // common package it shares is already there, the same bytes, unchanged.
    std::fs::write(
        w.path().join("c.yaml"),
        config("publish:\n  repo: apt\n  codename: agents\n").replace("trusty", "xenial"),
    )
    .unwrap();
    let out = cfy_ap(w.path(), &args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let log = stderr(&out);
    assert!(
        log.contains("added: cloudify-ubuntu-xenial-agent 3.2-1")
            && log.contains("already published: cloudify-ubuntu-agent-common 3.2-1"),
        "{log}"
    );
}

#[test]
fn a_bad_publish_key_fails_before_any_work() {
    let w = setup();
    std::fs::write(w.path().join("key.asc"), "not a key\n").unwrap();
    std::fs::write(
        w.path().join("c.yaml"),
        config("publish:\n  repo: apt\n  sign_key: key.asc\n"),
    )
    .unwrap();
    let out = cfy_ap(w.path(), &BUILD, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("key.asc"), "{}", text(&out));
    assert_eq!(
        tree(w.path())
            .iter()
            .filter(|p| p.ends_with(".deb") || p.starts_with("apt"))
            .count(),
        0
    );
    // Without a repo the section is an error too.
    std::fs::write(w.path().join("c.yaml"), config("publish:\n  codename: x\n")).unwrap();
    let out = cfy_ap(w.path(), &BUILD, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("publish.repo"), "{}", text(&out));
}

#[test]
fn publish_keep_in_the_config_retains_the_newest_versions() {
    let w = setup();
    let cfg = |version: &str, keep: &str| {
        config(&format!("publish:\n  repo: apt\n  keep: {keep}\n"))
            .replace("version: '3.2'", &format!("version: '{version}'"))
    };
    std::fs::write(w.path().join("c.yaml"), cfg("1.0", "0")).unwrap();
    let args = BUILD;
    // keep: 0 is refused before anything is built.
    let out = cfy_ap(w.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("publish.keep must be at least 1"));
    assert!(!w.path().join("apt").exists());
    for version in ["1.0", "2.0", "3.0~rc1", "3.0"] {
        std::fs::write(w.path().join("c.yaml"), cfg(version, "2")).unwrap();
        let out = cfy_ap(w.path(), &args, &[]);
        assert!(out.status.success(), "{version}: {}", text(&out));
    }
    let pool = w
        .path()
        .join("apt/pool/main/c/cloudify-ubuntu-trusty-agent");
    let mut left: Vec<String> = std::fs::read_dir(&pool)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let arch = tool("dpkg", &["--print-architecture"]);
    let arch = arch.trim();
    assert_eq!(
        left,
        [
            "cloudify-ubuntu-trusty-agent_3.0-1_all.deb",
            "cloudify-ubuntu-trusty-agent_3.0~rc1-1_all.deb",
        ]
    );
    let packages = std::fs::read_to_string(
        w.path()
            .join(format!("apt/dists/stable/main/binary-{arch}/Packages")),
    )
    .unwrap();
    let versions: Vec<&str> = packages
        .split("\n\n")
        .filter(|st| st.starts_with("Package: cloudify-ubuntu-trusty-agent\n"))
        .flat_map(|st| st.lines().filter_map(|l| l.strip_prefix("Version: ")))
        .collect();
    assert_eq!(versions, ["3.0~rc1-1", "3.0-1"], "{packages}");
}

#[test]
fn publish_release_hashes_in_the_config() {
    let w = setup();
    let cfg = |hashes: &str| {
        config(&format!(
            "publish:\n  repo: apt\n  release_hashes: {hashes}\n"
        ))
    };
    let args = BUILD;
    // A bad list is refused before anything is built.
    std::fs::write(w.path().join("c.yaml"), cfg("[SHA512, MD4]")).unwrap();
    let out = cfy_ap(w.path(), &args, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("publish.release_hashes: unknown checksum \"MD4\""),
        "{}",
        text(&out)
    );
    assert!(!w.path().join("apt").exists());
    std::fs::write(w.path().join("c.yaml"), cfg("[sha256, md5sum]")).unwrap();
    let out = cfy_ap(w.path(), &args, &[]);
    assert!(out.status.success(), "{}", text(&out));
    let release = std::fs::read_to_string(w.path().join("apt/dists/stable/Release")).unwrap();
    let lists: Vec<&str> = release.lines().filter(|l| l.ends_with(':')).collect();
    assert_eq!(lists, ["MD5Sum:", "SHA256:"], "{release}");
}
