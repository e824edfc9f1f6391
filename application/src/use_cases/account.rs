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

use crate::caller::Caller;
use crate::ports::{AuthEventLog, Clock, IdGenerator, LoginThrottle, ThrottleAttempt};
use crate::principal::Principal;

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

/// Counts a password check on an authenticated route against the per-account
/// throttle, so a stolen token cannot be used to guess the password. `Err` with the
/// seconds to wait when throttled (after recording `login_throttled` in the owner's log).
pub(crate) async fn throttle_password_check<'a>(
    throttle: &'a dyn LoginThrottle,
    events: &dyn AuthEventLog,
    clock: &dyn Clock,
    ids: &dyn IdGenerator,
    principal: &'a Principal,
    caller: &Caller,
) -> anyhow::Result<Result<ThrottleAttempt<'a>, u64>> {
    let now = clock.now();
    let counted =
        ThrottleAttempt::count(throttle, principal.user.email.key(), caller.ip, now).await?;
    if let Err(_retry_after_secs) = &counted {
        let event = AuthEvent::failure(
            EventId::from_uuid(ids.new_id()),
            AuthEventType::LoginThrottled,
            Some(principal.user.id),
            FailureReason::RateLimitExceeded,
            &caller.client_info(),
            now,
        );
        events.record(&event).await?;
    }
    Ok(counted)
}

/// Records a failed event of the caller's own.
pub(crate) async fn record_failure(
    events: &dyn AuthEventLog,
    clock: &dyn Clock,
    ids: &dyn IdGenerator,
    principal: &Principal,
    caller: &Caller,
    event_type: AuthEventType,
    reason: FailureReason,
) -> anyhow::Result<()> {
    let event = AuthEvent::failure(
        EventId::from_uuid(ids.new_id()),
        event_type,
        Some(principal.user.id),
        reason,
        &caller.client_info(),
        clock.now(),
    );
    events.record(&event).await
}

#[cfg(test)]
mod tests {
    use domain::ThrottleVerdict;

    use crate::ports::PasswordCheck;

    use super::*;
    use crate::use_cases::test_support::{
        Mocks, PRINCIPAL_EMAIL_KEY, assert_carries_unavailable, assert_event, caller,
        capture_events, now, only, principal, someone_else, taken, unavailable,
    };

    fn throttle(mocks: &mut Mocks, decision: ThrottleVerdict) {
        mocks
            .throttle
            .expect_attempt()
            .withf(|email, ip, at| {
                email.as_str() == PRINCIPAL_EMAIL_KEY && *ip == caller().ip && *at == now()
            })
            .times(1)
            .returning(move |_, _, _| Ok(decision));
    }

    #[test]
    fn ensure_own_accepts_the_principals_own_user_id() {
        let principal = principal();

        assert_eq!(ensure_own(&principal, principal.user.id), Ok(()));
    }

    #[test]
    fn ensure_own_refuses_another_users_id_with_forbidden() {
        assert_eq!(ensure_own(&principal(), someone_else()), Err(Forbidden));
    }

    #[test]
    fn ensure_own_compares_user_ids_so_the_uuid_of_the_principals_session_is_forbidden() {
        let principal = principal();
        let session_uuid = UserId::from_uuid(principal.session.id.as_uuid());

        assert_eq!(ensure_own(&principal, session_uuid), Err(Forbidden));
    }

    #[test]
    fn get_profile_returns_the_principals_user_as_authenticate_loaded_it() {
        let principal = principal();

        let profile = get_profile(&principal, principal.user.id);

        assert_eq!(profile, Ok(principal.user));
    }

    #[test]
    fn get_profile_of_another_user_is_forbidden() {
        assert_eq!(get_profile(&principal(), someone_else()), Err(Forbidden));
    }

