//! Integration tests of `cfy-ap publish` into apt repositories, read back by a
//! private, real apt (its own config, state and cache) over loopback HTTP, with
//! throwaway gpg keys. No Debian root, no chroot, no dnf, no portable build: part
//! of the fast tier (`bash tests/run.sh --fast`).

#[path = "../common/mod.rs"]
mod common;

/// `kill -9` at any moment of a publish or a remove.
mod crash;
/// Hostile packages, names, settings, paths and repositories.
mod harden_publish;
/// remove, keep and copy.
mod lifecycle;
/// apt update/install/upgrade, signatures, concurrency, duplicates, hashes.
mod publish;
/// A build's `publish:` section.
mod publish_config;
/// Publishing into S3-compatible storage (moto), read by apt over HTTP.
mod s3;
/// The S3 test harness itself: moto and the fault proxy.
mod s3_harness;
