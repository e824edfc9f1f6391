//! The repository tests on PostgreSQL: a fresh database per test (`testkit::postgres`),
//! dropped when the test ends. Without a reachable server they run on SQLite (one note on
//! stderr), except under `CI=true`, where that is a failure.

use super::*;
use crate::persistence::connect;
use testkit::postgres::PostgresDatabase;

/// The SQLite-only tests (pragmas, file databases) are left out here.
macro_rules! sqlite_only {
    ($($item:item)*) => {};
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
    let fallback = "the on_postgres:: repository tests run on SQLite";
    match testkit::postgres::create_or_fall_back(fallback).await {
        Some(postgres) => TestDb {
            db: connect(&postgres.url)
                .await
                .expect("the test database opens"),
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
