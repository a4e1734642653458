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
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Write a deterministic tar.gz of an existing directory
    Archive(ArchiveArgs),
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
                FormatArg::Deb | FormatArg::Rpm => {
                    return Err(Error::config(format!(
                        "--format {}: not yet supported (only tar for now)",
                        format!("{f:?}").to_lowercase()
                    )));
                }
            };
            if !formats.contains(&f) {
                formats.push(f);
            }
        }
        Ok(Options {
            formats,
            validate: !self.no_validation,
            force: self.force,
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
    let stats = log.step(&format!("wrote {}", a.output.display()), || {
        archive::write_tar_gz(&a.dir, &prefix, &a.output, a.level, force)
    })?;
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
