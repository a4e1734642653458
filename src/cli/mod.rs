//! The `cfy-ap` command line: [`args`] (clap types) and [`commands`] (one
//! handler per command; `publish` dispatches to [`apt`] (debs) or [`yum`]
//! (rpms); [`man`] the man page);
//! [`run`] is the one dispatch.

pub(crate) mod apt;
pub(crate) mod args;
pub(crate) mod commands;
pub(crate) mod man;
pub(crate) mod yum;

use crate::Error;
use crate::log::{Log, error_prefix};
use args::{Cli, Command};
use std::io::Write;
use std::process::ExitCode;

/// The `cfy-ap` program: parse the command line, run it, print an error (with
/// its causes under `-v`) and turn it into the exit code.
pub fn main() -> ExitCode {
    crate::util::malloc::tune_allocator();
    let cli = args::parse();
    let v = cli.verbosity();
    let log = Log::new(v.verbose, v.quiet);
    match run(cli, &log) {
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

pub(crate) fn run(cli: Cli, log: &Log) -> Result<(), Error> {
    let result = dispatch(cli, log);
    // Whatever a run stopped by SIGINT/SIGTERM/SIGHUP failed with, it reports the signal.
    match (result, crate::util::signals::pending()) {
        (Err(_), Some(sig)) => Err(crate::util::signals::interrupted(sig)),
        (result, _) => result,
    }
}

/// Runs the command; `cli` is taken so that `publish` owns its (possibly many)
/// paths rather than copying them.
fn dispatch(mut cli: Cli, log: &Log) -> Result<(), Error> {
    let force = cli.force();
    if matches!(
        cli.command,
        None | Some(Command::Archive(_)) | Some(Command::Publish(_))
    ) {
        // A bad SOURCE_DATE_EPOCH is refused before any output is touched.
        crate::util::epoch::check()?;
    }
    match cli.command.take() {
        None => commands::build(&cli, log),
        Some(Command::Archive(a)) => {
            crate::util::signals::install()?;
            commands::archive(&a, force, log)
        }
        Some(Command::Publish(p)) => commands::publish(*p, force, log),
        Some(Command::Init(a)) => commands::init(&a, force, log),
        Some(Command::Completions(a)) => commands::completions(&a),
        Some(Command::Man) => commands::man(),
        Some(Command::Schema) => commands::schema(),
        Some(Command::PackagingFiles(a)) => commands::packaging_files(&a, force, log),
    }
}
