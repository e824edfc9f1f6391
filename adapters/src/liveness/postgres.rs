//! Reaching the other instances' caches through PostgreSQL `LISTEN/NOTIFY`.
//!
//! The persistence adapter sends `NOTIFY` on [`LIVENESS_CHANNEL`] with a user id inside
//! every transaction that revokes a session or changes a user; PostgreSQL delivers it
//! when (and only if) that transaction commits. Each instance listens on its own
//! connection and forgets that user.

use std::sync::Arc;
use std::time::Duration;

use application::ports::LivenessCache as _;
use domain::UserId;
use sea_orm::sqlx::postgres::PgListener;
use uuid::Uuid;

use super::InProcessLivenessCache;

/// The notification channel; the payload is the id of the user whose sessions or record
/// changed.
pub const LIVENESS_CHANNEL: &str = "gatehouse_liveness";

/// How long to wait before subscribing again after the listener failed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);

/// Subscribes to [`LIVENESS_CHANNEL`] on a dedicated connection to `database_url` and
/// keeps `cache` answering only while subscribed: it is switched on (empty) once
/// `LISTEN` succeeded, and off (emptied) as soon as the connection fails, until a new
/// subscription succeeds. Ends with the runtime.
pub fn spawn_postgres_listener(database_url: String, cache: Arc<InProcessLivenessCache>) {
    tokio::spawn(async move {
        loop {
            match subscribe(&database_url).await {
                Ok(mut listener) => {
                    cache.set_answering(true);
                    tracing::debug!("liveness cache: subscribed to invalidations");
                    let err = relay(&mut listener, &cache).await;
                    cache.set_answering(false);
                    tracing::warn!(
                        error = %err,
                        "liveness cache: invalidation listener lost; the cache is off until it subscribes again"
                    );
                }
                Err(err) => tracing::warn!(
                    error = %crate::redact::scrub(&err.to_string(), &database_url),
                    "liveness cache: cannot subscribe to invalidations; the cache stays off"
                ),
            }
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
        }
    });
}

async fn subscribe(database_url: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    // A lost connection must surface as `Ok(None)` at once so that the cache goes off;
    // `subscribe` is called again for a fresh connection.
    listener.eager_reconnect(false);
    listener.listen(LIVENESS_CHANNEL).await?;
    Ok(listener)
}

/// Forgets the user of every notification until the connection fails; returns why.
async fn relay(listener: &mut PgListener, cache: &InProcessLivenessCache) -> String {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) => match Uuid::parse_str(notification.payload()) {
                Ok(id) => cache.forget_user(UserId::from_uuid(id)),
                // Not ours to understand: empty the cache (switching it on again clears
                // it) rather than guess whose entries it concerns.
                Err(_) => cache.set_answering(true),
            },
            Ok(None) => return "connection lost".to_owned(),
            Err(err) => return err.to_string(),
        }
    }
}
