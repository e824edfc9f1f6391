//! Port: the audit log of auth events (events that go with a state change are written by
//! the repository in the change's transaction instead).

use async_trait::async_trait;
use domain::AuthEvent;

/// Appends auth events that do not accompany a state change (failed logins, throttled
/// attempts, rejected tokens).
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuthEventLog: Send + Sync + 'static {
    /// Records one event.
    ///
    /// # Errors
    /// Storage failures only.
    async fn record(&self, event: &AuthEvent) -> anyhow::Result<()>;
}
