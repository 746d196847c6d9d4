//! The command line's subcommands other than the console itself (bin-only; the library does the work).

pub mod backup;
pub mod demo;
pub mod demo_service;
pub mod lint;
pub mod migrate;
pub mod report;
pub mod status;
