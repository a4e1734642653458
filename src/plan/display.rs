//! What `--dry-run` prints: the resolved plan, one line per decision, with the
//! lines of where its packages are published (`pipeline::Targets`) given in.

use super::{Plan, Spec};
use crate::util::redact::redact;
use std::fmt;

/// A plan as `--dry-run` prints it ([`Plan::describe`]).
pub struct Described<'a> {
    plan: &'a Plan,
    publish: &'a [String],
}

impl Plan {
    /// The plan's text, with `publish` (where its packages are published, one line
    /// each) after its outputs.
    pub fn describe<'a>(&'a self, publish: &'a [String]) -> Described<'a> {
        Described {
            plan: self,
            publish,
        }
    }
}

impl fmt::Display for Described<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plan = self.plan;
        let how = if plan.detected { " (detected)" } else { "" };
        writeln!(f, "distribution: {}{how}", plan.distribution)?;
        writeln!(f, "release:      {}{how}", plan.release)?;
        writeln!(
            f,
            "architecture: {} (Debian: {}; {})",
            plan.architecture,
            plan.deb_architecture(),
            plan.architecture_note
        )?;
        if let Some(root) = &plan.root {
            writeln!(f, "{root}")?;
        }
        if let Some(tar) = &plan.from_tar {
            write!(
                f,
                "agent tar:    {} (--from-tar: no virtualenv is built)",
                tar.display()
            )?;
            for p in &plan.packages {
                write!(f, "\n{}", p.to_string().trim_end())?;
            }
            for line in self.publish {
                write!(f, "\n{line}")?;
            }
            return Ok(());
        }
        writeln!(f, "python:       {}", plan.python.display())?;
        if let Some(note) = &plan.python_note {
            writeln!(f, "              ({note})")?;
        }
        if let Some(warning) = &plan.python_warning {
            writeln!(f, "warning: {warning}")?;
        }
        writeln!(f, "venv:         {}", plan.venv.display())?;
        writeln!(f, "tar members:  {}/...", plan.tar_prefix)?;
        if !plan.pip_options.is_empty() {
            writeln!(f, "pip options:  {}", redact(&plan.pip_options.join(" ")))?;
        }
        writeln!(f, "installer:    {}", plan.installer.describe())?;
        let note = |f: &std::path::Path| plan.root.as_ref().map(|r| r.ca_note(f).to_string());
        for line in plan.installer.ca.describe(plan.root.is_some(), note) {
            writeln!(f, "CA bundle:    {line}")?;
        }
        if let Some(v) = &plan.virtualenv_path {
            writeln!(
                f,
                "virtualenv:   {} (for Pythons without venv)",
                v.display()
            )?;
        }
        if let Some(c) = &plan.installer.cache_dir {
            writeln!(f, "cache dir:    {}", c.display())?;
        }
        match &plan.bytecode_cache {
            Ok(dir) => writeln!(f, "bytecode cache: {} (CPython 3.7-3.10)", dir.display())?,
            Err(why) => writeln!(f, "bytecode cache: {why}")?,
        }
        let default = if plan.profile_given {
            ""
        } else {
            ", the default"
        };
        writeln!(
            f,
            "profile:      {}{default} ({})",
            plan.profile.name(),
            plan.profile.summary()
        )?;
        if let Some(src) = &plan.manager_source {
            writeln!(f, "manager source: {}", redact(src))?;
        }
        writeln!(f, "modules (in install order):")?;
        for (i, m) in plan.modules.iter().enumerate() {
            let src = match &m.spec {
                Spec::Pip(s) => redact(s),
                Spec::Manager(sub) => format!("{sub} of the manager source"),
            };
            writeln!(f, "  {:>2}. {:<26} {src}", i + 1, m.key)?;
        }
        writeln!(f, "outputs:")?;
        writeln!(f, "  tar:  {}", plan.output_tar.display())?;
        for p in &plan.packages {
            write!(f, "{p}")?;
        }
        for line in self.publish {
            writeln!(f, "{line}")?;
        }
        writeln!(
            f,
            "validation: {}",
            if plan.validate { "on" } else { "off" }
        )?;
        writeln!(
            f,
            "relocatable: {}",
            if plan.relocatable { "yes" } else { "no" }
        )?;
        write!(
            f,
            "keep venv: {}",
            if plan.keep_venv { "yes" } else { "no" }
        )
    }
}
