//! The YAML config file, exactly as written by the user. Every key is optional;
//! defaults are applied when the plan is resolved (`crate::plan`). Unknown keys are
//! errors (with line, column and the closest valid key). The doc comments here
//! are the descriptions of the JSON Schema (`cfy-ap schema`, [`super::json_schema`]).

use super::json_schema::{compression, hyphen_aliases, text};
use super::profile::Profile;
use super::source::ModuleSource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Build configuration of a Cloudify agent (cfy-ap). Every key is optional.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "cfy-ap config")]
pub struct Config {
    /// Distribution name as platform.dist() gave it (Ubuntu, centos, debian...). Default: detected.
    #[serde(default)]
    #[schemars(schema_with = "text")]
    pub distribution: Option<String>,
    /// Release code name (trusty, Core, bookworm...). Default: detected.
    #[serde(default)]
    #[schemars(schema_with = "text")]
    pub release: Option<String>,
    /// Where the virtualenv is built; also the member path in the tar. Default: `/cloudify/<distribution>-<release>-agent/env`.
    #[serde(default, deserialize_with = "path")]
    pub venv: Option<String>,
    /// The interpreter the virtualenv is made with. Default: /usr/bin/python, else python3 from PATH.
    #[serde(default, deserialize_with = "path")]
    pub python_path: Option<String>,
    /// Which modules the keys left out of base_modules and management_modules stand for: legacy (Cloudify 3.x, the original packager's layout) or modern (Cloudify 4.4 and later: cloudify-common). Default: legacy.
    pub profile: Option<Profile>,
    /// Base modules, installed in this order.
    pub base_modules: Option<BaseModules>,
    /// Branch or tag of the cloudify-manager source. Default: master.
    #[serde(default)]
    #[schemars(schema_with = "text")]
    pub management_modules_version: Option<String>,
    /// Management modules (Cloudify 3.x); by default from the cloudify-manager source (profile legacy), not installed (modern).
    pub management_modules: Option<ManagementModules>,
    /// URL template with {version}, a local .tar.gz or a directory. Default: the GitHub archive of cloudify-manager.
    pub management_modules_source: Option<String>,
    /// More pip requirements (your plugins), installed last, in order.
    pub additional_modules: Option<Vec<String>>,
    /// Extra arguments for every pip install, e.g. [--no-index, --find-links, ./wheels].
    pub pip_options: Option<Vec<String>>,
    /// What installs the modules: pip, uv, or auto (uv when found and the Python is 3.7 or later, else pip). Default: auto.
    pub installer: Option<InstallerChoice>,
    /// The uv executable. Default: uv on PATH.
    #[serde(default, deserialize_with = "path")]
    pub uv_path: Option<String>,
    /// A directory holding virtualenv (`<python> -m pip install --target DIR 'virtualenv<20.22'`), used for interpreters without venv (Python 2.7) instead of one installed into the interpreter. Default: the interpreter's own.
    #[serde(default, deserialize_with = "path")]
    pub virtualenv_path: Option<String>,
    /// The installer's download and wheel cache (outside the venv). Default: the installer's own.
    #[serde(default, deserialize_with = "path")]
    pub cache_dir: Option<String>,
    /// Reuse the .pyc of earlier builds (CPython 3.7-3.10), cached in <cache_dir>/cfy-ap-pyc, else ~/.cache/cfy-ap/pyc; never in the agent. Default: true.
    pub bytecode_cache: Option<bool>,
    /// The agent archive. Default: `<distribution>-<release>-agent.tar.gz`.
    #[serde(default, deserialize_with = "path")]
    pub output_tar: Option<String>,
    /// Keep the virtualenv after the tar is written. Default: false.
    pub keep_venv: Option<bool>,
    /// gzip level of the agent tar.gz (1-9). Default: 6.
    #[schemars(range(min = 1, max = 9))]
    pub tar_compression_level: Option<u32>,
    /// Make the agent work from any directory (scripts and activate find their own location). Default: true.
    pub relocatable: Option<bool>,
    /// The manager package (--format deb / --format rpm).
    pub package: Option<Package>,
    /// An apt repository to publish the .deb into.
    pub publish: Option<Publish>,
    /// Root filesystems to build the agent in, one agent each (like --root).
    pub build_roots: Option<Vec<String>>,
    /// The CPU architecture the agent is for (arm64 or aarch64, amd64 or x86_64...): it must be the one detected from the interpreter (the root's with --root), else the run stops before any work; a name other than x86_64 goes into the default agent tar and venv names. Unlike package.architecture, which only labels the manager package. Default: detected.
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub architecture: Option<serde_saphyr::Spanned<String>>,
}

