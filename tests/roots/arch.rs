//! Agents for another CPU architecture through `--root` (issue 30): one run in
//! a Debian 12 amd64 root and an arm64 one (mmdebstrap through qemu-user,
//! cached; tests/tools/roots.sh registers qemu's aarch64 binfmt_misc handler)
//! builds two agents, named apart, the arm64 one importing and running inside
//! its root; their `Architecture: all` packages install side by side on one
//! manager (dpkg, dnf), and apt clients of each architecture see theirs; `architecture:` must agree with
//! the root; a root whose programs nothing here can run, and roots of one
//! release for two architectures, are told apart before any work (small crafted
//! roots: an os-release and an ELF header as the Python). Needs root (chroot,
//! mounts, binfmt_misc).

use crate::common;

use common::dnf::Dnf;
use common::roots::{self, IMPORTS, chroot, write_config};
use common::*;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

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

/// The manager packages of one run's two agents, and the common package.
const AMD: &str = "cloudify-debian-bookworm-agent";
const ARM: &str = "cloudify-debian-bookworm-aarch64-agent";
const COMMON: &str = "cloudify-debian-agent-common";

#[test]
fn amd64_and_arm64_agents_of_one_release_from_one_run() {
    // One run, two roots of Debian 12: the host's amd64 and an arm64 one run
    // through qemu; every package into one apt and one yum repository.
    let (_keep_arm, arm) = roots::copy("bookworm:arm64");
    let (_keep_amd, amd) = roots::copy("bookworm");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(
        dir,
        "package:\n  version: '3.2'\npublish:\n  repo: apt\n  rpm_repo: yum\n",
    );
    let (a, r) = (amd.to_str().unwrap(), arm.to_str().unwrap());
    let run = [
        "-c",
        "c.yaml",
        "--format",
        "tar,deb,rpm",
        "--root",
        a,
        "--root",
        r,
    ];

    // The plan: the architecture detected from each root's Python, in the names.
    let o = cfy_ap(dir, &[&run[..], &["--dry-run"]].concat(), &[]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = stdout(&o);
    for want in [
        "architecture: aarch64 (Debian: arm64; detected from the root's /usr/bin/python3; emulated here through binfmt_misc handler qemu-aarch64",
        "architecture: x86_64 (Debian: amd64; detected from the root's /usr/bin/python3",
        "venv:         /cloudify/debian-bookworm-aarch64-agent/env",
        "venv:         /cloudify/debian-bookworm-agent/env",
        "tar members:  cloudify/debian-bookworm-aarch64-agent/env/...",
        &format!(
            "package:      {ARM} 3.2-1 (the agent; depends on {COMMON})\n  architecture: all / noarch (the agent's hosts: aarch64)\n"
        ),
        &format!(
            "package:      {AMD} 3.2-1 (the agent; depends on {COMMON})\n  architecture: all / noarch (the agent's hosts: x86_64)\n"
        ),
        "publish: the debs into apt (stable main, unsigned, listing amd64 arm64)",
    ] {
        assert!(plan.contains(want), "{want:?} not in\n{plan}");
    }
    for tar in ["debian-bookworm-aarch64-agent", "debian-bookworm-agent"] {
        let want = format!("tar:  {}", dir.join(format!("{tar}.tar.gz")).display());
        assert!(plan.contains(&want), "{want:?} not in\n{plan}");
    }

    let before = (roots::listing(&amd), roots::listing(&arm));
    let o = cfy_ap(dir, &run, &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        (roots::listing(&amd), roots::listing(&arm)),
        before,
        "a root changed"
    );
    assert!(roots::mounts_with(r).is_empty() && roots::mounts_with(a).is_empty());
    let mut files = tree(dir);
    files
        .retain(|f| !f.contains('/') && [".deb", ".rpm", ".tar.gz"].iter().any(|x| f.ends_with(x)));
    assert_eq!(
        files,
        [
            format!("{COMMON}-3.2-1.noarch.rpm"),
            format!("{COMMON}_3.2-1_all.deb"),
            format!("{ARM}-3.2-1.noarch.rpm"),
            format!("{ARM}_3.2-1_all.deb"),
            format!("{AMD}-3.2-1.noarch.rpm"),
            format!("{AMD}_3.2-1_all.deb"),
            "debian-bookworm-aarch64-agent.tar.gz".into(),
            "debian-bookworm-agent.tar.gz".into(),
        ]
    );
    let tar = dir.join("debian-bookworm-aarch64-agent.tar.gz");
    let listing = tool("tar", &["tzvf", tar.to_str().unwrap()]);
    assert!(
        listing
            .contains("cloudify/debian-bookworm-aarch64-agent/env/bin/python3 -> /usr/bin/python3"),
        "{listing}"
    );
    let fields = tool(
        "dpkg-deb",
        &[
            "--field",
            dir.join(format!("{ARM}_3.2-1_all.deb")).to_str().unwrap(),
        ],
    );
    for want in [
        "Architecture: all\n",
        " Architecture of the agent's hosts: aarch64\n",
        &format!("Depends: {COMMON} (>= 3.2-1)\n"),
    ] {
        assert!(fields.contains(want), "{want:?} not in\n{fields}");
    }

    // Inside the arm64 root (through qemu): an aarch64 Python, every module
    // imports, the console scripts run.
    tool("tar", &["xzf", tar.to_str().unwrap(), "-C", r]);
    let py = "/cloudify/debian-bookworm-aarch64-agent/env/bin/python";
    let machine = "import platform; print(platform.machine())";
    assert_eq!(chroot(&arm, &[py, "-c", machine]).trim(), "aarch64");
    assert_eq!(chroot(&arm, &[py, "-c", IMPORTS]).trim(), "ok");
    let bin = "/cloudify/debian-bookworm-aarch64-agent/env/bin";
    assert!(chroot(&arm, &[&format!("{bin}/my-plugin-hello")]).contains("hello from my-plugin"));
    chroot(&arm, &[&format!("{bin}/celery"), "--help"]);

    // The apt repository lists both architectures. Two architecture-specific
    // packages join it, one per architecture, to show what each client sees.
    let repo = dir.join("apt");
    let release = fs::read_to_string(repo.join("dists/stable/Release")).unwrap();
    assert!(
        release.contains("\nArchitectures: amd64 arm64\n"),
        "{release}"
    );
    let (amd_only, arm_only) = (
        apt::make_deb(dir, "amd64-tool", "1.0", "amd64"),
        apt::make_deb(dir, "arm64-tool", "1.0", "arm64"),
    );
    apt::ok(apt::publish(
        &["--repo", repo.to_str().unwrap()],
        &[&amd_only, &arm_only],
    ));
    for (arch, sees, not) in [
        ("arm64", "arm64-tool", "amd64-tool"),
        ("amd64", "amd64-tool", "arm64-tool"),
    ] {
        let client = apt::Apt::new(dir, &format!("apt-{arch}"));
        fs::write(
            client.root.join("etc/apt.conf.d/arch"),
            format!("APT::Architecture \"{arch}\";\nAPT::Architectures {{ \"{arch}\"; }};\n"),
        )
        .unwrap();
        client.trust(&format!("file:{}", repo.display()));
        client.update_clean();
        for name in [AMD, ARM, COMMON, sees] {
            let policy = client.policy(name);
            assert!(
                policy.contains("Candidate: "),
                "{arch} does not see {name}:\n{policy}"
            );
        }
        let policy = client.policy(not);
        assert!(
            !policy.contains("Candidate: "),
            "{arch} sees {not}:\n{policy}"
        );
    }

    // On the (amd64) manager: both agents' packages side by side, with dpkg
    // through apt, then one removed; the other's files stay.
    let host = apt::Apt::new(dir, "apt-manager");
    host.trust(&format!("file:{}", repo.display()));
    host.update_clean();
    let droot = apt::dpkg_root(dir, &apt::host_arch());
    let o = apt::install_into(&host, &droot, AMD);
    assert!(o.status.success(), "{}", text(&o));
    let o = apt::install_into(&host, &droot, ARM);
    assert!(o.status.success(), "{}", text(&o));
    let dpkg = |args: &[&str]| {
        let mut all = vec![format!("--root={}", droot.display())];
        all.extend(args.iter().map(|s| s.to_string()));
        Command::new("dpkg").args(&all).output().unwrap()
    };
    let o = dpkg(&["-V", AMD, ARM, COMMON]);
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(&o));
    let agents = droot.join("opt/manager/resources/packages/agents");
    for tar in [
        "debian-bookworm-aarch64-agent.tar.gz",
        "debian-bookworm-agent.tar.gz",
    ] {
        assert_eq!(
            fs::read(agents.join(tar)).unwrap(),
            fs::read(dir.join(tar)).unwrap(),
            "{tar}"
        );
    }
    let o = dpkg(&["-r", AMD]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!agents.join("debian-bookworm-agent.tar.gz").exists());
    let o = dpkg(&["-V", ARM, COMMON]);
    assert!(o.status.success() && o.stdout.is_empty(), "{}", text(&o));

    // The same with dnf from the yum repository the run published into.
    let dnf = Dnf::new(dir);
    dnf.unsigned_repo("agents", &dir.join("yum"));
    dnf.ok("agents", &["install", AMD, ARM]);
    for name in [AMD, ARM, COMMON] {
        assert_eq!(dnf.installed(name), "3.2-1", "{name}");
    }
    dnf.ok("agents", &["remove", ARM]);
    assert_eq!(dnf.installed(ARM), "");
    for name in [AMD, COMMON] {
        dnf.verify(name);
    }
    let agents = dnf.root().join("opt/manager/resources/packages/agents");
    assert!(agents.join("debian-bookworm-agent.tar.gz").is_file());
    assert!(!agents.join("debian-bookworm-aarch64-agent.tar.gz").exists());
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
