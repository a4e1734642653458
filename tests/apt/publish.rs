//! `cfy-ap publish` against the real thing: packages built by `dpkg-deb`, the
//! repository served over loopback HTTP (`python3 -m http.server`), and read by
//! the real `apt-get`/`apt-cache` with a private APT_CONFIG (its own state, cache,
//! sources and an empty apt.conf.d, so the system's apt state is never touched),
//! signatures checked by `gpgv`. Keys are throwaway ones made by `gpg --batch` in
//! a temporary GNUPGHOME.
//!
//! Needs: dpkg-deb, apt-get, apt-cache, gpg, gpgv, python3. The install steps
//! (dpkg --root into a throwaway root) need root and are skipped otherwise.

use crate::common;

use common::Cmd;
use common::apt::*;
use common::http::Http;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn unsigned_repo_serves_apt_update_download_install_upgrade() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let debs = w.path().join("debs");
    fs::create_dir(&debs).unwrap();
    let v1 = make_deb_with(
        &debs,
        "demo-agent",
        "1.0.0-1",
        &arch,
        b"one",
        "Depends: libc6\n",
    );
    let v2 = make_deb_with(
        &debs,
        "demo-agent",
        "1.1.0-1",
        &arch,
        b"two",
        "Depends: libc6\n",
    );
    let docs = make_deb(&debs, "demo-docs", "2:0.1~rc1-1", "all");
    let repo = w.path().join("srv/repo");
    let repo_s = repo.to_str().unwrap();
    let o = ok(publish(&["--repo", repo_s], &[&v1, &docs]));
    assert!(
        text(&o).contains("added: demo-agent 1.0.0-1"),
        "{}",
        text(&o)
    );

    let http = Http::serve(&w.path().join("srv"), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.trust(&http.url("repo"));
    apt.update_clean();
    assert!(apt.policy("demo-agent").contains("1.0.0-1"));

    // Incremental: the next version joins the previous ones. (In a later second:
    // http.server's Last-Modified has one-second resolution, and apt would be
    // told the new Release is not modified.)
    std::thread::sleep(Duration::from_millis(1100));
    ok(publish(&["--repo", repo_s], &[&v2]));
    let out = apt.update_clean();
    assert!(out.contains("Packages"), "{out}");
    let policy = apt.policy("demo-agent");
    assert!(policy.contains("Candidate: 1.1.0-1"), "{policy}");
    assert!(policy.contains(" 1.0.0-1 "), "{policy}");
    assert!(apt.policy("demo-docs").contains("Candidate: 2:0.1~rc1-1"));
    // apt fetched the indices by hash (Acquire-By-Hash), by SHA256 (the default).
    assert!(
        http.requests().contains("/by-hash/SHA256/"),
        "{}",
        http.requests()
    );

    // Every stanza: all control fields plus location, size and four checksums.
    let packages = packages_file(&repo, &arch);
    for field in [
        "Depends: libc6",
        "Filename: pool/main/d/demo-agent/",
        "Size: ",
        "MD5sum: ",
        "SHA1: ",
        "SHA256: ",
        "SHA512: ",
        "Section: admin",
        " Second paragraph.",
    ] {
        assert!(packages.contains(field), "{field} missing:\n{packages}");
    }
    assert_eq!(packages.matches("Package: demo-docs").count(), 1);

    // Download: the fetched file is the published one.
    let o = apt.run(
        "apt-get",
        &["install", "--download-only", "-y", "demo-agent"],
    );
    assert!(o.status.success(), "{}", text(&o));
    let fetched = apt
        .root
        .join(format!("cache/archives/demo-agent_1.1.0-1_{arch}.deb"));
    let published = repo.join(format!(
        "pool/main/d/demo-agent/demo-agent_1.1.0-1_{arch}.deb"
    ));
    assert_eq!(sha256_file(&fetched), sha256_file(&published));
    assert_eq!(sha256_file(&fetched), sha256_file(&v2));
    assert!(packages.contains(&format!("SHA256: {}", sha256_file(&v2))));

    // The gzip index (chunked members) reads as well as the xz one.
    let apt_gz = Apt::new(w.path(), "apt-gz");
    apt_gz.trust(&http.url("repo"));
    fs::write(
        apt_gz.root.join("etc/apt.conf.d/gz"),
        "Acquire::CompressionTypes::Order { \"gz\"; };\n",
    )
    .unwrap();
    apt_gz.update_clean();
    assert!(apt_gz.policy("demo-agent").contains(" 1.0.0-1 "));

    // Install the old version into a throwaway root, then upgrade.
    if !is_root() {
        eprintln!("not root: skipping the install/upgrade steps");
        return;
    }
    let root = dpkg_root(w.path(), &arch);
    let o = install_into(&apt, &root, "demo-agent=1.0.0-1");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Setting up demo-agent (1.0.0-1)"),
        "{}",
        text(&o)
    );
    let o = install_into(&apt, &root, "demo-agent");
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        text(&o).contains("Unpacking demo-agent (1.1.0-1) over (1.0.0-1)"),
        "{}",
        text(&o)
    );
    let l = Command::new("dpkg-query")
        .arg(format!("--admindir={}/var/lib/dpkg", root.display()))
        .args(["-W", "-f", "${Status} ${Version}", "demo-agent"])
        .output()
        .unwrap();
    assert_eq!(text(&l), "install ok installed 1.1.0-1");
    let ran = Command::new(root.join("opt/demo-agent/bin/demo-agent"))
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&ran.stdout).trim(),
        "demo-agent 1.1.0-1"
    );
}