/// Config key `installer` (and `--installer`).
#[derive(Debug, Clone, Copy, Default, Deserialize, Serialize, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum InstallerChoice {
    Pip,
    Uv,
    /// uv when it is found and supports the target Python, else pip.
    #[default]
    Auto,
}

impl InstallerChoice {
    pub const ALL: [InstallerChoice; 3] = [
        InstallerChoice::Pip,
        InstallerChoice::Uv,
        InstallerChoice::Auto,
    ];

    pub fn name(self) -> &'static str {
        match self {
            InstallerChoice::Pip => "pip",
            InstallerChoice::Uv => "uv",
            InstallerChoice::Auto => "auto",
        }
    }
}

/// Base modules, installed in this order (the order of `modules::BASE_MODULES`).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct BaseModules {
    /// Default: celery==3.1.17 (profile legacy); not installed (modern).
    #[serde(default)]
    pub celery: ModuleSource,
    /// Cloudify 4.4 and later (it replaces rest_client, plugins_common and script_plugin). Default: not installed (legacy); cloudify-common==7.0.5 (modern).
    #[serde(default)]
    pub cloudify_common: ModuleSource,
    /// Default: the cloudify-rest-client master tarball (legacy); not installed (modern).
    #[serde(default)]
    pub rest_client: ModuleSource,
    /// Default: the cloudify-plugins-common master tarball (legacy); not installed (modern).
    #[serde(default)]
    pub plugins_common: ModuleSource,
    /// Default: the cloudify-script-plugin master tarball (legacy); not installed (modern).
    #[serde(default)]
    pub script_plugin: ModuleSource,
    /// Default: the cloudify-diamond-plugin master tarball (legacy); not installed (modern).
    #[serde(default)]
    pub diamond_plugin: ModuleSource,
}

impl BaseModules {
    /// The values in install order, beside `modules::BASE_MODULES`.
    pub fn in_order(self) -> [ModuleSource; 6] {
        [
            self.celery,
            self.cloudify_common,
            self.rest_client,
            self.plugins_common,
            self.script_plugin,
            self.diamond_plugin,
        ]
    }
}

/// Management modules (Cloudify 3.x); by default from the cloudify-manager source (profile legacy), not installed (modern).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = hyphen_aliases)]
pub struct ManagementModules {
    /// Default: plugins/agent-installer of the manager source (legacy); not installed (modern).
    #[serde(default, alias = "agent-installer")]
    pub agent_installer: ModuleSource,
    /// Default: plugins/plugin-installer of the manager source (legacy); not installed (modern).
    #[serde(default, alias = "plugin-installer")]
    pub plugin_installer: ModuleSource,
    /// Default: plugins/windows-agent-installer of the manager source (legacy); not installed (modern).
    #[serde(default, alias = "windows-agent-installer")]
    pub windows_agent_installer: ModuleSource,
    /// Default: plugins/windows-plugin-installer of the manager source (legacy); not installed (modern).
    #[serde(default, alias = "windows-plugin-installer")]
    pub windows_plugin_installer: ModuleSource,
}

impl ManagementModules {
    /// The values in install order, beside `modules::MANAGEMENT_MODULES`.
    pub fn in_order(self) -> [ModuleSource; 4] {
        [
            self.agent_installer,
            self.plugin_installer,
            self.windows_agent_installer,
            self.windows_plugin_installer,
        ]
    }
}

