//! Use case: change the caller's password.

use domain::{
    AuthEvent, AuthEventType, EventId, FailureReason, PasswordPolicyViolation, PlaintextPassword,
    UserId,
};

use super::{Forbidden, ensure_own, record_failure, throttle_password_check};
use crate::caller::Caller;
use crate::config::AuthConfig;
use crate::ports::{
    AuthEventLog, Clock, IdGenerator, LoginThrottle, PasswordCheck, PasswordHasher, UserRepository,
};
use crate::principal::Principal;

/// The ports [`change_password`] uses.
#[derive(Clone, Copy)]
pub struct ChangePasswordPorts<'a> {
    /// Where the new hash is stored.
    pub users: &'a dyn UserRepository,
    /// Where failures are recorded.
    pub events: &'a dyn AuthEventLog,
    /// Verifies the password and hashes the new one.
    pub hasher: &'a dyn PasswordHasher,
    /// The per-account throttle on password checks.
    pub throttle: &'a dyn LoginThrottle,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The events' ids.
    pub ids: &'a dyn IdGenerator,
}

/// Input of [`change_password`].
#[derive(Debug, Clone)]
pub struct ChangePasswordRequest {
    /// The path's user id.
    pub user_id: UserId,
    /// The password the caller says is current.
    pub current_password: PlaintextPassword,
    /// The new password.
    pub new_password: PlaintextPassword,
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
    /// Anything else (may carry [`crate::errors::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Verifies the current password, checks the new one against the policy, stores its
/// hash and revokes every other session of the user; the session making the request
/// stays open.
///
/// Order: scoping → per-account throttle → current password → policy → hash → store.
/// The store is a compare-and-swap on the hash just verified: of two concurrent changes
/// exactly one applies, the other gets `InvalidCredentials` and changes nothing. When
/// the swap fails, the current password is verified once more against the hash stored
/// now, and the swap retried once if it still matches: a concurrent login that re-hashed
/// the same password under new parameters must not refuse the change.
///
/// # Security
/// A wrong current password counts toward the per-account login throttle, so a stolen
/// token cannot be used to guess the password. The new password may equal the old one
/// (the policy is the only rule).
///
/// # Errors
/// See [`ChangePasswordError`].
pub async fn change_password(
    ports: &ChangePasswordPorts<'_>,
    config: &AuthConfig,
    principal: &Principal,
    request: ChangePasswordRequest,
) -> Result<(), ChangePasswordError> {
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
    .map_err(|retry_after_secs| ChangePasswordError::Throttled { retry_after_secs })?;
    // Every refusal after the password is judged is recorded the same way.
    let refuse = |reason| {
        record_failure(
            ports.events,
            ports.clock,
            ports.ids,
            principal,
            caller,
            AuthEventType::PasswordChanged,
            reason,
        )
    };
    let user = &principal.user;
    // A failure of ours here gives the counted attempt back (`attempt` is dropped).
    let current_password = request.current_password;
    let check = ports
        .hasher
        .verify(current_password.clone(), user.password_hash.clone())
        .await?;
    if check == PasswordCheck::Mismatch {
        attempt.failed();
        refuse(FailureReason::InvalidCredentials).await?;
        return Err(ChangePasswordError::InvalidCredentials);
    }
    attempt.succeeded().await?;

    let new_password = request.new_password;
    if let Err(violation) = config.password_policy.check(&new_password, &user.email) {
        refuse(FailureReason::ValidationPassword).await?;
        return Err(ChangePasswordError::WeakPassword(violation));
    }
    let new_hash = ports.hasher.hash(new_password).await?;
    let now = ports.clock.now();
    let event = AuthEvent::success(
        EventId::from_uuid(ports.ids.new_id()),
        AuthEventType::PasswordChanged,
        Some(user.id),
        &caller.client_info(),
        now,
    );
    let mut expected = user.password_hash.clone();
    let mut reverified = false;
    loop {
        let applied = ports
            .users
            .change_password(
                user.id,
                &expected,
                &new_hash,
                principal.session.id,
                now,
                &event,
            )
            .await;
        if applied? {
            return Ok(());
        }
        // The stored hash is no longer the one verified. A concurrent login that
        // re-hashed this same password under new parameters changes it too: verify the
        // current password once against what is stored now, and try again if it still
        // matches. Only a real concurrent change (or a deactivation) refuses.
        if reverified {
            break;
        }
        reverified = true;
        let stored = match ports.users.find_by_id(user.id).await? {
            Some(stored) if stored.is_active && stored.password_hash != expected => stored,
            _ => break,
        };
        let check = ports
            .hasher
            .verify(current_password.clone(), stored.password_hash.clone())
            .await?;
        if check == PasswordCheck::Mismatch {
            break;
        }
        expected = stored.password_hash;
    }
    refuse(FailureReason::InvalidCredentials).await?;
    Err(ChangePasswordError::InvalidCredentials)
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::{PasswordHash, PasswordRule, User};
    use mockall::Sequence;

    use super::*;
    use crate::use_cases::test_support::{
        Captured, Mocks, PRINCIPAL_PASSWORD, STORED_HASH, assert_carries_unavailable, assert_event,
        caller, capture_events, captured, clears_principal_throttle, config,
        nothing_is_hashed_or_stored, now, only, principal, right_password, taken,
        throttles_principal, unavailable, verifies_principal,
    };
    use domain::ThrottleVerdict;

    const NEW_PASSWORD: &str = "Battery9Staple";
    const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$new";

    fn request(user_id: UserId, new_password: &str) -> ChangePasswordRequest {
        ChangePasswordRequest {
            user_id,
            current_password: PlaintextPassword::new(PRINCIPAL_PASSWORD.to_owned()),
            new_password: PlaintextPassword::new(new_password.to_owned()),
            caller: caller(),
        }
    }

    fn hashes(mocks: &mut Mocks, password: &'static str, order: Option<&mut Sequence>) {
        let expectation = mocks
            .hasher
            .expect_hash()
            .withf(move |plain| plain.expose() == password)
            .times(1)
            .returning(|_| Ok(PasswordHash::from_phc(NEW_HASH.into())));
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
    }

    /// `users.change_password` is called once with the principal's id, the hash just
    /// verified as the expected one, the new hash, the principal's session to keep and
    /// now, and answers `applied`; the event it is handed is kept.
    fn changes(
        mocks: &mut Mocks,
        principal: &Principal,
        applied: bool,
        order: Option<&mut Sequence>,
    ) -> Captured<AuthEvent> {
        let (user_id, keep_id) = (principal.user.id, principal.session.id);
        let events = captured();
        let kept = Arc::clone(&events);
        let expectation = mocks
            .users
            .expect_change_password()
            .withf(move |user, expected, new_hash, keep, at, _| {
                *user == user_id
                    && expected.as_str() == STORED_HASH
                    && new_hash.as_str() == NEW_HASH
                    && *keep == keep_id
                    && *at == now()
            })
            .times(1)
            .returning(move |_, _, _, _, _, event| {
                kept.lock()
                    .expect("capture lock poisoned")
                    .push(event.clone());
                Ok(applied)
            });
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
        events
    }

    #[tokio::test]
    async fn changing_the_password_stores_the_new_hash_if_the_verified_one_is_still_stored_keeps_this_session_and_records_password_changed()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        let events = changes(&mut mocks, &principal, true, None);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
        assert_event(
            &only(taken(&events)),
            AuthEventType::PasswordChanged,
            Some(principal.user.id),
            None,
        );
    }

