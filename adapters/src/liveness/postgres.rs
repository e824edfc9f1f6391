//! Reaching the other instances' caches through PostgreSQL `LISTEN/NOTIFY`.
//!
//! The persistence adapter sends `NOTIFY` on [`LIVENESS_CHANNEL`] (its constant) with a user id inside
//! every transaction that revokes a session or changes a user; PostgreSQL delivers it
//! when (and only if) that transaction commits. Each instance listens on its own
//! connection and forgets that user.
//!
//! A listening connection can die without an error (a NAT or firewall that dropped its
//! mapping): nothing arrives any more, and nothing says so. So the listener proves its
//! connection: every [`PROBE_EVERY`] it sends a notification on a channel of its own
//! (through the pool, like any change) and waits for it on the listening connection.
//! PostgreSQL delivers notifications in commit order, so a probe that came back proves
//! that every invalidation committed before it was sent has been relayed; the cache
//! answers until [`PROOF_VALID`] after that send, then only with a newer proof. Since
//! `PROOF_VALID` is under a second, an invalidation that does not arrive stops the cache
//! within the contract's second, whatever its time to live. The price: one `pg_notify`
//! per instance every [`PROBE_EVERY`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use domain::UserId;
use sea_orm::sqlx::postgres::PgListener;
use sea_orm::{ConnectionTrait as _, DbBackend, Statement};
use tokio::sync::watch;
use uuid::Uuid;

use super::InProcessLivenessCache;
use crate::persistence::{Database, LIVENESS_CHANNEL};

/// How long to wait before subscribing again after the listener failed.
const RESUBSCRIBE_AFTER: Duration = Duration::from_millis(500);

/// How often the listening connection is proven.
const PROBE_EVERY: Duration = Duration::from_millis(200);

/// How long after a returned probe was sent the cache may answer: under the contract's
/// one second, with room for three probes (a busy server may be slow to answer one).
const PROOF_VALID: Duration = Duration::from_millis(800);

/// A probe that has not come back after this long means the connection is dead: it is
/// dropped and a new one subscribes. (The cache stopped answering long before.)
const GIVE_UP_AFTER: Duration = Duration::from_secs(3);

/// How long subscribing (connect and `LISTEN`) may take before it is tried again.
const SUBSCRIBE_WITHIN: Duration = Duration::from_secs(5);

/// Subscribes to [`LIVENESS_CHANNEL`] on a dedicated connection to `database_url` and
/// keeps `cache` answering only while subscribed and proven (see the module): it is
/// switched on (empty, unproven) once `LISTEN` succeeded, answers once a probe sent
/// through `database` came back, and goes off (emptied) as soon as the connection fails
/// or a probe does not come back within [`GIVE_UP_AFTER`], until a new subscription
/// succeeds. Ends with the runtime.
pub fn spawn_postgres_listener(
    database_url: String,
    database: Database,
    cache: Arc<InProcessLivenessCache>,
) {
    // Per instance, so that no other instance receives (or has to ignore) our probes.
    let probe_channel = format!("gatehouse_probe_{}", Uuid::now_v7().simple());
    cache.await_proof();
    tokio::spawn(async move {
        loop {
            let subscribed =
                tokio::time::timeout(SUBSCRIBE_WITHIN, subscribe(&database_url, &probe_channel))
                    .await;
            match subscribed {
                Ok(Ok(mut listener)) => {
                    cache.await_proof();
                    cache.set_answering(true);
                    tracing::debug!("liveness cache: subscribed to invalidations");
                    let (returned, mut seen) = watch::channel(0_u64);
                    let err = tokio::select! {
                        err = relay(&mut listener, &cache, &probe_channel, &returned) => err,
                        err = watch_health(&database, &probe_channel, &cache, &mut seen) => err,
                    };
                    cache.set_answering(false);
                    tracing::warn!(
                        error = %err,
                        "liveness cache: invalidation listener lost; the cache is off until it subscribes again"
                    );
                }
                Ok(Err(err)) => tracing::warn!(
                    error = %crate::redact::scrub(&err.to_string(), &database_url),
                    "liveness cache: cannot subscribe to invalidations; the cache stays off"
                ),
                Err(_) => tracing::warn!(
                    "liveness cache: subscribing to invalidations timed out; the cache stays off"
                ),
            }
            tokio::time::sleep(RESUBSCRIBE_AFTER).await;
        }
    });
}

async fn subscribe(
    database_url: &str,
    probe_channel: &str,
) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(database_url).await?;
    // A lost connection must surface as `Ok(None)` at once so that the cache goes off;
    // `subscribe` is called again for a fresh connection.
    listener.eager_reconnect(false);
    listener
        .listen_all([LIVENESS_CHANNEL, probe_channel])
        .await?;
    Ok(listener)
}

/// Forgets the user of every notification, and reports every returned probe on
/// `returned`, until the connection fails; returns why.
async fn relay(
    listener: &mut PgListener,
    cache: &InProcessLivenessCache,
    probe_channel: &str,
    returned: &watch::Sender<u64>,
) -> String {
    loop {
        match listener.try_recv().await {
            Ok(Some(notification)) if notification.channel() == probe_channel => {
                if let Ok(seq) = notification.payload().parse::<u64>() {
                    returned.send_replace(seq);
                }
            }
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

/// Sends a probe every [`PROBE_EVERY`] and, each time one comes back (on `seen`),
/// proves the cache until [`PROOF_VALID`] after it was sent. Returns why it gave up: a
/// probe not back within [`GIVE_UP_AFTER`]. A probe that cannot be sent (the database
/// unreachable) proves nothing; the cache lapses and the next one is tried.
async fn watch_health(
    database: &Database,
    probe_channel: &str,
    cache: &InProcessLivenessCache,
    seen: &mut watch::Receiver<u64>,
) -> String {
    let mut seq = 0_u64;
    loop {
        seq += 1;
        let sent_at = Instant::now();
        let sent = database
            .connection()
            .execute_raw(Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT pg_notify($1, $2)",
                [probe_channel.into(), seq.to_string().into()],
            ))
            .await;
        if let Err(err) = sent {
            tracing::debug!(error = %err, "liveness cache: health probe not sent");
        } else {
            let back = tokio::time::timeout(GIVE_UP_AFTER, seen.wait_for(|n| *n >= seq)).await;
            match back {
                Ok(Ok(_)) => cache.prove_until(sent_at + PROOF_VALID),
                // The relay ended: `select!` reports its reason instead.
                Ok(Err(_)) => return "relay ended".to_owned(),
                Err(_) => {
                    return format!(
                        "a health probe did not come back within {GIVE_UP_AFTER:?}: the connection died silently"
                    );
                }
            }
        }
        tokio::time::sleep_until((sent_at + PROBE_EVERY).into()).await;
    }
}
