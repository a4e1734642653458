//! Publish hardening (issue 10, items 1–10): inputs that used to break a
//! repository are refused before it is touched (exit code, message, and the whole
//! tree hashed before and after), and what is accepted is read by the real apt.

use crate::common;

use common::apt::*;
use common::http::Http;
use std::fs;
use std::path::Path;

const GOOD: &str = "Maintainer: T <t@example.invalid>\nDescription: test\n";

/// A repository holding one good package; returns (workdir, repo, arch).
fn repo_with_one() -> (tempfile::TempDir, std::path::PathBuf, String) {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let good = make_deb(w.path(), "good-agent", "1.0-1", &arch);
    let repo = w.path().join("repo");
    ok(publish(&["--repo", repo.to_str().unwrap()], &[&good]));
    (w, repo, arch)
}

#[test]
fn relation_fields_are_parsed_before_the_repo_is_touched() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    let before = tree_hash(&repo);
    let next = make_deb(w.path(), "good-agent", "1.1-1", &arch);
    let cases = [
        ("Depends", "foo (>= "),
        ("Pre-Depends", "foo (>= "),
        ("Recommends", "foo (<< 1"),
        ("Suggests", "foo (~ 1)"),
        ("Breaks", "foo (>= )"),
        ("Conflicts", "foo | bar"),
        ("Replaces", "foo,, bar"),
        ("Provides", "a (= )"),
        ("Built-Using", "gcc (>= 1)"),
        ("Enhances", "Foo"),
        ("Depends", "foo [amd64]"),
    ];
    for (i, (field, value)) in cases.iter().enumerate() {
        let control = format!(
            "Package: bad-rel\nVersion: {i}.0\nArchitecture: all\n{field}: {value}\n{GOOD}"
        );
        let deb = crafted_deb(w.path(), &format!("bad-{i}.deb"), &control);
        // Beside a good package: neither is published.
        let o = publish(&["--repo", r], &[&next, &deb]);
        refused(&o, 2, &format!("bad-{i}.deb"), &repo, &before);
        assert!(text(&o).contains(&format!("{field}: ")), "{}", text(&o));
    }

    // The whole grammar a binary package may use is accepted, and apt reads it.
    let control = format!(
        "Package: rel-agent\nVersion: 1.0\nArchitecture: all\n\
         Depends: libc6 (>= 2.17) | libc6.1:any (>> 1~), python3:any,\n python3-yaml (<< 9)\n\
         Pre-Depends: dpkg (>= 1.17)\nProvides: cfy-agent (= 1.0)\nConflicts: old-agent (<= 0.9)\n\
         Built-Using: gcc-12 (= 12.2.0-14)\n{GOOD}"
    );
    let deb = crafted_deb(w.path(), "rel.deb", &control);
    ok(publish(&["--repo", r], &[&deb]));
    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.trust(&http.url("repo"));
    apt.update_clean();
    assert!(apt.policy("rel-agent").contains("Candidate: 1.0"));
}

#[test]
fn a_build_with_a_bad_depends_fails_before_any_work() {
    let s = common::package::Setup::new("deb", "version: '1.0'\ndepends: ['python3 (>= ']");
    let o = s.build(&[], &[]);
    let msg = text(&o);
    assert_eq!(o.status.code(), Some(2), "{msg}");
    assert!(
        msg.contains("package.depends: \"python3 (>=\": unclosed `(`"),
        "{msg}"
    );
    assert!(s.out_files().is_empty(), "{:?}", s.out_files());
}

