//! What `--dry-run` prints: the resolved plan, one line per decision.

use super::{Plan, Spec};
use crate::publish::PublishOptions;
use crate::util::redact::redact;
use std::fmt;

fn publish_line(p: &PublishOptions) -> String {
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

fn yum_line(y: &crate::yum::YumOptions) -> String {
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

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let how = if self.detected { " (detected)" } else { "" };
        writeln!(f, "distribution: {}{how}", self.distribution)?;
        writeln!(f, "release:      {}{how}", self.release)?;
        writeln!(
            f,
            "architecture: {} (Debian: {}; {})",
            self.architecture,
            self.deb_architecture(),
            self.architecture_note
        )?;
        if let Some(root) = &self.root {
            writeln!(f, "{root}")?;
        }
        if let Some(tar) = &self.from_tar {
            write!(
                f,
                "agent tar:    {} (--from-tar: no virtualenv is built)",
                tar.display()
            )?;
            for p in &self.packages {
                write!(f, "\n{}", p.to_string().trim_end())?;
            }
            if let Some(p) = &self.publish {
                write!(f, "\n{}", publish_line(p))?;
            }
            if let Some(y) = &self.yum_publish {
                write!(f, "\n{}", yum_line(y))?;
            }
            return Ok(());
        }
        writeln!(f, "python:       {}", self.python.display())?;
        if let Some(note) = &self.python_note {
            writeln!(f, "              ({note})")?;
        }
        if let Some(warning) = &self.python_warning {
            writeln!(f, "warning: {warning}")?;
        }
        writeln!(f, "venv:         {}", self.venv.display())?;
        writeln!(f, "tar members:  {}/...", self.tar_prefix)?;
        if !self.pip_options.is_empty() {
            writeln!(f, "pip options:  {}", redact(&self.pip_options.join(" ")))?;
        }
        writeln!(f, "installer:    {}", self.installer.describe())?;
        let note = |f: &std::path::Path| self.root.as_ref().map(|r| r.ca_note(f).to_string());
        for line in self.installer.ca.describe(self.root.is_some(), note) {
            writeln!(f, "CA bundle:    {line}")?;
        }
        if let Some(v) = &self.virtualenv_path {
            writeln!(
                f,
                "virtualenv:   {} (for Pythons without venv)",
                v.display()
            )?;
        }
        if let Some(c) = &self.installer.cache_dir {
            writeln!(f, "cache dir:    {}", c.display())?;
        }
        match &self.bytecode_cache {
            Ok(dir) => writeln!(f, "bytecode cache: {} (CPython 3.7-3.10)", dir.display())?,
            Err(why) => writeln!(f, "bytecode cache: {why}")?,
        }
        let default = if self.profile_given {
            ""
        } else {
            ", the default"
        };
        writeln!(
            f,
            "profile:      {}{default} ({})",
            self.profile.name(),
            self.profile.summary()
        )?;
        if let Some(src) = &self.manager_source {
            writeln!(f, "manager source: {}", redact(src))?;
        }
        writeln!(f, "modules (in install order):")?;
        for (i, m) in self.modules.iter().enumerate() {
            let src = match &m.spec {
                Spec::Pip(s) => redact(s),
                Spec::Manager(sub) => format!("{sub} of the manager source"),
            };
            writeln!(f, "  {:>2}. {:<26} {src}", i + 1, m.key)?;
        }
        writeln!(f, "outputs:")?;
        writeln!(f, "  tar:  {}", self.output_tar.display())?;
        for p in &self.packages {
            write!(f, "{p}")?;
        }
        if let Some(p) = &self.publish {
            writeln!(f, "{}", publish_line(p))?;
        }
        if let Some(y) = &self.yum_publish {
            writeln!(f, "{}", yum_line(y))?;
        }
        writeln!(
            f,
            "validation: {}",
            if self.validate { "on" } else { "off" }
        )?;
        writeln!(
            f,
            "relocatable: {}",
            if self.relocatable { "yes" } else { "no" }
        )?;
        write!(
            f,
            "keep venv: {}",
            if self.keep_venv { "yes" } else { "no" }
        )
    }
}
