//! The append-only audit journal: one JSONL file per run (mode 0600) in the data folder, beside the run's step
//! output files; fsynced after critical events. Also reads past runs back for `deckhand history`, and around it:
//! the per-plan-and-environment run lock (`lock`), what an unfinished earlier run left (`resume`) and the Markdown
//! release report (`report`). The closed sets it records (stages, results, blockers) are enums with stable
//! names (`kinds`). Imports nothing of deckhand but its own event vocabulary and the plan's URL password masking
//! (reports mask defensively).

mod event;
mod history;
mod kinds;
mod lock;
mod markdown;
mod report;
mod resume;

pub use event::{Event, WayBackRecord, WayBackResult};
pub use history::{RunSummary, list_runs, read_entries, summarize_entries};
pub use kinds::{
    Blocker, Completed, MonitorResult, Outcome, PhaseResult, RestoreKind, Stage, StageResult,
    StepResult,
};
pub use lock::{LockError, LockInfo, RunLock, acquire, lock_path};
pub use report::{REPORT_FILE, render, write as write_report};
pub use resume::{Previous, chain, follow, latest_unfinished, lost_terminal, run_ids};

use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use serde::{Deserialize, Serialize};

/// File name of the journal inside a run's folder.
pub const JOURNAL_FILE: &str = "journal.jsonl";
/// Environment variable that overrides the data folder (tests, or a shared audit volume).
pub const DATA_DIR_ENV: &str = "DECKHAND_DATA_DIR";

/// One line of the journal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub seq: u64,
    pub ts: String,
    pub run: String,
    #[serde(flatten)]
    pub event: Event,
}

/// The folder where runs, journals and deckhand's own log live: `$DECKHAND_DATA_DIR`, else the platform data dir
/// (`~/.local/share/deckhand` on Linux).
pub fn data_dir() -> io::Result<PathBuf> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "deckhand")
        .map(|p| p.data_dir().to_path_buf())
        .ok_or_else(|| io::Error::other("no home directory: set DECKHAND_DATA_DIR"))
}

/// Creates `dir` and its parents with mode 0700 (journals and step logs may hold sensitive output); `dir` must not
/// be a symlink.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    crate::safe_fs::create_private_dir(dir)
}

/// The data folder, created (0700) when missing, its mode checked: refused when other users can reach it, unless
/// it is shared on purpose (`shared_by_plan`: the plan's `[project] shared_data = true`, or
/// `DECKHAND_SHARED_DATA=1`; then only other users' access is refused, and what deckhand writes there is made
/// group-readable and -writable). Every command that writes into it starts here.
pub fn prepare_data_dir(shared_by_plan: bool) -> Result<PathBuf, String> {
    let dir = data_dir().map_err(|e| e.to_string())?;
    crate::safe_fs::create_private_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let shared = shared_by_plan || crate::safe_fs::shared_on_purpose();
    crate::safe_fs::check_data_dir(&dir, shared)?;
    crate::safe_fs::share_with_group(shared);
    Ok(dir)
}

/// An open journal for one run.
#[derive(Debug)]
pub struct Journal {
    file: File,
    path: PathBuf,
    run_id: String,
    seq: u64,
    /// The plan's secret values, masked in every entry before it is written.
    masker: crate::secrets::Masker,
}

impl Journal {
    /// Creates `<data_dir>/runs/<run-id>/journal.jsonl` (mode 0600, never overwriting an existing one).
    pub fn create(data_dir: &Path, started: SystemTime) -> io::Result<Journal> {
        let run_id = run_id(started, std::process::id());
        let runs = data_dir.join("runs");
        create_private_dir(&runs)?;
        let dir = runs.join(&run_id);
        create_private_dir(&dir)?;
        let path = dir.join(JOURNAL_FILE);
        let file = crate::safe_fs::create_new(&path)?;
        // Make the new file's directory entry durable too, or a crash could lose the whole journal.
        File::open(&dir)?.sync_all()?;
        Ok(Journal {
            file,
            path,
            run_id,
            seq: 0,
            masker: crate::secrets::Masker::default(),
        })
    }

