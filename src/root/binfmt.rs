//! Whether a root's programs can run on this host, told before any work from
//! their ELF header and the kernel's binfmt_misc table, without running
//! anything: natively (the host's architecture, or i686 on x86_64), or through
//! an enabled handler (qemu-user) whose magic matches the header and whose
//! interpreter the kernel can reach from inside the root (flag F: opened when
//! registered; else the path must exist in the root).

use crate::util::elf::Head;
use std::path::{Path, PathBuf};

/// Where the kernel shows binfmt_misc.
pub(crate) const DIR: &str = "/proc/sys/fs/binfmt_misc";

/// How the root's programs run here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Runs {
    Natively,
    /// Through this binfmt_misc handler (its name, its interpreter).
    Through(String, PathBuf),
}

/// One registered handler (a file in [`DIR`] other than `register`/`status`).
#[derive(Debug)]
struct Entry {
    name: String,
    enabled: bool,
    interpreter: PathBuf,
    /// Flag F: the interpreter was opened at registration, so it works in a chroot.
    fixed: bool,
    offset: usize,
    magic: Vec<u8>,
    mask: Vec<u8>,
}

impl Entry {
    /// A handler's file; None for extension handlers and what cannot be read.
    fn parse(name: &str, text: &str) -> Option<Entry> {
        let mut e = Entry {
            name: name.to_string(),
            enabled: false,
            interpreter: PathBuf::new(),
            fixed: false,
            offset: 0,
            magic: Vec::new(),
            mask: Vec::new(),
        };
        for line in text.lines() {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "enabled" => e.enabled = true,
                "interpreter" => e.interpreter = PathBuf::from(value),
                "flags:" => e.fixed = value.contains('F'),
                "offset" => e.offset = value.parse().ok()?,
                "magic" => e.magic = hex(value)?,
                "mask" => e.mask = hex(value)?,
                _ => {}
            }
        }
        (!e.magic.is_empty()).then_some(e)
    }

    fn matches(&self, head: &Head) -> bool {
        let Some(bytes) = head.0.get(self.offset..self.offset + self.magic.len()) else {
            return false;
        };
        bytes
            .iter()
            .zip(&self.magic)
            .enumerate()
            .all(|(i, (b, m))| {
                let mask = self.mask.get(i).copied().unwrap_or(0xff);
                b & mask == m & mask
            })
    }
}

fn hex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// Whether the kernel runs `arch` (canonical) programs without help on a `host`.
fn native(arch: &str, host: &str) -> bool {
    arch == host || (host == "x86_64" && arch == "i686")
}

