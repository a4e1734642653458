//! `cfy-ap publish` of rpms into yum/dnf repositories, against the real tools:
//! rpms built (and signed) by cfy-ap or by `rpmbuild`, repositories read by the
//! real `dnf` (private config, repos and install root; `gpgcheck=1`,
//! `repo_gpgcheck=1`), served over loopback HTTP or `file://`, cross-checked
//! with `createrepo_c`, keys made by `gpg --batch` in a throwaway home.
//!
//! Needs (tests/run.sh installs them): dnf, createrepo_c, rpm, rpmbuild, gpg,
//! dpkg-deb, python3.
//!
//! Needs dnf, so it is left out of `bash tests/run.sh --fast`:
//!
//! Tier: full

#[path = "../common/mod.rs"]
mod common;
/// Publishing into S3-compatible storage (moto), read by dnf over HTTP.
mod s3;

use common::dnf::Dnf;
use common::http::Http;
use common::package::{EPOCH, Setup};
use common::{Cmd, text, tree_hash};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_cfy-ap");

/// `cfy-ap publish ARGS FILES` with SOURCE_DATE_EPOCH and no inherited passphrase.
fn publish(args: &[&str], files: &[&Path]) -> Output {
    Cmd::cfy_ap()
        .arg("publish")
        .args(args)
        .args(files)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .env_remove("CFY_AP_SIGN_PASSPHRASE")
        .output()
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(o.status.success(), "cfy-ap failed: {}", text(&o));
    text(&o)
}

/// Signing keys in a throwaway GnuPG home: RSA, no passphrase.
struct Keys {
    home: tempfile::TempDir,
}

impl Keys {
    fn new() -> Keys {
        Keys {
            home: tempfile::Builder::new().prefix("cfyy.").tempdir().unwrap(),
        }
    }

    fn gpg(&self, args: &[&str]) -> Vec<u8> {
        let o = Command::new("gpg")
            .env("GNUPGHOME", self.home.path())
            .args(["--batch", "--pinentry-mode", "loopback", "--passphrase", ""])
            .args(args)
            .output()
            .expect("gpg (apt-get install gnupg)");
        assert!(o.status.success(), "gpg {args:?}: {}", text(&o));
        o.stdout
    }

    /// Make key `name`; writes `<dir>/<name>.sec.asc` and `<dir>/<name>.pub.asc`.
    fn make(&self, name: &str, dir: &Path) -> (PathBuf, PathBuf) {
        let uid = format!("{name} <{name}@example.invalid>");
        self.gpg(&["--quick-gen-key", &uid, "rsa3072", "sign", "1y"]);
        let secret = dir.join(format!("{name}.sec.asc"));
        let public = dir.join(format!("{name}.pub.asc"));
        fs::write(
            &secret,
            self.gpg(&["--armor", "--export-secret-keys", &uid]),
        )
        .unwrap();
        fs::write(&public, self.gpg(&["--armor", "--export", &uid])).unwrap();
        (secret, public)
    }
}

impl Drop for Keys {
    fn drop(&mut self) {
        let _ = Command::new("gpgconf")
            .env("GNUPGHOME", self.home.path())
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// Build an rpm with cfy-ap (`--from-tar`, SOURCE_DATE_EPOCH) and move it to
/// `dest`, with the common package it requires ([`common_rpm`]).
fn cfy_rpm(st: &Setup, dest: &Path, name: &str, version: &str, extra: &str) -> PathBuf {
    st.config(&format!("name: {name}\nversion: '{version}'\n{extra}"));
    let agent = st.package(&["-f"], &[]);
    let common = st.common();
    fs::create_dir_all(dest).unwrap();
    fs::rename(&common, dest.join(common.file_name().unwrap())).unwrap();
    let to = dest.join(agent.file_name().unwrap());
    fs::rename(&agent, &to).unwrap();
    to
}

/// The common package [`cfy_rpm`] wrote beside its rpm of `version` into `dest`.
fn common_rpm(dest: &Path, version: &str) -> PathBuf {
    dest.join(format!(
        "cloudify-centos-agent-common-{version}-1.noarch.rpm"
    ))
}

#[test]
fn dnf_installs_the_newest_upgrades_and_refuses_a_wrong_key() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, _) = keys.make("repo", w.path());
    let (_, other_public) = keys.make("other", w.path());
    let st = Setup::new("rpm", "");
    let sign = format!("sign_key: {}", secret.display());
    let debs = w.path().join("rpms");
    let v1 = cfy_rpm(&st, &debs, "demo-agent", "1.0", &sign);
    let v2 = cfy_rpm(&st, &debs, "demo-agent", "1.1", &sign);
    let repo = w.path().join("srv/yum");
    let (repo_s, key_s) = (repo.to_str().unwrap(), secret.to_str().unwrap());
    let commons = [common_rpm(&debs, "1.0"), common_rpm(&debs, "1.1")];
    let out = ok(publish(
        &["--repo", repo_s, "--sign-key", key_s],
        &[&v1, &v2, &commons[0], &commons[1]],
    ));
    assert!(out.contains("added: demo-agent 1.1-1"), "{out}");
    assert!(
        repo.join("Packages/d/demo-agent-1.1-1.noarch.rpm")
            .is_file()
    );
    assert!(repo.join("repodata/repomd.xml.asc").is_file());

    let http = Http::serve(&w.path().join("srv"), &w.path().join("http.log"));
    let dnf = Dnf::new(w.path());
    // The client recipe: the key from `cfy-ap publish --export-key`.
    let exported = w.path().join("RPM-GPG-KEY-cfy-ap");
    ok(publish(
        &[
            "--sign-key",
            key_s,
            "--export-key",
            exported.to_str().unwrap(),
        ],
        &[],
    ));
    assert!(
        fs::read_to_string(&exported)
            .unwrap()
            .starts_with("-----BEGIN PGP PUBLIC KEY BLOCK-----")
    );
    dnf.repo("cfy", &http.url("yum/"), &exported);
    dnf.ok("cfy", &["install", "demo-agent"]);
    assert_eq!(dnf.installed("demo-agent"), "1.1-1");
    assert!(
        http.requests().contains("repomd.xml.asc"),
        "{}",
        http.requests()
    );

