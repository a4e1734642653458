//! The architecture an ELF executable is for, from its header alone (nothing is
//! run): `e_machine`, with the class and byte order where one machine number
//! covers several architectures. Names are uname/rpm style (`x86_64`,
//! `aarch64`); `crate::debian::arch` turns them into Debian's.

use std::io::Read;
use std::path::Path;

/// How many bytes of a file are kept: what the kernel's binfmt_misc matches
/// magic against (BINPRM_BUF_SIZE) and more than any ELF header needs.
pub(crate) const HEAD: usize = 256;

/// The first bytes of an executable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Head(pub Vec<u8>);

impl Head {
    /// Up to [`HEAD`] bytes of `path` (links followed).
    pub(crate) fn read(path: &Path) -> std::io::Result<Head> {
        let mut bytes = Vec::with_capacity(HEAD);
        std::fs::File::open(path)?
            .take(HEAD as u64)
            .read_to_end(&mut bytes)?;
        Ok(Head(bytes))
    }

    /// The architecture of an ELF executable, uname style; None when this is not
    /// an ELF header or its machine is not one a Linux distribution ships for.
    pub(crate) fn machine(&self) -> Option<&'static str> {
        let b = &self.0;
        if b.len() < 20 || b[..4] != *b"\x7fELF" {
            return None;
        }
        let wide = match b[4] {
            1 => false,
            2 => true,
            _ => return None,
        };
        let little = match b[5] {
            1 => true,
            2 => false,
            _ => return None,
        };
        let pair = [b[18], b[19]];
        let number = if little {
            u16::from_le_bytes(pair)
        } else {
            u16::from_be_bytes(pair)
        };
        Some(match (number, wide, little) {
            (0x03, false, true) => "i686",
            (0x3e, true, true) => "x86_64",
            (0x28, false, true) => "armv7l",
            (0xb7, true, true) => "aarch64",
            (0x15, true, true) => "ppc64le",
            (0x15, true, false) => "ppc64",
            (0x16, true, false) => "s390x",
            (0xf3, true, true) => "riscv64",
            (0x102, true, true) => "loongarch64",
            _ => return None,
        })
    }

    /// An ELF header's first 20 bytes: class, byte order, e_type EXEC, machine.
    #[cfg(test)]
    pub(crate) fn fake(wide: bool, little: bool, machine: u16) -> Head {
        let mut b = b"\x7fELF".to_vec();
        b.push(if wide { 2 } else { 1 });
        b.push(if little { 1 } else { 2 });
        b.push(1);
        b.extend([0; 9]);
        let (t, m) = if little {
            (2u16.to_le_bytes(), machine.to_le_bytes())
        } else {
            (2u16.to_be_bytes(), machine.to_be_bytes())
        };
        b.extend(t);
        b.extend(m);
        Head(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn machines() {
        assert_eq!(Head::fake(true, true, 0x3e).machine(), Some("x86_64"));
        assert_eq!(Head::fake(true, true, 0xb7).machine(), Some("aarch64"));
        assert_eq!(Head::fake(false, true, 0x03).machine(), Some("i686"));
        assert_eq!(Head::fake(false, true, 0x28).machine(), Some("armv7l"));
        assert_eq!(Head::fake(true, true, 0x15).machine(), Some("ppc64le"));
        assert_eq!(Head::fake(true, false, 0x15).machine(), Some("ppc64"));
        assert_eq!(Head::fake(true, false, 0x16).machine(), Some("s390x"));
        assert_eq!(Head::fake(true, true, 0xf3).machine(), Some("riscv64"));
        assert_eq!(Head::fake(true, true, 0x102).machine(), Some("loongarch64"));
        // 32-bit RISC-V, an unknown machine, a script, a short file.
        assert_eq!(Head::fake(false, true, 0xf3).machine(), None);
        assert_eq!(Head::fake(true, true, 0x9999).machine(), None);
        assert_eq!(Head(b"#!/bin/sh\nexec x\n".to_vec()).machine(), None);
        assert_eq!(Head(b"\x7fELF\x02\x01".to_vec()).machine(), None);
    }

    #[test]
    fn this_test_binary_is_the_host_s() {
        let me = std::env::current_exe().unwrap();
        let head = Head::read(&me).unwrap();
        assert_eq!(head.machine(), Some(crate::debian::arch::host()));
        assert!(head.0.len() <= HEAD);
    }
}
