//! `--root DIR` / `build_roots:` against real Debian roots (mmdebstrap, cached;
//! see tests/common/roots.rs): the agent is built with the root's own Python
//! (Debian 11: 3.9, pip 20.3; Debian 13: 3.13), offline from the fixture wheels;
//! it imports and runs inside the root, its deb installs and removes with the
//! root's dpkg, and the root is listed before and after: unchanged, nothing
//! mounted, after success, failure and Ctrl-C. Needs root (chroot, mounts).

use crate::common;

use common::roots::{self, IMPORTS, chroot, write_config};
use common::*;
use std::fs;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn builds_in_a_debian_11_root_left_unchanged() {
    let (_keep, root) = roots::copy("bullseye");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // The modules from their source trees: pip builds them inside the root.
    fs::write(dir.join("c.yaml"), roots::source_config("")).unwrap();
    let r = root.to_str().unwrap();

    // The plan per root: detected from the root, paths inside it, built-in packaging.
    let o = cfy_ap(
        dir,
        &[
            "-c",
            "c.yaml",
            "--root",
            r,
            "--format",
            "tar,deb",
            "--dry-run",
        ],
        &[("VERSION", "3.2")],
    );
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    for want in [
        "distribution: debian (detected)",
        "release:      bullseye (detected)",
        &format!("root:         {r} "),
        "venv:         /cloudify/debian-bullseye-agent/env",
        "python:       /usr/bin/python3",
        "config files: built-in set debian",
        &format!(
            "host paths shown read-only inside: {}/modules/cloudify-diamond-plugin",
            fixtures().display()
        ),
    ] {
        assert!(plan.contains(want), "{want:?} not in\n{plan}");
    }

    // Built from a read-only mount of the root: the build never writes to it.
    let before = roots::listing(&root);
    let ro = roots::read_only(&root);
    let o = cfy_ap(
        dir,
        &["-c", "c.yaml", "--root", r, "--format", "tar,deb"],
        &[("VERSION", "3.2"), ("SOURCE_DATE_EPOCH", "1700000000")],
    );
    drop(ro);
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(roots::listing(&root), before, "the root changed");
    assert!(
        roots::mounts_with(r).is_empty(),
        "{:?}",
        roots::mounts_with(r)
    );
    assert!(roots::mounts_with("cfy-ap-root").is_empty());

    // The tar: named by the root, bin/python the root's Python 3.9.
    let tar = dir.join("debian-bullseye-agent.tar.gz");
    let listing = tool("tar", &["tzvf", tar.to_str().unwrap()]);
    assert!(
        listing.contains("cloudify/debian-bullseye-agent/env/bin/python3 -> /usr/bin/python3"),
        "{listing}"
    );
    assert!(
        listing.contains("env/lib/python3.9/site-packages/celery/"),
        "{listing}"
    );
    let cfg = tool(
        "tar",
        &[
            "xzOf",
            tar.to_str().unwrap(),
            "cloudify/debian-bullseye-agent/env/pyvenv.cfg",
        ],
    );
    assert!(cfg.contains("version = 3.9."), "{cfg}");

    // Same inputs and SOURCE_DATE_EPOCH: the same bytes (in another directory).
    let again = tempfile::tempdir().unwrap();
    fs::write(again.path().join("c.yaml"), roots::source_config("")).unwrap();
    let o = cfy_ap(
        again.path(),
        &["-c", "c.yaml", "--root", r],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(
        sha256(&again.path().join("debian-bullseye-agent.tar.gz")),
        sha256(&tar)
    );

    // Extracted into the root: every module imports, the console scripts run.
    tool("tar", &["xzf", tar.to_str().unwrap(), "-C", r]);
    let env = "/cloudify/debian-bullseye-agent/env";
    assert_eq!(
        chroot(&root, &[&format!("{env}/bin/python"), "-c", IMPORTS]).trim(),
        "ok"
    );
    assert!(
        chroot(&root, &[&format!("{env}/bin/my-plugin-hello")]).contains("hello from my-plugin")
    );
    chroot(&root, &[&format!("{env}/bin/celery"), "--help"]);
    assert!(chroot(&root, &[&format!("{env}/bin/python"), "--version"]).contains("3.9"));

    // The deb installs and removes with the root's own dpkg.
    let deb = dir.join("cloudify-debian-bullseye-agent_3.2-1_all.deb");
    fs::copy(&deb, root.join("tmp/agent.deb")).unwrap();
    let common = dir.join("cloudify-debian-agent-common_3.2-1_all.deb");
    fs::copy(&common, root.join("tmp/common.deb")).unwrap();
    chroot(&root, &["dpkg", "-i", "/tmp/common.deb", "/tmp/agent.deb"]);
    let agent = root.join("opt/manager/resources/packages/agents/debian-bullseye-agent.tar.gz");
    assert_eq!(fs::read(&agent).unwrap(), fs::read(&tar).unwrap());
    let init =
        root.join("opt/manager/resources/packages/templates/debian-celeryd-cloudify.init.template");
    assert_eq!(
        fs::read(&init).unwrap(),
        fs::read(repo().join("packaging/debian/celeryd-cloudify.init.template")).unwrap()
    );
    chroot(&root, &["dpkg", "-r", "cloudify-debian-bullseye-agent"]);
    assert!(!agent.exists() && init.exists());
    chroot(&root, &["dpkg", "-r", "cloudify-debian-agent-common"]);
    assert!(!init.exists());
}

#[test]
fn keep_venv_puts_the_venv_into_the_root_and_force_replaces_it() {
    let (_keep, root) = roots::copy("trixie");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(dir, "keep_venv: true\nvenv: /opt/agent/env\n");
    let r = root.to_str().unwrap();
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let env = root.join("opt/agent/env");
    assert!(env.join("pyvenv.cfg").is_file());
    assert_eq!(
        chroot(&root, &["/opt/agent/env/bin/python", "-c", IMPORTS]).trim(),
        "ok"
    );
    assert!(chroot(&root, &["/opt/agent/env/bin/python", "--version"]).contains("3.13"));

    // Existing venv in the root: refused (3) without -f, the root untouched.
    let before = roots::listing(&root);
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        stderr(&o).contains("virtualenv /opt/agent/env already exists")
            || stderr(&o).contains("already exists"),
        "{}",
        text(&o)
    );
    assert_eq!(roots::listing(&root), before);

    // -f rebuilds it (inside the overlay) and copies the new one in.
    fs::write(env.join("marker"), "old").unwrap();
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r, "-f"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(!env.join("marker").exists());
    assert_eq!(
        chroot(&root, &["/opt/agent/env/bin/python", "-c", IMPORTS]).trim(),
        "ok"
    );

    // keep_venv on a read-only root: refused before any work.
    let ro = roots::read_only(&root);
    let before = roots::listing(&root);
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r, "-f"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("read-only mount"), "{}", text(&o));
    assert_eq!(roots::listing(&root), before);
    drop(ro);
}

