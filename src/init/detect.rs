//! What a project folder holds, read file by file: the migrations folder and its format, the name of the
//! variable holding the database URL, the Fly.io app, the compose services, the package.json scripts and the
//! git default branch. Every finding names the file it came from (relative to the project folder). Variable
//! *values* are never kept: a `.env` line is cut at its `=` and only the name survives.

use std::path::Path;
use std::sync::LazyLock;

use regex::Regex;

use crate::migrate::source;

/// A value and the file it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub value: String,
    pub from: String,
}

fn found(value: impl Into<String>, from: impl Into<String>) -> Found {
    Found {
        value: value.into(),
        from: from.into(),
    }
}

/// The migrations folder, relative to the project folder.
#[derive(Debug, Clone)]
pub struct Database {
    /// `prisma`, `drizzle`, `sqlx` or `plain`.
    pub format: &'static str,
    pub folder: Found,
    /// Whether the folder is there (a `[database]` whose folder is missing fails `deckhand check`).
    pub exists: bool,
    /// The variable holding the URL, as the tool's own config names it.
    pub var: Option<Found>,
}

/// A `package.json` script deckhand makes a step of.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    pub name: String,
    pub kind: ScriptKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptKind {
    Migrate,
    Deploy,
    Seed,
}

/// `package.json`: the project's name, the scripts kept and how they are run (`npm run`, `pnpm run`, …).
#[derive(Debug, Clone, Default)]
pub struct Package {
    pub name: Option<String>,
    pub scripts: Vec<Script>,
    pub runner: &'static str,
}

/// A compose file and its services' names.
#[derive(Debug, Clone)]
pub struct Compose {
    pub file: String,
    pub default_name: bool,
    pub services: Vec<String>,
}

fn read(dir: &Path, rel: &str) -> Option<String> {
    let bytes = std::fs::read(dir.join(rel)).ok()?;
    Some(String::from_utf8_lossy(&bytes).into_owned())
}

static VAR_NAME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[A-Za-z_][A-Za-z0-9_]*$").unwrap_or_else(|_| unreachable!()));

/// A folder as the plan writes it: `./drizzle/` → `drizzle`.
fn tidy(folder: &str) -> String {
    let f = folder.trim().trim_end_matches('/');
    f.strip_prefix("./").unwrap_or(f).to_string()
}

/// The migrations folder of the project: Prisma's schema, then a drizzle config, then the usual folders.
pub fn database(dir: &Path) -> Option<Database> {
    prisma(dir)
        .or_else(|| drizzle(dir))
        .or_else(|| plain_folders(dir))
}

fn format_of(dir: &Path, folder: &str, tool: &'static str) -> (&'static str, bool) {
    let path = dir.join(folder);
    let exists = path.is_dir();
    match source::detect(&path) {
        Ok(f) if exists => (f.name(), true),
        _ => (tool, exists),
    }
}

static PRISMA_BLOCK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)datasource\s+\w+\s*\{(.*?)\}").unwrap_or_else(|_| unreachable!())
});
static PRISMA_URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?m)^\s*(url|directUrl)\s*=\s*env\(\s*"([A-Za-z_][A-Za-z0-9_]*)"\s*\)"#)
        .unwrap_or_else(|_| unreachable!())
});

/// `prisma/schema.prisma` (or `schema.prisma`): the migrations beside it, the variable of its datasource's
/// `env("…")` — `directUrl`'s when there is one (migrations go to the database directly, not through a pooler).
fn prisma(dir: &Path) -> Option<Database> {
    let (schema, base) = [("prisma/schema.prisma", "prisma"), ("schema.prisma", "")]
        .into_iter()
        .find(|(s, _)| dir.join(s).is_file())?;
    let text = read(dir, schema)?;
    let code: String = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n");
    let block = PRISMA_BLOCK
        .captures(&code)
        .map(|c| c[1].to_string())
        .unwrap_or_default();
    let mut var = None;
    for c in PRISMA_URL.captures_iter(&block) {
        if var.is_none() || &c[1] == "directUrl" {
            var = Some(found(&c[2], format!("{schema}: {}", &c[1])));
        }
    }
    let folder = if base.is_empty() {
        "migrations".to_string()
    } else {
        format!("{base}/migrations")
    };
    let (format, exists) = format_of(dir, &folder, "prisma");
    Some(Database {
        format,
        folder: found(folder, schema),
        exists,
        var,
    })
}

