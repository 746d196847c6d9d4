//! `deckhand backup [PLAN]` and `deckhand verify FILE`: the console's backup from the shell — dump with
//! progress on stderr, verification against the live database, retention, all journaled as a run — and a
//! full-read check of any archive (exit 0 good, 1 bad).

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::time::{Duration, Instant, SystemTime};

use deckhand::app::{BackupWork, human_bytes, progress_text};
use deckhand::backup::{self, Progress, Stage};
use deckhand::journal::{self, Event, Journal};
use deckhand::plan::Plan;
use deckhand::runner::RunnerEvent;
use deckhand::runner::backup::{BackupEvent, Job};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::{mpsc, watch};
use tokio_util::sync::CancellationToken;

/// Without a terminal, a progress line at most this often.
const LOG_PROGRESS_EVERY: Duration = Duration::from_secs(10);

pub(super) fn runtime() -> Option<tokio::runtime::Runtime> {
    match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => Some(rt),
        Err(e) => {
            tell!("deckhand: cannot start the async runtime: {e}");
            None
        }
    }
}

/// Prints progress to stderr: rewritten in place on a terminal, a line every few seconds otherwise.
struct Printer {
    tty: bool,
    last: Option<Instant>,
    shown: bool,
}

impl Printer {
    fn progress(&mut self, busy: BackupWork, p: &Progress) {
        let text = progress_text(busy, Some(p));
        if self.tty {
            err!("\r\x1b[2K{text}");
            self.shown = true;
        } else if self.last.is_none_or(|t| t.elapsed() >= LOG_PROGRESS_EVERY) {
            tell!("{text}");
            self.last = Some(Instant::now());
        }
        let _ = std::io::stderr().flush();
    }

    fn line(&mut self, text: &str) {
        self.clear();
        tell!("{text}");
    }

    /// Removes the progress line from a terminal, if one is shown.
    fn clear(&mut self) {
        if self.shown {
            err!("\r\x1b[2K");
            let _ = std::io::stderr().flush();
            self.shown = false;
        }
    }
}

/// Cancels `token` on SIGINT, SIGTERM or SIGHUP (the dump is stopped and its partial file removed).
pub(super) fn cancel_on_signals(token: CancellationToken) -> std::io::Result<()> {
    let mut signals = [
        signal(SignalKind::interrupt())?,
        signal(SignalKind::terminate())?,
        signal(SignalKind::hangup())?,
    ];
    tokio::spawn(async move {
        let [a, b, c] = &mut signals;
        tokio::select! {
            _ = a.recv() => {}
            _ = b.recv() => {}
            _ = c.recv() => {}
        }
        token.cancel();
    });
    Ok(())
}

/// `deckhand backup [PLAN]`: returns the exit code (0 taken and verified, 1 failed, 2 unusable plan).
pub fn take(plan: &Plan) -> u8 {
    let Some(job) = Job::of(plan) else {
        tell!(
            "deckhand: {} needs [database] and [backup] sections to take a backup",
            plan.path.display()
        );
        return 2;
    };
    let Some(rt) = runtime() else { return 1 };
    let journal = journal::prepare_data_dir(plan.project.shared_data)
        .and_then(|d| Journal::create(&d, SystemTime::now()).map_err(|e| e.to_string()));
    let mut journal = match journal {
        Ok(mut j) => {
            j.set_masker(plan.secrets.masker());
            j
        }
        Err(e) => {
            tell!("deckhand: cannot create the run journal: {e}");
            return 1;
        }
    };
    record(&mut journal, deckhand::console::run_started(plan));
    record(
        &mut journal,
        Event::BackupStarted {
            target: deckhand::migrate::db::target(&job.database.url.value),
            dir: job.backup.dir.display().to_string(),
        },
    );
    let masker = plan.secrets.masker();
    let database = job.database.clone();
    let taken = rt.block_on(super::through_tunnel(
        &database,
        masker,
        run_take(job, &mut journal),
    ));
    let code = taken.unwrap_or_else(|why| {
        tell!("deckhand: {why}");
        record(
            &mut journal,
            Event::BackupFailed {
                what: "backup".into(),
                error: why,
            },
        );
        1
    });
    let reason = if code == 0 {
        "backup verified"
    } else {
        "backup failed"
    };
    record(
        &mut journal,
        Event::Quit {
            exit_code: i32::from(code),
            reason: reason.into(),
            outcome: None,
        },
    );
    tell!("deckhand: journal {}", journal.path().display());
    code
}

