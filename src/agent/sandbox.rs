//! Running the build inside a root (`--root`). Every command (python, pip) runs
//! as `unshare --mount --pid --fork` (plus `--user --map-root-user` when not
//! root) around a small sh script that, in that private mount namespace, mounts
//! an overlay of the root (lower: the root, read-only; upper: a scratch directory
//! on the host), shows /dev/null etc., /proc, the host's resolv.conf, its temp
//! directory and the plan's host paths (read-only) at their own paths, and
//! `chroot`s into it. The mounts vanish with the namespace when the command ends
//! (even on kill -9), and the root itself is never written: the venv is made at
//! its final path in the overlay, and the host reads it from the upper directory.
//!
//! A [`Sandbox`] is where the build's commands run: made by [`Sandbox::start`]
//! for a plan with a root, the identity ([`Sandbox::host`]) without one. It is
//! passed down from `agent::run`; [`Sandbox::host_path`], [`Sandbox::inside_path`]
//! and [`Sandbox::wrap`] translate, on any thread.

use super::command::{Run, run};
use crate::error::{Error, IoContext, Result};
use crate::log::Log;
use crate::plan::Plan;
use crate::root::Root;
use crate::util::paths::find_on_path;
use std::ffi::OsString;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Positional arguments: lower upper work merged cwd tmp binds... -- command...
const SCRIPT: &str = r#"set -e
lower=$1 upper=$2 work=$3 m=$4 cwd=$5 tmp=$6
shift 6
mount -t overlay cfy-ap-root -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$m"
mkdir -p "$m/dev" "$m/proc" "$m/etc" "$m$tmp"
mount -t proc proc "$m/proc"
mount --bind "$tmp" "$m$tmp"
mkdir -p "$m$cwd"
# Devices and resolv.conf: best effort (an unprivileged user may not create them
# in the root's directories; the root's own then serve).
for d in null zero full random urandom tty; do
  [ -e "/dev/$d" ] || continue
  { [ -e "$m/dev/$d" ] || : > "$m/dev/$d"; } 2>/dev/null || continue
  mount --bind "/dev/$d" "$m/dev/$d"
done
if [ -e /etc/resolv.conf ] && { rm -f "$m/etc/resolv.conf" && : > "$m/etc/resolv.conf"; } 2>/dev/null; then
  mount --bind /etc/resolv.conf "$m/etc/resolv.conf"
fi
while [ "$1" != -- ]; do
  if [ -d "$1" ]; then mkdir -p "$m$1"
  else mkdir -p "$m$(dirname "$1")"; [ -e "$m$1" ] || : > "$m$1"; fi
  mount --bind "$1" "$m$1"
  mount -o remount,bind,ro "$m$1"
  shift
done
shift
exec chroot "$m" /bin/sh -c 'cd "$1" 2>/dev/null || cd /; shift; exec "$@"' sh "$cwd" "$@"
"#;

/// The overlay of a root the commands run in.
struct Overlay {
    root: Root,
    upper: PathBuf,
    work: PathBuf,
    merged: PathBuf,
    unprivileged: bool,
    /// Holds upper, work and merged; removed when the last clone of the
    /// sandbox is dropped.
    _scratch: tempfile::TempDir,
}

/// Where the build's commands run, and where their paths are on the host.
/// Clones share one overlay.
#[derive(Clone, Default)]
pub(crate) struct Sandbox {
    overlay: Option<Arc<Overlay>>,
}

impl Sandbox {
    /// The host itself: commands run as given, paths are the host's.
    pub(crate) fn host() -> Sandbox {
        Sandbox::default()
    }

