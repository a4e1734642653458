//! `--format deb`: the manager package holding the agent tar and its config files.
//!
//! Layout of the written file: ar members `debian-binary`, `control.tar.gz`,
//! `data.tar.<ext>` ([`ar`]). Everything is streamed into a temporary file beside
//! the destination and renamed into place ([`crate::util::atomic::AtomicFile`]); memory
//! does not grow with the payload. With gzip (the default) the agent tar, already
//! gzip, goes into `data.tar.gz` as deflate stored blocks — a copy plus CRC, no
//! recompression — while headers and text files are compressed normally.
//!
//! One pass: file md5s are computed while the data member is streamed. The
//! control member comes first in the file, so it is written first as a
//! placeholder with zero md5s and rewritten in place at the end. It is gzip of
//! stored blocks, whose size depends only on the input length, so the placeholder
//! and the real member are exactly the same size.

pub(crate) mod control;
pub(crate) mod data;

use crate::codec::{Compression, Compressor};
use crate::debian::ar;
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::package::{AgentInfo, Format, PackagePlan, PackageWriter, Source, WriteJob, Written};
use crate::util::atomic::AtomicFile;
use data::{Content, Sink};
use std::io::{self, BufWriter, Write};
use std::path::Path;

/// `--format deb`.
pub(crate) struct DebWriter;

impl PackageWriter for DebWriter {
    fn format(&self) -> Format {
        Format::Deb
    }

    fn file_name(&self, pkg: &PackagePlan) -> String {
        format!("{}_{}_{}.deb", pkg.name, pkg.full_version(), pkg.deb_arch())
    }

    fn check(&self, pkg: &PackagePlan) -> Result<Vec<String>> {
        Ok(vec![format!(
            "compression: {} (level {})",
            pkg.compression.compression.name(),
            level(pkg)
        )])
    }

    fn generated_files(&self, pkg: &PackagePlan) -> Vec<String> {
        doc_files(pkg, 0)
            .into_iter()
            .map(|(path, _)| path)
            .collect()
    }

    fn prepare(&self, pkg: &PackagePlan) -> Result<Box<dyn WriteJob>> {
        // A Depends apt cannot parse would break every repository the deb enters.
        let depends = control::depends(pkg);
        if !depends.is_empty() {
            crate::debian::relation::check_field("Depends", &depends.join(", "))
                .map_err(|e| crate::error::Error::config(format!("package.depends: {e}")))?;
        }
        Ok(Box::new(DebWriter))
    }
}

impl WriteJob for DebWriter {
    fn write(
        &self,
        pkg: &PackagePlan,
        agent: &AgentInfo,
        dest: &Path,
        force: bool,
        log: &Log,
    ) -> Result<Written> {
        write(pkg, agent, dest, force, log)
    }
}

/// The data member's compression level: as configured, else gzip 9 (as
/// dpkg-deb), xz 6, zstd 3.
fn level(pkg: &PackagePlan) -> u32 {
    pkg.compression.level_or(|c| match c {
        Compression::Gzip => 9,
        Compression::Xz => 6,
        Compression::Zstd => 3,
        Compression::None => 0,
    })
}

/// The generated documentation files: (absolute path, contents).
pub(crate) fn doc_files(pkg: &PackagePlan, mtime: u64) -> Vec<(String, Option<String>)> {
    let doc = format!("/usr/share/doc/{}", pkg.name);
    let mut out = vec![
        (format!("{doc}/changelog.Debian.gz"), None),
        (
            format!("{doc}/copyright"),
            Some(control::copyright(pkg, mtime)),
        ),
    ];
    let overrides = control::lintian_overrides(pkg);
    if !overrides.is_empty() {
        out.push((
            format!("/usr/share/lintian/overrides/{}", pkg.name),
            Some(overrides),
        ));
    }
    out
}

