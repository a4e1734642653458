//! `cfy-ap init`: a commented example config for this host, every key with its
//! default and what it does.

use crate::config::detect::{self, Host};
use crate::config::modules;
use crate::error::{Error, Result};
use crate::util::atomic::AtomicFile;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The interpreter a build would use on this host without `python_path`.
/// The interpreter for `python_path` on this host: the system's (/usr/bin/python,
/// then /usr/bin/python3), else python3 from PATH.
pub fn host_python() -> Option<PathBuf> {
    ["/usr/bin/python", "/usr/bin/python3"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| crate::plan::find_on_path("python3"))
}

/// A YAML scalar for `s`: plain when that is unambiguous, else single-quoted.
fn scalar(s: &str) -> String {
    let plain = !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/'))
        && !matches!(
            s.to_ascii_lowercase().as_str(),
            "true" | "false" | "yes" | "no" | "on" | "off" | "null" | "none" | "~"
        );
    if plain {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "''"))
    }
}

/// The example config text. `host`: the detected distribution (None when it could
/// not be detected); `python`: the interpreter found on this host.
pub fn example_config(host: Option<&Host>, python: Option<&Path>) -> String {
    let mut s = String::new();
    let mut out = |line: &str| {
        s.push_str(line);
        s.push('\n');
    };
    out("# cfy-ap config, written by `cfy-ap init` for this host.");
    out("# Every key is optional: a commented-out line shows the key's default.");
    out("# Check it with `cfy-ap -c <this file> --dry-run`, build with `cfy-ap -c <this file>`.");
    out("# Editors can validate it against the JSON Schema from `cfy-ap schema`.");
    out("");
    out("# The agent's name is <distribution>-<release>-agent; installers look for that");
    out("# file. Both default to this host's /etc/os-release (old platform.dist() names).");
    let agent = match host {
        Some(h) => {
            out("# Detected on this host:");
            out(&format!("distribution: {}", scalar(&h.distribution)));
            out(&format!("release: {}", scalar(&h.release)));
            format!("{}-{}-agent", h.distribution, h.release)
        }
        None => {
            out("# Could not be detected on this host: set both, e.g.");
            out("# distribution: Ubuntu");
            out("# release: trusty");
            "<distribution>-<release>-agent".to_string()
        }
    };
    out("");
    out("# Where the virtualenv is built: also the path of the agent's files in the tar");
    out("# (without the leading /). A relative path is relative to the current directory.");
    out(&format!("# venv: /cloudify/{agent}/env"));
    out("");
    out("# The interpreter the virtualenv is made with. The agent needs the same");
    out("# interpreter at the same path on the machines it runs on.");
    out("# Default: /usr/bin/python, else python3 from PATH. Found on this host:");
    match python {
        Some(p) => out(&format!(
            "python_path: {}",
            scalar(&p.display().to_string())
        )),
        None => out("# python_path: /usr/bin/python3   (no Python found on this host)"),
    }
    out("");
    out("# Make the agent work from any directory it is extracted to (console scripts");
    out("# and activate find their own location). false: a plain virtualenv.");
    out("# relocatable: true");
    out("");
    out("# The base modules, installed in this order. Each is a pip requirement");
    out("# (name==version, a URL or a local path); none or false skips it (not celery).");
    out("# base_modules:");
    out(&format!("#   celery: {}", modules::DEFAULT_CELERY));
    for (key, repo) in modules::BASE_MODULES {
        out(&format!("#   {key}: {}", modules::base_default(repo)));
    }
    out("");
    out("# The management modules come from the cloudify-manager source tree at this");
    out("# version (a branch or tag), unless given as pip requirements below.");
    out("# management_modules_version: master");
    out("# management_modules:");
    for key in modules::MANAGEMENT_MODULES {
        out(&format!(
            "#   {key}: <{} of the manager source>",
            modules::manager_subdir(key)
        ));
    }
    out("# Where the manager source comes from: a URL template with {version}, a local");
    out("# .tar.gz or a local directory.");
    out(&format!(
        "# management_modules_source: {}",
        modules::DEFAULT_MANAGER_SOURCE
    ));
    out("");
    out("# Your plugins and other modules, installed last, in this order.");
    out("# additional_modules:");
    out("#   - my-plugin==1.0");
    out("");
    out("# Extra arguments for every `pip install` (offline builds: a wheel directory).");
    out("# pip_options: [--no-index, --find-links, ./wheels]");
    out("");
    out("# What installs the modules: pip, uv, or auto (uv when it is found and the");
    out("# Python is 3.7 or later, else pip). uv takes only --index-url,");
    out("# --extra-index-url, --find-links and --no-index from pip_options.");
    out("# installer: auto");
    out("# uv_path: uv                   # default: uv on PATH (`pip install uv`)");
    out("# virtualenv_path: DIR          # Python 2.7: virtualenv installed with pip --target DIR");
    out("# The installer's download and wheel cache (its --cache-dir; default: pip's or");
    out("# uv's own), which also holds the bytecode cache (cfy-ap-pyc; default:");
    out("# ~/.cache/cfy-ap/pyc). Not inside the venv; `~` is not expanded.");
    out("# cache_dir: /var/cache/cfy-ap");
    out("# bytecode_cache: true          # reuse .pyc of earlier builds (CPython 3.7-3.10)");
    out("");
    out("# The agent archive, and its gzip level (1-9).");
    out(&format!("# output_tar: {agent}.tar.gz"));
    out(&format!(
        "# tar_compression_level: {}",
        crate::plan::DEFAULT_TAR_LEVEL
    ));
    out("");
    out("# Keep the virtualenv after the tar is written (it is deleted by default).");
    out("# keep_venv: false");
    out("");
    out("# Build one agent per root filesystem (like --root DIR): python_path and venv");
    out("# are paths inside each root; each agent is named by its root's distribution.");
    out("# build_roots: [/srv/roots/debian-bullseye, /srv/roots/centos-7]");
    out("");
    out("# The agent's CPU architecture (arm64 or aarch64...), detected from the");
    out("# interpreter (the root's with --root); set it to refuse any other. Other than");
    out("# x86_64, it is in the default tar and venv names (debian-bookworm-aarch64-agent).");
    out("# architecture: <detected>");
    out("");
    out("# The manager package, for `--format deb` and `--format rpm`.");
    out("# package:");
    out("#   version: 3.2rc1            # required for deb/rpm (or $VERSION)");
    out("#   name: cloudify-<distribution>-<release>-agent   # lowercased");
    out("#   revision: 1");
    out("#   architecture: <this host's>");
    out("#   maintainer: 'Cloudify Agent Packager <cfy-ap@example.invalid>'");
    out("#   description: <generated>");
    out("#   homepage: https://example.org/   # no default");
    out("#   license: Apache-2.0");
    out("#   copyright: <the authors of the bundled modules>");
    out("#   depends: []                 # deb dependencies");
    out("#   rpm_depends: []             # rpm requirements");
    out("#   resources_dir: /opt/manager/resources");
    out("#   config_files: <packaging/ beside this file, else the system's>");
    out("#   compression: gzip           # gzip, xz, zstd or none");
    out("#   compression_level: <the compression's default>");
    out("#   output_dir: <the directory of output_tar>");
    out("#   sign_key: <none>            # armored OpenPGP secret key to sign the rpm");
    out("");
    out("# An apt repository to publish the .deb into (see `cfy-ap publish --help`).");
    out("# publish:");
    out("#   repo: ./apt-repo");
    out("#   codename: stable");
    out("#   suite: <the codename>");
    out("#   component: main");
    out("#   origin: cfy-ap");
    out("#   label: cfy-ap");
    out("#   sign_key: <none>");
    out("#   rpm_repo: ./yum-repo       # a yum repository for the .rpm (--format rpm)");
    out("#   keep: 3                    # keep the newest 3 versions of each package");
    out("#   release_hashes: [SHA256]   # add SHA512; MD5Sum, SHA1 for old mirroring tools");
    s
}