#[test]
fn signed_repo_is_verified_by_gpgv_and_apt() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let gpg = Gpg::new();
    let ed = gpg.new_key("Ed Repo <ed@example.invalid>", "ed25519", "sign", "");
    let rsa = gpg.new_key(
        "Rsa Repo <rsa@example.invalid>",
        "rsa3072",
        "sign",
        "s3cret",
    );
    // A primary that can only certify, with a signing subkey.
    let sub = gpg.new_key("Sub Repo <sub@example.invalid>", "ed25519", "cert", "");
    gpg.add_signing_subkey(&sub, "");
    let other = gpg.new_key("Other <other@example.invalid>", "ed25519", "sign", "");
    let other_key = w.path().join("other.gpg");
    gpg.export_public(&other, &other_key);
    let debs = w.path().join("debs");
    fs::create_dir(&debs).unwrap();
    let deb = make_deb(&debs, "signed-agent", "1.0-1", &arch);
    let http = Http::serve(w.path(), &w.path().join("http.log"));

    for (name, fpr, pass) in [("ed", &ed, ""), ("rsa", &rsa, "s3cret"), ("sub", &sub, "")] {
        let secret = w.path().join(format!("{name}.sec.asc"));
        gpg.export_secret(fpr, pass, &secret);
        let repo = w.path().join(format!("repo-{name}"));
        let repo_s = repo.to_str().unwrap();
        let key_s = secret.to_str().unwrap();
        let env: Vec<(&str, &str)> = if pass.is_empty() {
            vec![]
        } else {
            vec![("CFY_AP_SIGN_PASSPHRASE", pass)]
        };
        let o = ok(publish_env(
            &["--repo", repo_s, "--sign-key", key_s],
            &[&deb],
            &env,
        ));
        assert!(text(&o).contains("signed by"), "{}", text(&o));
        let dist = repo.join("dists/stable");
        let in_release = fs::read_to_string(dist.join("InRelease")).unwrap();
        assert!(in_release.starts_with("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n"));

        // The public key, both ways; no passphrase needed to export it.
        let pub_gpg = w.path().join(format!("{name}.gpg"));
        let pub_asc = w.path().join(format!("{name}.asc"));
        for dest in [&pub_gpg, &pub_asc] {
            ok(publish(
                &["--sign-key", key_s, "--export-key", dest.to_str().unwrap()],
                &[],
            ));
        }
        assert!(
            fs::read_to_string(&pub_asc)
                .unwrap()
                .contains("BEGIN PGP PUBLIC KEY BLOCK")
        );
        assert!(
            fs::read(&pub_gpg).unwrap()[0] & 0x80 != 0,
            "binary OpenPGP packet"
        );

        // gpgv accepts both signatures.
        let o = gpgv(&pub_gpg, &[&dist.join("InRelease")]);
        assert!(o.status.success(), "gpgv InRelease: {}", text(&o));
        let o = gpgv(
            &pub_gpg,
            &[&dist.join("Release.gpg"), &dist.join("Release")],
        );
        assert!(o.status.success(), "gpgv Release.gpg: {}", text(&o));
        let o = gpgv(&other_key, &[&dist.join("InRelease")]);
        assert!(!o.status.success(), "gpgv with another key must fail");

        // apt: signed-by the exported key (binary and armored) → clean update.
        for key in [&pub_gpg, &pub_asc] {
            let apt = Apt::new(
                w.path(),
                &format!("apt-{name}-{}", key.extension().unwrap().to_string_lossy()),
            );
            apt.sources(&format!(
                "deb [signed-by={}] {} stable main",
                key.display(),
                http.url(&format!("repo-{name}"))
            ));
            let out = apt.update_clean();
            assert!(out.contains("InRelease"), "{out}");
            assert!(apt.policy("signed-agent").contains("Candidate: 1.0-1"));
        }
        // Without InRelease apt falls back to Release + Release.gpg.
        let apt = Apt::new(w.path(), &format!("apt-{name}-detached"));
        apt.sources(&format!(
            "deb [signed-by={}] {} stable main",
            pub_gpg.display(),
            http.url(&format!("repo-{name}-detached"))
        ));
        let copy = w.path().join(format!("repo-{name}-detached"));
        let o = Command::new("cp")
            .arg("-a")
            .arg(&repo)
            .arg(&copy)
            .output()
            .unwrap();
        assert!(o.status.success());
        fs::remove_file(copy.join("dists/stable/InRelease")).unwrap();
        apt.update_clean();

        // A different key: apt refuses the repository.
        let apt = Apt::new(w.path(), &format!("apt-{name}-wrong"));
        apt.sources(&format!(
            "deb [signed-by={}] {} stable main",
            other_key.display(),
            http.url(&format!("repo-{name}"))
        ));
        let o = apt.run("apt-get", &["update"]);
        let out = text(&o);
        assert!(
            out.contains("NO_PUBKEY") && out.contains("is not signed"),
            "apt must refuse: {out}"
        );
        assert!(!apt.policy("signed-agent").contains("Candidate: 1.0-1"));

        // Re-publishing the same package changes nothing, signatures included.
        let before = tree_hash(&repo);
        let o = ok(publish_env(
            &["--repo", repo_s, "--sign-key", key_s],
            &[&deb],
            &env,
        ));
        assert!(text(&o).contains("unchanged"), "{}", text(&o));
        assert_eq!(before, tree_hash(&repo));
    }
}

