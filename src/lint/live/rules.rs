//! What each lint rule's statement does to a live table: the table lock it takes, and whether the time it holds
//! that lock is brief (catalog only) or grows with the table (index build, rewrite, validation scan, row changes).
//! Also PostgreSQL's table-lock conflict matrix, to tell whether a session's lock makes a statement wait.

/// How long a statement holds its lock, once granted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    /// Only the catalog changes: milliseconds, unless it waits behind another session. Size does not change the
    /// risk (a rename breaks the old app version whatever the row count).
    Metadata,
    /// Catalog only too, but it destroys the table's data: the loss grows with the table.
    Destroy,
    /// Fails outright when the table has rows (ADD COLUMN ... NOT NULL without a DEFAULT).
    FailsIfRows,
    /// Reads the whole table and writes an index.
    IndexBuild,
    /// Writes a new copy of the table and rebuilds every index on it.
    Rewrite,
    /// Reads the whole table to check existing rows (validation), writes nothing.
    Scan,
    /// Changes every row (DELETE/UPDATE without WHERE): new row versions, index entries and WAL; each row stays
    /// locked until commit.
    RowChange,
}

/// PostgreSQL's table-level lock modes, weakest first (the `mode` names pg_locks shows).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum LockMode {
    AccessShare,
    RowShare,
    RowExclusive,
    ShareUpdateExclusive,
    Share,
    ShareRowExclusive,
    Exclusive,
    AccessExclusive,
}

/// Every mode, in the order of [`LockMode`] (index = `mode as usize`).
const MODES: [LockMode; 8] = [
    LockMode::AccessShare,
    LockMode::RowShare,
    LockMode::RowExclusive,
    LockMode::ShareUpdateExclusive,
    LockMode::Share,
    LockMode::ShareRowExclusive,
    LockMode::Exclusive,
    LockMode::AccessExclusive,
];

/// Bit `j` of entry `i` is set when mode `i` conflicts with mode `j` (PostgreSQL manual, "Conflicting Lock
/// Modes"; the matrix is symmetric).
const CONFLICTS: [u8; 8] = [
    0b1000_0000, // ACCESS SHARE: only ACCESS EXCLUSIVE
    0b1100_0000, // ROW SHARE: EXCLUSIVE, ACCESS EXCLUSIVE
    0b1111_0000, // ROW EXCLUSIVE: SHARE and stronger
    0b1111_1000, // SHARE UPDATE EXCLUSIVE: itself and stronger
    0b1110_1100, // SHARE: ROW EXCLUSIVE, SHARE UPDATE EXCLUSIVE, SHARE ROW EXCLUSIVE and stronger
    0b1111_1100, // SHARE ROW EXCLUSIVE: ROW EXCLUSIVE and stronger
    0b1111_1110, // EXCLUSIVE: everything but ACCESS SHARE
    0b1111_1111, // ACCESS EXCLUSIVE: everything
];

impl LockMode {
    /// The pg_locks name (`AccessShareLock`).
    pub fn pg_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "AccessShareLock",
            LockMode::RowShare => "RowShareLock",
            LockMode::RowExclusive => "RowExclusiveLock",
            LockMode::ShareUpdateExclusive => "ShareUpdateExclusiveLock",
            LockMode::Share => "ShareLock",
            LockMode::ShareRowExclusive => "ShareRowExclusiveLock",
            LockMode::Exclusive => "ExclusiveLock",
            LockMode::AccessExclusive => "AccessExclusiveLock",
        }
    }

    /// The SQL name (`ACCESS EXCLUSIVE`).
    pub fn sql_name(self) -> &'static str {
        match self {
            LockMode::AccessShare => "ACCESS SHARE",
            LockMode::RowShare => "ROW SHARE",
            LockMode::RowExclusive => "ROW EXCLUSIVE",
            LockMode::ShareUpdateExclusive => "SHARE UPDATE EXCLUSIVE",
            LockMode::Share => "SHARE",
            LockMode::ShareRowExclusive => "SHARE ROW EXCLUSIVE",
            LockMode::Exclusive => "EXCLUSIVE",
            LockMode::AccessExclusive => "ACCESS EXCLUSIVE",
        }
    }

    pub fn from_pg_name(name: &str) -> Option<LockMode> {
        MODES.into_iter().find(|m| m.pg_name() == name.trim())
    }

    pub fn conflicts_with(self, other: LockMode) -> bool {
        CONFLICTS[self as usize] & (1 << other as usize) != 0
    }
}

