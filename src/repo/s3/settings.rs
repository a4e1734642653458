//! Endpoint, region, credentials and addressing, taken the way the AWS tools
//! take them: the environment (`AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL`,
//! `AWS_REGION`/`AWS_DEFAULT_REGION`, `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_MAX_ATTEMPTS`) first,
//! then the profile (`AWS_PROFILE`, default `default`) of the shared files
//! (`AWS_CONFIG_FILE`, default `~/.aws/config`: `region`, `endpoint_url`,
//! `max_attempts` and, in its `s3 =` block, `addressing_style =
//! path|virtual|auto` and the AWS CLI's `max_concurrent_requests`;
//! `AWS_SHARED_CREDENTIALS_FILE`, default `~/.aws/credentials`: the keys).
//! Without keys from either, the client's own providers (container, web
//! identity, instance metadata) are asked.
//!
//! Addressing is path-style for an IP address or `localhost` endpoint (as
//! boto3 does) or when the profile asks for it; virtual-hosted otherwise. The
//! secret is never printed: [`Settings`]' `Debug` hides it.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// How requests name the bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Addressing {
    /// `http://ENDPOINT/BUCKET/KEY`.
    Path,
    /// `http://BUCKET.ENDPOINT/KEY`.
    Virtual,
}

/// What a client needs to reach the store.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Settings {
    pub(crate) endpoint: Option<String>,
    pub(crate) region: String,
    pub(crate) key_id: Option<String>,
    pub(crate) secret: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) addressing: Addressing,
    /// Attempts of one request (the first and the retries).
    pub(crate) attempts: usize,
    /// Uploads in flight at once (`s3.max_concurrent_requests`).
    pub(crate) parallel: usize,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("key_id", &self.key_id)
            .field("secret", &self.secret.as_ref().map(|_| "<hidden>"))
            .field("token", &self.token.as_ref().map(|_| "<hidden>"))
            .field("addressing", &self.addressing)
            .field("attempts", &self.attempts)
            .field("parallel", &self.parallel)
            .finish()
    }
}

/// One profile's keys: `key` or `s3.key` for a nested `s3 =` block.
type Profile = BTreeMap<String, String>;

impl Settings {
    /// From this process's environment and the shared files.
    pub(crate) fn from_env() -> Result<Settings> {
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let home = env("HOME").map(PathBuf::from);
        let file = |var: &str, name: &str| {
            env(var)
                .map(PathBuf::from)
                .or_else(|| home.as_ref().map(|h| h.join(".aws").join(name)))
        };
        let profile = env("AWS_PROFILE").unwrap_or_else(|| "default".into());
        let read = |path: Option<PathBuf>, section: &str| -> Result<Profile> {
            let Some(path) = path else {
                return Ok(Profile::new());
            };
            match std::fs::read_to_string(&path) {
                Ok(text) => Ok(parse_ini(&text).remove(section).unwrap_or_default()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Profile::new()),
                Err(e) => Err(Error::io("reading", &path, e)),
            }
        };
        let config_section = match profile.as_str() {
            "default" => "default".to_string(),
            p => format!("profile {p}"),
        };
        let config = read(file("AWS_CONFIG_FILE", "config"), &config_section)?;
        let creds = read(file("AWS_SHARED_CREDENTIALS_FILE", "credentials"), &profile)?;
        if env("AWS_PROFILE").is_some() && config.is_empty() && creds.is_empty() {
            return Err(Error::config(format!(
                "AWS_PROFILE={profile}: no such profile in the AWS config or credentials files"
            )));
        }
        let from_files = |k: &str| creds.get(k).or_else(|| config.get(k)).cloned();
        let (key_id, secret, token) = match (env("AWS_ACCESS_KEY_ID"), env("AWS_SECRET_ACCESS_KEY"))
        {
            (Some(id), Some(secret)) => (Some(id), Some(secret), env("AWS_SESSION_TOKEN")),
            _ => (
                from_files("aws_access_key_id"),
                from_files("aws_secret_access_key"),
                from_files("aws_session_token"),
            ),
        };
        let endpoint = env("AWS_ENDPOINT_URL_S3")
            .or_else(|| env("AWS_ENDPOINT_URL"))
            .or_else(|| config.get("s3.endpoint_url").cloned())
            .or_else(|| config.get("endpoint_url").cloned());
        let region = env("AWS_REGION")
            .or_else(|| env("AWS_DEFAULT_REGION"))
            .or_else(|| config.get("region").cloned())
            .unwrap_or_else(|| "us-east-1".into());
        let attempts = number(
            env("AWS_MAX_ATTEMPTS").or_else(|| config.get("max_attempts").cloned()),
            "AWS_MAX_ATTEMPTS / max_attempts",
            5,
            20,
        )?;
        let parallel = number(
            config.get("s3.max_concurrent_requests").cloned(),
            "s3 max_concurrent_requests in the AWS config",
            DEFAULT_PARALLEL,
            256,
        )?;
        let style = config.get("s3.addressing_style").map(String::as_str);
        let addressing = addressing(endpoint.as_deref(), style)?;
        if let Some(e) = &endpoint {
            check_endpoint(e)?;
        }
        Ok(Settings {
            endpoint,
            region,
            key_id,
            secret,
            token,
            addressing,
            attempts,
            parallel,
        })
    }
}

/// Uploads in flight at once unless the profile says otherwise.
pub(crate) const DEFAULT_PARALLEL: usize = 16;

/// `text` as a number from 1 to `max`, `default` when there is none.
fn number(text: Option<String>, what: &str, default: usize, max: usize) -> Result<usize> {
    let Some(t) = text else {
        return Ok(default);
    };
    match t.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(n),
        _ => Err(Error::config(format!(
            "{what}: {t:?} is not a number from 1 to {max}"
        ))),
    }
}

