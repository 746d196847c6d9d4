//! The example plans in `config/examples/`, one per real deployment runbook, stay valid and keep saying what
//! they encode: each passes `deckhand check` with the real binary (every environment of the one that has
//! several), and its output shows the phases, rollback, monitor, window and environments the runbook needs;
//! each migrations folder reads in its tool's format and lints without a dangerous statement; the deploy
//! scripts are executable; no example file holds a credential (all through `${VAR}`), and `check` prints none of
//! the secret values; and the folder holds exactly the five examples tested here.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use deckhand::plan::{self, LogInput, Plan};

/// The examples, in the order of `config/examples/README.md`.
const EXAMPLES: [&str; 5] = [
    "a-sql-migration.toml",
    "b-prisma.toml",
    "c-drizzle.toml",
    "d-feature-blue-green.toml",
    "e-fly.toml",
];

/// Every variable the examples read, with placeholder values. The child gets exactly these (the test's own
/// environment may hold a real DATABASE_URL).
const VARS: &[(&str, &str)] = &[
    (
        "DATABASE_URL",
        "postgres://app:db-pw-0001@db.internal:5432/shop",
    ),
    (
        "STAGING_DATABASE_URL",
        "postgres://app:db-pw-0002@db.staging.internal:5432/shop",
    ),
    ("SMOKE_TOKEN", "smoke-token-0003"),
    (
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.com/services/T000/B000/webhook-secret-0004",
    ),
    ("RELEASE", "2026.11.3"),
    ("PREVIOUS_RELEASE", "2026.11.2"),
    (
        "FLY_PREVIOUS_IMAGE",
        "registry.fly.io/shop:deployment-01JPREVIOUS",
    ),
    ("HOME", "/home/deploy"),
];

/// The parts of `VARS` that `check` must never print.
const SECRETS: [&str; 4] = [
    "db-pw-0001",
    "db-pw-0002",
    "smoke-token-0003",
    "webhook-secret-0004",
];

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("config/examples")
}

/// The real binary, run from the crate root with `VARS` minus `without` as the only plan variables.
fn deckhand(args: &[&str], without: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_deckhand"));
    cmd.args(args).current_dir(env!("CARGO_MANIFEST_DIR"));
    for (name, value) in VARS {
        cmd.env_remove(name);
        if !without.contains(name) {
            cmd.env(name, value);
        }
    }
    cmd.output().expect("run deckhand")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// `deckhand check config/examples/<file> [--env env]`: exit 0, nothing secret printed; returns stdout.
fn check(file: &str, env: Option<&str>) -> String {
    let path = format!("config/examples/{file}");
    let mut args = vec!["check", path.as_str()];
    if let Some(env) = env {
        args.extend(["--env", env]);
    }
    let out = deckhand(&args, &[]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}: exit code\nstdout:\n{stdout}\nstderr:\n{stderr}",
        args.join(" ")
    );
    for secret in SECRETS {
        assert!(
            !stdout.contains(secret) && !stderr.contains(secret),
            "{}: printed the secret {secret}:\n{stdout}{stderr}",
            args.join(" ")
        );
    }
    stdout
}

fn assert_has(stdout: &str, wants: &[&str]) {
    for want in wants {
        assert!(
            stdout.contains(want),
            "check output lacks {want:?}:\n{stdout}"
        );
    }
}

/// The plan as the library loads it, with `VARS`, for what `check` does not print.
fn load(file: &str, env: Option<&str>) -> Plan {
    let path = examples_dir().join(file);
    let source = std::fs::read_to_string(&path).expect("read example");
    let vars = |name: &str| {
        VARS.iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_string())
    };
    plan::parse_env(&source, &path, env, &vars).unwrap_or_else(|e| panic!("{e}"))
}

