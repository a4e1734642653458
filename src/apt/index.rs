//! `Packages` stanzas: one per package version, made from a new package or
//! parsed back from the existing files a block at a time ([`Reader`]), so
//! publishing never re-reads old packages. Writing an index is `render.rs`'s.

use super::debfile::Deb;
use super::spill::Spill;
use crate::debian::{deb822, version};
use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Fields that a repository computes; never copied from a package's control file.
const REPOSITORY_FIELDS: [&str; 6] = ["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

/// One paragraph of a `Packages` file, with the fields publishing looks at.
/// Its text is in memory (a new package's stanza, or one parsed from a text)
/// or in a file: a stanza read from a file ([`Reader`]: an existing index, or
/// the new packages' stanzas, `incoming.rs`) points at its text there and
/// keeps only the fields in memory.
#[derive(Debug, Clone)]
pub(super) struct Stanza {
    buf: Arc<str>,
    /// The paragraph, without the blank line that ends it.
    at: Text,
    package: Span,
    version: Span,
    arch: Span,
    filename: Span,
    sha256: Span,
    size: u64,
}

/// A byte range of a stanza's buffer (indices are limited to 4 GiB).
#[derive(Debug, Clone, Copy, Default)]
struct Span(u32, u32);

/// Where a stanza's text is: in its buffer, or at an offset of a file (a
/// spill file, or the index it was read from).
#[derive(Debug, Clone)]
enum Text {
    Here(Span),
    InFile(Arc<Spill>, u64, u32),
}

impl Span {
    /// The span of `part`, a slice of `buf`.
    fn of(buf: &str, part: &str) -> Span {
        let start = part.as_ptr() as usize - buf.as_ptr() as usize;
        Span(start as u32, (start + part.len()) as u32)
    }
}

impl PartialEq for Stanza {
    fn eq(&self, other: &Stanza) -> bool {
        let text = |s: &Stanza| {
            let mut out = Vec::new();
            s.append_text(&mut out).map(|()| out).ok()
        };
        matches!((text(self), text(other)), (Some(a), Some(b)) if a == b)
    }
}

impl Eq for Stanza {}

/// (package, version, architecture): what identifies a package in a component.
/// Made from a stanza, whose buffer it shares (no copy of the three strings);
/// equal, hashed and ordered as that triple.
#[derive(Debug, Clone)]
pub(crate) struct Key {
    buf: Arc<str>,
    parts: [Span; 3],
}

impl Key {
    fn get(&self, i: usize) -> &str {
        let Span(a, b) = self.parts[i];
        &self.buf[a as usize..b as usize]
    }
    pub(crate) fn package(&self) -> &str {
        self.get(0)
    }
    pub(crate) fn version(&self) -> &str {
        self.get(1)
    }
    pub(crate) fn arch(&self) -> &str {
        self.get(2)
    }
    fn parts(&self) -> (&str, &str, &str) {
        (self.package(), self.version(), self.arch())
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, h: &mut H) {
        self.parts().hash(h)
    }
}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        self.parts().cmp(&other.parts())
    }
}

impl std::fmt::Display for Key {
    /// `name version (arch)`, as messages name a package.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} ({})", self.package(), self.version(), self.arch())
    }
}

impl Stanza {
    fn get(&self, s: Span) -> &str {
        &self.buf[s.0 as usize..s.1 as usize]
    }
    /// Append the whole paragraph (without the blank line that ends it) to
    /// `out`; a spilled one is read back.
    pub(super) fn append_text(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        match &self.at {
            Text::Here(span) => {
                out.extend_from_slice(self.get(*span).as_bytes());
                Ok(())
            }
            Text::InFile(spill, at, len) => spill.get(*at, *len as usize, out),
        }
    }

    /// The length of the paragraph's text.
    pub(super) fn text_len(&self) -> usize {
        match &self.at {
            Text::Here(span) => (span.1 - span.0) as usize,
            Text::InFile(_, _, len) => *len as usize,
        }
    }

