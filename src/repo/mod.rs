//! The repository kit: what the apt ([`crate::apt`]) and yum ([`crate::yum`])
//! publishers share. They are siblings that never import each other; each
//! brings its format (indices, metadata, signing layout) and runs the one
//! transaction shape (`transaction`) on these parts:
//!
//! - [`kind`]: which kind of package a file is (by content) and which kind of
//!   repository a directory holds, so `cfy-ap publish` picks the publisher;
//! - [`duplicate`]: the one duplicate-package policy, generic over a package's
//!   identity and digest, with one set of messages;
//! - `stage` and `lock`: packages read before the lock, the publisher
//!   lock, syncing;
//! - `generation`: the next generation of a directory prepared beside the
//!   live one and switched in one atomic exchange;
//! - [`storage`]: the storage seam (read, write-new, compare-and-swap on a
//!   switch object, delete, list by prefix) and its local-directory
//!   implementation; `confine`: paths kept inside the repository;
//! - [`report`]: what a publish did, one line per package.

pub(crate) mod confine;
pub(crate) mod duplicate;
pub(crate) mod generation;
pub(crate) mod kind;
pub(crate) mod lock;
pub(crate) mod report;
pub(crate) mod s3;
pub(crate) mod stage;
pub(crate) mod storage;
pub(crate) mod transaction;
