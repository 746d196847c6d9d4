//! Plan files: a full valid plan, interpolation and masking, cwd joining, checksums, the backup, health, verify
//! and logs sections (the invalid fixtures are in plan_fixtures.rs).
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use deckhand::plan::{self, Plan, PlanError, Resolved};

/// A plan using every field, with both step forms and interpolation.
const FULL: &str = r#"# Full plan
[project]
name = "microbima"
environment = "production"

[[checklist]]
item = "Staging verification complete"

[[checklist]]
item = "On-call engineer: ${ONCALL}"

[[phase]]
name = "Deploy code"
destructive = true
steps = [
  { run = "./deploy.sh --host ${HOST}", timeout = "20m", cwd = "app", env = { RUST_LOG = "info", ZONE = "${ZONE:-eu-1}" } },
  { run = "echo done", timeout = "1h 30m", cwd = "/srv/abs" },
]

[[phase]]
name = "Smoke test"
steps = [{ run = "curl -fsS https://${HOST}/health" }]
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "HOST" => Some("api.example.com".into()),
        "ONCALL" => Some("ada".into()),
        "EMPTY" => Some(String::new()),
        "DB_PASSWORD" => Some("hunter2-s3cr3t".into()),
        "API_TOKEN" => Some("tok-abc123".into()),
        _ => None,
    }
}

fn parse(source: &str) -> Result<Plan, PlanError> {
    plan::parse(source, Path::new("/etc/deckhand/plans/release.toml"), &env)
}

/// A minimal valid plan whose only step runs `run` (TOML basic string, so escape `"` and `\`).
fn one_step(run: &str) -> Plan {
    let source = format!(
        "[project]\nname = \"p\"\nenvironment = \"staging\"\n\n\
         [[phase]]\nname = \"only\"\nsteps = [{{ run = \"{run}\" }}]\n"
    );
    match parse(&source) {
        Ok(plan) => plan,
        Err(e) => panic!("{e}"),
    }
}

fn resolved(value: &str, display: &str) -> Resolved {
    Resolved {
        value: value.into(),
        display: display.into(),
    }
}

#[test]
fn full_plan_parses_with_every_field() {
    let plan = parse(FULL).unwrap();
    assert_eq!(plan.path, PathBuf::from("/etc/deckhand/plans/release.toml"));
    assert_eq!(plan.project.name, "microbima");
    assert_eq!(plan.project.environment, "production");
    let items: Vec<&str> = plan.checklist.iter().map(|c| c.item.as_str()).collect();
    assert_eq!(
        items,
        ["Staging verification complete", "On-call engineer: ada"]
    );
    assert_eq!(plan.phases.len(), 2);

    let deploy = &plan.phases[0];
    assert_eq!(deploy.name, "Deploy code");
    assert!(deploy.destructive);
    assert_eq!(deploy.steps.len(), 2);
    let first = &deploy.steps[0];
    assert_eq!(
        first.run,
        Resolved::literal("./deploy.sh --host api.example.com")
    );
    assert_eq!(first.timeout, Some(Duration::from_secs(20 * 60)));
    assert_eq!(first.cwd, Some(PathBuf::from("/etc/deckhand/plans/app")));
    assert_eq!(
        first.env,
        vec![
            ("RUST_LOG".to_string(), Resolved::literal("info")),
            ("ZONE".to_string(), Resolved::literal("eu-1")),
        ]
    );
    let second = &deploy.steps[1];
    assert_eq!(second.run, Resolved::literal("echo done"));
    assert_eq!(second.timeout, Some(Duration::from_secs(90 * 60)));
    assert_eq!(second.cwd, Some(PathBuf::from("/srv/abs")));
    assert!(second.env.is_empty());

    let smoke = &plan.phases[1];
    assert_eq!(smoke.name, "Smoke test");
    assert!(!smoke.destructive);
    assert_eq!(
        smoke.steps[0].run.value,
        "curl -fsS https://api.example.com/health"
    );
    assert_eq!(smoke.steps[0].timeout, None);
    assert_eq!(smoke.steps[0].cwd, None);
}

