//! Package naming rules shared by deb and rpm: names and versions (PEP 440
//! mapped to dpkg/rpm order). Architecture names are in `crate::debian::arch`.

use crate::error::{Error, Result};

/// `cloudify-<agent>`, lowercased, invalid characters as `-`, where `agent` is
/// the agent's name (`debian-bookworm-agent`, `debian-bookworm-aarch64-agent`
/// for an architecture managers do not assume): the package is named after
/// what it carries.
pub(crate) fn default_name(agent: &str) -> String {
    sanitize(&format!("cloudify-{agent}"))
}

/// Lowercased, every character dpkg does not allow in a name as `-`.
pub(super) fn sanitize(name: &str) -> String {
    name.to_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "+.-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect()
}

/// A package name as dpkg wants it: `[a-z0-9][a-z0-9+.-]+`.
pub(crate) fn check_name(name: &str) -> Result<String> {
    if crate::debian::is_package_name(name) {
        return Ok(name.to_string());
    }
    Err(Error::config(format!(
        "package.name {name:?} is not a valid package name: use lowercase letters, digits, '+', '-' and '.', starting with a letter or digit (at least 2 characters)"
    )))
}

pub(crate) fn check_arch(arch: &str) -> Result<String> {
    if crate::debian::arch::is_name(arch) {
        Ok(arch.to_string())
    } else {
        Err(Error::config(format!(
            "package.architecture {arch:?} is not valid (e.g. amd64, arm64, all)"
        )))
    }
}

/// The version in dpkg/rpm form. PEP 440 versions are mapped so that the package
/// manager orders them like Python does: `3.2rc1` → `3.2~rc1`, `3.2a1` → `3.2~a1`,
/// `3.2.dev3` → `3.2~~dev3` (before `3.2~a1`), `3.2.post1` → `3.2+post1`. Anything
/// else must already be a valid upstream version (digit first; letters, digits, `.+~`).
pub(crate) fn package_version(given: &str) -> Result<String> {
    let v = given.trim();
    let v = match v.strip_prefix(['v', 'V']) {
        Some(rest) if rest.starts_with(|c: char| c.is_ascii_digit()) => rest,
        _ => v,
    };
    let out = pep440(&v.to_ascii_lowercase()).unwrap_or_else(|| v.to_string());
    let valid = out.starts_with(|c: char| c.is_ascii_digit())
        && out
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".+~".contains(c));
    if valid {
        return Ok(out);
    }
    let mut e = Error::config(format!("package version {given:?} is not valid"));
    if v.contains('-') {
        e = e.with(
            "a '-' is not allowed in the version: put the package revision in package.revision",
        );
    } else if v.contains(':') {
        e = e.with("epochs (`N:`) are not supported");
    } else {
        e = e.with("start with a digit and use letters, digits, '.', '+' and '~' (e.g. 3.2, 3.2rc1, 3.2.0+build5)");
    }
    Err(e)
}

