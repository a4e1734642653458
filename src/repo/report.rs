//! What a publish did, for both formats: one line per package, and the
//! summary the command prints.

use crate::error::Result;
use crate::log::Log;
use std::path::PathBuf;

/// What happened to one package.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Newly added to the repository.
    Added,
    /// Already published with identical bytes: nothing done.
    Unchanged,
    /// Already published with different bytes, replaced (`force`).
    Replaced,
    /// Copied from another codename (`--copy`).
    Copied,
    /// Dropped from the indices (`--remove`, `--keep`).
    Removed,
}

/// One package of a publish, as its report line says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Published {
    pub package: String,
    pub version: String,
    pub architecture: String,
    /// Path in the repository (`pool/main/d/demo/demo_1.0_amd64.deb`).
    pub filename: String,
    pub sha256: String,
    pub action: Action,
}

/// The result of a publish.
#[derive(Debug)]
pub struct Summary {
    /// What happened to each package.
    pub packages: Report,
    /// Whether any file of the repository was written.
    pub changed: bool,
    /// `dists/<codename>/Release`.
    pub release: PathBuf,
    /// Fingerprint of the signing key, when signed.
    pub signed_by: Option<String>,
    /// Pool files deleted because no index names them any more.
    pub deleted: Vec<String>,
    /// A dry run: `packages` says what would happen; nothing was written.
    pub dry_run: bool,
}

/// The report lines of the packages given to a publish, read back when they
/// are looked at (an apt publish may have been given very many).
pub trait Given: Send + Sync {
    fn lines(&self) -> Box<dyn Iterator<Item = Result<Published>> + '_>;
}

/// The report lines of a publish, in order: first the packages given, then
/// the others (copied, removed).
pub struct Report {
    given: Option<Box<dyn Given>>,
    others: Vec<Published>,
}

impl Report {
    pub fn new(given: impl Given + 'static, others: Vec<Published>) -> Report {
        Report {
            given: Some(Box::new(given)),
            others,
        }
    }

    /// Every line (an error when one of the packages given cannot be read back).
    pub fn iter(&self) -> impl Iterator<Item = Result<Published>> + '_ {
        let given = self.given.iter().flat_map(|g| g.lines());
        given.chain(self.others.iter().cloned().map(Ok))
    }
}

impl From<Vec<Published>> for Report {
    fn from(others: Vec<Published>) -> Report {
        Report {
            given: None,
            others,
        }
    }
}

impl std::fmt::Debug for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// Print what a publish did: one line per package and a last line.
pub(crate) fn report(summary: &Summary, log: &Log) {
    if log.quiet {
        return; // every line is informational (the packages given are not read back)
    }
    for p in summary.packages.iter() {
        match p {
            Ok(p) => log.info(&line(&p, summary.dry_run)),
            Err(e) => log.warn(&format!("cannot report a package: {e}")),
        }
    }
    for f in &summary.deleted {
        log.info(&format!("deleted from the pool: {f}"));
    }
    log.info(&last_line(summary));
}

/// The line of one package: what happened (or would, in a dry run) to it.
fn line(p: &Published, dry_run: bool) -> String {
    let what = match (p.action, dry_run) {
        (Action::Added, false) => "added",
        (Action::Added, true) => "would add",
        (Action::Unchanged, _) => "already published",
        (Action::Replaced, false) => "replaced",
        (Action::Replaced, true) => "would replace",
        (Action::Copied, false) => "copied",
        (Action::Copied, true) => "would copy",
        (Action::Removed, false) => "removed",
        (Action::Removed, true) => "would remove",
    };
    format!(
        "{what}: {} {} ({}) {}",
        p.package, p.version, p.architecture, p.filename
    )
}

/// The last line: the repository's state after the publish.
fn last_line(summary: &Summary) -> String {
    let state = match (summary.changed, &summary.signed_by) {
        _ if summary.dry_run => "dry run, nothing changed".to_string(),
        (false, _) => "unchanged".to_string(),
        (true, Some(fpr)) => format!("updated, signed by {fpr}"),
        (true, None) => "updated, unsigned".to_string(),
    };
    format!("repository {}: {state}", summary.release.display())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines read back from a table, the first of which cannot be.
    struct Table(Vec<Published>);

    impl Given for Table {
        fn lines(&self) -> Box<dyn Iterator<Item = Result<Published>> + '_> {
            let broken = std::iter::once(Err(crate::Error::build("gone")));
            Box::new(broken.chain(self.0.iter().cloned().map(Ok)))
        }
    }

    fn published(package: &str, action: Action) -> Published {
        Published {
            package: package.into(),
            version: "1.0".into(),
            architecture: "amd64".into(),
            filename: format!("pool/main/{package}.deb"),
            sha256: "00".into(),
            action,
        }
    }

    #[test]
    fn the_given_packages_first_then_the_others_and_one_line_each() {
        let report = Report::new(
            Table(vec![published("a", Action::Added)]),
            vec![published("r", Action::Removed)],
        );
        let lines: Vec<String> = report
            .iter()
            .map(|p| p.map(|p| line(&p, false)).unwrap_or_else(|e| e.to_string()))
            .collect();
        assert_eq!(
            lines,
            [
                "gone",
                "added: a 1.0 (amd64) pool/main/a.deb",
                "removed: r 1.0 (amd64) pool/main/r.deb"
            ]
        );
        let dry = line(&published("c", Action::Copied), true);
        assert_eq!(dry, "would copy: c 1.0 (amd64) pool/main/c.deb");
        let same = line(&published("u", Action::Unchanged), true);
        assert!(same.starts_with("already published: "));
    }

    #[test]
    fn the_last_line_says_what_became_of_the_repository() {
        let mut s = Summary {
            packages: Vec::new().into(),
            changed: true,
            release: PathBuf::from("r/dists/stable/Release"),
            signed_by: Some("ABCD".into()),
            deleted: Vec::new(),
            dry_run: false,
        };
        let last = |s: &Summary| last_line(s).replace("repository r/dists/stable/Release: ", "");
        assert_eq!(last(&s), "updated, signed by ABCD");
        s.signed_by = None;
        assert_eq!(last(&s), "updated, unsigned");
        s.changed = false;
        assert_eq!(last(&s), "unchanged");
        s.dry_run = true;
        assert_eq!(last(&s), "dry run, nothing changed");
    }
}
