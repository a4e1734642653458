//! The `cfy-ap` command line: [`args`] (clap types) and [`commands`] (one
//! handler per command; `publish` dispatches to [`apt`] (debs) or [`yum`]
//! (rpms); [`man`] the man page);
//! [`run`] is the one dispatch.

pub mod apt;
pub mod args;
pub mod commands;
pub mod man;
pub mod yum;

use agent_packager::{Error, log::Log};
use args::{Cli, Command};

pub fn run(cli: Cli, log: &Log) -> Result<(), Error> {
    let result = dispatch(cli, log);
    // Whatever a run stopped by SIGINT/SIGTERM/SIGHUP failed with, it reports the signal.
    match (result, agent_packager::util::signals::pending()) {
        (Err(_), Some(sig)) => Err(agent_packager::util::signals::interrupted(sig)),
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
        agent_packager::util::epoch::check()?;
    }
    match cli.command.take() {
        None => commands::build(&cli, log),
        Some(Command::Archive(a)) => {
            agent_packager::util::signals::install()?;
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
