//! `--format rpm`: the manager package as an rpm, built in-process with the `rpm`
//! crate (v4 format, SHA-256 file, header and payload digests).
//!
//! Same files, modes and layout as the deb ([`crate::package::PackagePlan::files`]),
//! all root:root with one mtime (SOURCE_DATE_EPOCH when set, so rebuilds are
//! byte-identical). The package owns its files only: every directory they are in
//! (`<resources>/packages/agents`, …) is shared with the manager's other packages.
//!
//! Payload compression: the agent tar, nearly all of the payload, is gzip already,
//! so by default the cpio payload is gzip at level 0: stored deflate blocks, a copy
//! plus CRC that any rpm can read (measured on a 20 MB agent: level 1 is slower
//! and even 5% bigger, zstd -19, the crate's default, spends seconds for
//! nothing). `package.compression` picks xz or zstd instead, and an explicit
//! `package.compression_level` is honoured.
//!
//! Streaming: the crate builds the header around empty stand-ins and [`stream`]
//! writes the payload, reading each file once, straight into the output's
//! temporary file; memory does not grow with the agent. Only for files of
//! 4 GiB or more does the crate build everything itself: it then reads each file
//! twice and holds the whole compressed payload in memory.

pub mod deps;
pub mod sign;
pub mod stream;

use crate::archive::source_date_epoch;
use crate::config::Package;
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::output::AtomicFile;
use crate::package::{AgentInfo, InstallFile, PackagePlan, Source};
use crate::plan::{Format, normalize};
use ::rpm::{BuildConfig, CompressionWithLevel, FileOptions, PackageBuilder, Timestamp};
pub use deps::Require;
pub use sign::RpmSigner;
use std::collections::BTreeMap;
use std::fmt;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Default payload level per compressor when `package.compression_level` is unset.
pub const DEFAULT_GZIP_LEVEL: u32 = 0;
pub const DEFAULT_XZ_LEVEL: u32 = 0;
pub const DEFAULT_ZSTD_LEVEL: i32 = 3;

/// The Group tag (rpm's own default, `Unspecified`, counts as none for rpmlint).
pub const GROUP: &str = "Applications/System";

/// The rpm-only settings, resolved with the package plan.
#[derive(Debug, Clone)]
pub struct Settings {
    pub requires: Vec<Require>,
    /// `package.sign_key`, made absolute (against the current directory).
    pub sign_key: Option<PathBuf>,
    pub compression: CompressionWithLevel,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            requires: Vec::new(),
            sign_key: None,
            compression: CompressionWithLevel::Gzip(DEFAULT_GZIP_LEVEL),
        }
    }
}

/// Reads the rpm keys of `package:`; defaults when no rpm is requested. The
/// compression name and level are validated by [`crate::package::resolve`].
pub fn settings(p: &Package, formats: &[Format], cwd: &Path) -> Result<Settings> {
    if !formats.contains(&Format::Rpm) {
        return Ok(Settings::default());
    }
    let requires = match (&p.rpm_depends, &p.depends) {
        (Some(r), _) => deps::parse_all(r, "rpm_depends")?,
        (None, Some(d)) => deps::parse_all(d, "depends")?,
        (None, None) => Vec::new(),
    };
    let sign_key = match p.sign_key.as_deref() {
        Some(k) if k.trim().is_empty() => {
            return Err(Error::config("package.sign_key is empty"));
        }
        Some(k) => Some(normalize(&cwd.join(k))),
        None => None,
    };
    let level = p.compression_level;
    let compression = match p.compression.as_deref().unwrap_or("gzip") {
        "xz" => CompressionWithLevel::Xz(level.unwrap_or(DEFAULT_XZ_LEVEL)),
        "zstd" | "zst" => {
            CompressionWithLevel::Zstd(level.map_or(DEFAULT_ZSTD_LEVEL, |l| l as i32))
        }
        // rpm needs a payload compressor name: gzip level 0 stores the bytes as
        // they are (the crate's `None` writes no compressor tag at all).
        "none" => CompressionWithLevel::Gzip(0),
        _ => CompressionWithLevel::Gzip(level.unwrap_or(DEFAULT_GZIP_LEVEL)),
    };
    Ok(Settings {
        requires,
        sign_key,
        compression,
    })
}

