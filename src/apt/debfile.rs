//! Reading a `.deb`: the `ar` container, the control member
//! (`control.tar`, `.gz`, `.xz` or `.zst`) and its `control` file, with the
//! checksums of the whole file computed in the same single streaming pass (which
//! can also copy the bytes elsewhere, so what is hashed is exactly what is copied).
//! Memory use does not depend on the size of the package.

use super::digest::{Digests, Hasher};
use crate::codec::gunzip::GzMember;
use crate::debian::ar;
use crate::debian::deb822::Paragraph;
use crate::debian::version;
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use super::limits::MAX_CONTROL;
const CHUNK: usize = 256 << 10;

/// A binary package's `control` file, checked for what a repository needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Control {
    para: Paragraph,
}

/// What publishing needs to know about one `.deb`.
#[derive(Debug, Clone)]
pub(super) struct Deb {
    pub control: Control,
    pub digests: Digests,
}

impl Control {
    /// Parse one deb822 paragraph, checking the fields a repository needs.
    pub(super) fn parse(text: &str) -> std::result::Result<Control, String> {
        let control = Control {
            para: Paragraph::parse(text)?,
        };
        for field in ["Package", "Version", "Architecture"] {
            if control.get(field).is_none_or(str::is_empty) {
                return Err(format!("missing {field} field"));
            }
        }
        check_name("Package", control.package())?;
        if !version::is_valid(control.version()) {
            return Err(format!("bad Version {:?}", control.version()));
        }
        let arch = control.architecture();
        if !arch
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
            || arch.starts_with('-')
        {
            return Err(format!(
                "bad Architecture {arch:?} (one architecture name expected)"
            ));
        }
        check_name("Source", control.source())?;
        super::limits::check_control(control.fields())?;
        Ok(control)
    }

    pub(super) fn fields(&self) -> &[(String, String)] {
        self.para.fields()
    }

    pub(super) fn get(&self, name: &str) -> Option<&str> {
        self.para.get(name)
    }

    pub(super) fn package(&self) -> &str {
        self.get("Package").unwrap_or_default()
    }
    pub(super) fn version(&self) -> &str {
        self.get("Version").unwrap_or_default()
    }
    pub(super) fn architecture(&self) -> &str {
        self.get("Architecture").unwrap_or_default()
    }
    /// The source package name (`Source: name (version)` → `name`), else the package.
    pub(super) fn source(&self) -> &str {
        match self.get("Source") {
            Some(s) if !s.is_empty() => s.split_whitespace().next().unwrap_or(s),
            _ => self.package(),
        }
    }
}

fn check_name(what: &str, name: &str) -> std::result::Result<(), String> {
    if crate::debian::is_package_name(name) {
        Ok(())
    } else {
        Err(format!(
            "bad {what} name {name:?} (lowercase letters, digits, `+-.`, at least 2 characters)"
        ))
    }
}

/// Reads the source while hashing every byte and copying it to `copy`.
struct Tee<'a> {
    inner: BufReader<File>,
    hasher: Hasher,
    copy: Option<&'a mut dyn Write>,
    read_error: Option<io::Error>,
    write_error: Option<io::Error>,
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => return Err(e),
            Err(e) => {
                let err = io::Error::new(e.kind(), e.to_string());
                self.read_error = Some(e);
                return Err(err);
            }
        };
        self.hasher.update(&buf[..n]);
        if let Some(w) = self.copy.as_mut()
            && let Err(e) = w.write_all(&buf[..n])
        {
            let err = io::Error::new(e.kind(), e.to_string());
            self.write_error = Some(e);
            return Err(err);
        }
        Ok(n)
    }
}

/// Read `src` once: check that it is a binary package, parse its control file and
/// checksum every byte, copying the bytes to `copy` (named `copy_path` in errors).
pub(super) fn read(src: &Path, copy: Option<(&mut dyn Write, &Path)>) -> Result<Deb> {
    let file = File::open(src).map_err(|e| match e.kind() {
        io::ErrorKind::NotFound => Error::config(format!("{}: no such file", src.display())),
        _ => Error::io("reading", src, e),
    })?;
    let (copy, copy_path) = match copy {
        Some((w, p)) => (Some(w), Some(p)),
        None => (None, None),
    };
    // Buffers no bigger than the file: most packages published are small.
    let len = file.metadata().map_or(CHUNK as u64, |m| m.len());
    let buffer = usize::try_from(len).unwrap_or(CHUNK).clamp(4096, CHUNK);
    let mut tee = Tee {
        inner: BufReader::with_capacity(buffer, file),
        hasher: Hasher::default(),
        copy,
        read_error: None,
        write_error: None,
    };
    let parsed = parse(&mut tee);
    if let Some(e) = tee.write_error.take() {
        return Err(Error::io("writing", copy_path.unwrap_or(src), e));
    }
    if let Some(e) = tee.read_error.take() {
        return Err(Error::io("reading", src, e));
    }
    let control = parsed.map_err(|msg| {
        Error::config(format!(
            "{}: not a valid Debian binary package: {msg}",
            src.display()
        ))
        .with("publish takes .deb files as built by dpkg-deb or `cfy-ap --format deb`")
    })?;
    Ok(Deb {
        control,
        digests: tee.hasher.finish(),
    })
}