#[test]
fn concurrent_publishers_lose_nothing() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let debs: Vec<PathBuf> = (0..16)
        .map(|i| make_deb(w.path(), &format!("parallel-{i:02}"), "1.0-1", &arch))
        .collect();
    let repo = w.path().join("repo");
    let children: Vec<Child> = debs
        .iter()
        .map(|d| {
            Command::new(BIN)
                .args(["publish", "--repo", repo.to_str().unwrap()])
                .arg(d)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for c in children {
        let o = c.wait_with_output().unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
    let packages = packages_file(&repo, &arch);
    for i in 0..16 {
        assert!(
            packages.contains(&format!("Package: parallel-{i:02}\n")),
            "{packages}"
        );
    }
    let leftovers: Vec<_> = fs::read_dir(&repo)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.trust(&http.url("repo"));
    apt.update_clean();
    for i in 0..16 {
        assert!(
            apt.policy(&format!("parallel-{i:02}"))
                .contains("Candidate: 1.0-1")
        );
    }
}

#[test]
fn killed_publish_leaves_a_repo_apt_reads() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let gpg = Gpg::new();
    let (key, pubkey) = gpg.signing_key("Kill Test <kill@example.invalid>", w.path());
    let key_s = key.to_str().unwrap();

    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    let base = make_deb(w.path(), "base-agent", "1.0-1", &arch);
    ok(publish(&["--repo", repo_s, "--sign-key", key_s], &[&base]));

    // A large package (incompressible, stored uncompressed) takes a while to copy.
    let mut big_payload = vec![0u8; 32 << 20];
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    for chunk in big_payload.chunks_mut(8) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
    }
    let big = make_deb_with(w.path(), "big-agent", "1.0-1", &arch, &big_payload, "");
    drop(big_payload);
    let small = make_deb(w.path(), "small-agent", "1.0-1", &arch);
    let big_len = fs::metadata(&big).unwrap().len();

    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.sources(&format!(
        "deb [signed-by={}] {} stable main",
        pubkey.display(),
        http.url("repo")
    ));
    apt.update_clean();

    // Kill points: while the big package is half copied into the pool, as soon
    // as it is fully copied (commit running), and after a few fixed delays. The
    // copy is an unnamed file in its pool directory: seen through the
    // publisher's open files (/proc/PID/fd), it has no name in the repository.
    let big_pool = repo.join(format!("pool/main/b/big-agent/big-agent_1.0-1_{arch}.deb"));
    let copying = |pid: u32, repo: &Path| -> Option<u64> {
        fs::read_dir(format!("/proc/{pid}/fd"))
            .ok()?
            .filter_map(|e| e.ok())
            .filter(|e| fs::read_link(e.path()).is_ok_and(|t| t.starts_with(repo)))
            .filter_map(|e| fs::metadata(e.path()).ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .max()
    };
    #[derive(Debug)]
    enum When {
        HalfCopied,
        Copied,
        After(u64),
    }
    for when in [
        When::HalfCopied,
        When::Copied,
        When::After(5),
        When::After(40),
        When::After(150),
    ] {
        let mut child = Command::new(BIN)
            .args(["publish", "-q", "--repo", repo_s, "--sign-key", key_s])
            .arg(&big)
            .arg(&small)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let pid = child.id();
        let start = Instant::now();
        let mut seen = None;
        loop {
            seen = copying(pid, &repo).or(seen);
            let ready = match when {
                When::HalfCopied => seen.is_some_and(|s| s > big_len / 4),
                // Complete: still open, or already named in the pool.
                When::Copied => {
                    seen.is_some_and(|s| s >= big_len)
                        || fs::metadata(&big_pool).is_ok_and(|m| m.len() == big_len)
                }
                When::After(ms) => start.elapsed() >= Duration::from_millis(ms),
            };
            if ready
                || child.try_wait().unwrap().is_some()
                || start.elapsed() > Duration::from_secs(60)
            {
                break;
            }
            std::thread::sleep(Duration::from_micros(200));
        }
        // SIGKILL: no chance to clean up.
        let finished = child.try_wait().unwrap().is_some();
        eprintln!(
            "kill {when:?} after {:?} (copied {seen:?} of {big_len}, finished already: {finished})",
            start.elapsed()
        );
        if matches!(when, When::HalfCopied) {
            assert!(
                !finished,
                "{when:?}: the publish ended before the kill point"
            );
        }
        let _ = child.kill();
        let _ = child.wait();
        let out = apt.update_clean();
        assert!(
            apt.policy("base-agent").contains("Candidate: 1.0-1"),
            "{when:?}: {out}"
        );
        // InRelease, written last, is always whole and valid.
        let o = gpgv(&pubkey, &[&repo.join("dists/stable/InRelease")]);
        assert!(o.status.success(), "{when:?}: InRelease: {}", text(&o));
    }

    // A complete publish afterwards finishes the job and clears the debris.
    ok(publish(
        &["--repo", repo_s, "--sign-key", key_s],
        &[&big, &small],
    ));
    let names: Vec<String> = fs::read_dir(&repo)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.contains("incoming")), "{names:?}");
    apt.update_clean();
    assert!(apt.policy("big-agent").contains("Candidate: 1.0-1"));
    assert!(apt.policy("small-agent").contains("Candidate: 1.0-1"));
    assert_eq!(sha256_file(&big_pool), sha256_file(&big));
}

