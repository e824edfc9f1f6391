//! The repository tests on SQLite: an in-memory database per test, a file one where
//! several connections matter.

use super::*;
use crate::persistence::connect;

/// The SQLite-only tests (pragmas, file databases) are compiled here.
macro_rules! sqlite_only {
    ($($item:item)*) => { $($item)* };
}

/// A test's database.
type TestDb = Database;

/// A fresh, empty (unmigrated) in-memory database.
async fn empty_db() -> TestDb {
    connect("sqlite::memory:")
        .await
        .expect("in-memory SQLite opens")
}

/// A migrated file database in a temporary directory, for tests that need several
/// connections on one database (concurrency).
struct PooledDb {
    db: Database,
    _dir: tempfile::TempDir,
}

impl std::ops::Deref for PooledDb {
    type Target = Database;
    fn deref(&self) -> &Database {
        &self.db
    }
}

async fn pooled_db() -> PooledDb {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = connect(&format!("sqlite://{}/t.db", dir.path().display()))
        .await
        .expect("file database opens");
    db.migrate_up().await.expect("migrations apply");
    PooledDb { db, _dir: dir }
}

#[allow(clippy::duplicate_mod)]
#[path = "tests.rs"]
mod tests;

#[allow(clippy::duplicate_mod)]
#[path = "../principals/tests.rs"]
mod principals;
