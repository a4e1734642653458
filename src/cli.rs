//! Command-line definition (clap) and the small commands.

use agent_packager::{Error, Format, Options, archive, log::Log, plan};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// Build a Cloudify agent (a Python virtualenv with celery, the Cloudify modules
/// and your plugins) for this distribution, as a deterministic tar.gz.
#[derive(Parser, Debug)]
#[command(name = "cfy-ap", version, about, long_about = None)]
pub struct Cli {
    /// Path to the config YAML
    #[arg(
        short,
        long,
        value_name = "PATH",
        default_value = "config.yaml",
        global = true
    )]
    pub config: PathBuf,
    /// Recreate the venv and replace existing outputs
    #[arg(short, long, global = true)]
    pub force: bool,
    /// Show the commands run and pip's output
    #[arg(short, long, global = true)]
    pub verbose: bool,
    /// Print errors only
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
    /// Output formats (repeat or comma-separate): tar, deb, rpm
    #[arg(
        long = "format",
        value_enum,
        value_delimiter = ',',
        default_value = "tar"
    )]
    pub formats: Vec<FormatArg>,
    /// Print the resolved plan and touch nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Skip checking that every requested module got installed
    #[arg(long)]
    pub no_validation: bool,
    /// Package this existing agent .tar.gz (with --format deb/rpm) instead of building one
    #[arg(long, value_name = "PATH")]
    pub from_tar: Option<PathBuf>,
    /// Build for the distribution whose root filesystem is DIR (repeatable)
    #[arg(long = "root", value_name = "DIR")]
    pub roots: Vec<PathBuf>,
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a deterministic tar.gz of an existing directory
    Archive(ArchiveArgs),
    /// Add .deb packages to an apt repository (created when missing) and
    /// regenerate its indices; -f replaces a package published with other bytes
    Publish(PublishArgs),
    /// Write a commented example config for this host (PATH `-`: standard output)
    Init(crate::cli_ux::InitArgs),
    /// Print a shell completion script: source <(cfy-ap completions bash)
    Completions(crate::cli_ux::CompletionsArgs),
    /// Print the man page (roff): cfy-ap man | man -l -
    Man,
    /// Print the JSON Schema of the config file, for editors
    Schema,
    /// Write the built-in packaging files of DISTRO into DIR, for editing
    PackagingFiles(crate::cli_roots::PackagingFilesArgs),
}

#[derive(Args, Debug)]
pub struct ArchiveArgs {
    /// The directory to archive
    pub dir: PathBuf,
    /// The .tar.gz to write
    pub output: PathBuf,
    /// Member path prefix (default: DIR's own path without a leading /)
    #[arg(long, value_name = "PATH")]
    pub prefix: Option<String>,
    /// gzip level 1-9
    #[arg(long, default_value_t = plan::DEFAULT_TAR_LEVEL, value_parser = clap::value_parser!(u32).range(1..=9))]
    pub level: u32,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum FormatArg {
    Tar,
    Deb,
    Rpm,
}

impl Cli {
    pub fn options(&self) -> Result<Options, Error> {
        let mut formats = Vec::new();
        for f in &self.formats {
            let f = match f {
                FormatArg::Tar => Format::Tar,
                FormatArg::Deb => Format::Deb,
                FormatArg::Rpm => Format::Rpm,
            };
            if !formats.contains(&f) {
                formats.push(f);
            }
        }
        Ok(Options {
            formats,
            validate: !self.no_validation,
            force: self.force,
            config_path: Some(self.config.clone()),
            from_tar: self.from_tar.clone(),
            roots: self.roots.clone(),
            ..Options::default()
        })
    }
}

pub fn archive(a: &ArchiveArgs, force: bool, log: &Log) -> Result<(), Error> {
    let prefix = match &a.prefix {
        Some(p) => p.clone(),
        None => {
            let abs = plan::normalize(&std::env::current_dir().unwrap_or_default().join(&a.dir));
            plan::tar_prefix(&a.dir.to_string_lossy(), &abs)?
        }
    };
    if a.output.exists() && !force {
        return Err(
            Error::exists(format!("{} already exists", a.output.display()))
                .with("use -f/--force to replace it"),
        );
    }
    let stats = log.step_bytes(
        &format!("wrote {}", a.output.display()),
        || agent_packager::log::tree_bytes(&a.dir),
        || archive::write_tar_gz(&a.dir, &prefix, &a.output, a.level, force),
    )?;
    for s in &stats.skipped {
        log.warn(&format!(
            "not archived (not a file, directory or link): {}",
            s.display()
        ));
    }
    log.info(&format!(
        "{} entries, {} bytes in, {} bytes out",
        stats.entries, stats.bytes_in, stats.bytes_out
    ));
    Ok(())
}

#[derive(Args, Debug)]
pub struct PublishArgs {
    /// The repository directory
    #[arg(long, value_name = "DIR", required_unless_present = "export_key")]
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
    /// Write the public key of --sign-key to FILE (binary if it ends in .gpg) and exit
    #[arg(
        long,
        value_name = "FILE",
        requires = "sign_key",
        conflicts_with = "debs"
    )]
    pub export_key: Option<PathBuf>,
    /// The .deb files to add
    #[arg(value_name = "DEB", required_unless_present = "export_key")]
    pub debs: Vec<PathBuf>,
}

pub fn publish(a: &PublishArgs, force: bool, log: &Log) -> Result<(), Error> {
    use agent_packager::publish;
    if let (Some(dest), Some(key)) = (&a.export_key, &a.sign_key) {
        let fpr = publish::export_key(key, dest, force)?;
        log.info(&format!("wrote {} (key {fpr})", dest.display()));
        return Ok(());
    }
    let opts = publish::PublishOptions {
        repo: a.repo.clone().unwrap_or_default(),
        codename: a.codename.clone(),
        suite: a.suite.clone(),
        component: a.component.clone(),
        origin: a.origin.clone(),
        label: a.label.clone(),
        sign_key: a.sign_key.clone(),
        force,
        ..Default::default()
    };
    let summary = publish::publish(&opts, &a.debs, log)?;
    publish::report(&summary, log);
    Ok(())
}
