//! The module list of a plan: every module in install order with its source;
//! skipped ones left out.

use super::{Module, Spec};
use crate::config::modules::{self, BASE_MODULES, MANAGEMENT_MODULES};
use crate::config::{Config, ModuleSource};

/// Every module in install order; skipped ones are left out.
pub(super) fn module_list(cfg: &Config) -> Vec<Module> {
    let base = cfg.base_modules.clone().unwrap_or_default();
    let mut out = vec![Module {
        key: "celery".into(),
        spec: Spec::Pip(
            base.celery
                .0
                .unwrap_or_else(|| modules::DEFAULT_CELERY.into()),
        ),
    }];
    let given = [
        base.rest_client,
        base.plugins_common,
        base.script_plugin,
        base.diamond_plugin,
    ];
    for ((key, repo), given) in BASE_MODULES.iter().zip(given) {
        let spec = match given {
            ModuleSource::Skip => continue,
            ModuleSource::Pip(s) => Spec::Pip(s),
            ModuleSource::Default => Spec::Pip(modules::base_default(repo)),
        };
        out.push(Module {
            key: key.to_string(),
            spec,
        });
    }
    let mgmt = cfg.management_modules.clone().unwrap_or_default();
    let given = [
        mgmt.agent_installer,
        mgmt.plugin_installer,
        mgmt.windows_agent_installer,
        mgmt.windows_plugin_installer,
    ];
    for (key, given) in MANAGEMENT_MODULES.iter().zip(given) {
        let spec = match given {
            ModuleSource::Skip => continue,
            ModuleSource::Pip(s) => Spec::Pip(s),
            ModuleSource::Default => Spec::Manager(modules::manager_subdir(key)),
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
}
