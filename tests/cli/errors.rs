//! Bad input: each error has a clear message, the documented exit code, and
//! leaves nothing behind.

use crate::common;

use common::*;
use std::path::Path;

const VENV: &str = "cloudify/Ubuntu-trusty-agent/env";

/// Write `config.yaml` into a fresh directory and run cfy-ap on it.
fn run_with(cfg: &str, args: &[&str]) -> (tempfile::TempDir, std::process::Output) {
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("config.yaml"), cfg).unwrap();
    let mut all = vec!["-c", "config.yaml"];
    all.extend_from_slice(args);
    let out = cfy_ap(work.path(), &all, &[]);
    (work, out)
}

fn assert_fails(out: &std::process::Output, code: i32, needles: &[&str]) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    let err = stderr(out);
    // Progress lines may come first; the error is one `error: ` line plus context.
    assert_eq!(
        err.lines().filter(|l| l.starts_with("error: ")).count(),
        1,
        "{err}"
    );
    for n in needles {
        assert!(err.contains(n), "missing {n:?} in:\n{err}");
    }
}

/// Only the files listed remain in `dir` (no venv, no partial outputs, no temp files).
fn assert_left(dir: &Path, expected: &[&str]) {
    assert_eq!(tree(dir), expected, "unexpected files left behind");
}

#[test]
fn bad_yaml_points_at_line_and_column() {
    let (w, out) = run_with("distribution: Ubuntu\n venv: x\nrelease: trusty\n", &[]);
    assert_fails(&out, 2, &["config.yaml:2:", "--> config.yaml:2:"]);
    assert_left(w.path(), &["config.yaml"]);
}

#[test]
fn unknown_key_names_key_position_and_closest_valid_key() {
    let (w, out) = run_with(
        "distribution: Ubuntu\nrelease: trusty\nkeep_vnev: true\n",
        &[],
    );
    assert_fails(
        &out,
        2,
        &[
            "config.yaml:3:1: unknown field `keep_vnev`",
            "did you mean `keep_venv`?",
        ],
    );
    assert_left(w.path(), &["config.yaml"]);
}

#[test]
fn wrong_type_is_located() {
    let (_w, out) = run_with(
        "distribution: Ubuntu\nrelease: trusty\nkeep_venv: maybe\n",
        &[],
    );
    assert_fails(&out, 2, &["config.yaml:3:12: invalid boolean"]);
    let (_w, out) = run_with("additional_modules: my-plugin\n", &[]);
    assert_fails(&out, 2, &["config.yaml:1:21:"]);
}

#[test]
fn missing_config_file() {
    let w = tempfile::tempdir().unwrap();
    let out = cfy_ap(w.path(), &[], &[]);
    assert_fails(&out, 2, &["config file config.yaml not found", "-c PATH"]);
    assert_left(w.path(), &[]);
}

#[test]
fn unknown_module_name_lists_known_names() {
    let (_w, out) = run_with("base_modules:\n  rest-client: x\n", &[]);
    assert_fails(
        &out,
        2,
        &[
            "config.yaml:2:3: unknown field `rest-client`",
            "rest_client, plugins_common, script_plugin, diamond_plugin",
            "did you mean `rest_client`?",
        ],
    );
    let (_w, out) = run_with("management_modules:\n  agent_instaler: x\n", &[]);
    assert_fails(
        &out,
        2,
        &["agent_installer", "did you mean `agent_installer`?"],
    );
}

#[test]
fn missing_python_names_the_path_and_the_fix() {
    let cfg = offline_config(VENV, "out.tar.gz", "").replace(PYTHON, "/nonexistent/python9");
    let (w, out) = run_with(&cfg, &[]);
    assert_fails(&out, 1, &["/nonexistent/python9 not found", "python_path"]);
    assert_left(w.path(), &["config.yaml"]);
}

#[test]
fn pip_failure_names_the_module_and_cleans_up() {
    let cfg = offline_config(VENV, "out.tar.gz", "").replace(
        "additional_modules:\n",
        "additional_modules:\n  - no-such-module==9.9\n",
    );
    let (w, out) = run_with(&cfg, &[]);
    assert_fails(
        &out,
        1,
        &[
            "could not install module additional_modules[0] from no-such-module==9.9",
            "No matching distribution",
        ],
    );
    // The half-built venv and its parents' contents are removed; no output.
    assert!(!w.path().join(VENV).exists());
    assert!(!w.path().join("out.tar.gz").exists());
    assert!(
        tree(w.path())
            .iter()
            .all(|p| !p.contains(".partial") && !p.contains("manager-src"))
    );
}

