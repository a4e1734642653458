//! The repository as published: its `repomd.xml` records and, from the
//! primary, filelists and other documents they name, each package's entry kept
//! as the XML text it is (so an incremental publish never re-reads a published
//! package, nor re-renders its entries). Each document is checked against the
//! checksum `repomd.xml` gives for it before it is trusted.

use super::repomd::{self, Record, attribute};
use crate::error::{Error, Result};
use crate::repo::confine::{self, Naming};
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

/// A package of the repository: its identity and its three entries.
pub(crate) struct Entry {
    pub name: String,
    pub arch: String,
    pub epoch: String,
    pub ver: String,
    pub rel: String,
    pub pkgid: String,
    pub location: String,
    pub primary: String,
    pub filelists: String,
    pub other: String,
}

/// What is on disk now.
#[derive(Default)]
pub(crate) struct Existing {
    /// The current `repomd.xml` text, when there is one.
    pub repomd: Option<String>,
    pub records: Vec<Record>,
    pub packages: Vec<Entry>,
}

const REPAIR: &str =
    "repair the repository (e.g. restore repodata/ from a backup), or publish into a new directory";

fn broken(root: &Path, what: &str, msg: impl std::fmt::Display) -> Error {
    Error::build(format!(
        "{}: cannot read the published metadata ({what}): {msg}",
        root.display()
    ))
    .with(REPAIR)
}

/// A `location` read from `file`: it must stay inside the repository.
fn named_in(file: &Path) -> Naming<'_> {
    Naming {
        file,
        field: "location",
        fix: REPAIR,
    }
}

/// Read `root/repodata/repomd.xml` and the documents it names.
pub(crate) fn load(root: &Path) -> Result<Existing> {
    let path = root.join("repodata/repomd.xml");
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Existing::default()),
        Err(e) => return Err(Error::io("reading", &path, e)),
    };
    let records = repomd::parse(&text).map_err(|e| broken(root, "repomd.xml", e))?;
    let find = |kind: &str| records.iter().find(|r| r.kind == kind);
    let mut docs: [Option<String>; 3] = Default::default();
    // The three documents are independent: read them on two threads.
    std::thread::scope(|s| -> Result<()> {
        let jobs: Vec<_> = ["primary", "filelists", "other"]
            .into_iter()
            .map(|kind| {
                let rec = find(kind);
                let path = &path;
                s.spawn(move || rec.map(|r| document(root, path, r)).transpose())
            })
            .collect();
        for (slot, job) in docs.iter_mut().zip(jobs) {
            *slot = job.join().expect("metadata reader")?;
        }
        Ok(())
    })?;
    let [primary, filelists, other] = docs;
    let mut packages = match (&primary, find("primary")) {
        (Some(doc), Some(rec)) => {
            let packages = parse_primary(doc).map_err(|e| broken(root, "primary", e))?;
            // Where packages are written (an unchanged one whose file is
            // missing) and read: never outside.
            let file = root.join(&rec.href);
            for p in &packages {
                named_in(&file).plain(&p.location)?;
            }
            packages
        }
        _ if records.is_empty() => Vec::new(),
        _ => return Err(broken(root, "repomd.xml", "no primary record")),
    };
    let mut fl = match &filelists {
        Some(doc) => by_pkgid(doc).map_err(|e| broken(root, "filelists", e))?,
        None => HashMap::new(),
    };
    let mut ot = match &other {
        Some(doc) => by_pkgid(doc).map_err(|e| broken(root, "other", e))?,
        None => HashMap::new(),
    };
    for p in &mut packages {
        p.filelists = fl.remove(&p.pkgid).unwrap_or_else(|| empty(p));
        p.other = ot.remove(&p.pkgid).unwrap_or_else(|| empty(p));
    }
    Ok(Existing {
        repomd: Some(text),
        records,
        packages,
    })
}

/// An entry without files or changelog, for a package a document lacks.
fn empty(p: &Entry) -> String {
    let mut o = String::from("<package pkgid=\"");
    for (i, v) in [&p.pkgid, &p.name, &p.arch].into_iter().enumerate() {
        if i > 0 {
            o.push_str(["", "\" name=\"", "\" arch=\""][i]);
        }
        super::xml::attr(&mut o, v);
    }
    o.push_str("\">\n  <version epoch=\"");
    for (i, v) in [&p.epoch, &p.ver, &p.rel].into_iter().enumerate() {
        if i > 0 {
            o.push_str(["", "\" ver=\"", "\" rel=\""][i]);
        }
        super::xml::attr(&mut o, v);
    }
    o.push_str("\"/>\n</package>");
    o
}

/// The document a record of `repomd` names, checked and decompressed.
fn document(root: &Path, repomd: &Path, rec: &Record) -> Result<String> {
    let path = confine::resolve(root, &rec.href, &named_in(repomd))?;
    let raw = std::fs::read(&path).map_err(|e| Error::io("reading", &path, e))?;
    if rec.checksum_type == "sha256" && hex::encode(Sha256::digest(&raw)) != rec.checksum {
        return Err(broken(
            root,
            &rec.kind,
            format!("{} does not match the checksum in repomd.xml", rec.href),
        ));
    }
    let mut out = Vec::with_capacity(raw.len() * 6);
    let res = if rec.href.ends_with(".gz") {
        flate2::read::MultiGzDecoder::new(&raw[..]).read_to_end(&mut out)
    } else if rec.href.ends_with(".zst") {
        zstd::stream::read::Decoder::new(&raw[..]).and_then(|mut d| d.read_to_end(&mut out))
    } else if rec.href.ends_with(".xz") {
        liblzma::read::XzDecoder::new(&raw[..]).read_to_end(&mut out)
    } else if rec.href.ends_with(".xml") {
        out = raw;
        Ok(0)
    } else {
        return Err(broken(
            root,
            &rec.kind,
            format!("{}: unsupported compression", rec.href),
        ));
    };
    res.map_err(|e| broken(root, &rec.kind, format!("{}: {e}", rec.href)))?;
    String::from_utf8(out).map_err(|e| broken(root, &rec.kind, e))
}

