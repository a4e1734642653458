//! `cfy-ap publish --repo s3://BUCKET/PREFIX` of rpms into moto's S3 server
//! (tests/common/s3.rs), read by the real `dnf --installroot` over plain HTTP
//! (anonymous, path-style; `gpgcheck=1`, `repo_gpgcheck=1`), signatures judged
//! by `gpgv` (repomd.xml) and `rpm -K` (packages).
//!
//! The oracle for "consistent" ([`consistent`]): repomd.xml.asc verifies
//! repomd.xml, every metadata file it names is there with its checksum and
//! size, and every package the primary metadata names is there with its
//! checksum.

use super::{Keys, cfy_rpm, common_rpm, rpmbuild};
use crate::common;
use common::dnf::Dnf;
use common::proxy::{Fault, FaultProxy};
use common::s3::{Moto, SECRET, elements};
use common::{Cmd, text};
use sha2::{Digest, Sha256};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// `cfy-ap publish ARGS FILES` against `env`'s endpoint, in a scratch directory,
/// at most 3 minutes; the secret key never appears in what it printed.
#[track_caller]
fn publish(env: &[(String, String)], args: &[&str], files: &[&Path]) -> Output {
    let cwd = tempfile::tempdir().unwrap();
    let o = Cmd::cfy_ap()
        .current_dir(cwd.path())
        .arg("publish")
        .args(args)
        .args(files)
        .envs_remove(&[
            "CFY_AP_SIGN_PASSPHRASE",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL_S3",
            "AWS_MAX_ATTEMPTS",
        ])
        .envs(env)
        .within(Duration::from_secs(180))
        .output();
    assert!(
        !text(&o).contains(SECRET),
        "the secret access key was printed:\n{}",
        text(&o)
    );
    o
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(o.status.success(), "cfy-ap publish failed:\n{}", text(&o));
    text(&o)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A small noarch rpm by rpmbuild: `name` `version`-1, one file naming both.
fn small_rpm(dir: &Path, name: &str, version: &str) -> PathBuf {
    let top = dir.join(format!("rpmbuild-{name}-{version}"));
    fs::create_dir_all(top.join("SPECS")).unwrap();
    let spec = top.join("SPECS/small.spec");
    fs::write(
        &spec,
        format!(
            "Name: {name}\nVersion: {version}\nRelease: 1\nSummary: small\nLicense: MIT\n\
             BuildArch: noarch\nAutoReqProv: no\n%description\nsmall\n\
             %install\nmkdir -p %{{buildroot}}/opt/{name}\n\
             echo '{name} {version}' > %{{buildroot}}/opt/{name}/file\n\
             %files\n/opt/{name}\n"
        ),
    )
    .unwrap();
    rpmbuild(&top, &spec, &format!("{name}-{version}-1.noarch.rpm"))
}

/// The yum repository at `prefix`, judged as a client would find it now;
/// panics saying what is wrong. Returns "name version-release" of every
/// package the primary metadata lists, sorted.
#[track_caller]
fn consistent(moto: &Moto, prefix: &str, keyring: &Path) -> Vec<String> {
    let scratch = tempfile::tempdir().unwrap();
    let get = |key: &str| {
        moto.get(key)
            .unwrap_or_else(|| panic!("{key} is missing; keys: {:#?}", moto.keys(prefix)))
    };
    let repomd = get(&format!("{prefix}/repodata/repomd.xml"));
    let (xml, asc) = (
        scratch.path().join("repomd.xml"),
        scratch.path().join("repomd.xml.asc"),
    );
    fs::write(&xml, &repomd).unwrap();
    fs::write(&asc, get(&format!("{prefix}/repodata/repomd.xml.asc"))).unwrap();
    let o = Command::new("gpgv")
        .arg("--keyring")
        .arg(keyring)
        .arg(&asc)
        .arg(&xml)
        .output()
        .unwrap();
    assert!(o.status.success(), "gpgv repomd.xml.asc: {}", text(&o));
    let repomd = String::from_utf8(repomd).unwrap();
    let mut packages = Vec::new();
    for data in repomd.split("<data type=\"").skip(1) {
        let kind = data.split('"').next().unwrap();
        let href = data
            .split("<location href=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .unwrap();
        let checksum = data
            .split("<checksum type=\"sha256\">")
            .nth(1)
            .and_then(|r| r.split('<').next())
            .unwrap_or_else(|| panic!("no sha256 checksum for {kind}:\n{repomd}"));
        let size: usize = elements(data, "size")[0].parse().unwrap();
        let bytes = get(&format!("{prefix}/{href}"));
        assert_eq!(
            (sha256(&bytes), bytes.len()),
            (checksum.to_string(), size),
            "{href}"
        );
        assert!(href.contains(checksum), "{href}: not named by its checksum");
        if kind == "primary" {
            let mut primary = String::new();
            flate2::read::MultiGzDecoder::new(&bytes[..])
                .read_to_string(&mut primary)
                .unwrap();
            for p in primary.split("<package ").skip(1) {
                let location = p
                    .split("<location href=\"")
                    .nth(1)
                    .and_then(|r| r.split('"').next())
                    .unwrap();
                let pkgid = p
                    .split("pkgid=\"YES\">")
                    .nth(1)
                    .and_then(|r| r.split('<').next())
                    .unwrap();
                let rpm = get(&format!("{prefix}/{location}"));
                assert_eq!(sha256(&rpm), pkgid, "{location}");
                let name = &elements(p, "name")[0];
                let ver = p.split("<version ").nth(1).unwrap();
                let attr = |a: &str| {
                    ver.split(&format!("{a}=\""))
                        .nth(1)
                        .and_then(|r| r.split('"').next())
                        .unwrap()
                        .to_string()
                };
                packages.push(format!("{name} {}-{}", attr("ver"), attr("rel")));
            }
        }
    }
    assert!(
        !packages.is_empty() || repomd.contains("primary"),
        "{repomd}"
    );
    packages.sort();
    packages
}

/// The binary public key of `keys`' key `name` in `dir` (for gpgv).
fn keyring(keys: &Keys, name: &str, dir: &Path) -> PathBuf {
    let uid = format!("{name} <{name}@example.invalid>");
    let path = dir.join(format!("{name}.gpg"));
    fs::write(&path, keys.gpg(&["--export", &uid])).unwrap();
    path
}

/// `rpm -K` of `file` in a throwaway rpm database that trusts `public`.
fn rpm_k(work: &Path, public: &Path, file: &Path) -> String {
    let db = work.join("rpmdb");
    fs::create_dir_all(&db).unwrap();
    let root = format!("--root={}", db.display());
    let o = Command::new("rpm")
        .args([&root, "--import"])
        .arg(public)
        .output()
        .unwrap();
    assert!(o.status.success(), "rpm --import: {}", text(&o));
    let o = Command::new("rpm")
        .args([&root, "-K"])
        .arg(file)
        .output()
        .unwrap();
    text(&o)
}

#[test]
fn dnf_installs_and_upgrades_from_a_signed_repository_in_s3() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, public) = keys.make("repo", w.path());
    let ring = keyring(&keys, "repo", w.path());
    let moto = Moto::start(w.path());
    let env = moto.env();
    let st = common::package::Setup::new("rpm", "");
    let sign = format!("sign_key: {}", secret.display());
    let rpms = w.path().join("rpms");
    let v1 = cfy_rpm(&st, &rpms, "demo-agent", "1.0", &sign);
    let v2 = cfy_rpm(&st, &rpms, "demo-agent", "1.1", &sign);
    let url = moto.s3_url("yum");
    let key_s = secret.to_str().unwrap();
    let signed = ["--repo", url.as_str(), "--sign-key", key_s];
    let out = ok(publish(&env, &signed, &[&v1, &common_rpm(&rpms, "1.0")]));
    assert!(out.contains("added: demo-agent 1.0-1"), "{out}");
    assert_eq!(
        consistent(&moto, "yum", &ring),
        ["cloudify-centos-agent-common 1.0-1", "demo-agent 1.0-1"]
    );
    assert!(
        moto.keys("yum/")
            .contains(&"yum/Packages/d/demo-agent-1.0-1.noarch.rpm".to_string()),
        "{:#?}",
        moto.keys("yum/")
    );

    let dnf = Dnf::new(w.path());
    dnf.repo("s3", &moto.http_url("yum"), &public);
    dnf.ok("s3", &["install", "demo-agent"]);
    assert_eq!(dnf.installed("demo-agent"), "1.0-1");
    dnf.verify("demo-agent");
    assert!(
        moto.requests().contains("repomd.xml.asc"),
        "{}",
        moto.requests()
    );

    // What dnf downloads is the published, signed package.
    let fetched = w.path().join("fetched.rpm");
    fs::write(
        &fetched,
        moto.get_anonymous("yum/Packages/d/demo-agent-1.0-1.noarch.rpm")
            .1,
    )
    .unwrap();
    let k = rpm_k(w.path(), &public, &fetched);
    assert!(k.contains("digests signatures OK"), "rpm -K: {k}");

    std::thread::sleep(Duration::from_millis(1100));
    ok(publish(&env, &signed, &[&v2, &common_rpm(&rpms, "1.1")]));
    assert_eq!(
        consistent(&moto, "yum", &ring),
        [
            "cloudify-centos-agent-common 1.0-1",
            "cloudify-centos-agent-common 1.1-1",
            "demo-agent 1.0-1",
            "demo-agent 1.1-1"
        ]
    );
    let up = dnf.ok("s3", &["upgrade", "--refresh", "demo-agent"]);
    assert_eq!(dnf.installed("demo-agent"), "1.1-1", "{up}");
    dnf.verify("demo-agent");

    // Another key: dnf refuses the repository.
    let (_, other) = keys.make("other", w.path());
    let wrong = Dnf::new(&w.path().join("wrong"));
    wrong.repo("s3", &moto.http_url("yum"), &other);
    let o = wrong.run("s3", &["makecache"]);
    assert!(!o.status.success(), "dnf accepted another key's repository");
}

