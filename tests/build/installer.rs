//! The installers (`installer: pip | uv | auto`): real builds with the real
//! `cfy-ap`, real uv and real Pythons, offline from `fixtures/`.
//!
//! uv comes from `$CFY_AP_TEST_UV` (tests/run.sh installs it with pip into a
//! cached venv outside the checkout); Python 2.7, 3.6 and 3.7 from pyenv, 2.7
//! with `virtualenv<20.22` from `$CFY_AP_TEST_VIRTUALENV` (tests/run.sh installs
//! it there with `pip install --target`, never into pyenv's Python), given to
//! cfy-ap as `virtualenv_path`. A missing tool fails the test with a message
//! saying how to get it.

use crate::common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Output;

const PYENV: &str = "/root/.pyenv/versions";

fn uv() -> PathBuf {
    let uv = std::env::var_os("CFY_AP_TEST_UV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/cfy-ap-test/pytools/bin/uv"));
    assert!(
        uv.is_file(),
        "uv is needed at {} ($CFY_AP_TEST_UV): run tests/run.sh, which installs it with pip into /var/cache/cfy-ap-test/pytools",
        uv.display()
    );
    uv
}

/// A pyenv interpreter, e.g. `2.7.18` → `.../2.7.18/bin/python2.7`.
fn pyenv(version: &str) -> String {
    let short: Vec<&str> = version.split('.').take(2).collect();
    let p = format!("{PYENV}/{version}/bin/python{}", short.join("."));
    assert!(
        Path::new(&p).is_file(),
        "Python {version} is needed at {p} (pyenv install {version})"
    );
    p
}

/// virtualenv<20.22 for Python 2.7, in a directory of its own.
fn py27_virtualenv() -> PathBuf {
    let dir = std::env::var_os("CFY_AP_TEST_VIRTUALENV")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/cfy-ap-test/py27-virtualenv"));
    assert!(
        dir.join("virtualenv/__main__.py").is_file(),
        "virtualenv<20.22 for Python 2.7 is needed in {} ($CFY_AP_TEST_VIRTUALENV): run tests/run.sh, which installs it there with python2.7 -m pip install --target",
        dir.display()
    );
    dir
}

fn build(dir: &Path, cfg: &str, args: &[&str], envs: &[(&str, &str)]) -> Output {
    std::fs::write(dir.join("config.yaml"), cfg).unwrap();
    let mut all = vec!["-c", "config.yaml"];
    all.extend_from_slice(args);
    cfy_ap(dir, &all, envs)
}

fn extract(tar: &Path, strip: usize) -> tempfile::TempDir {
    let x = tempfile::Builder::new()
        .prefix("cfy ap moved ")
        .tempdir()
        .unwrap();
    tool(
        "tar",
        &[
            "xzf",
            tar.to_str().unwrap(),
            &format!("--strip-components={strip}"),
            "-C",
            x.path().to_str().unwrap(),
        ],
    );
    x
}

/// `name==version` of every distribution, with the agent's own pip.
fn freeze(env: &Path) -> Vec<String> {
    let py = env.join("bin/python");
    let out = tool(
        py.to_str().unwrap(),
        &["-m", "pip", "list", "--format=freeze"],
    );
    let mut v: Vec<String> = out.lines().map(|l| l.to_lowercase()).collect();
    v.sort();
    v
}

