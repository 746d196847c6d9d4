//! `deckhand report [RUN]`: renders a run's release report from its journal (with the runs it resumed) and
//! writes it beside the journal as `report.md`, or prints it with `--stdout`. RUN is a run id, a unique prefix
//! of one, or a run folder; by default the newest run. Exit 0 written, 1 unreadable, 2 no such run.

use std::io::Write;
use std::path::{Path, PathBuf};

use deckhand::journal;

/// Which run, found in `data_dir`.
struct Found {
    /// The data folder its chain is read from.
    data_dir: PathBuf,
    run: String,
}

pub fn run(data_dir: &Path, which: Option<&str>, stdout: bool) -> u8 {
    let found = match find(data_dir, which) {
        Ok(f) => f,
        Err(message) => {
            tell!("deckhand: {message}");
            tell!("`deckhand history` lists the recorded runs.");
            return 2;
        }
    };
    let entries = match journal::chain(&found.data_dir, &found.run) {
        Ok(e) => e,
        Err(e) => {
            tell!(
                "deckhand: cannot read the journal of run {}: {e}",
                found.run
            );
            return 1;
        }
    };
    if stdout {
        let mut out = std::io::stdout().lock();
        // A closed pipe (`| head`) is not an error worth a panic.
        let _ = out.write_all(journal::render(&entries).as_bytes());
        return 0;
    }
    let run_dir = found.data_dir.join("runs").join(&found.run);
    match journal::write_report(&run_dir, &entries) {
        Ok(path) => {
            say!("{}", path.display());
            0
        }
        Err(e) => {
            tell!(
                "deckhand: cannot write the report in {}: {e}",
                run_dir.display()
            );
            1
        }
    }
}

fn find(data_dir: &Path, which: Option<&str>) -> Result<Found, String> {
    let runs = journal::run_ids(data_dir)
        .map_err(|e| format!("cannot read the runs in {}: {e}", data_dir.display()))?;
    let Some(which) = which else {
        return runs
            .last()
            .map(|run| Found {
                data_dir: data_dir.to_path_buf(),
                run: run.clone(),
            })
            .ok_or_else(|| format!("no runs recorded yet in {}", data_dir.display()));
    };
    // A run folder given by path: its data folder is two levels up (`<data>/runs/<run>`).
    let as_path = Path::new(which);
    if as_path.join(journal::JOURNAL_FILE).is_file() {
        let dir = as_path
            .canonicalize()
            .map_err(|e| format!("{which}: {e}"))?;
        if let (Some(run), Some(data)) = (
            dir.file_name().map(|n| n.to_string_lossy().into_owned()),
            dir.parent().and_then(Path::parent),
        ) {
            return Ok(Found {
                data_dir: data.to_path_buf(),
                run,
            });
        }
    }
    if runs.iter().any(|r| r == which) {
        return Ok(Found {
            data_dir: data_dir.to_path_buf(),
            run: which.to_string(),
        });
    }
    let matching: Vec<&String> = runs.iter().filter(|r| r.starts_with(which)).collect();
    match matching.as_slice() {
        [run] => Ok(Found {
            data_dir: data_dir.to_path_buf(),
            run: (*run).clone(),
        }),
        [] => Err(format!("no run {which:?} in {}", data_dir.display())),
        many => Err(format!(
            "{which:?} matches {} runs: {}",
            many.len(),
            many.iter()
                .map(|r| r.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
