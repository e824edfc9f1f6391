//! Use case: sign up — register a user and log them in.

use domain::{
    AuthEvent, AuthEventType, EmailAddress, EmailAddressError, EventId, FailureReason,
    PasswordPolicyViolation, PlaintextPassword, User, UserId,
};

use super::{IssuedSession, new_session};
use crate::caller::Caller;
use crate::config::AuthConfig;
use crate::ports::{
    AuthEventLog, Clock, CreateUserError, IdGenerator, PasswordHasher, TokenCodec, UserRepository,
};

/// The ports [`sign_up`] uses.
#[derive(Clone, Copy)]
pub struct SignUpPorts<'a> {
    /// Where the user is created.
    pub users: &'a dyn UserRepository,
    /// Where a refused signup is recorded.
    pub events: &'a dyn AuthEventLog,
    /// Hashes the password.
    pub hasher: &'a dyn PasswordHasher,
    /// Signs the first session's token.
    pub tokens: &'a dyn TokenCodec,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The new user's, session's, token's and event's ids.
    pub ids: &'a dyn IdGenerator,
}

/// Input of [`sign_up`].
#[derive(Debug, Clone)]
pub struct SignUpRequest {
    /// The email as sent (trimmed and keyed here).
    pub email: String,
    /// The password as sent.
    pub password: PlaintextPassword,
    /// Who is asking.
    pub caller: Caller,
}

/// Why a signup was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// The email does not parse.
    #[error("invalid email: {0}")]
    InvalidEmail(EmailAddressError),
    /// The password breaks the policy; every broken rule is listed.
    #[error("weak password")]
    WeakPassword(PasswordPolicyViolation),
    /// The email is registered already (also when that account is deactivated).
    #[error("email already registered")]
    EmailTaken,
    /// Anything else (may carry [`crate::errors::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Registers a user, opens their first session and issues its token.
