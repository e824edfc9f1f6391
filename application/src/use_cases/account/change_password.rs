//! Use case: change the caller's password.

use domain::{
    AuthEvent, AuthEventType, EventId, FailureReason, PasswordPolicyViolation, PlaintextPassword,
    UserId,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{Forbidden, ensure_own, record_failure, throttle_password_check};
use crate::ports::PasswordCheck;
use crate::service::{AuthConfig, Ports};
use crate::{Caller, Principal};

/// Input of [`change_password`].
#[derive(Debug, Clone)]
pub struct ChangePasswordRequest {
    /// The path's user id.
    pub user_id: UserId,
    /// The password the caller says is current.
    pub current_password: SecretString,
    /// The new password.
    pub new_password: SecretString,
    /// Who is asking.
    pub caller: Caller,
}

/// Why the password was not changed.
#[derive(Debug, thiserror::Error)]
pub enum ChangePasswordError {
    /// Another user's id.
    #[error(transparent)]
    Forbidden(#[from] Forbidden),
    /// The current password is wrong, or a concurrent change won the race.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// The new password breaks the policy; every broken rule is listed.
    #[error("weak password")]
    WeakPassword(PasswordPolicyViolation),
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

/// Verifies the current password, checks the new one against the policy, stores its
/// hash and revokes every other session of the user; the session making the request
/// stays open.
///
/// Order: scoping → per-account throttle → current password → policy → hash → store.
/// The store is a compare-and-swap on the hash just verified: of two concurrent changes
/// exactly one applies, the other gets `InvalidCredentials` and changes nothing.
///
/// # Security
/// A wrong current password counts toward the per-account login throttle, so a stolen
/// token cannot be used to guess the password. The new password may equal the old one
/// (the policy is the only rule).
///
/// # Errors
/// See [`ChangePasswordError`].
pub async fn change_password(
    ports: &Ports,
    config: &AuthConfig,
    principal: &Principal,
    request: ChangePasswordRequest,
) -> Result<(), ChangePasswordError> {
    ensure_own(principal, request.user_id)?;
    let caller = &request.caller;
    if let Some(retry_after_secs) = throttle_password_check(ports, principal, caller).await? {
        return Err(ChangePasswordError::Throttled { retry_after_secs });
    }
    let user = &principal.user;
    let current = PlaintextPassword::new(request.current_password.expose_secret().to_owned());
    let check = ports
        .hasher
        .verify(current, user.password_hash.clone())
        .await?;
    if check == PasswordCheck::Mismatch {
        record_failure(
            ports,
            principal,
            caller,
            AuthEventType::PasswordChanged,
            FailureReason::InvalidCredentials,
        )
        .await?;
        return Err(ChangePasswordError::InvalidCredentials);
    }
    ports.throttle.succeeded(&user.email, caller.ip).await?;

    let new_password = PlaintextPassword::new(request.new_password.expose_secret().to_owned());
    if let Err(violation) = config.password_policy.check(&new_password, &user.email) {
        record_failure(
            ports,
            principal,
            caller,
            AuthEventType::PasswordChanged,
            FailureReason::ValidationPassword,
        )
        .await?;
        return Err(ChangePasswordError::WeakPassword(violation));
    }
    let new_hash = ports.hasher.hash(new_password).await?;
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        AuthEventType::PasswordChanged,
        Some(user.id),
        &caller.client_info(),
        now,
    );
    let applied = ports
        .users
        .change_password(
            user.id,
            &user.password_hash,
            &new_hash,
            principal.session.id,
            now,
            &event,
        )
        .await?;
    if applied {
        Ok(())
    } else {
        record_failure(
            ports,
            principal,
            caller,
            AuthEventType::PasswordChanged,
            FailureReason::InvalidCredentials,
        )
        .await?;
        Err(ChangePasswordError::InvalidCredentials)
    }
}
