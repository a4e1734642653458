//! `Packages` indices: one stanza per package version, parsed back from the
//! existing files (so publishing never re-reads old packages), merged, sorted and
//! written uncompressed, gzip and xz.

use super::debfile::Deb;
use super::spill::Spill;
use crate::debian::{deb822, version};
use crate::error::{Error, Result};
use std::cmp::Ordering;
use std::path::Path;
use std::sync::Arc;

/// Fields that a repository computes; never copied from a package's control file.
const REPOSITORY_FIELDS: [&str; 6] = ["Filename", "Size", "MD5sum", "SHA1", "SHA256", "SHA512"];

/// Average stanzas per chunk (a `Packages.gz` member, a `Packages.xz` block: see
/// [`crate::codec::gz_reuse`], [`crate::codec::xz_reuse`]), and the most.
const CHUNK_EVERY: u64 = 32;
const CHUNK_MAX: usize = 128;

/// One paragraph of a `Packages` file, with the fields publishing looks at.
/// Its text is shared: stanzas parsed from an index all point into that
/// index's text (no copy each), a new package's stanza owns its own, or has it
/// spilled to disk ([`Stanza::spill`]) and keeps only those fields.
#[derive(Debug, Clone)]
pub struct Stanza {
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

/// Where a stanza's text is: in its buffer, or at an offset of a spill file.
#[derive(Debug, Clone)]
enum Text {
    Here(Span),
    Spilled(Arc<Spill>, u64, u32),
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
pub struct Key {
    buf: Arc<str>,
    parts: [Span; 3],
}

impl Key {
    fn get(&self, i: usize) -> &str {
        let Span(a, b) = self.parts[i];
        &self.buf[a as usize..b as usize]
    }
    pub fn package(&self) -> &str {
        self.get(0)
    }
    pub fn version(&self) -> &str {
        self.get(1)
    }
    pub fn arch(&self) -> &str {
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
    pub fn append_text(&self, out: &mut Vec<u8>) -> std::io::Result<()> {
        match &self.at {
            Text::Here(span) => {
                out.extend_from_slice(self.get(*span).as_bytes());
                Ok(())
            }
            Text::Spilled(spill, at, len) => spill.get(*at, *len, out),
        }
    }

    /// The paragraph's text when it is in memory (not spilled).
    fn here(&self) -> Option<&str> {
        match &self.at {
            Text::Here(span) => Some(self.get(*span)),
            Text::Spilled(..) => None,
        }
    }

    /// The length of the paragraph's text.
    pub fn text_len(&self) -> usize {
        match &self.at {
            Text::Here(span) => (span.1 - span.0) as usize,
            Text::Spilled(_, _, len) => *len as usize,
        }
    }

    /// The whole paragraph (tests).
    #[cfg(test)]
    pub fn text(&self) -> String {
        let mut out = Vec::new();
        self.append_text(&mut out).expect("readable");
        String::from_utf8(out).expect("text")
    }

    /// This stanza with its text moved to `spill`: in memory only the fields
    /// publishing looks at remain (about 150 bytes instead of the whole text).
    pub fn spill(&self, spill: &Arc<Spill>) -> std::io::Result<Stanza> {
        let mut text = Vec::with_capacity(self.text_len());
        self.append_text(&mut text)?;
        let at = spill.put(&text)?;
        let parts = [
            self.package(),
            self.version(),
            self.arch(),
            self.filename(),
            self.sha256(),
        ];
        let buf: Arc<str> = Arc::from(parts.concat());
        let mut spans = [Span::default(); 5];
        let mut start = 0;
        for (span, part) in spans.iter_mut().zip(parts) {
            *span = Span(start, start + part.len() as u32);
            start = span.1;
        }
        let [package, version, arch, filename, sha256] = spans;
        Ok(Stanza {
            buf,
            at: Text::Spilled(spill.clone(), at, text.len() as u32),
            package,
            version,
            arch,
            filename,
            sha256,
            size: self.size,
        })
    }
    pub fn package(&self) -> &str {
        self.get(self.package)
    }
    pub fn version(&self) -> &str {
        self.get(self.version)
    }
    pub fn arch(&self) -> &str {
        self.get(self.arch)
    }
    /// The pool path (relative to the repository root).
    pub fn filename(&self) -> &str {
        self.get(self.filename)
    }
    pub fn sha256(&self) -> &str {
        self.get(self.sha256)
    }
    pub fn size(&self) -> u64 {
        self.size
    }

    pub fn key(&self) -> Key {
        Key {
            buf: self.buf.clone(),
            parts: [self.package, self.version, self.arch],
        }
    }

    /// The stanza for `deb` stored at `filename` (relative to the repository root):
    /// every control field, then the location and checksums, Description last.
    pub fn from_deb(deb: &Deb, filename: &str) -> Stanza {
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

/// Parse a `Packages` file written by an earlier publish (or any apt tool):
/// the stanzas share `text`. Large ones are parsed on every core: the text is
/// cut at blank lines into one part per core (5,000 stanzas: 8.5 ms on one).
pub fn parse(text: &Arc<str>, path: &Path) -> Result<Vec<Stanza>> {
    if u32::try_from(text.len()).is_err() {
        return Err(Error::build(format!(
            "existing index {} is over 4 GiB",
            path.display()
        )));
    }
    let parse_part = |part: &&str| -> Result<Vec<Stanza>> {
        deb822::paragraphs(part)
            .map(|p| stanza(text, p, path))
            .collect()
    };
    let cores = crate::util::parallel::cores();
    if text.len() < (256 << 10) || cores < 2 {
        return parse_part(&&text[..]);
    }
    let mut parts = Vec::with_capacity(cores);
    let mut rest: &str = text;
    for i in (1..cores).rev() {
        let at = rest.len() - rest.len() * i / (i + 1);
        match rest.as_bytes()[at..].windows(2).position(|w| w == b"\n\n") {
            Some(cut) => {
                let (part, tail) = rest.split_at(at + cut + 1);
                parts.push(part);
                rest = tail;
            }
            None => break,
        }
    }
    parts.push(rest);
    let mut out = Vec::new();
    for part in crate::util::parallel::parallel_map(&parts, parse_part) {
        out.extend(part?);
    }
    Ok(out)
}

/// The stanza of `para`, a paragraph of `buf`.
fn stanza(buf: &Arc<str>, para: &str, path: &Path) -> Result<Stanza> {
    let mut s = Stanza {
        at: Text::Here(Span::of(buf, para)),
        ..Stanza::empty(buf.clone())
    };
    let mut size = None;
    let mut found = [false; 5];
    for deb822::Field { name, value, .. } in deb822::fields(para) {
        // Field names are case-insensitive (a package's control file may say
        // `package:`, and its stanza keeps the spelling).
        let is = |want: &str| name.eq_ignore_ascii_case(want);
        let (slot, i) = if is("Package") {
            (&mut s.package, 0)
        } else if is("Version") {
            (&mut s.version, 1)
        } else if is("Architecture") {
            (&mut s.arch, 2)
        } else if is("Filename") {
            (&mut s.filename, 3)
        } else if is("SHA256") {
            (&mut s.sha256, 4)
        } else {
            if is("Size") {
                size = value.parse().ok();
            }
            continue;
        };
        // The last one counts, as it always has.
        *slot = Span::of(buf, value);
        found[i] = !value.is_empty();
    }
    let names = ["Package", "Version", "Architecture", "Filename", "SHA256"];
    let missing = names
        .iter()
        .zip(found)
        .find(|(_, f)| !f)
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
    s.size = size.unwrap_or_default();
    // A path from a file on disk is not trusted: it must stay in the repository.
    super::pool::check_relative(s.filename()).map_err(|why| {
        Error::config(format!("{}: {why}", path.display()))
            .with("repair that index (or remove the stanza) before publishing")
    })?;
    Ok(s)
}

/// The order stanzas are written in: name, then Debian version order, then arch.
pub fn order(a: &Stanza, b: &Stanza) -> Ordering {
    a.package()
        .cmp(b.package())
        .then_with(|| version::compare(a.version(), b.version()))
        .then_with(|| a.version().cmp(b.version()))
        .then_with(|| a.arch().cmp(b.arch()))
}

/// A `Packages` file to write: its stanzas in order, split into chunks of
/// whole stanzas. The text itself is produced a chunk at a time
/// ([`Rendered::chunk`]), never held whole.
pub struct Rendered<'a> {
    stanzas: Vec<&'a Stanza>,
    /// Ranges of `stanzas`, in order, covering them.
    chunks: Vec<std::ops::Range<usize>>,
}

impl Rendered<'_> {
    /// The number of chunks.
    pub fn chunks(&self) -> usize {
        self.chunks.len()
    }

    /// The text of chunk `i`: its stanzas, each ended by a blank line.
    pub fn chunk(&self, i: usize) -> std::io::Result<Vec<u8>> {
        let stanzas = &self.stanzas[self.chunks[i].clone()];
        let mut out = Vec::with_capacity(stanzas.iter().map(|s| s.text_len() + 2).sum());
        for s in stanzas {
            s.append_text(&mut out)?;
            out.extend_from_slice(b"\n\n");
        }
        Ok(out)
    }

    /// Whether `text` is exactly this file (compared stanza by stanza).
    pub fn is(&self, text: &str) -> std::io::Result<bool> {
        let mut rest = text.as_bytes();
        let mut spilled = Vec::new();
        for s in &self.stanzas {
            let t = match s.here() {
                Some(t) => t.as_bytes(),
                None => {
                    spilled.clear();
                    s.append_text(&mut spilled)?;
                    &spilled[..]
                }
            };
            match rest.strip_prefix(t).and_then(|r| r.strip_prefix(b"\n\n")) {
                Some(r) => rest = r,
                None => return Ok(false),
            }
        }
        Ok(rest.is_empty())
    }

    /// The whole text (tests).
    #[cfg(test)]
    pub fn text(&self) -> String {
        let bytes: Vec<u8> = (0..self.chunks())
            .flat_map(|i| self.chunk(i).expect("readable"))
            .collect();
        String::from_utf8(bytes).expect("stanzas are text")
    }
}

/// The `Packages` file of `stanzas` (sorted here). Chunk boundaries depend only
/// on the stanzas next to them (a hash of the package key), so adding a package
/// changes one chunk and leaves the others byte-identical.
pub fn render(mut stanzas: Vec<&Stanza>) -> Rendered<'_> {
    stanzas.sort_by(|a, b| order(a, b));
    let mut chunks = Vec::new();
    let mut start = 0;
    for (i, s) in stanzas.iter().enumerate() {
        if fnv1a(&[s.package(), s.version(), s.arch()]).is_multiple_of(CHUNK_EVERY)
            || i + 1 - start == CHUNK_MAX
        {
            chunks.push(start..i + 1);
            start = i + 1;
        }
    }
    if start < stanzas.len() {
        chunks.push(start..stanzas.len());
    }
    Rendered { stanzas, chunks }
}

/// 64-bit FNV-1a: a stable hash (unlike std's, which is seeded per process).
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
        let rendered = render(stanzas.iter().collect());
        assert_eq!(rendered.chunks.last().map(|c| c.end), Some(2));
        let out = rendered.text();
        let is = |text: &str| rendered.is(text).unwrap();
        assert!(is(&out));
        assert!(!is(&out[..out.len() - 1]) && !is(&format!("{out}\n")));
        assert!(out.starts_with("Package: b\nVersion: 1.9\n"), "{out}");
        assert_eq!(
            parse(&Arc::from(out.clone()), Path::new("Packages"))
                .unwrap()
                .len(),
            2
        );

