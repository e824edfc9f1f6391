//! Port: access-token encoding and cryptographic decoding.
//!
//! The codec owns the token format (header, algorithm, keys, signature, claim shapes);
//! the use case owns the time and audience rules ([`domain::TokenPolicy::validate`]) and
//! the session check.

use domain::{Claims, UserId};

/// Why a token could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenDecodeError {
    /// Malformed, wrong `alg`/`typ`, missing or unknown `kid`, bad signature.
    #[error("invalid token")]
    Invalid,
    /// The signature verified but a required claim is missing or ill-typed. `user_id`
    /// is the token's subject when it could be read (for the owner's security log).
    #[error("invalid token claims")]
    InvalidClaims {
        /// The subject, when readable.
        user_id: Option<UserId>,
    },
}

/// Signs and verifies access tokens.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait TokenCodec: Send + Sync + 'static {
    /// Signs `claims` with the current key.
    ///
    /// # Errors
    /// Only on an internal signing failure.
    fn encode(&self, claims: &Claims) -> anyhow::Result<String>;

    /// Checks the header and the signature and reads every required claim. It does not
    /// check `iss`, `aud`, `nbf` or `exp`.
    ///
    /// # Errors
    /// See [`TokenDecodeError`].
    fn decode(&self, token: &str) -> Result<Claims, TokenDecodeError>;
}
