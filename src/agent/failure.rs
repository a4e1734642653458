//! Why an installer run failed, read from its output: the resolver found the
//! requirements in conflict (only then is each module worth trying alone), the
//! index or a download could not be reached (network, proxy, TLS: trying each
//! module alone would only repeat pip's retries once per module), or something
//! else (a missing distribution, a build that failed), which pip's and uv's own
//! error lines name.

/// What a failed install pass blames.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cause {
    /// The resolver: the requirements cannot be satisfied together.
    Conflict,
    /// The index, a find-links page or a download could not be reached.
    Network,
    /// Anything else.
    Other,
}

/// Words of pip's and uv's resolver when it gives up on the requirements as a
/// set. uv says "unsatisfiable" for a missing distribution too; trying each
/// module alone then names it, as it always did.
const CONFLICT: [&str; 5] = [
    "ResolutionImpossible",
    "conflicting dependencies",
    "Cannot install",
    "No solution found",
    "unsatisfiable",
];

/// Words of a connection, proxy, name-resolution or TLS failure, as pip
/// (urllib3, requests, ssl) and uv (reqwest, rustls) print them.
const NETWORK: [&str; 24] = [
    "Could not fetch URL",
    "SSLError",
    "CERTIFICATE_VERIFY_FAILED",
    "certificate verify failed",
    "NewConnectionError",
    "Failed to establish a new connection",
    "Connection refused",
    "Max retries exceeded",
    "ConnectTimeoutError",
    "ReadTimeoutError",
    "ProxyError",
    "Temporary failure in name resolution",
    "Name or service not known",
    "No route to host",
    "Network is unreachable",
    "Connection reset by peer",
    "Failed to fetch",
    "error sending request",
    "dns error",
    "tcp connect error",
    "invalid peer certificate",
    "UnknownIssuer",
    "operation timed out",
    "Could not connect",
];

/// What `lines` (an installer's output) blame; a conflict wins over network
/// words (a retried download may come before the real verdict).
pub(super) fn classify(lines: &[String]) -> Cause {
    let has = |words: &[&str]| lines.iter().any(|l| words.iter().any(|w| l.contains(w)));
    if has(&CONFLICT) {
        Cause::Conflict
    } else if has(&NETWORK) {
        Cause::Network
    } else {
        Cause::Other
    }
}

/// The lines that say why: pip's `ERROR:` lines and uv's `error:`/`Caused by:`
/// and `×`/`╰─▶` lines, and the network lines; a run of pip's `Retrying`
/// warnings counts once (the last). Empty when none.
pub(super) fn reasons(lines: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    // Whether the last line kept is one of pip's retry warnings.
    let mut retrying = false;
    for line in lines {
        let l = line.trim();
        let retry = l.contains("Retrying (Retry(");
        let says = l.starts_with("ERROR:")
            || l.starts_with("error:")
            || l.starts_with("Caused by:")
            || l.starts_with('×')
            || l.starts_with("╰─▶")
            || NETWORK.iter().any(|w| l.contains(w));
        if !says || out.iter().any(|o| o == l) {
            continue;
        }
        if retry && retrying {
            out.pop();
        }
        retrying = retry;
        out.push(l.to_string());
    }
    out
}

