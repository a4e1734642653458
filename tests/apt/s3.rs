//! `cfy-ap publish --repo s3://BUCKET/PREFIX` of apt repositories into moto's S3
//! server (tests/common/s3.rs), read back by the real `apt-get` over plain HTTP
//! (anonymous, path-style, by-hash), signatures judged by `gpgv`. The fault proxy
//! (tests/common/proxy.rs) sits between cfy-ap and moto where the requests are
//! counted or failed.
//!
//! The oracle for "consistent" ([`consistent`]): InRelease verifies, Release and
//! Release.gpg say the same, every index the Release lists is there under its
//! by-hash name and its plain name with the digest and size listed, and every
//! package the indices name is in the pool with its size and digest.
//!
//! Needs: dpkg-deb, apt-get, gpg, gpgv, moto (`$CFY_AP_TEST_MOTO`).

use crate::common;

use common::Cmd;
use common::apt::{Apt, Gpg, dpkg_root, host_arch, install_into, require_tools, workdir};
use common::proxy::{Fault, FaultProxy};
use common::s3::{Moto, SECRET};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// What cfy-ap printed and how it ended, in one text.
fn text(o: &Output) -> String {
    common::text(o)
}

/// `cfy-ap publish ARGS DEBS` with `env` (an S3 endpoint and credentials), no
/// inherited AWS profile, session or passphrase, at most 3 minutes. Whatever it
/// did, the secret key never appears in what it printed.
#[track_caller]
fn publish(env: &[(String, String)], args: &[&str], debs: &[&Path]) -> Output {
    // In a scratch directory: an s3:// URL taken for a path would land there.
    let cwd = tempfile::tempdir().unwrap();
    let o = command(env, args, debs)
        .current_dir(cwd.path())
        .within(Duration::from_secs(180))
        .output();
    assert!(
        !text(&o).contains(SECRET),
        "the secret access key was printed:\n{}",
        text(&o)
    );
    o
}

fn command(env: &[(String, String)], args: &[&str], debs: &[&Path]) -> Cmd {
    Cmd::cfy_ap()
        .arg("publish")
        .args(args)
        .args(debs)
        .envs_remove(&[
            "CFY_AP_SIGN_PASSPHRASE",
            "AWS_PROFILE",
            "AWS_SESSION_TOKEN",
            "AWS_DEFAULT_REGION",
            "AWS_ENDPOINT_URL_S3",
            "AWS_MAX_ATTEMPTS",
        ])
        .envs(env)
}

#[track_caller]
fn ok(o: Output) -> String {
    assert!(o.status.success(), "cfy-ap publish failed:\n{}", text(&o));
    text(&o)
}

/// A tiny package `name` `version` (its payload names both, so every version
/// has bytes of its own), made once: asked for again, the same file.
fn deb(dir: &Path, name: &str, version: &str) -> PathBuf {
    let d = dir.join(format!("{name}-{version}"));
    let made = d.join(format!("{name}_{version}_all.deb"));
    if made.is_file() {
        return made;
    }
    make_deb_with(
        &d,
        name,
        version,
        "all",
        format!("{name} {version}").as_bytes(),
        "",
    )
}

/// [`common::apt::make_deb_with`] into `dir`, made first.
fn make_deb_with(
    dir: &Path,
    name: &str,
    version: &str,
    arch: &str,
    payload: &[u8],
    extra: &str,
) -> PathBuf {
    fs::create_dir_all(dir).unwrap();
    common::apt::make_deb_with(dir, name, version, arch, payload, extra)
}

