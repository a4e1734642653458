//! The rpm's Requires: `package.rpm_depends` when given, else `package.depends`
//! (the deb's list), each entry parsed into a name, a relation and a version.
//!
//! Accepted forms: `name`, `name OP version` (rpm style) and `name (OP version)`
//! (Debian style) with OP one of `>= <= = == > < >> <<`; in `rpm_depends` also
//! rich dependencies written in parentheses, passed through as they are
//! (`(python3 or python2)`, rpm >= 4.13). Debian alternatives (`a | b`) and
//! architecture qualifiers (`python3:any`) have no rpm spelling: use `rpm_depends`.

use crate::error::{Error, Result};
use ::rpm::Dependency;
use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Require {
    pub name: String,
    /// `>=`, `<=`, `=`, `>`, `<`, or empty for any version.
    pub op: &'static str,
    pub version: String,
}

impl Require {
    pub(crate) fn dependency(&self) -> Dependency {
        let (n, v) = (self.name.clone(), self.version.clone());
        match self.op {
            ">=" => Dependency::greater_eq(n, v),
            "<=" => Dependency::less_eq(n, v),
            "=" => Dependency::eq(n, v),
            ">" => Dependency::greater(n, v),
            "<" => Dependency::less(n, v),
            _ => Dependency::any(n),
        }
    }
}

impl fmt::Display for Require {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.op.is_empty() {
            write!(f, "{}", self.name)
        } else {
            write!(f, "{} {} {}", self.name, self.op, self.version)
        }
    }
}

/// Parses every entry; `key` (`rpm_depends` or `depends`) names the config key in errors.
pub(crate) fn parse_all(entries: &[String], key: &str) -> Result<Vec<Require>> {
    entries.iter().map(|e| parse(e, key)).collect()
}

pub(crate) fn parse(entry: &str, key: &str) -> Result<Require> {
    let e = entry.trim();
    let bad = |why: &str| {
        let mut err = Error::config(format!("package.{key}: {entry:?} {why}"));
        if key == "depends" {
            err = err.with("set package.rpm_depends to the rpm spelling of the dependencies");
        }
        err.with("e.g. `python3`, `python3 >= 3.6` or `python3 (>= 3.6)`")
    };
    if e.is_empty() || e.contains('\n') {
        return Err(bad("is empty or not one line"));
    }
    if e.starts_with('(') {
        if key == "depends" {
            return Err(bad("is an rpm rich dependency: put it in rpm_depends"));
        }
        let balanced = e.chars().try_fold(0i32, |depth, c| match c {
            '(' => Some(depth + 1),
            ')' if depth > 0 => Some(depth - 1),
            ')' => None,
            _ => Some(depth),
        });
        if balanced != Some(0) || !e.ends_with(')') {
            return Err(bad("has unbalanced parentheses"));
        }
        return Ok(Require {
            name: e.to_string(),
            op: "",
            version: String::new(),
        });
    }
    if e.contains('|') {
        return Err(bad("lists alternatives, which an rpm cannot require"));
    }
    // `name (OP version)` → `name OP version`.
    let flat = match e.split_once('(') {
        Some((name, rest))
            if !name.trim().is_empty() && rest.ends_with(')') && !name.contains(')') =>
        {
            format!("{} {}", name.trim(), &rest[..rest.len() - 1])
        }
        _ => e.to_string(),
    };
    let words: Vec<&str> = split_op(&flat);
    let (name, op, version) = match words.as_slice() {
        [name] => (*name, "", ""),
        [name, op, version] => (*name, *op, *version),
        _ => return Err(bad("is not `name` or `name OP version`")),
    };
    let op = match op {
        "" => "",
        ">=" => ">=",
        "<=" => "<=",
        "=" | "==" => "=",
        ">" | ">>" => ">",
        "<" | "<<" => "<",
        _ => return Err(bad("has an unknown relation (use >=, <=, =, >, <)")),
    };
    let name_ok = !name.starts_with(['-', '<', '>', '='])
        && name
            .chars()
            .all(|c| c.is_ascii_graphic() && !",<>=|".contains(c));
    if !name_ok || (name.contains(':') && !name.contains('(')) {
        return Err(bad("has an invalid package name"));
    }
    let version_ok = version
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._+~^:-".contains(c));
    if !version_ok {
        return Err(bad("has an invalid version"));
    }
    Ok(Require {
        name: name.to_string(),
        op,
        version: version.to_string(),
    })
}

/// Words, with the relation split off even when written without spaces (`a>=1`).
fn split_op(s: &str) -> Vec<&str> {
    let is_op = |c: char| "<>=".contains(c);
    let mut out = Vec::new();
    for word in s.split_whitespace() {
        let mut rest = word;
        while !rest.is_empty() {
            let start_op = rest.starts_with(is_op);
            let end = rest
                .find(|c: char| is_op(c) != start_op)
                .unwrap_or(rest.len());
            out.push(&rest[..end]);
            rest = &rest[end..];
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &str, key: &str) -> String {
        parse(e, key).unwrap().to_string()
    }

    #[test]
    fn forms() {
        assert_eq!(show("python3", "depends"), "python3");
        assert_eq!(show("python3 (>= 3.6)", "depends"), "python3 >= 3.6");
        assert_eq!(show("python3 >= 3.6", "depends"), "python3 >= 3.6");
        assert_eq!(show("python3>=3.6", "depends"), "python3 >= 3.6");
        assert_eq!(show("libc6 (>> 2.1-1)", "depends"), "libc6 > 2.1-1");
        assert_eq!(show("foo (<< 2)", "depends"), "foo < 2");
        assert_eq!(show("foo == 1:2.0", "rpm_depends"), "foo = 1:2.0");
        assert_eq!(show("/bin/sh", "rpm_depends"), "/bin/sh");
        assert_eq!(
            show("python3dist(celery) >= 3", "rpm_depends"),
            "python3dist(celery) >= 3"
        );
        assert_eq!(
            show("(python3 or python2)", "rpm_depends"),
            "(python3 or python2)"
        );
        let d = parse("a (>= 1)", "depends").unwrap().dependency();
        assert_eq!((d.name.as_str(), d.version.as_str()), ("a", "1"));
    }

    #[test]
    fn rejects() {
        for bad in [
            "",
            "a | b",
            "python3:any",
            "a >= ",
            "a ~= 1",
            "a b c d",
            ">= 1",
            "a (>= 1 b)",
            "a >= 1,2",
        ] {
            assert_eq!(parse(bad, "depends").unwrap_err().exit_code(), 2, "{bad:?}");
        }
        assert!(parse("(a or b)", "depends").is_err());
        assert!(parse("(a or b", "rpm_depends").is_err());
    }
}