    /// The whole paragraph (tests).
    #[cfg(test)]
    pub(super) fn text(&self) -> String {
        let mut out = Vec::new();
        self.append_text(&mut out).expect("readable");
        String::from_utf8(out).expect("text")
    }

    /// A stanza whose text is elsewhere (`at`): its fields copied into a
    /// buffer of their own.
    fn compact(f: &Found, at: Text) -> Stanza {
        let parts = [f.package, f.version, f.arch, f.filename, f.sha256];
        let buf: Arc<str> = Arc::from(parts.concat());
        let mut spans = [Span::default(); 5];
        let mut start = 0;
        for (span, part) in spans.iter_mut().zip(parts) {
            *span = Span(start, start + part.len() as u32);
            start = span.1;
        }
        let [package, version, arch, filename, sha256] = spans;
        Stanza {
            buf,
            at,
            package,
            version,
            arch,
            filename,
            sha256,
            size: f.size,
        }
    }

    pub(super) fn package(&self) -> &str {
        self.get(self.package)
    }
    pub(super) fn version(&self) -> &str {
        self.get(self.version)
    }
    pub(super) fn arch(&self) -> &str {
        self.get(self.arch)
    }
    /// The pool path (relative to the repository root).
    pub(super) fn filename(&self) -> &str {
        self.get(self.filename)
    }
    pub(super) fn sha256(&self) -> &str {
        self.get(self.sha256)
    }
    pub(super) fn size(&self) -> u64 {
        self.size
    }

    pub(super) fn key(&self) -> Key {
        Key {
            buf: self.buf.clone(),
            parts: [self.package, self.version, self.arch],
        }
    }

    /// The stanza for `deb` stored at `filename` (relative to the repository root):
    /// every control field, then the location and checksums, Description last.
    pub(super) fn from_deb(deb: &Deb, filename: &str) -> Stanza {
        let c = &deb.control;
        let d = &deb.digests;
        let mut text = String::with_capacity(2048);
        let mut field = |name: &str, value: &str| {
            text.push_str(name);
            text.push(':');
            if !value.starts_with('\n') {
                text.push(' ');
            }
            text.push_str(value);
            text.push('\n');
        };
        for (name, value) in c.fields() {
            let computed = REPOSITORY_FIELDS
                .iter()
                .any(|f| f.eq_ignore_ascii_case(name));
            if !computed && !name.eq_ignore_ascii_case("Description") {
                field(name, value);
            }
        }
        field("Filename", filename);
        field("Size", &d.size.to_string());
        field("MD5sum", &d.md5);
        field("SHA1", &d.sha1);
        field("SHA256", &d.sha256);
        field("SHA512", &d.sha512);
        if let Some(desc) = c.get("Description") {
            field("Description", desc);
        }
        text.pop();
        // Kept for the whole publish, one per package: copied out at its exact
        // size (a shrunk buffer would leave a hole behind each stanza).
        let buf: Arc<str> = Arc::from(text.as_str());
        let mut st = Stanza {
            at: Text::Here(Span(0, buf.len() as u32)),
            size: d.size,
            ..Stanza::empty(buf)
        };
        let text = st.buf.clone();
        let fields: Vec<deb822::Field> = deb822::fields(&text).collect();
        let find = |name: &str, want: &str| -> Span {
            fields
                .iter()
                .find(|f| f.name.eq_ignore_ascii_case(name) && f.value == want)
                .map(|f| Span::of(&text, f.value))
                .expect("a field just written")
        };
        st.package = find("Package", c.package());
        st.version = find("Version", c.version());
        st.arch = find("Architecture", c.architecture());
        st.filename = find("Filename", filename);
        st.sha256 = find("SHA256", &d.sha256);
        st
    }