#[test]
fn overlong_names_are_refused_before_any_write() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    let before = tree_hash(&repo);
    let next = make_deb(w.path(), "good-agent", "1.1-1", &arch);
    let long = "a".repeat(300);
    let version = format!("1.{}", "1".repeat(298));
    for (field, control) in [
        (
            "Package",
            format!("Package: {long}\nVersion: 1\nArchitecture: all\n{GOOD}"),
        ),
        (
            "Version",
            format!("Package: long-ver\nVersion: {version}\nArchitecture: all\n{GOOD}"),
        ),
        (
            "Architecture",
            format!("Package: long-arch\nVersion: 1\nArchitecture: {long}\n{GOOD}"),
        ),
        (
            "Source",
            format!("Package: long-src\nSource: {long}\nVersion: 1\nArchitecture: all\n{GOOD}"),
        ),
    ] {
        let deb = crafted_deb(w.path(), "long.deb", &control);
        let o = publish(&["--repo", r], &[&next, &deb]);
        refused(
            &o,
            2,
            &format!("{field}: 300 bytes long, over the limit"),
            &repo,
            &before,
        );
    }
    let o = publish(&["--repo", r, "--codename", &long], &[&next]);
    refused(&o, 2, "over the limit of 64", &repo, &before);
}

#[test]
fn components_that_collide_with_apt_files_are_refused() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    let before = tree_hash(&repo);
    let next = make_deb(w.path(), "good-agent", "1.1-1", &arch);
    for comp in [
        "Release",
        "InRelease",
        "Release.gpg",
        "by-hash",
        "Contents-amd64",
        "i18n",
    ] {
        let o = publish(&["--repo", r, "--component", comp], &[&next]);
        refused(&o, 2, "collides with a file apt expects", &repo, &before);
    }
    let fresh = w.path().join("fresh");
    let o = publish(
        &["--repo", fresh.to_str().unwrap(), "--component", "Release"],
        &[&next],
    );
    assert_eq!(o.status.code(), Some(2));
    assert!(!fresh.exists());
}

#[test]
fn a_control_file_over_the_limit_is_refused_not_truncated() {
    let (w, repo, _) = repo_with_one();
    let before = tree_hash(&repo);
    let filler: String = " filler line of the description\n".repeat((5 << 20) / 32);
    let control = format!(
        "Package: huge-control\nVersion: 1\nArchitecture: all\nDescription: big\n{filler}\
         Depends: after-the-cut\n"
    );
    let deb = crafted_deb(w.path(), "huge.deb", &control);
    let o = publish(&["--repo", repo.to_str().unwrap()], &[&deb]);
    refused(&o, 2, "over the limit of 1048576", &repo, &before);
    assert!(text(&o).contains("not truncated"), "{}", text(&o));
}

#[test]
fn settings_are_checked_before_the_first_write() {
    let (w, repo, arch) = repo_with_one();
    let before = tree_hash(&repo);
    let next = make_deb(w.path(), "good-agent", "1.1-1", &arch);
    let o = publish_env(
        &["--repo", repo.to_str().unwrap()],
        &[&next],
        &[("SOURCE_DATE_EPOCH", "abc")],
    );
    refused(&o, 2, "SOURCE_DATE_EPOCH", &repo, &before);
}

#[test]
fn paths_from_an_index_stay_inside_the_repo() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    // The package published (made again, its bytes could differ: dpkg-deb
    // records the files' mtimes).
    let good = w.path().join(format!("good-agent_1.0-1_{arch}.deb"));
    let packages = repo.join(format!("dists/stable/main/binary-{arch}/Packages"));
    let pool = repo.join(format!(
        "pool/main/g/good-agent/good-agent_1.0-1_{arch}.deb"
    ));
    let original = fs::read_to_string(&packages).unwrap();
    let filename = format!("pool/main/g/good-agent/good-agent_1.0-1_{arch}.deb");
    fs::remove_file(&pool).unwrap();
    let outside = w.path().join("outside");
    for evil in [
        "../outside/x.deb".to_string(),
        format!("{}/x.deb", outside.display()),
        "pool/../../outside/x.deb".to_string(),
    ] {
        fs::write(&packages, original.replace(&filename, &evil)).unwrap();
        let before = tree_hash(&repo);
        let o = publish(&["--repo", r], &[&good]);
        refused(&o, 2, "is not a plain relative path", &repo, &before);
        assert!(text(&o).contains(&packages.display().to_string()));
        assert!(!outside.exists());
    }
    // A plain path that leaves through a symlinked directory.
    fs::write(&packages, &original).unwrap();
    fs::create_dir_all(&outside).unwrap();
    let dir = repo.join("pool/main/g/good-agent");
    fs::remove_dir_all(&dir).unwrap();
    std::os::unix::fs::symlink(&outside, &dir).unwrap();
    let before = tree_hash(&repo);
    let o = publish(&["--repo", r], &[&good]);
    refused(&o, 2, "leads outside the repository", &repo, &before);
    assert_eq!(fs::read_dir(&outside).unwrap().count(), 0);
}

