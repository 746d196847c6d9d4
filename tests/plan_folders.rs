#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]
//! Issue 16, defect 5 / must-work 5 (the filesystem half): a plan read from its file names folders that must
//! exist before a run — the migrations folder and each step's `cwd`. `deckhand check` refused nothing (the
//! preview then found no migrations, the preflight even showed ✓; a step failed to start mid-release). Now each
//! is refused at `file:line:column` with the key and what was expected.

use std::path::Path;
use std::process::Command;

fn write_plan(dir: &Path, migrations: &str, cwd: &str) -> std::path::PathBuf {
    let path = dir.join("p.toml");
    let source = format!(
        "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n\
         [database]\nurl = \"sqlite:shop.db\"\nmigrations = \"{migrations}\"\n\n\
         [[phase]]\nname = \"Deploy\"\nsteps = [{{ run = \"true\", cwd = \"{cwd}\" }}]\n"
    );
    std::fs::write(&path, source).unwrap();
    path
}

#[test]
fn folders_a_plan_names_must_exist_and_each_refusal_says_where() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir(d.path().join("migrations")).unwrap();
    std::fs::create_dir(d.path().join("app")).unwrap();
    std::fs::write(d.path().join("a-file"), "x").unwrap();

    let ok = deckhand::plan::load(&write_plan(d.path(), "migrations", "app")).unwrap();
    assert_eq!(ok.database.unwrap().migrations, d.path().join("migrations"));
    assert_eq!(ok.phases[0].steps[0].cwd, Some(d.path().join("app")));

    let cases = [
        (
            ("missing", "app"),
            ":7:14: database.migrations: the folder \"missing\" does not exist",
        ),
        (
            ("a-file", "app"),
            ":7:14: database.migrations: \"a-file\" is not a folder",
        ),
        (
            ("migrations", "gone"),
            ":11:32: phase[0].steps[0].cwd: the folder \"gone\" does not exist",
        ),
    ];
    for ((migrations, cwd), want) in cases {
        let path = write_plan(d.path(), migrations, cwd);
        let err = deckhand::plan::load(&path).expect_err(want).to_string();
        assert!(err.contains(want), "want {want:?}, got {err}");
        assert!(err.contains("expected the folder"), "{err}");
        assert!(
            err.contains(&d.path().display().to_string()),
            "names the full path: {err}"
        );
    }

    // The command an operator runs before the window says the same, exit 2.
    let path = write_plan(d.path(), "missing", "app");
    let out = Command::new(env!("CARGO_BIN_EXE_deckhand"))
        .arg("check")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("database.migrations: the folder \"missing\" does not exist"),
        "{stderr}"
    );
}

#[test]
fn text_parsed_without_a_file_is_not_looked_for_on_disk() {
    // Plans built in memory (tests, the plan's own examples) name folders of another machine.
    let source = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n\
                  [database]\nurl = \"sqlite:shop.db\"\nmigrations = \"nowhere\"\n";
    let plan = deckhand::plan::parse(source, Path::new("/elsewhere/p.toml"), &|_| None).unwrap();
    assert_eq!(
        plan.database.unwrap().migrations,
        Path::new("/elsewhere/nowhere")
    );
}
