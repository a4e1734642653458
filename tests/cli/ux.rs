//! The everyday experience: `init`, completions, the man page, the JSON Schema, and
//! progress on a terminal (run under `script`, which gives the binary a pty).

use crate::common;
#[path = "../common/schema.rs"]
mod schema_check;

use agent_packager::config_schema;
use common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn have(program: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {program}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn init_writes_a_config_that_parses_and_dry_runs() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let root = fixtures().join("sysroots/ubuntu-trusty");
    let env = [("CFY_AP_SYSROOT", root.to_str().unwrap())];
    let out = cfy_ap(dir, &["init"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let path = dir.join("config.yaml");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.contains("\ndistribution: Ubuntu\nrelease: trusty\n"),
        "{written}"
    );
    assert!(written.contains("# relocatable: true"), "{written}");
    let cfg = agent_packager::parse_config(&written, "init").unwrap();
    assert_eq!(cfg.release.as_deref(), Some("trusty"));

    // Never replaced without -f (exit 3), replaced with it.
    std::fs::write(&path, "venv: mine\n").unwrap();
    let out = cfy_ap(dir, &["init"], &env);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    assert!(stderr(&out).contains("use -f/--force"), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "venv: mine\n");
    let out = cfy_ap(dir, &["init", "-f"], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(std::fs::read_to_string(&path).unwrap(), written);

    // `--dry-run` with it succeeds and shows the detected names.
    let out = cfy_ap(dir, &["--dry-run"], &env);
    assert!(out.status.success(), "{}", text(&out));
    let plan = stdout(&out);
    assert!(plan.contains("distribution: Ubuntu\n"), "{plan}");
    assert!(plan.contains("relocatable: yes"), "{plan}");
    assert!(plan.contains("Ubuntu-trusty-agent.tar.gz"), "{plan}");

    // Another path, and standard output.
    let out = cfy_ap(dir, &["init", "other.yaml"], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert!(dir.join("other.yaml").is_file());
    let out = cfy_ap(dir, &["init", "-"], &env);
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(stdout(&out), written);

    // The schema accepts what init writes.
    let v: Value = serde_saphyr::from_str(&written).unwrap();
    assert_eq!(
        schema_check::validate(&config_schema(), &v),
        Vec::<String>::new()
    );
}

#[test]
fn completions_load_in_the_shells() {
    let dir = tempfile::tempdir().unwrap();
    let bin = bin();
    let bin = bin.display();
    let out = tool(
        "bash",
        &[
            "-c",
            &format!("source <('{bin}' completions bash) && complete -p cfy-ap"),
        ],
    );
    assert!(out.contains("cfy-ap"), "{out}");
    // Completing a subcommand name works.
    let out = tool(
        "bash",
        &[
            "-c",
            &format!(
                "source <('{bin}' completions bash); COMP_WORDS=(cfy-ap com); COMP_CWORD=1; \
                 COMP_LINE='cfy-ap com'; COMP_POINT=10; _cfy__ap cfy-ap com cfy-ap; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\""
            ),
        ],
    );
    assert!(out.lines().any(|l| l == "completions"), "{out}");
    for (shell, check) in [("zsh", "-n"), ("fish", "--no-execute")] {
        let out = cfy_ap(dir.path(), &["completions", shell], &[]);
        assert!(out.status.success(), "{}", text(&out));
        assert!(have(shell), "{shell} is needed (tests/run.sh installs it)");
        let file = dir.path().join(format!("cfy-ap.{shell}"));
        std::fs::write(&file, &out.stdout).unwrap();
        tool(shell, &[check, file.to_str().unwrap()]);
    }
    let out = cfy_ap(dir.path(), &["completions", "tcsh"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn the_man_page_renders() {
    let dir = tempfile::tempdir().unwrap();
    let out = cfy_ap(dir.path(), &["man"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let page = dir.path().join("cfy-ap.1");
    std::fs::write(&page, &out.stdout).unwrap();
    assert!(
        have("groff"),
        "groff is needed to check the man page: apt-get install groff-base"
    );
    let o = Command::new("groff")
        .args(["-man", "-Tutf8", "-ww", "-P-cbou"])
        .arg(&page)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        o.stderr.is_empty(),
        "groff warnings: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    let rendered = String::from_utf8_lossy(&o.stdout);
    for needed in [
        "NAME",
        "SYNOPSIS",
        "--dry-run",
        "completions",
        "init",
        "schema",
    ] {
        assert!(rendered.contains(needed), "{needed} missing:\n{rendered}");
    }
    // What clap does not know, each in its section.
    let section = |title: &str| -> String {
        let start = rendered
            .find(&format!("\n{title}\n"))
            .unwrap_or_else(|| panic!("no {title} section:\n{rendered}"));
        // Up to the next section title, the next line at column 0.
        rendered[start + title.len() + 2..]
            .lines()
            .take_while(|l| !l.starts_with(|c: char| c.is_ascii_alphabetic()))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let status = section("EXIT STATUS");
    for code in ["0", "1", "2", "3", "128 + signal (129, 130, 143)"] {
        assert!(
            status.lines().any(|l| l.trim_start().starts_with(code)),
            "exit status {code} missing:\n{status}"
        );
    }
    let env = section("ENVIRONMENT");
    for var in [
        "SOURCE_DATE_EPOCH",
        "CFY_AP_SIGN_PASSPHRASE",
        "NO_COLOR",
        "VERSION",
        "PIP_*, UV_*",
        "PIP_CERT, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE",
        "CFY_AP_HEARTBEAT",
    ] {
        assert!(env.contains(var), "{var} missing:\n{env}");
    }
    let files = section("FILES");
    for file in ["config.yaml", "cfy-ap/pyc", "cache_dir"] {
        assert!(files.contains(file), "{file} missing:\n{files}");
    }
    // Each command with its own options: archive's -f is its own, man has none.
    let commands = section("COMMANDS");
    let archive = &commands[commands.find("cfy-ap archive").unwrap()..];
    assert!(archive.contains("Replace OUTPUT"), "{commands}");
    let man = &commands[commands.find("   cfy-ap man").unwrap()..];
    let man = &man[..man.find("   cfy-ap schema").unwrap_or(man.len())];
    assert!(
        !man.contains("--force") && !man.contains("--config"),
        "{man}"
    );
    assert!(have("man"), "man is needed (tests/run.sh installs man-db)");
    {
        let o = Command::new("man")
            .arg("-l")
            .arg(&page)
            .env("MANPAGER", "cat")
            .env("MANWIDTH", "80")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    }
}

#[test]
fn the_schema_validates_the_fixture_configs_and_rejects_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = cfy_ap(dir.path(), &["schema"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let printed: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed, config_schema());
    assert_eq!(
        printed["$schema"],
        "http://json-schema.org/draft-07/schema#"
    );

    let example = std::fs::read_to_string(fixtures().join("example.yaml")).unwrap();
    let packaged = offline_config(
        "cloudify/x/env",
        "x.tar.gz",
        "keep_venv: true\nrelocatable: false\ntar_compression_level: 9\npackage:\n  version: 3.2rc1\n  compression: xz\n  depends: [python3]\npublish:\n  repo: ./repo\n  codename: trusty\n",
    );
    let configs = [
        ("fixtures/example.yaml", example),
        (
            "offline_config",
            offline_config("cloudify/x/env", "x.tar.gz", ""),
        ),
        ("offline_config with package", packaged),
        (
            "modern",
            "profile: modern\nbase_modules:\n  celery: none\n  cloudify_common: cloudify-common==7.0.5\n".into(),
        ),
    ];
    for (name, yaml) in &configs {
        // The tool itself takes it...
        agent_packager::parse_config(yaml, name).unwrap();
        // ...and so does the schema.
        let v: Value = serde_saphyr::from_str(yaml).unwrap();
        let errors = schema_check::validate(&printed, &v);
        assert!(errors.is_empty(), "{name}: {errors:?}");
    }
    // Bad configs: the tool and the schema both refuse them.
    for (yaml, expected) in [
        ("venvv: /x\n", "$.venvv: unknown key"),
        ("tar_compression_level: 0\n", "less than 1"),
        ("relocatable: sometimes\n", "$.relocatable: expected"),
        ("profile: newest\n", "$.profile"),
        ("base_modules:\n  cloudify-common: x\n", "unknown key"),
        (
            "package:\n  compresion: xz\n",
            "$.package.compresion: unknown key",
        ),
    ] {
        let v: Value = serde_saphyr::from_str(yaml).unwrap();
        let errors = schema_check::validate(&printed, &v);
        assert!(
            errors.iter().any(|e| e.contains(expected)),
            "{yaml:?} accepted by the schema: {errors:?}"
        );
        std::fs::write(dir.path().join("bad.yaml"), yaml).unwrap();
        let out = cfy_ap(dir.path(), &["-c", "bad.yaml", "--dry-run"], &[]);
        // tar_compression_level 0 parses, and is refused when the plan resolves.
        assert_eq!(out.status.code(), Some(2), "{yaml:?}\n{}", text(&out));
    }
}

/// Run `cmd` (a shell command line) under `script`, so its stderr is a terminal.
/// Returns everything written to the terminal.
fn on_a_terminal(dir: &Path, cmd: &str, envs: &[(&str, &str)]) -> String {
    assert!(have("script"), "`script` (util-linux / bsdutils) is needed");
    let mut c = Command::new("script");
    c.args(["-qec", cmd, "/dev/null"])
        .current_dir(dir)
        .env_remove("NO_COLOR")
        .env_remove("CFY_AP_PROGRESS")
        .env("TERM", "xterm");
    for (k, v) in envs {
        c.env(k, v);
    }
    let o = c.output().unwrap();
    assert!(o.status.success(), "{cmd}\n{}", text(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// What a terminal finally shows: carriage returns and erase-line sequences
/// applied, colours removed.
fn screen(raw: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for physical in raw.replace("\r\n", "\n").split('\n') {
        let mut line = String::new();
        let mut chars = physical.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\r' => line.clear(),
                '\x1b' if chars.peek() == Some(&'[') => {
                    chars.next();
                    let mut code = String::new();
                    for c in chars.by_ref() {
                        code.push(c);
                        if c.is_ascii_alphabetic() {
                            break;
                        }
                    }
                    if code.ends_with('K') {
                        line.clear();
                    }
                }
                c => line.push(c),
            }
        }
        lines.push(line);
    }
    lines
}

/// pyenv's interpreters (tests/run.sh installs them), private to this host.
const PYENV_311: &str = "/root/.pyenv/versions/3.11.7/bin/python3.11";
const PYENV_37: &str = "/root/.pyenv/versions/3.7.16/bin/python3.7";

/// A config for `python` whose build fails fast at the install (no index, no
/// wheels): enough to see what is said before the build.
fn failing_config(python: &str) -> String {
    format!(
        "distribution: Ubuntu\nrelease: trusty\nvenv: cloudify/a/env\noutput_tar: a.tar.gz\npython_path: {python}\nbase_modules:\n  celery: celery==3.1.17\n  rest_client: none\n  plugins_common: none\n  script_plugin: none\n  diamond_plugin: none\nmanagement_modules:\n  agent_installer: none\n  plugin_installer: none\n  windows_agent_installer: none\n  windows_plugin_installer: none\npip_options: [--no-index]\ninstaller: pip\n"
    )
}

#[test]
fn a_private_interpreter_is_warned_about_before_the_build() {
    assert!(Path::new(PYENV_311).is_file(), "{PYENV_311} is needed");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(dir.join("private.yaml"), failing_config(PYENV_311)).unwrap();
    std::fs::write(dir.join("system.yaml"), failing_config(PYTHON)).unwrap();

    // The dry run says it in the plan, with the path and the ways out.
    let out = cfy_ap(dir, &["-c", "private.yaml", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = stdout(&out);
    let warning = plan
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning in the plan:\n{plan}"));
    for needed in [PYENV_311, "bin/python", "--root", "/usr/bin/python3"] {
        assert!(warning.contains(needed), "{needed} missing: {warning}");
    }

    // The build says it on stderr before it starts.
    let out = cfy_ap(dir, &["-c", "private.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    let said = err
        .find(&format!("warning: python_path {PYENV_311} "))
        .unwrap_or_else(|| panic!("no warning:\n{err}"));
    let venv = err
        .find("==> created virtualenv")
        .expect("the venv step ran");
    assert!(said < venv, "warned after the build started:\n{err}");

    // The distribution's interpreter: no warning anywhere.
    let out = cfy_ap(dir, &["-c", "system.yaml", "--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!stdout(&out).contains("warning"), "{}", text(&out));
    let out = cfy_ap(dir, &["-c", "system.yaml"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(!stderr(&out).contains("warning:"), "{}", text(&out));
}

#[test]
fn the_dry_run_names_the_bytecode_cache_only_for_a_python_that_uses_it() {
    assert!(Path::new(PYENV_37).is_file(), "{PYENV_37} is needed");
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    for (python, used) in [(PYENV_37, true), (PYTHON, false), (PYENV_311, false)] {
        std::fs::write(dir.join("c.yaml"), failing_config(python)).unwrap();
        let out = cfy_ap(dir, &["-c", "c.yaml", "--dry-run"], &[]);
        assert!(out.status.success(), "{}", text(&out));
        let plan = stdout(&out);
        let line = plan
            .lines()
            .find(|l| l.starts_with("bytecode cache: "))
            .unwrap_or_else(|| panic!("no bytecode cache line:\n{plan}"));
        assert_eq!(line.contains("cfy-ap/pyc"), used, "{python}: {line}");
        if !used {
            assert!(line.contains("not used"), "{python}: {line}");
        }
    }
}

#[test]
fn errors_name_the_directory_not_internal_temporary_files() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/a"), "a").unwrap();
    std::fs::write(
        dir.join("c.yaml"),
        failing_config(PYTHON).replace("output_tar: a.tar.gz", "output_tar: /sys/a.tar.gz"),
    )
    .unwrap();
    // The build's early check (a probe file) and archive's output (a partial file).
    for args in [vec!["-c", "c.yaml"], vec!["archive", "d", "/sys/a.tar.gz"]] {
        let out = cfy_ap(dir, &args, &[]);
        assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", text(&out));
        let err = stderr(&out);
        assert!(
            err.contains("cannot write to output directory /sys: "),
            "{args:?}\n{err}"
        );
        for internal in ["cfy-ap-probe", ".partial", "at path"] {
            assert!(!err.contains(internal), "{args:?} names {internal}:\n{err}");
        }
        assert!(!err.contains("caused by:"), "{err}");
    }
    // -v adds the error behind it, whole: the OS error's code and kind.
    let out = cfy_ap(dir, &["-v", "archive", "d", "/sys/a.tar.gz"], &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let err = stderr(&out);
    let cause = err
        .lines()
        .find_map(|l| l.strip_prefix("  caused by: "))
        .unwrap_or_else(|| panic!("no cause:\n{err}"));
    assert!(
        cause.contains("os error") && cause.contains("kind: "),
        "{err}"
    );
}

#[test]
fn init_says_what_cache_dir_holds() {
    let dir = tempfile::tempdir().unwrap();
    let out = cfy_ap(dir.path(), &["init", "-"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let written = stdout(&out);
    // Not cfy-ap's own cache, and `~` would not be expanded.
    assert!(!written.contains("cache_dir: ~"), "{written}");
    // Where the bytecode cache goes without it, and what a relative path means.
    for needed in [
        "--cache-dir",
        "cfy-ap-pyc",
        "# cache_dir: /",
        "$XDG_CACHE_HOME/cfy-ap/pyc, else ~/.cache/cfy-ap/pyc",
        "a relative path is relative to\n# the current directory",
    ] {
        assert!(written.contains(needed), "{needed} missing:\n{written}");
    }
}

/// The flags a `--help` lists (`-f`, `--force`, …): option lines only, not the
/// descriptions wrapped below them.
fn listed_flags(help: &str) -> Vec<String> {
    let mut flags = Vec::new();
    for line in help.lines() {
        let indent = line.len() - line.trim_start().len();
        if indent > 6 || !line.trim_start().starts_with('-') {
            continue;
        }
        for word in line.split_whitespace() {
            let word = word.trim_end_matches(',');
            if !word.starts_with('-') {
                break;
            }
            flags.push(word.to_string());
        }
    }
    flags
}

#[test]
fn each_command_lists_only_its_own_options_in_its_own_words() {
    let dir = tempfile::tempdir().unwrap();
    let build_only = [
        "-c",
        "--config",
        "--format",
        "--dry-run",
        "--no-validation",
        "--no-bytecode-cache",
        "--from-tar",
        "--installer",
        "--root",
    ];
    let verbosity = ["-v", "--verbose", "-q", "--quiet"];
    // (command, flags it lists, flags it must not list, the -f line's words)
    type Case<'a> = (&'a [&'a str], Vec<&'a str>, Vec<&'a str>, Option<&'a str>);
    let cases: [Case; 8] = [
        (
            &[],
            [&build_only[..], &verbosity, &["-f", "--force"]].concat(),
            vec![],
            Some("Recreate the venv"),
        ),
        (
            &["init"],
            [&verbosity[..], &["-f", "--force"]].concat(),
            build_only.to_vec(),
            Some("Replace PATH"),
        ),
        (
            &["archive"],
            [&verbosity[..], &["-f", "--force", "--prefix", "--level"]].concat(),
            build_only.to_vec(),
            Some("Replace OUTPUT"),
        ),
        (
            &["publish"],
            [&verbosity[..], &["-f", "--force", "--repo", "--dry-run"]].concat(),
            [
                "-c",
                "--config",
                "--format",
                "--from-tar",
                "--installer",
                "--root",
            ]
            .to_vec(),
            Some("Replace a published package"),
        ),
        (
            &["packaging-files"],
            [&verbosity[..], &["-f", "--force"]].concat(),
            build_only.to_vec(),
            Some("Replace files"),
        ),
        (
            &["man"],
            vec![],
            [&build_only[..], &verbosity, &["-f", "--force"]].concat(),
            None,
        ),
        (
            &["schema"],
            vec![],
            [&build_only[..], &verbosity, &["-f", "--force"]].concat(),
            None,
        ),
        (
            &["completions"],
            vec![],
            [&build_only[..], &verbosity, &["-f", "--force"]].concat(),
            None,
        ),
    ];
    for (command, listed, foreign, force) in cases {
        let out = cfy_ap(dir.path(), &[command, &["--help"]].concat(), &[]);
        assert!(out.status.success(), "{command:?}\n{}", text(&out));
        let help = stdout(&out);
        let flags = listed_flags(&help);
        for f in &listed {
            assert!(
                flags.iter().any(|l| l == f),
                "{command:?} lacks {f}:\n{help}"
            );
        }
        for f in &foreign {
            assert!(
                !flags.iter().any(|l| l == f),
                "{command:?} lists {f}:\n{help}"
            );
        }
        assert!(flags.iter().any(|l| l == "--help"), "{command:?}:\n{help}");
        // The -f line in the command's own words; -v not the build's.
        let mut lines = help.lines();
        if let Some(words) = force {
            let at = lines
                .by_ref()
                .position(|l| l.trim_start().starts_with("-f, --force"))
                .unwrap();
            let line = help.lines().nth(at).unwrap().to_string() + lines.next().unwrap_or("");
            assert!(line.contains(words), "{command:?}: {line}");
        }
        if !command.is_empty() {
            assert!(!help.contains("Recreate the venv"), "{command:?}:\n{help}");
        }
        assert!(!help.contains("pip's output"), "{command:?}:\n{help}");
        assert!(help.contains("man cfy-ap"), "{command:?}:\n{help}");
    }
}

#[test]
fn options_before_a_command_reach_it_or_are_refused() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::create_dir(dir.join("d")).unwrap();
    std::fs::write(dir.join("d/a"), "a").unwrap();
    std::fs::write(dir.join("out.tar.gz"), "old").unwrap();
    // -f and -q before or after the command, as they always worked.
    for args in [
        &["-f", "archive", "d", "out.tar.gz"][..],
        &["-q", "-f", "archive", "d", "out.tar.gz"],
        &["archive", "d", "out.tar.gz", "-f", "-q"],
        &["-f", "init", "out.tar.gz"],
        &["init", "-q", "out.tar.gz", "--force"],
    ] {
        std::fs::write(dir.join("out.tar.gz"), "old").unwrap();
        let out = cfy_ap(dir, args, &[]);
        assert!(out.status.success(), "{args:?}\n{}", text(&out));
        assert_ne!(std::fs::read(dir.join("out.tar.gz")).unwrap(), b"old");
    }
    // publish: -f before it replaces the exported key as -f after it does.
    let gpg = common::apt::Gpg::new();
    let fpr = gpg.new_key("Ux Test <ux@example.invalid>", "ed25519", "sign", "");
    gpg.export_secret(&fpr, "", &dir.join("key.asc"));
    for args in [
        &[
            "-f",
            "publish",
            "--sign-key",
            "key.asc",
            "--export-key",
            "pub.asc",
        ][..],
        &[
            "publish",
            "--sign-key",
            "key.asc",
            "--export-key",
            "pub.asc",
            "-f",
        ],
    ] {
        std::fs::write(dir.join("pub.asc"), "old").unwrap();
        let out = cfy_ap(dir, args, &[]);
        assert!(out.status.success(), "{args:?}\n{}", text(&out));
        let exported = std::fs::read_to_string(dir.join("pub.asc")).unwrap();
        assert!(exported.contains("PUBLIC KEY"), "{args:?}");
    }
    // An option a command does not take is a usage error, not silently ignored
    // (`--dry-run archive` used to write the archive).
    std::fs::remove_file(dir.join("out.tar.gz")).unwrap();
    for (args, flag) in [
        (
            &["--dry-run", "archive", "d", "out.tar.gz"][..],
            "--dry-run",
        ),
        (&["-c", "x.yaml", "init", "out.tar.gz"], "-c/--config"),
        (&["-f", "man"], "-f/--force"),
        (&["-q", "schema"], "-q/--quiet"),
        (&["archive", "d", "out.tar.gz", "-c", "x.yaml"], "-c"),
        (&["-v", "archive", "d", "out.tar.gz", "-q"], "-v/--verbose"),
    ] {
        let out = cfy_ap(dir, args, &[]);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", text(&out));
        assert!(stderr(&out).contains(flag), "{args:?}\n{}", text(&out));
        assert!(!dir.join("out.tar.gz").exists(), "{args:?} wrote");
    }
}

/// Tests that build a whole agent (from the fixture wheels, 5-15 s of CPU each): the fast
/// tier (`bash tests/run.sh --fast`) skips every `builds` module.
mod builds {
    use super::*;

    #[test]
    fn progress_on_a_terminal() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        std::fs::write(
            dir.join("config.yaml"),
            wheel_config(
                "cloudify/Ubuntu-trusty-agent/env",
                "agent.tar.gz",
                "keep_venv: true\n",
            ),
        )
        .unwrap();
        let bin = bin().display().to_string();
        // Its own pip cache: concurrent builds sharing one can read half-written entries.
        let cache = dir.join(".pip-cache").display().to_string();
        let raw = on_a_terminal(
            dir,
            &format!("'{bin}' -c config.yaml"),
            &[("PIP_CACHE_DIR", &cache)],
        );
        // Spinners were drawn (redrawn in place) with the ongoing form of each step.
        assert!(raw.contains("\r\x1b[2K"), "no spinner:\n{raw:?}");
        assert!(raw.contains("creating virtualenv"), "{raw:?}");
        assert!(raw.contains("installing 10 modules with "), "{raw:?}");
        assert!(raw.contains("writing "), "{raw:?}");
        assert!(raw.contains("\x1b[1;32m==>\x1b[0m"), "no colour:\n{raw:?}");
        // What stays on the screen is exactly the step lines, each whole.
        let shown: Vec<String> = screen(&raw)
            .into_iter()
            .filter(|l| !l.trim().is_empty())
            .collect();
        assert!(shown.len() >= 6, "{shown:#?}");
        for l in &shown {
            let whole = (l.starts_with("==> ")
                && (l.ends_with("s)") || l.starts_with("==> validated ")))
                || l.starts_with("agent ready: ")
                || l.starts_with("kept virtualenv ");
            assert!(whole && !l.contains('…'), "torn line {l:?} in\n{shown:#?}");
        }
        assert!(
            shown
                .iter()
                .any(|l| l.starts_with("==> installed 10 modules with ")
                    && l.contains("additional_modules[0]"))
        );

        // NO_COLOR: the spinner stays, the colours go.
        let raw = on_a_terminal(
            dir,
            &format!("'{bin}' archive cloudify copy.tar.gz"),
            &[("NO_COLOR", "1")],
        );
        assert!(!raw.contains("\x1b[1;32m"), "{raw:?}");
        assert!(!raw.contains("\x1b[36m"), "{raw:?}");
        assert!(
            screen(&raw)
                .iter()
                .any(|l| l.starts_with("==> wrote copy.tar.gz (")),
            "{raw:?}"
        );

        // -q: nothing at all on success; CFY_AP_PROGRESS=plain: no escape sequences.
        let raw = on_a_terminal(
            dir,
            &format!("'{bin}' -q -f archive cloudify copy.tar.gz"),
            &[],
        );
        assert_eq!(raw, "", "quiet printed something");
        let raw = on_a_terminal(
            dir,
            &format!("'{bin}' -f archive cloudify copy.tar.gz"),
            &[("CFY_AP_PROGRESS", "plain")],
        );
        assert!(!raw.contains('\x1b'), "{raw:?}");
        assert!(raw.contains("==> wrote copy.tar.gz ("), "{raw:?}");
    }

    #[test]
    fn long_steps_show_life_in_logs() {
        let work = tempfile::tempdir().unwrap();
        let dir = work.path();
        std::fs::write(
            dir.join("config.yaml"),
            wheel_config("cloudify/a/env", "agent.tar.gz", "keep_venv: true\n"),
        )
        .unwrap();
        // stderr is a pipe (a CI log); a heartbeat every 0.2 s instead of 10 s.
        let fast = [("CFY_AP_HEARTBEAT", "0.2")];
        let out = cfy_ap(dir, &["-c", "config.yaml"], &fast);
        assert!(out.status.success(), "{}", text(&out));
        let err = stderr(&out);
        let beats: Vec<&str> = err
            .lines()
            .filter(|l| l.starts_with("... still "))
            .collect();
        let installing = beats
            .iter()
            .position(|l| {
                l.starts_with("... still installing 10 modules with ") && l.ends_with(" s)")
            })
            .unwrap_or_else(|| panic!("no heartbeat while installing:\n{err}"));
        // Present tense while the step runs; its past-tense line comes after.
        for beat in &beats {
            let verb = beat["... still ".len()..].split(' ').next().unwrap();
            assert!(verb.ends_with("ing"), "{beat}");
        }
        let beat_at = err.find(beats[installing]).unwrap();
        let done_at = err.find("==> installed 10 modules with ").unwrap();
        assert!(beat_at < done_at, "{err}");

        // -q stays quiet; CFY_AP_HEARTBEAT=0 turns the heartbeat off.
        let faster = [("CFY_AP_HEARTBEAT", "0.001")];
        let off = [("CFY_AP_HEARTBEAT", "0")];
        let out = cfy_ap(dir, &["archive", "cloudify", "copy.tar.gz"], &faster);
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            stderr(&out).contains("... still writing copy.tar.gz ("),
            "{}",
            text(&out)
        );
        // -v: the step's start line is in the present tense too.
        let out = cfy_ap(
            dir,
            &["-v", "archive", "cloudify", "copy.tar.gz", "-f"],
            &off,
        );
        assert!(out.status.success(), "{}", text(&out));
        assert!(
            stderr(&out).contains("--> writing copy.tar.gz ...\n"),
            "{}",
            text(&out)
        );
        let out = cfy_ap(
            dir,
            &["-q", "archive", "cloudify", "copy.tar.gz", "-f"],
            &faster,
        );
        assert!(out.status.success(), "{}", text(&out));
        assert_eq!(stderr(&out), "", "quiet printed something");
        let out = cfy_ap(dir, &["archive", "cloudify", "copy.tar.gz", "-f"], &off);
        assert!(out.status.success(), "{}", text(&out));
        assert!(!stderr(&out).contains("still"), "{}", text(&out));
    }
}
