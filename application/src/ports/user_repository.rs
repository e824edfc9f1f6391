//! Port: where users are stored.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{AuthEvent, EmailKey, PasswordHash, Session, SessionId, User, UserId};

/// Why creating a user failed.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// A user whose email has the same key already exists, active or not.
    #[error("email already registered")]
    EmailTaken,
    /// Anything else.
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Users, looked up by id or by the key of their email.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// The user whose email has this key, active or not (whatever form of the address
    /// it signed up with).
    ///
    /// # Errors
    /// Storage failures only; an unknown email is `Ok(None)`.
    async fn find_by_email(&self, key: &EmailKey) -> anyhow::Result<Option<User>>;

    /// The user with this id, active or not.
    ///
    /// # Errors
    /// Storage failures only; an unknown id is `Ok(None)`.
    async fn find_by_id(&self, id: UserId) -> anyhow::Result<Option<User>>;

    /// Stores a new user, its first session and its `signup` event in ONE transaction:
    /// either all three are written or none is.
    ///
    /// # Errors
    /// MUST return [`CreateUserError::EmailTaken`] — and write nothing — when the email
    /// is already registered, including when a concurrent call wins the race (the
    /// storage's unique constraint decides, not a prior lookup).
    async fn create_with_session(
        &self,
        user: &User,
        session: &Session,
        event: &AuthEvent,
    ) -> Result<(), CreateUserError>;

    /// Replaces the password hash — only if the stored hash is still `expected` (the one
    /// just verified) — revokes every live session of the user except `keep`, and records
    /// `event`, all in ONE transaction. Returns `false`, writing nothing, when the stored
    /// hash is no longer `expected` (a concurrent change won).
    ///
    /// # Errors
    /// Storage failures only.
    async fn change_password(
        &self,
        user_id: UserId,
        expected: &PasswordHash,
        new_hash: &PasswordHash,
        keep: SessionId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<bool>;

    /// Marks the user inactive, revokes all their live sessions and records `event`, in
    /// ONE transaction.
    ///
    /// # Errors
    /// Storage failures only.
    async fn deactivate(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<()>;
}
