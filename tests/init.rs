//! `deckhand init` through the real binary on fixture projects built in temporary folders — Prisma (with fly.toml,
//! package.json scripts and a git checkout), Drizzle (with a compose file), sqlx (with a `.env` whose values must
//! never show) and plain SQL (the plan written into another folder) — each plan's parts asserted and `deckhand
//! check` passing on it once its variables are set; never over an existing plan or through a symlink.
// Test code: a panic is the failure report, and a scenario reads top to bottom in one function.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_lines)]

mod plan_cli;

use std::path::Path;

use plan_cli::{array, deckhand, phase, s, text};

fn write(dir: &Path, rel: &str, body: &str) {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, body).unwrap();
}

/// Runs `init` in `dir` (with `args`), then `check` on the plan with `vars` set; the plan's text, its value and
/// everything both commands printed.
fn init_and_check(
    dir: &Path,
    args: &[&str],
    plan: &str,
    vars: &[(&str, &str)],
) -> (String, toml::Value, String) {
    let mut all = vec!["init"];
    all.extend_from_slice(args);
    let out = deckhand(&all, dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let toml_text = std::fs::read_to_string(dir.join(plan)).unwrap();
    let check = deckhand(&["check", plan], dir, vars);
    assert_eq!(
        check.status.code(),
        Some(0),
        "deckhand check refused the plan:\n{}\n{toml_text}",
        text(&check.stderr)
    );
    let printed = format!(
        "{}{}{}{}",
        text(&out.stdout),
        text(&out.stderr),
        text(&check.stdout),
        text(&check.stderr)
    );
    (
        toml_text.clone(),
        toml::from_str(&toml_text).unwrap(),
        printed,
    )
}

fn flag(v: &toml::Value, key: &str) -> bool {
    v.get(key).and_then(toml::Value::as_bool) == Some(true)
}

fn runs(p: &toml::Value) -> Vec<&str> {
    array(p, "steps").iter().map(|st| s(st, "run")).collect()
}

fn database(v: &toml::Value) -> (&str, &str, &str) {
    let db = v.get("database").expect("[database]");
    (s(db, "url"), s(db, "migrations"), s(db, "format"))
}

#[test]
fn prisma_project_with_fly_package_scripts_and_git() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "prisma/schema.prisma",
        "// url = env(\"OLD_URL\")\ngenerator client {\n  provider = \"prisma-client-js\"\n}\n\ndatasource db {\n  provider = \"postgresql\"\n  url      = env(\"DATABASE_URL\")\n}\n\nmodel User {\n  id Int @id\n}\n",
    );
    write(
        p,
        "prisma/migrations/migration_lock.toml",
        "provider = \"postgresql\"\n",
    );
    write(
        p,
        "prisma/migrations/20240101000000_init/migration.sql",
        "CREATE TABLE \"User\" (\"id\" INTEGER PRIMARY KEY);\n",
    );
    write(
        p,
        "fly.toml",
        "app = \"shop-api\"\nprimary_region = \"fra\"\n\n[http_service]\ninternal_port = 3000\n",
    );
    write(
        p,
        "package.json",
        r#"{"name": "shop", "scripts": {"dev": "next dev", "build": "next build", "deploy": "flyctl deploy", "db:migrate": "prisma migrate deploy", "migrate:dev": "prisma migrate dev", "db:seed": "tsx prisma/seed.ts"}}"#,
    );
    write(p, ".git/HEAD", "ref: refs/heads/feature/x\n");
    write(
        p,
        ".git/refs/remotes/origin/HEAD",
        "ref: refs/remotes/origin/main\n",
    );
    let vars = [("DATABASE_URL", "postgres://app@localhost:5432/shop")];
    let (plan, v, printed) = init_and_check(p, &[], "deckhand.toml", &vars);

    assert_eq!(s(v.get("project").unwrap(), "name"), "shop");
    assert_eq!(
        database(&v),
        ("${DATABASE_URL}", "prisma/migrations", "prisma")
    );
    assert!(
        plan.contains("[database]  # from prisma/schema.prisma"),
        "{plan}"
    );
    assert!(
        plan.contains("url = \"${DATABASE_URL}\"  # from prisma/schema.prisma: url"),
        "{plan}"
    );
    assert!(v.get("backup").is_some());
    // The checklist names the default branch (origin's HEAD, not the branch checked out).
    let items: Vec<&str> = array(&v, "checklist")
        .iter()
        .map(|c| s(c, "item"))
        .collect();
    assert!(
        items.contains(&"The release is merged into main and pushed"),
        "{items:?}"
    );
    assert!(
        plan.contains("# from .git/refs/remotes/origin/HEAD"),
        "{plan}"
    );
    // package.json: deploy and seed; migrate left to deckhand's migrate stage; dev scripts left out.
    let deploy = phase(&v, "Deploy (npm run deploy)");
    assert!(flag(deploy, "destructive"));
    assert_eq!(runs(deploy), ["npm run deploy"]);
    let seed = phase(&v, "Seed (npm run db:seed)");
    assert!(flag(seed, "seed"));
    assert_eq!(runs(seed), ["npm run db:seed"]);
    let names: Vec<&str> = array(&v, "phase").iter().map(|p| s(p, "name")).collect();
    assert!(
        !names
            .iter()
            .any(|n| n.contains("migrate") || n.contains("dev")),
        "{names:?}"
    );
    assert_eq!(
        names.last(),
        Some(&"Seed (npm run db:seed)"),
        "seeding comes last"
    );
    // fly.toml: deploy, status and logs.
    let fly = phase(&v, "Deploy to Fly.io (shop-api)");
    assert!(flag(fly, "destructive"));
    assert_eq!(runs(fly), ["flyctl deploy -a shop-api"]);
    let status = phase(&v, "Fly.io status (shop-api)");
    assert!(!flag(status, "destructive"));
    assert_eq!(runs(status), ["flyctl status -a shop-api"]);
    let logs = array(&v, "logs");
    assert_eq!(logs.len(), 1);
    assert_eq!(s(logs[0], "command"), "flyctl logs -a shop-api");
    assert!(plan.contains("[[phase]]  # from fly.toml"), "{plan}");
    assert!(
        plan.contains("# from package.json: scripts.deploy"),
        "{plan}"
    );
    // Two ways to deploy: a guess to review.
    assert!(
        plan.contains("# TODO: more than one way to deploy"),
        "{plan}"
    );
    // The summary.
    assert!(printed.contains("deckhand init: "), "{printed}");
    assert!(
        printed.contains("found:")
            && printed.contains("guessed:")
            && printed.contains("not found:")
    );
    assert!(
        printed.contains("package.json script db:migrate left out: deckhand's migrate stage"),
        "{printed}"
    );
    assert!(
        printed.contains("set before `deckhand check`: DATABASE_URL"),
        "{printed}"
    );
}