#[test]
fn phase_steps_table_form() {
    let source = r#"
[project]
name = "microbima"
environment = "staging"

[[phase]]
name = "Migrate"
destructive = true

[[phase.steps]]
run = "./migrate.sh"
timeout = "5m"

[[phase.steps]]
run = "./verify.sh"
env.MODE = "strict"
env.LEVEL = "2"
"#;
    let plan = parse(source).unwrap();
    let steps = &plan.phases[0].steps;
    assert_eq!(steps.len(), 2);
    assert_eq!(steps[0].run.value, "./migrate.sh");
    assert_eq!(steps[0].timeout, Some(Duration::from_secs(300)));
    assert_eq!(steps[1].run.value, "./verify.sh");
    assert_eq!(steps[1].timeout, None);
    // File order, not alphabetical.
    let names: Vec<&str> = steps[1].env.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(names, ["MODE", "LEVEL"]);
}

#[test]
fn env_keeps_file_order() {
    let source = FULL.replace(
        r#"env = { RUST_LOG = "info", ZONE = "${ZONE:-eu-1}" }"#,
        r#"env = { ZED = "1", ALPHA = "2", MID = "3" }"#,
    );
    let plan = parse(&source).unwrap();
    let names: Vec<&str> = plan.phases[0].steps[0]
        .env
        .iter()
        .map(|(k, _)| k.as_str())
        .collect();
    assert_eq!(names, ["ZED", "ALPHA", "MID"]);
}

#[test]
fn interpolation_plain_default_and_empty() {
    let run = &one_step("a ${HOST} b ${UNSET_X:-fallback} c ${EMPTY:-dflt} d [${EMPTY}]").phases[0]
        .steps[0]
        .run;
    let expected = "a api.example.com b fallback c dflt d []";
    assert_eq!(run, &resolved(expected, expected));
}

#[test]
fn interpolation_escape_and_shell_dollars() {
    let run = &one_step("echo $${HOST} $HOME $$ $1 cost$").phases[0].steps[0].run;
    assert_eq!(run.value, "echo ${HOST} $HOME $$ $1 cost$");
    assert_eq!(run.display, run.value);
}

#[test]
fn secrets_are_masked_in_display_only() {
    let source = r#"
[project]
name = "microbima"
environment = "production"

[[phase]]
name = "Migrate"
[[phase.steps]]
run = "psql postgres://app:${DB_PASSWORD}@${HOST}/app"
env = { GH = "${API_TOKEN}", SAFE = "${HOST}", DEF = "${my_secret:-dev}" }
"#;
    let plan = parse(source).unwrap();
    let step = &plan.phases[0].steps[0];
    assert_eq!(
        step.run,
        // A secret in `run` reaches the command through its environment, never its command line.
        resolved(
            "psql postgres://app:\"$DB_PASSWORD\"@api.example.com/app",
            "psql postgres://app:\"$DB_PASSWORD\"@api.example.com/app",
        )
    );
    assert_eq!(
        step.env,
        vec![
            ("GH".to_string(), resolved("tok-abc123", "${API_TOKEN}")),
            ("SAFE".to_string(), Resolved::literal("api.example.com")),
            ("DEF".to_string(), resolved("dev", "${my_secret}")),
            (
                "DB_PASSWORD".to_string(),
                resolved("hunter2-s3cr3t", "${DB_PASSWORD}")
            ),
        ]
    );
    let debug = format!("{step:?} {plan:?}");
    assert!(debug.contains("$DB_PASSWORD"), "{debug}");
    assert!(debug.contains("api.example.com"), "{debug}");
    assert!(!debug.contains("hunter2"), "{debug}");
    assert!(!debug.contains("tok-abc123"), "{debug}");
}

#[test]
fn relative_cwd_is_joined_to_the_plan_folder() {
    let source = FULL.replace("\"app\"", "\"${HOST}/../build\"");
    let bare = plan::parse(&source, Path::new("plan.toml"), &env).unwrap();
    assert_eq!(
        bare.phases[0].steps[0].cwd,
        Some(PathBuf::from("api.example.com/../build"))
    );
    let nested = plan::parse(&source, Path::new("deploy/plan.toml"), &env).unwrap();
    assert_eq!(
        nested.phases[0].steps[0].cwd,
        Some(PathBuf::from("deploy/api.example.com/../build"))
    );
    assert_eq!(
        nested.phases[0].steps[1].cwd,
        Some(PathBuf::from("/srv/abs"))
    );
}

