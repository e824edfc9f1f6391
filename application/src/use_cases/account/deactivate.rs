//! Use case: deactivate the caller's account.

use domain::{AuthEvent, AuthEventType, EventId, FailureReason, PlaintextPassword, UserId};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{Forbidden, ensure_own, record_failure, throttle_password_check};
use crate::ports::PasswordCheck;
use crate::service::Ports;
use crate::{Caller, Principal};

/// Input of [`deactivate`].
#[derive(Debug, Clone)]
pub struct DeactivateRequest {
    /// The path's user id.
    pub user_id: UserId,
    /// The account's password, as confirmation.
    pub password: SecretString,
    /// Who is asking.
    pub caller: Caller,
}

/// Why the account was not deactivated.
#[derive(Debug, thiserror::Error)]
pub enum DeactivateError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The password is wrong.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The account is throttled after too many failed password checks.
    #[error("throttled")]
    Throttled {
        /// Seconds until an attempt may succeed.
        retry_after_secs: u64,
    },
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Verifies the password, marks the account inactive and revokes all its sessions (the
/// current one included), recording `account_deactivated`. The account and its email
/// stay registered: later logins fail exactly like a wrong password, and signing up
/// again with the email is `CONFLICT_EMAIL`.
///
/// # Security
/// A wrong password counts toward the per-account login throttle.
///
/// # Errors
/// See [`DeactivateError`].
pub async fn deactivate(
    ports: &Ports,
    principal: &Principal,
    request: DeactivateRequest,
) -> Result<(), DeactivateError> {
    ensure_own(principal, request.user_id)?;
    let caller = &request.caller;
    if let Some(retry_after_secs) = throttle_password_check(ports, principal, caller).await? {
        return Err(DeactivateError::Throttled { retry_after_secs });
    }
    let user = &principal.user;
    let password = PlaintextPassword::new(request.password.expose_secret().to_owned());
    if ports
        .hasher
        .verify(password, user.password_hash.clone())
        .await?
        == PasswordCheck::Mismatch
    {
        record_failure(
            ports,
            principal,
            caller,
            AuthEventType::AccountDeactivated,
            FailureReason::InvalidCredentials,
        )
        .await?;
        return Err(DeactivateError::InvalidCredentials);
    }
    ports.throttle.succeeded(&user.email, caller.ip).await?;
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        AuthEventType::AccountDeactivated,
        Some(user.id),
        &caller.client_info(),
        now,
    );
    ports.users.deactivate(user.id, now, &event).await?;
    Ok(())
}