    fn empty(buf: Arc<str>) -> Stanza {
        Stanza {
            buf,
            at: Text::Here(Span::default()),
            package: Span::default(),
            version: Span::default(),
            arch: Span::default(),
            filename: Span::default(),
            sha256: Span::default(),
            size: 0,
        }
    }
}

/// Read a `Packages` file written by an earlier publish (or any apt tool) whole:
/// each stanza keeps its fields in memory and points at its text in the file.
/// `None` when there is no file (tests).
#[cfg(test)]
pub(super) fn read(path: &Path) -> Result<Option<(Arc<Spill>, Vec<Stanza>)>> {
    let Some(reader) = Reader::open(path)? else {
        return Ok(None);
    };
    let file = reader.file().clone();
    Ok(Some((file, reader.collect::<Result<Vec<_>>>()?)))
}

/// The stanzas of a `Packages` file, in file order, read a block at a time:
/// each keeps its fields in memory and points at its text in the file, which
/// stays open (the file is never changed in place: a publish writes a new one
/// and renames it). Only a block's stanzas are held at once.
pub(super) struct Reader {
    path: PathBuf,
    file: Arc<Spill>,
    buf: Vec<u8>,
    /// The file offset of `buf[0]`.
    offset: u64,
    queue: std::vec::IntoIter<Stanza>,
    done: bool,
    /// How much is read at a time ([`READ_BLOCK`] unless told).
    block: usize,
}

impl Reader {
    /// `None` when there is no file.
    pub(super) fn open(path: &Path) -> Result<Option<Reader>> {
        let file = match Spill::open(path) {
            Ok(f) => Arc::new(f),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io("reading", path, e)),
        };
        Ok(Some(Reader::over(file, path, READ_BLOCK)))
    }

    /// The stanzas of `file` (named `path` in errors), read `block` bytes at
    /// a time (a small block where many are read side by side).
    pub(super) fn over(file: Arc<Spill>, path: &Path, block: usize) -> Reader {
        Reader {
            path: path.to_path_buf(),
            file,
            buf: Vec::with_capacity(block),
            offset: 0,
            queue: Vec::new().into_iter(),
            done: false,
            block,
        }
    }

    /// The file read (the stanzas point into it).
    pub(super) fn file(&self) -> &Arc<Spill> {
        &self.file
    }

    pub(super) fn path(&self) -> &Path {
        &self.path
    }

    /// Parse the next block's whole paragraphs into the queue.
    fn fill(&mut self) -> Result<()> {
        let path = &self.path;
        let buf = &mut self.buf;
        loop {
            let have = buf.len();
            // Twice what is held (at least a block), but not much past the
            // end of the file: a small index takes a small buffer.
            let left = self.file.len().saturating_sub(self.offset + have as u64);
            let left = usize::try_from(left)
                .unwrap_or(usize::MAX)
                .saturating_add(1);
            buf.resize(have + (have.max(self.block / 2) * 2 - have).min(left), 0);
            let got = self
                .file
                .read_some(self.offset + have as u64, &mut buf[have..]);
            let got = got.map_err(|e| Error::io("reading", path, e))?;
            buf.truncate(have + got);
            self.done = got == 0;
            // Whole paragraphs only: up to the last blank line (all of it at the end).
            let cut = match self.done {
                true => buf.len(),
                false => match memchr::memmem::rfind(buf, b"\n\n") {
                    Some(i) => i + 2,
                    None => continue,
                },
            };
            let text = utf8_at(&buf[..cut], self.offset, path)?;
            let mut out = Vec::new();
            for para in deb822::paragraphs(text) {
                let start = para.as_ptr() as usize - text.as_ptr() as usize;
                let at = self.offset + start as u64;
                let text = in_file(&self.file, at, para, path)?;
                out.push(Stanza::compact(&found(para, path)?, text));
            }
            self.queue = out.into_iter();
            buf.drain(..cut);
            self.offset += cut as u64;
            return Ok(());
        }
    }
}

