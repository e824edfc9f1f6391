//! Use case: sign up — register a user and log them in.

use domain::{
    AuthEvent, AuthEventType, EmailAddress, EmailAddressError, EventId, FailureReason,
    PasswordPolicyViolation, PlaintextPassword, User, UserId,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use super::{IssuedSession, new_session};
use crate::Caller;
use crate::ports::{CreateUserError, LimitedAction, RateDecision};
use crate::service::{AuthConfig, Ports};

/// Input of [`sign_up`].
#[derive(Debug, Clone)]
pub struct SignUpRequest {
    /// The email as sent (normalised here).
    pub email: String,
    /// The password as sent.
    pub password: SecretString,
    /// Who is asking.
    pub caller: Caller,
}

/// Why a signup was refused.
#[derive(Debug, thiserror::Error)]
pub enum SignUpError {
    /// Too many signups from this client IP.
    #[error("rate limited")]
    RateLimited {
        /// Seconds until the next signup from this IP is allowed.
        retry_after_secs: u64,
    },
    /// The email does not parse.
    #[error("invalid email: {0}")]
    InvalidEmail(EmailAddressError),
    /// The password breaks the policy; every broken rule is listed.
    #[error("weak password")]
    WeakPassword(PasswordPolicyViolation),
    /// The email is registered already (also when that account is deactivated).
    #[error("email already registered")]
    EmailTaken,
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Registers a user, opens their first session and issues its token.
///
/// Order: per-IP limit → email → password policy → hash → insert (user, session and
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
    ports: &Ports,
    config: &AuthConfig,
    request: SignUpRequest,
) -> Result<IssuedSession, SignUpError> {
    let client = request.caller.client_info();
    if let RateDecision::Limited { retry_after_secs } = ports
        .rate_limiter
        .check(LimitedAction::SignUp, request.caller.ip)
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
        return Err(SignUpError::RateLimited { retry_after_secs });
    }

    let email = EmailAddress::parse(&request.email).map_err(SignUpError::InvalidEmail)?;
    let password = PlaintextPassword::new(request.password.expose_secret().to_owned());
    config
        .password_policy
        .check(&password, &email)
        .map_err(SignUpError::WeakPassword)?;

    let password_hash = ports.hasher.hash(password).await?;

    let now = ports.clock.now();
    let user = User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email,
        password_hash,
        created_at: now,
        // Signup logs the user in, so it is their last login too.
        last_login: Some(now),
        is_active: true,
    };
    let (session, token) = new_session(ports, config, user.id, &user.email, &request.caller, now)?;
    let event = AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
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
                EventId::from_uuid(Uuid::now_v7()),
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
