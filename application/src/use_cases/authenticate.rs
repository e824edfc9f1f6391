//! Use case: authenticate — turn a bearer token into the principal behind it.

use domain::{
    AuthEvent, AuthEventType, Claims, ClaimsRejection, EventId, FailureReason, Session, User,
    UserId,
};
use secrecy::{ExposeSecret, SecretString};
use uuid::Uuid;

use crate::Caller;
use crate::ports::TokenDecodeError;
use crate::service::{AuthConfig, Ports};

/// The largest `Authorization` header accepted, in bytes; longer ones are refused
/// without being parsed.
pub const MAX_AUTHORIZATION_HEADER_BYTES: usize = 8 * 1024;

/// Input of [`authenticate`].
#[derive(Debug, Clone)]
pub struct AuthenticateRequest {
    /// The whole `Authorization` header value, scheme included (`Bearer …`).
    pub authorization: SecretString,
    /// Who is asking.
    pub caller: Caller,
}

/// The authenticated caller: a live session of an active user.
#[derive(Debug, Clone, PartialEq)]
pub struct Principal {
    /// The user, as stored now.
    pub user: User,
    /// The session the token belongs to.
    pub session: Session,
}

/// Why a token was refused; each maps to one contract code.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// No bearer token: no header, another scheme, or `Bearer` with nothing after it.
    #[error("authentication required")]
    Missing,
    /// Oversized, malformed, bad signature, wrong `alg`/`typ`/`kid`, wrong `iss`/`aud`,
    /// `nbf` in the future.
    #[error("invalid token")]
    Invalid,
    /// `exp` has passed.
    #[error("expired token")]
    Expired,
    /// A required claim is missing or ill-typed.
    #[error("invalid token claims")]
    InvalidClaims,
    /// The session is unknown, revoked or expired, or the user is inactive.
    #[error("revoked token")]
    Revoked,
    /// Anything else (may carry [`crate::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

impl AuthenticateError {
    fn reason(&self) -> Option<FailureReason> {
        match self {
            Self::Missing => Some(FailureReason::AuthMissing),
            Self::Invalid => Some(FailureReason::AuthInvalid),
            Self::Expired => Some(FailureReason::AuthExpired),
            Self::InvalidClaims => Some(FailureReason::AuthInvalidClaims),
            Self::Revoked => Some(FailureReason::AuthRevoked),
            Self::Unexpected(_) => None,
        }
    }
}

/// Checks a bearer token, in the contract's order: size cap → scheme → header and
/// signature → required claims → `iss`, `aud`, `nbf` → `exp` → session and user. The
/// first failure decides the answer.
///
/// # Security
/// Every refused token is recorded as `token_rejected` with its reason. The event is
/// written into a user's log only when the token's signature verified and its subject is
/// a stored user, so a forged token cannot write into anyone's log. A request with no
/// token at all is not an event.
///
/// # Errors
/// See [`AuthenticateError`].
pub async fn authenticate(
    ports: &Ports,
    config: &AuthConfig,
    request: AuthenticateRequest,
) -> Result<Principal, AuthenticateError> {
    let header = request.authorization.expose_secret();
    let (outcome, subject) = check(ports, config, header).await;
    match outcome {
        Ok(principal) => Ok(principal),
        Err(err) => {
            if let Some(reason) = err.reason().filter(|r| *r != FailureReason::AuthMissing) {
                let owner = match subject {
                    Some(id) => ports.users.find_by_id(id).await?.map(|u| u.id),
                    None => None,
                };
                let event = AuthEvent::failure(
                    EventId::from_uuid(Uuid::now_v7()),
                    AuthEventType::TokenRejected,
                    owner,
                    reason,
                    &request.caller.client_info(),
                    ports.clock.now(),
                );
                ports.events.record(&event).await?;
            }
            Err(err)
        }
    }
}

/// The checks proper; also returns the token's subject once its signature verified.
async fn check(
    ports: &Ports,
    config: &AuthConfig,
    header: &str,
) -> (Result<Principal, AuthenticateError>, Option<UserId>) {
    if header.len() > MAX_AUTHORIZATION_HEADER_BYTES {
        return (Err(AuthenticateError::Invalid), None);
    }
    let Some(token) = bearer_token(header) else {
        return (Err(AuthenticateError::Missing), None);
    };
    let claims: Claims = match ports.tokens.decode(token) {
        Ok(claims) => claims,
        Err(TokenDecodeError::Invalid) => return (Err(AuthenticateError::Invalid), None),
        Err(TokenDecodeError::InvalidClaims { user_id }) => {
            return (Err(AuthenticateError::InvalidClaims), user_id);
        }
    };
    let subject = Some(claims.sub);
    let now = ports.clock.now();
    match config.token_policy.validate(&claims, now) {
        Ok(()) => {}
        Err(ClaimsRejection::Expired) => return (Err(AuthenticateError::Expired), subject),
        Err(
            ClaimsRejection::WrongIssuer
            | ClaimsRejection::WrongAudience
            | ClaimsRejection::NotYetValid,
        ) => return (Err(AuthenticateError::Invalid), subject),
    }
    let session = match ports.sessions.find_by_id(claims.sid).await {
        Ok(Some(session)) if session.user_id == claims.sub && session.is_live(now) => session,
        Ok(_) => return (Err(AuthenticateError::Revoked), subject),
        Err(err) => return (Err(err.into()), subject),
    };
    let user = match ports.users.find_by_id(claims.sub).await {
        Ok(Some(user)) if user.is_active => user,
        Ok(_) => return (Err(AuthenticateError::Revoked), subject),
        Err(err) => return (Err(err.into()), subject),
    };
    (Ok(Principal { user, session }), subject)
}

/// The token of a `Bearer` credential (scheme case-insensitive, RFC 6750), or `None`
/// for another scheme or an empty token.
fn bearer_token(header: &str) -> Option<&str> {
    let (scheme, rest) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = rest.trim();
    (!token.is_empty()).then_some(token)
}
