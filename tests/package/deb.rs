//! `--format deb` checked with the real Debian tools: dpkg-deb, dpkg (in a
//! throwaway root) and lintian. Most tests package a small synthetic agent tar
//! with `--from-tar`; one runs the whole pipeline on the offline fixtures.

use crate::common;

use common::package::{EPOCH, Setup, cfy_ap};
use common::repo;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const NAME: &str = "cloudify-ubuntu-trusty-agent";
const RES: &str = "opt/manager/resources/packages";
const COMMON: &str = "cloudify-ubuntu-agent-common";

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a system tool, panics unless it exits 0; returns stdout.
fn tool(program: &str, args: &[&str]) -> Vec<u8> {
    let o = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} (apt-get install it): {e}"));
    assert!(
        o.status.success(),
        "{program} {args:?} failed:\n{}",
        show(&o)
    );
    o.stdout
}

fn tool_text(program: &str, args: &[&str]) -> String {
    String::from_utf8(tool(program, args)).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// ar member names of a .deb, in order.
fn ar_members(deb: &Path) -> Vec<String> {
    let b = fs::read(deb).unwrap();
    assert_eq!(&b[..8], b"!<arch>\n");
    let mut at = 8;
    let mut names = Vec::new();
    while at < b.len() {
        let h = &b[at..at + 60];
        assert_eq!(&h[58..60], b"`\n");
        assert_eq!(&h[28..48], b"0     0     100644  ", "uid/gid/mode");
        assert_eq!(std::str::from_utf8(&h[16..28]).unwrap().trim(), EPOCH);
        let size: usize = std::str::from_utf8(&h[48..58])
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        names.push(
            std::str::from_utf8(&h[..16])
                .unwrap()
                .trim_end()
                .to_string(),
        );
        at += 60 + size + size % 2;
    }
    assert_eq!(at, b.len());
    names
}

#[test]
fn deb_reads_back_with_dpkg_deb() {
    let st = Setup::new("deb", "version: 3.2rc1");
    let deb = st.package(&[], &[]);
    // `Architecture: all`: it installs on any manager.
    assert_eq!(
        deb.file_name().unwrap().to_str().unwrap(),
        format!("{NAME}_3.2~rc1-1_all.deb")
    );
    assert_eq!(
        ar_members(&deb),
        ["debian-binary", "control.tar.gz", "data.tar.gz"]
    );

    let info = tool_text("dpkg-deb", &["--field", s(&deb)]);
    for want in [
        format!("Package: {NAME}\n"),
        "Version: 3.2~rc1-1\n".into(),
        "Architecture: all\n".into(),
        "Section: misc\nPriority: optional\n".into(),
        "Maintainer: Cloudify Agent Packager <cfy-ap@example.invalid>\n".into(),
        "Description: Cloudify agent for Ubuntu trusty\n".into(),
        " Distribution: Ubuntu\n Release: trusty\n".into(),
        format!("Depends: {COMMON} (>= 3.2~rc1-1)\n"),
    ] {
        assert!(info.contains(&want), "{want:?} missing in\n{info}");
    }

    let listing = tool_text("dpkg-deb", &["--contents", s(&deb)]);
    let got: Vec<(String, String, String)> = listing
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].to_string(), f[1].to_string(), f[5].to_string())
        })
        .collect();
    let mut want: Vec<(String, String, String)> = Vec::new();
    let mut add = |perm: &str, name: String| want.push((perm.into(), "root/root".into(), name));
    for d in [
        "./",
        "./opt/",
        "./opt/manager/",
        "./opt/manager/resources/",
        &format!("./{RES}/"),
        &format!("./{RES}/agents/"),
    ] {
        add("drwxr-xr-x", d.to_string());
    }
    add(
        "-rw-r--r--",
        format!("./{RES}/agents/Ubuntu-trusty-agent.tar.gz"),
    );
    for d in [
        "./usr/",
        "./usr/share/",
        "./usr/share/doc/",
        &format!("./usr/share/doc/{NAME}/"),
    ] {
        add("drwxr-xr-x", d.to_string());
    }
    add(
        "-rw-r--r--",
        format!("./usr/share/doc/{NAME}/changelog.Debian.gz"),
    );
    add("-rw-r--r--", format!("./usr/share/doc/{NAME}/copyright"));
    add("drwxr-xr-x", "./usr/share/lintian/".into());
    add("drwxr-xr-x", "./usr/share/lintian/overrides/".into());
    add(
        "-rw-r--r--",
        format!("./usr/share/lintian/overrides/{NAME}"),
    );
    assert_eq!(got, want, "\n{listing}");

    // The distribution's files are in the common package, for every architecture.
    let common = st.common();
    assert_eq!(
        common.file_name().unwrap().to_str().unwrap(),
        format!("{COMMON}_3.2~rc1-1_all.deb")
    );
    let fields = tool_text("dpkg-deb", &["--field", s(&common)]);
    assert!(
        fields.contains("Architecture: all\n") && !fields.contains("Depends"),
        "{fields}"
    );
    let listing = tool_text("dpkg-deb", &["--contents", s(&common)]);
    for (perm, file) in [
        ("-rwxr-xr-x", "scripts/Ubuntu-agent-disable-requiretty.sh"),
        (
            "-rw-r--r--",
            "templates/Ubuntu-celeryd-cloudify.conf.template",
        ),
        (
            "-rw-r--r--",
            "templates/Ubuntu-celeryd-cloudify.init.template",
        ),
    ] {
        let line = listing
            .lines()
            .find(|l| l.ends_with(&format!("./{RES}/{file}")));
        assert!(
            line.is_some_and(|l| l.starts_with(perm)),
            "{file}:\n{listing}"
        );
    }
    assert!(!listing.contains("agents/"), "{listing}");

    // The agent tar inside is the input, byte for byte; GNU tar, no PAX headers.
    let tmp = tempfile::tempdir().unwrap();
    let tarfile = tmp.path().join("data.tar");
    fs::write(&tarfile, tool("dpkg-deb", &["--fsys-tarfile", s(&deb)])).unwrap();
    assert!(!tool_text("tar", &["-tvf", s(&tarfile)]).contains("PaxHeader"));
    let x = tmp.path().join("x");
    tool("dpkg-deb", &["-x", s(&deb), s(&x)]);
    let inside = fs::read(x.join(RES).join("agents/Ubuntu-trusty-agent.tar.gz")).unwrap();
    assert!(
        inside == fs::read(st.path().join("agent.tar.gz")).unwrap(),
        "agent tar differs"
    );
    let changelog = tool_text(
        "sh",
        &[
            "-c",
            &format!(
                "gzip -dc {}/usr/share/doc/{NAME}/changelog.Debian.gz",
                s(&x)
            ),
        ],
    );
    assert!(
        changelog.starts_with(&format!("{NAME} (3.2~rc1-1) unstable; urgency=medium\n")),
        "{changelog}"
    );
    assert!(
        changelog.contains("  Tue, 14 Nov 2023 22:13:20 +0000\n"),
        "{changelog}"
    );

    // Installed-Size: dpkg-gencontrol's rule on the extracted tree.
    let mut kib = 0;
    for e in walkdir::WalkDir::new(&x) {
        let m = e.unwrap().metadata().unwrap();
        kib += if m.is_dir() {
            1
        } else {
            m.len().div_ceil(1024)
        };
    }
    assert!(
        info.contains(&format!("Installed-Size: {kib}\n")),
        "want {kib}:\n{info}"
    );

    // md5sums: 0644, two spaces, no ./, final newline, every file.
    let ctrl = tmp.path().join("ctrl");
    tool("dpkg-deb", &["-e", s(&deb), s(&ctrl)]);
    let md5 = ctrl.join("md5sums");
    assert_eq!(
        fs::metadata(&md5).unwrap().permissions().mode() & 0o777,
        0o644
    );
    let text = fs::read_to_string(&md5).unwrap();
    assert!(text.ends_with('\n') && !text.contains("./") && !text.contains("\n\n"));
    assert_eq!(text.lines().count(), 4, "{text}");
    let check = Command::new("md5sum")
        .arg("-c")
        .arg(&md5)
        .current_dir(&x)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", show(&check));
}