    #[tokio::test]
    async fn throttle_password_check_counts_the_attempt_for_the_principals_email_and_the_callers_ip_and_records_nothing_when_allowed()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed);
        mocks.throttle.expect_succeeded().never();
        mocks.throttle.expect_release().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = throttle_password_check(
            &*ports.throttle,
            &*ports.events,
            &*ports.clock,
            &*ports.ids,
            &principal,
            &caller(),
        )
        .await;

        let attempt = result
            .expect("the throttle answers")
            .expect("the attempt is allowed");
        // Judged as failed, it stays counted: nothing is released.
        attempt.failed();
    }

    #[tokio::test]
    async fn throttle_password_check_when_throttled_returns_the_wait_and_records_login_throttled_for_the_owner()
     {
        let principal = principal();
        let mut mocks = Mocks::default();
        throttle(
            &mut mocks,
            ThrottleVerdict::Blocked {
                retry_after_secs: 600,
            },
        );
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = throttle_password_check(
            &*ports.throttle,
            &*ports.events,
            &*ports.clock,
            &*ports.ids,
            &principal,
            &caller(),
        )
        .await;

        assert!(
            matches!(result, Ok(Err(600))),
            "expected a wait of 600 s, got {result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginThrottled,
            Some(principal.user.id),
            Some(FailureReason::RateLimitExceeded),
        );
    }

    #[tokio::test]
    async fn throttle_password_check_when_the_throttle_store_fails_returns_the_error_carrying_unavailable()
     {
        let mut mocks = Mocks::default();
        mocks
            .throttle
            .expect_attempt()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();
        let principal = principal();

        let result = throttle_password_check(
            &*ports.throttle,
            &*ports.events,
            &*ports.clock,
            &*ports.ids,
            &principal,
            &caller(),
        )
        .await;

        assert_carries_unavailable(&result.expect_err("the store failed"));
    }

    #[tokio::test]
    async fn throttle_password_check_whose_throttled_event_cannot_be_recorded_returns_the_error_not_a_wait()
     {
        let mut mocks = Mocks::default();
        throttle(
            &mut mocks,
            ThrottleVerdict::Blocked {
                retry_after_secs: 600,
            },
        );
        mocks
            .events
            .expect_record()
            .times(1)
            .returning(|_| Err(unavailable()));
        let ports = mocks.into_ports();
        let principal = principal();

        let result = throttle_password_check(
            &*ports.throttle,
            &*ports.events,
            &*ports.clock,
            &*ports.ids,
            &principal,
            &caller(),
        )
        .await;

        assert_carries_unavailable(&result.expect_err("the log failed"));
    }

    #[tokio::test]
    async fn record_failure_records_one_failed_event_of_the_principal_for_the_caller_now() {
        let principal = principal();
        let mut mocks = Mocks::default();
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        record_failure(
            &*ports.events,
            &*ports.clock,
            &*ports.ids,
            &principal,
            &caller(),
            AuthEventType::AccountDeactivated,
            FailureReason::InvalidCredentials,
        )
        .await
        .expect("the event is recorded");

        assert_event(
            &only(taken(&events)),
            AuthEventType::AccountDeactivated,
            Some(principal.user.id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    #[tokio::test]
    async fn record_failure_gives_every_event_its_own_id() {
        let principal = principal();
        let mut mocks = Mocks::default();
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        for _ in 0..2 {
            record_failure(
                &*ports.events,
                &*ports.clock,
                &*ports.ids,
                &principal,
                &caller(),
                AuthEventType::PasswordChanged,
                FailureReason::ValidationPassword,
            )
            .await
            .expect("the event is recorded");
        }

        let recorded = taken(&events);
        assert_eq!(recorded.len(), 2, "{recorded:?}");
        assert_ne!(recorded[0].id, recorded[1].id);
    }

    #[tokio::test]
    async fn record_failure_when_the_log_is_unavailable_returns_the_error_carrying_unavailable() {
        let mut mocks = Mocks::default();
        mocks
            .events
            .expect_record()
            .times(1)
            .returning(|_| Err(unavailable()));
        let ports = mocks.into_ports();

        let result = record_failure(
            &*ports.events,
            &*ports.clock,
            &*ports.ids,
            &principal(),
            &caller(),
            AuthEventType::PasswordChanged,
            FailureReason::InvalidCredentials,
        )
        .await;

        assert_carries_unavailable(&result.expect_err("the log failed"));
    }

    // -----------------------------------------------------------------------------------
    // The password confirmation that `change_password` and `deactivate` share, run
    // against both: scoping → throttle → verification → failure log.
    // -----------------------------------------------------------------------------------

    use crate::service::Ports;
    use crate::use_cases::account::change_password::{
        ChangePasswordError, ChangePasswordRequest, change_password,
    };
    use crate::use_cases::account::deactivate::{DeactivateError, DeactivateRequest, deactivate};
    use crate::use_cases::test_support::{
        PRINCIPAL_PASSWORD, config, nothing_is_hashed_or_stored, throttles_principal,
        untouchable_ports, verifies_principal,
    };
    use domain::PlaintextPassword;

    /// A use case that confirms the caller's password before it acts on the account.
    #[derive(Debug, Clone, Copy)]
    enum Confirming {
        ChangePassword,
        Deactivate,
    }

    const BOTH: [Confirming; 2] = [Confirming::ChangePassword, Confirming::Deactivate];

    /// What either use case answered.
    #[derive(Debug)]
    enum Answer {
        Done,
        Forbidden,
        InvalidCredentials,
        Throttled(u64),
        Unexpected(anyhow::Error),
        WeakPassword,
    }

    impl Confirming {
        /// Runs the use case for `user_id` with the principal's right password (and a
        /// strong new one).
        async fn run(self, ports: &Ports, principal: &Principal, user_id: UserId) -> Answer {
            let password = || PlaintextPassword::new(PRINCIPAL_PASSWORD.to_owned());
            match self {
                Confirming::ChangePassword => {
                    let request = ChangePasswordRequest {
                        user_id,
                        current_password: password(),
                        new_password: PlaintextPassword::new("Battery9Staple".to_owned()),
                        caller: caller(),
                    };
                    match change_password(
                        &ports.for_change_password(),
                        &config(),
                        principal,
                        request,
                    )
                    .await
                    {
                        Ok(()) => Answer::Done,
                        Err(ChangePasswordError::Forbidden(_)) => Answer::Forbidden,
                        Err(ChangePasswordError::InvalidCredentials) => Answer::InvalidCredentials,
                        Err(ChangePasswordError::Throttled { retry_after_secs }) => {
                            Answer::Throttled(retry_after_secs)
                        }
                        Err(ChangePasswordError::Unexpected(err)) => Answer::Unexpected(err),
                        Err(ChangePasswordError::WeakPassword(_)) => Answer::WeakPassword,
                    }
                }
                Confirming::Deactivate => {
                    let request = DeactivateRequest {
                        user_id,
                        password: password(),
                        caller: caller(),
                    };
                    match deactivate(&ports.for_deactivate(), principal, request).await {
                        Ok(()) => Answer::Done,
                        Err(DeactivateError::Forbidden(_)) => Answer::Forbidden,
                        Err(DeactivateError::InvalidCredentials) => Answer::InvalidCredentials,
                        Err(DeactivateError::Throttled { retry_after_secs }) => {
                            Answer::Throttled(retry_after_secs)
                        }
                        Err(DeactivateError::Unexpected(err)) => Answer::Unexpected(err),
                    }
                }
            }
        }

        /// The type of the event a refused confirmation is recorded under.
        fn event_type(self) -> AuthEventType {
            match self {
                Confirming::ChangePassword => AuthEventType::PasswordChanged,
                Confirming::Deactivate => AuthEventType::AccountDeactivated,
            }
        }
    }

    #[tokio::test]
    async fn confirming_for_another_users_id_is_forbidden_before_the_throttle_the_hasher_or_any_repository_is_touched()
     {
        for use_case in BOTH {
            let ports = untouchable_ports();

            let answer = use_case.run(&ports, &principal(), someone_else()).await;

            assert!(
                matches!(answer, Answer::Forbidden),
                "{use_case:?}: {answer:?}"
            );
        }
    }

    #[tokio::test]
    async fn confirming_on_a_throttled_account_is_throttled_records_login_throttled_and_verifies_nothing()
     {
        for use_case in BOTH {
            let principal = principal();
            let mut mocks = Mocks::default();
            throttles_principal(
                &mut mocks,
                ThrottleVerdict::Blocked {
                    retry_after_secs: 900,
                },
                None,
            );
            mocks.hasher.expect_verify().never();
            mocks.hasher.expect_verify_dummy().never();
            mocks.throttle.expect_succeeded().never();
            nothing_is_hashed_or_stored(&mut mocks);
            let events = capture_events(&mut mocks.events);
            let ports = mocks.into_ports();

            // The right password (and a strong new one): the throttle still refuses.
            let answer = use_case.run(&ports, &principal, principal.user.id).await;

            assert!(
                matches!(answer, Answer::Throttled(900)),
                "{use_case:?}: {answer:?}"
            );
            assert_event(
                &only(taken(&events)),
                AuthEventType::LoginThrottled,
                Some(principal.user.id),
                Some(FailureReason::RateLimitExceeded),
            );
        }
    }

    #[tokio::test]
    async fn confirming_with_a_wrong_password_is_invalid_credentials_records_the_failure_stores_nothing_and_leaves_the_attempt_counted()
     {
        for use_case in BOTH {
            let principal = principal();
            let mut mocks = Mocks::default();
            throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
            verifies_principal(&mut mocks, PasswordCheck::Mismatch, None);
            mocks.throttle.expect_succeeded().never();
            mocks.throttle.expect_release().never();
            nothing_is_hashed_or_stored(&mut mocks);
            let events = capture_events(&mut mocks.events);
            let ports = mocks.into_ports();

            let answer = use_case.run(&ports, &principal, principal.user.id).await;

            assert!(
                matches!(answer, Answer::InvalidCredentials),
                "{use_case:?}: {answer:?}"
            );
            assert_event(
                &only(taken(&events)),
                use_case.event_type(),
                Some(principal.user.id),
                Some(FailureReason::InvalidCredentials),
            );
        }
    }

    #[tokio::test]
    async fn confirming_when_the_throttle_store_fails_is_unexpected_and_verifies_nothing() {
        for use_case in BOTH {
            let principal = principal();
            let mut mocks = Mocks::default();
            mocks
                .throttle
                .expect_attempt()
                .times(1)
                .returning(|_, _, _| Err(unavailable()));
            mocks.hasher.expect_verify().never();
            nothing_is_hashed_or_stored(&mut mocks);
            mocks.events.expect_record().never();
            let ports = mocks.into_ports();

            let answer = use_case.run(&ports, &principal, principal.user.id).await;

            let Answer::Unexpected(err) = answer else {
                panic!("{use_case:?}: expected Unexpected, got {answer:?}");
            };
            assert_carries_unavailable(&err);
        }
    }

    #[tokio::test]
    async fn confirming_when_verification_is_unavailable_is_unexpected_gives_the_attempt_back_and_records_and_stores_nothing()
     {
        for use_case in BOTH {
            let principal = principal();
            let mut mocks = Mocks::default();
            // A failure of ours is not a failed login: the counted attempt is given back.
            mocks
                .throttle
                .expect_release()
                .withf(|email, ip| email.as_str() == PRINCIPAL_EMAIL_KEY && *ip == caller().ip)
                .times(1)
                .return_const(());
            throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
            mocks
                .hasher
                .expect_verify()
                .times(1)
                .returning(|_, _| Err(unavailable()));
            mocks.throttle.expect_succeeded().never();
            nothing_is_hashed_or_stored(&mut mocks);
            mocks.events.expect_record().never();
            let ports = mocks.into_ports();

            let answer = use_case.run(&ports, &principal, principal.user.id).await;

            let Answer::Unexpected(err) = answer else {
                panic!("{use_case:?}: expected Unexpected, got {answer:?}");
            };
            assert_carries_unavailable(&err);
        }
    }

    #[tokio::test]
    async fn a_wrong_password_whose_failure_cannot_be_recorded_is_unexpected_not_invalid_credentials()
     {
        for use_case in BOTH {
            let principal = principal();
            let mut mocks = Mocks::default();
            throttles_principal(&mut mocks, ThrottleVerdict::Allowed, None);
            verifies_principal(&mut mocks, PasswordCheck::Mismatch, None);
            mocks.throttle.expect_succeeded().never();
            nothing_is_hashed_or_stored(&mut mocks);
            mocks
                .events
                .expect_record()
                .times(1)
                .returning(|_| Err(unavailable()));
            let ports = mocks.into_ports();

            let answer = use_case.run(&ports, &principal, principal.user.id).await;

            let Answer::Unexpected(err) = answer else {
                panic!("{use_case:?}: expected Unexpected, got {answer:?}");
            };
            assert_carries_unavailable(&err);
        }
    }
}