#[test]
fn unreachable_and_missing_manager_sources() {
    // A port nothing listens on (bound then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let fx = fixtures().display().to_string();
    let local = format!("management_modules_source: {fx}/cloudify-manager-master.tar.gz");
    let cfg = offline_config(VENV, "out.tar.gz", "").replace(
        &local,
        &format!(
            "management_modules_source: http://user:hunter2@127.0.0.1:{port}/m-{{version}}.tar.gz"
        ),
    );
    let (w, out) = run_with(&cfg, &[]);
    assert_fails(&out, 1, &["cannot download http://****@127.0.0.1:"]);
    assert!(!stderr(&out).contains("hunter2"), "credentials printed");
    assert!(!w.path().join(VENV).exists());
    assert!(!w.path().join("out.tar.gz").exists());

    let cfg = offline_config(VENV, "out.tar.gz", "").replace(
        &local,
        "management_modules_source: /nonexistent/manager.tar.gz",
    );
    let (_w, out) = run_with(&cfg, &[]);
    assert_fails(
        &out,
        1,
        &["management_modules_source /nonexistent/manager.tar.gz does not exist"],
    );
}

#[test]
fn existing_outputs_are_refused_before_any_work() {
    let cfg = offline_config(VENV, "out.tar.gz", "");
    let w = tempfile::tempdir().unwrap();
    std::fs::write(w.path().join("config.yaml"), &cfg).unwrap();
    std::fs::write(w.path().join("out.tar.gz"), "precious").unwrap();
    let out = cfy_ap(w.path(), &["-c", "config.yaml"], &[]);
    assert_fails(&out, 3, &["out.tar.gz already exists", "-f/--force"]);
    assert_eq!(
        std::fs::read(w.path().join("out.tar.gz")).unwrap(),
        b"precious"
    );
    assert_left(w.path(), &["config.yaml", "out.tar.gz"]);

    // An existing venv: refused without -f.
    std::fs::remove_file(w.path().join("out.tar.gz")).unwrap();
    std::fs::create_dir_all(w.path().join(VENV)).unwrap();
    std::fs::write(w.path().join(VENV).join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
    let out = cfy_ap(w.path(), &["-c", "config.yaml"], &[]);
    assert_fails(&out, 3, &["virtualenv", "already exists"]);
    assert!(w.path().join(VENV).join("pyvenv.cfg").is_file());

    // Not a venv: refused even with -f, and left alone.
    std::fs::remove_file(w.path().join(VENV).join("pyvenv.cfg")).unwrap();
    std::fs::write(w.path().join(VENV).join("notes.txt"), "mine").unwrap();
    let out = cfy_ap(w.path(), &["-c", "config.yaml", "-f"], &[]);
    assert_fails(&out, 3, &["does not look like a virtualenv"]);
    assert!(w.path().join(VENV).join("notes.txt").is_file());
}

#[test]
fn unwritable_output_directory_fails_before_any_work() {
    let cfg = offline_config(VENV, "blocker/out.tar.gz", "");
    let w = tempfile::tempdir().unwrap();
    std::fs::write(w.path().join("config.yaml"), &cfg).unwrap();
    std::fs::write(w.path().join("blocker"), "a file, not a directory").unwrap();
    let out = cfy_ap(w.path(), &["-c", "config.yaml"], &[]);
    assert_fails(&out, 1, &["cannot write to output directory", "blocker"]);
    assert_left(w.path(), &["blocker", "config.yaml"]);
}

#[test]
fn dry_run_prints_the_plan_touches_nothing_and_hides_credentials() {
    let cfg = offline_config(VENV, "out.tar.gz", "").replace(
        "pip_options: [",
        "pip_options: [--extra-index-url, https://bob:s3cret@pypi.example/simple, ",
    );
    let (w, out) = run_with(&cfg, &["--dry-run"]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    for needle in [
        "distribution: Ubuntu",
        "release:      trusty",
        "tar members:  cloudify/Ubuntu-trusty-agent/env/...",
        "1. celery                     celery==3.1.17",
        "6. agent_installer            plugins/agent-installer of the manager source",
        "10. additional_modules[0]",
        "https://****@pypi.example/simple",
    ] {
        assert!(plan.contains(needle), "missing {needle:?} in:\n{plan}");
    }
    assert!(!plan.contains("s3cret"));
    assert_left(w.path(), &["config.yaml"]);
}

#[test]
fn distribution_detection_from_etc_samples() {
    for (root, dist, rel) in [
        ("ubuntu-trusty", "Ubuntu", "trusty"),
        ("centos-6", "centos", "Final"),
        ("centos-7", "centos", "Core"),
        ("debian-12", "debian", "bookworm"),
    ] {
        let w = tempfile::tempdir().unwrap();
        std::fs::write(
            w.path().join("config.yaml"),
            "python_path: /usr/bin/python3\n",
        )
        .unwrap();
        let sysroot = fixtures().join("sysroots").join(root);
        let out = cfy_ap(
            w.path(),
            &["--dry-run"],
            &[("CFY_AP_SYSROOT", sysroot.to_str().unwrap())],
        );
        assert!(out.status.success(), "{root}: {}", text(&out));
        let plan = String::from_utf8_lossy(&out.stdout);
        assert!(
            plan.contains(&format!("distribution: {dist} (detected)")),
            "{root}: {plan}"
        );
        assert!(
            plan.contains(&format!("venv:         /cloudify/{dist}-{rel}-agent/env")),
            "{plan}"
        );
        let tar = w.path().join(format!("{dist}-{rel}-agent.tar.gz"));
        assert!(plan.contains(&format!("tar:  {}", tar.display())), "{plan}");
    }
    let w = tempfile::tempdir().unwrap();
    std::fs::write(w.path().join("config.yaml"), "").unwrap();
    let empty = fixtures().join("sysroots/empty");
    let out = cfy_ap(
        w.path(),
        &["--dry-run"],
        &[("CFY_AP_SYSROOT", empty.to_str().unwrap())],
    );
    assert_fails(
        &out,
        2,
        &[
            "cannot detect the distribution",
            "set `distribution` and `release`",
        ],
    );
}

#[test]
fn version_and_usage_errors() {
    let w = tempfile::tempdir().unwrap();
    let out = cfy_ap(w.path(), &["--version"], &[]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("cfy-ap "));
    let out = cfy_ap(w.path(), &["--format", "zip"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = cfy_ap(w.path(), &["--no-such-flag"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

/// Every command that writes to standard output, on `/dev/full` (exit 1, one
/// error line, no panic) and into a pipe its reader closed at once (quiet, 0).
#[test]
fn standard_output_that_fails_is_an_error_and_a_closed_pipe_is_quiet() {
    use std::process::{Command, Stdio};
    let work = tempfile::tempdir().unwrap();
    let cfg = offline_config(VENV, "agent.tar.gz", "");
    std::fs::write(work.path().join("config.yaml"), &cfg).unwrap();
    // A repository to list.
    let repo = work.path().join("repo");
    let deb = common::apt::make_deb(work.path(), "listed-agent", "1.0", "all");
    let o = common::apt::publish(&["--repo", repo.to_str().unwrap()], &[&deb]);
    assert!(o.status.success(), "{}", text(&o));
    let r = repo.to_str().unwrap();
    let commands: Vec<Vec<&str>> = vec![
        vec!["-c", "config.yaml", "--dry-run"],
        vec!["schema"],
        vec!["man"],
        vec!["completions", "bash"],
        vec!["init", "-"],
        vec!["publish", "--repo", r, "--list"],
        vec!["publish", "--repo", r, "--list", "--json"],
    ];
    for args in &commands {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = Command::new(bin())
            .current_dir(work.path())
            .args(args)
            .stdout(full)
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {}", text(&o));
        let err = stderr(&o);
        assert!(
            err.contains("writing to standard output"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        // A reader that is gone before anything is written: EPIPE.
        let mut child = Command::new(bin())
            .current_dir(work.path())
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", text(&o));
        assert!(stderr(&o).is_empty(), "{args:?}: {}", text(&o));
    }
    // Nothing was written by any of them (the dry run builds nothing).
    assert!(!work.path().join("agent.tar.gz").exists());
}
