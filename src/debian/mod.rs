//! Debian formats shared by the deb writer and the apt publisher: deb822
//! paragraphs (one parser), versions (validation and dpkg's order), architecture
//! names (one table) and the `ar` container (reader and writer).

pub(crate) mod ar;
pub(crate) mod arch;
pub(crate) mod deb822;
pub(crate) mod relation;
pub(crate) mod version;

/// A package (or source package) name per Debian Policy 5.6.1: lowercase
/// letters, digits, `+-.`, starting with a letter or digit, at least 2 long
/// (which also keeps it safe as a path component).
pub(crate) fn is_package_name(name: &str) -> bool {
    name.len() >= 2
        && name.as_bytes()[0].is_ascii_alphanumeric()
        && name
            .bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(&c))
}
