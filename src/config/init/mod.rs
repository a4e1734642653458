//! `cfy-ap init`: a commented example config for this host and a profile,
//! every key with its default and what it does (the modules: [`modules`]).

mod modules;

use crate::config::Profile;
use crate::config::detect::{self, Host};
use crate::error::{Error, Result};
use crate::util::atomic::AtomicFile;
pub(crate) use modules::host_python;
use std::io::Write;
use std::path::Path;

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

/// The example config text for `profile`. `host`: the detected distribution
/// (None when it could not be detected); `python`: the interpreter found on this host.
pub(crate) fn example_config(
    host: Option<&Host>,
    python: Option<&Path>,
    profile: Profile,
) -> String {
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
    for line in modules::python_note(profile) {
        out(line);
    }
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
    for line in modules::section(profile) {
        out(&line);
    }
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
    out("# uv's own). It also holds the bytecode cache, in cfy-ap-pyc (default:");
    out("# $XDG_CACHE_HOME/cfy-ap/pyc, else ~/.cache/cfy-ap/pyc). It and the venv must");
    out("# not contain each other. `~` is not expanded; a relative path is relative to");
    out("# the current directory.");
    out("# cache_dir: /var/cache/cfy-ap");
    out("# bytecode_cache: true          # reuse .pyc of earlier builds (CPython 3.7-3.10)");
    out("");
    out("# The agent archive, and its gzip level (1-9).");
    out(&format!("# output_tar: {agent}.tar.gz"));
    out(&format!(
        "# tar_compression_level: {}",
        super::DEFAULT_TAR_LEVEL
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
    out(
        "#   repo: ./apt-repo           # or s3://BUCKET/PREFIX (AWS_ENDPOINT_URL, AWS_PROFILE...)",
    );
    out("#   codename: stable");
    out("#   suite: <the codename>");
    out("#   component: main");
    out("#   origin: cfy-ap");
    out("#   label: cfy-ap");
    out("#   sign_key: <none>");
    out("#   rpm_repo: ./yum-repo       # a yum repository for the .rpm (--format rpm)");
    out("#   keep: 3                    # keep the newest 3 versions of each package");
    out("#   release_hashes: [SHA256]   # add SHA512; MD5Sum, SHA1 for old mirroring tools");
    out("#   architectures: [arm64]     # listed besides the packages' and this run's agents'");
    out("#   grace: 1d                  # s3:// only: how long replaced objects stay for clients");
    s
}

/// The example config for this host and `profile`.
pub(crate) fn text(profile: Profile) -> String {
    let host = detect::detect().ok();
    let python = host_python(profile);
    example_config(host.as_ref(), python.as_deref(), profile)
}

/// Write the example config for `profile` to the file `path` (standard output
/// is the command line's). Refuses to replace an existing file without `force`.
pub(crate) fn write(path: &Path, force: bool, profile: Profile) -> Result<String> {
    let text = text(profile);
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
        let keys = config_keys();
        for profile in Profile::ALL {
            let text = example_config(Some(&host), Some(Path::new("/usr/bin/python3")), profile);
            let cfg = crate::config::parse_str(&text, "init").unwrap();
            assert_eq!(cfg.distribution.as_deref(), Some("Ubuntu"));
            assert_eq!(cfg.release.as_deref(), Some("trusty"));
            assert_eq!(cfg.python_path.as_deref(), Some("/usr/bin/python3"));
            assert_eq!(cfg.profile, Some(profile));
            // Every key of the config is named, set or commented out.
            for key in keys.iter().filter(|k| !k.contains('.')) {
                assert!(
                    text.contains(&format!("\n{key}:")) || text.contains(&format!("# {key}:")),
                    "{key} missing from the {profile:?} example"
                );
            }
            for (section, key) in keys.iter().filter_map(|k| k.split_once('.')) {
                let named = [
                    format!("\n#   {key}:"),
                    format!("\n  {key}:"),
                    format!("\n  # {key}:"),
                ];
                assert!(
                    named.iter().any(|n| text.contains(n.as_str())),
                    "{section}.{key} missing from the {profile:?} example"
                );
            }
        }
        // Undetected, no Python: what is set is the profile and its modules.
        let undetected = example_config(None, None, Profile::Legacy);
        let cfg = crate::config::parse_str(&undetected, "init").unwrap();
        assert_eq!((cfg.distribution, cfg.python_path), (None, None));
    }

    #[test]
    fn scalars_are_quoted_when_needed() {
        assert_eq!(scalar("trusty"), "trusty");
        assert_eq!(scalar("3.19.1"), "3.19.1");
        assert_eq!(scalar("no"), "'no'");
        assert_eq!(scalar("it's x"), "'it''s x'");
    }
}
