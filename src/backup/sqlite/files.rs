//! File work for SQLite backups: blocking copies and hashes run off the async threads with progress, the
//! database header check, the in-place swap that keeps the replaced files, and removal of a database's files.

use std::fs::{self, File, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio_util::sync::CancellationToken;

use super::super::store::{self, io_err};
use super::super::types::BackupError;
use super::progress::{Reporter, ticking};

/// Files SQLite keeps beside a database: write-ahead log, its shared-memory index, rollback journal.
pub const SIDE_SUFFIXES: [&str; 3] = ["-wal", "-shm", "-journal"];
/// The first 16 bytes of every SQLite 3 database file.
const MAGIC: &[u8; 16] = b"SQLite format 3\0";
const HEADER_LEN: usize = 100;
const COPY_CHUNK: usize = 1 << 20;

/// Shared between a blocking job and the task reporting its progress.
#[derive(Debug, Default)]
pub struct Work {
    bytes: AtomicU64,
    stop: AtomicBool,
}

impl Work {
    pub fn set_bytes(&self, n: u64) {
        self.bytes.store(n, Ordering::Relaxed);
    }

    fn bytes(&self) -> u64 {
        self.bytes.load(Ordering::Relaxed)
    }

    /// The job should give up (the operation was cancelled).
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// Runs `job` on the blocking pool, reporting its byte count every [`super::progress::POLL`]. When `cancel` fires the job is asked
/// to stop ([`Work::stopped`]) and waited for; the result is then `Cancelled` whatever the job returned.
pub async fn blocking<T: Send + 'static>(
    report: &Reporter<'_>,
    cancel: &CancellationToken,
    job: impl FnOnce(&Work) -> Result<T, BackupError> + Send + 'static,
) -> Result<T, BackupError> {
    let work = Arc::new(Work::default());
    let shared = Arc::clone(&work);
    let handle = tokio::task::spawn_blocking(move || job(&shared));
    let joined = ticking(handle, || {
        if cancel.is_cancelled() {
            work.stop.store(true, Ordering::Relaxed);
        }
        report.bytes(work.bytes());
    })
    .await;
    let out = joined.map_err(|e| BackupError::Io {
        path: String::from("(background file work)"),
        message: e.to_string(),
    })?;
    if cancel.is_cancelled() {
        return Err(BackupError::Cancelled);
    }
    report.bytes(work.bytes());
    out
}

/// `shop.db` + `-wal` → `shop.db-wal`.
pub fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether anything (file, folder, dangling link) is at `path`.
fn present(path: &Path) -> bool {
    fs::symlink_metadata(path).is_ok()
}

/// Removes a file; one that is not there is not an error.
pub fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Removes a database file and the files SQLite keeps beside it. Tries them all; the first error, if any.
pub fn remove_db_files(path: &Path) -> Result<(), BackupError> {
    let mut first = None;
    for p in std::iter::once(path.to_path_buf())
        .chain(SIDE_SUFFIXES.iter().map(|s| with_suffix(path, s)))
    {
        if let Err(e) = remove_if_present(&p) {
            first.get_or_insert(io_err(&p, &e));
        }
    }
    first.map_or(Ok(()), Err)
}

/// Creates an empty file for `VACUUM INTO` to fill (it accepts an empty file), mode 0600 from the start so the
/// copy is never readable by others, replacing a leftover of an interrupted run.
pub fn create_private_empty(path: &Path) -> Result<(), BackupError> {
    remove_db_files(path)?;
    crate::safe_fs::create_new(path)
        .map(drop)
        .map_err(|e| io_err(path, &e))
}

/// Makes a finished file private (0600) and durable, then hashes it (bytes read so far in `work`).
pub fn seal_and_hash(path: &Path, work: &Work) -> Result<String, BackupError> {
    let mode = Permissions::from_mode(crate::safe_fs::file_mode());
    fs::set_permissions(path, mode).map_err(|e| io_err(path, &e))?;
    File::open(path)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_err(path, &e))?;
    store::sha256_path(path, |n| work.set_bytes(n))
}