fn parse(r: &mut Tee) -> std::result::Result<Control, String> {
    ar::read_magic(r)?;
    let (name, size) = ar::next_member(r)?.ok_or("empty ar archive")?;
    if name != "debian-binary" {
        return Err(format!("first member is {name:?}, expected debian-binary"));
    }
    let mut version = Vec::new();
    (&mut *r)
        .take(size.min(64))
        .read_to_end(&mut version)
        .map_err(ar::read_err)?;
    if !version.starts_with(b"2.") {
        return Err(format!(
            "unsupported format version {:?}",
            String::from_utf8_lossy(&version).trim()
        ));
    }
    ar::skip(r, size - version.len() as u64, size)?;

    // dpkg ignores members starting with `_` before control.tar.
    let (name, size) = loop {
        match ar::next_member(r)? {
            Some((n, s)) if n.starts_with('_') => ar::skip(r, s, s)?,
            Some(m) => break m,
            None => return Err("no control.tar member".into()),
        }
    };
    let mut body = (&mut *r).take(size);
    let control = read_control_member(&name, &mut body)?;
    let left = body.limit();
    ar::skip(r, left, size)?;

    match ar::next_member(r)? {
        Some((n, s)) if n.starts_with("data.tar") => ar::skip(r, s, s)?,
        Some((n, _)) => return Err(format!("member {n:?} where data.tar was expected")),
        None => return Err("no data.tar member (truncated?)".into()),
    }
    // Whatever follows is ignored by dpkg, but still hashed and copied.
    ar::drain(r).map_err(ar::read_err)?;
    Ok(control)
}

fn read_control_member(name: &str, body: &mut impl Read) -> std::result::Result<Control, String> {
    let decoder: Box<dyn Read + '_> = match name {
        "control.tar" => Box::new(body),
        "control.tar.gz" => Box::new(GzMember::new(body).map_err(|e| format!("{name}: {e}"))?),
        "control.tar.xz" => Box::new(liblzma::read::XzDecoder::new(body)),
        "control.tar.zst" => {
            Box::new(zstd::stream::read::Decoder::new(body).map_err(|e| format!("{name}: {e}"))?)
        }
        other => return Err(format!("member {other:?} where control.tar was expected")),
    };
    let mut archive = tar::Archive::new(decoder);
    let entries = archive.entries().map_err(|e| format!("{name}: {e}"))?;
    for entry in entries {
        let entry = entry.map_err(|e| format!("{name}: {e}"))?;
        let path = entry.path_bytes();
        if !matches!(path.as_ref(), b"./control" | b"control") {
            continue;
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(format!("{name}: control is not a regular file"));
        }
        let too_big = |size: u64| {
            format!(
                "control file of {size} bytes, over the limit of {MAX_CONTROL} (refused, not truncated)"
            )
        };
        let declared = entry.header().size().map_err(|e| format!("{name}: {e}"))?;
        if declared > MAX_CONTROL {
            return Err(too_big(declared));
        }
        let mut text = String::new();
        entry
            .take(MAX_CONTROL + 1)
            .read_to_string(&mut text)
            .map_err(|e| format!("{name}: control: {e}"))?;
        if text.len() as u64 > MAX_CONTROL {
            return Err(too_big(text.len() as u64));
        }
        return Control::parse(&text).map_err(|e| format!("control file: {e}"));
    }
    Err(format!("{name} has no control file"))
}

#[cfg(test)]
mod tests {
    use super::Control;

    #[test]
    fn parses_multiline_fields_in_order() {
        let c = Control::parse(
            "Package: demo-agent\nVersion: 2:1.0~rc1-1\nArchitecture: amd64\n\
             Source: demo (1.0)\nDescription: short\n long line\n .\n more\n\n",
        )
        .unwrap();
        assert_eq!(c.package(), "demo-agent");
        assert_eq!(c.source(), "demo");
        assert_eq!(c.get("description"), Some("short\n long line\n .\n more"));
        assert_eq!(c.fields()[0].0, "Package");
    }

    #[test]
    fn rejects_broken_controls() {
        for bad in [
            "Version: 1\nArchitecture: all\n",
            "Package: x\nVersion: 1\nArchitecture: all\n",
            "Package: ok-name\nVersion: 1/2\nArchitecture: all\n",
            "Package: ok-name\nVersion: 1\nArchitecture: amd64 arm64\n",
            "Package: ../etc\nVersion: 1\nArchitecture: all\n",
            " continuation\nPackage: ok\n",
            "Package: ok\nPackage: ok\nVersion: 1\nArchitecture: all\n",
            "Package: ok\nVersion: 1\nArchitecture: all\n\nPackage: two\n",
            "garbage",
        ] {
            assert!(Control::parse(bad).is_err(), "{bad:?}");
        }
    }
}
