//! Detect the host's distribution and release the way Python's old
//! `platform.dist()` named them, so old agent installers find the file.
//!
//! Files are read under `$CFY_AP_SYSROOT` when that variable is set (tests).

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    pub distribution: String,
    pub release: String,
}

/// The root directory the `/etc` files are read under.
pub(crate) fn sysroot() -> PathBuf {
    std::env::var_os("CFY_AP_SYSROOT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/"))
}

pub(crate) fn detect() -> Result<Host> {
    detect_in(&sysroot())
}

pub(crate) fn detect_in(root: &Path) -> Result<Host> {
    let os = read_kv(&root.join("etc/os-release"));
    let lsb = read_kv(&root.join("etc/lsb-release"));
    let redhat = std::fs::read_to_string(root.join("etc/redhat-release")).ok();

    let distribution = if let Some(id) = os.as_ref().and_then(|m| m.get("ID")) {
        dist_name(id)
    } else if let Some(id) = lsb.as_ref().and_then(|m| m.get("DISTRIB_ID")) {
        id.clone()
    } else if let Some(first) = redhat.as_deref().and_then(|t| t.split_whitespace().next()) {
        first.to_lowercase()
    } else {
        return Err(not_detected(root, "no distribution name found"));
    };

    let get = |m: &Option<HashMap<String, String>>, k: &str| {
        m.as_ref()
            .and_then(|m| m.get(k))
            .filter(|v| !v.is_empty())
            .cloned()
    };
    let release = get(&os, "VERSION_CODENAME")
        .or_else(|| get(&os, "UBUNTU_CODENAME"))
        .or_else(|| get(&lsb, "DISTRIB_CODENAME"))
        .or_else(|| get(&os, "VERSION").and_then(|v| in_parens(&v)))
        .or_else(|| redhat.as_deref().and_then(in_parens))
        .or_else(|| get(&os, "VERSION_ID"));
    match release {
        Some(release) => Ok(Host {
            distribution,
            release,
        }),
        None => Err(not_detected(root, "no release code name found")),
    }
}

fn not_detected(root: &Path, why: &str) -> Error {
    Error::config(format!(
        "cannot detect the distribution: {why} in {}etc/os-release, etc/lsb-release or etc/redhat-release",
        root.display().to_string().trim_end_matches('/').to_string() + "/"
    ))
    .with("set `distribution` and `release` in the config file (e.g. distribution: Ubuntu, release: trusty)")
}

/// os-release `ID` → the name `platform.dist()` used.
fn dist_name(id: &str) -> String {
    match id {
        "ubuntu" => "Ubuntu".into(),
        "rhel" => "redhat".into(),
        other => other.to_string(),
    }
}

fn in_parens(text: &str) -> Option<String> {
    let start = text.find('(')? + 1;
    let end = start + text[start..].find(')')?;
    let word = text[start..end].trim();
    (!word.is_empty()).then(|| word.to_string())
}

/// Parse `KEY=value` lines, with optional single or double quotes.
fn read_kv(path: &Path) -> Option<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut map = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(v);
            map.insert(k.trim().to_string(), v.replace("\\\"", "\""));
        }
    }
    Some(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root_with(files: &[(&str, &str)]) -> tempfile::TempDir {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("etc")).unwrap();
        for (name, text) in files {
            std::fs::write(d.path().join("etc").join(name), text).unwrap();
        }
        d
    }

    #[test]
    fn ubuntu_trusty_uses_lsb_codename() {
        let d = root_with(&[
            (
                "os-release",
                "NAME=\"Ubuntu\"\nVERSION=\"14.04.6 LTS, Trusty Tahr\"\nID=ubuntu\nVERSION_ID=\"14.04\"\n",
            ),
            (
                "lsb-release",
                "DISTRIB_ID=Ubuntu\nDISTRIB_CODENAME=trusty\n",
            ),
        ]);
        let h = detect_in(d.path()).unwrap();
        assert_eq!(
            (h.distribution.as_str(), h.release.as_str()),
            ("Ubuntu", "trusty")
        );
    }

    #[test]
    fn centos7_from_version_parens_and_centos6_from_redhat_release() {
        let d = root_with(&[(
            "os-release",
            "ID=\"centos\"\nVERSION=\"7 (Core)\"\nVERSION_ID=\"7\"\n",
        )]);
        let h = detect_in(d.path()).unwrap();
        assert_eq!(
            (h.distribution.as_str(), h.release.as_str()),
            ("centos", "Core")
        );
        let d = root_with(&[("redhat-release", "CentOS release 6.10 (Final)\n")]);
        let h = detect_in(d.path()).unwrap();
        assert_eq!(
            (h.distribution.as_str(), h.release.as_str()),
            ("centos", "Final")
        );
    }

    #[test]
    fn rhel_debian_other_and_version_id_fallback() {
        let d = root_with(&[("os-release", "ID=rhel\nVERSION=\"8.9 (Ootpa)\"\n")]);
        assert_eq!(detect_in(d.path()).unwrap().distribution, "redhat");
        let d = root_with(&[("os-release", "ID=debian\nVERSION_CODENAME=bookworm\n")]);
        assert_eq!(detect_in(d.path()).unwrap().release, "bookworm");
        let d = root_with(&[("os-release", "ID=alpine\nVERSION_ID=3.19.1\n")]);
        let h = detect_in(d.path()).unwrap();
        assert_eq!(
            (h.distribution.as_str(), h.release.as_str()),
            ("alpine", "3.19.1")
        );
    }

    #[test]
    fn nothing_is_a_config_error() {
        let d = root_with(&[]);
        let e = detect_in(d.path()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("set `distribution` and `release`"));
    }
}
