//! The agent's CPU architecture: detected from the ELF header of the interpreter
//! it is built with (the root's with `--root`, links resolved inside the root;
//! the root's /bin/sh when that Python is not an ELF file), or the host's when
//! nothing can be read. The config's `architecture:` must agree with it. For a
//! root, also whether its programs can run here at all (`root::binfmt`). All
//! before any work.

use crate::debian::arch::{self, canonical, host};
use crate::error::{Error, Result};
use crate::root::Root;
use crate::root::binfmt::{self, Runs};
use crate::util::elf::Head;
use serde_saphyr::Spanned;
use std::path::{Path, PathBuf};

/// The resolved architecture and what the plan says about it.
pub(super) struct Resolved {
    /// [`canonical`] spelling (`x86_64`, `aarch64`).
    pub name: String,
    /// How it was found (and how the root's programs run), for the plan display.
    pub note: String,
}

/// What an executable's header says: (canonical name, where it was read, header).
type Found = (String, String, Head);

/// The architecture of the first ELF executable among `candidates` (host paths,
/// with the name shown for each).
fn read_first(candidates: &[(PathBuf, String)]) -> Option<Found> {
    candidates.iter().find_map(|(path, shown)| {
        let head = Head::read(path).ok()?;
        let machine = head.machine()?;
        Some((canonical(machine), shown.clone(), head))
    })
}

/// `configured`: the config's `architecture:` (with its place in `origin`, the
/// config file); `python`: the interpreter (inside `root` when there is one);
/// None with `--from-tar`.
pub(super) fn resolve(
    configured: Option<&Spanned<String>>,
    origin: Option<&Path>,
    root: Option<&Root>,
    python: Option<&Path>,
) -> Result<Resolved> {
    let candidates: Vec<(PathBuf, String)> = match (root, python) {
        (_, None) => Vec::new(),
        (Some(r), Some(py)) => [py, Path::new("/bin/sh")]
            .iter()
            .filter_map(|inside| {
                let host = crate::root::paths::resolve(&r.dir, inside)?;
                Some((host, format!("the root's {}", inside.display())))
            })
            .collect(),
        (None, Some(py)) => vec![(py.to_path_buf(), py.display().to_string())],
    };
    if let Some(c) = configured {
        let v = c.value.trim();
        if !arch::is_name(v) {
            return Err(Error::config(format!(
                "{}architecture: {v:?} is not an architecture name (arm64 or aarch64, amd64 or x86_64, ppc64el, s390x...)",
                place(c, origin)
            )));
        }
    }
    let host = canonical(host());
    let mut found = read_first(&candidates).map(|(a, from, head)| (a, from, Some(head)));
    if found.is_none() && root.is_none() && python.is_some() {
        // A wrapper script (a pyenv shim) runs some interpreter of this host.
        let why = "this host: the interpreter is not an ELF executable";
        found = Some((host.clone(), why.to_string(), None));
    }
    let (name, mut note) = match (&found, configured) {
        (Some((arch, from, _)), None) => (arch.clone(), format!("detected from {from}")),
        (Some((arch, from, _)), Some(c)) => {
            if canonical(c.value.trim()) != *arch {
                return Err(mismatch(c, origin, arch, from));
            }
            (
                arch.clone(),
                format!("architecture:, as detected from {from}"),
            )
        }
        (None, Some(c)) => (canonical(c.value.trim()), "architecture:".to_string()),
        (None, None) if root.is_some() => (
            host.clone(),
            "this host's: neither the root's Python nor its /bin/sh is an ELF executable"
                .to_string(),
        ),
        (None, None) => (host.clone(), "this host's".to_string()),
    };
    if let (Some(r), Some((arch, from, Some(head)))) = (root, &found) {
        match binfmt::check(Path::new(binfmt::DIR), &r.dir, head, arch, &host) {
            Ok(Runs::Natively) => {}
            Ok(Runs::Through(handler, interpreter)) => note.push_str(&format!(
                "; emulated here through binfmt_misc handler {handler} ({})",
                interpreter.display()
            )),
            Err(why) => return Err(not_runnable(r, arch, from, &why)),
        }
    }
    Ok(Resolved { name, note })
}

/// `file:line:col: ` of the config's value (what config errors start with).
fn place(c: &Spanned<String>, origin: Option<&Path>) -> String {
    let at = c.referenced;
    match origin {
        Some(o) if at.line() > 0 => format!("{}:{}:{}: ", o.display(), at.line(), at.column()),
        Some(o) => format!("{}: ", o.display()),
        None => String::new(),
    }
}

fn mismatch(c: &Spanned<String>, origin: Option<&Path>, arch: &str, from: &str) -> Error {
    Error::config(format!(
        "{}architecture: {} does not match the agent's, {arch} (detected from {from})",
        place(c, origin),
        c.value.trim()
    ))
    .with("remove `architecture:` (it is detected), or build with an interpreter for that architecture (--root DIR: a root filesystem of that architecture)")
}

fn not_runnable(root: &Root, arch: &str, from: &str, why: &str) -> Error {
    let qemu = format!("/usr/lib/binfmt.d/qemu-{arch}.conf");
    let register = if Path::new(&qemu).is_file() {
        format!(
            "; to register it now: cat {qemu} > {}/register",
            binfmt::DIR
        )
    } else {
        String::new()
    };
    Error::config(format!(
        "cannot run the programs of the root {} here ({from} is {arch}): {why}",
        root.dir.display()
    ))
    .with(format!(
        "install qemu-user-static (apt-get install qemu-user-static) and make sure binfmt_misc is mounted (mount -t binfmt_misc binfmt_misc {}) with qemu's {arch} handler registered{register}",
        binfmt::DIR
    ))
}
