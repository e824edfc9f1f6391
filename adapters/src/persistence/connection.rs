//! Opening the database: pool settings, SQLite pragmas, migrations.

use std::time::Duration;

use anyhow::Context as _;
use application::Unavailable;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    Statement, TransactionTrait,
};

use crate::redact::{redact_url, scrub};

/// A connected database (cheap to clone: it is a pool).
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
}

/// How long a client is told to wait when the database is unreachable.
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

/// Pool settings (`DATABASE_MAX_CONNECTIONS`, `DATABASE_CONNECT_TIMEOUT_SECONDS`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most; `None` picks the backend's default (4 for a SQLite file, 10
    /// for PostgreSQL — on 2 cores more only queue inside the server).
    pub max_connections: Option<u32>,
    /// How long to wait for a connection (opening one, or taking one from a busy pool)
    /// before the request gets 503.
    pub connect_timeout_secs: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: None,
            connect_timeout_secs: 5,
        }
    }
}

/// Connects with the default pool settings. See [`connect_with`].
///
/// # Errors
/// When the database cannot be reached or opened.
pub async fn connect(url: &str) -> anyhow::Result<Database> {
    connect_with(url, PoolSettings::default()).await
}

/// Connects with pool settings suited to a 2-core machine.
///
/// SQLite: the file is created when missing (`mode=rwc`); WAL lets readers run beside the
/// one writer; `synchronous=FULL` because a signup that got its 201 must survive a power
/// cut, and the fsync per commit is cheap next to the Argon2 hash every signup and login
/// already pays. sea-orm would otherwise give SQLite a single connection, serialising
/// every query: reads get a small pool, and `busy_timeout` makes writers queue instead of
/// failing.
///
/// # Errors
/// When the database cannot be reached or opened.
/// The file a `sqlite:` URL names, when it names one that does not exist yet (an
/// in-memory database or a PostgreSQL URL is `None`). `migrate status` reads it so that
/// asking about a database never creates one.
pub fn missing_sqlite_file(url: &str) -> Option<std::path::PathBuf> {
    let rest = url.strip_prefix("sqlite:")?;
    if rest.contains(":memory:") || rest.contains("mode=memory") {
        return None;
    }
    let path = rest.strip_prefix("//").unwrap_or(rest);
    let path = path.split('?').next().unwrap_or(path);
    if path.is_empty() {
        return None;
    }
    let path = std::path::PathBuf::from(path);
    (!path.exists()).then_some(path)
}

/// The names of every migration this binary knows, oldest first.
pub fn known_migrations() -> Vec<String> {
    Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect()
}

pub async fn connect_with(url: &str, pool: PoolSettings) -> anyhow::Result<Database> {
    let raw_url = url;
    let is_sqlite = url.starts_with("sqlite:");
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let url = if is_sqlite && !in_memory && !url.contains("mode=") {
        if let Some(path) = missing_sqlite_file(url) {
            create_private_file(&path).map_err(|err| {
                anyhow::anyhow!(
                    "DATABASE_URL {}: cannot create the SQLite file {}: {err}",
                    redact_url(raw_url),
                    path.display()
                )
            })?;
        }
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    };
    let mut options = ConnectOptions::new(url.clone());
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(pool.connect_timeout_secs))
        .acquire_timeout(Duration::from_secs(pool.connect_timeout_secs));
    if is_sqlite {
        // An in-memory database exists per connection: it must have exactly one.
        if in_memory {
            // An in-memory database lives and dies with its one connection: never let the
            // pool recycle it.
            options
                .max_connections(1)
                .min_connections(1)
                .idle_timeout(None)
                .max_lifetime(None);
        } else {
            options.max_connections(pool.max_connections.unwrap_or(4));
        }
        options.map_sqlx_sqlite_opts(move |opts| {
            let opts = opts
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(5))
                .synchronous(SqliteSynchronous::Full);
            if in_memory {
                opts
            } else {
                opts.journal_mode(SqliteJournalMode::Wal)
            }
        });
    } else {
        options
            .max_connections(pool.max_connections.unwrap_or(10))
            .min_connections(1);
    }
    // Drivers echo the connection string they could not use, password and all: the
    // error is rebuilt as text with the URL and its credentials redacted.
    let conn = sea_orm::Database::connect(options).await.map_err(|err| {
        let cause = scrub(&scrub(&err.to_string(), &url), raw_url);
        anyhow::anyhow!(
            "DATABASE_URL {}: cannot connect to the database: {cause}",
            redact_url(raw_url)
        )
    })?;
    Ok(Database { conn })
}

