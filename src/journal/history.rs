//! Reading past runs back from the data folder: the entries of one journal, and a summary per run for
//! `deckhand history`. A torn last line (a crash mid-write) is reported, not fatal.

use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::{Path, PathBuf};

use super::{Entry, Event, JOURNAL_FILE};

/// What `deckhand history` shows for one run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSummary {
    pub run: String,
    pub journal: PathBuf,
    pub started: String,
    pub project: String,
    pub environment: String,
    pub user: String,
    pub steps: usize,
    pub failed_steps: usize,
    /// `Some(code)` when the run recorded how it ended.
    pub exit_code: Option<i32>,
    pub end_reason: Option<String>,
    /// How the run ended, when its journal says (runs journaled before outcomes were, and `deckhand backup` runs,
    /// have only an exit code).
    pub outcome: Option<super::Outcome>,
    /// Lines that could not be read (e.g. torn by a crash).
    pub unreadable_lines: usize,
}

/// Reads every entry of a journal; fails on the first unreadable line.
pub fn read_entries(path: &Path) -> io::Result<Vec<Entry>> {
    let (entries, bad) = read_lenient(path)?;
    match bad {
        0 => Ok(entries),
        n => Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{}: {n} unreadable line(s)", path.display()),
        )),
    }
}

/// Every readable entry of a journal, and how many lines could not be read.
pub(super) fn read_lenient(path: &Path) -> io::Result<(Vec<Entry>, usize)> {
    let reader = BufReader::new(fs::File::open(path)?);
    let mut entries = Vec::new();
    let mut bad = 0;
    for line in reader.lines() {
        let line = line?;
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Entry>(&line) {
            Ok(e) => entries.push(e),
            Err(_) => bad += 1,
        }
    }
    Ok((entries, bad))
}

/// All runs under `<data_dir>/runs`, oldest first. A missing folder means no runs yet.
pub fn list_runs(data_dir: &Path) -> io::Result<Vec<RunSummary>> {
    let runs = data_dir.join("runs");
    let dir = match fs::read_dir(&runs) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut out = Vec::new();
    for item in dir {
        let journal = item?.path().join(JOURNAL_FILE);
        if journal.is_file() {
            out.push(summarize(&journal)?);
        }
    }
    out.sort_by(|a, b| a.started.cmp(&b.started).then(a.run.cmp(&b.run)));
    Ok(out)
}

fn summarize(journal: &Path) -> io::Result<RunSummary> {
    let (entries, bad) = read_lenient(journal)?;
    let run = journal
        .parent()
        .and_then(|p| p.file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    Ok(summarize_entries(run, journal, &entries, bad))
}

/// The summary of run `run` from its entries (`journal`: where they were read; `bad`: lines that could not be).
pub fn summarize_entries(run: String, journal: &Path, entries: &[Entry], bad: usize) -> RunSummary {
    let mut s = RunSummary {
        run,
        journal: journal.to_path_buf(),
        started: entries.first().map(|e| e.ts.clone()).unwrap_or_default(),
        project: String::new(),
        environment: String::new(),
        user: String::new(),
        steps: 0,
        failed_steps: 0,
        exit_code: None,
        end_reason: None,
        outcome: None,
        unreadable_lines: bad,
    };
    for e in entries {
        match &e.event {
            Event::RunStarted {
                user,
                project,
                environment,
                ..
            } => {
                s.user = user.clone();
                s.project = project.clone();
                s.environment = environment.clone();
            }
            Event::StepFinished { exit_code, .. } => {
                s.steps += 1;
                if *exit_code != Some(0) {
                    s.failed_steps += 1;
                }
            }
            Event::Quit {
                exit_code,
                reason,
                outcome,
            } => {
                s.exit_code = Some(*exit_code);
                s.end_reason = Some(reason.clone());
                s.outcome = *outcome;
            }
            _ => {}
        }
    }
    s
}