static DRIZZLE_OUT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"["']?\bout["']?\s*:\s*["'`]([^"'`\n]+)["'`]"#).unwrap_or_else(|_| unreachable!())
});
static PROCESS_ENV: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r#"process\.env(?:\.([A-Za-z_][A-Za-z0-9_]*)|\[\s*["']([A-Za-z_][A-Za-z0-9_]*)["']\s*\])"#,
    )
    .unwrap_or_else(|_| unreachable!())
});

/// `drizzle.config.*`: its `out` folder (Drizzle's default `drizzle` when it names none) and the first
/// `process.env.X` whose name speaks of a URL or a database (else the first one).
fn drizzle(dir: &Path) -> Option<Database> {
    let config = ["ts", "mts", "js", "mjs", "cjs", "json"]
        .iter()
        .map(|ext| format!("drizzle.config.{ext}"))
        .find(|f| dir.join(f).is_file())?;
    let text = read(dir, &config)?;
    let folder = DRIZZLE_OUT
        .captures(&text)
        .map_or_else(|| "drizzle".to_string(), |c| tidy(&c[1]));
    let vars: Vec<String> = PROCESS_ENV
        .captures_iter(&text)
        .filter_map(|c| {
            c.get(1)
                .or_else(|| c.get(2))
                .map(|m| m.as_str().to_string())
        })
        .collect();
    let var = vars
        .iter()
        .find(|v| v.contains("URL") || v.contains("DATABASE") || v.contains("DB"))
        .or(vars.first())
        .map(|v| found(v, format!("{config}: process.env.{v}")));
    let (format, exists) = format_of(dir, &folder, "drizzle");
    Some(Database {
        format,
        folder: found(folder, config),
        exists,
        var,
    })
}

/// The usual folders of sqlx and plain SQL migrations, the first one holding migrations.
fn plain_folders(dir: &Path) -> Option<Database> {
    [
        "migrations",
        "db/migrations",
        "database/migrations",
        "sql/migrations",
        "supabase/migrations",
        "sql",
    ]
    .into_iter()
    .find_map(|folder| {
        let format = source::detect(&dir.join(folder)).ok()?;
        Some(Database {
            format: format.name(),
            folder: found(folder, format!("{folder}/")),
            exists: true,
            var: None,
        })
    })
}

/// The name of a database-URL variable among the keys of `.env` files — never their values: each line is cut
/// at its `=` at once.
pub fn env_var(dir: &Path) -> Option<Found> {
    for file in [
        ".env",
        ".env.example",
        ".env.sample",
        ".env.local",
        ".env.production",
    ] {
        let Some(text) = read(dir, file) else {
            continue;
        };
        let keys: Vec<String> = text
            .lines()
            .filter_map(|l| {
                let l = l.trim_start();
                let l = l.strip_prefix("export ").unwrap_or(l);
                let key = l.split_once('=')?.0.trim();
                VAR_NAME.is_match(key).then(|| key.to_string())
            })
            .collect();
        let pick = keys
            .iter()
            .find(|k| *k == "DATABASE_URL")
            .or_else(|| {
                keys.iter()
                    .find(|k| k.ends_with("DATABASE_URL") || k.ends_with("DB_URL"))
            })
            .or_else(|| {
                keys.iter().find(|k| {
                    k.ends_with("_URL")
                        && ["DATABASE", "POSTGRES", "PG", "DB"]
                            .iter()
                            .any(|w| k.contains(w))
                })
            });
        if let Some(k) = pick {
            return Some(found(k, file));
        }
    }
    None
}

/// `fly.toml`'s `app`, when it is a plain name (it goes into shell commands).
pub fn fly_app(dir: &Path) -> Option<Found> {
    static APP: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r"^[A-Za-z0-9][A-Za-z0-9_-]*$").unwrap_or_else(|_| unreachable!())
    });
    let value: toml::Value = toml::from_str(&read(dir, "fly.toml")?).ok()?;
    let app = value.get("app")?.as_str()?;
    APP.is_match(app).then(|| found(app, "fly.toml"))
}

/// The compose file docker compose reads by default (`compose.yaml` first), else the first
/// `docker-compose*.yml` by name, and its services.
pub fn compose(dir: &Path) -> Option<Compose> {
    let defaults = [
        "compose.yaml",
        "compose.yml",
        "docker-compose.yml",
        "docker-compose.yaml",
    ];
    let (file, default_name) = match defaults.iter().find(|f| dir.join(f).is_file()) {
        Some(f) => (f.to_string(), true),
        None => {
            let mut others: Vec<String> = std::fs::read_dir(dir)
                .ok()?
                .filter_map(|e| e.ok()?.file_name().into_string().ok())
                .filter(|n| {
                    (n.starts_with("docker-compose") || n.starts_with("compose."))
                        && (n.ends_with(".yml") || n.ends_with(".yaml"))
                })
                .collect();
            others.sort();
            (others.into_iter().next()?, false)
        }
    };
    let services = services(&read(dir, &file)?);
    Some(Compose {
        file,
        default_name,
        services,
    })
}

/// The keys of the top-level `services:` mapping of a compose file, read line by line rather than with a YAML
/// parser (the crate has none, and names are all deckhand takes): the mapping starts at a line `services:` in
/// the first column and ends at the next line in the first column; its keys are the lines at the indentation of
/// its first key that end in `:` (optionally followed by a comment). Flow style (`services: {…}`), anchors and
/// tabs are not read: the summary then finds no service, and the plan still says `docker compose up -d`.
pub fn services(text: &str) -> Vec<String> {
    static KEY: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(r#"^["']?([A-Za-z0-9][A-Za-z0-9._-]*)["']?\s*:\s*(#.*)?$"#)
            .unwrap_or_else(|_| unreachable!())
    });
    let mut out = Vec::new();
    let mut inside = false;
    let mut indent = None;
    for line in text.lines() {
        let body = line.trim_start_matches(' ');
        if body.trim().is_empty() || body.starts_with('#') {
            continue;
        }
        let depth = line.len() - body.len();
        if depth == 0 {
            if inside {
                break;
            }
            inside = line
                .split('#')
                .next()
                .is_some_and(|l| l.trim_end() == "services:");
            continue;
        }
        if !inside || body.starts_with('\t') {
            continue;
        }
        let at = *indent.get_or_insert(depth);
        if depth == at
            && let Some(c) = KEY.captures(body.trim_end())
        {
            out.push(c[1].to_string());
        }
    }
    out
}

/// `package.json`: its name and the scripts that migrate, deploy or seed (a word of the script's name, split at
/// `:`, `-`, `_`, `.`), leaving out those for development (`dev`, `test`, `reset`, `generate`, …).
pub fn package(dir: &Path) -> Option<Package> {
    let value: serde_json::Value = serde_json::from_str(&read(dir, "package.json")?).ok()?;
    let name = value
        .get("name")
        .and_then(|n| n.as_str())
        .map(str::to_string);
    let mut scripts = Vec::new();
    if let Some(map) = value.get("scripts").and_then(|s| s.as_object()) {
        for name in map.keys() {
            if !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || ":_.-".contains(c))
            {
                continue;
            }
            let words: Vec<&str> = name.split([':', '-', '_', '.']).collect();
            let has = |w: &str| words.contains(&w);
            let dev = [
                "dev", "test", "local", "reset", "create", "generate", "new", "status", "watch",
                "studio",
            ];
            if dev.iter().any(|w| has(w)) {
                continue;
            }
            let kind = if has("seed") {
                ScriptKind::Seed
            } else if has("migrate") || has("migration") || has("migrations") {
                ScriptKind::Migrate
            } else if has("deploy") {
                ScriptKind::Deploy
            } else {
                continue;
            };
            scripts.push(Script {
                name: name.clone(),
                kind,
            });
        }
    }
    let runner = if dir.join("pnpm-lock.yaml").is_file() {
        "pnpm run"
    } else if dir.join("yarn.lock").is_file() {
        "yarn run"
    } else if dir.join("bun.lockb").is_file() || dir.join("bun.lock").is_file() {
        "bun run"
    } else {
        "npm run"
    };
    Some(Package {
        name,
        scripts,
        runner,
    })
}

/// The git default branch from the files of `.git` (no git binary): `refs/remotes/origin/HEAD`, else the
/// branch checked out (`HEAD`), which is a guess (the bool). A `.git` file (a worktree) is followed.
pub fn branch(dir: &Path) -> Option<(Found, bool)> {
    let dot = dir.join(".git");
    let git = if dot.is_file() {
        let text = read(dir, ".git")?;
        let to = text.trim().strip_prefix("gitdir:")?.trim().to_string();
        dir.join(to)
    } else {
        dot
    };
    let common = std::fs::read_to_string(git.join("commondir"))
        .map_or_else(|_| git.clone(), |c| git.join(c.trim()));
    let head = |path: &Path, prefix: &str| -> Option<String> {
        let text = std::fs::read_to_string(path).ok()?;
        let b = text
            .trim()
            .strip_prefix("ref:")?
            .trim()
            .strip_prefix(prefix)?;
        let ok = !b.is_empty()
            && b.chars()
                .all(|c| c.is_ascii_alphanumeric() || "/._-".contains(c));
        ok.then(|| b.to_string())
    };
    if let Some(b) = head(
        &common.join("refs/remotes/origin/HEAD"),
        "refs/remotes/origin/",
    ) {
        return Some((found(b, ".git/refs/remotes/origin/HEAD"), false));
    }
    head(&git.join("HEAD"), "refs/heads/").map(|b| (found(b, ".git/HEAD"), true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn services_of_the_top_level_mapping_only() {
        let yaml = "version: '3'\nservices:\n  web:\n    image: x\n    ports:\n      - \"80:80\"\n\n  # a comment\n  \"db\":  # the database\n    image: postgres\n  worker: \nvolumes:\n  data:\n";
        assert_eq!(services(yaml), ["web", "db", "worker"]);
        assert!(services("services: {web: {image: x}}\n").is_empty());
        assert!(services("x:\n  services:\n    a:\n").is_empty());
    }
}
