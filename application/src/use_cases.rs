//! The use cases, one module each, with one request, output and error type per use case.

pub mod account;
pub mod admit;
pub mod authenticate;
pub mod log_in;
pub mod log_out;
pub mod maintenance;
pub mod sign_up;

#[cfg(test)]
mod test_support;

use chrono::{DateTime, Utc};
use domain::{Claims, EmailAddress, Session, SessionId, User};
use secrecy::SecretString;

use crate::caller::Caller;
use crate::config::AuthConfig;
use crate::ports::{IdGenerator, TokenCodec};

/// A freshly issued session and its access token (signup and login answer with it).
#[derive(Debug, Clone)]
pub struct IssuedSession {
    /// The user, as stored after the operation.
    pub user: User,
    /// The new session; its `expires_at` is the token's `exp`.
    pub session: Session,
    /// The signed access token.
    pub token: SecretString,
    /// The token's lifetime in seconds.
    pub expires_in: i64,
}

/// A new session for `user_id` and the token that carries it, both ending at the same
/// instant (a session lives exactly as long as its token).
pub(crate) fn new_session(
    tokens: &dyn TokenCodec,
    ids: &dyn IdGenerator,
    config: &AuthConfig,
    user_id: domain::UserId,
    email: &EmailAddress,
    caller: &Caller,
    now: DateTime<Utc>,
) -> anyhow::Result<(Session, SecretString)> {
    let session_id = SessionId::from_uuid(ids.new_id());
    let claims = Claims::issue(
        &config.token_policy,
        user_id,
        email,
        session_id,
        ids.new_id(),
        now,
    );
    let token = tokens.encode(&claims)?;
    let client = caller.client_info();
    let session = Session {
        id: session_id,
        user_id,
        created_at: now,
        expires_at: claims.expires_at(),
        revoked_at: None,
        ip_address: client.ip_address,
        user_agent: client.user_agent,
    };
    Ok((session, SecretString::from(token)))
}
