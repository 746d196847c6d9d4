//! Finding `pg_dump` and `pg_restore` and making sure they can do the job before anything starts: the plan's
//! `bin_dir`, else Debian's `/usr/lib/postgresql/<server major>/bin`, else the highest installed version at least
//! as new as the server, else `PATH`. A client older than the server it dumps (or than the `pg_dump` that wrote an
//! archive) fails up front with both versions and what to install.

use std::fmt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use tokio::process::Command;

use crate::backup::BackupError;

/// Where Debian and Ubuntu install each major version's programs (`<root>/<major>/bin`).
pub const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// How long `<tool> --version` may take.
const VERSION_LIMIT: Duration = Duration::from_secs(10);

/// A PostgreSQL major version: `(16, 0)` for 16, `(9, 6)` for 9.6 (before 10 the major had two parts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Major(pub u32, pub u32);

impl Major {
    /// From `server_version_num` (`160002`, `90624`).
    pub fn from_num(num: u32) -> Major {
        if num >= 100_000 {
            Major(num / 10_000, 0)
        } else {
            Major(num / 10_000, (num / 100) % 100)
        }
    }

    /// From a version string (`16.2`, `9.6.24`, `17beta1`, `15.18 (Debian ...)`).
    pub fn parse(version: &str) -> Option<Major> {
        let mut parts = version.split(|c: char| !c.is_ascii_digit());
        let first: u32 = parts.next()?.parse().ok()?;
        if first >= 10 {
            return Some(Major(first, 0));
        }
        let second: u32 = parts.next()?.parse().ok()?;
        Some(Major(first, second))
    }

    /// Debian's client package for this version.
    pub fn package(self) -> String {
        format!("postgresql-client-{self}")
    }
}

impl fmt::Display for Major {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 >= 10 {
            write!(f, "{}", self.0)
        } else {
            write!(f, "{}.{}", self.0, self.1)
        }
    }
}

/// The server being dumped or restored into.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Server {
    /// `server_version_num`, e.g. `150018`.
    pub num: u32,
    /// `15.18` (the first word of `server_version`).
    pub version: String,
    pub major: Major,
}

/// A `pg_dump` or `pg_restore` found and asked for its version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
    /// What `--version` printed: `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
    pub version_line: String,
    /// `15.18`.
    pub version: String,
    pub major: Major,
}

/// Finds `name` (see the module doc for the order) and runs `--version`. `server` picks the matching version;
/// without it (reading an archive only) the highest installed one is used.
pub async fn find(
    name: &'static str,
    bin_dir: Option<&Path>,
    server: Option<&Server>,
) -> Result<Tool, BackupError> {
    let path = locate(name, bin_dir, server, Path::new(VERSIONED_ROOT))?;
    let mut cmd = Command::new(&path);
    cmd.arg("--version")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    let cannot = |why: String| {
        BackupError::Client(format!("cannot run {} --version: {why}", path.display()))
    };
    let out = match tokio::time::timeout(VERSION_LIMIT, cmd.output()).await {
        Err(_) => return Err(cannot(format!("no answer within {VERSION_LIMIT:?}"))),
        Ok(Err(e)) => return Err(cannot(e.to_string())),
        Ok(Ok(out)) => out,
    };
    let stdout = String::from_utf8_lossy(&out.stdout);
    let line = stdout.lines().next().unwrap_or("").trim().to_string();
    let version = version_in(&line);
    match version.as_deref().and_then(Major::parse) {
        Some(major) if out.status.success() => Ok(Tool {
            name,
            path,
            version_line: line,
            version: version.unwrap_or_default(),
            major,
        }),
        _ => Err(cannot(format!(
            "it printed {line:?} ({}), not a PostgreSQL version",
            out.status
        ))),
    }
}

/// Fails unless `tool` is at least as new as the server (`pg_dump` refuses older servers' successors).
pub fn check_server(tool: &Tool, server: &Server) -> Result<(), BackupError> {
    if tool.major >= server.major {
        return Ok(());
    }
    let verb = if tool.name == "pg_dump" {
        "dump"
    } else {
        "work with"
    };
    Err(BackupError::Client(format!(
        "{} {} ({}) cannot {verb} a PostgreSQL {} server: install the PostgreSQL {} client ({}) or set \
         [backup] bin_dir to the folder of a {} {} or newer",
        tool.name,
        tool.version,
        tool.path.display(),
        server.version,
        server.major,
        server.major.package(),
        tool.name,
        server.major
    )))
}

