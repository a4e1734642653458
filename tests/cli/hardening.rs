//! Hostile inputs to outputs, `archive`, config reads and messages (issue 10,
//! items 14–22 and 25): each case asserts the exit code, the message, and that
//! nothing was changed or left behind.

use crate::common;

use common::*;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn mkfifo(p: &Path) {
    tool("mkfifo", &[s(p)]);
}

fn code(o: &Output) -> Option<i32> {
    o.status.code()
}

/// A small tree to archive.
fn small_tree(root: &Path) {
    fs::create_dir_all(root.join("bin")).unwrap();
    fs::write(root.join("bin/tool"), "#!/bin/sh\necho hi\n").unwrap();
    fs::write(root.join("data.txt"), "x".repeat(5000)).unwrap();
}

#[test]
fn special_files_at_output_paths_are_never_replaced() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    small_tree(&d.join("src"));
    let fifo = d.join("fifo");
    mkfifo(&fifo);
    let target = d.join("target.txt");
    fs::write(&target, "keep me").unwrap();
    let link = d.join("link.tar.gz");
    std::os::unix::fs::symlink(&target, &link).unwrap();

    for (args, what) in [
        (vec!["archive", "src", "fifo", "-f"], "a FIFO"),
        (
            vec!["archive", "src", "link.tar.gz", "-f"],
            "a symbolic link",
        ),
        (vec!["init", "fifo", "-f"], "a FIFO"),
        (vec!["init", "link.tar.gz", "-f"], "a symbolic link"),
        (
            vec!["archive", "src", "/dev/null", "-f"],
            "a character device",
        ),
    ] {
        let o = cfy_ap(d, &args, &[]);
        assert_eq!(code(&o), Some(2), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(what), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains("refusing to replace"), "{}", text(&o));
    }
    assert!(fs::symlink_metadata(&fifo).unwrap().file_type().is_fifo());
    assert!(
        fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(fs::read_to_string(&target).unwrap(), "keep me");
    assert!(
        fs::metadata("/dev/null")
            .unwrap()
            .file_type()
            .is_char_device()
    );
    // No temporary file left next to them.
    let left: Vec<String> = tree(d)
        .into_iter()
        .filter(|n| n.contains(".partial"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn an_output_that_is_an_input_is_refused() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    // output_tar is the config file itself.
    let cfg = offline_config("cloudify/x/env", "c.yaml", "");
    fs::write(d.join("c.yaml"), &cfg).unwrap();
    let o = cfy_ap(d, &["-c", "c.yaml", "-f"], &[]);
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("also an input (the config file)"),
        "{}",
        text(&o)
    );
    assert_eq!(fs::read_to_string(d.join("c.yaml")).unwrap(), cfg);
    assert!(!d.join("cloudify").exists(), "no venv may be made");

    // The same through another spelling of the path.
    fs::create_dir(d.join("sub")).unwrap();
    let cfg2 = offline_config("cloudify/x/env", "sub/../c2.yaml", "");
    fs::write(d.join("c2.yaml"), &cfg2).unwrap();
    let o = cfy_ap(d, &["-c", "c2.yaml", "-f"], &[]);
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert_eq!(fs::read_to_string(d.join("c2.yaml")).unwrap(), cfg2);

    // An output inside the venv, reached through a symlinked directory: the
    // venv (replaced with -f) would take the output with it.
    let venv = d.join("venv");
    fs::create_dir_all(venv.join("out")).unwrap();
    fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    std::os::unix::fs::symlink(venv.join("out"), d.join("alias")).unwrap();
    let cfg3 = offline_config(s(&venv), "alias/agent.tar.gz", "");
    fs::write(d.join("c3.yaml"), cfg3).unwrap();
    let o = cfy_ap(d, &["-c", "c3.yaml", "-f"], &[]);
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("inside the venv"), "{}", text(&o));
    assert!(venv.join("pyvenv.cfg").exists());

    // --export-key onto the secret key it reads.
    let key = d.join("k.asc");
    fs::write(&key, "-----BEGIN PGP PRIVATE KEY BLOCK-----\nnot really\n").unwrap();
    let before = fs::read(&key).unwrap();
    let o = cfy_ap(
        d,
        &[
            "publish",
            "--sign-key",
            "k.asc",
            "--export-key",
            "./k.asc",
            "-f",
        ],
        &[],
    );
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert!(
        stderr(&o).contains("also an input (--sign-key)"),
        "{}",
        text(&o)
    );
    assert_eq!(fs::read(&key).unwrap(), before);
}

