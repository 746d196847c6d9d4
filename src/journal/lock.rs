//! One console per plan and environment: a lock file in `<data_dir>/locks/`, held for the life of a console.
//!
//! The file is named after the plan's absolute path and the environment (`sha256(plan + "\0" + environment)`,
//! first 16 hex digits), is mode 0600 and holds a JSON [`LockInfo`] naming its holder. Liveness is decided by an
//! OS advisory lock (`flock`) on the open file, not by the file's existence: the kernel drops it when the holder
//! exits however it exits (SIGKILL included), so a crashed console never blocks the next one, and two racing
//! acquirers cannot both hold it. A lock file whose `flock` can be taken is stale whatever it says (its holder
//! is gone); its former contents are reported in [`RunLock::stale`].
//!
//! The file is removed on drop while still locked (only if it still names us); an acquirer that opened the old
//! file just before it was unlinked notices that the path no longer leads to its file and starts again.

use std::fs::{self, File};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::create_private_dir;

/// How often to start over when the lock file is replaced under us, before giving up.
const ATTEMPTS: usize = 50;
/// How long a held lock file may stay unreadable (its holder is still writing it) before that is an error.
const UNREADABLE_GRACE: Duration = Duration::from_millis(500);

/// Who holds (or held) a lock: written into the lock file as JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockInfo {
    pub pid: u32,
    pub run: String,
    pub journal: PathBuf,
    pub user: String,
    pub host: String,
    pub plan: String,
    pub environment: String,
    pub started: String,
}

impl LockInfo {
    /// Whether a process with this pid exists (on this host).
    pub fn pid_alive(&self) -> bool {
        pid_alive(self.pid)
    }
}

/// Whether process `pid` exists (`kill(pid, 0)` does not fail with `ESRCH`; `EPERM` means it exists but is not
/// ours). Pid 0 is no process.
pub(super) fn pid_alive(pid: u32) -> bool {
    match i32::try_from(pid) {
        Ok(pid) if pid > 0 => !matches!(
            nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None),
            Err(Errno::ESRCH)
        ),
        _ => false,
    }
}

/// Why a lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another console holds it.
    #[error(
        "{} ({}) is already being run by pid {} ({}@{}, run {}, since {}); journal: {}",
        .0.plan, .0.environment, .0.pid, .0.user, .0.host, .0.run, .0.started, .0.journal.display()
    )]
    Held(Box<LockInfo>),
    /// The lock is held but its file cannot be read (its holder may be an older or broken deckhand).
    #[error("{} is locked by another process, but its contents cannot be read: {reason}", .path.display())]
    Unreadable { path: PathBuf, reason: String },
    #[error("cannot take the lock {}: {source}", .path.display())]
    Io { path: PathBuf, source: io::Error },
}

/// A held lock; released (and its file removed) on drop.
#[derive(Debug)]
pub struct RunLock {
    file: Flock<File>,
    path: PathBuf,
    info: LockInfo,
    /// The previous holder, when its lock was left behind by a console that is gone (crashed or killed).
    pub stale: Option<LockInfo>,
}

/// `<data_dir>/locks/<sha256(plan + "\0" + environment), first 16 hex>.lock`.
pub fn lock_path(data_dir: &Path, plan: &Path, environment: &str) -> PathBuf {
    let mut hash = Sha256::new();
    hash.update(plan.as_os_str().as_encoded_bytes());
    hash.update(b"\0");
    hash.update(environment.as_bytes());
    let digest = hex::encode(hash.finalize());
    data_dir
        .join("locks")
        .join(format!("{}.lock", &digest[..16]))
}

/// Takes the lock for `plan` (an absolute path) and `environment`, writing `holder` into it.
pub fn acquire(
    data_dir: &Path,
    plan: &Path,
    environment: &str,
    holder: LockInfo,
) -> Result<RunLock, LockError> {
    let path = lock_path(data_dir, plan, environment);
    let io_err = |source| LockError::Io {
        path: path.clone(),
        source,
    };
    if let Some(dir) = path.parent() {
        create_private_dir(dir).map_err(io_err)?;
    }
    let mut unreadable_since: Option<Instant> = None;
    for _ in 0..ATTEMPTS {
        // Never through a symlink or a hard link planted at the path; 0600.
        let file = crate::safe_fs::open_read_write(&path).map_err(io_err)?;
        let mut file = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(locked) => locked,
            Err((mut file, Errno::EWOULDBLOCK)) => match read_info(&mut file) {
                Ok(info) => return Err(LockError::Held(Box::new(info))),
                Err(reason) => {
                    // The holder may be between creating the file and writing it: give it a moment.
                    let since = *unreadable_since.get_or_insert_with(Instant::now);
                    if since.elapsed() >= UNREADABLE_GRACE {
                        return Err(LockError::Unreadable { path, reason });
                    }
                    std::thread::sleep(Duration::from_millis(20));
                    continue;
                }
            },
            Err((_, errno)) => return Err(io_err(io::Error::from(errno))),
        };
        // The previous holder may have unlinked the file between our open and our flock: then we hold a lock on
        // a file nobody else will ever look at, and must start over on the one the path leads to now.
        if !same_file(&file, &path) {
            continue;
        }
        // Empty (we created it) or torn by a crash mid-write: no previous holder to report.
        let stale = read_info(&mut file).ok();
        write_info(&mut file, &holder).map_err(io_err)?;
        return Ok(RunLock {
            file,
            path,
            info: holder,
            stale,
        });
    }
    Err(io_err(io::Error::other(
        "the lock file kept being replaced while taking it",
    )))
}

impl RunLock {
    /// Where the lock file is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What the lock file says about us.
    pub fn info(&self) -> &LockInfo {
        &self.info
    }

    /// Records the run and journal once they are known (the lock is taken before the journal is created).
    pub fn update_run(&mut self, run: &str, journal: &Path) -> io::Result<()> {
        let mut info = self.info.clone();
        info.run = run.to_string();
        info.journal = journal.to_path_buf();
        write_info(&mut self.file, &info)?;
        self.info = info;
        Ok(())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        // Still locked here (the flock is released when `file` drops, after this), so nobody else wrote it.
        let ours = read_info(&mut self.file)
            .map(|i| i.pid == self.info.pid && i.run == self.info.run)
            .unwrap_or(false);
        if ours && same_file(&self.file, &self.path) {
            let _ = fs::remove_file(&self.path);
        }
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    match (file.metadata(), fs::metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

fn read_info(file: &mut File) -> Result<LockInfo, String> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0))
        .and_then(|_| file.read_to_string(&mut text))
        .map_err(|e| e.to_string())?;
    if text.trim().is_empty() {
        return Err("the lock file is empty".into());
    }
    serde_json::from_str(&text).map_err(|e| format!("not a deckhand lock file: {e}"))
}

/// Rewrites the file in place (a rename would put a new, unlocked file at the path).
fn write_info(file: &mut File, info: &LockInfo) -> io::Result<()> {
    let mut json = serde_json::to_vec_pretty(info).map_err(io::Error::other)?;
    json.push(b'\n');
    file.set_len(0)?;
    file.seek(SeekFrom::Start(0))?;
    file.write_all(&json)?;
    file.sync_data()
}
