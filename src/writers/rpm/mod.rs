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

pub(crate) mod deps;
pub(crate) mod sign;
pub(crate) mod stream;

use crate::codec::{Compression, Setting};
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::package::{
    AgentInfo, Format, InstallFile, PackagePlan, PackageWriter, Source, WriteJob, Written, texts,
};
use crate::util::atomic::AtomicFile;
use ::rpm::{BuildConfig, CompressionWithLevel, FileOptions, PackageBuilder, Timestamp};
pub(crate) use deps::Require;
pub(crate) use sign::RpmSigner;
use std::collections::BTreeMap;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// Default payload level per compressor when `package.compression_level` is unset.
pub(crate) const DEFAULT_GZIP_LEVEL: u32 = 0;
pub(crate) const DEFAULT_XZ_LEVEL: u32 = 0;
pub(crate) const DEFAULT_ZSTD_LEVEL: u32 = 3;

/// The Group tag (rpm's own default, `Unspecified`, counts as none for rpmlint).
pub(crate) const GROUP: &str = "Applications/System";

/// `--format rpm`.
pub(crate) struct RpmWriter;

impl PackageWriter for RpmWriter {
    fn format(&self) -> Format {
        Format::Rpm
    }

    fn file_name(&self, pkg: &PackagePlan) -> String {
        format!(
            "{}-{}-{}.{}.rpm",
            pkg.name,
            pkg.version,
            pkg.revision,
            pkg.rpm_arch()
        )
    }

    fn check(&self, pkg: &PackagePlan) -> Result<Vec<String>> {
        let requires = requires(pkg)?;
        let (name, level) = match payload(pkg.compression) {
            CompressionWithLevel::Gzip(l) => ("gzip", l as i64),
            CompressionWithLevel::Xz(l) => ("xz", l as i64),
            CompressionWithLevel::Zstd(l) => ("zstd", l as i64),
            CompressionWithLevel::Bzip2(l) => ("bzip2", l as i64),
            CompressionWithLevel::None => ("none", 0),
        };
        let mut line = format!("rpm payload: {name} (level {level})");
        if !requires.is_empty() {
            let r: Vec<String> = requires.iter().map(Require::to_string).collect();
            line.push_str(&format!("; Requires: {}", r.join(", ")));
        }
        if let Some(k) = &pkg.sign_key {
            line.push_str(&format!("; signed with {}", k.display()));
        }
        Ok(vec![line])
    }

    fn prepare(&self, pkg: &PackagePlan) -> Result<Box<dyn WriteJob>> {
        let signer = pkg.sign_key.as_deref().map(RpmSigner::load).transpose()?;
        Ok(Box::new(Job { signer }))
    }
}

/// Requires: the common package (at least this version-release), then
/// `package.rpm_depends`, else `package.depends`.
fn requires(pkg: &PackagePlan) -> Result<Vec<Require>> {
    let mut out: Vec<Require> = pkg
        .common
        .iter()
        .map(|c| Require {
            name: c.clone(),
            op: ">=",
            version: pkg.full_version(),
        })
        .collect();
    out.extend(match &pkg.rpm_depends {
        Some(r) => deps::parse_all(r, "rpm_depends")?,
        None => deps::parse_all(&pkg.depends, "depends")?,
    });
    Ok(out)
}

/// The payload compressor. rpm needs a compressor name: `none` is gzip level 0,
/// which stores the bytes as they are (the crate's `None` writes no compressor
/// tag at all).
fn payload(c: Setting) -> CompressionWithLevel {
    match c.compression {
        Compression::Xz => CompressionWithLevel::Xz(c.level.unwrap_or(DEFAULT_XZ_LEVEL)),
        Compression::Zstd => {
            CompressionWithLevel::Zstd(c.level.unwrap_or(DEFAULT_ZSTD_LEVEL) as i32)
        }
        Compression::None => CompressionWithLevel::Gzip(0),
        Compression::Gzip => CompressionWithLevel::Gzip(c.level.unwrap_or(DEFAULT_GZIP_LEVEL)),
    }
}

/// The prepared rpm writer: the signing key, loaded and tried.
struct Job {
    signer: Option<RpmSigner>,
}

impl WriteJob for Job {
    fn write(
        &self,
        pkg: &PackagePlan,
        agent: &AgentInfo,
        dest: &Path,
        force: bool,
        log: &Log,
    ) -> Result<Written> {
        write(pkg, agent, dest, self.signer.as_ref(), force, log)
    }
}

