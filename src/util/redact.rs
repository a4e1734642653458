//! Credentials inside URLs are never printed: the user-info part
//! (`https://user:secret@host/...`) and the values of credential-like query
//! parameters (`?token=…`, `access_token`, `signature`, `X-Amz-Signature`, …)
//! become `****`. Every command line, error, dry run and config snippet we
//! print goes through [`redact`].

/// Query parameter names (lowercase) whose values are secrets. A name also
/// counts when it ends with one of [`SECRET_SUFFIXES`].
const SECRET_KEYS: [&str; 12] = [
    "token",
    "auth",
    "password",
    "passwd",
    "pwd",
    "secret",
    "signature",
    "sig",
    "key",
    "apikey",
    "credential",
    "session",
];
const SECRET_SUFFIXES: [&str; 8] = [
    "_token",
    "-token",
    "_key",
    "-key",
    "_secret",
    "-secret",
    "-signature",
    "-credential",
];

/// Replace every URL's user-info and secret query values in `text` with `****`.
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        // The URL ends at whitespace, a quote or the end of the text; its
        // authority at the first '/', '?' or '#' within it.
        let url_end = tail
            .find(|c: char| c.is_whitespace() || c == '"' || c == '\'')
            .unwrap_or(tail.len());
        let url = &tail[..url_end];
        let auth_end = url.find(['/', '?', '#']).unwrap_or(url.len());
        let authority = &url[..auth_end];
        match authority.rfind('@') {
            Some(at) => {
                out.push_str("****");
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        out.push_str(&redact_query(&url[auth_end..]));
        rest = &tail[url_end..];
    }
    out.push_str(rest);
    out
}

/// `path?a=1&token=x#frag` → `path?a=1&token=****#frag`.
fn redact_query(path_and_query: &str) -> String {
    let Some(q) = path_and_query.find('?') else {
        return path_and_query.to_string();
    };
    let (path, query) = path_and_query.split_at(q + 1);
    let (query, fragment) = match query.find('#') {
        Some(h) => query.split_at(h),
        None => (query, ""),
    };
    let params: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some((k, v)) if !v.is_empty() && is_secret(k) => format!("{k}=****"),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}{}{fragment}", params.join("&"))
}

fn is_secret(key: &str) -> bool {
    let k = key.to_ascii_lowercase();
    SECRET_KEYS.contains(&k.as_str())
        || SECRET_SUFFIXES.iter().any(|s| k.ends_with(s))
        || k.starts_with("x-amz-")
        || k.starts_with("x-goog-")
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

    #[test]
    fn hides_secret_query_values() {
        assert_eq!(
            redact("https://h/p.tar.gz?token=SECRET&v=1 next"),
            "https://h/p.tar.gz?token=****&v=1 next"
        );
        assert_eq!(
            redact("'https://s3/x?X-Amz-Signature=abc&X-Amz-Credential=id&ok=2'"),
            "'https://s3/x?X-Amz-Signature=****&X-Amz-Credential=****&ok=2'"
        );
        assert_eq!(
            redact("https://u:p@h/s?access_token=T#frag"),
            "https://****@h/s?access_token=****#frag"
        );
        assert_eq!(
            redact("https://h?private_token=Z&api_key=K&signature=S&page=2"),
            "https://h?private_token=****&api_key=****&signature=****&page=2"
        );
        assert_eq!(redact("https://h/x?a=1&b=2"), "https://h/x?a=1&b=2");
    }
}
