//! The rule table: which squawk-linter rules deckhand runs, the class each one maps into, and the operator-facing
//! `why` and `safer` texts, for squawk's rules and deckhand's own (`truncate`, `delete-without-where`, ...).
//!
//! squawk rules deckhand does not run (style or naming advice, or refused elsewhere, not release risk):
//! `prefer-bigint-over-int`, `prefer-bigint-over-smallint`, `prefer-identity`, `prefer-text-field`,
//! `prefer-timestamp-tz`, `prefer-robust-stmts`, `prefer-repack` (PostgreSQL 19+ only), `ban-char-field`,
//! `identifier-too-long`, `require-enum-value-ordering`, `require-table-schema`, `require-statement-timeout`,
//! `ban-create-domain-with-constraint`, `ban-alter-domain-with-add-constraint`, `ban-duplicate-column-assignments`
//! (PostgreSQL refuses the statement anyway), `transaction-nesting` and `ban-uncommitted-transaction` (deckhand's
//! apply refuses transaction control inside a migration), `ban-drop-not-null`, `ban-drop-constraint`,
//! `ban-alter-identity`, `ban-drop-generated-expression` (they loosen or rewire a column without losing data or
//! breaking the old app's queries), squawk's own `unused-ignore`, and the opt-in compatibility rules
//! (`ban-drop-index`, `ban-drop-trigger`, `ban-add-column`, `ban-revoke`, `ban-create-policy`, ...).

use squawk_linter::Rule;

use super::Class;

/// deckhand's own rule names.
pub const TRUNCATE: &str = "truncate";
pub const DELETE_WITHOUT_WHERE: &str = "delete-without-where";
pub const UPDATE_WITHOUT_WHERE: &str = "update-without-where";
pub const NARROWING_TYPE_CHANGE: &str = "narrowing-type-change";
pub const DROPPED_COLUMN_STILL_READ: &str = "dropped-column-still-read";
pub const COULD_NOT_PARSE: &str = "could-not-parse";
pub const DO_BLOCK: &str = "do-block";
pub const DROP_OWNED: &str = "drop-owned";
pub const DROP_CASCADE: &str = "drop-cascade";
pub const IGNORE_WITHOUT_REASON: &str = "ignore-without-reason";
pub const UNUSED_IGNORE: &str = "unused-ignore";

/// How a rule is reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleText {
    pub class: Class,
    pub why: &'static str,
    pub safer: &'static str,
}

const fn text(class: Class, why: &'static str, safer: &'static str) -> RuleText {
    RuleText { class, why, safer }
}

const DROPPED_OBJECT_WHY: &str =
    "the app version still running may still use the dropped object: its queries fail";
const DROPPED_OBJECT_SAFER: &str =
    "release an app version that no longer uses it first, then drop it in a later migration";

