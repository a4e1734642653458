//! The portable binary (`packaging/portable.sh`, cargo-zigbuild against glibc
//! 2.17): its highest GLIBC_ symbol version is at most 2.17, and run inside a
//! Debian 11 root (glibc 2.31, Python 3.9; `chroot`, no --root) it builds the
//! fixture agent and its deb with the built-in packaging files. tests/run.sh
//! builds it before `cargo test`, in the profile `$CFY_AP_PORTABLE_PROFILE`
//! (`portable-check` there; portable.sh's default is `release`); here portable.sh
//! runs again with the same profile (a no-op when fresh, a full build otherwise).

use crate::common;

use common::roots::{self, IMPORTS};
use common::*;
use std::fs;

/// `2.17` → (2, 17).
fn version(v: &str) -> (u32, u32) {
    let mut it = v.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    (it.next().unwrap_or(0), it.next().unwrap_or(0))
}

#[test]
fn portable_binary_needs_glibc_2_17_and_builds_inside_debian_11() {
    let out = tempfile::tempdir().unwrap();
    let script = repo().join("packaging/portable.sh");
    // Without the CARGO_* variables `cargo test` sets for tests: they would make the
    // portable build look stale and rebuild it.
    let mut build = std::process::Command::new("bash");
    build.args([script.to_str().unwrap(), out.path().to_str().unwrap()]);
    for (k, _) in std::env::vars() {
        if k.starts_with("CARGO") && k != "CARGO_HOME" && k != "CARGO_TARGET_DIR" {
            build.env_remove(k);
        }
    }
    let o = build.output().unwrap();
    assert!(o.status.success(), "portable.sh failed\n{}", text(&o));
    let bin = out.path().join("cfy-ap");

    let symbols = tool("objdump", &["-T", bin.to_str().unwrap()]);
    let highest = symbols
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
        .filter_map(|w| w.strip_prefix("GLIBC_"))
        .map(version)
        .max()
        .expect("GLIBC_ symbols");
    assert!(highest <= (2, 17), "needs GLIBC_{highest:?}");

    // Inside the Debian 11 root, as on an agent host: the binary, the fixtures and
    // a config; no packaging/ directory anywhere.
    let (_keep, root) = roots::copy("bullseye");
    fs::copy(&bin, root.join("usr/local/bin/cfy-ap")).unwrap();
    tool(
        "cp",
        &[
            "-a",
            fixtures().to_str().unwrap(),
            root.join("fixtures").to_str().unwrap(),
        ],
    );
    fs::create_dir(root.join("work")).unwrap();
    let cfg = roots::config("").replace(&fixtures().display().to_string(), "/fixtures");
    fs::write(root.join("work/c.yaml"), cfg).unwrap();
    let r = root.to_str().unwrap();
    let sh = |cmd: &str| tool("chroot", &[r, "/bin/sh", "-c", cmd]);

    assert!(sh("cfy-ap --version").starts_with("cfy-ap "));
    let plan = sh("cd /work && VERSION=3.2 cfy-ap -c c.yaml --format tar,deb --dry-run");
    assert!(plan.contains("release:      bullseye (detected)"), "{plan}");
    assert!(plan.contains("config files: built-in set debian"), "{plan}");
    sh("cd /work && VERSION=3.2 cfy-ap -c c.yaml --format tar,deb -q");

    let tar = root.join("work/debian-bullseye-agent.tar.gz");
    let deb = root.join("work/cloudify-debian-bullseye-agent_3.2-1_all.deb");
    let common = root.join("work/cloudify-debian-agent-common_3.2-1_all.deb");
    assert!(tar.is_file() && deb.is_file());
    let contents = tool("dpkg-deb", &["-c", common.to_str().unwrap()]);
    assert!(
        contents.contains(
            "./opt/manager/resources/packages/templates/debian-celeryd-cloudify.init.template"
        ),
        "{contents}"
    );
    // The agent it built runs there.
    sh("cd / && tar xzf /work/debian-bullseye-agent.tar.gz");
    let env = "/cloudify/debian-bullseye-agent/env";
    assert_eq!(
        sh(&format!("{env}/bin/python -c \"{IMPORTS}\"")).trim(),
        "ok"
    );
    assert!(sh(&format!("{env}/bin/python --version")).contains("3.9"));
}