/// Copies `from` to a new file `to` with permission bits `mode`, fsynced. Gives up (and removes `to`) when the
/// work is stopped.
pub fn copy_file(from: &Path, to: &Path, mode: u32, work: &Work) -> Result<u64, BackupError> {
    let copy = || -> Result<u64, BackupError> {
        let mut src = File::open(from).map_err(|e| io_err(from, &e))?;
        remove_if_present(to).map_err(|e| io_err(to, &e))?;
        let mut dst = crate::safe_fs::create_new(to).map_err(|e| io_err(to, &e))?;
        let mut buf = vec![0u8; COPY_CHUNK];
        let mut total = 0u64;
        loop {
            if work.stopped() {
                return Err(BackupError::Cancelled);
            }
            let n = src.read(&mut buf).map_err(|e| io_err(from, &e))?;
            if n == 0 {
                break;
            }
            dst.write_all(&buf[..n]).map_err(|e| io_err(to, &e))?;
            total += n as u64;
            work.set_bytes(total);
        }
        // Set after creation: the mode given to open() is reduced by the umask.
        dst.set_permissions(Permissions::from_mode(mode))
            .and_then(|()| dst.sync_all())
            .map_err(|e| io_err(to, &e))?;
        Ok(total)
    };
    copy().inspect_err(|_| {
        let _ = remove_if_present(to);
    })
}

/// What the first 100 bytes of a file say about it as a SQLite database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// Starts with `SQLite format 3\0` (otherwise nothing else was checked).
    pub sqlite: bool,
    pub problems: Vec<String>,
}

/// Checks that `path` (of `size` bytes) is a SQLite database whose size matches its header: a whole number of
/// pages, and exactly the page count the header records (bytes 28-31, trusted only when the "version valid for"
/// number at 92-95 equals the change counter at 24-27, as SQLite does).
pub fn check_header(path: &Path, size: u64) -> Result<Header, BackupError> {
    let mut head = Vec::with_capacity(HEADER_LEN);
    File::open(path)
        .and_then(|f| f.take(HEADER_LEN as u64).read_to_end(&mut head))
        .map_err(|e| io_err(path, &e))?;
    Ok(read_header(&head, size))
}

fn read_header(head: &[u8], size: u64) -> Header {
    let not_sqlite = |why: String| Header {
        sqlite: false,
        problems: vec![why],
    };
    if head.len() < HEADER_LEN {
        return not_sqlite(format!(
            "only {size} bytes: too short to be a SQLite database (the header alone is {HEADER_LEN})"
        ));
    }
    if &head[..16] != MAGIC {
        return not_sqlite(
            "not a SQLite database: the file does not start with \"SQLite format 3\"".into(),
        );
    }
    let be32 = |at: usize| u32::from_be_bytes([head[at], head[at + 1], head[at + 2], head[at + 3]]);
    let raw_page = u32::from(u16::from_be_bytes([head[16], head[17]]));
    let page_size = if raw_page == 1 { 65_536 } else { raw_page };
    let mut problems = Vec::new();
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        problems.push(format!(
            "the header's page size {raw_page} is not a valid SQLite page size"
        ));
        return Header {
            sqlite: true,
            problems,
        };
    }
    let page_size = u64::from(page_size);
    let (change_counter, valid_for, pages) = (be32(24), be32(92), u64::from(be32(28)));
    if pages > 0 && change_counter == valid_for {
        let expected = pages * page_size;
        if size < expected {
            problems.push(format!(
                "truncated: the header says {pages} pages of {page_size} bytes ({expected} bytes), the file has {size}"
            ));
        } else if size > expected {
            problems.push(format!(
                "the file has {size} bytes, more than the {pages} pages of {page_size} bytes ({expected}) its header records"
            ));
        }
    } else if !size.is_multiple_of(page_size) {
        problems.push(format!(
            "truncated: {size} bytes is not a whole number of {page_size}-byte pages"
        ));
    }
    Header {
        sqlite: true,
        problems,
    }
}

/// Whether the database file at `path` is in WAL mode (header bytes 18 and 19 are 2). A file that is not there or
/// not readable is not.
pub fn is_wal(path: &Path) -> bool {
    let mut head = Vec::with_capacity(20);
    File::open(path)
        .and_then(|f| f.take(20).read_to_end(&mut head))
        .is_ok_and(|n| n == 20 && head.starts_with(MAGIC) && head[18] == 2 && head[19] == 2)
}

/// `<db>.before-restore-<stamp>`, with `-2`, `-3`… added if a file of that name (or its side files) exists.
fn kept_name(live: &Path, stamp: &str) -> PathBuf {
    let base = with_suffix(live, &format!(".before-restore-{stamp}"));
    let taken = |p: &Path| present(p) || SIDE_SUFFIXES.iter().any(|s| present(&with_suffix(p, s)));
    let mut candidate = base.clone();
    let mut n = 2;
    while taken(&candidate) {
        candidate = with_suffix(&base, &format!("-{n}"));
        n += 1;
    }
    candidate
}

