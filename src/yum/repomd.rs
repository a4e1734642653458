//! `repodata/repomd.xml`, the index dnf and yum fetch first: reading the
//! current one (its records, with each record's XML kept verbatim so that
//! records we do not manage — updateinfo, comps, modules — are carried over)
//! and writing the new one.

use super::xml::attr;
use quick_xml::events::Event;
use quick_xml::reader::Reader;
use std::fmt::Write;

/// One `<data type="…">` record of an existing `repomd.xml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Record {
    pub kind: String,
    /// `location href`, relative to the repository root.
    pub href: String,
    /// `checksum` of the file as stored, with its type (`sha256`, …).
    pub checksum: String,
    pub checksum_type: String,
    /// The record's XML as found.
    pub raw: String,
}

/// One record to write: a metadata file we just wrote.
pub(crate) struct NewRecord {
    pub kind: &'static str,
    pub href: String,
    pub checksum: String,
    pub open_checksum: String,
    pub size: u64,
    pub open_size: u64,
}

/// The records of a `repomd.xml` document.
pub(crate) fn parse(doc: &str) -> Result<Vec<Record>, String> {
    let mut r = Reader::from_str(doc);
    let mut out = Vec::new();
    let mut saw_root = false;
    loop {
        let before = r.buffer_position() as usize;
        let ev = r.read_event().map_err(|e| format!("{e}"))?;
        match ev {
            Event::Start(e) if e.name().as_ref() == "repomd" => saw_root = true,
            Event::Start(e) if e.name().as_ref() == "data" => {
                let kind = attribute(&e, "type")?.unwrap_or_default();
                let mut rec = Record {
                    kind,
                    href: String::new(),
                    checksum: String::new(),
                    checksum_type: String::new(),
                    raw: String::new(),
                };
                loop {
                    match r.read_event().map_err(|e| format!("{e}"))? {
                        Event::Start(c) if c.name().as_ref() == "checksum" => {
                            rec.checksum_type = attribute(&c, "type")?.unwrap_or_default();
                            let t = r.read_text(c.name()).map_err(|e| format!("{e}"))?;
                            rec.checksum = t.trim().to_string();
                        }
                        Event::Empty(c) | Event::Start(c) if c.name().as_ref() == "location" => {
                            rec.href = attribute(&c, "href")?.unwrap_or_default();
                        }
                        Event::End(c) if c.name().as_ref() == "data" => break,
                        Event::Eof => return Err("unterminated <data>".into()),
                        _ => {}
                    }
                }
                let end = r.buffer_position() as usize;
                rec.raw = doc[before..end].to_string();
                if rec.href.is_empty() || rec.checksum.is_empty() {
                    return Err(format!(
                        "record {:?} without location or checksum",
                        rec.kind
                    ));
                }
                out.push(rec);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    if !saw_root {
        return Err("no <repomd> element".into());
    }
    Ok(out)
}

/// An attribute's unescaped value.
pub(crate) fn attribute(
    e: &quick_xml::events::BytesStart,
    name: &str,
) -> Result<Option<String>, String> {
    match e.try_get_attribute(name).map_err(|e| format!("{e}"))? {
        Some(a) => Ok(Some(
            a.normalized_value(quick_xml::XmlVersion::Implicit1_0)
                .map_err(|e| format!("{e}"))?
                .into_owned(),
        )),
        None => Ok(None),
    }
}

/// Is this a record of the package metadata we rewrite (or a database or
/// zchunk copy of it, which would be stale after our rewrite)?
pub(crate) fn managed(kind: &str) -> bool {
    let base = kind
        .strip_suffix("_db")
        .or_else(|| kind.strip_suffix("_zck"))
        .unwrap_or(kind);
    matches!(base, "primary" | "filelists" | "other")
}

/// The new `repomd.xml`: `revision`, our records, then the carried ones.
pub(crate) fn render(revision: i64, records: &[NewRecord], carried: &[&Record]) -> String {
    let mut o = String::with_capacity(2048);
    o.push_str(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <repomd xmlns=\"http://linux.duke.edu/metadata/repo\" \
         xmlns:rpm=\"http://linux.duke.edu/metadata/rpm\">\n",
    );
    let _ = writeln!(o, "  <revision>{revision}</revision>");
    for r in records {
        let _ = writeln!(o, "  <data type=\"{}\">", r.kind);
        let _ = writeln!(o, "    <checksum type=\"sha256\">{}</checksum>", r.checksum);
        let _ = writeln!(
            o,
            "    <open-checksum type=\"sha256\">{}</open-checksum>",
            r.open_checksum
        );
        o.push_str("    <location href=\"");
        attr(&mut o, &r.href);
        o.push_str("\"/>\n");
        let _ = writeln!(o, "    <timestamp>{revision}</timestamp>");
        let _ = writeln!(o, "    <size>{}</size>", r.size);
        let _ = writeln!(o, "    <open-size>{}</open-size>", r.open_size);
        o.push_str("  </data>\n");
    }
    for c in carried {
        o.push_str("  ");
        o.push_str(&c.raw);
        o.push('\n');
    }
    o.push_str("</repomd>\n");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_carry_over() {
        let new = [NewRecord {
            kind: "primary",
            href: "repodata/ab-primary.xml.gz".into(),
            checksum: "ab".into(),
            open_checksum: "cd".into(),
            size: 10,
            open_size: 20,
        }];
        let extra = Record {
            kind: "updateinfo".into(),
            href: "repodata/ef-updateinfo.xml.gz".into(),
            checksum: "ef".into(),
            checksum_type: "sha256".into(),
            raw: "<data type=\"updateinfo\">\n    <checksum type=\"sha256\">ef</checksum>\n    \
                  <location href=\"repodata/ef-updateinfo.xml.gz\"/>\n  </data>"
                .into(),
        };
        let doc = render(1_700_000_000, &new, &[&extra]);
        let recs = parse(&doc).unwrap();
        assert_eq!(recs.len(), 2);
        assert_eq!(recs[0].kind, "primary");
        assert_eq!(recs[0].href, "repodata/ab-primary.xml.gz");
        assert_eq!(
            (recs[0].checksum.as_str(), recs[0].checksum_type.as_str()),
            ("ab", "sha256")
        );
        assert_eq!(recs[1], extra);
        assert!(managed("primary_db") && managed("other_zck") && !managed("updateinfo"));
        assert!(parse("<nothing/>").is_err());
        assert!(parse("<repomd><data type=\"primary\"></data></repomd>").is_err());
    }
}
