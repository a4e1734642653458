//! Reading a `.deb`: the `ar` container, the control member
//! (`control.tar`, `.gz`, `.xz` or `.zst`) and its `control` file, with the
//! checksums of the whole file computed in the same single streaming pass (which
//! can also copy the bytes elsewhere, so what is hashed is exactly what is copied).
//! Memory use does not depend on the size of the package.

use super::digest::{Digests, Hasher};
use crate::error::{Error, Result};
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

/// Largest `control` file accepted (dpkg's own limits are far below this).
const MAX_CONTROL: u64 = 4 << 20;
const CHUNK: usize = 256 << 10;

/// The fields of a binary package's `control` file, in file order. Multi-line
/// values keep their continuation lines (each starting with a space) after `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Control {
    fields: Vec<(String, String)>,
}

/// What publishing needs to know about one `.deb`.
#[derive(Debug, Clone)]
pub struct Deb {
    pub control: Control,
    pub digests: Digests,
}

impl Control {
    /// Parse one deb822 paragraph, checking the fields a repository needs.
    pub fn parse(text: &str) -> std::result::Result<Control, String> {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut ended = false;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                ended = !fields.is_empty();
                continue;
            }
            if ended {
                return Err(format!("line {}: more than one paragraph", n + 1));
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = fields.last_mut() else {
                    return Err(format!(
                        "line {}: continuation line before any field",
                        n + 1
                    ));
                };
                value.push('\n');
                value.push_str(line);
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!(
                    "line {}: expected `Field: value`, got {line:?}",
                    n + 1
                ));
            };
            if name.is_empty()
                || name.starts_with(['-', '#'])
                || !name.bytes().all(|c| c.is_ascii_graphic())
            {
                return Err(format!("line {}: bad field name {name:?}", n + 1));
            }
            if fields.iter().any(|(f, _)| f.eq_ignore_ascii_case(name)) {
                return Err(format!("line {}: duplicate field {name}", n + 1));
            }
            fields.push((name.to_string(), value.trim().to_string()));
        }
        let control = Control { fields };
        for field in ["Package", "Version", "Architecture"] {
            if control.get(field).is_none_or(str::is_empty) {
                return Err(format!("missing {field} field"));
            }
        }
        check_name("Package", control.package())?;
        check_version(control.version())?;
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
        Ok(control)
    }

    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn package(&self) -> &str {
        self.get("Package").unwrap_or_default()
    }
    pub fn version(&self) -> &str {
        self.get("Version").unwrap_or_default()
    }
    pub fn architecture(&self) -> &str {
        self.get("Architecture").unwrap_or_default()
    }
    /// The source package name (`Source: name (version)` → `name`), else the package.
    pub fn source(&self) -> &str {
        match self.get("Source") {
            Some(s) if !s.is_empty() => s.split_whitespace().next().unwrap_or(s),
            _ => self.package(),
        }
    }
}

/// Package names per Debian Policy 5.6.1 (also keeps them safe as path components).
fn check_name(what: &str, name: &str) -> std::result::Result<(), String> {
    let ok = name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(&c));
    if ok {
        Ok(())
    } else {
        Err(format!(
            "bad {what} name {name:?} (lowercase letters, digits, `+-.`, at least 2 characters)"
        ))
    }
}

fn check_version(v: &str) -> std::result::Result<(), String> {
    let bad = || Err(format!("bad Version {v:?}"));
    let rest = match v.split_once(':') {
        Some((epoch, rest)) if !epoch.is_empty() && epoch.bytes().all(|c| c.is_ascii_digit()) => {
            rest
        }
        Some(_) => return bad(),
        None => v,
    };
    let ok = !rest.is_empty()
        && rest.as_bytes()[0].is_ascii_digit()
        && !rest.ends_with('-')
        && rest
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b".+~-:".contains(&c));
    if ok { Ok(()) } else { bad() }
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
pub fn read(src: &Path, copy: Option<(&mut dyn Write, &Path)>) -> Result<Deb> {
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
    let mut magic = [0u8; 8];
    if read_full(r, &mut magic)? != 8 || &magic != b"!<arch>\n" {
        return Err("no ar archive signature".into());
    }
    let (name, size) = member(r)?.ok_or("empty ar archive")?;
    if name != "debian-binary" {
        return Err(format!("first member is {name:?}, expected debian-binary"));
    }
    let mut version = Vec::new();
    (&mut *r)
        .take(size.min(64))
        .read_to_end(&mut version)
        .map_err(read_err)?;
    if !version.starts_with(b"2.") {
        return Err(format!(
            "unsupported format version {:?}",
            String::from_utf8_lossy(&version).trim()
        ));
    }
    skip(r, size - version.len() as u64, size)?;

    // dpkg ignores members starting with `_` before control.tar.
    let (name, size) = loop {
        match member(r)? {
            Some((n, s)) if n.starts_with('_') => skip(r, s, s)?,
            Some(m) => break m,
            None => return Err("no control.tar member".into()),
        }
    };
    let mut body = (&mut *r).take(size);
    let control = read_control_member(&name, &mut body)?;
    let left = body.limit();
    skip(r, left, size)?;

    match member(r)? {
        Some((n, s)) if n.starts_with("data.tar") => skip(r, s, s)?,
        Some((n, _)) => return Err(format!("member {n:?} where data.tar was expected")),
        None => return Err("no data.tar member (truncated?)".into()),
    }
    // Whatever follows is ignored by dpkg, but still hashed and copied.
    drain(r).map_err(read_err)?;
    Ok(control)
}

fn read_err(e: io::Error) -> String {
    format!("read failed: {e}")
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::result::Result<usize, String> {
    let mut got = 0;
    while got < buf.len() {
        match r.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(read_err(e)),
        }
    }
    Ok(got)
}

/// The next ar member header: (name, size), or `None` at the end of the archive.
fn member(r: &mut impl Read) -> std::result::Result<Option<(String, u64)>, String> {
    let mut h = [0u8; 60];
    match read_full(r, &mut h)? {
        0 => return Ok(None),
        60 => {}
        _ => return Err("truncated ar member header".into()),
    }
    if &h[58..60] != b"`\n" {
        return Err("corrupt ar member header".into());
    }
    let name = String::from_utf8_lossy(&h[..16])
        .trim_end()
        .trim_end_matches('/')
        .to_string();
    let size = std::str::from_utf8(&h[48..58])
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("bad size in ar header of {name:?}"))?;
    Ok(Some((name, size)))
}

/// Consume the `left` bytes remaining of a member of `size` bytes plus its padding.
fn skip(r: &mut impl Read, left: u64, size: u64) -> std::result::Result<(), String> {
    let want = left + size % 2;
    let got = drain(&mut r.take(want)).map_err(read_err)?;
    // The padding byte of the very last member may be missing.
    if got < left {
        return Err("truncated ar member".into());
    }
    Ok(())
}

fn drain(r: &mut impl Read) -> io::Result<u64> {
    let mut buf = vec![0u8; 64 << 10];
    let mut total = 0;
    loop {
        match r.read(&mut buf) {
            Ok(0) => return Ok(total),
            Ok(n) => total += n as u64,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

fn read_control_member(name: &str, body: &mut impl Read) -> std::result::Result<Control, String> {
    let decoder: Box<dyn Read + '_> = match name {
        "control.tar" => Box::new(body),
        "control.tar.gz" => Box::new(flate2::read::GzDecoder::new(body)),
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
        let mut text = String::new();
        entry
            .take(MAX_CONTROL)
            .read_to_string(&mut text)
            .map_err(|e| format!("{name}: control: {e}"))?;
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