#[test]
fn drizzle_project_with_compose() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "drizzle.config.ts",
        "import { defineConfig } from \"drizzle-kit\";\n\nexport default defineConfig({\n  schema: \"./src/db/schema.ts\",\n  out: \"./drizzle\",\n  dialect: \"postgresql\",\n  dbCredentials: {\n    url: process.env.DB_URL!,\n  },\n});\n",
    );
    write(
        p,
        "drizzle/0000_init.sql",
        "CREATE TABLE users (id serial PRIMARY KEY);\n",
    );
    write(
        p,
        "drizzle/meta/_journal.json",
        r#"{"version": "7", "dialect": "postgresql", "entries": [{"idx": 0, "version": "7", "when": 1704110400000, "tag": "0000_init", "breakpoints": true}]}"#,
    );
    write(
        p,
        "docker-compose.yml",
        "services:\n  web:\n    build: .\n    environment:\n      DB_URL: postgres://x\n  db:\n    image: postgres:16\nvolumes:\n  pgdata:\n",
    );
    let vars = [("DB_URL", "postgres://app@localhost:5432/shop")];
    let (plan, v, printed) = init_and_check(p, &[], "deckhand.toml", &vars);
    assert_eq!(database(&v), ("${DB_URL}", "drizzle", "drizzle"));
    assert!(
        plan.contains("# from drizzle.config.ts: process.env.DB_URL"),
        "{plan}"
    );
    assert!(
        plan.contains("migrations = \"drizzle\"  # from drizzle.config.ts"),
        "{plan}"
    );
    let up = phase(&v, "Start the services (docker compose up -d)");
    assert!(flag(up, "destructive"));
    assert_eq!(runs(up), ["docker compose up -d"]);
    assert!(
        plan.contains("# from docker-compose.yml: services web, db"),
        "{plan}"
    );
    assert!(!plan.contains("pgdata"));
    // No package.json, fly.toml or git: said.
    assert!(printed.contains("package.json"), "{printed}");
    assert!(printed.contains("fly.toml"), "{printed}");
    // The project is named after its folder: a guess.
    assert!(plan.contains("# TODO: the folder's name"), "{plan}");
}