/// `tar -tzvf` listing lines of an archive.
fn listing(archive: &Path) -> Vec<u8> {
    let o = Command::new("tar")
        .args(["--quoting-style=literal", "-tvzf", s(archive)])
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    o.stdout
}

#[test]
fn archive_leaves_out_its_own_output_and_stays_reproducible() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    small_tree(&d.join("src"));
    let env = [("SOURCE_DATE_EPOCH", "1600000000")];
    let o = cfy_ap(d, &["archive", "src", "src/self.tar.gz"], &env);
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    let first = fs::read(d.join("src/self.tar.gz")).unwrap();
    let names = String::from_utf8_lossy(&listing(&d.join("src/self.tar.gz"))).into_owned();
    assert!(!names.contains("self.tar.gz"), "{names}");
    assert!(!names.contains(".partial"), "{names}");
    assert!(names.contains("src/data.txt"), "{names}");
    // Again, now that the output exists inside the tree: the same bytes.
    let o = cfy_ap(d, &["archive", "src", "src/self.tar.gz", "-f"], &env);
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    assert_eq!(fs::read(d.join("src/self.tar.gz")).unwrap(), first);
}

#[test]
fn archive_stores_names_as_raw_bytes() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    let src = d.join("src");
    fs::create_dir(&src).unwrap();
    let a = src.join(std::ffi::OsStr::from_bytes(b"bad\xffname"));
    let b = src.join(std::ffi::OsStr::from_bytes(b"bad\xfename"));
    fs::write(&a, "a").unwrap();
    fs::write(&b, "b").unwrap();
    let o = cfy_ap(d, &["archive", "src", "out.tar.gz"], &[]);
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    let list = listing(&d.join("out.tar.gz"));
    assert!(list.windows(8).any(|w| w == b"bad\xffname"), "{list:?}");
    assert!(list.windows(8).any(|w| w == b"bad\xfename"), "{list:?}");
    let x = d.join("x");
    fs::create_dir(&x).unwrap();
    tool("tar", &["-xzf", s(&d.join("out.tar.gz")), "-C", s(&x)]);
    let back = x.join("src");
    assert_eq!(
        fs::read(back.join(std::ffi::OsStr::from_bytes(b"bad\xffname"))).unwrap(),
        b"a"
    );
    assert_eq!(
        fs::read(back.join(std::ffi::OsStr::from_bytes(b"bad\xfename"))).unwrap(),
        b"b"
    );
}

#[test]
fn archive_fails_on_files_whose_size_is_not_what_they_say() {
    // /sys files report 4096 bytes and hold fewer: the old archive wrote a
    // corrupt tar and exited 0.
    let sys = Path::new("/sys/kernel/mm/transparent_hugepage");
    assert!(
        sys.join("enabled").is_file(),
        "this test needs {} (a sysfs file whose size is wrong)",
        sys.display()
    );
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    let o = cfy_ap(d, &["archive", s(sys), "out.tar.gz"], &[]);
    assert_eq!(code(&o), Some(1), "{}", text(&o));
    assert!(stderr(&o).contains("changed size"), "{}", text(&o));
    assert!(tree(d).is_empty(), "left behind: {:?}", tree(d));
}

