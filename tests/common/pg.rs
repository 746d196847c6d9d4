//! The shared PostgreSQL harness of the integration tests: a fresh, uniquely named database per test.
//!
//! With `TEST_DATABASE_URL` set, databases are created on that server (the URL must allow
//! `CREATE DATABASE`). Otherwise the first test that asks for a database starts one throwaway cluster
//! for the whole test process from the machine's PostgreSQL binaries (`initdb`, `pg_ctl`, `postgres`
//! on PATH or under `/usr/lib/postgresql/*/bin`); it listens on 127.0.0.1 only, at a free port, with
//! durability turned off for speed, in `/dev/shm` when that has room. Running as root, the server runs
//! as the `postgres` OS user.
//!
//! There is no global teardown in Rust's test harness, so the cluster is cleaned up by a watchdog: a
//! detached `sh`, in its own process group, whose stdin is a pipe only this process holds the write
//! end of (std opens pipes close-on-exec, so no other child inherits it). However this process ends
//! (pass, fail, panic, abort, SIGKILL), the kernel closes that end; the watchdog's `read` sees EOF,
//! then it runs `pg_ctl stop -m immediate` and, once no process works in it any more, removes the
//! cluster's temporary folder.
//!
//! No binaries and no `TEST_DATABASE_URL`: the test that asked for a database panics with
//! [`MISSING_BINARIES`]; it is never skipped.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::io::Read;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use nix::unistd::{User, chown, geteuid};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, ConnectOptions, Connection, PgConnection, PgPool};

/// Environment variable naming an admin URL of an existing server to use instead of a throwaway cluster.
pub const TEST_DATABASE_URL: &str = "TEST_DATABASE_URL";

/// The failure when there is neither a server to use nor binaries to start one.
pub const MISSING_BINARIES: &str = "PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin: install them (Debian/Ubuntu: apt-get install postgresql) or set TEST_DATABASE_URL";

/// Where Debian and Ubuntu install each PostgreSQL major version (`<root>/<version>/bin`).
pub const VERSIONED_ROOT: &str = "/usr/lib/postgresql";

/// Prefix of the throwaway cluster's temporary folder (`pgrep -f deckhand-pg-` finds its server).
pub const TEMP_PREFIX: &str = "deckhand-pg-";

/// Prefix of every database made by [`fresh_db`].
pub const DB_PREFIX: &str = "deckhand_t_";

/// Memory-backed folder preferred for the cluster, and the free space it must have to be used
/// (a container's default 64 MiB is too small for a few databases of ~8 MiB each).
const SHM_DIR: &str = "/dev/shm";
const SHM_MIN_FREE: u64 = 1 << 30;
/// Ports tried when the free port found was taken before the server could bind it.
const START_ATTEMPTS: usize = 5;
/// Bound on `pg_ctl start -w` and on the TCP check after it (a hang guard, not a performance bound).
const READY_LIMIT: Duration = Duration::from_secs(60);
/// Most connections one [`TestDb::pool`] opens: tests run in parallel against one server.
const POOL_MAX: u32 = 5;
/// How much of the server log a start-up error quotes.
const LOG_TAIL_BYTES: usize = 6_000;

/// The throwaway cluster of this test process, as started.
#[derive(Debug, Clone)]
pub struct ClusterInfo {
    /// Temporary folder holding `data/`, `server.log` and the unix socket; removed by the watchdog.
    pub dir: PathBuf,
    pub data_dir: PathBuf,
    pub log_file: PathBuf,
    /// Folder of the `initdb`, `pg_ctl` and `postgres` used.
    pub bin_dir: PathBuf,
    pub port: u16,
    pub postmaster_pid: i32,
    pub watchdog_pid: u32,
    /// From the first request to the server accepting TCP connections (initdb included).
    pub startup: Duration,
}

/// The server databases are made on.
enum Server {
    External {
        admin_url: String,
    },
    Own {
        info: ClusterInfo,
        admin_url: String,
        _watchdog: Child,
    },
}

impl Server {
    fn admin_url(&self) -> &str {
        match self {
            Server::External { admin_url } | Server::Own { admin_url, .. } => admin_url,
        }
    }
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();

/// The server, started on first use (once per process, whichever thread gets here first).
fn server() -> Result<&'static Server, String> {
    SERVER
        .get_or_init(start_server)
        .as_ref()
        .map_err(Clone::clone)
}