/// The moved agent imports every module and runs its console scripts.
fn runs_relocated(env: &Path, build_venv: &Path) {
    let py = env.join("bin/python");
    let imports = "import celery, cloudify_rest_client, cloudify, script_runner, diamond_agent, \
                   worker_installer, plugin_installer, my_plugin; print('ok')";
    assert_eq!(tool(py.to_str().unwrap(), &["-c", imports]).trim(), "ok");
    for (script, args, expect) in [
        ("my-plugin-hello", &[][..], "hello from my-plugin"),
        ("celery", &["--version"][..], ""),
        (
            "pip",
            &["--version"][..],
            &env.join("lib").display().to_string()[..],
        ),
    ] {
        let path = env.join("bin").join(script);
        let body = std::fs::read_to_string(&path).unwrap();
        assert!(
            body.starts_with("#!/bin/sh\n") && !body.contains(&build_venv.display().to_string()),
            "{script} is not relocatable:\n{body}"
        );
        let out = tool(path.to_str().unwrap(), args);
        assert!(out.contains(expect), "{script}: {out}");
    }
    // bash's activate finds the moved agent.
    let activate = env.join("bin/activate");
    let shown = tool(
        "bash",
        &[
            "-c",
            &format!(". '{}' && echo \"$VIRTUAL_ENV\"", activate.display()),
        ],
    );
    let real = env.canonicalize().unwrap();
    assert_eq!(shown.trim(), real.display().to_string(), "activate");
}

#[test]
fn uv_and_pip_agents_hold_the_same_distributions_and_run_relocated() {
    let uv = uv();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // A build path over 127 bytes: uv then writes its `#!/bin/sh` launchers.
    let long = format!("cloudify/{}/env", "a-long-directory-name".repeat(6));
    let mut agents = Vec::new();
    for (name, installer, venv) in [("pip", "pip", "cloudify/pip/env"), ("uv", "uv", &long[..])] {
        let cache = dir.join(format!("{name}-cache"));
        let extra = format!(
            "installer: {installer}\nuv_path: {}\ncache_dir: {}\n",
            uv.display(),
            cache.display()
        );
        let cfg = offline_config(venv, &format!("{name}.tar.gz"), &extra);
        let out = build(dir, &cfg, &["-v"], &[]);
        assert!(out.status.success(), "{}", text(&out));
        let log = stderr(&out);
        // One installer run for every module, named on its step line.
        let runs = log.matches(if name == "uv" {
            " pip install "
        } else {
            "/pip install "
        });
        assert_eq!(runs.count(), 1, "{log}");
        assert!(
            log.contains(&format!("==> installed 10 modules with {name} ")),
            "{log}"
        );
        assert!(log.contains(&format!("installer {name}")), "{log}");
        assert!(
            log.contains("additional_modules[0]: my-plugin==1.0"),
            "{log}"
        );
        assert!(!log.contains("cannot be made relocatable"), "{log}");
        // The cache was used, and stayed out of the agent.
        assert!(tree(&cache).len() > 1, "{name}: cache_dir unused");
        let tar = dir.join(format!("{name}.tar.gz"));
        let listing = tool("tar", &["tzf", tar.to_str().unwrap()]);
        for bad in [
            "uv_cache.json",
            "uv_build.json",
            "CACHEDIR.TAG",
            "/.lock",
            ".bat",
        ] {
            assert!(!listing.contains(bad), "{name}: {bad} in the agent");
        }
        let depth = venv.matches('/').count();
        agents.push((extract(&tar, depth), dir.join(venv)));
    }
    let (pip_env, uv_env) = (
        agents[0].0.path().join("env"),
        agents[1].0.path().join("env"),
    );
    let (pip_list, uv_list) = (freeze(&pip_env), freeze(&uv_env));
    assert_eq!(pip_list, uv_list, "pip and uv agents differ");
    assert!(
        pip_list.iter().any(|d| d.starts_with("pip==")),
        "{pip_list:?}"
    );
    assert!(
        pip_list.contains(&"my-plugin==1.0".to_string()),
        "{pip_list:?}"
    );
    for (x, build_venv) in &agents {
        runs_relocated(&x.path().join("env"), build_venv);
    }
}

