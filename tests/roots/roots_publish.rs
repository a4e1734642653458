//! Several roots and one apt repository: two Debian roots (11 and 13) in one
//! `--root` run with `publish:`, and the CI-matrix shell script
//! (`packaging/ci-matrix.sh`: parallel jobs, then one publish); a private apt
//! (own config, state and cache) must see both packages. Needs root.

use crate::common;

use common::roots::{self, write_config};
use common::*;
use std::fs;
use std::path::Path;
use std::process::Command;

/// A private apt (own config, state, cache; trusted local file: source) that
/// answers `apt-cache policy`.
fn apt_candidates(work: &Path, repo: &Path, packages: &[&str]) -> Vec<String> {
    let a = work.join("apt");
    for d in [
        "state/lists/partial",
        "cache/archives/partial",
        "etc/apt.conf.d",
        "etc/sources.list.d",
        "etc/preferences.d",
        "log",
    ] {
        fs::create_dir_all(a.join(d)).unwrap();
    }
    let x = a.display();
    let conf = a.join("apt.conf");
    fs::write(
        &conf,
        format!(
            "Dir::Etc::main \"/dev/null\";\nDir::Etc::parts \"{x}/etc/apt.conf.d\";\n\
             Dir::Etc::sourcelist \"{x}/etc/sources.list\";\nDir::Etc::sourceparts \"{x}/etc/sources.list.d\";\n\
             Dir::Etc::preferencesparts \"{x}/etc/preferences.d\";\nDir::State \"{x}/state\";\n\
             Dir::State::status \"/var/lib/dpkg/status\";\nDir::Cache \"{x}/cache\";\nDir::Log \"{x}/log\";\n\
             Debug::NoLocking \"true\";\nAcquire::Languages \"none\";\n"
        ),
    )
    .unwrap();
    fs::write(
        a.join("etc/sources.list"),
        format!("deb [trusted=yes] file:{} stable main\n", repo.display()),
    )
    .unwrap();
    let apt = |args: &[&str]| {
        let o = Command::new(args[0])
            .args(&args[1..])
            .env("APT_CONFIG", &conf)
            .output()
            .unwrap();
        assert!(o.status.success(), "{args:?}\n{}", text(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    apt(&["apt-get", "update"]);
    packages
        .iter()
        .map(|p| {
            let policy = apt(&["apt-cache", "policy", p]);
            policy
                .lines()
                .find_map(|l| l.trim().strip_prefix("Candidate: "))
                .unwrap_or("(none)")
                .to_string()
        })
        .collect()
}

const PACKAGES: [&str; 3] = [
    "cloudify-debian-bullseye-agent",
    "cloudify-debian-trixie-agent",
    "cloudify-debian-agent-common",
];

#[test]
fn two_roots_one_run_one_publish() {
    let (_k1, deb11) = roots::copy("bullseye");
    let (_k2, deb13) = roots::copy("trixie");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let repo = dir.join("repo");
    write_config(
        dir,
        &format!(
            "build_roots: [{}, {}]\npackage:\n  version: 3.2\n  output_dir: debs\npublish:\n  repo: {}\n",
            deb11.display(),
            deb13.display(),
            repo.display()
        ),
    );
    fs::create_dir(dir.join("debs")).unwrap();
    let before = (roots::listing(&deb11), roots::listing(&deb13));
    let o = cfy_ap(
        dir,
        &["-c", "c.yaml", "--format", "tar,deb", "--dry-run"],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        plan.contains("release:      bullseye (detected)")
            && plan.contains("release:      trixie (detected)"),
        "{plan}"
    );

    let o = cfy_ap(dir, &["-c", "c.yaml", "--format", "tar,deb"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let log = stderr(&o);
    assert!(
        log.contains("==> agent 1/2: debian bullseye")
            && log.contains("==> agent 2/2: debian trixie"),
        "{log}"
    );
    // Two agents and their distribution's common package, written once.
    assert_eq!(log.matches("published 3 debs into").count(), 1, "{log}");
    assert_eq!(
        plan.matches("package:      cloudify-debian-agent-common 3.2-1")
            .count(),
        1,
        "{plan}"
    );
    for (tar, py) in [
        ("debian-bullseye-agent.tar.gz", "python3.9"),
        ("debian-trixie-agent.tar.gz", "python3.13"),
    ] {
        let listing = tool("tar", &["tzf", dir.join(tar).to_str().unwrap()]);
        assert!(
            listing.contains(&format!("/env/lib/{py}/site-packages/celery/")),
            "{tar}"
        );
    }
    assert_eq!((roots::listing(&deb11), roots::listing(&deb13)), before);
    assert_eq!(
        apt_candidates(dir, &repo, &PACKAGES),
        ["3.2-1", "3.2-1", "3.2-1"]
    );
}

#[test]
fn ci_matrix_shell_jobs_then_one_publish() {
    let (_k1, deb11) = roots::copy("bullseye");
    let (_k2, deb13) = roots::copy("trixie");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(dir, "package:\n  version: 3.2\n");
    let repo = dir.join("repo");
    let script = repo_path("packaging/ci-matrix.sh");
    tool(
        "bash",
        &[
            &script,
            bin().to_str().unwrap(),
            dir.join("c.yaml").to_str().unwrap(),
            dir.join("out").to_str().unwrap(),
            repo.to_str().unwrap(),
            deb11.to_str().unwrap(),
            deb13.to_str().unwrap(),
        ],
    );
    assert!(
        dir.join("out/job-1/cloudify-debian-bullseye-agent_3.2-1_all.deb")
            .is_file()
    );
    assert!(
        dir.join("out/job-2/cloudify-debian-trixie-agent_3.2-1_all.deb")
            .is_file()
    );
    // Each job wrote the common package; the same bytes, published once.
    let common = "cloudify-debian-agent-common_3.2-1_all.deb";
    assert!(
        fs::read(dir.join("out/job-1").join(common)).unwrap()
            == fs::read(dir.join("out/job-2").join(common)).unwrap()
    );
    assert_eq!(
        apt_candidates(dir, &repo, &PACKAGES),
        ["3.2-1", "3.2-1", "3.2-1"]
    );
}

fn repo_path(rel: &str) -> String {
    repo().join(rel).display().to_string()
}
