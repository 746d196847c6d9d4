//! Drift (issue 18, must-work 2) against a real PostgreSQL and SQLite: the live schema compared with the schema the
//! applied history makes when replayed on a scratch database. No drift on databases migrated by deckhand, by sqlx's
//! own migrator and by Drizzle's own migrator; each kind of hand-made change told; the ledgers never drift; the
//! scratch database gone afterwards, also when a migration fails to replay and on cancel; and `deckhand drift`'s
//! exit codes and JSON through the real binary.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::migrations::{self as m, apply_all};
use common::pg::{TestDb, database_exists, fresh_db};
use deckhand::drift::{self, Change, DriftError, DriftReport, Kind, Stage};
use deckhand::plan::Database;
use sqlx::{AssertSqlSafe, Connection};
use tokio_util::sync::CancellationToken;

const INIT: &str = "CREATE EXTENSION IF NOT EXISTS pgcrypto;
CREATE TYPE status AS ENUM ('new', 'paid');
CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL, active boolean NOT NULL DEFAULT true);
CREATE UNIQUE INDEX users_email_idx ON users (email);
CREATE TABLE orders (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id int NOT NULL REFERENCES users (id),
  status status NOT NULL DEFAULT 'new',
  total numeric(10, 2) NOT NULL CHECK (total >= 0),
  items int
);
CREATE INDEX orders_user_idx ON orders (user_id);
CREATE SEQUENCE invoice_no START 1000;
";

const LOGIC: &str = "CREATE VIEW paid_orders AS SELECT id, total FROM orders WHERE status = 'paid';
CREATE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER orders_touch BEFORE UPDATE ON orders FOR EACH ROW EXECUTE FUNCTION touch();
";

/// Every kind of hand-made change the check tells, one statement each.
const BY_HAND: &str = "ALTER TABLE orders ADD COLUMN note text;
DROP INDEX orders_user_idx;
ALTER TYPE status ADD VALUE 'archived';
ALTER TABLE users ALTER COLUMN active SET DEFAULT false;
ALTER TABLE users ALTER COLUMN email DROP NOT NULL;
ALTER TABLE orders ALTER COLUMN items TYPE bigint;
ALTER TABLE orders DROP CONSTRAINT orders_total_check;
CREATE OR REPLACE VIEW paid_orders AS SELECT id, total FROM orders WHERE status = 'paid' AND total > 0;
CREATE OR REPLACE FUNCTION touch() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.items := 0; RETURN NEW; END $$;
ALTER TABLE orders DISABLE TRIGGER orders_touch;
ALTER SEQUENCE invoice_no INCREMENT BY 10;
CREATE TABLE audit (id int PRIMARY KEY, at timestamptz);
CREATE EXTENSION citext;
CREATE INDEX prisma_ledger_by_hand ON _prisma_migrations (started_at);
";

async fn exec(tdb: &TestDb, sql: &str) {
    let mut conn = tdb.connect().await;
    sqlx::raw_sql(AssertSqlSafe(sql.to_string()))
        .execute(&mut conn)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"));
    conn.close().await.unwrap();
}

async fn check(spec: &Database) -> DriftReport {
    drift::check(spec, &CancellationToken::new())
        .await
        .unwrap_or_else(|e| panic!("drift check failed: {e}"))
}

fn messages(r: &DriftReport) -> Vec<&str> {
    r.differences.iter().map(|d| d.message.as_str()).collect()
}

