//! Use case: log in with email and password.

use domain::{
    AuthEvent, AuthEventType, EmailAddress, EmailAddressError, EventId, FailureReason,
    PlaintextPassword, UserId,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{IssuedSession, new_session};
use crate::Caller;
use crate::ports::{LimitedAction, NewLogin, PasswordCheck, RateDecision, ThrottleDecision};
use crate::service::{AuthConfig, Ports};

/// Input of [`log_in`].
#[derive(Debug, Clone)]
pub struct LogInRequest {
    /// The email as sent (normalised here).
    pub email: String,
    /// The password as sent.
    pub password: SecretString,
    /// Who is asking.
    pub caller: Caller,
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LogInError {
    /// The email does not parse (format only; says nothing about registration).
    #[error("invalid email: {0}")]
    InvalidEmail(EmailAddressError),
    /// Wrong password, unknown email or inactive account — deliberately one outcome.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Too many logins from this IP, or too many failures for this account.
    #[error("throttled")]
    Throttled {
        /// Seconds until an attempt may succeed.
        retry_after_secs: u64,
    },
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Verifies the credentials, opens a session and issues its token.
///
/// Order: per-IP limit → email format → per-account throttle (counts the attempt
/// before the password is verified, so parallel guesses cannot overrun it) → lookup →
/// verification → session.
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
    ports: &Ports,
    config: &AuthConfig,
    request: LogInRequest,
) -> Result<IssuedSession, LogInError> {
    let client = request.caller.client_info();
    let ip = request.caller.ip;
    if let RateDecision::Limited { retry_after_secs } =
        ports.rate_limiter.check(LimitedAction::LogIn, ip)
    {
        let event = AuthEvent::failure(
            EventId::from_uuid(Uuid::now_v7()),
            AuthEventType::RateLimited,
            None,
            FailureReason::RateLimitExceeded,
            &client,
            ports.clock.now(),
        );
        ports.events.record(&event).await?;
        return Err(LogInError::Throttled { retry_after_secs });
    }

    let email = EmailAddress::parse(&request.email).map_err(LogInError::InvalidEmail)?;
    let password = PlaintextPassword::new(request.password.expose_secret().to_owned());

    if let ThrottleDecision::Throttled { retry_after_secs } = ports
        .throttle
        .attempt(&email, ip, ports.clock.now())
        .await?
    {
        // The owner sees in their log that someone is hammering the account.
        let owner = ports.users.find_by_email(&email).await?.map(|u| u.id);
        let event = AuthEvent::failure(
            EventId::from_uuid(Uuid::now_v7()),
            AuthEventType::LoginThrottled,
            owner,
            FailureReason::RateLimitExceeded,
            &client,
            ports.clock.now(),
        );
        ports.events.record(&event).await?;
        return Err(LogInError::Throttled { retry_after_secs });
    }

    let Some(user) = ports.users.find_by_email(&email).await? else {
        ports.hasher.verify_dummy(password).await?;
        fail(ports, None, FailureReason::UnknownEmail, &request.caller).await?;
        return Err(LogInError::InvalidCredentials);
    };

    let check = ports
        .hasher
        .verify(password.clone(), user.password_hash.clone())
        .await?;
    let needs_rehash = match check {
        PasswordCheck::Mismatch => {
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
    ports.throttle.succeeded(&email, ip).await?;

    let rehashed = if needs_rehash {
        Some(ports.hasher.hash(password).await?)
    } else {
        None
    };
    let now = ports.clock.now();
    let (session, token) = new_session(ports, config, user.id, &user.email, &request.caller, now)?;
    let login = NewLogin {
        session: session.clone(),
        last_login: now,
        rehashed: rehashed.clone(),
        event: AuthEvent::success(
            EventId::from_uuid(Uuid::now_v7()),
            AuthEventType::Login,
            Some(user.id),
            &client,
            now,
        ),
    };
    ports.sessions.start(&login).await?;

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
    ports: &Ports,
    user_id: Option<UserId>,
    reason: FailureReason,
    caller: &Caller,
) -> anyhow::Result<()> {
    let event = AuthEvent::failure(
        EventId::from_uuid(Uuid::now_v7()),
        AuthEventType::LoginFailed,
        user_id,
        reason,
        &caller.client_info(),
        ports.clock.now(),
    );
    ports.events.record(&event).await
}
