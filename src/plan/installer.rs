//! The installer part of the plan (config `installer`, `uv_path`, `cache_dir`):
//! which installer, uv found or why not, the pip options uv takes, and the CA
//! bundle the installers trust ([`super::ca`]). The installers themselves are
//! `agent::install`.

use super::ca::Trust;
use crate::config::InstallerChoice;
use crate::error::{Error, Result};
use std::path::{Path, PathBuf};

/// The installer part of the plan (config `installer`, `uv_path`, `cache_dir`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallerPlan {
    pub choice: InstallerChoice,
    /// uv, when found (`uv_path`, else PATH).
    pub uv: Option<PathBuf>,
    /// Why `auto` cannot use uv whatever the Python (not found, pip_options).
    pub no_uv: Option<String>,
    pub cache_dir: Option<PathBuf>,
    /// The CA bundle variables set on the host (checked readable).
    pub ca: Trust,
}

impl InstallerPlan {
    /// Refuses (exit 2) an explicit `uv` that is missing or cannot take the
    /// pip_options, and a cache inside the virtualenv, before any work.
    pub fn resolve(
        choice: InstallerChoice,
        uv_path: Option<&Path>,
        cache_dir: Option<PathBuf>,
        pip_options: &[String],
        venv: &Path,
        ca: Trust,
    ) -> Result<InstallerPlan> {
        if let Some(c) = &cache_dir
            && (c.starts_with(venv) || venv.starts_with(c))
        {
            return Err(Error::config(format!(
                "cache_dir {} and the venv {} must not contain each other: the cache would leak into the agent",
                c.display(),
                venv.display()
            )));
        }
        let uv = if choice == InstallerChoice::Pip {
            None
        } else {
            locate(uv_path)
        };
        let options = translate_options(pip_options);
        let no_uv = match (&uv, &options) {
            (None, _) => Some(match uv_path {
                Some(p) => format!("uv not found at {} (uv_path)", p.display()),
                None => "uv not found on PATH".to_string(),
            }),
            (_, Err(opt)) => Some(format!("pip_options has {opt}, which uv does not take")),
            _ => None,
        };
        if choice == InstallerChoice::Uv {
            if uv.is_none() {
                return Err(Error::config(format!(
                    "installer: uv, but {}",
                    no_uv.unwrap_or_default()
                ))
                .with("install it with `pip install uv` (or see https://docs.astral.sh/uv/), set uv_path, or use installer: pip"));
            }
            if let Err(opt) = options {
                return Err(Error::config(format!(
                    "installer: uv does not take the pip option {opt} (pip_options)"
                ))
                .with("uv takes --index-url, --extra-index-url, --find-links and --no-index; use installer: pip for other options"));
            }
        }
        Ok(InstallerPlan {
            choice,
            uv,
            no_uv,
            cache_dir,
            ca,
        })
    }

    /// For `--dry-run`.
    pub fn describe(&self) -> String {
        match (self.choice, &self.uv, &self.no_uv) {
            (InstallerChoice::Pip, ..) => "pip".into(),
            (InstallerChoice::Uv, Some(uv), _) => format!("uv ({})", uv.display()),
            (InstallerChoice::Auto, _, Some(why)) => format!("auto: pip ({why})"),
            (_, Some(uv), _) => format!(
                "auto: uv ({}) for Python 3.7 and later, else pip",
                uv.display()
            ),
            _ => self.choice.name().into(),
        }
    }
}

/// The pip options uv understands, with whether each takes a value.
const KNOWN: [(&str, bool); 6] = [
    ("--index-url", true),
    ("-i", true),
    ("--extra-index-url", true),
    ("--find-links", true),
    ("-f", true),
    ("--no-index", false),
];

/// `pip_options` as uv arguments; Err names the first option uv does not take.
pub(crate) fn translate_options(options: &[String]) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    let mut it = options.iter();
    while let Some(opt) = it.next() {
        let (name, inline) = match opt.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (opt.as_str(), None),
        };
        let Some(&(_, takes_value)) = KNOWN.iter().find(|(k, _)| *k == name) else {
            return Err(opt.split('=').next().unwrap_or(opt).to_string());
        };
        let long = match name {
            "-i" => "--index-url",
            "-f" => "--find-links",
            other => other,
        };
        out.push(long.to_string());
        if takes_value {
            match inline {
                Some(v) => out.push(v.to_string()),
                None => out.push(it.next().ok_or_else(|| name.to_string())?.clone()),
            }
        } else if inline.is_some() {
            return Err(opt.clone());
        }
    }
    Ok(out)
}

/// `uv_path` when given, else `uv` on PATH.
pub(crate) fn locate(uv_path: Option<&Path>) -> Option<PathBuf> {
    match uv_path {
        Some(p) => p.is_file().then(|| p.to_path_buf()),
        None => crate::util::paths::find_on_path("uv"),
    }
}

#[cfg(test)]
mod tests {
    use super::translate_options;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn known_options_pass_unknown_are_named() {
        assert_eq!(
            translate_options(&s(&["--no-index", "-f", "/w", "--index-url=https://h/s"])).unwrap(),
            s(&[
                "--no-index",
                "--find-links",
                "/w",
                "--index-url",
                "https://h/s"
            ])
        );
        assert_eq!(
            translate_options(&s(&["--extra-index-url", "u", "-i", "v"])).unwrap(),
            s(&["--extra-index-url", "u", "--index-url", "v"])
        );
        assert_eq!(
            translate_options(&s(&["--no-index", "--trusted-host", "h"])).unwrap_err(),
            "--trusted-host"
        );
        assert_eq!(translate_options(&s(&["--pre=1"])).unwrap_err(), "--pre");
        assert_eq!(
            translate_options(&s(&["--find-links"])).unwrap_err(),
            "--find-links"
        );
    }
}
