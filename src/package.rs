//! The manager package (`--format deb`, later rpm): the `package:` config section
//! resolved into a validated [`PackagePlan`] before any build work — name, version,
//! revision, architecture, the per-distribution config files, and the files the
//! package installs.

pub mod builtin;
mod naming;

pub use naming::{
    check_arch, check_name, deb_arch_name, default_name, host_arch, package_version, rpm_arch_name,
};

use crate::config::Package;
use crate::error::{Error, Result};
use crate::plan::{Format, normalize};
use std::fmt;
use std::path::{Path, PathBuf};

pub const DEFAULT_RESOURCES: &str = "/opt/manager/resources";
pub const DEFAULT_MAINTAINER: &str = "Cloudify Agent Packager <cfy-ap@example.invalid>";
pub const DEFAULT_LICENSE: &str = "Apache-2.0";
/// Last place searched for `packaging/<distribution>/`.
pub const SYSTEM_PACKAGING: &str = "/usr/share/cfy-ap/packaging";
/// The per-distribution files: name in the config directory, directory under
/// `<resources>/packages/`, mode. Installed as `<Distribution>-<name>`.
pub const CONFIG_FILES: [(&str, &str, u32); 3] = [
    ("agent-disable-requiretty.sh", "scripts", 0o755),
    ("celeryd-cloudify.conf.template", "templates", 0o644),
    ("celeryd-cloudify.init.template", "templates", 0o644),
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    Gzip,
    Xz,
    Zstd,
    None,
}

impl Compression {
    pub fn name(self) -> &'static str {
        match self {
            Compression::Gzip => "gzip",
            Compression::Xz => "xz",
            Compression::Zstd => "zstd",
            Compression::None => "none",
        }
    }
    /// Default level and the valid range.
    fn levels(self) -> (u32, std::ops::RangeInclusive<u32>) {
        match self {
            Compression::Gzip => (9, 0..=9),
            Compression::Xz => (6, 0..=9),
            Compression::Zstd => (3, 1..=22),
            Compression::None => (0, 0..=0),
        }
    }
}

/// Where an installed file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// The agent tar.gz (`output_tar`, or the `--from-tar` file).
    AgentTar,
    File(PathBuf),
}

/// One file the package installs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallFile {
    /// Absolute path on the target, e.g. `/opt/manager/resources/packages/agents/x.tar.gz`.
    pub path: String,
    pub source: Source,
    pub mode: u32,
}

/// What the package says about the agent it carries.
#[derive(Debug, Clone)]
pub struct AgentInfo {
    pub tar: PathBuf,
    /// Unknown when packaging an existing tar (`--from-tar`).
    pub python_version: Option<String>,
    pub installed: Vec<(String, String)>,
}

