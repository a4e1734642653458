//! Credentials inside URLs are never printed: the user-info part
//! (`https://user:secret@host/...`) and the values of credential-like query
//! parameters (`?token=…`, `access_token`, `signature`, `X-Amz-Signature`, …)
//! become `****`, in the query and in the fragment (`#egg=x&token=…`). Every
//! command line, error, dry run and config snippet we print goes through
//! [`redact`], and so does every line of pip's and uv's output we relay (`-v`).
//! What goes into the agent (`direct_url.json`) goes through [`redact_stored`],
//! and the agent is searched for [`secrets`] before it is shipped (`scrub`).

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

/// Replace every URL's user-info and secret query and fragment values in
/// `text` with `****`.
pub(crate) fn redact(text: &str) -> String {
    rewrite(text, Keep::Nothing)
}

/// For text that is stored (a `direct_url.json` in the agent): as [`redact`],
/// but a user name stays (`git@`, `user:****@`); only its password goes.
pub(crate) fn redact_stored(text: &str) -> String {
    rewrite(text, Keep::User)
}

/// The secrets [`redact`] hides in `text` (user-info, passwords, secret query
/// and fragment values), each at least [`MIN_SECRET`] characters long: what
/// must be found nowhere in the agent.
pub(crate) fn secrets(text: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for_each_url(text, |_, authority, rest| {
        if let Some(at) = authority.rfind('@') {
            let info = &authority[..at];
            out.push(info.split_once(':').map_or(info, |(_, p)| p).to_string());
        }
        for part in rest.split(['?', '#']).skip(1) {
            for p in part.split('&') {
                if let Some((k, v)) = p.split_once('=')
                    && is_secret(k)
                {
                    out.push(v.to_string());
                }
            }
        }
        String::new()
    });
    out.retain(|s| s.len() >= MIN_SECRET);
    out.sort();
    out.dedup();
    out
}

/// Shorter values are not looked for by [`secrets`]: they would be found by
/// chance (`git`, `1`).
pub(crate) const MIN_SECRET: usize = 6;

#[derive(Clone, Copy, PartialEq)]
enum Keep {
    Nothing,
    User,
}

fn rewrite(text: &str, keep: Keep) -> String {
    for_each_url(text, |out, authority, rest| {
        match authority.rfind('@') {
            Some(at) => {
                let info = &authority[..at];
                match info.split_once(':') {
                    Some((user, _)) if keep == Keep::User => {
                        out.push_str(user);
                        out.push_str(":****");
                    }
                    None if keep == Keep::User => out.push_str(info),
                    _ => out.push_str("****"),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        redact_params(rest)
    })
}

/// Copy `text`, calling `url(out, authority, rest)` for every URL after its
/// `scheme://` (which is copied): it writes the authority to `out` and returns
/// the rest (path, query, fragment) to write.
fn for_each_url(text: &str, mut url: impl FnMut(&mut String, &str, &str) -> String) -> String {
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
        let whole = &tail[..url_end];
        let auth_end = whole.find(['/', '?', '#']).unwrap_or(whole.len());
        let after = url(&mut out, &whole[..auth_end], &whole[auth_end..]);
        out.push_str(&after);
        rest = &tail[url_end..];
    }
    out.push_str(rest);
    out
}

/// `path?a=1&token=x#egg=y&sig=z` → `path?a=1&token=****#egg=y&sig=****`: the
/// query and the fragment (pip reads `#egg=…&subdirectory=…` there) alike.
fn redact_params(path_query_fragment: &str) -> String {
    let mut out = String::with_capacity(path_query_fragment.len());
    let mut parts = path_query_fragment.split_inclusive(['?', '#']);
    if let Some(path) = parts.next() {
        out.push_str(path);
    }
    for part in parts {
        let (params, sep) = match part.strip_suffix(['?', '#']) {
            Some(p) => (p, &part[p.len()..]),
            None => (part, ""),
        };
        let params: Vec<String> = params
            .split('&')
            .map(|p| match p.split_once('=') {
                Some((k, v)) if !v.is_empty() && is_secret(k) => format!("{k}=****"),
                _ => p.to_string(),
            })
            .collect();
        out.push_str(&params.join("&"));
        out.push_str(sep);
    }
    out
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
    use super::{redact, redact_stored, secrets};

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

    #[test]
    fn hides_secret_fragment_values() {
        assert_eq!(
            redact("https://h/x.tar.gz#egg=x&token=SECRET&subdirectory=s"),
            "https://h/x.tar.gz#egg=x&token=****&subdirectory=s"
        );
        assert_eq!(
            redact("https://h/x?sig=A&v=1#egg=x&api_key=B"),
            "https://h/x?sig=****&v=1#egg=x&api_key=****"
        );
        assert_eq!(redact("https://h/x#egg=x"), "https://h/x#egg=x");
    }

    #[test]
    fn stored_urls_keep_the_user_name() {
        assert_eq!(
            redact_stored(r#"{"url": "https://bob:PW@h/x.whl?token=T&a=1"}"#),
            r#"{"url": "https://bob:****@h/x.whl?token=****&a=1"}"#
        );
        assert_eq!(
            redact_stored("git+ssh://git@github.com/o/r.git"),
            "git+ssh://git@github.com/o/r.git"
        );
    }

    #[test]
    fn secrets_are_what_redact_hides() {
        assert_eq!(
            secrets(
                "--index-url https://bob:PASSWORD1@h/s x https://h/a?token=TOKEN1&v=1#egg=x&sig=SIGNATURE1"
            ),
            ["PASSWORD1", "SIGNATURE1", "TOKEN1"]
        );
        assert_eq!(secrets("https://LONGTOKEN@h/r.git"), ["LONGTOKEN"]);
        // Too short to look for without false alarms.
        assert!(secrets("git+ssh://git@h/r https://h/x?sig=ab").is_empty());
        assert!(secrets("https://h/x?a=1 no url").is_empty());
    }
}
