//! Use case: deactivate the caller's account.

use domain::{AuthEvent, AuthEventType, EventId, FailureReason, PlaintextPassword, UserId};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{Forbidden, ensure_own, record_failure, throttle_password_check, verify_counted};
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
    if verify_counted(ports, principal, caller, password).await? == PasswordCheck::Mismatch {
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
    ports
        .throttle
        .succeeded(user.email.key(), caller.ip)
        .await?;
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use mockall::Sequence;

    use super::*;
    use crate::ports::ThrottleDecision;
    use crate::use_cases::test_support::{
        Captured, Mocks, PRINCIPAL_EMAIL_KEY, assert_carries_unavailable, assert_event, caller,
        capture_events, captured, now, only, principal, someone_else, taken, unavailable,
        untouchable_ports,
    };

    const PASSWORD: &str = "Correct7Horse";
    /// What [`crate::use_cases::test_support::user`] stores.
    const STORED_HASH: &str = "$argon2id$stored";

    fn request(user_id: UserId) -> DeactivateRequest {
        DeactivateRequest {
            user_id,
            password: SecretString::from(PASSWORD.to_owned()),
            caller: caller(),
        }
    }

    fn throttle(mocks: &mut Mocks, decision: ThrottleDecision, order: Option<&mut Sequence>) {
        let expectation = mocks
            .throttle
            .expect_attempt()
            .withf(|email, ip, at| {
                email.as_str() == PRINCIPAL_EMAIL_KEY && *ip == caller().ip && *at == now()
            })
            .times(1)
            .returning(move |_, _, _| Ok(decision));
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
    }

    /// The password is verified against the principal's stored hash.
    fn verifies(mocks: &mut Mocks, check: PasswordCheck, order: Option<&mut Sequence>) {
        let expectation = mocks
            .hasher
            .expect_verify()
            .withf(|password, hash| password.expose() == PASSWORD && hash.as_str() == STORED_HASH)
            .times(1)
            .returning(move |_, _| Ok(check));
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
    }

    fn right_password() -> PasswordCheck {
        PasswordCheck::Match {
            needs_rehash: false,
        }
    }

    fn clears_throttle(mocks: &mut Mocks, order: Option<&mut Sequence>) {
        let expectation = mocks
            .throttle
            .expect_succeeded()
            .withf(|email, ip| email.as_str() == PRINCIPAL_EMAIL_KEY && *ip == caller().ip)
            .times(1)
            .returning(|_, _| Ok(()));
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
    }

    fn nothing_is_stored(mocks: &mut Mocks) {
        mocks.hasher.expect_hash().never();
        mocks.users.expect_deactivate().never();
        mocks.users.expect_change_password().never();
        mocks.sessions.expect_revoke_all().never();
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
    async fn deactivating_another_users_account_is_forbidden_before_the_throttle_the_hasher_or_any_repository_is_touched()
     {
        let ports = untouchable_ports();

        let result = deactivate(&ports, &principal(), request(someone_else())).await;

        assert!(
            matches!(result, Err(DeactivateError::Forbidden(Forbidden))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn deactivating_with_the_right_password_deactivates_the_account_with_its_event_and_clears_the_throttle()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        let events = deactivates(&mut mocks, &principal, None);
        mocks.hasher.expect_hash().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

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
        throttle(&mut mocks, ThrottleDecision::Allowed, Some(&mut order));
        verifies(&mut mocks, right_password(), Some(&mut order));
        clears_throttle(&mut mocks, Some(&mut order));
        deactivates(&mut mocks, &principal, Some(&mut order));
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn deactivating_a_throttled_account_returns_throttled_records_login_throttled_and_verifies_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(
            &mut mocks,
            ThrottleDecision::Throttled {
                retry_after_secs: 900,
            },
            None,
        );
        mocks.hasher.expect_verify().never();
        mocks.hasher.expect_verify_dummy().never();
        mocks.throttle.expect_succeeded().never();
        nothing_is_stored(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

        assert!(
            matches!(
                result,
                Err(DeactivateError::Throttled {
                    retry_after_secs: 900
                })
            ),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginThrottled,
            Some(principal.user.id),
            Some(FailureReason::RateLimitExceeded),
        );
    }

    #[tokio::test]
    async fn deactivating_with_a_wrong_password_returns_invalid_credentials_records_the_failure_and_stores_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, PasswordCheck::Mismatch, None);
        mocks.throttle.expect_succeeded().never();
        nothing_is_stored(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

        assert!(
            matches!(result, Err(DeactivateError::InvalidCredentials)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::AccountDeactivated,
            Some(principal.user.id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    #[tokio::test]
    async fn deactivating_when_the_throttle_store_fails_returns_unexpected_and_verifies_nothing() {
        let principal = principal();
        let mut mocks = Mocks::default();
        mocks
            .throttle
            .expect_attempt()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        mocks.hasher.expect_verify().never();
        nothing_is_stored(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

        let Err(DeactivateError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn deactivating_when_verification_is_unavailable_returns_unexpected_and_gives_the_attempt_back_records_nothing_and_stores_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        // A failure of ours is not a failed login: the counted attempt is given back.
        mocks
            .throttle
            .expect_release()
            .times(1)
            .returning(|_, _| Ok(()));
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Err(unavailable()));
        mocks.throttle.expect_succeeded().never();
        nothing_is_stored(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

        let Err(DeactivateError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn deactivating_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable()
    {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        mocks
            .users
            .expect_deactivate()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

        let Err(DeactivateError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn a_wrong_password_whose_failure_cannot_be_recorded_returns_unexpected_not_invalid_credentials()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, PasswordCheck::Mismatch, None);
        mocks.throttle.expect_succeeded().never();
        nothing_is_stored(&mut mocks);
        mocks
            .events
            .expect_record()
            .times(1)
            .returning(|_| Err(unavailable()));
        let ports = mocks.into_ports();

        let result = deactivate(&ports, &principal, request(principal.user.id)).await;

        let Err(DeactivateError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }
}