/// An empty dpkg database in a temporary directory, driven with `dpkg --root`.
struct DpkgRoot {
    dir: tempfile::TempDir,
}

impl DpkgRoot {
    fn new() -> DpkgRoot {
        let dir = tempfile::tempdir().unwrap();
        for d in [
            "var/lib/dpkg/info",
            "var/lib/dpkg/updates",
            "var/lib/dpkg/triggers",
        ] {
            fs::create_dir_all(dir.path().join(d)).unwrap();
        }
        fs::write(dir.path().join("var/lib/dpkg/status"), "").unwrap();
        fs::write(dir.path().join("var/lib/dpkg/available"), "").unwrap();
        DpkgRoot { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// `dpkg --root=<root> --force-not-root <args>`.
    fn run(&self, args: &[&str]) -> Output {
        let r = s(self.path());
        Command::new("dpkg")
            .arg(format!("--root={r}"))
            .arg("--force-not-root")
            .arg(format!("--log={r}/dpkg.log"))
            .args(args)
            .output()
            .expect("dpkg not installed: apt-get install -y dpkg")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "dpkg {args:?}: {}", show(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// `Status Version` of an installed package.
    fn status(&self, name: &str) -> String {
        tool_text(
            "dpkg-query",
            &[
                &format!("--admindir={}/var/lib/dpkg", s(self.path())),
                "-W",
                "-f",
                "${Status} ${Version}",
                name,
            ],
        )
    }

    /// Every path the packages installed (outside dpkg's database).
    fn files(&self) -> Vec<PathBuf> {
        let r = self.path();
        walkdir::WalkDir::new(r)
            .into_iter()
            .map(|e| e.unwrap().into_path())
            .filter(|p| !p.starts_with(r.join("var")) && p != r && !p.ends_with("dpkg.log"))
            .collect()
    }
}

#[test]
fn installs_verifies_and_removes_in_a_throwaway_root() {
    let st = Setup::new("deb", "version: 3.2rc1");
    let deb = st.package(&[], &[]);
    let common = st.common();
    let root = DpkgRoot::new();
    let r = root.path();
    // The agent needs its distribution's common package.
    let alone = root.run(&["-i", s(&deb)]);
    assert!(!alone.status.success(), "{}", show(&alone));
    assert!(
        show(&alone).contains(&format!("depends on {COMMON} (>= 3.2~rc1-1)")),
        "{}",
        show(&alone)
    );
    root.ok(&["--purge", NAME]);
    root.ok(&["-i", s(&common), s(&deb)]);
    let agent = r.join(RES).join("agents/Ubuntu-trusty-agent.tar.gz");
    assert!(fs::read(&agent).unwrap() == fs::read(st.path().join("agent.tar.gz")).unwrap());
    let script = r
        .join(RES)
        .join("scripts/Ubuntu-agent-disable-requiretty.sh");
    assert_eq!(
        fs::metadata(&script).unwrap().permissions().mode() & 0o777,
        0o755
    );
    for name in [NAME, COMMON] {
        assert_eq!(root.ok(&["-V", name]), "", "dpkg -V {name} reports changes");
    }
    assert_eq!(root.status(NAME), "install ok installed 3.2~rc1-1");
    assert_eq!(root.status(COMMON), "install ok installed 3.2~rc1-1");
    root.ok(&["-r", NAME, COMMON]);
    let left = root.files();
    assert!(left.is_empty(), "left after dpkg -r: {left:?}");
}

/// One manager serving two releases of a distribution: their agent packages
/// install side by side (each holds only its tar; the templates and script are
/// the common package's), and removing either leaves the other whole.
#[test]
fn agent_packages_of_two_releases_install_side_by_side() {
    let trusty = Setup::new("deb", "version: 3.2rc1");
    let xenial = Setup::release("deb", "Ubuntu", "xenial", "version: 3.2rc1");
    let (t, x) = (trusty.package(&[], &[]), xenial.package(&[], &[]));
    // Runs for different releases write the same common package, byte for byte.
    assert!(fs::read(trusty.common()).unwrap() == fs::read(xenial.common()).unwrap());
    let root = DpkgRoot::new();
    root.ok(&["-i", s(&trusty.common()), s(&t)]);
    root.ok(&["-i", s(&x)]);
    let xenial_name = "cloudify-ubuntu-xenial-agent";
    for name in [NAME, xenial_name, COMMON] {
        assert_eq!(
            root.status(name),
            "install ok installed 3.2~rc1-1",
            "{name}"
        );
    }
    let before = root.files();
    root.ok(&["-r", NAME]);
    for name in [xenial_name, COMMON] {
        assert_eq!(root.ok(&["-V", name]), "", "dpkg -V {name} reports changes");
    }
    let after = root.files();
    let gone: Vec<&PathBuf> = before
        .iter()
        .filter(|p| !after.contains(p) && p.starts_with(root.path().join(RES)))
        .collect();
    assert_eq!(
        gone,
        [&root
            .path()
            .join(RES)
            .join("agents/Ubuntu-trusty-agent.tar.gz")],
        "removing the trusty agent removed"
    );
    // A newer release's agent brings a newer common package, which the older
    // agent accepts (it depends on >= its own version).
    let newer = Setup::release("deb", "Ubuntu", "bionic", "version: '3.3'");
    let bionic = newer.package(&[], &[]);
    root.ok(&["-i", s(&newer.common()), s(&bionic)]);
    assert_eq!(root.status(COMMON), "install ok installed 3.3-1");
    assert_eq!(root.ok(&["-V", xenial_name]), "");
    root.ok(&["--audit"]);
}

#[test]
fn lintian_reports_no_errors_or_warnings() {
    let st = Setup::new("deb", "version: 3.2rc1");
    let deb = st.package(&[], &[]);
    let o = Command::new("lintian")
        .args(["--show-overrides", s(&deb), s(&st.common())])
        .output()
        .expect("lintian not installed: apt-get install -y lintian");
    let out = String::from_utf8_lossy(&o.stdout);
    let bad: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("E:") || l.starts_with("W:"))
        .collect();
    assert!(
        bad.is_empty(),
        "lintian:\n{out}{}",
        String::from_utf8_lossy(&o.stderr)
    );
    for name in [NAME, COMMON] {
        assert!(
            out.contains(&format!("O: {name}: dir-or-file-in-opt")),
            "{out}"
        );
    }
    assert!(
        out.contains(&format!("O: {COMMON}: script-not-executable")),
        "{out}"
    );
}

#[test]
fn rebuilds_are_byte_identical_for_every_compression() {
    let st = Setup::new("deb", "version: 3.2rc1");
    let agent_len = fs::metadata(st.path().join("agent.tar.gz")).unwrap().len();
    for (comp, member) in [
        ("gzip", "data.tar.gz"),
        ("xz", "data.tar.xz"),
        ("zstd", "data.tar.zst"),
        ("none", "data.tar"),
    ] {
        st.config(&format!("version: 3.2rc1\ncompression: {comp}"));
        let deb = st.package(&["-f"], &[]);
        let first = fs::read(&deb).unwrap();
        let o = st.build(&["-f"], &[("SOURCE_DATE_EPOCH", EPOCH)]);
        assert!(o.status.success(), "{}", show(&o));
        assert!(fs::read(&deb).unwrap() == first, "{comp}: rebuild differs");
        assert_eq!(
            ar_members(&deb),
            ["debian-binary", "control.tar.gz", member]
        );
        tool("dpkg-deb", &["--contents", s(&deb)]);
        if comp == "gzip" {
            // stored, not recompressed: the deb is the agent plus a few KB
            assert!(
                (first.len() as u64) < agent_len + 20_000,
                "{} vs {agent_len}",
                first.len()
            );
        }
    }
}

#[test]
fn dry_run_prints_the_package_and_touches_nothing() {
    let st = Setup::new("deb", "version: 3.2.dev3\nrevision: '2'");
    let o = st.build(&["--dry-run"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for want in [
        format!("{NAME} 3.2~~dev3-2"),
        format!("{NAME}_3.2~~dev3-2_"),
        format!("/{RES}/agents/Ubuntu-trusty-agent.tar.gz"),
        format!("/{RES}/templates/Ubuntu-celeryd-cloudify.init.template"),
        format!("/{RES}/scripts/Ubuntu-agent-disable-requiretty.sh"),
        format!("/usr/share/doc/{NAME}/copyright"),
    ] {
        assert!(out.contains(&want), "{want:?} missing:\n{out}");
    }
    assert!(st.out_files().is_empty());
}

#[test]
fn version_from_the_environment() {
    // A configured label replaces `all`.
    let st = Setup::new("deb", "name: my-agent\narchitecture: amd64");
    let o = st.build(&[], &[("VERSION", "4.0a1")]);
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        st.out_files(),
        [
            "cloudify-ubuntu-agent-common_4.0~a1-1_all.deb",
            "my-agent_4.0~a1-1_amd64.deb"
        ]
    );
}

#[test]
fn bad_input_fails_before_any_work_and_leaves_nothing() {
    let st = Setup::new("deb", "");
    let partial = st.path().join("partial");
    fs::create_dir(&partial).unwrap();
    fs::write(partial.join("agent-disable-requiretty.sh"), "#!/bin/sh\n").unwrap();
    let cases: &[(&str, &[&str], i32, &str)] = &[
        ("", &[], 2, "needs a version"),
        ("version: 3.2-ga", &[], 2, "revision"),
        ("version: '3.2 rc'", &[], 2, "not valid"),
        (
            "version: '1'\nname: Bad_Name",
            &[],
            2,
            "not a valid package name",
        ),
        (
            "version: '1'\nconfig_files: /nonexistent/dir",
            &[],
            2,
            "no agent config files",
        ),
        ("version: '1'\nconfig_files: partial", &[], 2, "missing in"),
        (
            "version: '1'\ncolour: red",
            &[],
            2,
            "unknown field `colour`",
        ),
        ("version: '1'\ncompression: brotli", &[], 2, "not known"),
        (
            "version: '1'\ncompression: zstd\ncompression_level: 30",
            &[],
            2,
            "out of range",
        ),
        (
            "version: '1'\nresources_dir: relative/dir",
            &[],
            2,
            "absolute",
        ),
    ];
    for (package, extra, code, msg) in cases {
        st.config(package);
        let o = st.build(extra, &[]);
        assert_eq!(o.status.code(), Some(*code), "{package}: {}", show(&o));
        assert!(
            String::from_utf8_lossy(&o.stderr).contains(msg),
            "{package}: {}",
            show(&o)
        );
        assert!(
            st.out_files().is_empty(),
            "{package}: left {:?}",
            st.out_files()
        );
    }
    st.config("version: '1'");
    for args in [
        &[
            "-c",
            "c.yaml",
            "--format",
            "deb",
            "--from-tar",
            "missing.tar.gz",
        ][..],
        &[
            "-c",
            "c.yaml",
            "--format",
            "tar",
            "--from-tar",
            "agent.tar.gz",
        ][..],
        &["-c", "c.yaml", "--format", "deb", "--from-tar", "c.yaml"][..],
    ] {
        let o = cfy_ap(st.path(), args, &[]);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {}", show(&o));
        assert!(st.out_files().is_empty());
    }
    // An existing deb is kept without -f (exit 3), replaced with it.
    let deb = st.package(&[], &[]);
    fs::write(&deb, "precious").unwrap();
    let o = st.build(&[], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert_eq!(fs::read(&deb).unwrap(), b"precious");
    assert_eq!(
        st.out_files().len(),
        2,
        "temp file left: {:?}",
        st.out_files()
    );
    let o = st.build(&["-f"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    assert_ne!(fs::read(&deb).unwrap(), b"precious");
}

/// Without SOURCE_DATE_EPOCH the agent package carries the build time, but the
/// common package is stamped with its files' time: rebuilt later (or for
/// another release, elsewhere) it is the same bytes, so a repository that has it
/// takes it again unchanged. The built-in set has a fixed time of its own.
#[test]
fn the_common_package_does_not_depend_on_the_build_time() {
    let st = Setup::new("deb", "version: '3.2'");
    let unset = [("SOURCE_DATE_EPOCH", "")];
    let agent = st.package(&["-f"], &unset);
    let (first, first_agent) = (fs::read(st.common()).unwrap(), fs::read(&agent).unwrap());
    std::thread::sleep(std::time::Duration::from_millis(1100));
    st.package(&["-f"], &unset);
    assert!(
        fs::read(st.common()).unwrap() == first,
        "common package differs"
    );
    assert!(
        fs::read(&agent).unwrap() != first_agent,
        "agent not restamped"
    );
    let listing = tool_text("dpkg-deb", &["--contents", s(&st.common())]);
    let newest = [
        "agent-disable-requiretty.sh",
        "celeryd-cloudify.conf.template",
        "celeryd-cloudify.init.template",
    ]
    .iter()
    .map(|f| {
        let m = fs::metadata(repo().join("packaging/ubuntu").join(f)).unwrap();
        m.modified().unwrap()
    })
    .max()
    .unwrap();
    let date = tool_text(
        "date",
        &[
            "-u",
            "+%Y-%m-%d %H:%M",
            &format!(
                "-d@{}",
                newest
                    .duration_since(std::time::UNIX_EPOCH)
                    .unwrap()
                    .as_secs()
            ),
        ],
    );
    assert!(listing.contains(date.trim()), "{date} not in\n{listing}");

    // The built-in set (no packaging directory on disk): its own fixed time.
    fs::write(
        st.path().join("c.yaml"),
        "distribution: Ubuntu\nrelease: trusty\noutput_tar: Ubuntu-trusty-agent.tar.gz\n\
         package:\n  output_dir: out\n  version: '3.2'\n",
    )
    .unwrap();
    st.package(&["-f"], &unset);
    let listing = tool_text("dpkg-deb", &["--contents", s(&st.common())]);
    assert!(listing.contains(" 2026-12-03 00:00 ./opt/"), "{listing}");
}

/// Tests that build a whole agent (from the fixture wheels, 5-15 s of CPU each): the fast
/// tier (`bash tests/run.sh --fast`) skips every `builds` module.
mod builds {
    use super::*;

    /// The whole pipeline on the offline fixtures: venv, pip, tar and deb in one run.
    #[test]
    fn full_pipeline_builds_tar_and_deb() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let yaml = common::wheel_config(
            &format!("{d}/venv/env"),
            &format!("{d}/Ubuntu-trusty-agent.tar.gz"),
            &format!(
                "package:\n  version: '3.2'\n  config_files: {}/packaging/ubuntu\n",
                repo().display()
            ),
        );
        fs::write(dir.path().join("c.yaml"), yaml).unwrap();
        let o = cfy_ap(dir.path(), &["-c", "c.yaml", "--format", "tar,deb"], &[]);
        assert!(o.status.success(), "{}", show(&o));
        let deb = dir.path().join(format!("{NAME}_3.2-1_all.deb"));
        let info = tool_text("dpkg-deb", &["--field", s(&deb), "Description"]);
        assert!(info.contains("\n Python: 3."), "{info}");
        assert!(info.contains("\n  celery 3.1.17\n"), "{info}");
        assert!(
            info.contains("\n  cloudify-agent-installer-plugin 3.2\n"),
            "{info}"
        );
        let x = dir.path().join("x");
        tool("dpkg-deb", &["-x", s(&deb), s(&x)]);
        let inside = fs::read(x.join(RES).join("agents/Ubuntu-trusty-agent.tar.gz")).unwrap();
        assert!(inside == fs::read(dir.path().join("Ubuntu-trusty-agent.tar.gz")).unwrap());
        assert!(!dir.path().join("venv/env").exists());
    }
}
