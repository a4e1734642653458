//! What is installed in a virtualenv, read from its `site-packages` without running
//! Python: every `*.dist-info` (`METADATA`, `direct_url.json`) and `*.egg-info`
//! (`PKG-INFO`), and which installed distribution each requested module became.
//!
//! The same reader serves both installers (pip and uv write the same PEP 376/610
//! files), so validation is the same for both: a module given by name must be
//! installed under that name; one given as a path or URL must have left a
//! distribution whose `direct_url.json` names that path or URL.

use crate::config::modules::{canonical_name, requirement_name};
use crate::error::{IoContext, Result};
use std::path::{Path, PathBuf};

/// One installed distribution.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Dist {
    /// The name as published (`METADATA` `Name:`).
    pub name: String,
    pub version: String,
    /// PEP 610 `url` when it was installed from a path or URL.
    pub direct_url: Option<String>,
}

impl Dist {
    pub(crate) fn key(&self) -> String {
        canonical_name(&self.name)
    }
}

/// The `site-packages` directories of a POSIX virtualenv (`lib/python*/site-packages`).
pub(crate) fn site_packages(venv: &Path) -> Result<Vec<PathBuf>> {
    let lib = venv.join("lib");
    let mut out: Vec<PathBuf> = std::fs::read_dir(&lib)
        .ctx("reading", &lib)?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("python"))
        .map(|e| e.path().join("site-packages"))
        .filter(|p| p.is_dir())
        .collect();
    out.sort();
    Ok(out)
}

/// Every distribution in the virtualenv, sorted by canonical name.
pub(crate) fn scan(venv: &Path) -> Result<Vec<Dist>> {
    let mut out = Vec::new();
    for sp in site_packages(venv)? {
        for entry in std::fs::read_dir(&sp).ctx("reading", &sp)?.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = entry.path();
            let meta = if name.ends_with(".dist-info") {
                path.join("METADATA")
            } else if name.ends_with(".egg-info") {
                if path.is_dir() {
                    path.join("PKG-INFO")
                } else {
                    path.clone()
                }
            } else {
                continue;
            };
            let Ok(text) = std::fs::read_to_string(&meta) else {
                continue;
            };
            let (Some(n), Some(v)) = (header(&text, "Name"), header(&text, "Version")) else {
                continue;
            };
            let direct_url = std::fs::read_to_string(path.join("direct_url.json"))
                .ok()
                .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
                .and_then(|v| v.get("url")?.as_str().map(str::to_string));
            out.push(Dist {
                name: n,
                version: v,
                direct_url,
            });
        }
    }
    out.sort_by_key(Dist::key);
    out.dedup_by(|a, b| a.key() == b.key());
    Ok(out)
}

/// A `Key: value` header of an RFC 822-style metadata file (before the body).
fn header(text: &str, key: &str) -> Option<String> {
    text.lines().take_while(|l| !l.is_empty()).find_map(|l| {
        let (k, v) = l.split_once(':')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().to_string())
    })
}

/// What a module spec must have left in the virtualenv.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Expect {
    /// A distribution of this canonical name.
    Name(String),
    /// A distribution installed from this location (normalised URL or absolute path).
    From(String),
}

/// The expectation for one spec; relative paths are taken from `cwd` (as pip does).
pub(crate) fn expect(spec: &str, cwd: &Path) -> Expect {
    let s = spec.trim();
    if let Some((name, _)) = s.split_once(" @ ") {
        return Expect::Name(canonical_name(name.split('[').next().unwrap_or(name)));
    }
    if s.contains("://") {
        return Expect::From(normal_url(s));
    }
    if !s.contains('/')
        && let Some(name) = requirement_name(s)
    {
        return Expect::Name(name);
    }
    let path = s.split('[').next().unwrap_or(s);
    Expect::From(local_path(&crate::util::paths::normalize(&cwd.join(path))))
}