/// What one rule's statement does to the tables it touches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleEffect {
    pub rule: &'static str,
    /// The table lock the statement takes on each table it touches.
    pub lock: LockMode,
    pub work: Work,
    /// What the lock means while it is held, for the context line.
    pub note: &'static str,
    /// The safer pattern (CREATE INDEX CONCURRENTLY) waits for every transaction older than it to finish, so a
    /// long transaction anywhere in the database stalls it.
    pub safer_waits_for_old_transactions: bool,
}

const fn effect(rule: &'static str, lock: LockMode, work: Work, note: &'static str) -> RuleEffect {
    RuleEffect {
        rule,
        lock,
        work,
        note,
        safer_waits_for_old_transactions: false,
    }
}

const BLOCKS_ALL: &str = "reads and writes wait";
const BLOCKS_WRITES: &str = "writes wait, reads continue";

/// The rules deckhand knows the cost of. A rule not listed gets the table's facts but no lock estimate.
pub const RULE_EFFECTS: &[RuleEffect] = &[
    // CREATE INDEX without CONCURRENTLY: SHARE lock for the whole build.
    RuleEffect {
        safer_waits_for_old_transactions: true,
        ..effect(
            "require-concurrent-index-creation",
            LockMode::Share,
            Work::IndexBuild,
            BLOCKS_WRITES,
        )
    },
    // REINDEX without CONCURRENTLY: SHARE on the table (ACCESS EXCLUSIVE on the index) while it rebuilds.
    RuleEffect {
        safer_waits_for_old_transactions: true,
        ..effect(
            "require-concurrent-reindex",
            LockMode::Share,
            Work::IndexBuild,
            BLOCKS_WRITES,
        )
    },
    // DROP INDEX without CONCURRENTLY: ACCESS EXCLUSIVE on the table, catalog only.
    effect(
        "require-concurrent-index-deletion",
        LockMode::AccessExclusive,
        Work::Metadata,
        BLOCKS_ALL,
    ),
    // ALTER COLUMN TYPE: ACCESS EXCLUSIVE and, unless binary-compatible (varchar -> text), a full rewrite.
    effect(
        "changing-column-type",
        LockMode::AccessExclusive,
        Work::Rewrite,
        BLOCKS_ALL,
    ),
    // A narrowing type change (bigint -> int, varchar(255) -> varchar(50)): rewrite and check every row.
    effect(
        "narrowing-type-change",
        LockMode::AccessExclusive,
        Work::Rewrite,
        BLOCKS_ALL,
    ),
    // ADD COLUMN with a volatile default or GENERATED ... STORED (squawk flags only those on PostgreSQL 11+):
    // every row is rewritten.
    effect(
        "adding-field-with-default",
        LockMode::AccessExclusive,
        Work::Rewrite,
        BLOCKS_ALL,
    ),
    // ADD CONSTRAINT CHECK/FOREIGN KEY without NOT VALID: existing rows are checked under the lock (ACCESS
    // EXCLUSIVE for CHECK, the stronger of the two).
    effect(
        "constraint-missing-not-valid",
        LockMode::AccessExclusive,
        Work::Scan,
        BLOCKS_ALL,
    ),
    // FOREIGN KEY without NOT VALID: SHARE ROW EXCLUSIVE on both tables while existing rows are checked.
    effect(
        "adding-foreign-key-constraint",
        LockMode::ShareRowExclusive,
        Work::Scan,
        BLOCKS_WRITES,
    ),
    // SET NOT NULL without a validated CHECK (col IS NOT NULL): scans the table under ACCESS EXCLUSIVE.
    effect(
        "adding-not-nullable-field",
        LockMode::AccessExclusive,
        Work::Scan,
        BLOCKS_ALL,
    ),
    // ADD UNIQUE without USING INDEX: builds the unique index under ACCESS EXCLUSIVE.
    RuleEffect {
        safer_waits_for_old_transactions: true,
        ..effect(
            "disallowed-unique-constraint",
            LockMode::AccessExclusive,
            Work::IndexBuild,
            BLOCKS_ALL,
        )
    },
    // ADD PRIMARY KEY without USING INDEX: same, the primary key's index.
    RuleEffect {
        safer_waits_for_old_transactions: true,
        ..effect(
            "adding-serial-primary-key-field",
            LockMode::AccessExclusive,
            Work::IndexBuild,
            BLOCKS_ALL,
        )
    },
    // ADD COLUMN NOT NULL without DEFAULT: instant on an empty table, an error on one with rows.
    effect(
        "adding-required-field",
        LockMode::AccessExclusive,
        Work::FailsIfRows,
        BLOCKS_ALL,
    ),
    // RENAME COLUMN: catalog only; the old app version breaks.
    effect(
        "renaming-column",
        LockMode::AccessExclusive,
        Work::Metadata,
        BLOCKS_ALL,
    ),
    // RENAME TO: catalog only; the old app version breaks.
    effect(
        "renaming-table",
        LockMode::AccessExclusive,
        Work::Metadata,
        BLOCKS_ALL,
    ),
    // DROP NOT NULL: catalog only.
    effect(
        "ban-drop-not-null",
        LockMode::AccessExclusive,
        Work::Metadata,
        BLOCKS_ALL,
    ),
    // DROP COLUMN: the column is only marked dropped (no rewrite); its data is gone.
    effect(
        "ban-drop-column",
        LockMode::AccessExclusive,
        Work::Destroy,
        BLOCKS_ALL,
    ),
    // DROP TABLE: catalog change, files removed at commit; every row is gone.
    effect(
        "ban-drop-table",
        LockMode::AccessExclusive,
        Work::Destroy,
        BLOCKS_ALL,
    ),
    // TRUNCATE: swaps in empty files; every row is gone.
    effect(
        "truncate",
        LockMode::AccessExclusive,
        Work::Destroy,
        BLOCKS_ALL,
    ),
    // TRUNCATE ... CASCADE: same, and every table referencing it.
    effect(
        "ban-truncate-cascade",
        LockMode::AccessExclusive,
        Work::Destroy,
        BLOCKS_ALL,
    ),
    // DELETE without WHERE: ROW EXCLUSIVE (other writers of those rows wait on row locks), time grows with rows.
    effect(
        "delete-without-where",
        LockMode::RowExclusive,
        Work::RowChange,
        "every row stays locked until commit: writers of those rows wait",
    ),
    // UPDATE without WHERE: same, and a new version of every row.
    effect(
        "update-without-where",
        LockMode::RowExclusive,
        Work::RowChange,
        "every row stays locked until commit: writers of those rows wait",
    ),
    // DETACH PARTITION without CONCURRENTLY: ACCESS EXCLUSIVE on the parent, catalog only.
    effect(
        "require-concurrent-partition-detach",
        LockMode::AccessExclusive,
        Work::Metadata,
        BLOCKS_ALL,
    ),
    // VACUUM FULL / CLUSTER: rewrites the table under ACCESS EXCLUSIVE.
    effect(
        "prefer-repack",
        LockMode::AccessExclusive,
        Work::Rewrite,
        BLOCKS_ALL,
    ),
];

