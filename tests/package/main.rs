//! Integration tests of the deb and rpm packages `cfy-ap --format deb/rpm` writes
//! (from a small synthetic agent tar, no virtualenv), read back by the real
//! dpkg-deb, lintian, rpm and rpmlint, and of their signing. No Debian root, no
//! chroot, no dnf, no portable build: part of the fast tier
//! (`bash tests/run.sh --fast`).

#[path = "../common/mod.rs"]
mod common;

/// The built-in packaging files and `cfy-ap packaging-files`.
mod builtin;
/// deb packages: dpkg-deb, lintian, install into a throwaway root, rebuilds.
mod deb;
/// Signing keys: expired, revoked, several in one file; `-f` and `--unsigned`.
mod harden_sign;
/// rpm packages: metadata, rpmlint, install into a throwaway root, signatures.
mod rpm;
