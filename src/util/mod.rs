//! Small shared services: atomic output files, the one SOURCE_DATE_EPOCH policy,
//! UTC dates, lexical paths, small parallel jobs, merging ordered streams, credential redaction for
//! anything printed, and the allocator's one setting.

pub(crate) mod atomic;
pub(crate) mod date;
pub(crate) mod elf;
pub(crate) mod epoch;
pub(crate) mod input;
pub(crate) mod malloc;
pub(crate) mod merge;
pub(crate) mod parallel;
pub(crate) mod paths;
pub(crate) mod redact;
pub(crate) mod signals;
