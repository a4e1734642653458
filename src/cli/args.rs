//! The command line's shape (clap types) and the options it gives the plan.

use crate::config::{InstallerChoice, Profile};
use crate::{Error, Format, Options};
use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use clap::error::ErrorKind;
use clap::parser::ValueSource;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// `--installer` values: the config's own names, no second list here.
fn installer_parser() -> impl TypedValueParser<Value = InstallerChoice> {
    PossibleValuesParser::new(InstallerChoice::ALL.map(InstallerChoice::name)).map(|s| {
        InstallerChoice::ALL
            .into_iter()
            .find(|i| i.name() == s)
            .expect("a possible value")
    })
}

/// `--profile` values: the config's own names and summaries, no second list here.
fn profile_parser() -> impl TypedValueParser<Value = Profile> {
    let values = Profile::ALL.map(|p| PossibleValue::new(p.name()).help(p.summary()));
    PossibleValuesParser::new(values).map(|s| {
        Profile::ALL
            .into_iter()
            .find(|p| p.name() == s)
            .expect("a possible value")
    })
}

/// `--format` values: every format the library knows, no second list here.
fn format_parser() -> impl TypedValueParser<Value = Format> {
    PossibleValuesParser::new(Format::ALL.map(Format::name))
        .map(|s| Format::parse(&s).expect("a possible value"))
}

/// Where `--help` sends the reader for the rest.
macro_rules! see_man {
    () => {
        "Exit status, environment and files: man cfy-ap (or: cfy-ap man | man -l -)"
    };
}
const SEE_MAN: &str = see_man!();

/// Build a Cloudify agent (a Python virtualenv with the Cloudify modules, celery
/// for Cloudify 3.x, and your plugins) for this distribution, as a deterministic tar.gz.
#[derive(Parser, Debug)]
#[command(
    name = "cfy-ap",
    version,
    about,
    long_about = None,
    after_help = concat!(
        "The options above are the build's; each command has its own: cfy-ap COMMAND --help.\n",
        "-f, -v and -q may also come before a command that takes them (cfy-ap -f archive DIR OUT).\n",
        see_man!()
    )
)]
pub(crate) struct Cli {
    /// Path to the config YAML
    #[arg(short, long, value_name = "PATH", default_value = "config.yaml")]
    pub config: PathBuf,
    /// Recreate the venv and replace existing outputs
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// Output formats (repeat or comma-separate): tar, deb, rpm (deb and rpm: the agent's package and the distribution's common one)
    #[arg(
        long = "format",
        value_parser = format_parser(),
        value_delimiter = ',',
        default_value = "tar"
    )]
    pub formats: Vec<Format>,
    /// Print the resolved plan and touch nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Skip checking that every requested module got installed
    #[arg(long)]
    pub no_validation: bool,
    /// Compile every .pyc afresh: neither read nor fill the bytecode cache
    #[arg(long)]
    pub no_bytecode_cache: bool,
    /// Package this existing agent .tar.gz (with --format deb/rpm) instead of building one
    #[arg(long, value_name = "PATH")]
    pub from_tar: Option<PathBuf>,
    /// What installs the modules [default: config `installer`, else auto]
    #[arg(long, value_parser = installer_parser())]
    pub installer: Option<InstallerChoice>,
    /// Build for the distribution whose root filesystem is DIR (repeatable)
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// `-v`/`-q`: the build's, and those of every command that reports progress.
#[derive(Args, Debug, Clone, Copy, Default)]
pub(crate) struct Verbosity {
    /// Say more: each step as it starts, the commands run and their output
    #[arg(short, long)]
    pub verbose: bool,
    /// Print errors only
    #[arg(short, long, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Write a deterministic tar.gz of an existing directory
    #[command(after_help = SEE_MAN)]
    Archive(ArchiveArgs),
    /// Add .deb packages to an apt repository, or .rpm packages to a yum
    /// repository (created when missing), and regenerate its indices
    #[command(after_help = SEE_MAN)]
    Publish(Box<PublishArgs>),
    /// Write a commented example config for this host (PATH `-`: standard output)
    #[command(after_help = SEE_MAN)]
    Init(InitArgs),
    /// Print a shell completion script: source <(cfy-ap completions bash)
    #[command(after_help = SEE_MAN)]
    Completions(CompletionsArgs),
    /// Print the man page (roff): cfy-ap man | man -l -
    #[command(after_help = SEE_MAN)]
    Man,
    /// Print the JSON Schema of the config file, for editors
    #[command(after_help = SEE_MAN)]
    Schema,
    /// Write the built-in packaging files of DISTRO into DIR, for editing
    #[command(after_help = SEE_MAN)]
    PackagingFiles(PackagingFilesArgs),
}