#[test]
fn archive_clears_setid_bits_of_files_it_gives_to_root() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    small_tree(&d.join("src"));
    let tool_path = d.join("src/bin/tool");
    std::os::unix::fs::chown(&tool_path, Some(65534), Some(65534)).unwrap();
    fs::set_permissions(&tool_path, fs::Permissions::from_mode(0o6755)).unwrap();
    assert_eq!(fs::metadata(&tool_path).unwrap().mode() & 0o7777, 0o6755);

    let o = cfy_ap(d, &["archive", "src", "a.tar.gz"], &[]);
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    assert!(stderr(&o).contains("setuid/setgid cleared"), "{}", text(&o));
    let list = String::from_utf8_lossy(&listing(&d.join("a.tar.gz"))).into_owned();
    let line = list.lines().find(|l| l.ends_with("bin/tool")).unwrap();
    assert!(line.starts_with("-rwxr-xr-x root/root"), "{line}");

    let o = cfy_ap(d, &["archive", "src", "b.tar.gz", "--keep-setid"], &[]);
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    let list = String::from_utf8_lossy(&listing(&d.join("b.tar.gz"))).into_owned();
    let line = list.lines().find(|l| l.ends_with("bin/tool")).unwrap();
    assert!(line.starts_with("-rwsr-sr-x root/root"), "{line}");
}

#[test]
fn config_and_packages_must_be_bounded_regular_files() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    mkfifo(&d.join("fifo.yaml"));
    fs::write(d.join("big.yaml"), "# x\n".repeat(2 << 20)).unwrap();
    let limit = Duration::from_secs(20);
    for (cfg, what) in [
        ("/dev/zero", "not a regular file"),
        ("fifo.yaml", "not a regular file (a FIFO)"),
        (".", "not a regular file (a directory)"),
        ("big.yaml", "more than the limit"),
    ] {
        let o = Cmd::cfy_ap()
            .current_dir(d)
            .args(["-c", cfg, "--dry-run"])
            .within(limit)
            .output();
        assert_eq!(code(&o), Some(2), "{cfg}: {}", text(&o));
        assert!(stderr(&o).contains(what), "{cfg}: {}", text(&o));
    }
    // A FIFO or a directory given as a package: refused before the repository
    // (here: not there yet) is created.
    mkfifo(&d.join("fifo.deb"));
    fs::create_dir(d.join("dir.deb")).unwrap();
    for deb in ["fifo.deb", "dir.deb"] {
        let o = Cmd::cfy_ap()
            .current_dir(d)
            .args(["publish", "--repo", "repo", deb])
            .within(limit)
            .output();
        assert_eq!(code(&o), Some(2), "{deb}: {}", text(&o));
        assert!(stderr(&o).contains("not a regular file"), "{}", text(&o));
        assert!(!d.join("repo").exists(), "{deb}: a repository was created");
    }
}

#[test]
fn credentials_never_reach_the_terminal() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    // A YAML error on a line holding a password.
    fs::write(
        d.join("c.yaml"),
        "venv: x/env\npip_optoins: [--index-url, \"https://alice:PW@host/simple\"]\n",
    )
    .unwrap();
    let o = cfy_ap(d, &["-c", "c.yaml", "--dry-run"], &[]);
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("c.yaml:2:"), "{}", text(&o));
    assert!(!text(&o).contains("PW"), "{}", text(&o));

    // Secret query values in a download URL: the dry run, the -v command
    // lines and the error all hide them.
    let cfg = offline_config(
        "cloudify/x/env",
        "x.tar.gz",
        "",
    )
    .replace(
        &format!("management_modules_source: {}/cloudify-manager-master.tar.gz", fixtures().display()),
        "management_modules_source: http://127.0.0.1:9/m.tar.gz?token=SECRET1&X-Amz-Signature=SECRET2",
    )
    .replace(
        "pip_options: [",
        "pip_options: [--extra-index-url, 'https://h.invalid/simple?access_token=SECRET3', ",
    );
    fs::write(d.join("q.yaml"), cfg).unwrap();
    let o = cfy_ap(d, &["-c", "q.yaml", "--dry-run"], &[]);
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    assert!(text(&o).contains("token=****"), "{}", text(&o));
    let o = cfy_ap(d, &["-c", "q.yaml", "-v"], &[]);
    assert_ne!(code(&o), Some(0), "{}", text(&o));
    for secret in ["SECRET1", "SECRET2", "SECRET3"] {
        assert!(!text(&o).contains(secret), "{secret}: {}", text(&o));
    }
}