/// Every key under `prefix` with the digest of its bytes.
/// The writes (PUT, POST, DELETE) `proxy` saw, but those of the lease
/// (`.cfy-ap.lock`) and multi-object deletes naming only it.
fn writes_beyond_the_lease(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .log()
        .iter()
        .filter(|s| s.method != "GET" && s.method != "HEAD")
        .filter(|s| !s.target.ends_with("/.cfy-ap.lock"))
        .filter(|s| {
            let keys = elements(&String::from_utf8_lossy(&s.body), "Key");
            !(s.method == "POST"
                && !keys.is_empty()
                && keys.iter().all(|k| k.ends_with("/.cfy-ap.lock")))
        })
        .map(|s| format!("{} {}", s.method, s.target))
        .collect()
}

/// moto, the fault proxy in front of it, a key, and `op-agent 1.0` published.
struct Ops {
    w: tempfile::TempDir,
    _keys: Keys,
    secret: PathBuf,
    ring: PathBuf,
    moto: Moto,
    proxy: FaultProxy,
    env: Vec<(String, String)>,
    url: String,
    a: PathBuf,
}

impl Ops {
    fn new() -> Ops {
        let w = tempfile::tempdir().unwrap();
        let keys = Keys::new();
        let (secret, _) = keys.make("ops", w.path());
        let ring = keyring(&keys, "ops", w.path());
        let moto = Moto::start(w.path());
        let proxy = FaultProxy::start(moto.port);
        let env = Moto::env_for(&proxy.endpoint());
        let url = moto.s3_url("yops");
        let a = small_rpm(w.path(), "op-agent", "1.0");
        let ops = Ops {
            w,
            _keys: keys,
            secret,
            ring,
            moto,
            proxy,
            env,
            url,
            a,
        };
        ok(ops.publish(&[], &[&ops.a]));
        assert_eq!(consistent(&ops.moto, "yops", &ops.ring), ["op-agent 1.0-1"]);
        ops
    }