/// The example config for this host.
pub fn text() -> String {
    let host = detect::detect().ok();
    let python = host_python();
    example_config(host.as_ref(), python.as_deref())
}

/// Write the example config to the file `path` (standard output is the
/// command line's). Refuses to replace an existing file without `force`.
pub fn write(path: &Path, force: bool) -> Result<String> {
    let text = text();
    crate::util::atomic::check_replaceable(path)?;
    if path.exists() && !force {
        return Err(Error::exists(format!("{} already exists", path.display()))
            .with("use -f/--force to replace it, or give another path: cfy-ap init other.yaml"));
    }
    let mut file = AtomicFile::create(path)?;
    let tmp = file.path().to_path_buf();
    file.file()
        .write_all(text.as_bytes())
        .map_err(|e| Error::io("writing", &tmp, e))?;
    file.commit(force)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every key of the config (`key`, `section.key`), from its JSON Schema
    /// (which is derived from the config types; hyphenated aliases left out).
    fn config_keys() -> Vec<String> {
        let schema = crate::config::json_schema::config_schema();
        let mut keys = Vec::new();
        for (k, v) in schema["properties"].as_object().expect("properties") {
            keys.push(k.clone());
            if let Some(inner) = v.get("properties").and_then(|p| p.as_object()) {
                let names = inner.keys().filter(|i| !i.contains('-'));
                keys.extend(names.map(|i| format!("{k}.{i}")));
            }
        }
        keys
    }

    #[test]
    fn example_parses_and_names_every_key() {
        let host = Host {
            distribution: "Ubuntu".into(),
            release: "trusty".into(),
        };
        let text = example_config(Some(&host), Some(Path::new("/usr/bin/python3")));
        let cfg = crate::config::parse_str(&text, "init").unwrap();
        assert_eq!(cfg.distribution.as_deref(), Some("Ubuntu"));
        assert_eq!(cfg.release.as_deref(), Some("trusty"));
        assert_eq!(cfg.python_path.as_deref(), Some("/usr/bin/python3"));
        // Uncommenting every `# key: value` line at the top level parses too, and
        // names every key of the config.
        let keys = config_keys();
        for key in keys.iter().filter(|k| !k.contains('.')) {
            assert!(
                text.contains(&format!("\n{key}:")) || text.contains(&format!("# {key}:")),
                "{key} missing from the example"
            );
        }
        for key in keys.iter().filter_map(|k| k.split_once('.')) {
            assert!(
                text.contains(&format!("#   {}:", key.1)),
                "{}.{} missing from the example",
                key.0,
                key.1
            );
        }
        let undetected = example_config(None, None);
        assert_eq!(
            crate::config::parse_str(&undetected, "init").unwrap(),
            crate::config::Config::default()
        );
    }

    #[test]
    fn scalars_are_quoted_when_needed() {
        assert_eq!(scalar("trusty"), "trusty");
        assert_eq!(scalar("3.19.1"), "3.19.1");
        assert_eq!(scalar("no"), "'no'");
        assert_eq!(scalar("it's x"), "'it''s x'");
    }
}