/// Two agent tars are byte-identical; else the files that differ.
fn same_bytes(a: &Path, b: &Path, what: &str) {
    if std::fs::read(a).unwrap() != std::fs::read(b).unwrap() {
        let (xa, xb) = (extract(a, 0), extract(b, 0));
        let diff = std::process::Command::new("diff")
            .args([
                "-rq",
                xa.path().to_str().unwrap(),
                xb.path().to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let lines = String::from_utf8_lossy(&diff.stdout).into_owned();
        panic!(
            "two {what} builds differ in {} files:\n{}",
            lines.lines().count(),
            lines.lines().take(20).collect::<Vec<_>>().join("\n")
        );
    }
}

/// The agent's Python imports `modules` from their `.pyc`, none recompiled.
/// `python -v` says, for a `.pyc` that does not match its source (the mtime
/// in its header is not the source's) or is missing — Python 2: `# x.pyc has
/// bad mtime`, `import m # from x.py`; Python 3: `# bytecode is stale for
/// 'm'`, `# code object from x.py` — and for a valid one: `import m #
/// precompiled from x.pyc`; `# code object from 'x.pyc'`.
fn imports_without_recompiling(env: &Path, modules: &str) {
    let out = std::process::Command::new(env.join("bin/python"))
        .args(["-B", "-v", "-c", &format!("import {modules}")])
        .env_remove("PYTHONPATH")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let log = stderr(&out);
    let agent = env.display().to_string();
    let recompiled: Vec<&str> = log
        .lines()
        .filter(|l| {
            l.contains("bad mtime")
                || l.contains("is stale")
                || (l.starts_with("import ") && l.contains(&format!(" # from {agent}")))
                || l.starts_with(&format!("# code object from {agent}"))
        })
        .collect();
    assert!(
        recompiled.is_empty(),
        "{} of the agent's modules were compiled again:\n{}",
        recompiled.len(),
        recompiled.join("\n")
    );
    let loaded = log
        .lines()
        .filter(|l| {
            l.contains(&format!(" # precompiled from {agent}"))
                || l.starts_with(&format!("# code object from '{agent}"))
        })
        .count();
    assert!(loaded >= 20, "only {loaded} modules from .pyc:\n{log}");
}

#[test]
fn two_builds_are_byte_identical_with_hash_based_pyc_with_both_installers() {
    let uv = uv();
    let py37 = pyenv("3.7.16");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let sde = [("SOURCE_DATE_EPOCH", "1700000000")];
    for installer in ["uv", "pip"] {
        for name in ["a", "b"] {
            let extra = format!("installer: {installer}\nuv_path: {}\n", uv.display());
            let cfg = offline_config("cloudify/env", &format!("{name}.tar.gz"), &extra).replace(
                &format!("python_path: {PYTHON}"),
                &format!("python_path: {py37}"),
            );
            let out = build(dir, &cfg, &["-f"], &sde);
            assert!(out.status.success(), "{}", text(&out));
            let first = format!("(3.7.16), installer {installer}");
            assert!(stderr(&out).contains(&first), "{}", text(&out));
        }
        let (a, b) = (dir.join("a.tar.gz"), dir.join("b.tar.gz"));
        same_bytes(&a, &b, installer);
        // The modules and the seed packages are compiled, hash-based (flags 3: checked).
        let x = extract(&a, 1);
        let sp = x.path().join("env/lib/python3.7/site-packages");
        for pkg in ["my_plugin", "pip"] {
            let cache = sp.join(pkg).join("__pycache__");
            let pyc = std::fs::read_dir(&cache)
                .unwrap_or_else(|e| panic!("{installer}: no {}: {e}", cache.display()))
                .flatten()
                .next()
                .expect("a .pyc")
                .path();
            let bytes = std::fs::read(&pyc).unwrap();
            assert_eq!(
                &bytes[4..8],
                &[3, 0, 0, 0],
                "{} is not hash-based",
                pyc.display()
            );
        }
    }
}

#[test]
fn a_failing_module_is_named_with_both_installers() {
    let uv = uv();
    for installer in ["pip", "uv"] {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let extra = format!("installer: {installer}\nuv_path: {}\n", uv.display());
        // The fixture wheels: the others install alone without building.
        let cfg = wheel_config("cloudify/env", "out.tar.gz", &extra).replace(
            "additional_modules:\n",
            "additional_modules:\n  - no-such-module==9.9\n",
        );
        let out = build(dir, &cfg, &[], &[]);
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("could not install module additional_modules[0] from no-such-module==9.9"),
            "{installer}: {err}"
        );
        // Only that module: the others install alone.
        assert!(!err.contains("module celery"), "{installer}: {err}");
        assert!(err.contains("no-such-module"), "{installer}: {err}");
        assert!(!dir.join("cloudify/env").exists());
        assert!(!dir.join("out.tar.gz").exists());
    }
}

#[test]
fn an_unreachable_index_fails_once_with_the_installers_reason() {
    // A port nothing listens on (bound, then released).
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let uv = uv();
    let offline = format!(
        "pip_options: [--no-index, --find-links, {}/wheels]",
        fixtures().display()
    );
    for (installer, reason) in [
        ("pip", "Failed to establish a new connection"),
        ("uv", "tcp connect error"),
    ] {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        let extra = format!("installer: {installer}\nuv_path: {}\n", uv.display());
        let cfg = offline_config("cloudify/env", "out.tar.gz", &extra).replace(
            &offline,
            &format!("pip_options: [--index-url, 'http://127.0.0.1:{port}/simple/']"),
        );
        assert!(cfg.contains(&port.to_string()), "{cfg}");
        std::fs::write(dir.join("config.yaml"), cfg).unwrap();
        let start = std::time::Instant::now();
        let out = Cmd::cfy_ap()
            .current_dir(dir)
            .args(["-c", "config.yaml", "-v"])
            .within(std::time::Duration::from_secs(150))
            .output();
        let took = start.elapsed();
        assert_eq!(out.status.code(), Some(1), "{installer}: {}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("could not reach the package index or a download: Connection refused"),
            "{installer}: {err}"
        );
        // The installer's own reason, under the message.
        let message = err.find("error: ").expect("an error line");
        assert!(err[message..].contains(reason), "{installer}: {err}");
        // One install run (-v echoes each command), not one more per module.
        let runs = err
            .lines()
            .filter(|l| l.trim_start().starts_with("$ ") && l.contains(" install "))
            .count();
        assert_eq!(runs, 1, "{installer}: {err}");
        assert!(
            !err.contains("trying each module alone"),
            "{installer}: {err}"
        );
        assert!(took.as_secs() < 60, "{installer}: {took:?}\n{err}");
        assert!(!dir.join("cloudify/env").exists());
        assert!(!dir.join("out.tar.gz").exists());
    }
}

#[test]
fn uv_trusts_the_ca_bundle_named_for_pip() {
    use common::http::{CA_VARS, fixture_index};
    // An HTTPS index on 127.0.0.1 whose certificate a throwaway CA signed.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let extra = format!("installer: uv\nuv_path: {}\n", uv().display());
    let cfg = wheel_config("cloudify/env", "out.tar.gz", &extra);
    let (tls, https, cfg) = fixture_index(dir, &cfg);
    std::fs::write(dir.join("config.yaml"), cfg).unwrap();
    let vars = CA_VARS;
    let args = ["-c", "config.yaml"];

    // No CA variable: uv does not trust the index, and says so once.
    let out = Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .envs_remove(&vars)
        .output();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("could not reach the package index or a download: invalid peer certificate"),
        "{err}"
    );

    // Only PIP_CERT, which uv does not read: uv is given SSL_CERT_FILE.
    let ca = tls.ca.to_str().unwrap();
    let out = Cmd::cfy_ap()
        .current_dir(dir)
        .args(args)
        .env("PIP_CERT", ca)
        .envs_remove(&vars[1..])
        .output();
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.join("out.tar.gz").is_file());
    assert!(
        https
            .requests()
            .contains("GET /files/celery-3.1.17-py3-none-any.whl")
    );
}