#[test]
fn a_failed_build_leaves_the_root_unchanged() {
    let (_keep, root) = roots::copy("trixie");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // The plugin is not among the fixture wheels: pip fails inside the root.
    let cfg = roots::config("").replace("  - my-plugin==1.0\n", "  - no-such-module==1.0\n");
    assert!(cfg.contains("no-such-module"), "{cfg}");
    fs::write(dir.join("c.yaml"), cfg).unwrap();
    let r = root.to_str().unwrap();
    let before = roots::listing(&root);
    let o = cfy_ap(dir, &["-c", "c.yaml", "--root", r], &[]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("could not install module additional_modules[0]"),
        "{}",
        text(&o)
    );
    assert_eq!(roots::listing(&root), before);
    assert!(roots::mounts_with(r).is_empty());
    assert!(!dir.join("debian-trixie-agent.tar.gz").exists());
}

/// Processes whose process group is `pgid`.
fn group_members(pgid: u32) -> Vec<u32> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(stat) = fs::read_to_string(e.path().join("stat")) else {
            continue;
        };
        // pid (comm) state ppid pgrp ...: fields after the last ')'.
        let rest = &stat[stat.rfind(')').unwrap() + 2..];
        if rest.split(' ').nth(2) == Some(&pgid.to_string()) {
            out.push(pid);
        }
    }
    out
}

