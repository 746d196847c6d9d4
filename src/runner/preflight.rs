//! The preflight runner: before a release starts, checks at the same time that the database answers, each
//! `[[health]]` endpoint is up, each `[[logs]]` source can be read, the deploy window allows a start, and the
//! terminal survives a dropped connection; one [`RunnerEvent::Preflight`] per check, in the order they finish.
//! No detail ever carries a password, a webhook or a full command line.

use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use futures_util::future::join_all;
use sqlx::Connection;
use tokio::sync::mpsc::Sender;

use super::smoke::probe_once;
use super::tunnel::TunnelGate;
use super::{PreflightResult, Probe, RunnerEvent};
use crate::migrate::{self, db};
use crate::plan::{Database, DeployWindow, HealthCheck, LogInput, LogSource, Plan};

/// How long the database check waits for a connection and `select 1`.
pub const DATABASE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long resolving a log command's program may take.
const COMMAND_LOOKUP_TIMEOUT: Duration = Duration::from_secs(5);

/// What the terminal check says when a dropped connection would end the console.
pub const SSH_WITHOUT_MULTIPLEXER: &str = "on SSH outside tmux or screen: a dropped connection ends this console \
     (deckhand finishes the step in flight and resumes on restart, but tmux keeps the screen)";

type Check = Pin<Box<dyn Future<Output = PreflightResult> + Send>>;

fn result(check: impl Into<String>, ok: bool, detail: impl Into<String>) -> PreflightResult {
    PreflightResult {
        check: check.into(),
        ok,
        detail: detail.into(),
        policy: false,
    }
}

/// How many results [`run`] sends back for `plan` (the console counts them down).
pub fn expected(plan: &Plan) -> usize {
    // migrations folder and database (and its tunnel), each health check, each log source, the window, the
    // terminal.
    2 * usize::from(plan.database.is_some())
        + usize::from(plan.database.as_ref().is_some_and(|d| d.tunnel.is_some()))
        + plan.health.len()
        + plan.logs.len()
        + usize::from(plan.window.is_some())
        + 1
}

/// Runs every check of `plan` concurrently and reports each as it finishes (as many as [`expected`]). With a
/// tunnel, the database check waits for it (`tunnel` is its gate: the console starts it).
pub async fn run(plan: Plan, tunnel: Option<TunnelGate>, tx: Sender<RunnerEvent>) {
    let mut checks: Vec<Check> = Vec::new();
    if let Some(spec) = plan.database {
        let folder = spec.migrations.clone();
        checks.push(Box::pin(async move { migrations_folder(&folder) }));
        if let Some(t) = &spec.tunnel {
            let shown = t.command.display.clone();
            let gate = tunnel.clone();
            let endpoint = format!("{}:{}", t.host, t.port);
            checks.push(Box::pin(async move {
                tunnel_check(gate, &endpoint, &shown).await
            }));
        }
        checks.push(Box::pin(async move {
            if let Some(gate) = tunnel {
                let _ = gate.ready().await;
            }
            database(&spec).await
        }));
    }
    for check in plan.health {
        checks.push(Box::pin(async move { health(&check).await }));
    }
    for source in plan.logs {
        checks.push(Box::pin(async move { logs(&source).await }));
    }
    if let Some(w) = plan.window {
        checks.push(Box::pin(async move { window(&w, SystemTime::now()) }));
    }
    checks.push(Box::pin(async {
        terminal(|name| std::env::var(name).ok())
    }));
    let sends = checks.into_iter().map(|check| {
        let tx = tx.clone();
        async move {
            let r = check.await;
            if tx.send(RunnerEvent::Preflight(r)).await.is_err() {
                tracing::debug!("preflight runner: the console is gone");
            }
        }
    });
    join_all(sends).await;
}

/// `tunnel`: the tunnel's port opened (waiting for it as long as one start may take).
async fn tunnel_check(gate: Option<TunnelGate>, endpoint: &str, command: &str) -> PreflightResult {
    let Some(gate) = gate else {
        return result(
            "tunnel",
            false,
            "not started (deckhand runs it only in the console and its commands)",
        );
    };
    let program = command.split_whitespace().next().unwrap_or("");
    match gate.ready().await {
        Ok(()) => result(
            "tunnel",
            true,
            format!("{endpoint} open ({program}, {})", gate.state().describe()),
        ),
        Err(why) => result("tunnel", false, format!("{endpoint}: {why}")),
    }
}

