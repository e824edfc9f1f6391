//! Use cases: revoke one session, or every session ("log out everywhere").

use domain::{AuthEvent, AuthEventType, EventId, SessionId, UserId};
use uuid::Uuid;

use super::{Forbidden, ensure_own};
use crate::service::Ports;
use crate::{Caller, Principal};

/// Input of [`revoke_session`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeSessionRequest {
    /// The path's user id.
    pub user_id: UserId,
    /// The session to revoke.
    pub session_id: SessionId,
    /// Who is asking.
    pub caller: Caller,
}

/// Why a session could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeSessionError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// No live session with this id belongs to the caller (unknown, another user's,
    /// already revoked or expired).
    #[error("session not found")]
    NotFound,
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Why the sessions could not be revoked.
#[derive(Debug, thiserror::Error)]
pub enum RevokeAllSessionsError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Revokes one of the caller's live sessions. Revoking the session of the request's
/// own token is allowed and is a logout (recorded as `logout`); any other is recorded as
/// `session_revoked`.
///
/// # Errors
/// See [`RevokeSessionError`]. Another user's session is `NotFound`, never `Forbidden`,
/// so session ids cannot be probed.
pub async fn revoke_session(
    ports: &Ports,
    principal: &Principal,
    request: RevokeSessionRequest,
) -> Result<(), RevokeSessionError> {
    ensure_own(principal, request.user_id)?;
    let now = ports.clock.now();
    let event_type = if request.session_id == principal.session.id {
        AuthEventType::Logout
    } else {
        AuthEventType::SessionRevoked
    };
    let event = AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        event_type,
        Some(principal.user.id),
        &request.caller.client_info(),
        now,
    );
    if ports
        .sessions
        .revoke(request.session_id, request.user_id, now, &event)
        .await?
    {
        Ok(())
    } else {
        Err(RevokeSessionError::NotFound)
    }
}

/// Revokes every live session of the caller, the current one included, and records one
/// `session_revoked` event whose `count` is the number revoked.
///
/// # Errors
/// See [`RevokeAllSessionsError`].
pub async fn revoke_all_sessions(
    ports: &Ports,
    principal: &Principal,
    user_id: UserId,
    caller: &Caller,
) -> Result<u32, RevokeAllSessionsError> {
    ensure_own(principal, user_id)?;
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        AuthEventType::SessionRevoked,
        Some(principal.user.id),
        &caller.client_info(),
        now,
    );
    Ok(ports.sessions.revoke_all(user_id, now, &event).await?)
}
