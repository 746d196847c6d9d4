//! Plan environments (`[environments.NAME]`: selection, whole-section overrides, vars, production and seeding
//! flags) and the release sections: `[rollback]`, `[window]`, `[monitor]`, `[notify]`, `[[smoke]]`, seed phases.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;
use std::time::{Duration, SystemTime};

use deckhand::plan::{self, Plan, PlanError, RollbackDatabase};

const BASE: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
steps = [{ run = "./deploy.sh ${REGION:-eu}" }]
"#;

/// Two environments; production overrides the database, health and monitor, and sets a variable.
const ENVS: &str = r#"
[project]
name = "shop"
environment = "staging"

[[phase]]
name = "Deploy"
steps = [{ run = "./deploy.sh ${REGION:-eu}" }]

[database]
url = "postgres://db.staging/shop"
migrations = "migrations"

[[health]]
name = "api"
url = "https://staging.example.com/health"

[monitor]
duration = "5m"

[environments.staging]
allow_seed = true

[environments.production]
production = true
vars = { REGION = "us-east" }

[environments.production.database]
url = "postgres://db.prod/${DB_NAME}"
migrations = "migrations"

[[environments.production.health]]
name = "api"
url = "https://example.com/health"

[[environments.production.health]]
name = "admin"
url = "https://admin.example.com/health"
"#;

fn env(name: &str) -> Option<String> {
    match name {
        "DB_NAME" => Some("shop_prod".into()),
        "REGION" => Some("from-process".into()),
        "SLACK_WEBHOOK" => Some("https://hooks.slack.com/services/T000/B000/s3cr3tT0ken".into()),
        _ => None,
    }
}

fn parse(source: &str, which: Option<&str>) -> Result<Plan, PlanError> {
    plan::parse_env(source, Path::new("/srv/plans/shop.toml"), which, &env)
}

fn ok(source: &str, which: Option<&str>) -> Plan {
    parse(source, which).unwrap_or_else(|e| panic!("{e}"))
}

