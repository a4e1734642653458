//! The module list of a plan: every module in install order with its source;
//! skipped ones left out. A key the config leaves out takes its profile's default.

use super::{Module, Spec};
use crate::config::modules::{self, BASE_MODULES, MANAGEMENT_MODULES};
use crate::config::{Config, ModuleSource};

/// Every module in install order; skipped ones are left out.
pub(crate) fn module_list(cfg: &Config) -> Vec<Module> {
    let profile = cfg.profile.unwrap_or_default();
    let mut out = Vec::new();
    let base = cfg.base_modules.clone().unwrap_or_default();
    for (m, given) in BASE_MODULES.iter().zip(base.in_order()) {
        let spec = match given {
            ModuleSource::Skip => continue,
            ModuleSource::Pip(s) => Spec::Pip(s),
            ModuleSource::Default => match profile.base_default(m) {
                Some(s) => Spec::Pip(s.to_string()),
                None => continue,
            },
        };
        out.push(Module {
            key: m.key.to_string(),
            spec,
        });
    }
    let mgmt = cfg.management_modules.clone().unwrap_or_default();
    for (key, given) in MANAGEMENT_MODULES.iter().zip(mgmt.in_order()) {
        let spec = match given {
            ModuleSource::Skip => continue,
            ModuleSource::Pip(s) => Spec::Pip(s),
            ModuleSource::Default if profile.management_by_default() => {
                Spec::Manager(modules::manager_subdir(key))
            }
            ModuleSource::Default => continue,
        };
        out.push(Module {
            key: key.to_string(),
            spec,
        });
    }
    for (i, spec) in cfg.additional_modules.iter().flatten().enumerate() {
        out.push(Module {
            key: format!("additional_modules[{i}]"),
            spec: Spec::Pip(spec.clone()),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn module_order_defaults_and_skips() {
        let cfg = crate::config::parse_str(
            "base_modules:\n  diamond_plugin: none\nmanagement_modules:\n  plugin_installer: my-pi==1\n  windows_agent_installer: false\nadditional_modules: [a, b]\n",
            "c",
        )
        .unwrap();
        let keys: Vec<_> = module_list(&cfg)
            .into_iter()
            .map(|m| (m.key, m.spec))
            .collect();
        let names: Vec<&str> = keys.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(
            names,
            [
                "celery",
                "rest_client",
                "plugins_common",
                "script_plugin",
                "agent_installer",
                "plugin_installer",
                "windows_plugin_installer",
                "additional_modules[0]",
                "additional_modules[1]"
            ]
        );
        assert_eq!(keys[0].1, Spec::Pip("celery==3.1.17".into()));
        assert_eq!(
            keys[1].1,
            Spec::Pip(
                "https://github.com/cloudify-cosmo/cloudify-rest-client/archive/master.tar.gz"
                    .into()
            )
        );
        assert_eq!(
            keys[2].1,
            Spec::Pip(
                "https://github.com/cloudify-cosmo/cloudify-plugins-common/archive/master.tar.gz"
                    .into()
            )
        );
        assert_eq!(keys[4].1, Spec::Manager("plugins/agent-installer".into()));
        assert_eq!(keys[5].1, Spec::Pip("my-pi==1".into()));
    }

    fn listed(yaml: &str) -> Vec<(String, Spec)> {
        let cfg = crate::config::parse_str(yaml, "c").unwrap();
        module_list(&cfg)
            .into_iter()
            .map(|m| (m.key, m.spec))
            .collect()
    }

    #[test]
    fn modern_installs_cloudify_common_and_what_is_given() {
        let pip = |k: &str, s: &str| (k.to_string(), Spec::Pip(s.into()));
        assert_eq!(
            listed("profile: modern\n"),
            [pip("cloudify_common", "cloudify-common==7.0.5")]
        );
        // Given keys are installed, in the one install order; none skips the default.
        assert_eq!(
            listed(
                "profile: modern\nbase_modules:\n  script_plugin: ./sp\n  celery: celery==5.5.3\nmanagement_modules:\n  plugin_installer: ./pi\n"
            ),
            [
                pip("celery", "celery==5.5.3"),
                pip("cloudify_common", "cloudify-common==7.0.5"),
                pip("script_plugin", "./sp"),
                pip("plugin_installer", "./pi"),
            ]
        );
        assert_eq!(
            listed("profile: modern\nbase_modules:\n  cloudify_common: none\n"),
            []
        );
    }

    #[test]
    fn legacy_is_the_default_and_skips_celery_like_any_module() {
        let all = listed("");
        assert_eq!(listed("profile: legacy\n"), all);
        assert_eq!(all.len(), 9);
        assert!(!all.iter().any(|(k, _)| k == "cloudify_common"));
        assert_eq!(listed("base_modules:\n  celery: none\n"), all[1..]);
        // cloudify_common given in legacy goes after celery.
        let with = listed("base_modules:\n  cloudify_common: cloudify-common==4.4\n");
        assert_eq!(with[1].0, "cloudify_common");
        assert_eq!(with.len(), 10);
    }
}