/// Writes the .rpm for `pkg` around the agent tar `agent.tar`.
fn write(
    pkg: &PackagePlan,
    agent: &AgentInfo,
    dest: &Path,
    signer: Option<&RpmSigner>,
    force: bool,
    log: &Log,
) -> Result<Written> {
    let time = build_time(pkg)?;
    let mut total = 0;
    for f in &pkg.files {
        let src = source(f, agent);
        total += std::fs::metadata(src).ctx("reading", src)?.len();
    }
    let streamed = total < stream::LIMIT;
    if !streamed {
        log.detail("files of 4 GiB or more: the rpm crate builds the whole package");
    }
    let mut file = AtomicFile::create(dest)?;
    write_package(pkg, agent, time, streamed, signer, &mut file)?;
    if let Some(s) = signer {
        log.detail(&format!("signed with {}", s.path.display()));
    }
    let tmp = file.path().to_path_buf();
    let bytes = file.file().metadata().ctx("reading", &tmp)?.len();
    file.commit(force)?;
    Ok(Written {
        path: dest.to_path_buf(),
        bytes,
        files: pkg.files.len(),
        note: if signer.is_some() { ", signed" } else { "" }.into(),
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
        let header = stream::write(&mut b, &sources, payload(pkg.compression), file.file())?;
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

/// The package's time ([`PackagePlan::build_time`]) as rpm's 32-bit time.
fn build_time(pkg: &PackagePlan) -> Result<u32> {
    let t = pkg.build_time()?;
    u32::try_from(t).map_err(|_| {
        Error::config(format!(
            "SOURCE_DATE_EPOCH {t} is past 2106: rpm stores times in 32 bits"
        ))
    })
}

/// The BuildHost tag: `reproducible` for a reproducible package (as Fedora's
/// reproducible builds set it under SOURCE_DATE_EPOCH), else this host's name.
fn build_host(pkg: &PackagePlan) -> String {
    if pkg.reproducible().unwrap_or(false) {
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
    let (summary, description) = texts::summary_and_body(pkg, agent);
    let config = BuildConfig::v4()
        .compression(payload(pkg.compression))
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
        .build_host(build_host(pkg))
        .add_changelog_entry(
            format!("{} - {}", pkg.maintainer, pkg.full_version()),
            format!(
                "- {}, packaged by cfy-ap {}.",
                texts::what(pkg),
                env!("CARGO_PKG_VERSION")
            ),
            time,
        );
    if let Some(url) = &pkg.homepage {
        b.url(url.as_str());
    }
    for r in requires(pkg)? {
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
    use crate::config::Package;

    /// The agent's package plan for `cfg` with `formats`, resolved as a run would.
    fn plan(cfg: &Package, formats: &[Format], tar: &Path) -> Result<PackagePlan> {
        let mut cfg = cfg.clone();
        cfg.version.get_or_insert_with(|| "1".into());
        crate::package::resolve(&crate::package::Context {
            package: Some(&cfg),
            formats,
            writers: crate::writers::ALL,
            distribution: "centos",
            release: "Core",
            agent: "centos-Core-agent",
            architecture: "x86_64",
            output_tar: tar,
            config_dir: None,
            cwd: Path::new(env!("CARGO_MANIFEST_DIR")),
        })
        .map(|p| p.into_iter().next().expect("a package format"))
    }

    #[test]
    fn compression_from_config() {
        let pick = |c: Option<&str>, l: Option<u32>| {
            let p = Package {
                compression: c.map(String::from),
                compression_level: l,
                ..Package::default()
            };
            payload(
                plan(&p, &[Format::Rpm], Path::new("/w/a.tar.gz"))
                    .unwrap()
                    .compression,
            )
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
        let tar = Path::new("/w/a.tar.gz");
        let p = Package {
            depends: Some(vec!["python (>= 2.7)".into()]),
            sign_key: Some("keys/../k.asc".into()),
            ..Package::default()
        };
        let pkg = plan(&p, &[Format::Rpm], tar).unwrap();
        let r: Vec<String> = requires(&pkg)
            .unwrap()
            .iter()
            .map(Require::to_string)
            .collect();
        assert_eq!(r, ["cloudify-centos-agent-common >= 1-1", "python >= 2.7"]);
        let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
        assert_eq!(pkg.sign_key.as_deref(), Some(repo.join("k.asc").as_path()));
        let p = Package {
            depends: Some(vec!["python:any".into()]),
            rpm_depends: Some(vec!["python2".into()]),
            ..Package::default()
        };
        let pkg = plan(&p, &[Format::Rpm], tar).unwrap();
        assert_eq!(requires(&pkg).unwrap()[1].name, "python2");
        let p = Package {
            depends: Some(vec!["a | b".into()]),
            ..Package::default()
        };
        assert!(plan(&p, &[Format::Rpm], tar).is_err());
        assert!(plan(&p, &[Format::Deb], tar).is_ok());
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
            let pkg = plan(&cfg, &[Format::Rpm], &tar).unwrap();
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
