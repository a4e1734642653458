//! Compiling the virtualenv's modules (`site-packages`) to `.pyc` after the
//! install pass, for both installers (pip runs with `--no-compile`), on all
//! cores and reproducibly.
//!
//! A `.pyc` can depend on what its process compiled before: marshal flags an
//! object as shared when its reference count is above one, and strings interned
//! or cached by earlier work (a codec module loaded for one file, a 1-character
//! string) count. So uv's `--compile-bytecode`, which hands files to whichever
//! worker is free, made builds that differed in a few files. Two ways out here:
//!
//! * CPython 3.7 to 3.10 (`PINNED`): each file's code tree is pinned (one more
//!   reference to every object in it) before it is marshalled, every latin-1
//!   one-character string is interned up front and warnings are ignored, so
//!   every object is flagged and identity alone decides the references: a
//!   file's bytes are the same whatever was compiled before (checked on the
//!   agent's files and each stdlib, in every order, against one process per
//!   file). That is what lets the bytecode cache (`pyc_cache`) skip compiling.
//! * Older Pythons: the sorted file list is cut into a fixed number of
//!   contiguous chunks, each compiled in order by a fresh interpreter, so the
//!   output depends only on the files. No cache.
//!
//! Always `PYTHONHASHSEED=0`. With `SOURCE_DATE_EPOCH` set the `.pyc` are
//! hash-based (checked), as pip makes them, on Python 3.7 and later; otherwise
//! timestamp-based: the header holds the source's mtime, and Python compiles
//! the source again (at every start, where it cannot write) when that is not
//! the mtime the file has where the agent is unpacked. So each source is first
//! given the mtime the tar will store for it (`archive::member_mtime`: clamped
//! to `SOURCE_DATE_EPOCH`), and the `.pyc` and the tar agree, build after build.
//! Python 2 writes `x.pyc` beside `x.py`.
//!
//! Compiled: every `.py` file in the virtualenv's `lib/pythonX.Y/` (not
//! following links): `site-packages`, and virtualenv's own `site.py` of a
//! Python 2 virtualenv, whose `.pyc` the installer's run left behind.

use super::pyc_cache::PycCache;
use super::python::{Interpreter, PycId};
use super::sandbox::Sandbox;
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use std::io::Write;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Fixed, so the chunks (and the bytes) do not depend on the machine.
const CHUNKS: usize = 4;

/// CPython 3.<minor> whose per-file bytes `COMPILE_PINNED` makes independent.
const PINNED: std::ops::RangeInclusive<u32> = 7..=10;

/// Whether builds with this interpreter use the bytecode cache: CPython 3.7 to
/// 3.10 only (`PINNED`).
pub(super) fn uses_cache(pyc: Option<&PycId>) -> bool {
    pyc.is_some_and(|p| PINNED.contains(&p.minor))
}

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

/// py_compile's work (same header, path, file mode), with every object of the
/// code tree pinned while it is marshalled (see the module doc).
const COMPILE_PINNED: &str = r#"
import importlib.util, marshal, os, sys, warnings
from importlib._bootstrap_external import _calc_mode, _write_atomic
from types import CodeType
warnings.simplefilter("ignore")
for i in range(256):
    sys.intern(chr(i))
sys.intern("")
ATTRS = [a for a in ("co_code", "co_consts", "co_names", "co_varnames", "co_freevars",
         "co_cellvars", "co_filename", "co_name", "co_linetable", "co_lnotab")
         if hasattr(CodeType, a)]
if "co_linetable" in ATTRS:
    ATTRS.remove("co_lnotab")
def pin(obj, keep):
    keep.append(obj)
    if type(obj) in (tuple, frozenset):
        for x in obj:
            pin(x, keep)
    elif type(obj) is CodeType:
        for a in ATTRS:
            pin(getattr(obj, a), keep)
checked = bool(os.environ.get("SOURCE_DATE_EPOCH"))
failed = 0
for path in sys.stdin.read().split("\0"):
    if not path:
        continue
    try:
        with open(path, "rb") as f:
            src = f.read()
        code = compile(src, path, "exec", dont_inherit=True)
        keep = []
        pin(code, keep)
        if checked:
            head = (3).to_bytes(4, "little") + importlib.util.source_hash(src)
        else:
            st = os.stat(path)
            head = (0).to_bytes(4, "little") + (int(st.st_mtime) & 0xFFFFFFFF).to_bytes(4, "little") + (st.st_size & 0xFFFFFFFF).to_bytes(4, "little")
        data = importlib.util.MAGIC_NUMBER + head + marshal.dumps(code)
        del keep
        cfile = importlib.util.cache_from_source(path)
        os.makedirs(os.path.dirname(cfile), exist_ok=True)
        _write_atomic(cfile, data, _calc_mode(path))
    except Exception:
        failed += 1
