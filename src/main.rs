//! The `cfy-ap` command line.

mod cli;

use agent_packager::log::{Log, error_prefix};
use clap::Parser;
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    agent_packager::util::malloc::tune_allocator();
    let cli = cli::args::Cli::parse();
    let log = Log::new(cli.verbose, cli.quiet);
    match cli::run(cli, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}{e}", error_prefix());
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