#[test]
fn epochs_are_part_of_pool_identity() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let (a, b) = (w.path().join("a"), w.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let plain = make_deb_with(&a, "epoch-agent", "1.0", &arch, b"plain", "");
    let epoch = make_deb_with(&b, "epoch-agent", "1:1.0", &arch, b"with epoch", "");
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    ok(publish(&["--repo", r], &[&epoch]));
    ok(publish(&["--repo", r], &[&plain]));
    let dir = repo.join("pool/main/e/epoch-agent");
    assert_eq!(
        sha256_file(&dir.join(format!("epoch-agent_1%3a1.0_{arch}.deb"))),
        sha256_file(&epoch)
    );
    assert_eq!(
        sha256_file(&dir.join(format!("epoch-agent_1.0_{arch}.deb"))),
        sha256_file(&plain)
    );
    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    apt.trust(&http.url("repo"));
    apt.update_clean();
    let dl = w.path().join("dl");
    fs::create_dir_all(&dl).unwrap();
    for (want, deb) in [("epoch-agent=1.0", &plain), ("epoch-agent=1:1.0", &epoch)] {
        let o = std::process::Command::new("apt-get")
            .current_dir(&dl)
            .env("APT_CONFIG", &apt.conf)
            .args(["download", want])
            .output()
            .unwrap();
        assert!(o.status.success(), "{want}: {}", text(&o));
        let got = fs::read_dir(&dl)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| sha256_file(p) == sha256_file(deb));
        assert!(got.is_some(), "{want}: not downloaded with the right bytes");
    }
}

#[test]
fn a_replacement_never_breaks_another_codename() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let (a, b) = (w.path().join("a"), w.path().join("b"));
    fs::create_dir_all(&a).unwrap();
    fs::create_dir_all(&b).unwrap();
    let first = make_deb_with(&a, "shared-agent", "1.0", &arch, b"first", "");
    let second = make_deb_with(&b, "shared-agent", "1.0", &arch, b"second", "");
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    ok(publish(&["--repo", r, "--codename", "alpha"], &[&first]));
    let before = tree_hash(&repo);
    // beta does not have it yet: the pool file is alpha's.
    let o = publish(&["--repo", r, "--codename", "beta", "-f"], &[&second]);
    refused(&o, 3, "also indexed by", &repo, &before);
    assert!(text(&o).contains("dists/alpha/main"), "{}", text(&o));
    // Both index it: replacing it in beta would still break alpha.
    ok(publish(&["--repo", r, "--codename", "beta"], &[&first]));
    let before = tree_hash(&repo);
    let o = publish(&["--repo", r, "--codename", "beta", "-f"], &[&second]);
    refused(&o, 3, "also indexed by", &repo, &before);
    let pool = repo.join(format!(
        "pool/main/s/shared-agent/shared-agent_1.0_{arch}.deb"
    ));
    assert_eq!(sha256_file(&pool), sha256_file(&first));
}