    /// Masks these secret values in every entry written from now on (the plan's, once it is known).
    pub fn set_masker(&mut self, masker: crate::secrets::Masker) {
        self.masker = masker;
    }

    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The run's folder (journal, step logs).
    pub fn run_dir(&self) -> &Path {
        self.path.parent().unwrap_or(Path::new("."))
    }

    /// Where the output of step `step` of phase `phase` (both 0-based) is written.
    pub fn step_log_path(&self, phase: usize, step: usize) -> PathBuf {
        self.run_dir()
            .join("steps")
            .join(format!("phase{:02}-step{:02}.log", phase + 1, step + 1))
    }

    /// Appends one event as a JSON line, written through at once; fsynced when the event is critical.
    pub fn append(&mut self, event: Event, at: SystemTime) -> io::Result<()> {
        self.append_all(std::iter::once(event), at)
    }

    /// Appends `events` in order with one write, then syncs once if any is critical: a batch (500 migrations
    /// applied) costs one fsync, and every entry is on disk before the caller does anything else.
    pub fn append_all(
        &mut self,
        events: impl IntoIterator<Item = Event>,
        at: SystemTime,
    ) -> io::Result<()> {
        let ts = humantime::format_rfc3339_millis(at).to_string();
        let mut lines = Vec::new();
        let mut critical = false;
        for event in events {
            self.seq += 1;
            critical |= event.is_critical();
            let entry = Entry {
                seq: self.seq,
                ts: ts.clone(),
                run: self.run_id.clone(),
                event,
            };
            serde_json::to_writer(&mut lines, &entry).map_err(io::Error::other)?;
            lines.push(b'\n');
        }
        self.file.write_all(&self.masker.mask_bytes(&lines))?;
        if critical {
            self.file.sync_data()?;
        }
        Ok(())
    }
}

/// `2026-11-21T124406Z-4242`: sortable by time, unique per process.
fn run_id(started: SystemTime, pid: u32) -> String {
    let stamp = humantime::format_rfc3339_seconds(started).to_string();
    format!("{}-{pid}", stamp.replace(':', ""))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::time::Duration;

    #[test]
    fn a_batch_is_written_in_order_with_its_own_sequence_numbers() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let mut j = Journal::create(dir.path(), t0).unwrap();
        let applied = |name: &str| Event::MigrationApplied {
            name: name.into(),
            duration_ms: 1,
        };
        j.append(Event::Signal { name: "x".into() }, t0).unwrap();
        j.append_all([applied("a"), applied("b"), applied("c")], t0)
            .unwrap();
        j.append_all([], t0).unwrap();
        let entries = read_entries(j.path()).unwrap();
        let seqs: Vec<u64> = entries.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, vec![1, 2, 3, 4]);
        assert_eq!(entries[3].event, applied("c"));
    }

    #[test]
    fn journal_is_private_append_only_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        let mut j = Journal::create(dir.path(), t0).unwrap();
        let quit = Event::Quit {
            exit_code: 0,
            reason: "operator quit".into(),
            outcome: Some(Outcome::SignedOff),
        };
        j.append(
            Event::Signal {
                name: "SIGHUP".into(),
            },
            t0,
        )
        .unwrap();
        j.append(quit.clone(), t0).unwrap();
        let mode = std::fs::metadata(j.path()).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let dir_mode = std::fs::metadata(j.run_dir()).unwrap().permissions().mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        let entries = read_entries(j.path()).unwrap();
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[1].seq, 2);
        assert_eq!(entries[1].event, quit);
        assert!(j.run_id().starts_with("2026-11-18T"), "{}", j.run_id());
        // A second journal in the same second by the same process must not clobber the first.
        assert!(Journal::create(dir.path(), t0).is_err());
    }
}
