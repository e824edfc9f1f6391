//! The error envelope — the one shape of every error body — and [`ApiError`], the single
//! place where an error becomes a response.
//!
//! Every error, whether raised by a handler, the authentication extractor or the
//! framework (malformed JSON, unknown route, wrong method …), is rendered here with the
//! request's id and the current time in `meta`. Bodies never carry internals: an
//! unexpected error is logged with its cause chain and answered with a generic message.

use chrono::{DateTime, SecondsFormat, Utc};
use poem::http::{HeaderValue, StatusCode, header};
use poem::{IntoResponse, Response};
use poem_openapi::{Enum, Object, Union};

use super::open_set::{Open, RuleName};
use super::request_id;
use super::types::{RequestId, Timestamp};

/// The error codes this release answers. The set grows in later releases:
/// `ErrorBody.code` may carry a value not listed here, which clients must accept and keep
/// (and treat by its HTTP status).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Enum)]
#[oai(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// Malformed JSON, a missing field, a wrong type, a bad parameter.
    ValidationError,
    /// The email does not parse.
    ValidationEmail,
    /// The password breaks the policy.
    ValidationPassword,
    /// No bearer token.
    AuthMissing,
    /// The token is invalid.
    AuthInvalid,
    /// The token has expired.
    AuthExpired,
    /// A required claim is missing or ill-typed.
    AuthInvalidClaims,
    /// The session was revoked or the user deactivated.
    AuthRevoked,
    /// Wrong credentials.
    AuthFailed,
    /// The resource belongs to another user.
    AuthForbidden,
    /// No such resource.
    NotFound,
    /// The path exists, the method does not.
    MethodNotAllowed,
    /// The email is registered already.
    ConflictEmail,
    /// The body is over 64 KiB.
    PayloadTooLarge,
    /// The body did not arrive in time.
    RequestTimeout,
    /// The body is not `application/json`.
    UnsupportedMediaType,
    /// Too many requests.
    RateLimitExceeded,
    /// A server error.
    InternalError,
    /// A dependency is temporarily unavailable.
    ServiceUnavailable,
}

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct FieldError {
    /// The field (`body` when the body is not JSON at all; a parameter's own name).
    #[oai(validator(pattern = r"^[A-Za-z0-9_.\[\]]+$", max_length = 128))]
    pub field: String,
    /// What is wrong with it.
    #[oai(validator(max_length = 1000))]
    pub message: String,
}

/// `details` of `VALIDATION_ERROR`.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct FieldErrors {
    /// Every invalid field.
    // One entry per invalid body field or parameter; no request has this many.
    #[oai(validator(max_items = 32))]
    pub fields: Vec<FieldError>,
}

/// One broken password rule.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct PasswordRuleViolation {
    /// The broken rule, one of `PasswordRule`. The set may grow in later releases:
    /// accept (and keep) a value not listed there; `message` explains it.
    pub rule: Open<RuleName>,
    /// A human-readable explanation.
    #[oai(validator(max_length = 1000))]
    pub message: String,
}

/// `details` of `VALIDATION_PASSWORD`.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct PasswordViolations {
    /// Every broken rule, not just the first.
    // At most one per rule: `PasswordRule::ALL.len()` (a test checks it).
    #[oai(validator(max_items = 7))]
    pub violations: Vec<PasswordRuleViolation>,
}

/// Extra, code-specific information.
#[derive(Debug, Clone, PartialEq, Eq, Union)]
#[oai(one_of = true)]
pub enum ErrorDetails {
    /// For `VALIDATION_ERROR`.
    Fields(FieldErrors),
    /// For `VALIDATION_PASSWORD`.
    Violations(PasswordViolations),
}

/// What went wrong.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ErrorBody {
    /// Machine-readable code, one of `ErrorCode`. The set grows in later releases: accept
    /// (and keep) a value not listed there, and act on the HTTP status.
    pub code: Open<ErrorCode>,
    /// Human-readable message.
    #[oai(validator(max_length = 1000))]
    pub message: String,
    /// Code-specific details; `null` when there is nothing to add.
    pub details: Option<ErrorDetails>,
}

/// When and for which request.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ResponseMeta {
    /// When the error was answered (RFC 3339, UTC).
    pub timestamp: Timestamp,
    /// The request's id, also in the `X-Request-ID` header and the logs.
    pub request_id: RequestId,
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Eq, Object)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: ErrorBody,
    /// Request metadata.
    pub meta: ResponseMeta,
}

