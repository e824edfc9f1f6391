//! Use case: log out — revoke the session the caller's token belongs to.

use domain::{AuthEvent, AuthEventType, EventId};
use uuid::Uuid;

use crate::service::Ports;
use crate::{Caller, Principal};

/// Why a logout failed.
#[derive(Debug, thiserror::Error)]
pub enum LogOutError {
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Revokes the caller's current session at once, recording `logout` in the same
/// transaction. Logging out a session that a concurrent request already revoked
/// succeeds and records nothing more (the token is dead either way).
///
/// # Errors
/// See [`LogOutError`].
pub async fn log_out(
    ports: &Ports,
    principal: &Principal,
    caller: &Caller,
) -> Result<(), LogOutError> {
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        AuthEventType::Logout,
        Some(principal.user.id),
        &caller.client_info(),
        now,
    );
    ports
        .sessions
        .revoke(principal.session.id, principal.user.id, now, &event)
        .await?;
    Ok(())
}
