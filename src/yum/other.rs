//! One package's entry in `other.xml`: its changelog, the newest
//! [`CHANGELOG_LIMIT`] entries, oldest first, as createrepo_c writes them
//! (authors without trailing spaces; entries sharing a date made distinct by
//! moving the older ones a second later).

use super::filelists::open;
use super::rpmfile::Rpm;
use super::xml::{attr, text};
use std::fmt::Write;

/// createrepo_c's default `--changelog-limit`.
pub(crate) const CHANGELOG_LIMIT: usize = 10;

/// `<package pkgid=… name=… arch=…>…</package>` (no trailing newline).
pub(crate) fn render(rpm: &Rpm) -> String {
    let mut o = String::with_capacity(512);
    open(&mut o, rpm);
    // The header lists the newest first.
    let entries: Vec<_> = rpm
        .meta
        .get_changelog_entries()
        .unwrap_or_default()
        .into_iter()
        .take(CHANGELOG_LIMIT)
        .collect();
    let mut dates: Vec<u64> = entries.iter().map(|e| e.timestamp).collect();
    // Equal dates in a row: each earlier-listed (newer) entry one second later.
    for i in 1..dates.len() {
        if entries[i].timestamp == entries[i - 1].timestamp {
            let mut j = i;
            while j > 0 && dates[j - 1] == dates[j] {
                dates[j - 1] += 1;
                j -= 1;
            }
        }
    }
    for (e, date) in entries.iter().zip(dates).rev() {
        o.push_str("  <changelog author=\"");
        attr(&mut o, e.name.trim_end_matches(' '));
        let _ = write!(o, "\" date=\"{date}\">");
        text(&mut o, &e.description);
        o.push_str("</changelog>\n");
    }
    o.push_str("</package>");
    o
}
