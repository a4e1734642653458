//! Where the bytecode cache (`bytecode_cache`, `--no-bytecode-cache`) is, or why
//! there is none. The cache itself is `agent::pyc_cache`.

use std::path::{Path, PathBuf};

/// Where the cache is: `<cache_dir>/cfy-ap-pyc` when `cache_dir` is set, else
/// `$XDG_CACHE_HOME/cfy-ap/pyc`, else `~/.cache/cfy-ap/pyc`; None without a home.
pub(crate) fn location(cache_dir: Option<&Path>) -> Option<PathBuf> {
    if let Some(c) = cache_dir {
        return Some(c.join("cfy-ap-pyc"));
    }
    let base = match std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        Some(x) if Path::new(&x).is_absolute() => PathBuf::from(x),
        _ => PathBuf::from(std::env::var_os("HOME").filter(|v| !v.is_empty())?).join(".cache"),
    };
    Some(base.join("cfy-ap").join("pyc"))
}

/// Where the bytecode cache is for `plan`'s `cache_dir` (None: no cache), or
/// why there is none.
pub(crate) fn resolve(
    enabled: bool,
    cache_dir: Option<&Path>,
    venv: &Path,
) -> std::result::Result<PathBuf, &'static str> {
    if !enabled {
        return Err("off");
    }
    let dir = location(cache_dir).ok_or("off: no HOME or XDG_CACHE_HOME")?;
    if dir.starts_with(venv) || venv.starts_with(&dir) {
        return Err("off: it and the venv would contain each other");
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn location_prefers_cache_dir_then_xdg_then_home() {
        assert_eq!(
            location(Some(Path::new("/c"))),
            Some(PathBuf::from("/c/cfy-ap-pyc"))
        );
    }
}