/// Writes the .deb for `pkg` around the agent tar `agent.tar` to `dest`.
fn write(
    pkg: &PackagePlan,
    agent: &AgentInfo,
    dest: &Path,
    force: bool,
    log: &Log,
) -> Result<Written> {
    let compression = pkg.compression.compression;
    match compression {
        Compression::Zstd => log.warn(
            "zstd-compressed debs need dpkg >= 1.21.18 (Debian 12, Ubuntu 22.04); older dpkg cannot install them",
        ),
        Compression::None => {
            log.warn("an uncompressed data.tar is valid for dpkg but lintian reports it as an error")
        }
        _ => {}
    }
    let mtime = pkg.build_time()?;
    let entries = data::tree(payload(pkg, agent, mtime)?)?;
    let control = control::control(pkg, agent, control::installed_size(&entries));
    let zeros: Vec<Option<[u8; 16]>> = entries
        .iter()
        .map(|e| (!e.is_dir()).then_some([0; 16]))
        .collect();
    let placeholder = control_tar_gz(&control, &control::md5sums(&entries, &zeros), mtime)?;

    let mut file = AtomicFile::create(dest)?;
    let tmp = file.path().to_path_buf();
    let io_err = |e: io::Error| Error::io("writing", &tmp, e);
    let out = BufWriter::with_capacity(1 << 20, file.file());
    let mut ar = ar::ArWriter::new(out, mtime).map_err(io_err)?;
    ar.append("debian-binary", b"2.0\n").map_err(io_err)?;
    let control_at = ar.append("control.tar.gz", &placeholder).map_err(io_err)?;
    let member = match compression {
        Compression::Gzip => "data.tar.gz",
        Compression::Xz => "data.tar.xz",
        Compression::Zstd => "data.tar.zst",
        Compression::None => "data.tar",
    };
    let open = ar.begin(member).map_err(io_err)?;
    let mut sink = Compressor::new(ar.get_mut(), compression, level(pkg)).map_err(io_err)?;
    let sums = data::write(&mut sink, &entries, mtime)?;
    sink.finish().map_err(io_err)?;
    ar.end(open).map_err(io_err)?;
    let real = control_tar_gz(&control, &control::md5sums(&entries, &sums), mtime)?;
    ar.rewrite(control_at, placeholder.len(), &real)
        .map_err(io_err)?;
    ar.into_inner()
        .into_inner()
        .map_err(|e| io_err(e.into_error()))?;
    let bytes = file.file().metadata().ctx("reading", &tmp)?.len();
    file.commit(force)?;
    Ok(Written {
        path: dest.to_path_buf(),
        bytes,
        files: sums.iter().flatten().count(),
        note: format!(", Installed-Size {} KiB", control::installed_size(&entries)),
    })
}

/// Every file of the data tar: the plan's files and the generated docs.
fn payload(
    pkg: &PackagePlan,
    agent: &AgentInfo,
    mtime: u64,
) -> Result<Vec<(String, Content, u32)>> {
    let mut files = Vec::new();
    for f in &pkg.files {
        let content = match &f.source {
            Source::AgentTar => Content::File {
                path: agent.tar.clone(),
                stored: pkg.compression.compression == Compression::Gzip,
            },
            Source::File(p) => Content::File {
                path: p.clone(),
                stored: false,
            },
        };
        files.push((f.path.clone(), content, f.mode));
    }
    for (path, text) in doc_files(pkg, mtime) {
        let bytes = match text {
            Some(t) => t.into_bytes(),
            None => gzip9n(control::changelog(pkg, mtime).as_bytes())?,
        };
        files.push((path, Content::Bytes(bytes), 0o644));
    }
    Ok(files)
}

/// gzip -9n: maximum compression, no name, no timestamp.
fn gzip9n(data: &[u8]) -> Result<Vec<u8>> {
    let mut gz = Compressor::new(Vec::new(), Compression::Gzip, 9)
        .map_err(|e| Error::build(format!("compressing the changelog: {e}")))?;
    gz.write_all(data)
        .and_then(|_| gz.finish())
        .map_err(|e| Error::build(format!("compressing the changelog: {e}")))
}

/// `control.tar.gz` with `./`, `./control` and `./md5sums`, as stored blocks.
fn control_tar_gz(control: &str, md5sums: &str, mtime: u64) -> Result<Vec<u8>> {
    let entries = data::tree(vec![
        (
            "/control".into(),
            Content::Bytes(control.as_bytes().to_vec()),
            0o644,
        ),
        (
            "/md5sums".into(),
            Content::Bytes(md5sums.as_bytes().to_vec()),
            0o644,
        ),
    ])?;
    let mut gz = Compressor::new(Vec::new(), Compression::Gzip, 0)
        .map_err(|e| Error::build(format!("writing control.tar.gz: {e}")))?;
    data::write(&mut gz, &entries, mtime)?;
    gz.finish()
        .map_err(|e| Error::build(format!("writing control.tar.gz: {e}")))
}

impl<W: Write> Sink for Compressor<W> {
    fn set_store(&mut self, store: bool) {
        Compressor::set_store(self, store);
    }
}
