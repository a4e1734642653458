//! deb822, the one parser: paragraphs of `Field: value` lines, continuation
//! lines starting with a space or tab, paragraphs separated by blank lines. Used
//! for a package's `control` file (strict: [`Paragraph::parse`]), for existing
//! `Packages` indices ([`paragraphs`] + [`fields`]) and existing `Release` files
//! ([`fields`]), which may come from other tools and are read leniently.

/// One strictly parsed paragraph: fields in file order; multi-line values keep
/// their continuation lines (each starting with a space) after `\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Paragraph {
    fields: Vec<(String, String)>,
}

impl Paragraph {
    /// Parse exactly one paragraph: field names must be printable ASCII, not
    /// start with `-` or `#`, and appear once (case-insensitively).
    pub(crate) fn parse(text: &str) -> Result<Paragraph, String> {
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

    pub(crate) fn fields(&self) -> &[(String, String)] {
        &self.fields
    }

    /// A field's value (names compare case-insensitively).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// The paragraphs of a multi-paragraph file, each without the blank line(s)
/// after it (trailing whitespace trimmed). A line of only spaces and tabs is
/// blank too.
pub(crate) fn paragraphs(text: &str) -> Paragraphs<'_> {
    Paragraphs { rest: text }
}

/// Iterator of [`paragraphs`].
pub(crate) struct Paragraphs<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Paragraphs<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // Skip blank lines, then take lines up to the next blank one (or the end).
        loop {
            let (line, rest) = split_line(self.rest);
            if line.is_empty() && rest.is_empty() {
                self.rest = rest;
                return None;
            }
            if !is_blank(line) {
                break;
            }
            self.rest = rest;
        }
        let text = self.rest;
        let mut end = 0;
        let mut rest = text;
        while !rest.is_empty() {
            let (line, after) = split_line(rest);
            if is_blank(line) {
                break;
            }
            end = text.len() - after.len();
            rest = after;
        }
        self.rest = rest;
        Some(text[..end].trim_end())
    }
}

/// The first line of `text` (without its newline) and what follows it.
fn split_line(text: &str) -> (&str, &str) {
    match memchr::memchr(b'\n', text.as_bytes()) {
        Some(i) => (&text[..i], &text[i + 1..]),
        None => (text, ""),
    }
}

/// Empty or only whitespace (a line starting with anything else is not: the
/// common case costs one byte's look).
fn is_blank(line: &str) -> bool {
    match line.as_bytes().first() {
        None => true,
        Some(b' ' | b'\t' | b'\r') => line.trim().is_empty(),
        Some(_) => false,
    }
}

/// One field as read leniently: its name, the trimmed text after the colon,
/// and its continuation lines as written (leading whitespace included, joined
/// by newlines; empty when there are none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Field<'a> {
    pub name: &'a str,
    pub value: &'a str,
    pub continuation: &'a str,
}

/// The fields of one paragraph, leniently: lines that are neither a field nor a
/// continuation are skipped (the text may come from another tool). Nothing is
/// allocated: the fields are slices of `para`.
pub(crate) fn fields(para: &str) -> Fields<'_> {
    Fields { rest: para }
}

/// Iterator of [`fields`].
pub(crate) struct Fields<'a> {
    rest: &'a str,
}

impl<'a> Iterator for Fields<'a> {
    type Item = Field<'a>;

    fn next(&mut self) -> Option<Field<'a>> {
        while !self.rest.is_empty() {
            let (line, rest) = split_line(self.rest);
            self.rest = rest;
            if line.starts_with([' ', '\t']) {
                continue; // a continuation of a skipped line
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            // Its continuation lines: those after it that start with a space or tab.
            let from = self.rest;
            let mut len = 0;
            while self.rest.starts_with([' ', '\t']) {
                let (cont, after) = split_line(self.rest);
                len = from.len() - self.rest.len() + cont.len();
                self.rest = after;
            }
            return Some(Field {
                name,
                value: value.trim(),
                continuation: &from[..len],
            });
        }
        None
    }
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
        let paras: Vec<&str> = paragraphs(text).collect();
        assert_eq!(paras, ["A: 1\nB: two\n x", "A: 3\nnoise"]);
        let f: Vec<Field> = fields(paras[0]).collect();
        assert_eq!(f[1].name, "B");
        assert_eq!(f[1].value, "two");
        assert_eq!(f[1].continuation, " x");
        assert_eq!(f[0].continuation, "");
        assert_eq!(fields(paras[1]).count(), 1);
        // Blank lines of spaces and tabs separate too, CRLF ends are trimmed,
        // continuation lines keep their order and text, a leading one is skipped.
        let text = " \t\n x\nA: 1\r\n\t.\n  y\nB:2\n \t \nC: 3\n\n \n";
        let paras: Vec<&str> = paragraphs(text).collect();
        assert_eq!(paras, [" x\nA: 1\r\n\t.\n  y\nB:2", "C: 3"]);
        let f: Vec<Field> = fields(paras[0]).collect();
        let got: Vec<(&str, &str, &str)> = f
            .iter()
            .map(|f| (f.name, f.value, f.continuation))
            .collect();
        assert_eq!(got, [("A", "1", "\t.\n  y"), ("B", "2", "")]);
        assert_eq!(paragraphs("").count() + paragraphs("\n \n").count(), 0);
        assert_eq!(paragraphs("A: 1").collect::<Vec<_>>(), ["A: 1"]);
    }
}
