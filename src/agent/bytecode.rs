//! Compiling `site-packages` to `.pyc` after the install pass, for both
//! installers (pip runs with `--no-compile`), on all cores and reproducibly.
//!
//! pip compiles file by file in its one process; uv's `--compile-bytecode` hands
//! files to worker processes as they become free, and a `.pyc` depends on what its
//! process compiled before (marshal marks objects it has seen as shared), so two
//! uv builds differed in a few files. Here the sorted file list is cut into a fixed
//! number of contiguous chunks, each compiled in order by a fresh interpreter with
//! `PYTHONHASHSEED=0`: the output depends only on the files, whatever the machine.
//! With `SOURCE_DATE_EPOCH` set the `.pyc` are hash-based (checked), as pip makes
//! them; otherwise timestamp-based. Python 2 writes `x.pyc` beside `x.py`.

use crate::error::{Error, Result};
use crate::log::Log;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Fixed, so the chunks (and the bytes) do not depend on the machine.
const CHUNKS: usize = 4;

const COMPILE: &str = r#"
import os, sys, py_compile
kw = {}
if hasattr(py_compile, "PycInvalidationMode"):
    mode = py_compile.PycInvalidationMode
    kw["invalidation_mode"] = mode.CHECKED_HASH if os.environ.get("SOURCE_DATE_EPOCH") else mode.TIMESTAMP
failed = 0
for line in sys.stdin.read().split("\0"):
    if line:
        try:
            py_compile.compile(line, doraise=True, **kw)
        except Exception:
            failed += 1
print(failed)
"#;

/// Compile every `.py` below the virtualenv's `site-packages`; returns how many
/// files were compiled and how many could not be (syntax for another Python,
/// templates), which pip skips the same way.
pub fn compile(venv: &Path, log: &Log) -> Result<(usize, usize)> {
    let mut files: Vec<PathBuf> = Vec::new();
    // Listed where the files are (the host, or a root's overlay); named for the
    // venv's Python as it sees them.
    for sp in super::dists::site_packages(&super::root::host_path(venv))? {
        for e in walkdir::WalkDir::new(&sp).sort_by_file_name() {
            let e = e.map_err(|e| Error::build(format!("reading {}: {e}", sp.display())))?;
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "py") {
                files.push(super::root::inside_path(e.into_path()));
            }
        }
    }
    let python = venv.join("bin/python");
    let size = files.len().div_ceil(CHUNKS).max(1);
    log.detail(&format!(
        "$ {} -c <compile> ({} files in {} fixed chunks)",
        python.display(),
        files.len(),
        files.chunks(size).len()
    ));
    let mut children = Vec::new();
    // Inside a `--root` every process mounts the root's one overlay: one at a time.
    let sequential = super::root::active();
    let mut failed_early = 0;
    for chunk in files.chunks(size) {
        // In a `--root` build the interpreter runs inside the root (root.rs).
        let (program, args) = super::root::wrap(
            &python.clone().into_os_string(),
            &["-c".into(), COMPILE.into()],
        );
        let mut child = Command::new(program)
            .args(args)
            .env("PYTHONHASHSEED", "0")
            .env_remove("PYTHONDONTWRITEBYTECODE")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| Error::build(format!("cannot run {}: {e}", python.display())))?;
        let mut list = Vec::new();
        for f in chunk {
            list.extend_from_slice(f.as_os_str().as_encoded_bytes());
            list.push(0);
        }
        let mut stdin = child.stdin.take().expect("piped stdin");
        std::thread::spawn(move || {
            let _ = stdin.write_all(&list);
        });
        if sequential {
            failed_early += finish(child)?;
        } else {
            children.push(child);
        }
    }
    let mut failed = failed_early;
    for child in children {
        failed += finish(child)?;
    }
    Ok((files.len() - failed, failed))
}

/// Wait for one compiling process; how many files it could not compile.
fn finish(child: std::process::Child) -> Result<usize> {
    let out = child
        .wait_with_output()
        .map_err(|e| Error::build(format!("compiling bytecode: {e}")))?;
    if !out.status.success() {
        return Err(
            Error::build("compiling the installed modules to bytecode failed")
                .with(String::from_utf8_lossy(&out.stderr).trim().to_string()),
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse::<usize>()
        .unwrap_or(0))
}
