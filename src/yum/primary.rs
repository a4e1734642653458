//! One package's entry in `primary.xml`: identity, checksum, texts, times,
//! sizes, location and the `<format>` block (license, vendor, group,
//! buildhost, sourcerpm, header range, dependencies and the "primary" subset of
//! the files), all from the rpm header, with the same selection rules as
//! createrepo_c (so that `dnf` sees the same package through either tool).

use super::rpmfile::Rpm;
use super::xml::{attr, element, text};
use rpm::{Dependency, IndexTag};
use std::collections::HashSet;
use std::fmt::Write;

const PREREQ: u32 = 1 << 6;
const SCRIPT_PRE: u32 = 1 << 9;
const SCRIPT_POST: u32 = 1 << 10;
const MISSINGOK: u32 = 1 << 19;

/// `<package type="rpm">…</package>` (no trailing newline).
pub(crate) fn render(rpm: &Rpm, location: &str, files: &[FileRow]) -> String {
    let mut o = String::with_capacity(2048);
    o.push_str("<package type=\"rpm\">\n");
    element(&mut o, "  ", "name", rpm.name());
    element(&mut o, "  ", "arch", rpm.arch());
    version(&mut o, "  ", rpm);
    let _ = writeln!(
        o,
        "  <checksum type=\"sha256\" pkgid=\"YES\">{}</checksum>",
        rpm.sha256
    );
    element(&mut o, "  ", "summary", rpm.text(IndexTag::RPMTAG_SUMMARY));
    element(
        &mut o,
        "  ",
        "description",
        rpm.text(IndexTag::RPMTAG_DESCRIPTION),
    );
    element(
        &mut o,
        "  ",
        "packager",
        rpm.text(IndexTag::RPMTAG_PACKAGER),
    );
    element(&mut o, "  ", "url", rpm.text(IndexTag::RPMTAG_URL));
    let build = rpm.meta.get_build_time().unwrap_or(0);
    let _ = writeln!(o, "  <time file=\"{}\" build=\"{build}\"/>", rpm.mtime);
    let installed = rpm.meta.get_installed_size().unwrap_or(0);
    let _ = writeln!(
        o,
        "  <size package=\"{}\" installed=\"{installed}\" archive=\"{}\"/>",
        rpm.size,
        rpm.archive_size()
    );
    o.push_str("  <location href=\"");
    attr(&mut o, location);
    o.push_str("\"/>\n  <format>\n");
    for (name, tag) in [
        ("rpm:license", IndexTag::RPMTAG_LICENSE),
        ("rpm:vendor", IndexTag::RPMTAG_VENDOR),
        ("rpm:group", IndexTag::RPMTAG_GROUP),
        ("rpm:buildhost", IndexTag::RPMTAG_BUILDHOST),
        ("rpm:sourcerpm", IndexTag::RPMTAG_SOURCERPM),
    ] {
        element(&mut o, "    ", name, rpm.text(tag));
    }
    let _ = writeln!(
        o,
        "    <rpm:header-range start=\"{}\" end=\"{}\"/>",
        rpm.header_start, rpm.header_end
    );
    let deps = Deps::of(rpm, files);
    for (name, list) in [
        ("provides", &deps.provides),
        ("requires", &deps.requires),
        ("conflicts", &deps.conflicts),
        ("obsoletes", &deps.obsoletes),
        ("suggests", &deps.suggests),
        ("enhances", &deps.enhances),
        ("recommends", &deps.recommends),
        ("supplements", &deps.supplements),
    ] {
        if list.is_empty() {
            continue;
        }
        let _ = writeln!(o, "    <rpm:{name}>");
        for e in list {
            entry(&mut o, e);
        }
        let _ = writeln!(o, "    </rpm:{name}>");
    }
    for f in files.iter().filter(|f| is_primary(&f.path)) {
        f.write(&mut o, "    ");
    }
    o.push_str("  </format>\n</package>");
    o
}

/// `<version epoch=… ver=… rel=…/>` line.
pub(crate) fn version(o: &mut String, indent: &str, rpm: &Rpm) {
    let _ = write!(o, "{indent}<version epoch=\"{}\" ver=\"", rpm.epoch());
    attr(o, rpm.version());
    o.push_str("\" rel=\"");
    attr(o, rpm.release());
    o.push_str("\"/>\n");
}

/// A file of the package: path and `type` (`dir`, `ghost`, or none).
pub(crate) struct FileRow {
    pub path: String,
    pub kind: Option<&'static str>,
}

