//! What one runbook command is to a plan: an ordinary step (destructive or not, seeding or not), a backup
//! (`pg_dump`), a migration run (`prisma migrate deploy`, `drizzle-kit migrate`, `sqlx migrate run`, `psql -f
//! migrations/…`), a health probe (`curl -f URL`), a log source (`kubectl logs -f … | grep ERROR`), or a command
//! that never ends on its own. Reads the words of one command only; imports nothing of deckhand.

/// What a command becomes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    /// A step of a phase (or of the rollback).
    Step,
    /// `pg_dump`: deckhand's own verified backup replaces it.
    Backup,
    /// A migration tool's run: deckhand's migrate stage replaces it.
    Migrate { format: String, folder: String },
    /// `curl -f URL`.
    Probe { url: String },
    /// A log source; `error` from a `| grep PATTERN` after it.
    Logs {
        command: String,
        error: Option<String>,
    },
    /// A port forward to the database: deckhand runs it as the plan's managed tunnel.
    Tunnel { command: String, port: u16 },
    /// Runs until stopped (`docker stats`, `watch`, `top`): not a step.
    Endless,
}

/// The simple commands of a command line, split at `&&`, `||`, `;`, `|` and new lines (quotes respected
/// roughly: enough for reading which programs run).
fn simple_commands(text: &str) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    let mut words: Vec<String> = Vec::new();
    for raw in text.split_whitespace() {
        if raw == "\\" {
            continue;
        }
        let word = raw.trim_end_matches(';');
        if ["&&", "||", "|", ";"].contains(&raw) || raw.ends_with(';') {
            if !word.is_empty() && !["&&", "||", "|"].contains(&raw) {
                words.push(unquote(word));
            }
            if !words.is_empty() {
                out.push(std::mem::take(&mut words));
            }
            continue;
        }
        words.push(unquote(word));
    }
    if !words.is_empty() {
        out.push(words);
    }
    // `sudo`, `npx`, `env X=y`, `time` run the command after them.
    for w in &mut out {
        while let Some(first) = w.first() {
            let wrapper = ["sudo", "npx", "pnpx", "time", "exec", "env", "bunx"]
                .contains(&first.as_str())
                || (first.contains('=') && !first.starts_with('-'));
            if !wrapper || w.len() == 1 {
                break;
            }
            w.remove(0);
        }
    }
    out
}

fn unquote(w: &str) -> String {
    w.trim_matches(['"', '\'']).to_string()
}

fn has_flag(words: &[String], short: char, long: &str) -> bool {
    words.iter().skip(1).any(|w| {
        w == long
            || (w.starts_with('-')
                && !w.starts_with("--")
                && w[1..].chars().all(|c| c.is_ascii_alphabetic())
                && w[1..].contains(short))
    })
}

fn starts(words: &[String], prefix: &[&str]) -> bool {
    words.len() >= prefix.len() && words.iter().zip(prefix).all(|(w, p)| w == p)
}

/// Subcommands of a project's own script that change shared systems.
const VERBS: &[&str] = &[
    "deploy",
    "rollback",
    "restore",
    "apply",
    "apply-migration",
    "migrate",
    "push",
    "release",
    "up",
    "scale",
    "delete",
    "drop",
    "destroy",
    "promote",
    "publish",
    "switch",
    "cutover",
    "seed",
];

/// Whether one simple command changes shared systems.
fn changes_shared(w: &[String]) -> bool {
    let Some(first) = w.first() else { return false };
    let prog = first
        .rsplit('/')
        .next()
        .unwrap_or(first)
        .to_ascii_lowercase();
    let second = w.get(1).map(String::as_str).unwrap_or("");
    match prog.as_str() {
        "git" => second == "push",
        "rm" | "pg_restore" | "dropdb" | "terraform"
            if prog != "terraform" || second == "apply" =>
        {
            true
        }
        "psql" => has_flag(w, 'f', "--file") || w.iter().any(|x| x.starts_with("--file=")),
        "kubectl" => [
            "apply", "rollout", "delete", "scale", "set", "replace", "patch",
        ]
        .contains(&second),
        "helm" => ["install", "upgrade", "rollback", "uninstall"].contains(&second),
        "flyctl" | "fly" => ["deploy", "scale", "secrets", "releases"].contains(&second),
        "docker-compose" => w.iter().any(|x| x == "up" || x == "down"),
        "docker" => {
            second == "push"
                || (second == "compose" && w.iter().any(|x| x == "up" || x == "down"))
                || second == "stack"
        }
        "prisma" => starts(&w[1..], &["migrate", "deploy"]) || starts(&w[1..], &["db", "push"]),
        "drizzle-kit" => ["migrate", "push"].contains(&second),
        "sqlx" => starts(&w[1..], &["migrate", "run"]),
        "systemctl" => ["restart", "stop", "start", "reload"].contains(&second),
        "npm" | "yarn" | "pnpm" | "make" | "just" | "bun" => w[1..]
            .iter()
            .filter(|x| !x.starts_with('-') && *x != "run")
            .take(1)
            .any(|t| {
                let t = t.to_ascii_lowercase();
                ["deploy", "release", "migrate", "publish", "seed", "restore"]
                    .iter()
                    .any(|v| t.contains(v))
            }),
        _ if is_script(first) => script_changes(w),
        _ => false,
    }
}

