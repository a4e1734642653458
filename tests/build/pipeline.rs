//! End-to-end: the real binary builds real agents with a real Python, offline.

use crate::common;

use common::*;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

const PREFIX: &str = "cloudify/Ubuntu-trusty-agent/env";

#[test]
fn builds_an_agent_that_extracts_and_runs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let cfg = offline_config(
        PREFIX,
        "Ubuntu-trusty-agent.tar.gz",
        "keep_venv: true\ninstaller: pip\n",
    );
    std::fs::write(dir.join("config.yaml"), cfg).unwrap();
    let out = cfy_ap(dir, &["-c", "config.yaml", "-v"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let log = stderr(&out);
    // One line per step with its duration; -v shows commands and the installed set.
    assert!(log.contains("==> created virtualenv"), "{log}");
    assert!(
        log.contains("==> installed 10 modules with pip ")
            && log.contains(": celery, rest_client, plugins_common, "),
        "{log}"
    );
    assert!(log.contains("/pip install --progress-bar off"), "{log}");
    assert!(log.contains("my-plugin==1.0"), "{log}");

    // The tar: members under the venv path, root-owned, bin/python a symlink.
    let tar = dir.join("Ubuntu-trusty-agent.tar.gz");
    let listing = tool("tar", &["tzvf", tar.to_str().unwrap()]);
    let lines: Vec<&str> = listing.lines().collect();
    assert!(lines[0].ends_with(&format!(" {PREFIX}/")), "{}", lines[0]);
    for l in &lines {
        assert!(l.contains(" root/root "), "{l}");
        let name = l.split_whitespace().nth(5).unwrap();
        assert!(name.starts_with(PREFIX), "{l}");
        assert!(
            !name.contains("cfy-ap-manager-src"),
            "manager source leaked: {l}"
        );
    }
    let python_line = lines
        .iter()
        .find(|l| l.contains(&format!(" {PREFIX}/bin/python ->")))
        .expect("bin/python entry");
    assert!(python_line.starts_with('l'), "{python_line}");
    let names: Vec<&str> = lines
        .iter()
        .map(|l| l.split_whitespace().nth(5).unwrap())
        .collect();
    assert_sorted_per_directory(&names);

    // Extract the way agent installers do.
    let x = tempfile::tempdir().unwrap();
    tool(
        "tar",
        &[
            "xzf",
            tar.to_str().unwrap(),
            "--strip-components=2",
            "-C",
            x.path().to_str().unwrap(),
        ],
    );
    let env = x.path().join("env");
    assert!(
        env.join("bin/python")
            .symlink_metadata()
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let script = env.join("bin/my-plugin-hello");
    assert_eq!(
        script.metadata().unwrap().permissions().mode() & 0o777,
        0o755
    );
    assert!(env.join("pyvenv.cfg").is_file());

    // Every module imports with the venv's Python where it was built.
    let venv = dir.join(PREFIX);
    let py = venv.join("bin/python");
    let imports = "import celery, cloudify_rest_client, cloudify, script_runner, diamond_agent, \
                   worker_installer, plugin_installer, windows_agent_installer, \
                   windows_plugin_installer, my_plugin; print('ok')";
    assert_eq!(tool(py.to_str().unwrap(), &["-c", imports]).trim(), "ok");
    let hello = tool(venv.join("bin/my-plugin-hello").to_str().unwrap(), &[]);
    assert!(hello.contains("hello from my-plugin"), "{hello}");
    tool(venv.join("bin/celery").to_str().unwrap(), &["--help"]);

    // The venv holds exactly the requested distributions (plus pip's own).
    let list = tool(
        py.to_str().unwrap(),
        &["-m", "pip", "list", "--format=freeze"],
    );
    for dist in [
        "celery==3.1.17",
        "cloudify-rest-client==3.2",
        "cloudify-plugins-common==3.2",
        "cloudify-script-plugin==1.2",
        "cloudify-diamond-plugin==1.2",
        "cloudify-agent-installer-plugin==3.2",
        "cloudify-plugin-installer-plugin==3.2",
        "cloudify-windows-agent-installer-plugin==3.2",
        "cloudify-windows-plugin-installer-plugin==3.2",
        "my-plugin==1.0",
    ] {
        assert!(
            list.lines().any(|l| l.eq_ignore_ascii_case(dist)),
            "{dist} missing:\n{list}"
        );
    }
    // The manager source work directory is gone; nothing else was left beside the outputs.
    let mut top = tree(dir);
    top.retain(|p| !p.starts_with("cloudify/"));
    assert_eq!(
        top,
        ["Ubuntu-trusty-agent.tar.gz", "cloudify", "config.yaml"]
    );
    assert_eq!(
        tree(&dir.join("cloudify/Ubuntu-trusty-agent"))
            .iter()
            .filter(|p| !p.starts_with("env"))
            .count(),
        0
    );
}

/// Entries come in a pre-order walk with names sorted bytewise in each directory.
fn assert_sorted_per_directory(names: &[&str]) {
    for pair in names.windows(2) {
        let (a, b) = (pair[0].trim_end_matches('/'), pair[1].trim_end_matches('/'));
        if b.starts_with(&format!("{a}/")) {
            continue; // a directory followed by its first child
        }
        let (pa, pb) = (Path::new(a), Path::new(b));
        let common = pa
            .components()
            .zip(pb.components())
            .take_while(|(x, y)| x == y)
            .count();
        let ca = pa.components().nth(common);
        let cb = pb.components().nth(common);
        if let (Some(ca), Some(cb)) = (ca, cb) {
            assert!(
                ca.as_os_str().as_encoded_bytes() < cb.as_os_str().as_encoded_bytes(),
                "not sorted: {a} before {b}"
            );
        }
    }
}

#[test]
fn two_builds_are_byte_identical_and_the_manager_source_can_be_a_url() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // Serve the fixtures over loopback HTTP for the management_modules_source URL.
    let log = dir.join("http.log");
    let server = common::http::Http::serve(&fixtures(), &log);
    let port = server.port;
    let url = format!("http://127.0.0.1:{port}/cloudify-manager-{{version}}.tar.gz");
    let sde = [("SOURCE_DATE_EPOCH", "1700000000")];

    let cfg_a = offline_config(PREFIX, "a.tar.gz", "");
    std::fs::write(dir.join("a.yaml"), cfg_a).unwrap();
    let cfg_b = offline_config(PREFIX, "b.tar.gz", "").replace(
        &format!(
            "management_modules_source: {}/cloudify-manager-master.tar.gz",
            fixtures().display()
        ),
        &format!("management_modules_source: {url}"),
    );
    assert!(cfg_b.contains(&url));
    std::fs::write(dir.join("b.yaml"), cfg_b).unwrap();

    let a = cfy_ap(dir, &["-c", "a.yaml"], &sde);
    assert!(a.status.success(), "{}", text(&a));
    let b = cfy_ap(dir, &["-c", "b.yaml", "-v"], &sde);
    drop(server);
    assert!(b.status.success(), "{}", text(&b));
    assert!(stderr(&b).contains(&format!(
        "downloading http://127.0.0.1:{port}/cloudify-manager-master.tar.gz"
    )));

    let (ta, tb) = (dir.join("a.tar.gz"), dir.join("b.tar.gz"));
    if std::fs::read(&ta).unwrap() != std::fs::read(&tb).unwrap() {
        let la = tool("tar", &["tzvf", ta.to_str().unwrap()]);
        let lb = tool("tar", &["tzvf", tb.to_str().unwrap()]);
        panic!("builds differ\n{}", first_difference(&la, &lb));
    }
    // mtimes clamped, gzip header without name or time.
    for l in tool("tar", &["tzvf", ta.to_str().unwrap(), "--full-time"]).lines() {
        let date = l.split_whitespace().nth(3).unwrap();
        assert!(date <= "2023-11-14", "mtime not clamped: {l}");
    }
    let head = std::fs::read(&ta).unwrap();
    assert_eq!(&head[..10], &[0x1f, 0x8b, 8, 0, 0, 0, 0, 0, head[8], 3]);
    // keep_venv defaults to false: the venv is gone.
    assert!(!dir.join(PREFIX).exists());
}

fn first_difference(a: &str, b: &str) -> String {
    for (x, y) in a.lines().zip(b.lines()) {
        if x != y {
            return format!("a: {x}\nb: {y}");
        }
    }
    "listings equal; contents differ".into()
}

#[test]
fn the_library_s_create_builds_like_the_command_line() {
    // `agent_packager::create`, the original tool's API: the config as a value,
    // the same plan, checks and build as `cfy-ap -c`.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let tar = dir.join("lib-agent.tar.gz");
    let cfg = offline_config(
        dir.join("venv").to_str().unwrap(),
        tar.to_str().unwrap(),
        "installer: pip\n",
    );
    let parsed = agent_packager::parse_config(&cfg, "inline").unwrap();
    let outcome = agent_packager::create(Some(parsed.clone()), None, false, false).unwrap();
    assert_eq!(outcome.output_tar, tar);
    assert!(
        outcome
            .installed
            .iter()
            .any(|(n, v)| n == "my-plugin" && v == "1.0"),
        "{:?}",
        outcome.installed
    );
    let listing = tool("tar", &["tzf", tar.to_str().unwrap()]);
    assert!(listing.contains("/site-packages/my_plugin/"), "{listing}");

    // Run again without force: refused before any work (exit 3's kind), the
    // tar untouched, as the command line refuses it.
    let before = sha256(&tar);
    let e = agent_packager::create(Some(parsed), None, false, false).unwrap_err();
    assert_eq!(e.kind, agent_packager::Kind::Exists, "{e}");
    assert_eq!(e.exit_code(), 3);
    assert_eq!(sha256(&tar), before);
    std::fs::write(dir.join("c.yaml"), &cfg).unwrap();
    let out = cfy_ap(dir, &["-c", "c.yaml"], &[]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stderr(&out).contains(&e.message), "{}\n{e}", text(&out));
}
