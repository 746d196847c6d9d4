//! The down files beside the migrations, read as a rollback would run them: what the rollback's prompt lists, and
//! — linted with the same analyzer as the up files — a Dangerous down file flagged in the migrations pane before
//! anyone needs it. Part of the migrations runner's snapshot.

use crate::lint::{self, Class, FileReport};
use crate::migrate::db::Backend;
use crate::migrate::{Migration, revert};

/// A migration's down file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownFile {
    /// The down file read and split as the revert reads it (its `name` is the file's name, `2_orders.down.sql`),
    /// or why it cannot be read.
    pub file: Result<Migration, String>,
    /// Its risk report (on SQLite, only Dangerous and Breaking findings, as for the up files); none when the file
    /// cannot be read.
    pub report: Option<FileReport>,
}

impl DownFile {
    /// The findings of its report that are not exempted in the file, of this class.
    pub fn findings(&self, class: Class) -> impl Iterator<Item = &lint::Finding> {
        self.report
            .iter()
            .flat_map(|r| &r.findings)
            .filter(move |f| f.class == class && f.ignored.is_none())
    }
}

/// The down file of each migration that has one (index-aligned with `migrations`, `None` for the others), read,
/// split and linted: a rollback may revert any applied one, and an apply adds the pending ones' to the way back.
/// (Linting is cheap: a few hundred files take well under a second.)
pub fn read(migrations: &[Migration], backend: Backend) -> Vec<Option<DownFile>> {
    // deckhand sets lock_timeout itself when it reverts, as when it applies.
    let opts = lint::Options {
        executor_sets_lock_timeout: true,
    };
    migrations
        .iter()
        .map(|up| {
            let file = revert::load_down(up)?.map_err(|e| e.to_string());
            let report = file.as_ref().ok().map(|down| {
                let mut r = lint::analyze_migration(down, &opts);
                if backend == Backend::Sqlite {
                    r.findings
                        .retain(|f| matches!(f.class, Class::Dangerous | Class::Breaking));
                }
                r
            });
            Some(DownFile { file, report })
        })
        .collect()
}
