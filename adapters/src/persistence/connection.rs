//! Opening the database: pool settings, SQLite pragmas, migrations.

use std::time::Duration;

use anyhow::Context as _;
use application::Unavailable;
use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection, DbErr};

/// A connected database (cheap to clone: it is a pool).
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
}

/// How long a client is told to wait when the database is unreachable.
const DATABASE_RETRY_AFTER_SECS: u64 = 2;

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
pub async fn connect(url: &str) -> anyhow::Result<Database> {
    let is_sqlite = url.starts_with("sqlite:");
    let in_memory = url.contains(":memory:") || url.contains("mode=memory");
    let url = if is_sqlite && !in_memory && !url.contains("mode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    };
    let mut options = ConnectOptions::new(url);
    options
        .sqlx_logging(false)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(Duration::from_secs(5));
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
            options.max_connections(4);
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
        options.max_connections(10).min_connections(1);
    }
    let conn = sea_orm::Database::connect(options)
        .await
        .context("connecting to the database")?;
    Ok(Database { conn })
}

impl Database {
    /// The sea-orm connection (for the repositories).
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// Applies pending migrations.
    ///
    /// # Errors
    /// A failed migration, or a database whose schema is newer than this binary knows.
    pub async fn migrate_up(&self) -> anyhow::Result<()> {
        Migrator::up(&self.conn, None)
            .await
            .context("applying migrations")
    }

    /// Rolls back the last migration.
    ///
    /// # Errors
    /// A failed rollback.
    pub async fn migrate_down(&self) -> anyhow::Result<()> {
        Migrator::down(&self.conn, Some(1))
            .await
            .context("rolling back the last migration")
    }

    /// Every known migration with `true` when applied.
    ///
    /// # Errors
    /// When the database cannot be read, or holds migrations this binary does not know.
    pub async fn migration_status(&self) -> anyhow::Result<Vec<(String, bool)>> {
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

/// Wraps a database error, marking connection-level failures as [`Unavailable`].
pub(crate) fn db_error(err: DbErr) -> anyhow::Error {
    let unavailable = matches!(err, DbErr::ConnectionAcquire(_) | DbErr::Conn(_));
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