#[test]
fn load_reads_the_file_and_checksums_its_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plan.toml");
    let source = "[project]\nname = \"x\"\nenvironment = \"prod\"\n\n\
                  [[phase]]\nname = \"p\"\nsteps = [{ run = \"true\", cwd = \"sub\" }]\n";
    std::fs::write(&path, source).unwrap();
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    let plan = plan::load(&path).unwrap();
    assert_eq!(plan.path, path);
    // `printf '%s' "$source" | sha256sum`
    assert_eq!(
        plan.checksum,
        "51bff673039d094e5294a65e41655467794c73d117646d400bbe79e84213a0f4"
    );
    assert_eq!(plan.phases[0].steps[0].cwd, Some(dir.path().join("sub")));
    assert!(plan.project.is_production());
}

#[test]
fn checksum_changes_with_any_byte() {
    let a = parse(FULL).unwrap();
    let b = parse(&format!("{FULL}\n")).unwrap();
    assert_eq!(a.checksum.len(), 64);
    assert!(
        a.checksum
            .chars()
            .all(|c| matches!(c, '0'..='9' | 'a'..='f'))
    );
    assert_ne!(a.checksum, b.checksum);
}

#[test]
fn is_production() {
    for (word, production) in [
        ("production", true),
        ("PROD", true),
        ("Production", true),
        ("staging", false),
        ("production-eu", false),
    ] {
        let plan = parse(&FULL.replace("\"production\"", &format!("\"{word}\""))).unwrap();
        assert_eq!(plan.project.environment, word);
        assert_eq!(plan.project.is_production(), production, "{word}");
    }
}

#[test]
fn unreadable_file() {
    let err = plan::load(Path::new("tests/fixtures/does-not-exist.toml")).unwrap_err();
    assert_eq!(err.line, 0);
    assert_eq!(err.key, "");
    let shown = err.to_string();
    assert!(
        shown.starts_with("tests/fixtures/does-not-exist.toml: cannot read plan: "),
        "{shown}"
    );
    assert!(!shown.contains('\n'));
}

#[test]
fn error_fields_are_exposed() {
    let err = parse(&FULL.replace("timeout = \"20m\"", "timeout = 20")).unwrap_err();
    assert_eq!(
        err,
        PlanError {
            file: "/etc/deckhand/plans/release.toml".into(),
            line: 16,
            column: 51,
            key: "phase[0].steps[0].timeout".into(),
            message: "invalid type: integer `20`, expected a string".into(),
        }
    );
}

#[test]
fn shown_text_never_holds_secrets_or_url_passwords() {
    let src = r#"
[project]
name = "shop ${API_TOKEN}"
environment = "staging"

[[checklist]]
item = "token is ${API_TOKEN}"

[[phase]]
name = "Migrate ${API_TOKEN}"
steps = [{ run = "psql ${DB_URL} -c 'select 1'", env = { URL = "${DB_URL}" } }]
"#;
    let vars = |n: &str| match n {
        "API_TOKEN" => Some("tok-123".to_string()),
        "DB_URL" => Some("postgres://app:hunter2@db/shop".to_string()),
        _ => None,
    };
    let plan = deckhand::plan::parse(src, std::path::Path::new("p.toml"), &vars).unwrap();
    let step = &plan.phases[0].steps[0];
    // DB_URL carries a password: a secret, passed in the environment.
    assert_eq!(step.run.value, "psql \"$DB_URL\" -c 'select 1'");
    assert!(
        step.env
            .iter()
            .any(|(k, v)| k == "DB_URL" && v.value == "postgres://app:hunter2@db/shop")
    );
    let shown = format!(
        "{} {} {} {} {:?} {:?}",
        plan.project.name,
        plan.checklist[0].item,
        plan.phases[0].name,
        step.run.display,
        step,
        plan
    );
    for secret in ["tok-123", "hunter2"] {
        assert!(
            !shown.contains(secret),
            "{secret} leaked into shown text: {shown}"
        );
    }
    assert!(shown.contains("postgres://app:****@db/shop"));
    assert_eq!(plan.phases[0].name, "Migrate ${API_TOKEN}");
}