#[test]
fn usage_errors_exit_2_with_a_whole_sentence() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    small_tree(&d.join("src"));
    for (args, msg) in [
        (
            vec!["archive", "missing", "o.tar.gz"],
            "missing: no such directory",
        ),
        (
            vec!["archive", "src", "o.tar.gz", "--prefix", "../x"],
            "cannot be used: give a relative path without `..`",
        ),
        (
            vec!["archive", "src", "o.tar.gz", "--prefix", "/"],
            "cannot be used",
        ),
    ] {
        let o = cfy_ap(d, &args, &[]);
        assert_eq!(code(&o), Some(2), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains(msg), "{args:?}: {}", text(&o));
        assert!(!d.join("o.tar.gz").exists());
    }
    // A bad SOURCE_DATE_EPOCH: refused before anything is written.
    let o = cfy_ap(
        d,
        &["archive", "src", "o.tar.gz"],
        &[("SOURCE_DATE_EPOCH", "abc")],
    );
    assert_eq!(code(&o), Some(2), "{}", text(&o));
    assert!(stderr(&o).contains("SOURCE_DATE_EPOCH"), "{}", text(&o));
    let left: Vec<String> = tree(d)
        .into_iter()
        .filter(|n| !n.starts_with("src"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

#[test]
fn venv_errors_show_pythons_words_and_never_delete_what_was_there() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    // A dangling symlink at the venv path: refused, kept, with and without -f.
    std::os::unix::fs::symlink("/nonexistent/target", d.join("env")).unwrap();
    let cfg = offline_config(s(&d.join("env")), "x.tar.gz", "installer: pip\n");
    fs::write(d.join("c.yaml"), cfg).unwrap();
    for args in [vec!["-c", "c.yaml"], vec!["-c", "c.yaml", "-f"]] {
        let o = cfy_ap(d, &args, &[]);
        assert_eq!(code(&o), Some(3), "{args:?}: {}", text(&o));
        assert!(stderr(&o).contains("a symbolic link"), "{}", text(&o));
        assert!(fs::symlink_metadata(d.join("env")).unwrap().is_symlink());
    }
    // `python -m venv` fails: its own last words are shown.
    let py = d.join("python3");
    fs::write(
        &py,
        format!(
            "#!/bin/sh\nif [ \"$1\" = -m ] && [ \"$2\" = venv ]; then\n  echo \"Error: [Errno 17] File exists: '$3'\" >&2\n  exit 1\nfi\nexec {PYTHON} \"$@\"\n"
        ),
    )
    .unwrap();
    fs::set_permissions(&py, fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = offline_config(s(&d.join("env2")), "y.tar.gz", "installer: pip\n").replace(
        &format!("python_path: {PYTHON}"),
        &format!("python_path: {}", s(&py)),
    );
    fs::write(d.join("p.yaml"), cfg).unwrap();
    let o = cfy_ap(d, &["-c", "p.yaml"], &[]);
    assert_eq!(code(&o), Some(1), "{}", text(&o));
    assert!(
        stderr(&o).contains("[Errno 17] File exists"),
        "{}",
        text(&o)
    );
    assert!(!d.join("env2").exists());
    assert!(!d.join("y.tar.gz").exists());
}

/// Starts a full offline build, sends `sig` once the venv exists (pip is then
/// installing), and returns the exit code and what is left in the workspace.
fn interrupted_build(sig: &str) -> (Option<i32>, Vec<String>, String) {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    let cfg = offline_config("cloudify/x/env", "x.tar.gz", "installer: pip\n");
    fs::write(d.join("c.yaml"), cfg).unwrap();
    let cache = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .current_dir(d)
        .args(["-c", "c.yaml"])
        .env("PIP_CACHE_DIR", cache.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while !d.join("cloudify/x/env/pyvenv.cfg").exists() {
        assert!(
            child.try_wait().unwrap().is_none(),
            "the build ended before it could be interrupted"
        );
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no venv appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    tool("kill", &[&format!("-{sig}"), &child.id().to_string()]);
    let o = child.wait_with_output().unwrap();
    let left = tree(d).into_iter().filter(|n| n != "c.yaml").collect();
    (o.status.code(), left, text(&o))
}

/// An interrupted build ends with `want` and leaves nothing behind: the venv,
/// the manager work directory and any partial output are gone; only the
/// (empty) parent directories of the venv may stay.
fn assert_stopped(sig: &str, want: i32) {
    let (code, left, out) = interrupted_build(sig);
    assert_eq!(code, Some(want), "SIG{sig}: {out}");
    assert!(out.contains(&format!("interrupted by SIG{sig}")), "{out}");
    let files: Vec<&String> = left
        .iter()
        .filter(|n| !["cloudify", "cloudify/x"].contains(&n.as_str()))
        .collect();
    assert!(files.is_empty(), "SIG{sig} left {files:?}\n{out}");
}

#[test]
fn sigterm_and_sigint_stop_the_build_and_remove_what_it_made() {
    assert_stopped("TERM", 143);
    assert_stopped("INT", 130);
}

#[test]
fn sighup_stops_the_build_and_removes_what_it_made() {
    assert_stopped("HUP", 129);
}

#[test]
fn a_repository_inside_the_venv_is_refused_before_any_work() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    // An old venv (replaced with -f) holding the repositories published before.
    let venv = d.join("env");
    fs::create_dir_all(venv.join("apt/dists")).unwrap();
    fs::create_dir_all(venv.join("yum/repodata")).unwrap();
    fs::write(venv.join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    fs::write(venv.join("apt/dists/Release"), "published\n").unwrap();
    fs::write(venv.join("yum/repodata/repomd.xml"), "published\n").unwrap();
    let package = |dir: &str| {
        format!(
            "package:\n  version: '3.2'\n  config_files: {}/packaging/{dir}\n",
            repo().display()
        )
    };
    for (venv_key, publish, format, dir) in [
        ("env", "repo: env/apt", "deb", "ubuntu"),
        ("env", "rpm_repo: ./env/../env/yum", "rpm", "centos"),
        // Not there yet: the repository would be made in the new venv.
        ("new/env", "repo: new/env/apt", "deb", "ubuntu"),
    ] {
        let cfg = offline_config(venv_key, "x.tar.gz", &package(dir))
            + &format!("publish:\n  {publish}\n");
        fs::write(d.join("c.yaml"), cfg).unwrap();
        let before = tree_state(d);
        let o = cfy_ap(d, &["-c", "c.yaml", "-f", "--format", format], &[]);
        assert_eq!(code(&o), Some(2), "{publish}: {}", text(&o));
        assert!(stderr(&o).contains("inside the venv"), "{}", text(&o));
        assert_eq!(tree_state(d), before, "{publish}: something changed");
    }
}

#[test]
fn a_nul_byte_in_venv_is_a_config_error_with_its_place() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    fs::write(
        d.join("c.yaml"),
        offline_config("\"cloudify/a\\0b/env\"", "x.tar.gz", ""),
    )
    .unwrap();
    for args in [vec!["-c", "c.yaml", "--dry-run"], vec!["-c", "c.yaml"]] {
        let o = cfy_ap(d, &args, &[]);
        assert_eq!(code(&o), Some(2), "{}", text(&o));
        assert!(stderr(&o).contains("c.yaml:3:7: "), "{}", text(&o));
        assert!(stderr(&o).contains("NUL byte"), "{}", text(&o));
        assert_eq!(tree(d), ["c.yaml"]);
    }
}

#[test]
fn credentials_in_url_fragments_are_hidden() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    let cfg = offline_config("cloudify/x/env", "x.tar.gz", "").replace(
        "additional_modules:\n",
        "additional_modules:\n  - https://h.invalid/p.tar.gz#egg=p&token=FRAGSECRET1\n",
    );
    fs::write(d.join("c.yaml"), cfg).unwrap();
    let o = cfy_ap(d, &["-c", "c.yaml", "--dry-run"], &[]);
    assert_eq!(code(&o), Some(0), "{}", text(&o));
    assert!(!text(&o).contains("FRAGSECRET1"), "{}", text(&o));
    assert!(text(&o).contains("#egg=p&token=****"), "{}", text(&o));
}

#[test]
fn an_interpreter_that_cannot_start_is_quoted_not_the_probe() {
    let w = tempfile::tempdir().unwrap();
    let d = w.path();
    let py = d.join("python3");
    fs::write(
        &py,
        "#!/bin/sh\necho 'Fatal Python error: init_fs_encoding: failed to get the Python codec' >&2\nexit 1\n",
    )
    .unwrap();
    fs::set_permissions(&py, fs::Permissions::from_mode(0o755)).unwrap();
    let cfg = offline_config("env", "x.tar.gz", "").replace(
        &format!("python_path: {PYTHON}"),
        &format!("python_path: {}", s(&py)),
    );
    fs::write(d.join("c.yaml"), cfg).unwrap();
    for args in [vec!["-c", "c.yaml"], vec!["-c", "c.yaml", "-v"]] {
        let o = cfy_ap(d, &args, &[]);
        assert_eq!(code(&o), Some(1), "{}", text(&o));
        let err = stderr(&o);
        let last = err
            .lines()
            .rev()
            .find(|l| l.starts_with("error: "))
            .unwrap();
        assert!(
            last.contains("cannot run python interpreter"),
            "{args:?}: {err}"
        );
        if args.len() == 2 {
            assert!(last.contains("failed to get the Python codec"), "{err}");
        }
        for probe in ["import sys", "ensurepip", "def has", ".py"] {
            assert!(!err.contains(probe), "{args:?}: {probe}: {err}");
        }
        assert!(!d.join("env").exists());
        assert!(!d.join("x.tar.gz").exists());
    }
}

/// Serve the fixture wheels over HTTP and write `d/c.yaml`: the config of the
/// fixture wheels, with pip, installing my-plugin from its wheel's URL with
/// `query` (`?token=…`); `extra` as in `wheel_config`.
fn serve_plugin_wheel(d: &Path, query: &str, extra: &str) -> common::http::Http {
    let http = common::http::Http::serve(&fixtures().join("wheels"), &d.join("http.log"));
    let url = http.url(&format!("my_plugin-1.0-py3-none-any.whl{query}"));
    let cfg = wheel_config(
        "cloudify/x/env",
        "x.tar.gz",
        &format!("installer: pip\n{extra}"),
    )
    .replace("  - my-plugin==1.0\n", &format!("  - my-plugin @ {url}\n"));
    assert!(cfg.contains(&url), "{cfg}");
    fs::write(d.join("c.yaml"), cfg).unwrap();
    http
}

/// The agent tar, decompressed.
fn tar_bytes(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    std::io::Read::read_to_end(
        &mut flate2::read::GzDecoder::new(fs::File::open(path).unwrap()),
        &mut out,
    )
    .unwrap();
    out
}

fn has(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Every command line of a running process that holds `secret`.
fn command_lines_with(secret: &str) -> Vec<String> {
    let mut found = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        if let Ok(cmdline) = fs::read(e.path().join("cmdline"))
            && has(&cmdline, secret)
        {
            found.push(String::from_utf8_lossy(&cmdline).replace('\0', " "));
        }
    }
    found
}

/// Tests that build a whole agent (from the fixture wheels, 5-15 s of CPU each): the fast
/// tier (`bash tests/run.sh --fast`) skips every `builds` module.
mod builds {
    use super::*;

    #[test]
    fn installer_output_is_relayed_redacted() {
        let w = tempfile::tempdir().unwrap();
        let d = w.path();
        let http = serve_plugin_wheel(d, "?token=RELAYSECRET1", "");
        let o = cfy_ap(d, &["-c", "c.yaml", "-v"], &[]);
        assert_eq!(code(&o), Some(0), "{}", text(&o));
        assert!(!text(&o).contains("RELAYSECRET1"), "{}", text(&o));
        // pip's own lines about the wheel were relayed, redacted.
        assert!(
            stderr(&o)
                .lines()
                .any(|l| !l.starts_with("    $ ") && l.contains("whl?token=****")),
            "{}",
            text(&o)
        );
        assert!(http.requests().contains("token=RELAYSECRET1"));
    }

    #[test]
    fn credentials_never_go_into_the_agent() {
        let w = tempfile::tempdir().unwrap();
        let d = w.path();
        let http = serve_plugin_wheel(d, "?token=AGENTSECRET1&v=1", "keep_venv: true\n");
        let o = cfy_ap(d, &["-c", "c.yaml"], &[]);
        assert_eq!(code(&o), Some(0), "{}", text(&o));
        assert!(http.requests().contains("token=AGENTSECRET1"));
        let tar = tar_bytes(&d.join("x.tar.gz"));
        assert!(!has(&tar, "AGENTSECRET1"), "the secret is in the agent");
        assert!(
            has(&tar, "whl?token=****&v=1"),
            "no redacted direct_url.json"
        );
        // The dist-info's RECORD matches the rewritten direct_url.json.
        let info = walkdir::WalkDir::new(d.join("cloudify/x/env"))
            .into_iter()
            .flatten()
            .find(|e| e.file_name() == "my_plugin-1.0.dist-info")
            .expect("my_plugin's dist-info")
            .into_path();
        let direct = fs::read(info.join("direct_url.json")).unwrap();
        use base64::Engine;
        use sha2::Digest;
        let line = format!(
            "my_plugin-1.0.dist-info/direct_url.json,sha256={},{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sha2::Sha256::digest(&direct)),
            direct.len()
        );
        let record = fs::read_to_string(info.join("RECORD")).unwrap();
        assert!(
            record.lines().any(|l| l.trim_end() == line),
            "{line} not in\n{record}"
        );

        // A secret of the config that is somewhere else in the metadata (here a
        // plugin's description holds the index password): exit 1, naming the
        // file, no agent, no venv.
        let plugin = d.join("plugin");
        fs::create_dir_all(plugin.join("my_plugin")).unwrap();
        let src = fixtures().join("modules/my-plugin");
        fs::copy(
            src.join("my_plugin/__init__.py"),
            plugin.join("my_plugin/__init__.py"),
        )
        .unwrap();
        let toml = fs::read_to_string(src.join("pyproject.toml"))
            .unwrap()
            .replace("description = \"", "description = \"INDEXPASSWORD1 ");
        fs::write(plugin.join("pyproject.toml"), toml).unwrap();
        let cfg = wheel_config("cloudify/y/env", "y.tar.gz", "installer: pip\n")
            .replace("  - my-plugin==1.0\n", &format!("  - {}\n", s(&plugin)))
            .replace(
                "pip_options: [",
                "pip_options: [--extra-index-url, 'https://bob:INDEXPASSWORD1@h.invalid/simple', ",
            );
        fs::write(d.join("p.yaml"), cfg).unwrap();
        let o = cfy_ap(d, &["-c", "p.yaml"], &[]);
        assert_eq!(code(&o), Some(1), "{}", text(&o));
        assert!(
            stderr(&o).contains("my_plugin-1.0.dist-info/METADATA holds a credential"),
            "{}",
            text(&o)
        );
        assert!(!text(&o).contains("INDEXPASSWORD1"), "{}", text(&o));
        assert!(!d.join("y.tar.gz").exists());
        assert!(!d.join("cloudify/y/env").exists());
    }

    #[test]
    fn credentials_are_not_on_any_command_line() {
        let w = tempfile::tempdir().unwrap();
        let d = w.path();
        let http = serve_plugin_wheel(d, "?token=ARGVSECRET1", "");
        // Index credentials too (not used: --no-index).
        let cfg = fs::read_to_string(d.join("c.yaml")).unwrap().replace(
            "pip_options: [",
            "pip_options: [--extra-index-url, 'http://bob:ARGVSECRET2@127.0.0.1:9/simple', \
             '--index-url=http://127.0.0.1:9/simple?token=ARGVSECRET3', ",
        );
        fs::write(d.join("c.yaml"), cfg).unwrap();
        let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let watcher = {
            let done = done.clone();
            std::thread::spawn(move || {
                let mut seen = Vec::new();
                while !done.load(std::sync::atomic::Ordering::SeqCst) {
                    seen.extend(command_lines_with("ARGVSECRET"));
                    std::thread::sleep(Duration::from_millis(5));
                }
                seen
            })
        };
        let o = cfy_ap(d, &["-c", "c.yaml"], &[]);
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        let seen = watcher.join().unwrap();
        assert_eq!(code(&o), Some(0), "{}", text(&o));
        assert!(http.requests().contains("token=ARGVSECRET1"));
        assert!(seen.is_empty(), "on a command line: {:?}", &seen[..1]);
    }
}
