//! Small shared services: atomic output files, the one SOURCE_DATE_EPOCH policy,
//! UTC dates, lexical paths, small parallel jobs, and credential redaction for
//! anything printed.

pub mod atomic;
pub mod date;
pub mod epoch;
pub mod input;
pub mod parallel;
pub mod paths;
pub mod redact;
pub mod signals;
