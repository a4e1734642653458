//! The `cfy-ap` command line.

mod cli;

use agent_packager::{Error, config, log::Log, plan::Plan};
use clap::Parser;
use cli::{Cli, Command};
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let log = Log::new(cli.verbose, cli.quiet);
    match run(cli, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli, log: &Log) -> Result<(), Error> {
    if let Some(Command::Archive(a)) = &cli.command {
        return cli::archive(a, cli.force, log);
    }
    let options = cli.options()?;
    let config = config::load_file(&cli.config)?;
    let plan = Plan::resolve(&config, &options)?;
    if cli.dry_run {
        println!("{plan}");
        return Ok(());
    }
    let outcome = agent_packager::build::run(&plan, log)?;
    log.info(&format!(
        "agent ready: {} ({} entries, {} bytes)",
        outcome.output_tar.display(),
        outcome.archive.entries,
        outcome.archive.bytes_out
    ));
    Ok(())
}
