//! The texts of a deb: `control`, `md5sums`, and the generated documentation
//! (`copyright`, `changelog.Debian`, the lintian overrides).

use super::data::Entry;
use crate::package::{AgentInfo, PackagePlan, Role};

pub(crate) const SECTION: &str = "misc";
pub(crate) const PRIORITY: &str = "optional";

/// dpkg-gencontrol's Installed-Size (KiB): each regular file ceil(size / 1024),
/// each directory 1, the root directory included.
pub(crate) fn installed_size(entries: &[Entry]) -> u64 {
    entries
        .iter()
        .map(|e| if e.is_dir() { 1 } else { e.size.div_ceil(1024) })
        .sum()
}

/// `md5sums`: `<hex>  <path without ./>` per file, in tar order, final newline.
pub(crate) fn md5sums(entries: &[Entry], sums: &[Option<[u8; 16]>]) -> String {
    let mut out = String::new();
    for (e, sum) in entries.iter().zip(sums) {
        if let Some(sum) = sum {
            out.push_str(&format!("{}  {}\n", hex::encode(sum), e.md5_path()));
        }
    }
    out
}

pub(crate) fn control(pkg: &PackagePlan, agent: &AgentInfo, installed_size: u64) -> String {
    let mut c = format!(
        "Package: {}\nVersion: {}\nArchitecture: {}\nMaintainer: {}\nInstalled-Size: {installed_size}\n",
        pkg.name,
        pkg.full_version(),
        pkg.deb_arch(),
        pkg.maintainer
    );
    let depends = depends(pkg);
    if !depends.is_empty() {
        c.push_str(&format!("Depends: {}\n", depends.join(", ")));
    }
    c.push_str(&format!("Section: {SECTION}\nPriority: {PRIORITY}\n"));
    if let Some(h) = &pkg.homepage {
        c.push_str(&format!("Homepage: {h}\n"));
    }
    c.push_str("Description: ");
    c.push_str(&crate::package::texts::description(pkg, agent));
    c
}

/// The Depends entries: the common package (at least this version), then
/// `package.depends`.
pub(crate) fn depends(pkg: &PackagePlan) -> Vec<String> {
    let common = pkg
        .common
        .iter()
        .map(|c| format!("{c} (>= {})", pkg.full_version()));
    common.chain(pkg.depends.iter().cloned()).collect()
}

/// `/usr/share/doc/<name>/copyright` in the machine-readable format.
/// Without `package.copyright`, the year of the build (SOURCE_DATE_EPOCH) and the
/// modules' authors: lintian wants a year, and the holders are the modules' own.
pub(crate) fn copyright(pkg: &PackagePlan, mtime: u64) -> String {
    let common = [
        "Apache-2.0",
        "Artistic",
        "BSD",
        "CC0-1.0",
        "GFDL-1.3",
        "GPL-2",
        "GPL-3",
        "LGPL-2",
        "LGPL-2.1",
        "LGPL-3",
        "MPL-2.0",
    ];
    let text = if common.contains(&pkg.license.as_str()) {
        format!(
            " On Debian systems, the full text of this license can be found in\n /usr/share/common-licenses/{}.\n",
            pkg.license
        )
    } else {
        " The license text is not included in this package.\n".to_string()
    };
    let year = crate::util::date::civil(mtime as i64).year;
    let (comment, holders) = match pkg.role {
        Role::Agent => (
            format!(
                "The Cloudify agent for {} {}, packaged by cfy-ap. The agent tar\n \
                 bundles Python modules that keep their own copyright and license, recorded\n \
                 in each module's metadata inside the tar.",
                pkg.distribution, pkg.release
            ),
            format!(
                "{year} the authors of the Python modules in the agent tar (see each module's metadata)"
            ),
        ),
        Role::Common => (
            format!(
                "The celeryd templates and the requiretty script shared by the Cloudify\n \
                 agents for {}, packaged by cfy-ap.",
                pkg.distribution
            ),
            format!("{year} the authors of the Cloudify agent packager"),
        ),
    };
    format!(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n\
         Upstream-Name: {name}\n\
         Comment: {comment}\n\
         \n\
         Files: *\n\
         Copyright: {copyright}\n\
         License: {lic}\n\
         \n\
         License: {lic}\n{text}",
        name = pkg.name,
        comment = comment.trim_end(),
        lic = pkg.license,
        copyright = pkg.copyright.clone().unwrap_or(holders)
    )
}

/// `changelog.Debian` (gzipped by the caller): one entry for this build.
pub(crate) fn changelog(pkg: &PackagePlan, mtime: u64) -> String {
    format!(
        "{} ({}) unstable; urgency=medium\n\n  * {}, packaged by cfy-ap {}.\n\n -- {}  {}\n",
        pkg.name,
        pkg.full_version(),
        crate::package::texts::what(pkg),
        env!("CARGO_PKG_VERSION"),
        pkg.maintainer,
        crate::util::date::rfc2822(mtime as i64)
    )
}

/// `/usr/share/lintian/overrides/<name>`: each override with its reason.
pub(crate) fn lintian_overrides(pkg: &PackagePlan) -> String {
    let name = &pkg.name;
    let mut out = String::new();
    if pkg.resources_dir == "/opt" || pkg.resources_dir.starts_with("/opt/") {
        out.push_str(&format!(
            "# The Cloudify manager serves agents from its file server root,\n\
             # {}, so the files have to be installed there.\n\
             {name}: dir-or-file-in-opt\n",
            pkg.resources_dir
        ));
    }
    if let Some(init) = pkg
        .files
        .iter()
        .find(|f| f.path.ends_with(".init.template"))
    {
        out.push_str(&format!(
            "# A template: agent hosts download and render it into /etc/init.d;\n\
             # it is never run from here.\n\
             {name}: script-not-executable [{}]\n",
            init.path.trim_start_matches('/')
        ));
    }
    if pkg.revision == "1" {
        out.push_str(&format!(
            "# Built for a Cloudify manager, not uploaded to Debian: no ITP bug to close.\n\
             {name}: initial-upload-closes-no-bugs\n"
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::data::{Content, tree};
    use super::*;

    #[test]
    fn md5sums_and_installed_size() {
        let entries = tree(vec![
            ("/opt/a/big".into(), Content::Bytes(vec![1; 1025]), 0o644),
            ("/opt/a/small".into(), Content::Bytes(vec![2; 1024]), 0o644),
            ("/opt/empty".into(), Content::Bytes(vec![]), 0o644),
        ])
        .unwrap();
        // dirs ./ ./opt/ ./opt/a/ = 3; files 2 + 1 + 0
        assert_eq!(installed_size(&entries), 6);
        let mut sums = vec![None; entries.len()];
        sums[3] = Some([0xab; 16]);
        sums[5] = Some([0x01; 16]);
        assert_eq!(
            md5sums(&entries, &sums),
            format!(
                "{}  opt/a/big\n{}  opt/empty\n",
                "ab".repeat(16),
                "01".repeat(16)
            )
        );
    }
}
