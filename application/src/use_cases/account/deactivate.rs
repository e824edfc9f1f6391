//! Use case: deactivate the caller's account.

use domain::{AuthEvent, AuthEventType, EventId, FailureReason, PlaintextPassword, UserId};

use super::{Forbidden, ensure_own, record_failure, throttle_password_check};
use crate::caller::Caller;
use crate::ports::{
    AuthEventLog, Clock, IdGenerator, LoginThrottle, PasswordCheck, PasswordHasher, UserRepository,
};
use crate::principal::Principal;

/// The ports [`deactivate`] uses.
#[derive(Clone, Copy)]
pub struct DeactivatePorts<'a> {
    /// Where the deactivation is stored.
    pub users: &'a dyn UserRepository,
    /// Where failures are recorded.
    pub events: &'a dyn AuthEventLog,
    /// Verifies the password.
    pub hasher: &'a dyn PasswordHasher,
    /// The per-account throttle on password checks.
    pub throttle: &'a dyn LoginThrottle,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The events' ids.
    pub ids: &'a dyn IdGenerator,
}

/// Input of [`deactivate`].
#[derive(Debug, Clone)]
pub struct DeactivateRequest {
    /// The path's user id.
    pub user_id: UserId,
    /// The account's password, as confirmation.
    pub password: PlaintextPassword,
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
    /// Anything else (may carry [`crate::errors::Unavailable`]).
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
    ports: &DeactivatePorts<'_>,
    principal: &Principal,
    request: DeactivateRequest,
) -> Result<(), DeactivateError> {
    ensure_own(principal, request.user_id)?;
    let caller = &request.caller;
    let attempt = throttle_password_check(
        ports.throttle,
        ports.events,
        ports.clock,
        ports.ids,
        principal,
        caller,
    )
    .await?
    .map_err(|retry_after_secs| DeactivateError::Throttled { retry_after_secs })?;
    let user = &principal.user;
    // A failure of ours here gives the counted attempt back (`attempt` is dropped).
    let check = ports
        .hasher
        .verify(request.password, user.password_hash.clone())
        .await?;
    if check == PasswordCheck::Mismatch {
        attempt.failed();
        record_failure(
            ports.events,
            ports.clock,
            ports.ids,
            principal,
            caller,
            AuthEventType::AccountDeactivated,
            FailureReason::InvalidCredentials,
        )
        .await?;
        return Err(DeactivateError::InvalidCredentials);
    }
    attempt.succeeded().await?;
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(ports.ids.new_id()),
        AuthEventType::AccountDeactivated,
        Some(user.id),
        &caller.client_info(),
        now,
    );
    let deactivated = ports.users.deactivate(user.id, now, &event).await;
    deactivated?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mockall::Sequence;

    use super::*;
    use crate::use_cases::test_support::{
        Captured, Mocks, PRINCIPAL_PASSWORD, assert_carries_unavailable, assert_event, caller,
        captured, clears_principal_throttle, now, only, principal, right_password, taken,
        throttles_principal, unavailable, verifies_principal,
    };
    use domain::ThrottleVerdict;

    fn request(user_id: UserId) -> DeactivateRequest {
        DeactivateRequest {
            user_id,
            password: PlaintextPassword::new(PRINCIPAL_PASSWORD.to_owned()),
            caller: caller(),
        }
    }

    /// `users.deactivate` is called once for the principal at now; the event it is
    /// handed is kept.
    fn deactivates(
        mocks: &mut Mocks,
        principal: &Principal,
        order: Option<&mut Sequence>,
    ) -> Captured<AuthEvent> {
        let user_id = principal.user.id;
        let events = captured();
        let kept = Arc::clone(&events);
        let expectation = mocks
            .users
            .expect_deactivate()
            .withf(move |user, at, _| *user == user_id && *at == now())
            .times(1)
            .returning(move |_, _, event| {
                kept.lock()
                    .expect("capture lock poisoned")
                    .push(event.clone());
                Ok(())
            });
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
        events
    }

    #[tokio::test]
    async fn deactivating_with_the_right_password_deactivates_the_account_with_its_event_and_clears_the_throttle()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        let events = deactivates(&mut mocks, &principal, None);
        mocks.hasher.expect_hash().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = deactivate(
            &ports.for_deactivate(),
            &principal,
            request(principal.user.id),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
        assert_event(
            &only(taken(&events)),
            AuthEventType::AccountDeactivated,
            Some(principal.user.id),
            None,
        );
    }

    #[tokio::test]
    async fn deactivating_throttles_then_verifies_then_clears_the_throttle_then_stores() {
        let principal = principal();
        let mut order = Sequence::new();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, Some(&mut order));
        verifies_principal(&mut mocks, right_password(), Some(&mut order));
        clears_principal_throttle(&mut mocks, Some(&mut order));
        deactivates(&mut mocks, &principal, Some(&mut order));
        let ports = mocks.into_ports();

        let result = deactivate(
            &ports.for_deactivate(),
            &principal,
            request(principal.user.id),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn deactivating_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable()
    {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        mocks
            .users
            .expect_deactivate()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = deactivate(
            &ports.for_deactivate(),
            &principal,
            request(principal.user.id),
        )
        .await;

        let Err(DeactivateError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }
}