#[tokio::test]
async fn no_drift_after_deckhand_then_each_kind_of_change_by_hand_is_told() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::prisma(
        dir.path(),
        &[
            ("20240101000000_init", INIT),
            ("20240201000000_logic", LOGIC),
        ],
    );
    let spec = m::database(&tdb.url, dir.path(), "prisma");
    assert!(apply_all(&spec).await.failure.is_none());
    m::prisma(
        dir.path(),
        &[(
            "20240301000000_pending",
            "ALTER TABLE users ADD COLUMN name text;",
        )],
    );

    let clean = check(&spec).await;
    assert_eq!(messages(&clean), Vec::<&str>::new(), "{clean:#?}");
    assert!(!clean.has_drift());
    assert_eq!(
        clean.replayed,
        ["20240101000000_init", "20240201000000_logic"]
    );
    assert!(clean.scratch.starts_with(drift::SCRATCH_PREFIX));
    assert!(!database_exists(&clean.scratch).await, "scratch dropped");
    assert_eq!(
        clean.notes,
        ["1 migration(s) not applied yet: not part of the history compared"]
    );
    assert!(clean.live_objects > 20, "{}", clean.live_objects);
    assert_eq!(clean.live_objects, clean.history_objects);

    exec(&tdb, BY_HAND).await;
    let r = check(&spec).await;
    assert!(!database_exists(&r.scratch).await, "scratch dropped");
    let lines = messages(&r);
    // The index made on the Prisma ledger by hand is not there: the ledger is the tool's, never drift.
    assert_eq!(
        lines[..10],
        [
            "extension citext: not in the history (added by hand?)",
            "enum status: value 'archived' not in the history",
            "sequence invoice_no: increment 1 in the history, 10 live",
            "table audit: not in the history (added by hand?)",
            "column orders.items: type integer in the history, bigint live",
            "column orders.note: not in the history (added by hand?)",
            "column users.active: default true in the history, false live",
            "column users.email: NOT NULL in the history, nullable live",
            "index orders_user_idx: missing on the live database",
            "constraint orders.orders_total_check: missing on the live database",
        ],
        "{lines:#?}"
    );
    // Definitions are compared whole; the sentence gives a fingerprint of each side, the JSON both texts.
    assert_eq!(lines.len(), 13, "{lines:#?}");
    for (line, start) in lines[10..].iter().zip([
        "view paid_orders: definition differs (sha256 ",
        "function touch(): definition differs (sha256 ",
        "trigger orders.orders_touch: enabled in the history, disabled live",
    ]) {
        assert!(line.starts_with(start), "{line}");
    }
    let view = &r.differences[10];
    assert!(
        view.live.as_deref().unwrap().contains("total > "),
        "{view:?}"
    );
    let archived = &r.differences[1];
    assert_eq!(
        (archived.kind, archived.change, archived.aspect.as_deref()),
        (Kind::Enum, Change::NotInHistory, Some("value"))
    );
    assert_eq!(archived.live.as_deref(), Some("archived"));
    let default = &r.differences[6];
    assert_eq!(
        (default.history.as_deref(), default.live.as_deref()),
        (Some("true"), Some("false"))
    );
    assert_eq!(default.table.as_deref(), Some("users"));
}

/// The history as Drizzle writes it: statements separated by `--> statement-breakpoint`.
fn drizzle_sql(sql: &str) -> String {
    sql.split_inclusive(";\n")
        .collect::<Vec<_>>()
        .join("--> statement-breakpoint\n")
}

#[tokio::test]
async fn no_drift_after_sqlx_s_own_migrator() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(dir.path(), &[("1_init", INIT), ("2_logic", LOGIC)]);
    let mut conn = tdb.connect().await;
    sqlx::migrate::Migrator::new(dir.path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    conn.close().await.unwrap();
    let r = check(&m::database(&tdb.url, dir.path(), "sqlx")).await;
    assert_eq!(messages(&r), Vec::<&str>::new(), "{r:#?}");
    assert_eq!(r.replayed, ["1_init", "2_logic"]);
    assert!(r.notes.is_empty(), "{:?}", r.notes);
}