/// A repository made by apt-ftparchive: Origin/Label of its own, a Sources
/// index, a Packages.bz2, Contents.
fn foreign_repo(w: &Path, arch: &str) -> std::path::PathBuf {
    let repo = w.join("foreign");
    let bin = repo.join(format!("dists/stable/main/binary-{arch}"));
    let src = repo.join("dists/stable/main/source");
    let pool = repo.join("pool/main/o/old-agent");
    for d in [&bin, &src, &pool] {
        fs::create_dir_all(d).unwrap();
    }
    let deb = make_deb(w, "old-agent", "0.9", arch);
    fs::copy(&deb, pool.join(deb.file_name().unwrap())).unwrap();
    let sh = |cmd: String| {
        let o = std::process::Command::new("sh")
            .current_dir(&repo)
            .args(["-ec", &cmd])
            .output()
            .unwrap();
        assert!(o.status.success(), "{cmd}: {}", text(&o));
    };
    let b = format!("dists/stable/main/binary-{arch}");
    sh(format!(
        "apt-ftparchive packages pool > {b}/Packages; gzip -9kn {b}/Packages; bzip2 -k {b}/Packages; \
         apt-ftparchive sources pool > dists/stable/main/source/Sources; \
         gzip -9kn dists/stable/main/source/Sources; \
         apt-ftparchive contents pool | gzip -9n > dists/stable/main/Contents-{arch}.gz; \
         apt-ftparchive -o APT::FTPArchive::Release::Origin=Foreign \
           -o APT::FTPArchive::Release::Label=Foreign -o APT::FTPArchive::Release::Suite=stable \
           -o APT::FTPArchive::Release::Codename=stable \
           -o APT::FTPArchive::Release::Components=main release dists/stable > Release.tmp; \
         mv Release.tmp dists/stable/Release"
    ));
    repo
}

#[test]
fn foreign_repositories_are_kept_or_refused_never_degraded() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let repo = foreign_repo(w.path(), &arch);
    let r = repo.to_str().unwrap();
    let new = make_deb(w.path(), "new-agent", "1.0", &arch);
    let before = tree_hash(&repo);
    let o = publish(&["--repo", r], &[&new]);
    refused(
        &o,
        3,
        "was not made by cfy-ap with these options",
        &repo,
        &before,
    );
    let msg = text(&o);
    assert!(
        msg.contains("Origin \"Foreign\" would become \"cfy-ap\""),
        "{msg}"
    );
    assert!(msg.contains("Packages.bz2 would be dropped"), "{msg}");

    // --adopt: Origin/Label become ours, Packages.bz2 goes; Sources and
    // Contents stay listed, and apt (with deb-src) reads it without a warning.
    ok(publish(&["--repo", r, "--adopt"], &[&new]));
    let release = fs::read_to_string(repo.join("dists/stable/Release")).unwrap();
    assert!(release.contains("main/source/Sources.gz"), "{release}");
    assert!(
        release.contains(&format!("main/Contents-{arch}.gz")),
        "{release}"
    );
    assert!(!release.contains("Packages.bz2"), "{release}");
    let http = Http::serve(w.path(), &w.path().join("http.log"));
    let apt = Apt::new(w.path(), "apt");
    let url = http.url("foreign");
    apt.sources(&format!(
        "deb [trusted=yes] {url} stable main\ndeb-src [trusted=yes] {url} stable main"
    ));
    apt.update_clean();
    assert!(apt.policy("new-agent").contains("Candidate: 1.0"));
    assert!(apt.policy("old-agent").contains("Candidate: 0.9"));
    // Adopted: the next publish needs no --adopt, and keeps the Sources entry.
    let next = make_deb(w.path(), "new-agent", "1.1", &arch);
    ok(publish(&["--repo", r], &[&next]));
    let release = fs::read_to_string(repo.join("dists/stable/Release")).unwrap();
    assert!(release.contains("main/source/Sources.gz"), "{release}");
    apt.update_clean();
}

// Hardening, round two (issue 26): the apt side.

/// A control file whose stanza in the index is about `size` bytes.
fn control_of_size(name: &str, size: usize) -> String {
    let head = format!("Package: {name}\nVersion: 1\nArchitecture: all\nDescription: big\n");
    let line = format!(" {}\n", "d".repeat(70));
    let mut control = head;
    while control.len() + line.len() < size {
        control.push_str(&line);
    }
    control
}

