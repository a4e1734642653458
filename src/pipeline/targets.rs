//! Where a run's packages are published: the debs into an apt repository
//! (`publish:`), the rpms into a yum repository (`publish.rpm_repo`). Resolved
//! beside the plans from the same config and options (the plan knows nothing of
//! the repositories); `--dry-run` shows them in each plan's text.

use crate::apt::PublishOptions;
use crate::config::Config;
use crate::error::Result;
use crate::package::Format;
use crate::plan::Options;
use crate::yum::YumOptions;
use std::path::PathBuf;

/// Where a run's packages are published.
#[derive(Debug, Clone, Default)]
pub struct Targets {
    /// The apt repository the debs go into (config `publish:`, with `--format deb`).
    pub apt: Option<PublishOptions>,
    /// The yum repository the rpms go into (config `publish.rpm_repo`, with `--format rpm`).
    pub yum: Option<YumOptions>,
}

impl Targets {
    pub fn resolve(cfg: &Config, opts: &Options) -> Result<Targets> {
        // A `publish:` section publishes the deb this run builds; without
        // `--format deb` there is nothing to publish and the section is unused.
        let apt = match &cfg.publish {
            Some(p)
                if opts.formats.contains(&Format::Deb)
                    && (p.repo.is_some() || p.rpm_repo.is_none()) =>
            {
                Some(PublishOptions::from_config(p, opts.force)?)
            }
            _ => None,
        };
        let yum = match &cfg.publish {
            Some(p) if opts.formats.contains(&Format::Rpm) => {
                YumOptions::from_config(p, opts.force)?
            }
            _ => None,
        };
        Ok(Targets { apt, yum })
    }

    /// The files the publishing reads that an output could overwrite: `(what, path)`.
    pub fn inputs(&self) -> Vec<(String, PathBuf)> {
        let key = self.apt.as_ref().and_then(|p| p.sign_key.clone());
        key.map(|k| ("publish.sign_key".to_string(), k))
            .into_iter()
            .collect()
    }

    /// The repository directories written into (not those in a bucket).
    pub fn repos(&self) -> Vec<PathBuf> {
        let apt = self.apt.iter().map(|p| p.repo.clone());
        apt.chain(self.yum.iter().map(|p| p.repo.clone()))
            .filter(|r| !r.starts_with("s3:"))
            .collect()
    }

    /// What `--dry-run` says of them, one line each.
    pub fn lines(&self) -> Vec<String> {
        let apt = self.apt.iter().map(apt_line);
        apt.chain(self.yum.iter().map(yum_line)).collect()
    }
}

fn apt_line(p: &PublishOptions) -> String {
    let keep = p
        .keep
        .map(|n| format!(", keeping the newest {n}"))
        .unwrap_or_default();
    let arches = Vec::from_iter(p.architectures.iter().map(String::as_str));
    let arches = match arches.is_empty() {
        true => String::new(),
        false => format!(", listing {}", arches.join(" ")),
    };
    format!(
        "publish: the debs into {} ({} {}, {}{keep}{arches})",
        p.repo.display(),
        p.suite(),
        p.component,
        if p.sign_key.is_some() {
            "signed"
        } else {
            "unsigned"
        }
    )
}

fn yum_line(y: &YumOptions) -> String {
    let signed = if y.sign_key.is_some() {
        "signed"
    } else {
        "unsigned"
    };
    format!(
        "publish: the rpms into {} (yum, {signed})",
        y.repo.display()
    )
}