/// Creates an empty SQLite file that only its owner may read (SQLite takes a new file as
/// an empty database, and gives its `-wal` and `-shm` files the same permissions):
/// password hashes, sessions and the audit log are nobody else's business.
fn create_private_file(path: &std::path::Path) -> std::io::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        // Created meanwhile by another process: it is that one's to have made private.
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(err),
    }
}

impl Database {
    /// The sea-orm connection (for the repositories).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Applies pending migrations.
    ///
    /// On PostgreSQL the checks and the migrations run in ONE transaction that first
    /// takes the migration lock (see [`lock_migrations`]): instances started together
    /// on a fresh database migrate one after the other — the second finds nothing
    /// pending — instead of creating the same tables at once, which made one of them
    /// crash (a duplicate `pg_type` row). PostgreSQL's DDL is transactional, so a
    /// failed migration also leaves the schema as it was. SQLite is single-instance and
    /// keeps sea-orm's own transaction per migration (a migration may need to run
    /// outside one there).
    ///
    /// # Errors
    /// A failed migration, or a database whose schema is newer than this binary knows.
    pub async fn migrate_up(&self) -> anyhow::Result<()> {
        // The usual start, on an already migrated database, takes one connection: the
        // checks share one transaction. Run one after the other on the pool, they took
        // two, because the pool gets a connection back only after the query that used
        // it has returned, and the next query found none idle — on PostgreSQL a second
        // TCP and TLS handshake before the service could listen.
        let txn = self
            .conn
            .begin()
            .await
            .context("reading applied migrations")?;
        let locked = lock_migrations(&txn).await?;
        refuse_newer_schema(&txn).await?;
        let pending = Migrator::get_pending_migrations(&txn)
            .await
            .context("reading pending migrations")?;
        if !pending.is_empty() && locked {
            Migrator::up(&txn, None)
                .await
                .context("applying migrations")?;
        }
        txn.commit().await.context("applying migrations")?;
        if pending.is_empty() || locked {
            return Ok(());
        }
        Migrator::up(&self.conn, None)
            .await
            .context("applying migrations")
    }

    /// Rolls back the last migration — on PostgreSQL in one transaction holding the
    /// migration lock, like [`Database::migrate_up`].
    ///
    /// # Errors
    /// A failed rollback.
    pub async fn migrate_down(&self) -> anyhow::Result<()> {
        let txn = self
            .conn
            .begin()
            .await
            .context("rolling back the last migration")?;
        if lock_migrations(&txn).await? {
            Migrator::down(&txn, Some(1))
                .await
                .context("rolling back the last migration")?;
            return txn
                .commit()
                .await
                .context("rolling back the last migration");
        }
        txn.commit()
            .await
            .context("rolling back the last migration")?;
        Migrator::down(&self.conn, Some(1))
            .await
            .context("rolling back the last migration")
    }

    /// Every known migration with `true` when applied.
    ///
    /// # Errors
    /// When the database cannot be read, or holds migrations this binary does not know.
    pub async fn migration_status(&self) -> anyhow::Result<Vec<(String, bool)>> {
        refuse_newer_schema(&self.conn).await?;
        let migrations = Migrator::get_migration_with_status(&self.conn)
            .await
            .context("reading migration status")?;
        Ok(migrations
            .iter()
            .map(|m| {
                (
                    m.name().to_owned(),
                    matches!(m.status(), migration::MigrationStatus::Applied),
                )
            })
            .collect())
    }

    /// Whether the database answers a trivial query.
    pub async fn ping(&self) -> bool {
        self.conn.execute_unprepared("SELECT 1").await.is_ok()
    }
}

