//! Use case: log in with email and password.

use domain::{
    AuthEvent, AuthEventType, EmailAddress, EmailAddressError, EventId, FailureReason,
    PlaintextPassword, UserId,
};

use super::{IssuedSession, new_session};
use crate::caller::Caller;
use crate::config::AuthConfig;
use crate::ports::{
    AuthEventLog, Clock, IdGenerator, LoginThrottle, NewLogin, PasswordCheck, PasswordHasher,
    SessionRepository, StartLoginError, ThrottleAttempt, TokenCodec, UserRepository,
};

/// The ports [`log_in`] uses.
#[derive(Clone, Copy)]
pub struct LogInPorts<'a> {
    /// Where the account is looked up.
    pub users: &'a dyn UserRepository,
    /// Where the session is started.
    pub sessions: &'a dyn SessionRepository,
    /// Where failures are recorded.
    pub events: &'a dyn AuthEventLog,
    /// Verifies (and maybe re-hashes) the password.
    pub hasher: &'a dyn PasswordHasher,
    /// Signs the session's token.
    pub tokens: &'a dyn TokenCodec,
    /// The per-account throttle.
    pub throttle: &'a dyn LoginThrottle,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The session's, token's and events' ids.
    pub ids: &'a dyn IdGenerator,
}

/// Input of [`log_in`].
#[derive(Debug, Clone)]
pub struct LogInRequest {
    /// The email as sent (trimmed and keyed here).
    pub email: String,
    /// The password as sent.
    pub password: PlaintextPassword,
    /// Who is asking.
    pub caller: Caller,
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogInError {
    /// The email does not parse (format only; says nothing about registration).
    #[error("invalid email: {0}")]
    InvalidEmail(EmailAddressError),
    /// Wrong password, unknown email or inactive account — deliberately one outcome; also
    /// a password changed, or an account deactivated, while this login verified it.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many failures for this account (per email and IP bucket, or per email).
    #[error("throttled")]
    Throttled {
        /// Seconds until an attempt may succeed.
        retry_after_secs: u64,
    },
    /// Anything else (may carry [`crate::errors::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Verifies the credentials, opens a session and issues its token.
///
/// Order (after the per-IP limit, see [`crate::use_cases::admit`]): email format →
/// hashing saturation (503 at once) → per-account throttle (counts the attempt
/// before the password is verified, so parallel guesses cannot overrun it) → lookup →
/// verification → session, stored only if the hash just verified is still the stored
/// one and the account still active (see [`crate::ports::SessionRepository::start`]);
/// else the login fails like a wrong password (`INVALID_CREDENTIALS`) or an inactive
/// account (`ACCOUNT_INACTIVE`), and its attempt stays counted.
///
/// # Security
/// Unknown email, wrong password and inactive account give the same error and the same
/// work: an unknown email is verified against a dummy hash with the current parameters,
/// and an inactive account's password is verified before its state is looked at. The
/// audit log tells the three apart (`UNKNOWN_EMAIL`, `INVALID_CREDENTIALS`,
/// `ACCOUNT_INACTIVE`); the client never can.
///
/// # Errors
/// See [`LogInError`].
pub async fn log_in(
    ports: &LogInPorts<'_>,
    config: &AuthConfig,
    request: LogInRequest,
) -> Result<IssuedSession, LogInError> {
    let client = request.caller.client_info();
    let ip = request.caller.ip;
    let email = EmailAddress::parse(&request.email).map_err(LogInError::InvalidEmail)?;
    // The account is found, and its failures counted, by the address's key: every form
    // of one address (case, Unicode normalisation, width, quotes, IDN or punycode) is one
    // account and one throttle.
    let key = email.key();
    let password = request.password;

    // While hashing is saturated the answer is 503 whatever else happens: give it now,
    // before the attempt is counted and before the lookup, so that under a login flood a
    // refused request costs its answer and nothing more (no database work, no memory
    // held while waiting for a connection). The place is held until the verification
    // is done: the logins between this check and their hash count too.
    let admission = ports
        .hasher
        .admit()
        .map_err(|unavailable| LogInError::Unexpected(anyhow::Error::new(unavailable)))?;

    // Counted before the password is verified, so parallel guesses cannot overrun the
    // throttle; until the password has been judged, a failure of ours (database down,
    // hashing saturated) is not a failed login, and dropping `attempt` gives it back.
    let attempt = match ThrottleAttempt::count(ports.throttle, key, ip, ports.clock.now()).await? {
        Ok(attempt) => attempt,
        Err(retry_after_secs) => {
            // The owner sees in their log that someone is hammering the account.
            let owner = ports.users.find_by_email(key).await?.map(|u| u.id);
            let event = AuthEvent::failure(
                EventId::from_uuid(ports.ids.new_id()),
                AuthEventType::LoginThrottled,
                owner,
                FailureReason::RateLimitExceeded,
                &client,
                ports.clock.now(),
            );
            ports.events.record(&event).await?;
            return Err(LogInError::Throttled { retry_after_secs });
        }
    };

    let Some(user) = ports.users.find_by_email(key).await? else {
        let verified = ports.hasher.verify_dummy(password).await;
        drop(admission);
        verified?;
        attempt.failed();
        fail(ports, None, FailureReason::UnknownEmail, &request.caller).await?;
        return Err(LogInError::InvalidCredentials);
    };

    let verified = ports
        .hasher
        .verify(password.clone(), user.password_hash.clone())
        .await;
    drop(admission);
    let needs_rehash = match verified? {
        PasswordCheck::Mismatch => {
            attempt.failed();
            fail(
                ports,
                Some(user.id),
                FailureReason::InvalidCredentials,
                &request.caller,
            )
            .await?;
            return Err(LogInError::InvalidCredentials);
        }
        PasswordCheck::Match { .. } if !user.is_active => {
            attempt.failed();
            fail(
                ports,
                Some(user.id),
                FailureReason::AccountInactive,
                &request.caller,
            )
            .await?;
            return Err(LogInError::InvalidCredentials);
        }
        PasswordCheck::Match { needs_rehash } => needs_rehash,
    };
    // The rehash is an upgrade, not a condition of the login: if it cannot be done now
    // (hashing saturated), the next successful login tries again.
    let rehashed = if needs_rehash {
        ports.hasher.hash(password).await.ok()
    } else {
        None
    };
    let now = ports.clock.now();
    let (session, token) = new_session(
        ports.tokens,
        ports.ids,
        config,
        user.id,
        &user.email,
        &request.caller,
        now,
    )?;
    let login = NewLogin {
        session: session.clone(),
        verified: user.password_hash.clone(),
        last_login: now,
        rehashed: rehashed.clone(),
        event: AuthEvent::success(
            EventId::from_uuid(ports.ids.new_id()),
            AuthEventType::Login,
            Some(user.id),
            &client,
            now,
        ),
    };
    let started = ports.sessions.start(&login).await;
    // The write is a compare-and-swap on the hash just verified and on the account being
    // active: a password change or a deactivation that committed since the verification
    // makes this login what it would have been a moment later — a failed one, counted
    // (the attempt stays on the throttle) and logged like any other.
    let stale = match started {
        Ok(()) => None,
        Err(StartLoginError::CredentialChanged) => Some(FailureReason::InvalidCredentials),
        Err(StartLoginError::AccountInactive) => Some(FailureReason::AccountInactive),
        Err(StartLoginError::Unexpected(err)) => return Err(err.into()),
    };
    if let Some(reason) = stale {
        attempt.failed();
        fail(ports, Some(user.id), reason, &request.caller).await?;
        return Err(LogInError::InvalidCredentials);
    }
    attempt.succeeded().await?;

    let mut user = user;
    user.last_login = Some(now);
    if let Some(hash) = rehashed {
        user.password_hash = hash;
    }
    Ok(IssuedSession {
        user,
        session,
        token,
        expires_in: config.token_policy.ttl_seconds,
    })
}

async fn fail(
    ports: &LogInPorts<'_>,
    user_id: Option<UserId>,
    reason: FailureReason,
    caller: &Caller,
) -> anyhow::Result<()> {
    let event = AuthEvent::failure(
        EventId::from_uuid(ports.ids.new_id()),
        AuthEventType::LoginFailed,
        user_id,
        reason,
        &caller.client_info(),
        ports.clock.now(),
    );
    ports.events.record(&event).await
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    use domain::{Claims, PasswordHash, ThrottleVerdict, User};
    use mockall::Sequence;

    use super::*;
    use crate::errors::Unavailable;
    use crate::use_cases::test_support::{
        CALLER_IP, CALLER_USER_AGENT, Captured, Mocks, assert_carries_unavailable, assert_event,
        caller, capture_events, captured, config, now, only, taken, unavailable, user,
    };

    /// As a client might send it: padded, needlessly quoted, in another case than it
    /// signed up with.
    const EMAIL: &str = " \"JANE.DOE\"@Example.COM ";
    /// The key of [`EMAIL`] and of [`SIGNED_UP_EMAIL`]: what finds and throttles.
    const EMAIL_KEY: &str = "jane.doe@example.com";
    /// The address as typed at sign-up, which [`stored_user`] keeps.
    const SIGNED_UP_EMAIL: &str = "Jane.Doe@Example.com";
    const PASSWORD: &str = "Correct7Horse";
    /// What [`user`] stores.
    const STORED_HASH: &str = "$argon2id$stored";
    const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$new";
    const TOKEN: &str = "signed.access.token";

    fn request(email: &str) -> LogInRequest {
        LogInRequest {
            email: email.into(),
            password: PlaintextPassword::new(PASSWORD.to_owned()),
            caller: caller(),
        }
    }

    fn stored_user() -> User {
        user(SIGNED_UP_EMAIL)
    }

    fn inactive_user() -> User {
        User {
            is_active: false,
            ..stored_user()
        }
    }

    fn throttle(mocks: &mut Mocks, decision: ThrottleVerdict, order: Option<&mut Sequence>) {
        let expectation = mocks
            .throttle
            .expect_attempt()
            .withf(|email, ip, at| {
                email.as_str() == EMAIL_KEY && *ip == caller().ip && *at == now()
            })
            .times(1)
            .returning(move |_, _, _| Ok(decision));
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
    }

    fn finds(mocks: &mut Mocks, found: Option<User>) {
        mocks
            .users
            .expect_find_by_email()
            .withf(|email| email.as_str() == EMAIL_KEY)
            .times(1)
            .returning(move |_| Ok(found.clone()));
    }

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

    fn no_password_is_verified(mocks: &mut Mocks) {
        mocks.hasher.expect_verify().never();
        mocks.hasher.expect_verify_dummy().never();
    }

    fn no_session_is_started(mocks: &mut Mocks) {
        mocks.throttle.expect_succeeded().never();
        mocks.hasher.expect_hash().never();
        mocks.tokens.expect_encode().never();
        mocks.sessions.expect_start().never();
    }

    fn signs_token(mocks: &mut Mocks) -> Captured<Claims> {
        let claims = captured();
        let kept = Arc::clone(&claims);
        mocks.tokens.expect_encode().times(1).returning(move |c| {
            kept.lock().expect("capture lock poisoned").push(c.clone());
            Ok(TOKEN.into())
        });
        claims
    }

    fn starts_session(mocks: &mut Mocks) -> Captured<NewLogin> {
        let logins = captured();
        let kept = Arc::clone(&logins);
        mocks
            .sessions
            .expect_start()
            .times(1)
            .returning(move |login| {
                kept.lock()
                    .expect("capture lock poisoned")
                    .push(login.clone());
                Ok(())
            });
        logins
    }

    fn clears_throttle(mocks: &mut Mocks) {
        mocks
            .throttle
            .expect_succeeded()
            .withf(|email, ip| email.as_str() == EMAIL_KEY && *ip == caller().ip)
            .times(1)
            .returning(|_, _| Ok(()));
    }

    struct LoggedIn {
        user: User,
        issued: IssuedSession,
        claims: Claims,
        login: NewLogin,
    }

    /// A login with the right password; `needs_rehash` is what `verify` answers.
    /// The event log must not be written to at all.
    async fn log_in_successfully(needs_rehash: bool) -> LoggedIn {
        let user = stored_user();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(user.clone()));
        verifies(&mut mocks, PasswordCheck::Match { needs_rehash }, None);
        mocks.hasher.expect_verify_dummy().never();
        clears_throttle(&mut mocks);
        if needs_rehash {
            mocks
                .hasher
                .expect_hash()
                .withf(|password| password.expose() == PASSWORD)
                .times(1)
                .returning(|_| Ok(PasswordHash::from_phc(NEW_HASH.into())));
        } else {
            mocks.hasher.expect_hash().never();
        }
        let claims = signs_token(&mut mocks);
        let logins = starts_session(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let issued = log_in(&ports.for_log_in(), &config(), request(EMAIL))
            .await
            .expect("login succeeds");
        LoggedIn {
            user,
            issued,
            claims: only(taken(&claims)),
            login: only(taken(&logins)),
        }
    }

    #[tokio::test]
    async fn login_with_the_right_password_starts_a_session_that_expires_exactly_when_its_token_does()
     {
        let LoggedIn {
            user,
            issued,
            claims,
            login,
        } = log_in_successfully(false).await;

        assert_eq!(
            login.session, issued.session,
            "the stored session is answered"
        );
        let session = issued.session;
        assert_eq!(session.expires_at, claims.expires_at());
        assert_eq!(claims.exp, now().timestamp() + 3600);
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(session.user_id, user.id);
        assert_eq!(session.created_at, now());
        assert_eq!(session.revoked_at, None);
        assert_eq!(session.ip_address.as_deref(), Some(CALLER_IP));
        assert_eq!(session.user_agent.as_deref(), Some(CALLER_USER_AGENT));
        assert_eq!(claims.sub, user.id);
        assert_eq!(claims.sid, session.id);
        assert_eq!(
            claims.email, SIGNED_UP_EMAIL,
            "the token names the address as typed at sign-up, not as typed at login"
        );
        assert_eq!(issued.token.expose_secret(), TOKEN);
    }

    #[tokio::test]
    async fn login_with_the_right_password_sets_last_login_and_records_login_in_the_sessions_transaction()
     {
        let LoggedIn {
            user,
            issued,
            login,
            ..
        } = log_in_successfully(false).await;

        assert_eq!(login.last_login, now());
        assert_eq!(
            login.verified.as_str(),
            STORED_HASH,
            "the write is conditional on the hash the password was verified against"
        );
        assert_eq!(issued.user.last_login, Some(now()));
        assert_eq!(issued.user.id, user.id);
        // `log_in_successfully` forbids `events.record`: this is the only event.
        assert_event(&login.event, AuthEventType::Login, Some(user.id), None);
    }

    #[tokio::test]
    async fn login_with_a_current_hash_clears_the_throttle_and_does_not_rehash() {
        // `log_in_successfully` expects `throttle.succeeded` once and forbids `hash`.
        let LoggedIn { issued, login, .. } = log_in_successfully(false).await;

        assert_eq!(login.rehashed, None);
        assert_eq!(issued.user.password_hash.as_str(), STORED_HASH);
    }

    #[tokio::test]
    async fn login_with_a_hash_made_under_old_parameters_stores_a_rehash_with_the_session() {
        let LoggedIn { issued, login, .. } = log_in_successfully(true).await;

        assert_eq!(
            login.rehashed.as_ref().map(PasswordHash::as_str),
            Some(NEW_HASH)
        );
        assert_eq!(issued.user.password_hash.as_str(), NEW_HASH);
    }

    #[tokio::test]
    async fn login_succeeds_without_a_rehash_when_rehashing_is_unavailable() {
        let user = stored_user();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(user));
        verifies(
            &mut mocks,
            PasswordCheck::Match { needs_rehash: true },
            None,
        );
        clears_throttle(&mut mocks);
        mocks
            .hasher
            .expect_hash()
            .times(1)
            .returning(|_| Err(unavailable()));
        let _claims = signs_token(&mut mocks);
        let logins = starts_session(&mut mocks);
        let ports = mocks.into_ports();

        let issued = log_in(&ports.for_log_in(), &config(), request(EMAIL))
            .await
            .expect("the login does not depend on the rehash");
        assert_eq!(only(taken(&logins)).rehashed, None);
        assert_eq!(issued.user.password_hash.as_str(), STORED_HASH);
    }

    #[tokio::test]
    async fn login_counts_the_attempt_against_the_throttle_before_it_verifies_the_password() {
        let mut order = Sequence::new();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, Some(&mut order));
        finds(&mut mocks, Some(stored_user()));
        verifies(&mut mocks, PasswordCheck::Mismatch, Some(&mut order));
        capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn login_with_an_invalid_email_returns_invalid_email_and_counts_verifies_and_records_nothing()
     {
        let mut mocks = Mocks::default();
        mocks.throttle.expect_attempt().never();
        mocks.users.expect_find_by_email().never();
        no_password_is_verified(&mut mocks);
        no_session_is_started(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_in(
            &ports.for_log_in(),
            &config(),
            request("jane.doe@localhost"),
        )
        .await;

        assert!(
            matches!(
                result,
                Err(LogInError::InvalidEmail(EmailAddressError::Invalid))
            ),
            "{result:?}"
        );
    }

    #[tokio::test]
    async fn login_with_an_unknown_email_verifies_against_the_dummy_hash_and_records_unknown_email()
    {
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, None);
        mocks
            .hasher
            .expect_verify_dummy()
            .withf(|password| password.expose() == PASSWORD)
            .times(1)
            .returning(|_| Ok(()));
        mocks.hasher.expect_verify().never();
        no_session_is_started(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginFailed,
            None,
            Some(FailureReason::UnknownEmail),
        );
    }

    #[tokio::test]
    async fn login_with_wrong_password_returns_invalid_credentials_and_records_failure() {
        let user = stored_user();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(user.clone()));
        verifies(&mut mocks, PasswordCheck::Mismatch, None);
        mocks.hasher.expect_verify_dummy().never();
        no_session_is_started(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginFailed,
            Some(user.id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    #[tokio::test]
    async fn login_to_an_inactive_account_with_the_right_password_returns_invalid_credentials_and_records_account_inactive()
     {
        let user = inactive_user();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(user.clone()));
        // Verified although the account is inactive: the same work as any other answer.
        verifies(
            &mut mocks,
            PasswordCheck::Match {
                needs_rehash: false,
            },
            None,
        );
        no_session_is_started(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginFailed,
            Some(user.id),
            Some(FailureReason::AccountInactive),
        );
    }

    #[tokio::test]
    async fn login_to_an_inactive_account_with_a_wrong_password_records_invalid_credentials() {
        let user = inactive_user();
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(user.clone()));
        verifies(&mut mocks, PasswordCheck::Mismatch, None);
        no_session_is_started(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginFailed,
            Some(user.id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    #[tokio::test]
    async fn login_to_a_throttled_account_refuses_even_the_right_password_and_records_login_throttled_for_the_owner()
     {
        let user = stored_user();
        let mut mocks = Mocks::default();
        throttle(
            &mut mocks,
            ThrottleVerdict::Blocked {
                retry_after_secs: 600,
            },
            None,
        );
        finds(&mut mocks, Some(user.clone()));
        no_password_is_verified(&mut mocks);
        no_session_is_started(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(
                result,
                Err(LogInError::Throttled {
                    retry_after_secs: 600
                })
            ),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginThrottled,
            Some(user.id),
            Some(FailureReason::RateLimitExceeded),
        );
    }

    #[tokio::test]
    async fn login_throttled_for_an_unknown_email_records_login_throttled_without_a_user() {
        let mut mocks = Mocks::default();
        throttle(
            &mut mocks,
            ThrottleVerdict::Blocked {
                retry_after_secs: 600,
            },
            None,
        );
        finds(&mut mocks, None);
        no_password_is_verified(&mut mocks);
        no_session_is_started(&mut mocks);
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(
                result,
                Err(LogInError::Throttled {
                    retry_after_secs: 600
                })
            ),
            "{result:?}"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginThrottled,
            None,
            Some(FailureReason::RateLimitExceeded),
        );
    }

    #[tokio::test]
    async fn login_when_the_user_lookup_is_unavailable_returns_unexpected_and_gives_the_attempt_back_carrying_unavailable()
     {
        let mut mocks = Mocks::default();
        // A failure of ours is not a failed login: the counted attempt is given back.
        mocks.throttle.expect_release().times(1).return_const(());
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        mocks
            .users
            .expect_find_by_email()
            .times(1)
            .returning(|_| Err(unavailable()));
        no_password_is_verified(&mut mocks);
        no_session_is_started(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        let Err(LogInError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn login_when_the_throttle_store_fails_returns_unexpected_and_verifies_nothing() {
        let mut mocks = Mocks::default();
        mocks
            .throttle
            .expect_attempt()
            .times(1)
            .returning(|_, _, _| Err(unavailable()));
        mocks.users.expect_find_by_email().never();
        no_password_is_verified(&mut mocks);
        no_session_is_started(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        let Err(LogInError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn login_when_hashing_is_unavailable_returns_unexpected_and_gives_the_attempt_back_and_records_no_failure()
     {
        let mut mocks = Mocks::default();
        // A failure of ours is not a failed login: the counted attempt is given back.
        mocks.throttle.expect_release().times(1).return_const(());
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(stored_user()));
        mocks
            .hasher
            .expect_verify()
            .times(1)
            .returning(|_, _| Err(unavailable()));
        no_session_is_started(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        let Err(LogInError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    /// Marks a hashing place as held until dropped.
    struct Place(Arc<AtomicBool>);

    impl Drop for Place {
        fn drop(&mut self) {
            self.0.store(false, Ordering::SeqCst);
        }
    }

    #[tokio::test]
    async fn login_holds_its_hashing_place_through_the_lookup_and_verification_only() {
        let mut mocks = Mocks::default();
        let held = Arc::new(AtomicBool::new(false));
        mocks.hasher.checkpoint();
        let taken = Arc::clone(&held);
        mocks.hasher.expect_admit().times(1).returning(move || {
            taken.store(true, Ordering::SeqCst);
            Ok(crate::ports::HashAdmission::new(Place(Arc::clone(&taken))))
        });
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        let in_lookup = Arc::clone(&held);
        mocks
            .users
            .expect_find_by_email()
            .times(1)
            .returning(move |_| {
                assert!(in_lookup.load(Ordering::SeqCst), "held during the lookup");
                Ok(None)
            });
        let in_hash = Arc::clone(&held);
        mocks
            .hasher
            .expect_verify_dummy()
            .times(1)
            .returning(move |_| {
                assert!(in_hash.load(Ordering::SeqCst), "held while hashing");
                Ok(())
            });
        let in_record = Arc::clone(&held);
        mocks.events.expect_record().times(1).returning(move |_| {
            assert!(
                !in_record.load(Ordering::SeqCst),
                "given back before the writes"
            );
            Ok(())
        });
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert!(!held.load(Ordering::SeqCst));
    }

    #[tokio::test]
    async fn login_while_hashing_is_saturated_is_refused_before_the_throttle_and_the_lookup() {
        let mut mocks = Mocks::default();
        mocks.hasher.checkpoint();
        mocks.hasher.expect_admit().times(1).returning(|| {
            Err(Unavailable {
                retry_after_secs: 2,
                what: "database",
            })
        });
        mocks.hasher.expect_verify().never();
        mocks.hasher.expect_verify_dummy().never();
        mocks.throttle.expect_attempt().never();
        mocks.throttle.expect_release().never();
        mocks.users.expect_find_by_email().never();
        mocks.events.expect_record().never();
        no_session_is_started(&mut mocks);
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        let Err(LogInError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn login_when_the_session_cannot_be_stored_returns_unexpected_carrying_unavailable() {
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(stored_user()));
        verifies(
            &mut mocks,
            PasswordCheck::Match {
                needs_rehash: false,
            },
            None,
        );
        // A failure of ours, not a failed login: the attempt is given back, and the
        // throttle is not cleared either (no login happened).
        mocks.throttle.expect_succeeded().never();
        mocks.throttle.expect_release().times(1).return_const(());
        signs_token(&mut mocks);
        mocks
            .sessions
            .expect_start()
            .times(1)
            .returning(|_| Err(StartLoginError::Unexpected(unavailable())));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        let Err(LogInError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn login_failure_that_cannot_be_recorded_returns_unexpected_not_invalid_credentials() {
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(stored_user()));
        verifies(&mut mocks, PasswordCheck::Mismatch, None);
        no_session_is_started(&mut mocks);
        mocks
            .events
            .expect_record()
            .times(1)
            .returning(|_| Err(unavailable()));
        let ports = mocks.into_ports();

        let result = log_in(&ports.for_log_in(), &config(), request(EMAIL)).await;

        let Err(LogInError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    // -----------------------------------------------------------------------------------
    // Races: a password change or a deactivation commits between the verification and
    // the login's write. `Stored` is the account as the database holds it; the hasher
    // mock lets the concurrent change commit while the login hashes (deterministically:
    // inside `verify` or the re-hash), and the session repository mock is the port's
    // compare-and-swap over it, as its contract states.
    // -----------------------------------------------------------------------------------

    /// The account as stored: its hash and whether it is active.
    type Stored = Arc<std::sync::Mutex<(PasswordHash, bool)>>;

    /// What commits while the login is hashing.
    #[derive(Clone, Copy)]
    enum Concurrent {
        PasswordChange,
        Deactivation,
    }

    const CHANGED_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$changed";

    fn commit(stored: &Stored, concurrent: Concurrent) {
        let mut row = stored.lock().expect("stored lock poisoned");
        match concurrent {
            Concurrent::PasswordChange => row.0 = PasswordHash::from_phc(CHANGED_HASH.into()),
            Concurrent::Deactivation => row.1 = false,
        }
    }

    /// `sessions.start` as the port's contract has it: applies only if the stored hash is
    /// still the verified one and the account active; captures what it applied.
    fn starts_if_current(mocks: &mut Mocks, stored: &Stored) -> Captured<NewLogin> {
        let applied = captured();
        let kept = Arc::clone(&applied);
        let stored = Arc::clone(stored);
        mocks
            .sessions
            .expect_start()
            .times(1)
            .returning(move |login| {
                let mut row = stored.lock().expect("stored lock poisoned");
                if !row.1 {
                    return Err(StartLoginError::AccountInactive);
                }
                if row.0 != login.verified {
                    return Err(StartLoginError::CredentialChanged);
                }
                if let Some(hash) = &login.rehashed {
                    row.0 = hash.clone();
                }
                kept.lock()
                    .expect("capture lock poisoned")
                    .push(login.clone());
                Ok(())
            });
        applied
    }

    /// A login with the right password during which `concurrent` commits: inside the
    /// verification, or — when the stored hash needs a re-hash — inside the re-hash.
    async fn log_in_while(concurrent: Option<Concurrent>, needs_rehash: bool) -> Race {
        let user = stored_user();
        let stored: Stored = Arc::new(std::sync::Mutex::new((user.password_hash.clone(), true)));
        let mut mocks = Mocks::default();
        throttle(&mut mocks, ThrottleVerdict::Allowed, None);
        finds(&mut mocks, Some(user.clone()));
        let during_verify = Arc::clone(&stored);
        mocks
            .hasher
            .expect_verify()
            .withf(|password, hash| password.expose() == PASSWORD && hash.as_str() == STORED_HASH)
            .times(1)
            .returning(move |_, _| {
                if let (Some(concurrent), false) = (concurrent, needs_rehash) {
                    commit(&during_verify, concurrent);
                }
                Ok(PasswordCheck::Match { needs_rehash })
            });
        let during_rehash = Arc::clone(&stored);
        mocks
            .hasher
            .expect_hash()
            .times(usize::from(needs_rehash))
            .returning(move |_| {
                if let Some(concurrent) = concurrent {
                    commit(&during_rehash, concurrent);
                }
                Ok(PasswordHash::from_phc(NEW_HASH.into()))
            });
        signs_token(&mut mocks);
        let applied = starts_if_current(&mut mocks, &stored);
        if concurrent.is_some() {
            // A failed login: its attempt stays counted, the throttle is not cleared.
            mocks.throttle.expect_succeeded().never();
            mocks.throttle.expect_release().never();
        } else {
            clears_throttle(&mut mocks);
        }
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        Race {
            result: log_in(&ports.for_log_in(), &config(), request(EMAIL)).await,
            user_id: user.id,
            stored,
            applied,
            events,
        }
    }

    struct Race {
        result: Result<IssuedSession, LogInError>,
        user_id: UserId,
        stored: Stored,
        applied: Captured<NewLogin>,
        events: Captured<AuthEvent>,
    }

    #[tokio::test]
    async fn login_whose_password_is_changed_between_verification_and_session_fails_like_a_wrong_password()
     {
        let Race {
            result,
            stored,
            applied,
            events,
            user_id,
        } = log_in_while(Some(Concurrent::PasswordChange), false).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert!(taken(&applied).is_empty(), "no session was stored");
        assert_eq!(
            stored.lock().expect("stored lock poisoned").0.as_str(),
            CHANGED_HASH,
            "the change stands"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginFailed,
            Some(user_id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    #[tokio::test]
    async fn login_that_rehashes_while_the_password_is_changed_does_not_undo_the_change() {
        let Race {
            result,
            stored,
            applied,
            events,
            user_id,
        } = log_in_while(Some(Concurrent::PasswordChange), true).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert!(
            taken(&applied).is_empty(),
            "neither session nor re-hash stored"
        );
        assert_eq!(
            stored.lock().expect("stored lock poisoned").0.as_str(),
            CHANGED_HASH,
            "the re-hash of the old password did not overwrite the new one"
        );
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginFailed,
            Some(user_id),
            Some(FailureReason::InvalidCredentials),
        );
    }

    #[tokio::test]
    async fn login_whose_account_is_deactivated_between_verification_and_session_fails_as_inactive()
    {
        let Race {
            result,
            applied,
            events,
            user_id,
            ..
        } = log_in_while(Some(Concurrent::Deactivation), false).await;

        assert!(
            matches!(result, Err(LogInError::InvalidCredentials)),
            "{result:?}"
        );
        assert!(taken(&applied).is_empty(), "no session was stored");
        assert_event(
            &only(taken(&events)),
            AuthEventType::LoginFailed,
            Some(user_id),
            Some(FailureReason::AccountInactive),
        );
    }

    #[tokio::test]
    async fn login_without_a_concurrent_change_stores_its_session_and_rehash() {
        let Race {
            result,
            stored,
            applied,
            events,
            ..
        } = log_in_while(None, true).await;

        let issued = result.expect("login succeeds");
        let applied = only(taken(&applied));
        assert_eq!(applied.session, issued.session);
        assert_eq!(applied.verified.as_str(), STORED_HASH);
        assert_eq!(
            stored.lock().expect("stored lock poisoned").0.as_str(),
            NEW_HASH
        );
        assert!(taken(&events).is_empty(), "{:?}", taken(&events));
    }
}
