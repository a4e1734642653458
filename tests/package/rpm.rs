//! `--format rpm` checked with the real rpm tools: rpm (-qip, -qlvp, -K, and
//! install/verify/erase in a throwaway root), rpm2cpio + cpio, rpmlint, and gpg
//! for throwaway signing keys. Most tests package a small synthetic agent tar
//! with `--from-tar`; one runs the whole pipeline on the offline fixtures.

use crate::common;

use common::package::{EPOCH, Setup, cfy_ap};
use common::repo;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

const NAME: &str = "cloudify-centos-core-agent";
const COMMON: &str = "cloudify-centos-agent-common";
const RES: &str = "/opt/manager/resources/packages";
const PASS_ENV: &str = "CFY_AP_SIGN_PASSPHRASE";

/// The rpmlint warnings kept (README): SPDX license id not in rpmlint's list;
/// `Distribution:`/`Release:` lines of the deb's description; no %doc files.
const RPMLINT_WARNINGS: [&str; 3] = ["invalid-license", "tag-in-description", "no-documentation"];

fn show(o: &Output) -> String {
    format!(
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Runs a system tool with `envs`; returns its output whatever the exit status.
fn run(program: &str, args: &[&str], envs: &[(&str, &Path)]) -> Output {
    let mut c = Command::new(program);
    c.args(args).stdin(Stdio::null()).env("LC_ALL", "C");
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output()
        .unwrap_or_else(|e| panic!("cannot run {program} (apt-get install it): {e}"))
}

/// Runs a system tool, panics unless it exits 0; returns stdout.
fn tool(program: &str, args: &[&str]) -> String {
    let o = run(program, args, &[]);
    assert!(
        o.status.success(),
        "{program} {args:?} failed:\n{}",
        show(&o)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn metadata_paths_modes_and_digests() {
    let st = Setup::new(
        "rpm",
        "version: 3.2rc1\nrevision: '2'\nmaintainer: Jo Bloggs <jo@example.org>\n\
         homepage: https://example.org/agent\ndepends: [python, 'sudo (>= 1.8)']",
    );
    let rpm = st.package(&[], &[]);
    assert_eq!(
        rpm.file_name().unwrap().to_str().unwrap(),
        format!("{NAME}-3.2~rc1-2.noarch.rpm")
    );
    let info = tool("rpm", &["-qip", s(&rpm)]);
    for want in [
        format!("Name        : {NAME}\n"),
        "Version     : 3.2~rc1\n".into(),
        "Release     : 2\n".into(),
        "Architecture: noarch\n".into(),
        "License     : Apache-2.0\n".into(),
        "Packager    : Jo Bloggs <jo@example.org>\n".into(),
        "Vendor      : Jo Bloggs\n".into(),
        "URL         : https://example.org/agent\n".into(),
        "Summary     : Cloudify agent for centos Core\n".into(),
        "Build Host  : reproducible\n".into(),
        "Signature   : (none)\n".into(),
        "\nThe Cloudify agent for centos Core hosts:".into(),
        "\nDistribution: centos\nRelease: Core\n".into(),
    ] {
        assert!(info.contains(&want), "{want:?} missing:\n{info}");
    }
    let t = tool("rpm", &["-qp", "--qf", "%{BUILDTIME}", s(&rpm)]);
    assert_eq!(t, EPOCH);

    // Only the package's own files: no directory is owned.
    let list = tool("rpm", &["-qlvp", s(&rpm)]);
    let rows: Vec<(String, String, String, String)> = list
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].into(), f[2].into(), f[3].into(), f[f.len() - 1].into())
        })
        .collect();
    let want = [(
        "-rw-r--r--",
        format!("{RES}/agents/centos-Core-agent.tar.gz"),
    )];
    assert_eq!(rows.len(), want.len(), "{list}");
    for (row, (mode, path)) in rows.iter().zip(&want) {
        assert_eq!(
            (
                row.0.as_str(),
                row.1.as_str(),
                row.2.as_str(),
                row.3.as_str()
            ),
            (*mode, "root", "root", path.as_str()),
            "{list}"
        );
    }

    let requires = tool("rpm", &["-qpR", s(&rpm)]);
    assert!(requires.contains("python\n"), "{requires}");
    assert!(requires.contains("sudo >= 1.8\n"), "{requires}");
    assert!(
        requires.contains(&format!("{COMMON} >= 3.2~rc1-2\n")),
        "{requires}"
    );

    // The distribution's files are the common package's, for any architecture.
    let common = st.common();
    assert_eq!(
        common.file_name().unwrap().to_str().unwrap(),
        format!("{COMMON}-3.2~rc1-2.noarch.rpm")
    );
    let list = tool("rpm", &["-qlvp", s(&common)]);
    let rows: Vec<(String, String)> = list
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f[0].into(), f[f.len() - 1].into())
        })
        .collect();
    let want = [
        ("-rwxr-xr-x", "scripts/centos-agent-disable-requiretty.sh"),
        (
            "-rw-r--r--",
            "templates/centos-celeryd-cloudify.conf.template",
        ),
        (
            "-rw-r--r--",
            "templates/centos-celeryd-cloudify.init.template",
        ),
    ]
    .map(|(m, p)| (m.to_string(), format!("{RES}/{p}")));
    assert_eq!(rows, want, "{list}");
    let requires = tool("rpm", &["-qpR", s(&common)]);
    assert!(!requires.contains("cloudify"), "{requires}");

    let k = tool("rpm", &["-Kv", s(&rpm)]);
    for want in [
        "Header SHA256 digest: OK",
        "Header SHA1 digest: OK",
        "Payload SHA256 digest: OK",
    ] {
        assert!(k.contains(want), "{want:?} missing:\n{k}");
    }
    assert!(tool("rpm", &["-K", s(&rpm)]).ends_with(": digests OK\n"));
    let algo = tool("rpm", &["-qp", "--qf", "%{FILEDIGESTALGO}", s(&rpm)]);
    assert_eq!(algo, "8", "file digests are SHA-256");
}

