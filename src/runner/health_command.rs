//! A `[[health]] command` probe: the command runs with `sh -c` in its own process group (its secrets in its
//! environment, never in its argv), killed with its whole group at the check's `timeout`. Exit 0 is healthy; the
//! last non-empty line of its output, when it reads as a number, is the sample, which `max`/`min` bound. What it
//! printed reaches the console only masked and made inert.

use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use tokio::io::{AsyncRead, AsyncReadExt};
use tokio::process::Command;

use super::command::TERM_GRACE;
use super::command::group::ProcessGroup;
use super::{Num, Probe};
use crate::plan::HealthCommand;
use crate::secrets::Masker;

/// The most of each output pipe kept (its end: the sample is on the last line).
const KEEP_BYTES: usize = 64 * 1024;

/// Runs the command once and judges it.
pub async fn probe(cmd: &HealthCommand, timeout: Duration) -> Probe {
    let start = Instant::now();
    let secrets: Vec<&str> = cmd.env.0.iter().map(|(_, v)| v.as_str()).collect();
    let masker = Masker::new(&secrets);
    let ran = run(cmd, timeout).await;
    let took = start.elapsed();
    let ran = match ran {
        Ok(r) => r,
        Err(why) => {
            return Probe::Ran {
                took,
                value: None,
                why: Some(clean(&masker, &why)),
            };
        }
    };
    let value = sample(&ran.stdout);
    let why = judge(cmd, &ran, value, timeout).map(|w| clean(&masker, &w));
    Probe::Ran { took, value, why }
}

/// What a run left: how it ended (`None`: killed at the timeout) and the end of each pipe.
struct Ran {
    exit: Option<ExitStatus>,
    stdout: Vec<u8>,
    stderr: Vec<u8>,
}

async fn run(cmd: &HealthCommand, timeout: Duration) -> Result<Ran, String> {
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(&cmd.run.value)
        .envs(cmd.env.0.iter().map(|(k, v)| (k, v)))
        .process_group(0)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| format!("cannot start `sh -c`: {e}"))?;
    let Some(leader) = child.id().and_then(|pid| i32::try_from(pid).ok()) else {
        return Err("the shell started but reported no process id".into());
    };
    // From here on the group goes with this guard, even if the probe is dropped (the console quits).
    let mut group = ProcessGroup::new(Pid::from_raw(leader));
    let (out, err) = (child.stdout.take(), child.stderr.take());
    let finished = tokio::time::timeout(timeout, async {
        let (stdout, stderr, exit) = tokio::join!(tail(out), tail(err), child.wait());
        (stdout, stderr, exit)
    })
    .await;
    let ran = match finished {
        Ok((stdout, stderr, exit)) => Ran {
            exit: Some(exit.map_err(|e| format!("cannot wait for the command: {e}"))?),
            stdout,
            stderr,
        },
        Err(_) => {
            group.signal(Signal::SIGTERM);
            if tokio::time::timeout(TERM_GRACE, child.wait())
                .await
                .is_err()
            {
                group.signal(Signal::SIGKILL);
                let _ = child.wait().await;
            }
            Ran {
                exit: None,
                stdout: Vec::new(),
                stderr: Vec::new(),
            }
        }
    };
    // Whatever the shell left behind goes with it.
    if group.has_live_members() {
        group.signal(Signal::SIGKILL);
    }
    group.release();
    Ok(ran)
}

/// Reads a pipe to its end, keeping its last [`KEEP_BYTES`].
async fn tail<R: AsyncRead + Unpin>(reader: Option<R>) -> Vec<u8> {
    let Some(mut r) = reader else {
        return Vec::new();
    };
    let mut kept = Vec::new();
    let mut buf = vec![0; 8192];
    while let Ok(n) = r.read(&mut buf).await {
        if n == 0 {
            break;
        }
        kept.extend_from_slice(&buf[..n]);
        if kept.len() > 2 * KEEP_BYTES {
            kept.drain(..kept.len() - KEEP_BYTES);
        }
    }
    if kept.len() > KEEP_BYTES {
        kept.drain(..kept.len() - KEEP_BYTES);
    }
    kept
}

/// The last non-empty line of `out`, when it reads as a finite number.
pub fn sample(out: &[u8]) -> Option<Num> {
    let text = String::from_utf8_lossy(out);
    let last = text.lines().map(str::trim).rfind(|l| !l.is_empty())?;
    last.parse::<f64>().ok().and_then(Num::new)
}

/// Why the run is a failure, if it is: killed at the timeout, a non-zero exit (with its last stderr line), a
/// number out of bounds, or no number where bounds are set.
fn judge(cmd: &HealthCommand, ran: &Ran, value: Option<Num>, timeout: Duration) -> Option<String> {
    let Some(exit) = ran.exit else {
        let t = humantime::format_duration(timeout);
        return Some(format!("no result within {t} (killed)"));
    };
    if !exit.success() {
        let how = match (exit.code(), exit.signal()) {
            (Some(code), _) => format!("exit {code}"),
            (None, Some(sig)) => format!("killed by signal {sig}"),
            (None, None) => "failed".into(),
        };
        let said = String::from_utf8_lossy(&ran.stderr);
        return Some(match said.lines().map(str::trim).rfind(|l| !l.is_empty()) {
            Some(line) => format!("{how}: {line}"),
            None => how,
        });
    }
    let Some(v) = value else {
        let bounded = cmd.max.is_some() || cmd.min.is_some();
        return bounded.then(|| format!("no number on its last line ({} is set)", cmd.bounds()));
    };
    if let Some(max) = cmd.max
        && v.get() > max
    {
        return Some(format!("{v} > max {max}"));
    }
    if let Some(min) = cmd.min
        && v.get() < min
    {
        return Some(format!("{v} < min {min}"));
    }
    None
}

/// Masked, one line, inert.
fn clean(masker: &Masker, text: &str) -> String {
    let masked = masker.mask(text);
    let one: String = masked.chars().take(400).collect();
    crate::sanitize::sanitize_str(&one).into_owned()
}
