//! `cfy-ap archive DIR OUT`: the same deterministic writer as the pipeline, checked
//! with GNU tar and gzip.

use crate::common;

use common::*;
use std::os::unix::fs::symlink;

fn sample_tree(root: &std::path::Path) {
    std::fs::create_dir_all(root.join("env/bin")).unwrap();
    std::fs::create_dir_all(root.join("env/lib/python3/site-packages/pkg")).unwrap();
    symlink("python3", root.join("env/bin/python")).unwrap();
    std::fs::write(root.join("env/bin/python3"), "not really python").unwrap();
    for i in 0..200 {
        std::fs::write(
            root.join(format!("env/lib/python3/site-packages/pkg/m{i:03}.py")),
            format!("value = {i}\n").repeat(50),
        )
        .unwrap();
    }
}

#[test]
fn archive_command_default_prefix_and_gnu_tar_reads_it() {
    let w = tempfile::tempdir().unwrap();
    sample_tree(w.path());
    let out = cfy_ap(w.path(), &["archive", "env", "env.tar.gz"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let tgz = w.path().join("env.tar.gz");
    tool("gzip", &["-t", tgz.to_str().unwrap()]);
    let listing = tool("tar", &["tzvf", tgz.to_str().unwrap()]);
    assert!(listing.lines().next().unwrap().ends_with(" env/"));
    assert!(listing.contains("env/bin/python -> python3"));
    assert_eq!(listing.lines().count(), 1 + 1 + 3 + 1 + 200 + 2);

    // --prefix, and refusal to overwrite without -f.
    let out = cfy_ap(
        w.path(),
        &["archive", "env", "env.tar.gz", "--prefix", "/a/b/"],
        &[],
    );
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let out = cfy_ap(
        w.path(),
        &["archive", "env", "env.tar.gz", "--prefix", "/a/b/", "-f"],
        &[],
    );
    assert!(out.status.success(), "{}", text(&out));
    let listing = tool("tar", &["tzf", tgz.to_str().unwrap()]);
    assert!(listing.lines().all(|l| l.starts_with("a/b/")), "{listing}");
}

#[test]
fn archive_is_reproducible_across_mtimes_with_source_date_epoch() {
    let w = tempfile::tempdir().unwrap();
    sample_tree(w.path());
    let sde = [("SOURCE_DATE_EPOCH", "1600000000")];
    let out = cfy_ap(w.path(), &["archive", "env", "one.tar.gz"], &sde);
    assert!(out.status.success(), "{}", text(&out));
    // Touch everything to "now": clamping must hide it.
    let f = w.path().join("env/lib/python3/site-packages/pkg/m000.py");
    std::fs::write(&f, std::fs::read(&f).unwrap()).unwrap();
    let out = cfy_ap(w.path(), &["archive", "env", "two.tar.gz"], &sde);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(
        sha256(&w.path().join("one.tar.gz")),
        sha256(&w.path().join("two.tar.gz"))
    );
    // Same bytes as GNU tar would extract: compare a round trip.
    let x = tempfile::tempdir().unwrap();
    tool(
        "tar",
        &[
            "xzf",
            w.path().join("one.tar.gz").to_str().unwrap(),
            "-C",
            x.path().to_str().unwrap(),
        ],
    );
    assert_eq!(tree(&x.path().join("env")), tree(&w.path().join("env")));
    // A missing directory is a usage error (exit 2, issue 10 item 25).
    let out = cfy_ap(w.path(), &["archive", "missing-dir", "x.tar.gz"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!w.path().join("x.tar.gz").exists());
}