/// An error on its way to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Envelope code.
    pub code: ErrorCode,
    /// Envelope message.
    pub message: String,
    /// Envelope details.
    pub details: Option<ErrorDetails>,
    /// `Retry-After` seconds (429, 503).
    pub retry_after: Option<u64>,
    /// `WWW-Authenticate` value (every 401).
    pub www_authenticate: Option<&'static str>,
    /// `Allow` value (405).
    pub allow: Option<String>,
}

/// `WWW-Authenticate` when no token was sent.
pub const BEARER_CHALLENGE: &str = "Bearer";
/// `WWW-Authenticate` when a token was sent and refused (RFC 6750).
pub const INVALID_TOKEN_CHALLENGE: &str = r#"Bearer error="invalid_token""#;

impl ApiError {
    /// An error without headers.
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: None,
            retry_after: None,
            www_authenticate: None,
            allow: None,
        }
    }

    /// 400 `VALIDATION_ERROR` naming fields.
    pub fn validation(fields: Vec<FieldError>) -> Self {
        let message = match fields.as_slice() {
            [one] => format!("Invalid field `{}`: {}", one.field, one.message),
            _ => "Invalid request".to_owned(),
        };
        let mut err = Self::new(StatusCode::BAD_REQUEST, ErrorCode::ValidationError, message);
        err.details = Some(ErrorDetails::Fields(FieldErrors { fields }));
        err
    }

    /// 401 with the right challenge.
    pub fn unauthorized(code: ErrorCode, message: &str, token_sent: bool) -> Self {
        let mut err = Self::new(StatusCode::UNAUTHORIZED, code, message);
        err.www_authenticate = Some(if token_sent {
            INVALID_TOKEN_CHALLENGE
        } else {
            BEARER_CHALLENGE
        });
        err
    }

    /// 429 `RATE_LIMIT_EXCEEDED`.
    pub fn rate_limited(retry_after: u64) -> Self {
        let mut err = Self::new(
            StatusCode::TOO_MANY_REQUESTS,
            ErrorCode::RateLimitExceeded,
            "Too many requests. Try again later.",
        );
        err.retry_after = Some(retry_after.max(1));
        err
    }

    /// 503 `SERVICE_UNAVAILABLE`.
    pub fn unavailable(retry_after: u64) -> Self {
        let mut err = Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::ServiceUnavailable,
            "Service temporarily unavailable",
        );
        err.retry_after = Some(retry_after.max(1));
        err
    }

    /// 500 `INTERNAL_ERROR` (the cause is logged by the caller, never sent).
    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::InternalError,
            "An unexpected error occurred",
        )
    }

    /// An unexpected error from a use case: 503 when a dependency is temporarily
    /// unavailable, else 500. Logged with its whole cause chain.
    pub fn unexpected(err: &anyhow::Error) -> Self {
        super::failures::Unexpected::of(err).api_error()
    }

    /// The envelope of this error for the current request.
    pub fn envelope(&self) -> ErrorEnvelope {
        envelope(self.code, self.message.clone(), self.details.clone())
    }
}

/// An error body for the current request.
pub fn envelope(code: ErrorCode, message: String, details: Option<ErrorDetails>) -> ErrorEnvelope {
    ErrorEnvelope {
        error: ErrorBody {
            code: Open(code),
            message,
            details,
        },
        meta: ResponseMeta {
            timestamp: Timestamp(Utc::now()),
            request_id: RequestId(request_id::current()),
        },
    }
}

/// RFC 3339 in UTC with a `Z`, to the second.
pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, true)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        use poem_openapi::types::ToJSON as _;
        let json = self.envelope().to_json().unwrap_or_default();
        let mut resp = Response::builder()
            .status(self.status)
            .content_type("application/json; charset=utf-8")
            .body(json.to_string());
        let headers = resp.headers_mut();
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(challenge) = self.www_authenticate {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            );
        }
        if let Some(allow) = self
            .allow
            .as_deref()
            .and_then(|a| HeaderValue::from_str(a).ok())
        {
            headers.insert(header::ALLOW, allow);
        }
        resp
    }
}

impl From<ApiError> for poem::Error {
    fn from(err: ApiError) -> Self {
        poem::Error::from_response(err.into_response())
    }
}