fn sha256(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// A signing key: (secret `key.asc`, public keyring `key.gpg`) in `dir`.
fn key(gpg: &Gpg, dir: &Path) -> (PathBuf, PathBuf) {
    gpg.signing_key("S3 Repo <s3@example.invalid>", dir)
}

/// The stanzas of a Packages index as field maps.
fn stanzas(packages: &str) -> Vec<BTreeMap<String, String>> {
    packages
        .split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| {
            s.lines()
                .filter(|l| !l.starts_with(' '))
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// The repository at `prefix` (codename `codename`), judged as every client
/// would find it now (by-hash or not, InRelease or Release + Release.gpg);
/// panics saying what is wrong. Returns "name version" of every package its
/// indices list, sorted.
#[track_caller]
fn consistent(moto: &Moto, prefix: &str, codename: &str, keyring: &Path) -> Vec<String> {
    judge(moto, prefix, codename, keyring, true)
}

/// The same as apt with by-hash finds it (the guarantee while a publish runs
/// or after one failed): InRelease verifies, every index it lists is under its
/// by-hash name, every package those name is in the pool.
#[track_caller]
fn by_hash_view(moto: &Moto, prefix: &str, codename: &str, keyring: &Path) -> Vec<String> {
    judge(moto, prefix, codename, keyring, false)
}

#[track_caller]
fn judge(moto: &Moto, prefix: &str, codename: &str, keyring: &Path, every: bool) -> Vec<String> {
    let scratch = tempfile::tempdir().unwrap();
    let dist = format!("{prefix}/dists/{codename}");
    let get = |key: &str| {
        moto.get(key)
            .unwrap_or_else(|| panic!("{key} is missing; keys: {:#?}", moto.keys(prefix)))
    };
    let in_release = scratch.path().join("InRelease");
    fs::write(&in_release, get(&format!("{dist}/InRelease"))).unwrap();
    let signed = scratch.path().join("InRelease.txt");
    let o = Command::new("gpgv")
        .arg("--keyring")
        .arg(keyring)
        .arg("--output")
        .arg(&signed)
        .arg(&in_release)
        .output()
        .unwrap();
    assert!(o.status.success(), "gpgv InRelease: {}", text(&o));
    let release_text = fs::read_to_string(&signed).unwrap();
    if every {
        let release = get(&format!("{dist}/Release"));
        // (gpgv's output of a cleartext signature ends in one more newline.)
        assert_eq!(
            String::from_utf8_lossy(&release).trim_end(),
            release_text.trim_end(),
            "Release and InRelease differ"
        );
        let (r, g) = (
            scratch.path().join("Release"),
            scratch.path().join("Release.gpg"),
        );
        fs::write(&r, &release).unwrap();
        fs::write(&g, get(&format!("{dist}/Release.gpg"))).unwrap();
        let o = common::apt::gpgv(keyring, &[&g, &r]);
        assert!(o.status.success(), "gpgv Release.gpg: {}", text(&o));
    }
    assert!(
        release_text.contains("\nAcquire-By-Hash: yes\n"),
        "{release_text}"
    );
    let mut listed = Vec::new();
    let mut in_sha256 = false;
    for line in release_text.lines() {
        if !line.starts_with(' ') {
            in_sha256 = line == "SHA256:";
            continue;
        }
        if in_sha256 {
            let f: Vec<&str> = line.split_whitespace().collect();
            listed.push((
                f[0].to_string(),
                f[1].parse::<usize>().unwrap(),
                f[2].to_string(),
            ));
        }
    }
    assert!(!listed.is_empty(), "no SHA256 index list:\n{release_text}");
    let mut packages = Vec::new();
    for (digest, size, path) in &listed {
        let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
        let by_hash = get(&format!("{dist}/{dir}/by-hash/SHA256/{digest}"));
        assert_eq!(
            (sha256(&by_hash), by_hash.len()),
            (digest.clone(), *size),
            "by-hash object of {path}"
        );
        if every {
            let plain = get(&format!("{dist}/{path}"));
            assert_eq!(
                (sha256(&plain), plain.len()),
                (digest.clone(), *size),
                "plain object {path}"
            );
        }
        if path.ends_with("/Packages") {
            for s in stanzas(&String::from_utf8(by_hash.clone()).unwrap()) {
                let file = &s["Filename"];
                let bytes = get(&format!("{prefix}/{file}"));
                assert_eq!(bytes.len().to_string(), s["Size"], "size of {file}");
                assert_eq!(sha256(&bytes), s["SHA256"], "digest of {file}");
                packages.push(format!("{} {}", s["Package"], s["Version"]));
            }
        }
    }
    packages.sort();
    packages.dedup();
    packages
}

/// A private apt reading `prefix` (codename stable) from moto over HTTP,
/// anonymously, signed by `keyring`.
fn client(work: &Path, name: &str, moto: &Moto, prefix: &str, keyring: &Path) -> Apt {
    let apt = Apt::new(work, name);
    apt.sources(&format!(
        "deb [signed-by={}] {} stable main",
        keyring.display(),
        moto.http_url(prefix)
    ));
    apt
}

#[test]
fn apt_installs_and_upgrades_from_a_signed_repository_in_s3() {
    require_tools();
    let w = workdir();
    let gpg = Gpg::new();
    let (secret, keyring) = key(&gpg, w.path());
    let arch = host_arch();
    let moto = Moto::start(w.path());
    let env = moto.env();
    let debs = w.path().join("debs");
    let v1 = make_deb_with(
        &debs.join("1"),
        "s3-agent",
        "1.0-1",
        &arch,
        b"one",
        "Depends: libc6\n",
    );
    let v2 = make_deb_with(
        &debs.join("2"),
        "s3-agent",
        "1.1-1",
        &arch,
        b"two",
        "Depends: libc6\n",
    );
    let docs = deb(&debs, "s3-docs", "0.1");
    let url = moto.s3_url("apt");
    let key_s = secret.to_str().unwrap();
    let out = ok(publish(
        &env,
        &["--repo", &url, "--sign-key", key_s],
        &[&v1, &docs],
    ));
    assert!(out.contains("added: s3-agent 1.0-1"), "{out}");
    assert_eq!(
        consistent(&moto, "apt", "stable", &keyring),
        ["s3-agent 1.0-1", "s3-docs 0.1"]
    );
    // The local layout, under the prefix.
    let keys = moto.keys("apt/");
    for k in [
        "apt/dists/stable/InRelease".to_string(),
        "apt/dists/stable/Release".to_string(),
        "apt/dists/stable/Release.gpg".to_string(),
        format!("apt/dists/stable/main/binary-{arch}/Packages.xz"),
        format!("apt/pool/main/s/s3-agent/s3-agent_1.0-1_{arch}.deb"),
        "apt/pool/main/s/s3-docs/s3-docs_0.1_all.deb".to_string(),
    ] {
        assert!(keys.contains(&k), "{k} missing: {keys:#?}");
    }

    let apt = client(w.path(), "apt", &moto, "apt", &keyring);
    apt.update_clean();
    assert!(apt.policy("s3-agent").contains("Candidate: 1.0-1"));
    // apt fetched the indices by hash.
    let log = moto.requests();
    assert!(log.contains("/by-hash/SHA256/"), "{log}");

    // A publish in a later second (Last-Modified has one-second resolution).
    std::thread::sleep(Duration::from_millis(1100));
    ok(publish(
        &env,
        &["--repo", &url, "--sign-key", key_s],
        &[&v2],
    ));
    assert_eq!(
        consistent(&moto, "apt", "stable", &keyring),
        ["s3-agent 1.0-1", "s3-agent 1.1-1", "s3-docs 0.1"]
    );
    apt.update_clean();
    let policy = apt.policy("s3-agent");
    assert!(
        policy.contains("Candidate: 1.1-1") && policy.contains(" 1.0-1 "),
        "{policy}"
    );
    // The download is the published file, byte for byte.
    let o = apt.run("apt-get", &["install", "--download-only", "-y", "s3-agent"]);
    assert!(o.status.success(), "{}", text(&o));
    let fetched = apt
        .root
        .join(format!("cache/archives/s3-agent_1.1-1_{arch}.deb"));
    assert_eq!(fs::read(&fetched).unwrap(), fs::read(&v2).unwrap());

    // A key apt does not trust: refused.
    let other_dir = w.path().join("other");
    fs::create_dir_all(&other_dir).unwrap();
    let (_, other) = gpg.signing_key("Other <other@example.invalid>", &other_dir);
    let wrong = client(w.path(), "apt-wrong", &moto, "apt", &other);
    let o = wrong.run("apt-get", &["update"]);
    assert!(
        text(&o).contains("NO_PUBKEY") || text(&o).contains("not signed"),
        "apt accepted a repository signed by another key:\n{}",
        text(&o)
    );

    if !common::apt::is_root() {
        eprintln!("not root: skipping the install/upgrade steps");
        return;
    }
    let root = dpkg_root(w.path(), &arch);
    let o = install_into(&apt, &root, "s3-agent=1.0-1");
    assert!(
        text(&o).contains("Setting up s3-agent (1.0-1)"),
        "{}",
        text(&o)
    );
    let o = install_into(&apt, &root, "s3-agent");
    assert!(
        text(&o).contains("Unpacking s3-agent (1.1-1) over (1.0-1)"),
        "{}",
        text(&o)
    );
    let ran = Command::new(root.join("opt/s3-agent/bin/s3-agent"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "s3-agent 1.1-1"
    );
}

/// Every key under `prefix` with the digest of its bytes.
/// The writes (PUT, POST, DELETE) the proxy saw since its log was cleared:
/// "METHOD TARGET", a multi-object delete with the keys it names.
fn writes(proxy: &FaultProxy) -> Vec<String> {
    proxy
        .log()
        .iter()
        .filter(|s| s.method != "GET" && s.method != "HEAD")
        .map(|s| {
            let keys = common::s3::elements(&String::from_utf8_lossy(&s.body), "Key");
            if keys.is_empty() {
                format!("{} {}", s.method, s.target)
            } else {
                format!("{} {} {keys:?}", s.method, s.target)
            }
        })
        .collect()
}

/// The proxy saw no write at all since its log was cleared.
#[track_caller]
fn wrote_nothing(proxy: &FaultProxy, what: &str) {
    let w = writes(proxy);
    assert!(w.is_empty(), "{what} wrote: {w:#?}");
}

/// The proxy saw no write since its log was cleared but of the lease
/// (`.cfy-ap.lock`: taken, renewed, released).
#[track_caller]
fn wrote_only_the_lease(proxy: &FaultProxy, what: &str) {
    let w: Vec<String> = writes(proxy)
        .into_iter()
        .filter(|w| {
            let lease = w.contains("/.cfy-ap.lock");
            let delete_of_lease = w.starts_with("POST ") && w.contains("?delete") && {
                let keys = w.split(" [").nth(1).unwrap_or("");
                !keys.is_empty() && keys.split(", ").all(|k| k.contains(".cfy-ap.lock"))
            };
            !(lease || delete_of_lease)
        })
        .collect();
    assert!(w.is_empty(), "{what} wrote more than the lease: {w:#?}");
}

#[test]
fn every_publish_operation_works_against_s3() {
    require_tools();
    let w = workdir();
    let gpg = Gpg::new();
    let (secret, keyring) = key(&gpg, w.path());
    let moto = Moto::start(w.path());
    let proxy = FaultProxy::start(moto.port);
    let env = Moto::env_for(&proxy.endpoint());
    let d = w.path().join("debs");
    let url = moto.s3_url("ops");
    let key_s = secret.to_str().unwrap();
    let signed = ["--repo", url.as_str(), "--sign-key", key_s];
    fn with<'a>(signed: &[&'a str], extra: &[&'a str]) -> Vec<&'a str> {
        [signed, extra].concat()
    }
    let a1 = deb(&d, "op-agent", "1.0");
    let a2 = deb(&d, "op-agent", "2.0");
    let a3 = deb(&d, "op-agent", "3.0");
    let b = deb(&d, "op-base", "1.0");
    let pool = |name: &str, v: &str| format!("ops/pool/main/o/{name}/{name}_{v}_all.deb");

    // add
    ok(publish(&env, &signed, &[&a1, &b]));
    assert_eq!(
        consistent(&moto, "ops", "stable", &keyring),
        ["op-agent 1.0", "op-base 1.0"]
    );

    // Other bytes under the same name and version: refused (3), nothing written;
    // -f replaces it.
    let rebuilt = make_deb_with(&d.join("rebuilt"), "op-agent", "1.0", "all", b"rebuilt", "");
    let before = moto.snapshot("ops/");
    proxy.clear_log();
    let o = publish(&env, &signed, &[&rebuilt]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("already published with different contents"),
        "{}",
        text(&o)
    );
    wrote_only_the_lease(&proxy, "a refused duplicate");
    assert_eq!(before, moto.snapshot("ops/"));
    ok(publish(&env, &with(&signed, &["-f"]), &[&rebuilt]));
    consistent(&moto, "ops", "stable", &keyring);
    assert_eq!(
        moto.get(&pool("op-agent", "1.0")).unwrap(),
        fs::read(&rebuilt).unwrap(),
        "-f replaced the pool object"
    );

    // --dry-run of an add, a remove, a keep and a copy: said, not done.
    ok(publish(&env, &signed, &[&a2, &a3]));
    let before = moto.snapshot("ops/");
    proxy.clear_log();
    let new = deb(&d, "op-new", "1.0");
    for (args, files, says) in [
        (vec!["--dry-run"], vec![new.as_path()], "op-new"),
        (vec!["--dry-run", "--remove", "op-base"], vec![], "op-base"),
        (vec!["--dry-run", "--keep", "1"], vec![], "op-agent"),
        (
            vec![
                "--dry-run",
                "--copy",
                "stable",
                "--codename",
                "testing",
                "--all",
            ],
            vec![],
            "op-agent",
        ),
    ] {
        let out = ok(publish(&env, &with(&signed, &args), &files));
        assert!(out.contains(says), "{args:?}: {out}");
    }
    wrote_nothing(&proxy, "--dry-run");
    assert_eq!(
        before,
        moto.snapshot("ops/"),
        "--dry-run changed the bucket"
    );

    // --list (text and JSON), which writes nothing either.
    let listed =
        String::from_utf8(ok_output(publish(&env, &["--repo", &url, "--list"], &[]))).unwrap();
    let mut names: Vec<String> = listed
        .lines()
        .map(|l| l.split('\t').take(2).collect::<Vec<_>>().join(" "))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "op-agent 1.0",
            "op-agent 2.0",
            "op-agent 3.0",
            "op-base 1.0"
        ],
        "{listed}"
    );
    let json = ok_output(publish(&env, &["--repo", &url, "--list", "--json"], &[]));
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    let base = v
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["package"] == "op-base")
        .unwrap();
    assert_eq!(base["filename"], "pool/main/o/op-base/op-base_1.0_all.deb");
    wrote_nothing(&proxy, "--list");

    // --remove: gone from the indices; its pool file waits out the grace period.
    ok(publish(&env, &with(&signed, &["--remove", "op-base"]), &[]));
    assert_eq!(
        consistent(&moto, "ops", "stable", &keyring),
        ["op-agent 1.0", "op-agent 2.0", "op-agent 3.0"]
    );
    assert!(
        moto.get(&pool("op-base", "1.0")).is_some(),
        "collected before its grace period"
    );

    // --keep 1 --grace 0, and a later publish collects what nothing names.
    ok(publish(
        &env,
        &with(&signed, &["--keep", "1", "--grace", "0"]),
        &[],
    ));
    assert_eq!(
        consistent(&moto, "ops", "stable", &keyring),
        ["op-agent 3.0"]
    );
    // --copy into another codename: the same pool file, no second upload.
    proxy.clear_log();
    let out = ok(publish(
        &env,
        &with(
            &signed,
            &[
                "--copy",
                "stable",
                "--codename",
                "testing",
                "--grace",
                "0",
                "op-agent=3.0",
            ],
        ),
        &[],
    ));
    assert!(out.contains("copied: op-agent 3.0"), "{out}");
    let pool_puts: Vec<String> = proxy
        .log()
        .iter()
        .filter(|s| s.method == "PUT" && s.target.contains("/pool/"))
        .map(|s| s.target.clone())
        .collect();
    assert!(
        pool_puts.is_empty(),
        "--copy uploaded pool files: {pool_puts:?}"
    );
    assert_eq!(
        consistent(&moto, "ops", "testing", &keyring),
        ["op-agent 3.0"]
    );
    assert_eq!(
        consistent(&moto, "ops", "stable", &keyring),
        ["op-agent 3.0"]
    );
    let pool_keys: Vec<String> = moto.keys("ops/pool/");
    assert_eq!(
        pool_keys,
        [pool("op-agent", "3.0")],
        "after two publishes with --grace 0 only the named pool file is left"
    );
    // Clients read both codenames.
    let apt = client(w.path(), "apt", &moto, "ops", &keyring);
    apt.sources(&format!(
        "deb [signed-by={k}] {u} stable main\ndeb [signed-by={k}] {u} testing main",
        k = keyring.display(),
        u = moto.http_url("ops")
    ));
    apt.update_clean();
    assert!(apt.policy("op-agent").contains("Candidate: 3.0"));

    // The same bytes again: a no-op, which writes nothing but the lease (the
    // local publisher leaves the tree untouched; here the package is not
    // uploaded again).
    proxy.clear_log();
    let a3 = deb(&d, "op-agent", "3.0");
    let out = ok(publish(&env, &signed, &[&a3]));
    assert!(out.contains("already published"), "{out}");
    wrote_only_the_lease(&proxy, "publishing an already published package");
}

#[track_caller]
fn ok_output(o: Output) -> Vec<u8> {
    assert!(o.status.success(), "cfy-ap publish failed:\n{}", text(&o));
    o.stdout
}

#[test]
fn bad_urls_and_missing_buckets_exit_2_before_any_write() {
    require_tools();
    let w = workdir();
    let moto = Moto::start(w.path());
    let proxy = FaultProxy::start(moto.port);
    let env = Moto::env_for(&proxy.endpoint());
    let d = w.path().join("debs");
    let a = deb(&d, "bad-agent", "1.0");
    for url in [
        "s3://",
        "s3:///prefix",
        "s3://Not_A_Bucket!/apt",
        "s3://no-such-bucket/apt",
        "s3://cfy-ap-repos/../apt",
    ] {
        proxy.clear_log();
        let o = publish(&env, &["--repo", url], &[&a]);
        assert_eq!(o.status.code(), Some(2), "{url}: {}", text(&o));
        assert!(
            text(&o).contains("rror"),
            "{url}: no error message: {}",
            text(&o)
        );
        wrote_nothing(&proxy, url);
    }
    assert!(moto.keys("").is_empty(), "{:?}", moto.keys(""));
    // A profile that does not exist: refused before any request.
    proxy.clear_log();
    let mut no_profile = env.clone();
    no_profile.push(("AWS_PROFILE".into(), "no-such-profile".into()));
    let o = publish(&no_profile, &["--repo", &moto.s3_url("apt")], &[&a]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    wrote_nothing(&proxy, "AWS_PROFILE=no-such-profile");
    // A profile of the shared files gives the endpoint and the credentials.
    let (config, credentials) = (
        w.path().join("aws-config"),
        w.path().join("aws-credentials"),
    );
    fs::write(
        &config,
        format!(
            "[profile t]\nregion = us-east-1\nendpoint_url = {e}\ns3 =\n  max_concurrent_requests = 1\n\
             [profile bad]\nregion = us-east-1\nendpoint_url = {e}\ns3 =\n  max_concurrent_requests = 0\n",
            e = proxy.endpoint()
        ),
    )
    .unwrap();
    fs::write(
        &credentials,
        format!(
            "[t]\naws_access_key_id = {k}\naws_secret_access_key = {SECRET}\n\
             [bad]\naws_access_key_id = {k}\naws_secret_access_key = {SECRET}\n",
            k = common::s3::ACCESS_KEY
        ),
    )
    .unwrap();
    let profile: Vec<(String, String)> = [
        ("AWS_PROFILE", "t"),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let with_profile = |profile: &[(String, String)]| {
        command(profile, &["--repo", &moto.s3_url("apt")], &[&a])
            .envs_remove(&[
                "AWS_ENDPOINT_URL",
                "AWS_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
            ])
            .current_dir(w.path())
            .within(Duration::from_secs(120))
            .output()
    };
    // A profile whose `s3 = max_concurrent_requests` is 0: exit 2, nothing written.
    let mut bad = profile.clone();
    bad[0].1 = "bad".into();
    proxy.clear_log();
    let o = with_profile(&bad);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("max_concurrent_requests") && text(&o).contains("from 1 to 256"),
        "{}",
        text(&o)
    );
    wrote_nothing(&proxy, "max_concurrent_requests = 0");
    // One request at a time (max_concurrent_requests = 1) publishes as well.
    let o = with_profile(&profile);
    assert!(!text(&o).contains(SECRET), "{}", text(&o));
    assert!(
        o.status.success(),
        "publishing with a profile: {}",
        text(&o)
    );
    assert!(moto.get("apt/dists/stable/Release").is_some());
    // An endpoint nobody listens on: a network failure (1), the secret unprinted.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    let start = Instant::now();
    let o = publish(
        &Moto::env_for(&format!("http://127.0.0.1:{port}")),
        &["--repo", &moto.s3_url("apt")],
        &[&a],
    );
    assert!(matches!(o.status.code(), Some(1) | Some(2)), "{}", text(&o));
    assert!(
        start.elapsed() < Duration::from_secs(120),
        "{:?}",
        start.elapsed()
    );
}

/// A build with `publish.repo: s3://...` is checked against the live
/// repository before any work, as a local one is: a package already published
/// is refused (exit 3) before the deb is made, and nothing is written.
#[test]
fn a_build_publishing_into_a_bucket_is_refused_before_any_work() {
    require_tools();
    let w = workdir();
    let moto = Moto::start(w.path());
    let url = moto.s3_url("apt");
    let build = |name: &str| {
        let dir = w.path().join(name);
        fs::create_dir_all(dir.join("env/bin")).unwrap();
        fs::write(dir.join("env/bin/tool"), "#!/bin/sh\n").unwrap();
        fs::write(
            dir.join("c.yaml"),
            format!(
                "distribution: Ubuntu\nrelease: trusty\noutput_tar: agent.tar.gz\n\
                 package:\n  version: '3.2'\n  config_files: {}/packaging/ubuntu\n\
                 publish:\n  repo: {url}\n  codename: agents\n",
                common::repo().display()
            ),
        )
        .unwrap();
        let archive = Cmd::cfy_ap()
            .args(["archive", "env", "agent.tar.gz"])
            .current_dir(&dir)
            .output();
        assert!(archive.status.success(), "{}", text(&archive));
        let o = Cmd::cfy_ap()
            .args([
                "-c",
                "c.yaml",
                "--format",
                "deb",
                "--from-tar",
                "agent.tar.gz",
            ])
            .envs_remove(&["AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"])
            .envs(&moto.env())
            .current_dir(&dir)
            .within(Duration::from_secs(180))
            .output();
        let debs = fs::read_dir(&dir)
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().extension() == Some("deb".as_ref()))
            .count();
        (o, debs)
    };
    let (o, debs) = build("first");
    assert!(o.status.success(), "{}", text(&o));
    assert_eq!(debs, 2, "the agent's deb and the common one");
    let packages = String::from_utf8(
        moto.get("apt/dists/agents/main/binary-amd64/Packages")
            .expect("published"),
    )
    .unwrap();
    assert!(
        packages.contains("Package: cloudify-ubuntu-trusty-agent\n"),
        "{packages}"
    );
    // The same build again from another directory: refused by the check before
    // the build, not by the publish after it.
    let before = moto.snapshot("apt");
    let (o, debs) = build("again");
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    let out = text(&o);
    assert!(
        out.contains("already published") && out.contains("s3://"),
        "{out}"
    );
    assert!(!out.contains("cfy-ap-s3."), "a working copy's path: {out}");
    assert_eq!(debs, 0, "nothing built: {out}");
    assert_eq!(moto.snapshot("apt"), before, "nothing written");
}

#[test]
fn refused_credentials_exit_2_before_any_write() {
    require_tools();
    let w = workdir();
    let moto = Moto::start_refusing(w.path());
    let proxy = FaultProxy::start(moto.port);
    let a = deb(&w.path().join("debs"), "cred-agent", "1.0");
    let o = publish(
        &Moto::env_for(&proxy.endpoint()),
        &["--repo", &moto.s3_url("apt")],
        &[&a],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("AWS_ACCESS_KEY_ID"), "{}", text(&o));
    assert!(!proxy.log().is_empty(), "no request reached the store");
    wrote_nothing(&proxy, "a publish with refused credentials");
    assert!(
        proxy.log().iter().all(|s| s.status == Some(403)),
        "{:#?}",
        proxy.log()
    );
}

/// What a client loop found wrong: every failing `apt-get` output.
struct Hammer {
    stop: std::sync::Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<(usize, Vec<String>)>>,
}

impl Hammer {
    /// `apt-get update` then a download of `package` (a fresh cache each time),
    /// over and over until stopped.
    fn start(apt: Apt, package: &'static str) -> Hammer {
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut rounds = 0;
            let mut failures = Vec::new();
            // Bounded: at most 10,000 rounds, and the test stops it.
            for _ in 0..10_000 {
                if s.load(Ordering::SeqCst) {
                    break;
                }
                rounds += 1;
                let o = apt.run("apt-get", &["update"]);
                let t = text(&o);
                if !o.status.success()
                    || t.lines().any(|l| {
                        l.starts_with("W:") || l.starts_with("E:") || l.starts_with("Err:")
                    })
                {
                    failures.push(format!("update:\n{t}"));
                    continue;
                }
                let archives = apt.root.join("cache/archives");
                for e in fs::read_dir(&archives).unwrap().flatten() {
                    if e.path().extension().is_some_and(|x| x == "deb") {
                        let _ = fs::remove_file(e.path());
                    }
                }
                let o = apt.run("apt-get", &["install", "--download-only", "-y", package]);
                let t = text(&o);
                if !o.status.success()
                    || t.lines().any(|l| {
                        l.starts_with("W:") || l.starts_with("E:") || l.starts_with("Err:")
                    })
                {
                    failures.push(format!("install:\n{t}"));
                }
            }
            (rounds, failures)
        });
        Hammer {
            stop,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (usize, Vec<String>) {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.take().unwrap().join().unwrap()
    }
}

/// The failures' lines that matter: hash mismatches, 404s, signature trouble.
fn summarize(failures: &[String]) -> String {
    let mut out = String::new();
    for f in failures.iter().take(5) {
        out += f;
        out += "\n----\n";
    }
    let count = |needle: &str| failures.iter().filter(|f| f.contains(needle)).count();
    format!(
        "{} failures (Hash Sum mismatch: {}, 404: {}, signature: {}):\n{out}",
        failures.len(),
        count("Hash Sum mismatch"),
        count("404"),
        failures
            .iter()
            .filter(|f| f.contains("NO_PUBKEY")
                || f.contains("BADSIG")
                || f.contains("not signed")
                || f.contains("signature"))
            .count()
    )
}

/// The 30 publish operations of the hammers, in turn: new versions of the
/// package the clients download, other packages added and removed, --keep.
fn operations(d: &Path) -> Vec<(Vec<String>, Vec<PathBuf>)> {
    (0..30)
        .map(|i| match i % 5 {
            0 => (vec![], vec![deb(d, "ham-agent", &format!("1.{i}"))]),
            1 => (vec![], vec![deb(d, &format!("ham-extra{i}"), "1.0")]),
            2 => (
                vec!["--remove".to_string(), format!("ham-extra{}", i - 1)],
                vec![],
            ),
            3 => (vec!["--keep".to_string(), "2".to_string()], vec![]),
            _ => (
                vec![],
                vec![
                    deb(d, "ham-agent", &format!("1.{i}")),
                    deb(d, &format!("ham-more{i}"), "1.0"),
                ],
            ),
        })
        .collect()
}

#[test]
fn clients_never_see_a_broken_repository_during_30_publishes() {
    require_tools();
    let w = workdir();
    let gpg = Gpg::new();
    let (secret, keyring) = key(&gpg, w.path());
    let moto = Moto::start(w.path());
    let env = moto.env();
    let d = w.path().join("debs");
    let url = moto.s3_url("ham");
    let key_s = secret.to_str().unwrap();
    // A grace period far longer than a client's update, short enough that the
    // publishes collect garbage while the clients read.
    let base = [
        "--repo",
        url.as_str(),
        "--sign-key",
        key_s,
        "--grace",
        "10s",
        "-q",
    ];
    ok(publish(&env, &base, &[&deb(&d, "ham-agent", "1.0")]));
    let ops = operations(&d);
    let hammers: Vec<Hammer> = (0..1)
        .map(|n| {
            Hammer::start(
                client(w.path(), &format!("apt{n}"), &moto, "ham", &keyring),
                "ham-agent",
            )
        })
        .collect();
    let start = Instant::now();
    for (i, (args, debs)) in ops.iter().enumerate() {
        let args: Vec<&str> = base
            .iter()
            .copied()
            .chain(args.iter().map(String::as_str))
            .collect();
        let debs: Vec<&Path> = debs.iter().map(PathBuf::as_path).collect();
        ok(publish(&env, &args, &debs));
        // The publishes span more than the grace (however fast they are), so
        // that garbage is collected while the clients read.
        let due = Duration::from_millis(500) * (i as u32 + 1);
        if let Some(wait) = due.checked_sub(start.elapsed()) {
            std::thread::sleep(wait);
        }
    }
    let took = start.elapsed();
    let (mut rounds, mut failures) = (0, Vec::new());
    for h in hammers {
        let (r, f) = h.finish();
        rounds += r;
        failures.extend(f);
    }
    eprintln!("30 publishes in {took:?}; {rounds} client rounds");
    assert!(failures.is_empty(), "{}", summarize(&failures));
    assert!(
        rounds >= 10,
        "only {rounds} client rounds ran during the publishes"
    );
    // Garbage was collected while the clients read: the first package
    // removed (by the third publish, 10 s of grace) is gone from the pool.
    let by_hash = moto
        .keys("ham/dists/")
        .iter()
        .filter(|k| k.contains("/by-hash/"))
        .count();
    eprintln!("{by_hash} by-hash objects left");
    assert_eq!(
        moto.get("ham/pool/main/h/ham-extra1/ham-extra1_1.0_all.deb"),
        None,
        "no garbage was collected during the publishes"
    );
    let now = consistent(&moto, "ham", "stable", &keyring);
    assert!(
        now.contains(&"ham-agent 1.29".to_string()) && now.contains(&"ham-agent 1.25".to_string()),
        "{now:?}"
    );
}

#[test]
fn clients_never_see_a_broken_repository_when_publishers_are_killed() {
    require_tools();
    let w = workdir();
    let gpg = Gpg::new();
    let (secret, keyring) = key(&gpg, w.path());
    let moto = Moto::start(w.path());
    let proxy = FaultProxy::start(moto.port);
    let env = Moto::env_for(&proxy.endpoint());
    let d = w.path().join("debs");
    let url = moto.s3_url("kill");
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
    ok(publish(&env, &base, &[&deb(&d, "ham-agent", "1.0")]));
    // A whole publish's time here, now (the second, as most of them are):
    // the kill points spread over it.
    let start = Instant::now();
    ok(publish(&env, &base, &[&deb(&d, "ham-base", "1.0")]));
    let whole = start.elapsed().as_millis().max(100) as u64;
    let ops = operations(&d);
    let hammer = Hammer::start(
        client(w.path(), "apt", &moto, "kill", &keyring),
        "ham-agent",
    );
    // Kill points spread over a publish's life, from a fixed seed.
    let mut seed = 0x2545_f491_4f6c_dd1du64;
    let mut killed_mid_way = 0;
    // Kills that came after the switch moved, and after Release did but
    // before the switch (the window between the last two writes).
    let (mut after_switch, mut between) = (0, 0);
    let live = |key: &str| moto.get(&format!("kill/dists/stable/{key}"));
    for (i, (args, debs)) in ops.iter().enumerate() {
        let before = (live("Release"), live("InRelease"));
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let after = Duration::from_millis(seed % (whole * 6 / 5));
        // Every third one is killed inside its commit, for sure: its
        // Release.gpg held at the proxy (never to land), once its Release is up.
        let in_commit = i % 3 == 2;
        proxy.clear_faults();
        if in_commit {
            proxy.fault(
                "PUT",
                "/Release.gpg",
                1,
                1,
                Fault::Stall(Duration::from_secs(5)),
            );
        }
        let mut child: Child = Command::new(common::bin())
            .current_dir(w.path())
            .arg("publish")
            .args(base)
            .args(args)
            .args(debs)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env_remove("AWS_PROFILE")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let start = Instant::now();
        if in_commit {
            common::proxy::wait_until(Duration::from_secs(30), || {
                live("Release") != before.0 || child.try_wait().unwrap().is_some()
            });
        } else {
            while start.elapsed() < after && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        if child.try_wait().unwrap().is_none() {
            killed_mid_way += 1;
        }
        let _ = child.kill(); // SIGKILL
        let _ = child.wait();
        let now = (live("Release"), live("InRelease"));
        if now.1 != before.1 {
            after_switch += 1;
        } else if now.0 != before.0 {
            between += 1;
        }
    }
    proxy.clear_faults();
    assert!(
        between >= 5,
        "only {between} publishes were killed inside their commit"
    );
    // A completing publish: every package of the adds, through whatever lease
    // or half-written objects the killed ones left.
    let all: Vec<&Path> = ops
        .iter()
        .flat_map(|(_, debs)| debs.iter().map(PathBuf::as_path))
        .collect();
    let start = Instant::now();
    ok(publish(&env, &base, &all));
    let completing = start.elapsed();
    let (rounds, failures) = hammer.finish();
    eprintln!(
        "a publish takes {whole} ms; {killed_mid_way} of 30 publishes killed mid-way \
         ({after_switch} after their switch, {between} between Release and the switch); \
         completing publish {completing:?}; {rounds} client rounds"
    );
    assert!(failures.is_empty(), "{}", summarize(&failures));
    assert!(
        killed_mid_way >= 10,
        "only {killed_mid_way} publishes were killed before finishing"
    );
    let now = consistent(&moto, "kill", "stable", &keyring);
    for p in &all {
        let name = p.file_name().unwrap().to_string_lossy();
        let mut it = name.trim_end_matches("_all.deb").split('_');
        let entry = format!("{} {}", it.next().unwrap(), it.next().unwrap());
        assert!(
            now.contains(&entry),
            "{entry} missing after the completing publish: {now:?}"
        );
    }
}

#[test]
fn eight_publishers_at_once_lose_nothing() {
    require_tools();
    let w = workdir();
    let gpg = Gpg::new();
    let (secret, keyring) = key(&gpg, w.path());
    let moto = Moto::start(w.path());
    let env = moto.env();
    let d = w.path().join("debs");
    let url = moto.s3_url("par");
    let key_s = secret.to_str().unwrap();
    let debs: Vec<PathBuf> = (0..8)
        .map(|i| deb(&d, &format!("par-agent{i}"), "1.0"))
        .collect();
    let start = Instant::now();
    let outputs: Vec<Output> = std::thread::scope(|s| {
        let runs: Vec<_> = debs
            .iter()
            .map(|p| {
                let env = &env;
                let url = &url;
                s.spawn(move || publish(env, &["--repo", url, "--sign-key", key_s], &[p.as_path()]))
            })
            .collect();
        runs.into_iter().map(|t| t.join().unwrap()).collect()
    });
    eprintln!("8 concurrent publishes in {:?}", start.elapsed());
    for o in &outputs {
        assert!(o.status.success(), "{}", text(o));
    }
    let now = consistent(&moto, "par", "stable", &keyring);
    let want: Vec<String> = (0..8).map(|i| format!("par-agent{i} 1.0")).collect();
    assert_eq!(now, want);
    let apt = client(w.path(), "apt", &moto, "par", &keyring);
    apt.update_clean();
    for i in 0..8 {
        assert!(
            apt.policy(&format!("par-agent{i}"))
                .contains("Candidate: 1.0")
        );
    }
}

/// moto, the fault proxy in front of it, a signing key, and a repository at
/// `prefix` holding `flt-agent 1.0` published through the proxy.
struct Faulty {
    w: tempfile::TempDir,
    _gpg: Gpg,
    secret: PathBuf,
    keyring: PathBuf,
    moto: Moto,
    proxy: FaultProxy,
    env: Vec<(String, String)>,
    url: String,
}

impl Faulty {
    fn new(prefix: &str) -> Faulty {
        require_tools();
        let w = workdir();
        let gpg = Gpg::new();
        let (secret, keyring) = key(&gpg, w.path());
        let moto = Moto::start(w.path());
        let proxy = FaultProxy::start(moto.port);
        let env = Moto::env_for(&proxy.endpoint());
        let url = moto.s3_url(prefix);
        let f = Faulty {
            w,
            _gpg: gpg,
            secret,
            keyring,
            moto,
            proxy,
            env,
            url,
        };
        ok(f.publish("1.0"));
        f
    }

    /// Publish `flt-agent VERSION`, signed, through the proxy.
    fn publish(&self, version: &str) -> Output {
        let d = self.w.path().join("debs");
        let args = [
            "--repo",
            self.url.as_str(),
            "--sign-key",
            self.secret.to_str().unwrap(),
        ];
        publish(&self.env, &args, &[&deb(&d, "flt-agent", version)])
    }

    /// The versions of flt-agent every client finds now ([`consistent`]).
    #[track_caller]
    fn versions(&self) -> Vec<String> {
        consistent(&self.moto, "flt", "stable", &self.keyring)
    }

    /// The versions apt with by-hash finds now ([`by_hash_view`]).
    #[track_caller]
    fn by_hash(&self) -> Vec<String> {
        by_hash_view(&self.moto, "flt", "stable", &self.keyring)
    }
}

fn flt(versions: &[&str]) -> Vec<String> {
    versions.iter().map(|v| format!("flt-agent {v}")).collect()
}

#[test]
fn transient_faults_on_every_kind_of_write_are_retried() {
    let f = Faulty::new("flt");
    let p = &f.proxy;
    p.clear_log();
    p.fault("PUT", "/pool/", 1, 1, Fault::Reset);
    p.fault("PUT", "/by-hash/", 1, 1, Fault::Status(503));
    p.fault("PUT", "/by-hash/", 3, 1, Fault::Status(500));
    p.fault("PUT", "/Release.gpg", 1, 1, Fault::Reset);
    p.fault("PUT", "/InRelease", 1, 2, Fault::Status(500));
    p.fault(
        "GET",
        "/InRelease",
        1,
        1,
        Fault::Delay(Duration::from_secs(2)),
    );
    let o = f.publish("2.0");
    let injected = p.faults_injected();
    assert!(
        o.status.success(),
        "transient faults were not retried ({injected} injected):\n{}",
        text(&o)
    );
    assert_eq!(injected, 7, "{:#?}", p.log());
    assert_eq!(f.versions(), flt(&["1.0", "2.0"]));
}

#[test]
fn a_commit_reset_before_or_after_the_store_applied_it_is_retried() {
    let f = Faulty::new("flt");
    // The switch's request reset before it reached the store.
    f.proxy.fault("PUT", "/InRelease", 1, 1, Fault::Reset);
    let o = f.publish("2.0");
    assert!(
        o.status.success(),
        "a reset of the commit's request was not retried:\n{}",
        text(&o)
    );
    assert_eq!(f.versions(), flt(&["1.0", "2.0"]));
    // Applied by the store, its answer lost: the publish must find its own
    // write, not fail nor take it for another publisher's.
    f.proxy.clear_faults();
    f.proxy.fault("PUT", "/InRelease", 1, 1, Fault::ResetAfter);
    let o = f.publish("3.0");
    assert!(
        o.status.success(),
        "a lost answer to the commit:\n{}",
        text(&o)
    );
    assert_eq!(f.versions(), flt(&["1.0", "2.0", "3.0"]));
}

#[test]
fn a_lease_reset_before_or_after_the_store_took_it_neither_fails_nor_stalls_the_publish() {
    let f = Faulty::new("flt");
    // Taking the lease (a create-if-absent) reset before the store saw it.
    f.proxy.fault("PUT", "/.cfy-ap.lock", 1, 1, Fault::Reset);
    let start = Instant::now();
    let o = f.publish("2.0");
    assert!(
        o.status.success(),
        "a reset of the lease's request:\n{}",
        text(&o)
    );
    // Taken by the store, the answer lost: the lease is this publisher's own.
    f.proxy.clear_faults();
    f.proxy
        .fault("PUT", "/.cfy-ap.lock", 1, 1, Fault::ResetAfter);
    let o = f.publish("3.0");
    assert!(
        o.status.success(),
        "a lost answer to taking the lease:\n{}",
        text(&o)
    );
    assert!(
        start.elapsed() < Duration::from_secs(60),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(f.versions(), flt(&["1.0", "2.0", "3.0"]));
}

#[test]
fn a_lease_held_elsewhere_is_waited_for_and_an_expired_one_taken_over() {
    let f = Faulty::new("flt");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let lease = |expires: u64| {
        format!(
            "cfy-ap publish lease\nholder elsewhere.invalid 4242 00c0ffee00c0ffee\nexpires {expires}\n"
        )
    };
    // Another machine's publisher holds it for 4 more seconds: this one waits.
    f.moto.put("flt/.cfy-ap.lock", lease(now + 4).as_bytes());
    f.proxy.clear_log();
    let start = Instant::now();
    let o = f.publish("2.0");
    let took = start.elapsed();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        took >= Duration::from_secs(3),
        "did not wait for the lease: {took:?}"
    );
    assert!(
        text(&o).contains("waiting for another publish"),
        "{}",
        text(&o)
    );
    let first_write = f
        .proxy
        .log()
        .iter()
        .position(|s| s.method == "PUT" && !s.target.ends_with("/.cfy-ap.lock"));
    let takeover = f.proxy.log().iter().position(|s| {
        s.method == "PUT" && s.target.ends_with("/.cfy-ap.lock") && s.status == Some(200)
    });
    assert!(
        takeover.is_some() && takeover < first_write,
        "wrote before holding the lease: {:#?}",
        f.proxy.log()
    );
    // One that expired (its publisher gone with its machine): taken over at once.
    f.moto.put("flt/.cfy-ap.lock", lease(now - 60).as_bytes());
    let start = Instant::now();
    ok(f.publish("3.0"));
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(f.versions(), flt(&["1.0", "2.0", "3.0"]));
    assert_eq!(
        f.moto.get("flt/.cfy-ap.lock"),
        None,
        "the lease was not released"
    );
}

#[test]
fn a_switch_changed_under_a_publish_is_never_overwritten() {
    let f = Faulty::new("flt");
    let in_release = "flt/dists/stable/InRelease";
    let older = f.moto.get(in_release).unwrap();
    ok(f.publish("2.0"));
    let newer_release = f.moto.get("flt/dists/stable/Release").unwrap();
    // The next publish's commit is held back 4 s; meanwhile the switch moves
    // (back to the generation without 2.0, as another publisher's could).
    f.proxy.fault(
        "PUT",
        "/InRelease",
        1,
        1,
        Fault::Delay(Duration::from_secs(4)),
    );
    std::thread::scope(|s| {
        let run = s.spawn(|| f.publish("3.0"));
        let moved = common::proxy::wait_until(Duration::from_secs(60), || {
            f.moto.get("flt/dists/stable/Release").as_ref() != Some(&newer_release)
        });
        assert!(moved, "the publish never reached its Release");
        f.moto.put(in_release, &older);
        let o = run.join().unwrap();
        assert!(
            o.status.success() || o.status.code() == Some(3),
            "{}",
            text(&o)
        );
        // Not overwritten: the live generation is the one the switch moved
        // to, plus 3.0 if the publish was done again on it; never 2.0, which
        // only the overwritten generation had.
        let live = f.by_hash();
        let want = if o.status.success() {
            flt(&["1.0", "3.0"])
        } else {
            flt(&["1.0"])
        };
        assert_eq!(
            live,
            want,
            "the publish done again after losing its compare-and-swap was not built on the \
             live generation (the one the switch names) but on another (2.0 came back):\n{}",
            text(&o)
        );
    });
    let puts = f
        .proxy
        .log()
        .iter()
        .filter(|s| s.method == "PUT" && s.target.ends_with("/InRelease"))
        .count();
    assert!(puts >= 2 || f.by_hash() == flt(&["1.0"]), "{puts} commits");
}

#[test]
fn a_lasting_fault_is_exit_1_the_repository_stays_whole_and_the_next_publish_completes() {
    let f = Faulty::new("flt");
    ok(f.publish("2.0"));
    // Every write of the switch fails: bounded retries, exit 1.
    f.proxy.clear_log();
    f.proxy
        .fault("PUT", "/InRelease", 1, usize::MAX, Fault::Status(503));
    let start = Instant::now();
    let o = f.publish("3.0");
    let took = start.elapsed();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    let tries = f
        .proxy
        .log()
        .iter()
        .filter(|s| s.target.contains("/InRelease") && s.method == "PUT")
        .count();
    eprintln!("a lasting fault: exit 1 after {took:?}, {tries} tries of InRelease");
    assert!((2..=20).contains(&tries), "{tries} tries of the commit");
    assert!(took < Duration::from_secs(90), "{took:?}");
    // Every client (apt with by-hash, and without it: the plain names and
    // Release the failed publish wrote before its switch were put back) sees
    // the previous repository, whole.
    assert_eq!(f.versions(), flt(&["1.0", "2.0"]));
    let apt = client(f.w.path(), "apt", &f.moto, "flt", &f.keyring);
    apt.update_clean();
    assert!(apt.policy("flt-agent").contains("Candidate: 2.0"));
    // The same with the store gone mid-publish after the packages went up.
    f.proxy.clear_faults();
    f.proxy
        .fault("PUT", "/by-hash/", 1, usize::MAX, Fault::Reset);
    let o = f.publish("4.0");
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert_eq!(f.versions(), flt(&["1.0", "2.0"]));
    // The next publishes complete it.
    f.proxy.clear_faults();
    ok(f.publish("3.0"));
    ok(f.publish("4.0"));
    assert_eq!(f.versions(), flt(&["1.0", "2.0", "3.0", "4.0"]));
    std::thread::sleep(Duration::from_millis(1100));
    apt.update_clean();
    assert!(apt.policy("flt-agent").contains("Candidate: 4.0"));
}

/// The `s3: N requests (G GET, H HEAD, P PUT, D DELETE, L LIST), X bytes up, Y
/// bytes down` line of `-v`.
fn s3_line(out: &str) -> &str {
    out.lines()
        .find(|l| l.contains("s3: ") && l.contains(" requests ("))
        .unwrap_or_else(|| panic!("no request count line in:\n{out}"))
}

/// The X of [`s3_line`].
fn bytes_up(out: &str) -> usize {
    let before = s3_line(out).split(" bytes up").next().unwrap();
    before.rsplit(' ').next().unwrap().parse().unwrap()
}

/// [`s3_line`]: (total, per kind).
fn request_line(out: &str) -> (usize, BTreeMap<String, usize>) {
    let line = s3_line(out);
    let after = line.split("s3: ").nth(1).unwrap();
    let total: usize = after.split_whitespace().next().unwrap().parse().unwrap();
    let inner = after.split('(').nth(1).unwrap().split(')').next().unwrap();
    let kinds = inner
        .split(", ")
        .map(|p| {
            let mut it = p.split_whitespace();
            let n: usize = it.next().unwrap().parse().unwrap();
            (it.next().unwrap().to_string(), n)
        })
        .collect();
    (total, kinds)
}

#[test]
fn adding_one_package_costs_the_same_requests_at_50_and_200_packages() {
    require_tools();
    let w = workdir();
    let moto = Moto::start(w.path());
    let proxy = FaultProxy::start(moto.port);
    let env = Moto::env_for(&proxy.endpoint());
    let d = w.path().join("debs");
    // Made in-process (no dpkg-deb for each): a control file, an empty payload.
    fs::create_dir_all(&d).unwrap();
    let many: Vec<PathBuf> = (0..200)
        .map(|i| {
            let control = format!(
                "Package: n-agent{i:03}\nVersion: 1.0\nArchitecture: all\n\
                 Maintainer: Test <test@example.invalid>\nDescription: n {i}\n"
            );
            common::apt::crafted_deb(&d, &format!("n-agent{i:03}_1.0_all.deb"), &control)
        })
        .collect();
    let mut seen = Vec::new();
    for n in [50usize, 200] {
        let prefix = format!("n{n}");
        let url = moto.s3_url(&prefix);
        let first: Vec<&Path> = many[..n].iter().map(PathBuf::as_path).collect();
        ok(publish(&env, &["--repo", &url], &first));
        proxy.clear_log();
        let out = ok(publish(
            &env,
            &["--repo", &url, "-v"],
            &[&deb(&d, "plus-one", &format!("{n}.0"))],
        ));
        let log = proxy.log();
        let (total, kinds) = request_line(&out);
        // The tool's own count is the proxy's.
        assert_eq!(
            total,
            log.len(),
            "-v says {total}, the proxy saw {}: {log:#?}",
            log.len()
        );
        let lists: Vec<&str> = log
            .iter()
            .filter(|s| {
                s.method == "GET"
                    && (s.target.contains("list-type") || s.target.contains("prefix="))
            })
            .map(|s| s.target.as_str())
            .collect();
        assert_eq!(
            kinds.get("LIST").copied().unwrap_or(0),
            lists.len(),
            "{out}"
        );
        assert!(
            !lists.iter().any(|t| t.contains("pool")),
            "a +1 listed the pool: {lists:?}"
        );
        let pool_puts = log
            .iter()
            .filter(|s| s.method == "PUT" && s.target.contains("/pool/"))
            .count();
        assert_eq!(pool_puts, 1, "{log:#?}");
        // Round trips: the garbage list is read with the first round of reads,
        // before any upload, and a lease just taken is released with no read.
        let at = |method: &str, key: &str| {
            log.iter()
                .position(|s| s.method == method && s.target.contains(key))
        };
        let first_put = at("PUT", "/pool/").unwrap();
        assert!(
            at("GET", ".cfy-ap/garbage").is_some_and(|g| g < first_put),
            "{log:#?}"
        );
        assert_eq!(at("GET", ".cfy-ap.lock"), None, "{log:#?}");
        // Each index is sent once, under its by-hash name; its plain name is a
        // server-side copy: fewer bytes up than two `Packages`.
        let packages = moto
            .get(&format!("{prefix}/dists/stable/main/binary-amd64/Packages"))
            .expect("Packages")
            .len();
        let up = bytes_up(&out);
        assert!(
            up < 2 * packages,
            "{up} bytes up for a Packages of {packages}: {out}"
        );
        eprintln!("+1 to {n}: {total} requests {kinds:?}, {up} bytes up");
        seen.push((
            kinds,
            log.iter()
                .map(|s| {
                    format!(
                        "{} {}",
                        s.method,
                        s.target
                            .replace(&prefix, "P")
                            .replace(&format!("{n}.0"), "V")
                    )
                })
                .collect::<Vec<_>>(),
        ));
    }
    assert_eq!(
        seen[0].0, seen[1].0,
        "a +1 at 200 packages makes other requests than at 50:\n{:#?}\n{:#?}",
        seen[0].1, seen[1].1
    );
}