print(failed)
"#;

/// What `compile` did.
#[derive(Debug, Default, PartialEq, Eq)]
pub(super) struct Compiled {
    pub compiled: usize,
    /// Not compilable (syntax for another Python, templates): skipped, as pip does.
    pub failed: usize,
    /// Of `compiled`, taken from the bytecode cache.
    pub cached: usize,
}

/// Compile every `.py` of the virtualenv's `lib/pythonX.Y/` with
/// `interpreter`; `cache` is the bytecode cache.
pub(super) fn compile(
    venv: &Path,
    interpreter: &Interpreter,
    cache: Option<&Path>,
    sandbox: &Sandbox,
    log: &Log,
) -> Result<Compiled> {
    let pyc = interpreter.pyc.as_ref();
    let mut files: Vec<PathBuf> = Vec::new();
    // Listed where the files are (the host, or a root's overlay); named for the
    // venv's Python as it sees them.
    for sp in super::dists::site_packages(&sandbox.host_path(venv))? {
        let lib = crate::util::paths::parent_dir(&sp);
        for e in walkdir::WalkDir::new(&lib).sort_by_file_name() {
            let e = e.map_err(|e| Error::build(format!("reading {}: {e}", lib.display())))?;
            if e.file_type().is_file() && e.path().extension().is_some_and(|x| x == "py") {
                files.push(sandbox.inside_path(e.into_path()));
            }
        }
    }
    let checked = std::env::var_os("SOURCE_DATE_EPOCH").is_some_and(|v| !v.is_empty());
    if !(checked && interpreter.at_least(3, 7)) {
        let set = set_mtimes(&files, crate::util::epoch::source_date_epoch()?, sandbox)?;
        if set > 0 {
            log.detail(&format!(
                "{set} sources given the mtime the tar stores (their timestamp .pyc hold it)"
            ));
        }
    }
    let python = venv.join("bin/python");
    let Some(id) = pyc.filter(|p| uses_cache(Some(p))) else {
        let failed = chunks(&python, COMPILE, &files, sandbox, log)?;
        return Ok(Compiled {
            compiled: files.len() - failed,
            failed,
            cached: 0,
        });
    };
    // A `--root` build compiles inside the root: no cache there.
    let cache = cache
        .filter(|_| !sandbox.in_root())
        .map(|dir| PycCache::new(dir, id, checked, COMPILE_PINNED));
    let Some(cache) = cache else {
        let failed = chunks(&python, COMPILE_PINNED, &files, sandbox, log)?;
        return Ok(Compiled {
            compiled: files.len() - failed,
            failed,
            cached: 0,
        });
    };
    for why in &cache.skipped {
        log.detail(&format!("bytecode cache: skipped {why}"));
    }
    let looked =
        crate::util::parallel::parallel_map(&files, |f| from_cache(&cache, f, id, sandbox));
    let mut misses: Vec<(PathBuf, String)> = Vec::new();
    for (f, r) in files.iter().zip(looked) {
        if let Some(key) = r? {
            misses.push((f.clone(), key));
        }
    }
    let cached = files.len() - misses.len();
    log.detail(&format!(
        "{cached} of {} files from the bytecode cache {}",
        files.len(),
        cache.root().display()
    ));
    let todo: Vec<PathBuf> = misses.iter().map(|(f, _)| f.clone()).collect();
    let failed = chunks(&python, COMPILE_PINNED, &todo, sandbox, log)?;
    // One pack for every new entry (see `pyc_cache`).
    let fresh = crate::util::parallel::parallel_map(&misses, |(f, key)| {
        std::fs::read(pyc_path(f, id)).map(|pyc| (key.clone(), pyc))
    });
    let fresh: Vec<(String, Vec<u8>)> = fresh.into_iter().flatten().collect();
    let stored = if fresh.is_empty() {
        0
    } else {
        cache.store(&fresh)
    };
    if stored < misses.len() - failed {
        log.detail(&format!(
            "{} compiled files could not be added to the bytecode cache",
            misses.len() - failed - stored
        ));
    }
    Ok(Compiled {
        compiled: files.len() - failed,
        failed,
        cached,
    })
}