/// Same, from async code: a first start-up runs on the blocking pool, not on the runtime's thread.
async fn server_async() -> &'static Server {
    let started = match SERVER.get() {
        Some(done) => Ok(done.as_ref().map_err(Clone::clone)),
        None => tokio::task::spawn_blocking(server).await,
    };
    match started {
        Ok(Ok(server)) => server,
        Ok(Err(e)) => panic!("{e}"),
        Err(e) => panic!("PostgreSQL harness start-up task failed: {e}"),
    }
}

/// The throwaway cluster, starting it if needed; `None` when `TEST_DATABASE_URL` is in use.
/// Panics, like [`fresh_db`], when no server can be had.
pub fn own_cluster() -> Option<&'static ClusterInfo> {
    match server() {
        Ok(Server::Own { info, .. }) => Some(info),
        Ok(Server::External { .. }) => None,
        Err(e) => panic!("{e}"),
    }
}

/// A database of its own for one test, dropped (`WITH (FORCE)`) when this value is dropped.
#[derive(Debug)]
pub struct TestDb {
    /// `postgres://postgres@127.0.0.1:PORT/<name>` for the throwaway cluster.
    pub url: String,
    pub name: String,
    pub host: String,
    pub port: u16,
    admin_url: String,
}

/// Creates a new empty database (`deckhand_t_<uuid>`, UTF8, C locale, from `template0`).
/// Panics with the reason when that is impossible, including when no server can be had.
pub async fn fresh_db() -> TestDb {
    let admin_url = server_async().await.admin_url().to_owned();
    let name = format!("{DB_PREFIX}{}", uuid::Uuid::new_v4().simple());
    let mut admin = connect_or_panic(&admin_url, "the admin connection").await;
    // template0 never has sessions (template1 may, on a shared server) and has no local additions.
    let create = format!(
        "CREATE DATABASE {} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'",
        quote_ident(&name)
    );
    if let Err(e) = sqlx::raw_sql(AssertSqlSafe(create))
        .execute(&mut admin)
        .await
    {
        panic!("creating test database {name} failed: {e}");
    }
    let _ = admin.close().await;
    let url = database_url(&admin_url, &name)
        .unwrap_or_else(|e| panic!("cannot derive a database URL from {admin_url}: {e:#}"));
    let options = PgConnectOptions::from_str(&url)
        .unwrap_or_else(|e| panic!("test database URL {url} does not parse: {e}"));
    TestDb {
        host: options.get_host().to_owned(),
        port: options.get_port(),
        url,
        name,
        admin_url,
    }
}

/// A connection to the server's admin database (for looking at `pg_database` and the like).
pub async fn admin_connect() -> PgConnection {
    let admin_url = server_async().await.admin_url().to_owned();
    connect_or_panic(&admin_url, "the admin connection").await
}

/// Whether a database of this name exists on the server (a scratch database left behind, say).
pub async fn database_exists(name: &str) -> bool {
    let mut admin = admin_connect().await;
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_database WHERE datname = $1")
        .bind(name)
        .fetch_one(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("looking for database {name}: {e}"));
    let _ = admin.close().await;
    n > 0
}

impl TestDb {
    /// Options for this database, to adjust (e.g. `application_name`) before connecting.
    pub fn options(&self) -> PgConnectOptions {
        PgConnectOptions::from_str(&self.url)
            .unwrap_or_else(|e| panic!("test database URL {} does not parse: {e}", self.url))
    }

    pub async fn connect(&self) -> PgConnection {
        connect_or_panic(&self.url, &self.name).await
    }

    /// A pool of at most a few connections, opened on this test's runtime.
    pub async fn pool(&self) -> PgPool {
        PgPoolOptions::new()
            .max_connections(POOL_MAX)
            .connect_with(self.options())
            .await
            .unwrap_or_else(|e| panic!("cannot open a pool to test database {}: {e}", self.name))
    }
}

impl Drop for TestDb {
    /// Drop can't await, and a runtime can't block inside another: drop the database from a new thread.
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        let spawned = std::thread::Builder::new()
            .name("pg-drop-database".into())
            .spawn(move || drop_database(&admin_url, &name));
        let outcome = match spawned {
            Ok(handle) => handle
                .join()
                .unwrap_or_else(|_| Err(anyhow::anyhow!("the dropping thread panicked"))),
            Err(e) => Err(anyhow::anyhow!("cannot start the dropping thread: {e}")),
        };
        if let Err(e) = outcome {
            eprintln!(
                "pg harness: could not drop test database {}: {e:#}",
                self.name
            );
        }
    }
}

