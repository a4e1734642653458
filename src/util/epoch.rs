//! `SOURCE_DATE_EPOCH`, one policy for every output (agent tar, deb, rpm, apt
//! Release): unset or empty → not set (packages are stamped with the current
//! time); a whole number of seconds since 1970 → that time, and outputs are
//! reproducible; anything else is an error (exit 2). Commands call [`check`]
//! before any work, so a bad value never stops a run halfway.

use crate::error::{Error, Result};

pub(crate) const VAR: &str = "SOURCE_DATE_EPOCH";

/// The value of `SOURCE_DATE_EPOCH`, when set.
pub(crate) fn source_date_epoch() -> Result<Option<u64>> {
    match std::env::var(VAR) {
        Ok(v) if !v.trim().is_empty() => parse(&v).map(Some),
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => Err(bad(&v.to_string_lossy())),
    }
}

/// `SOURCE_DATE_EPOCH` when set, else now: the time stamped into outputs.
pub(crate) fn build_time() -> Result<u64> {
    Ok(source_date_epoch()?.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }))
}

/// Refuse a bad `SOURCE_DATE_EPOCH` before any work.
pub(crate) fn check() -> Result<()> {
    source_date_epoch().map(drop)
}

fn parse(v: &str) -> Result<u64> {
    let t = v.trim();
    // i64 range: every consumer (tar, apt dates) can represent it.
    match t.parse::<u64>() {
        Ok(n) if t.bytes().all(|b| b.is_ascii_digit()) && i64::try_from(n).is_ok() => Ok(n),
        _ => Err(bad(v)),
    }
}

fn bad(v: &str) -> Error {
    Error::config(format!("{VAR}={v:?} is not a number of seconds since 1970"))
        .with(format!("unset {VAR}, or set it to e.g. 1700000000"))
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn strict_values() {
        assert_eq!(parse("1700000000").unwrap(), 1_700_000_000);
        assert_eq!(parse(" 0 ").unwrap(), 0);
        for bad in ["abc", "-1", "+5", "1.5", "1e9", "99999999999999999999"] {
            assert_eq!(parse(bad).unwrap_err().exit_code(), 2, "{bad}");
        }
    }
}
