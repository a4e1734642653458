//! `profile`: which modules the keys left out of `base_modules` and
//! `management_modules` stand for. A config without it is `legacy`, so the
//! original packager's configs keep their meaning.

use super::modules::BaseModule;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Profile {
    /// Cloudify 3.x as the original packager built it: celery, the four 3.x modules and the management modules.
    #[default]
    Legacy,
    /// Cloudify 4.4 and later: cloudify-common; celery, the 3.x and the management modules only when given.
    Modern,
}

impl Profile {
    pub const ALL: [Profile; 2] = [Profile::Legacy, Profile::Modern];

    pub fn name(self) -> &'static str {
        match self {
            Profile::Legacy => "legacy",
            Profile::Modern => "modern",
        }
    }

    /// What the profile installs by default, in a few words (`--help`, `--dry-run`).
    pub fn summary(self) -> &'static str {
        match self {
            Profile::Legacy => {
                "Cloudify 3.x: celery, the 3.x modules and the management modules by default"
            }
            Profile::Modern => {
                "Cloudify 4.4 and later: cloudify-common by default; celery, the 3.x and the management modules only when given"
            }
        }
    }

    /// The source of base module `m` when the config leaves it out; None: not installed.
    pub fn base_default(self, m: &BaseModule) -> Option<&'static str> {
        match self {
            Profile::Legacy => m.legacy,
            Profile::Modern => m.modern,
        }
    }

    /// Whether a management module left out comes from the cloudify-manager
    /// source (else it is not installed).
    pub fn management_by_default(self) -> bool {
        self == Profile::Legacy
    }

    /// The requirement `cfy-ap init` writes for base module `m`: a release on
    /// PyPI (None: the module is left out).
    pub fn init_pin(self, m: &BaseModule) -> Option<&'static str> {
        match self {
            Profile::Legacy => m.legacy_pin,
            Profile::Modern => m.modern,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::modules::BASE_MODULES;

    /// The base modules `profile` installs when the config names none of them.
    fn default_base_modules(profile: Profile) -> Vec<&'static str> {
        let given = BASE_MODULES.iter();
        let installed = given.filter(|m| profile.base_default(m).is_some());
        installed.map(|m| m.key).collect()
    }

    #[test]
    fn names_parse_back_and_legacy_is_the_default() {
        for p in Profile::ALL {
            let yaml = format!("{}\n", p.name());
            assert_eq!(serde_saphyr::from_str::<Profile>(&yaml).unwrap(), p);
        }
        assert_eq!(Profile::default(), Profile::Legacy);
    }

    #[test]
    fn each_profile_installs_its_own_set() {
        assert_eq!(
            default_base_modules(Profile::Legacy),
            [
                "celery",
                "rest_client",
                "plugins_common",
                "script_plugin",
                "diamond_plugin"
            ]
        );
        assert_eq!(default_base_modules(Profile::Modern), ["cloudify_common"]);
        // init writes PyPI releases, never a GitHub tarball, for the same set.
        for p in Profile::ALL {
            for m in &BASE_MODULES {
                assert_eq!(p.init_pin(m).is_some(), p.base_default(m).is_some());
                assert!(p.init_pin(m).is_none_or(|s| s.contains("==")));
            }
        }
    }
}