/// The key of the PostgreSQL advisory lock that serialises migrations ("gatehous" in
/// ASCII): the same for every instance and every version of gatehouse.
const MIGRATION_LOCK_KEY: i64 = 0x6761_7465_686f_7573;

/// On PostgreSQL, waits for the migration lock and holds it until `txn` ends (commit,
/// rollback, or a connection lost — the server releases it then too); returns whether it
/// did. Transaction-scoped, so that it is held by the very connection that migrates and
/// cannot outlive it. Elsewhere there is no lock to take (`false`).
async fn lock_migrations(txn: &DatabaseTransaction) -> anyhow::Result<bool> {
    if txn.get_database_backend() != DbBackend::Postgres {
        return Ok(false);
    }
    txn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_advisory_xact_lock($1)",
        [MIGRATION_LOCK_KEY.into()],
    ))
    .await
    .context("taking the migration lock")?;
    Ok(true)
}

/// Refuses a database that holds migrations this binary does not know: it was
/// migrated by a newer gatehouse, and running against it could corrupt data.
async fn refuse_newer_schema(db: &impl ConnectionTrait) -> anyhow::Result<()> {
    let applied = Migrator::get_migration_models(db)
        .await
        .context("reading applied migrations")?;
    let known: Vec<String> = Migrator::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    let unknown: Vec<String> = applied
        .into_iter()
        .map(|m| m.version)
        .filter(|v| !known.contains(v))
        .collect();
    anyhow::ensure!(
        unknown.is_empty(),
        "the database schema is newer than this gatehouse {} knows (applied migrations it does not have: {}); run the gatehouse version that migrated it, or newer",
        env!("CARGO_PKG_VERSION"),
        unknown.join(", ")
    );
    Ok(())
}

/// Whether `err` means "the database cannot be reached right now" rather than "this
/// statement is wrong": no connection to be had, a connection lost mid-query (I/O,
/// TLS, protocol), or PostgreSQL refusing or shutting connections (SQLSTATE class 08,
/// and 57P01–57P03: terminated by an administrator, crash shutdown, cannot connect now).
fn is_unavailable(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => true,
                Sqlx::Database(db) => db.code().is_some_and(|code| {
                    code.starts_with("08") || matches!(&*code, "57P01" | "57P02" | "57P03")
                }),
                _ => false,
            }
        }
        _ => false,
    }
}

/// Wraps a database error, marking connection-level failures as [`Unavailable`].
pub(crate) fn db_error(err: DbErr) -> anyhow::Error {
    let unavailable = is_unavailable(&err);
    if unavailable {
        // The marker is the root cause so that it is found under any context added
        // later; the database's own message stays in the chain for the logs.
        anyhow::Error::new(Unavailable {
            retry_after_secs: DATABASE_RETRY_AFTER_SECS,
            what: "database",
        })
        .context(format!("database unreachable: {err}"))
    } else {
        anyhow::Error::new(err)
    }
}

#[cfg(test)]
mod tests {
    use sea_orm::ConnectionTrait as _;

    use super::*;

    #[tokio::test]
    async fn a_database_migrated_by_a_newer_gatehouse_is_refused_with_a_clear_message() {
        let db = connect("sqlite::memory:").await.expect("opens");
        db.migrate_up().await.expect("migrates");
        db.connection()
            .execute_unprepared(
                "INSERT INTO seaql_migrations (version, applied_at) VALUES ('m29990101_000001_from_the_future', 0)",
            )
            .await
            .expect("insert");
        let err = db.migrate_up().await.expect_err("refused");
        let message = format!("{err:#}");
        assert!(message.contains("newer than this gatehouse"), "{message}");
        assert!(
            message.contains("m29990101_000001_from_the_future"),
            "{message}"
        );
        assert!(db.migration_status().await.is_err());
    }

    #[tokio::test]
    async fn migrating_twice_is_a_no_op() {
        let db = connect("sqlite::memory:").await.expect("opens");
        db.migrate_up().await.expect("migrates");
        db.migrate_up().await.expect("migrates again");
        assert!(
            db.migration_status()
                .await
                .expect("status")
                .iter()
                .all(|(_, applied)| *applied)
        );
    }
}