/// How a program with header `head` (of architecture `arch`, canonical) runs
/// inside the root `root` on a `host` whose binfmt_misc is `dir`; Err says why
/// it cannot (one sentence, without the remedy).
pub(crate) fn check(
    dir: &Path,
    root: &Path,
    head: &Head,
    arch: &str,
    host: &str,
) -> Result<Runs, String> {
    if native(arch, host) {
        return Ok(Runs::Natively);
    }
    let not_here = format!("its programs are {arch} and this host is {host}");
    match std::fs::read_to_string(dir.join("status")) {
        Ok(s) if s.trim() == "enabled" => {}
        Ok(_) => return Err(format!("{not_here}, and binfmt_misc is disabled")),
        Err(_) => {
            return Err(format!(
                "{not_here}, and binfmt_misc is not mounted at {}",
                dir.display()
            ));
        }
    }
    let mut entries: Vec<Entry> = std::fs::read_dir(dir)
        .map_err(|e| format!("{not_here}, and {} cannot be read: {e}", dir.display()))?
        .flatten()
        .filter_map(|f| {
            let name = f.file_name().to_string_lossy().into_owned();
            if name == "register" || name == "status" {
                return None;
            }
            Entry::parse(&name, &std::fs::read_to_string(f.path()).ok()?)
        })
        .filter(|e| e.enabled && e.matches(head))
        .collect();
    // The kernel tries the most recently registered first; any one will do here.
    entries.sort_by(|a, b| a.name.cmp(&b.name));
    let Some(first) = entries.first() else {
        return Err(format!(
            "{not_here}, and no enabled binfmt_misc handler (qemu-user) runs {arch} programs"
        ));
    };
    let reachable = |e: &Entry| {
        e.fixed || super::paths::resolve(root, &e.interpreter).is_some_and(|p| p.is_file())
    };
    match entries.iter().find(|e| reachable(e)) {
        Some(e) => Ok(Runs::Through(e.name.clone(), e.interpreter.clone())),
        None => Err(format!(
            "{not_here}; the binfmt_misc handler {} runs them with {}, but it is registered without the F flag, so the kernel looks for that file inside the root, where it does not exist",
            first.name,
            first.interpreter.display()
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const QEMU: &str = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POF\noffset 0\nmagic 7f454c460201010000000000000000000200b700\nmask ffffffffffffff00fffffffffffffffffeffffff\n";

    fn table(entries: &[(&str, &str)]) -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("status"), "enabled\n").unwrap();
        std::fs::write(t.path().join("register"), "").unwrap();
        for (name, text) in entries {
            std::fs::write(t.path().join(name), text).unwrap();
        }
        t
    }

    #[test]
    fn a_matching_handler_runs_foreign_programs() {
        let root = tempfile::tempdir().unwrap();
        let arm = Head::fake(true, true, 0xb7);
        let s390 = Head::fake(true, false, 0x16);
        let t = table(&[
            ("qemu-aarch64", QEMU),
            ("python3.11", "enabled\nextension .py\n"),
        ]);
        let got = check(t.path(), root.path(), &arm, "aarch64", "x86_64").unwrap();
        assert_eq!(
            got,
            Runs::Through(
                "qemu-aarch64".into(),
                "/usr/libexec/qemu-binfmt/aarch64-binfmt-P".into()
            )
        );
        let why = check(t.path(), root.path(), &s390, "s390x", "x86_64").unwrap_err();
        assert!(why.contains("no enabled binfmt_misc handler"), "{why}");
        // The host's own, and i686 on x86_64: native, whatever the table says.
        let none = tempfile::tempdir().unwrap();
        let x86 = Head::fake(true, true, 0x3e);
        assert_eq!(
            check(none.path(), root.path(), &x86, "x86_64", "x86_64"),
            Ok(Runs::Natively)
        );
        let i686 = Head::fake(false, true, 0x03);
        assert_eq!(
            check(none.path(), root.path(), &i686, "i686", "x86_64"),
            Ok(Runs::Natively)
        );
    }

    #[test]
    fn disabled_unmounted_and_unreachable_handlers() {
        let root = tempfile::tempdir().unwrap();
        let arm = Head::fake(true, true, 0xb7);
        let none = tempfile::tempdir().unwrap();
        let why = check(none.path(), root.path(), &arm, "aarch64", "x86_64").unwrap_err();
        assert!(why.contains("binfmt_misc is not mounted"), "{why}");
        assert!(why.contains("its programs are aarch64 and this host is x86_64"));
        let off = QEMU.replace("enabled\n", "disabled\n");
        let t = table(&[("qemu-aarch64", &off)]);
        let why = check(t.path(), root.path(), &arm, "aarch64", "x86_64").unwrap_err();
        assert!(why.contains("no enabled binfmt_misc handler"), "{why}");
        std::fs::write(t.path().join("status"), "disabled\n").unwrap();
        let why = check(t.path(), root.path(), &arm, "aarch64", "x86_64").unwrap_err();
        assert!(why.contains("binfmt_misc is disabled"), "{why}");
        // Without F the interpreter must be inside the root.
        let t = table(&[("qemu-aarch64", &QEMU.replace("POF", "P"))]);
        let why = check(t.path(), root.path(), &arm, "aarch64", "x86_64").unwrap_err();
        assert!(why.contains("without the F flag"), "{why}");
        let qemu = root.path().join("usr/libexec/qemu-binfmt");
        std::fs::create_dir_all(&qemu).unwrap();
        std::fs::write(qemu.join("aarch64-binfmt-P"), "").unwrap();
        assert!(check(t.path(), root.path(), &arm, "aarch64", "x86_64").is_ok());
    }

    #[test]
    fn masks_and_offsets() {
        let e = Entry::parse("x", "enabled\noffset 2\nmagic 4c46\nmask ff00\n").unwrap();
        assert!(e.matches(&Head(b"\x7fELFx".to_vec())));
        assert!(e.matches(&Head(b"\x7fEL\x00".to_vec())));
        assert!(!e.matches(&Head(b"\x7fEF".to_vec())));
        assert!(Entry::parse("y", "enabled\nextension .exe\n").is_none());
        assert!(Entry::parse("z", "enabled\nmagic 7f4\n").is_none());
    }
}