/// The addressing for `endpoint` and the profile's `addressing_style`.
fn addressing(endpoint: Option<&str>, style: Option<&str>) -> Result<Addressing> {
    match style {
        Some("path") => return Ok(Addressing::Path),
        Some("virtual") => return Ok(Addressing::Virtual),
        None | Some("auto") => {}
        Some(other) => {
            return Err(Error::config(format!(
                "s3 addressing_style {other:?} in the AWS config: expected path, virtual or auto"
            )));
        }
    }
    let Some(endpoint) = endpoint else {
        return Ok(Addressing::Virtual);
    };
    let host = host_of(endpoint);
    let ip = host.parse::<std::net::IpAddr>().is_ok()
        || host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .is_some_and(|h| h.parse::<std::net::Ipv6Addr>().is_ok());
    Ok(
        match ip || host == "localhost" || host.ends_with(".localhost") {
            true => Addressing::Path,
            false => Addressing::Virtual,
        },
    )
}

/// The host of an `http(s)://host[:port][/...]` URL.
fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let authority = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if authority.starts_with('[') {
        return authority.split_inclusive(']').next().unwrap_or(authority);
    }
    authority.split(':').next().unwrap_or(authority)
}

/// An endpoint must be an `http://` or `https://` URL with a host.
fn check_endpoint(e: &str) -> Result<()> {
    let ok = (e.starts_with("http://") || e.starts_with("https://")) && !host_of(e).is_empty();
    match ok {
        true => Ok(()),
        false => Err(Error::config(format!(
            "AWS_ENDPOINT_URL / endpoint_url {e:?}: expected http://HOST[:PORT] or https://HOST[:PORT]"
        ))),
    }
}

/// Sections of an AWS shared file: `[name]` → keys; a `key =` line with
/// nothing after it opens a nested block (`s3 =`), whose indented lines are
/// kept as `key.sub`.
fn parse_ini(text: &str) -> BTreeMap<String, Profile> {
    let mut out: BTreeMap<String, Profile> = BTreeMap::new();
    let mut section: Option<String> = None;
    let mut nested: Option<String> = None;
    for line in text.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') || trimmed.starts_with(';') {
            continue;
        }
        if let Some(name) = trimmed.strip_prefix('[').and_then(|t| t.strip_suffix(']')) {
            section = Some(name.trim().to_string());
            nested = None;
            continue;
        }
        let Some(sec) = &section else { continue };
        let Some((k, v)) = trimmed.split_once('=') else {
            continue;
        };
        let (k, v) = (k.trim().to_string(), v.trim().to_string());
        let indented = line.starts_with(char::is_whitespace);
        let map = out.entry(sec.clone()).or_default();
        match (&nested, indented) {
            (Some(block), true) => {
                map.insert(format!("{block}.{k}"), v);
            }
            _ if v.is_empty() => nested = Some(k),
            _ => {
                nested = None;
                map.insert(k, v);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_files_with_nested_blocks() {
        let text = "# comment\n[default]\nregion = eu-west-1\n\n[profile minio]\n\
                    endpoint_url = https://minio.example:9000\ns3 =\n  addressing_style = path\n\
                    max_attempts = 3\n";
        let ini = parse_ini(text);
        assert_eq!(ini["default"]["region"], "eu-west-1");
        let minio = &ini["profile minio"];
        assert_eq!(minio["s3.addressing_style"], "path");
        assert_eq!(minio["max_attempts"], "3");
        assert_eq!(minio["endpoint_url"], "https://minio.example:9000");
    }

    #[test]
    fn numbers_have_bounds() {
        assert_eq!(number(None, "x", 16, 256).unwrap(), 16);
        assert_eq!(number(Some("4".into()), "x", 16, 256).unwrap(), 4);
        for bad in ["0", "257", "-1", "ten", ""] {
            let e = number(Some(bad.into()), "s3 max_concurrent_requests", 16, 256).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}");
            assert!(e.to_string().contains("from 1 to 256"), "{e}");
        }
    }

    #[test]
    fn addressing_is_path_style_for_ips_and_localhost() {
        use Addressing::*;
        for (endpoint, style, want) in [
            (None, None, Virtual),
            (Some("http://127.0.0.1:9000"), None, Path),
            (Some("http://localhost:9000/"), None, Path),
            (Some("http://[::1]:9000"), None, Path),
            (Some("https://s3.example.com"), None, Virtual),
            (Some("https://s3.example.com"), Some("path"), Path),
            (Some("http://127.0.0.1"), Some("virtual"), Virtual),
            (Some("http://127.0.0.1"), Some("auto"), Path),
        ] {
            assert_eq!(
                addressing(endpoint, style).unwrap(),
                want,
                "{endpoint:?} {style:?}"
            );
        }
        assert_eq!(
            addressing(None, Some("sideways")).unwrap_err().exit_code(),
            2
        );
        assert_eq!(host_of("http://user@host.example:80/x"), "host.example");
        assert!(check_endpoint("ftp://x").is_err());
        assert!(check_endpoint("http://").is_err());
    }

    #[test]
    fn the_secret_is_not_in_debug_output() {
        let s = Settings {
            endpoint: None,
            region: "us-east-1".into(),
            key_id: Some("AKIDEXAMPLE".into()),
            secret: Some("wJalrXUtnFEMI-secret".into()),
            token: Some("session-token-value".into()),
            addressing: Addressing::Virtual,
            attempts: 5,
            parallel: DEFAULT_PARALLEL,
        };
        let text = format!("{s:?}");
        assert!(
            !text.contains("wJalr") && !text.contains("session-token"),
            "{text}"
        );
        assert!(text.contains("AKIDEXAMPLE"));
    }
}
