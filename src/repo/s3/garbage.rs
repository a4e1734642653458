//! Objects a publish stopped naming (replaced indices' by-hash copies and
//! metadata files, packages no index names) are not deleted at once: a client
//! that read the previous `InRelease` or `repomd.xml` a moment before the
//! switch still fetches them. They are listed in `.cfy-ap/garbage` with the
//! time they were retired and deleted by a later publish once older than the
//! grace period; one named again meanwhile is taken off the list. The list
//! replaces a LIST of the bucket: a publish never lists the pool.

use super::client::Bucket;
use crate::error::{Error, Result};
use crate::repo::storage::Storage;
use std::collections::{BTreeMap, BTreeSet};

/// The list's object, relative to the repository.
pub(crate) const KEY: &str = ".cfy-ap/garbage";

/// Retired keys and when (Unix seconds).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Garbage {
    since: BTreeMap<String, u64>,
    changed: bool,
}

impl Garbage {
    /// The list as stored (empty when there is none).
    pub(crate) fn load(bucket: &Bucket) -> Result<Garbage> {
        Garbage::of(bucket.read(KEY)?.map(|(bytes, _)| bytes), bucket)
    }

    /// The list from `bytes`, the body of its object in `bucket` (`None`:
    /// there is none, the list is empty).
    pub(crate) fn of(bytes: Option<Vec<u8>>, bucket: &Bucket) -> Result<Garbage> {
        let Some(bytes) = bytes else {
            return Ok(Garbage::default());
        };
        Garbage::parse(&String::from_utf8_lossy(&bytes)).map_err(|line| {
            Error::build(format!(
                "{}: unreadable line {line:?}",
                bucket.url().show(KEY)
            ))
        })
    }

    fn parse(text: &str) -> std::result::Result<Garbage, String> {
        let mut since = BTreeMap::new();
        for line in text.lines().filter(|l| !l.is_empty()) {
            let (t, key) = line.split_once('\t').ok_or(line)?;
            since.insert(key.to_string(), t.parse().map_err(|_| line.to_string())?);
        }
        Ok(Garbage {
            since,
            changed: false,
        })
    }

    fn render(&self) -> String {
        self.since
            .iter()
            .map(|(k, t)| format!("{t}\t{k}\n"))
            .collect()
    }

    /// `keys` retired at `now` (those listed already keep their time).
    pub(crate) fn retire(&mut self, keys: impl IntoIterator<Item = String>, now: u64) {
        for k in keys {
            if let std::collections::btree_map::Entry::Vacant(v) = self.since.entry(k) {
                v.insert(now);
                self.changed = true;
            }
        }
    }

    /// `keys` are named again: off the list.
    pub(crate) fn revive<'a>(&mut self, keys: impl IntoIterator<Item = &'a String>) {
        for k in keys {
            self.changed |= self.since.remove(k).is_some();
        }
    }

    /// The keys retired at least `grace` seconds before `now`, taken off.
    pub(crate) fn due(&mut self, now: u64, grace: u64) -> BTreeSet<String> {
        let due: BTreeSet<String> = self
            .since
            .iter()
            .filter(|(_, t)| now.saturating_sub(**t) >= grace)
            .map(|(k, _)| k.clone())
            .collect();
        for k in &due {
            self.since.remove(k);
            self.changed = true;
        }
        due
    }

    /// Write the list back when it changed.
    pub(crate) fn save(&self, bucket: &Bucket) -> Result<()> {
        match self.changed {
            true => bucket.write_new(KEY, self.render().as_bytes()),
            false => Ok(()),
        }
    }
}

/// `1d`, `6h`, `15m`, `90s` or `90`: seconds.
pub(crate) fn parse_grace(text: &str) -> std::result::Result<u64, String> {
    let t = text.trim();
    let (num, unit) = match t.char_indices().find(|(_, c)| !c.is_ascii_digit()) {
        Some((i, _)) => (&t[..i], &t[i..]),
        None => (t, "s"),
    };
    let factor = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "{text:?}: expected a number with s, m, h or d (e.g. 1d, 6h, 0)"
            ));
        }
    };
    num.parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(factor))
        .ok_or_else(|| format!("{text:?}: expected a number with s, m, h or d (e.g. 1d, 6h, 0)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retire_revive_and_collect_after_the_grace() {
        let mut g = Garbage::default();
        g.retire(
            ["pool/a.deb".to_string(), "x/by-hash/SHA256/aa".to_string()],
            100,
        );
        g.retire(["pool/a.deb".to_string()], 150);
        g.retire(["pool/b.deb".to_string()], 160);
        g.revive(&["pool/b.deb".to_string()]);
        assert!(g.due(150, 60).is_empty());
        let due = g.due(160, 60);
        assert_eq!(
            due.into_iter().collect::<Vec<_>>(),
            ["pool/a.deb", "x/by-hash/SHA256/aa"]
        );
        assert!(g.since.is_empty() && g.changed);
        g.retire(["c".to_string()], 7);
        assert_eq!(Garbage::parse(&g.render()).unwrap().since, g.since);
        assert!(Garbage::parse("nonsense").is_err());
    }

    #[test]
    fn grace_periods() {
        assert_eq!(parse_grace("0"), Ok(0));
        assert_eq!(parse_grace("90s"), Ok(90));
        assert_eq!(parse_grace("15m"), Ok(900));
        assert_eq!(parse_grace("6h"), Ok(21_600));
        assert_eq!(parse_grace("1d"), Ok(86_400));
        for bad in ["", "d", "1w", "-1", "1.5h", "99999999999999999999d"] {
            assert!(parse_grace(bad).is_err(), "{bad}");
        }
    }
}