#[test]
fn duplicates_are_no_ops_refused_or_forced() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let a = w.path().join("a");
    let b = w.path().join("b");
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let first = make_deb_with(&a, "dup-agent", "1.0-1", &arch, b"first build", "");
    let rebuilt = make_deb_with(&b, "dup-agent", "1.0-1", &arch, b"second build", "");
    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    ok(publish(&["--repo", repo_s], &[&first]));
    let before = tree_hash(&repo);

    // Identical bytes: nothing changes at all.
    let o = ok(publish(&["--repo", repo_s], &[&first]));
    assert!(text(&o).contains("already published"), "{}", text(&o));
    assert_eq!(before, tree_hash(&repo));

    // Same name, version and arch with other bytes: refused, exit 3.
    let o = publish(&["--repo", repo_s], &[&rebuilt]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("already published with different contents"),
        "{}",
        text(&o)
    );
    assert_eq!(before, tree_hash(&repo));

    // --force replaces it.
    ok(publish(&["--repo", repo_s, "--force"], &[&rebuilt]));
    let packages = packages_file(&repo, &arch);
    assert!(
        packages.contains(&format!("SHA256: {}", sha256_file(&rebuilt))),
        "{packages}"
    );
    assert_eq!(packages.matches("Package: dup-agent").count(), 1);
    let pool = repo.join(format!("pool/main/d/dup-agent/dup-agent_1.0-1_{arch}.deb"));
    assert_eq!(sha256_file(&pool), sha256_file(&rebuilt));
}

