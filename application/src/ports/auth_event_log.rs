//! Port: the audit log of auth events (events that go with a state change are written by
//! the repository in the change's transaction instead).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AuthEvent, EventId, UserId};

/// A position in a user's security log: the last event of the previous page. Events
/// are ordered by `(created_at, id)`, newest first; both are immutable, so pages stay
/// stable while new events arrive (they sort before page one).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    /// `created_at` of the last event already returned.
    pub created_at: DateTime<Utc>,
    /// `id` of the last event already returned.
    pub id: EventId,
}

/// Appends auth events that do not accompany a state change (failed logins, throttled
/// attempts, rejected tokens).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuthEventLog: Send + Sync + 'static {
    /// Records one event.
    ///
    /// `login_throttled`, `rate_limited` and `token_rejected` events MUST be merged: when
    /// a row of the same type, failure reason, IP and user exists from the last 60
    /// seconds, its `count` grows by the event's count instead of a row being added, so
    /// the log stays bounded under attack.
    ///
    /// # Errors
    /// Storage failures only.
    async fn record(&self, event: &AuthEvent) -> anyhow::Result<()>;

    /// Up to `limit` events of `user_id`, newest first, strictly after `after` in that
    /// order (from the newest when `None`).
    ///
    /// # Errors
    /// Storage failures only.
    async fn list_for_user(
        &self,
        user_id: UserId,
        after: Option<EventCursor>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuthEvent>>;

    /// Deletes every event created before `cutoff`; returns how many.
    ///
    /// # Errors
    /// Storage failures only.
    async fn prune_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64>;
}