    // A newer version: dnf upgrade gets it.
    let v3 = cfy_rpm(&st, &debs, "demo-agent", "1.2", &sign);
    let with_date = Cmd::cfy_ap()
        .args(["publish", "--repo", repo_s, "--sign-key", key_s])
        .arg(&v3)
        .arg(common_rpm(&debs, "1.2"))
        .env("SOURCE_DATE_EPOCH", "1700000100")
        .output();
    ok(with_date);
    // --refresh: with metadata_expire=0, dnf still keeps a cache made within
    // the same second (expired means older than 0 s), and publishing is faster.
    let upgraded = dnf.ok("cfy", &["upgrade", "--refresh", "demo-agent"]);
    assert_eq!(
        dnf.installed("demo-agent"),
        "1.2-1",
        "dnf upgrade: {upgraded}"
    );
    let listed = dnf.ok(
        "cfy",
        &["repoquery", "--queryformat", "%{version}", "demo-agent"],
    );
    assert_eq!(
        listed.split_whitespace().collect::<Vec<_>>(),
        ["1.0", "1.1", "1.2"]
    );

    // The wrong key: dnf refuses the repository's signature.
    let wrong = Dnf::new(&w.path().join("wrong"));
    wrong.repo("cfy", &http.url("yum/"), &other_public);
    let o = wrong.run("cfy", &["makecache"]);
    assert!(
        !o.status.success(),
        "dnf accepted a repository signed by another key"
    );
    assert!(text(&o).to_lowercase().contains("gpg"), "{}", text(&o));
    assert_eq!(wrong.installed("demo-agent"), "");
}

/// An rpm with every kind of metadata createrepo_c selects from, by rpmbuild.
fn rich_rpm(dir: &Path, version: &str) -> PathBuf {
    let top = dir.join(format!("rpmbuild-{version}"));
    fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/rich.spec");
    fs::write(
        &spec,
        format!(
            "Name: Rich-agent\nVersion: {version}\nRelease: 2.el9\nEpoch: 3\nSummary: Rich <test> & package\n\
             License: MIT\nURL: https://example.invalid/rich\nGroup: System/Test\nVendor: Tests & Co\n\
             BuildArch: noarch\nAutoReqProv: no\nProvides: rich-api = 2.0\nProvides: /usr/bin/rich-alias\n\
             Requires: bash >= 4.0\nRequires(pre): /bin/sh\nRequires: /usr/bin/rich\nRequires: /opt/other/file\n\
             Conflicts: poor-agent < 1.0\nObsoletes: old-agent <= 0.9-1\nRecommends: helper\nSuggests: extra\n\
             Supplements: base-agent\nEnhances: base-agent\n\
             %description\nLine one with <angle> & ampersand.\n\nSecond paragraph.\n\
             %pre\nexit 0\n\
             %install\nmkdir -p %{{buildroot}}/usr/bin %{{buildroot}}/etc/rich %{{buildroot}}/opt/rich/data\n\
             printf '#!/bin/sh\\necho rich\\n' > %{{buildroot}}/usr/bin/rich\n\
             echo conf > %{{buildroot}}/etc/rich/rich.conf\necho data > %{{buildroot}}/opt/rich/data/file\n\
             %files\n%attr(0755,root,root) /usr/bin/rich\n%config(noreplace) /etc/rich/rich.conf\n\
             %dir /etc/rich\n/opt/rich\n%ghost /var/log/rich.log\n\
             %changelog\n* Tue Nov 14 2023 Ann Example <ann@example.invalid> - 3:{version}-2\n- second\n\
             * Mon Nov 13 2023 Bob Example <bob@example.invalid> - 3:1.0-1\n- first\n"
        ),
    )
    .unwrap();
    rpmbuild(
        &top,
        &spec,
        &format!("Rich-agent-{version}-2.el9.noarch.rpm"),
    )
}

/// `rpmbuild -bb spec` in `top` (SOURCE_DATE_EPOCH); returns the noarch rpm
/// `file` it must have built.
fn rpmbuild(top: &Path, spec: &Path, file: &str) -> PathBuf {
    let o = Command::new("rpmbuild")
        .args(["-bb", "--quiet"])
        .arg("--define")
        .arg(format!("_topdir {}", top.display()))
        .args([
            "--define",
            "__os_install_post %{nil}",
            "--define",
            "debug_package %{nil}",
        ])
        .arg(spec)
        .env("SOURCE_DATE_EPOCH", EPOCH)
        .output()
        .expect("rpmbuild (apt-get install rpm)");
    assert!(o.status.success(), "rpmbuild: {}", text(&o));
    let built = top.join("RPMS/noarch").join(file);
    assert!(built.is_file());
    built
}

/// The `<package>` entries of a metadata document, sorted.
fn entries(path: &Path) -> Vec<String> {
    let raw = fs::read(path).unwrap();
    let mut xml = String::new();
    if path.extension().is_some_and(|e| e == "gz") {
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_string(&mut xml)
            .unwrap();
    } else {
        xml = String::from_utf8(raw).unwrap();
    }
    let mut v: Vec<String> = xml
        .split("<package ")
        .skip(1)
        .map(|p| p.split("</package>").next().unwrap().to_string())
        .collect();
    v.sort();
    v
}