#[derive(Args, Debug)]
pub(crate) struct ArchiveArgs {
    /// The directory to archive
    pub dir: PathBuf,
    /// The .tar.gz to write
    pub output: PathBuf,
    /// Member path prefix (default: DIR's own path without a leading /)
    #[arg(long, value_name = "PATH")]
    pub prefix: Option<String>,
    /// gzip level 1-9
    #[arg(long, default_value_t = crate::config::DEFAULT_TAR_LEVEL, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub level: u32,
    /// Keep setuid/setgid bits of files not owned by root (members are stored as
    /// root:root, so by default those bits are cleared, with a warning)
    #[arg(long)]
    pub keep_setid: bool,
    /// Replace OUTPUT if it exists (a regular file only)
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

impl Command {
    /// The command's own `-f` and `-v`/`-q` (none for those that take none).
    fn own(&self) -> (bool, Verbosity) {
        match self {
            Command::Archive(a) => (a.force, a.verbosity),
            Command::Publish(p) => (p.force, p.verbosity),
            Command::Init(a) => (a.force, a.verbosity),
            Command::PackagingFiles(a) => (a.force, a.verbosity),
            Command::Completions(_) | Command::Man | Command::Schema => {
                (false, Verbosity::default())
            }
        }
    }
}

/// Parse the command line, or exit 2 as clap does. An option of the build given
/// before a command is refused rather than ignored (`cfy-ap --dry-run archive …`
/// would write), except `-f`, `-v` and `-q` before a command that takes them.
pub(crate) fn parse() -> Cli {
    let mut cmd = Cli::command();
    let matches = cmd.get_matches_mut();
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.format(&mut cmd).exit());
    if let Some((name, _)) = matches.subcommand() {
        let sub = cmd.find_subcommand(name).expect("a parsed command");
        let foreign = cmd.get_arguments().find(|a| {
            matches.value_source(a.get_id().as_str()) == Some(ValueSource::CommandLine)
                && !sub.get_arguments().any(|s| s.get_id() == a.get_id())
        });
        if let Some(arg) = foreign {
            let flag = match (arg.get_short(), arg.get_long()) {
                (Some(c), Some(l)) => format!("-{c}/--{l}"),
                (_, l) => format!("--{}", l.unwrap_or_default()),
            };
            let msg = format!(
                "{flag} is an option of the build, not of `cfy-ap {name}` (see cfy-ap {name} --help)"
            );
            cmd.error(ErrorKind::ArgumentConflict, msg).exit();
        }
    }
    let v = cli.verbosity();
    if v.verbose && v.quiet {
        let msg = "-v/--verbose and -q/--quiet cannot be used together";
        cmd.error(ErrorKind::ArgumentConflict, msg).exit();
    }
    cli
}

impl Cli {
    /// `-f`, given before the command or after it.
    pub(crate) fn force(&self) -> bool {
        self.force || self.command.as_ref().is_some_and(|c| c.own().0)
    }

    /// `-v`/`-q`, given before the command or after it.
    pub(crate) fn verbosity(&self) -> Verbosity {
        let own = self.command.as_ref().map(|c| c.own().1).unwrap_or_default();
        Verbosity {
            verbose: self.verbosity.verbose || own.verbose,
            quiet: self.verbosity.quiet || own.quiet,
        }
    }

    pub(crate) fn options(&self) -> Result<Options, Error> {
        let mut formats = Vec::new();
        for f in &self.formats {
            if !formats.contains(f) {
                formats.push(*f);
            }
        }
        Ok(Options {
            formats,
            validate: !self.no_validation,
            bytecode_cache: !self.no_bytecode_cache,
            force: self.force(),
            config_path: Some(self.config.clone()),
            from_tar: self.from_tar.clone(),
            installer: self.installer,
            roots: self.roots.clone(),
            ..Options::default()
        })
    }
}

