//! The installer seam: which tool makes the virtualenv and installs the modules
//! (`installer: pip | uv | auto`), and the one install pass they share.
//!
//! Every module goes into one installer run, in the documented order, so the
//! resolver sees them together (like a requirements file). When that run fails,
//! its output says why (`failure`): only a resolver conflict has each module
//! tried alone to name the one(s) at fault; an unreachable index or an
//! untrusted certificate fails once, with the installer's reason. Afterwards every
//! requested module is validated against what is really in `site-packages`
//! (see `dists`), the same way for both installers.

use super::dists::{self, Dist};
use super::failure::{self, Cause};
use super::manager::ManagerTree;
use super::pip::Pip;
use super::python::Interpreter;
use super::sandbox::Sandbox;
use super::uv::{self, Uv};
use crate::config::InstallerChoice;
use crate::error::{Error, Result};
use crate::log::Log;
use crate::plan::{Plan, Spec};
use crate::util::redact::redact;
use std::path::Path;

/// One tool that makes the virtualenv and installs into it.
pub(crate) trait Installer {
    /// `pip 23.0.1`, `uv 0.13.9`.
    fn name(&self) -> String;
    /// Make the virtualenv; returns the seed requirements (pip, setuptools) that
    /// the install pass must add, if the virtualenv was made without them.
    fn create_venv(
        &mut self,
        python: &Path,
        interpreter: &Interpreter,
        venv: &Path,
        log: &Log,
    ) -> Result<Vec<String>>;
    /// One installer run for all of `requirements`.
    fn install(&self, requirements: &[String], log: &Log) -> Result<()>;
    /// Work after the last install, before the bytecode (uv: tidy up).
    fn finish(&self, _log: &Log) -> Result<()> {
        Ok(())
    }
    fn venv(&self) -> &Path;
    /// Where it runs (in the root of a `--root` build).
    fn sandbox(&self) -> &Sandbox;
    /// Every distribution in the virtualenv.
    fn installed(&self) -> Result<Vec<Dist>> {
        dists::scan(&self.sandbox().host_path(self.venv()))
    }
}

/// The installer for this interpreter, and why it was chosen.
pub(crate) fn select(
    plan: &Plan,
    interpreter: &Interpreter,
    sandbox: &Sandbox,
    log: &Log,
) -> Result<(Box<dyn Installer>, String)> {
    let ip = &plan.installer;
    let uv_supports = interpreter.at_least(3, 7);
    let pip = |why: String| -> (Box<dyn Installer>, String) {
        (
            Box::new(
                Pip::new(&plan.pip_options, ip.cache_dir.clone(), sandbox.clone())
                    .with_env(ip.ca.pip_env()),
            ),
            why,
        )
    };
    let use_uv = match ip.choice {
        InstallerChoice::Pip => return Ok(pip("as configured".into())),
        // Commands of a `--root` build run inside the root, which has no uv.
        InstallerChoice::Uv if plan.root.is_some() => {
            return Err(Error::config(
                "installer: uv does not run inside a --root build (the build runs the root's own tools)",
            )
            .with("use installer: pip (or auto) with --root / build_roots"));
        }
        InstallerChoice::Auto if plan.root.is_some() => {
            return Ok(pip("auto: a --root build uses the root's own pip".into()));
        }
        InstallerChoice::Uv if !uv_supports => {
            return Err(Error::config(format!(
                "installer: uv cannot build an agent for Python {} (uv needs 3.7 or later)",
                interpreter.version
            ))
            .with("use installer: pip (or auto) for this python_path"));
        }
        InstallerChoice::Uv => "as configured".to_string(),
        InstallerChoice::Auto if !uv_supports => {
            return Ok(pip(format!(
                "auto: Python {} is not supported by uv",
                interpreter.version
            )));
        }
        InstallerChoice::Auto => match &ip.no_uv {
            Some(why) => return Ok(pip(format!("auto: {why}"))),
            None => format!("auto: uv found, Python {} supported", interpreter.version),
        },
    };
    let exe = ip.uv.clone().expect("uv located when usable");
    let version = match uv::version(&exe, sandbox, log) {
        Ok(v) => v,
        Err(e) if ip.choice == InstallerChoice::Auto => {
            return Ok(pip(format!("auto: {}", e.message)));
        }
        Err(e) => return Err(e),
    };
    let options = crate::plan::installer::translate_options(&plan.pip_options).unwrap_or_default();
    let uv = Uv::new(exe, version, options, ip.cache_dir.clone(), sandbox.clone())
        .with_env(ip.ca.uv_env());
    Ok((Box::new(uv), use_uv))
}

