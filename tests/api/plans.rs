//! The queries behind the security log and the session list are served by their indexes,
//! on both backends (the plans are read with sequential scans discouraged, so that the
//! answer does not depend on how few rows a test database holds).

use adapters::persistence::connect;
use sea_orm::{ConnectionTrait, DbBackend, Statement};

const EVENTS: &str = "SELECT * FROM auth_events WHERE user_id = '01a212a4-b0ef-7410-8dac-f642d406cf4c' \
     ORDER BY created_at DESC, id DESC LIMIT 51";
const SESSIONS: &str = "SELECT * FROM sessions WHERE user_id = '01a212a4-b0ef-7410-8dac-f642d406cf4c' \
     AND revoked_at IS NULL ORDER BY created_at DESC";

async fn plan(db: &impl ConnectionTrait, backend: DbBackend, sql: &str) -> String {
    let explain = match backend {
        DbBackend::Postgres => format!("EXPLAIN {sql}"),
        _ => format!("EXPLAIN QUERY PLAN {sql}"),
    };
    db.query_all_raw(Statement::from_string(backend, explain))
        .await
        .expect("explain")
        .iter()
        .map(|row| {
            row.try_get_by_index::<String>(0)
                .or_else(|_| row.try_get_by_index::<String>(3))
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[tokio::test]
async fn the_security_log_and_session_queries_use_their_indexes_on_sqlite() {
    let db = connect("sqlite::memory:").await.expect("opens");
    db.migrate_up().await.expect("migrates");
    let events = plan(db.connection(), DbBackend::Sqlite, EVENTS).await;
    assert!(
        events.contains("ix_auth_events_user_created_id"),
        "{events}"
    );
    let sessions = plan(db.connection(), DbBackend::Sqlite, SESSIONS).await;
    assert!(sessions.contains("ix_sessions_user_created"), "{sessions}");
}

needs_postgres! {
/// Run by the `needs_postgres` harness (see `needs_postgres.rs`).
pub(crate) async fn the_security_log_and_session_queries_use_their_indexes_on_postgresql() {
    use sea_orm::TransactionTrait as _;
    let database = testkit::postgres::create().await;
    let db = connect(&database.url).await.expect("opens");
    db.migrate_up().await.expect("migrates");
    // One transaction, so the setting and the EXPLAINs share a connection.
    let txn = db.connection().begin().await.expect("begin");
    txn.execute_unprepared("SET LOCAL enable_seqscan = off")
        .await
        .expect("set");
    let events = plan(&txn, DbBackend::Postgres, EVENTS).await;
    assert!(
        events.contains("ix_auth_events_user_created_id"),
        "{events}"
    );
    let sessions = plan(&txn, DbBackend::Postgres, SESSIONS).await;
    assert!(sessions.contains("ix_sessions_user_created"), "{sessions}");
}
}