impl FileRow {
    /// Every file in header order.
    pub(super) fn all(rpm: &Rpm) -> Vec<FileRow> {
        let hdr = &rpm.meta.header;
        let Ok(split) = rpm.meta.get_file_paths_split() else {
            return Vec::new();
        };
        let modes = hdr
            .get_entry_data_as_u16_array(IndexTag::RPMTAG_FILEMODES)
            .unwrap_or_default();
        let flags = hdr
            .get_entry_data_as_u32_array(IndexTag::RPMTAG_FILEFLAGS)
            .unwrap_or_default();
        split
            .into_iter()
            .enumerate()
            .map(|(i, (dir, base))| {
                let mode = modes.get(i).copied().unwrap_or(0);
                let flag = flags.get(i).copied().unwrap_or(0);
                let kind = if u32::from(mode) & 0o170000 == 0o040000 {
                    Some("dir")
                } else if flag & (1 << 6) != 0 {
                    Some("ghost")
                } else {
                    None
                };
                FileRow {
                    path: format!("{dir}{base}"),
                    kind,
                }
            })
            .collect()
    }

    pub(super) fn write(&self, o: &mut String, indent: &str) {
        match self.kind {
            Some(k) => {
                let _ = write!(o, "{indent}<file type=\"{k}\">");
            }
            None => {
                let _ = write!(o, "{indent}<file>");
            }
        }
        text(o, &self.path);
        o.push_str("</file>\n");
    }
}

/// The files yum and dnf expect in primary: `/etc/…`, anything with `bin/`,
/// and `/usr/lib/sendmail`.
pub(crate) fn is_primary(path: &str) -> bool {
    path.starts_with("/etc/") || path.contains("bin/") || path == "/usr/lib/sendmail"
}

struct Entry {
    name: String,
    flags: Option<&'static str>,
    epoch: String,
    ver: String,
    rel: String,
    pre: bool,
}

fn entry(o: &mut String, e: &Entry) {
    o.push_str("      <rpm:entry name=\"");
    attr(o, &e.name);
    o.push('"');
    if let Some(f) = e.flags {
        let _ = write!(o, " flags=\"{f}\"");
        for (k, v) in [("epoch", &e.epoch), ("ver", &e.ver), ("rel", &e.rel)] {
            if !v.is_empty() {
                let _ = write!(o, " {k}=\"");
                attr(o, v);
                o.push('"');
            }
        }
    }
    if e.pre {
        o.push_str(" pre=\"1\"");
    }
    o.push_str("/>\n");
}

fn flags_str(flags: u32) -> Option<&'static str> {
    match flags & 0xf {
        2 => Some("LT"),
        4 => Some("GT"),
        8 => Some("EQ"),
        10 => Some("LE"),
        12 => Some("GE"),
        _ => None,
    }
}

/// `[epoch:]version[-release]`, the epoch `0` when a version is given.
fn split_evr(evr: &str) -> Option<(String, String, String)> {
    if evr.is_empty() {
        return Some(Default::default());
    }
    let (epoch, rest) = match evr.split_once(':') {
        Some((e, r)) if !e.is_empty() && e.bytes().all(|c| c.is_ascii_digit()) => (e, r),
        Some((e, _)) if !e.is_empty() => return None, // not a number: skipped
        Some((_, r)) => ("0", r),
        None => ("0", evr),
    };
    let (ver, rel) = rest.split_once('-').unwrap_or((rest, ""));
    Some((epoch.into(), ver.into(), rel.into()))
}

fn make(d: &Dependency, pre: bool) -> Option<Entry> {
    let (epoch, ver, rel) = split_evr(&d.version)?;
    Some(Entry {
        name: d.name.clone(),
        flags: flags_str(d.flags.bits()),
        epoch,
        ver,
        rel,
        pre,
    })
}

#[derive(Default)]
struct Deps {
    provides: Vec<Entry>,
    requires: Vec<Entry>,
    conflicts: Vec<Entry>,
    obsoletes: Vec<Entry>,
    suggests: Vec<Entry>,
    enhances: Vec<Entry>,
    recommends: Vec<Entry>,
    supplements: Vec<Entry>,
}