/// Where `para`, at `at` of the index `file` (at `path`), is.
fn in_file(file: &Arc<Spill>, at: u64, para: &str, path: &Path) -> Result<Text> {
    let len = u32::try_from(para.len()).map_err(|_| {
        Error::build(format!(
            "existing index {} has a stanza over 4 GiB",
            path.display()
        ))
    })?;
    Ok(Text::InFile(file.clone(), at, len))
}

impl Iterator for Reader {
    type Item = Result<Stanza>;

    fn next(&mut self) -> Option<Result<Stanza>> {
        loop {
            if let Some(s) = self.queue.next() {
                return Some(Ok(s));
            }
            if self.done {
                return None;
            }
            if let Err(e) = self.fill() {
                self.done = true;
                return Some(Err(e));
            }
        }
    }
}

/// The stanza whose text is `para`, found at `at` of the index `file` (at
/// `path`) again, after [`Reader`] read it: its fields parsed again.
pub(super) fn reread(file: &Arc<Spill>, at: u64, para: &[u8], path: &Path) -> Result<Stanza> {
    let para = utf8_at(para, at, path)?;
    Ok(Stanza::compact(
        &found(para, path)?,
        in_file(file, at, para, path)?,
    ))
}

/// `bytes`, found at `at` of the index at `path`, as text.
fn utf8_at<'a>(bytes: &'a [u8], at: u64, path: &Path) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|e| {
        let at = at + e.valid_up_to() as u64;
        Error::build(format!(
            "existing index {} is not UTF-8 text (byte {at})",
            path.display()
        ))
    })
}

/// How much of an index [`Reader`] takes at a time (more when a stanza is larger).
pub(super) const READ_BLOCK: usize = 128 << 10;

/// Parse a `Packages` text held in memory: the stanzas share `text`.
#[cfg(test)]
pub(super) fn parse(text: &Arc<str>, path: &Path) -> Result<Vec<Stanza>> {
    deb822::paragraphs(text)
        .map(|para| {
            let f = found(para, path)?;
            let span = |part: &str| Span::of(text, part);
            Ok(Stanza {
                buf: text.clone(),
                at: Text::Here(span(para)),
                package: span(f.package),
                version: span(f.version),
                arch: span(f.arch),
                filename: span(f.filename),
                sha256: span(f.sha256),
                size: f.size,
            })
        })
        .collect()
}

/// The fields publishing looks at, found in one paragraph.
struct Found<'a> {
    package: &'a str,
    version: &'a str,
    arch: &'a str,
    filename: &'a str,
    sha256: &'a str,
    size: u64,
}

/// The fields of `para`, a paragraph of the index at `path`: all present, the
/// pool path inside the repository.
fn found<'a>(para: &'a str, path: &Path) -> Result<Found<'a>> {
    let mut parts = [""; 5];
    let mut size = None;
    for deb822::Field { name, value, .. } in deb822::fields(para) {
        // Field names are case-insensitive (a package's control file may say
        // `package:`, and its stanza keeps the spelling).
        let is = |want: &str| name.eq_ignore_ascii_case(want);
        let slot = if is("Package") {
            0
        } else if is("Version") {
            1
        } else if is("Architecture") {
            2
        } else if is("Filename") {
            3
        } else if is("SHA256") {
            4
        } else {
            if is("Size") {
                size = value.parse().ok();
            }
            continue;
        };
        // The last one counts, as it always has.
        parts[slot] = value;
    }
    let names = ["Package", "Version", "Architecture", "Filename", "SHA256"];
    let missing = names
        .iter()
        .zip(parts)
        .find(|(_, v)| v.is_empty())
        .map(|(n, _)| *n)
        .or(size.is_none().then_some("Size"));
    if let Some(field) = missing {
        let first = para.lines().next().unwrap_or_default();
        return Err(Error::build(format!(
            "existing index {} is corrupt: stanza {first:?} has no valid {field}",
            path.display()
        ))
        .with("repair or remove that index (and republish its packages) first"));
    }
    let [package, version, arch, filename, sha256] = parts;
    // A path from a file on disk is not trusted: it must stay in the repository.
    super::pool::by_index(path).plain(filename)?;
    Ok(Found {
        package,
        version,
        arch,
        filename,
        sha256,
        size: size.unwrap_or_default(),
    })
}

