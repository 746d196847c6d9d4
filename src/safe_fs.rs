//! Files and folders deckhand writes, never through a symlink (issue 16): new files are created with
//! `O_CREAT|O_EXCL|O_NOFOLLOW` mode 0600, files appended to (logs, the lock) are opened with `O_NOFOLLOW` and must be
//! plain files with one link that we own, replacements are written to a new temporary file and renamed over the
//! old name (a symlink there is replaced, its target untouched), folders are 0700 and never symlinks. Also the
//! data folder's mode check. Imports nothing of deckhand.

use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Environment variable that says the data folder is shared on purpose (a group of operators): its group may then
/// read and write it, but never other users.
pub const SHARED_DATA_ENV: &str = "DECKHAND_SHARED_DATA";

/// File mode of everything deckhand writes.
pub const FILE_MODE: u32 = 0o600;
/// Folder mode of everything deckhand creates.
pub const DIR_MODE: u32 = 0o700;
/// The modes in a data folder shared by a group on purpose: the group reads and writes (another operator must
/// read and take the same lock), other users never.
const SHARED_FILE_MODE: u32 = 0o660;
const SHARED_DIR_MODE: u32 = 0o770;

/// Whether this process writes into a data folder shared on purpose (set once, by [`share_with_group`]).
static SHARED: AtomicBool = AtomicBool::new(false);

/// From now on, files and folders are created for the group too ([`SHARED_FILE_MODE`]); called once the data
/// folder is known to be shared on purpose.
pub fn share_with_group(shared: bool) {
    SHARED.store(shared, Ordering::Relaxed);
}

/// The mode of a file deckhand creates: 0600, or 0660 in a folder shared on purpose.
pub fn file_mode() -> u32 {
    if SHARED.load(Ordering::Relaxed) {
        SHARED_FILE_MODE
    } else {
        FILE_MODE
    }
}

/// The mode of a folder deckhand creates: 0700, or 0770 in a folder shared on purpose.
pub fn dir_mode() -> u32 {
    if SHARED.load(Ordering::Relaxed) {
        SHARED_DIR_MODE
    } else {
        DIR_MODE
    }
}

fn nofollow() -> i32 {
    nix::libc::O_NOFOLLOW | nix::libc::O_CLOEXEC
}

/// Creates a new file (mode 0600), failing if anything — a file or a symlink — is already at `path`.
pub fn create_new(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(file_mode())
        .custom_flags(nofollow())
        .open(path)?;
    // The mode given to open() is reduced by the umask: set it on the open file, never by path.
    file.set_permissions(fs::Permissions::from_mode(file_mode()))?;
    Ok(file)
}

/// Opens `path` for appending, creating it (mode 0600) when missing; refuses a symlink, a hard link to another
/// file and anything but a plain file. An existing file of ours is tightened to 0600.
pub fn open_append(path: &Path) -> io::Result<File> {
    open_existing_or_new(path, OpenOptions::new().append(true).create(true))
}

/// Opens `path` for reading and writing (not truncated), creating it when missing; the same refusals as
/// [`open_append`].
pub fn open_read_write(path: &Path) -> io::Result<File> {
    open_existing_or_new(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
}

fn open_existing_or_new(path: &Path, options: &mut OpenOptions) -> io::Result<File> {
    let file = options
        .mode(file_mode())
        .custom_flags(nofollow())
        .open(path)
        .map_err(|e| refused_link(path, e))?;
    let meta = file.metadata()?;
    if !meta.file_type().is_file() {
        return Err(refusal(path, "is not a plain file"));
    }
    if meta.nlink() > 1 {
        return Err(refusal(
            path,
            "has another hard link: refusing to write through it",
        ));
    }
    // Another operator's file in a folder shared on purpose keeps its owner's mode.
    if meta.uid() == nix::unistd::geteuid().as_raw() {
        file.set_permissions(fs::Permissions::from_mode(file_mode()))?;
    }
    Ok(file)
}

/// `O_NOFOLLOW` on a symlink fails with `ELOOP`: say what it means.
fn refused_link(path: &Path, e: io::Error) -> io::Error {
    if e.raw_os_error() == Some(nix::libc::ELOOP) {
        refusal(path, "is a symlink: refusing to write through it")
    } else {
        e
    }
}

fn refusal(path: &Path, why: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::PermissionDenied,
        format!("{} {why}", path.display()),
    )
}

/// Replaces `path` with `bytes`: written to a new temporary file beside it (mode 0600), fsynced, renamed over
/// `path` (a symlink there is replaced, not followed), then the folder is fsynced.
pub fn replace(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let name = path
        .file_name()
        .map_or_else(|| "file".into(), |n| n.to_string_lossy().into_owned());
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    // A leftover of ours (or anything planted there): removing a symlink removes the link, not its target.
    let _ = fs::remove_file(&tmp);
    let result = (|| {
        let mut file = create_new(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        File::open(dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// Creates `dir` and its missing parents with mode 0700; `dir` itself must then be a folder, not a symlink.
pub fn create_private_dir(dir: &Path) -> io::Result<()> {
    let existed = fs::symlink_metadata(dir).is_ok();
    DirBuilder::new()
        .recursive(true)
        .mode(dir_mode())
        .create(dir)?;
    let meta = fs::symlink_metadata(dir)?;
    if !existed && meta.is_dir() {
        // The mode given to mkdir() is reduced by the umask (a shared 0770 would become 0750).
        fs::set_permissions(dir, fs::Permissions::from_mode(dir_mode()))?;
    }
    if meta.file_type().is_symlink() {
        return Err(refusal(dir, "is a symlink: refusing to write into it"));
    }
    if !meta.is_dir() {
        return Err(refusal(dir, "is not a folder"));
    }
    Ok(())
}

/// Whether the data folder is shared on purpose (`DECKHAND_SHARED_DATA` set to `1`, `true` or `yes`).
pub fn shared_on_purpose() -> bool {
    std::env::var(SHARED_DATA_ENV)
        .map(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "1" | "true" | "yes"))
        .unwrap_or(false)
}

/// Checks the data folder's mode: owner-only (0700), or, shared on purpose, no access for other users. A folder
/// too open is refused with the command that fixes it.
pub fn check_data_dir(dir: &Path, shared: bool) -> Result<(), String> {
    let meta = fs::metadata(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("the data folder {} is not a folder", dir.display()));
    }
    let mode = meta.mode() & 0o7777;
    let quoted = shell_quote(&dir.display().to_string());
    if shared {
        if mode & 0o007 != 0 {
            return Err(format!(
                "the shared data folder {} is mode {mode:04o}: every user of this machine can reach its journals \
                 and locks. Fix: chmod o-rwx {quoted}",
                dir.display()
            ));
        }
        return Ok(());
    }
    if mode & 0o077 != 0 {
        return Err(format!(
            "the data folder {} is mode {mode:04o}: other users can reach its journals and locks. Fix: chmod 700 \
             {quoted} (or, when the folder is shared by a group on purpose, say so with shared_data = true in the \
             plan's [project] or {SHARED_DATA_ENV}=1, and chmod o-rwx {quoted})",
            dir.display()
        ));
    }
    Ok(())
}

fn shell_quote(s: &str) -> String {
    if s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/._-~+".contains(&b))
    {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}
