//! The part of `cfy-ap init`'s config that differs by profile: the
//! interpreter's note, `profile` and the modules, pinned to releases on PyPI.

use crate::config::Profile;
use crate::config::modules::{
    self, BASE_MODULES, DEFAULT_MANAGER_SOURCE, LEGACY_MANAGER_PIN, MANAGEMENT_MODULES,
};

/// The interpreter `init` writes as `python_path` for `profile`: Cloudify 3.2's
/// modules need Python 2, cloudify-common Python 3; else the one a build uses
/// without the key (/usr/bin/python, then /usr/bin/python3, then python3 from PATH).
pub(crate) fn host_python(profile: Profile) -> Option<std::path::PathBuf> {
    let wanted: &[&str] = match profile {
        Profile::Legacy => &["/usr/bin/python2.7", "/usr/bin/python2"],
        Profile::Modern => &["/usr/bin/python3"],
    };
    let system = ["/usr/bin/python", "/usr/bin/python3"];
    wanted
        .iter()
        .chain(&system)
        .map(std::path::PathBuf::from)
        .find(|p| p.is_file())
        .or_else(|| crate::util::paths::find_on_path("python3"))
}

/// Which interpreters the profile's pinned modules need (comment lines).
pub(super) fn python_note(profile: Profile) -> &'static [&'static str] {
    match profile {
        Profile::Legacy => &[
            "# The Cloudify 3.2 modules below are Python 2 only: this must be a Python 2.7",
            "# (or 2.6), e.g. /usr/bin/python2.7.",
        ],
        Profile::Modern => &[
            "# cloudify-common 7.0.5 needs Python 3.8 or later (its dependencies do; it",
            "# says 3.6).",
        ],
    }
}

/// `profile` and the module keys, each line of the config without its newline.
pub(super) fn section(profile: Profile) -> Vec<String> {
    let mut s: Vec<String> = Vec::new();
    let mut out = |line: &str| s.push(line.to_string());
    out("# Which modules the keys left out below stand for. legacy (the default, also");
    out("# without this key): Cloudify 3.x as the original packager built it. modern:");
    out("# Cloudify 4.4 and later, cloudify-common without celery. `cfy-ap init");
    out("# --profile legacy|modern` writes a config for either.");
    out(&format!("profile: {}", profile.name()));
    out("");
    out("# The base modules, installed in this order. Each is a pip requirement");
    out("# (name==version, a URL or a local path); none or false skips it.");
    match profile {
        Profile::Legacy => {
            out("# Pinned here to the Cloudify 3.2 release on PyPI (June 2015); a key left out");
            out("# stands for its GitHub master tarball, as in the original packager.");
        }
        Profile::Modern => {
            out("# cloudify-common holds the REST client, the plugins' common code and the");
            out("# script plugin. Every other key left out is not installed: celery, which");
            out("# agents no longer use since 4.4 (give e.g. celery==5.5.3 to add it), and");
            out("# the Cloudify 3.x modules.");
        }
    }
    out("base_modules:");
    for m in &BASE_MODULES {
        match profile.init_pin(m) {
            Some(pin) => out(&format!("  {}: {pin}", m.key)),
            None => out(&format!("  # {}: none", m.key)),
        }
    }
    out("");
    match profile {
        Profile::Legacy => {
            out("# The management modules are not on PyPI: they come from the cloudify-manager");
            out("# source tree at this version (a branch or tag; its master no longer holds");
            out("# them), unless given as pip requirements below. Left out: master.");
            out(&format!(
                "management_modules_version: '{LEGACY_MANAGER_PIN}'"
            ));
            out("# management_modules:");
            for key in MANAGEMENT_MODULES {
                let sub = modules::manager_subdir(key);
                out(&format!("#   {key}: <{sub} of the manager source>"));
            }
        }
        Profile::Modern => {
            out("# The management modules of Cloudify 3.x (modern agents have their installers");
            out("# in cloudify-agent): installed only when given as pip requirements, so the");
            out("# manager source and its version are not used.");
            out("# management_modules:");
            for key in MANAGEMENT_MODULES {
                out(&format!("#   {key}: none"));
            }
            out("# management_modules_version: master");
        }
    }
    out("# Where the manager source comes from: a URL template with {version}, a local");
    out("# .tar.gz or a local directory.");
    out(&format!(
        "# management_modules_source: {DEFAULT_MANAGER_SOURCE}"
    ));
    out("");
    out("# Your plugins and other modules, installed last, in this order.");
    if profile == Profile::Modern {
        out("# The agent itself (cloudify-agent: the worker and `cfy-agent`) is not on");
        out("# PyPI: add its source. kombu (celery 5's messaging) needs time zone data:");
        out("# on a host without /usr/share/zoneinfo add tzdata unless something requires");
        out("# it already (celery 5.3 and later, kombu 5.4.2 and later do).");
        out("# additional_modules:");
        out("#   - https://github.com/cloudify-cosmo/cloudify-agent/archive/7.0.4.tar.gz");
        out("#   - tzdata");
    } else {
        out("# additional_modules:");
    }
    out("#   - my-plugin==1.0");
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::{Module, Spec};

    /// The modules a plan of `section(profile)` installs: `key source`.
    fn installed(profile: Profile) -> Vec<String> {
        let yaml = section(profile).join("\n") + "\n";
        let cfg = crate::config::parse_str(&yaml, "init").unwrap();
        assert_eq!(cfg.profile, Some(profile));
        let plan_modules: Vec<Module> = crate::plan::module_list(&cfg);
        plan_modules
            .into_iter()
            .map(|m| match m.spec {
                Spec::Pip(s) => format!("{} {s}", m.key),
                Spec::Manager(sub) => format!("{} <{sub}>", m.key),
            })
            .collect()
    }

    #[test]
    fn legacy_pins_cloudify_3_2_from_pypi() {
        assert_eq!(
            installed(Profile::Legacy),
            [
                "celery celery==3.1.17",
                "rest_client cloudify-rest-client==3.2",
                "plugins_common cloudify-plugins-common==3.2",
                "script_plugin cloudify-script-plugin==1.2",
                "diamond_plugin cloudify-diamond-plugin==1.2",
                "agent_installer <plugins/agent-installer>",
                "plugin_installer <plugins/plugin-installer>",
                "windows_agent_installer <plugins/windows-agent-installer>",
                "windows_plugin_installer <plugins/windows-plugin-installer>",
            ]
        );
        let text = section(Profile::Legacy).join("\n");
        assert!(
            text.contains("\nmanagement_modules_version: '3.2'\n"),
            "{text}"
        );
    }

    #[test]
    fn modern_is_cloudify_common_alone() {
        assert_eq!(
            installed(Profile::Modern),
            ["cloudify_common cloudify-common==7.0.5"]
        );
        let text = section(Profile::Modern).join("\n");
        assert!(text.contains("  # celery: none\n"), "{text}");
        assert!(text.contains("tzdata"), "{text}");
    }
}
