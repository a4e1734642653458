//! Credentials inside URLs (`https://user:secret@host/...`) are never printed.

/// Replace the user-info part of every URL in `text` with `****`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The authority ends at the first '/', whitespace, quote or end of text.
        let end = tail
            .find(|c: char| c == '/' || c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let authority = &tail[..end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("****");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn hides_user_and_password() {
        assert_eq!(
            redact("pip install https://bob:s3cret@pypi.example/simple x"),
            "pip install https://****@pypi.example/simple x"
        );
        assert_eq!(
            redact("git+https://tok@h/r.git"),
            "git+https://****@h/r.git"
        );
        assert_eq!(redact("http://h/a b://c@d"), "http://h/a b://****@d");
        assert_eq!(redact("no url here"), "no url here");
        assert_eq!(redact("user@host:path"), "user@host:path");
    }
}
