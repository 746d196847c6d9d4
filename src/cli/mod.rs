//! The command line's subcommands other than the console itself (bin-only; the library does the work).

/// `println!` that never panics: the commands that do work (`migrate`, `backup`) go on when the reader of their
/// output has gone away (`deckhand migrate | head -1`), so a migration or a backup is never stopped half-way.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stdout(), $($arg)*);
    }};
}

/// `eprintln!` that never panics (see [`outln`]).
macro_rules! errln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), $($arg)*);
    }};
}

/// `eprint!` that never panics (see [`outln`]).
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = write!(std::io::stderr(), $($arg)*);
    }};
}

pub mod backup;
pub mod demo;
pub mod demo_service;
pub mod lint;
pub mod migrate;
pub mod report;
pub mod status;