impl fmt::Display for Settings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (name, level) = match self.compression {
            CompressionWithLevel::Gzip(l) => ("gzip", l as i64),
            CompressionWithLevel::Xz(l) => ("xz", l as i64),
            CompressionWithLevel::Zstd(l) => ("zstd", l as i64),
            CompressionWithLevel::Bzip2(l) => ("bzip2", l as i64),
            CompressionWithLevel::None => ("none", 0),
        };
        write!(f, "{name} (level {level})")?;
        if !self.requires.is_empty() {
            let r: Vec<String> = self.requires.iter().map(Require::to_string).collect();
            write!(f, "; Requires: {}", r.join(", "))?;
        }
        if let Some(k) = &self.sign_key {
            write!(f, "; signed with {}", k.display())?;
        }
        Ok(())
    }
}

/// Loads and tries the signing key, if any: call before any build work.
pub fn signer(pkg: &PackagePlan) -> Result<Option<RpmSigner>> {
    if !pkg.formats.contains(&Format::Rpm) {
        return Ok(None);
    }
    pkg.rpm.sign_key.as_deref().map(RpmSigner::load).transpose()
}

/// What [`write`] produced.
#[derive(Debug, Clone)]
pub struct Stats {
    pub path: PathBuf,
    pub bytes: u64,
    pub files: usize,
    pub signed: bool,
}

/// Writes the .rpm for `pkg` around the agent tar `agent.tar`.
pub fn write(
    pkg: &PackagePlan,
    agent: &AgentInfo,
    signer: Option<&RpmSigner>,
    force: bool,
    log: &Log,
) -> Result<Stats> {
    let dest = pkg.output(Format::Rpm);
    let time = build_time()?;
    let mut total = 0;
    for f in &pkg.files {
        let src = source(f, agent);
        total += std::fs::metadata(src).ctx("reading", src)?.len();
    }
    let streamed = total < stream::LIMIT;
    if !streamed {
        log.detail("files of 4 GiB or more: the rpm crate builds the whole package");
    }
    let mut file = AtomicFile::create(&dest)?;
    write_package(pkg, agent, time, streamed, signer, &mut file)?;
    if let Some(s) = signer {
        log.detail(&format!("signed with {}", s.path.display()));
    }
    let tmp = file.path().to_path_buf();
    let bytes = file.file().metadata().ctx("reading", &tmp)?.len();
    file.commit(force)?;
    Ok(Stats {
        path: dest,
        bytes,
        files: pkg.files.len(),
        signed: signer.is_some(),
    })
}

/// Writes the package into `file`: the payload streamed ([`stream`]), or the
/// whole package built by the crate alone (files of 4 GiB or more).
fn write_package(
    pkg: &PackagePlan,
    agent: &AgentInfo,
    time: u32,
    streamed: bool,
    signer: Option<&RpmSigner>,
    file: &mut AtomicFile,
) -> Result<()> {
    let tmp = file.path().to_path_buf();
    let werr = |e: String| Error::build(format!("writing {}: {e}", tmp.display()));
    if streamed {
        let sources: BTreeMap<String, PathBuf> = pkg
            .files
            .iter()
            .map(|f| (f.path.clone(), source(f, agent).to_path_buf()))
            .collect();
        let mut b = builder(pkg, agent, time, true)?;
        let header = stream::write(&mut b, &sources, pkg.rpm.compression, file.file())?;
        if let Some(s) = signer {
            let signature = s.signature(&header, time)?;
            ::rpm::Package::apply_signature_in_place(&tmp, signature)
                .map_err(|e| werr(format!("adding the signature: {e}")))?;
        }
        return Ok(());
    }
    let mut package = builder(pkg, agent, time, false)?
        .build()
        .map_err(|e| Error::build(format!("building the rpm: {e}")))?;
    if let Some(s) = signer {
        s.sign(&mut package, time)?;
    }
    let mut out = BufWriter::with_capacity(1 << 20, file.file());
    package.write(&mut out).map_err(|e| werr(e.to_string()))?;
    out.flush().ctx("writing", &tmp)
}

