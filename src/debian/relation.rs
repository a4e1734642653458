//! Package relationship fields (`Depends`, `Provides`, `Build-Depends`, …) with
//! dpkg's grammar (deb-control(5), Debian Policy 7.1): a comma-separated list of
//! groups of `|`-separated alternatives, each `name[:archqual] [(op version)]
//! [[arch ...]] [<profile ...>...]`.
//!
//! The one parser for relations: the apt publisher checks every relation field
//! of a package with [`check_field`] before the repository is touched, because a
//! field apt cannot parse breaks `apt-get update` for every client of the
//! repository. Architecture lists and build profiles parse, but only source
//! fields may carry them (apt refuses them in a binary `Packages` index).

use super::version;

/// A version relation operator. `<` and `>` are dpkg's obsolete spellings of
/// `<=` and `>=` (still accepted by dpkg and apt).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Earlier,
    EarlierEqual,
    Equal,
    LaterEqual,
    Later,
}

impl Op {
    fn parse(s: &str) -> Option<(Op, usize)> {
        Some(match s.as_bytes() {
            [b'<', b'<', ..] => (Op::Earlier, 2),
            [b'<', b'=', ..] => (Op::EarlierEqual, 2),
            [b'>', b'>', ..] => (Op::Later, 2),
            [b'>', b'=', ..] => (Op::LaterEqual, 2),
            [b'=', ..] => (Op::Equal, 1),
            [b'<', ..] => (Op::EarlierEqual, 1),
            [b'>', ..] => (Op::LaterEqual, 1),
            _ => return None,
        })
    }

    /// The dpkg spelling.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Op::Earlier => "<<",
            Op::EarlierEqual => "<=",
            Op::Equal => "=",
            Op::LaterEqual => ">=",
            Op::Later => ">>",
        }
    }
}

/// One alternative of a relation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Relation {
    pub name: String,
    /// `any`, `native` or an architecture (after `name:`).
    pub arch_qualifier: Option<String>,
    pub version: Option<(Op, String)>,
    /// `[amd64 !i386]` (source fields only).
    pub arches: Vec<String>,
    /// `<!nocheck> <stage1 cross>`: one inner list per `<...>` (source fields only).
    pub profiles: Vec<Vec<String>>,
}

/// A parsed field: AND of groups, each an OR of alternatives.
pub(crate) type Relations = Vec<Vec<Relation>>;

/// The relation fields of a binary package (`Static-Built-Using` included).
pub(crate) const BINARY_FIELDS: [&str; 11] = [
    "Pre-Depends",
    "Depends",
    "Recommends",
    "Suggests",
    "Enhances",
    "Breaks",
    "Conflicts",
    "Replaces",
    "Provides",
    "Built-Using",
    "Static-Built-Using",
];

/// Check one relation field of a binary package's control file by its rules:
/// the grammar, plus no alternatives in Breaks/Conflicts/Replaces/Provides/
/// Built-Using, only `=` in Provides and Built-Using, no architecture lists or
/// build profiles. `Ok(None)` when `field` is not a relation field.
pub(crate) fn check_field(field: &str, value: &str) -> Result<Option<Relations>, String> {
    let Some(name) = BINARY_FIELDS.iter().find(|f| f.eq_ignore_ascii_case(field)) else {
        return Ok(None);
    };
    let relations = parse(value)?;
    let alternatives = matches!(
        *name,
        "Pre-Depends" | "Depends" | "Recommends" | "Suggests" | "Enhances"
    );
    let only_equal = matches!(*name, "Provides" | "Built-Using" | "Static-Built-Using");
    for group in &relations {
        if group.len() > 1 && !alternatives {
            return Err(format!("alternatives (`|`) are not allowed in {name}"));
        }
        for r in group {
            if !r.arches.is_empty() || !r.profiles.is_empty() {
                return Err(format!(
                    "{}: architecture lists `[...]` and build profiles `<...>` belong in \
                     source package fields, not in a binary package",
                    r.name
                ));
            }
            if only_equal {
                if let Some((op, _)) = r.version
                    && op != Op::Equal
                {
                    return Err(format!(
                        "{}: only `=` versions are allowed in {name}, not `{}`",
                        r.name,
                        op.as_str()
                    ));
                }
                if r.arch_qualifier.is_some() {
                    return Err(format!(
                        "{}: no architecture qualifier allowed in {name}",
                        r.name
                    ));
                }
            }
        }
    }
    Ok(Some(relations))
}

