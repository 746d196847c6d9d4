//! The command line's subcommands other than the console itself (bin-only; the library does the work). Every
//! line they print goes through [`inert`]: a hostile name (a migration file, a phase, a project, an SQL comment)
//! can never drive the terminal, as on the console's screen.

/// `text` with every line made inert (control characters, escapes, C1 and bidi controls shown, never sent).
pub fn inert(text: &str) -> String {
    text.split('\n')
        .map(|line| deckhand::sanitize::sanitize_str(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n")
}

/// `println!` whose every line is made inert ([`inert`]); a closed stdout never panics.
macro_rules! say {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = $crate::cli::inert(&format!($($arg)*));
        let _ = writeln!(std::io::stdout(), "{text}");
    }};
}

/// `eprintln!` whose every line is made inert ([`inert`]).
macro_rules! tell {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let text = $crate::cli::inert(&format!($($arg)*));
        let _ = writeln!(std::io::stderr(), "{text}");
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
pub mod check;
pub mod demo;
pub mod demo_service;
pub mod drift;
pub mod import;
pub mod init;
pub mod lint;
pub mod migrate;
pub mod migrate_data;
pub mod report;
pub mod scope;
pub mod status;
pub mod tail;
pub mod team;

/// Runs `work` with the database's tunnel up: started first, waited for, stopped after (its process group
/// terminated). Without a tunnel, just `work`. `Err` says why the tunnel did not come up; `work` did not run.
pub async fn through_tunnel<F: std::future::Future>(
    db: &deckhand::plan::Database,
    masker: deckhand::secrets::Masker,
    work: F,
) -> Result<F::Output, String> {
    let Some(spec) = db.tunnel.clone() else {
        return Ok(work.await);
    };
    let endpoint = format!("{}:{}", spec.host, spec.port);
    let tunnel = deckhand::runner::tunnel::Tunnel::open(spec, masker)
        .await
        .map_err(|why| format!("the database tunnel to {endpoint} did not come up: {why}"))?;
    let out = work.await;
    tunnel.stop().await;
    Ok(out)
}
