//! One handler per command: the build (no subcommand), `archive`, `publish`,
//! `init`, `completions`, `man`, `schema`.

use super::args::{ArchiveArgs, Cli, CompletionsArgs, InitArgs, PublishArgs, ShellArg};
use agent_packager::util::paths::normalize;
use agent_packager::{Error, archive, config, log::Log, plan::Plan, writers};
use clap::CommandFactory;
use std::io::Write;

/// The main job: resolve the plan from the config; print it (`--dry-run`) or run it.
pub fn build(cli: &Cli, log: &Log) -> Result<(), Error> {
    let options = cli.options()?;
    let config = config::load_file(&cli.config)?;
    let plan = Plan::resolve(&config, &options, writers::ALL)?;
    if cli.dry_run {
        println!("{plan}");
        return Ok(());
    }
    agent_packager::pipeline::execute(&plan, log)?;
    Ok(())
}

fn stdout_error(e: std::io::Error) -> Error {
    Error::build(format!("writing to standard output: {e}"))
}

pub fn init(a: &InitArgs, force: bool, log: &Log) -> Result<(), Error> {
    config::init::write(&a.path, force)?;
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
    let text = serde_json::to_string_pretty(&agent_packager::config::json_schema::config_schema())
        .map_err(|e| Error::build(format!("serializing the schema: {e}")))?;
    println!("{text}");
    Ok(())
}

pub fn archive(a: &ArchiveArgs, force: bool, log: &Log) -> Result<(), Error> {
    let prefix = match &a.prefix {
        Some(p) => p.clone(),
        None => {
            let abs = normalize(&std::env::current_dir().unwrap_or_default().join(&a.dir));
            agent_packager::plan::tar_prefix(&a.dir.to_string_lossy(), &abs)?
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
        sign_key_id: a.sign_key_id.clone(),
        unsigned: a.unsigned,
        adopt: a.adopt,
        force,
        ..Default::default()
    };
    if a.list {
        return publish_list(&opts, a.json);
    }
    let selectors = |specs: Vec<String>| -> Result<Vec<publish::Selector>, Error> {
        specs.iter().map(|s| publish::Selector::parse(s)).collect()
    };
    let positional: Vec<String> = a.debs.iter().map(|d| d.display().to_string()).collect();
    let req = publish::Request {
        debs: if a.copy.is_some() {
            Vec::new()
        } else {
            a.debs.clone()
        },
        remove: selectors(a.remove.clone())?,
        keep: a.keep.map(|n| n as usize),
        copy_from: a.copy.clone(),
        copy: if a.copy.is_some() {
            selectors(positional)?
        } else {
            Vec::new()
        },
        copy_all: a.all,
        dry_run: a.dry_run,
    };
    let summary = publish::apply(&opts, &req, log)?;
    publish::report(&summary, log);
    Ok(())
}

/// `publish --list`: one line per package (or JSON) on standard output.
fn publish_list(opts: &agent_packager::publish::PublishOptions, json: bool) -> Result<(), Error> {
    let entries = agent_packager::publish::list(opts)?;
    if json {
        let text = serde_json::to_string_pretty(&entries)
            .map_err(|e| Error::build(format!("writing JSON: {e}")))?;
        println!("{text}");
        return Ok(());
    }
    for e in entries {
        println!(
            "{}\t{}\t{}\t{}\t{}",
            e.package, e.version, e.architecture, e.size, e.filename
        );
    }
    Ok(())
}