/// `database`: connects with deckhand's settings and runs `select 1`, within [`DATABASE_TIMEOUT`].
pub async fn database(spec: &Database) -> PreflightResult {
    let target = db::target(&spec.url.value);
    let attempt = async {
        let mut conn = db::connect(&spec.url.value, &migrate::settings(spec))
            .await
            .map_err(|e| e.to_string())?;
        sqlx::raw_sql("select 1")
            .execute(&mut conn.conn)
            .await
            .map_err(|e| migrate::error::describe_db_error(&e).0)?;
        let _ = conn.conn.close().await;
        Ok::<(), String>(())
    };
    match tokio::time::timeout(DATABASE_TIMEOUT, attempt).await {
        Ok(Ok(())) => result("database", true, target),
        Ok(Err(e)) => result("database", false, without_password(&spec.url.value, &e)),
        Err(_) => result(
            "database",
            false,
            format!(
                "{target}: no answer within {}",
                humantime::format_duration(DATABASE_TIMEOUT)
            ),
        ),
    }
}

/// `migrations`: the folder of migration files can be read (it may have gone since `check`: a checkout moved,
/// a wrong working copy), so the preview never shows an empty history as if nothing were pending.
pub fn migrations_folder(folder: &Path) -> PreflightResult {
    match std::fs::read_dir(folder) {
        Ok(entries) => {
            let n = entries.count();
            result(
                "migrations",
                true,
                format!("{} ({n} entries)", folder.display()),
            )
        }
        Err(e) => result("migrations", false, format!("{}: {e}", folder.display())),
    }
}

/// `text` with the URL's password (and the URL itself) taken out.
fn without_password(url: &str, text: &str) -> String {
    let mut text = text.replace(url, &db::target(url));
    if let Ok(u) = url::Url::parse(url)
        && let Some(pw) = u.password()
        && !pw.is_empty()
    {
        text = text.replace(pw, "***");
        if let Ok(decoded) = urlencoding_decode(pw)
            && !decoded.is_empty()
        {
            text = text.replace(&decoded, "***");
        }
    }
    crate::sanitize::sanitize_str(&text).into_owned()
}

/// A percent-encoded URL component, decoded (`+` stays `+`, as in a URL's userinfo).
fn urlencoding_decode(s: &str) -> Result<String, std::string::FromUtf8Error> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
}

/// `health <name>`: one probe (a request, or one run of the command), judged as the health runner judges it.
pub async fn health(check: &HealthCheck) -> PreflightResult {
    let name = format!("health {}", check.name);
    match probe_once(check).await {
        Probe::Up { status, latency } => result(
            name,
            true,
            format!("status {status} in {}ms", latency.as_millis()),
        ),
        Probe::Down { why, .. } => result(name, false, why),
        Probe::NoAnswer { why } => result(name, false, format!("no answer: {why}")),
        Probe::Ran { why: Some(why), .. } => result(name, false, why),
        Probe::Ran {
            why: None,
            value,
            took,
        } => {
            let printed = value.map_or_else(|| "exit 0".to_string(), |v| format!("exit 0, {v}"));
            result(name, true, format!("{printed} in {}ms", took.as_millis()))
        }
    }
}

/// `logs <name>`: a file can be read (or its folder exists, so it may appear later); a command's program is found.
pub async fn logs(source: &LogSource) -> PreflightResult {
    let name = format!("logs {}", source.name);
    match &source.input {
        LogInput::File(path) => {
            let (ok, detail) = log_file(path);
            result(name, ok, detail)
        }
        LogInput::Command(cmd) => {
            let (ok, detail) = command_found(&cmd.value).await;
            result(name, ok, detail)
        }
    }
}

fn log_file(path: &Path) -> (bool, String) {
    match std::fs::File::open(path) {
        Ok(f) => match f.metadata() {
            Ok(m) if m.is_dir() => (false, format!("{} is a folder", path.display())),
            _ => (true, format!("{} is readable", path.display())),
        },
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(Path::new("."));
            if dir.is_dir() {
                (true, "not there yet".to_string())
            } else {
                (
                    false,
                    format!("neither {} nor its folder exists", path.display()),
                )
            }
        }
        Err(e) => (false, format!("cannot read {}: {e}", path.display())),
    }
}