/// Give each of `files` the mtime the tar will store for it
/// (`archive::member_mtime`); how many changed. A file hard-linked elsewhere
/// (uv's cache) is replaced by a copy, never changed in place.
fn set_mtimes(files: &[PathBuf], clamp: Option<u64>, sandbox: &Sandbox) -> Result<usize> {
    let hosts: Vec<PathBuf> = files.iter().map(|f| sandbox.host_path(f)).collect();
    let set = crate::util::parallel::parallel_map(&hosts, |host| -> Result<bool> {
        let meta = std::fs::symlink_metadata(host).ctx("reading", host)?;
        let stored = crate::archive::member_mtime(meta.mtime(), clamp);
        if meta.mtime() == stored as i64 {
            return Ok(false);
        }
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(stored);
        if meta.nlink() > 1 {
            let data = std::fs::read(host).ctx("reading", host)?;
            crate::util::atomic::replace_contents(host, &data, Some(time))
        } else {
            std::fs::File::open(host)
                .and_then(|file| file.set_times(std::fs::FileTimes::new().set_modified(time)))
        }
        .ctx("setting the modification time of", host)?;
        Ok(true)
    });
    let mut n = 0;
    for r in set {
        n += usize::from(r?);
    }
    Ok(n)
}

/// Write `file`'s `.pyc` from the cache, as the compiling script would have
/// (same path, same mode); None on a hit, else the key to store it under.
fn from_cache(
    cache: &PycCache,
    file: &Path,
    id: &PycId,
    sandbox: &Sandbox,
) -> Result<Option<String>> {
    let host = sandbox.host_path(file);
    let source = std::fs::read(&host).ctx("reading", &host)?;
    let meta = std::fs::metadata(&host).ctx("reading", &host)?;
    let key = cache.key(file, &source);
    let Some(pyc) = cache.load(&key, (meta.mtime() as u32, meta.size() as u32)) else {
        return Ok(Some(key));
    };
    let dest = sandbox.host_path(&pyc_path(file, id));
    let dir = crate::util::paths::parent_dir(&dest);
    std::fs::create_dir_all(&dir).ctx("creating", &dir)?;
    // A new file renamed into place, as the compiling script does: an existing
    // `.pyc` (or a stale temporary name) may be hard-linked from uv's cache, so
    // nothing here is ever opened for writing in place.
    let tmp = dest.with_extension("pyc.cfy-ap-tmp");
    let create = || {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode((meta.mode() | 0o200) & 0o666)
            .open(&tmp)
    };
    let mut out = match create() {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::remove_file(&tmp).ctx("removing", &tmp)?;
            create()
        }
        other => other,
    }
    .ctx("writing", &tmp)?;
    out.write_all(&pyc).ctx("writing", &tmp)?;
    drop(out);
    std::fs::rename(&tmp, &dest).ctx("writing", &dest)?;
    Ok(None)
}

/// `importlib.util.cache_from_source`: `d/x.py` → `d/__pycache__/x.<tag>.pyc`.
fn pyc_path(file: &Path, id: &PycId) -> PathBuf {
    let name = file.file_name().unwrap_or_default().to_string_lossy();
    let stem = name.strip_suffix(".py").unwrap_or(&name);
    crate::util::paths::parent_dir(file)
        .join("__pycache__")
        .join(format!("{stem}.{}.pyc", id.cache_tag))
}