    /// The sandbox of `plan`: an overlay of its root, checked by running a
    /// command in it; the host without a root.
    pub(crate) fn start(plan: &Plan, log: &Log) -> Result<Sandbox> {
        let Some(root) = &plan.root else {
            return Ok(Sandbox::host());
        };
        for tool in ["unshare", "mount", "chroot"] {
            if find_on_path(tool).is_none() {
                return Err(Error::config(format!(
                    "building in a root needs `{tool}` on the host (util-linux, coreutils)"
                )));
            }
        }
        sweep_stale();
        let scratch = tempfile::Builder::new()
            .prefix(&format!("{SCRATCH}{}.", std::process::id()))
            .tempdir()
            .map_err(|e| Error::build(format!("cannot create a scratch directory: {e}")))?;
        let dir = |name: &str| -> Result<PathBuf> {
            let p = scratch.path().join(name);
            std::fs::create_dir(&p).ctx("creating", &p)?;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755))
                .ctx("setting permissions of", &p)?;
            Ok(p)
        };
        let overlay = Overlay {
            root: root.clone(),
            upper: dir("upper")?,
            work: dir("work")?,
            merged: dir("merged")?,
            unprivileged: std::fs::metadata("/proc/self")
                .map(|m| m.uid())
                .unwrap_or(0)
                != 0,
            _scratch: scratch,
        };
        probe(overlay.unprivileged, log)?;
        log.detail(&format!(
            "building inside {} (overlay upper {})",
            root.dir.display(),
            overlay.upper.display()
        ));
        let sandbox = Sandbox {
            overlay: Some(Arc::new(overlay)),
        };
        sandbox.check_setup(root, log)?;
        Ok(sandbox)
    }

    /// Whether commands run inside a root.
    pub(crate) fn in_root(&self) -> bool {
        self.overlay.is_some()
    }

    /// Run `/bin/sh -c :` inside the root: the mounts work, or exit 2 with why.
    fn check_setup(&self, root: &Root, log: &Log) -> Result<()> {
        let (program, args) = self.wrap(&"/bin/sh".into(), &["-c".into(), ":".into()]);
        let out = std::process::Command::new(&program)
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .map_err(|e| Error::build(format!("cannot run unshare: {e}")))?;
        if out.status.success() {
            return Ok(());
        }
        let text = String::from_utf8_lossy(&out.stderr).into_owned();
        log.detail(&text);
        let mut err = Error::config(format!(
            "cannot set up the root {} for the build",
            root.dir.display()
        ));
        for line in text.lines().filter(|l| !l.trim().is_empty()).take(5) {
            err = err.with(line.to_string());
        }
        Err(err.with(
            "the root needs /bin/sh; as a user other than root, the root's files must be yours (e.g. unpacked by you)",
        ))
    }

    /// The host path of a path inside the root being built in (its overlay's upper
    /// directory); unchanged on the host.
    pub(crate) fn host_path(&self, inside: &Path) -> PathBuf {
        match &self.overlay {
            Some(s) => s.upper.join(inside.strip_prefix("/").unwrap_or(inside)),
            None => inside.to_path_buf(),
        }
    }

    /// The inverse of [`Sandbox::host_path`] for paths under the upper directory;
    /// other host paths are shown at their own path inside, so they stay.
    pub(crate) fn inside_path(&self, host: PathBuf) -> PathBuf {
        match &self.overlay {
            Some(s) => match host.strip_prefix(&s.upper) {
                Ok(rel) => Path::new("/").join(rel),
                Err(_) => host,
            },
            None => host,
        }
    }

    /// The program and arguments that run `program args` inside the root.
    pub(crate) fn wrap(&self, program: &OsString, args: &[OsString]) -> (OsString, Vec<OsString>) {
        let Some(s) = &self.overlay else {
            return (program.clone(), args.to_vec());
        };
        let mut v: Vec<OsString> = unshare_args(s.unprivileged)
            .into_iter()
            .map(OsString::from)
            .collect();
        v.extend(["--", "/bin/sh", "-c", SCRIPT, "cfy-ap-root"].map(OsString::from));
        for p in [&s.root.dir, &s.upper, &s.work, &s.merged, &s.root.cwd] {
            v.push(p.clone().into_os_string());
        }
        v.push(std::env::temp_dir().into_os_string());
        v.extend(s.root.binds.iter().map(|b| b.clone().into_os_string()));
        v.push("--".into());
        v.push(program.clone());
        v.extend(args.iter().cloned());
        ("unshare".into(), v)
    }
}

fn unshare_args(unprivileged: bool) -> Vec<&'static str> {
    let mut v = Vec::new();
    if unprivileged {
        v.extend(["--user", "--map-root-user"]);
    }
    v.extend([
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
    ]);
    v
}

/// Can this process make a private mount namespace? If not, say what is needed.
fn probe(unprivileged: bool, log: &Log) -> Result<()> {
    let out = std::process::Command::new("unshare")
        .args(unshare_args(unprivileged))
        .arg("true")
        .output();
    match out {
        Ok(o) if o.status.success() => Ok(()),
        other => {
            let why = match other {
                Ok(o) => String::from_utf8_lossy(&o.stderr).trim().to_string(),
                Err(e) => e.to_string(),
            };
            log.detail(&format!("unshare failed: {why}"));
            Err(Error::config(format!(
                "building in a root needs a private mount namespace, and unshare failed: {why}"
            ))
            .with(if unprivileged {
                "run as root, or allow unprivileged user namespaces (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)"
            } else {
                "run where mounting is allowed (in a container: give it CAP_SYS_ADMIN)"
            }))
        }
    }
}

/// Scratch directories are `<temp>/cfy-ap-root.<pid>.<random>`.
const SCRATCH: &str = "cfy-ap-root.";

/// Remove the scratch directories of earlier runs that were killed (Ctrl-C, kill)
/// before they could clean up: those whose process is gone.
fn sweep_stale() {
    let Ok(entries) = std::fs::read_dir(std::env::temp_dir()) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix(SCRATCH)
            .and_then(|r| r.split('.').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Remove an existing venv (`--force`): on the host, or inside the root's overlay.
pub(super) fn remove_venv(plan: &Plan, sandbox: &Sandbox, log: &Log) -> Result<()> {
    if plan.root.is_none() {
        return std::fs::remove_dir_all(&plan.venv)
            .map_err(|e| Error::io("removing the old virtualenv", &plan.venv, e));
    }
    let code = "import shutil, sys; shutil.rmtree(sys.argv[1])";
    run(
        Run::new(&plan.python).args(["-c", code]).arg(&plan.venv),
        sandbox,
        log,
    )
    .map(drop)
    .map_err(|e| Error::build("removing the old virtualenv in the root failed").with(e.message))
}

/// `keep_venv` in a root: copy the finished venv (`built`, on the host) into the
/// root at its path there, replacing an old one.
pub(super) fn keep_in_root(plan: &Plan, built: &Path) -> Result<PathBuf> {
    let dest = plan.venv_on_host();
    if dest.exists() {
        std::fs::remove_dir_all(&dest).ctx("removing the old virtualenv", &dest)?;
    }
    if let Some(parent) = dest.parent() {
        std::fs::create_dir_all(parent).ctx("creating", parent)?;
    }
    let out = std::process::Command::new("cp")
        .arg("-a")
        .arg(built)
        .arg(&dest)
        .output()
        .map_err(|e| Error::build(format!("cannot run cp: {e}")))?;
    if !out.status.success() {
        return Err(Error::build(format!(
            "copying the virtualenv into the root at {} failed",
            dest.display()
        ))
        .with(String::from_utf8_lossy(&out.stderr).trim().to_string()));
    }
    Ok(dest)
}
