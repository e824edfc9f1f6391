//! Port: server-side sessions, the reason a token can die before its `exp`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AuthEvent, PasswordHash, Session, SessionId, UserId};

/// Everything a successful login writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogin {
    /// The new session.
    pub session: Session,
    /// The user's new `last_login`.
    pub last_login: DateTime<Utc>,
    /// A re-hash of the password with the current parameters, when the stored one was
    /// made with older ones.
    pub rehashed: Option<PasswordHash>,
    /// The `login` event.
    pub event: AuthEvent,
}

/// Sessions by id.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync + 'static {
    /// Writes the session, the user's `last_login`, the optional re-hash and the event
    /// in ONE transaction.
    ///
    /// # Errors
    /// Storage failures; nothing is written then.
    async fn start(&self, login: &NewLogin) -> anyhow::Result<()>;

    /// The session with this id, live or not.
    ///
    /// # Errors
    /// Storage failures only; an unknown id is `Ok(None)`.
    async fn find_by_id(&self, id: SessionId) -> anyhow::Result<Option<Session>>;

    /// Revokes the session if it belongs to `user_id` and is live at `at` (not revoked,
    /// not expired), recording `event` in the same transaction. Returns whether this call
    /// revoked it: a second, concurrent revocation returns `false` and records nothing.
    ///
    /// # Errors
    /// Storage failures only.
    async fn revoke(
        &self,
        id: SessionId,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<bool>;

    /// The user's live sessions at `now` (not revoked, not expired), newest first.
    ///
    /// # Errors
    /// Storage failures only.
    async fn list_live(&self, user_id: UserId, now: DateTime<Utc>) -> anyhow::Result<Vec<Session>>;

    /// Revokes every session of `user_id` live at `at`, and records `event` with its
    /// `count` set to the number revoked — in ONE transaction; records nothing when there
    /// was none. Returns the number revoked.
    ///
    /// # Errors
    /// Storage failures only.
    async fn revoke_all(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<u32>;

    /// Deletes every session that expired, or was revoked, before `cutoff`; returns how
    /// many.
    ///
    /// # Errors
    /// Storage failures only.
    async fn prune_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64>;
}