/// Compile `files` with `script` in `CHUNKS` fixed chunks; how many failed.
fn chunks(
    python: &Path,
    script: &str,
    files: &[PathBuf],
    sandbox: &Sandbox,
    log: &Log,
) -> Result<usize> {
    if files.is_empty() {
        return Ok(0);
    }
    let size = files.len().div_ceil(CHUNKS).max(1);
    log.detail(&format!(
        "$ {} -c <compile> ({} files in {} fixed chunks)",
        python.display(),
        files.len(),
        files.chunks(size).len()
    ));
    let mut children = Vec::new();
    // Inside a `--root` every process mounts the root's one overlay: one at a time.
    let sequential = sandbox.in_root();
    let mut failed = Ok(0);
    let mut add = |r: Result<usize>| match (&mut failed, r) {
        (Ok(n), Ok(m)) => *n += m,
        (Ok(_), Err(e)) => failed = Err(e),
        _ => {}
    };
    for chunk in files.chunks(size) {
        // In a `--root` build the interpreter runs inside the root (sandbox.rs).
        let (program, args) = sandbox.wrap(
            &python.as_os_str().to_owned(),
            &["-c".into(), script.into()],
        );
        let mut child = Command::new(program)
            .args(args)
            .env("PYTHONHASHSEED", "0")
            // No bytecode written by imports: the venv's `.pth` files import
            // modules at start-up (`_virtualenv`, `_distutils_hack`), and a
            // chunk starting up while another compiles one of them would
            // race it, leaving a timestamp-based `.pyc` (the source's mtime)
            // in place of the pinned, hash-based one. The scripts write
            // theirs explicitly (py_compile, `_write_atomic`), flag or not.
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("PYTHONOPTIMIZE")
            .env_remove("PYTHONPYCACHEPREFIX")
            // Stopped as a group on a signal (`command::wait`).
            .process_group(0)
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
            add(finish(child));
        } else {
            children.push(child);
        }
    }
    // Every child is waited for (and stopped on a signal), even after one failed.
    for child in children {
        add(finish(child));
    }
    failed
}

/// Wait for one compiling process; how many files it could not compile.
fn finish(mut child: std::process::Child) -> Result<usize> {
    let read = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        pipe.map(|mut p| {
            std::thread::spawn(move || {
                let mut bytes = Vec::new();
                let _ = p.read_to_end(&mut bytes);
                bytes
            })
        })
    };
    let stdout = read(child.stdout.take().map(|p| Box::new(p) as _));
    let stderr = read(child.stderr.take().map(|p| Box::new(p) as _));
    let status = super::command::wait(&mut child).map_err(|e| match e.kind {
        crate::error::Kind::Build => Error::build(format!("compiling bytecode: {}", e.message)),
        _ => e,
    })?;
    let text = |t: Option<std::thread::JoinHandle<Vec<u8>>>| {
        String::from_utf8_lossy(&t.map(|t| t.join().unwrap_or_default()).unwrap_or_default())
            .trim()
            .to_string()
    };
    if !status.success() {
        return Err(
            Error::build("compiling the installed modules to bytecode failed")
                .with(crate::util::redact::redact(&text(stderr))),
        );
    }
    Ok(text(stdout).parse::<usize>().unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A venv-like tree around the system's python3 (the tests' Python)
    /// whose site-packages has a `.pth` importing `started` at start-up, as
    /// `_virtualenv.pth` does.
    fn venv_with_pth(dir: &Path) -> (PathBuf, PathBuf) {
        let real = std::fs::canonicalize("/usr/bin/python3").unwrap();
        let out = Command::new(&real)
            .args(["-c", "import sys; print('%d.%d' % sys.version_info[:2])"])
            .output()
            .expect("python3");
        let ver = String::from_utf8(out.stdout).unwrap().trim().to_string();
        let sp = dir.join(format!("lib/python{ver}/site-packages"));
        std::fs::create_dir_all(&sp).unwrap();
        std::fs::create_dir_all(dir.join("bin")).unwrap();
        std::os::unix::fs::symlink(&real, dir.join("bin/python")).unwrap();
        let home = real.parent().unwrap().display().to_string();
        std::fs::write(dir.join("pyvenv.cfg"), format!("home = {home}\n")).unwrap();
        std::fs::write(sp.join("started.pth"), "import started\n").unwrap();
        std::fs::write(sp.join("started.py"), "X = 1\n").unwrap();
        std::fs::write(sp.join("mod.py"), "Y = 2\n").unwrap();
        (dir.join("bin/python"), sp)
    }

    #[test]
    fn compiling_writes_only_the_listed_files_bytecode() {
        let t = tempfile::tempdir().unwrap();
        let (python, sp) = venv_with_pth(t.path());
        let log = Log::new(false, true);
        let failed = chunks(
            &python,
            COMPILE,
            &[sp.join("mod.py")],
            &Sandbox::host(),
            &log,
        )
        .unwrap();
        assert_eq!(failed, 0);
        let cache: Vec<String> = std::fs::read_dir(sp.join("__pycache__"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        // `started` was imported by every compiling process, and left no
        // bytecode of its own (which could race a chunk compiling it).
        assert_eq!(cache.len(), 1, "{cache:?}");
        assert!(cache[0].starts_with("mod."), "{cache:?}");
    }
}