fn err(source: &str, which: Option<&str>) -> String {
    match parse(source, which) {
        Ok(_) => panic!("parsed without error"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn environment_defaults_to_project_environment_and_keeps_the_base_sections() {
    let p = ok(ENVS, None);
    assert_eq!(p.project.environment, "staging");
    assert!(!p.project.production);
    assert!(p.project.allow_seed);
    assert_eq!(p.environments, ["staging", "production"], "file order");
    let db = p.database.unwrap();
    assert_eq!(db.url.value, "postgres://db.staging/shop");
    assert_eq!(p.health.len(), 1);
    assert_eq!(p.monitor.duration, Duration::from_secs(300));
    // Staging has no vars: the process environment answers.
    assert_eq!(p.phases[0].steps[0].run.value, "./deploy.sh from-process");
}

#[test]
fn chosen_environment_replaces_whole_sections_and_its_vars_come_first() {
    let p = ok(ENVS, Some("production"));
    assert_eq!(p.project.environment, "production");
    assert!(p.project.production && p.project.is_production());
    assert!(!p.project.allow_seed, "allow_seed defaults to false");
    assert_eq!(
        p.database.unwrap().url.value,
        "postgres://db.prod/shop_prod"
    );
    let names: Vec<&str> = p.health.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(
        names,
        ["api", "admin"],
        "the override replaces, not appends"
    );
    assert_eq!(
        p.health[0]
            .url()
            .map(|u| u.value.as_str())
            .unwrap_or_default(),
        "https://example.com/health"
    );
    // Not overridden: the base section stays.
    assert_eq!(p.monitor.duration, Duration::from_secs(300));
    assert_eq!(p.phases[0].steps[0].run.value, "./deploy.sh us-east");
}

#[test]
fn unknown_or_missing_environment_is_an_error_listing_the_names() {
    let e = err(ENVS, Some("qa"));
    assert!(
        e.contains("environments: unknown environment \"qa\"") && e.contains("staging, production"),
        "{e}"
    );
    let unchosen = ENVS.replace("environment = \"staging\"\n", "");
    let e = err(&unchosen, None);
    assert!(
        e.ends_with(
            "environments: this plan defines environments staging, production: choose one with --env"
        ),
        "{e}"
    );
    // With --env, [project] environment may be absent.
    assert_eq!(
        ok(&unchosen, Some("production")).project.environment,
        "production"
    );
}

#[test]
fn without_environments_env_must_match_the_project() {
    assert_eq!(ok(BASE, Some("staging")).project.environment, "staging");
    let e = err(BASE, Some("production"));
    assert!(
        e.contains("project.environment: --env production does not match"),
        "{e}"
    );
    assert!(ok(BASE, None).environments.is_empty());
}

#[test]
fn only_the_chosen_environment_is_validated_and_its_errors_name_it() {
    let bad_prod = format!(
        "{BASE}\n[environments.staging]\n\n[environments.production.database]\nurl = \"mysql://x\"\nmigrations = \"m\"\n"
    );
    assert_eq!(
        ok(&bad_prod, Some("staging")).project.environment,
        "staging"
    );
    let e = err(&bad_prod, Some("production"));
    assert!(
        e.starts_with(
            "/srv/plans/shop.toml:13:7: environments.production.database.url: unsupported"
        ),
        "{e}"
    );
    // Unknown keys are refused in every environment, chosen or not.
    let typo =
        format!("{BASE}\n[environments.staging]\n\n[environments.production]\nprodution = true\n");
    let e = err(&typo, Some("staging"));
    assert!(
        e.contains("environments.production.prodution: unknown field"),
        "{e}"
    );
}

#[test]
fn production_flag_and_name() {
    let flagged = BASE.replace(
        "environment = \"staging\"",
        "environment = \"live\"\nproduction = true",
    );
    assert!(ok(&flagged, None).project.production);
    assert!(!ok(BASE, None).project.production);
    let named = BASE.replace("\"staging\"", "\"prod\"");
    assert!(ok(&named, None).project.production);
    let seeding = BASE.replace(
        "environment = \"staging\"",
        "environment = \"staging\"\nallow_seed = true",
    );
    assert!(ok(&seeding, None).project.allow_seed);
}

#[test]
fn rollback_steps_and_database_modes() {
    let src = format!(
        "{BASE}\n[rollback]\nsteps = [{{ run = \"./rollback.sh\", timeout = \"5m\", cwd = \"ops\", env = {{ MODE = \"fast\" }} }}, {{ run = \"echo rolled\" }}]\ndatabase = \"none\"\n"
    );
    let r = ok(&src, None).rollback.unwrap();
    assert_eq!(r.database, RollbackDatabase::Leave);
    assert_eq!(r.steps.len(), 2);
    assert_eq!(r.steps[0].run.value, "./rollback.sh");
    assert_eq!(r.steps[0].timeout, Some(Duration::from_secs(300)));
    assert_eq!(r.steps[0].cwd.as_deref(), Some(Path::new("/srv/plans/ops")));
    assert_eq!(r.steps[0].env[0].0, "MODE");
    // Default: auto, fine without a database.
    let auto = format!("{BASE}\n[rollback]\nsteps = [{{ run = \"./rollback.sh\" }}]\n");
    assert_eq!(
        ok(&auto, None).rollback.unwrap().database,
        RollbackDatabase::Auto
    );
    let restore = format!(
        "{BASE}\n[database]\nurl = \"sqlite:shop.db\"\nmigrations = \"m\"\n\n[backup]\ndir = \"b\"\n\n[rollback]\ndatabase = \"restore\"\n"
    );
    assert_eq!(
        ok(&restore, None).rollback.unwrap().database,
        RollbackDatabase::Restore
    );
    assert!(ok(BASE, None).rollback.is_none());
    let bad_step = format!("{BASE}\n[rollback]\nsteps = [{{ run = \"\" }}]\n");
    assert!(err(&bad_step, None).contains("rollback.steps[0].run: must not be empty"));
}

#[test]
fn window_parses_and_checks() {
    let src = format!(
        "{BASE}\n[window]\ndays = [\"Monday\", \"tue\", \"WED\", \"thu\", \"mon\"]\nhours = \"09:00-16:00\"\ntimezone = \"Europe/Berlin\"\n"
    );
    let w = ok(&src, None).window.unwrap();
    assert_eq!(w.days, [0, 1, 2, 3]);
    assert_eq!(w.hours, Some((540, 960)));
    assert_eq!(w.describe(), "Mon-Thu 09:00-16:00 (Europe/Berlin)");
    // Tuesday 2026-11-17 09:42 UTC = 10:42 in Berlin.
    let tue = SystemTime::UNIX_EPOCH + Duration::from_secs(1_794_908_520);
    assert_eq!(
        w.check(tue),
        Ok("Tue 10:42 Europe/Berlin is inside the window Mon-Thu 09:00-16:00".to_string())
    );
    let fri = tue + Duration::from_secs(3 * 24 * 3600);
    assert_eq!(
        w.check(fri),
        Err("Fri 10:42 Europe/Berlin is outside the window Mon-Thu 09:00-16:00".to_string())
    );
    let all_day = format!("{BASE}\n[window]\nhours = \"22:00-24:00\"\n");
    let w = ok(&all_day, None).window.unwrap();
    assert!(w.days.is_empty() && w.timezone.is_none());
    assert_eq!(w.hours, Some((1320, 1440)));
}

#[test]
fn monitor_defaults_and_caps() {
    assert_eq!(
        ok(BASE, None).monitor.duration,
        Duration::from_secs(15 * 60)
    );
    let long = format!("{BASE}\n[monitor]\nduration = \"31 days\"\n");
    assert!(
        err(&long, None)
            .contains("monitor.duration: invalid duration \"31 days\": at most 30 days")
    );
}

#[test]
fn notify_never_shows_the_resolved_webhook() {
    let src = format!("{BASE}\n[notify]\nwebhook = \"${{SLACK_WEBHOOK}}\"\n");
    let n = ok(&src, None).notify.unwrap();
    assert_eq!(
        n.webhook.value,
        "https://hooks.slack.com/services/T000/B000/s3cr3tT0ken"
    );
    assert_eq!(n.webhook.display, "https://hooks.slack.com/…");
    assert!(!format!("{n:?}").contains("s3cr3t"));
    assert_eq!(n.timeout, Duration::from_secs(5));
    // A literal URL and a timeout.
    let literal = format!(
        "{BASE}\n[notify]\nwebhook = \"http://hooks.local:8080/abc/tok123\"\ntimeout = \"2s\"\n"
    );
    let n = ok(&literal, None).notify.unwrap();
    assert_eq!(n.webhook.display, "http://hooks.local:8080/…");
    assert_eq!(n.timeout, Duration::from_secs(2));
    // An error about the URL does not quote it either.
    let bad = format!("{BASE}\n[notify]\nwebhook = \"${{BAD_HOOK:-ftp://h/s3cr3t}}\"\n");
    let e = err(&bad, None);
    assert!(
        e.contains("notify.webhook: invalid webhook URL") && !e.contains("s3cr3t"),
        "{e}"
    );
}

#[test]
fn smoke_uses_the_health_keys_and_names_itself_in_errors() {
    let src = format!(
        "{BASE}\n[[smoke]]\nname = \"home\"\nurl = \"https://example.com/\"\nbody_contains = \"Welcome\"\nexpect_status = [200]\n"
    );
    let p = ok(&src, None);
    assert_eq!(p.smoke.len(), 1);
    assert!(p.health.is_empty());
    assert_eq!(p.smoke[0].body_contains.as_deref(), Some("Welcome"));
    let bad =
        format!("{BASE}\n[[smoke]]\nname = \"home\"\nurl = \"https://x/\"\nmethod = \"FETCH\"\n");
    assert!(err(&bad, None).contains("smoke[0].method: unknown method \"FETCH\""));
    let typo = format!("{BASE}\n[[smoke]]\nname = \"home\"\nurl = \"https://x/\"\nbody = \"x\"\n");
    assert!(err(&typo, None).contains("smoke[0].body: unknown field"));
}

#[test]
fn seed_phases_are_destructive() {
    let src = format!(
        "{BASE}\n[[phase]]\nname = \"Seed\"\nseed = true\nsteps = [{{ run = \"./seed.sh\" }}]\n"
    );
    let p = ok(&src, None);
    assert!(!p.phases[0].seed && !p.phases[0].destructive);
    assert!(p.phases[1].seed && p.phases[1].destructive);
}