#[test]
fn bad_inputs_leave_the_repo_unchanged() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let gpg = Gpg::new();
    let fpr = gpg.new_key("Bad Input <bad@example.invalid>", "ed25519", "sign", "pw");
    let key = w.path().join("key.asc");
    gpg.export_secret(&fpr, "pw", &key);
    let key_s = key.to_str().unwrap();
    let good = make_deb(w.path(), "good-agent", "1.0-1", &arch);
    let next = make_deb(w.path(), "good-agent", "1.1-1", &arch);
    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    let pw = [("CFY_AP_SIGN_PASSPHRASE", "pw")];
    ok(publish_env(
        &["--repo", repo_s, "--sign-key", key_s],
        &[&good],
        &pw,
    ));
    let before = tree_hash(&repo);

    let not_deb = w.path().join("notes.deb");
    fs::write(&not_deb, "just some text\n").unwrap();
    let truncated = w.path().join("truncated.deb");
    let bytes = fs::read(&good).unwrap();
    fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
    let no_version = w.path().join("no-version.deb");
    fs::write(
        &no_version,
        ar(&[
            ("debian-binary", b"2.0\n".to_vec()),
            (
                "control.tar.gz",
                tar_gz(&[("./control", "Package: broken\nArchitecture: all\n")]),
            ),
            ("data.tar.gz", tar_gz(&[])),
        ]),
    )
    .unwrap();
    let garbage_control = w.path().join("garbage-control.deb");
    let mut f = fs::File::create(&garbage_control).unwrap();
    f.write_all(&ar(&[
        ("debian-binary", b"2.0\n".to_vec()),
        ("control.tar.xz", b"not xz at all".to_vec()),
        ("data.tar.xz", Vec::new()),
    ]))
    .unwrap();
    let bad_key = w.path().join("bad-key.asc");
    fs::write(
        &bad_key,
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\ngarbage\n",
    )
    .unwrap();
    let missing = w.path().join("missing.deb");

    let signed = ["--repo", repo_s, "--sign-key", key_s];
    /// What, arguments, packages, environment.
    type Case<'a> = (
        &'a str,
        Vec<&'a str>,
        Vec<&'a Path>,
        Vec<(&'a str, &'a str)>,
    );
    let cases: Vec<Case> = vec![
        (
            "not a deb",
            signed.to_vec(),
            vec![&next, &not_deb],
            pw.to_vec(),
        ),
        ("truncated", signed.to_vec(), vec![&truncated], pw.to_vec()),
        (
            "no Version",
            signed.to_vec(),
            vec![&next, &no_version],
            pw.to_vec(),
        ),
        (
            "broken control.tar",
            signed.to_vec(),
            vec![&garbage_control],
            pw.to_vec(),
        ),
        ("missing file", signed.to_vec(), vec![&missing], pw.to_vec()),
        (
            "unreadable key",
            vec!["--repo", repo_s, "--sign-key", bad_key.to_str().unwrap()],
            vec![&next],
            pw.to_vec(),
        ),
        (
            "wrong passphrase",
            signed.to_vec(),
            vec![&next],
            vec![("CFY_AP_SIGN_PASSPHRASE", "nope")],
        ),
        ("no passphrase", signed.to_vec(), vec![&next], vec![]),
        (
            "unsigned into signed",
            vec!["--repo", repo_s],
            vec![&next],
            vec![],
        ),
    ];
    for (what, args, debs, env) in cases {
        let o = publish_env(&args, &debs, &env);
        assert!(!o.status.success(), "{what}: must fail: {}", text(&o));
        let msg = text(&o);
        assert!(msg.contains("error:"), "{what}: {msg}");
        assert_eq!(
            before,
            tree_hash(&repo),
            "{what}: repository changed ({msg})"
        );
    }
    let o = publish_env(&signed, &[&no_version], &pw);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).contains("missing Version field"), "{}", text(&o));
    let o = publish_env(&signed, &[&next], &[("CFY_AP_SIGN_PASSPHRASE", "nope")]);
    assert!(text(&o).contains("wrong passphrase"), "{}", text(&o));

    // A bad input into a repository that does not exist yet creates nothing.
    let fresh = w.path().join("fresh");
    let o = publish(&["--repo", fresh.to_str().unwrap()], &[&not_deb]);
    assert_eq!(o.status.code(), Some(2));
    assert!(!fresh.exists());
}

