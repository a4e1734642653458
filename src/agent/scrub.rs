//! Secrets inside the agent. pip and uv keep a module's URL as given in its
//! `*.dist-info/direct_url.json`, query included (`?token=…`), and so in the
//! tar, the packages and on every host. When the venv is finalised, [`scrub`]
//! redacts those files (`redact_stored`: credential query and fragment values
//! and user-info passwords), with their new hash and size in the dist-info's
//! `RECORD`; then it searches the venv's text metadata (dist-info and egg-info
//! files, `*.pth`, `*.egg-link`, `pyvenv.cfg`) for the config's secrets
//! (`redact::secrets` of the module sources, pip_options and the manager
//! source): one left fails the build (exit 1), naming the file, before anything
//! is archived.

use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::util::redact::redact_stored;
use base64::Engine;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Redact every `direct_url.json` of `venv` (a host path), then refuse the
/// venv if a metadata file still holds one of `secrets`.
pub(super) fn scrub(venv: &Path, secrets: &[String], log: &Log) -> Result<()> {
    let mut metadata = vec![venv.join("pyvenv.cfg")];
    for sp in super::dists::site_packages(venv)? {
        for e in std::fs::read_dir(&sp).ctx("reading", &sp)?.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            let path = e.path();
            if name.ends_with(".dist-info") && path.is_dir() {
                if redact_direct_url(&path)? {
                    log.detail(&format!(
                        "credentials removed from {}",
                        path.join("direct_url.json").display()
                    ));
                }
                metadata.extend(files_below(&path));
            } else if name.ends_with(".egg-info") && path.is_dir() {
                metadata.extend(files_below(&path));
            } else if [".egg-info", ".pth", ".egg-link"]
                .iter()
                .any(|x| name.ends_with(x))
            {
                metadata.push(path);
            }
        }
    }
    if secrets.is_empty() {
        return Ok(());
    }
    for file in metadata {
        // Regular files only: nothing else is metadata (or readable without risk).
        if !std::fs::symlink_metadata(&file).is_ok_and(|m| m.is_file()) {
            continue;
        }
        let Ok(bytes) = std::fs::read(&file) else {
            continue;
        };
        if secrets
            .iter()
            .any(|s| memchr::memmem::find(&bytes, s.as_bytes()).is_some())
        {
            return Err(Error::build(format!(
                "{} holds a credential from the config (a module source, pip_options or the manager source): refusing to ship it in the agent",
                file.display()
            ))
            .with("give the credential to pip another way (a netrc file, a keyring, PIP_INDEX_URL in the environment), or build from a local copy of that module"));
        }
    }
    Ok(())
}

fn files_below(dir: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(dir)
        .sort_by_file_name()
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

/// Redact `info/direct_url.json` and its line in `info/RECORD`; whether it changed.
fn redact_direct_url(info: &Path) -> Result<bool> {
    let file = info.join("direct_url.json");
    let Ok(text) = std::fs::read_to_string(&file) else {
        return Ok(false);
    };
    let clean = redact_stored(&text);
    if clean == text {
        return Ok(false);
    }
    // Replaced, never written in place: uv hard-links files from its cache.
    crate::util::atomic::replace_contents(&file, clean.as_bytes(), None).ctx("rewriting", &file)?;
    let record = info.join("RECORD");
    if let Ok(lines) = std::fs::read_to_string(&record) {
        let dir = info.file_name().unwrap_or_default().to_string_lossy();
        let updated = record_with(&lines, &format!("{dir}/direct_url.json"), clean.as_bytes());
        if updated != lines {
            crate::util::atomic::replace_contents(&record, updated.as_bytes(), None)
                .ctx("rewriting", &record)?;
        }
    }
    Ok(true)
}

/// `record` (a PEP 376 `RECORD`) with the line of `name` giving `data`'s
/// hash and size.
fn record_with(record: &str, name: &str, data: &[u8]) -> String {
    let hash = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(Sha256::digest(data));
    record
        .split_inclusive('\n')
        .map(|line| match line.strip_prefix(name) {
            Some(rest) if rest.starts_with(',') => {
                let end = &line[line.trim_end_matches(['\r', '\n']).len()..];
                format!("{name},sha256={hash},{}{end}", data.len())
            }
            _ => line.to_string(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_line_follows_the_new_contents() {
        let record = "x/__init__.py,sha256=abc,3\nx-1.dist-info/direct_url.json,sha256=old,99\nx-1.dist-info/RECORD,,\n";
        let got = record_with(record, "x-1.dist-info/direct_url.json", b"{}");
        assert_eq!(
            got,
            "x/__init__.py,sha256=abc,3\nx-1.dist-info/direct_url.json,sha256=RBNvo1WzZ4oRRq0W9-hknpT7T8If536DEMBg9hyq_4o,2\nx-1.dist-info/RECORD,,\n"
        );
    }

    #[test]
    fn direct_urls_are_redacted_and_leftover_secrets_refused() {
        let d = tempfile::tempdir().unwrap();
        let sp = d.path().join("lib/python3.11/site-packages");
        let info = sp.join("x-1.dist-info");
        std::fs::create_dir_all(&info).unwrap();
        std::fs::write(d.path().join("pyvenv.cfg"), "home = /usr/bin\n").unwrap();
        std::fs::write(
            info.join("direct_url.json"),
            r#"{"archive_info": {}, "url": "https://h/x-1.whl?token=SECRET99"}"#,
        )
        .unwrap();
        std::fs::write(
            info.join("RECORD"),
            "x-1.dist-info/direct_url.json,sha256=old,60\n",
        )
        .unwrap();
        let log = Log::new(false, true);
        let secrets = vec!["SECRET99".to_string()];
        scrub(d.path(), &secrets, &log).unwrap();
        let text = std::fs::read_to_string(info.join("direct_url.json")).unwrap();
        assert_eq!(
            text,
            r#"{"archive_info": {}, "url": "https://h/x-1.whl?token=****"}"#
        );
        let record = std::fs::read_to_string(info.join("RECORD")).unwrap();
        assert!(record.ends_with(&format!(",{}\n", text.len())), "{record}");
        std::fs::write(info.join("METADATA"), "Summary: see SECRET99\n").unwrap();
        let e = scrub(d.path(), &secrets, &log).unwrap_err();
        assert_eq!(e.exit_code(), 1);
        assert!(e.message.contains("x-1.dist-info/METADATA"), "{e}");
    }
}
