//! The backup folder: archive names (project, environment, database, UTC time), sidecar records written
//! atomically with mode 0600, sha256 of a file or folder, listing newest first, and retention that deletes the
//! oldest backups of the same environment and database only once a newer one is verified.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use sha2::{Digest, Sha256};

use super::types::{Archive, ArchiveKind, BackupError};

/// Suffix of an archive's sidecar record.
pub const SIDECAR_SUFFIX: &str = ".json";
/// Suffix of an archive still being written (never listed, removed on failure).
pub const PARTIAL_SUFFIX: &str = ".partial";
const HASH_CHUNK: usize = 1 << 20;

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// `2026-11-21T14:03:05Z` for a Unix time (the bare number when it is past what a calendar date can show, e.g.
/// from a damaged sidecar).
pub fn format_utc(unix: u64) -> String {
    /// 9999-12-31T23:59:59Z: the last second humantime formats.
    const LAST: u64 = 253_402_300_799;
    match UNIX_EPOCH.checked_add(std::time::Duration::from_secs(unix)) {
        Some(t) if unix <= LAST => humantime::format_rfc3339_seconds(t).to_string(),
        _ => format!("@{unix}"),
    }
}

/// A name component made safe for a file name: letters, digits, `_`, `-`, `.`; anything else becomes `_`.
fn component(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let trimmed = cleaned.trim_matches('.');
    if trimmed.is_empty() {
        "_".into()
    } else {
        trimmed.into()
    }
}

/// `<dir>/<project>-<environment>-<dbname>-20261121T140305Z.dump` (`.dir` for a folder, `.sqlite3` for SQLite).
pub fn archive_path(
    dir: &Path,
    project: &str,
    environment: &str,
    dbname: &str,
    created_unix: u64,
    kind: ArchiveKind,
) -> PathBuf {
    let stamp: String = format_utc(created_unix)
        .chars()
        .filter(|c| !matches!(c, '-' | ':'))
        .collect();
    let ext = match kind {
        ArchiveKind::PgCustom => "dump",
        ArchiveKind::PgDirectory => "dir",
        ArchiveKind::Sqlite => "sqlite3",
    };
    dir.join(format!(
        "{}-{}-{}-{stamp}.{ext}",
        component(project),
        component(environment),
        component(dbname)
    ))
}

/// [`archive_path`], or when a backup of this database was already taken this very second (a script running
/// `deckhand backup` then `deckhand migrate`), the same name with `-2`, `-3`… before the extension: the first
/// free one. `None` after 99 taken names.
pub fn free_archive_path(named: &Path) -> Option<PathBuf> {
    let taken =
        |p: &Path| fs::symlink_metadata(p).is_ok() || fs::symlink_metadata(sidecar_path(p)).is_ok();
    if !taken(named) {
        return Some(named.to_path_buf());
    }
    let stem = named.file_stem()?.to_string_lossy().into_owned();
    let ext = named.extension().map(|e| e.to_string_lossy().into_owned());
    (2..100)
        .map(|n| {
            let name = match &ext {
                Some(ext) => format!("{stem}-{n}.{ext}"),
                None => format!("{stem}-{n}"),
            };
            named.with_file_name(name)
        })
        .find(|p| !taken(p))
}

/// `archive.dump` → `archive.dump.json`.
pub fn sidecar_path(archive: &Path) -> PathBuf {
    let mut s = archive.as_os_str().to_owned();
    s.push(SIDECAR_SUFFIX);
    PathBuf::from(s)
}

/// `archive.dump` → `archive.dump.<pid>.partial`: each process writes its own, so two backups started in the
/// same second never write into (or delete) each other's file.
pub fn partial_path(archive: &Path) -> PathBuf {
    let mut s = archive.as_os_str().to_owned();
    s.push(format!(".{}{PARTIAL_SUFFIX}", std::process::id()));
    PathBuf::from(s)
}

