//! Opening the database: pool settings, SQLite pragmas, migrations.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::Context as _;
use application::Unavailable;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteConnection, SqliteError, SqliteJournalMode, SqliteSynchronous};
use sea_orm::sqlx::{Connection as _, Executor as _, PgConnection};
use sea_orm::{
    ConnectOptions, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr,
    Statement, TransactionTrait,
};

use crate::redact::{redact_url, scrub};

/// A connected database (cheap to clone: it is a pool).
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    /// Set when a write failed because the store cannot take it (disk full, read-only
    /// file, I/O error); cleared by the first write probe that commits. `/ready` reads it.
    unwritable: Arc<AtomicBool>,
    /// How long [`Database::ready`] waits for its answer.
    ready_timeout: Duration,
}

/// How long a client is told to wait when the database is unreachable or busy.
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

/// How long a client is told to wait when the store cannot be written (disk full,
/// read-only file): an operator has to act, so retrying at once only adds load.
const STORAGE_RETRY_AFTER_SECS: u64 = 10;

/// Pool settings and database timeouts (`DATABASE_MAX_CONNECTIONS`,
/// `DATABASE_CONNECT_TIMEOUT_SECONDS`, `DATABASE_STATEMENT_TIMEOUT_SECONDS`,
/// `READY_TIMEOUT_MILLISECONDS`).
///
/// None of these bounds a request as a whole — a request may wait for a connection more
/// than once — the request deadline (`HTTP_REQUEST_TIMEOUT_SECONDS`) does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolSettings {
    /// Connections at most; `None` picks the backend's default (4 for a SQLite file, 10
    /// for PostgreSQL — on 2 cores more only queue inside the server).
    pub max_connections: Option<u32>,
    /// How long to wait for a connection (opening one, or taking one from a busy pool)
    /// before the request gets 503.
    pub connect_timeout_secs: u64,
    /// How long one statement may run on PostgreSQL (`statement_timeout`, set on every
    /// connection), and how long a statement waits for the write lock on SQLite
    /// (`busy_timeout`); then the statement fails and the request gets 503.
    pub statement_timeout_secs: u64,
    /// How long [`Database::ready`] (so `/ready`) waits for the database before it
    /// says "not ready", in milliseconds.
    pub ready_timeout_ms: u64,
}

