//! Every invalid plan fixture under tests/fixtures/invalid with the exact message `load` gives: file:line:column,
//! the key path, and what was expected.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

use std::path::Path;

use deckhand::plan;

/// Each invalid fixture with the exact message `load` must give. Variables they use are named
/// DECKHAND_TEST_UNSET_* so that nobody's environment sets them.
const INVALID: &[(&str, &str)] = &[
    (
        "01-syntax-error.toml",
        "tests/fixtures/invalid/01-syntax-error.toml:1:9: unclosed table, expected `]`",
    ),
    (
        "02-unknown-top-level-key.toml",
        "tests/fixtures/invalid/02-unknown-top-level-key.toml:1:1: version: \
         unknown field `version`, expected one of `project`, `checklist`, `phase`, `database`, \
         `backup`, `health`, `verify`, `logs`, `smoke`, `rollback`, `window`, `monitor`, `notify`, `release`, `team`, \
         `environments`",
    ),
    (
        "03-unknown-key-in-project.toml",
        "tests/fixtures/invalid/03-unknown-key-in-project.toml:4:1: project.owner: \
         unknown field `owner`, expected one of `name`, `environment`, `production`, `allow_seed`, `shared_data`",
    ),
    (
        "04-unknown-key-in-step.toml",
        "tests/fixtures/invalid/04-unknown-key-in-step.toml:9:26: phase[0].steps[1].timout: \
         unknown field `timout`, expected one of `run`, `timeout`, `cwd`, `env`",
    ),
    (
        "05-missing-project.toml",
        "tests/fixtures/invalid/05-missing-project.toml:1:1: project: \
         missing [project] table; expected [project] with name and environment",
    ),
    (
        "06-missing-project-name.toml",
        "tests/fixtures/invalid/06-missing-project-name.toml:1:1: project.name: \
         missing; expected name = \"<project>\"",
    ),
    (
        "07-empty-project-name.toml",
        "tests/fixtures/invalid/07-empty-project-name.toml:2:8: project.name: \
         must not be empty; expected name = \"<project>\"",
    ),
    (
        "08-bad-environment-word.toml",
        "tests/fixtures/invalid/08-bad-environment-word.toml:3:15: project.environment: \
         invalid environment \"live production\": expected one word of letters, digits, \
         '_', '.' or '-' (the operator types it to confirm)",
    ),
    (
        "09-wrong-type-destructive.toml",
        "tests/fixtures/invalid/09-wrong-type-destructive.toml:7:15: phase[0].destructive: \
         invalid type: string \"yes\", expected a boolean",
    ),
    (
        "10-no-phases.toml",
        "tests/fixtures/invalid/10-no-phases.toml:1:1: phase: \
         the plan has nothing to run or watch; expected at least one [[phase]], a [database], [[health]] or \
         [[logs]]",
    ),
    (
        "11-phase-without-steps.toml",
        "tests/fixtures/invalid/11-phase-without-steps.toml:11:9: phase[1].steps: \
         no steps; expected at least one step such as { run = \"./deploy.sh\" }",
    ),
    (
        "12-missing-run.toml",
        "tests/fixtures/invalid/12-missing-run.toml:11:1: phase[0].steps[1].run: \
         missing; expected run = \"<command>\"",
    ),
    (
        "13-empty-run.toml",
        "tests/fixtures/invalid/13-empty-run.toml:7:18: phase[0].steps[0].run: \
         must not be empty; expected run = \"<command>\"",
    ),
    (
        "14-bad-duration.toml",
        "tests/fixtures/invalid/14-bad-duration.toml:8:36: phase[0].steps[0].timeout: \
         invalid duration \"20x\": expected a duration such as \"30s\", \"5m\" or \"1h30m\"",
    ),
    (
        "15-zero-duration.toml",
        "tests/fixtures/invalid/15-zero-duration.toml:8:36: phase[0].steps[0].timeout: \
         invalid duration \"0s\": must be greater than zero",
    ),
    (
        "16-duplicate-phase-name.toml",
        "tests/fixtures/invalid/16-duplicate-phase-name.toml:14:8: phase[2].name: \
         duplicate phase name \"Deploy code\" (already used by phase[0])",
    ),
    (
        "17-bad-env-key.toml",
        "tests/fixtures/invalid/17-bad-env-key.toml:8:53: phase[0].steps[0].env.1WORKERS: \
         invalid variable name \"1WORKERS\": expected letters, digits and '_', \
         not starting with a digit",
    ),
    (
        "18-unset-variable.toml",
        "tests/fixtures/invalid/18-unset-variable.toml:11:24: \
         phase[0].steps[0].env.DATABASE_URL: environment variable DECKHAND_TEST_UNSET_1 \
         is not set (write ${DECKHAND_TEST_UNSET_1:-default} to give a default)",
    ),
    (
        "19-malformed-interpolation.toml",
        "tests/fixtures/invalid/19-malformed-interpolation.toml:7:18: phase[0].steps[0].run: \
         invalid interpolation \"${DECKHAND_TEST_UNSET_2%.tar}\": \
         expected ${NAME} or ${NAME:-default}",
    ),
    (
        "20-empty-checklist-item.toml",
        "tests/fixtures/invalid/20-empty-checklist-item.toml:12:8: checklist[2].item: \
         must not be empty; expected item = \"<text>\"",
    ),
    (
        "21-missing-environment.toml",
        "tests/fixtures/invalid/21-missing-environment.toml:1:1: project.environment: \
         missing; expected environment = \"<word>\", e.g. \"production\"",
    ),
    (
        "22-env-value-wrong-type.toml",
        "tests/fixtures/invalid/22-env-value-wrong-type.toml:10:19: \
         phase[0].steps[0].env.WORKERS: invalid type: integer `4`, expected a string",
    ),
    (
        "23-unterminated-interpolation.toml",
        "tests/fixtures/invalid/23-unterminated-interpolation.toml:3:15: project.environment: \
         invalid interpolation \"${DECKHAND_TEST_UNSET_3:-production\": \
         expected ${NAME} or ${NAME:-default}",
    ),
    (
        "24-missing-steps.toml",
        "tests/fixtures/invalid/24-missing-steps.toml:5:1: phase[0].steps: \
         missing; expected at least one step such as { run = \"./deploy.sh\" }",
    ),
    (
        "25-unset-variable-in-phase-name.toml",
        "tests/fixtures/invalid/25-unset-variable-in-phase-name.toml:6:8: phase[0].name: \
         environment variable DECKHAND_TEST_UNSET_4 is not set \
         (write ${DECKHAND_TEST_UNSET_4:-default} to give a default)",
    ),
    (
        "26-unknown-key-in-phase.toml",
        "tests/fixtures/invalid/26-unknown-key-in-phase.toml:7:1: phase[0].confirm: \
         unknown field `confirm`, expected one of `name`, `destructive`, `needs_backup`, `seed`, `optional`, \
         `steps`",
    ),
    (
        "27-database-without-url.toml",
        "tests/fixtures/invalid/27-database-without-url.toml:5:1: database.url: \
         missing; expected url = \"${DATABASE_URL}\"",
    ),
    (
        "28-database-unsupported-url.toml",
        "tests/fixtures/invalid/28-database-unsupported-url.toml:6:7: database.url: \
         unsupported database URL \"mysql://db/shop\": expected postgres://…, postgresql://… or sqlite:…",
    ),
    (
        "29-database-unknown-format.toml",
        "tests/fixtures/invalid/29-database-unknown-format.toml:8:10: database.format: \
         unknown format \"flyway\": expected one of prisma, sqlx, drizzle, plain",
    ),
    (
        "30-database-bad-lock-timeout.toml",
        "tests/fixtures/invalid/30-database-bad-lock-timeout.toml:8:16: database.lock_timeout: \
         invalid duration \"soon\": expected a duration such as \"30s\", \"5m\" or \"1h30m\"",
    ),
    (
        "31-database-unknown-key.toml",
        "tests/fixtures/invalid/31-database-unknown-key.toml:8:1: database.lock_timout: \
         unknown field `lock_timout`, expected one of `url`, `migrations`, `format`, `lock_timeout`, \
         `statement_timeout`, `lock_wait`, `impact_timeout`, `tunnel`, `tunnel_port`, `tunnel_timeout`",
    ),
    (
        "32-backup-without-database.toml",
        "tests/fixtures/invalid/32-backup-without-database.toml:5:1: backup: \
         a backup needs a database: add a [database] table with url",
    ),
    (
        "33-backup-jobs-without-directory.toml",
        "tests/fixtures/invalid/33-backup-jobs-without-directory.toml:11:8: backup.jobs: \
         parallel jobs need format = \"directory\" (a custom-format dump is one stream)",
    ),
    (
        "34-backup-unknown-format.toml",
        "tests/fixtures/invalid/34-backup-unknown-format.toml:11:10: backup.format: \
         unknown format \"tar\": expected one of custom, directory",
    ),
    (
        "35-backup-bad-keep.toml",
        "tests/fixtures/invalid/35-backup-bad-keep.toml:11:8: backup.keep: \
         invalid value 0: expected a whole number from 1 to 1024",
    ),
    (
        "36-health-bad-status-range.toml",
        "tests/fixtures/invalid/36-health-bad-status-range.toml:12:17: health[0].expect_status: \
         invalid status \"200-99\": expected codes from 100 to 599, e.g. [200, 204] or \"200-299\"",
    ),
    (
        "37-verify-bad-expect.toml",
        "tests/fixtures/invalid/37-verify-bad-expect.toml:12:10: verify[0].expect: \
         invalid expectation \"about 58\": expected an operator (=, !=, <, <=, >, >=) and a value, e.g. \">= 58\"",
    ),
    (
        "38-logs-bad-regex.toml",
        "tests/fixtures/invalid/38-logs-bad-regex.toml:12:9: logs[0].error: \
         invalid regex \"(?i)error|(\": error: unclosed group",
    ),
    (
        "39-rollback-unknown-key-in-step.toml",
        "tests/fixtures/invalid/39-rollback-unknown-key-in-step.toml:10:35: rollback.steps[0].timout: \
         unknown field `timout`, expected one of `run`, `timeout`, `cwd`, `env`",
    ),
    (
        "40-rollback-restore-without-database.toml",
        "tests/fixtures/invalid/40-rollback-restore-without-database.toml:11:12: rollback.database: \
         database = \"restore\" needs a [database] table (there is nothing to restore)",
    ),
    (
        "41-rollback-restore-without-backup.toml",
        "tests/fixtures/invalid/41-rollback-restore-without-backup.toml:14:12: rollback.database: \
         database = \"restore\" needs a [backup] table (the backup this run takes is what is restored)",
    ),
    (
        "42-rollback-unknown-mode.toml",
        "tests/fixtures/invalid/42-rollback-unknown-mode.toml:10:12: rollback.database: \
         unknown mode \"down\": expected auto, restore or none",
    ),
    (
        "43-window-unknown-day.toml",
        "tests/fixtures/invalid/43-window-unknown-day.toml:10:23: window.days[2]: \
         unknown day \"thurs\": expected mon, tue, wed, thu, fri, sat or sun (or the full English name)",
    ),
    (
        "44-window-bad-hours.toml",
        "tests/fixtures/invalid/44-window-bad-hours.toml:11:9: window.hours: \
         invalid hours \"16:00-09:00\": expected \"HH:MM-HH:MM\" on a 24-hour clock with the start before the end, e.g. \"09:00-16:00\" (the end may be \"24:00\")",
    ),
    (
        "45-window-unknown-timezone.toml",
        "tests/fixtures/invalid/45-window-unknown-timezone.toml:11:12: window.timezone: \
         unknown timezone \"Europe/Berlyn\": expected an IANA name such as \"Europe/Berlin\" or \"UTC\"",
    ),
    (
        "46-monitor-zero-duration.toml",
        "tests/fixtures/invalid/46-monitor-zero-duration.toml:10:12: monitor.duration: \
         invalid duration \"0m\": must be greater than zero",
    ),
    (
        "47-notify-not-http.toml",
        "tests/fixtures/invalid/47-notify-not-http.toml:10:11: notify.webhook: \
         invalid webhook URL (scheme ftp): expected http://… or https://… (the value is not shown: it may carry a token)",
    ),
    (
        "48-smoke-bad-url.toml",
        "tests/fixtures/invalid/48-smoke-bad-url.toml:11:7: smoke[0].url: \
         invalid URL \"api.example.com/\": expected http://… or https://…",
    ),
    (
        "49-seed-wrong-type.toml",
        "tests/fixtures/invalid/49-seed-wrong-type.toml:7:8: phase[0].seed: \
         invalid type: string \"yes\", expected a boolean",
    ),
    (
        "50-environment-unknown-key.toml",
        "tests/fixtures/invalid/50-environment-unknown-key.toml:14:1: environments.production.allow_seeds: \
         unknown field `allow_seeds`, expected one of `production`, `allow_seed`, `vars`, `database`, `backup`, `health`, `smoke`, `verify`, `logs`, `rollback`, `window`, `monitor`, `notify`",
    ),
    (
        "51-environment-not-chosen.toml",
        "tests/fixtures/invalid/51-environment-not-chosen.toml:9:2: environments: \
         this plan defines environments staging, production: choose one with --env ([project] environment \"live\" is none of them)",
    ),
    (
        "52-bad-environment-name.toml",
        "tests/fixtures/invalid/52-bad-environment-name.toml:11:1: environments.eu prod: \
         invalid environment name \"eu prod\": expected one word of letters, digits, '_', '.' or '-' (the operator types it to confirm)",
    ),
    (
        "53-environment-bad-var-name.toml",
        "tests/fixtures/invalid/53-environment-bad-var-name.toml:10:34: environments.staging.vars.2ND: \
         invalid variable name \"2ND\": expected letters, digits and '_', not starting with a digit",
    ),
    (
        "54-environment-override-error.toml",
        "tests/fixtures/invalid/54-environment-override-error.toml:14:7: environments.staging.database.url: \
         unsupported database URL \"mysql://db.staging/shop\": expected postgres://…, postgresql://… or sqlite:…",
    ),
    (
        "55-notify-without-webhook.toml",
        "tests/fixtures/invalid/55-notify-without-webhook.toml:9:1: notify.webhook: \
         missing; expected webhook = \"${SLACK_WEBHOOK}\"",
    ),
    (
        "56-optional-wrong-type.toml",
        "tests/fixtures/invalid/56-optional-wrong-type.toml:7:12: phase[0].optional: \
         invalid type: string \"sometimes\", expected a boolean",
    ),
];

#[test]
fn invalid_fixtures_give_exact_errors() {
    let dir = Path::new("tests/fixtures/invalid");
    let mut on_disk: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        // The (empty) migrations folder the fixtures with a [database] name: it must exist (issue 16).
        .filter(|name| name.ends_with(".toml"))
        .collect();
    on_disk.sort();
    let listed: Vec<&str> = INVALID.iter().map(|(f, _)| *f).collect();
    assert_eq!(on_disk, listed, "every fixture is listed, in order");
    assert!(INVALID.len() >= 18);

    let mut failures = Vec::new();
    for (file, expected) in INVALID {
        let path = dir.join(file);
        let actual = match plan::load(&path) {
            Ok(_) => "<parsed without error>".to_string(),
            Err(e) => e.to_string(),
        };
        if actual != *expected {
            failures.push(format!(
                "{file}\n  expected: {expected}\n  actual:   {actual}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
