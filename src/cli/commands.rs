//! One handler per command: the build (no subcommand), `archive`, `publish`,
//! `init`, `completions`, `man` (its page: [`super::man`]), `schema`.

use super::args::{
    ArchiveArgs, Cli, CompletionsArgs, InitArgs, PackagingFilesArgs, PublishArgs, ShellArg,
};
use crate::package::builtin;
use crate::util::atomic;
use crate::util::paths::normalize;
use crate::{Error, archive, config, log::Log, writers};
use clap::CommandFactory;
use std::io::Write;

/// The main job: resolve the plan from the config; print it (`--dry-run`) or run it.
pub(crate) fn build(cli: &Cli, log: &Log) -> Result<(), Error> {
    let options = cli.options()?;
    let config = config::load_file(&cli.config)?;
    // One plan, or one per build root (`--root`, `build_roots:`).
    let run = crate::pipeline::plans(&config, &options, writers::ALL)?;
    if cli.dry_run {
        let publish = run.targets.lines();
        let texts: Vec<String> = run
            .plans
            .into_iter()
            .map(|mut plan| {
                if plan.from_tar.is_none() {
                    plan.bytecode_cache = crate::agent::dry_run_bytecode_cache(&plan);
                }
                plan.describe(&publish).to_string()
            })
            .collect();
        return print(format!("{}\n", texts.join("\n\n")).as_bytes());
    }
    crate::pipeline::execute_all(&run, log)?;
    Ok(())
}

/// Write `bytes` to standard output, the one way every command does. A reader
/// that went away (`| head -1`: EPIPE) ends the command quietly with status 0,
/// as it has all it wanted; any other failure (`>/dev/full`) is exit 1.
pub(super) fn print(bytes: &[u8]) -> Result<(), Error> {
    let mut out = std::io::stdout().lock();
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(Error::build(format!("writing to standard output: {e}"))),
    }
}

pub(crate) fn init(a: &InitArgs, force: bool, log: &Log) -> Result<(), Error> {
    if a.path.as_os_str() == "-" {
        return print(config::init::text(a.profile).as_bytes());
    }
    config::init::write(&a.path, force, a.profile)?;
    {
        log.info(&format!(
            "wrote {}: review it, then `cfy-ap -c {} --dry-run`",
            a.path.display(),
            a.path.display()
        ));
    }
    Ok(())
}

pub(crate) fn completions(a: &CompletionsArgs) -> Result<(), Error> {
    use clap_complete::Shell;
    let shell = match a.shell {
        ShellArg::Bash => Shell::Bash,
        ShellArg::Zsh => Shell::Zsh,
        ShellArg::Fish => Shell::Fish,
    };
    let mut out = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "cfy-ap", &mut out);
    print(&out)
}

pub(crate) fn man() -> Result<(), Error> {
    print(&super::man::render()?)
}

pub(crate) fn schema() -> Result<(), Error> {
    let text = serde_json::to_string_pretty(&crate::config::json_schema::config_schema())
        .map_err(|e| Error::build(format!("serializing the schema: {e}")))?;
    print(format!("{text}\n").as_bytes())
}

pub(crate) fn archive(a: &ArchiveArgs, force: bool, log: &Log) -> Result<(), Error> {
    let prefix = match &a.prefix {
        Some(p) => archive::check_prefix(p)?,
        None => {
            let abs = normalize(&std::env::current_dir().unwrap_or_default().join(&a.dir));
            crate::plan::tar_prefix(&a.dir.to_string_lossy(), &abs)?
        }
    };
    atomic::check_replaceable(&a.output)?;
    if a.output.exists() && !force {
        return Err(
            Error::exists(format!("{} already exists", a.output.display()))
                .with("use -f/--force to replace it"),
        );
    }
    let opts = archive::TarOptions {
        level: a.level,
        force,
        keep_setid: a.keep_setid,
    };
    let stats = log.step_bytes(
        &format!("wrote {}", a.output.display()),
        || crate::log::tree_bytes(&a.dir),
        || archive::write_tar_gz_with(&a.dir, &prefix, &a.output, &opts),
    )?;
    for s in &stats.cleared_setid {
        log.warn(&format!(
            "setuid/setgid cleared (owner stored as root; --keep-setid keeps it): {}",
            s.display()
        ));
    }
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

/// `cfy-ap publish`: only dispatches — `--export-key`, rpms to the yum
/// publisher ([`super::yum`]), everything else to the apt one ([`super::apt`]).
pub(crate) fn publish(a: PublishArgs, force: bool, log: &Log) -> Result<(), Error> {
    if let (Some(dest), Some(key)) = (&a.export_key, &a.sign_key) {
        return super::apt::export_key(key, dest, force, log);
    }
    if !a.debs.is_empty() && a.copy.is_none() && super::yum::is_rpm(&a)? {
        return super::yum::publish(&a, force, log);
    }
    super::apt::publish(a, force, log)
}

/// `cfy-ap packaging-files DISTRO DIR`: write a built-in packaging set out for
/// editing (then point `package.config_files` at DIR).
pub(crate) fn packaging_files(a: &PackagingFilesArgs, force: bool, log: &Log) -> Result<(), Error> {
    let set = builtin::for_distribution(&a.distribution).ok_or_else(|| {
        Error::config(format!(
            "no built-in packaging files for distribution {:?}",
            a.distribution
        ))
        .with(format!("built-in sets: {}", builtin::names().join(", ")))
    })?;
    let written = builtin::write_set(set, &a.dir, force)?;
    for p in &written {
        log.info(&format!("wrote {}", p.display()));
    }
    log.info(&format!(
        "built-in set {}: edit the files, then set package.config_files: {}",
        set.name,
        a.dir.display()
    ));
    Ok(())
}
