//! The two module sets (`profile`): what `cfy-ap init --profile` writes builds
//! offline from the fixtures once only the download locations are pointed at
//! them; the dry run names the profile; celery is optional.

use crate::common;

use common::*;
use std::path::Path;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// `cfy-ap init [--profile P] -` as if on Ubuntu trusty: the config text.
fn init(dir: &Path, profile: Option<&str>) -> String {
    let root = fixtures().join("sysroots/ubuntu-trusty");
    let mut args = vec!["init", "-"];
    if let Some(p) = profile {
        args.extend(["--profile", p]);
    }
    let out = cfy_ap(dir, &args, &[("CFY_AP_SYSROOT", root.to_str().unwrap())]);
    assert!(out.status.success(), "{}", text(&out));
    stdout(&out)
}

/// `written` with the places things come from pointed at the fixtures (pip's
/// index and the cloudify-manager source) and the build kept in this directory
/// (venv, output, python3: the fixtures are Python 3 stand-ins). Nothing else
/// of what init wrote is changed.
fn offline(written: &str) -> String {
    let f = fixtures();
    let mut lines: Vec<String> = Vec::new();
    for line in written.lines() {
        for key in [
            "venv:",
            "output_tar:",
            "pip_options:",
            "management_modules_source:",
        ] {
            assert!(!line.starts_with(key), "init set {key}: {line}");
        }
        lines.push(match line.starts_with("python_path:") {
            true => format!("python_path: {PYTHON}"),
            false => line.to_string(),
        });
    }
    lines.push("venv: cloudify/env".into());
    lines.push("output_tar: agent.tar.gz".into());
    lines.push(format!(
        "pip_options: [--no-index, --find-links, {}/wheels]",
        f.display()
    ));
    lines.push(format!(
        "management_modules_source: {}/cloudify-manager-master.tar.gz",
        f.display()
    ));
    lines.join("\n") + "\n"
}

/// The distributions in the agent tar (`name-version` of their `.dist-info`; pip's
/// own and setuptools left out), sorted.
fn dists_in_tar(tar: &Path) -> Vec<String> {
    let listing = tool("tar", &["tzf", tar.to_str().unwrap()]);
    let mut dists: Vec<String> = listing
        .lines()
        .filter_map(|l| l.strip_suffix(".dist-info/"))
        .filter_map(|l| l.rsplit('/').next())
        .filter(|d| !d.starts_with("pip-") && !d.starts_with("setuptools-"))
        .map(str::to_string)
        .collect();
    dists.sort();
    dists
}

