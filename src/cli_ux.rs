//! The everyday commands: `init`, `completions`, `man`, `schema`.

use crate::cli::Cli;
use agent_packager::{Error, log::Log};
use clap::{Args, CommandFactory, ValueEnum};
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct InitArgs {
    /// Where to write it (`-`: standard output); refuses to replace a file without -f
    #[arg(value_name = "PATH", default_value = "config.yaml")]
    pub path: PathBuf,
}

#[derive(Args, Debug)]
pub struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    pub shell: ShellArg,
}

#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum ShellArg {
    Bash,
    Zsh,
    Fish,
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::build(format!("writing to standard output: {e}"))
}

pub fn init(a: &InitArgs, force: bool, log: &Log) -> Result<(), Error> {
    agent_packager::init::write(&a.path, force)?;
    if a.path.as_os_str() != "-" {
        log.info(&format!(
            "wrote {}: review it, then `cfy-ap -c {} --dry-run`",
            a.path.display(),
            a.path.display()
        ));
    }
    Ok(())
}

pub fn completions(a: &CompletionsArgs) -> Result<(), Error> {
    use clap_complete::Shell;
    let shell = match a.shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cfy-ap", &mut out);
    std::io::stdout().write_all(&out).map_err(stdout_error)
}

pub fn man() -> Result<(), Error> {
    let mut out = Vec::new();
    clap_mangen::Man::new(Cli::command())
        .render(&mut out)
        .map_err(stdout_error)?;
    std::io::stdout().write_all(&out).map_err(stdout_error)
}

pub fn schema() -> Result<(), Error> {
    let text = serde_json::to_string_pretty(&agent_packager::schema::config_schema())
        .map_err(|e| Error::build(format!("serializing the schema: {e}")))?;
    println!("{text}");
    Ok(())
}
