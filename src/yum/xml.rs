//! XML text as the metadata documents need it: escaping for element text and
//! attribute values (the way libxml2 writes them, so our documents read like
//! createrepo_c's), and the check that a value can be written at all.

use std::fmt::Write;

/// Append `s` escaped as element text.
pub(crate) fn text(out: &mut String, s: &str) {
    escape(out, s, false);
}

/// Append `s` escaped as a double-quoted attribute value.
pub(crate) fn attr(out: &mut String, s: &str) {
    escape(out, s, true);
}

fn escape(out: &mut String, s: &str, in_attr: bool) {
    let special = |c: char| match c {
        '&' | '<' | '>' | '\r' => true,
        '"' | '\n' | '\t' => in_attr,
        _ => false,
    };
    if !s.contains(special) {
        out.push_str(s);
        return;
    }
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            '"' if in_attr => out.push_str("&quot;"),
            '\n' if in_attr => out.push_str("&#10;"),
            '\t' if in_attr => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

/// `<name>text</name>` on its own line, indented.
pub(crate) fn element(out: &mut String, indent: &str, name: &str, value: &str) {
    let _ = write!(out, "{indent}<{name}>");
    text(out, value);
    let _ = writeln!(out, "</{name}>");
}

/// Can `s` appear in an XML 1.0 document? (No control characters but tab,
/// newline and carriage return; createrepo_c refuses such packages too.)
pub(crate) fn writable(s: &str) -> bool {
    !s.chars()
        .any(|c| (c < ' ' && !matches!(c, '\t' | '\n' | '\r')) || c == '\u{7f}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_like_libxml2() {
        let mut t = String::new();
        text(&mut t, "a <b> & \"c\"\r\n");
        assert_eq!(t, "a &lt;b&gt; &amp; \"c\"&#13;\n");
        let mut a = String::new();
        attr(&mut a, "x\"y\n<z>&\t");
        assert_eq!(a, "x&quot;y&#10;&lt;z&gt;&amp;&#9;");
        assert!(writable("tab\tnew\nline"));
        assert!(!writable("bell\u{7}"));
    }
}