#[test]
fn database_section_with_defaults_and_masked_url() {
    let src = r#"
[project]
name = "shop"
environment = "production"

[database]
url = "${DATABASE_URL}"
migrations = "prisma/migrations"
statement_timeout = "5m"
"#;
    let vars = |n: &str| {
        (n == "DATABASE_URL").then(|| "postgres://app:pw@db.internal:5432/shop".to_string())
    };
    let plan =
        deckhand::plan::parse(src, std::path::Path::new("/srv/app/deckhand.toml"), &vars).unwrap();
    let db = plan.database.expect("database section");
    assert_eq!(db.url.value, "postgres://app:pw@db.internal:5432/shop");
    assert_eq!(db.url.display, "postgres://app:****@db.internal:5432/shop");
    assert_eq!(
        db.migrations,
        std::path::Path::new("/srv/app/prisma/migrations")
    );
    assert_eq!(db.format, None);
    assert_eq!(db.lock_timeout, std::time::Duration::from_secs(2));
    assert_eq!(db.lock_wait, std::time::Duration::from_secs(10));
    assert_eq!(
        db.statement_timeout,
        Some(std::time::Duration::from_secs(300))
    );
    assert!(
        plan.phases.is_empty(),
        "a plan may consist of its database alone"
    );
}

#[test]
fn backup_section_expands_home_and_defaults_to_custom_format() {
    let src = r#"
[project]
name = "shop"
environment = "production"

[database]
url = "postgres://db/shop"
migrations = "migrations"

[backup]
dir = "~/deckhand-backups"
keep = 3

[[phase]]
name = "Deploy"
needs_backup = true
steps = [{ run = "./deploy.sh" }]

[[phase]]
name = "Smoke"
steps = [{ run = "true" }]
"#;
    let vars = |n: &str| (n == "HOME").then(|| "/home/ada".to_string());
    let plan = plan::parse(src, Path::new("/srv/plans/release.toml"), &vars).unwrap();
    let backup = plan.backup.unwrap();
    assert_eq!(backup.dir, PathBuf::from("/home/ada/deckhand-backups"));
    assert_eq!(backup.format, plan::BackupFormat::Custom);
    assert_eq!(backup.keep, Some(3));
    assert!(plan.phases[0].needs_backup);
    assert!(!plan.phases[1].needs_backup);

    let dir_src = src.replace("~/deckhand-backups", "backups").replace(
        "keep = 3",
        "format = \"directory\"\njobs = 4\nbin_dir = \"/usr/lib/postgresql/16/bin\"",
    );
    let plan = plan::parse(&dir_src, Path::new("/srv/plans/release.toml"), &vars).unwrap();
    let backup = plan.backup.unwrap();
    assert_eq!(backup.dir, PathBuf::from("/srv/plans/backups"));
    assert_eq!(backup.format, plan::BackupFormat::Directory { jobs: 4 });
    assert_eq!(backup.keep, None);
    assert_eq!(
        backup.bin_dir,
        Some(PathBuf::from("/usr/lib/postgresql/16/bin"))
    );
    let no_home = plan::parse(src, Path::new("/srv/plans/release.toml"), &|_| None).unwrap_err();
    assert_eq!(no_home.key, "backup.dir");
    assert!(no_home.message.contains("HOME is not set"), "{no_home}");
}