/// The squawk rules deckhand runs, with how each is reported. `RequireLockTimeout` is left out when the executor
/// sets `lock_timeout` itself.
pub const SQUAWK_RULES: &[(Rule, RuleText)] = &[
    (
        Rule::BanDropTable,
        text(
            Class::Dangerous,
            "DROP TABLE deletes the table and every row in it: only a backup brings them back",
            "stop using the table in a released app version, then drop it in a later migration after a verified backup",
        ),
    ),
    (
        Rule::BanDropColumn,
        text(
            Class::Dangerous,
            "DROP COLUMN deletes the column's value in every row: only a backup brings them back",
            "stop reading and writing the column in a released app version, then drop it in a later migration after a verified backup",
        ),
    ),
    (
        Rule::BanDropSchema,
        text(
            Class::Dangerous,
            "DROP SCHEMA deletes the schema (with CASCADE, every table and row in it)",
            "drop the schema's objects one by one in a later migration, after a verified backup",
        ),
    ),
    (
        Rule::BanDropDatabase,
        text(
            Class::Dangerous,
            "DROP DATABASE deletes the whole database",
            "never from a migration: do it by hand after a verified backup",
        ),
    ),
    (
        Rule::BanTruncateCascade,
        text(
            Class::Dangerous,
            "TRUNCATE … CASCADE also empties every table with a foreign key to it, recursively",
            "truncate exactly the tables you mean, without CASCADE",
        ),
    ),
    (
        Rule::RequireConcurrentIndexCreation,
        text(
            Class::Locking,
            "CREATE INDEX takes a SHARE lock: writes to the table wait until the index is built",
            "CREATE INDEX CONCURRENTLY in its own migration (outside a transaction)",
        ),
    ),
    (
        Rule::RequireConcurrentIndexDeletion,
        text(
            Class::Locking,
            "DROP INDEX takes an ACCESS EXCLUSIVE lock on the table: reads and writes wait until it is dropped",
            "DROP INDEX CONCURRENTLY in its own migration (outside a transaction)",
        ),
    ),
    (
        Rule::AddingNotNullableField,
        text(
            Class::Locking,
            "SET NOT NULL scans the whole table under an ACCESS EXCLUSIVE lock: reads and writes wait until the scan ends",
            "ADD CONSTRAINT … CHECK (col IS NOT NULL) NOT VALID, VALIDATE CONSTRAINT in a later migration, then SET NOT NULL (no scan on PostgreSQL 12+)",
        ),
    ),
    (
        Rule::ConstraintMissingNotValid,
        text(
            Class::Locking,
            "the constraint is checked against every row while writes to the table wait (added without NOT VALID, or validated in the same transaction)",
            "ADD CONSTRAINT … NOT VALID in one migration, VALIDATE CONSTRAINT in a later one",
        ),
    ),
    (
        Rule::AddingForeignKeyConstraint,
        text(
            Class::Locking,
            "adding a FOREIGN KEY scans the table under SHARE ROW EXCLUSIVE locks on both tables: writes to both wait until the scan ends",
            "ADD CONSTRAINT … FOREIGN KEY … NOT VALID, then VALIDATE CONSTRAINT in a later migration",
        ),
    ),
    (
        Rule::ChangingColumnType,
        text(
            Class::Locking,
            "ALTER COLUMN … TYPE takes an ACCESS EXCLUSIVE lock and usually rewrites the table and its indexes: reads and writes wait until it ends",
            "add a new column, backfill it in batches, switch the app to it, drop the old column in a later release",
        ),
    ),
    (
        Rule::AddingFieldWithDefault,
        text(
            Class::Locking,
            "a volatile DEFAULT (or a stored generated column) makes ADD COLUMN rewrite the whole table under an ACCESS EXCLUSIVE lock",
            "add the column without a default (or with a constant one), backfill in batches, then SET DEFAULT",
        ),
    ),
    (
        Rule::DisallowedUniqueConstraint,
        text(
            Class::Locking,
            "ADD UNIQUE builds its index under an ACCESS EXCLUSIVE lock: reads and writes wait until it is built",
            "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … UNIQUE USING INDEX",
        ),
    ),
    (
        Rule::AddingSerialPrimaryKeyField,
        text(
            Class::Locking,
            "ADD PRIMARY KEY builds its index under an ACCESS EXCLUSIVE lock: reads and writes wait until it is built",
            "CREATE UNIQUE INDEX CONCURRENTLY, then ADD CONSTRAINT … PRIMARY KEY USING INDEX",
        ),
    ),
    (
        Rule::BanConcurrentIndexCreationInTransaction,
        text(
            Class::Locking,
            "CREATE INDEX CONCURRENTLY cannot run inside a transaction: the migration fails when it gets there",
            "put CREATE INDEX CONCURRENTLY in its own migration that runs outside a transaction",
        ),
    ),
    (
        Rule::RequireConcurrentReindex,
        text(
            Class::Locking,
            "REINDEX without CONCURRENTLY blocks writes to the table (and reads using the index) until it ends",
            "REINDEX … CONCURRENTLY in its own migration (outside a transaction)",
        ),
    ),
    (
        Rule::RequireConcurrentPartitionDetach,
        text(
            Class::Locking,
            "DETACH PARTITION takes an ACCESS EXCLUSIVE lock on the parent table: reads and writes wait",
            "DETACH PARTITION … CONCURRENTLY in its own migration (outside a transaction)",
        ),
    ),
    (
        Rule::RequireLockTimeout,
        text(
            Class::Locking,
            "missing lock_timeout: a statement waiting for its lock queues every later query on the table behind it",
            "SET lock_timeout = '2s' at the top of the file, and retry the migration if it times out",
        ),
    ),
    (
        Rule::RenamingColumn,
        text(
            Class::Breaking,
            "the app version still running queries the column by its old name and fails",
            "add the new column, write both, backfill, switch reads, drop the old column in a later release",
        ),
    ),
    (
        Rule::RenamingTable,
        text(
            Class::Breaking,
            "the app version still running queries the table by its old name and fails",
            "switch the app to the new name first (e.g. behind a view with the old name), rename in a later release",
        ),
    ),
    (
        Rule::RenamingObject,
        text(
            Class::Breaking,
            "the app version still running refers to the object by its old name and fails",
            "add the new name alongside the old one, switch the app, remove the old name in a later release",
        ),
    ),
    (
        Rule::AddingRequiredField,
        text(
            Class::Breaking,
            "inserts from the app version still running do not set the new NOT NULL column and fail (and the ALTER fails on a table with rows)",
            "add the column nullable or with a constant DEFAULT; make it NOT NULL once every running app version writes it",
        ),
    ),
    (
        Rule::BanDropView,
        text(Class::Breaking, DROPPED_OBJECT_WHY, DROPPED_OBJECT_SAFER),
    ),
    (
        Rule::BanDropFunction,
        text(Class::Breaking, DROPPED_OBJECT_WHY, DROPPED_OBJECT_SAFER),
    ),
    (
        Rule::BanDropType,
        text(Class::Breaking, DROPPED_OBJECT_WHY, DROPPED_OBJECT_SAFER),
    ),
    (
        Rule::BanDropSequence,
        text(Class::Breaking, DROPPED_OBJECT_WHY, DROPPED_OBJECT_SAFER),
    ),
    (
        Rule::BanDropDomain,
        text(Class::Breaking, DROPPED_OBJECT_WHY, DROPPED_OBJECT_SAFER),
    ),
    (
        Rule::BanDropExtension,
        text(Class::Breaking, DROPPED_OBJECT_WHY, DROPPED_OBJECT_SAFER),
    ),
    (
        Rule::BanSetSchema,
        text(
            Class::Breaking,
            "the app version still running refers to the object in its old schema and fails",
            "create the object in the new schema alongside the old one, switch the app, drop the old one later",
        ),
    ),
    (
        Rule::BanDropDefault,
        text(
            Class::Breaking,
            "inserts from the app version still running that omit the column get NULL instead of the default (or fail on NOT NULL)",
            "drop the default once no running app version relies on it",
        ),
    ),
];

