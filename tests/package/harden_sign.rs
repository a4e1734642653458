//! Signing hardening (issue 10, items 12–13) and the repository pre-checks of a
//! build with a `publish:` section (item 6): expired or revoked keys and subkeys
//! are refused before any work for apt and rpm signing, a file with several keys
//! needs `--sign-key-id`, `-f` never drops signatures (`--unsigned` does), and an
//! exit-3 refusal comes before the package is built.

use crate::common;

use common::apt::*;
use common::package::Setup;
use std::fs;
use std::io::Write;
use std::path::Path;

/// gpg (in the helper's home) with extra arguments; must succeed.
fn gpg_ok(gpg: &Gpg, args: &[&str]) -> String {
    let o = gpg.cmd().args(args).output().unwrap();
    assert!(o.status.success(), "gpg {args:?}: {}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn fingerprint(gpg: &Gpg, uid: &str) -> String {
    gpg_ok(gpg, &["--with-colons", "--list-keys", uid])
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_string())
        })
        .unwrap()
}

const PAST: &str = "--faked-system-time=20200101T000000!";

/// The bad keys: (what, file, expected message).
fn bad_keys(gpg: &Gpg, dir: &Path) -> Vec<(&'static str, std::path::PathBuf, &'static str)> {
    let mut out = Vec::new();
    let mut export = |what: &'static str, fpr: &str, needle: &'static str| {
        let path = dir.join(format!("{}.asc", what.replace(' ', "-")));
        gpg.export_secret(fpr, "", &path);
        out.push((what, path, needle));
    };
    // A primary key that expired in 2020.
    gpg_ok(
        gpg,
        &[
            PAST,
            "--passphrase",
            "",
            "--quick-gen-key",
            "Expired <e@x.invalid>",
            "ed25519",
            "sign",
            "1d",
        ],
    );
    export(
        "expired key",
        &fingerprint(gpg, "e@x.invalid"),
        "expired on",
    );
    // A revoked primary key (gpg's own revocation certificate imported).
    let fpr = gpg.new_key("Revoked <r@x.invalid>", "ed25519", "sign", "");
    let cert = gpg.home.path().join(format!("openpgp-revocs.d/{fpr}.rev"));
    let cert_text = fs::read_to_string(&cert)
        .unwrap()
        .replace(":-----BEGIN", "-----BEGIN");
    fs::write(&cert, cert_text).unwrap();
    gpg_ok(gpg, &["--import", cert.to_str().unwrap()]);
    export("revoked key", &fpr, "revoked");
    // A certify-only primary whose one signing subkey expired in 2020.
    gpg_ok(
        gpg,
        &[
            PAST,
            "--passphrase",
            "",
            "--quick-gen-key",
            "Subexp <s@x.invalid>",
            "ed25519",
            "cert",
            "never",
        ],
    );
    let fpr = fingerprint(gpg, "s@x.invalid");
    gpg_ok(
        gpg,
        &[
            PAST,
            "--passphrase",
            "",
            "--quick-add-key",
            &fpr,
            "ed25519",
            "sign",
            "1d",
        ],
    );
    export("expired subkey", &fpr, "expired on");
    // A certify-only primary whose one signing subkey is revoked.
    let fpr = gpg.new_key("Subrev <v@x.invalid>", "ed25519", "cert", "");
    gpg.add_signing_subkey(&fpr, "");
    let mut child = gpg
        .cmd()
        .args([
            "--yes",
            "--passphrase",
            "",
            "--command-fd",
            "0",
            "--edit-key",
            &fpr,
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"key 1\nrevkey\ny\n0\n\ny\nsave\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    export("revoked subkey", &fpr, "revoked");
    out
}

#[test]
fn expired_and_revoked_keys_are_refused_for_apt_and_rpm() {
    require_tools();
    let w = workdir();
    let gpg = Gpg::new();
    let keys = bad_keys(&gpg, w.path());
    let arch = host_arch();
    let good_fpr = gpg.new_key("Good <g@x.invalid>", "ed25519", "sign", "");
    let good_key = w.path().join("good.asc");
    gpg.export_secret(&good_fpr, "", &good_key);
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    let deb = make_deb(w.path(), "signed-agent", "1.0", &arch);
    ok(publish(
        &["--repo", r, "--sign-key", good_key.to_str().unwrap()],
        &[&deb],
    ));
    let before = tree_hash(&repo);
    let next = make_deb(w.path(), "signed-agent", "1.1", &arch);

    let rpm = Setup::new("rpm", "version: '1.0'");
    for (what, key, needle) in &keys {
        let o = publish(
            &["--repo", r, "--sign-key", key.to_str().unwrap()],
            &[&next],
        );
        refused(&o, 2, needle, &repo, &before);
        assert!(text(&o).contains(&key.display().to_string()), "{what}");

        // rpm signing: refused before any work, nothing written.
        rpm.config(&format!("version: '1.0'\nsign_key: {}", key.display()));
        let o = rpm.build(&[], &[]);
        let msg = text(&o);
        assert_eq!(o.status.code(), Some(2), "rpm, {what}: {msg}");
        assert!(msg.contains(needle), "rpm, {what}: {msg}");
        assert!(
            rpm.out_files().is_empty(),
            "rpm, {what}: {:?}",
            rpm.out_files()
        );
    }
}

/// Two signing keys in one gpg home: (workdir, gpg, arch, first, second).
fn two_keys() -> (tempfile::TempDir, Gpg, String, String, String) {
    require_tools();
    let gpg = Gpg::new();
    let one = gpg.new_key("One <1@x.invalid>", "ed25519", "sign", "");
    let two = gpg.new_key("Two <2@x.invalid>", "ed25519", "sign", "");
    (workdir(), gpg, host_arch(), one, two)
}

#[test]
fn a_key_file_with_several_keys_needs_a_key_id() {
    let (w, gpg, arch, one, two) = two_keys();
    let both = w.path().join("both.asc");
    let o = gpg
        .cmd()
        .args(["--armor", "--export-secret-keys", &one, &two])
        .output()
        .unwrap();
    fs::write(&both, o.stdout).unwrap();
    let pubkey = w.path().join("two.gpg");
    gpg.export_public(&two, &pubkey);
    let deb = make_deb(w.path(), "multi-agent", "1.0", &arch);
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    let b = both.to_str().unwrap();
    let o = publish(&["--repo", r, "--sign-key", b], &[&deb]);
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("holds 2 secret keys"), "{}", text(&o));
    assert!(
        text(&o).contains(&one) && text(&o).contains(&two),
        "{}",
        text(&o)
    );
    assert!(!repo.exists());
    let o = publish(
        &[
            "--repo",
            r,
            "--sign-key",
            b,
            "--sign-key-id",
            "0123456789ABCDEF",
        ],
        &[&deb],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("no secret key with ID"), "{}", text(&o));
    // The long key ID (last 16 hex digits) picks the second key: gpgv agrees.
    ok(publish(
        &["--repo", r, "--sign-key", b, "--sign-key-id", &two[24..]],
        &[&deb],
    ));
    let o = gpgv(&pubkey, &[&repo.join("dists/stable/InRelease")]);
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn force_never_drops_signatures_only_unsigned_does() {
    require_tools();
    let w = workdir();
    let gpg = Gpg::new();
    let fpr = gpg.new_key("Keep <k@x.invalid>", "ed25519", "sign", "");
    let key = w.path().join("key.asc");
    gpg.export_secret(&fpr, "", &key);
    let arch = host_arch();
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    let deb = make_deb(w.path(), "keep-agent", "1.0", &arch);
    ok(publish(
        &["--repo", r, "--sign-key", key.to_str().unwrap()],
        &[&deb],
    ));
    let before = tree_hash(&repo);
    let next = make_deb(w.path(), "keep-agent", "1.1", &arch);
    let o = publish(&["--repo", r, "-f"], &[&next]);
    refused(&o, 3, "would drop its signatures", &repo, &before);
    assert!(repo.join("dists/stable/InRelease").exists());

    // A build with a publish: section without sign_key, -f: refused before the
    // deb is built; the signatures stay.
    let s = Setup::new("deb", "version: '1.0'");
    let mut c = fs::OpenOptions::new()
        .append(true)
        .open(s.path().join("c.yaml"))
        .unwrap();
    writeln!(c, "publish:\n  repo: {r}").unwrap();
    let o = s.build(&["-f"], &[]);
    refused(&o, 3, "would drop its signatures", &repo, &before);
    assert!(s.out_files().is_empty(), "{:?}", s.out_files());

    // --unsigned says so explicitly.
    ok(publish(&["--repo", r, "--unsigned"], &[&next]));
    assert!(!repo.join("dists/stable/InRelease").exists());
    assert!(!repo.join("dists/stable/Release.gpg").exists());
}

#[test]
fn a_taken_version_is_refused_before_the_build() {
    require_tools();
    let w = workdir();
    let s = Setup::new("deb", "version: '1.0'");
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    let mut c = fs::OpenOptions::new()
        .append(true)
        .open(s.path().join("c.yaml"))
        .unwrap();
    writeln!(c, "publish:\n  repo: {r}").unwrap();
    s.package(&[], &[]);
    for f in s.out_files() {
        fs::remove_file(s.path().join("out").join(f)).unwrap();
    }
    let before = tree_hash(&repo);
    // Another build of the same version (other bytes: another epoch).
    let o = s.build(&[], &[("SOURCE_DATE_EPOCH", "1700000999")]);
    refused(&o, 3, "is already published in", &repo, &before);
    assert!(
        s.out_files().is_empty(),
        "built before refusing: {:?}",
        s.out_files()
    );
    // -f replaces it.
    let o = s.build(&["-f"], &[("SOURCE_DATE_EPOCH", "1700000999")]);
    assert!(o.status.success(), "{}", text(&o));
}

/// Keys exported one by one and concatenated (`cat a.asc b.asc`, `cat a.gpg
/// b.gpg`): every block counts, so the file needs `--sign-key-id`, and the key
/// it names is the one that signs.
#[test]
fn concatenated_key_files_count_every_key() {
    let (w, gpg, arch, one, two) = two_keys();
    let pubkey = w.path().join("two.gpg");
    gpg.export_public(&two, &pubkey);
    let deb = make_deb(w.path(), "cat-agent", "1.0", &arch);
    for armor in [true, false] {
        let mut joined = Vec::new();
        for fpr in [&one, &two] {
            let mut cmd = gpg.cmd();
            if armor {
                cmd.arg("--armor");
            }
            let o = cmd.args(["--export-secret-keys", fpr]).output().unwrap();
            assert!(o.status.success() && !o.stdout.is_empty(), "{}", text(&o));
            joined.extend_from_slice(&o.stdout);
        }
        let file = w.path().join(if armor { "cat.asc" } else { "cat.gpg" });
        fs::write(&file, &joined).unwrap();
        let repo = w.path().join(format!("repo-{armor}"));
        let r = repo.to_str().unwrap();
        let k = file.to_str().unwrap();
        let o = publish(&["--repo", r, "--sign-key", k], &[&deb]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("holds 2 secret keys"), "{}", text(&o));
        assert!(!repo.exists());
        ok(publish(
            &["--repo", r, "--sign-key", k, "--sign-key-id", &two],
            &[&deb],
        ));
        let o = gpgv(&pubkey, &[&repo.join("dists/stable/InRelease")]);
        assert!(o.status.success(), "armor {armor}: {}", text(&o));
    }
}
