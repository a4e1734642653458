//! The modules every agent gets, their install order and default sources.

/// Default celery requirement (mandatory, installed first).
pub const DEFAULT_CELERY: &str = "celery==3.1.17";

/// Base modules in install order: (config key, GitHub repository under cloudify-cosmo).
pub const BASE_MODULES: [(&str, &str); 4] = [
    ("rest_client", "cloudify-rest-client"),
    ("plugins_common", "cloudify-plugins-common"),
    ("script_plugin", "cloudify-script-plugin"),
    ("diamond_plugin", "cloudify-diamond-plugin"),
];

/// Management modules in install order: config key; the source subdirectory is
/// `plugins/<key with dashes>` in the cloudify-manager tree.
pub const MANAGEMENT_MODULES: [&str; 4] = [
    "agent_installer",
    "plugin_installer",
    "windows_agent_installer",
    "windows_plugin_installer",
];

pub const DEFAULT_MANAGER_SOURCE: &str =
    "https://github.com/cloudify-cosmo/cloudify-manager/archive/{version}.tar.gz";

pub fn base_default(repo: &str) -> String {
    format!("https://github.com/cloudify-cosmo/{repo}/archive/master.tar.gz")
}

pub fn manager_subdir(key: &str) -> String {
    format!("plugins/{}", key.replace('_', "-"))
}

/// PEP 503 normalised distribution name (`My_Plugin.x` → `my-plugin-x`).
pub fn canonical_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.trim().chars() {
        if c == '-' || c == '_' || c == '.' {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

/// The distribution name a plain requirement string names (`celery==3.1.17`,
/// `pyzmq>=14`, `foo[bar]`), or None for URLs and paths.
pub fn requirement_name(spec: &str) -> Option<String> {
    let s = spec.trim();
    if s.contains("://") || s.starts_with('.') || s.starts_with('/') || s.contains(" @ ") {
        return None;
    }
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.'))
        .unwrap_or(s.len());
    let name = &s[..end];
    if name.is_empty() || name.ends_with(".whl") || name.ends_with(".gz") || name.ends_with(".zip")
    {
        return None;
    }
    Some(canonical_name(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(canonical_name("My_Plugin.x"), "my-plugin-x");
        assert_eq!(
            requirement_name("celery==3.1.17").as_deref(),
            Some("celery")
        );
        assert_eq!(requirement_name("PyZMQ >= 14").as_deref(), Some("pyzmq"));
        assert_eq!(requirement_name("foo[bar]").as_deref(), Some("foo"));
        assert_eq!(requirement_name("https://x/y.tar.gz"), None);
        assert_eq!(requirement_name("./plugin"), None);
        assert_eq!(requirement_name("dist.tar.gz"), None);
        assert_eq!(
            manager_subdir("windows_agent_installer"),
            "plugins/windows-agent-installer"
        );
    }
}