impl Default for PoolSettings {
    fn default() -> Self {
        Self {
            max_connections: None,
            connect_timeout_secs: 5,
            statement_timeout_secs: 5,
            ready_timeout_ms: 500,
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
    let unwritable = Arc::new(AtomicBool::new(false));
    // A connection whose transaction state is uncertain is closed, never reused (issue
    // 14): see `sqlite_transaction_settled`.
    if is_sqlite {
        let flag = Arc::clone(&unwritable);
        options.map_sqlx_sqlite_pool_opts(move |opts| {
            let flag = Arc::clone(&flag);
            opts.after_release(move |conn, _| {
                sqlite_transaction_settled(conn, flag.load(Ordering::Acquire))
            })
        });
    } else {
        let statement_timeout = Duration::from_secs(pool.statement_timeout_secs);
        // A released connection may still be finishing a statement its request gave up
        // on (at most the statement timeout), then answers one round trip.
        let release_timeout = statement_timeout + Duration::from_secs(pool.connect_timeout_secs);
        options.map_sqlx_postgres_pool_opts(move |opts| {
            opts.after_connect(move |conn, _| postgres_session_settings(conn, statement_timeout))
                .after_release(move |conn, _| postgres_connection_settled(conn, release_timeout))
        });
    }
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
                .busy_timeout(Duration::from_secs(pool.statement_timeout_secs))
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
    Ok(Database {
        conn,
        unwritable,
        ready_timeout: Duration::from_millis(pool.ready_timeout_ms),
    })
}

/// What `after_release` hooks return.
type Settled<'c> = Pin<Box<dyn Future<Output = Result<bool, sea_orm::sqlx::Error>> + Send + 'c>>;

/// Keeps a released SQLite connection only when both sqlx and SQLite itself say that no
/// transaction is open on it.
///
/// Why (issue 14, found with a 256 KiB tmpfs): when `COMMIT` fails with `SQLITE_FULL`,
/// SQLite has already rolled the transaction back, but sqlx-sqlite 0.9 lowers its
/// transaction depth only when `COMMIT` succeeds, so it stays at 1; sea-orm's drop then
/// sends `ROLLBACK`, which fails ("no transaction is active") and leaves the depth at 1;
/// the pool's on-release ping passes and the connection goes back to the pool. Its next
/// `begin` is `SAVEPOINT _sqlx_savepoint_1` — which opens a real transaction — and its
/// commit `RELEASE SAVEPOINT`; when that fails too, the drop's `ROLLBACK TO SAVEPOINT`
/// succeeds but leaves the transaction open. From then on every "transaction" on that
/// connection is a savepoint inside one that never commits: each commit reports success,
/// nothing reaches the file, the connection holds the write lock (others get "database
/// is locked"), and a restart discards it all.
///
/// The depth is read after a round trip, so that a rollback queued by a dropped
/// transaction has run; SQLite's own view comes from `BEGIN`, which fails inside a
/// transaction (its autocommit flag is not reachable without `unsafe`).
///
/// While the store is known `unwritable`, every connection is closed after use: SQLite
/// opens a file it may not write read-only and stays so, and a connection that met an
/// I/O error is best not trusted — fresh ones see the file as it is once it is fixed.
fn sqlite_transaction_settled(conn: &mut SqliteConnection, unwritable: bool) -> Settled<'_> {
    Box::pin(async move {
        if unwritable {
            return Ok(false);
        }
        if conn.execute("BEGIN").await.is_err() {
            tracing::warn!(
                "closing a SQLite connection left inside a transaction (after a failed commit or rollback)"
            );
            return Ok(false);
        }
        if conn.execute("ROLLBACK").await.is_err() {
            return Ok(false);
        }
        if conn.is_in_transaction() {
            tracing::warn!(
                "closing a SQLite connection whose transaction depth is out of step with SQLite (after a failed commit or rollback)"
            );
            return Ok(false);
        }
        Ok(true)
    })
}

/// The session settings of every new PostgreSQL connection, in one round trip:
///
/// - `statement_timeout`: a statement that runs longer (a lock never released, a plan
///   gone wrong) is cancelled by the server; the request gets 503 instead of waiting on
///   it. The migrations lift it for their own transaction (see [`lock_migrations`]).
/// - `tcp_keepalives_*`: the server probes an idle connection after 30 s and drops it
///   after three unanswered probes 10 s apart, so that the locks and the slot of a
///   gatehouse that vanished (a crash, a network partition) are freed within about a
///   minute. sqlx 0.9 opens its sockets with `TcpStream::connect` and offers no socket
///   options, so gatehouse's own side cannot set `SO_KEEPALIVE`; a connection whose
///   server stops answering is found by the bounded ping of
///   [`postgres_connection_settled`] when it is released, and by the pool's ping (within
///   the acquire timeout) before it is handed out again.
///
/// Set after connecting rather than as the startup packet's `options`, which connection
/// poolers such as PgBouncer refuse by default.
fn postgres_session_settings(
    conn: &mut PgConnection,
    statement_timeout: Duration,
) -> Pin<Box<dyn Future<Output = Result<(), sea_orm::sqlx::Error>> + Send + '_>> {
    use sea_orm::sqlx::{AssertSqlSafe, raw_sql};
    Box::pin(async move {
        let timeout = format!("SET statement_timeout = {}", statement_timeout.as_millis());
        // Several statements in one simple query: one round trip.
        let all = format!(
            "{timeout}; SET tcp_keepalives_idle = 30; SET tcp_keepalives_interval = 10; \
             SET tcp_keepalives_count = 3"
        );
        if let Err(err) = raw_sql(AssertSqlSafe(all)).execute(&mut *conn).await {
            // A server on a system without TCP_KEEPIDLE refuses the keepalive settings
            // (and, in the same implicit transaction, the statement timeout): the
            // statement timeout alone is what a request cannot do without.
            tracing::warn!(error = %err, "PostgreSQL refused the TCP keepalive settings");
            raw_sql(AssertSqlSafe(timeout)).execute(&mut *conn).await?;
        }
        Ok(())
    })
}