/// The installed distribution that satisfies `e`, if any.
pub(crate) fn find<'a>(e: &Expect, dists: &'a [Dist]) -> Option<&'a Dist> {
    match e {
        Expect::Name(n) => dists.iter().find(|d| &d.key() == n),
        Expect::From(loc) => dists.iter().find(|d| {
            d.direct_url
                .as_deref()
                .is_some_and(|u| match u.strip_prefix("file://") {
                    Some(p) => &local_path(Path::new(&percent_decode(p))) == loc,
                    None => &normal_url(u) == loc,
                })
        }),
    }
}

/// Whether any distribution records where it came from (pip ≥ 20.1 and uv do).
pub(crate) fn records_origins(dists: &[Dist]) -> bool {
    dists.iter().any(|d| d.direct_url.is_some())
}

/// The distribution name a local or remote source will install, read from the
/// source itself: a wheel's or sdist's file name, or a source tree's
/// `pyproject.toml` (`[project] name`), `setup.cfg` (`[metadata] name`),
/// `PKG-INFO` or a literal `name=` in `setup.py`. For installers that do not
/// record where a distribution came from (pip before 20.1), this is how a module
/// given as a path or URL is still validated. None when it cannot be told.
pub(crate) fn source_name(spec: &str, cwd: &Path) -> Option<String> {
    let s = spec.trim().split('[').next().unwrap_or(spec).trim();
    let file = if s.contains("://") {
        let path = s.split(['?', '#']).next().unwrap_or(s);
        path.rsplit('/').next().unwrap_or(path).to_string()
    } else {
        let path = cwd.join(s);
        if path.is_dir() {
            return tree_name(&path).map(|n| canonical_name(&n));
        }
        path.file_name()?.to_string_lossy().into_owned()
    };
    archive_name(&file).map(|n| canonical_name(&n))
}

/// `name-1.0-py3-none-any.whl` → `name`; `name-1.0.tar.gz` → `name`.
fn archive_name(file: &str) -> Option<String> {
    if let Some(stem) = file.strip_suffix(".whl") {
        return stem.split('-').next().map(str::to_string);
    }
    let stem = [".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip"]
        .iter()
        .find_map(|ext| file.strip_suffix(ext))?;
    let (name, version) = stem.rsplit_once('-')?;
    (!name.is_empty() && version.starts_with(|c: char| c.is_ascii_digit()))
        .then(|| name.to_string())
}

/// The project name declared by a source tree.
fn tree_name(dir: &Path) -> Option<String> {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).ok();
    if let Some(t) = read("pyproject.toml")
        && let Some(n) = ini_value(&t, "project", "name")
    {
        return Some(n);
    }
    if let Some(t) = read("setup.cfg")
        && let Some(n) = ini_value(&t, "metadata", "name")
    {
        return Some(n);
    }
    if let Some(t) = read("PKG-INFO")
        && let Some(n) = header(&t, "Name")
    {
        return Some(n);
    }
    let setup = read("setup.py")?;
    let at = setup.find("name=").or_else(|| setup.find("name ="))?;
    let rest = setup[at..].split_once('=')?.1.trim_start();
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'')?;
    let value = rest[1..].split(quote).next()?;
    (!value.is_empty()).then(|| value.to_string())
}

/// `key = value` in `[section]` of a TOML/INI text (quotes removed).
fn ini_value(text: &str, section: &str, key: &str) -> Option<String> {
    let mut inside = false;
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            inside = line.trim_matches(['[', ']']).trim() == section;
            continue;
        }
        if !inside {
            continue;
        }
        if let Some((k, v)) = line.split_once('=')
            && k.trim() == key
        {
            let v = v.trim().trim_matches(['"', '\'']).trim();
            return (!v.is_empty()).then(|| v.to_string());
        }
    }
    None
}

fn local_path(p: &Path) -> String {
    let p = p.canonicalize().unwrap_or_else(|_| p.to_path_buf());
    p.display().to_string().trim_end_matches('/').to_string()
}