#[test]
fn ctrl_c_leaves_the_root_unchanged_and_nothing_mounted() {
    use std::os::unix::process::CommandExt;
    let (_keep, root) = roots::copy("trixie");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let tmp = dir.join("tmp");
    fs::create_dir(&tmp).unwrap();
    // The source trees: pip is still at work when the signal comes.
    fs::write(dir.join("c.yaml"), roots::source_config("")).unwrap();
    let r = root.to_str().unwrap();
    let before = roots::listing(&root);
    let mut child = Command::new(bin())
        .current_dir(dir)
        .args(["-c", "c.yaml", "--root", r])
        .env("TMPDIR", &tmp)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .unwrap();
    let pgid = child.id();
    // Wait until pip is installing inside the root (the venv has its pip).
    let deadline = Instant::now() + Duration::from_secs(120);
    let installing = || {
        fs::read_dir(&tmp).unwrap().flatten().any(|e| {
            e.path()
                .join("upper/cloudify/debian-trixie-agent/env/lib/python3.13/site-packages/celery")
                .exists()
        })
    };
    while !installing() {
        assert!(
            Instant::now() < deadline,
            "the build never got to installing"
        );
        assert!(child.try_wait().unwrap().is_none(), "the build ended early");
        std::thread::sleep(Duration::from_millis(50));
    }
    // What a terminal's Ctrl-C does: SIGINT to the whole foreground group.
    tool("kill", &["-INT", "--", &format!("-{pgid}")]);
    let status = child.wait().unwrap();
    // cfy-ap catches SIGINT, stops the build's processes and cleans up: 128 + 2.
    assert_eq!(status.code(), Some(130), "{status:?}");
    let deadline = Instant::now() + Duration::from_secs(30);
    while !group_members(pgid).is_empty() {
        assert!(
            Instant::now() < deadline,
            "processes left: {:?}",
            group_members(pgid)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(roots::listing(&root), before, "the root changed");
    assert!(roots::mounts_with(r).is_empty());
    assert!(roots::mounts_with(tmp.to_str().unwrap()).is_empty());
    assert!(!dir.join("debian-trixie-agent.tar.gz").exists());

    // The interrupted run removed its scratch directory (a killed one's is swept
    // by the next run), and the next run works.
    let scratch = || -> Vec<String> {
        fs::read_dir(&tmp)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("cfy-ap-root."))
            .collect()
    };
    assert!(scratch().is_empty(), "{:?}", scratch());
    let o = cfy_ap(
        dir,
        &["-c", "c.yaml", "--root", r],
        &[("TMPDIR", tmp.to_str().unwrap())],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert!(scratch().is_empty(), "{:?}", scratch());
    assert_eq!(roots::listing(&root), before);
}

#[test]
fn bad_roots_are_refused_before_any_work() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(dir, "");
    let run = |args: &[&str]| {
        let mut v = vec!["-c", "c.yaml"];
        v.extend_from_slice(args);
        cfy_ap(dir, &v, &[])
    };
    let expect = |args: &[&str], code: i32, message: &str| {
        let o = run(args);
        assert_eq!(o.status.code(), Some(code), "{args:?}\n{}", text(&o));
        assert!(stderr(&o).contains(message), "{message:?}\n{}", text(&o));
    };
    // Missing, and not a directory.
    expect(
        &["--root", "/nonexistent/root"],
        2,
        "--root /nonexistent/root: No such file or directory",
    );
    fs::write(dir.join("file"), "x").unwrap();
    expect(&["--root", "file"], 2, "not a directory");

    // No os-release (nothing to name the agent by).
    let bare = dir.join("bare");
    fs::create_dir_all(bare.join("usr/bin")).unwrap();
    fs::write(bare.join("usr/bin/python3"), "").unwrap();
    let b = bare.to_str().unwrap();
    let before = roots::listing(&bare);
    expect(&["--root", b], 2, "cannot detect the distribution");
    expect(&["--root", b], 2, "is this a root filesystem?");
    assert_eq!(roots::listing(&bare), before);

    // os-release but no Python.
    let nopy = dir.join("nopy");
    fs::create_dir_all(nopy.join("etc")).unwrap();
    fs::write(
        nopy.join("etc/os-release"),
        "ID=debian\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
    let n = nopy.to_str().unwrap();
    let before = roots::listing(&nopy);
    expect(&["--root", n], 2, "no Python in the root");
    assert_eq!(roots::listing(&nopy), before);

    // os-release and a python3, but no /bin/sh to run anything with.
    let nosh = dir.join("nosh");
    fs::create_dir_all(nosh.join("etc")).unwrap();
    fs::create_dir_all(nosh.join("usr/bin")).unwrap();
    fs::write(
        nosh.join("etc/os-release"),
        "ID=debian\nVERSION_CODENAME=bookworm\n",
    )
    .unwrap();
    fs::write(nosh.join("usr/bin/python3"), "").unwrap();
    let before = roots::listing(&nosh);
    expect(
        &["--root", nosh.to_str().unwrap()],
        2,
        "cannot set up the root",
    );
    assert_eq!(roots::listing(&nosh), before);

    // Two roots with the same name: refused before building either.
    let (_k, deb11) = roots::copy("bullseye");
    let d = deb11.to_str().unwrap();
    let copy2 = dir.join("again");
    tool("cp", &["-a", d, copy2.to_str().unwrap()]);
    expect(
        &["--root", d, "--root", copy2.to_str().unwrap()],
        2,
        "are both debian bullseye",
    );
    assert!(
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .all(|e| !e.file_name().to_string_lossy().ends_with(".tar.gz"))
    );

    // A root path a mount option cannot carry.
    let odd = dir.join("a,b");
    fs::create_dir(&odd).unwrap();
    expect(&["--root", odd.to_str().unwrap()], 2, "must not contain");

    // --from-tar does not combine with roots.
    expect(
        &["--root", d, "--format", "deb", "--from-tar", "x.tar.gz"],
        2,
        "--from-tar",
    );
}

#[test]
fn an_unprivileged_user_builds_in_a_root_owned_by_root() {
    // As nobody, in a root owned by real root: `--user --map-root-user` is added,
    // the build is the same, the root left unchanged.
    let (keep, root) = roots::copy("trixie");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    write_config(dir, "");
    for p in [keep.path(), dir] {
        fs::set_permissions(p, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    }
    tool("chown", &["-R", "65534:65534", dir.to_str().unwrap()]);
    let before = roots::listing(&root);
    let o = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(bin())
        .args(["-c", "c.yaml", "--root", root.to_str().unwrap()])
        .current_dir(dir)
        .env("HOME", dir)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(roots::listing(&root), before, "the root changed");
    let tar = dir.join("debian-trixie-agent.tar.gz");
    let listing = tool("tar", &["tzvf", tar.to_str().unwrap()]);
    assert!(
        listing.contains("env/lib/python3.13/site-packages/my_plugin/"),
        "{listing}"
    );
    assert!(listing.lines().all(|l| l.contains(" root/root ")));
}

#[test]
fn pip_in_a_root_trusts_the_ca_file_the_host_names() {
    use common::http::{CA_VARS, fixture_index};
    // An HTTPS index on 127.0.0.1 whose certificate only a throwaway CA signed:
    // what a private index or a TLS-intercepting proxy looks like to pip.
    let (_keep, root) = roots::copy("bullseye");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let (tls, https, cfg) = fixture_index(dir, &roots::config(""));
    fs::write(dir.join("c.yaml"), cfg).unwrap();
    // The build's temporary directory (shown read-write in the root) does not
    // hold the CA: only showing the CA file itself makes it visible there.
    let tmp = dir.join("tmp");
    fs::create_dir(&tmp).unwrap();
    let tmp = tmp.to_str().unwrap();
    let r = root.to_str().unwrap();
    let ca = tls.ca.to_str().unwrap();
    let args = ["-c", "c.yaml", "--root", r];
    let before = roots::listing(&root);

    // The dry run names the file and how the root sees it.
    let mut dry = args.to_vec();
    dry.push("--dry-run");
    let o = Cmd::cfy_ap()
        .current_dir(dir)
        .args(&dry)
        .env("PIP_CERT", ca)
        .envs_remove(&CA_VARS[1..])
        .output();
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    let want = format!("CA bundle:    {ca} (PIP_CERT; shown read-only inside the root)");
    assert!(plan.contains(&want), "{want:?} not in\n{plan}");
    // Among the host paths the root is shown (the only one: the modules come
    // from the index).
    assert!(
        plan.lines().any(|l| l
            .trim_start()
            .starts_with("host paths shown read-only inside: ")
            && l.ends_with(ca)),
        "{plan}"
    );

    // Without a CA variable pip cannot trust the index: one failure, pip's reason.
    let o = Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .env("TMPDIR", tmp)
        .envs_remove(&CA_VARS)
        .output();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let err = stderr(&o);
    assert!(
        err.contains("could not reach the package index or a download: certificate verify failed"),
        "{err}"
    );
    assert!(err.contains("CERTIFICATE_VERIFY_FAILED"), "{err}");
    assert!(!dir.join("debian-bullseye-agent.tar.gz").exists());

    // PIP_CERT names the CA on the host: shown in the root, pip trusts the index.
    let o = Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .envs(&[("PIP_CERT", ca), ("TMPDIR", tmp)])
        .envs_remove(&CA_VARS[1..])
        .output();
    assert!(o.status.success(), "{}", text(&o));
    let tar = dir.join("debian-bullseye-agent.tar.gz");
    let listing = tool("tar", &["tzf", tar.to_str().unwrap()]);
    assert!(
        listing.contains("env/lib/python3.9/site-packages/celery/"),
        "{listing}"
    );
    assert!(
        https
            .requests()
            .contains("GET /files/celery-3.1.17-py3-none-any.whl"),
        "{}",
        https.requests()
    );
    fs::remove_file(&tar).unwrap();

    // Only SSL_CERT_FILE (which this pip does not read): pip is given PIP_CERT.
    let o = Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .envs(&[("SSL_CERT_FILE", ca), ("TMPDIR", tmp)])
        .envs_remove(&CA_VARS[..3])
        .output();
    assert!(o.status.success(), "{}", text(&o));
    assert!(tar.exists());

    // A variable naming a missing file: exit 2 before any work.
    let missing = dir.join("ca/missing.pem");
    let o = Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .env("REQUESTS_CA_BUNDLE", &missing)
        .output();
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains(&format!(
            "REQUESTS_CA_BUNDLE={} names a CA bundle that cannot be read",
            missing.display()
        )),
        "{}",
        text(&o)
    );
    assert!(!stderr(&o).contains("==>"), "{}", text(&o));

    assert_eq!(roots::listing(&root), before, "the root changed");
    assert!(roots::mounts_with(r).is_empty());
}