/// Build the config `init --profile <profile>` writes, offline; return the
/// dry run's plan and the distributions in the agent.
fn build(profile: &str) -> (String, Vec<String>) {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let written = init(dir, Some(profile));
    assert!(
        written.contains(&format!("\nprofile: {profile}\n")),
        "{written}"
    );
    std::fs::write(dir.join("config.yaml"), offline(&written)).unwrap();
    let out = cfy_ap(dir, &["--dry-run"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let plan = stdout(&out);
    let out = cfy_ap(dir, &[], &[]);
    assert!(out.status.success(), "{profile}: {}", text(&out));
    (plan, dists_in_tar(&dir.join("agent.tar.gz")))
}

#[test]
fn init_profile_modern_builds_offline_from_the_fixtures() {
    let (plan, dists) = build("modern");
    assert!(plan.contains("\nprofile:      modern ("), "{plan}");
    assert_eq!(
        module_lines(&plan),
        ["cloudify_common cloudify-common==7.0.5"]
    );
    assert!(!plan.contains("manager source"), "{plan}");
    assert_eq!(dists, ["cloudify_common-7.0.5"]);
}

#[test]
fn init_profile_legacy_builds_offline_from_the_fixtures() {
    let (plan, dists) = build("legacy");
    assert!(plan.contains("\nprofile:      legacy ("), "{plan}");
    // Pinned releases from PyPI, not GitHub master tarballs.
    for pinned in [
        "celery==3.1.17",
        "cloudify-rest-client==3.2",
        "cloudify-plugins-common==3.2",
        "cloudify-script-plugin==1.2",
        "cloudify-diamond-plugin==1.2",
    ] {
        assert!(plan.contains(pinned), "{pinned} missing:\n{plan}");
    }
    let modules = module_lines(&plan);
    assert_eq!(modules.len(), 9, "{modules:?}");
    assert!(!modules.iter().any(|m| m.contains("github")), "{modules:?}");
    assert_eq!(
        dists,
        [
            "celery-3.1.17",
            "cloudify_agent_installer_plugin-3.2",
            "cloudify_diamond_plugin-1.2",
            "cloudify_plugin_installer_plugin-3.2",
            "cloudify_plugins_common-3.2",
            "cloudify_rest_client-3.2",
            "cloudify_script_plugin-1.2",
            "cloudify_windows_agent_installer_plugin-3.2",
            "cloudify_windows_plugin_installer_plugin-3.2",
        ]
    );
}

#[test]
fn init_without_profile_writes_the_legacy_config_and_says_so() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    assert_eq!(init(dir, None), init(dir, Some("legacy")));
    // The legacy pins need Python 2, the modern ones 3.8: each config says so.
    assert!(init(dir, None).contains("Python 2"));
    assert!(init(dir, Some("modern")).contains("Python 3.8"));
    let out = cfy_ap(dir, &["init", "--help"], &[]);
    assert!(out.status.success(), "{}", text(&out));
    let help = stdout(&out);
    for needed in ["--profile", "legacy", "modern", "[default: legacy]"] {
        assert!(help.contains(needed), "{needed} missing:\n{help}");
    }
    let out = cfy_ap(dir, &["man"], &[]);
    let page = stdout(&out);
    for needed in [
        "\\fB\\-\\-profile\\fR \\fI<PROFILE>\\fR [default: legacy]",
        "\nmodern: Cloudify 4.4 and later",
    ] {
        assert!(page.contains(needed), "{needed} missing:\n{page}");
    }
}

#[test]
fn an_unknown_profile_is_a_usage_error_listing_the_choices() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let out = cfy_ap(dir, &["init", "--profile", "newest", "-"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("'newest'"), "{err}");
    assert!(err.contains("[possible values: legacy, modern]"), "{err}");
    assert!(stdout(&out).is_empty());
    // In the config: a located error naming both.
    std::fs::write(dir.join("c.yaml"), "release: x\nprofile: newest\n").unwrap();
    let out = cfy_ap(dir, &["-c", "c.yaml", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(err.contains("c.yaml:2:"), "{err}");
    assert!(err.contains("legacy") && err.contains("modern"), "{err}");
}

/// The module lines of a dry run's plan: `key source`, in install order.
fn module_lines(plan: &str) -> Vec<String> {
    let start = plan.find("modules (in install order):\n").expect("modules");
    plan[start..]
        .lines()
        .skip(1)
        .take_while(|l| l.starts_with("  "))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect()
}

/// A dry run of `yaml` (distribution and release given): the plan.
fn dry_run(yaml: &str) -> String {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let cfg = format!("distribution: Ubuntu\nrelease: trusty\npython_path: {PYTHON}\n{yaml}");
    std::fs::write(dir.join("config.yaml"), cfg).unwrap();
    let out = cfy_ap(dir, &["--dry-run"], &[]);
    assert!(out.status.success(), "{yaml}\n{}", text(&out));
    stdout(&out)
}

/// The module lines of a dry run of `yaml`.
fn planned_modules(yaml: &str) -> Vec<String> {
    module_lines(&dry_run(yaml))
}

#[test]
fn celery_is_optional() {
    // modern: not installed unless given; given, it goes first.
    assert_eq!(
        planned_modules("profile: modern\n"),
        ["cloudify_common cloudify-common==7.0.5"]
    );
    assert_eq!(
        planned_modules(
            "profile: modern\nbase_modules:\n  celery: celery==5.5.3\nadditional_modules: [tzdata]\n"
        ),
        [
            "celery celery==5.5.3",
            "cloudify_common cloudify-common==7.0.5",
            "additional_modules[0] tzdata"
        ]
    );
    // legacy (the default, as in the seed's configs): installed unless skipped
    // like any other module.
    let legacy = planned_modules("");
    assert_eq!(
        dry_run("")
            .lines()
            .filter(|l| l.starts_with("profile:      legacy, the default (Cloudify 3.x"))
            .count(),
        1
    );
    assert_eq!(legacy[0], "celery celery==3.1.17");
    assert_eq!(legacy.len(), 9, "{legacy:?}");
    let skipped = planned_modules("base_modules:\n  celery: none\n");
    assert_eq!(skipped, legacy[1..]);
}

#[test]
fn nothing_to_install_is_a_config_error() {
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    std::fs::write(
        dir.join("c.yaml"),
        "distribution: Ubuntu\nrelease: trusty\nprofile: modern\nbase_modules:\n  cloudify_common: none\n",
    )
    .unwrap();
    let out = cfy_ap(dir, &["-c", "c.yaml", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        stderr(&out).contains("no module to install"),
        "{}",
        text(&out)
    );
}