/// Install every module in one pass, then validate; returns every distribution
/// in the virtualenv as (name, version), sorted by name.
pub(crate) fn install_modules(
    plan: &Plan,
    installer: &dyn Installer,
    seeds: &[String],
    interpreter: &Interpreter,
    log: &Log,
) -> Result<Vec<(String, String)>> {
    let manager = match &plan.manager_source {
        Some(src) => Some(log.step(
            &format!("fetched the cloudify-manager source {}", redact(src)),
            || {
                let work = super::manager_work_dir(&installer.sandbox().host_path(&plan.venv));
                ManagerTree::fetch(src, &work, log)
            },
        )?),
        None => None,
    };
    let mut specs: Vec<(String, String)> = Vec::new();
    for m in &plan.modules {
        let spec = match &m.spec {
            Spec::Pip(s) => s.clone(),
            Spec::Manager(sub) => {
                let tree = manager.as_ref().expect("manager source planned");
                installer
                    .sandbox()
                    .inside_path(tree.module_dir(&m.key, sub)?)
                    .display()
                    .to_string()
            }
        };
        specs.push((m.key.clone(), spec));
    }
    let keys: Vec<&str> = specs.iter().map(|(k, _)| k.as_str()).collect();
    let mut all: Vec<String> = seeds.to_vec();
    all.extend(specs.iter().map(|(_, s)| s.clone()));
    let what = format!(
        "installed {} modules with {}: {}",
        specs.len(),
        installer.name(),
        keys.join(", ")
    );
    if let Err(e) = log.step(&what, || installer.install(&all, log)) {
        return Err(blame(installer, &specs, e, log));
    }
    drop(manager);
    installer.finish(log)?;
    let done = log.step("compiled the modules to bytecode", || {
        super::bytecode::compile(
            installer.venv(),
            interpreter,
            plan.bytecode_cache.as_deref().ok(),
            installer.sandbox(),
            log,
        )
    })?;
    log.detail(&format!(
        "{} files compiled ({} from the cache), {} not compilable (skipped, as pip does)",
        done.compiled, done.cached, done.failed
    ));
    let installed = installer.installed()?;
    let cwd = std::env::current_dir().unwrap_or_default();
    let mut missing = Vec::new();
    let origins = dists::records_origins(&installed);
    for (key, spec) in &specs {
        let expect = dists::expect(spec, &cwd);
        // Installers that do not record origins (pip < 20.1): the name the
        // source itself declares.
        let by_name = || {
            dists::source_name(spec, &cwd)
                .and_then(|n| dists::find(&dists::Expect::Name(n), &installed))
        };
        let found = match dists::find(&expect, &installed) {
            None if matches!(expect, dists::Expect::From(_)) && !origins => by_name(),
            found => found,
        };
        match found {
            Some(d) => log.detail(&format!("{key}: {}=={}", d.name, d.version)),
            None if matches!(expect, dists::Expect::From(_))
                && !origins
                && dists::source_name(spec, &cwd).is_none() =>
            {
                log.warn(&format!(
                    "{key}: not validated: this pip does not record where distributions came from, and {} declares no readable name (give it as `name @ {}` to validate it)",
                    redact(spec),
                    redact(spec)
                ))
            }
            None => missing.push(format!("{key} ({})", redact(spec))),
        }
    }
    if plan.validate {
        if !missing.is_empty() {
            return Err(Error::build(format!(
                "validation failed: not installed in the virtualenv: {}",
                missing.join(", ")
            ))
            .with(
                "run with -v to see the installer's output, or --no-validation to skip this check",
            ));
        }
        log.info(&format!("==> validated {} requested modules", specs.len()));
    }
    log.detail("installed in the agent:");
    for d in &installed {
        log.detail(&format!("  {}=={}", d.name, d.version));
    }
    Ok(installed.into_iter().map(|d| (d.name, d.version)).collect())
}