#[derive(Args, Debug)]
pub(crate) struct PublishArgs {
    /// The repository: a directory, or s3://BUCKET/PREFIX in an S3-compatible store
    /// (endpoint and credentials from AWS_ENDPOINT_URL, AWS_REGION, AWS_ACCESS_KEY_ID /
    /// AWS_SECRET_ACCESS_KEY or AWS_PROFILE)
    #[arg(long, value_name = "DIR|URL", required_unless_present = "export_key")]
    pub repo: Option<PathBuf>,
    /// Distribution (dists/<CODENAME>)
    #[arg(long, default_value = "stable")]
    pub codename: String,
    /// Suite name in the Release file [default: the codename]
    #[arg(long)]
    pub suite: Option<String>,
    /// Component (pool/<COMPONENT>, dists/<CODENAME>/<COMPONENT>)
    #[arg(long, default_value = "main")]
    pub component: String,
    /// Origin field of the Release file
    #[arg(long, default_value = "cfy-ap")]
    pub origin: String,
    /// Label field of the Release file
    #[arg(long, default_value = "cfy-ap")]
    pub label: String,
    /// Armored OpenPGP secret key to sign with (passphrase: $CFY_AP_SIGN_PASSPHRASE)
    #[arg(long, value_name = "FILE")]
    pub sign_key: Option<PathBuf>,
    /// Which key of a --sign-key file holding several (fingerprint or 16-digit key ID)
    #[arg(long, value_name = "ID", requires = "sign_key")]
    pub sign_key_id: Option<String>,
    /// Publish without a key into a signed repository, dropping its signatures
    #[arg(long, conflicts_with = "sign_key")]
    pub unsigned: bool,
    /// Take over a repository made by another tool or with another Origin/Label
    #[arg(long)]
    pub adopt: bool,
    /// Checksums the Release lists: SHA256 (required), SHA512, SHA1, MD5Sum [default: SHA256]
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub release_hashes: Vec<String>,
    /// Architectures the Release lists (each with its indices) besides those of the packages and the indices already there, e.g. amd64,arm64 (apt clients of an architecture not listed warn and see nothing)
    #[arg(long = "architecture", value_name = "LIST", value_delimiter = ',')]
    pub architectures: Vec<String>,
    /// Drop packages from the codename's indices (their pool files go when no index names them)
    #[arg(long, value_name = "NAME[=VERSION][/ARCH]", num_args = 1.., conflicts_with = "list")]
    pub remove: Vec<String>,
    /// Keep only the newest N versions of each package and architecture
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..), conflicts_with = "list")]
    pub keep: Option<u32>,
    /// Copy packages (DEB arguments are then NAME[=VERSION][/ARCH]) from this codename into --codename
    #[arg(long, value_name = "FROM", conflicts_with = "list")]
    pub copy: Option<String>,
    /// With --copy: every package of FROM (no names then)
    #[arg(long, requires = "copy", conflicts_with = "debs")]
    pub all: bool,
    /// Print the codename's packages: name, version, arch, size, pool path
    #[arg(long)]
    pub list: bool,
    /// With --list: JSON
    #[arg(long, requires = "list")]
    pub json: bool,
    /// Say what --remove/--keep/--copy (or adding) would change; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// In an s3:// repository: keep objects a publish stopped naming this long
    /// (e.g. 1d, 6h, 90s, 0) for clients mid-update, then delete them [default: 1d]
    #[arg(long, value_name = "DURATION")]
    pub grace: Option<String>,
    /// Write the public key of --sign-key to FILE (binary if it ends in .gpg) and exit
    #[arg(
        long,
        value_name = "FILE",
        requires = "sign_key",
        conflicts_with = "debs"
    )]
    pub export_key: Option<PathBuf>,
    /// Metadata compression of a yum repository: gzip or zstd
    #[arg(long, value_name = "gzip|zstd")]
    pub compression: Option<String>,
    /// Replace a published package that has other bytes (same name, version and
    /// architecture), or an existing --export-key FILE
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub verbosity: Verbosity,
    /// The .deb files (apt repository) or .rpm files (yum repository) to add
    /// (with --copy: the packages to copy)
    #[arg(
        value_name = "PACKAGE",
        required_unless_present_any = ["export_key", "remove", "keep", "copy", "list"]
    )]
    pub debs: Vec<PathBuf>,
}

#[derive(Args, Debug)]
pub(crate) struct InitArgs {
    /// Where to write it (`-`: standard output)
    #[arg(value_name = "PATH", default_value = "config.yaml")]
    pub path: PathBuf,
    /// Which agent the config is for (its `profile` key), with the modules
    /// pinned to releases on PyPI; a config without `profile` is legacy too
    #[arg(
        long,
        value_name = "PROFILE",
        value_parser = profile_parser(),
        default_value = Profile::default().name()
    )]
    pub profile: Profile,
    /// Replace PATH if it exists (a regular file only)
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub verbosity: Verbosity,
}

#[derive(Args, Debug)]
pub(crate) struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: ShellArg,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub(crate) enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

#[derive(Args, Debug)]
pub(crate) struct PackagingFilesArgs {
    /// Distribution whose set to write (ubuntu, debian, centos; Red Hat- and
    /// Debian-like names map to their family's set)
    #[arg(value_name = "DISTRO")]
    pub distribution: String,
    /// Directory to write the files into (created when missing)
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// Replace files of the set already in DIR
    #[arg(short, long)]
    pub force: bool,
    #[command(flatten)]
    pub verbosity: Verbosity,
}
