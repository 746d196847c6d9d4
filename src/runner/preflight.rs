//! Preflight checks, run when the console starts (and on `P`): the database answers, each health endpoint
//! answers, each log source can be read, the deploy window allows a release now, and the terminal survives a
//! dropped connection (SSH outside tmux or screen only warns). One message per check; nothing is changed.

use std::path::Path;
use std::time::{Duration, SystemTime};

use tokio::sync::mpsc::Sender;

use super::{PreflightResult, RunnerEvent};
use crate::migrate::db::{self, Settings};
use crate::plan::{LogInput, Plan};

/// How long the database check waits for a connection.
const DATABASE_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs every check of `plan` concurrently and reports each as it ends.
pub async fn run(plan: Plan, tx: Sender<RunnerEvent>) {
    let mut tasks = tokio::task::JoinSet::new();
    if let Some(spec) = plan.database.clone() {
        tasks.spawn(async move { database(&spec).await });
    }
    for check in plan.health.iter().cloned() {
        tasks.spawn(async move {
            let name = format!("health {}", check.name);
            let probe = match super::health::client(&check) {
                Ok(client) => super::health::probe(&client, &check).await,
                Err(e) => return result(&name, false, e),
            };
            match probe {
                super::Probe::Up { status, latency } => result(
                    &name,
                    true,
                    format!("{status} in {} ms", latency.as_millis()),
                ),
                super::Probe::Down { why, .. } | super::Probe::NoAnswer { why, .. } => {
                    result(&name, false, why)
                }
            }
        });
    }
    for src in plan.logs.iter().cloned() {
        tasks.spawn(async move { log_source(&src.name, &src.input).await });
    }
    let mut sync_results = Vec::new();
    if let Some(w) = &plan.window {
        let (ok, detail) = match w.check(SystemTime::now()) {
            Ok(d) => (true, d),
            Err(d) => (false, d),
        };
        sync_results.push(PreflightResult {
            check: "window".into(),
            ok,
            detail,
            policy: true,
        });
    }
    sync_results.push(terminal(&|k| std::env::var(k).ok()));
    for r in sync_results {
        if tx.send(RunnerEvent::Preflight(r)).await.is_err() {
            return;
        }
    }
    while let Some(done) = tasks.join_next().await {
        let r = done.unwrap_or_else(|e| result("preflight", false, format!("check failed: {e}")));
        if tx.send(RunnerEvent::Preflight(r)).await.is_err() {
            return;
        }
    }
}

fn result(check: &str, ok: bool, detail: String) -> PreflightResult {
    PreflightResult {
        check: check.into(),
        ok,
        detail: crate::sanitize::sanitize_str(&detail).into_owned(),
        policy: false,
    }
}

async fn database(spec: &crate::plan::Database) -> PreflightResult {
    let settings = Settings {
        lock_timeout: spec.lock_timeout,
        statement_timeout: spec.statement_timeout,
    };
    let target = spec.url.display.clone();
    let attempt = async {
        let mut conn = db::connect(&spec.url.value, &settings)
            .await
            .map_err(|e| e.to_string())?;
        sqlx::raw_sql("SELECT 1")
            .execute(&mut conn.conn)
            .await
            .map_err(|e| e.to_string())?;
        Ok::<(), String>(())
    };
    match tokio::time::timeout(DATABASE_TIMEOUT, attempt).await {
        Ok(Ok(())) => result("database", true, target),
        Ok(Err(e)) => result("database", false, e),
        Err(_) => result(
            "database",
            false,
            format!("no answer within {} s", DATABASE_TIMEOUT.as_secs()),
        ),
    }
}

async fn log_source(name: &str, input: &LogInput) -> PreflightResult {
    let check = format!("logs {name}");
    match input {
        LogInput::File(path) => file_check(&check, path),
        LogInput::Command(cmd) => {
            let word = cmd
                .value
                .split_whitespace()
                .next()
                .unwrap_or("")
                .to_string();
            if word.is_empty() {
                return result(&check, false, "empty command".into());
            }
            let found = tokio::process::Command::new("sh")
                .arg("-c")
                .arg("command -v \"$1\"")
                .arg("sh")
                .arg(&word)
                .stdin(std::process::Stdio::null())
                .output()
                .await;
            match found {
                Ok(out) if out.status.success() => result(&check, true, format!("{word} found")),
                Ok(_) => result(&check, false, format!("{word}: command not found")),
                Err(e) => result(&check, false, format!("cannot run sh: {e}")),
            }
        }
    }
}

fn file_check(check: &str, path: &Path) -> PreflightResult {
    match std::fs::File::open(path) {
        Ok(_) => result(check, true, format!("{} readable", path.display())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            match path.parent().filter(|p| p.is_dir()) {
                Some(_) => result(check, true, format!("{} not there yet", path.display())),
                None => result(
                    check,
                    false,
                    format!("{}: no such file or folder", path.display()),
                ),
            }
        }
        Err(e) => result(check, false, format!("{}: {e}", path.display())),
    }
}

/// On SSH (SSH_CONNECTION or SSH_CLIENT set) outside tmux and screen (TMUX, STY unset), a dropped connection ends
/// the console: a warning, never a blocker.
pub fn terminal(env: &dyn Fn(&str) -> Option<String>) -> PreflightResult {
    let set = |k: &str| env(k).is_some_and(|v| !v.is_empty());
    let ssh = set("SSH_CONNECTION") || set("SSH_CLIENT");
    let multiplexed = set("TMUX") || set("STY");
    let (ok, detail) = match (ssh, multiplexed) {
        (true, false) => (
            false,
            "on SSH outside tmux or screen: a dropped connection ends this console (deckhand finishes the \
             step in flight and resumes on restart, but tmux keeps the screen)"
                .to_string(),
        ),
        (_, true) => (true, "inside tmux or screen".to_string()),
        (false, false) => (true, "local terminal".to_string()),
    };
    PreflightResult {
        check: "terminal".into(),
        ok,
        detail,
        policy: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn ssh_outside_tmux_warns_and_tmux_or_local_does_not() {
        assert!(!terminal(&env_of(&[("SSH_CONNECTION", "1.2.3.4 5 6.7.8.9 22")])).ok);
        assert!(
            terminal(&env_of(&[
                ("SSH_CLIENT", "1.2.3.4 5 22"),
                ("TMUX", "/tmp/t,1,0")
            ]))
            .ok
        );
        assert!(terminal(&env_of(&[("SSH_CLIENT", "x"), ("STY", "123.pts")])).ok);
        assert!(terminal(&env_of(&[])).ok);
        assert!(
            terminal(&env_of(&[("SSH_CLIENT", "")])).ok,
            "empty is unset"
        );
    }

    #[test]
    fn a_missing_log_file_is_fine_when_its_folder_exists() {
        let dir = tempfile::tempdir().unwrap();
        assert!(file_check("logs a", &dir.path().join("later.log")).ok);
        assert!(!file_check("logs a", &dir.path().join("no/such/dir/x.log")).ok);
        std::fs::write(dir.path().join("x.log"), "hi").unwrap();
        assert!(file_check("logs a", &dir.path().join("x.log")).ok);
    }
}