/// deckhand's own rules (`why` of `narrowing-type-change` and `could-not-parse` is completed by the analyzer).
pub const OWN_RULES: &[(&str, RuleText)] = &[
    (
        DO_BLOCK,
        text(
            Class::Dangerous,
            "a DO block runs procedural code no rule can see into (it may drop, delete or rewrite anything): review by hand",
            "write the statements as plain SQL so each can be checked, or review the block line by line",
        ),
    ),
    (
        DROP_OWNED,
        text(
            Class::Dangerous,
            "DROP OWNED drops every table, view and sequence the role owns, with their data",
            "drop the objects you mean by name, after a verified backup",
        ),
    ),
    (
        DROP_CASCADE,
        text(
            Class::Dangerous,
            "CASCADE also drops what depends on it: columns of this type, with their data, views, defaults",
            "drop the dependent objects explicitly first, or leave out CASCADE so PostgreSQL refuses while anything depends on it",
        ),
    ),
    (
        TRUNCATE,
        text(
            Class::Dangerous,
            "TRUNCATE deletes every row of the table at once",
            "delete exactly the rows you mean with a WHERE clause, in batches, after a verified backup",
        ),
    ),
    (
        DELETE_WITHOUT_WHERE,
        text(
            Class::Dangerous,
            "DELETE without WHERE deletes every row of the table",
            "add a WHERE clause for the rows you mean (in batches on a big table)",
        ),
    ),
    (
        UPDATE_WITHOUT_WHERE,
        text(
            Class::Dangerous,
            "UPDATE without WHERE overwrites every row of the table (old values are lost) and locks every row until commit",
            "add a WHERE clause for the rows you mean; backfill a big table in batches",
        ),
    ),
    (
        NARROWING_TYPE_CHANGE,
        text(
            Class::Dangerous,
            "the new type may not hold every existing value",
            "add a new column of the new type, backfill and check it, switch the app, then drop the old column",
        ),
    ),
    (
        DROPPED_COLUMN_STILL_READ,
        text(
            Class::Breaking,
            "dropping a column the running app version may still read: its queries naming the column fail",
            "release an app version that no longer reads or writes the column first, then drop it",
        ),
    ),
    (
        COULD_NOT_PARSE,
        text(
            Class::Dangerous,
            "could not parse — review by hand",
            "check the statement by hand: deckhand cannot tell what it does",
        ),
    ),
    (
        IGNORE_WITHOUT_REASON,
        text(
            Class::Locking,
            "a deckhand:ignore comment without a reason exempts nothing",
            "write the reason after the rule: -- deckhand:ignore <rule> <reason>",
        ),
    ),
    (
        UNUSED_IGNORE,
        text(
            Class::Locking,
            "a deckhand:ignore comment that matches no finding of its statement",
            "remove it, or put it on the line right before the statement it is meant for",
        ),
    ),
];

/// The class and texts of a squawk rule deckhand runs; `None` for the rules it does not report.
pub fn squawk_rule(rule: Rule) -> Option<RuleText> {
    SQUAWK_RULES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, text)| *text)
}

/// The class and texts of one of deckhand's own rules.
pub fn own_rule(rule: &str) -> Option<RuleText> {
    OWN_RULES
        .iter()
        .find(|(r, _)| *r == rule)
        .map(|(_, text)| *text)
}

/// Whether `name` is a rule an ignore comment can name: a rule deckhand reports, or `all`.
pub fn is_known(name: &str) -> bool {
    name == "all"
        || own_rule(name).is_some()
        || SQUAWK_RULES.iter().any(|(r, _)| r.to_string() == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_run_rule_has_a_text_and_names_round_trip() {
        for (rule, _) in SQUAWK_RULES {
            assert!(squawk_rule(*rule).is_some(), "{rule}");
            assert!(is_known(&rule.to_string()));
        }
        assert!(squawk_rule(Rule::PreferBigintOverInt).is_none());
        assert!(is_known(TRUNCATE) && is_known("all") && !is_known("prefer-text-field"));
    }
}