/// Puts `restoring` in place of the database file `live`. The live file and its side files (`-wal`, `-shm`,
/// `-journal`; side files are moved even when the main file is gone, or SQLite would replay a stale log onto the
/// restored file) are first moved aside to `<db>.before-restore-<stamp>` (same suffixes). On failure everything
/// moved is put back. Returns where the replaced database file went, if there was one.
pub fn swap_in(live: &Path, restoring: &Path, stamp: &str) -> Result<Option<PathBuf>, BackupError> {
    let kept = kept_name(live, stamp);
    let mut moved: Vec<(PathBuf, PathBuf)> = Vec::new();
    let undo = |moved: &[(PathBuf, PathBuf)]| {
        for (from, to) in moved.iter().rev() {
            if let Err(e) = fs::rename(to, from) {
                tracing::error!(
                    "could not put {} back to {}: {e}",
                    to.display(),
                    from.display()
                );
            }
        }
    };
    for suffix in std::iter::once("").chain(SIDE_SUFFIXES) {
        let from = with_suffix(live, suffix);
        if !present(&from) {
            continue;
        }
        let to = with_suffix(&kept, suffix);
        if let Err(e) = fs::rename(&from, &to) {
            undo(&moved);
            return Err(io_err(&from, &e));
        }
        moved.push((from, to));
    }
    if let Err(e) = fs::rename(restoring, live) {
        undo(&moved);
        return Err(io_err(live, &e));
    }
    store::sync_parent(live).map_err(|e| io_err(live, &e))?;
    Ok(moved
        .first()
        .filter(|(from, _)| from == live)
        .map(|(_, to)| to.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(page_size: u16, pages: u32, counter: u32, valid_for: u32) -> Vec<u8> {
        let mut h = vec![0u8; HEADER_LEN];
        h[..16].copy_from_slice(MAGIC);
        h[16..18].copy_from_slice(&page_size.to_be_bytes());
        h[24..28].copy_from_slice(&counter.to_be_bytes());
        h[28..32].copy_from_slice(&pages.to_be_bytes());
        h[92..96].copy_from_slice(&valid_for.to_be_bytes());
        h
    }

    #[test]
    fn header_size_must_match_the_page_count() {
        assert!(
            read_header(&header(4096, 3, 7, 7), 3 * 4096)
                .problems
                .is_empty()
        );
        let short = read_header(&header(4096, 3, 7, 7), 2 * 4096);
        assert!(
            short.sqlite && short.problems[0].starts_with("truncated"),
            "{short:?}"
        );
        assert_eq!(
            read_header(&header(4096, 3, 7, 7), 4 * 4096).problems.len(),
            1
        );
        // 1 means 65536.
        assert!(
            read_header(&header(1, 2, 1, 1), 2 * 65_536)
                .problems
                .is_empty()
        );
    }

    #[test]
    fn a_stale_page_count_is_not_trusted_but_partial_pages_are_caught() {
        assert!(
            read_header(&header(4096, 3, 8, 7), 5 * 4096)
                .problems
                .is_empty()
        );
        assert_eq!(
            read_header(&header(4096, 3, 8, 7), 5 * 4096 + 10)
                .problems
                .len(),
            1
        );
    }

    #[test]
    fn not_sqlite_and_bad_page_sizes() {
        assert!(!read_header(b"short", 5).sqlite);
        let mut h = header(4096, 1, 1, 1);
        h[0] = b's';
        assert!(!read_header(&h, 4096).sqlite);
        assert_eq!(read_header(&header(1000, 1, 1, 1), 1000).problems.len(), 1);
    }

    #[test]
    fn swap_keeps_the_replaced_files_and_their_logs() {
        let dir = tempfile::tempdir().unwrap();
        let live = dir.path().join("app.db");
        fs::write(&live, b"old").unwrap();
        fs::write(with_suffix(&live, "-wal"), b"log").unwrap();
        let restoring = dir.path().join("app.db.restoring");
        fs::write(&restoring, b"new").unwrap();
        let kept = swap_in(&live, &restoring, "20261121T140305Z")
            .unwrap()
            .unwrap();
        assert_eq!(
            kept,
            dir.path().join("app.db.before-restore-20261121T140305Z")
        );
        assert_eq!(fs::read(&live).unwrap(), b"new");
        assert_eq!(fs::read(&kept).unwrap(), b"old");
        assert_eq!(fs::read(with_suffix(&kept, "-wal")).unwrap(), b"log");
        assert!(!present(&with_suffix(&live, "-wal")) && !present(&restoring));
        // A second restore in the same second does not overwrite the first one's kept file.
        fs::write(&restoring, b"newer").unwrap();
        let again = swap_in(&live, &restoring, "20261121T140305Z")
            .unwrap()
            .unwrap();
        assert_eq!(again, with_suffix(&kept, "-2"));
        assert_eq!(fs::read(&kept).unwrap(), b"old");
    }
}