pub fn io_err(path: &Path, e: &io::Error) -> BackupError {
    BackupError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

/// Creates the backup folder (mode 0700) if needed.
pub fn ensure_dir(dir: &Path) -> Result<(), BackupError> {
    crate::journal::create_private_dir(dir).map_err(|e| io_err(dir, &e))
}

/// Writes the sidecar atomically (temporary file, fsync, rename), mode 0600.
pub fn write_sidecar(archive: &Archive) -> Result<(), BackupError> {
    let path = sidecar_path(&archive.path);
    let json = serde_json::to_vec_pretty(archive).map_err(|e| BackupError::Io {
        path: path.display().to_string(),
        message: e.to_string(),
    })?;
    // Never through a symlink: a new file beside it, renamed over the record.
    crate::safe_fs::replace(&path, &json).map_err(|e| io_err(&path, &e))
}

/// Reads the sidecar of an archive, if it has a readable one.
pub fn read_sidecar(archive: &Path) -> Option<Archive> {
    let bytes = fs::read(sidecar_path(archive)).ok()?;
    serde_json::from_slice(&bytes).ok()
}

/// Records a verification's outcome in the sidecar `record` read for the archive at `path`: a pass sets
/// `verified` (now, with the tables read back), a failure clears an earlier one (a file known to be damaged is no
/// longer presented as verified). Nothing is written when the record names another file (a sidecar copied from
/// elsewhere) or nothing changes.
pub fn record_verification(
    record: Option<Archive>,
    path: &Path,
    outcome: &super::types::Verification,
) -> Result<(), BackupError> {
    let verified = outcome.ok.then(|| super::types::Verified {
        at_unix: unix_now(),
        tables: outcome.tables.clone(),
        took_ms: u64::try_from(outcome.took.as_millis()).unwrap_or(u64::MAX),
        compared_with_live: outcome.compared_with_live,
    });
    let same_file = |recorded: &Path| match (fs::canonicalize(recorded), fs::canonicalize(path)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    let Some(mut rec) = record.filter(|r| same_file(&r.path)) else {
        return Ok(());
    };
    if verified.is_none() && rec.verified.is_none() {
        return Ok(());
    }
    rec.verified = verified;
    write_sidecar(&rec)
}

/// fsyncs the folder holding `path`, so a rename or new file survives a crash.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => File::open(p)?.sync_all(),
        _ => Ok(()),
    }
}