/// A URL without `vcs+`, credentials, `@rev` (VCS), fragment or trailing slash.
fn normal_url(url: &str) -> String {
    let mut u = url.trim();
    let vcs = ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .find_map(|p| u.strip_prefix(p));
    if let Some(rest) = vcs {
        u = rest;
    }
    let u = u.split('#').next().unwrap_or(u);
    let (scheme, rest) = u.split_once("://").unwrap_or(("", u));
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let mut path = path.to_string();
    if vcs.is_some()
        && let Some(at) = path.rfind('@')
        && !path[at..].contains('/')
    {
        path.truncate(at);
    }
    if path.starts_with('/') && authority.is_empty() && scheme == "file" {
        return local_path(Path::new(&percent_decode(&path)));
    }
    format!(
        "{}://{}{}",
        scheme.to_ascii_lowercase(),
        authority.to_ascii_lowercase(),
        path.trim_end_matches('/')
    )
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dist(name: &str, url: Option<&str>) -> Dist {
        Dist {
            name: name.into(),
            version: "1".into(),
            direct_url: url.map(str::to_string),
        }
    }

    #[test]
    fn expectations_from_specs() {
        let cwd = Path::new("/nonexistent/w");
        assert_eq!(expect("celery==3.1.17", cwd), Expect::Name("celery".into()));
        assert_eq!(
            expect("My_Pkg @ https://h/x.tar.gz", cwd),
            Expect::Name("my-pkg".into())
        );
        assert_eq!(
            expect("./mods/a", cwd),
            Expect::From("/nonexistent/w/mods/a".into())
        );
        assert_eq!(
            expect("git+https://tok@GitHub.com/o/r.git@v1#egg=r", cwd),
            Expect::From("https://github.com/o/r.git".into())
        );
    }

    #[test]
    fn finds_by_name_path_and_url() {
        let dists = [
            dist("Celery", None),
            dist("a", Some("file:///nonexistent/w/mods/a%20b")),
            dist("r", Some("https://github.com/o/r.git")),
            dist("t", Some("https://h/archive/master.tar.gz")),
        ];
        let cwd = Path::new("/nonexistent/w");
        for (spec, want) in [
            ("celery", "Celery"),
            ("/nonexistent/w/mods/a b", "a"),
            ("git+https://github.com/o/r.git@main", "r"),
            ("https://bob:pw@h/archive/master.tar.gz", "t"),
        ] {
            let got = find(&expect(spec, cwd), &dists).map(|d| d.name.as_str());
            assert_eq!(got, Some(want), "{spec}");
        }
        assert!(find(&expect("other==1", cwd), &dists).is_none());
        assert!(find(&expect("/nonexistent/w/mods/c", cwd), &dists).is_none());
    }

    #[test]
    fn names_from_sources() {
        let d = tempfile::tempdir().unwrap();
        let w = d.path();
        std::fs::create_dir_all(w.join("a")).unwrap();
        std::fs::write(
            w.join("a/pyproject.toml"),
            "[build-system]\nrequires = []\n[project]\nname = \"My_Plugin\"\nversion = \"1\"\n",
        )
        .unwrap();
        std::fs::create_dir_all(w.join("b")).unwrap();
        std::fs::write(w.join("b/setup.cfg"), "[metadata]\nname = other.pkg\n").unwrap();
        std::fs::create_dir_all(w.join("c")).unwrap();
        std::fs::write(
            w.join("c/setup.py"),
            "from setuptools import setup\nsetup(name='old-style', version='1')\n",
        )
        .unwrap();
        std::fs::create_dir_all(w.join("e")).unwrap();
        for (spec, want) in [
            ("./a", Some("my-plugin")),
            ("b", Some("other-pkg")),
            ("c[extra]", Some("old-style")),
            ("e", None),
            (
                "./wheels/cloudify_rest_client-3.2-py3-none-any.whl",
                Some("cloudify-rest-client"),
            ),
            ("https://h/p/celery-3.1.17.tar.gz?token=x", Some("celery")),
            ("https://github.com/o/r/archive/master.tar.gz", None),
        ] {
            assert_eq!(source_name(spec, w).as_deref(), want, "{spec}");
        }
    }

    #[test]
    fn reads_metadata_headers_only() {
        let t = "Metadata-Version: 2.1\nName: my_plugin\nVersion: 1.0\n\nName: body\n";
        assert_eq!(header(t, "name").as_deref(), Some("my_plugin"));
        assert_eq!(header(t, "Version").as_deref(), Some("1.0"));
        assert_eq!(header(t, "Summary"), None);
    }
}