#[test]
fn sqlx_project_never_shows_a_value_of_its_env_file() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "migrations/20240101000000_init.up.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    );
    write(
        p,
        "migrations/20240101000000_init.down.sql",
        "DROP TABLE users;\n",
    );
    write(
        p,
        ".env",
        "# local settings\nAPI_TOKEN=hunter2-token\nexport DATABASE_URL=secret-value\nRUST_LOG=debug\n",
    );
    write(p, "Cargo.toml", "[package]\nname = \"shop\"\n");
    let vars = [("DATABASE_URL", "postgres://app@localhost:5432/shop")];
    let (plan, v, printed) = init_and_check(p, &[], "deckhand.toml", &vars);
    assert_eq!(database(&v), ("${DATABASE_URL}", "migrations", "sqlx"));
    assert!(
        plan.contains("url = \"${DATABASE_URL}\"  # from .env"),
        "{plan}"
    );
    for secret in ["secret-value", "hunter2"] {
        assert!(!plan.contains(secret), "{plan}");
        assert!(!printed.contains(secret), "{printed}");
    }
    assert!(
        !plan.contains("API_TOKEN"),
        "only the database URL's name is taken"
    );
    // Nothing to run was found: a placeholder phase, a guess.
    let names: Vec<&str> = array(&v, "phase").iter().map(|p| s(p, "name")).collect();
    assert_eq!(names, ["Deploy"]);
    assert!(plan.contains("# TODO: nothing to run was found"), "{plan}");
}

#[test]
fn plain_sql_project_with_the_plan_in_another_folder() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "db/migrations/create_users.sql",
        "CREATE TABLE users (id bigint PRIMARY KEY);\n",
    );
    write(
        p,
        "db/migrations/add_orders.sql",
        "CREATE TABLE orders (id bigint PRIMARY KEY);\n",
    );
    write(
        p,
        "db/migrations/add_orders.down.sql",
        "DROP TABLE orders;\n",
    );
    write(
        p,
        "package.json",
        r#"{"scripts": {"release:deploy": "./deploy.sh"}}"#,
    );
    write(p, "pnpm-lock.yaml", "lockfileVersion: '9.0'\n");
    std::fs::create_dir(p.join("ops")).unwrap();
    let vars = [("DATABASE_URL", "postgres://app@localhost:5432/shop")];
    let (plan, v, printed) = init_and_check(p, &["-o", "ops/plan.toml"], "ops/plan.toml", &vars);
    assert_eq!(
        database(&v),
        ("${DATABASE_URL}", "../db/migrations", "plain")
    );
    // No variable named anywhere: DATABASE_URL guessed.
    assert!(
        plan.contains("# TODO: the variable holding the database URL"),
        "{plan}"
    );
    assert!(
        printed.contains("the database URL's variable DATABASE_URL"),
        "{printed}"
    );
    let deploy = phase(&v, "Deploy (pnpm run release:deploy)");
    assert!(flag(deploy, "destructive"));
    let step = array(deploy, "steps")[0];
    assert_eq!(s(step, "run"), "pnpm run release:deploy");
    assert_eq!(s(step, "cwd"), "..");
    assert!(!p.join("deckhand.toml").exists());
}