/// Appends to the run's journal; a failed write is said on stderr and does not stop the backup.
pub(super) fn record(j: &mut Journal, ev: Event) {
    if let Err(e) = j.append(ev, SystemTime::now()) {
        tell!(
            "deckhand: JOURNAL WRITE FAILED ({}): {e}",
            j.path().display()
        );
    }
}

/// Takes the backup and follows it to its end, printing and journaling each event; the exit code.
pub(super) async fn run_take(job: Job, journal: &mut Journal) -> u8 {
    let (tx, mut rx) = mpsc::channel(64);
    let token = CancellationToken::new();
    if let Err(e) = cancel_on_signals(token.clone()) {
        tell!("deckhand: cannot install signal handlers: {e}");
        return 1;
    }
    tokio::spawn(deckhand::runner::backup::take(job, tx, token));
    let mut printer = Printer {
        tty: std::io::stderr().is_terminal(),
        last: None,
        shown: false,
    };
    let mut busy = BackupWork::Taking;
    let mut code = 1;
    while let Some(RunnerEvent::Backup(ev)) = rx.recv().await {
        match *ev {
            BackupEvent::Progress(p) => printer.progress(busy, &p),
            BackupEvent::Taken(a) => {
                busy = BackupWork::Verifying;
                on_taken(&mut printer, journal, a);
            }
            BackupEvent::Verified {
                archive,
                verification,
                deleted,
            } => {
                code = report_verified(&mut printer, &archive, &verification);
                on_verified(&mut printer, journal, &archive, verification, deleted);
            }
            BackupEvent::Failed { op, error, .. } => {
                printer.line(&format!("deckhand: {} failed: {error}", op.label()));
                let what = op.label().into();
                record(journal, Event::BackupFailed { what, error });
            }
            _ => {}
        }
    }
    code
}

/// The dump is written: said and journaled.
fn on_taken(printer: &mut Printer, journal: &mut Journal, a: backup::Archive) {
    printer.line(&format!(
        "written {} ({}, sha256 {}) in {}",
        a.path.display(),
        human_bytes(a.size),
        a.sha256,
        deckhand::plan::human_duration(Duration::from_millis(a.took_ms))
    ));
    let counters = a.counters.as_ref().map(deckhand::app::text::counters_line);
    if let Some(c) = &counters {
        printer.line(&format!("recorded {c}"));
    }
    record(
        journal,
        Event::BackupTaken {
            file: a.path.display().to_string(),
            size: a.size,
            sha256: a.sha256,
            duration_ms: a.took_ms,
            counters,
        },
    );
}

/// The verification's result and retention's deletions, journaled (the result is printed by `report_verified`).
fn on_verified(
    printer: &mut Printer,
    journal: &mut Journal,
    archive: &backup::Archive,
    v: backup::Verification,
    deleted: Option<Result<Vec<std::path::PathBuf>, String>>,
) {
    record(
        journal,
        Event::BackupVerified {
            file: archive.path.display().to_string(),
            ok: v.ok,
            tables: v.tables.len(),
            compared_with_live: v.compared_with_live,
            problems: v.problems,
            schema_changes: v.schema_changes,
            duration_ms: v.took.as_millis() as u64,
        },
    );
    match deleted {
        Some(Ok(files)) => {
            let files: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
            printer.line(&format!("retention deleted {}", files.join(", ")));
            record(journal, Event::BackupsDeleted { files });
        }
        Some(Err(error)) => {
            printer.line(&format!("retention could not delete old backups: {error}"));
            let what = "retention".into();
            record(journal, Event::BackupFailed { what, error });
        }
        None => {}
    }
}

