//! Agents for another CPU architecture through `--root` (issue 30): a Debian 12
//! arm64 root (mmdebstrap through qemu-user, cached; tests/tools/roots.sh
//! registers qemu's aarch64 binfmt_misc handler) builds an aarch64 agent, named
//! so, that imports and runs inside that root; `architecture:` must agree with
//! the root; a root whose programs nothing here can run, and roots of one
//! release for two architectures, are told apart before any work (small crafted
//! roots: an os-release and an ELF header as the Python). Needs root (chroot,
//! mounts, binfmt_misc).

use crate::common;

use common::roots::{self, IMPORTS, chroot, write_config};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};

/// The first bytes of an ELF executable for `machine` (64-bit).
fn elf_header(little: bool, machine: u16) -> Vec<u8> {
    let mut b = b"\x7fELF\x02".to_vec();
    b.push(if little { 1 } else { 2 });
    b.push(1);
    b.extend([0; 9]);
    let two = |n: u16| {
        if little {
            n.to_le_bytes()
        } else {
            n.to_be_bytes()
        }
    };
    b.extend(two(2));
    b.extend(two(machine));
    b.extend([0; 44]);
    b
}

/// A Debian 12 root holding only its os-release and `python`, a file with
/// those bytes at /usr/bin/python3 (enough for a plan; nothing in it can run).
fn crafted_root(dir: &Path, name: &str, python: &[u8]) -> PathBuf {
    let root = dir.join(name);
    fs::create_dir_all(root.join("etc")).unwrap();
    fs::create_dir_all(root.join("usr/bin")).unwrap();
    fs::write(
        root.join("etc/os-release"),
        "ID=debian\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
    fs::write(root.join("usr/bin/python3"), python).unwrap();
    root
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn no_tars(dir: &Path) -> bool {
    fs::read_dir(dir)
        .unwrap()
        .flatten()
        .all(|e| !e.file_name().to_string_lossy().ends_with(".tar.gz"))
}

#[test]
fn an_arm64_agent_builds_in_an_arm64_root_and_runs_there() {
    let (_keep, root) = roots::copy("bookworm:arm64");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(dir, "");
    let r = root.to_str().unwrap();

    // The plan: the architecture detected from the root's Python, in the names.
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r, "--dry-run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    for want in [
        "architecture: aarch64 (Debian: arm64; detected from the root's /usr/bin/python3; emulated here through binfmt_misc handler qemu-aarch64",
        "venv:         /cloudify/debian-bookworm-aarch64-agent/env",
        "tar members:  cloudify/debian-bookworm-aarch64-agent/env/...",
        &format!(
            "tar:  {}",
            dir.join("debian-bookworm-aarch64-agent.tar.gz").display()
        ),
    ] {
        assert!(plan.contains(want), "{want:?} not in\n{plan}");
    }

    let before = roots::listing(&root);
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(roots::listing(&root), before, "the root changed");
    assert!(roots::mounts_with(r).is_empty());
    let tar = dir.join("debian-bookworm-aarch64-agent.tar.gz");
    assert!(!dir.join("debian-bookworm-agent.tar.gz").exists());
    let listing = tool("tar", &["tzvf", tar.to_str().unwrap()]);
    assert!(
        listing
            .contains("cloudify/debian-bookworm-aarch64-agent/env/bin/python3 -> /usr/bin/python3"),
        "{listing}"
    );

    // Inside the root (through qemu): an aarch64 Python, every module imports,
    // the console scripts run.
    tool("tar", &["xzf", tar.to_str().unwrap(), "-C", r]);
    let py = "/cloudify/debian-bookworm-aarch64-agent/env/bin/python";
    let machine = "import platform; print(platform.machine())";
    assert_eq!(chroot(&root, &[py, "-c", machine]).trim(), "aarch64");
    assert_eq!(chroot(&root, &[py, "-c", IMPORTS]).trim(), "ok");
    let bin = "/cloudify/debian-bookworm-aarch64-agent/env/bin";
    assert!(chroot(&root, &[&format!("{bin}/my-plugin-hello")]).contains("hello from my-plugin"));
    chroot(&root, &[&format!("{bin}/celery"), "--help"]);
}

#[test]
fn a_configured_architecture_must_be_the_root_s() {
    // A crafted arm64 root: the check reads the header, nothing runs.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let root = crafted_root(dir, "arm64", &elf_header(true, 0xb7));
    let r = root.to_str().unwrap();
    for (given, ok) in [("arm64", true), ("aarch64", true), ("amd64", false)] {
        // Line 1, after `architecture: ` (column 15).
        let cfg = format!("architecture: {given}\n{}", roots::config(""));
        fs::write(dir.join("c.yaml"), cfg).unwrap();
        let before = roots::listing(&root);
        for dry in [true, false] {
            let mut args = vec!["-c", "c.yaml", "--root", r];
            if dry {
                args.push("--dry-run");
            }
            let o = cfy_ap(dir, &args, &[]);
            if ok {
                assert!(dry, "only dry runs in a crafted root");
                assert!(o.status.success(), "{given}: {}", text(&o));
                assert!(
                    stdout(&o).contains("architecture: aarch64 (Debian: arm64; architecture:, as detected from the root's /usr/bin/python3"),
                    "{}",
                    text(&o)
                );
                break;
            }
            assert_eq!(o.status.code(), Some(2), "{given}: {}", text(&o));
            assert!(
                stderr(&o).contains(
                    "c.yaml:1:15: architecture: amd64 does not match the agent's, aarch64 (detected from the root's /usr/bin/python3)"
                ),
                "{}",
                text(&o)
            );
        }
        assert_eq!(roots::listing(&root), before);
        assert!(no_tars(dir));
    }
    // Not a name at all: located too.
    fs::write(
        dir.join("c.yaml"),
        format!("architecture: 'arm 64'\n{}", roots::config("")),
    )
    .unwrap();
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r, "--dry-run"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("c.yaml:1:15: architecture: \"arm 64\" is not an architecture name"),
        "{}",
        text(&o)
    );
}

