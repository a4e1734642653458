//! The repository kit: what apt ([`crate::publish`]) and yum ([`crate::yum`])
//! publishing share.

pub mod duplicate;
pub mod kind;
