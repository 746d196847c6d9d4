//! A whole history applied by hand in the real binary, in a real 80x24 pseudo-terminal (issue 15, defect 7): 200
//! pending migrations, the second hundred dropping the tables the first hundred create. The apply confirmation is
//! over 400 lines: it leads with the summary of the risks, scrolls with PgDn/End/the arrows while the environment's
//! name is typed, keeps the line that says what to type on screen throughout, and — no existing data being at
//! stake — asks for no typed object name: one confirmation applies the lot.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod common;

use common::pty::PtyApp;

const PAGE_DOWN: &str = "\x1b[6~";
const DOWN: &str = "\x1b[B";
const END: &str = "\x1b[F";

/// A production plan on an empty SQLite database with 200 sqlx migrations.
fn history(dir: &std::path::Path) -> String {
    let migrations = dir.join("migrations");
    std::fs::create_dir_all(&migrations).unwrap();
    for i in 1..=200 {
        let sql = if i <= 100 {
            format!("CREATE TABLE t{i} (id integer PRIMARY KEY, note text);\n")
        } else {
            format!("DROP TABLE t{};\n", i - 100)
        };
        std::fs::write(migrations.join(format!("{i:04}_step_{i}.sql")), sql).unwrap();
    }
    std::fs::File::create(dir.join("history.db")).unwrap();
    let plan = dir.join("history.toml");
    std::fs::write(
        &plan,
        format!(
            "[project]\nname = \"history\"\nenvironment = \"production\"\n\n\
             [database]\nurl = \"sqlite://{db}\"\nmigrations = \"{migrations}\"\nformat = \"sqlx\"\n\n\
             [backup]\ndir = \"{backups}\"\n",
            db = dir.join("history.db").display(),
            migrations = migrations.display(),
            backups = dir.join("backups").display(),
        ),
    )
    .unwrap();
    plan.display().to_string()
}

#[test]
fn a_200_migration_history_applies_in_one_scrollable_confirmation_at_80x24() {
    let data = tempfile::tempdir().unwrap();
    let plan = history(data.path());
    let mut app = PtyApp::start_with_env(
        &["run", &plan],
        data.path(),
        &[("SSH_CONNECTION", ""), ("SSH_CLIENT", "")],
    );
    app.wait_for("200 pending");
    app.send("B");
    app.wait_for("backup verified");
    app.send("d");
    app.wait_for("Dry-run the pending migrations");
    app.wait_prompt_ready();
    app.send("y");
    app.wait_for("all rolled back");

    app.send("a");
    app.wait_for("Apply migrations");
    app.wait_prompt_ready();
    let first = app.contents();
    assert!(
        first.contains("100 dangerous (100 lose no existing data)"),
        "{first}"
    );
    assert!(
        first.contains("none: no existing data is at stake"),
        "{first}"
    );
    assert!(first.contains("more line(s) below"), "{first}");
    assert!(first.contains("Type production and press Enter"), "{first}");

    // Typing and scrolling interleave; the answer and its instruction stay on screen.
    app.type_keys("prod");
    app.wait_for("> prod_");
    for _ in 0..3 {
        app.send(PAGE_DOWN);
    }
    app.wait_for("more line(s) above");
    app.wait_for("0040_step_40");
    app.send(DOWN);
    app.wait_for("0041_step_41");
    let paged = app.contents();
    assert!(paged.contains("> prod_"), "{paged}");
    assert!(paged.contains("Type production and press Enter"), "{paged}");
    assert!(!paged.contains("Cancelled"), "{paged}");
    // The last finding: a table the batch created, listed with why no name is asked.
    app.send(END);
    app.wait_for("DROP TABLE t100 —");
    let end = app.contents();
    assert!(
        end.contains("needed: created earlier in this batch, 0100_step_100 line 1"),
        "{end}"
    );
    assert!(!end.contains("more line(s) below"), "{end}");
    assert!(end.contains("> prod_"), "{end}");

    app.type_keys("uction");
    app.wait_for("> production_");
    app.send("\r");
    app.wait_for("applied 200 migration(s)");
    assert!(!app.contents().contains("Data loss"), "{}", app.contents());
    app.wait_for("200 applied, 0 pending");

    app.send("q");
    app.wait_for("Quit before sign-off");
    app.wait_prompt_ready();
    app.send("y");
    assert_eq!(app.wait_exit(), 1);
    app.assert_restored();
}
