//! `deckhand import` through the real binary: each real runbook of `tests/fixtures/runbooks/` (copied
//! byte-identical from ../shared/runbooks) checked section by section — checklist, phases and steps,
//! destructive marks, rollback, window, monitor, environments — and `deckhand check` passing on what it wrote;
//! a runbook written for every recognised part (health, logs, database, backup, verify, thresholds, seed, `cd`,
//! here-docs, CRLF, invalid UTF-8); `-o` never overwriting a file or following a symlink; exit codes.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod plan_cli;

use std::path::{Path, PathBuf};

use plan_cli::{array, deckhand, phase, s, text};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/runbooks")
        .join(name)
}

/// Imports `runbook` to `dir/deckhand.toml`, checks it with `vars` set, and returns the plan's text, its
/// parsed value and the summary.
fn import_and_check(
    runbook: &Path,
    dir: &Path,
    vars: &[(&str, &str)],
) -> (String, toml::Value, String) {
    let out = deckhand(
        &["import", runbook.to_str().unwrap(), "-o", "deckhand.toml"],
        dir,
        vars,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let plan = std::fs::read_to_string(dir.join("deckhand.toml")).unwrap();
    let check = deckhand(&["check", "deckhand.toml"], dir, vars);
    assert_eq!(
        check.status.code(),
        Some(0),
        "deckhand check refused the import:\n{}\n{plan}",
        text(&check.stderr)
    );
    // Without -o the same plan goes to stdout.
    let stdout = deckhand(&["import", runbook.to_str().unwrap()], dir, vars);
    assert_eq!(text(&stdout.stdout).trim_end(), plan.trim_end());
    let value: toml::Value = toml::from_str(&plan).unwrap();
    (plan, value, text(&out.stderr))
}

fn runs(v: &toml::Value) -> Vec<String> {
    array(v, "steps")
        .iter()
        .map(|st| s(st, "run").to_string())
        .collect()
}

fn destructive(p: &toml::Value) -> bool {
    p.get("destructive").and_then(toml::Value::as_bool) == Some(true)
}

#[test]
fn the_fixtures_are_the_shared_runbooks_unchanged() {
    let shared = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/runbooks");
    if !shared.is_dir() {
        return;
    }
    for name in [
        "drizzle-production-deployment-plan.md",
        "feature-deployment-strategy.md",
        "melodia-production-deployment.md",
    ] {
        let a = std::fs::read(shared.join(name)).unwrap();
        assert_eq!(a, std::fs::read(fixture(name)).unwrap(), "{name} differs");
    }
}

#[test]
fn drizzle_runbook() {
    let d = tempfile::tempdir().unwrap();
    let md = "drizzle-production-deployment-plan.md";
    let (plan, v, summary) = import_and_check(&fixture(md), d.path(), &[]);
    // The pre-deployment checklist, every item, in order.
    let items: Vec<&str> = array(&v, "checklist")
        .iter()
        .map(|c| s(c, "item"))
        .collect();
    assert_eq!(items.len(), 7);
    assert_eq!(items[0], "All tests pass in the staging environment");
    assert_eq!(items[6], "Backup of production database has been created");
    assert!(plan.contains("[[checklist]]  # from drizzle-production-deployment-plan.md:18"));
    // The deployment steps: one phase, destructive because of the push.
    let phases = array(&v, "phase");
    assert_eq!(phases.len(), 1);
    let p = phase(&v, "Deployment Steps");
    assert_eq!(
        runs(p),
        [
            "git checkout main",
            "git merge staging",
            "git push origin main",
            "./deploy-production.sh"
        ]
    );
    assert!(destructive(p));
    assert!(plan.contains(
        "destructive = true  # from drizzle-production-deployment-plan.md:38: git push origin main"
    ));
    // The sentence that introduces a block is its first step's note.
    assert!(plan.contains(
        "  # note: Merge the staging branch to main\n  { run = \"git checkout main\" },"
    ));
    // The rollback: the last stable tag (a placeholder to fill in) and the deploy script again.
    let rollback = v.get("rollback").unwrap();
    assert_eq!(
        runs(rollback),
        ["git checkout [last-stable-tag]", "./deploy-production.sh"]
    );
    assert!(plan.contains("# TODO: fill in the placeholder [last-stable-tag]"));
    // 24 hours of monitoring; "low-traffic hours" a window to set (commented out, so not enforced).
    assert_eq!(s(v.get("monitor").unwrap(), "duration"), "24h");
    assert!(plan.contains("[monitor]  # from drizzle-production-deployment-plan.md:52"));
    assert!(v.get("window").is_none());
    assert!(plan.contains("# [window]") && plan.contains("low-traffic"));
    // Staging and production named.
    let envs = v.get("environments").unwrap();
    assert!(envs.get("staging").is_some());
    assert_eq!(envs["production"]["production"].as_bool(), Some(true));
    assert_eq!(s(&v["project"], "environment"), "production");
    assert!(summary.contains("guessed:") && summary.contains("taken:"));
}

#[test]
fn feature_deployment_runbook() {
    let d = tempfile::tempdir().unwrap();
    let (plan, v, summary) =
        import_and_check(&fixture("feature-deployment-strategy.md"), d.path(), &[]);
    // No task list in this runbook: no checklist.
    assert!(array(&v, "checklist").is_empty());
    let names: Vec<&str> = array(&v, "phase").iter().map(|p| s(p, "name")).collect();
    assert_eq!(
        names,
        [
            "1. Standard Deployment",
            "2. Blue-Green Deployment",
            "3. Staging Deployment",
            "Step 1: Analyze Changes",
            "Step 2: Generate Migration",
            "Step 3: Apply Migration",
            "1. Pre-Deployment Testing",
            "3. Migration Testing",
            "1. Deployment Validation",
            "2. Health Monitoring",
            "1. Development Phase",
            "2. Staging Phase",
            "3. Production Phase",
            "1. Adding New Entity",
            "2. Updating Entity Properties",
            "3. Removing Deprecated Features",
        ]
    );
    // Deploys and migrations applied change shared systems; analysis, tests and validation do not.
    for (name, marked) in [
        ("1. Standard Deployment", true),
        ("Step 1: Analyze Changes", false),
        ("Step 3: Apply Migration", true),
        ("1. Pre-Deployment Testing", false),
        ("3. Migration Testing", false),
        ("1. Deployment Validation", false),
        ("2. Health Monitoring", false),
        ("1. Development Phase", false),
        ("3. Production Phase", true),
    ] {
        assert_eq!(destructive(phase(&v, name)), marked, "{name}");
    }
    // Comments kept as notes, one step per command.
    assert_eq!(
        runs(phase(&v, "1. Pre-Deployment Testing")),
        [
            "./scripts/testing/production-testing.sh full-test",
            "./scripts/testing/production-testing.sh smoke-test",
            "./scripts/testing/production-testing.sh integration-test",
            "./scripts/testing/production-testing.sh performance-test",
        ]
    );
    assert!(plan.contains("# note: Run comprehensive test suite"));
    // The rollback and emergency sections, in order; `docker stats` (never ends) left out, the SQL block too.
    let rollback = runs(v.get("rollback").unwrap());
    assert_eq!(
        rollback[0],
        "./scripts/deployment/feature-deployment.sh deploy user-profile-update --no-rollback=false"
    );
    assert!(
        rollback.contains(&"./scripts/disaster-recovery/disaster-recovery.sh restore".to_string())
    );
    assert_eq!(
        rollback.last().unwrap(),
        "docker compose -f docker-compose.prod-secure.yml up -d --scale backend=2"
    );
    assert!(!rollback.iter().any(|r| r == "docker stats"));
    assert!(summary.contains("`docker stats`: runs until stopped"));
    assert!(summary.contains("line 104: a `sql` block"));
    // `docker logs NAME` without -f is a one-shot command, not a log source.
    assert!(array(&v, "logs").is_empty());
    // "Deploy during peak hours" under Never: a window to set.
    assert!(plan.contains("# [window]") && plan.contains("peak hours"));
}

#[test]
fn melodia_runbook() {
    let d = tempfile::tempdir().unwrap();
    let (plan, v, summary) =
        import_and_check(&fixture("melodia-production-deployment.md"), d.path(), &[]);
    // The success criteria are task items under headings that are not a checklist: taken, marked as guesses.
    let items: Vec<&str> = array(&v, "checklist")
        .iter()
        .map(|c| s(c, "item"))
        .collect();
    assert_eq!(items.len(), 13);
    assert_eq!(
        items[0],
        "Functional Success: All existing functionality works unchanged"
    );
    assert_eq!(items[12], "Operational Success: Rollback procedures tested");
    assert!(plan.contains("# TODO: a task item under \"Functional Success\""));
    // No shell block outside the rollback: the scripts it names, as guessed destructive phases.
    let phases = array(&v, "phase");
    assert_eq!(phases.len(), 2);
    let migrate = phase(&v, "Migration Scripts");
    assert_eq!(
        runs(migrate),
        ["psql \"$DATABASE_URL\" -v ON_ERROR_STOP=1 -f scripts/production-migration.sql"]
    );
    assert!(destructive(migrate));
    let deploy = phase(&v, "Deployment Scripts");
    assert_eq!(runs(deploy), ["./scripts/deploy-to-production.sh"]);
    assert!(destructive(deploy));
    // The rollback plan: the application's and the database's.
    assert_eq!(
        runs(v.get("rollback").unwrap()),
        [
            "git checkout previous-stable-commit",
            "git push origin main --force",
            "psql -h production-db-host -U production-username -d production-database -f scripts/rollback-migration.sql",
        ]
    );
    assert!(plan.contains("[rollback]  # from melodia-production-deployment.md:85"));
    assert!(v.get("window").is_none() && v.get("monitor").is_none());
    assert!(summary.contains("without saying how to run it"));
}

const WRITTEN: &str = "# Shop release\r\n\
\r\n\
Never deploy on Fridays. Alert if latency doubles or errors pass 5%.\r\n\
\r\n\
## Pre-deployment checklist\r\n\
\r\n\
- [ ] Staging verified\r\n\
- [x] Team told in #releases\r\n\
  - [ ] Nested: on-call paged\r\n\
\r\n\
## Backup\r\n\
\r\n\
```bash\r\n\
pg_dump -Fc \"$DATABASE_URL\" > before.dump\r\n\
```\r\n\
\r\n\
## Migrate\r\n\
\r\n\
~~~sh {.numberLines}\r\n\
$ npx prisma migrate deploy\r\n\
~~~\r\n\
\r\n\
## Deploy @BAD@\r\n\
\r\n\
```console\r\n\
$ cd app\r\n\
$ docker build \\\r\n\
\x20   -t shop:${VERSION} .\r\n\
Successfully built\r\n\
$ kubectl apply -f k8s/\r\n\
```\r\n\
\r\n\
## Seed demo data\r\n\
\r\n\
```\r\n\
npm run db:seed\r\n\
psql \"$DATABASE_URL\" <<'SQL'\r\n\
insert into flags values ('new-checkout', true);\r\n\
SQL\r\n\
```\r\n\
\r\n\
## Health checks\r\n\
\r\n\
```bash\r\n\
curl -fsS $APP_URL/api/health\r\n\
kubectl logs -f deploy/shop | grep -i 'error|fatal'\r\n\
```\r\n\
\r\n\
Watch the dashboards for 10–15 minutes after the deploy.\r\n\
\r\n\
## Success criteria\r\n\
\r\n\
- 58 tables and 76 foreign keys in production\r\n\
\r\n\
## Rollback\r\n\
\r\n\
```bash\r\n\
kubectl rollout undo deploy/shop\r\n\
```\r\n";

#[test]
fn every_recognised_part_of_a_written_runbook() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("prisma/migrations")).unwrap();
    std::fs::create_dir_all(d.path().join("app")).unwrap();
    let runbook = d.path().join("RUNBOOK.md");
    // A mis-encoded byte (not UTF-8) in a heading: read as U+FFFD.
    let bytes: Vec<u8> = WRITTEN
        .replace("@BAD@", "\u{1}")
        .bytes()
        .map(|b| if b == 1 { 0xff } else { b })
        .collect();
    std::fs::write(&runbook, bytes).unwrap();
    let vars = [
        ("DATABASE_URL", "postgres://u@localhost/shop"),
        ("APP_URL", "https://shop.example.com"),
    ];
    let (plan, v, summary) = import_and_check(&runbook, d.path(), &vars);
    let items: Vec<&str> = array(&v, "checklist")
        .iter()
        .map(|c| s(c, "item"))
        .collect();
    assert_eq!(
        items,
        [
            "Staging verified",
            "Team told in #releases",
            "Nested: on-call paged"
        ]
    );
    // pg_dump and the migration tool: deckhand's own backup and migrate stage replace them.
    assert_eq!(s(&v["database"], "format"), "prisma");
    assert_eq!(s(&v["database"], "migrations"), "prisma/migrations");
    assert_eq!(s(&v["database"], "url"), "${DATABASE_URL}");
    assert!(v.get("backup").is_some());
    assert!(plan.contains("[backup]  # from RUNBOOK.md:14"));
    let names: Vec<&str> = array(&v, "phase").iter().map(|p| s(p, "name")).collect();
    assert_eq!(names, ["Deploy \u{fffd}", "Seed demo data"]);
    // Prompts stripped, output dropped, the continuation whole, `cd` as cwd, `${` kept for the shell.
    let deploy = phase(&v, "Deploy \u{fffd}");
    let steps = array(deploy, "steps");
    assert_eq!(
        s(steps[0], "run"),
        "docker build \\\n    -t shop:$${VERSION} ."
    );
    assert_eq!(s(steps[0], "cwd"), "app");
    assert_eq!(s(steps[1], "run"), "kubectl apply -f k8s/");
    assert!(destructive(deploy));
    let seed = phase(&v, "Seed demo data");
    assert_eq!(seed.get("seed").and_then(toml::Value::as_bool), Some(true));
    assert_eq!(
        runs(seed)[1],
        "psql \"$DATABASE_URL\" <<'SQL'\ninsert into flags values ('new-checkout', true);\nSQL"
    );
    // curl -f under a health heading: a health check with the stated thresholds; the log source and its grep.
    let health = array(&v, "health");
    assert_eq!(s(health[0], "url"), "${APP_URL}/api/health");
    assert_eq!(health[0]["latency_factor"].as_float(), Some(2.0));
    assert_eq!(health[0]["error_rate"].as_float(), Some(0.05));
    let logs = array(&v, "logs");
    assert_eq!(s(logs[0], "command"), "kubectl logs -f deploy/shop");
    assert_eq!(s(logs[0], "error"), "(?i)error|fatal");
    assert_eq!(s(&v["monitor"], "duration"), "15m");
    let days: Vec<&str> = v["window"]["days"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap())
        .collect();
    assert_eq!(days, ["mon", "tue", "wed", "thu"]);
    let verify = array(&v, "verify");
    assert_eq!(s(verify[0], "expect"), "= 58");
    assert_eq!(s(verify[1], "name"), "foreign keys");
    assert_eq!(runs(&v["rollback"]), ["kubectl rollout undo deploy/shop"]);
    assert!(summary.contains("APP_URL"), "{summary}");
}