fn is_script(word: &str) -> bool {
    word.ends_with(".sh") || word.starts_with("./") || word.starts_with("bin/")
}

/// A project script: by its subcommand when it has one (`deploy.sh status` reads), else by its name.
fn script_changes(w: &[String]) -> bool {
    if let Some(sub) = w.get(1).filter(|s| !s.starts_with('-')) {
        return VERBS.contains(&sub.to_ascii_lowercase().as_str());
    }
    let name = w[0]
        .rsplit('/')
        .next()
        .unwrap_or(&w[0])
        .to_ascii_lowercase();
    ["deploy", "release", "migrat", "restore", "rollback", "push"]
        .iter()
        .any(|v| name.contains(v))
}

/// Whether the command changes shared systems (push, deploy, migrate, `psql -f`, restore, `rm`, …).
pub fn destructive(text: &str) -> bool {
    simple_commands(text).iter().any(|w| changes_shared(w))
}

/// Whether the command seeds data.
pub fn seed(text: &str) -> bool {
    simple_commands(text).iter().any(|w| {
        w.iter().take(4).any(|x| {
            let x = x.to_ascii_lowercase();
            x == "seed" || x.ends_with(":seed") || x.starts_with("seed") || x.contains("/seed")
        })
    })
}

/// What the command is to a plan.
pub fn kind(text: &str) -> Kind {
    let cmds = simple_commands(text);
    let Some(first) = cmds.first() else {
        return Kind::Step;
    };
    let prog = first[0].rsplit('/').next().unwrap_or(&first[0]);
    if cmds.len() == 1 && (prog == "pg_dump" || prog == "pg_dumpall") {
        return Kind::Backup;
    }
    if cmds.len() == 1
        && let Some((format, folder)) = migration(first)
    {
        return Kind::Migrate { format, folder };
    }
    if cmds.len() == 1
        && prog == "curl"
        && has_flag(first, 'f', "--fail")
        && let Some(url) = first.iter().skip(1).find(|w| is_url(w))
    {
        return Kind::Probe { url: url.clone() };
    }
    if cmds.len() == 1
        && let Some(port) = super::forward::local_port(first)
    {
        // Sent to the background by hand (`&`) in the runbook: deckhand runs it in the background itself.
        let command = text.trim().trim_end_matches('&').trim_end().to_string();
        return Kind::Tunnel { command, port };
    }
    if is_log_source(first) {
        let error = cmds.get(1).and_then(|g| grep_pattern(g));
        let command = text.split('|').next().unwrap_or(text).trim().to_string();
        return Kind::Logs { command, error };
    }
    if endless(first) {
        return Kind::Endless;
    }
    Kind::Step
}

fn is_url(w: &str) -> bool {
    w.starts_with("http://") || w.starts_with("https://") || w.starts_with('$')
}

/// `prisma migrate deploy` (`--schema X/schema.prisma` → `X/migrations`), `drizzle-kit migrate`, `sqlx migrate
/// run` (`--source X`), `psql … -f migrations/…sql`: the format and the folder.
fn migration(w: &[String]) -> Option<(String, String)> {
    let prog = w[0].rsplit('/').next().unwrap_or(&w[0]);
    let after = |flag: &str| {
        w.iter()
            .position(|x| x == flag)
            .and_then(|i| w.get(i + 1))
            .cloned()
            .or_else(|| {
                w.iter()
                    .find_map(|x| x.strip_prefix(&format!("{flag}=")).map(String::from))
            })
    };
    match prog {
        "prisma" if starts(&w[1..], &["migrate", "deploy"]) => {
            let folder = after("--schema")
                .and_then(|s| s.rsplit_once('/').map(|(d, _)| format!("{d}/migrations")))
                .unwrap_or_else(|| "prisma/migrations".into());
            Some(("prisma".into(), folder))
        }
        "drizzle-kit" if w.get(1).is_some_and(|s| s == "migrate") => {
            Some(("drizzle".into(), "drizzle".into()))
        }
        "sqlx" if starts(&w[1..], &["migrate", "run"]) => Some((
            "sqlx".into(),
            after("--source").unwrap_or_else(|| "migrations".into()),
        )),
        "psql" => {
            let file = after("-f").or_else(|| after("--file"))?;
            let (dir, _) = file.rsplit_once('/')?;
            dir.contains("migration")
                .then(|| ("plain".into(), dir.to_string()))
        }
        _ => None,
    }
}

