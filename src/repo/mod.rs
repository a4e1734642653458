//! The repository kit: what apt ([`crate::apt`]) and yum ([`crate::yum`])
//! publishing share.

pub(crate) mod confine;
pub mod duplicate;
pub(crate) mod generation;
pub mod kind;
pub(crate) mod lock;
pub mod report;
pub(crate) mod stage;
pub mod storage;