#[test]
fn output_is_never_overwritten_nor_followed_through_a_symlink() {
    let d = tempfile::tempdir().unwrap();
    let runbook = fixture("drizzle-production-deployment-plan.md");
    std::fs::write(d.path().join("deckhand.toml"), "mine").unwrap();
    let out = deckhand(
        &["import", runbook.to_str().unwrap(), "-o", "deckhand.toml"],
        d.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(d.path().join("deckhand.toml")).unwrap(),
        "mine"
    );
    std::os::unix::fs::symlink(d.path().join("elsewhere.toml"), d.path().join("link.toml"))
        .unwrap();
    let out = deckhand(
        &["import", runbook.to_str().unwrap(), "-o", "link.toml"],
        d.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(!d.path().join("elsewhere.toml").exists());
}

#[test]
fn an_unreadable_runbook_is_bad_usage() {
    let d = tempfile::tempdir().unwrap();
    let out = deckhand(&["import", "missing.md"], d.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("cannot read missing.md"));
    assert_eq!(deckhand(&["import"], d.path(), &[]).status.code(), Some(2));
}

/// A runbook that opens the database's port forward by hand in the background: it becomes the plan's managed
/// tunnel (never a step), and `deckhand check` holds the URL to it.
#[test]
fn a_port_forward_becomes_the_managed_tunnel() {
    let d = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(d.path().join("prisma/migrations")).unwrap();
    let runbook = d.path().join("RUNBOOK.md");
    std::fs::write(
        &runbook,
        "# Shop release\n\n## Open the database tunnel\n\nIn another window:\n\n```sh\n\
         flyctl proxy 15432:5432 -a shop-db &\n```\n\n## Migrate\n\n```sh\nnpx prisma migrate deploy\n```\n\n\
         ## Deploy\n\n```sh\nflyctl deploy -a shop\n```\n",
    )
    .unwrap();
    let vars = [("DATABASE_URL", "postgres://u@localhost:15432/shop")];
    let (plan, v, summary) = import_and_check(&runbook, d.path(), &vars);
    assert_eq!(
        s(&v["database"], "tunnel"),
        "flyctl proxy 15432:5432 -a shop-db"
    );
    assert_eq!(v["database"]["tunnel_port"].as_integer(), Some(15432));
    assert!(
        plan.contains("tunnel = \"flyctl proxy 15432:5432 -a shop-db\"  # from RUNBOOK.md:8"),
        "{plan}"
    );
    assert!(
        plan.contains("# TODO: DATABASE_URL must go through the tunnel"),
        "{plan}"
    );
    let steps: Vec<String> = array(&v, "phase").iter().flat_map(|p| runs(p)).collect();
    assert_eq!(
        steps,
        ["flyctl deploy -a shop"],
        "the forward is not a step"
    );
    assert!(summary.contains("tunnel on port 15432"), "{summary}");
    // A URL that does not go through the tunnel is refused by `check`, naming the key.
    let elsewhere = [("DATABASE_URL", "postgres://u@db.internal:5432/shop")];
    let check = deckhand(&["check", "deckhand.toml"], d.path(), &elsewhere);
    assert_eq!(check.status.code(), Some(2));
    let err = text(&check.stderr);
    assert!(
        err.contains("database.url") && err.contains("not through the tunnel"),
        "{err}"
    );
}