/// sha256 of a file, or of a folder's regular files (names and contents, in name order). Calls `read` with the
/// bytes read so far after each chunk.
pub fn sha256_path(path: &Path, mut read: impl FnMut(u64)) -> Result<String, BackupError> {
    let mut hasher = Sha256::new();
    let mut total = 0u64;
    let meta = fs::metadata(path).map_err(|e| io_err(path, &e))?;
    let files = if meta.is_dir() {
        let mut names: Vec<PathBuf> = fs::read_dir(path)
            .map_err(|e| io_err(path, &e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        names.sort();
        names
    } else {
        vec![path.to_path_buf()]
    };
    let mut buf = vec![0u8; HASH_CHUNK];
    for file in &files {
        if meta.is_dir() {
            let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
            hasher.update(name.unwrap_or_default().as_bytes());
            hasher.update([0u8]);
        }
        let mut f = File::open(file).map_err(|e| io_err(file, &e))?;
        loop {
            let n = f.read(&mut buf).map_err(|e| io_err(file, &e))?;
            if n == 0 {
                break;
            }
            hasher.update(&buf[..n]);
            total += n as u64;
            read(total);
        }
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Bytes on disk of a file, or of a folder's regular files (0 when it does not exist yet).
pub fn size_of(path: &Path) -> u64 {
    let Ok(meta) = fs::metadata(path) else {
        return 0;
    };
    if !meta.is_dir() {
        return meta.len();
    }
    fs::read_dir(path)
        .map(|entries| {
            entries
                .filter_map(|e| e.ok()?.metadata().ok())
                .filter(|m| m.is_file())
                .map(|m| m.len())
                .sum()
        })
        .unwrap_or(0)
}

/// Removes an archive (file or folder) and its sidecar; a missing one is not an error.
pub fn remove(archive: &Path) -> io::Result<()> {
    let gone = |r: io::Result<()>| match r {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    };
    if archive.is_dir() {
        gone(fs::remove_dir_all(archive))?;
    } else {
        gone(fs::remove_file(archive))?;
    }
    gone(fs::remove_file(sidecar_path(archive)))
}

/// Every backup in `dir` with a readable sidecar whose archive still exists, newest first.
pub fn list(dir: &Path) -> Vec<Archive> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut out: Vec<Archive> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter_map(|p| {
            let name = p.to_str()?;
            let archive = name.strip_suffix(SIDECAR_SUFFIX)?;
            if archive.ends_with(PARTIAL_SUFFIX) {
                return None;
            }
            let mut record = read_sidecar(Path::new(archive))?;
            // A sidecar copied from elsewhere may name another file: trust only the one beside it, by name (the
            // folder may have been reached by another path: relative, moved, mounted elsewhere).
            let here = Path::new(archive);
            let same = record.path.file_name() == here.file_name();
            record.path = here.to_path_buf();
            (same && here.exists()).then_some(record)
        })
        .collect();
    out.sort_by(|a, b| {
        b.created_unix
            .cmp(&a.created_unix)
            .then_with(|| b.path.cmp(&a.path))
    });
    out
}

/// Deletes the oldest backups of `newest`'s environment and database beyond `keep`, counting `newest`. Does
/// nothing unless `newest` is verified: an unverified new backup never costs an old one. Returns what it deleted.
pub fn retain(newest: &Archive, keep: Option<usize>) -> Result<Vec<PathBuf>, BackupError> {
    let Some(keep) = keep else {
        return Ok(Vec::new());
    };
    if newest.verified.is_none() {
        return Ok(Vec::new());
    }
    let Some(dir) = newest.path.parent() else {
        return Ok(Vec::new());
    };
    let same: Vec<Archive> = list(dir)
        .into_iter()
        .filter(|a| {
            a.environment == newest.environment
                && a.database == newest.database
                && a.project == newest.project
        })
        .collect();
    let mut deleted = Vec::new();
    // Newest first, counting verified backups only (the new one is the first): once `keep` are counted, every
    // older backup goes, verified or not. Unverified ones newer than that stay for the operator to look at.
    let mut counted = 1;
    for old in same.iter().filter(|a| a.path != newest.path) {
        if counted < keep {
            counted += usize::from(old.verified.is_some());
            continue;
        }
        remove(&old.path).map_err(|e| io_err(&old.path, &e))?;
        deleted.push(old.path.clone());
    }
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(dir: &Path, env: &str, created: u64, verified: bool) -> Archive {
        let path = archive_path(dir, "shop", env, "app", created, ArchiveKind::PgCustom);
        fs::write(&path, b"data").unwrap();
        let a = Archive {
            path,
            kind: ArchiveKind::PgCustom,
            project: "shop".into(),
            environment: env.into(),
            database: "postgres localhost:5432/app".into(),
            dbname: "app".into(),
            created_unix: created,
            size: 4,
            sha256: String::new(),
            server_version: "15".into(),
            tool: "pg_dump".into(),
            took_ms: 1,
            verified: verified.then(|| super::super::types::Verified {
                at_unix: created,
                tables: vec![],
                took_ms: 1,
                compared_with_live: true,
            }),
            counters: None,
        };
        write_sidecar(&a).unwrap();
        a
    }

    #[test]
    fn names_carry_environment_database_and_utc_time() {
        let p = archive_path(
            Path::new("/b"),
            "my shop",
            "prod",
            "app/db",
            1_795_269_785,
            ArchiveKind::PgCustom,
        );
        assert_eq!(p, Path::new("/b/my_shop-prod-app_db-20261121T140305Z.dump"));
    }

    #[test]
    fn retention_keeps_the_newest_and_only_after_verification() {
        let dir = tempfile::tempdir().unwrap();
        let old: Vec<Archive> = (0..4)
            .map(|i| archive(dir.path(), "prod", 1000 + i, true))
            .collect();
        let other_env = archive(dir.path(), "staging", 900, true);
        let unverified = archive(dir.path(), "prod", 2000, false);
        assert!(retain(&unverified, Some(2)).unwrap().is_empty());
        let mut newest = unverified.clone();
        newest.verified = old[0].verified.clone();
        write_sidecar(&newest).unwrap();
        let deleted = retain(&newest, Some(2)).unwrap();
        // Kept: the new one and the newest old one; the staging backup is not counted.
        let expect: Vec<PathBuf> = old[..3].iter().rev().map(|a| a.path.clone()).collect();
        assert_eq!(deleted, expect);
        let left: Vec<PathBuf> = list(dir.path()).into_iter().map(|a| a.path).collect();
        assert_eq!(left, vec![newest.path, old[3].path.clone(), other_env.path]);
        assert!(!sidecar_path(&old[0].path).exists());
    }

    #[test]
    fn retention_counts_verified_backups_only() {
        let dir = tempfile::tempdir().unwrap();
        let v1 = archive(dir.path(), "prod", 1000, true);
        let f2 = archive(dir.path(), "prod", 1001, false);
        let v3 = archive(dir.path(), "prod", 1002, true);
        // keep = 2 verified: V3 and V1 stay, and so does the failed F2 between them.
        assert!(retain(&v3, Some(2)).unwrap().is_empty());
        // keep = 1: everything older than V3 goes.
        assert_eq!(retain(&v3, Some(1)).unwrap(), vec![f2.path, v1.path]);
    }

    #[test]
    fn listing_finds_backups_reached_by_another_path() {
        let dir = tempfile::tempdir().unwrap();
        let mut a = archive(dir.path(), "prod", 1000, true);
        // Recorded under another spelling of the folder (a relative path, a different mount).
        let real = a.path.clone();
        a.path = Path::new("elsewhere").join(real.file_name().unwrap());
        write_sidecar(&Archive {
            path: real.clone(),
            ..a.clone()
        })
        .unwrap();
        fs::write(sidecar_path(&real), serde_json::to_vec(&a).unwrap()).unwrap();
        let listed = list(dir.path());
        assert_eq!(listed.len(), 1);
        assert_eq!(listed[0].path, real);
    }

    #[test]
    fn a_name_taken_this_second_gets_the_next_free_number() {
        let d = tempfile::tempdir().unwrap();
        let named = d.path().join("shop-prod-app-20261205T112203Z.dump");
        assert_eq!(free_archive_path(&named).unwrap(), named);
        fs::write(&named, b"x").unwrap();
        let second = d.path().join("shop-prod-app-20261205T112203Z-2.dump");
        assert_eq!(free_archive_path(&named).unwrap(), second);
        // A record alone (its archive removed by hand) still holds the name.
        fs::write(sidecar_path(&second), b"{}").unwrap();
        assert_eq!(
            free_archive_path(&named).unwrap(),
            d.path().join("shop-prod-app-20261205T112203Z-3.dump")
        );
    }

    #[test]
    fn times_past_the_calendar_do_not_panic() {
        assert_eq!(format_utc(u64::MAX), format!("@{}", u64::MAX));
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
    }

    #[test]
    fn sidecars_are_private_and_listing_skips_orphans() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let a = archive(dir.path(), "prod", 1000, false);
        let mode = fs::metadata(sidecar_path(&a.path))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        let b = archive(dir.path(), "prod", 1001, false);
        fs::remove_file(&b.path).unwrap();
        assert_eq!(list(dir.path()), vec![a]);
    }

    #[test]
    fn folder_hash_covers_names_and_contents() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("x.dir");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("1.dat"), b"a").unwrap();
        fs::write(d.join("toc.dat"), b"b").unwrap();
        let first = sha256_path(&d, |_| {}).unwrap();
        fs::rename(d.join("1.dat"), d.join("2.dat")).unwrap();
        assert_ne!(sha256_path(&d, |_| {}).unwrap(), first);
        assert_eq!(size_of(&d), 2);
    }
}