#[test]
fn codename_suite_and_architecture_all() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let docs = make_deb(w.path(), "only-docs", "1.0-1", "all");
    let repo = w.path().join("repo");
    let o = ok(publish_env(
        &[
            "--repo",
            repo.to_str().unwrap(),
            "--codename",
            "bookworm",
            "--suite",
            "stable",
            "--component",
            "agents",
            "--origin",
            "Cloudify",
            "--label",
            "Agents",
        ],
        &[&docs],
        &[("SOURCE_DATE_EPOCH", "1700000000")],
    ));
    assert!(text(&o).contains("added"), "{}", text(&o));
    let release = fs::read_to_string(repo.join("dists/bookworm/Release")).unwrap();
    for line in [
        "Origin: Cloudify\n",
        "Label: Agents\n",
        "Suite: stable\n",
        "Codename: bookworm\n",
        "Date: Tue, 14 Nov 2023 22:13:20 +0000\n",
        "Components: agents\n",
        "Acquire-By-Hash: yes\n",
    ] {
        assert!(release.contains(line), "{line:?} missing:\n{release}");
    }
    // Only `all` packages: indexed for this machine's architecture.
    assert!(
        release.contains(&format!("Architectures: {arch}\n")),
        "{release}"
    );
    assert_eq!(
        fs::read_link(repo.join("dists/stable")).unwrap(),
        Path::new("bookworm")
    );

    let http = Http::serve(w.path(), &w.path().join("http.log"));
    for dist in ["stable", "bookworm"] {
        let apt = Apt::new(w.path(), &format!("apt-{dist}"));
        apt.sources(&format!(
            "deb [trusted=yes] {} {dist} agents",
            http.url("repo")
        ));
        apt.update_clean();
        assert!(apt.policy("only-docs").contains("Candidate: 1.0-1"));
    }
}

#[test]
fn incremental_publish_does_not_reread_published_packages() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let first = make_deb(w.path(), "old-agent", "1.0-1", &arch);
    let second = make_deb(w.path(), "new-agent", "1.0-1", &arch);
    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    ok(publish(&["--repo", repo_s], &[&first]));
    let stanza = |packages: &str| -> String {
        packages
            .split("\n\n")
            .find(|s| s.starts_with("Package: old-agent\n"))
            .unwrap()
            .to_string()
    };
    let before = stanza(&packages_file(&repo, &arch));
    // Were the old package read again, this would make the publish fail.
    let pool = repo.join(format!("pool/main/o/old-agent/old-agent_1.0-1_{arch}.deb"));
    fs::write(&pool, "no longer a deb").unwrap();
    ok(publish(&["--repo", repo_s], &[&second]));
    let packages = packages_file(&repo, &arch);
    assert_eq!(before, stanza(&packages));
    assert!(packages.contains("Package: new-agent\n"));
}

/// The checksum lists of `release` (`SHA256:` …) and the by-hash directories
/// of the index directory.
fn hash_lists(repo: &Path, arch: &str) -> (Vec<String>, Vec<String>) {
    let release = fs::read_to_string(repo.join("dists/stable/Release")).unwrap();
    let lists = release
        .lines()
        .filter(|l| l.ends_with(':'))
        .map(|l| l.trim_end_matches(':').to_string())
        .collect();
    let by_hash = repo.join(format!("dists/stable/main/binary-{arch}/by-hash"));
    let mut dirs: Vec<String> = fs::read_dir(by_hash)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    (lists, dirs)
}