#[test]
fn a_stanza_apt_cannot_parse_is_refused_and_one_below_the_limit_is_read_by_apt() {
    let (w, repo, _) = repo_with_one();
    let r = repo.to_str().unwrap();
    let before = tree_hash(&repo);
    // Control fields of ~1.04 MiB: with the location and checksums the stanza
    // passes 1 MiB, which apt 2.6 fails to parse ("Unable to parse package file").
    let deb = crafted_deb(
        w.path(),
        "over.deb",
        &control_of_size("over-agent", (1 << 20) - 100),
    );
    let o = publish(&["--repo", r], &[&deb]);
    refused(&o, 2, "index stanza would be", &repo, &before);
    assert!(
        text(&o).contains("over the limit of 1048576"),
        "{}",
        text(&o)
    );
    // Just below: published, and the real apt reads the index.
    let deb = crafted_deb(
        w.path(),
        "under.deb",
        &control_of_size("under-agent", (1 << 20) - 1000),
    );
    ok(publish(&["--repo", r], &[&deb]));
    let apt = Apt::new(w.path(), "apt");
    apt.sources(&format!("deb [trusted=yes] file:{r} stable main"));
    apt.update_clean();
    assert!(apt.policy("under-agent").contains("Candidate: 1"));
}

#[test]
fn dpkg_equal_versions_are_one_identity() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    let before = tree_hash(&repo);
    // `0:1.0-1` and `1.00-1` are `1.0-1` to dpkg, in other bytes.
    for v in ["0:1.0-1", "1.00-1", "1.0-01"] {
        let deb = make_deb(w.path(), "good-agent", v, &arch);
        let o = publish(&["--repo", r], &[&deb]);
        refused(&o, 3, "dpkg compares", &repo, &before);
    }
    // Given together: refused before the repository is touched.
    let a = make_deb(w.path(), "pair-agent", "2.0", &arch);
    let b = make_deb(w.path(), "pair-agent", "2.00", &arch);
    let o = publish(&["--repo", r], &[&a, &b]);
    refused(&o, 2, "one version to dpkg", &repo, &before);
    // With -f the new string replaces the old: one stanza, the old pool file gone.
    let deb = make_deb(w.path(), "good-agent", "0:1.0-1", &arch);
    let o = ok(publish(&["--repo", r, "-f"], &[&deb]));
    assert!(text(&o).contains("replaced"), "{}", text(&o));
    let index = packages_file(&repo, &arch);
    assert_eq!(index.matches("Package: good-agent").count(), 1, "{index}");
    assert!(index.contains("Version: 0:1.0-1"), "{index}");
    let old = format!("pool/main/g/good-agent/good-agent_1.0-1_{arch}.deb");
    assert!(!repo.join(&old).exists(), "{old} left behind");
}

#[test]
fn a_suite_link_is_never_replaced_or_moved_by_accident() {
    require_tools();
    let w = workdir();
    let arch = host_arch();
    let gpg = Gpg::new();
    let (key, pubkey) = gpg.signing_key("Suite <s@x.invalid>", w.path());
    let k = key.to_str().unwrap();
    let repo = w.path().join("repo");
    let r = repo.to_str().unwrap();
    let one = make_deb(w.path(), "suite-agent", "1.0", &arch);
    let args = ["--repo", r, "--sign-key", k, "--codename", "bookworm"];
    ok(publish(
        &[&args[..], &["--suite", "stable"]].concat(),
        &[&one],
    ));
    let before = tree_hash(&repo);
    // `--codename stable` would replace the link with a directory.
    let two = make_deb(w.path(), "suite-agent", "2.0", &arch);
    let o = publish(
        &["--repo", r, "--sign-key", k, "--codename", "stable"],
        &[&two],
    );
    refused(&o, 3, "is a suite link to bookworm", &repo, &before);
    // `--suite stable` for another codename would move it: asked for with -f only.
    let trixie = [
        "--repo",
        r,
        "--sign-key",
        k,
        "--codename",
        "trixie",
        "--suite",
        "stable",
    ];
    let o = publish(&trixie, &[&two]);
    refused(&o, 3, "would move it", &repo, &before);
    ok(publish(&[&trixie[..], &["-f"]].concat(), &[&two]));
    let dists = repo.join("dists");
    assert_eq!(
        fs::read_link(dists.join("stable")).unwrap(),
        Path::new("trixie")
    );
    // bookworm no longer calls itself stable, and its signatures still verify.
    let release = fs::read_to_string(dists.join("bookworm/Release")).unwrap();
    assert!(release.contains("\nSuite: bookworm\n"), "{release}");
    let in_release = fs::read_to_string(dists.join("bookworm/InRelease")).unwrap();
    assert!(in_release.contains("\nSuite: bookworm\n"), "{in_release}");
    let o = gpgv(&pubkey, &[&dists.join("bookworm/InRelease")]);
    assert!(o.status.success(), "{}", text(&o));
    let o = gpgv(
        &pubkey,
        &[
            &dists.join("bookworm/Release.gpg"),
            &dists.join("bookworm/Release"),
        ],
    );
    assert!(o.status.success(), "{}", text(&o));
}