#[tokio::test]
async fn no_drift_after_drizzle_s_own_migrator_nor_after_deckhand_s() {
    let history = [
        ("0000_init", 1_700_000_000_000, drizzle_sql(INIT)),
        ("0001_logic", 1_700_000_100_000, drizzle_sql(LOGIC)),
    ];
    let history: Vec<(&str, i64, &str)> = history
        .iter()
        .map(|(t, w, s)| (*t, *w, s.as_str()))
        .collect();
    let dir = tempfile::tempdir().unwrap();
    m::drizzle(dir.path(), &history);
    let (by_drizzle, by_deckhand) = (fresh_db().await, fresh_db().await);
    run_drizzle_migrator(dir.path(), &by_drizzle.url);
    let spec = m::database(&by_deckhand.url, dir.path(), "drizzle");
    assert!(apply_all(&spec).await.failure.is_none());
    for tdb in [&by_drizzle, &by_deckhand] {
        let r = check(&m::database(&tdb.url, dir.path(), "drizzle")).await;
        assert_eq!(messages(&r), Vec::<&str>::new(), "{r:#?}");
        assert_eq!(r.replayed, ["0000_init", "0001_logic"], "{r:#?}");
    }
}

/// Drizzle's own migrator (tests/fixtures/drizzle_migrator: drizzle-orm and node-postgres, installed with `npm ci`
/// from the npm registry into this test binary's temporary folder, once) applies `migrations` to `url`.
fn run_drizzle_migrator(migrations: &Path, url: &str) {
    let fixture = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/drizzle_migrator");
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("drizzle_migrator");
    std::fs::create_dir_all(&dir).unwrap();
    for f in ["package.json", "package-lock.json", "migrate.cjs"] {
        std::fs::copy(fixture.join(f), dir.join(f)).unwrap();
    }
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap();
    let marker = dir.join("installed-from-lock");
    if std::fs::read(&marker).ok().as_deref() != Some(&lock[..]) {
        let out = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--ignore-scripts"])
            .current_dir(&dir)
            .output()
            .unwrap_or_else(|e| panic!("Drizzle's migrator needs Node.js and npm (Debian: apt-get install nodejs npm): {e}"));
        assert!(
            out.status.success(),
            "npm ci for Drizzle's migrator failed: {}",
            text(&out.stderr)
        );
        std::fs::write(&marker, &lock).unwrap();
    }
    let out = Command::new("node")
        .arg(dir.join("migrate.cjs"))
        .arg(migrations)
        .env("DATABASE_URL", url)
        .output()
        .unwrap_or_else(|e| {
            panic!("Drizzle's migrator needs Node.js (Debian: apt-get install nodejs): {e}")
        });
    assert!(
        out.status.success(),
        "Drizzle's migrator failed: {}",
        text(&out.stderr)
    );
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[tokio::test]
async fn a_history_that_does_not_replay_is_an_error_naming_it_and_the_scratch_is_gone_then_and_on_cancel()
 {
    let tdb = fresh_db().await;
    // citext installed by hand, outside the migrations: the history uses it, so it cannot replay without it.
    exec(&tdb, "CREATE EXTENSION citext").await;
    let dir = tempfile::tempdir().unwrap();
    m::plain(
        dir.path(),
        &[
            ("0001_users", "CREATE TABLE users (id int PRIMARY KEY);"),
            ("0002_emails", "ALTER TABLE users ADD COLUMN email citext;"),
        ],
    );
    let spec = m::database(&tdb.url, dir.path(), "plain");
    assert!(apply_all(&spec).await.failure.is_none());

    let mut scratch = None;
    let result = drift::check_reporting(&spec, &CancellationToken::new(), &mut |s| {
        if let Stage::Created { scratch: name } = s {
            scratch = Some(name);
        }
    })
    .await;
    let Err(DriftError::Replay {
        migration,
        message,
        hint,
    }) = &result
    else {
        panic!("expected a replay failure, got {result:?}");
    };
    assert_eq!(migration.as_deref(), Some("0002_emails"));
    assert!(
        message.contains("type \"citext\" does not exist"),
        "{message}"
    );
    assert!(
        hint.as_deref().unwrap().contains("extension(s) citext"),
        "{hint:?}"
    );
    let text = result.unwrap_err().to_string();
    assert!(text.contains("drift could not be checked"), "{text}");
    let scratch = scratch.expect("a scratch database was made");
    assert!(
        !database_exists(&scratch).await,
        "{scratch} dropped after the failure"
    );

    // Cancelled while the history replays: the scratch database is dropped all the same.
    let cancel = CancellationToken::new();
    let mut scratch = None;
    let result = drift::check_reporting(&spec, &cancel, &mut |s| match s {
        Stage::Created { scratch: name } => scratch = Some(name),
        Stage::Replaying { .. } => cancel.cancel(),
        _ => {}
    })
    .await;
    assert!(matches!(result, Err(DriftError::Cancelled)), "{result:?}");
    let scratch = scratch.expect("a scratch database was made");
    assert!(
        !database_exists(&scratch).await,
        "{scratch} dropped after the cancel"
    );
}

#[tokio::test]
async fn a_role_that_may_not_create_databases_is_named() {
    let tdb = fresh_db().await;
    let role = format!(
        "drift_nocreate_{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    );
    exec(
        &tdb,
        &format!(
            "CREATE ROLE {role} LOGIN PASSWORD 'pw-nocreate'; GRANT CONNECT ON DATABASE {} TO {role}",
            tdb.name
        ),
    )
    .await;
    let dir = tempfile::tempdir().unwrap();
    m::plain(
        dir.path(),
        &[("0001_users", "CREATE TABLE users (id int);")],
    );
    let url = format!(
        "postgres://{role}:pw-nocreate@{}:{}/{}",
        tdb.host, tdb.port, tdb.name
    );
    let result = drift::check(
        &m::database(&url, dir.path(), "plain"),
        &CancellationToken::new(),
    )
    .await;
    exec(&tdb, &format!("DROP OWNED BY {role}; DROP ROLE {role}")).await;
    match result {
        Err(e @ DriftError::NoCreateDb { .. }) => {
            let text = e.to_string();
            assert!(
                text.starts_with(&format!("role {role} may not create databases")),
                "{text}"
            );
            assert!(
                text.contains(&format!("ALTER ROLE {role} CREATEDB")),
                "{text}"
            );
        }
        other => panic!("expected NoCreateDb, got {other:?}"),
    }
}

const SQLITE_INIT: &str = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, active INTEGER NOT NULL DEFAULT 1);
CREATE INDEX users_active_idx ON users (active);
CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE, total REAL);
CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100;
";