/// The one-pass install failed: say why from the installer's output (its tail,
/// redacted, is `pass`'s details). Only when the resolver blamed a conflict is
/// each module tried alone to name the one(s) at fault; an unreachable index
/// fails once with the reason, and other failures name the modules the
/// installer's error lines name.
fn blame(installer: &dyn Installer, specs: &[(String, String)], pass: Error, log: &Log) -> Error {
    if matches!(pass.kind, crate::error::Kind::Interrupted(_)) {
        return pass;
    }
    let output = &pass.details;
    match failure::classify(output) {
        Cause::Conflict => alone(installer, specs, pass, log),
        Cause::Network => {
            let why = failure::network_reason(output)
                .unwrap_or_else(|| "see the installer's output below".into());
            let mut err = Error::build(format!(
                "{} could not reach the package index or a download: {why}",
                installer.name()
            ));
            err.details = failure::reasons(output);
            err.with("check the index URL (pip_options, PIP_INDEX_URL), the network and proxy (HTTPS_PROXY), and the CA bundle the installer trusts (PIP_CERT, SSL_CERT_FILE; a --root build shows the file inside the root)")
        }
        Cause::Other => {
            let said = failure::reasons(output);
            let named: Vec<String> = specs
                .iter()
                .filter(|(_, s)| said.iter().any(|l| l.contains(s.as_str())))
                .map(|(k, s)| format!("module {k} from {}", redact(s)))
                .collect();
            let mut err = if named.is_empty() {
                Error::build(format!(
                    "installing the modules with {} failed",
                    installer.name()
                ))
            } else {
                Error::build(format!("could not install {}", named.join(", ")))
            };
            err.details = pass.details;
            err.with(HINT)
        }
    }
}

const HINT: &str = "check the module's source and pip_options (offline builds need e.g. --no-index --find-links DIR)";

/// The resolver found the modules in conflict: try each alone to name the
/// culprit(s).
fn alone(installer: &dyn Installer, specs: &[(String, String)], pass: Error, log: &Log) -> Error {
    log.detail("the resolver found a conflict; trying each module alone to find which");
    let mut failed: Vec<(&str, &str, Error)> = Vec::new();
    for (key, spec) in specs {
        match installer.install(std::slice::from_ref(spec), log) {
            Err(e) if matches!(e.kind, crate::error::Kind::Interrupted(_)) => return e,
            Err(e) => failed.push((key, spec, e)),
            Ok(()) => {}
        }
    }
    match failed.len() {
        0 => {
            let mut err = Error::build(format!(
                "the modules could not be installed together ({} failed; each installs alone)",
                installer.name()
            ));
            err.details = pass.details;
            err.with("two modules probably require conflicting versions: read the installer's output above, or install them with -v")
        }
        _ => {
            let names: Vec<String> = failed
                .iter()
                .map(|(k, s, _)| format!("module {k} from {}", redact(s)))
                .collect();
            let mut err = Error::build(format!("could not install {}", names.join(", ")));
            err.details = failed.swap_remove(0).2.details;
            err.with(HINT)
        }
    }
}

/// The pip options a requirements file takes too, each with a value.
const FILE_OPTIONS: [&str; 5] = [
    "--index-url",
    "-i",
    "--extra-index-url",
    "--find-links",
    "-f",
];

/// What an installer run is given instead of `options` and `requirements`
/// when they hold credentials: every local user can read a command line
/// (`ps`).
pub(crate) struct Hidden {
    /// `options` less the index and find-links options with a credential.
    pub options: Vec<String>,
    /// The requirements without a credential, in order, then `-r FILE`.
    pub requirements: Vec<std::ffi::OsString>,
    /// The requirements file (only this user can read it, beside the venv),
    /// with those options and requirements: removed when this drops.
    _file: Option<tempfile::TempPath>,
}