impl AgentInfo {
    pub fn from_outcome(o: &crate::Outcome) -> AgentInfo {
        AgentInfo {
            tar: o.output_tar.clone(),
            python_version: Some(o.python_version.clone()),
            installed: o.installed.clone(),
        }
    }
    pub fn from_tar(tar: &Path) -> AgentInfo {
        AgentInfo {
            tar: tar.to_path_buf(),
            python_version: None,
            installed: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PackagePlan {
    pub name: String,
    /// Upstream version in dpkg/rpm form (`3.2rc1` → `3.2~rc1`).
    pub version: String,
    pub revision: String,
    /// As configured (validated), or None for the build host's.
    pub architecture: Option<String>,
    pub maintainer: String,
    /// As configured: first line replaces the synopsis, the rest the prose.
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub license: String,
    /// The `Copyright:` field of the deb's copyright file (None: generated).
    pub copyright: Option<String>,
    pub depends: Vec<String>,
    pub resources_dir: String,
    pub config_dir: PathBuf,
    pub compression: Compression,
    pub level: u32,
    pub output_dir: PathBuf,
    /// The package formats requested (deb, rpm).
    pub formats: Vec<Format>,
    pub distribution: String,
    pub release: String,
    /// File name of the agent tar inside the package (that of `output_tar`).
    pub agent_name: String,
    pub files: Vec<InstallFile>,
    /// Requires, signing key and payload compression of the rpm.
    pub rpm: crate::rpm::Settings,
}

/// What [`resolve`] needs from the rest of the plan.
pub struct Context<'a> {
    pub package: Option<&'a Package>,
    pub formats: &'a [Format],
    pub distribution: &'a str,
    pub release: &'a str,
    pub output_tar: &'a Path,
    /// Directory of the config file, searched for `packaging/`.
    pub config_dir: Option<&'a Path>,
    pub cwd: &'a Path,
}

/// The package plan, or None when no package format is requested.
pub fn resolve(ctx: &Context) -> Result<Option<PackagePlan>> {
    let formats: Vec<Format> = ctx
        .formats
        .iter()
        .copied()
        .filter(|f| *f != Format::Tar)
        .collect();
    if formats.is_empty() {
        return Ok(None);
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
        None => default_name(ctx.distribution, ctx.release),
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
    let one_line = |key: &str, v: &Option<String>| -> Result<Option<String>> {
        match v {
            Some(s) if s.trim().is_empty() || s.contains('\n') => Err(Error::config(format!(
                "package.{key} must be one non-empty line, got {s:?}"
            ))),
            other => Ok(other.as_ref().map(|s| s.trim().to_string())),
        }
    };
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
    let compression = match p.compression.as_deref().unwrap_or("gzip") {
        "gzip" | "gz" => Compression::Gzip,
        "xz" => Compression::Xz,
        "zstd" | "zst" => Compression::Zstd,
        "none" => Compression::None,
        other => {
            return Err(Error::config(format!(
                "package.compression {other:?} is not known: use gzip, xz, zstd or none"
            )));
        }
    };
    let (default_level, range) = compression.levels();
    let level = p.compression_level.unwrap_or(default_level);
    if !range.contains(&level) {
        return Err(Error::config(format!(
            "package.compression_level {level} is out of range for {}: {}-{}",
            compression.name(),
            range.start(),
            range.end()
        )));
    }
    let output_dir = match &p.output_dir {
        Some(d) => normalize(&ctx.cwd.join(d)),
        None => crate::output::parent_dir(ctx.output_tar),
    };
    let config_dir = find_config_dir(p.config_files.as_deref(), ctx)?;
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
        let src = config_file(&config_dir, file, ctx.distribution)
            .unwrap_or_else(|| config_dir.join(file));
        files.push(InstallFile {
            path: format!("{resources_dir}/packages/{dir}/{}-{file}", ctx.distribution),
            source: Source::File(src),
            mode,
        });
    }
    Ok(Some(PackagePlan {
        name,
        version,
        revision,
        architecture,
        maintainer,
        description: p.description.clone(),
        homepage,
        license,
        copyright,
        depends,
        resources_dir,
        config_dir,
        compression,
        level,
        output_dir,
        formats,
        distribution: ctx.distribution.to_string(),
        release: ctx.release.to_string(),
        agent_name,
        files,
        rpm: crate::rpm::settings(p, ctx.formats, ctx.cwd)?,
    }))
}

/// `--from-tar PATH`: an existing gzip file, packaged with `--format deb` (not tar).
pub fn check_from_tar(path: &Path, formats: &[Format]) -> Result<PathBuf> {
    let path = normalize(path);
    if formats.contains(&Format::Tar) || formats.is_empty() {
        return Err(Error::config(
            "--from-tar packages an existing agent tar: use it with --format deb and/or rpm (not tar)",
        ));
    }
    let mut magic = [0u8; 2];
    let read = std::fs::File::open(&path).and_then(|mut f| {
        use std::io::Read;
        f.read_exact(&mut magic)
    });
    match read {
        Ok(()) if magic == [0x1f, 0x8b] => Ok(path),
        Ok(()) => Err(Error::config(format!(
            "--from-tar {}: not a gzip file (expected an agent .tar.gz)",
            path.display()
        ))),
        Err(e) => Err(Error::config(format!(
            "--from-tar {}: cannot read it: {e}",
            path.display()
        ))),
    }
}

/// `package.config_files`, else `packaging/<distribution>/` next to the config file,
/// in the current directory, then under [`SYSTEM_PACKAGING`], then the built-in set.
fn find_config_dir(given: Option<&str>, ctx: &Context) -> Result<PathBuf> {
    let dist = ctx.distribution.to_lowercase();
    let candidates: Vec<PathBuf> = match given {
        Some(g) => vec![normalize(&ctx.cwd.join(g))],
        None => {
            let mut bases: Vec<PathBuf> = ctx
                .config_dir
                .map(|d| d.join("packaging"))
                .into_iter()
                .collect();
            bases.push(ctx.cwd.join("packaging"));
            bases.push(PathBuf::from(SYSTEM_PACKAGING));
            let mut dirs: Vec<PathBuf> = Vec::new();
            for b in bases {
                let d = normalize(&b.join(&dist));
                if !dirs.contains(&d) {
                    dirs.push(d);
                }
            }
            dirs
        }
    };
    let found = candidates.iter().find(|d| d.is_dir());
    // Nothing on disk: the set compiled into the binary (not for an explicit path).
    if let (None, None, Some(set)) = (found, given, builtin::for_distribution(&dist)) {
        return Ok(builtin::dir_of(set));
    }
    let Some(dir) = found else {
        let looked: Vec<String> = candidates.iter().map(|c| c.display().to_string()).collect();
        return Err(Error::config(format!(
            "no agent config files for distribution {}: looked in {}",
            ctx.distribution,
            looked.join(", ")
        ))
        .with(format!(
            "set package.config_files to a directory holding {}",
            CONFIG_FILES.map(|c| c.0).join(", ")
        )));
    };
    let missing: Vec<&str> = CONFIG_FILES
        .iter()
        .filter(|(f, _, _)| config_file(dir, f, ctx.distribution).is_none())
        .map(|c| c.0)
        .collect();
    if !missing.is_empty() {
        return Err(Error::config(format!(
            "agent config files missing in {}: {}",
            dir.display(),
            missing.join(", ")
        )));
    }
    Ok(dir.clone())
}

/// `<dir>/<file>`, or the packman-style `<dir>/<Distribution>-<file>`.
fn config_file(dir: &Path, file: &str, distribution: &str) -> Option<PathBuf> {
    [dir.join(file), dir.join(format!("{distribution}-{file}"))]
        .into_iter()
        .find(|p| p.is_file())
}

impl PackagePlan {
    /// `<version>-<revision>`.
    pub fn full_version(&self) -> String {
        format!("{}-{}", self.version, self.revision)
    }
    pub fn deb_arch(&self) -> String {
        deb_arch_name(self.architecture.as_deref().unwrap_or(host_arch()))
    }
    pub fn rpm_arch(&self) -> String {
        rpm_arch_name(&self.deb_arch())
    }
    /// The output path for `format` (deb or rpm).
    pub fn output(&self, format: Format) -> PathBuf {
        let file = match format {
            Format::Rpm => format!(
                "{}-{}-{}.{}.rpm",
                self.name,
                self.version,
                self.revision,
                self.rpm_arch()
            ),
            _ => format!(
                "{}_{}_{}.deb",
                self.name,
                self.full_version(),
                self.deb_arch()
            ),
        };
        self.output_dir.join(file)
    }
    pub fn outputs(&self) -> Vec<PathBuf> {
        self.formats.iter().map(|f| self.output(*f)).collect()
    }
}

impl fmt::Display for PackagePlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "package:      {} {}", self.name, self.full_version())?;
        for format in &self.formats {
            writeln!(
                f,
                "  {}:  {}",
                format.name(),
                self.output(*format).display()
            )?;
        }
        writeln!(
            f,
            "  compression: {} (level {})",
            self.compression.name(),
            self.level
        )?;
        if self.formats.contains(&Format::Rpm) {
            writeln!(f, "  rpm payload: {}", self.rpm)?;
        }
        match builtin::set_of(&self.config_dir) {
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
        if self.formats.contains(&Format::Deb) {
            for (path, _) in crate::deb::doc_files(self, 0) {
                writeln!(f, "    {path} (deb)")?;
            }
        }
        Ok(())
    }
}