fn drop_database(admin_url: &str, name: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building a runtime")?;
    runtime.block_on(async {
        let mut admin = PgConnection::connect(admin_url)
            .await
            .context("connecting as admin")?;
        let sql = format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", quote_ident(name));
        sqlx::raw_sql(AssertSqlSafe(sql))
            .execute(&mut admin)
            .await
            .context("DROP DATABASE")?;
        let _ = admin.close().await;
        Ok(())
    })
}

async fn connect_or_panic(url: &str, what: &str) -> PgConnection {
    let options = PgConnectOptions::from_str(url)
        .unwrap_or_else(|e| panic!("URL of {what} ({url}) does not parse: {e}"));
    options
        .connect()
        .await
        .unwrap_or_else(|e| panic!("cannot connect to {what} at {url}: {e}"))
}

/// The admin URL with its database replaced by `name` (query parameters such as `sslmode` kept).
fn database_url(admin_url: &str, name: &str) -> anyhow::Result<String> {
    let mut url = url::Url::parse(admin_url)?;
    url.set_path(&format!("/{name}"));
    Ok(url.into())
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// Finds a PostgreSQL program (`pg_dump`, `pg_restore`, `psql`, ...): PATH first, then the highest
/// version under `/usr/lib/postgresql/*/bin`.
pub fn pg_bin(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(versioned_bin_dirs(Path::new(VERSIONED_ROOT)))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

/// The folder to run the server from: the real folder of the `initdb` on PATH, or else the highest
/// `<versions_root>/<version>/bin`; it must hold all of `initdb`, `pg_ctl` and `postgres` (they
/// find each other by their own location, so they must sit together).
pub fn server_bin_dir_in(path_var: &OsStr, versions_root: &Path) -> Option<PathBuf> {
    let on_path = std::env::split_paths(path_var)
        .map(|dir| dir.join("initdb"))
        .find(|p| is_executable(p))
        .and_then(|initdb| std::fs::canonicalize(initdb).ok())
        .and_then(|real| real.parent().map(Path::to_path_buf));
    on_path
        .into_iter()
        .chain(versioned_bin_dirs(versions_root))
        .find(|dir| {
            ["initdb", "pg_ctl", "postgres"]
                .iter()
                .all(|b| is_executable(&dir.join(b)))
        })
}

/// `<root>/<version>/bin` for each version folder, highest version first (`16` > `15` > `9.6`).
fn versioned_bin_dirs(root: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(root) else {
        return Vec::new();
    };
    let mut versions: Vec<(Vec<u64>, PathBuf)> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            let key = name
                .split('.')
                .map(|part| part.parse::<u64>().ok())
                .collect::<Option<Vec<u64>>>()?;
            Some((key, e.path().join("bin")))
        })
        .collect();
    versions.sort_by(|a, b| b.0.cmp(&a.0));
    versions.into_iter().map(|(_, dir)| dir).collect()
}