fn is_log_source(w: &[String]) -> bool {
    let prog = w[0].rsplit('/').next().unwrap_or(&w[0]);
    let follow = has_flag(w, 'f', "--follow");
    match prog {
        "flyctl" | "fly" => w.get(1).is_some_and(|s| s == "logs"),
        "kubectl" | "docker" => w.get(1).is_some_and(|s| s == "logs") && follow,
        "docker-compose" => w.iter().any(|s| s == "logs") && follow,
        "tail" => follow || has_flag(w, 'F', "--retry"),
        "journalctl" => follow,
        "heroku" => {
            w.get(1).is_some_and(|s| s == "logs") && w.iter().any(|s| s == "--tail" || s == "-t")
        }
        _ => false,
    }
}

/// The pattern of `grep [-i] [-E] PATTERN` as a regex (`-i` → `(?i)`); none for `grep -v`.
fn grep_pattern(w: &[String]) -> Option<String> {
    let prog = w.first()?;
    if prog != "grep" && prog != "egrep" && prog != "rg" {
        return None;
    }
    if w.iter().any(|x| x == "-v" || x == "--invert-match") {
        return None;
    }
    let ignore = has_flag(w, 'i', "--ignore-case");
    let pattern = w.iter().skip(1).find(|x| !x.starts_with('-'))?;
    let pattern = if prog == "grep" && !has_flag(w, 'E', "--extended-regexp") {
        pattern.replace("\\|", "|")
    } else {
        pattern.clone()
    };
    Some(if ignore {
        format!("(?i){pattern}")
    } else {
        pattern
    })
}

fn endless(w: &[String]) -> bool {
    let prog = w[0].as_str();
    match prog {
        "watch" | "top" | "htop" | "btop" => true,
        "docker" => w.get(1).is_some_and(|s| s == "stats") && !w.iter().any(|s| s == "--no-stream"),
        "kubectl" => {
            let sub = w.get(1).map_or("", String::as_str);
            sub == "port-forward" || (sub == "get" && (has_flag(w, 'w', "--watch")))
        }
        "journalctl" => has_flag(w, 'f', "--follow"),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn destructive_commands() {
        for c in [
            "git push origin main",
            "npx prisma migrate deploy",
            "psql -h db -f scripts/rollback.sql",
            "kubectl apply -f k8s/",
            "kubectl rollout restart deploy/api",
            "flyctl deploy --remote-only",
            "docker compose -f prod.yml up -d --scale backend=2",
            "rm -rf /srv/app/cache",
            "./deploy-production.sh",
            "./scripts/deployment/feature-deployment.sh deploy x --staging",
            "npm run deploy",
            "git checkout main && git push",
        ] {
            assert!(destructive(c), "{c}");
        }
        for c in [
            "git checkout main",
            "./scripts/deployment/feature-deployment.sh status",
            "./scripts/testing/production-testing.sh rollback-test",
            "npm test",
            "docker logs api",
            "curl -fsS https://x/health",
        ] {
            assert!(!destructive(c), "{c}");
        }
    }

    #[test]
    fn seeding_is_seen() {
        assert!(seed("npx prisma db seed"));
        assert!(seed("npm run db:seed"));
        assert!(seed("./scripts/seed-demo.sh"));
        assert!(!seed("npm run build"));
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("pg_dump -Fc $DATABASE_URL > b.dump"), Kind::Backup);
        assert_eq!(
            kind("npx prisma migrate deploy"),
            Kind::Migrate {
                format: "prisma".into(),
                folder: "prisma/migrations".into()
            }
        );
        assert_eq!(
            kind("sqlx migrate run --source db/migrations"),
            Kind::Migrate {
                format: "sqlx".into(),
                folder: "db/migrations".into()
            }
        );
        assert_eq!(
            kind("psql \"$DATABASE_URL\" -f migrations/001_init.sql"),
            Kind::Migrate {
                format: "plain".into(),
                folder: "migrations".into()
            }
        );
        assert_eq!(
            kind("curl -fsS https://api.example.com/health"),
            Kind::Probe {
                url: "https://api.example.com/health".into()
            }
        );
        assert_eq!(kind("curl https://api.example.com/health"), Kind::Step);
        assert_eq!(
            kind("kubectl logs -f deploy/api | grep -i error"),
            Kind::Logs {
                command: "kubectl logs -f deploy/api".into(),
                error: Some("(?i)error".into())
            }
        );
        assert_eq!(
            kind("flyctl logs -a shop"),
            Kind::Logs {
                command: "flyctl logs -a shop".into(),
                error: None
            }
        );
        assert_eq!(
            kind("flyctl proxy 15432:5432 -a shop-db &"),
            Kind::Tunnel {
                command: "flyctl proxy 15432:5432 -a shop-db".into(),
                port: 15432
            }
        );
        assert_eq!(kind("docker stats"), Kind::Endless);
        assert_eq!(kind("kubectl get pods -w"), Kind::Endless);
        assert_eq!(kind("kubectl apply -f k8s/"), Kind::Step);
        assert_eq!(kind("docker logs backend-1"), Kind::Step);
    }
}
