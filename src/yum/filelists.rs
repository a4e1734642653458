//! One package's entry in `filelists.xml`: every file of the package, in
//! header order, directories and ghosts marked.

use super::primary::{FileRow, version};
use super::rpmfile::Rpm;
use super::xml::attr;

/// `<package pkgid=… name=… arch=…>…</package>` (no trailing newline).
pub(crate) fn render(rpm: &Rpm, files: &[FileRow]) -> String {
    let mut o = String::with_capacity(256 + files.len() * 64);
    open(&mut o, rpm);
    for f in files {
        f.write(&mut o, "  ");
    }
    o.push_str("</package>");
    o
}

/// The opening tag and version line shared with `other.xml`.
pub(crate) fn open(o: &mut String, rpm: &Rpm) {
    o.push_str("<package pkgid=\"");
    o.push_str(&rpm.sha256);
    o.push_str("\" name=\"");
    attr(o, rpm.name());
    o.push_str("\" arch=\"");
    attr(o, rpm.arch());
    o.push_str("\">\n");
    version(o, "  ", rpm);
}