fn is_executable(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

fn start_server() -> Result<Server, String> {
    if let Some(url) = std::env::var_os(TEST_DATABASE_URL).filter(|v| !v.is_empty()) {
        let admin_url = url
            .into_string()
            .map_err(|_| format!("{TEST_DATABASE_URL} is not valid UTF-8"))?;
        return Ok(Server::External { admin_url });
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    let bin_dir =
        server_bin_dir_in(&path, Path::new(VERSIONED_ROOT)).ok_or(MISSING_BINARIES.to_owned())?;
    start_cluster(&bin_dir)
        .map_err(|e| format!("starting the throwaway PostgreSQL cluster failed: {e:#}"))
}

fn start_cluster(bin_dir: &Path) -> anyhow::Result<Server> {
    let t0 = Instant::now();
    let owner = server_owner()?;
    let dir = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempdir_in(cluster_parent())
        .context("creating the cluster's temporary folder")?
        .keep();
    if let Some(user) = &owner {
        chown(&dir, Some(user.uid), Some(user.gid))
            .with_context(|| format!("giving {} to the postgres user", dir.display()))?;
    }
    let data_dir = dir.join("data");
    let log_file = dir.join("server.log");
    let pg_ctl = bin_dir.join("pg_ctl");

    // Before anything else, so even a start-up that fails half-way is cleaned up.
    let watchdog = spawn_watchdog(&pg_ctl, &data_dir, &dir, owner.as_ref())?;

    let mut initdb = pg_command(&bin_dir.join("initdb"), &dir, owner.as_ref());
    initdb
        .args([
            "--auth=trust",
            "--username=postgres",
            "--encoding=UTF8",
            "--locale=C",
            "--no-sync",
            "--no-instructions",
            "-D",
        ])
        .arg(&data_dir);
    run(&mut initdb, "initdb")?;

    let mut attempt = 0;
    let port = loop {
        attempt += 1;
        let port = free_port()?;
        let log_before = std::fs::metadata(&log_file).map_or(0, |m| m.len());
        let mut start = pg_command(&pg_ctl, &dir, owner.as_ref());
        start
            .args([
                "start",
                "-w",
                "-t",
                &READY_LIMIT.as_secs().to_string(),
                "-D",
            ])
            .arg(&data_dir)
            .arg("-l")
            .arg(&log_file)
            .arg("-o")
            .arg(server_options(port, &dir));
        match run(&mut start, "pg_ctl start") {
            Ok(()) => break port,
            Err(e) => {
                let log = read_log_from(&log_file, log_before);
                if attempt < START_ATTEMPTS && log.contains("Address already in use") {
                    continue;
                }
                bail!("{e:#}\nserver log {}:\n{}", log_file.display(), tail(&log));
            }
        }
    };
    wait_for_tcp(port).map_err(|e| {
        anyhow::anyhow!(
            "{e:#}\nserver log {}:\n{}",
            log_file.display(),
            tail(&read_log_from(&log_file, 0))
        )
    })?;
    let postmaster_pid = std::fs::read_to_string(data_dir.join("postmaster.pid"))
        .context("reading postmaster.pid")?
        .lines()
        .next()
        .and_then(|l| l.trim().parse::<i32>().ok())
        .context("postmaster.pid has no pid on its first line")?;
    let info = ClusterInfo {
        dir,
        data_dir,
        log_file,
        bin_dir: bin_dir.to_path_buf(),
        port,
        postmaster_pid,
        watchdog_pid: watchdog.id(),
        startup: t0.elapsed(),
    };
    eprintln!(
        "pg harness: cluster in {} on port {} ready after {:?}",
        info.dir.display(),
        info.port,
        info.startup
    );
    Ok(Server::Own {
        admin_url: format!("postgres://postgres@127.0.0.1:{port}/postgres"),
        info,
        _watchdog: watchdog,
    })
}

/// Where the cluster's folder goes: `/dev/shm` when it is there with room to spare, since creating a
/// database creates hundreds of files and that is ten times faster in memory than on a slow disk;
/// otherwise the usual temporary folder.
fn cluster_parent() -> PathBuf {
    let shm = Path::new(SHM_DIR);
    #[allow(clippy::useless_conversion)] // the statvfs field types are not u64 on every platform
    let room = nix::sys::statvfs::statvfs(shm).map_or(0, |s| {
        u64::from(s.blocks_available()).saturating_mul(u64::from(s.fragment_size()))
    });
    if shm.is_dir() && room >= SHM_MIN_FREE {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// The OS user the server runs as: `postgres` when running as root (PostgreSQL refuses root).
fn server_owner() -> anyhow::Result<Option<User>> {
    if !geteuid().is_root() {
        return Ok(None);
    }
    match User::from_name("postgres").context("looking up the postgres user")? {
        Some(user) => Ok(Some(user)),
        None => bail!(
            "running as root, but there is no `postgres` OS user to run the server as: \
             create one (useradd --system postgres), run the tests as another user, or set {TEST_DATABASE_URL}"
        ),
    }
}

/// A command run in the cluster's folder, as the server's user, without inherited `PG*` settings, in
/// a process group of its own: a Ctrl-C meant for the tests must not kill initdb's bootstrap backend
/// half-way (that leaks its shared memory segments); the watchdog cleans up after an interrupted run.
fn pg_command(program: &Path, dir: &Path, owner: Option<&User>) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(dir).stdin(Stdio::null()).process_group(0);
    without_pg_env(&mut cmd);
    if let Some(user) = owner {
        // std also clears supplementary groups when dropping from root.
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    cmd
}

fn without_pg_env(cmd: &mut Command) {
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PG") {
            cmd.env_remove(key);
        }
    }
}

fn run(cmd: &mut Command, what: &str) -> anyhow::Result<()> {
    let out = cmd
        .output()
        .with_context(|| format!("cannot run {what} ({:?})", cmd.get_program()))?;
    if !out.status.success() {
        bail!(
            "{what} failed ({}):\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// The options `pg_ctl -o` hands to `postgres` (through `sh`, hence the quoting).
fn server_options(port: u16, socket_dir: &Path) -> String {
    let mut opts = format!("-p {port} -c listen_addresses=127.0.0.1");
    let _ = write!(
        opts,
        " -c unix_socket_directories={}",
        sh_quote(&socket_dir.to_string_lossy())
    );
    for setting in [
        "max_connections=200",
        // Inside the data folder (pg_dynshmem), so it goes with it, never left in /dev/shm.
        "dynamic_shared_memory_type=mmap",
        "fsync=off",
        "synchronous_commit=off",
        "full_page_writes=off",
    ] {
        let _ = write!(opts, " -c {setting}");
    }
    opts
}

fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}

/// A port that was free a moment ago (the server may still lose a race for it: the caller retries).
fn free_port() -> anyhow::Result<u16> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).context("finding a free port")?;
    Ok(listener.local_addr()?.port())
}

fn wait_for_tcp(port: u16) -> anyhow::Result<()> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let deadline = Instant::now() + READY_LIMIT;
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            Ok(_) => return Ok(()),
            Err(e) if Instant::now() >= deadline => {
                bail!("server did not accept TCP connections on {addr} within {READY_LIMIT:?}: {e}")
            }
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
}

fn read_log_from(log_file: &Path, offset: u64) -> String {
    let mut bytes = Vec::new();
    if let Ok(mut f) = std::fs::File::open(log_file) {
        let _ = f.read_to_end(&mut bytes);
    }
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    String::from_utf8_lossy(&bytes[start..]).into_owned()
}

fn tail(text: &str) -> &str {
    let mut start = text.len().saturating_sub(LOG_TAIL_BYTES);
    while !text.is_char_boundary(start) {
        start += 1;
    }
    &text[start..]
}

/// Starts the watchdog described in this module's doc. It runs as the server's user (so `pg_ctl`
/// accepts it and it may delete the folder it owns), in its own process group (a Ctrl-C to the
/// terminal's foreground group does not reach it), with output discarded.
fn spawn_watchdog(
    pg_ctl: &Path,
    data_dir: &Path,
    dir: &Path,
    owner: Option<&User>,
) -> anyhow::Result<Child> {
    // A process that dies during initdb or `pg_ctl start` leaves them running on (in their own
    // process group): wait until nothing works in the folder (a process whose cwd is inside it, seen
    // through /proc) before removing it. Removing files under a running backend makes it PANIC,
    // which leaks its shared memory segments in /dev/shm. Bounded: about a minute, then remove anyway.
    const SCRIPT: &str = r#"trap '' HUP INT
pg_ctl=$0 data=$1 dir=$2
busy() {
    for p in /proc/[0-9]*; do
        case $(readlink "$p/cwd" 2>/dev/null) in "$dir" | "$dir"/*) return 0 ;; esac
    done
    return 1
}
read -r _ignored
i=0
while [ "$i" -lt 300 ]; do
    "$pg_ctl" stop -D "$data" -m immediate -w -t 30 >/dev/null 2>&1
    if ! busy; then
        rm -rf -- "$dir" 2>/dev/null
        [ -e "$dir" ] || exit 0
    fi
    i=$((i + 1))
    sleep 0.2
done
rm -rf -- "$dir""#;
    let mut cmd = Command::new("/bin/sh");
    cmd.arg("-c")
        .arg(SCRIPT)
        .arg(pg_ctl)
        .arg(data_dir)
        .arg(dir)
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0);
    without_pg_env(&mut cmd);
    if let Some(user) = owner {
        cmd.uid(user.uid.as_raw()).gid(user.gid.as_raw());
    }
    cmd.spawn().context("starting the cluster's watchdog")
}