fn document(repo: &Path, kind: &str) -> PathBuf {
    // The one repomd.xml names (the previous generation is kept beside it).
    let repomd = fs::read_to_string(repo.join("repodata/repomd.xml")).unwrap();
    let at = repomd
        .find(&format!("<data type=\"{kind}\">"))
        .unwrap_or_else(|| panic!("no {kind} in {repomd}"));
    let href = repomd[at..]
        .split("<location href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    repo.join(href)
}

#[test]
fn metadata_matches_createrepo_c_and_dnf_reads_it_the_same() {
    let w = tempfile::tempdir().unwrap();
    let st = Setup::new("rpm", "");
    let rpms = w.path().join("rpms");
    let mut files = vec![
        cfy_rpm(
            &st,
            &rpms,
            "alpha-agent",
            "1.0",
            "rpm_depends: ['python3 >= 3.6', bash]",
        ),
        cfy_rpm(
            &st,
            &rpms,
            "beta-agent",
            "2.0rc1",
            "homepage: https://example.invalid/b",
        ),
        rich_rpm(w.path(), "1.5"),
    ];
    let ours = w.path().join("ours");
    let refs: Vec<&Path> = files.iter().map(PathBuf::as_path).collect();
    ok(publish(&["--repo", ours.to_str().unwrap()], &refs));
    assert!(
        ours.join("Packages/b/beta-agent-2.0~rc1-1.noarch.rpm")
            .exists()
    );
    assert!(
        // Epoch 3: in the file name.
        ours.join("Packages/r/Rich-agent-3:1.5-2.el9.noarch.rpm")
            .exists()
    );

    // createrepo_c over the same files (our Packages/ tree, same mtimes).
    let compare = |round: &str| {
        let theirs = w.path().join(format!("theirs-{round}"));
        let _ = fs::remove_dir_all(&theirs);
        fs::create_dir_all(&theirs).unwrap();
        let o = Command::new("cp")
            .arg("-a")
            .arg(ours.join("Packages"))
            .arg(&theirs)
            .output()
            .unwrap();
        assert!(o.status.success(), "cp: {}", text(&o));
        let o = Command::new("createrepo_c")
            .args(["--no-database", "--quiet"])
            .arg(&theirs)
            .output()
            .expect("createrepo_c (apt-get install createrepo-c)");
        assert!(o.status.success(), "createrepo_c: {}", text(&o));
        for kind in ["primary", "filelists", "other"] {
            assert_eq!(
                entries(&document(&ours, kind)),
                entries(&document(&theirs, kind)),
                "{kind} entries differ from createrepo_c's ({round})"
            );
        }
        // What dnf makes of both.
        let dnf = Dnf::new(&w.path().join(format!("dnf-{round}")));
        for (id, dir) in [("ours", &ours), ("theirs", &theirs)] {
            dnf.unsigned_repo(id, dir);
        }
        let qf = "%{name}|%{epoch}|%{version}|%{release}|%{arch}|%{summary}|%{description}|%{url}|\
                  %{license}|%{packager}|%{vendor}|%{group}|%{buildtime}|%{downloadsize}|%{installsize}|\
                  %{sourcerpm}|%{location}|%{hdr_end}|%{provides}|%{requires}|%{conflicts}|%{obsoletes}|\
                  %{recommends}|%{suggests}|%{supplements}|%{enhances}|%{files}";
        let q = |id: &str| dnf.ok(id, &["repoquery", "--queryformat", qf]);
        let (a, b) = (q("ours"), q("theirs"));
        assert!(a.contains("Rich-agent|3|1.5|2.el9|noarch"), "{a}");
        assert!(
            a.contains("/var/log/rich.log") && a.contains("rich-api = 2.0"),
            "{a}"
        );
        assert_eq!(a, b, "dnf repoquery differs ({round})");
    };
    compare("full");

    // Incremental: one more package, the rest taken from the metadata.
    files.push(rich_rpm(w.path(), "1.6"));
    ok(publish(
        &["--repo", ours.to_str().unwrap()],
        &[files.last().unwrap()],
    ));
    compare("plus-one");
}

#[test]
fn duplicates_are_no_ops_refused_or_forced() {
    let w = tempfile::tempdir().unwrap();
    let st = Setup::new("rpm", "");
    let first = cfy_rpm(&st, &w.path().join("a"), "dup-agent", "1.0", "");
    // Same name, version and release, other bytes (another build time).
    st.config("name: dup-agent\nversion: '1.0'\n");
    let built = st.package(&["-f"], &[("SOURCE_DATE_EPOCH", "1700000500")]);
    let rebuilt = w.path().join("rebuilt.rpm");
    fs::rename(built, &rebuilt).unwrap();
    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    ok(publish(&["--repo", repo_s], &[&first]));
    let before = tree_hash(&repo);

    let out = ok(publish(&["--repo", repo_s], &[&first]));
    assert!(
        out.contains("already published") && out.contains("unchanged"),
        "{out}"
    );
    assert_eq!(before, tree_hash(&repo));

    let o = publish(&["--repo", repo_s], &[&rebuilt]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("already published with different contents"),
        "{}",
        text(&o)
    );
    assert_eq!(before, tree_hash(&repo));

    let out = ok(publish(&["--repo", repo_s, "-f"], &[&rebuilt]));
    assert!(out.contains("replaced: dup-agent 1.0-1"), "{out}");
    let primary = entries(&document(&repo, "primary"));
    assert_eq!(primary.len(), 1);
    let sha = hex::encode(Sha256::digest(fs::read(&rebuilt).unwrap()));
    assert!(primary[0].contains(&sha), "{primary:?}");
    let published = fs::read(repo.join(format!(
        "Packages/d/{}",
        first.file_name().unwrap().to_str().unwrap()
    )))
    .unwrap();
    assert_eq!(hex::encode(Sha256::digest(published)), sha);
}

fn make_deb(dir: &Path) -> PathBuf {
    let t = dir.join("debtree");
    fs::create_dir_all(t.join("DEBIAN")).unwrap();
    fs::write(
        t.join("DEBIAN/control"),
        "Package: some-deb\nVersion: 1.0-1\nArchitecture: all\nMaintainer: T <t@example.invalid>\nDescription: x\n y\n",
    )
    .unwrap();
    let deb = dir.join("some-deb_1.0-1_all.deb");
    let o = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-b"])
        .arg(&t)
        .arg(&deb)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    deb
}

/// What, arguments, files, exit code, part of the message.
type Case<'a> = (&'a str, Vec<&'a str>, Vec<&'a Path>, i32, &'a str);

#[test]
fn bad_inputs_leave_the_repo_unchanged() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, public) = keys.make("bad", w.path());
    let st = Setup::new("rpm", "");
    let good = cfy_rpm(&st, &w.path().join("rpms"), "good-agent", "1.0", "");
    let next = cfy_rpm(&st, &w.path().join("rpms"), "good-agent", "1.1", "");
    let repo = w.path().join("repo");
    let (repo_s, key_s) = (repo.to_str().unwrap(), secret.to_str().unwrap());
    ok(publish(&["--repo", repo_s, "--sign-key", key_s], &[&good]));
    let before = tree_hash(&repo);

    let bytes = fs::read(&next).unwrap();
    let write = |name: &str, b: &[u8]| {
        let p = w.path().join(name);
        fs::write(&p, b).unwrap();
        p
    };
    let not_rpm = write("notes.rpm", b"just some text\n");
    let truncated_header = write("cut-header.rpm", &bytes[..2000]);
    let truncated_payload = write("cut-payload.rpm", &bytes[..bytes.len() - 100]);
    let mut flipped = bytes.clone();
    // A byte inside the header's data (a file name), past the signature header.
    let at = flipped.windows(8).rposition(|w| w == b"template").unwrap();
    flipped[at] ^= 0x20;
    let corrupt_header = write("corrupt.rpm", &flipped);
    let deb = make_deb(w.path());
    let apt = w.path().join("apt");
    fs::create_dir_all(apt.join("dists")).unwrap();
    let missing = w.path().join("missing.rpm");

    let signed = ["--repo", repo_s, "--sign-key", key_s];
    let cases: Vec<Case> = vec![
        (
            "not an rpm",
            signed.to_vec(),
            vec![&next, &not_rpm],
            2,
            "not a valid binary rpm",
        ),
        (
            "truncated header",
            signed.to_vec(),
            vec![&truncated_header],
            2,
            "ends inside its signature header (truncated)",
        ),
        (
            "truncated payload",
            signed.to_vec(),
            vec![&truncated_payload],
            2,
            "payload",
        ),
        (
            "corrupt header",
            signed.to_vec(),
            vec![&corrupt_header],
            2,
            "digest mismatch",
        ),
        (
            "deb into a yum repo",
            signed.to_vec(),
            vec![&deb],
            2,
            "is a yum repository",
        ),
        (
            "mixed kinds",
            signed.to_vec(),
            vec![&next, &deb],
            2,
            "one kind per call",
        ),
        (
            "missing file",
            signed.to_vec(),
            vec![&missing],
            2,
            "no such file",
        ),
        (
            "public key",
            vec!["--repo", repo_s, "--sign-key", public.to_str().unwrap()],
            vec![&next],
            2,
            "secret key",
        ),
        (
            "apt option",
            vec![
                "--repo",
                repo_s,
                "--sign-key",
                key_s,
                "--codename",
                "bookworm",
            ],
            vec![&next],
            2,
            "--codename applies to apt",
        ),
        (
            "unsigned into signed",
            vec!["--repo", repo_s],
            vec![&next],
            3,
            "is signed",
        ),
    ];
    for (what, args, files, code, msg) in cases {
        let o = publish(&args, &files);
        assert_eq!(o.status.code(), Some(code), "{what}: {}", text(&o));
        assert!(text(&o).contains(msg), "{what}: {}", text(&o));
        assert_eq!(before, tree_hash(&repo), "{what} changed the repository");
    }
    // An rpm into an apt repository.
    let apt_before = tree_hash(&apt);
    let o = publish(&["--repo", apt.to_str().unwrap()], &[&next]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is an apt repository"), "{}", text(&o));
    assert_eq!(apt_before, tree_hash(&apt));
    // Nothing was left behind, and the good package still goes in.
    ok(publish(&signed, &[&next]));
    assert_eq!(entries(&document(&repo, "primary")).len(), 2);
}