    fn publish(&self, extra: &[&str], files: &[&Path]) -> Output {
        let signed = [
            "--repo",
            self.url.as_str(),
            "--sign-key",
            self.secret.to_str().unwrap(),
        ];
        publish(&self.env, &[&signed[..], extra].concat(), files)
    }
}

#[test]
fn yum_publish_operations_against_s3() {
    let ops = Ops::new();
    let (moto, proxy) = (&ops.moto, &ops.proxy);
    // Other bytes, same name-version-release: refused (3), nothing written
    // but the lease; then -f replaces it.
    let rebuilt = {
        let top = ops.w.path().join("rebuilt");
        fs::create_dir_all(top.join("SPECS")).unwrap();
        let spec = top.join("SPECS/r.spec");
        fs::write(
            &spec,
            "Name: op-agent\nVersion: 1.0\nRelease: 1\nSummary: r\nLicense: MIT\n\
             BuildArch: noarch\nAutoReqProv: no\n%description\nrebuilt\n\
             %install\nmkdir -p %{buildroot}/opt/op-agent\n\
             echo rebuilt > %{buildroot}/opt/op-agent/file\n%files\n/opt/op-agent\n",
        )
        .unwrap();
        rpmbuild(&top, &spec, "op-agent-1.0-1.noarch.rpm")
    };
    let before = moto.snapshot("yops/");
    proxy.clear_log();
    let o = ops.publish(&[], &[&rebuilt]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(writes_beyond_the_lease(proxy), Vec::<String>::new());
    assert_eq!(before, moto.snapshot("yops/"));
    let out = ok(ops.publish(&["-f"], &[&rebuilt]));
    assert!(out.contains("replaced: op-agent 1.0-1"), "{out}");
    let b = small_rpm(ops.w.path(), "op-other", "2.0");
    ok(ops.publish(&[], &[&b]));
    assert_eq!(
        consistent(moto, "yops", &ops.ring),
        ["op-agent 1.0-1", "op-other 2.0-1"]
    );
    assert_eq!(
        sha256(
            &moto
                .get("yops/Packages/o/op-agent-1.0-1.noarch.rpm")
                .unwrap()
        ),
        sha256(&fs::read(&rebuilt).unwrap())
    );
    // The same bytes again: a no-op, writing nothing but the lease.
    proxy.clear_log();
    let out = ok(ops.publish(&[], &[&b]));
    assert!(out.contains("already published"), "{out}");
    assert_eq!(
        writes_beyond_the_lease(proxy),
        Vec::<String>::new(),
        "publishing an already published package wrote (uploaded it again?)"
    );
}

#[test]
fn a_yum_dry_run_writes_nothing_to_s3() {
    let ops = Ops::new();
    let before = ops.moto.snapshot("yops/");
    ops.proxy.clear_log();
    let b = small_rpm(ops.w.path(), "op-other", "2.0");
    let out = ok(ops.publish(&["--dry-run"], &[&b]));
    assert!(out.contains("op-other"), "{out}");
    let writes: Vec<String> = ops
        .proxy
        .log()
        .iter()
        .filter(|s| s.method != "GET" && s.method != "HEAD")
        .map(|s| format!("{} {}", s.method, s.target))
        .collect();
    assert_eq!(
        writes,
        Vec::<String>::new(),
        "--dry-run wrote; it said:\n{out}"
    );
    assert_eq!(before, ops.moto.snapshot("yops/"));
    // A deb into this yum prefix: refused from the first read, nothing written.
    let deb = common::apt::make_deb(ops.w.path(), "op-deb", "1.0", "all");
    let o = ops.publish(&[], &[&deb]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("is a yum repository"), "{}", text(&o));
    assert!(
        ops.proxy
            .log()
            .iter()
            .all(|s| s.method == "GET" || s.method == "HEAD")
    );
    assert_eq!(before, ops.moto.snapshot("yops/"));
}

#[test]
fn a_lasting_fault_on_the_yum_switch_leaves_a_repository_dnf_reads_and_the_next_publish_completes()
{
    let ops = Ops::new();
    let (secret, public) = (&ops.secret, ops.w.path().join("ops.pub.asc"));
    assert!(secret.is_file() && public.is_file());
    let b = small_rpm(ops.w.path(), "op-other", "2.0");
    // Every write of repomd.xml fails (its signature, repomd.xml.asc, goes).
    ops.proxy.fault(
        "PUT",
        "/repodata/repomd.xml$",
        1,
        usize::MAX,
        Fault::Status(503),
    );
    let o = ops.publish(&[], &[&b]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    // What clients see: the previous repository, its signature verifying.
    assert_eq!(consistent(&ops.moto, "yops", &ops.ring), ["op-agent 1.0-1"]);
    let dnf = Dnf::new(ops.w.path());
    fs::write(
        dnf.dir.join("repos.d/s3.repo"),
        format!(
            "[s3]\nname=s3\nbaseurl={}\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
            ops.moto.http_url("yops"),
            public.display()
        ),
    )
    .unwrap();
    dnf.ok("s3", &["makecache"]);
    // The next publish completes it.
    ops.proxy.clear_faults();
    ok(ops.publish(&[], &[&b]));
    assert_eq!(
        consistent(&ops.moto, "yops", &ops.ring),
        ["op-agent 1.0-1", "op-other 2.0-1"]
    );
    let names = dnf.ok(
        "s3",
        &["repoquery", "--refresh", "--queryformat", "%{name}"],
    );
    assert!(names.contains("op-other"), "{names}");
}

#[test]
fn dnf_clients_never_see_a_broken_repository_during_publishes() {
    let w = tempfile::tempdir().unwrap();
    let keys = Keys::new();
    let (secret, public) = keys.make("ham", w.path());
    let ring = keyring(&keys, "ham", w.path());
    let moto = Moto::start(w.path());
    let env = moto.env();
    let url = moto.s3_url("yham");
    let key_s = secret.to_str().unwrap();
    let base = [
        "--repo",
        url.as_str(),
        "--sign-key",
        key_s,
        "--grace",
        "10s",
        "-q",
    ];
    ok(publish(
        &env,
        &base,
        &[&small_rpm(w.path(), "ham-agent", "1.0")],
    ));
    let rpms: Vec<PathBuf> = (1..=10)
        .map(|i| {
            if i % 3 == 0 {
                small_rpm(w.path(), &format!("ham-extra{i}"), "1.0")
            } else {
                small_rpm(w.path(), "ham-agent", &format!("1.{i}"))
            }
        })
        .collect();
    let dnf = Dnf::new(w.path());
    // The rpms are rpmbuild's, unsigned: the metadata's signature is checked.
    fs::write(
        dnf.dir.join("repos.d/s3.repo"),
        format!(
            "[s3]\nname=s3\nbaseurl={}\nenabled=1\ngpgcheck=0\nrepo_gpgcheck=1\ngpgkey=file://{}\n",
            moto.http_url("yham"),
            public.display()
        ),
    )
    .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let downloads = w.path().join("dl");
    let client = std::thread::spawn(move || {
        let (mut rounds, mut failures) = (0, Vec::new());
        for _ in 0..10_000 {
            if s.load(Ordering::SeqCst) {
                break;
            }
            rounds += 1;
            let o = dnf.run("s3", &["makecache", "--refresh"]);
            if !o.status.success() {
                failures.push(format!("makecache:\n{}", text(&o)));
                continue;
            }
            let _ = fs::remove_dir_all(&downloads);
            let dir = format!("--downloaddir={}", downloads.display());
            let o = dnf.run("s3", &["install", "--downloadonly", &dir, "ham-agent"]);
            if !o.status.success() {
                failures.push(format!("install:\n{}", text(&o)));
            }
        }
        (rounds, failures)
    });
    let start = Instant::now();
    for rpm in &rpms {
        ok(publish(&env, &base, &[rpm]));
    }
    let took = start.elapsed();
    stop.store(true, Ordering::SeqCst);
    let (rounds, failures) = client.join().unwrap();
    eprintln!("10 yum publishes in {took:?}; {rounds} dnf rounds");
    let shown: Vec<&String> = failures.iter().take(3).collect();
    assert!(
        failures.is_empty(),
        "{} failures: {shown:#?}",
        failures.len()
    );
    assert!(
        rounds >= 2,
        "only {rounds} dnf rounds ran during the publishes"
    );
    let now = consistent(&moto, "yham", &ring);
    assert!(now.contains(&"ham-agent 1.10-1".to_string()), "{now:?}");
    assert_eq!(now.len(), 11, "{now:?}");
}
