//! `s3://BUCKET/PREFIX`: where a repository lives in an S3-compatible store.

use crate::error::{Error, Result};
use std::path::Path;

/// A repository's place in a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct S3Url {
    /// The bucket.
    pub(crate) bucket: String,
    /// The key prefix of the repository, without a trailing `/` (may be empty).
    pub(crate) prefix: String,
}

impl S3Url {
    /// `repo` as an `s3://` URL: `None` when it is a local path; an error
    /// (exit 2) when it starts with `s3://` but is not a valid one.
    pub(crate) fn of(repo: &Path) -> Result<Option<S3Url>> {
        let Some(text) = repo.to_str() else {
            return Ok(None);
        };
        let Some(rest) = text.strip_prefix("s3://") else {
            return Ok(None);
        };
        let bad = |why: &str| {
            Error::config(format!("repository URL {text}: {why}"))
                .with("expected s3://BUCKET/PREFIX (the prefix may be empty)")
        };
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if !valid_bucket(bucket) {
            return Err(bad(
                "not a bucket name (3-63 characters: lower-case letters, digits, '.', '-')",
            ));
        }
        let prefix = prefix.trim_end_matches('/');
        if prefix.split('/').any(|c| matches!(c, "" | "." | "..")) && !prefix.is_empty() {
            return Err(bad("the prefix has an empty, '.' or '..' component"));
        }
        if prefix
            .chars()
            .any(|c| c.is_control() || c == '\\' || c == '?' || c == '#')
        {
            return Err(bad("the prefix has a control character, '\\', '?' or '#'"));
        }
        Ok(Some(S3Url {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        }))
    }

    /// The key of `rel` (a path relative to the repository).
    pub(crate) fn key(&self, rel: &str) -> String {
        match self.prefix.is_empty() {
            true => rel.to_string(),
            false => format!("{}/{rel}", self.prefix),
        }
    }

    /// The URL of `rel`, for messages.
    pub(crate) fn show(&self, rel: &str) -> String {
        format!("s3://{}/{}", self.bucket, self.key(rel))
    }
}

impl std::fmt::Display for S3Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

/// S3's bucket naming rules (the strict, DNS-compatible ones).
fn valid_bucket(b: &str) -> bool {
    (3..=63).contains(&b.len())
        && b.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'.' || c == b'-')
        && b.as_bytes()[0].is_ascii_alphanumeric()
        && b.as_bytes()[b.len() - 1].is_ascii_alphanumeric()
        && !b.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(s: &str) -> Result<Option<S3Url>> {
        S3Url::of(Path::new(s))
    }

    #[test]
    fn urls_and_paths() {
        assert_eq!(of("/srv/repo").unwrap(), None);
        assert_eq!(of("s3-like/dir").unwrap(), None);
        let u = of("s3://agents/apt/").unwrap().unwrap();
        assert_eq!((u.bucket.as_str(), u.prefix.as_str()), ("agents", "apt"));
        assert_eq!(
            u.key("dists/stable/InRelease"),
            "apt/dists/stable/InRelease"
        );
        let bare = of("s3://agents").unwrap().unwrap();
        assert_eq!(bare.key("repodata/repomd.xml"), "repodata/repomd.xml");
        assert_eq!(bare.to_string(), "s3://agents/");
        for bad in [
            "s3://",
            "s3://Agents/x",
            "s3://ab/x",
            "s3://-ab/x",
            "s3://a..b/x",
            "s3://agents/a//b",
            "s3://agents/a/../b",
            "s3://agents/a?b",
        ] {
            let e = of(bad).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.message.contains(bad), "{bad}: {}", e.message);
        }
    }
}