#[test]
fn never_over_an_existing_plan() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    write(
        p,
        "migrations/20240101000000_init.sql",
        "CREATE TABLE t (id int);\n",
    );
    write(p, "deckhand.toml", "# mine\n");
    let out = deckhand(&["init"], p, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("already exists"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(p.join("deckhand.toml")).unwrap(),
        "# mine\n"
    );
    let out = deckhand(&["init", "-o", "other.toml"], p, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let again = deckhand(&["init", "-o", "other.toml"], p, &[]);
    assert_eq!(again.status.code(), Some(2));
}

#[test]
fn never_through_a_symlink() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    let elsewhere = tempfile::tempdir().unwrap();
    // A dangling link: following it would create the target.
    let target = elsewhere.path().join("created.toml");
    std::os::unix::fs::symlink(&target, p.join("deckhand.toml")).unwrap();
    let out = deckhand(&["init"], p, &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(!target.exists());
    // A link to an existing file: left as it is.
    let existing = elsewhere.path().join("existing.toml");
    std::fs::write(&existing, "keep\n").unwrap();
    std::os::unix::fs::symlink(&existing, p.join("plan.toml")).unwrap();
    let out = deckhand(&["init", "-o", "plan.toml"], p, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(std::fs::read_to_string(&existing).unwrap(), "keep\n");
}

#[test]
fn a_folder_not_there_yet_a_compose_file_by_another_name_and_the_branch_checked_out() {
    let d = tempfile::tempdir().unwrap();
    let p = d.path();
    // Prisma without migrations yet: [database] written commented out, so the plan still passes check.
    write(
        p,
        "prisma/schema.prisma",
        "datasource db {\n  provider = \"postgresql\"\n  url = env(\"SHOP_DATABASE_URL\")\n}\n",
    );
    write(
        p,
        "docker-compose.prod.yml",
        "version: \"3.8\"\nservices:\n  api:\n    image: shop/api\n  worker:\n    image: shop/worker\n",
    );
    write(p, ".git/HEAD", "ref: refs/heads/trunk\n");
    let (plan, v, printed) = init_and_check(p, &[], "deckhand.toml", &[]);
    assert!(v.get("database").is_none(), "{plan}");
    assert!(
        plan.contains("# [database]  # from prisma/schema.prisma"),
        "{plan}"
    );
    assert!(plan.contains("# url = \"${SHOP_DATABASE_URL}\""), "{plan}");
    assert!(
        plan.contains("# TODO: prisma/migrations is not there yet"),
        "{plan}"
    );
    assert!(
        printed.contains("prisma/migrations is not there yet"),
        "{printed}"
    );
    let up = phase(&v, "Start the services (docker compose up -d)");
    assert_eq!(
        runs(up),
        ["docker compose -f docker-compose.prod.yml up -d"]
    );
    assert!(plan.contains("# TODO: docker-compose.prod.yml is not a default compose file name"));
    assert!(plan.contains("services api, worker"), "{plan}");
    // Only the branch checked out is known: a guess.
    let items: Vec<&str> = array(&v, "checklist")
        .iter()
        .map(|c| s(c, "item"))
        .collect();
    assert!(
        items.contains(&"The release is merged into trunk and pushed"),
        "{items:?}"
    );
    assert!(
        plan.contains("# TODO: the branch checked out now"),
        "{plan}"
    );
}
