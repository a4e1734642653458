//! deb822, the one parser: paragraphs of `Field: value` lines, continuation
//! lines starting with a space or tab, paragraphs separated by blank lines. Used
//! for a package's `control` file (strict: [`Paragraph::parse`]), for existing
//! `Packages` indices ([`paragraphs`] + [`fields`]) and existing `Release` files
//! ([`fields`]), which may come from other tools and are read leniently.

/// One strictly parsed paragraph: fields in file order; multi-line values keep
/// their continuation lines (each starting with a space) after `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    fields: Vec<(String, String)>,
}

impl Paragraph {
    /// Parse exactly one paragraph: field names must be printable ASCII, not
    /// start with `-` or `#`, and appear once (case-insensitively).
    pub fn parse(text: &str) -> Result<Paragraph, String> {
        let mut fields: Vec<(String, String)> = Vec::new();
        let mut ended = false;
        for (n, line) in text.lines().enumerate() {
            let line = line.trim_end();
            if line.is_empty() {
                ended = !fields.is_empty();
                continue;
            }
            if ended {
                return Err(format!("line {}: more than one paragraph", n + 1));
            }
            if line.starts_with([' ', '\t']) {
                let Some((_, value)) = fields.last_mut() else {
                    return Err(format!(
                        "line {}: continuation line before any field",
                        n + 1
                    ));
                };
                value.push('\n');
                value.push_str(line);
                continue;
            }
            let Some((name, value)) = line.split_once(':') else {
                return Err(format!(
                    "line {}: expected `Field: value`, got {line:?}",
                    n + 1
                ));
            };
            if name.is_empty()
                || name.starts_with(['-', '#'])
                || !name.bytes().all(|c| c.is_ascii_graphic())
            {
                return Err(format!("line {}: bad field name {name:?}", n + 1));
            }
            if fields.iter().any(|(f, _)| f.eq_ignore_ascii_case(name)) {
                return Err(format!("line {}: duplicate field {name}", n + 1));
            }
            fields.push((name.to_string(), value.trim().to_string()));
        }
        Ok(Paragraph { fields })
    }

    pub fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// A field's value (names compare case-insensitively).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The paragraphs of a multi-paragraph file, each without the blank line(s)
/// after it (trailing whitespace trimmed).
pub fn paragraphs(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<usize> = None;
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let blank = line.trim().is_empty();
        match (start, blank) {
            (None, false) => start = Some(pos),
            (Some(s), true) => {
                out.push(text[s..pos].trim_end());
                start = None;
            }
            _ => {}
        }
        pos += line.len();
    }
    if let Some(s) = start {
        out.push(text[s..].trim_end());
    }
    out
}

/// One field as read leniently: its name, the trimmed text after the colon,
/// and its continuation lines (as written, leading whitespace included).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub continuation: Vec<&'a str>,
}

/// The fields of one paragraph, leniently: lines that are neither a field nor a
/// continuation are skipped (the text may come from another tool).
pub fn fields(para: &str) -> Vec<Field<'_>> {
    let mut out: Vec<Field> = Vec::new();
    for line in para.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(f) = out.last_mut() {
                f.continuation.push(line);
            }
            continue;
        }
        if let Some((name, value)) = line.split_once(':') {
            out.push(Field {
                name,
                value: value.trim(),
                continuation: Vec::new(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_paragraph_keeps_multiline_values_in_order() {
        let p = Paragraph::parse(
            "Package: demo-agent\nVersion: 2:1.0~rc1-1\nDescription: short\n long line\n .\n more\n\n",
        )
        .unwrap();
        assert_eq!(p.get("description"), Some("short\n long line\n .\n more"));
        assert_eq!(p.fields()[0].0, "Package");
        for bad in [
            " continuation\nPackage: ok\n",
            "Package: ok\nPackage: ok\n",
            "Package: ok\n\nPackage: two\n",
            "garbage",
            "-x: y\n",
        ] {
            assert!(Paragraph::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn lenient_paragraphs_and_fields() {
        let text = "A: 1\nB: two\n x\n\n\nA: 3\nnoise\n";
        let paras = paragraphs(text);
        assert_eq!(paras, ["A: 1\nB: two\n x", "A: 3\nnoise"]);
        let f = fields(paras[0]);
        assert_eq!(f[1].name, "B");
        assert_eq!(f[1].value, "two");
        assert_eq!(f[1].continuation, [" x"]);
        assert_eq!(fields(paras[1]).len(), 1);
    }
}