/// `deckhand lint <folder> --format json`: exit 0 (nothing dangerous); the migration names in apply order.
fn lint_names(folder: &str) -> Vec<String> {
    let path = format!("config/examples/{folder}");
    let out = deckhand(&["lint", &path, "--format", "json"], &[]);
    let stdout = text(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "lint {path}:\n{stdout}{}",
        text(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_str(&stdout).expect("lint JSON");
    json["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| f["name"].as_str().expect("name").to_string())
        .collect()
}

fn assert_executable(path: &Path) {
    let meta = std::fs::metadata(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(
        meta.is_file() && meta.permissions().mode() & 0o111 != 0,
        "{} is not an executable file",
        path.display()
    );
}

/// The script a step runs, resolved against the step's `cwd`.
fn script_of(plan: &Plan, phase: usize) -> PathBuf {
    let step = &plan.phases[phase].steps[0];
    step.cwd
        .as_ref()
        .expect("the step has a cwd")
        .join("scripts/deploy.sh")
}

#[test]
fn a_sql_migration_with_down_files_deploy_script_and_success_criteria() {
    let out = check("a-sql-migration.toml", None);
    assert_has(
        &out,
        &[
            "environment \"production\" (production: typed confirmations); 3 checklist item(s), 2 phase(s), 1 destructive.",
            "  rollback: 1 step(s), database auto\n",
            "  window: Mon-Thu 09:00-16:00 (Europe/Berlin)\n",
            "  monitor: 10m\n",
            "  notify: https://hooks.slack.com/…\n",
            "  smoke: 2 check(s)\n",
            "  phase 1 [destructive] Deploy\n    $ ./scripts/deploy.sh\n",
        ],
    );
    // The rollback's "auto" runs down migrations only when every applied one has one.
    let names = lint_names("a-sql-migration/migrations");
    assert_eq!(names, ["001-create-invoices", "002-add-invoice-status"]);
    let dir = examples_dir().join("a-sql-migration/migrations");
    for name in &names {
        assert!(
            dir.join(format!("{name}.down.sql")).is_file(),
            "{name} has no down file"
        );
    }
    let p = load("a-sql-migration.toml", None);
    let db = p.database.as_ref().expect("[database]");
    assert_eq!(db.format.as_deref(), Some("plain"));
    assert_eq!(db.migrations, dir);
    assert!(p.backup.is_some() && p.phases[0].needs_backup);
    assert_eq!(p.verify.len(), 3);
    assert_executable(&script_of(&p, 0));
    let rollback = p.rollback.as_ref().expect("[rollback]");
    assert_eq!(
        rollback.steps[0].run.value,
        "./scripts/deploy.sh --rollback"
    );
}

#[test]
fn b_prisma_applied_by_deckhand_with_schema_assertions_and_alert_thresholds() {
    let out = check("b-prisma.toml", None);
    assert_has(
        &out,
        &[
            "3 checklist item(s), 3 phase(s), 1 destructive.",
            "  rollback: 2 step(s), database auto\n",
            "  monitor: 15m\n",
            "  phase 1 [safe] Prisma agrees\n    $ npx prisma migrate status",
            "  phase 3 [destructive] Reload the app\n",
        ],
    );
    assert_eq!(
        lint_names("b-prisma/prisma/migrations"),
        ["20261103091500_init", "20261117143000_add_order_items"]
    );
    let lock = std::fs::read_to_string(
        examples_dir().join("b-prisma/prisma/migrations/migration_lock.toml"),
    )
    .expect("migration_lock.toml");
    assert!(lock.contains("provider = \"postgresql\""), "{lock}");
    let p = load("b-prisma.toml", None);
    assert_eq!(
        p.database.as_ref().and_then(|d| d.format.as_deref()),
        Some("prisma")
    );
    let sql: Vec<&str> = p.verify.iter().map(|v| v.sql.as_str()).collect();
    assert!(
        sql.iter().any(|s| s.contains("information_schema.tables")),
        "{sql:?}"
    );
    assert!(sql.iter().any(|s| s.contains("'FOREIGN KEY'")), "{sql:?}");
    let h = &p.health[0];
    assert_eq!((h.latency_factor, h.error_rate), (2.0, 0.05));
}

#[test]
fn c_drizzle_merge_and_deploy_with_stable_tag_rollback_and_long_watch() {
    let out = check("c-drizzle.toml", None);
    assert_has(
        &out,
        &[
            "3 checklist item(s), 2 phase(s), 1 destructive.",
            "  rollback: 1 step(s), database auto\n",
            "  monitor: 30m\n",
            "  phase 2 [destructive] Merge and deploy\n    $ git fetch origin && git checkout main && git merge --no-ff origin/staging && git push origin main\n    $ ./scripts/deploy.sh\n",
        ],
    );
    // Drizzle applies what the journal lists, in its order: every entry has its file and nothing else is read.
    let names = lint_names("c-drizzle/drizzle");
    assert_eq!(names, ["0000_brave_captain", "0001_quiet_warehouse"]);
    let journal =
        std::fs::read_to_string(examples_dir().join("c-drizzle/drizzle/meta/_journal.json"))
            .expect("_journal.json");
    let journal: serde_json::Value = serde_json::from_str(&journal).expect("journal JSON");
    let tags: Vec<&str> = journal["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| e["tag"].as_str().expect("tag"))
        .collect();
    assert_eq!(tags, names);
    let p = load("c-drizzle.toml", None);
    assert_eq!(
        p.database.as_ref().and_then(|d| d.format.as_deref()),
        Some("drizzle")
    );
    let merge = &p.phases[1];
    assert!(merge.destructive && merge.needs_backup);
    assert_executable(&script_of(&p, 1));
    let rollback = &p.rollback.as_ref().expect("[rollback]").steps[0].run.value;
    assert!(
        rollback.contains("--match 'stable-*'") && rollback.ends_with("./scripts/deploy.sh"),
        "{rollback}"
    );
}

#[test]
fn d_feature_blue_green_in_staging_and_production() {
    let both = [
        "4 phase(s), 3 destructive.",
        "  rollback: 4 step(s), database auto\n",
        "  smoke: 2 check(s)\n",
        "  phase 1 [safe] Dry run\n    $ docker compose -p shop-green config --quiet && docker compose --dry-run -p shop-green up -d\n",
        "  phase 2 [destructive] Start green\n    $ docker compose -p shop-green up -d\n",
        "  phase 4 [destructive] Retire blue\n    $ docker compose -p shop-blue down\n",
    ];
    let staging = check("d-feature-blue-green.toml", Some("staging"));
    assert_has(&staging, &both);
    assert_has(
        &staging,
        &[
            "Project \"shop\", environment \"staging\"; ",
            "  environments: staging, production (chosen: staging)\n",
            "  monitor: 10m\n",
            "ssh deploy@staging.shop.internal ",
        ],
    );
    assert!(
        !staging.contains("window:") && !staging.contains("notify:"),
        "production-only sections leaked into staging:\n{staging}"
    );
    let production = check("d-feature-blue-green.toml", Some("production"));
    assert_has(&production, &both);
    assert_has(
        &production,
        &[
            "environment \"production\" (production: typed confirmations)",
            "  environments: staging, production (chosen: production, a production environment)\n",
            "  window: Tue-Thu 10:00-15:00 (Europe/Berlin)\n",
            "  monitor: 30m\n",
            "  notify: https://hooks.slack.com/…\n",
            "ssh deploy@app.shop.internal ",
        ],
    );
    // No --env: [project] environment, staging.
    assert_eq!(check("d-feature-blue-green.toml", None), staging);
    // Only the chosen environment's sections are resolved: staging needs no production credentials ...
    let plan = "config/examples/d-feature-blue-green.toml";
    let out = deckhand(
        &["check", plan, "--env", "staging"],
        &["DATABASE_URL", "SLACK_WEBHOOK_URL"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // ... and production refuses to load without its webhook, naming it.
    let out = deckhand(
        &["check", plan, "--env", "production"],
        &["SLACK_WEBHOOK_URL"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("SLACK_WEBHOOK_URL"),
        "{}",
        text(&out.stderr)
    );
    let out = deckhand(&["check", plan, "--env", "qa"], &[]);
    assert_eq!(out.status.code(), Some(2), "an unknown environment");
    let p = load("d-feature-blue-green.toml", Some("production"));
    assert_eq!(p.backup.as_ref().and_then(|b| b.keep), Some(14));
    assert_eq!(
        p.health[0]
            .url()
            .map(|u| u.value.as_str())
            .unwrap_or_default(),
        "https://shop.example.com/api/health"
    );
}

#[test]
fn e_fly_migrates_over_ssh_after_its_own_backup_and_follows_flyctl_logs() {
    let out = check("e-fly.toml", None);
    assert_has(
        &out,
        &[
            "3 checklist item(s), 3 phase(s), 2 destructive.",
            "  rollback: 1 step(s), database restore\n",
            "  monitor: 15m\n",
            "  phase 3 [destructive] Migrate on fly\n    $ flyctl ssh console -a shop -C \"npx prisma migrate deploy\"\n",
        ],
    );
    let p = load("e-fly.toml", None);
    let migrate = &p.phases[2];
    assert!(migrate.destructive && migrate.needs_backup);
    assert!(p.backup.is_some(), "deckhand's own backup");
    assert_eq!(
        p.health[0]
            .url()
            .map(|u| u.value.as_str())
            .unwrap_or_default(),
        "https://shop.fly.dev/api/health"
    );
    let logs = &p.logs[0];
    match &logs.input {
        LogInput::Command(c) => assert_eq!(c.value, "flyctl logs -a shop"),
        other => panic!("expected a command, got {other:?}"),
    }
    let error = regex::Regex::new(logs.error.as_deref().expect("error regex")).expect("regex");
    assert!(error.is_match(
        "2026-11-21T10:00:01Z app[148e3] ams [error] PrismaClientKnownRequestError: P2002"
    ));
    assert!(!error.is_match("2026-11-21T10:00:02Z app[148e3] ams [info] GET /api/health 200 3ms"));
    assert_eq!(
        p.rollback.as_ref().map(|r| r.steps[0].run.value.as_str()),
        Some(
            "flyctl deploy -a shop --image registry.fly.io/shop:deployment-01JPREVIOUS --strategy immediate"
        )
    );
}

/// The `environments: a, b (chosen: …)` names `check` printed, or none.
fn environments(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .find_map(|l| l.trim().strip_prefix("environments: "))
        .and_then(|rest| rest.split(" (chosen").next())
        .map(|list| list.split(", ").map(str::to_string).collect())
        .unwrap_or_default()
}

#[test]
fn the_examples_folder_holds_exactly_these_five_and_each_passes_check() {
    let mut found: Vec<String> = std::fs::read_dir(examples_dir())
        .expect("config/examples")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    found.sort();
    assert_eq!(
        found, EXAMPLES,
        "a new example needs its own test in tests/examples.rs"
    );
    for file in EXAMPLES {
        let out = check(file, None);
        // Every environment a plan defines is checked, not only its default.
        for env in environments(&out) {
            check(file, Some(&env));
        }
    }
}

/// Every `scheme://user:password@` in `text` whose password is not a `${VAR}`.
fn literal_passwords(text: &str) -> Vec<String> {
    let mut found = Vec::new();
    for (at, _) in text.match_indices("://") {
        let rest = &text[at + 3..];
        let end = rest
            .find(|c: char| c.is_whitespace() || "\"'/?#`)".contains(c))
            .unwrap_or(rest.len());
        let authority = &rest[..end];
        let Some((userinfo, _host)) = authority.rsplit_once('@') else {
            continue;
        };
        let Some((_user, password)) = userinfo.split_once(':') else {
            continue;
        };
        let interpolated = password.starts_with("${") && password.ends_with('}');
        if !interpolated {
            found.push(authority.to_string());
        }
    }
    found
}

#[test]
fn no_example_holds_a_credential() {
    assert_eq!(
        literal_passwords("url = \"postgres://app:hunter2@db/shop\""),
        ["app:hunter2@db"]
    );
    assert!(
        literal_passwords(
            "postgres://app:${DB_PASSWORD}@db/shop ${DATABASE_URL} ssh://deploy@host"
        )
        .is_empty()
    );
    let mut stack = vec![examples_dir()];
    let mut files = 0;
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read dir") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            files += 1;
            let text = std::fs::read_to_string(&path).expect("text file");
            let shown = path.display();
            assert_eq!(
                literal_passwords(&text),
                Vec::<String>::new(),
                "{shown}: a password in a URL"
            );
            for (at, _) in text.match_indices("Bearer ") {
                assert!(
                    text[at + 7..].starts_with('$'),
                    "{shown}: a literal bearer token"
                );
            }
            assert!(
                !text.contains("hooks.slack.com/services/"),
                "{shown}: a literal webhook"
            );
        }
    }
    assert!(files >= 15, "only {files} files under config/examples");
    // The plans' database URLs come from the environment.
    for file in EXAMPLES {
        let text = std::fs::read_to_string(examples_dir().join(file)).expect("read example");
        let urls: Vec<&str> = text
            .lines()
            .filter(|l| l.trim_start().starts_with("url = \"${") && l.contains("DATABASE_URL}"))
            .collect();
        assert!(!urls.is_empty(), "{file}: no url = \"${{…DATABASE_URL}}\"");
    }
}
