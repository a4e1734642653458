//! Installing modules with the venv's pip, and checking what got installed.

use super::command::{Run, run};
use crate::config::modules::{canonical_name, requirement_name};
use crate::error::{Error, Result};
use crate::log::Log;
use crate::util::redact::redact;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub struct Pip {
    python: PathBuf,
    options: Vec<String>,
    /// pip ≥ 22.2 writes `--report` JSON, which names what a spec installed.
    has_report: bool,
}

impl Pip {
    pub fn new(venv: &Path, options: &[String], log: &Log) -> Result<Pip> {
        let python = venv.join("bin/python");
        let out = run(Run::new(&python).args(["-m", "pip", "--version"]), log).map_err(|e| {
            Error::build(format!(
                "pip is not usable in the virtualenv {}",
                venv.display()
            ))
            .with(e.message)
        })?;
        let version: Vec<u32> = out
            .split_whitespace()
            .nth(1)
            .unwrap_or("0")
            .split('.')
            .map(|p| p.parse().unwrap_or(0))
            .collect();
        let has_report = version.as_slice() >= [22, 2].as_slice();
        log.detail(&format!("{} (report: {has_report})", out.trim()));
        Ok(Pip {
            python,
            options: options.to_vec(),
            has_report,
        })
    }

    /// Install one module; returns the distribution names it was asked for, when known.
    pub fn install(&self, key: &str, spec: &str, log: &Log) -> Result<Vec<String>> {
        let report = tempfile::Builder::new()
            .prefix("cfy-ap-pip-report.")
            .suffix(".json")
            .tempfile()
            .map_err(|e| {
                Error::build(format!(
                    "cannot create a temporary file for pip's report: {e}"
                ))
                .with("make the temporary directory ($TMPDIR, else /tmp) writable and not full")
            })?;
        let mut cmd = Run::new(&self.python)
            .args(["-m", "pip", "install", "--progress-bar", "off"])
            .args(&self.options)
            .stream();
        if self.has_report {
            cmd = cmd.arg("--report").arg(report.path());
        }
        cmd = cmd.arg(spec);
        run(cmd, log).map_err(|e| {
            let mut err = Error::build(format!(
                "could not install module {key} from {}",
                redact(spec)
            ));
            err.details = e.details;
            err.with("check the module's source and pip_options (offline builds need e.g. --no-index --find-links DIR)")
        })?;
        let mut names = Vec::new();
        if self.has_report {
            names = requested_names(&std::fs::read_to_string(report.path()).unwrap_or_default());
        }
        if names.is_empty() {
            names.extend(requirement_name(spec));
        }
        Ok(names)
    }

    /// Every installed distribution: canonical name → (name as published, version).
    pub fn installed(&self, log: &Log) -> Result<BTreeMap<String, (String, String)>> {
        let out = run(
            Run::new(&self.python).args(["-m", "pip", "list", "--format=json"]),
            log,
        )
        .map_err(|e| Error::build("listing the installed modules failed").with(e.message))?;
        let list: Vec<serde_json::Value> = serde_json::from_str(out.trim()).map_err(|e| {
            Error::build(format!(
                "cannot read the output of `pip list --format=json`: {e}"
            ))
            .with(
                "the virtualenv's pip may be too old (needs pip 9 or later); run with -v to see it",
            )
        })?;
        Ok(list
            .iter()
            .filter_map(|v| {
                let name = v.get("name")?.as_str()?;
                let version = v.get("version")?.as_str()?;
                Some((
                    canonical_name(name),
                    (name.to_string(), version.to_string()),
                ))
            })
            .collect())
    }
}

/// Names of the requested (top-level) items in a pip `--report` JSON.
fn requested_names(json: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<serde_json::Value>(json) else {
        return Vec::new();
    };
    v.get("install")
        .and_then(|i| i.as_array())
        .into_iter()
        .flatten()
        .filter(|item| item.get("requested").and_then(|r| r.as_bool()) == Some(true))
        .filter_map(|item| item.pointer("/metadata/name")?.as_str().map(canonical_name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::requested_names;

    #[test]
    fn report_names_only_requested() {
        let json = r#"{"version":"1","install":[
            {"requested":true,"metadata":{"name":"My_Plugin","version":"1.0"}},
            {"requested":false,"metadata":{"name":"dep","version":"2"}}]}"#;
        assert_eq!(requested_names(json), ["my-plugin"]);
        assert!(requested_names("not json").is_empty());
    }
}