#[test]
fn concurrent_publishers_lose_nothing() {
    let w = tempfile::tempdir().unwrap();
    let st = Setup::new("rpm", "");
    let rpms: Vec<PathBuf> = (0..12)
        .map(|i| {
            cfy_rpm(
                &st,
                &w.path().join("rpms"),
                &format!("par-{i:02}"),
                "1.0",
                "",
            )
        })
        .collect();
    let repo = w.path().join("repo");
    // One thread per publisher, all started at once.
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let runs: Vec<_> = rpms
            .iter()
            .map(|r| s.spawn(|| publish(&["--repo", repo.to_str().unwrap()], &[r.as_path()])))
            .collect();
        runs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    for o in &outputs {
        assert!(o.status.success(), "{}", text(o));
    }
    let primary = entries(&document(&repo, "primary"));
    assert_eq!(primary.len(), 12, "{primary:?}");
    let debris: Vec<_> = walkdir::WalkDir::new(&repo)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(debris.is_empty(), "{debris:?}");
    // Pruned to two generations at most.
    let primaries = fs::read_dir(repo.join("repodata"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .contains("-primary.")
        })
        .count();
    assert!(primaries <= 2, "{primaries} primary files kept");
    let dnf = Dnf::new(w.path());
    dnf.unsigned_repo("par", &repo);
    let names = dnf.ok("par", &["repoquery", "--queryformat", "%{name}"]);
    assert_eq!(names.lines().count(), 12, "{names}");
}