#[tokio::test]
async fn sqlite_drift_on_a_temporary_file() {
    let dir = tempfile::tempdir().unwrap();
    let migrations = dir.path().join("migrations");
    m::sqlx(&migrations, &[("1_init", SQLITE_INIT)]);
    let file = dir.path().join("shop.db");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let spec = m::database(&url, &migrations, "sqlx");
    assert!(apply_all(&spec).await.failure.is_none());
    let clean = check(&spec).await;
    assert_eq!(messages(&clean), Vec::<&str>::new(), "{clean:#?}");
    assert!(clean.live_objects >= 12, "{clean:#?}");

    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "ALTER TABLE orders ADD COLUMN note TEXT;
         DROP INDEX users_active_idx;
         CREATE TRIGGER orders_audit AFTER INSERT ON orders BEGIN SELECT 1; END;
         DROP VIEW big_orders; CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000;
         CREATE TABLE scratchpad (x);
         CREATE INDEX ledger_by_hand ON _sqlx_migrations (installed_on);",
    )
    .execute(&mut conn)
    .await
    .unwrap();
    conn.close().await.unwrap();
    let r = check(&spec).await;
    assert_eq!(
        messages(&r),
        [
            "table scratchpad: not in the history (added by hand?)",
            "column orders.note: not in the history (added by hand?)",
            "index users_active_idx: missing on the live database",
            "view big_orders: definition CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 100 in the \
             history, CREATE VIEW big_orders AS SELECT * FROM orders WHERE total > 1000 live",
            "trigger orders.orders_audit: not in the history (added by hand?)",
        ],
        "{r:#?}"
    );
    let scratch = r.scratch.strip_prefix("temporary file ").unwrap();
    let folder = Path::new(scratch).parent().unwrap();
    assert!(!folder.exists(), "{} removed", folder.display());
}

