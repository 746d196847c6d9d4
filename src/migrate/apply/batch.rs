//! Drizzle's way: every pending migration in one transaction, each `--> statement-breakpoint` chunk a query, each
//! migration's `__drizzle_migrations` row inserted after its chunks, one `COMMIT` at the end — so a failure in any
//! leaves none of them applied and nothing recorded, as `drizzle-kit migrate` leaves it. Asked to stop between two
//! migrations, it commits those that ran (a shorter batch), never part of one.

use std::time::{Duration, Instant};

use super::super::db::Db;
use super::super::{Migration, record};
use super::tool::{Ended, as_one_query, begin_for};
use super::{Options, Progress, Report, db_err, exec};
use crate::migrate::MigrateError;

pub(super) async fn drizzle(
    db: &mut Db,
    migrations: &[Migration],
    pending: &[usize],
    opts: &Options,
    progress: &mut (dyn FnMut(Progress) + Send),
    stop: &(dyn Fn() -> bool + Send + Sync),
) -> Report {
    let mut report = Report {
        applied: Vec::new(),
        failure: None,
        stopped: false,
    };
    if pending.is_empty() {
        return report;
    }
    let backend = db.backend;
    let opened = exec(&mut db.conn, begin_for(backend))
        .await
        .map_err(|e| db_err("starting the transaction", e));
    if let Err(e) = opened {
        report.failure = Some(e);
        return report;
    }
    let mut ran: Vec<(String, Duration)> = Vec::new();
    for &i in pending {
        if stop() {
            report.stopped = true;
            break;
        }
        let m = &migrations[i];
        match one(db, m, opts, progress).await {
            Ok(took) => ran.push((m.name.clone(), took)),
            Err(e) => {
                let _ = exec(&mut db.conn, "ROLLBACK").await;
                report.failure = Some(e);
                return report;
            }
        }
    }
    if let Err(e) = exec(&mut db.conn, "COMMIT").await {
        report.failure = Some(db_err("committing", e));
        return report;
    }
    for (name, took) in ran {
        progress(Progress::Applied {
            name: name.clone(),
            took,
        });
        report.applied.push((name, took));
    }
    report
}

/// One migration's chunks and its row, inside the batch's transaction.
async fn one(
    db: &mut Db,
    m: &Migration,
    opts: &Options,
    progress: &mut (dyn FnMut(Progress) + Send),
) -> Result<Duration, MigrateError> {
    let backend = db.backend;
    progress(Progress::Started {
        name: m.name.clone(),
        transactional: true,
        statements: m.statements.len(),
    });
    let start = Instant::now();
    let conn = &mut db.conn;
    match as_one_query(conn, backend, m, &m.statements, true, progress).await {
        Ok(Ended::Closed) => {}
        // The tool's block is never reported open; a file's own BEGIN inside it only made it regular.
        Ok(Ended::LeftOpen) => {}
        Err(f) => return Err(f.into()),
    }
    let s = record::Started::default();
    record::applied(conn, backend, m, &s, 1, start.elapsed(), &opts.applied_by).await?;
    Ok(start.elapsed())
}