#[test]
fn installs_verifies_and_removes_in_a_throwaway_root() {
    let st = Setup::new("rpm", "version: '3.2'");
    let rpm = st.package(&[], &[]);
    let root = st.path().join("root");
    fs::create_dir(&root).unwrap();
    tool("rpm", &["--root", s(&root), "--initdb"]);
    // The agent needs its distribution's common package.
    let o = run("rpm", &["--root", s(&root), "-i", s(&rpm)], &[]);
    assert!(!o.status.success(), "{}", show(&o));
    assert!(
        show(&o).contains(&format!("{COMMON} >= 3.2-1 is needed by {NAME}")),
        "{}",
        show(&o)
    );
    tool("rpm", &["--root", s(&root), "-i", s(&rpm), s(&st.common())]);
    for name in [NAME, COMMON] {
        let v = tool("rpm", &["--root", s(&root), "-V", name]);
        assert_eq!(v, "", "rpm -V {name} reported changes");
    }
    let installed = root.join(RES.trim_start_matches('/'));
    assert_eq!(
        fs::read(installed.join("agents/centos-Core-agent.tar.gz")).unwrap(),
        fs::read(st.path().join("agent.tar.gz")).unwrap()
    );
    tool("rpm", &["--root", s(&root), "-e", NAME, COMMON]);
    let left: Vec<_> = walkdir::WalkDir::new(root.join("opt"))
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| !e.file_type().is_dir())
        .map(|e| e.path().to_path_buf())
        .collect();
    assert!(left.is_empty(), "left after rpm -e: {left:?}");
}

