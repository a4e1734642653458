//! Architecture names, one table: Debian's (`amd64`, `ppc64el`), rpm's
//! (`x86_64`, `ppc64le`) and this machine's (uname style), used by the package
//! writers, by the apt publisher and for the agent's own architecture (the
//! plan's, [`canonical`] spelling).

/// Debian architecture name for an rpm/uname name (`x86_64` → `amd64`).
pub(crate) fn deb_name(arch: &str) -> String {
    match arch {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" | "i486" | "i586" | "i686" => "i386",
        "arm" | "armv7l" | "armv7hl" => "armhf",
        "ppc64le" | "powerpc64le" => "ppc64el",
        "powerpc64" => "ppc64",
        "loongarch64" => "loong64",
        "noarch" => "all",
        other => other,
    }
    .to_string()
}

/// rpm architecture name for a Debian one (`amd64` → `x86_64`).
pub(crate) fn rpm_name(arch: &str) -> String {
    match arch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "i386" => "i686",
        "armhf" => "armv7hl",
        "ppc64el" => "ppc64le",
        "loong64" => "loongarch64",
        "all" => "noarch",
        other => other,
    }
    .to_string()
}

/// One spelling for an architecture named either way (`arm64` or `aarch64` →
/// `aarch64`, `amd64` → `x86_64`): rpm/uname style, through both tables.
pub(crate) fn canonical(arch: &str) -> String {
    rpm_name(&deb_name(arch))
}

/// Whether `name` can be an architecture name in either spelling: lowercase
/// letters, digits, `_` and `-`, starting with a letter or digit (`arm64`,
/// `x86_64`, `musl-linux-arm64`).
pub(crate) fn is_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
}

/// Architecture names as a list key gives them (either spelling, any order),
/// Debian's spelling, sorted, without `all`.
pub(crate) fn debian_list<S: AsRef<str>>(
    names: &[S],
) -> Result<std::collections::BTreeSet<String>, String> {
    let mut out = std::collections::BTreeSet::new();
    for name in names {
        let name = name.as_ref().trim();
        if !is_name(name) {
            return Err(format!(
                "{name:?} is not an architecture name (arm64 or aarch64, amd64 or x86_64, ppc64el, s390x...)"
            ));
        }
        let deb = deb_name(name);
        if deb != "all" {
            out.insert(deb);
        }
    }
    Ok(out)
}

/// The architecture Cloudify managers assume for an agent whose name carries
/// none: agents for it keep the names they always had.
pub(crate) const UNNAMED: &str = "x86_64";

/// The build host's architecture, uname style.
pub(crate) fn host() -> &'static str {
    match std::env::consts::ARCH {
        "powerpc64" if cfg!(target_endian = "little") => "ppc64le",
        other => other,
    }
}

/// This machine's Debian architecture (for a repository holding only
/// `Architecture: all` packages).
pub(crate) fn host_deb() -> String {
    deb_name(host())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_ways() {
        assert_eq!(deb_name("x86_64"), "amd64");
        assert_eq!(deb_name("aarch64"), "arm64");
        assert_eq!(deb_name("ppc64le"), "ppc64el");
        assert_eq!(deb_name("powerpc64"), "ppc64");
        assert_eq!(rpm_name("amd64"), "x86_64");
        assert_eq!(rpm_name("all"), "noarch");
        assert_eq!(rpm_name(&deb_name("ppc64le")), "ppc64le");
        for (given, want) in [
            ("arm64", "aarch64"),
            ("aarch64", "aarch64"),
            ("amd64", "x86_64"),
            ("x86_64", "x86_64"),
            ("ppc64el", "ppc64le"),
            ("i386", "i686"),
            ("s390x", "s390x"),
        ] {
            assert_eq!(canonical(given), want);
        }
        for ok in ["arm64", "x86_64", "musl-linux-arm64", "s390x"] {
            assert!(is_name(ok), "{ok}");
        }
        for bad in ["", "ARM64", "arm 64", "-arm", "arm/64", "_x"] {
            assert!(!is_name(bad), "{bad:?}");
        }
        let list = debian_list(&["aarch64", "amd64", "all", "arm64"]).unwrap();
        assert_eq!(Vec::from_iter(list), ["amd64", "arm64"]);
        assert!(
            debian_list(&["arm 64"])
                .unwrap_err()
                .contains("\"arm 64\" is not")
        );
        if cfg!(target_arch = "x86_64") {
            assert_eq!(canonical(host()), UNNAMED);
        }
    }
}
