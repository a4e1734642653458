//! The manager package, format-neutral: the `package:` config section resolved
//! into a validated [`PackagePlan`] before any build work — name, version,
//! revision, architecture, texts, the per-distribution config files and the files
//! the package installs — plus the [`PackageWriter`] seam that every format's
//! writer (`crate::writers`) implements. Nothing here knows a particular format.

pub(crate) mod builtin;
mod common;
mod files;
mod naming;
pub(crate) mod texts;
mod writer;

pub(crate) use common::same_common;
pub(crate) use files::{AgentInfo, CONFIG_FILES, InstallFile, Source, check_from_tar};
pub(crate) use naming::{check_arch, check_name, default_name, package_version};
pub(crate) use writer::{PackageWriter, WriteJob, Written};

use crate::codec::Setting;
use crate::config::Package;
use crate::debian::arch;
use crate::error::{Error, Result};
use crate::util::epoch;
use crate::util::paths::{normalize, parent_dir};
use std::fmt;
use std::path::{Path, PathBuf};

pub(crate) const DEFAULT_RESOURCES: &str = "/opt/manager/resources";
pub(crate) const DEFAULT_MAINTAINER: &str = "Cloudify Agent Packager <cfy-ap@example.invalid>";
pub(crate) const DEFAULT_LICENSE: &str = "Apache-2.0";
/// Every manager package's architecture unless `package.architecture` says
/// otherwise: it installs on the manager, whose CPU need not be the agent's (the
/// agent's is in the package's name when it is not x86_64, so the packages of
/// one release for several architectures install side by side).
pub(crate) const DEFAULT_ARCHITECTURE: &str = "all";

/// An output format of a run: the agent tar itself, or a package around it.
/// What a run writes: the agent tar, a deb, an rpm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Format {
    /// The agent tar.gz.
    Tar,
    /// The manager `.deb`.
    Deb,
    /// The manager `.rpm`.
    Rpm,
}

impl Format {
    /// Every format, in the order `--format` lists them.
    pub const ALL: [Format; 3] = [Format::Tar, Format::Deb, Format::Rpm];

    /// Its name on the command line (`--format deb`).
    pub fn name(self) -> &'static str {
        match self {
            Format::Tar => "tar",
            Format::Deb => "deb",
            Format::Rpm => "rpm",
        }
    }

    /// The format named `name`, if any.
    pub fn parse(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// One package file this plan writes.
#[derive(Debug, Clone)]
pub struct Output {
    pub format: Format,
    pub path: PathBuf,
    /// What the dry run prints under the path (the writer's settings).
    pub notes: Vec<String>,
    /// Files the writer generates besides [`PackagePlan::files`] (dry run).
    pub generated: Vec<String>,
}

/// What a package holds: one release's agent, or the files every agent of a
/// distribution shares (see [`common`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Agent,
    Common,
}

#[derive(Debug, Clone)]
pub struct PackagePlan {
    pub name: String,
    pub role: Role,
    /// The common package this one depends on (`>=` this package's version).
    pub common: Option<String>,
    /// The time stamped into the package when it does not depend on the build
    /// (the common package); `SOURCE_DATE_EPOCH` still wins.
    pub stamp: Option<u64>,
    /// Upstream version in dpkg/rpm form (`3.2rc1` → `3.2~rc1`).
    pub version: String,
    pub revision: String,
    /// The package's label as configured (validated), or None for
    /// [`DEFAULT_ARCHITECTURE`].
    pub architecture: Option<String>,
    /// The CPU architecture of the agent it carries, rpm/uname style (`aarch64`).
    pub agent_architecture: String,
    pub maintainer: String,
    /// As configured: first line replaces the synopsis, the rest the prose.
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub license: String,
    /// The `Copyright:` field of the deb's copyright file (None: generated).
    pub copyright: Option<String>,
    pub depends: Vec<String>,
    /// `package.rpm_depends` as written (None: `depends` applies to the rpm too).
    pub rpm_depends: Option<Vec<String>>,
    /// `package.sign_key`, made absolute (against the current directory).
    pub sign_key: Option<PathBuf>,
    pub resources_dir: String,
    pub config_dir: PathBuf,
    /// `package.compression` and `package.compression_level`; each writer picks
    /// its own default level when none is given.
    pub compression: Setting,
    pub output_dir: PathBuf,
    pub distribution: String,
    pub release: String,
    /// File name of the agent tar inside the package (that of `output_tar`).
    pub agent_name: String,
    pub files: Vec<InstallFile>,
    /// One entry per requested package format, in the writers' order.
    pub outputs: Vec<Output>,
}

/// What [`resolve`] needs from the rest of the plan.
pub(crate) struct Context<'a> {
    pub package: Option<&'a Package>,
    pub formats: &'a [Format],
    /// The package writers available (`crate::writers::ALL`).
    pub writers: &'a [&'a dyn PackageWriter],
    pub distribution: &'a str,
    pub release: &'a str,
    /// The agent's name (`debian-bookworm-aarch64-agent`): the package's is
    /// `cloudify-<agent>` unless set.
    pub agent: &'a str,
    /// The agent's CPU architecture, rpm/uname style (`aarch64`).
    pub architecture: &'a str,
    pub output_tar: &'a Path,
    /// Directory of the config file, searched for `packaging/`.
    pub config_dir: Option<&'a Path>,
    pub cwd: &'a Path,
}