#[test]
fn release_hashes_are_chosen_and_apt_reads_each_choice() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let deb = make_deb(w.path(), "hash-agent", "1.0", &arch);
    let deb2 = make_deb(w.path(), "hash-agent", "1.1", &arch);
    let repo = w.path().join("srv/repo");
    let r = repo.to_str().unwrap();
    let strong = ["SHA256".to_string()];

    // Default: SHA256 alone; no other lists or by-hash directories.
    ok(publish(&["--repo", r], &[&deb]));
    assert_eq!(hash_lists(&repo, &arch), (strong.to_vec(), strong.to_vec()));

    // Bad lists change nothing.
    let before = tree_hash(&repo);
    for (list, says) in [
        ("SHA512", "must include SHA256"),
        ("SHA256,md5", "unknown checksum \"md5\""),
    ] {
        let o = publish(&["--repo", r, "--release-hashes", list], &[&deb2]);
        refused(&o, 2, says, &repo, &before);
    }

    // All four: every list is right (checked with the coreutils tools) and has
    // its by-hash entry; apt reads the repository, by-hash forced.
    ok(publish(
        &["--repo", r, "--release-hashes", "MD5Sum,SHA1,SHA256,SHA512"],
        &[&deb2],
    ));
    let all: Vec<String> = ["MD5Sum", "SHA1", "SHA256", "SHA512"]
        .map(String::from)
        .into();
    assert_eq!(hash_lists(&repo, &arch), (all.clone(), all.clone()));
    let dir = repo.join(format!("dists/stable/main/binary-{arch}"));
    let release = fs::read_to_string(repo.join("dists/stable/Release")).unwrap();
    for (list, tool) in all
        .iter()
        .zip(["md5sum", "sha1sum", "sha256sum", "sha512sum"])
    {
        let sum = common::tool(tool, &[dir.join("Packages.xz").to_str().unwrap()]);
        let hex = sum.split_whitespace().next().unwrap();
        assert!(
            release.contains(&format!(" {hex} ")),
            "{list} of Packages.xz ({hex}) not listed:\n{release}"
        );
        assert!(dir.join("by-hash").join(list).join(hex).is_file());
    }
    let http = Http::serve(&w.path().join("srv"), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.trust(&http.url("repo"));
    fs::write(
        apt.root.join("etc/apt.conf.d/by-hash"),
        "Acquire::By-Hash \"force\";\n",
    )
    .unwrap();
    apt.update_clean();
    assert!(apt.policy("hash-agent").contains("Candidate: 1.1"));

    // Back to SHA256 alone: apt fetches by SHA256 and the dropped lists' by-hash
    // directories go once their generations are out of the Release.
    std::thread::sleep(Duration::from_millis(1100));
    let deb3 = make_deb(w.path(), "hash-agent", "1.2", &arch);
    ok(publish(
        &["--repo", r, "--release-hashes", "sha256"],
        &[&deb3],
    ));
    let (lists, _) = hash_lists(&repo, &arch);
    assert_eq!(lists, ["SHA256"]);
    apt.update_clean();
    assert!(apt.policy("hash-agent").contains("Candidate: 1.2"));
    assert!(
        http.requests().contains("/by-hash/SHA256/"),
        "{}",
        http.requests()
    );
    std::thread::sleep(Duration::from_millis(1100));
    let deb4 = make_deb(w.path(), "hash-agent", "1.3", &arch);
    ok(publish(&["--repo", r], &[&deb4]));
    // Only SHA256 is left: the other directories went with their last entries.
    assert_eq!(
        hash_lists(&repo, &arch),
        (vec!["SHA256".to_string()], vec!["SHA256".to_string()])
    );
}

/// Field names are case-insensitive (deb822): a package whose control file
/// says `package:`, built by dpkg-deb, is published, its stanza read back by
/// the next publish, and apt finds both packages.
#[test]
fn lower_case_control_fields_are_read_back() {
    require_tools();
    let w = workdir();
    let lower = crafted_deb(
        w.path(),
        "lower-agent_1.0-1_all.deb",
        "package: lower-agent\nversion: 1.0-1\narchitecture: all\n\
         maintainer: Test <test@example.invalid>\ndescription: lower-case fields\n",
    );
    let other = make_deb(w.path(), "other-agent", "1.0-1", "all");
    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    ok(publish(&["--repo", repo_s], &[&lower]));
    // Reading the index back (it holds `package: lower-agent`) must not fail.
    ok(publish(&["--repo", repo_s], &[&other]));
    let list = text(&ok(Cmd::cfy_ap()
        .args(["publish", "--repo", repo_s, "--list"])
        .output()));
    assert!(list.contains("lower-agent\t1.0-1\tall"), "{list}");
    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.trust(&http.url("repo"));
    apt.update_clean();
    for name in ["lower-agent", "other-agent"] {
        assert!(apt.policy(name).contains("Candidate: 1.0-1"), "{name}");
    }
}

