//! The `cfy-ap` command line.

mod cli;
mod cli_roots;
mod cli_ux;

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
            eprintln!("{}{e}", agent_packager::log::error_prefix());
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

fn run(cli: Cli, log: &Log) -> Result<(), Error> {
    if let Some(Command::Archive(a)) = &cli.command {
        return cli::archive(a, cli.force, log);
    }
    if let Some(Command::Publish(p)) = &cli.command {
        return cli::publish(p, cli.force, log);
    }
    match &cli.command {
        Some(Command::Init(a)) => return cli_ux::init(a, cli.force, log),
        Some(Command::Completions(a)) => return cli_ux::completions(a),
        Some(Command::Man) => return cli_ux::man(),
        Some(Command::Schema) => return cli_ux::schema(),
        Some(Command::PackagingFiles(a)) => return cli_roots::packaging_files(a, cli.force, log),
        _ => {}
    }
    let options = cli.options()?;
    let config = config::load_file(&cli.config)?;
    // One plan, or one per build root (`--root`, `build_roots:`).
    let plans = agent_packager::root::plans(&config, &options)?;
    if cli.dry_run {
        let texts: Vec<String> = plans.iter().map(Plan::to_string).collect();
        println!("{}", texts.join("\n\n"));
        return Ok(());
    }
    agent_packager::root::execute_all(&plans, log)?;
    Ok(())
}