/// Split `options` and `requirements` (what `redact` changes holds a
/// credential) into arguments and a requirements file, see [`Hidden`]. A
/// build without credentials runs exactly as before.
pub(crate) fn hide_credentials(
    options: &[String],
    requirements: &[String],
    venv: &Path,
    sandbox: &Sandbox,
) -> Result<Hidden> {
    let secret = |v: &str| redact(v) != v;
    let mut lines: Vec<String> = Vec::new();
    let mut kept: Vec<String> = Vec::new();
    let mut it = options.iter();
    while let Some(opt) = it.next() {
        let (name, inline) = match opt.split_once('=') {
            Some((n, v)) if n.starts_with("--") => (n, Some(v)),
            _ => (opt.as_str(), None),
        };
        if !FILE_OPTIONS.contains(&name) {
            kept.push(opt.clone());
            continue;
        }
        match inline.or_else(|| it.next().map(String::as_str)) {
            Some(value) if secret(value) => lines.push(format!("{name} {value}")),
            Some(value) => {
                kept.push(opt.clone());
                if inline.is_none() {
                    kept.push(value.to_string());
                }
            }
            None => kept.push(opt.clone()),
        }
    }
    let mut args: Vec<std::ffi::OsString> = Vec::new();
    for r in requirements {
        if secret(r) {
            lines.push(r.clone());
        } else {
            args.push(r.into());
        }
    }
    if lines.is_empty() {
        return Ok(Hidden {
            options: kept,
            requirements: args,
            _file: None,
        });
    }
    let dir = crate::util::paths::parent_dir(&sandbox.host_path(venv));
    // tempfile creates it 0600.
    let file = tempfile::Builder::new()
        .prefix(".cfy-ap-requirements.")
        .suffix(".txt")
        .tempfile_in(&dir)
        .and_then(|mut f| {
            std::io::Write::write_all(&mut f, (lines.join("\n") + "\n").as_bytes())?;
            Ok(f.into_temp_path())
        })
        .map_err(|e| {
            Error::io("writing a requirements file in", &dir, e)
                .with("the directory the venv is made in must be writable")
        })?;
    args.push("-r".into());
    args.push(sandbox.inside_path(file.to_path_buf()).into());
    Ok(Hidden {
        options: kept,
        requirements: args,
        _file: Some(file),
    })
}

/// `msg`, with the failed command and its output as details.
pub(crate) fn wrap(msg: String, e: Error) -> Error {
    if matches!(e.kind, crate::error::Kind::Interrupted(_)) {
        return e;
    }
    let mut err = Error::build(msg).with(e.message);
    err.details.extend(e.details);
    err
}

#[cfg(test)]
mod tests {
    use super::hide_credentials;
    use crate::agent::sandbox::Sandbox;
    use std::os::unix::fs::PermissionsExt;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn credentials_go_to_a_private_requirements_file() {
        let d = tempfile::tempdir().unwrap();
        let venv = d.path().join("env");
        let options = s(&[
            "--no-index",
            "-f",
            "/wheels",
            "--extra-index-url",
            "https://bob:PW@h/simple",
            "--index-url=https://h/simple?token=T",
        ]);
        let reqs = s(&["celery==3.1.17", "x @ https://h/x.whl?token=T2", "/src/y"]);
        let hidden = hide_credentials(&options, &reqs, &venv, &Sandbox::host()).unwrap();
        assert_eq!(hidden.options, s(&["--no-index", "-f", "/wheels"]));
        assert_eq!(hidden.requirements[..2], ["celery==3.1.17", "/src/y"]);
        assert_eq!(hidden.requirements[2], "-r");
        let file = std::path::PathBuf::from(&hidden.requirements[3]);
        assert_eq!(file.parent(), Some(d.path()));
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            "--extra-index-url https://bob:PW@h/simple\n--index-url https://h/simple?token=T\nx @ https://h/x.whl?token=T2\n"
        );
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        drop(hidden);
        assert!(!file.exists());

        // Without credentials: everything as it was, no file.
        let plain = hide_credentials(&options[..3], &reqs[..1], &venv, &Sandbox::host()).unwrap();
        assert_eq!(plain.options, options[..3]);
        assert_eq!(plain.requirements, ["celery==3.1.17"]);
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 0);
    }
}
