//! `deckhand demo`: sets up the demo's SQLite shop database afresh in the data folder — three sqlx-format
//! migrations on disk, the first two applied — so the migration pane has something real to show and apply.

use std::path::{Path, PathBuf};

use deckhand::migrate::{self, Format, apply, db};

/// The demo's migrations, bundled so the demo runs from any folder.
const MIGRATIONS: [(&str, &str); 3] = [
    (
        "0001_create_orders.sql",
        include_str!("../../config/demo-migrations/0001_create_orders.sql"),
    ),
    (
        "0002_create_customers.sql",
        include_str!("../../config/demo-migrations/0002_create_customers.sql"),
    ),
    (
        "0003_add_order_status.sql",
        include_str!("../../config/demo-migrations/0003_add_order_status.sql"),
    ),
];
/// How many of them the fresh demo database has applied.
const APPLIED_AT_START: usize = 2;

/// Writes the migrations and a fresh database under `<data_dir>/demo`; returns that folder.
pub fn prepare(data_dir: &Path) -> Result<PathBuf, String> {
    let dir = data_dir.join("demo");
    let migrations = dir.join("migrations");
    let _ = std::fs::remove_dir_all(&dir);
    deckhand::safe_fs::create_private_dir(&migrations)
        .map_err(|e| format!("{}: {e}", migrations.display()))?;
    for (name, sql) in MIGRATIONS {
        let path = migrations.join(name);
        deckhand::safe_fs::create_new(&path)
            .and_then(|mut f| std::io::Write::write_all(&mut f, sql.as_bytes()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    runtime.block_on(apply_first(&dir, &migrations))?;
    Ok(dir)
}

async fn apply_first(dir: &Path, migrations: &Path) -> Result<(), String> {
    let url = format!("sqlite://{}?mode=rwc", dir.join("shop.db").display());
    let settings = db::Settings {
        lock_timeout: std::time::Duration::from_secs(5),
        statement_timeout: None,
    };
    let mut conn = db::connect(&url, &settings)
        .await
        .map_err(|e| e.to_string())?;
    let mut all = migrate::source::read(migrations, Format::Sqlx).map_err(|e| e.to_string())?;
    all.truncate(APPLIED_AT_START);
    let opts = apply::Options {
        lock_wait: std::time::Duration::from_secs(5),
        applied_by: "deckhand demo setup".into(),
    };
    let report = apply::apply(&mut conn, Format::Sqlx, &all, &opts, &mut |_| {})
        .await
        .map_err(|e| e.to_string())?;
    match report.failure {
        Some(e) => Err(format!("setting up the demo database: {e}")),
        None => Ok(()),
    }
}
