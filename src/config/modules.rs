//! The modules an agent can get: their install order and their default sources
//! for each profile (`profile`, [`super::Profile`]).

/// One entry of `base_modules`.
pub struct BaseModule {
    /// The config key.
    pub key: &'static str,
    /// Its source when not given, with `profile: legacy` (the original packager's defaults;
    /// None: installed only when given).
    pub legacy: Option<&'static str>,
    /// What `cfy-ap init --profile legacy` writes: the Cloudify 3.2 release on
    /// PyPI (June 2015; Python 2 only), instead of the GitHub master tarball.
    pub legacy_pin: Option<&'static str>,
    /// Its source when not given, with `profile: modern`.
    pub modern: Option<&'static str>,
}

/// The base modules in install order. `modern` installs cloudify-common alone:
/// since Cloudify 4.4 it holds the REST client, the plugins' common code and
/// the script plugin, and the agent no longer uses celery. 7.0.5 (November
/// 2024) is its last release; it says Python 3.6, its dependencies need 3.8.
pub(crate) const BASE_MODULES: [BaseModule; 6] = [
    BaseModule {
        key: "celery",
        legacy: Some("celery==3.1.17"),
        legacy_pin: Some("celery==3.1.17"),
        modern: None,
    },
    BaseModule {
        key: "cloudify_common",
        legacy: None,
        legacy_pin: None,
        modern: Some("cloudify-common==7.0.5"),
    },
    BaseModule {
        key: "rest_client",
        legacy: Some(
            "https://github.com/cloudify-cosmo/cloudify-rest-client/archive/master.tar.gz",
        ),
        legacy_pin: Some("cloudify-rest-client==3.2"),
        modern: None,
    },
    BaseModule {
        key: "plugins_common",
        legacy: Some(
            "https://github.com/cloudify-cosmo/cloudify-plugins-common/archive/master.tar.gz",
        ),
        legacy_pin: Some("cloudify-plugins-common==3.2"),
        modern: None,
    },
    BaseModule {
        key: "script_plugin",
        legacy: Some(
            "https://github.com/cloudify-cosmo/cloudify-script-plugin/archive/master.tar.gz",
        ),
        legacy_pin: Some("cloudify-script-plugin==1.2"),
        modern: None,
    },
    BaseModule {
        key: "diamond_plugin",
        legacy: Some(
            "https://github.com/cloudify-cosmo/cloudify-diamond-plugin/archive/master.tar.gz",
        ),
        legacy_pin: Some("cloudify-diamond-plugin==1.2"),
        modern: None,
    },
];

/// The cloudify-manager tag `cfy-ap init --profile legacy` writes as
/// `management_modules_version`: the management modules are not on PyPI, and
/// the manager's master no longer holds them.
pub(crate) const LEGACY_MANAGER_PIN: &str = "3.2";

/// Management modules in install order: config key; the source subdirectory is
/// `plugins/<key with dashes>` in the cloudify-manager tree.
pub(crate) const MANAGEMENT_MODULES: [&str; 4] = [
    "agent_installer",
    "plugin_installer",
    "windows_agent_installer",
    "windows_plugin_installer",
];

pub(crate) const DEFAULT_MANAGER_SOURCE: &str =
    "https://github.com/cloudify-cosmo/cloudify-manager/archive/{version}.tar.gz";

pub(crate) fn manager_subdir(key: &str) -> String {
    format!("plugins/{}", key.replace('_', "-"))
}

/// PEP 503 normalised distribution name (`My_Plugin.x` → `my-plugin-x`).
pub(crate) fn canonical_name(name: &str) -> String {
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
pub(crate) fn requirement_name(spec: &str) -> Option<String> {
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
