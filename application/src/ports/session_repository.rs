//! Port: server-side sessions, the reason a token can die before its `exp`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AuthEvent, PasswordHash, Session, SessionId, UserId};

/// Everything a successful login writes, in one transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct NewLogin {
    /// The new session.
    pub session: Session,
    /// The stored hash the password was verified against: the writes apply only while
    /// it is still the stored one.
    pub verified: PasswordHash,
    /// The user's new `last_login`.
    pub last_login: DateTime<Utc>,
    /// A re-hash of the password with the current parameters, when the stored one was
    /// made with older ones.
    pub rehashed: Option<PasswordHash>,
    /// The `login` event.
    pub event: AuthEvent,
}

/// Why a login's writes were not applied; nothing was written then.
#[derive(Debug, thiserror::Error)]
pub enum StartLoginError {
    /// The stored hash is no longer [`NewLogin::verified`] (a password change, or another
    /// login's re-hash, committed after the verification), or the user is gone.
    #[error("the verified password is no longer current")]
    CredentialChanged,
    /// The account was deactivated after the verification.
    #[error("account inactive")]
    AccountInactive,
    /// Storage failures.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Sessions by id.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SessionRepository: Send + Sync + 'static {
    /// Writes the session, the user's `last_login`, the optional re-hash and the event
    /// in ONE transaction — only if the user's stored hash is still `login.verified` and
    /// the user is still active: a compare-and-swap, like
    /// [`crate::ports::UserRepository::change_password`]'s, so that a login that verified
    /// a password being changed (or an account being deactivated) cannot open a session
    /// after the change revoked the others, nor write back a re-hash of the old password.
    ///
    /// # Errors
    /// MUST return [`StartLoginError::AccountInactive`] when the user is inactive, else
    /// [`StartLoginError::CredentialChanged`] when the stored hash is not
    /// `login.verified` or the user does not exist — deciding on the row as it is when
    /// the guarded write runs (after any concurrent change committed), not on an earlier
    /// read. Nothing is written then, nor on a storage failure.
    async fn start(&self, login: &NewLogin) -> Result<(), StartLoginError>;

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
