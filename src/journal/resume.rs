//! What an earlier run left: the latest run of the same plan and environment when it did not finish, the chain
//! of runs a resumed run continues, and following a journal that another console is still writing.
//!
//! Only console runs count (they journal `PreflightChecked` as they start; `deckhand backup` runs do not).
//! The rule for *resumable*: the run has no `SignedOff` entry, and either it has no `Quit` (it crashed, or is
//! still running) or it lost its operator before quitting: a `Signal { name: "SIGHUP" }` or an
//! `Error { context: "terminal", .. }` entry came before its `Quit`. A run the operator quit on purpose without
//! signing off is not resumable.

use std::collections::HashSet;
use std::fs;
use std::io::{self, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::history::read_lenient;
use super::lock::pid_alive;
use super::{Entry, Event, JOURNAL_FILE};

/// How often [`follow`] looks for new lines.
const POLL: Duration = Duration::from_millis(200);
/// How long [`follow`] waits for last lines once the writer's process is gone.
const QUIET_AFTER_EXIT: Duration = Duration::from_secs(1);

/// An earlier run of the same plan and environment that did not finish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Previous {
    pub run: String,
    pub journal: PathBuf,
    pub entries: Vec<Entry>,
    /// It lost its terminal (SIGHUP, or the terminal failed) before any `Quit`.
    pub hung_up: bool,
    /// It recorded a `Quit`.
    pub ended: bool,
    /// The console's pid from its `RunStarted`.
    pub pid: u32,
}

/// The latest run (by run id, which sorts by start time) whose `RunStarted` names `plan` and `environment`,
/// when it is resumable (see the module doc); `None` when there is no such run or the latest one finished.
pub fn latest_unfinished(
    data_dir: &Path,
    plan: &Path,
    environment: &str,
) -> io::Result<Option<Previous>> {
    let plan = plan.to_string_lossy();
    for run in run_ids(data_dir)?.into_iter().rev() {
        let journal = journal_path(data_dir, &run);
        let entries = match read_lenient(&journal) {
            Ok((entries, _)) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        let pid = entries.iter().find_map(|e| match &e.event {
            Event::RunStarted {
                plan: p,
                environment: env,
                pid,
                ..
            } if *p == plan && env == environment => Some(*pid),
            _ => None,
        });
        let Some(pid) = pid else { continue };
        // Only console runs are resumed: `deckhand backup` journals a run of its own for the same plan, and a
        // console journals its preflight checks as it starts.
        if !entries
            .iter()
            .any(|e| matches!(e.event, Event::PreflightChecked { .. }))
        {
            continue;
        }
        let signed_off = entries
            .iter()
            .any(|e| matches!(e.event, Event::SignedOff { .. }));
        let (hung_up, ended) = lost_terminal(&entries);
        if signed_off || (ended && !hung_up) {
            return Ok(None);
        }
        return Ok(Some(Previous {
            run,
            journal,
            entries,
            hung_up,
            ended,
            pid,
        }));
    }
    Ok(None)
}

/// Whether a run's console lost its terminal before any `Quit` (a hang-up signal or a terminal error), and
/// whether it recorded a `Quit` at all.
pub fn lost_terminal(entries: &[Entry]) -> (bool, bool) {
    let quit_at = entries
        .iter()
        .position(|e| matches!(e.event, Event::Quit { .. }));
    let hung_up = entries[..quit_at.unwrap_or(entries.len())]
        .iter()
        .any(|e| is_hang_up(&e.event));
    (hung_up, quit_at.is_some())
}

/// The operator's terminal went away: a hang-up signal or a terminal error.
fn is_hang_up(event: &Event) -> bool {
    match event {
        Event::Signal { name } => name == "SIGHUP",
        Event::Error { context, .. } => context == "terminal",
        _ => false,
    }
}

/// The entries of `run` preceded by those of the runs it resumed (following `Resumed { previous }` back),
/// oldest first. A cycle, or an earlier journal that is gone, ends the chain there; `run`'s own journal must exist.
pub fn chain(data_dir: &Path, run: &str) -> io::Result<Vec<Entry>> {
    let mut seen = HashSet::new();
    let mut runs: Vec<Vec<Entry>> = Vec::new();
    let mut next = Some(run.to_string());
    while let Some(run) = next.take() {
        if !seen.insert(run.clone()) {
            break;
        }
        let entries = match read_lenient(&journal_path(data_dir, &run)) {
            Ok((entries, _)) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound && !runs.is_empty() => break,
            Err(e) => return Err(e),
        };
        next = entries.iter().find_map(|e| match &e.event {
            Event::Resumed { previous, .. } => Some(previous.clone()),
            _ => None,
        });
        runs.push(entries);
    }
    Ok(runs.into_iter().rev().flatten().collect())
}

/// Tails `journal` (written by the console with pid `pid`), calling `on_entry` for each new complete line from
/// the start of the file. Returns once a `Quit` entry is read, or once `pid` is gone and no new line came for a
/// second. Lines that do not parse are skipped. A journal not created yet is waited for while `pid` lives.
pub async fn follow(journal: &Path, pid: u32, mut on_entry: impl FnMut(&Entry)) -> io::Result<()> {
    let mut offset = 0u64;
    let mut pending: Vec<u8> = Vec::new();
    let mut last_news = Instant::now();
    loop {
        let fresh = match read_from(journal, offset) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(e),
        };
        if !fresh.is_empty() {
            offset += fresh.len() as u64;
            pending.extend_from_slice(&fresh);
            last_news = Instant::now();
        }
        while let Some(end) = pending.iter().position(|&b| b == b'\n') {
            let line: Vec<u8> = pending.drain(..=end).collect();
            let Ok(entry) = serde_json::from_slice::<Entry>(&line) else {
                continue;
            };
            on_entry(&entry);
            if matches!(entry.event, Event::Quit { .. }) {
                return Ok(());
            }
        }
        if !pid_alive(pid) && last_news.elapsed() >= QUIET_AFTER_EXIT {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
}

/// What `path` holds past `offset` (a small read: the journal grows by lines).
fn read_from(path: &Path, offset: u64) -> io::Result<Vec<u8>> {
    let mut file = fs::File::open(path)?;
    file.seek(SeekFrom::Start(offset))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn journal_path(data_dir: &Path, run: &str) -> PathBuf {
    data_dir.join("runs").join(run).join(JOURNAL_FILE)
}

/// Every run folder's name under `<data_dir>/runs`, sorted (oldest first). A missing folder means no runs.
pub fn run_ids(data_dir: &Path) -> io::Result<Vec<String>> {
    let dir = match fs::read_dir(data_dir.join("runs")) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut runs = Vec::new();
    for item in dir {
        let item = item?;
        if item.file_type()?.is_dir() {
            runs.push(item.file_name().to_string_lossy().into_owned());
        }
    }
    runs.sort();
    Ok(runs)
}