///
/// Order (after the per-IP limit, see [`crate::use_cases::admit`]): email → password
/// policy → hash → insert (user, session and
/// `signup` event in one transaction).
///
/// # Security
/// The password is hashed before the insert is attempted, so a taken email (409) costs
/// the same time as a successful signup (201) and the answer's timing does not reveal
/// which emails are registered any more than the 409 itself does.
///
/// # Errors
/// See [`SignUpError`]. A taken email records a failed `signup` event (`EMAIL_EXISTS`)
/// with no user attached: the caller is not that account's owner, so it is not written
/// into the owner's security log.
pub async fn sign_up(
    ports: &SignUpPorts<'_>,
    config: &AuthConfig,
    request: SignUpRequest,
) -> Result<IssuedSession, SignUpError> {
    let client = request.caller.client_info();
    let email = EmailAddress::parse(&request.email).map_err(SignUpError::InvalidEmail)?;
    let password = request.password;
    config
        .password_policy
        .check(&password, &email)
        .map_err(SignUpError::WeakPassword)?;

    let password_hash = ports.hasher.hash(password).await?;

    let now = ports.clock.now();
    let user = User {
        id: UserId::from_uuid(ports.ids.new_id()),
        email,
        password_hash,
        created_at: now,
        // Signup logs the user in, so it is their last login too.
        last_login: Some(now),
        is_active: true,
    };
    let (session, token) = new_session(
        ports.tokens,
        ports.ids,
        config,
        user.id,
        &user.email,
        &request.caller,
        now,
    )?;
    let event = AuthEvent::success(
        EventId::from_uuid(ports.ids.new_id()),
        AuthEventType::Signup,
        Some(user.id),
        &client,
        now,
    );
    match ports
        .users
        .create_with_session(&user, &session, &event)
        .await
    {
        Ok(()) => {}
        Err(CreateUserError::EmailTaken) => {
            let event = AuthEvent::failure(
                EventId::from_uuid(ports.ids.new_id()),
                AuthEventType::Signup,
                None,
                FailureReason::EmailExists,
                &client,
                now,
            );
            ports.events.record(&event).await?;
            return Err(SignUpError::EmailTaken);
        }
        Err(CreateUserError::Unexpected(err)) => return Err(SignUpError::Unexpected(err)),
    }
    Ok(IssuedSession {
        user,
        session,
        token,
        expires_in: config.token_policy.ttl_seconds,
    })
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;
    use std::sync::Arc;

    use domain::{Claims, PasswordHash, PasswordRule, Session};
    use mockall::Sequence;

    use super::*;
    use crate::errors::Unavailable;
    use crate::use_cases::test_support::{
        CALLER_IP, CALLER_USER_AGENT, Captured, Mocks, assert_carries_unavailable, assert_event,
        caller, capture_events, captured, config, now, only, taken, unavailable,
    };

    /// As a client might send it: padded and in mixed case.
    const EMAIL: &str = "  Jane.Doe@Example.COM ";
    /// [`EMAIL`] trimmed: what is stored, answered and mailed to.
    const TYPED_EMAIL: &str = "Jane.Doe@Example.COM";
    /// The key of [`EMAIL`]: what the storage's uniqueness compares.
    const EMAIL_KEY: &str = "jane.doe@example.com";
    const PASSWORD: &str = "Correct7Horse";
    const NEW_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$new";
    const TOKEN: &str = "signed.access.token";

    type Created = (User, Session, AuthEvent);

    fn request(email: &str, password: &str) -> SignUpRequest {
        SignUpRequest {
            email: email.into(),
            password: PlaintextPassword::new(password.to_owned()),
            caller: caller(),
        }
    }

    fn hashes_password(mocks: &mut Mocks, order: Option<&mut Sequence>) {
        let expectation = mocks
            .hasher
            .expect_hash()
            .withf(|password| password.expose() == PASSWORD)
            .times(1)
            .returning(|_| Ok(PasswordHash::from_phc(NEW_HASH.into())));
        if let Some(order) = order {
            expectation.in_sequence(order);
        }
    }

    fn nothing_is_hashed_or_stored(mocks: &mut Mocks) {
        mocks.hasher.expect_hash().never();
        mocks.tokens.expect_encode().never();
        mocks.users.expect_create_with_session().never();
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

    fn creates(
        mocks: &mut Mocks,
        outcome: impl Fn() -> Result<(), CreateUserError> + Send + 'static,
    ) -> Captured<Created> {
        let created = captured();
        let kept = Arc::clone(&created);
        mocks
            .users
            .expect_create_with_session()
            .times(1)
            .returning(move |user, session, event| {
                kept.lock().expect("capture lock poisoned").push((
                    user.clone(),
                    session.clone(),
                    event.clone(),
                ));
                outcome()
            });
        created
    }

    struct SignedUp {
        issued: IssuedSession,
        claims: Claims,
        created: Created,
    }

    /// A signup that succeeds; the event log must not be written to at all.
    async fn sign_up_successfully() -> SignedUp {
        let mut mocks = Mocks::default();
        hashes_password(&mut mocks, None);
        let claims = signs_token(&mut mocks);
        let created = creates(&mut mocks, || Ok(()));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let issued = sign_up(&ports.for_sign_up(), &config(), request(EMAIL, PASSWORD))
            .await
            .expect("signup succeeds");
        SignedUp {
            issued,
            claims: only(taken(&claims)),
            created: only(taken(&created)),
        }
    }

    #[tokio::test]
    async fn sign_up_stores_an_active_user_with_the_email_as_typed_and_its_key_the_new_hash_and_last_login_now()
     {
        let SignedUp {
            issued,
            created: (stored, _, _),
            ..
        } = sign_up_successfully().await;

        assert_eq!(stored.email.as_str(), TYPED_EMAIL);
        assert_eq!(stored.email.key().as_str(), EMAIL_KEY);
        assert_eq!(stored.password_hash.as_str(), NEW_HASH);
        assert!(stored.is_active);
        assert_eq!(stored.created_at, now());
        assert_eq!(stored.last_login, Some(now()));
        assert_eq!(issued.user, stored, "the answer shows the user as stored");
    }

    #[tokio::test]
    async fn sign_up_issues_a_session_that_expires_exactly_when_its_token_does() {
        let SignedUp {
            issued,
            claims,
            created: (user, session, _),
        } = sign_up_successfully().await;

        assert_eq!(
            session, issued.session,
            "the stored session is the one answered"
        );
        assert_eq!(session.expires_at, claims.expires_at());
        assert_eq!(claims.exp, now().timestamp() + 3600);
        assert_eq!(issued.expires_in, 3600);
        assert_eq!(session.created_at, now());
        assert_eq!(session.revoked_at, None);
        assert_eq!(session.user_id, user.id);
        assert_eq!(session.ip_address.as_deref(), Some(CALLER_IP));
        assert_eq!(session.user_agent.as_deref(), Some(CALLER_USER_AGENT));
        assert_eq!(claims.sid, session.id);
        assert_eq!(claims.sub, user.id);
        assert_eq!(claims.email, TYPED_EMAIL);
        assert_eq!(issued.token.expose_secret(), TOKEN);
    }

    #[tokio::test]
    async fn sign_up_records_one_successful_signup_event_in_the_users_transaction_only() {
        let SignedUp {
            created: (user, _, event),
            ..
        } = sign_up_successfully().await;

        // `sign_up_successfully` forbids `events.record`: no second event, no `login`.
        assert_event(&event, AuthEventType::Signup, Some(user.id), None);
    }

    #[tokio::test]
    async fn sign_up_hashes_the_password_before_it_inserts_the_user() {
        let mut mocks = Mocks::default();
        let mut order = Sequence::new();
        hashes_password(&mut mocks, Some(&mut order));
        signs_token(&mut mocks);
        mocks
            .users
            .expect_create_with_session()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _, _| Ok(()));
        let ports = mocks.into_ports();

        let result = sign_up(&ports.for_sign_up(), &config(), request(EMAIL, PASSWORD)).await;

        assert!(result.is_ok(), "{result:?}");
    }

    #[tokio::test]
    async fn sign_up_with_an_invalid_email_returns_invalid_email_and_hashes_stores_and_records_nothing()
     {
        let too_long = format!("{}@example.com", "a".repeat(250));
        for (email, expected) in [
            ("   ", EmailAddressError::Empty),
            ("jane.doe", EmailAddressError::Invalid),
            ("jane@localhost", EmailAddressError::Invalid),
            (too_long.as_str(), EmailAddressError::TooLong),
        ] {
            let mut mocks = Mocks::default();
            nothing_is_hashed_or_stored(&mut mocks);
            mocks.events.expect_record().never();
            let ports = mocks.into_ports();

            let result = sign_up(&ports.for_sign_up(), &config(), request(email, PASSWORD)).await;

            assert!(
                matches!(&result, Err(SignUpError::InvalidEmail(e)) if *e == expected),
                "{email:?}: {result:?}"
            );
        }
    }

    #[tokio::test]
    async fn sign_up_with_a_weak_password_returns_every_violation_and_hashes_stores_and_records_nothing()
     {
        let mut mocks = Mocks::default();
        nothing_is_hashed_or_stored(&mut mocks);
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = sign_up(&ports.for_sign_up(), &config(), request(EMAIL, "password1")).await;

        let Err(SignUpError::WeakPassword(violation)) = result else {
            panic!("expected WeakPassword, got {result:?}");
        };
        assert_eq!(
            violation.rules(),
            [PasswordRule::Uppercase, PasswordRule::Common]
        );
    }

    #[tokio::test]
    async fn sign_up_with_a_taken_email_hashes_first_then_returns_email_taken_and_records_a_failed_signup_without_a_user()
     {
        let mut mocks = Mocks::default();
        let mut order = Sequence::new();
        hashes_password(&mut mocks, Some(&mut order));
        signs_token(&mut mocks);
        mocks
            .users
            .expect_create_with_session()
            .times(1)
            .in_sequence(&mut order)
            .returning(|_, _, _| Err(CreateUserError::EmailTaken));
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();

        let result = sign_up(&ports.for_sign_up(), &config(), request(EMAIL, PASSWORD)).await;

        assert!(matches!(result, Err(SignUpError::EmailTaken)), "{result:?}");
        assert_event(
            &only(taken(&events)),
            AuthEventType::Signup,
            None,
            Some(FailureReason::EmailExists),
        );
    }

    #[tokio::test]
    async fn sign_up_when_hashing_is_unavailable_returns_unexpected_carrying_unavailable_and_stores_nothing()
     {
        let mut mocks = Mocks::default();
        mocks
            .hasher
            .expect_hash()
            .times(1)
            .returning(|_| Err(unavailable()));
        mocks.tokens.expect_encode().never();
        mocks.users.expect_create_with_session().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = sign_up(&ports.for_sign_up(), &config(), request(EMAIL, PASSWORD)).await;

        let Err(SignUpError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn sign_up_when_the_database_is_unavailable_returns_unexpected_carrying_unavailable_and_records_nothing_else()
     {
        let mut mocks = Mocks::default();
        hashes_password(&mut mocks, None);
        signs_token(&mut mocks);
        creates(&mut mocks, || {
            Err(CreateUserError::Unexpected(unavailable()))
        });
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = sign_up(&ports.for_sign_up(), &config(), request(EMAIL, PASSWORD)).await;

        let Err(SignUpError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_carries_unavailable(&err);
    }

    #[tokio::test]
    async fn sign_up_when_signing_the_token_fails_returns_unexpected_and_stores_nothing() {
        let mut mocks = Mocks::default();
        hashes_password(&mut mocks, None);
        mocks
            .tokens
            .expect_encode()
            .times(1)
            .returning(|_| Err(anyhow::anyhow!("signing key unusable")));
        mocks.users.expect_create_with_session().never();
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();

        let result = sign_up(&ports.for_sign_up(), &config(), request(EMAIL, PASSWORD)).await;

        let Err(SignUpError::Unexpected(err)) = result else {
            panic!("expected Unexpected, got {result:?}");
        };
        assert_eq!(err.to_string(), "signing key unusable");
        assert_eq!(Unavailable::find_in(&err), None);
    }
}