/// The files of `rpm`, unpacked into `dir` (rpm2cpio | cpio).
fn unpack(rpm: &Path, dir: &Path) {
    let script = format!("rpm2cpio '{}' | cpio -idm --quiet", s(rpm));
    let o = Command::new("sh")
        .args(["-c", &script])
        .current_dir(dir)
        .output()
        .expect("sh");
    assert!(o.status.success(), "{}", show(&o));
}

#[test]
fn agent_tar_inside_is_byte_identical() {
    let st = Setup::new("rpm", "version: '3.2'");
    let rpm = st.package(&[], &[]);
    let x = st.path().join("x");
    fs::create_dir(&x).unwrap();
    unpack(&rpm, &x);
    let inside = x
        .join(RES.trim_start_matches('/'))
        .join("agents/centos-Core-agent.tar.gz");
    assert!(
        fs::read(inside).unwrap() == fs::read(st.path().join("agent.tar.gz")).unwrap(),
        "agent tar differs"
    );
    unpack(&st.common(), &x);
    let conf = x
        .join(RES.trim_start_matches('/'))
        .join("templates/centos-celeryd-cloudify.conf.template");
    assert_eq!(
        fs::read(conf).unwrap(),
        fs::read(repo().join("packaging/centos/celeryd-cloudify.conf.template")).unwrap()
    );
}

#[test]
fn rebuilds_are_byte_identical_for_every_compression() {
    let st = Setup::new("rpm", "version: '3.2'");
    let agent_len = fs::metadata(st.path().join("agent.tar.gz")).unwrap().len();
    for (comp, compressor) in [
        ("gzip", "gzip"),
        ("xz", "xz"),
        ("zstd", "zstd"),
        ("none", "gzip"),
    ] {
        st.config(&format!("version: '3.2'\ncompression: {comp}"));
        let rpm = st.package(&["-f"], &[]);
        let first = fs::read(&rpm).unwrap();
        let rpm2 = st.package(&["-f"], &[]);
        assert_eq!(rpm, rpm2);
        assert!(fs::read(&rpm).unwrap() == first, "{comp}: rebuild differs");
        let c = tool("rpm", &["-qp", "--qf", "%{PAYLOADCOMPRESSOR}", s(&rpm)]);
        assert_eq!(c, compressor, "{comp}");
        assert!(tool("rpm", &["-K", s(&rpm)]).ends_with(": digests OK\n"));
        // The agent tar is not recompressed into something bigger.
        assert!(
            (first.len() as u64) < agent_len + 40_000,
            "{comp}: {} vs {agent_len}",
            first.len()
        );
    }
}

