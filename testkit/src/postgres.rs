//! A fresh PostgreSQL database per test, created on the server named by
//! `GATEHOUSE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`; its `postgres`
//! database is used to create and drop the per-test ones) and dropped, connections and
//! all, when the test ends.
//!
//! Without a reachable server a test either falls back to another backend
//! ([`create_or_fall_back`]) or is not run at all (its harness asks [`reachable`] first
//! and reports it ignored) — except under `CI=true` ([`required`]), where an unreachable
//! server is a failure, never a silent skip.

use std::sync::OnceLock;
use std::time::Duration;

use sea_orm::ConnectionTrait as _;

/// Where the tests find a server.
pub fn base() -> String {
    std::env::var("GATEHOUSE_TEST_POSTGRES")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

/// Whether the PostgreSQL tests must run (`CI=true`): then an unreachable server fails
/// them.
pub fn required() -> bool {
    std::env::var("CI").as_deref() == Ok("true")
}

/// A per-test PostgreSQL database, dropped (connections and all) with this value.
pub struct PostgresDatabase {
    /// Its connection URL.
    pub url: String,
    name: String,
}

impl Drop for PostgresDatabase {
    fn drop(&mut self) {
        let admin = format!("{}/postgres", base());
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

/// A connection to the server's `postgres` database, or why there is none.
async fn admin() -> Result<sea_orm::DatabaseConnection, String> {
    let mut options = sea_orm::ConnectOptions::new(format!("{}/postgres", base()));
    options
        .connect_timeout(Duration::from_secs(3))
        .acquire_timeout(Duration::from_secs(3))
        .sqlx_logging(false);
    sea_orm::Database::connect(options)
        .await
        .map_err(|e| e.to_string())
}

/// Whether a server answers at [`base`]; `Err` says why not. Asked once per process, so
/// that the tests do not each wait for a connect timeout.
pub async fn reachable() -> Result<(), String> {
    static ANSWER: OnceLock<Result<(), String>> = OnceLock::new();
    if let Some(answer) = ANSWER.get() {
        return answer.clone();
    }
    let answer = match admin().await {
        Ok(admin) => {
            let _ = admin.close().await;
            Ok(())
        }
        Err(err) => Err(err),
    };
    ANSWER.get_or_init(|| answer).clone()
}

/// Creates a fresh database.
///
/// # Panics
/// When no server answers: a test that calls this runs only where one does.
pub async fn create() -> PostgresDatabase {
    if let Err(err) = reachable().await {
        panic!("PostgreSQL is not reachable at {} ({err})", base());
    }
    let admin = admin().await.expect("connect to PostgreSQL");
    let name = format!("gatehouse_test_{}", uuid::Uuid::now_v7().simple());
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create the test database");
    let _ = admin.close().await;
    PostgresDatabase {
        url: format!("{}/{name}", base()),
        name,
    }
}

/// Creates a fresh database, or `None` when no server answers and this is not CI: then
/// the caller runs `fallback` instead (say, "the postgres:: tests run on SQLite"), which
/// is said once on stderr.
///
/// # Panics
/// Under `CI=true` when no server answers.
pub async fn create_or_fall_back(fallback: &str) -> Option<PostgresDatabase> {
    let Err(err) = reachable().await else {
        return Some(create().await);
    };
    let base = base();
    assert!(
        !required(),
        "PostgreSQL is not reachable at {base} ({err}); CI runs the PostgreSQL tests for real"
    );
    static SAID: std::sync::Once = std::sync::Once::new();
    SAID.call_once(|| {
        // Straight to stderr: the test harness captures `eprintln!`.
        use std::io::Write as _;
        let _ = writeln!(
            std::io::stderr(),
            "note: PostgreSQL not reachable at {base}: {fallback}; start PostgreSQL or set \
             GATEHOUSE_TEST_POSTGRES=postgres://user@host:port to run them there"
        );
    });
    None
}
