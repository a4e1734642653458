//! Relocatable agents: built once, the build venv deleted, extracted the way agent
//! installers do into two unrelated directories (one with a space in its path), and
//! run from there: imports, every console script, pip, and the activate scripts of
//! every shell present; then again after the old installers' shebang `sed`.

use crate::common;

use common::*;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

const PREFIX: &str = "cloudify/Ubuntu-trusty-agent/env";
const IMPORTS: &str = "import celery, cloudify_rest_client, cloudify, script_runner, diamond_agent, \
                       worker_installer, plugin_installer, windows_agent_installer, \
                       windows_plugin_installer, my_plugin; print('ok')";

fn run_in(dir: &Path, program: &Path, args: &[&str]) -> Output {
    Command::new(program)
        .args(args)
        .current_dir(dir)
        .env_remove("VIRTUAL_ENV")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", program.display()))
}

fn ok(o: Output, what: &str) -> String {
    assert!(o.status.success(), "{what}\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Regular, non-binary files in `bin/` that start with `#!`.
fn scripts(env: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(env.join("bin"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let m = p.symlink_metadata().unwrap();
            m.file_type().is_file()
                && std::fs::read(p).is_ok_and(|b| b.starts_with(b"#!") && !b.contains(&0))
        })
        .collect();
    out.sort();
    out
}

fn shell_present(name: &str) -> bool {
    ["/bin", "/usr/bin"]
        .iter()
        .any(|d| Path::new(d).join(name).is_file())
}

/// Source the activate script for `shell` and print VIRTUAL_ENV and the python on PATH.
fn activated(shell: &str, env: &Path, cwd: &Path, source: &str) -> (String, String) {
    let script = match shell {
        "fish" => format!("source {source}; echo $VIRTUAL_ENV; command -v python"),
        "tcsh" => format!("set prompt=''; source {source}; echo $VIRTUAL_ENV; which python"),
        _ => format!(". {source}; echo \"$VIRTUAL_ENV\"; command -v python"),
    };
    let o = Command::new(shell)
        .args(if shell == "tcsh" {
            &["-f", "-c"][..]
        } else {
            &["-c"]
        })
        .arg(&script)
        .current_dir(cwd)
        .env_remove("VIRTUAL_ENV")
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .output()
        .unwrap();
    let out = ok(o, &format!("{shell} -c {script:?} in {}", env.display()));
    let mut lines = out.lines();
    let venv = lines.next().unwrap_or_default().to_string();
    let python = lines.next().unwrap_or_default().to_string();
    (venv, python)
}

fn check_agent(env: &Path, build_venv: &Path, after_sed: bool) {
    let bin = env.join("bin");
    let py = bin.join("python");
    assert_eq!(
        ok(run_in(env, &py, &["-c", IMPORTS]), "imports").trim(),
        "ok"
    );

    // Every console script runs from here; none names the build path.
    let all = scripts(env);
    let names: Vec<String> = all
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for needed in ["celery", "my-plugin-hello", "pip", "pip3"] {
        assert!(
            names.iter().any(|n| n == needed),
            "{needed} not in {names:?}"
        );
    }
    for script in &all {
        let body = std::fs::read_to_string(script).unwrap();
        assert!(
            !body.contains(&build_venv.display().to_string()),
            "{} still names the build path:\n{body}",
            script.display()
        );
        if !after_sed {
            assert!(
                body.starts_with("#!/bin/sh\n"),
                "{} not relocatable:\n{body}",
                script.display()
            );
        }
        let name = script.file_name().unwrap().to_string_lossy();
        let args: &[&str] = match name.as_ref() {
            "my-plugin-hello" => &[],
            n if n.starts_with("pip") => &["--version"],
            _ => &["--help"],
        };
        let out = ok(run_in(env, script, args), &format!("{name} {args:?}"));
        if name.starts_with("pip") {
            assert!(
                out.contains(&env.join("lib").display().to_string()),
                "{name} runs outside the agent: {out}"
            );
        }
        if name == "my-plugin-hello" {
            assert!(out.contains("hello from my-plugin"), "{out}");
        }
    }
    // Run through a symlink from elsewhere, and by a relative path.
    let link_dir = tempfile::tempdir().unwrap();
    let link = link_dir.path().join("hello");
    symlink(bin.join("my-plugin-hello"), &link).unwrap();
    let out = ok(run_in(link_dir.path(), &link, &[]), "symlinked script");
    assert!(out.contains("hello from my-plugin"), "{out}");
    let out = ok(
        run_in(env, Path::new("bin/my-plugin-hello"), &[]),
        "relative path",
    );
    assert!(out.contains("hello from my-plugin"), "{out}");

    let list = ok(run_in(env, &bin.join("pip"), &["list"]), "pip list");
    assert!(list.to_lowercase().contains("my-plugin"), "{list}");

    if after_sed {
        return;
    }
    // activate: from its own location, whatever the current directory.
    let real = env.canonicalize().unwrap().display().to_string();
    let expect_python = format!("{real}/bin/python");
    let activate = bin.join("activate").display().to_string();
    let quoted = format!("'{activate}'");
    for shell in ["bash", "zsh"] {
        assert!(
            shell_present(shell),
            "{shell} is needed (tests/run.sh installs it)"
        );
        for cwd in [env, Path::new("/")] {
            let (venv, python) = activated(shell, env, cwd, &quoted);
            assert_eq!(venv, real, "{shell} from {}", cwd.display());
            assert_eq!(python, expect_python, "{shell}");
        }
    }
    // dash cannot tell which file it sources: run from the venv (or its bin/).
    for (cwd, source) in [
        (env.to_path_buf(), "bin/activate"),
        (bin.clone(), "./activate"),
    ] {
        let (venv, python) = activated("dash", env, &cwd, source);
        assert_eq!(venv, real, "dash from {}", cwd.display());
        assert_eq!(python, expect_python, "dash");
    }
    if shell_present("fish") {
        let fish = format!("'{}'", bin.join("activate.fish").display());
        let (venv, python) = activated("fish", env, Path::new("/"), &fish);
        assert_eq!(
            (venv.as_str(), python.as_str()),
            (real.as_str(), expect_python.as_str())
        );
    } else {
        panic!("fish is needed (tests/run.sh installs it)");
    }
    if shell_present("tcsh") {
        // Not interactive: from the current directory.
        let (venv, python) = activated("tcsh", env, env, "bin/activate.csh");
        assert_eq!(
            (venv.as_str(), python.as_str()),
            (real.as_str(), expect_python.as_str())
        );
        // Interactive: from the `source` line in the history, anywhere (a path
        // without spaces: tcsh keeps quotes in history words).
        if real.contains(' ') {
            return;
        }
        let csh = bin.join("activate.csh").display().to_string();
        let input = format!(
            "set history=10\nset prompt=''\nsource {csh}\necho \"=$VIRTUAL_ENV\"\nwhich python\nexit\n"
        );
        let mut child = Command::new("tcsh")
            .args(["-f", "-i"])
            .current_dir("/")
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
        let out = ok(child.wait_with_output().unwrap(), "tcsh -i");
        assert!(out.contains(&format!("={real}\n")), "{out}");
        assert!(out.contains(&format!("{expect_python}\n")), "{out}");
    } else {
        panic!("tcsh is needed (tests/run.sh installs it)");
    }
}

#[test]
fn agent_runs_from_any_directory_and_after_the_old_sed() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("config.yaml"),
        offline_config(PREFIX, "agent.tar.gz", ""),
    )
    .unwrap();
    let cache = own_pip_cache(dir);
    let out = cfy_ap(dir, &["-c", "config.yaml"], &[("PIP_CACHE_DIR", &cache)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        stderr(&out).contains("==> made the virtualenv relocatable"),
        "{}",
        text(&out)
    );
    let build_venv = dir.join(PREFIX);
    assert!(!build_venv.exists(), "the build venv is deleted by default");
    std::fs::remove_dir_all(dir.join("cloudify")).ok();
    let tar = dir.join("agent.tar.gz");

    let a = tempfile::Builder::new()
        .prefix("cfy ap relocated ")
        .tempdir()
        .unwrap();
    let b = tempfile::tempdir().unwrap();
    for to in [a.path().join("agent node"), b.path().to_path_buf()] {
        std::fs::create_dir_all(&to).unwrap();
        tool(
            "tar",
            &[
                "xzf",
                tar.to_str().unwrap(),
                "--strip-components=2",
                "-C",
                to.to_str().unwrap(),
            ],
        );
        check_agent(&to.join("env"), &build_venv, false);
    }

    // Old installers rewrote the first line of every script to the new path. The
    // kernel splits `#!` lines at spaces, so this only ever worked without them.
    let env = b.path().join("env");
    let new_python = env.join("bin/python").display().to_string();
    let files: Vec<String> = scripts(&env)
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    let mut args = vec!["-i".to_string(), format!("1 s|^#!.*|#!{new_python}|")];
    args.extend(files);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    tool("sed", &args);
    let celery = std::fs::read_to_string(env.join("bin/celery")).unwrap();
    assert!(
        celery.starts_with(&format!("#!{new_python}\n")) && celery.contains("\n'''exec' "),
        "{celery}"
    );
    check_agent(&env, &build_venv, true);
}

#[test]
fn relocatable_false_keeps_the_plain_virtualenv() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("config.yaml"),
        wheel_config(
            PREFIX,
            "agent.tar.gz",
            "relocatable: false\nkeep_venv: true\n",
        ),
    )
    .unwrap();
    let out = cfy_ap(dir, &["-c", "config.yaml", "--dry-run"], &[]);
    assert!(stdout_has(&out, "relocatable: no"), "{}", text(&out));
    let cache = own_pip_cache(dir);
    let out = cfy_ap(dir, &["-c", "config.yaml"], &[("PIP_CACHE_DIR", &cache)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stderr(&out).contains("relocatable"), "{}", text(&out));
    let venv = dir.join(PREFIX);
    let celery = std::fs::read_to_string(venv.join("bin/celery")).unwrap();
    assert!(
        celery.starts_with(&format!("#!{}/bin/python", venv.display())),
        "{celery}"
    );
}

/// Concurrent builds sharing pip's wheel cache can read each other's half-written
/// entries: each build here gets its own.
fn own_pip_cache(dir: &Path) -> String {
    dir.join(".pip-cache").display().to_string()
}

fn stdout_has(o: &Output, s: &str) -> bool {
    String::from_utf8_lossy(&o.stdout).contains(s)
}