#[test]
fn killed_publishes_always_leave_a_repository_dnf_reads() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, public) = keys.make("kill", w.path());
    let st = Setup::new("rpm", "");
    let dir = w.path().join("rpms");
    let base = cfy_rpm(&st, &dir, "base-agent", "1.0", "");
    let rpms: Vec<PathBuf> = (0..30)
        .map(|i| cfy_rpm(&st, &dir, "kill-agent", &format!("1.{i}"), ""))
        .collect();
    let repo = w.path().join("repo");
    let (repo_s, key_s) = (repo.to_str().unwrap(), secret.to_str().unwrap());
    ok(publish(&["--repo", repo_s, "--sign-key", key_s], &[&base]));
    let dnf = Dnf::new(w.path());
    dnf.repo("k", &format!("file://{}", repo.display()), &public);
    dnf.ok("k", &["makecache"]);

    let mut killed_mid_way = 0;
    for (i, rpm) in rpms.iter().enumerate() {
        let mut child = Command::new(BIN)
            .args(["publish", "-q", "--repo", repo_s, "--sign-key", key_s])
            .arg(rpm)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the whole publish: 0 to ~29 ms.
        let start = Instant::now();
        while start.elapsed() < Duration::from_micros(1000 * i as u64) {
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        if child.try_wait().unwrap().is_none() {
            killed_mid_way += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let o = dnf.run("k", &["makecache", "--refresh"]);
        assert!(o.status.success(), "kill {i}: dnf makecache: {}", text(&o));
        let names = dnf.ok("k", &["repoquery", "--queryformat", "%{name}"]);
        assert!(names.contains("base-agent"), "kill {i}: {names}");
    }
    assert!(
        killed_mid_way > 5,
        "only {killed_mid_way} publishes were killed before finishing"
    );
    // A complete publish afterwards finishes the job and clears the debris.
    let refs: Vec<&Path> = rpms.iter().map(PathBuf::as_path).collect();
    ok(publish(&["--repo", repo_s, "--sign-key", key_s], &refs));
    let names: Vec<String> = walkdir::WalkDir::new(&repo)
        .into_iter()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("incoming") || n.contains("partial") || n.ends_with(".next")),
        "{names:?}"
    );
    let listed = dnf.ok(
        "k",
        &[
            "repoquery",
            "--refresh",
            "--queryformat",
            "%{version}",
            "kill-agent",
        ],
    );
    assert_eq!(listed.lines().count(), 30, "{listed}");
}