        // Spilled to disk: the same fields in memory, the same text read back.
        let t = tempfile::tempdir().unwrap();
        let spill = Arc::new(Spill::new(t.path()).unwrap());
        let spilled: Vec<Stanza> = stanzas.iter().map(|s| s.spill(&spill).unwrap()).collect();
        assert_eq!(spilled, stanzas);
        let fields = |s: &Stanza| {
            let f = [s.package(), s.version(), s.arch(), s.filename(), s.sha256()];
            (f.map(str::to_string), s.size(), s.text_len())
        };
        for (a, b) in spilled.iter().zip(&stanzas) {
            assert_eq!(fields(a), fields(b));
            assert!(matches!(a.at, Text::Spilled(..)) && a.buf.len() < b.buf.len());
        }
        let back = render(spilled.iter().collect());
        assert_eq!(back.text(), out);
        assert!(back.is(&out).unwrap() && !back.is(&out[1..]).unwrap());
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
    fn a_large_index_parses_in_parts_as_in_one() {
        // Multi-byte text everywhere, so that a cut point lands inside a character.
        let mut text = String::new();
        for i in 0..4000 {
            text.push_str(&format!(
                "Package: p{i}\nVersion: 1\nArchitecture: all\nFilename: pool/p{i}.deb\n\
                 Size: 1\nSHA256: ab\nDescription: ünïcödé {i}\n ─── more ───\n\n"
            ));
        }
        assert!(text.len() > 256 << 10);
        let text: Arc<str> = Arc::from(text);
        let whole: Vec<Stanza> = deb822::paragraphs(&text)
            .map(|p| stanza(&text, p, Path::new("P")).unwrap())
            .collect();
        let parts = parse(&text, Path::new("P")).unwrap();
        assert_eq!(parts, whole);
        assert_eq!(parts[3999].package(), "p3999");
        assert_eq!(parts[3999].filename(), "pool/p3999.deb");
        // A corrupt stanza in a later part is still found.
        let bad = text.replace("Package: p3999\nVersion: 1\n", "Package: p3999\n");
        assert!(parse(&Arc::from(bad), Path::new("P")).is_err());
    }

    #[test]
    fn corrupt_index_is_an_error() {
        let err = parse(&Arc::from("Package: a\nVersion: 1\n\n"), Path::new("P")).unwrap_err();
        assert!(err.message.contains("corrupt"), "{err}");
    }
}
