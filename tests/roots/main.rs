//! Integration tests that need Debian root filesystems (`--root`, chroot; made
//! once by tests/tools/roots.sh, cached outside the checkout) or the portable
//! binary (packaging/portable.sh, a cargo-zigbuild release build), so it is left
//! out of `bash tests/run.sh --fast`:
//!
//! Tier: full

#[path = "../common/mod.rs"]
mod common;

/// A Debian 12 arm64 root, through qemu-user.
mod arch;
/// The portable binary: glibc 2.17 symbols, a build inside a Debian 11 root.
mod portable;
/// `--root` with Debian 11 and 13 roots: roots left unchanged, Ctrl-C, users.
mod roots;
/// Two roots in one run, one publish; CI-matrix style jobs.
mod roots_publish;