/// The program a shell command line starts: its first word after any `NAME=value` assignments.
pub fn program_of(command: &str) -> Option<&str> {
    command.split_whitespace().find(|w| {
        let assignment = w.split_once('=').is_some_and(|(k, _)| {
            !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
        !assignment
    })
}

/// Resolves the command's program with `sh -c 'command -v "$1"'` (the word passed as an argument, never as code).
async fn command_found(command: &str) -> (bool, String) {
    let Some(word) = program_of(command) else {
        return (false, "the command is empty".to_string());
    };
    let shown = crate::sanitize::sanitize_str(word).into_owned();
    let lookup = tokio::process::Command::new("sh")
        .args(["-c", "command -v \"$1\"", "sh", word])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .output();
    match tokio::time::timeout(COMMAND_LOOKUP_TIMEOUT, lookup).await {
        Ok(Ok(out)) if out.status.success() => {
            let found = String::from_utf8_lossy(&out.stdout).trim().to_string();
            let found = crate::sanitize::sanitize_str(&found).into_owned();
            (true, format!("{shown} found: {found}"))
        }
        Ok(Ok(_)) => (false, format!("{shown} not found on PATH")),
        Ok(Err(e)) => (false, format!("cannot run sh to look up {shown}: {e}")),
        Err(_) => (false, format!("looking up {shown} took too long")),
    }
}

/// `window`: whether a release may start now (a policy: overridable with a typed reason).
pub fn window(w: &DeployWindow, now: SystemTime) -> PreflightResult {
    let (ok, detail) = match w.check(now) {
        Ok(d) => (true, d),
        Err(d) => (false, d),
    };
    PreflightResult {
        check: "window".into(),
        ok,
        detail,
        policy: true,
    }
}

/// `terminal`: not ok on SSH (`SSH_CONNECTION` or `SSH_CLIENT` set) outside tmux (`TMUX`) or screen (`STY`).
/// `env` looks a variable up (empty counts as unset).
pub fn terminal(env: impl Fn(&str) -> Option<String>) -> PreflightResult {
    let set = |name: &str| env(name).is_some_and(|v| !v.is_empty());
    let ssh = set("SSH_CONNECTION") || set("SSH_CLIENT");
    let multiplexed = set("TMUX") || set("STY");
    let (ok, detail) = match (ssh, multiplexed) {
        (true, false) => (false, SSH_WITHOUT_MULTIPLEXER),
        (true, true) => (true, "on SSH inside tmux or screen"),
        (false, true) => (true, "inside tmux or screen"),
        (false, false) => (true, "local terminal"),
    };
    PreflightResult {
        check: "terminal".into(),
        ok,
        detail: detail.into(),
        policy: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(vars: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |name| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn terminal_refuses_ssh_without_tmux_or_screen() {
        let r = terminal(env(&[("SSH_CONNECTION", "10.0.0.1 5000 10.0.0.2 22")]));
        assert!(!r.ok && r.policy);
        assert_eq!(r.detail, SSH_WITHOUT_MULTIPLEXER);
        assert!(!terminal(env(&[("SSH_CLIENT", "10.0.0.1 5000 22")])).ok);
        assert!(
            terminal(env(&[
                ("SSH_CLIENT", "x"),
                ("TMUX", "/tmp/tmux-0/default,1,0")
            ]))
            .ok
        );
        assert!(terminal(env(&[("SSH_CONNECTION", "x"), ("STY", "123.pts-0.host")])).ok);
        assert!(terminal(env(&[])).ok);
        assert!(!terminal(env(&[("SSH_CONNECTION", "x"), ("TMUX", "")])).ok);
    }

    #[test]
    fn program_skips_assignments() {
        assert_eq!(program_of("flyctl logs -f"), Some("flyctl"));
        assert_eq!(
            program_of("  RUST_LOG=info FOO_1=x journalctl -f"),
            Some("journalctl")
        );
        assert_eq!(program_of("   "), None);
    }

    #[test]
    fn password_is_taken_out_of_errors() {
        let url = "postgres://app:p%40s+s@db.internal:5432/shop";
        let text = without_password(url, &format!("failed for {url}: p@s+s p%40s+s"));
        assert!(
            !text.contains("p@s+s") && !text.contains("p%40s+s"),
            "{text}"
        );
        assert!(text.contains("db.internal:5432/shop"), "{text}");
    }
}