/// Parse a relation field (the grammar only; see [`check_field`] for a binary
/// package's rules). Continuation lines are whitespace.
pub(crate) fn parse(value: &str) -> Result<Relations, String> {
    let mut out = Vec::new();
    for (i, group) in value.split(',').enumerate() {
        if group.trim().is_empty() {
            return Err(format!("empty relation (entry {})", i + 1));
        }
        let alts = group
            .split('|')
            .map(|alt| {
                let alt = alt.trim();
                if alt.is_empty() {
                    return Err(format!("empty alternative in {:?}", group.trim()));
                }
                relation(alt).map_err(|e| format!("{alt:?}: {e}"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        out.push(alts);
    }
    Ok(out)
}

fn relation(s: &str) -> Result<Relation, String> {
    let end = s
        .find(|c: char| c.is_whitespace() || "([<".contains(c))
        .unwrap_or(s.len());
    let (word, mut rest) = s.split_at(end);
    let (name, qualifier) = match word.split_once(':') {
        Some((n, q)) => (n, Some(q)),
        None => (word, None),
    };
    if !is_name(name) {
        return Err(format!(
            "bad package name {name:?} (lowercase letters, digits, `+-.`, starting with a letter or digit)"
        ));
    }
    if let Some(q) = qualifier
        && !is_arch(q)
    {
        return Err(format!("bad architecture qualifier {q:?}"));
    }
    let mut r = Relation {
        name: name.to_string(),
        arch_qualifier: qualifier.map(str::to_string),
        version: None,
        arches: Vec::new(),
        profiles: Vec::new(),
    };
    rest = rest.trim_start();
    if let Some(body) = rest.strip_prefix('(') {
        let (inner, after) = body
            .split_once(')')
            .ok_or("unclosed `(` (expected `(op version)`)")?;
        let inner = inner.trim();
        let (op, n) = Op::parse(inner)
            .ok_or_else(|| format!("bad operator in ({inner}): use << <= = >= >>"))?;
        let v = inner[n..].trim();
        if v.is_empty() {
            return Err(format!("no version after `{}`", op.as_str()));
        }
        if !version::is_valid(v) {
            return Err(format!("bad version {v:?}"));
        }
        r.version = Some((op, v.to_string()));
        rest = after.trim_start();
    }
    if let Some(body) = rest.strip_prefix('[') {
        let (inner, after) = body.split_once(']').ok_or("unclosed `[`")?;
        let list: Vec<&str> = inner.split_whitespace().collect();
        let negated = list.iter().filter(|a| a.starts_with('!')).count();
        if list.is_empty() || (negated != 0 && negated != list.len()) {
            return Err(format!(
                "bad architecture list [{inner}] (non-empty, all or none negated)"
            ));
        }
        for a in &list {
            if !is_arch(a.trim_start_matches('!')) {
                return Err(format!("bad architecture {a:?} in [{inner}]"));
            }
        }
        r.arches = list.into_iter().map(str::to_string).collect();
        rest = after.trim_start();
    }
    while let Some(body) = rest.strip_prefix('<') {
        let (inner, after) = body.split_once('>').ok_or("unclosed `<`")?;
        let list: Vec<&str> = inner.split_whitespace().collect();
        let good = |p: &str| {
            let p = p.strip_prefix('!').unwrap_or(p);
            !p.is_empty()
                && p.bytes()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(&c))
        };
        if list.is_empty() || !list.iter().all(|p| good(p)) {
            return Err(format!("bad build profile list <{inner}>"));
        }
        r.profiles
            .push(list.into_iter().map(str::to_string).collect());
        rest = after.trim_start();
    }
    if !rest.is_empty() {
        return Err(format!("unexpected {rest:?}"));
    }
    Ok(r)
}

/// A name in a relation: dpkg accepts single characters here (unlike a package's
/// own name), but the same character set.
fn is_name(n: &str) -> bool {
    n.bytes().next().is_some_and(|c| c.is_ascii_alphanumeric())
        && n.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"+-.".contains(&c))
}

fn is_arch(a: &str) -> bool {
    !a.is_empty()
        && !a.starts_with('-')
        && a.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_full_grammar() {
        let r = parse(
            "libc6 (>= 2.36), python3:any | python2 (<< 3~),\n foo [amd64 arm64] <!nocheck> <stage1 cross>",
        )
        .unwrap();
        assert_eq!(r.len(), 3);
        assert_eq!(r[0][0].version, Some((Op::LaterEqual, "2.36".into())));
        assert_eq!(r[1][0].arch_qualifier.as_deref(), Some("any"));
        assert_eq!(r[1][1].version, Some((Op::Earlier, "3~".into())));
        assert_eq!(r[2][0].arches, ["amd64", "arm64"]);
        assert_eq!(r[2][0].profiles.len(), 2);
        for op in ["<<", "<=", "=", ">=", ">>", "<", ">"] {
            assert!(parse(&format!("a ({op} 1:2.0-1)")).is_ok(), "{op}");
        }
        assert!(parse("a(>=1)").is_ok());
    }

    #[test]
    fn rejects_what_apt_cannot_parse() {
        for bad in [
            "foo (>= ",
            "foo (>= )",
            "foo (= )",
            "foo (~ 1)",
            "foo (>= 1",
            "foo, , bar",
            "foo |",
            "",
            "Foo",
            "foo bar",
            "foo (>= a.b)",
            "foo [amd64",
            "foo [amd64 !i386]",
            "foo []",
            "foo <>",
            "foo:",
            "foo (>= 1) extra",
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn binary_field_rules() {
        assert!(check_field("Depends", "a | b (>= 1)").unwrap().is_some());
        assert!(check_field("Description", "(>=").unwrap().is_none());
        assert!(check_field("conflicts", "a | b").is_err());
        assert!(check_field("Provides", "a (= 1.0)").is_ok());
        assert!(check_field("Provides", "a (>= 1.0)").is_err());
        assert!(check_field("Provides", "a (= )").is_err());
        assert!(check_field("Built-Using", "gcc-12 (= 12.2.0-14)").is_ok());
        assert!(check_field("Built-Using", "gcc-12 (>= 12)").is_err());
        assert!(check_field("Depends", "a [amd64]").is_err());
        assert!(check_field("Depends", "a <!nocheck>").is_err());
        for f in BINARY_FIELDS {
            assert!(check_field(f, "foo (>= ").is_err(), "{f}");
        }
    }
}
