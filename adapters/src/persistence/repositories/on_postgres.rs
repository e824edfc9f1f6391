//! The repository tests on PostgreSQL: a fresh database per test, created on the server
//! named by `GATEHOUSE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`) and
//! dropped when the test ends. Without a reachable server they run on SQLite (one note on
//! stderr), except under `CI=true`, where that is a failure.

use super::*;
use crate::persistence::connect;

/// The SQLite-only tests (pragmas, file databases) are left out here.
macro_rules! sqlite_only {
    ($($item:item)*) => {};
}

/// Where the tests find a server (its `postgres` database is used to create and drop the
/// per-test databases).
fn postgres_base() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// A per-test PostgreSQL database, dropped (connections and all) with this value.
struct PostgresDatabase {
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin = format!("{}/postgres", postgres_base());
        let name = self.name.clone();
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            runtime
                .block_on(async move {
                    let db = sea_orm::Database::connect(&admin).await?;
                    db.execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .await?;
                    db.close().await
                })
                .map_err(std::io::Error::other)
        })
        .join();
    }
}

/// Creates a fresh PostgreSQL database, or `None` when no server answers and this is not
/// CI (CI=true makes an unreachable PostgreSQL a failure, never a silent skip).
async fn postgres_database() -> Option<(PostgresDatabase, String)> {
    let base = postgres_base();
    // Known unreachable: do not wait for a connect timeout in every test.
    static UNREACHABLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    let mut options = sea_orm::ConnectOptions::new(format!("{base}/postgres"));
    options
        .connect_timeout(std::time::Duration::from_secs(3))
        .acquire_timeout(std::time::Duration::from_secs(3))
        .sqlx_logging(false);
    let connected = match UNREACHABLE.get() {
        Some(err) => Err(err.clone()),
        None => sea_orm::Database::connect(options)
            .await
            .map_err(|e| UNREACHABLE.get_or_init(|| e.to_string()).clone()),
    };
    let admin = match connected {
        Ok(admin) => admin,
        Err(err) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "PostgreSQL is not reachable at {base} ({err}); CI runs the PostgreSQL tests for real"
            );
            static SAID: std::sync::Once = std::sync::Once::new();
            SAID.call_once(|| {
                // Straight to stderr: the test harness captures `eprintln!`.
                use std::io::Write as _;
                let _ = writeln!(
                    std::io::stderr(),
                    "note: PostgreSQL not reachable at {base}: the on_postgres:: repository tests run on SQLite; \
                     start PostgreSQL or set GATEHOUSE_TEST_POSTGRES=postgres://user@host:port to run them there"
                );
            });
            return None;
        }
    };
    let name = format!("gatehouse_test_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    let _ = admin.close().await;
    let url = format!("{base}/{name}");
    Some((PostgresDatabase { name }, url))
}

/// A test's database; the PostgreSQL one is dropped with it.
struct TestDb {
    db: Database,
    // Declared after `db`, so dropped after it (the pool first, then the database).
    _postgres: Option<PostgresDatabase>,
}

impl std::ops::Deref for TestDb {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.db
    }
}

/// A fresh, empty (unmigrated) database.
async fn empty_db() -> TestDb {
    match postgres_database().await {
        Some((postgres, url)) => TestDb {
            db: connect(&url).await.expect("the test database opens"),
            _postgres: Some(postgres),
        },
        None => TestDb {
            db: connect("sqlite::memory:")
                .await
                .expect("in-memory SQLite opens"),
            _postgres: None,
        },
    }
}

/// A migrated database several connections share (PostgreSQL's pool has several).
async fn pooled_db() -> TestDb {
    let db = empty_db().await;
    db.migrate_up().await.expect("migrations apply");
    db
}

#[allow(clippy::duplicate_mod)]
#[path = "tests.rs"]
mod tests;

#[allow(clippy::duplicate_mod)]
#[path = "../principals/tests.rs"]
mod principals;