/// Keeps a released PostgreSQL connection only when sqlx counts no open transaction
/// (PostgreSQL ends a transaction whose `COMMIT` fails, and sqlx-postgres settles its
/// depth when the queued rollback is sent; this is the same rule as on SQLite, cheap),
/// and when it answers a ping within `timeout`.
///
/// The ping is here because the pool's own on-release ping has no timeout: a connection
/// released by a request that hit its deadline while the database had stopped answering
/// would hold its pool slot until the kernel gives the socket up (minutes). An error
/// from this hook closes the connection without a goodbye.
fn postgres_connection_settled(conn: &mut PgConnection, timeout: Duration) -> Settled<'_> {
    Box::pin(async move {
        if conn.is_in_transaction() {
            tracing::warn!("closing a PostgreSQL connection left inside a transaction");
            return Ok(false);
        }
        match tokio::time::timeout(timeout, conn.ping()).await {
            Ok(answered) => answered.map(|()| true),
            Err(_) => {
                tracing::warn!(
                    "closing a PostgreSQL connection that did not answer a ping within {timeout:?} of its release"
                );
                Err(sea_orm::sqlx::Error::PoolTimedOut)
            }
        }
    })
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

    /// Whether the service can use the database: it answers, and — after a write failed
    /// because the store could not take it — a write commits again. The write probe
    /// runs only then, so that a healthy service pays no fsync per readiness probe.
    ///
    /// `false` when no answer came within the ready timeout (`READY_TIMEOUT_MILLISECONDS`):
    /// a database that stopped answering makes `/ready` say so before the probe asking
    /// gives up, instead of after the pool's acquire timeout.
    pub async fn ready(&self) -> bool {
        match tokio::time::timeout(self.ready_timeout, self.check_ready()).await {
            Ok(ready) => ready,
            Err(_) => {
                tracing::warn!(
                    "the database did not answer the readiness check within {:?}",
                    self.ready_timeout
                );
                false
            }
        }
    }

    async fn check_ready(&self) -> bool {
        if !self.unwritable.load(Ordering::Acquire) {
            return self.ping().await;
        }
        match self.write_probe().await {
            Ok(()) => {
                self.unwritable.store(false, Ordering::Release);
                tracing::info!("the database can be written again");
                true
            }
            Err(err) => {
                tracing::warn!(error = %err, "the database still cannot be written");
                false
            }
        }
    }

    /// Commits a write. On SQLite it rewrites one row of 32 KiB in its own table,
    /// `gatehouse_write_probe` (made on first use, outside the migrated schema: it holds
    /// nothing): a write of a page or two — say the header's `user_version` — still fits
    /// in the WAL's slack on a full disk and would report the store writable while a
    /// signup (a few pages) is refused. PostgreSQL takes a transaction id.
    async fn write_probe(&self) -> Result<(), DbErr> {
        let backend = self.conn.get_database_backend();
        let txn = self.conn.begin().await?;
        if backend == DbBackend::Sqlite {
            txn.execute_unprepared(
                "CREATE TABLE IF NOT EXISTS gatehouse_write_probe \
                 (id INTEGER PRIMARY KEY, filler BLOB NOT NULL)",
            )
            .await?;
            txn.execute_unprepared(
                "INSERT OR REPLACE INTO gatehouse_write_probe (id, filler) \
                 VALUES (1, randomblob(32768))",
            )
            .await?;
        } else {
            txn.execute_unprepared("SELECT pg_current_xact_id()")
                .await?;
        }
        txn.commit().await
    }

    /// Wraps a database error for the application: connection-level failures and a
    /// store that cannot be written carry [`Unavailable`] (503 with `Retry-After`); the
    /// latter also makes `/ready` answer 503 until a write commits again.
    pub(crate) fn error(&self, err: DbErr) -> anyhow::Error {
        let fault = classify(&err);
        if fault == Fault::Storage {
            self.unwritable.store(true, Ordering::Release);
        }
        wrap(fault, err)
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
    // Waiting for another instance's migrations, and migrating (an index built over a
    // large table), may take longer than any request's statement.
    txn.execute_unprepared("SET LOCAL statement_timeout = 0")
        .await
        .context("lifting the statement timeout for the migrations")?;
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

/// What a database error means for the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Fault {
    /// No connection to be had, a connection lost mid-query (I/O, TLS, protocol), or
    /// PostgreSQL refusing or shutting connections (SQLSTATE class 08, and 57P01–57P03:
    /// terminated by an administrator, crash shutdown, cannot connect now).
    Unreachable,
    /// The database did not get to the statement in time: SQLite's lock stayed taken
    /// past `busy_timeout` (`SQLITE_BUSY`, `SQLITE_LOCKED`); PostgreSQL cancelled it at
    /// `statement_timeout` (57014, also an administrator's `pg_cancel_backend`) or a lock
    /// was not available (55P03).
    Busy,
    /// The store cannot take a write: `SQLITE_FULL`, `SQLITE_READONLY`, `SQLITE_IOERR`
    /// (with their extended codes), `SQLITE_CANTOPEN`; PostgreSQL's disk full (53100)
    /// and read-only transaction (25006, a standby).
    Storage,
    /// Anything else: this statement is wrong (a bug), answered 500.
    Other,
}