fn source<'a>(f: &'a InstallFile, agent: &'a AgentInfo) -> &'a Path {
    match &f.source {
        Source::AgentTar => &agent.tar,
        Source::File(p) => p,
    }
}

/// SOURCE_DATE_EPOCH, else now, as rpm's 32-bit time.
fn build_time() -> Result<u32> {
    let t = crate::date::build_time();
    u32::try_from(t).map_err(|_| {
        Error::config(format!(
            "SOURCE_DATE_EPOCH {t} is past 2106: rpm stores times in 32 bits"
        ))
    })
}

/// The BuildHost tag: `reproducible` under SOURCE_DATE_EPOCH (as Fedora's
/// reproducible builds set it), else this host's name.
fn build_host() -> String {
    if source_date_epoch().is_some() {
        return "reproducible".into();
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty() && h.chars().all(|c| c.is_ascii_graphic()))
        .unwrap_or_else(|| "localhost".into())
}

/// The header and the file list, ready to build; with `stand_in`, every file is
/// added empty, for [`stream::build`] to fill in.
fn builder(
    pkg: &PackagePlan,
    agent: &AgentInfo,
    time: u32,
    stand_in: bool,
) -> Result<PackageBuilder> {
    let (summary, description) = texts(pkg, agent);
    let config = BuildConfig::v4()
        .compression(pkg.rpm.compression)
        .source_date(time);
    let mut b = PackageBuilder::new(
        &pkg.name,
        &pkg.version,
        &pkg.license,
        &pkg.rpm_arch(),
        &summary,
    );
    b.using_config(config)
        .release(pkg.revision.as_str())
        .description(description)
        .packager(pkg.maintainer.as_str())
        .vendor(vendor(&pkg.maintainer))
        .group(GROUP)
        .build_host(build_host())
        .add_changelog_entry(
            format!("{} - {}", pkg.maintainer, pkg.full_version()),
            format!(
                "- Cloudify agent for {} {}, packaged by cfy-ap {}.",
                pkg.distribution,
                pkg.release,
                env!("CARGO_PKG_VERSION")
            ),
            time,
        );
    if let Some(url) = &pkg.homepage {
        b.url(url.as_str());
    }
    for r in &pkg.rpm.requires {
        b.requires(r.dependency());
    }
    for f in &pkg.files {
        let source = source(f, agent);
        let options = FileOptions::new(f.path.as_str())
            .permissions(f.mode as u16)
            .user("root")
            .group("root")
            .modified_at(Timestamp(time));
        let added = if stand_in {
            b.with_file_contents(Vec::new(), options)
        } else {
            b.with_file(source, options)
        };
        added.map_err(|e| Error::build(format!("adding {} to the rpm: {e}", source.display())))?;
    }
    Ok(b)
}

/// Summary and Description: the deb's synopsis and extended description, the
/// latter without the Debian indentation (` .` lines become empty lines).
pub fn texts(pkg: &PackagePlan, agent: &AgentInfo) -> (String, String) {
    let deb = crate::deb::control::description(pkg, agent);
    let mut lines = deb.lines();
    let summary = lines.next().unwrap_or_default().to_string();
    let body: Vec<&str> = lines
        .map(|l| {
            let l = l.strip_prefix(' ').unwrap_or(l);
            if l == "." { "" } else { l }
        })
        .collect();
    (summary, body.join("\n").trim_end().to_string())
}

