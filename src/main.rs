//! The `cfy-ap` command line.

mod cli;

use agent_packager::log::{Log, error_prefix};
use std::io::Write;
use std::process::ExitCode;

fn main() -> ExitCode {
    agent_packager::util::malloc::tune_allocator();
    let cli = cli::args::parse();
    let v = cli.verbosity();
    let log = Log::new(v.verbose, v.quiet);
    match cli::run(cli, &log) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(std::io::stderr(), "{}{e}", error_prefix());
            if v.verbose {
                for cause in e.causes() {
                    let _ = writeln!(std::io::stderr(), "  caused by: {cause}");
                }
            }
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