/// Sorts a database error into a [`Fault`].
fn classify(err: &DbErr) -> Fault {
    use sea_orm::RuntimeErr;
    use sea_orm::sqlx::Error as Sqlx;
    match err {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => Fault::Unreachable,
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
            match e.as_ref() {
                Sqlx::Io(_)
                | Sqlx::Tls(_)
                | Sqlx::Protocol(_)
                | Sqlx::PoolTimedOut
                | Sqlx::PoolClosed
                | Sqlx::WorkerCrashed => Fault::Unreachable,
                Sqlx::Database(db) => {
                    if db.try_downcast_ref::<SqliteError>().is_some() {
                        // The primary result code is the low byte of the extended one.
                        let code = db
                            .code()
                            .and_then(|c| c.parse::<i32>().ok())
                            .map_or(0, |c| c & 0xff);
                        return match code {
                            5 | 6 => Fault::Busy,
                            8 | 10 | 13 | 14 => Fault::Storage,
                            _ => Fault::Other,
                        };
                    }
                    match db.code().as_deref() {
                        Some("53100" | "25006") => Fault::Storage,
                        Some("57014" | "55P03") => Fault::Busy,
                        Some(code)
                            if code.starts_with("08")
                                || matches!(code, "57P01" | "57P02" | "57P03") =>
                        {
                            Fault::Unreachable
                        }
                        _ => Fault::Other,
                    }
                }
                _ => Fault::Other,
            }
        }
        _ => Fault::Other,
    }
}

/// Wraps `err`, putting [`Unavailable`] at the root of the chain for a temporary fault.
fn wrap(fault: Fault, err: DbErr) -> anyhow::Error {
    let (retry_after_secs, what, context) = match fault {
        Fault::Unreachable => (
            DATABASE_RETRY_AFTER_SECS,
            "database",
            "database unreachable",
        ),
        Fault::Busy => (DATABASE_RETRY_AFTER_SECS, "database", "database busy"),
        Fault::Storage => (
            STORAGE_RETRY_AFTER_SECS,
            "database storage",
            "database cannot be written",
        ),
        Fault::Other => return anyhow::Error::new(err),
    };
    // The marker is the root cause so that it is found under any context added later;
    // the database's own message stays in the chain for the logs.
    anyhow::Error::new(Unavailable {
        retry_after_secs,
        what,
    })
    .context(format!("{context}: {err}"))
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

    /// Issue 14's root cause, below HTTP: after a `COMMIT` fails on a full disk, a later
    /// commit that reports success must be in the file. On sea-orm 2.0.4 / sqlx 0.9
    /// without the release check, the connection stays inside a transaction SQLite
    /// never commits, and every later "commit" is a savepoint release within it.
    #[tokio::test]
    async fn a_commit_reported_after_a_failed_commit_on_a_full_disk_is_in_the_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=256k", "tmpfs"])
            .arg(dir.path())
            .output();
        if !mounted.as_ref().is_ok_and(|out| out.status.success()) {
            eprintln!("skipped: cannot mount a small tmpfs ({mounted:?})");
            return;
        }
        let url = format!("sqlite://{}/t.db", dir.path().display());
        let pool = PoolSettings {
            max_connections: Some(1),
            ..PoolSettings::default()
        };
        let db = connect_with(&url, pool).await.expect("opens");
        let conn = db.connection();
        conn.execute_unprepared("CREATE TABLE t (v BLOB)")
            .await
            .expect("table");
        let (mut reported, mut failed) = (0_i64, 0);
        for _ in 0..40 {
            let Ok(txn) = conn.begin().await else {
                failed += 1;
                continue;
            };
            let written = txn
                .execute_unprepared("INSERT INTO t VALUES (randomblob(16000))")
                .await;
            match written {
                Ok(_) => match txn.commit().await {
                    Ok(()) => reported += 1,
                    Err(err) => {
                        assert!(Unavailable::find_in(&db.error(err)).is_some());
                        failed += 1;
                    }
                },
                Err(_) => failed += 1,
            }
            if failed >= 3 {
                // Space comes back after a few failures (the second one is what left
                // the connection inside a transaction that never ends).
                let _ = std::process::Command::new("mount")
                    .args(["-o", "remount,size=64m"])
                    .arg(dir.path())
                    .status();
            }
        }
        let reader = connect(&format!("{url}?mode=ro")).await.expect("reader");
        let stored: i64 = reader
            .connection()
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Sqlite,
                "SELECT count(*) FROM t",
            ))
            .await
            .expect("count")
            .expect("row")
            .try_get_by_index(0)
            .expect("int");
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(dir.path())
            .status();
        assert!(failed > 0, "the disk filled up");
        assert_eq!(stored, reported, "every reported commit is in the file");
    }
}
