//! Use cases on the caller's own account under `/api/{user_id}/…`: profile, security
//! log, sessions, password change, deactivation.
//!
//! Every one of them first checks that the path's `user_id` is the caller's own
//! ([`ensure_own`]) — before any lookup, so that another user's id, existing or not,
//! always answers the same `Forbidden`.

pub mod change_password;
pub mod deactivate;
pub mod list_auth_events;
pub mod list_sessions;
pub mod revoke_sessions;

use domain::{AuthEvent, AuthEventType, EventId, FailureReason, UserId};
use uuid::Uuid;

use crate::ports::ThrottleDecision;
use crate::service::Ports;
use crate::{Caller, Principal};

/// The path names another user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("access denied")]
pub struct Forbidden;

/// `Ok` when `user_id` is the principal's own.
///
/// # Errors
/// [`Forbidden`] otherwise.
pub fn ensure_own(principal: &Principal, user_id: UserId) -> Result<(), Forbidden> {
    if principal.user.id == user_id {
        Ok(())
    } else {
        Err(Forbidden)
    }
}

/// The caller's own profile (the user as loaded by `authenticate` for this request).
///
/// # Errors
/// [`Forbidden`] for another user's id.
pub fn get_profile(principal: &Principal, user_id: UserId) -> Result<domain::User, Forbidden> {
    ensure_own(principal, user_id)?;
    Ok(principal.user.clone())
}

/// Runs the per-account throttle for a password check on an authenticated route, so a
/// stolen token cannot be used to guess the password. Returns the seconds to wait when
/// throttled (after recording `login_throttled` in the owner's log).
pub(crate) async fn throttle_password_check(
    ports: &Ports,
    principal: &Principal,
    caller: &Caller,
) -> anyhow::Result<Option<u64>> {
    let now = ports.clock.now();
    match ports
        .throttle
        .attempt(&principal.user.email, caller.ip, now)
        .await?
    {
        ThrottleDecision::Allowed => Ok(None),
        ThrottleDecision::Throttled { retry_after_secs } => {
            let event = AuthEvent::failure(
                EventId::from_uuid(Uuid::now_v7()),
                AuthEventType::LoginThrottled,
                Some(principal.user.id),
                FailureReason::RateLimitExceeded,
                &caller.client_info(),
                now,
            );
            ports.events.record(&event).await?;
            Ok(Some(retry_after_secs))
        }
    }
}

/// Records a failed event of the caller's own.
pub(crate) async fn record_failure(
    ports: &Ports,
    principal: &Principal,
    caller: &Caller,
    event_type: AuthEventType,
    reason: FailureReason,
) -> anyhow::Result<()> {
    let event = AuthEvent::failure(
        EventId::from_uuid(Uuid::now_v7()),
        event_type,
        Some(principal.user.id),
        reason,
        &caller.client_info(),
        ports.clock.now(),
    );
    ports.events.record(&event).await
}