#[test]
fn health_verify_and_logs_sections_parse_with_defaults() {
    let src = r#"
[project]
name = "shop"
environment = "production"

[[phase]]
name = "Deploy"
steps = [{ run = "./deploy.sh" }]

[[health]]
name = "api"
url = "https://${HOST}/api/health"
headers = { Authorization = "Bearer ${API_TOKEN}", Accept = "application/json" }
expect_status = [200, 204]
json_pointer = "/status"
json_equals = "ok"
max_latency = "800ms"
ca_file = "certs/ca.pem"

[[health]]
name = "home"
url = "http://localhost:8080/"
method = "head"
expect_status = "200-399"
insecure = true
latency_factor = 3.0
error_rate = 0.1
window = "2m"

[[verify]]
name = "tables"
sql = "select count(*) from information_schema.tables where table_schema = 'public'"
expect = ">= 58"

[[logs]]
name = "api"
command = "flyctl logs -a shop"
error = "(?i)\\berror\\b|panic"

[[logs]]
name = "nginx"
file = "/var/log/nginx/error.log"
quiet_after = "5m"
"#;
    let plan = plan::parse(src, Path::new("/srv/plans/release.toml"), &env).unwrap();
    let api = &plan.health[0];
    assert_eq!(
        api.url().map(|u| u.value.as_str()).unwrap_or_default(),
        "https://api.example.com/api/health"
    );
    assert_eq!(api.method, "GET");
    assert_eq!(api.headers[0].0, "Authorization");
    assert_eq!(
        api.headers[0].1.display, "Bearer ${API_TOKEN}",
        "secret header masked"
    );
    assert_eq!(api.headers[0].1.value, "Bearer tok-abc123");
    assert!(api.expect_status.matches(204) && !api.expect_status.matches(201));
    assert_eq!(api.json, Some(("/status".into(), serde_json::json!("ok"))));
    assert_eq!(api.max_latency, Some(Duration::from_millis(800)));
    assert_eq!(api.ca_file, Some(PathBuf::from("/srv/plans/certs/ca.pem")));
    assert_eq!(
        (
            api.fail_after,
            api.recover_after,
            api.latency_factor,
            api.error_rate
        ),
        (3, 2, 2.0, 0.05)
    );
    let home = &plan.health[1];
    assert_eq!(home.method, "HEAD");
    assert!(home.expect_status.matches(302) && !home.expect_status.matches(404));
    assert!(home.insecure);
    assert_eq!(home.window, Duration::from_secs(120));
    assert_eq!(plan.verify[0].op, plan::CmpOp::Ge);
    assert_eq!(plan.verify[0].value, "58");
    assert_eq!(
        plan.logs[0].input,
        plan::LogInput::Command(Resolved::literal("flyctl logs -a shop"))
    );
    assert_eq!(plan.logs[0].error.as_deref(), Some("(?i)\\berror\\b|panic"));
    assert!(plan.logs[0].restart);
    assert_eq!(
        plan.logs[1].input,
        plan::LogInput::File(PathBuf::from("/var/log/nginx/error.log"))
    );
    assert_eq!(plan.logs[1].quiet_after, Duration::from_secs(300));
}

#[test]
fn durations_past_thirty_days_are_refused() {
    let e = parse(&FULL.replace("timeout = \"20m\"", "timeout = \"9999999y\"")).unwrap_err();
    assert_eq!(e.key, "phase[0].steps[0].timeout");
    assert!(e.message.contains("at most 30 days"), "{e}");
}

/// Issue 16, must-work 8: an operator may only watch during a release window — a plan with `[[logs]]` and/or
/// `[[health]]` and nothing to run is valid; a plan with nothing to run or watch still names what to add.
#[test]
fn a_plan_for_watching_alone_is_valid() {
    let watch = "[project]\nname = \"shop\"\nenvironment = \"production\"\n\n\
                 [[health]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/health\"\n\n\
                 [[logs]]\nname = \"web\"\ncommand = \"tail -F /var/log/web.log\"\n";
    let env = |_: &str| None;
    let plan = deckhand::plan::parse(watch, std::path::Path::new("watch.toml"), &env)
        .expect("a watch-only plan parses");
    assert!(plan.phases.is_empty());
    assert_eq!((plan.health.len(), plan.logs.len()), (1, 1));
    let logs_only = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n\
                     [[logs]]\nname = \"web\"\nfile = \"/var/log/web.log\"\n";
    assert!(deckhand::plan::parse(logs_only, std::path::Path::new("w.toml"), &env).is_ok());
    let nothing = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n";
    let err = deckhand::plan::parse(nothing, std::path::Path::new("n.toml"), &env)
        .expect_err("nothing to run or watch")
        .to_string();
    assert!(
        err.contains("[[health]]") && err.contains("[[logs]]"),
        "{err}"
    );
}

