//! Small shared services: atomic output files, the one SOURCE_DATE_EPOCH policy,
//! UTC dates, lexical paths, small parallel jobs, merging ordered streams, credential redaction for
//! anything printed, and the allocator's one setting.

pub mod atomic;
pub mod date;
pub mod elf;
pub mod epoch;
pub mod input;
pub mod malloc;
pub mod merge;
pub mod parallel;
pub mod paths;
pub mod redact;
pub mod signals;