    #[tokio::test]
    async fn changing_the_password_throttles_then_verifies_then_clears_the_throttle_then_hashes_then_stores()
     {
        let principal = principal();
        let mut order = Sequence::new();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, Some(&mut order));
        verifies_principal(&mut mocks, right_password(), Some(&mut order));
        clears_principal_throttle(&mut mocks, Some(&mut order));
        hashes(&mut mocks, NEW_PASSWORD, Some(&mut order));
        changes(&mut mocks, &principal, true, Some(&mut order));
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn changing_the_password_to_the_current_one_is_allowed_when_it_meets_the_policy() {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        hashes(&mut mocks, PRINCIPAL_PASSWORD, None);
        changes(&mut mocks, &principal, true, None);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, PRINCIPAL_PASSWORD),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn changing_to_a_weak_password_returns_every_broken_rule_records_the_failure_and_stores_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        // The current password was right: the account's failures are cleared.
        clears_principal_throttle(&mut mocks, None);
        nothing_is_hashed_or_stored(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, "qwerty"),
        )
        .await;

        let Err(ChangePasswordError::WeakPassword(violation)) = result else {
            panic!("expected WeakPassword, got {result:?}");
        };
        assert_eq!(
            violation.rules(),
            [
                PasswordRule::MinLength,
                PasswordRule::Uppercase,
                PasswordRule::Digit,
                PasswordRule::Common,
            ]
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::PasswordChanged,
            Some(principal.user.id),
            Some(FailureReason::ValidationPassword),
        );
    }

    #[tokio::test]
    async fn changing_to_a_password_equal_to_the_principals_email_local_part_is_weak() {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        nothing_is_hashed_or_stored(&mut mocks);
        capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, "Jane.Doe"),
        )
        .await;

        let Err(ChangePasswordError::WeakPassword(violation)) = result else {
            panic!("expected WeakPassword, got {result:?}");
        };
        assert_eq!(
            violation.rules(),
            [PasswordRule::Digit, PasswordRule::MatchesEmail]
        );
    }

    #[tokio::test]
    async fn changing_the_password_after_a_concurrent_change_won_returns_invalid_credentials_and_records_the_failure()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        changes(&mut mocks, &principal, false, None);
        // The other change stored another password: the current one no longer matches.
        stored_now(&mut mocks, &principal, CHANGED_HASH);
        mocks
            .hasher
            .expect_verify()
            .withf(|password, hash| {
                password.expose() == PRINCIPAL_PASSWORD && hash.as_str() == CHANGED_HASH
            })
            .times(1)
            .returning(|_, _| Ok(PasswordCheck::Mismatch));
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        assert!(
            matches!(result, Err(ChangePasswordError::InvalidCredentials)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::PasswordChanged,
            Some(principal.user.id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    #[tokio::test]
    async fn changing_the_password_when_hashing_is_unavailable_returns_unexpected_and_stores_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        mocks
            .hasher
            .expect_hash()
            .times(1)
            .returning(|_| Err(unavailable()));
        mocks.users.expect_change_password().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        let Err(ChangePasswordError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn changing_the_password_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        mocks
            .users
            .expect_change_password()
            .times(1)
            .returning(|_, _, _, _, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        let Err(ChangePasswordError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    const CHANGED_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$changed";

    /// `users.find_by_id` answers the principal's user with `hash` stored now.
    fn stored_now(mocks: &mut Mocks, principal: &Principal, hash: &'static str) {
        let stored = User {
            password_hash: PasswordHash::from_phc(hash.into()),
            ..principal.user.clone()
        };
        let user_id = principal.user.id;
        mocks
            .users
            .expect_find_by_id()
            .withf(move |id| *id == user_id)
            .times(1)
            .returning(move |_| Ok(Some(stored.clone())));
    }

    #[tokio::test]
    async fn changing_the_password_while_a_login_rehashes_the_same_password_verifies_it_again_and_stores_the_change()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        // The swap on the verified hash loses to the login's re-hash…
        changes(&mut mocks, &principal, false, None);
        stored_now(&mut mocks, &principal, REHASHED);
        // …whose hash the current password still matches…
        mocks
            .hasher
            .expect_verify()
            .withf(|password, hash| {
                password.expose() == PRINCIPAL_PASSWORD && hash.as_str() == REHASHED
            })
            .times(1)
            .returning(|_, _| Ok(right_password()));
        // …so the change is swapped in over the re-hash, with the same event.
        let (user_id, keep_id) = (principal.user.id, principal.session.id);
        mocks
            .users
            .expect_change_password()
            .withf(move |user, expected, new_hash, keep, at, event| {
                *user == user_id
                    && expected.as_str() == REHASHED
                    && new_hash.as_str() == NEW_HASH
                    && *keep == keep_id
                    && *at == now()
                    && event.event_type == AuthEventType::PasswordChanged
                    && event.success
            })
            .times(1)
            .returning(|_, _, _, _, _, _| Ok(true));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn a_change_whose_second_swap_also_fails_is_invalid_credentials_without_a_third_try() {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
        verifies_principal(&mut mocks, right_password(), None);
        clears_principal_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        changes(&mut mocks, &principal, false, None);
        stored_now(&mut mocks, &principal, REHASHED);
        mocks
            .hasher
            .expect_verify()
            .withf(|_, hash| hash.as_str() == REHASHED)
            .times(1)
            .returning(|_, _| Ok(right_password()));
        mocks
            .users
            .expect_change_password()
            .withf(|_, expected, _, _, _, _| expected.as_str() == REHASHED)
            .times(1)
            .returning(|_, _, _, _, _, _| Ok(false));
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports.for_change_password(),
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        assert!(
            matches!(result, Err(ChangePasswordError::InvalidCredentials)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::PasswordChanged,
            Some(principal.user.id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    const REHASHED: &str = "$argon2id$v=19$m=19456,t=2,p=1$rehashed";
}