/// Prints a verification's result; 0 when the backup is verified (and recorded as such), else 1.
fn report_verified(
    printer: &mut Printer,
    archive: &deckhand::backup::Archive,
    v: &deckhand::backup::Verification,
) -> u8 {
    if v.ok && archive.verified.is_some() {
        printer.line(&format!(
            "verified: read back in full, {} tables{} ({})",
            v.tables.len(),
            if v.compared_with_live {
                ", none missing from the live database"
            } else {
                ""
            },
            deckhand::plan::human_duration(v.took)
        ));
        schema_changes(printer, v);
        return 0;
    }
    printer.line(&format!(
        "VERIFICATION FAILED for {}:",
        archive.path.display()
    ));
    for p in &v.problems {
        printer.line(&format!("  {p}"));
    }
    schema_changes(printer, v);
    1
}

/// The schema's changes since the backup (the archive matched its record), one line each.
fn schema_changes(printer: &mut Printer, v: &deckhand::backup::Verification) {
    for c in &v.schema_changes {
        printer.line(&format!("  the schema changed since the backup: {c}"));
    }
}

/// What a pass without a record leaves unproven; empty when proven.
fn not_proven(v: &backup::Verification) -> &'static str {
    match (v.proven, v.compared_with_live) {
        (true, _) => "",
        (false, true) => {
            "; table of contents not proven: no sha256 record beside the archive; its tables, columns and other \
             objects match the live database's, but a changed byte elsewhere in a definition (a default, a view's \
             query, a function's body) would go unseen (it does not count as a verified backup for the migrate gate)"
        }
        (false, false) => {
            "; table of contents not proven: no sha256 record beside the archive, so a changed object \
             definition would go unseen (it does not count as a verified backup for the migrate gate)"
        }
    }
}

/// `deckhand verify FILE [--plan PLAN]`: reads the whole archive back; with a plan, also compares its tables and
/// object definitions with the live database. Returns 0 good, 1 bad.
pub fn verify(file: &Path, plan: Option<&Plan>) -> u8 {
    let Some(rt) = runtime() else { return 1 };
    let live = plan.and_then(|p| p.database.as_ref());
    let bin_dir = plan.and_then(|p| p.backup.as_ref()?.bin_dir.as_deref());
    let (ptx, mut prx) = watch::channel(Progress::new(Stage::Preparing, Duration::ZERO));
    let token = CancellationToken::new();
    let work = async {
        if let Err(e) = cancel_on_signals(token.clone()) {
            tell!("deckhand: cannot install signal handlers: {e}");
        }
        let mut printer = Printer {
            tty: std::io::stderr().is_terminal(),
            last: None,
            shown: false,
        };
        let op = backup::verify(file, live, bin_dir, &ptx, &token);
        tokio::pin!(op);
        loop {
            tokio::select! {
                r = &mut op => {
                    printer.clear();
                    break r;
                }
                Ok(()) = prx.changed() => {
                    let p = prx.borrow_and_update().clone();
                    printer.progress(BackupWork::Verifying, &p);
                }
            }
        }
    };
    // Compared with the live database: through its tunnel, when it has one.
    let result = match (live, plan) {
        (Some(db), Some(p)) => {
            match rt.block_on(super::through_tunnel(db, p.secrets.masker(), work)) {
                Ok(r) => r,
                Err(why) => {
                    tell!("deckhand: {why}");
                    return 1;
                }
            }
        }
        _ => rt.block_on(work),
    };
    match result {
        Ok(v) if v.ok => {
            say!(
                "{}: good — read back in full, {} tables{}{}",
                file.display(),
                v.tables.len(),
                if v.compared_with_live {
                    ", none missing from the live database"
                } else {
                    ""
                },
                not_proven(&v)
            );
            for c in &v.schema_changes {
                say!("  the schema changed since the backup: {c}");
            }
            0
        }
        Ok(v) => {
            say!("{}: BAD", file.display());
            for p in &v.problems {
                say!("  {p}");
            }
            for c in &v.schema_changes {
                say!("  the schema changed since the backup: {c}");
            }
            1
        }
        Err(e) => {
            tell!("deckhand: cannot verify {}: {e}", file.display());
            1
        }
    }
}