#[test]
fn a_lock_that_is_no_regular_file_is_refused_without_waiting() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    let next = make_deb(w.path(), "good-agent", "1.1-1", &arch);
    let lock = repo.join(".cfy-ap.lock");
    fs::remove_file(&lock).unwrap();
    // A FIFO would block the open; a symlink would create a file elsewhere.
    let fifo = std::process::Command::new("mkfifo")
        .arg(&lock)
        .status()
        .unwrap();
    assert!(fifo.success());
    let before = tree_hash(&repo);
    // Bounded: the old behaviour was to wait on the FIFO for ever.
    let o = std::process::Command::new("timeout")
        .args(["60", BIN, "publish", "--repo", r])
        .arg(&next)
        .output()
        .unwrap();
    assert_ne!(o.status.code(), Some(124), "publish hung on the FIFO lock");
    refused(&o, 2, "is a FIFO, not a regular file", &repo, &before);
    fs::remove_file(&lock).unwrap();
    let outside = w.path().join("outside");
    std::os::unix::fs::symlink(&outside, &lock).unwrap();
    let before = tree_hash(&repo);
    let o = publish(&["--repo", r], &[&next]);
    refused(
        &o,
        2,
        "is a symbolic link, not a regular file",
        &repo,
        &before,
    );
    assert!(!outside.exists());
}

#[test]
fn broken_files_and_paths_are_usage_errors() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    let next = make_deb(w.path(), "good-agent", "1.1-1", &arch);
    // A Release of random bytes: a broken repository file, exit 2.
    let release = repo.join("dists/stable/Release");
    let random: Vec<u8> = (0..4096u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    fs::write(&release, &random).unwrap();
    let before = tree_hash(&repo);
    let o = publish(&["--repo", r], &[&next]);
    refused(&o, 2, "broken repository file", &repo, &before);
    // --repo naming a file or a device: not a directory, for adding and listing.
    let file = w.path().join("file");
    fs::write(&file, "x").unwrap();
    for target in [file.to_str().unwrap(), "/dev/null"] {
        let o = publish(&["--repo", target], &[&next]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
        assert!(text(&o).contains("is not a directory"), "{}", text(&o));
        let o = publish(&["--repo", target, "--list"], &[]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
    assert_eq!(fs::read(&file).unwrap(), b"x");
    // --copy FROM --all takes no names.
    let o = publish(
        &[
            "--repo",
            r,
            "--codename",
            "next",
            "--copy",
            "stable",
            "--all",
            "good-agent",
        ],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(text(&o).contains("--all"), "{}", text(&o));
}

#[test]
fn a_publish_failing_before_its_switch_leaves_no_new_pool_file() {
    let (w, repo, arch) = repo_with_one();
    let r = repo.to_str().unwrap();
    // by-hash/SHA256 a file: the next generation's index cannot be linked there.
    let by_hash = repo.join(format!("dists/stable/main/binary-{arch}/by-hash/SHA256"));
    fs::remove_dir_all(&by_hash).unwrap();
    fs::write(&by_hash, "in the way").unwrap();
    let before = tree_hash(&repo);
    let next = make_deb(w.path(), "new-agent", "1.0", &arch);
    let o = publish(&["--repo", r], &[&next]);
    refused(&o, 1, "by-hash", &repo, &before);
    assert!(!repo.join("pool/main/n").exists(), "new pool files left");
    fs::remove_file(&by_hash).unwrap();
    ok(publish(&["--repo", r], &[&next]));
    assert!(packages_file(&repo, &arch).contains("Package: new-agent"));
}