/// A plan whose database is `${TEST_PLAN_DB}` and whose migrations are `migrations/` in `format`.
fn plan(dir: &Path, format: &str) -> std::path::PathBuf {
    let path = dir.join("deckhand.toml");
    m::write(
        &path,
        &format!(
            "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[database]\nurl = \"${{TEST_PLAN_DB}}\"\n\
             migrations = \"migrations\"\nformat = \"{format}\"\n"
        ),
    );
    path
}

fn drift_cli(plan: &Path, url: &str, flags: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("drift")
        .arg(plan)
        .args(flags)
        .env("TEST_PLAN_DB", url)
        .output()
        .expect("run deckhand")
}

#[tokio::test]
async fn the_command_exits_0_clean_1_drift_or_unchecked_2_usage_and_prints_json() {
    let tdb = fresh_db().await;
    let dir = tempfile::tempdir().unwrap();
    m::sqlx(
        &dir.path().join("migrations"),
        &[("1_users", "CREATE TABLE users (id int PRIMARY KEY);")],
    );
    let plan = plan(dir.path(), "sqlx");
    assert!(
        apply_all(&m::database(
            &tdb.url,
            &dir.path().join("migrations"),
            "sqlx"
        ))
        .await
        .failure
        .is_none()
    );

    let out = drift_cli(&plan, &tdb.url, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("1 applied migration(s) replayed on deckhand_drift_"),
        "{stdout}"
    );
    assert!(
        stdout
            .trim_end()
            .ends_with("no drift: the live schema is what the applied migrations make"),
        "{stdout}"
    );

    // A column made by hand, named to drive the terminal: told, inert.
    exec(
        &tdb,
        "ALTER TABLE users ADD COLUMN \"evil\x1b]0;owned\x07\" text",
    )
    .await;
    let out = drift_cli(&plan, &tdb.url, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(!stdout.contains('\x1b'), "{stdout:?}");
    assert!(
        stdout.contains("  column users.evil^[]0;owned^G: not in the history (added by hand?)"),
        "{stdout}"
    );
    assert!(stdout.contains("drift: 1 difference(s)"), "{stdout}");
    let out = drift_cli(&plan, &tdb.url, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON on stdout");
    assert_eq!(json["result"], "drift");
    assert_eq!(json["exit_code"], 1);
    assert_eq!(json["differences"][0]["kind"], "column");
    assert_eq!(json["differences"][0]["change"], "not_in_history");
    assert_eq!(
        json["differences"][0]["object"],
        "users.evil\u{1b}]0;owned\u{7}"
    );
    assert_eq!(json["replayed"][0], "1_users");

    // The database cannot be reached: not checked (1), the reason on stderr and in the JSON, never the password.
    let unreachable = "postgres://app:Sup3rSecretPw@127.0.0.1:1/shop";
    let out = drift_cli(&plan, unreachable, &["--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(
        stderr.contains("deckhand: could not check for drift: cannot connect to 127.0.0.1:1/shop"),
        "{stderr}"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("JSON on stdout");
    assert_eq!(json["result"], "not_checked");
    assert!(!format!("{stdout}{stderr}").contains("Sup3rSecretPw"));

    // Bad usage and a plan without a database: 2.
    let out = drift_cli(&plan, &tdb.url, &["--format", "xml"]);
    assert_eq!(out.status.code(), Some(2));
    let no_db = dir.path().join("no-db.toml");
    m::write(
        &no_db,
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"x\"\nsteps = [{ run = \"true\" }]\n",
    );
    let out = drift_cli(&no_db, &tdb.url, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("has no [database] section"));
}
