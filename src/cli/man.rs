//! `cfy-ap man`: the page clap_mangen makes of the build's options, with a
//! section per command (its own options only) and what clap does not know:
//! EXIT STATUS, ENVIRONMENT, FILES.

use super::args::Cli;
use crate::error::Kind;
use crate::{Error, openpgp, util::epoch};
use clap::CommandFactory;
use std::io::Write;

/// Roff text for `s`: backslashes and hyphens escaped, no line starting a request.
fn roff(s: &str) -> String {
    let escaped = s.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}

/// A section of tagged paragraphs: the tag in bold, then its text.
fn tagged(out: &mut Vec<u8>, title: &str, items: &[(String, String)]) {
    let _ = writeln!(out, ".SH \"{title}\"");
    for (tag, text) in items {
        let _ = writeln!(out, ".TP\n\\fB{}\\fR\n{}", roff(tag), roff(text));
    }
}

/// A clap_mangen section's body: what follows its `.SH` line (before it, each
/// rendering repeats the page's preamble).
fn body(render: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>) -> std::io::Result<String> {
    let mut section = Vec::new();
    render(&mut section)?;
    let text = String::from_utf8_lossy(&section);
    Ok(match text.split_once("\n.SH ") {
        Some((_, rest)) => rest.split_once('\n').map_or("", |(_, b)| b).to_string(),
        None => String::new(),
    })
}

fn exit_status() -> Vec<(String, String)> {
    let code = |k: Kind| k.exit_code().to_string();
    let signals: Vec<String> = [1u8, 2, 15].map(|s| code(Kind::Interrupted(s))).to_vec();
    vec![
        ("0".into(), "Success (also a dry run).".into()),
        (
            code(Kind::Build),
            "Build failure: python, venv, pip or uv, download, validation, I/O (e.g. an unwritable output directory), standard output that cannot be written.".into(),
        ),
        (
            code(Kind::Config),
            "Usage or config error: a bad option, bad YAML, an unknown key, a wrong type, a missing config file, an undetectable distribution.".into(),
        ),
        (
            code(Kind::Exists),
            "Refused: the venv or an output already exists and -f was not given (or the venv path is not a virtualenv).".into(),
        ),
        (
            format!("128 + signal ({})", signals.join(", ")),
            "Stopped by SIGHUP, SIGINT or SIGTERM: pip, uv and the compiling processes are stopped, and what the run created is removed.".into(),
        ),
    ]
}

fn environment() -> Vec<(String, String)> {
    [
        (epoch::VAR, "Seconds since 1970: the time stamped into every output (agent tar, deb, rpm, repository indices), which makes them reproducible; passed on to Python, which then writes hash-based .pyc files. Without it a common package is stamped with its files' newest mtime (so it is the same bytes in every run) and the rest with the current time. Anything but a whole number is exit 2."),
        (openpgp::PASSPHRASE_ENV, "The passphrase of the signing key (publish --sign-key, package signing); never asked for, never taken from the command line."),
        ("VERSION", "The package version for --format deb or rpm when the config has no package.version."),
        ("PIP_*, UV_*", "Passed on to pip and uv (PIP_INDEX_URL, UV_INDEX_URL, PIP_CERT, ...). cfy-ap sets PIP_DISABLE_PIP_VERSION_CHECK=1, PIP_NO_INPUT=1 and PYTHONHASHSEED=0 for them."),
        ("PIP_CERT, REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE, SSL_CERT_FILE", "The CA bundle the installer trusts (a private index, a TLS-intercepting proxy). Each must name a readable file, else exit 2 before any work. pip is also given PIP_CERT when only SSL_CERT_FILE is set, uv SSL_CERT_FILE when only the others are. In a --root build each file is shown read-only at the same path inside the root; with none set the root's own bundle serves. --dry-run names the files."),
        ("PATH", "Searched for python3 when python_path is not set and /usr/bin/python is missing, and for uv when uv_path is not set."),
        ("XDG_CACHE_HOME, HOME", "Where the bytecode cache is when cache_dir is not set (see FILES)."),
        ("TMPDIR", "Where the installer's output is kept while it runs."),
        ("NO_COLOR", "Any non-empty value: no colour on the terminal."),
        ("CFY_AP_PROGRESS", "plain: one line per step even on a terminal (TERM=dumb does the same)."),
        ("CFY_AP_HEARTBEAT", "Seconds between the \"... still <step> (N s)\" lines a long step prints when no spinner is shown (logs, CI, -v); default 10, 0 for none."),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

fn files() -> Vec<(String, String)> {
    [
        ("config.yaml", "The config the build reads from the current directory unless -c names another."),
        ("~/.cache/cfy-ap/pyc", "The bytecode cache (CPython 3.7 to 3.10): <cache_dir>/cfy-ap-pyc when the config sets cache_dir, else $XDG_CACHE_HOME/cfy-ap/pyc. Trusted code: keep it writable only by the user who builds."),
        ("~/.cache/pip, ~/.cache/uv", "The installer's download and wheel cache, or the config's cache_dir."),
    ]
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .to_vec()
}

/// The whole page, in roff.
pub(crate) fn render() -> Result<Vec<u8>, Error> {
    let mut cmd = Cli::command();
    cmd.build();
    let page = || -> std::io::Result<Vec<u8>> {
        let man = clap_mangen::Man::new(cmd.clone());
        let mut out = Vec::new();
        man.render_title(&mut out)?;
        man.render_name_section(&mut out)?;
        man.render_synopsis_section(&mut out)?;
        man.render_description_section(&mut out)?;
        man.render_options_section(&mut out)?;
        writeln!(out, ".SH COMMANDS")?;
        for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
            let man = clap_mangen::Man::new(sub.clone());
            writeln!(
                out,
                ".SS \"{}\"",
                roff(&format!("cfy-ap {}", sub.get_name()))
            )?;
            out.extend(body(|w| man.render_synopsis_section(w))?.as_bytes());
            if let Some(about) = sub.get_about() {
                writeln!(out, ".PP\n{}", roff(&about.to_string()))?;
            }
            if sub.get_arguments().any(|a| !a.is_positional()) {
                out.extend(body(|w| man.render_options_section(w))?.as_bytes());
            }
        }
        tagged(&mut out, "EXIT STATUS", &exit_status());
        tagged(&mut out, "ENVIRONMENT", &environment());
        tagged(&mut out, "FILES", &files());
        man.render_version_section(&mut out)?;
        Ok(out)
    };
    page().map_err(|e| Error::build(format!("rendering the man page: {e}")))
}