/// Every top-level `<package>` of primary, with the fields that identify it.
fn parse_primary(doc: &str) -> std::result::Result<Vec<Entry>, String> {
    let mut r = Reader::from_str(doc);
    let mut out = Vec::new();
    let err = |e: quick_xml::Error| format!("{e}");
    loop {
        let before = r.buffer_position() as usize;
        match r.read_event().map_err(err)? {
            Event::Start(e) if e.name().as_ref() == "package" => {
                let mut p = Entry {
                    name: String::new(),
                    arch: String::new(),
                    epoch: "0".into(),
                    ver: String::new(),
                    rel: String::new(),
                    pkgid: String::new(),
                    location: String::new(),
                    primary: String::new(),
                    filelists: String::new(),
                    other: String::new(),
                };
                loop {
                    match r.read_event().map_err(err)? {
                        Event::Start(c) => {
                            let name = c.name();
                            let field = match name.as_ref() {
                                "name" => Some(&mut p.name),
                                "arch" => Some(&mut p.arch),
                                "checksum" => Some(&mut p.pkgid),
                                _ => None,
                            };
                            match field {
                                Some(f) => *f = element_text(&mut r, &c)?,
                                // Skip the whole element (format, description…).
                                None => {
                                    r.read_to_end(c.name()).map_err(err)?;
                                }
                            }
                        }
                        Event::Empty(c) if c.name().as_ref() == "version" => {
                            p.epoch = attribute(&c, "epoch")?.unwrap_or_else(|| "0".into());
                            p.ver = attribute(&c, "ver")?.unwrap_or_default();
                            p.rel = attribute(&c, "rel")?.unwrap_or_default();
                        }
                        Event::Empty(c) if c.name().as_ref() == "location" => {
                            p.location = attribute(&c, "href")?.unwrap_or_default();
                        }
                        Event::End(c) if c.name().as_ref() == "package" => break,
                        Event::Eof => return Err("unterminated <package>".into()),
                        _ => {}
                    }
                }
                let end = r.buffer_position() as usize;
                if p.name.is_empty() || p.pkgid.is_empty() || p.location.is_empty() {
                    return Err(format!(
                        "a package without name, checksum or location at byte {before}"
                    ));
                }
                p.primary = doc[before..end].to_string();
                out.push(p);
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

fn element_text(
    r: &mut Reader<&[u8]>,
    start: &quick_xml::events::BytesStart,
) -> std::result::Result<String, String> {
    let t = r.read_text(start.name()).map_err(|e| format!("{e}"))?;
    let raw: &str = &t;
    quick_xml::escape::unescape(raw)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{e}"))
}

/// Every top-level `<package pkgid=…>` of filelists or other, by pkgid.
fn by_pkgid(doc: &str) -> std::result::Result<HashMap<String, String>, String> {
    let mut r = Reader::from_str(doc);
    let mut out = HashMap::new();
    loop {
        let before = r.buffer_position() as usize;
        match r.read_event().map_err(|e| format!("{e}"))? {
            Event::Start(e) if e.name().as_ref() == "package" => {
                let pkgid = attribute(&e, "pkgid")?.ok_or("a package without pkgid")?;
                r.read_to_end(e.name()).map_err(|e| format!("{e}"))?;
                let end = r.buffer_position() as usize;
                out.entry(pkgid)
                    .or_insert_with(|| doc[before..end].to_string());
            }
            Event::Eof => return Ok(out),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_are_kept_verbatim() {
        let doc = "<?xml version=\"1.0\"?>\n<metadata packages=\"2\">\n\
            <package type=\"rpm\">\n  <name>a&amp;b</name>\n  <arch>noarch</arch>\n  \
            <version epoch=\"1\" ver=\"2\" rel=\"3\"/>\n  <checksum type=\"sha256\" pkgid=\"YES\">abc</checksum>\n  \
            <description>x &lt; y</description>\n  <location href=\"Packages/a/a-2-3.noarch.rpm\"/>\n  \
            <format><rpm:provides><rpm:entry name=\"a\"/></rpm:provides></format>\n</package>\n\
            <package type=\"rpm\"><name>c</name><arch>x86_64</arch><version epoch=\"0\" ver=\"1\" rel=\"1\"/>\
            <checksum type=\"sha256\" pkgid=\"YES\">def</checksum><location href=\"c.rpm\"/></package>\n</metadata>\n";
        let p = parse_primary(doc).unwrap();
        assert_eq!(p.len(), 2);
        assert_eq!(
            (p[0].name.as_str(), p[0].epoch.as_str(), p[0].pkgid.as_str()),
            ("a&b", "1", "abc")
        );
        assert!(p[0].primary.starts_with("<package type=\"rpm\">"));
        assert!(p[0].primary.ends_with("</format>\n</package>"));
        assert_eq!(p[1].location, "c.rpm");
        let fl = by_pkgid(
            "<filelists><package pkgid=\"abc\" name=\"a\"><file>/x</file></package></filelists>",
        )
        .unwrap();
        assert_eq!(
            fl["abc"],
            "<package pkgid=\"abc\" name=\"a\"><file>/x</file></package>"
        );
        assert!(parse_primary("<metadata><package><name>x</name></package></metadata>").is_err());
    }
}