impl Deps {
    fn of(rpm: &Rpm, files: &[FileRow]) -> Deps {
        let m = &rpm.meta;
        let simple = |v: Result<Vec<Dependency>, rpm::Error>| -> Vec<Entry> {
            v.unwrap_or_default()
                .iter()
                .filter(|d| !d.name.is_empty())
                .filter_map(|d| make(d, false))
                .collect()
        };
        let mut deps = Deps {
            conflicts: simple(m.get_conflicts()),
            obsoletes: simple(m.get_obsoletes()),
            suggests: simple(m.get_suggests()),
            enhances: simple(m.get_enhances()),
            recommends: simple(m.get_recommends()),
            supplements: simple(m.get_supplements()),
            ..Deps::default()
        };
        let key = |d: &Dependency| {
            format!(
                "{}{}{}",
                d.name,
                flags_str(d.flags.bits()).unwrap_or(""),
                d.version
            )
        };
        let provides = m.get_provides().unwrap_or_default();
        let provided: HashSet<String> = provides.iter().map(key).collect();
        deps.provides = provides
            .iter()
            .filter(|d| !d.name.is_empty())
            .filter_map(|d| make(d, false))
            .collect();
        let own: HashSet<&str> = files.iter().map(|f| f.path.as_str()).collect();
        let mut seen: Vec<(String, Option<&'static str>, String, bool)> = Vec::new();
        let mut libc: Option<Entry> = None;
        for d in m.get_requires().unwrap_or_default() {
            let bits = d.flags.bits();
            if d.name.is_empty()
                || d.name.starts_with("rpmlib(")
                || (d.name.starts_with('/') && own.contains(d.name.as_str()) && is_primary(&d.name))
                || provided.contains(&key(&d))
            {
                continue;
            }
            let pre = bits & (PREREQ | SCRIPT_PRE | SCRIPT_POST) != 0;
            let flags = flags_str(bits);
            if seen
                .iter()
                .any(|(n, f, v, p)| *n == d.name && *f == flags && *v == d.version && *p == pre)
            {
                continue;
            }
            let Some(e) = make(&d, pre) else { continue };
            if bits & MISSINGOK != 0 {
                deps.recommends.push(Entry { pre: false, ..e });
                continue;
            }
            if d.name.starts_with("libc.so.6") {
                // Only the highest libc.so.6(GLIBC_x) requirement is listed.
                if libc.as_ref().is_none_or(|l| libc_older(&l.name, &e.name)) {
                    libc = Some(e);
                }
                continue;
            }
            seen.push((d.name.clone(), flags, d.version.clone(), pre));
            deps.requires.push(e);
        }
        deps.requires.extend(libc);
        deps
    }
}

/// Is `a`'s `libc.so.6(GLIBC_x)` version older than `b`'s?
fn libc_older(a: &str, b: &str) -> bool {
    let ver = |s: &str| -> Option<String> {
        let inner = s.split_once('(')?.1.split_once(')')?.0;
        let start = inner.find(|c: char| c.is_ascii_digit())?;
        Some(inner[start..].to_string())
    };
    match (ver(a), ver(b)) {
        (None, None) => false,
        (None, Some(_)) => true,
        (Some(_), None) => false,
        (Some(x), Some(y)) => rpm_version::rpm_evr_compare(&x, &y) == std::cmp::Ordering::Less,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evr_and_flags() {
        assert_eq!(
            split_evr("2:1.0-3.el9"),
            Some(("2".into(), "1.0".into(), "3.el9".into()))
        );
        assert_eq!(
            split_evr("3.6"),
            Some(("0".into(), "3.6".into(), String::new()))
        );
        assert_eq!(split_evr("x:1"), None);
        assert_eq!(split_evr(""), Some(Default::default()));
        assert_eq!(flags_str(8 | PREREQ), Some("EQ"));
        assert_eq!(flags_str(12), Some("GE"));
        assert_eq!(flags_str(0), None);
    }

    #[test]
    fn primary_files_and_libc() {
        assert!(is_primary("/etc/x.conf"));
        assert!(is_primary("/opt/agent/env/bin/celery"));
        assert!(is_primary("/usr/lib/sendmail"));
        assert!(!is_primary("/opt/manager/resources/a.tar.gz"));
        assert!(libc_older(
            "libc.so.6(GLIBC_2.4)",
            "libc.so.6(GLIBC_2.17)(64bit)"
        ));
        assert!(!libc_older(
            "libc.so.6(GLIBC_2.34)",
            "libc.so.6(GLIBC_2.17)"
        ));
        assert!(libc_older("libc.so.6", "libc.so.6(GLIBC_2.2.5)"));
    }
}