/// The manager package (--format deb / --format rpm).
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Package name. Default: cloudify-<distribution>-<release>-agent, lowercased.
    pub name: Option<String>,
    /// Package version (required for deb/rpm, or $VERSION), e.g. 3.2rc1.
    #[serde(default)]
    #[schemars(schema_with = "text")]
    pub version: Option<String>,
    /// Package revision. Default: 1.
    #[serde(default)]
    #[schemars(schema_with = "text")]
    pub revision: Option<String>,
    /// The manager package's Architecture label (the package only carries the agent tar). Not the agent's own CPU architecture: that is the top-level `architecture`. Default: all (noarch in an rpm): the package installs on the manager, whatever its CPU, and its name carries the agent's architecture when that is not x86_64, so packages of several architectures install side by side.
    pub architecture: Option<String>,
    /// `Full Name <email>`.
    pub maintainer: Option<String>,
    /// Default: generated.
    pub description: Option<String>,
    /// An http:// or https:// URL.
    pub homepage: Option<String>,
    /// Default: Apache-2.0.
    pub license: Option<String>,
    /// Copyright line of the deb's copyright file. Default: the authors of the bundled modules.
    pub copyright: Option<String>,
    /// deb dependencies.
    pub depends: Option<Vec<String>>,
    /// rpm requirements.
    pub rpm_depends: Option<Vec<String>>,
    /// Absolute path of the manager's resources. Default: /opt/manager/resources.
    pub resources_dir: Option<String>,
    /// Directory with the per-distribution config files. Default: packaging/ beside the config, else the system's.
    pub config_files: Option<String>,
    /// Payload compression. Default: gzip.
    #[serde(default)]
    #[schemars(schema_with = "compression")]
    pub compression: Option<String>,
    /// Level for the compression (its range). Default: the compression's default.
    #[schemars(range(min = 0))]
    pub compression_level: Option<u32>,
    /// Where the package is written. Default: the directory of output_tar.
    pub output_dir: Option<String>,
    /// Armored OpenPGP secret key to sign the rpm.
    pub sign_key: Option<String>,
}

/// An apt repository to publish the .deb into.
#[derive(Debug, Clone, Default, Deserialize, Serialize, PartialEq, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Publish {
    /// The repository directory.
    pub repo: Option<String>,
    /// Distribution (dists/<codename>). Default: stable.
    pub codename: Option<String>,
    /// Suite in the Release file. Default: the codename.
    pub suite: Option<String>,
    /// Default: main.
    pub component: Option<String>,
    /// Default: cfy-ap.
    pub origin: Option<String>,
    /// Default: cfy-ap.
    pub label: Option<String>,
    /// Armored OpenPGP secret key to sign the indices.
    pub sign_key: Option<String>,
    /// A yum repository to publish the rpm into (--format rpm).
    pub rpm_repo: Option<String>,
    /// Keep only the newest N versions of each package (per codename and architecture, dpkg order) whenever publishing; older ones are removed.
    #[schemars(range(min = 1))]
    pub keep: Option<u32>,
    /// Checksums the Release lists for each index: SHA256 (required), SHA512, SHA1, MD5Sum. Default: [SHA256].
    pub release_hashes: Option<Vec<String>>,
    /// Architectures the apt repository lists (each gets its indices, where apt clients of that architecture find the Architecture: all packages), besides those of the packages and indices already there and the agents this run builds (which are added automatically), e.g. [amd64, arm64]. Default: none more.
    pub architectures: Option<Vec<String>>,
    /// For a repository in an object store (repo or rpm_repo s3://BUCKET/PREFIX): how long objects a publish stopped naming (replaced indices, removed packages) are kept for clients mid-update before a later publish deletes them: 1d, 6h, 90s, 0. Default: 1d.
    pub grace: Option<String>,
}

/// A path key's value: a NUL byte is refused here, where the error names the
/// file, line and column (a system call would only fail on it much later).
fn path<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = Option::<String>::deserialize(d)?;
    if value.as_deref().is_some_and(|v| v.contains('\0')) {
        return Err(serde::de::Error::custom(
            "a path cannot contain a NUL byte (\\0): remove it",
        ));
    }
    Ok(value)
}