/// Maps a PEP 440 version (lowercase); None when `v` is not one.
fn pep440(v: &str) -> Option<String> {
    let (public, local) = match v.split_once('+') {
        Some((p, l)) => (p, Some(l)),
        None => (v, None),
    };
    let b = public.as_bytes();
    let mut i = 0;
    let num = |i: &mut usize| -> Option<String> {
        let start = *i;
        while *i < b.len() && b[*i].is_ascii_digit() {
            *i += 1;
        }
        (*i > start).then(|| public[start..*i].to_string())
    };
    let mut out = num(&mut i)?;
    while i + 1 < b.len() && b[i] == b'.' && b[i + 1].is_ascii_digit() {
        i += 1;
        out.push('.');
        out.push_str(&num(&mut i)?);
    }
    let word = |i: &mut usize, words: &[(&str, &'static str)]| -> Option<&'static str> {
        let mut j = *i;
        if j < b.len() && b"._-".contains(&b[j]) {
            j += 1;
        }
        let (w, norm) = words.iter().find(|(w, _)| public[j..].starts_with(w))?;
        j += w.len();
        if j < b.len() && b"._-".contains(&b[j]) && b.get(j + 1).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        *i = j;
        Some(norm)
    };
    let pre_words = [
        ("alpha", "a"),
        ("beta", "b"),
        ("preview", "rc"),
        ("pre", "rc"),
        ("rc", "rc"),
        ("a", "a"),
        ("b", "b"),
        ("c", "rc"),
    ];
    let pre =
        word(&mut i, &pre_words).map(|w| format!("~{w}{}", num(&mut i).unwrap_or("0".into())));
    let post = if let Some(w) = word(&mut i, &[("post", "post"), ("rev", "post"), ("r", "post")]) {
        Some(format!("+{w}{}", num(&mut i).unwrap_or("0".into())))
    } else if i + 1 < b.len() && b[i] == b'-' && b[i + 1].is_ascii_digit() {
        i += 1;
        Some(format!("+post{}", num(&mut i)?))
    } else {
        None
    };
    let dev = word(&mut i, &[("dev", "dev")]).map(|_| num(&mut i).unwrap_or("0".into()));
    if i != b.len() {
        return None;
    }
    let has_pre_or_post = pre.is_some() || post.is_some();
    out.extend(pre);
    out.extend(post);
    if let Some(n) = dev {
        // A dev release of the final version sorts before its alphas: `~~`.
        out.push_str(if has_pre_or_post { "~dev" } else { "~~dev" });
        out.push_str(&n);
    }
    if let Some(l) = local {
        if l.is_empty()
            || !l
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-".contains(c))
        {
            return None;
        }
        out.push('+');
        out.extend(
            l.chars()
                .map(|c| if c == '_' || c == '-' { '.' } else { c }),
        );
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions() {
        for (given, want) in [
            ("3.2", "3.2"),
            ("3.2rc1", "3.2~rc1"),
            ("3.2a1", "3.2~a1"),
            ("3.2b2", "3.2~b2"),
            ("3.2.0-rc.1", "3.2.0~rc1"),
            ("3.2.dev3", "3.2~~dev3"),
            ("3.2rc1.dev3", "3.2~rc1~dev3"),
            ("3.2.post1", "3.2+post1"),
            ("v3.2C1", "3.2~rc1"),
            ("3.2+local_1", "3.2+local.1"),
            ("3.2~rc1", "3.2~rc1"),
            ("1.0+git20200101", "1.0+git20200101"),
        ] {
            assert_eq!(package_version(given).unwrap(), want, "{given}");
        }
        for bad in ["", "x1", "3.2 rc1", "1:3.2", "3.2-ga-b1", "3.2_x"] {
            assert_eq!(package_version(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }

    #[test]
    fn version_order_matches_dpkg() {
        let order = [
            "3.2.dev3",
            "3.2a1.dev1",
            "3.2a1",
            "3.2b1",
            "3.2rc1",
            "3.2",
            "3.2.post1.dev1",
            "3.2.post1",
        ];
        let mapped: Vec<String> = order.iter().map(|v| package_version(v).unwrap()).collect();
        for w in mapped.windows(2) {
            let Ok(s) = std::process::Command::new("dpkg")
                .args(["--compare-versions", &w[0], "lt", &w[1]])
                .status()
            else {
                return; // no dpkg here
            };
            assert!(s.success(), "{} < {}", w[0], w[1]);
        }
    }

    #[test]
    fn names_and_arches() {
        assert_eq!(
            default_name("Ubuntu-trusty-agent"),
            "cloudify-ubuntu-trusty-agent"
        );
        assert_eq!(
            default_name("centos-Final-agent"),
            "cloudify-centos-final-agent"
        );
        assert_eq!(
            default_name("SuSE Linux-15_1-agent"),
            "cloudify-suse-linux-15-1-agent"
        );
        assert_eq!(
            default_name("debian-bookworm-aarch64-agent"),
            "cloudify-debian-bookworm-aarch64-agent"
        );
        assert!(check_name("my-agent+x.1").is_ok());
        for bad in ["My-agent", "-x", "a", "a_b", "a b"] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }
}
