//! Use case: the caller's live sessions.

use domain::{Session, UserId};

use super::{Forbidden, ensure_own};
use crate::Principal;
use crate::service::Ports;

/// Why the sessions could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListSessionsError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// The caller's sessions that are neither revoked nor expired, newest first. The
/// principal's own session is among them; the transport marks it `current`.
///
/// # Errors
/// See [`ListSessionsError`].
pub async fn list_sessions(
    ports: &Ports,
    principal: &Principal,
    user_id: UserId,
) -> Result<Vec<Session>, ListSessionsError> {
    ensure_own(principal, user_id)?;
    Ok(ports.sessions.list_live(user_id, ports.clock.now()).await?)
}