/// What `rule` does to a live table, when deckhand knows.
pub fn effect_of(rule: &str) -> Option<&'static RuleEffect> {
    RULE_EFFECTS.iter().find(|e| e.rule == rule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conflict_matrix_is_symmetric_and_matches_the_manual() {
        for a in MODES {
            for b in MODES {
                assert_eq!(a.conflicts_with(b), b.conflicts_with(a), "{a:?} {b:?}");
            }
        }
        // A reader does not block CREATE INDEX, a writer does; ACCESS EXCLUSIVE waits for everyone.
        assert!(!LockMode::Share.conflicts_with(LockMode::AccessShare));
        assert!(LockMode::Share.conflicts_with(LockMode::RowExclusive));
        assert!(!LockMode::Share.conflicts_with(LockMode::Share));
        assert!(LockMode::ShareUpdateExclusive.conflicts_with(LockMode::ShareUpdateExclusive));
        assert!(
            MODES
                .iter()
                .all(|m| LockMode::AccessExclusive.conflicts_with(*m))
        );
        assert!(!LockMode::RowExclusive.conflicts_with(LockMode::RowExclusive));
    }

    #[test]
    fn mode_names_round_trip() {
        for m in MODES {
            assert_eq!(LockMode::from_pg_name(m.pg_name()), Some(m));
        }
        assert_eq!(LockMode::from_pg_name("SIReadLock"), None);
    }

    #[test]
    fn every_rule_is_listed_once() {
        for (i, e) in RULE_EFFECTS.iter().enumerate() {
            assert!(
                RULE_EFFECTS[i + 1..].iter().all(|o| o.rule != e.rule),
                "{} twice",
                e.rule
            );
        }
        assert_eq!(
            effect_of("require-concurrent-index-creation").map(|e| e.work),
            Some(Work::IndexBuild)
        );
        assert!(effect_of("prefer-text-field").is_none());
    }
}