impl Stanza {
    /// Where its text is in a file (an index read in place, a spill file).
    pub(super) fn location(&self) -> Option<(&Arc<Spill>, u64, u32)> {
        match &self.at {
            Text::InFile(file, at, len) => Some((file, *at, *len)),
            Text::Here(_) => None,
        }
    }

    /// A hash of its key, the same in every process ([`Key::stable_hash`]).
    pub(super) fn stable_hash(&self) -> u64 {
        fnv1a(&[self.package(), self.version(), self.arch()])
    }
}

impl Key {
    /// A hash of the key, the same in every process (unlike std's, which is
    /// seeded per process): 64-bit FNV-1a.
    pub(crate) fn stable_hash(&self) -> u64 {
        fnv1a(&[self.package(), self.version(), self.arch()])
    }
}

/// The order stanzas are written in: name, then Debian version order, then arch.
pub(super) fn order(a: &Stanza, b: &Stanza) -> Ordering {
    a.package()
        .cmp(b.package())
        .then_with(|| version::compare(a.version(), b.version()))
        .then_with(|| a.version().cmp(b.version()))
        .then_with(|| a.arch().cmp(b.arch()))
}

fn fnv1a(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for b in p.bytes().chain([0]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apt::render::Rendered;

    /// `text` as a file in `dir`, opened as an index.
    fn file(dir: &tempfile::TempDir, name: &str, text: &str) -> Arc<Spill> {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        Arc::new(Spill::open(&path).unwrap())
    }

    #[test]
    fn parse_and_render_round_trip() {
        let text = "Package: b\nVersion: 1.10\nArchitecture: all\nFilename: pool/b.deb\n\
                    Size: 3\nSHA256: ab\nDescription: x\n y\n\n\
                    Package: b\nVersion: 1.9\nArchitecture: all\nFilename: pool/b1.deb\n\
                    Size: 3\nSHA256: cd\n\n";
        let stanzas = parse(&Arc::from(text), Path::new("Packages")).unwrap();
        assert_eq!(stanzas.len(), 2);
        assert_eq!(stanzas[0].text().lines().last(), Some(" y"));
        assert_eq!(
            (
                stanzas[0].package(),
                stanzas[0].version(),
                stanzas[0].arch()
            ),
            ("b", "1.10", "all")
        );
        assert_eq!(
            (stanzas[1].filename(), stanzas[1].sha256()),
            ("pool/b1.deb", "cd")
        );
        assert_eq!(stanzas[1].size(), 3);
        let rendered = Rendered::sorted(stanzas.iter().collect());
        assert_eq!(
            rendered.chunks().map(|c| c.unwrap().len()).sum::<usize>(),
            2
        );
        let out = rendered.text();
        let t = tempfile::tempdir().unwrap();
        let is = |r: &Rendered, text: &str| r.is(&file(&t, "is", text)).unwrap();
        assert!(is(&rendered, &out));
        assert!(!is(&rendered, &out[..out.len() - 1]) && !is(&rendered, &format!("{out}\n")));
        assert!(out.starts_with("Package: b\nVersion: 1.9\n"), "{out}");
        assert_eq!(
            parse(&Arc::from(out.clone()), Path::new("Packages"))
                .unwrap()
                .len(),
            2
        );
    }

    #[test]
    fn a_new_packages_stanza_names_its_fields_and_reads_back_the_same() {
        // Field names in any case; a repository field in the control is dropped;
        // a multi-line Description goes last.
        let control = "package: demo-agent\nVersion: 1:2.0~rc1\narchitecture: amd64\n\
                       Filename: ../../etc/passwd\nDescription: short\n long\n \
                       .\nMaintainer: A <a@b.c>\n";
        let deb = super::super::debfile::Deb {
            control: super::super::debfile::Control::parse(control).unwrap(),
            digests: super::super::Digests::of(b"bytes"),
        };
        let at = "pool/main/d/demo-agent/demo-agent_1%3a2.0~rc1_amd64.deb";
        let st = Stanza::from_deb(&deb, at);
        assert_eq!(
            (st.package(), st.version(), st.arch(), st.filename()),
            ("demo-agent", "1:2.0~rc1", "amd64", at)
        );
        assert_eq!((st.sha256(), st.size()), (deb.digests.sha256.as_str(), 5));
        assert!(!st.text().contains("passwd"), "{}", st.text());
        assert!(
            st.text().ends_with("Description: short\n long\n ."),
            "{}",
            st.text()
        );
        let back = parse(&Arc::from(format!("{}\n\n", st.text())), Path::new("P")).unwrap();
        assert_eq!(back, std::slice::from_ref(&st));
        assert_eq!(back[0].key(), st.key());
    }

    #[test]
    fn an_index_read_in_blocks_is_the_index_parsed_whole() {
        // Multi-byte text everywhere, so that a block ends inside a character,
        // and one stanza larger than a block.
        let mut text = String::new();
        for i in 0..4000 {
            let long = match i {
                1234 => " x".repeat(READ_BLOCK),
                _ => String::new(),
            };
            text.push_str(&format!(
                "Package: p{i:04}\nVersion: 1\nArchitecture: all\nFilename: pool/p{i}.deb\n\
                 Size: 1\nSHA256: ab\nDescription: ünïcödé {i}\n ─── more ───{long}\n\n"
            ));
        }
        assert!(text.len() > 4 * READ_BLOCK);
        let t = tempfile::tempdir().unwrap();
        let current = file(&t, "Packages", &text);
        let whole = parse(&Arc::from(text.as_str()), Path::new("P")).unwrap();
        let (f, got) = read(&t.path().join("Packages")).unwrap().unwrap();
        assert!(matches!(&got[0].at, Text::InFile(g, 0, _) if Arc::ptr_eq(g, &f)));
        assert_eq!(got, whole);
        assert_eq!(got[3999].package(), "p3999");
        assert_eq!(got[3999].filename(), "pool/p3999.deb");
        assert!(got[1234].text_len() > 2 * READ_BLOCK);
        // Rendered from the file (runs of stanzas read in one go) as from memory,
        // and recognised as the file without reading it again.
        let from_file = Rendered::sorted(got.iter().collect());
        assert!(from_file.chunks().count() > 100);
        assert_eq!(from_file.text(), text);
        assert!(from_file.is(&f).unwrap() && from_file.is(&current).unwrap());
        // Not the same file: one more blank line, no blank line at the end.
        let other = text.replacen("\n\nPackage: p0002", "\n\n\nPackage: p0002", 1);
        assert!(!from_file.is(&file(&t, "extra", &other)).unwrap());
        let cut = &text[..text.len() - 1];
        let (f, short) = read(&{
            file(&t, "short", cut);
            t.path().join("short")
        })
        .unwrap()
        .unwrap();
        assert_eq!(short, whole);
        assert!(!Rendered::sorted(short.iter().collect()).is(&f).unwrap());
        // A corrupt stanza in a later block is still found.
        let bad = text.replace("Package: p3999\nVersion: 1\n", "Package: p3999\n");
        file(&t, "bad", &bad);
        assert!(read(&t.path().join("bad")).is_err());
        assert!(read(&t.path().join("missing")).unwrap().is_none());
    }

    #[test]
    fn corrupt_index_is_an_error() {
        let err = parse(&Arc::from("Package: a\nVersion: 1\n\n"), Path::new("P")).unwrap_err();
        assert!(err.message.contains("corrupt"), "{err}");
    }
}