#[test]
fn uv_missing_or_given_options_it_does_not_take_is_refused_before_any_work() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // Not at uv_path; and not on PATH (only /usr/bin and /bin are searched).
    let cfg = offline_config(
        "cloudify/env",
        "out.tar.gz",
        "installer: uv\nuv_path: /nonexistent/uv\n",
    );
    let out = build(dir, &cfg, &[], &[("PATH", "/usr/bin:/bin")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("uv not found at /nonexistent/uv"),
        "{}",
        text(&out)
    );
    assert!(stderr(&out).contains("pip install uv"), "{}", text(&out));
    let cfg = offline_config("cloudify/env", "out.tar.gz", "installer: uv\n");
    let out = build(dir, &cfg, &[], &[("PATH", "/usr/bin:/bin")]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("uv not found on PATH"),
        "{}",
        text(&out)
    );
    // --installer overrides the config.
    let cfg = offline_config("cloudify/env", "out.tar.gz", "installer: pip\n");
    let out = build(
        dir,
        &cfg,
        &["--installer", "uv"],
        &[("PATH", "/usr/bin:/bin")],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert_eq!(tree(dir), ["config.yaml"], "something was created");

    // An option uv does not understand: named, exit 2; auto falls back to pip.
    let uv = uv();
    let extra = format!("installer: uv\nuv_path: {}\n", uv.display());
    let cfg = offline_config("cloudify/env", "out.tar.gz", &extra).replace(
        "pip_options: [",
        "pip_options: [--trusted-host, example.org, ",
    );
    let out = build(dir, &cfg, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("pip option --trusted-host"),
        "{}",
        text(&out)
    );
    assert_eq!(tree(dir), ["config.yaml"], "something was created");
    let out = build(dir, &cfg, &["--installer", "auto", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    assert!(
        plan.contains(
            "installer:    auto: pip (pip_options has --trusted-host, which uv does not take)"
        ),
        "{plan}"
    );
    // A cache inside the venv would end up in the agent.
    let cfg = offline_config(
        "cloudify/env",
        "out.tar.gz",
        "cache_dir: cloudify/env/cache\n",
    );
    let out = build(dir, &cfg, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("cache_dir"), "{}", text(&out));
    assert_eq!(tree(dir), ["config.yaml"], "something was created");
}

/// A Python 2 project standing in for celery (the fixtures are Python 3 only).
fn py2_celery(dir: &Path) -> PathBuf {
    let src = dir.join("celery-src");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(
        src.join("setup.py"),
        "from setuptools import setup\n\
         setup(name='celery', version='3.1.17', py_modules=['celery'],\n\
               entry_points={'console_scripts': ['celery=celery:main']})\n",
    )
    .unwrap();
    std::fs::write(
        src.join("celery.py"),
        "import sys\ndef main():\n    print('celery 3.1.17 (py%d)' % sys.version_info[0])\n",
    )
    .unwrap();
    src
}

/// A Python 2.7 agent of `py2_celery` (made in `dir`) into `py2.tar.gz`, with
/// the private virtualenv; `extra` is appended.
fn py27_config(dir: &Path, extra: &str) -> String {
    let celery = py2_celery(dir);
    format!(
        "distribution: Ubuntu\nrelease: trusty\nvenv: cloudify/env\npython_path: {}\n\
         virtualenv_path: {}\n\
         base_modules:\n  celery: {}\n  rest_client: none\n  plugins_common: none\n  script_plugin: none\n  diamond_plugin: none\n\
         management_modules:\n  agent_installer: none\n  plugin_installer: none\n  windows_agent_installer: none\n  windows_plugin_installer: none\n\
         pip_options: [--no-index]\noutput_tar: py2.tar.gz\n{extra}",
        pyenv("2.7.18"),
        py27_virtualenv().display(),
        celery.display()
    )
}

#[test]
fn auto_picks_pip_for_python_2_7_and_uv_refuses_it() {
    let uv = uv();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let cfg = |installer: &str| {
        py27_config(
            dir,
            &format!("installer: {installer}\nuv_path: {}\n", uv.display()),
        )
    };
    let out = build(dir, &cfg("uv"), &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("uv cannot build an agent for Python 2.7.18"),
        "{}",
        text(&out)
    );
    assert!(!dir.join("cloudify").exists());

    let out = build(dir, &cfg("auto"), &[], &[]);
    assert!(out.status.success(), "{}", text(&out));
    // The first step's line (after the warning that pyenv's Python is private).
    let err = stderr(&out);
    let first = err
        .lines()
        .find(|l| l.starts_with("==> "))
        .unwrap_or_default();
    assert!(
        first.contains("(2.7.18), installer pip (auto: Python 2.7.18 is not supported by uv)"),
        "{err}"
    );
    let x = extract(&dir.join("py2.tar.gz"), 1);
    let hello = tool(x.path().join("env/bin/celery").to_str().unwrap(), &[]);
    assert_eq!(hello.trim(), "celery 3.1.17 (py2)");
}

/// Each (device, inode) of a regular file below `dir`.
fn inodes(dir: &Path) -> std::collections::HashSet<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let m = e.metadata().unwrap();
            (m.dev(), m.ino())
        })
        .collect()
}