/// The package plans: the agent's and, when it has config files, its
/// distribution's common package; none when no package format is requested.
pub(crate) fn resolve(ctx: &Context) -> Result<Vec<PackagePlan>> {
    let writers: Vec<&dyn PackageWriter> = ctx
        .writers
        .iter()
        .copied()
        .filter(|w| ctx.formats.contains(&w.format()))
        .collect();
    if writers.is_empty() {
        return Ok(Vec::new());
    }
    let empty = Package::default();
    let p = ctx.package.unwrap_or(&empty);
    let (given, from) = match (&p.version, std::env::var("VERSION")) {
        (Some(v), _) => (v.clone(), "package.version"),
        (None, Ok(v)) if !v.trim().is_empty() => (v, "the VERSION environment variable"),
        _ => {
            return Err(Error::config(
                "the package needs a version: set package.version in the config or the VERSION environment variable",
            )
            .with("e.g. `package: {version: 3.2rc1}` or `VERSION=3.2rc1 cfy-ap --format deb`"));
        }
    };
    let version = package_version(&given).map_err(|e| e.with(format!("(from {from})")))?;
    let name = match &p.name {
        Some(n) => check_name(n)?,
        None => default_name(ctx.agent),
    };
    let revision = p.revision.clone().unwrap_or_else(|| "1".into());
    if revision.is_empty()
        || !revision
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+.~".contains(c))
    {
        return Err(Error::config(format!(
            "package.revision {revision:?} is not valid: use letters, digits, '+', '.' and '~' (e.g. 1)"
        )));
    }
    let architecture = p.architecture.as_deref().map(check_arch).transpose()?;
    let maintainer = p
        .maintainer
        .clone()
        .unwrap_or_else(|| DEFAULT_MAINTAINER.into());
    if maintainer.contains('\n') || !(maintainer.contains('<') && maintainer.ends_with('>')) {
        return Err(Error::config(format!(
            "package.maintainer {maintainer:?} must look like `Full Name <email@example.org>`"
        )));
    }
    let homepage = one_line("homepage", &p.homepage)?;
    if homepage
        .as_deref()
        .is_some_and(|h| !h.starts_with("http://") && !h.starts_with("https://"))
    {
        return Err(Error::config(
            "package.homepage must be an http:// or https:// URL",
        ));
    }
    let license = one_line("license", &p.license)?.unwrap_or_else(|| DEFAULT_LICENSE.into());
    let copyright = one_line("copyright", &p.copyright)?;
    let mut depends = Vec::new();
    for d in p.depends.iter().flatten() {
        depends.push(one_line("depends", &Some(d.clone()))?.unwrap_or_default());
    }
    if let Some(d) = &p.description
        && d.trim().is_empty()
    {
        return Err(Error::config("package.description is empty"));
    }
    let resources_dir = match &p.resources_dir {
        Some(r) if r.starts_with('/') && !r.contains('\n') => {
            normalize(Path::new(r)).display().to_string()
        }
        Some(r) => {
            return Err(Error::config(format!(
                "package.resources_dir must be an absolute path, got {r:?}"
            )));
        }
        None => DEFAULT_RESOURCES.to_string(),
    };
    let compression = Setting::from_config(
        "package.compression",
        p.compression.as_deref(),
        p.compression_level,
    )?;
    let sign_key = match p.sign_key.as_deref() {
        Some(k) if k.trim().is_empty() => {
            return Err(Error::config("package.sign_key is empty"));
        }
        Some(k) => Some(normalize(&ctx.cwd.join(k))),
        None => None,
    };
    let output_dir = match &p.output_dir {
        Some(d) => normalize(&ctx.cwd.join(d)),
        None => parent_dir(ctx.output_tar),
    };
    let config_dir = files::find_config_dir(p.config_files.as_deref(), ctx)?;
    let agent_name = ctx
        .output_tar
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut files = vec![InstallFile {
        path: format!("{resources_dir}/packages/agents/{agent_name}"),
        source: Source::AgentTar,
        mode: 0o644,
    }];
    for (file, dir, mode) in CONFIG_FILES {
        // A built-in set has no files on disk: `builtin::stage` provides them.
        let src = files::config_file(&config_dir, file, ctx.distribution)
            .unwrap_or_else(|| config_dir.join(file));
        files.push(InstallFile {
            path: format!("{resources_dir}/packages/{dir}/{}-{file}", ctx.distribution),
            source: Source::File(src),
            mode,
        });
    }
    let mut agent = PackagePlan {
        name,
        role: Role::Agent,
        common: None,
        stamp: None,
        version,
        revision,
        architecture,
        agent_architecture: ctx.architecture.to_string(),
        maintainer,
        description: p.description.clone(),
        homepage,
        license,
        copyright,
        depends,
        rpm_depends: p.rpm_depends.clone(),
        sign_key,
        resources_dir,
        config_dir,
        compression,
        output_dir,
        distribution: ctx.distribution.to_string(),
        release: ctx.release.to_string(),
        agent_name,
        files,
        outputs: Vec::new(),
    };
    let common = common::split(&mut agent)?;
    let mut plans = vec![agent, common];
    for pkg in &mut plans {
        for w in &writers {
            let notes = w.check(pkg)?;
            pkg.outputs.push(Output {
                format: w.format(),
                path: pkg.output_dir.join(w.file_name(pkg)),
                notes,
                generated: w.generated_files(pkg),
            });
        }
    }
    Ok(plans)
}