/// Fails unless `tool` (`pg_restore`) can read an archive written by the `pg_dump` whose `--version` line is
/// `written_by` (an archive from a newer major version may use a format it does not know).
pub fn check_archive(tool: &Tool, written_by: &str) -> Result<(), BackupError> {
    let Some(dumped) = version_in(written_by).as_deref().and_then(Major::parse) else {
        return Ok(());
    };
    if tool.major >= dumped {
        return Ok(());
    }
    Err(BackupError::Client(format!(
        "{} {} ({}) cannot read an archive written by {written_by}: install the PostgreSQL {dumped} client \
         ({}) or set [backup] bin_dir to the folder of a {} {dumped} or newer",
        tool.name,
        tool.version,
        tool.path.display(),
        dumped.package(),
        tool.name,
    )))
}

/// The version in a `--version` line: the word after `(PostgreSQL)`, else the first word starting with a digit.
fn version_in(line: &str) -> Option<String> {
    let after = line
        .split_once("(PostgreSQL)")
        .map_or(line, |(_, rest)| rest);
    after
        .split_whitespace()
        .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
        .map(str::to_string)
}

fn locate(
    name: &str,
    bin_dir: Option<&Path>,
    server: Option<&Server>,
    root: &Path,
) -> Result<PathBuf, BackupError> {
    let wanted = server.map(|s| s.major);
    let install = match wanted {
        Some(m) => format!("install the PostgreSQL {m} client ({})", m.package()),
        None => "install the PostgreSQL client (postgresql-client)".to_string(),
    };
    if let Some(dir) = bin_dir {
        let path = dir.join(name);
        return if is_executable(&path) {
            Ok(path)
        } else {
            Err(BackupError::Client(format!(
                "{name} not found in {} ([backup] bin_dir): {install} there, or fix bin_dir",
                dir.display()
            )))
        };
    }
    let versioned = versioned_dirs(root);
    let exact = wanted.and_then(|m| {
        versioned
            .iter()
            .find(|(v, _)| *v == m)
            .map(|(_, d)| d.join(name))
    });
    let newer = versioned
        .iter()
        .filter(|(v, _)| wanted.is_none_or(|m| *v >= m))
        .map(|(_, d)| d.join(name))
        .find(|p| is_executable(p));
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| is_executable(p))
    });
    // Only older versions installed and none on PATH: take the highest, so the version check says what is wrong.
    let older = versioned
        .iter()
        .map(|(_, d)| d.join(name))
        .find(|p| is_executable(p));
    exact
        .filter(|p| is_executable(p))
        .or(newer)
        .or(on_path)
        .or(older)
        .ok_or_else(|| {
            BackupError::Client(format!(
                "{name} not found (looked in {}/*/bin and on PATH): {install}, or set [backup] bin_dir",
                root.display()
            ))
        })
}

/// `<root>/<version>/bin` with each version, highest first.
fn versioned_dirs(root: &Path) -> Vec<(Major, PathBuf)> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut dirs: Vec<(Major, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            if !name.starts_with(|c: char| c.is_ascii_digit()) {
                return None;
            }
            Some((Major::parse(&name)?, e.path().join("bin")))
        })
        .collect();
    dirs.sort_by_key(|d| std::cmp::Reverse(d.0));
    dirs
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn majors_old_and_new() {
        assert_eq!(Major::from_num(160_002), Major(16, 0));
        assert_eq!(Major::from_num(90_624), Major(9, 6));
        assert_eq!(Major::parse("9.6.24"), Some(Major(9, 6)));
        assert_eq!(Major::parse("17beta1"), Some(Major(17, 0)));
        assert_eq!(
            version_in("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)").as_deref(),
            Some("15.18")
        );
        assert_eq!(Major(9, 6).to_string(), "9.6");
        assert!(Major(9, 6) < Major(10, 0));
    }

    #[test]
    fn picks_the_server_major_then_a_newer_one() {
        let root = tempfile::tempdir().unwrap();
        for v in ["13", "15", "17"] {
            let bin = root.path().join(v).join("bin");
            std::fs::create_dir_all(&bin).unwrap();
            let tool = bin.join("pg_dump");
            std::fs::write(&tool, "").unwrap();
            std::fs::set_permissions(&tool, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let server = |num| Server {
            num,
            version: String::new(),
            major: Major::from_num(num),
        };
        let at = |num| locate("pg_dump", None, Some(&server(num)), root.path()).unwrap();
        assert_eq!(at(150_004), root.path().join("15/bin/pg_dump"));
        assert_eq!(at(160_001), root.path().join("17/bin/pg_dump"));
        let any = locate("pg_dump", None, None, root.path()).unwrap();
        assert_eq!(any, root.path().join("17/bin/pg_dump"));
        let missing = locate(
            "pg_dump",
            Some(Path::new("/nonexistent")),
            None,
            root.path(),
        );
        assert!(matches!(missing, Err(BackupError::Client(_))));
    }
}
