//! Use case: retention — the audit log and dead sessions do not grow forever.

use chrono::Duration;

use crate::ports::{AuthEventLog, Clock, SessionRepository};

/// The ports [`prune`] uses.
#[derive(Clone, Copy)]
pub struct PrunePorts<'a> {
    /// The audit log.
    pub events: &'a dyn AuthEventLog,
    /// Sessions.
    pub sessions: &'a dyn SessionRepository,
    /// The time.
    pub clock: &'a dyn Clock,
}

/// What one pruning pass deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PruneReport {
    /// Auth events older than the retention.
    pub events: u64,
    /// Sessions that expired or were revoked longer ago than the retention.
    pub sessions: u64,
}

/// Deletes auth events older than `retention_days`, and sessions that expired or were
/// revoked that long ago (a live session is never touched).
///
/// # Errors
/// Storage failures.
pub async fn prune(ports: &PrunePorts<'_>, retention_days: u32) -> anyhow::Result<PruneReport> {
    let cutoff = ports.clock.now() - Duration::days(i64::from(retention_days));
    Ok(PruneReport {
        events: ports.events.prune_before(cutoff).await?,
        sessions: ports.sessions.prune_before(cutoff).await?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::use_cases::test_support::{Mocks, now};

    #[tokio::test]
    async fn pruning_deletes_events_and_dead_sessions_older_than_the_retention() {
        let mut mocks = Mocks::default();
        let cutoff = now() - Duration::days(90);
        mocks
            .events
            .expect_prune_before()
            .withf(move |c| *c == cutoff)
            .times(1)
            .returning(|_| Ok(7));
        mocks
            .sessions
            .expect_prune_before()
            .withf(move |c| *c == cutoff)
            .times(1)
            .returning(|_| Ok(3));
        let report = prune(&mocks.into_ports().for_prune(), 90)
            .await
            .expect("pruned");
        assert_eq!(
            report,
            PruneReport {
                events: 7,
                sessions: 3
            }
        );
    }
}
