//! Scratch databases: a new database next to the plan's on the same server (`<prefix><8 hex>`, same encoding and
//! locale), for a rehearsal on a restored copy or for replaying the migration history (drift), and always dropped
//! afterwards: explicitly on every path, by a background task if the future holding it is dropped half-way. Imports
//! the server talk of [`super::catalog`] and [`super::conn`], `migrate::db` and `plan`.

use std::time::Duration;

use sqlx::Connection;
use tokio_util::sync::CancellationToken;

use super::catalog;
use super::conn::{self, Conn};
use super::tools::Server;
use crate::backup::BackupError;
use crate::migrate::db::Db;
use crate::plan::{Database, Resolved};

/// Longest the final drop of a scratch database may take.
const CLEANUP_LIMIT: Duration = Duration::from_secs(60);

/// A scratch database while it exists. Dropping this value without [`Scratch::drop_now`] (a future abandoned
/// half-way) leaves the drop to a background task on the current runtime.
pub struct Scratch {
    spec: Database,
    name: String,
    server: Server,
    armed: bool,
}

impl Scratch {
    /// Creates `<prefix><8 hex>` through `admin` (a session on the plan's database `spec`, on server `server`).
    pub(super) async fn create(
        admin: &mut Db,
        spec: &Database,
        prefix: &str,
        server: &Server,
    ) -> Result<Scratch, BackupError> {
        let name = format!(
            "{prefix}{}",
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        catalog::create_database(admin, &name, server).await?;
        Ok(Scratch {
            spec: spec.clone(),
            name,
            server: server.clone(),
            armed: true,
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The plan's `[database]` with its URL (and the URL shown) pointed at the scratch database.
    pub fn database(&self) -> Database {
        Database {
            url: Resolved {
                value: conn::with_database(&self.spec.url.value, &self.name),
                display: conn::with_database(&self.spec.url.display, &self.name),
            },
            ..self.spec.clone()
        }
    }

    /// Drops the scratch database through `admin`, or a new session if that one broke; bounded in time and deaf to
    /// any cancel (it must happen). The error is the operator's instruction for dropping it by hand.
    pub(super) async fn drop_now(mut self, admin: &mut Db) -> Result<(), String> {
        self.armed = false;
        let (spec, name, server) = (&self.spec, &self.name, &self.server);
        let attempt = async {
            if catalog::drop_database(admin, name, server).await.is_ok() {
                return Ok(());
            }
            let conn = Conn::parse(&spec.url.value)?;
            let never = CancellationToken::new();
            let mut fresh = catalog::connect(spec, &spec.url.value, &conn, &never).await?;
            let dropped = catalog::drop_database(&mut fresh, name, server).await;
            let _ = fresh.conn.close().await;
            dropped
        };
        let outcome = tokio::time::timeout(CLEANUP_LIMIT, attempt)
            .await
            .unwrap_or_else(|_| {
                Err(BackupError::Database {
                    context: format!("dropping database {name}"),
                    message: format!("no answer within {CLEANUP_LIMIT:?}"),
                })
            });
        outcome.map_err(|e| {
            format!(
                "the scratch database {name} could not be dropped ({e}): drop it by hand with DROP DATABASE \"{name}\""
            )
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !self.armed {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!(database = %self.name, "scratch database left behind (no runtime to drop it)");
            return;
        };
        let (spec, name, server) = (self.spec.clone(), self.name.clone(), self.server.clone());
        runtime.spawn(async move {
            let Ok(conn) = Conn::parse(&spec.url.value) else {
                return;
            };
            let never = CancellationToken::new();
            let dropped = match catalog::connect(&spec, &spec.url.value, &conn, &never).await {
                Ok(mut admin) => catalog::drop_database(&mut admin, &name, &server).await,
                Err(e) => Err(e),
            };
            if let Err(e) = dropped {
                tracing::warn!(database = %name, error = %e, "scratch database of an abandoned task not dropped");
            }
        });
    }
}

/// A scratch database together with the session on the plan's database that made it and will drop it: what
/// callers outside `backup` use ([`ScratchDatabase::create`], then [`ScratchDatabase::drop`]).
pub struct ScratchDatabase {
    admin: Db,
    scratch: Scratch,
}

impl ScratchDatabase {
    /// Connects to the plan's database `spec` and creates `<prefix><8 hex>` next to it. Needs CREATEDB: without it,
    /// [`BackupError::NoCreateDb`] naming the role, before anything is created. A cancel abandons the connection.
    pub async fn create(
        spec: &Database,
        prefix: &str,
        cancel: &CancellationToken,
    ) -> Result<ScratchDatabase, BackupError> {
        let conn = Conn::parse(&spec.url.value)?;
        let mut admin = catalog::connect(spec, &spec.url.value, &conn, cancel).await?;
        let made = async {
            let (role, may) = catalog::may_create_databases(&mut admin).await?;
            if !may {
                return Err(BackupError::NoCreateDb { role });
            }
            let server = catalog::server(&mut admin).await?;
            Scratch::create(&mut admin, spec, prefix, &server).await
        }
        .await;
        match made {
            Ok(scratch) => Ok(ScratchDatabase { admin, scratch }),
            Err(e) => {
                let _ = admin.conn.close().await;
                Err(e)
            }
        }
    }

    pub fn name(&self) -> &str {
        self.scratch.name()
    }

    /// The plan's `[database]` pointed at the scratch database (its URL's password and parameters kept).
    pub fn database(&self) -> Database {
        self.scratch.database()
    }

    /// Drops the scratch database (see [`Scratch::drop_now`]) and closes the session. The error says how to drop
    /// it by hand.
    pub async fn drop(self) -> Result<(), String> {
        let ScratchDatabase { mut admin, scratch } = self;
        let dropped = scratch.drop_now(&mut admin).await;
        let _ = admin.conn.close().await;
        dropped
    }
}