/// The console runs a watch-only plan: the screen draws at 80x24 and the stages have nothing to deploy.
#[test]
fn the_console_draws_a_watch_only_plan() {
    let watch = "[project]\nname = \"shop\"\nenvironment = \"production\"\n\n\
                 [[health]]\nname = \"api\"\nurl = \"http://127.0.0.1:9/health\"\n";
    let env = |_: &str| None;
    let plan = deckhand::plan::parse(watch, std::path::Path::new("watch.toml"), &env).unwrap();
    let t0 = std::time::Instant::now();
    let mut state = deckhand::app::State::new(plan, t0, 80, 24);
    deckhand::app::update(&mut state, deckhand::app::Action::Tick, t0);
    let backend = ratatui::backend::TestBackend::new(80, 24);
    let mut terminal = ratatui::Terminal::new(backend).unwrap();
    terminal
        .draw(|f| deckhand::views::render(f, &state))
        .unwrap();
    let buf = terminal.backend().buffer().clone();
    let text: String = (0..24)
        .flat_map(|y| (0..80).map(move |x| (x, y)))
        .map(|(x, y)| buf[(x, y)].symbol().to_string())
        .collect();
    assert!(text.contains("shop"), "{text}");
    assert_eq!(
        deckhand::app::release::status(&state, deckhand::app::Stage::Deploy),
        deckhand::app::StageStatus::Skipped
    );
}

/// Issue 16, must-work 5: `check` refuses what would only fail (or mislead) later, each at file:line:column
/// with the key and what was expected.
#[test]
fn what_would_fail_later_is_refused_at_its_place() {
    let base = "[project]\nname = \"shop\"\nenvironment = \"staging\"\n\n[[phase]]\nname = \"Deploy\"\n\
                steps = [{ run = \"true\" }]\n";
    let cases: [(String, &str); 8] = [
        (
            format!("{base}\n[[health]]\nname = \"api\"\nurl = \"http://[::1\"\n"),
            "health[0].url: invalid URL",
        ),
        (
            format!("{base}\n[database]\nurl = \"postgres://u:p@[bad/db\"\nmigrations = \"m\"\n"),
            "database.url: invalid database URL",
        ),
        (
            format!(
                "{base}\n[database]\nurl = \"postgres://u@h/db?sslmode=bogus\"\nmigrations = \"m\"\n"
            ),
            "sslmode=bogus is not one of disable",
        ),
        (
            base.replace("run = \"true\"", "run = \"a\\u0000b\""),
            "phase[0].steps[0].run: holds a NUL character",
        ),
        (
            format!(
                "{base}\n[[health]]\nname = \"api\"\nurl = \"http://h/\"\n\n[[health]]\nname = \"api\"\nurl = \"http://h/2\"\n"
            ),
            "health[1].name: duplicate name \"api\": it is also health[0]'s name",
        ),
        (
            "[project]\nname = \"shop\"\nname = \"x\"\nenvironment = \"staging\"\n".to_string(),
            ":3:1: name: duplicate key `name`",
        ),
        (
            base.replace("name = \"Deploy\"", "name = \"Deploy \\u001b]0;x\\u0007\""),
            "phase[0].name: holds the control character U+001B",
        ),
        (
            base.replace(
                "name = \"Deploy\"",
                &format!("name = \"{}\"", "x".repeat(1_000_000)),
            ),
            "phase[0].name: is 1000000 characters long; expected at most 200",
        ),
    ];
    let env = |_: &str| None;
    for (src, want) in cases {
        let err = deckhand::plan::parse(&src, std::path::Path::new("p.toml"), &env)
            .expect_err(want)
            .to_string();
        assert!(err.contains(want), "want {want:?}, got {err}");
        assert!(err.starts_with("p.toml:"), "{err}");
    }
    // A plan that is not UTF-8: the line and column of the first byte that is not.
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.toml");
    std::fs::write(&path, b"[project]\nname = \"sh\xffop\"\n").unwrap();
    let err = deckhand::plan::load(&path)
        .expect_err("not UTF-8")
        .to_string();
    assert!(err.contains("p.toml:2:11: the plan is not UTF-8"), "{err}");
}