fn one_line(key: &str, v: &Option<String>) -> Result<Option<String>> {
    match v {
        Some(s) if s.trim().is_empty() || s.contains('\n') => Err(Error::config(format!(
            "package.{key} must be one non-empty line, got {s:?}"
        ))),
        other => Ok(other.as_ref().map(|s| s.trim().to_string())),
    }
}

impl PackagePlan {
    /// `<version>-<revision>`.
    pub fn full_version(&self) -> String {
        format!("{}-{}", self.version, self.revision)
    }
    /// The package's Debian architecture: as configured, else `all`.
    pub fn deb_arch(&self) -> String {
        arch::deb_name(self.architecture.as_deref().unwrap_or(DEFAULT_ARCHITECTURE))
    }
    pub fn rpm_arch(&self) -> String {
        arch::rpm_name(&self.deb_arch())
    }
    /// The time stamped into the package: `SOURCE_DATE_EPOCH` when set, else
    /// the plan's own [`stamp`](Self::stamp), else now.
    pub fn build_time(&self) -> Result<u64> {
        match (epoch::source_date_epoch()?, self.stamp) {
            (Some(t), _) | (None, Some(t)) => Ok(t),
            (None, None) => epoch::build_time(),
        }
    }
    /// Whether the package's bytes depend only on its inputs (no build time or
    /// host in it): under `SOURCE_DATE_EPOCH`, and always for a stamped plan.
    pub fn reproducible(&self) -> Result<bool> {
        Ok(self.stamp.is_some() || epoch::source_date_epoch()?.is_some())
    }
    /// The output path for `format`, when this plan writes that format.
    pub fn output(&self, format: Format) -> Option<&Path> {
        self.outputs
            .iter()
            .find(|o| o.format == format)
            .map(|o| o.path.as_path())
    }
    /// Every package file this plan writes.
    pub fn output_paths(&self) -> Vec<PathBuf> {
        self.outputs.iter().map(|o| o.path.clone()).collect()
    }
    /// The files the package is made from, and the signing key: `(what, path)`.
    pub fn inputs(&self) -> Vec<(String, PathBuf)> {
        let mut out: Vec<(String, PathBuf)> = self
            .files
            .iter()
            .filter_map(|f| match &f.source {
                Source::File(p) => Some(("a packaged config file".to_string(), p.clone())),
                Source::AgentTar => None,
            })
            .collect();
        if let Some(k) = &self.sign_key {
            out.push(("package.sign_key".into(), k.clone()));
        }
        out
    }

    pub fn formats(&self) -> Vec<Format> {
        self.outputs.iter().map(|o| o.format).collect()
    }
}

impl fmt::Display for PackagePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.role {
            Role::Agent => match &self.common {
                Some(c) => format!(" (the agent; depends on {c})"),
                None => " (the agent)".into(),
            },
            Role::Common => format!(" (the files every {} agent shares)", self.distribution),
        };
        writeln!(
            f,
            "package:      {} {}{what}",
            self.name,
            self.full_version()
        )?;
        let hosts = match self.role {
            Role::Agent => format!(" (the agent's hosts: {})", self.agent_architecture),
            Role::Common => String::new(),
        };
        let (deb, rpm) = (self.deb_arch(), self.rpm_arch());
        writeln!(f, "  architecture: {deb} / {rpm}{hosts}")?;
        for out in &self.outputs {
            writeln!(f, "  {}:  {}", out.format.name(), out.path.display())?;
            for note in &out.notes {
                writeln!(f, "    {note}")?;
            }
        }
        match builtin::set_of(&self.config_dir) {
            _ if self.role == Role::Agent => {}
            Some(set) => writeln!(
                f,
                "  config files: built-in set {} (write it out with `cfy-ap packaging-files {} DIR`)",
                set.name, set.name
            )?,
            None => writeln!(f, "  config files: {}", self.config_dir.display())?,
        }
        writeln!(f, "  contents:")?;
        for file in &self.files {
            let from = match &file.source {
                Source::AgentTar => "the agent tar".to_string(),
                Source::File(p) => p.display().to_string(),
            };
            writeln!(f, "    {} {:o} <- {from}", file.path, file.mode)?;
        }
        for out in &self.outputs {
            for path in &out.generated {
                writeln!(f, "    {path} ({})", out.format.name())?;
            }
        }
        Ok(())
    }
}
