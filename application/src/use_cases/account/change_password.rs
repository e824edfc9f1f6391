//! Use case: change the caller's password.

use domain::{
    AuthEvent, AuthEventType, EventId, FailureReason, PasswordPolicyViolation, PlaintextPassword,
    UserId,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{Forbidden, ensure_own, record_failure, throttle_password_check, verify_counted};
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
    let check = verify_counted(ports, principal, caller, current).await?;
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
    ports
        .throttle
        .succeeded(user.email.key(), caller.ip)
        .await?;

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

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use domain::{PasswordHash, PasswordRule};
    use mockall::Sequence;

    use super::*;
    use crate::ports::ThrottleDecision;
    use crate::use_cases::test_support::{
        Captured, Mocks, PRINCIPAL_EMAIL_KEY, assert_carries_unavailable, assert_event, caller,
        capture_events, captured, config, now, only, principal, someone_else, taken, unavailable,
        untouchable_ports,
    };

    const CURRENT_PASSWORD: &str = "Correct7Horse";
    const NEW_PASSWORD: &str = "Battery9Staple";
    /// What [`crate::use_cases::test_support::user`] stores.
    const STORED_HASH: &str = "$argon2id$stored";
    const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$new";

    fn request(user_id: UserId, new_password: &str) -> ChangePasswordRequest {
        ChangePasswordRequest {
            user_id,
            current_password: SecretString::from(CURRENT_PASSWORD.to_owned()),
            new_password: SecretString::from(new_password.to_owned()),
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

    /// The current password is verified against the principal's stored hash.
    fn verifies(mocks: &mut Mocks, check: PasswordCheck, order: Option<&mut Sequence>) {
        let expectation = mocks
            .hasher
            .expect_verify()
            .withf(|password, hash| {
                password.expose() == CURRENT_PASSWORD && hash.as_str() == STORED_HASH
            })
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

    fn nothing_is_verified(mocks: &mut Mocks) {
        mocks.hasher.expect_verify().never();
        mocks.hasher.expect_verify_dummy().never();
    }

    fn nothing_is_hashed_or_stored(mocks: &mut Mocks) {
        mocks.hasher.expect_hash().never();
        mocks.users.expect_change_password().never();
        mocks.users.expect_deactivate().never();
        mocks.sessions.expect_revoke_all().never();
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
    async fn changing_another_users_password_is_forbidden_before_the_throttle_the_hasher_or_any_repository_is_touched()
     {
        let ports = untouchable_ports();

        let result = change_password(
            &ports,
            &config(),
            &principal(),
            request(someone_else(), NEW_PASSWORD),
        )
        .await;

        assert!(
            matches!(result, Err(ChangePasswordError::Forbidden(Forbidden))),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn changing_the_password_stores_the_new_hash_if_the_verified_one_is_still_stored_keeps_this_session_and_records_password_changed()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        let events = changes(&mut mocks, &principal, true, None);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
        throttle(&mut mocks, ThrottleDecision::Allowed, Some(&mut order));
        verifies(&mut mocks, right_password(), Some(&mut order));
        clears_throttle(&mut mocks, Some(&mut order));
        hashes(&mut mocks, NEW_PASSWORD, Some(&mut order));
        changes(&mut mocks, &principal, true, Some(&mut order));
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        hashes(&mut mocks, CURRENT_PASSWORD, None);
        changes(&mut mocks, &principal, true, None);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
            &config(),
            &principal,
            request(principal.user.id, CURRENT_PASSWORD),
        )
        .await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn changing_the_password_of_a_throttled_account_returns_throttled_records_login_throttled_and_verifies_nothing()
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
        nothing_is_verified(&mut mocks);
        mocks.throttle.expect_succeeded().never();
        nothing_is_hashed_or_stored(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        // The right current password and a strong new one: the throttle still refuses.
        let result = change_password(
            &ports,
            &config(),
            &principal,
            request(principal.user.id, NEW_PASSWORD),
        )
        .await;

        assert!(
            matches!(
                result,
                Err(ChangePasswordError::Throttled {
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
    async fn changing_the_password_with_a_wrong_current_password_returns_invalid_credentials_records_the_failure_and_leaves_the_throttle_counting()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, PasswordCheck::Mismatch, None);
        mocks.throttle.expect_succeeded().never();
        nothing_is_hashed_or_stored(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
    async fn changing_to_a_weak_password_returns_every_broken_rule_records_the_failure_and_stores_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        // The current password was right: the account's failures are cleared.
        clears_throttle(&mut mocks, None);
        nothing_is_hashed_or_stored(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        nothing_is_hashed_or_stored(&mut mocks);
        capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        changes(&mut mocks, &principal, false, None);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
    async fn changing_the_password_when_the_throttle_store_fails_returns_unexpected_and_verifies_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        mocks
            .throttle
            .expect_attempt()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        nothing_is_verified(&mut mocks);
        nothing_is_hashed_or_stored(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
    async fn changing_the_password_when_verification_is_unavailable_returns_unexpected_and_gives_the_attempt_back_records_nothing_and_stores_nothing()
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
        nothing_is_hashed_or_stored(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
    async fn changing_the_password_when_hashing_is_unavailable_returns_unexpected_and_stores_nothing()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        mocks
            .hasher
            .expect_hash()
            .times(1)
            .returning(|_| Err(unavailable()));
        mocks.users.expect_change_password().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, right_password(), None);
        clears_throttle(&mut mocks, None);
        hashes(&mut mocks, NEW_PASSWORD, None);
        mocks
            .users
            .expect_change_password()
            .times(1)
            .returning(|_, _, _, _, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
    async fn a_wrong_current_password_whose_failure_cannot_be_recorded_returns_unexpected_not_invalid_credentials()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleDecision::Allowed, None);
        verifies(&mut mocks, PasswordCheck::Mismatch, None);
        mocks.throttle.expect_succeeded().never();
        nothing_is_hashed_or_stored(&mut mocks);
        mocks
            .events
            .expect_record()
            .times(1)
            .returning(|_| Err(unavailable()));
        let ports = mocks.into_ports();

        let result = change_password(
            &ports,
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
}
