//! Paths inside a root filesystem, seen from the host: resolving them with the
//! root's own symbolic links (an absolute link points into the root, not the
//! host), finding a link on the way, and telling a read-only mount.

use std::ffi::OsString;
use std::path::{Component, Path, PathBuf};

/// The most links followed while resolving one path (as the kernel's limit).
const MAX_LINKS: usize = 40;

/// `inside` (absolute, as in the root) on the host, every link resolved within
/// `root`; None when a component is missing or links loop.
pub(crate) fn resolve(root: &Path, inside: &Path) -> Option<PathBuf> {
    let mut todo: Vec<OsString> = parts(inside);
    todo.reverse();
    let mut cur = PathBuf::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            cur.pop();
            continue;
        }
        let next = cur.join(&part);
        let meta = root.join(&next).symlink_metadata().ok()?;
        if !meta.file_type().is_symlink() {
            cur = next;
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return None;
        }
        let target = std::fs::read_link(root.join(&next)).ok()?;
        if target.is_absolute() {
            cur = PathBuf::new();
        }
        let mut more = parts(&target);
        more.reverse();
        todo.extend(more);
    }
    Some(root.join(cur))
}

/// The first existing component of `inside` that is a symbolic link in `root`
/// (a mount there would land outside the root), as a path inside the root.
pub(crate) fn first_symlink(root: &Path, inside: &Path) -> Option<PathBuf> {
    let mut cur = PathBuf::from("/");
    for part in parts(inside) {
        if part == ".." {
            cur.pop();
            continue;
        }
        cur.push(&part);
        let host = root.join(cur.strip_prefix("/").unwrap_or(&cur));
        match host.symlink_metadata() {
            Ok(m) if m.file_type().is_symlink() => return Some(cur),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
    None
}

fn parts(path: &Path) -> Vec<OsString> {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(s.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect()
}

/// Whether `dir` (absolute, resolved) lies on a mount with the `ro` option, by
/// /proc/self/mountinfo (the longest mount point containing it).
pub(crate) fn on_read_only_mount(dir: &Path) -> bool {
    let Ok(text) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return false;
    };
    let mut best: Option<(usize, bool)> = None;
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (Some(point), Some(options)) = (fields.get(4), fields.get(5)) else {
            continue;
        };
        let point = unescape(point);
        if !dir.starts_with(&point) {
            continue;
        }
        let len = point.len();
        let ro = options.split(',').any(|o| o == "ro");
        // Later lines with the same mount point are mounted over earlier ones.
        if best.is_none_or(|(l, _)| len >= l) {
            best = Some((len, ro));
        }
    }
    best.is_some_and(|(_, ro)| ro)
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape(s: &str) -> String {
    let mut out = String::new();
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            let code: String = chars.by_ref().take(3).collect();
            if let Ok(n) = u8::from_str_radix(&code, 8) {
                out.push(n as char);
                continue;
            }
            out.push(c);
            out.push_str(&code);
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn links_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/bin")).unwrap();
        std::fs::write(r.join("usr/bin/python3.9"), "").unwrap();
        symlink("usr/bin", r.join("bin")).unwrap();
        symlink("python3.9", r.join("usr/bin/python3")).unwrap();
        symlink("/usr/bin/python3", r.join("usr/bin/python")).unwrap();
        let want = r.join("usr/bin/python3.9");
        assert_eq!(resolve(r, Path::new("/bin/python")), Some(want.clone()));
        assert_eq!(resolve(r, Path::new("/usr/bin/python3")), Some(want));
        assert_eq!(resolve(r, Path::new("/usr/bin/python2")), None);
        symlink("loop", r.join("loop")).unwrap();
        assert_eq!(resolve(r, Path::new("/loop")), None);
        assert_eq!(
            first_symlink(r, Path::new("/bin/x/y")),
            Some(PathBuf::from("/bin"))
        );
        assert_eq!(first_symlink(r, Path::new("/usr/lib/x")), None);
    }

    #[test]
    fn mountinfo_escapes() {
        assert_eq!(unescape(r"/a\040b"), "/a b");
    }
}