/// The packages given to one publish are read in runs of 256, each sorted and
/// written to an unnamed file, and the runs merged: 300 packages given out of
/// order (two runs, each holding names from all over the alphabet), one of
/// them twice, must give the repository byte for byte the one built from the
/// same packages 100 at a time; nothing may be left behind, and apt must read
/// it.
#[test]
fn many_packages_at_once_index_like_a_few_at_a_time() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let debs: Vec<PathBuf> = (0..300)
        .map(|i| make_deb(w.path(), &format!("many-{i:03}"), "1.0-1", &arch))
        .collect();
    // Every 7th name, wrapping around (7 and 300 share no factor), then the
    // first one again.
    let mut all: Vec<&Path> = (0..300).map(|i| debs[i * 7 % 300].as_path()).collect();
    all.push(all[0]);
    let env = [("SOURCE_DATE_EPOCH", "1700000000")];
    let (at_once, in_parts) = (w.path().join("once"), w.path().join("parts"));
    ok(publish_env(
        &["--repo", at_once.to_str().unwrap()],
        &all,
        &env,
    ));
    for part in all.chunks(100) {
        ok(publish_env(
            &["--repo", in_parts.to_str().unwrap()],
            part,
            &env,
        ));
    }
    // (by-hash/ differs: the repository built in parts keeps a previous generation.)
    let index = format!("main/binary-{arch}/Packages");
    for file in [
        "Release".to_string(),
        index.clone(),
        format!("{index}.gz"),
        format!("{index}.xz"),
    ] {
        let file = format!("dists/stable/{file}");
        let read = |repo: &Path| fs::read(repo.join(&file)).unwrap();
        assert!(read(&at_once) == read(&in_parts), "{file} differs");
    }
    let mut top: Vec<String> = fs::read_dir(&at_once)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    top.sort();
    assert_eq!(top, [".cfy-ap.lock", "dists", "pool"]);
    assert_eq!(
        packages_file(&at_once, &arch)
            .matches("Package: many-")
            .count(),
        300
    );

    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.trust(&http.url("once"));
    apt.update_clean();
    for name in ["many-000", "many-145", "many-299"] {
        assert!(apt.policy(name).contains("Candidate: 1.0-1"), "{name}");
    }
}

#[test]
fn listed_architectures_get_indices_and_stay_listed() {
    // A repository of `Architecture: all` packages for arm64 and amd64 hosts
    // (the agents' manager packages are all `all`): `--architecture` lists
    // both, apt for either finds its index, and later publishes keep them.
    require_tools();
    let w = workdir();
    let debs = w.path().join("debs");
    fs::create_dir(&debs).unwrap();
    let one = make_deb(&debs, "arch-docs", "1.0-1", "all");
    let two = make_deb(&debs, "arch-docs", "1.1-1", "all");
    let repo = w.path().join("repo");
    let repo_s = repo.to_str().unwrap();
    let release = || fs::read_to_string(repo.join("dists/stable/Release")).unwrap();

    // A name that is no architecture: exit 2, nothing written.
    let o = publish(&["--repo", repo_s, "--architecture", "arm 64"], &[&one]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(
        text(&o).contains("--architecture: \"arm 64\" is not an architecture name"),
        "{}",
        text(&o)
    );
    assert!(!repo.exists());

    // Either spelling; `all` is not an index of its own.
    ok(publish(
        &["--repo", repo_s, "--architecture", "aarch64,amd64,all"],
        &[&one],
    ));
    assert!(
        release().contains("\nArchitectures: amd64 arm64\n"),
        "{}",
        release()
    );
    ok(publish(&["--repo", repo_s], &[&two]));
    assert!(
        release().contains("\nArchitectures: amd64 arm64\n"),
        "{}",
        release()
    );
    for arch in ["amd64", "arm64"] {
        let packages = packages_file(&repo, arch);
        assert!(packages.contains("Version: 1.1-1\n"), "{arch}: {packages}");
        let apt = Apt::new(w.path(), &format!("apt-{arch}"));
        fs::write(
            apt.root.join("etc/apt.conf.d/arch"),
            format!("APT::Architecture \"{arch}\";\nAPT::Architectures {{ \"{arch}\"; }};\n"),
        )
        .unwrap();
        apt.trust(&format!("file:{repo_s}"));
        apt.update_clean();
        assert!(
            apt.policy("arch-docs").contains("Candidate: 1.1-1"),
            "{arch}"
        );
    }
    // An armhf apt is not served: no index for it, so not even the `all`
    // package.
    let apt = Apt::new(w.path(), "apt-armhf");
    fs::write(
        apt.root.join("etc/apt.conf.d/arch"),
        "APT::Architecture \"armhf\";\nAPT::Architectures { \"armhf\"; };\n",
    )
    .unwrap();
    apt.trust(&format!("file:{repo_s}"));
    let o = apt.run("apt-get", &["update"]);
    assert!(o.status.success(), "{}", text(&o));
    let policy = apt.policy("arch-docs");
    assert!(!policy.contains("Candidate: 1.1-1"), "{policy}");
}
