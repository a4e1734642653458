//! Configuration: the YAML schema, loading with located errors, and host detection.

pub(crate) mod detect;
pub(crate) mod init;
pub(crate) mod json_schema;
pub(crate) mod modules;
mod profile;
mod source;
mod types;

pub(crate) use profile::Profile;
pub(crate) use source::ModuleSource;
pub use types::Config;
pub(crate) use types::{InstallerChoice, Package, Publish};

use crate::error::{Error, Result};
use crate::util::input::{MAX_CONFIG, read_bounded};
use crate::util::redact::redact;
use std::path::Path;

/// `tar_compression_level` when the config has none (and `archive --level`'s default).
pub(crate) const DEFAULT_TAR_LEVEL: u32 = 6;

/// Read and parse a config file. Errors name `file:line:col` and show the line.
pub(crate) fn load_file(path: &Path) -> Result<Config> {
    if !path.exists() {
        return Err(
            Error::config(format!("config file {} not found", path.display())).with(
                "give the right path with -c PATH, or write a commented example with `cfy-ap init`",
            ),
        );
    }
    let bytes = read_bounded(path, "config file", MAX_CONFIG)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| Error::config(format!("config file {} is not UTF-8 text", path.display())))?;
    parse_str(&text, &path.display().to_string())
}

/// Parse config text; `origin` names the file in error messages. An empty file is
/// an empty config (every key at its default).
pub(crate) fn parse_str(text: &str, origin: &str) -> Result<Config> {
    match serde_saphyr::from_str::<Option<Config>>(text) {
        Ok(c) => Ok(c.unwrap_or_default()),
        Err(e) => Err(located_error(&e, origin)),
    }
}

fn located_error(e: &serde_saphyr::Error, origin: &str) -> Error {
    let plain = e.without_snippet().to_string();
    // serde-saphyr appends " at line L, column C"; we print the location first instead.
    let message = match plain.rfind(" at line ") {
        Some(i) => plain[..i].to_string(),
        None => plain.clone(),
    };
    let hint = suggestion(&message);
    // Values in messages and snippets may hold credentials (index URLs).
    let message = redact(&message);
    let mut err = match e.location() {
        Some(loc) => Error::config(format!(
            "{origin}:{}:{}: {message}",
            loc.line(),
            loc.column()
        )),
        None => Error::config(format!("{origin}: {message}")),
    };
    // The rendered snippet: drop serde-saphyr's own first line and name the file.
    let rendered = e.to_string();
    for line in rendered.lines().skip(1) {
        err = err.with(redact(&line.replace("<input>", origin)));
    }
    if let Some(h) = hint {
        err = err.with(h);
    }
    err
}

/// For "unknown field `x`, expected one of a, b, c": the closest valid key.
fn suggestion(message: &str) -> Option<String> {
    let rest = message.strip_prefix("unknown field `")?;
    let (unknown, rest) = rest.split_once('`')?;
    let list = rest.split_once("expected one of ")?.1;
    let candidates: Vec<&str> = list
        .split(',')
        .map(|s| s.trim().trim_matches('`'))
        .filter(|s| !s.is_empty())
        .collect();
    let best = candidates
        .iter()
        .map(|c| (edit_distance(unknown, c), *c))
        .min()?;
    let limit = (unknown.len() / 2).max(2);
    if best.0 <= limit {
        Some(format!("did you mean `{}`?", best.1))
    } else {
        Some(format!("valid keys here: {}", candidates.join(", ")))
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.to_lowercase().replace('-', "_").chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_key_suggests_closest() {
        let e = parse_str("distribution: Ubuntu\nvenvv: /x\n", "c.yaml").unwrap_err();
        assert!(
            e.message.starts_with("c.yaml:2:1: unknown field `venvv`"),
            "{e}"
        );
        assert!(e.to_string().contains("did you mean `venv`?"), "{e}");
    }

    #[test]
    fn none_false_null_empty_skip_modules() {
        let c = parse_str(
            "base_modules:\n  rest_client: None\n  plugins_common: false\n  script_plugin: ~\n  diamond_plugin: ''\n",
            "c",
        )
        .unwrap();
        let b = c.base_modules.unwrap();
        for m in [
            b.rest_client,
            b.plugins_common,
            b.script_plugin,
            b.diamond_plugin,
        ] {
            assert_eq!(m, ModuleSource::Skip);
        }
    }

    #[test]
    fn celery_is_skipped_like_any_module() {
        for v in ["none", "~", "false", "''"] {
            let c = parse_str(&format!("base_modules:\n  celery: {v}\n"), "c").unwrap();
            assert_eq!(c.base_modules.unwrap().celery, ModuleSource::Skip, "{v}");
        }
    }

    #[test]
    fn profiles_by_name_and_an_unknown_one_lists_both() {
        let c = parse_str("profile: modern\n", "c").unwrap();
        assert_eq!(c.profile, Some(Profile::Modern));
        let e = parse_str("release: x\nprofile: Modern\n", "c.yaml").unwrap_err();
        assert!(e.message.starts_with("c.yaml:2:"), "{e}");
        assert!(e.message.contains("expected one of legacy, modern"), "{e}");
    }

    #[test]
    fn dashed_management_names_and_empty_file() {
        let c = parse_str(
            "management_modules:\n  agent-installer: /src/ai\n  windows_plugin_installer: none\n",
            "c",
        )
        .unwrap();
        let m = c.management_modules.unwrap();
        assert_eq!(m.agent_installer, ModuleSource::Pip("/src/ai".into()));
        assert_eq!(m.plugin_installer, ModuleSource::Default);
        assert_eq!(m.windows_plugin_installer, ModuleSource::Skip);
        assert_eq!(parse_str("", "c").unwrap(), Config::default());
        assert_eq!(
            parse_str("# only a comment\n", "c").unwrap(),
            Config::default()
        );
    }

    #[test]
    fn unknown_module_lists_known_names() {
        let e = parse_str("base_modules:\n  rest_clinet: x\n", "c").unwrap_err();
        assert!(e.message.contains("rest_client"), "{e}");
        assert!(e.message.contains("diamond_plugin"), "{e}");
    }

    #[test]
    fn a_nul_byte_in_a_path_is_a_located_error() {
        let e = parse_str("release: x\nvenv: \"a\\0b\"\n", "c.yaml").unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.message.starts_with("c.yaml:2:7: "), "{e}");
        assert!(e.message.contains("NUL byte"), "{e}");
        assert!(parse_str("venv: a/b\n", "c").is_ok());
    }

    #[test]
    fn architecture_keeps_its_place_for_later_errors() {
        let c = parse_str("release: x\narchitecture: arm64\n", "c").unwrap();
        let a = c.architecture.unwrap();
        assert_eq!(a.value, "arm64");
        assert_eq!((a.referenced.line(), a.referenced.column()), (2, 15));
        // The manager package's label is another key.
        let c = parse_str("package:\n  architecture: all\n", "c").unwrap();
        assert!(c.architecture.is_none());
        assert_eq!(c.package.unwrap().architecture.as_deref(), Some("all"));
    }

    #[test]
    fn numbers_are_kept_as_written_for_strings() {
        let c = parse_str("release: 1.10\npackage:\n  version: 3.2\n", "c").unwrap();
        assert_eq!(c.release.as_deref(), Some("1.10"));
        assert_eq!(c.package.unwrap().version.as_deref(), Some("3.2"));
    }
}