#[test]
fn uv_hard_links_from_its_cache_and_the_build_never_changes_the_cache() {
    use std::os::unix::fs::MetadataExt;
    let uv = uv();
    let py37 = pyenv("3.7.16");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // A private cache on the venv's filesystem (uv and the bytecode cache).
    let cache = dir.join("cache");
    let extra = format!(
        "installer: uv\nuv_path: {}\ncache_dir: {}\nkeep_venv: true\nrelocatable: true\n",
        uv.display(),
        cache.display()
    );
    let cfg = offline_config("cloudify/env", "agent.tar.gz", &extra).replace(
        &format!("python_path: {PYTHON}"),
        &format!("python_path: {py37}"),
    );
    // The first build fills the cache; the second links everything from it.
    let out = build(dir, &cfg, &["-f"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let before = tree_state(&cache);
    let out = build(dir, &cfg, &["-f", "-v"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains(" pip install --link-mode hardlink "),
        "{}",
        text(&out)
    );
    // uv itself replaces some of its records (revisions of the local source
    // trees, interpreter info) with new files; every file still at its path
    // with its inode (the unpacked wheels the agent links to among them) has
    // its bytes, mode and mtime, and the bytecode cache (warm) did not change.
    let after = tree_state(&cache);
    let mut kept = 0;
    let mut changed = Vec::new();
    for (rel, (ino, what)) in &before {
        match after.get(rel) {
            Some((i, now)) if i == ino => {
                kept += 1;
                if now != what {
                    changed.push(format!("{rel}: {what} -> {now}"));
                }
            }
            _ => {}
        }
    }
    assert!(
        changed.is_empty(),
        "the build changed the cache: {changed:#?}"
    );
    assert!(kept > 200, "only {kept} cache entries kept");
    let pyc = |s: &std::collections::BTreeMap<String, (u64, String)>| {
        s.iter()
            .filter(|(k, _)| k.starts_with("cfy-ap-pyc/"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect::<Vec<_>>()
    };
    // One pack from the first build (`pyc_cache`), untouched by the second.
    assert_eq!(pyc(&before).len(), 1, "{:?}", pyc(&before));
    assert_eq!(pyc(&before), pyc(&after), "the bytecode cache changed");
    // The kept venv's modules are hard links into the cache; what the build
    // rewrote (relocated scripts, RECORD) is not.
    let cached = inodes(&cache);
    let venv = dir.join("cloudify/env");
    let sp = venv.join("lib/python3.7/site-packages");
    let linked = walkdir::WalkDir::new(&sp)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .filter(|e| {
            let m = e.metadata().unwrap();
            cached.contains(&(m.dev(), m.ino()))
        })
        .count();
    assert!(
        linked > 100,
        "only {linked} files are linked from the cache"
    );
    let celery = sp.join("celery/__init__.py");
    let m = std::fs::metadata(&celery).unwrap();
    assert!(cached.contains(&(m.dev(), m.ino())), "{}", celery.display());
    let rewritten: Vec<PathBuf> = std::fs::read_dir(venv.join("bin"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            std::fs::symlink_metadata(p).unwrap().is_file()
                && std::fs::read(p).unwrap().starts_with(b"#!/bin/sh\n")
        })
        .chain(
            std::fs::read_dir(&sp)
                .unwrap()
                .flatten()
                .map(|e| e.path().join("RECORD"))
                .filter(|p| p.is_file()),
        )
        .collect();
    assert!(rewritten.len() > 10, "{rewritten:?}");
    for p in &rewritten {
        let m = std::fs::metadata(p).unwrap();
        assert!(
            !cached.contains(&(m.dev(), m.ino())),
            "{} is shared with the cache",
            p.display()
        );
    }
    // The agent imports its modules and runs its console scripts, moved.
    let x = extract(&dir.join("agent.tar.gz"), 1);
    runs_relocated(&x.path().join("env"), &venv);
}

/// Every file, link and directory below `dir` (not following links): its
/// type, mode, and its bytes' sha256 or its target.
fn state(dir: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest;
    use std::os::unix::fs::MetadataExt;
    walkdir::WalkDir::new(dir)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let m = e.path().symlink_metadata().unwrap();
            let what = if m.is_file() {
                hex::encode(sha2::Sha256::digest(std::fs::read(e.path()).unwrap()))
            } else if m.is_symlink() {
                std::fs::read_link(e.path()).unwrap().display().to_string()
            } else {
                String::new()
            };
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, format!("{:o} {what}", m.mode()))
        })
        .collect()
}

#[test]
fn a_python_2_7_build_uses_its_own_virtualenv_and_leaves_the_interpreters_alone() {
    // Every pyenv interpreter's site-packages, 2.7.18 and 3.6.15 at least.
    let mut interpreters: Vec<PathBuf> = std::fs::read_dir(PYENV)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .collect();
    interpreters.sort();
    let site_packages: Vec<PathBuf> = interpreters
        .iter()
        .flat_map(|v| std::fs::read_dir(v.join("lib")).unwrap().flatten())
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    for v in ["2.7.18", "3.6.15"] {
        pyenv(v);
        assert!(
            site_packages
                .iter()
                .any(|p| p.starts_with(format!("{PYENV}/{v}/"))),
            "{site_packages:?}"
        );
    }
    let before: Vec<_> = site_packages.iter().map(|p| state(p)).collect();
    let private = py27_virtualenv();
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let out = build(dir, &py27_config(dir, ""), &["-v"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    // virtualenv came from the private directory, on PYTHONPATH for the
    // probe and `-m virtualenv` only (never for pip: the agent's pip would
    // take its dependencies there as installed).
    let log = stderr(&out);
    assert!(
        log.contains(&format!(
            "virtualenv: {}/virtualenv/__init__.py",
            private.display()
        )),
        "{log}"
    );
    let made = format!(
        "$ PYTHONPATH={} {} -m virtualenv ",
        private.display(),
        pyenv("2.7.18")
    );
    assert!(log.contains(&made), "{log}");
    let pip = log
        .lines()
        .find(|l| l.contains(" -m pip install "))
        .unwrap_or_default();
    assert!(
        pip.trim_start().starts_with("$ ") && !pip.contains("PYTHONPATH"),
        "{log}"
    );
    let x = extract(&dir.join("py2.tar.gz"), 1);
    let py = x.path().join("env/bin/python");
    let hello = tool(x.path().join("env/bin/celery").to_str().unwrap(), &[]);
    assert_eq!(hello.trim(), "celery 3.1.17 (py2)");
    let leaked = std::process::Command::new(&py)
        .args(["-c", "import virtualenv"])
        .env_remove("PYTHONPATH")
        .output()
        .unwrap();
    assert!(
        !leaked.status.success(),
        "virtualenv is importable in the agent"
    );
    let after: Vec<_> = site_packages.iter().map(|p| state(p)).collect();
    for ((p, b), a) in site_packages.iter().zip(&before).zip(&after) {
        assert!(b == a, "the build changed {}", p.display());
    }

    // A virtualenv_path without virtualenv: exit 2 before any work, saying how.
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let empty = dir.join("no-virtualenv");
    std::fs::create_dir(&empty).unwrap();
    let cfg = py27_config(dir, "").replace(
        &format!("virtualenv_path: {}", private.display()),
        &format!("virtualenv_path: {}", empty.display()),
    );
    let out = build(dir, &cfg, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!(
            "virtualenv_path {}: no virtualenv there",
            empty.display()
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!("pip install --target {}", empty.display())),
        "{err}"
    );
    assert!(!dir.join("cloudify").exists() && !dir.join("py2.tar.gz").exists());
}

#[test]
fn python_2_7_agents_are_byte_identical_and_import_without_recompiling() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // virtualenv's app data is kept between builds, as a user's is: it writes
    // the RECORD of the seed packages in the order its app-data image lists
    // their files, which changes when the image is made again.
    let data = dir.join("virtualenv-data");
    let data = data.to_str().unwrap();
    let sde = [("SOURCE_DATE_EPOCH", "1700000000"), ("XDG_DATA_HOME", data)];
    for name in ["a", "b", "now"] {
        let cfg = py27_config(dir, "").replace(
            "output_tar: py2.tar.gz",
            &format!("output_tar: {name}.tar.gz"),
        );
        let envs: &[(&str, &str)] = if name == "now" { &sde[1..] } else { &sde };
        let out = build(dir, &cfg, &["-f"], envs);
        assert!(out.status.success(), "{}", text(&out));
    }
    same_bytes(&dir.join("a.tar.gz"), &dir.join("b.tar.gz"), "Python 2.7");
    let modules = "celery, pip._internal.cli.main, setuptools, pkg_resources, wheel";
    // With SOURCE_DATE_EPOCH (mtimes clamped in the tar) and without (kept).
    for name in ["a", "now"] {
        let x = extract(&dir.join(format!("{name}.tar.gz")), 1);
        imports_without_recompiling(&x.path().join("env"), modules);
    }
}

#[test]
fn python_3_6_agents_are_byte_identical_and_import_without_recompiling() {
    let py36 = pyenv("3.6.15");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    // Every module from a wheel: 3.6's bundled pip (18.1) cannot build the
    // pyproject-only source trees of the fixtures.
    let cfg = |name: &str| {
        format!(
            "distribution: Ubuntu\nrelease: trusty\nvenv: cloudify/env\npython_path: {py36}\n\
             base_modules:\n  celery: celery==3.1.17\n  rest_client: cloudify-rest-client==3.2\n  \
             plugins_common: cloudify-plugins-common==3.2\n  script_plugin: cloudify-script-plugin==1.2\n  \
             diamond_plugin: cloudify-diamond-plugin==1.2\n\
             management_modules:\n  agent_installer: cloudify-agent-installer-plugin==3.2\n  \
             plugin_installer: cloudify-plugin-installer-plugin==3.2\n  windows_agent_installer: none\n  windows_plugin_installer: none\n\
             additional_modules:\n  - my-plugin==1.0\n\
             pip_options: [--no-index, --find-links, {}/wheels]\noutput_tar: {name}.tar.gz\n",
            fixtures().display()
        )
    };
    let sde = [("SOURCE_DATE_EPOCH", "1700000000")];
    for name in ["a", "b", "now"] {
        let envs: &[(&str, &str)] = if name == "now" { &[] } else { &sde };
        let out = build(dir, &cfg(name), &["-f"], envs);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            stderr(&out).contains("(3.6.15), installer pip"),
            "{}",
            text(&out)
        );
    }
    same_bytes(&dir.join("a.tar.gz"), &dir.join("b.tar.gz"), "Python 3.6");
    let modules = "celery, cloudify_rest_client, cloudify, script_runner, diamond_agent, \
                   worker_installer, plugin_installer, my_plugin, pip._internal, \
                   setuptools, pkg_resources";
    for name in ["a", "now"] {
        let x = extract(&dir.join(format!("{name}.tar.gz")), 1);
        imports_without_recompiling(&x.path().join("env"), modules);
    }
}