#[test]
fn a_root_nothing_here_can_run_is_refused_before_any_work() {
    // An s390x root: no binfmt_misc handler for it here (the set-up registers
    // only aarch64), so refused from its Python's header, dry run or not.
    if Path::new("/proc/sys/fs/binfmt_misc/qemu-s390x").exists() {
        eprintln!("skipped: this host has a qemu-s390x handler registered");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(dir, "");
    let root = crafted_root(dir, "s390x", &elf_header(false, 0x16));
    let r = root.to_str().unwrap();
    let before = roots::listing(&root);
    for args in [vec!["--root", r, "--dry-run"], vec!["--root", r]] {
        let mut all = vec!["-c", "c.yaml"];
        all.extend(args);
        let o = cfy_ap(dir, &all, &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        let err = stderr(&o);
        let wants: [&str; 3] = [
            &format!(
                "cannot run the programs of the root {r} here (the root's /usr/bin/python3 is s390x): its programs are s390x and this host is {}",
                std::env::consts::ARCH
            ),
            "install qemu-user-static",
            "binfmt_misc",
        ];
        for want in wants {
            assert!(err.contains(want), "{want:?}\n{}", text(&o));
        }
    }
    assert_eq!(roots::listing(&root), before);
    assert!(no_tars(dir));
}

#[test]
fn one_release_for_two_architectures_gets_two_names() {
    // Two roots of Debian 12, aarch64 and the host's x86_64: two agents, two
    // names; two aarch64 ones clash.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(dir, "");
    let arm = crafted_root(dir, "arm64", &elf_header(true, 0xb7));
    let amd = crafted_root(dir, "amd64", &elf_header(true, 0x3e));
    let arm2 = crafted_root(dir, "arm64-again", &elf_header(true, 0xb7));
    let (a, x) = (arm.to_str().unwrap(), amd.to_str().unwrap());
    let o = cfy_ap(
        dir,
        &["-c", "c.yaml", "--root", a, "--root", x, "--dry-run"],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    let plan = stdout(&o);
    for want in [
        "venv:         /cloudify/debian-bookworm-aarch64-agent/env",
        "venv:         /cloudify/debian-bookworm-agent/env",
        "tar:  ",
    ] {
        assert!(plan.contains(want), "{want:?} not in\n{plan}");
    }
    assert!(plan.contains(&format!(
        "tar:  {}",
        dir.join("debian-bookworm-aarch64-agent.tar.gz").display()
    )));
    assert!(plan.contains(&format!(
        "tar:  {}",
        dir.join("debian-bookworm-agent.tar.gz").display()
    )));
    let o = cfy_ap(
        dir,
        &[
            "-c",
            "c.yaml",
            "--root",
            a,
            "--root",
            arm2.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("are both debian bookworm for aarch64"),
        "{}",
        text(&o)
    );
    assert!(no_tars(dir));
}