#[test]
fn deterministic_and_zstd_and_config_publishing() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, public) = keys.make("cfg", w.path());
    let st = Setup::new("rpm", "");
    let a = cfy_rpm(&st, &w.path().join("rpms"), "one-agent", "1.0", "");
    let b = cfy_rpm(&st, &w.path().join("rpms"), "two-agent", "1.0", "");
    // Same inputs, same SOURCE_DATE_EPOCH: byte-identical repositories, in
    // whatever order the packages were published.
    let (r1, r2) = (w.path().join("r1"), w.path().join("r2"));
    ok(publish(&["--repo", r1.to_str().unwrap()], &[&a, &b]));
    ok(publish(&["--repo", r2.to_str().unwrap()], &[&b]));
    ok(publish(&["--repo", r2.to_str().unwrap()], &[&a]));
    let current = |r: &Path| {
        let repomd = fs::read_to_string(r.join("repodata/repomd.xml")).unwrap();
        (repomd.clone(), entries(&document(r, "primary")))
    };
    assert_eq!(current(&r1), current(&r2));

    // zstd metadata, read by dnf.
    let z = w.path().join("z");
    ok(publish(
        &["--repo", z.to_str().unwrap(), "--compression", "zstd"],
        &[&a, &b],
    ));
    let names: Vec<String> = fs::read_dir(z.join("repodata"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names.iter().filter(|n| n.ends_with(".xml.zst")).count(),
        3,
        "{names:?}"
    );
    let dnf = Dnf::new(w.path());
    dnf.unsigned_repo("z", &z);
    assert_eq!(
        dnf.ok("z", &["repoquery", "--queryformat", "%{name}"])
            .lines()
            .count(),
        2
    );

    // publish.rpm_repo in the config: the rpm built by this run goes in, signed.
    let yum = st.path().join("yum");
    st.config(&format!(
        "name: cfg-agent\nversion: '2.0'\nsign_key: {}",
        secret.display()
    ));
    let yaml = fs::read_to_string(st.path().join("c.yaml")).unwrap()
        + &format!(
            "publish:\n  rpm_repo: yum\n  sign_key: {}\n",
            secret.display()
        );
    fs::write(st.path().join("c.yaml"), &yaml).unwrap();
    let o = st.build(&["-f"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(yum.join("Packages/c/cfg-agent-2.0-1.noarch.rpm").exists());
    assert!(yum.join("repodata/repomd.xml.asc").is_file());
    dnf.repo("cfg", &format!("file://{}", yum.display()), &public);
    dnf.ok("cfg", &["install", "cfg-agent"]);
    assert_eq!(dnf.installed("cfg-agent"), "2.0-1");
    // A public key in the config: refused before any build work.
    let bad = yaml.replace(
        &format!("  sign_key: {}\n", secret.display()),
        &format!("  sign_key: {}\n", public.display()),
    );
    fs::write(st.path().join("c.yaml"), bad).unwrap();
    for f in st.out_files() {
        fs::remove_file(st.path().join("out").join(f)).unwrap();
    }
    let o = st.build(&["-f"], &[]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(st.out_files().is_empty(), "{:?}", st.out_files());
}

#[test]
fn published_packages_are_not_read_again() {
    let w = tempfile::tempdir().unwrap();
    let st = Setup::new("rpm", "");
    let a = cfy_rpm(&st, &w.path().join("rpms"), "first-agent", "1.0", "");
    let b = cfy_rpm(&st, &w.path().join("rpms"), "second-agent", "1.0", "");
    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    ok(publish(&["--repo", repo_s], &[&a]));
    let before = entries(&document(&repo, "primary"));
    // Its published file is now garbage: a publish that read it would fail.
    let published = repo.join("Packages/f/first-agent-1.0-1.noarch.rpm");
    assert!(published.exists());
    fs::write(&published, b"not an rpm any more").unwrap();
    ok(publish(&["--repo", repo_s], &[&b]));
    let after = entries(&document(&repo, "primary"));
    assert_eq!(after.len(), 2);
    assert!(after.contains(&before[0]), "the first entry changed");
    for kind in ["filelists", "other"] {
        assert_eq!(entries(&document(&repo, kind)).len(), 2, "{kind}");
    }
}

// Hardening: pool identity with epochs, paths confined to the repository,
// crafted rpms refused as rpm refuses them.

/// A small noarch rpm by rpmbuild: `name` 1.0-1, with `epoch` when given, one
/// file holding `content`.
fn tiny_rpm(dir: &Path, name: &str, epoch: Option<u32>, content: &str) -> PathBuf {
    let top = dir.join(format!("rpmbuild-{name}-{}", epoch.unwrap_or(0)));
    fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/tiny.spec");
    let epoch = epoch.map(|e| format!("Epoch: {e}\n")).unwrap_or_default();
    fs::write(
        &spec,
        format!(
            "Name: {name}\nVersion: 1.0\nRelease: 1\n{epoch}Summary: tiny\nLicense: MIT\n\
             BuildArch: noarch\nAutoReqProv: no\n%description\ntiny\n\
             %install\nmkdir -p %{{buildroot}}/opt/{name}\n\
             echo '{content}' > %{{buildroot}}/opt/{name}/file\n\
             %files\n/opt/{name}\n"
        ),
    )
    .unwrap();
    rpmbuild(&top, &spec, &format!("{name}-1.0-1.noarch.rpm"))
}

/// Every primary entry's (location, checksum).
fn locations(repo: &Path) -> Vec<(String, String)> {
    entries(&document(repo, "primary"))
        .iter()
        .map(|e| {
            let field = |start: &str, end: &str| {
                e.split(start)
                    .nth(1)
                    .unwrap()
                    .split(end)
                    .next()
                    .unwrap()
                    .to_string()
            };
            (
                field("<location href=\"", "\""),
                field("pkgid=\"YES\">", "<"),
            )
        })
        .collect()
}

#[test]
fn packages_differing_only_in_epoch_have_files_of_their_own() {
    let w = tempfile::tempdir().unwrap();
    let plain = tiny_rpm(w.path(), "same-agent", None, "no epoch");
    let one = tiny_rpm(w.path(), "same-agent", Some(1), "epoch one");
    let repo = w.path().join("srv/yum");
    let r = repo.to_str().unwrap();
    ok(publish(&["--repo", r], &[&plain]));
    // No epoch: the name it always had.
    let plain_file = repo.join("Packages/s/same-agent-1.0-1.noarch.rpm");
    assert_eq!(common::sha256(&plain_file), common::sha256(&plain));
    // Epoch 1, same version-release: a file of its own (before, refused with
    // exit 3, and with -f written over the other's file).
    let out = ok(publish(&["--repo", r], &[&one]));
    assert!(
        out.contains("added: same-agent 1:1.0-1 (noarch) Packages/s/same-agent-1:1.0-1.noarch.rpm"),
        "{out}"
    );
    let before = tree_hash(&repo);
    let out = ok(publish(&["--repo", r, "-f"], &[&one, &plain]));
    assert!(out.contains("unchanged"), "{out}");
    assert_eq!(before, tree_hash(&repo), "-f of unchanged packages");
    let found = locations(&repo);
    assert_eq!(found.len(), 2, "{found:?}");
    for (href, sum) in &found {
        assert_eq!(&common::sha256(&repo.join(href)), sum, "{href}");
    }
    // dnf fetches both over HTTP, each checked against its checksum.
    let http = Http::serve(&w.path().join("srv"), &w.path().join("http.log"));
    let dnf = Dnf::new(w.path());
    dnf.unsigned_url("e", &http.url("yum/"));
    dnf.ok("e", &["install", "same-agent-0:1.0-1"]);
    let epoch = |dnf: &Dnf| {
        let o = Command::new("rpm")
            .arg(format!("--root={}/root", dnf.dir.display()))
            .args(["-q", "--qf", "%{EPOCHNUM}", "same-agent"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    assert_eq!(epoch(&dnf), "0");
    dnf.ok("e", &["upgrade", "same-agent"]);
    assert_eq!(epoch(&dnf), "1");
    // (dnf escapes the colon.)
    let log = http.requests();
    assert!(
        log.contains("same-agent-1%3a1.0-1.noarch.rpm HTTP/1.1\" 200")
            || log.contains("same-agent-1:1.0-1.noarch.rpm HTTP/1.1\" 200"),
        "{log}"
    );
}

/// Rewrite the current primary document with `edit`, keeping repomd.xml's
/// checksum of it true (the file is renamed by its new checksum).
fn edit_primary(repo: &Path, edit: impl Fn(&str) -> String) {
    let path = document(repo, "primary");
    let raw = fs::read(&path).unwrap();
    let mut xml = String::new();
    flate2::read::MultiGzDecoder::new(&raw[..])
        .read_to_string(&mut xml)
        .unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut gz, edit(&xml).as_bytes()).unwrap();
    let new = gz.finish().unwrap();
    let (old_sum, new_sum) = (
        hex::encode(Sha256::digest(&raw)),
        hex::encode(Sha256::digest(&new)),
    );
    fs::write(repo.join(format!("repodata/{new_sum}-primary.xml.gz")), new).unwrap();
    let repomd = repo.join("repodata/repomd.xml");
    let text = fs::read_to_string(&repomd).unwrap();
    fs::write(&repomd, text.replace(&old_sum, &new_sum)).unwrap();
}

/// Refused with `code` and `msg`, the repository's tree as `before`.
#[track_caller]
fn refused(o: &Output, code: i32, msg: &str, repo: &Path, before: &str) {
    assert_eq!(o.status.code(), Some(code), "{}", text(o));
    assert!(text(o).contains(msg), "{}", text(o));
    assert_eq!(before, tree_hash(repo), "the repository changed");
}

#[test]
fn paths_never_leave_the_repository() {
    let w = tempfile::tempdir().unwrap();
    let first = tiny_rpm(w.path(), "first-agent", None, "1");
    let zeta = tiny_rpm(w.path(), "zeta-agent", None, "z");
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    ok(publish(&["--repo", r], &[&first]));
    let empty_dir = |name: &str| {
        let d = w.path().join(name);
        fs::create_dir_all(&d).unwrap();
        d
    };

    // Packages/ a symlink leading out: nothing written there (before: the
    // rpm was written outside and indexed).
    let pk = repo.join("Packages");
    let moved = w.path().join("moved-packages");
    fs::rename(&pk, &moved).unwrap();
    std::os::unix::fs::symlink(&moved, &pk).unwrap();
    let (before, moved_before) = (tree_hash(&repo), tree_hash(&moved));
    let o = publish(&["--repo", r], &[&zeta]);
    refused(&o, 2, "leads outside the repository", &repo, &before);
    assert!(text(&o).contains("Packages/z/zeta-agent-1.0-1.noarch.rpm"));
    assert_eq!(moved_before, tree_hash(&moved));
    fs::remove_file(&pk).unwrap();
    fs::rename(&moved, &pk).unwrap();

    // Packages/<letter>/ a symlink leading out.
    let outside = empty_dir("outside-z");
    std::os::unix::fs::symlink(&outside, pk.join("z")).unwrap();
    let before = tree_hash(&repo);
    let o = publish(&["--repo", r], &[&zeta]);
    refused(&o, 2, "leads outside the repository", &repo, &before);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
    fs::remove_file(pk.join("z")).unwrap();

    // repodata/ a symlink (before: silently replaced by a directory).
    let meta = w.path().join("meta");
    let repodata = repo.join("repodata");
    fs::rename(&repodata, &meta).unwrap();
    std::os::unix::fs::symlink(&meta, &repodata).unwrap();
    let (before, meta_before) = (tree_hash(&repo), tree_hash(&meta));
    let o = publish(&["--repo", r], &[&zeta]);
    refused(&o, 2, "repodata is a symlink", &repo, &before);
    assert_eq!(meta_before, tree_hash(&meta));
    assert!(fs::symlink_metadata(&repodata).unwrap().is_symlink());
    fs::remove_file(&repodata).unwrap();
    fs::rename(&meta, &repodata).unwrap();

    // Locations read back from primary: relative and plain only (before:
    // publishing the package again, its file missing, wrote it there).
    let published = "Packages/f/first-agent-1.0-1.noarch.rpm";
    fs::remove_file(repo.join(published)).unwrap();
    let abs = w.path().join("abs/first.rpm");
    for evil in [
        "../escaped/first.rpm".to_string(),
        abs.display().to_string(),
        "Packages/../../escaped/first.rpm".to_string(),
    ] {
        edit_primary(&repo, |xml| xml.replace(published, &evil));
        let before = tree_hash(&repo);
        let o = publish(&["--repo", r], &[&first]);
        refused(&o, 2, "is not a plain relative path", &repo, &before);
        assert!(
            text(&o).contains("-primary.xml.gz: location"),
            "{}",
            text(&o)
        );
        assert!(!w.path().join("escaped").exists() && !abs.exists());
        edit_primary(&repo, |xml| xml.replace(&evil, published));
    }
    // … and the documents repomd.xml names.
    let repomd = repo.join("repodata/repomd.xml");
    let text_before = fs::read_to_string(&repomd).unwrap();
    for evil in ["../repodata/", "/tmp/../"] {
        fs::write(
            &repomd,
            text_before.replace("href=\"repodata/", &format!("href=\"{evil}")),
        )
        .unwrap();
        let before = tree_hash(&repo);
        let o = publish(&["--repo", r], &[&zeta]);
        refused(&o, 2, "is not a plain relative path", &repo, &before);
        assert!(text(&o).contains("repomd.xml: location"), "{}", text(&o));
    }
    fs::write(&repomd, &text_before).unwrap();
    ok(publish(&["--repo", r], &[&first, &zeta]));
    assert_eq!(
        common::sha256(&repo.join(published)),
        common::sha256(&first)
    );
}

fn be32(b: &[u8], at: usize) -> usize {
    u32::from_be_bytes(b[at..at + 4].try_into().unwrap()) as usize
}

/// Variants of a real rpm that `rpm -K` refuses: (what, bytes).
fn crafted(good: &[u8]) -> Vec<(&'static str, Vec<u8>)> {
    let (il, dl) = (be32(good, 104), be32(good, 108));
    let entry = |i: usize| 112 + 16 * i;
    let store = entry(il);
    let header = (store + dl).div_ceil(8) * 8;
    let hentry = |i: usize| header + 16 + 16 * i;
    let set = |at: usize, v: u32| {
        let mut b = good.to_vec();
        b[at..at + 4].copy_from_slice(&v.to_be_bytes());
        b
    };
    let region_trailer = store + be32(good, entry(0) + 8);
    // The data of the signature entry of `tag`, its first byte changed.
    let digest_changed = |tag: usize| {
        let i = (0..il).find(|&i| be32(good, entry(i)) == tag).unwrap();
        let mut b = good.to_vec();
        b[store + be32(good, entry(i) + 8)] ^= 0x01;
        b
    };
    vec![
        (
            "truncated in the signature header",
            good[..store + 10].to_vec(),
        ),
        ("truncated in the padding", good[..store + dl].to_vec()),
        ("lead: format version 9", {
            let mut b = good.to_vec();
            b[4] = 9;
            b
        }),
        ("lead: signature type 1", set(76, 1)),
        ("signature header: bad magic", set(96, 0x8ead_e802)),
        ("signature header: reserved bytes set", set(100, 1)),
        ("signature header: 33 entries", set(104, 33)),
        (
            "signature entry offset past the data",
            set(entry(1) + 8, dl as u32 + 64),
        ),
        (
            "signature entry offset negative",
            set(entry(1) + 8, (-8i32) as u32),
        ),
        (
            "signature entry count huge",
            set(entry(3) + 12, 0x4000_0000),
        ),
        ("signature entry tag below 100", set(entry(1), 5)),
        ("signature entry type unknown", set(entry(1) + 4, 12)),
        ("signature region tag 61", set(entry(0), 61)),
        ("signature region trailer tag 63", set(region_trailer, 63)),
        (
            "signature region trailer size",
            set(region_trailer + 8, (-16i32 * (il as i32 + 1)) as u32),
        ),
        ("header: bad magic", set(header, 0)),
        ("header: data size huge", set(header + 12, 0xffff_fff0)),
        ("header: 2^28 entries", set(header + 8, 0x1000_0000)),
        (
            "header entry offset past the data",
            set(hentry(3) + 8, 0x10_0000),
        ),
        ("header region tag 62", set(hentry(0), 62)),
        // SHA-256 intact: rpm -K checks every digest.
        ("header SHA-1 digest wrong", digest_changed(269)),
        ("header+payload MD5 digest wrong", digest_changed(1004)),
    ]
}

#[test]
fn crafted_rpms_are_refused_as_rpm_refuses_them() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, public) = keys.make("head", w.path());
    let st = Setup::new("rpm", "");
    // Real rpms, built by rpmbuild and by cfy-ap (signed), go in.
    let tiny = tiny_rpm(w.path(), "head-agent", Some(2), "x");
    let rich = rich_rpm(w.path(), "2.0");
    let signed = cfy_rpm(
        &st,
        &w.path().join("rpms"),
        "signed-agent",
        "1.0",
        &format!("sign_key: {}", secret.display()),
    );
    let db = w.path().join("rpmdb");
    let rpm = |args: &[&str], file: &Path| {
        Command::new("rpm")
            .arg(format!("--dbpath={}", db.display()))
            .args(args)
            .arg(file)
            .output()
            .unwrap()
    };
    fs::create_dir_all(&db).unwrap();
    let o = rpm(&["--import"], &public);
    assert!(o.status.success(), "{}", text(&o));
    for good in [&tiny, &rich, &signed] {
        let o = rpm(&["-K"], good);
        assert!(
            o.status.success(),
            "rpm -K {}: {}",
            good.display(),
            text(&o)
        );
    }
    assert!(text(&rpm(&["-K"], &signed)).contains("signatures OK"));
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    ok(publish(&["--repo", r], &[&tiny, &rich, &signed]));
    let before = tree_hash(&repo);

    let bad = w.path().join("bad");
    fs::create_dir_all(&bad).unwrap();
    // A new repository two directories deep: none of them is left behind.
    let new = w.path().join("new");
    let fresh = new.join("deeper/repo");
    // Every case is tried; what went wrong is listed at the end.
    let mut wrong = Vec::new();
    for (i, (what, bytes)) in crafted(&fs::read(&tiny).unwrap()).into_iter().enumerate() {
        let file = bad.join(format!("crafted-{i}.rpm"));
        fs::write(&file, bytes).unwrap();
        let o = rpm(&["-K"], &file);
        assert!(
            !o.status.success(),
            "{what}: rpm -K accepts it: {}",
            text(&o)
        );
        // Into the repository: refused, naming the file, nothing changed.
        let o = publish(&["--repo", r], &[&file]);
        let refused = o.status.code() == Some(2)
            && text(&o).contains(&format!("{}: not a valid binary rpm", file.display()))
            && before == tree_hash(&repo);
        if !refused {
            wrong.push(format!("{what}: {}", text(&o)));
        }
        // Into a new directory: nothing created.
        let o = publish(&["--repo", fresh.to_str().unwrap()], &[&file]);
        if o.status.code() != Some(2) || new.exists() {
            wrong.push(format!(
                "{what} (new repository, created: {}): {}",
                new.exists(),
                text(&o)
            ));
            let _ = fs::remove_dir_all(&new);
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// A publish that fails after its packages are in `Packages/` but before the
/// metadata switch (here: a directory where the signature is written) leaves
/// no new package file behind: no metadata names it.
#[test]
fn a_publish_failing_before_its_switch_leaves_no_new_package_file() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, _) = keys.make("fresh", w.path());
    let first = tiny_rpm(w.path(), "first-agent", None, "first");
    let second = tiny_rpm(w.path(), "second-agent", None, "second");
    let repo = w.path().join("repo");
    let (r, k) = (repo.to_str().unwrap(), secret.to_str().unwrap());
    ok(publish(&["--repo", r, "--sign-key", k], &[&first]));
    let asc = repo.join("repodata/repomd.xml.asc");
    fs::remove_file(&asc).unwrap();
    fs::create_dir(&asc).unwrap();
    let before = tree_hash(&repo);
    let o = publish(&["--repo", r, "--sign-key", k], &[&second]);
    refused(&o, 1, "repomd.xml.asc", &repo, &before);
    assert!(!repo.join("Packages/s").exists(), "new package files left");
    fs::remove_dir(&asc).unwrap();
    ok(publish(&["--repo", r, "--sign-key", k], &[&second]));
    assert!(
        repo.join("Packages/s/second-agent-1.0-1.noarch.rpm")
            .exists()
    );
}

/// One manager serving two releases of a distribution, through dnf: both agent
/// rpms install (dnf brings their common package once), and removing one
/// leaves the other and the shared files whole.
#[test]
fn agent_rpms_of_two_releases_install_side_by_side() {
    let w = tempfile::tempdir().unwrap();
    let core = Setup::new("rpm", "version: '3.2'");
    let finale = Setup::release("rpm", "centos", "Final", "version: '3.2'");
    let mut rpms = Vec::new();
    for st in [&core, &finale] {
        rpms.push(st.package(&[], &[]));
        rpms.push(st.common());
    }
    // Runs for the two releases write the same common package, byte for byte.
    assert!(fs::read(&rpms[1]).unwrap() == fs::read(&rpms[3]).unwrap());
    let repo = w.path().join("yum");
    let files: Vec<&Path> = rpms.iter().map(PathBuf::as_path).collect();
    ok(publish(&["--repo", repo.to_str().unwrap()], &files));
    let dnf = Dnf::new(w.path());
    dnf.unsigned_repo("two", &repo);
    let (a, b) = ("cloudify-centos-core-agent", "cloudify-centos-final-agent");
    let common = "cloudify-centos-agent-common";
    dnf.ok("two", &["install", a, b]);
    for name in [a, b, common] {
        assert_eq!(dnf.installed(name), "3.2-1", "{name}");
    }
    let root = dnf.root();
    dnf.ok("two", &["remove", a]);
    assert_eq!(dnf.installed(a), "");
    for name in [b, common] {
        dnf.verify(name);
    }
    let res = root.join("opt/manager/resources/packages");
    assert!(!res.join("agents/centos-Core-agent.tar.gz").exists());
    for kept in [
        "agents/centos-Final-agent.tar.gz",
        "scripts/centos-agent-disable-requiretty.sh",
        "templates/centos-celeryd-cloudify.conf.template",
        "templates/centos-celeryd-cloudify.init.template",
    ] {
        assert!(res.join(kept).is_file(), "{kept} gone");
    }
}