/// The Vendor tag: the maintainer's name without the address.
fn vendor(maintainer: &str) -> String {
    maintainer
        .split('<')
        .next()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(maintainer)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compression_from_config() {
        let rpm = [Format::Rpm];
        let cwd = Path::new("/w");
        let pick = |c: Option<&str>, l: Option<u32>| {
            let p = Package {
                compression: c.map(String::from),
                compression_level: l,
                ..Package::default()
            };
            settings(&p, &rpm, cwd).unwrap().compression
        };
        assert_eq!(pick(None, None), CompressionWithLevel::Gzip(0));
        assert_eq!(pick(Some("gzip"), None), CompressionWithLevel::Gzip(0));
        assert_eq!(pick(Some("gzip"), Some(9)), CompressionWithLevel::Gzip(9));
        assert_eq!(pick(Some("zstd"), None), CompressionWithLevel::Zstd(3));
        assert_eq!(pick(Some("xz"), Some(6)), CompressionWithLevel::Xz(6));
        assert_eq!(pick(Some("none"), None), CompressionWithLevel::Gzip(0));
    }

    #[test]
    fn requires_and_key() {
        let p = Package {
            depends: Some(vec!["python (>= 2.7)".into()]),
            sign_key: Some("keys/../k.asc".into()),
            ..Package::default()
        };
        let s = settings(&p, &[Format::Rpm], Path::new("/w")).unwrap();
        assert_eq!(s.requires[0].to_string(), "python >= 2.7");
        assert_eq!(s.sign_key.as_deref(), Some(Path::new("/w/k.asc")));
        let p = Package {
            depends: Some(vec!["python:any".into()]),
            rpm_depends: Some(vec!["python2".into()]),
            ..Package::default()
        };
        let s = settings(&p, &[Format::Rpm], Path::new("/w")).unwrap();
        assert_eq!(s.requires[0].name, "python2");
        let p = Package {
            depends: Some(vec!["a | b".into()]),
            ..Package::default()
        };
        assert!(settings(&p, &[Format::Rpm], Path::new("/w")).is_err());
        assert!(settings(&p, &[Format::Deb], Path::new("/w")).is_ok());
    }

    /// The streamed payload gives the same package as the crate alone: the same
    /// header entries (file digests, sizes, the cpio archive's digest).
    #[test]
    fn streamed_matches_the_crate() {
        let dir = tempfile::tempdir().unwrap();
        let tar = dir.path().join("centos-Core-agent.tar.gz");
        let blob: Vec<u8> = (0..300_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&tar, blob).unwrap();
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        for (compression, level) in [
            ("gzip", None),
            ("zstd", None),
            ("xz", Some(1)),
            ("gzip", Some(6)),
        ] {
            let cfg = Package {
                version: Some("3.2rc1".into()),
                depends: Some(vec!["python (>= 2.7)".into()]),
                compression: Some(compression.into()),
                compression_level: level,
                ..Package::default()
            };
            let pkg = crate::package::resolve(&crate::package::Context {
                package: Some(&cfg),
                formats: &[Format::Rpm],
                distribution: "centos",
                release: "Core",
                output_tar: &tar,
                config_dir: None,
                cwd: repo,
            })
            .unwrap()
            .unwrap();
            let agent = AgentInfo::from_tar(&tar);
            let bytes = |streamed: bool| {
                let dest = dir.path().join(format!("{streamed}.rpm"));
                let mut f = AtomicFile::create(&dest).unwrap();
                write_package(&pkg, &agent, 1_700_000_000, streamed, None, &mut f).unwrap();
                f.commit(true).unwrap();
                std::fs::read(dest).unwrap()
            };
            let (ours, theirs) = (bytes(true), bytes(false));
            let parse = |b: &[u8]| ::rpm::Package::parse(&mut &b[..]).unwrap();
            let (a, b) = (parse(&ours), parse(&theirs));
            a.verify_digests().unwrap();
            // Every entry but the compressed payload's digest (compressors cut
            // blocks where the writes fall); the archive's digest is the same.
            let entries = |p: &::rpm::Package| {
                let mut e = p.metadata.header.get_all_entries().unwrap();
                e.retain(|(t, _)| *t != u32::from(::rpm::IndexTag::RPMTAG_PAYLOADSHA256));
                e
            };
            assert_eq!(entries(&a), entries(&b), "{compression} {level:?}");
        }
    }

    #[test]
    fn vendor_is_the_name() {
        assert_eq!(vendor("Jo Bloggs <jo@example.org>"), "Jo Bloggs");
        assert_eq!(vendor("<jo@example.org>"), "<jo@example.org>");
    }
}
