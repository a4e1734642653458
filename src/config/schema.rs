//! The YAML config file, exactly as written by the user. Every key is optional;
//! defaults are applied when the plan is resolved (`crate::plan`). Unknown keys are
//! errors (with line, column and the closest valid key).

use super::source::{ModuleSource, Required};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Distribution name as Python's old `platform.dist()[0]` gave it (e.g. `Ubuntu`, `centos`).
    pub distribution: Option<String>,
    /// Release code name (e.g. `trusty`, `Core`, `Final`).
    pub release: Option<String>,
    /// Where the virtualenv is built (its final path on the target).
    pub venv: Option<String>,
    /// The interpreter the virtualenv is made with.
    pub python_path: Option<String>,
    pub base_modules: Option<BaseModules>,
    pub management_modules_version: Option<String>,
    pub management_modules: Option<ManagementModules>,
    /// URL template with `{version}`, a local `.tar.gz`, or a local directory.
    pub management_modules_source: Option<String>,
    pub additional_modules: Option<Vec<String>>,
    /// Extra arguments for every `pip install`.
    pub pip_options: Option<Vec<String>>,
    pub output_tar: Option<String>,
    pub keep_venv: Option<bool>,
    /// gzip level of the agent tar.gz (1-9).
    pub tar_compression_level: Option<u32>,
    /// Make the agent work from any directory (default true): console scripts find
    /// the interpreter next to themselves, `activate` its own location.
    pub relocatable: Option<bool>,
    /// Settings of the manager package (`--format deb` / `--format rpm`).
    pub package: Option<Package>,
    /// Apt repository to publish the deb into after building it.
    pub publish: Option<Publish>,
    /// Root filesystems to build the agent in, one agent each (like `--root`).
    pub build_roots: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BaseModules {
    #[serde(default)]
    pub celery: Required,
    #[serde(default)]
    pub rest_client: ModuleSource,
    #[serde(default)]
    pub plugins_common: ModuleSource,
    #[serde(default)]
    pub script_plugin: ModuleSource,
    #[serde(default)]
    pub diamond_plugin: ModuleSource,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ManagementModules {
    #[serde(default, alias = "agent-installer")]
    pub agent_installer: ModuleSource,
    #[serde(default, alias = "plugin-installer")]
    pub plugin_installer: ModuleSource,
    #[serde(default, alias = "windows-agent-installer")]
    pub windows_agent_installer: ModuleSource,
    #[serde(default, alias = "windows-plugin-installer")]
    pub windows_plugin_installer: ModuleSource,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub name: Option<String>,
    pub version: Option<String>,
    pub revision: Option<String>,
    pub architecture: Option<String>,
    pub maintainer: Option<String>,
    pub description: Option<String>,
    pub homepage: Option<String>,
    pub license: Option<String>,
    /// Copyright line(s) for the deb's copyright file.
    pub copyright: Option<String>,
    pub depends: Option<Vec<String>>,
    pub rpm_depends: Option<Vec<String>>,
    pub resources_dir: Option<String>,
    pub config_files: Option<String>,
    /// `gzip` (default), `xz`, `zstd` or `none`.
    pub compression: Option<String>,
    pub compression_level: Option<u32>,
    pub output_dir: Option<String>,
    /// Armored OpenPGP secret key used to sign the rpm.
    pub sign_key: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    pub repo: Option<String>,
    pub codename: Option<String>,
    pub suite: Option<String>,
    pub component: Option<String>,
    pub origin: Option<String>,
    pub label: Option<String>,
    pub sign_key: Option<String>,
}
