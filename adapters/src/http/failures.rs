//! The pieces the operations' response enums share: each operation has its own enum
//! (exactly its statuses), built from its use case's error by an exhaustive `From`; the
//! variants several of them declare are filled by the helpers here.

use application::{AuthenticateError, Unavailable};
use domain::PasswordPolicyViolation;
use poem::IntoResponse;
use poem_openapi::payload::Json;

use super::envelope::{
    ApiError, BEARER_CHALLENGE, ErrorCode, ErrorDetails, ErrorEnvelope, INVALID_TOKEN_CHALLENGE,
    PasswordRuleViolation, PasswordViolations, envelope,
};
use super::open_set::{Open, RuleName};
use super::request_id;

/// An envelope.
pub type Envelope = Json<ErrorEnvelope>;

/// An unexpected use-case error: a dependency temporarily unavailable (503) or anything
/// else (500). Made by [`Unexpected::of`], which logs the cause; it never reaches a body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unexpected {
    /// 500 `INTERNAL_ERROR`.
    Internal,
    /// 503 `SERVICE_UNAVAILABLE` with `Retry-After`.
    Unavailable {
        /// Seconds, at least 1.
        retry_after: u64,
    },
}

impl Unexpected {
    /// Classifies and logs `err` with its whole cause chain.
    pub fn of(err: &anyhow::Error) -> Self {
        if let Some(unavailable) = Unavailable::find_in(err) {
            tracing::warn!(request_id = %request_id::current(), error = format!("{err:#}"), "dependency unavailable");
            Self::Unavailable {
                retry_after: unavailable.retry_after_secs.max(1),
            }
        } else {
            tracing::error!(request_id = %request_id::current(), error = format!("{err:#}"), "unexpected error");
            Self::Internal
        }
    }

    /// The same as a framework error.
    pub fn api_error(self) -> ApiError {
        match self {
            Self::Internal => ApiError::internal(),
            Self::Unavailable { retry_after } => ApiError::unavailable(retry_after),
        }
    }
}

/// A refused bearer token: the envelope and its `WWW-Authenticate` challenge.
pub struct Unauthorized {
    /// The body.
    pub envelope: Envelope,
    /// `Bearer`, or RFC 6750's `invalid_token` form when a token was sent.
    pub challenge: String,
}

/// Why the `Authenticated` extractor refused a request.
pub enum Refusal {
    /// 401: no token, or a token refused.
    Token(Unauthorized),
    /// 500/503 while checking it.
    Unexpected(Unexpected),
}

/// The one mapping of token refusals to the envelope.
pub fn refusal(err: &AuthenticateError) -> Refusal {
    const INVALID: &str = "Invalid or expired token";
    let (code, message, token_sent) = match err {
        AuthenticateError::Missing => (ErrorCode::AuthMissing, "Authentication required", false),
        AuthenticateError::Invalid => (ErrorCode::AuthInvalid, INVALID, true),
        AuthenticateError::Expired => (ErrorCode::AuthExpired, INVALID, true),
        AuthenticateError::InvalidClaims => {
            (ErrorCode::AuthInvalidClaims, "Invalid token format", true)
        }
        AuthenticateError::Revoked => (ErrorCode::AuthRevoked, INVALID, true),
        AuthenticateError::Unexpected(e) => return Refusal::Unexpected(Unexpected::of(e)),
    };
    Refusal::Token(unauthorized(code, message, token_sent))
}

/// A 401 envelope with the right challenge.
pub fn unauthorized(code: ErrorCode, message: &str, token_sent: bool) -> Unauthorized {
    Unauthorized {
        envelope: error(code, message),
        challenge: if token_sent {
            INVALID_TOKEN_CHALLENGE
        } else {
            BEARER_CHALLENGE
        }
        .to_owned(),
    }
}

/// The response of an operation behind a bearer token: it declares the 401 and the
/// 500/503 that checking the token can answer, and builds them itself.
pub trait RefusesTokens: IntoResponse + From<Unexpected> {
    /// The 401 variant.
    fn unauthorized(refused: Unauthorized) -> Self;

    /// The response for `refusal`.
    fn refused(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Token(refused) => Self::unauthorized(refused),
            Refusal::Unexpected(unexpected) => unexpected.into(),
        }
    }
}

/// Implements `From<Unexpected>` for response enums with `Internal` and `Unavailable`
/// variants and, after `;`, [`RefusesTokens`] for those with an `Unauthorized` one.
macro_rules! shared_variants {
    ($($ty:ident),* $(,)? $(; $($auth:ident),+ $(,)?)?) => {
        $(
            impl From<$crate::http::failures::Unexpected> for $ty {
                fn from(unexpected: $crate::http::failures::Unexpected) -> Self {
                    use $crate::http::failures::{Unexpected, envelope_of};
                    match unexpected {
                        Unexpected::Internal => Self::Internal(envelope_of(&unexpected.api_error())),
                        Unexpected::Unavailable { retry_after } => {
                            Self::Unavailable(envelope_of(&unexpected.api_error()), retry_after)
                        }
                    }
                }
            }
        )*
        $($(
            shared_variants!($auth);
            impl $crate::http::failures::RefusesTokens for $auth {
                fn unauthorized(refused: $crate::http::failures::Unauthorized) -> Self {
                    Self::Unauthorized(refused.envelope, refused.challenge)
                }
            }
        )+)?
    };
}
pub(crate) use shared_variants;

/// The envelope of a framework-style error, for the current request.
pub fn envelope_of(err: &ApiError) -> Envelope {
    Json(err.envelope())
}

/// An envelope without details.
pub fn error(code: ErrorCode, message: &str) -> Envelope {
    Json(envelope(code, message.to_owned(), None))
}

/// 400 `VALIDATION_EMAIL`.
pub fn invalid_email() -> Envelope {
    error(ErrorCode::ValidationEmail, "Invalid email format")
}

/// 400 `VALIDATION_PASSWORD` listing every broken rule.
pub fn password_violations(violation: &PasswordPolicyViolation) -> Envelope {
    let violations = violation
        .violations()
        .iter()
        .map(|v| PasswordRuleViolation {
            rule: Open(RuleName(v.rule)),
            message: v.message.clone(),
        })
        .collect();
    Json(envelope(
        ErrorCode::ValidationPassword,
        "Password does not meet requirements".to_owned(),
        Some(ErrorDetails::Violations(PasswordViolations { violations })),
    ))
}

/// 403 `AUTH_FORBIDDEN`: another user's resource.
pub fn forbidden() -> Envelope {
    error(ErrorCode::AuthForbidden, "Access denied")
}

/// 403 `AUTH_FAILED`: the confirming password is wrong.
pub fn wrong_password() -> Envelope {
    error(ErrorCode::AuthFailed, "Invalid credentials")
}

/// 429 `RATE_LIMIT_EXCEEDED` and its `Retry-After` (at least 1).
pub fn rate_limited(retry_after_secs: u64) -> (Envelope, u64) {
    let retry_after = retry_after_secs.max(1);
    (
        envelope_of(&ApiError::rate_limited(retry_after)),
        retry_after,
    )
}
