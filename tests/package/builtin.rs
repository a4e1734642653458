//! The packaging defaults compiled into the binary: used when no
//! `packaging/<distro>/` is on disk (the package then holds the repository's files
//! byte for byte), overridden by one that is, and written out by
//! `cfy-ap packaging-files`.

use crate::common;

use common::package::{Setup, cfy_ap};
use common::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;

const FILES: [(&str, u32); 3] = [
    ("agent-disable-requiretty.sh", 0o755),
    ("celeryd-cloudify.conf.template", 0o644),
    ("celeryd-cloudify.init.template", 0o644),
];

#[test]
fn packaging_files_writes_each_set_and_refuses_to_overwrite() {
    let work = tempfile::tempdir().unwrap();
    for (distro, set) in [
        ("centos", "centos"),
        ("Ubuntu", "ubuntu"),
        ("redhat", "centos"),
        ("debian", "debian"),
    ] {
        let dir = work.path().join(distro).join("new");
        let o = cfy_ap(
            work.path(),
            &["packaging-files", distro, dir.to_str().unwrap()],
            &[],
        );
        assert!(o.status.success(), "{}", text(&o));
        for (file, mode) in FILES {
            let want = fs::read(repo().join("packaging").join(set).join(file)).unwrap();
            let path = dir.join(file);
            assert_eq!(fs::read(&path).unwrap(), want, "{path:?}");
            let meta = fs::symlink_metadata(&path).unwrap();
            assert!(meta.file_type().is_file());
            assert_eq!(meta.permissions().mode() & 0o777, mode, "{path:?}");
        }
        // The rpmlint filters come along, for `rpmlint -r`.
        let rc = fs::read(dir.join("cfy-ap.rpmlintrc")).unwrap();
        assert_eq!(
            rc,
            fs::read(repo().join("packaging/cfy-ap.rpmlintrc")).unwrap()
        );
    }
    // Existing files: exit 3 and untouched; -f replaces them.
    let dir = work.path().join("centos/new");
    let init = dir.join("celeryd-cloudify.init.template");
    fs::write(&init, "mine\n").unwrap();
    let o = cfy_ap(
        work.path(),
        &["packaging-files", "centos", dir.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert_eq!(fs::read_to_string(&init).unwrap(), "mine\n");
    let o = cfy_ap(
        work.path(),
        &["-f", "packaging-files", "centos", dir.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    assert_ne!(fs::read_to_string(&init).unwrap(), "mine\n");
    // No set for an unknown distribution: exit 2, nothing written.
    let none = work.path().join("arch");
    let o = cfy_ap(
        work.path(),
        &["packaging-files", "arch", none.to_str().unwrap()],
        &[],
    );
    assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stderr).contains("built-in sets: ubuntu, debian, centos"));
    assert!(!none.exists());
}

/// c.yaml without package.config_files (the Setup's default names the repo's).
fn write_plain_config(s: &Setup) {
    fs::write(
        s.path().join("c.yaml"),
        "distribution: Ubuntu\nrelease: trusty\noutput_tar: Ubuntu-trusty-agent.tar.gz\npackage:\n  version: 3.2\n  output_dir: out\n",
    )
    .unwrap();
}

#[test]
fn the_built_in_set_is_used_when_nothing_is_on_disk() {
    let s = Setup::new("deb", "version: 3.2");
    write_plain_config(&s);
    let o = s.build(&["--dry-run"], &[]);
    assert!(o.status.success(), "{}", text(&o));
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(plan.contains("config files: built-in set ubuntu (write it out with `cfy-ap packaging-files ubuntu DIR`)"), "{plan}");

    s.package(&[], &[]);
    let x = s.path().join("x");
    tool(
        "dpkg-deb",
        &["-x", s.common().to_str().unwrap(), x.to_str().unwrap()],
    );
    for (file, mode) in FILES {
        let dir = if file.ends_with(".sh") {
            "scripts"
        } else {
            "templates"
        };
        let path = x.join(format!(
            "opt/manager/resources/packages/{dir}/Ubuntu-{file}"
        ));
        assert_eq!(
            fs::read(&path).unwrap(),
            fs::read(repo().join("packaging/ubuntu").join(file)).unwrap(),
            "{path:?}"
        );
        assert_eq!(
            fs::metadata(&path).unwrap().permissions().mode() & 0o777,
            mode
        );
    }

    // packaging/ubuntu/ in the current directory wins over the built-in set.
    let own = s.path().join("packaging/ubuntu");
    let o = cfy_ap(
        s.path(),
        &["packaging-files", "ubuntu", own.to_str().unwrap()],
        &[],
    );
    assert!(o.status.success(), "{}", text(&o));
    fs::write(own.join("celeryd-cloudify.conf.template"), "# edited\n").unwrap();
    let o = s.build(&["--dry-run"], &[]);
    let plan = String::from_utf8_lossy(&o.stdout).into_owned();
    assert!(
        plan.contains(&format!("config files: {}", own.display())),
        "{plan}"
    );
    // The common package written from the built-in set is not this one: kept
    // (exit 3) unless -f.
    for f in s.out_files() {
        if !f.contains("-agent-common") {
            fs::remove_file(s.path().join("out").join(f)).unwrap();
        }
    }
    let o = s.build(&[], &[]);
    assert_eq!(o.status.code(), Some(3), "{}", text(&o));
    assert!(
        text(&o).contains("already exists with other contents"),
        "{}",
        text(&o)
    );
    s.package(&["-f"], &[]);
    let conf = tool(
        "dpkg-deb",
        &["--fsys-tarfile", s.common().to_str().unwrap()],
    );
    assert!(conf.contains("# edited"));
}