/// The short reason of a network failure, for the message: the innermost
/// cause pip or uv gives (`Connection refused`, `certificate verify failed:
/// unable to get local issuer certificate`, …), else None.
pub(super) fn network_reason(lines: &[String]) -> Option<String> {
    const SHORT: [&str; 10] = [
        "certificate verify failed",
        "invalid peer certificate",
        "Connection refused",
        "Temporary failure in name resolution",
        "Name or service not known",
        "No route to host",
        "Network is unreachable",
        "Connection reset by peer",
        "operation timed out",
        "ProxyError",
    ];
    for line in lines.iter().rev() {
        for word in SHORT {
            let Some(at) = line.find(word) else {
                continue;
            };
            // Up to the end of the phrase: `(`, `'`, `)` or `"` close it.
            let rest = &line[at..];
            let end = rest.find(['(', '\'', ')', '"']).unwrap_or(rest.len());
            return Some(rest[..end].trim().trim_end_matches([':', ',']).to_string());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(str::to_string).collect()
    }

    /// pip 23 against a closed port.
    const PIP_REFUSED: &str = "Looking in indexes: http://127.0.0.1:9/simple/
WARNING: Retrying (Retry(total=4, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/celery/
WARNING: Retrying (Retry(total=3, connect=None, read=None, redirect=None, status=None)) after connection broken by 'NewConnectionError('<pip._vendor.urllib3.connection.HTTPConnection object at 0x7f>: Failed to establish a new connection: [Errno 111] Connection refused')': /simple/celery/
ERROR: Could not find a version that satisfies the requirement celery==3.1.17 (from versions: none)
ERROR: No matching distribution found for celery==3.1.17";

    /// pip 20.3 against an index whose CA it does not trust.
    const PIP_UNTRUSTED: &str = "Looking in indexes: https://127.0.0.1:8443/simple/
Could not fetch URL https://127.0.0.1:8443/simple/celery/: There was a problem confirming the ssl certificate: HTTPSConnectionPool(host='127.0.0.1', port=8443): Max retries exceeded with url: /simple/celery/ (Caused by SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: unable to get local issuer certificate (_ssl.c:1123)'))) - skipping
ERROR: Could not find a version that satisfies the requirement celery==3.1.17
ERROR: No matching distribution found for celery==3.1.17";

    /// pip's resolver on two modules pinning different versions.
    const PIP_CONFLICT: &str = "Processing ./mods/a
ERROR: Cannot install a==1.0 and b==1.0 because these package versions have conflicting dependencies.

The conflict is caused by:
    a 1.0 depends on celery==3.1.17
    b 1.0 depends on celery==3.1.18
ERROR: ResolutionImpossible: for help visit https://pip.pypa.io/en/latest/topics/dependency-resolution/#dealing-with-dependency-conflicts";

    /// uv on a distribution its find-links do not have.
    const UV_MISSING: &str = "  × No solution found when resolving dependencies:
  ╰─▶ Because no-such-module was not found in the package registry and you require no-such-module==9.9, we can conclude that your requirements are unsatisfiable.";

    /// uv against a closed port.
    const UV_REFUSED: &str = "error: Failed to fetch: `http://127.0.0.1:9/simple/celery/`
  Caused by: Request failed after 3 retries
  Caused by: error sending request for url (http://127.0.0.1:9/simple/celery/)
  Caused by: client error (Connect)
  Caused by: tcp connect error: Connection refused (os error 111)";

    /// pip with a distribution missing from a reachable (local) source.
    const PIP_MISSING: &str = "Looking in links: /wheels
ERROR: Could not find a version that satisfies the requirement no-such-module==9.9 (from versions: none)
ERROR: No matching distribution found for no-such-module==9.9";

    #[test]
    fn the_resolver_is_blamed_only_for_conflicts() {
        assert_eq!(classify(&lines(PIP_CONFLICT)), Cause::Conflict);
        assert_eq!(classify(&lines(UV_MISSING)), Cause::Conflict);
        assert_eq!(classify(&lines(PIP_REFUSED)), Cause::Network);
        assert_eq!(classify(&lines(PIP_UNTRUSTED)), Cause::Network);
        assert_eq!(classify(&lines(UV_REFUSED)), Cause::Network);
        assert_eq!(classify(&lines(PIP_MISSING)), Cause::Other);
        assert_eq!(classify(&[]), Cause::Other);
        // A retried download, then the resolver's verdict: the conflict.
        let both = format!("{PIP_REFUSED}\n{PIP_CONFLICT}");
        assert_eq!(classify(&lines(&both)), Cause::Conflict);
    }

    #[test]
    fn reasons_keep_the_error_lines_and_one_retry() {
        let r = reasons(&lines(PIP_REFUSED));
        assert_eq!(r.len(), 3, "{r:#?}");
        assert!(r[0].starts_with("WARNING: Retrying (Retry(total=3"));
        assert!(r[1].starts_with("ERROR: Could not find a version"));
        let r = reasons(&lines(UV_REFUSED));
        assert_eq!(r.len(), 5, "{r:#?}");
        assert!(reasons(&lines("Collecting x\nSuccessfully built x")).is_empty());
    }

    #[test]
    fn the_short_network_reason() {
        assert_eq!(
            network_reason(&lines(PIP_REFUSED)).as_deref(),
            Some("Connection refused")
        );
        assert_eq!(
            network_reason(&lines(PIP_UNTRUSTED)).as_deref(),
            Some("certificate verify failed: unable to get local issuer certificate")
        );
        assert_eq!(
            network_reason(&lines(UV_REFUSED)).as_deref(),
            Some("Connection refused")
        );
        assert_eq!(network_reason(&lines(PIP_MISSING)), None);
    }
}
