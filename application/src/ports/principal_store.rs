//! Port: the principal behind a token — its session and its user, read together.

use async_trait::async_trait;
use domain::{SessionId, UserId};

use crate::principal::Principal;

/// Reads what authentication needs in one go.
///
/// An adapter may answer from memory; if it does, it MUST stop answering for a user
/// once a revocation of theirs (or a change to the user) committed: on this instance
/// before the revoking port call returns, on every other within the contract's one
/// second.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait PrincipalStore: Send + Sync + 'static {
    /// The session `session_id` with its user, if the session belongs to `user_id`, is
    /// not revoked, and its user is active; `None` otherwise (unknown session or user
    /// included).
    ///
    /// Expiry is the caller's to check against its clock: an answer may have been read a
    /// moment ago and its session have ended since.
    ///
    /// # Errors
    /// Storage failures only.
    async fn load_live(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> anyhow::Result<Option<Principal>>;
}