#[test]
fn deb_and_rpm_in_one_run_and_dry_run() {
    let st = Setup::new("rpm", "version: '3.2'\nrpm_depends: ['python2 >= 2.7']");
    let o = st.build(&["--dry-run"], &[]);
    assert!(o.status.success(), "{}", show(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(out.contains(&format!("{NAME}-3.2-1.noarch.rpm")), "{out}");
    assert!(
        out.contains(&format!(
            "rpm payload: gzip (level 0); Requires: {COMMON} >= 3.2-1, python2 >= 2.7"
        )),
        "{out}"
    );
    assert!(st.out_files().is_empty());
    let o = cfy_ap(
        st.path(),
        &[
            "-c",
            "c.yaml",
            "--format",
            "deb,rpm",
            "--from-tar",
            "agent.tar.gz",
        ],
        &[],
    );
    assert!(o.status.success(), "{}", show(&o));
    let files = st.out_files();
    assert_eq!(
        files,
        [
            format!("{COMMON}-3.2-1.noarch.rpm"),
            format!("{COMMON}_3.2-1_all.deb"),
            format!("{NAME}-3.2-1.noarch.rpm"),
            format!("{NAME}_3.2-1_all.deb"),
        ]
    );
}

/// A throwaway gpg home with two RSA signing keys; the first has a passphrase.
struct Keys {
    dir: tempfile::TempDir,
}

const PASSPHRASE: &str = "correct horse";

impl Keys {
    fn new() -> Keys {
        let dir = tempfile::tempdir().unwrap();
        let home = dir.path().join("gnupg");
        fs::create_dir(&home).unwrap();
        let keys = Keys { dir };
        for (name, pass) in [("one", Some(PASSPHRASE)), ("two", None)] {
            let protection = match pass {
                Some(p) => format!("Passphrase: {p}"),
                None => "%no-protection".into(),
            };
            let params = format!(
                "Key-Type: RSA\nKey-Length: 2048\nKey-Usage: sign\nName-Real: cfy-ap test {name}\n\
                 Name-Email: {name}@example.org\nExpire-Date: 0\n{protection}\n%commit\n"
            );
            let batch = keys.path().join(format!("{name}.batch"));
            fs::write(&batch, params).unwrap();
            keys.gpg(&["--gen-key", s(&batch)]);
            let secret = keys.gpg(&[
                "--pinentry-mode",
                "loopback",
                "--passphrase",
                pass.unwrap_or(""),
                "--armor",
                "--export-secret-keys",
                &format!("{name}@example.org"),
            ]);
            fs::write(keys.secret(name), secret).unwrap();
            let public = keys.gpg(&["--armor", "--export", &format!("{name}@example.org")]);
            fs::write(keys.public(name), public).unwrap();
        }
        keys
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let home = self.path().join("gnupg");
        let mut all = vec!["--batch", "--quiet"];
        all.extend_from_slice(args);
        let o = run("gpg", &all, &[("GNUPGHOME", &home)]);
        assert!(o.status.success(), "gpg {args:?}:\n{}", show(&o));
        o.stdout
    }

    fn secret(&self, name: &str) -> PathBuf {
        self.path().join(format!("{name}.secret.asc"))
    }

    fn public(&self, name: &str) -> PathBuf {
        self.path().join(format!("{name}.public.asc"))
    }

    /// An rpm database (and rpmlint's ~/.rpmmacros pointing at it) with the
    /// public key `name` imported.
    fn rpm_db(&self, name: &str) -> PathBuf {
        let db = self.path().join(format!("db-{name}"));
        fs::create_dir(&db).unwrap();
        tool("rpm", &["--dbpath", s(&db), "--initdb"]);
        tool(
            "rpm",
            &["--dbpath", s(&db), "--import", s(&self.public(name))],
        );
        fs::write(db.join(".rpmmacros"), format!("%_dbpath {}\n", s(&db))).unwrap();
        db
    }
}

#[test]
fn signed_rpm_verifies_with_its_key_only() {
    let keys = Keys::new();
    let st = Setup::new(
        "rpm",
        &format!("version: '3.2'\nsign_key: {}", s(&keys.secret("one"))),
    );
    let rpm = st.package(&[], &[(PASS_ENV, PASSPHRASE)]);
    let first = fs::read(&rpm).unwrap();
    let info = tool("rpm", &["-qip", s(&rpm)]);
    assert!(info.contains("Signature   : RSA/SHA256, "), "{info}");

    let db_one = keys.rpm_db("one");
    let k = tool("rpm", &["--dbpath", s(&db_one), "-K", s(&rpm)]);
    assert!(k.ends_with(": digests signatures OK\n"), "{k}");
    let kv = tool("rpm", &["--dbpath", s(&db_one), "-Kv", s(&rpm)]);
    assert!(
        kv.contains("Header V4 RSA/SHA256 Signature, key ID"),
        "{kv}"
    );
    assert!(kv.contains(": OK"), "{kv}");

    // Signed by the other key: rpm knows only key one, so it cannot vouch for it.
    let other = Setup::new(
        "rpm",
        &format!("version: '3.2'\nsign_key: {}", s(&keys.secret("two"))),
    );
    let rpm2 = other.package(&[], &[]);
    let o = run("rpm", &["--dbpath", s(&db_one), "-K", s(&rpm2)], &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(!o.status.success(), "{text}");
    assert!(text.ends_with(": digests SIGNATURES NOT OK\n"), "{text}");
    let o = run("rpm", &["--dbpath", s(&db_one), "-Kv", s(&rpm2)], &[]);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(
        text.contains("Signature, key ID") && text.contains(": NOKEY"),
        "{text}"
    );

    // Reproducible when signed too, and installable.
    let again = st.package(&["-f"], &[(PASS_ENV, PASSPHRASE)]);
    assert!(fs::read(&again).unwrap() == first, "signed rebuild differs");
    let root = st.path().join("root");
    fs::create_dir(&root).unwrap();
    tool("rpm", &["--root", s(&root), "--initdb"]);
    tool(
        "rpm",
        &["--root", s(&root), "--import", s(&keys.public("one"))],
    );
    tool("rpm", &["--root", s(&root), "-i", s(&rpm), s(&st.common())]);
    assert_eq!(tool("rpm", &["--root", s(&root), "-V", NAME]), "");
}

/// rpmlint output lines `<pkg>: E|W: <check> ...` for the agent and common
/// rpms checked together, after the documented filters (some of which only
/// the common package needs).
fn rpmlint(st: &Setup, rpm: &Path, home: &Path) -> Vec<String> {
    // The filters shipped with the project (each one explained in the file).
    let rc = repo().join("packaging/cfy-ap.rpmlintrc");
    let common = st.common();
    let o = run(
        "rpmlint",
        &["-r", s(&rc), s(rpm), s(&common)],
        &[("HOME", home)],
    );
    let out = String::from_utf8_lossy(&o.stdout).into_owned();
    out.lines()
        .filter(|l| l.contains(": E: ") || l.contains(": W: "))
        .map(str::to_string)
        .collect()
}

#[test]
fn rpmlint_reports_no_errors() {
    let keys = Keys::new();
    let st = Setup::new(
        "rpm",
        &format!(
            "version: '3.2'\nhomepage: https://example.org/agent\nsign_key: {}",
            s(&keys.secret("two"))
        ),
    );
    let rpm = st.package(&[], &[]);
    let home = keys.rpm_db("two");
    let lines = rpmlint(&st, &rpm, &home);
    let errors: Vec<&String> = lines.iter().filter(|l| l.contains(": E: ")).collect();
    assert!(errors.is_empty(), "rpmlint errors:\n{}", lines.join("\n"));
    for l in &lines {
        assert!(
            RPMLINT_WARNINGS
                .iter()
                .any(|w| l.contains(&format!(": W: {w}"))),
            "undocumented rpmlint warning: {l}"
        );
    }
    // Unsigned, rpmlint's only extra complaint is the missing signature.
    let st = Setup::new("rpm", "version: '3.2'\nhomepage: https://example.org/agent");
    let rpm = st.package(&[], &[]);
    let errors: Vec<String> = rpmlint(&st, &rpm, &home)
        .into_iter()
        .filter(|l| l.contains(": E: "))
        .collect();
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert!(
        errors.iter().all(|e| e.ends_with("E: no-signature")),
        "{errors:?}"
    );
}

#[test]
fn bad_input_fails_before_any_work_and_leaves_nothing() {
    let keys = Keys::new();
    let st = Setup::new("rpm", "");
    fs::write(st.path().join("not-a-key.asc"), "hello\n").unwrap();
    fs::write(
        st.path().join("public.asc"),
        fs::read(keys.public("one")).unwrap(),
    )
    .unwrap();
    let one = keys.secret("one");
    let key = format!("sign_key: {}", s(&one));
    // (package keys, passphrase, expected message); every one exits 2.
    let cases: [(&str, Option<&str>, &str); 7] = [
        ("sign_key: missing.asc", None, "cannot read it"),
        ("sign_key: not-a-key.asc", None, "not an armored secret key"),
        ("sign_key: public.asc", None, "not an armored secret key"),
        (&key, None, "passphrase-protected"),
        (&key, Some("wrong"), "wrong passphrase"),
        ("rpm_depends: ['a | b']", None, "alternatives"),
        ("depends: ['python:any']", None, "rpm_depends"),
    ];
    for (package, passphrase, msg) in cases {
        st.config(&format!("version: '1'\n{package}"));
        let envs: Vec<(&str, &str)> = passphrase.map(|p| (PASS_ENV, p)).into_iter().collect();
        let o = st.build(&[], &envs);
        assert_eq!(o.status.code(), Some(2), "{package}: {}", show(&o));
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
    // An existing rpm is kept without -f (exit 3, before the key is even read),
    // and replaced with -f.
    st.config("version: '1'");
    let rpm = st.package(&[], &[]);
    fs::write(&rpm, "precious").unwrap();
    st.config(&format!("version: '1'\nsign_key: {}", s(&one)));
    let o = st.build(&[], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", show(&o));
    assert_eq!(fs::read(&rpm).unwrap(), b"precious");
    assert_eq!(
        st.out_files().len(),
        2,
        "temp file left: {:?}",
        st.out_files()
    );
    let o = st.build(&["-f"], &[(PASS_ENV, PASSPHRASE)]);
    assert!(o.status.success(), "{}", show(&o));
    let k = tool("rpm", &["-K", "--nosignature", s(&rpm)]);
    assert!(k.ends_with(": digests OK\n"), "{k}");
    let info = tool("rpm", &["-qip", s(&rpm)]);
    assert!(info.contains("Signature   : RSA/SHA256, "), "{info}");
}

/// Tests that build a whole agent (from the fixture wheels, 5-15 s of CPU each): the fast
/// tier (`bash tests/run.sh --fast`) skips every `builds` module.
mod builds {
    use super::*;

    /// The whole pipeline on the offline fixtures: venv, pip, tar, deb and rpm in one
    /// run, the agent built once.
    #[test]
    fn full_pipeline_builds_tar_deb_and_rpm() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().display();
        let yaml = common::wheel_config(
            &format!("{d}/venv/env"),
            &format!("{d}/centos-Core-agent.tar.gz"),
            &format!(
                "package:\n  version: '3.2'\n  config_files: {}/packaging/centos\n",
                repo().display()
            ),
        )
        .replace(
            "distribution: Ubuntu\nrelease: trusty",
            "distribution: centos\nrelease: Core",
        );
        fs::write(dir.path().join("c.yaml"), yaml).unwrap();
        let o = cfy_ap(
            dir.path(),
            &["-c", "c.yaml", "--format", "tar,deb,rpm"],
            &[],
        );
        assert!(o.status.success(), "{}", show(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert_eq!(err.matches("agent ready").count(), 1, "{err}");
        let rpm = dir.path().join(format!("{NAME}-3.2-1.noarch.rpm"));
        let desc = tool("rpm", &["-qp", "--qf", "%{DESCRIPTION}", s(&rpm)]);
        assert!(desc.contains("\nPython: 3."), "{desc}");
        assert!(desc.contains("\n celery 3.1.17\n"), "{desc}");
        let x = dir.path().join("x");
        fs::create_dir(&x).unwrap();
        let script = format!("rpm2cpio '{}' | cpio -idm --quiet", s(&rpm));
        let o = Command::new("sh")
            .args(["-c", &script])
            .current_dir(&x)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", show(&o));
        let inside = x
            .join(RES.trim_start_matches('/'))
            .join("agents/centos-Core-agent.tar.gz");
        assert!(
            fs::read(inside).unwrap()
                == fs::read(dir.path().join("centos-Core-agent.tar.gz")).unwrap(),
            "agent tar inside the rpm differs from output_tar"
        );
        assert!(tool("rpm", &["-K", s(&rpm)]).ends_with(": digests OK\n"));
    }
}
