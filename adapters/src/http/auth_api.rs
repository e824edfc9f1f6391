//! `/api/auth/*`: sign up, log in, log out, who am I.
//!
//! Handlers translate DTOs to use-case requests and each use case's error enum to the
//! operation's response enum with an exhaustive `match`; they hold no rules of their own.

use std::sync::Arc;

use application::{
    AuthUseCases, AuthenticateError, AuthenticateRequest, IssuedSession, LogInError, LogInRequest,
    LogOutError, Principal, SignUpError, SignUpRequest,
};
use domain::{PasswordPolicyViolation, User};
use poem::Request;
use poem::http::StatusCode;
use poem::web::Data;
use poem_openapi::payload::Json;
use poem_openapi::registry::Registry;
use poem_openapi::{
    ApiExtractor, ApiExtractorType, ApiResponse, ExtractParamOptions, Object, OpenApi,
    SecurityScheme, Tags,
};
use secrecy::ExposeSecret;
use uuid::Uuid;

use super::client_ip::caller;
use super::envelope::{
    ApiError, ErrorCode, ErrorDetails, ErrorEnvelope, PasswordRuleViolation, PasswordViolations,
};
use super::security::presented_token;
use super::types::{SecretInput, Timestamp};

/// Operation groups in the spec.
#[derive(Tags)]
pub enum ApiTags {
    /// Sign-up, login, logout and the current user.
    Authentication,
    /// The caller's own account: profile, security log, sessions, password, deactivation.
    Account,
    /// Liveness and readiness.
    Operations,
}

/// `Cache-Control` on every response that carries a token.
const NO_STORE: &str = "no-store";

/// Email and password.
#[derive(Debug, Object)]
pub struct Credentials {
    /// The email address, at most 254 characters after trimming. One address is one
    /// account whatever form it is typed in: case (fully folded, `ß` = `ss`), Unicode
    /// normalisation (NFKC, so precomposed and decomposed accents and fullwidth forms
    /// match), needless quotes around the local part, and an internationalised domain or
    /// its punycode (IDNA) all name the same account. At signup the address is kept as
    /// typed (trimmed): that is where mail goes and what `email` shows afterwards;
    /// signing up again in another form is `CONFLICT_EMAIL`. At login any form works.
    pub email: String,
    /// The password. At login, the account's password. At signup it must meet the
    /// password policy, every rule of which is checked and reported at once
    /// (`VALIDATION_PASSWORD` lists each broken `rule`): under the default policy
    /// (`PASSWORD_POLICY=compat`) 8 to 128 characters with at least one upper-case
    /// letter, one lower-case letter and one decimal digit; under `PASSWORD_POLICY=nist`
    /// 15 to 128 characters and no composition rules; under both, not one of the 30,000
    /// most common passwords and not the email address itself (case-insensitive).
    pub password: SecretInput,
}

/// A new session and its access token.
#[derive(Debug, Object)]
pub struct AuthResponse {
    /// The user's id.
    pub user_id: Uuid,
    /// The user's email as typed at signup (trimmed; case and form kept), whatever form
    /// was used to log in.
    pub email: String,
    /// The access token (a JWT); send it as `Authorization: Bearer <token>`.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Seconds until the token expires.
    pub expires_in: i64,
    /// When the token (and its session) expires.
    pub expires_at: Timestamp,
    /// The session the token belongs to; logout revokes it.
    pub session_id: Uuid,
}

/// A user account.
#[derive(Debug, Object)]
#[oai(rename = "User")]
pub struct UserDto {
    /// The user's id.
    pub user_id: Uuid,
    /// The email as typed at signup (trimmed; case and form kept). Accounts created
    /// before addresses were kept as typed show it lowercased.
    pub email: String,
    /// When the account was created.
    pub created_at: Timestamp,
    /// The last successful login or signup; `null` if none.
    pub last_login: Option<Timestamp>,
    /// `false` once the account is deactivated.
    pub is_active: bool,
}

/// A confirmation.
#[derive(Debug, Object)]
pub struct MessageResponse {
    /// What happened.
    pub message: String,
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        Self {
            user_id: user.id.as_uuid(),
            email: user.email.as_str().to_owned(),
            created_at: Timestamp(user.created_at),
            last_login: user.last_login.map(Timestamp),
            is_active: user.is_active,
        }
    }
}

fn auth_response(issued: IssuedSession) -> AuthResponse {
    AuthResponse {
        user_id: issued.user.id.as_uuid(),
        email: issued.user.email.as_str().to_owned(),
        token: issued.token.expose_secret().to_owned(),
        token_type: "Bearer".into(),
        expires_in: issued.expires_in,
        expires_at: Timestamp(issued.session.expires_at),
        session_id: issued.session.id.as_uuid(),
    }
}

/// A JWT access token from signup or login, sent as `Authorization: Bearer <token>`. In
/// Swagger UI's **Authorize** dialog paste the token alone, without `Bearer ` in front:
/// the UI adds it. Tokens
/// follow the JSON Web Token Best Current Practices (RFC8725): the algorithm is pinned
/// (HS256; `none` and every other `alg` are refused before the signature is checked),
/// `typ` is `at+jwt`, `iss`, `aud`, `exp`, `iat`, `nbf`, `sub`, `sid` and `jti` are
/// required and checked, and a token is accepted only while its session is live. A token
/// with a `crit` header is refused (no extension is understood), and so is a request with
/// more than one `Authorization` header, whichever comes first (`AUTH_INVALID`).
#[derive(SecurityScheme)]
#[oai(rename = "bearerAuth", ty = "bearer", bearer_format = "JWT")]
#[allow(dead_code)] // only its registration in the spec is used
struct BearerScheme(poem_openapi::auth::Bearer);

/// An authenticated request: a live session of an active user.
///
/// It reads the raw `Authorization` header itself through [`presented_token`] (the
/// framework's bearer parser would answer "missing" for an oversized or malformed
/// header) and runs the `authenticate`
/// use case, so that a bad token is refused with the contract's code before any other
/// part of the request is looked at.
///
/// A request with more than one `Authorization` header is refused (`AUTH_INVALID`,
/// recorded as a rejected token) without any of them being read: which one a proxy in
/// front acted on cannot be known. Only operations that read a token refuse it; on
/// public operations the header means nothing and is not looked at.
pub struct Authenticated(pub Principal);

impl<'a> ApiExtractor<'a> for Authenticated {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        <BearerScheme as ApiExtractor>::register(registry);
    }

    fn security_schemes() -> Vec<&'static str> {
        <BearerScheme as ApiExtractor>::security_schemes()
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _param_opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let service = req
            .data::<Arc<dyn AuthUseCases>>()
            .ok_or_else(|| poem::Error::from(ApiError::internal()))?;
        let Some(token) = presented_token(req.headers()) else {
            return Err(ApiError::unauthorized(
                ErrorCode::AuthMissing,
                "Authentication required",
                false,
            )
            .into());
        };
        let request = AuthenticateRequest {
            token,
            caller: caller(req),
        };
        match service.authenticate(request).await {
            Ok(principal) => Ok(Self(principal)),
            Err(err) => Err(authentication_error(&err).into()),
        }
    }
}

/// The one mapping of token refusals to the envelope.
pub fn authentication_error(err: &AuthenticateError) -> ApiError {
    const INVALID: &str = "Invalid or expired token";
    match err {
        AuthenticateError::Missing => {
            ApiError::unauthorized(ErrorCode::AuthMissing, "Authentication required", false)
        }
        AuthenticateError::Invalid => ApiError::unauthorized(ErrorCode::AuthInvalid, INVALID, true),
        AuthenticateError::Expired => ApiError::unauthorized(ErrorCode::AuthExpired, INVALID, true),
        AuthenticateError::InvalidClaims => {
            ApiError::unauthorized(ErrorCode::AuthInvalidClaims, "Invalid token format", true)
        }
        AuthenticateError::Revoked => ApiError::unauthorized(ErrorCode::AuthRevoked, INVALID, true),
        AuthenticateError::Unexpected(e) => ApiError::unexpected(e),
    }
}

/// Signup succeeded.
#[derive(ApiResponse)]
pub enum SignUpResponse {
    /// The account was created and logged in.
    #[oai(status = 201)]
    Created(Json<AuthResponse>, #[oai(header = "Cache-Control")] String),
}

/// Signup failed.
#[derive(ApiResponse)]
pub enum SignUpFailure {
    /// `VALIDATION_ERROR` (malformed body), `VALIDATION_EMAIL` or `VALIDATION_PASSWORD`
    /// (every broken rule listed in `details.violations`).
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// `CONFLICT_EMAIL`: the email is registered (also when that account is deactivated).
    #[oai(status = 409)]
    Conflict(Json<ErrorEnvelope>),
    /// `PAYLOAD_TOO_LARGE`: the body is over 64 KiB.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// `RATE_LIMIT_EXCEEDED`: too many signups from this client IP.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable or password hashing is
    /// saturated.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
}

/// Login succeeded.
#[derive(ApiResponse)]
pub enum LogInResponse {
    /// Logged in: a new session and its token.
    #[oai(status = 200)]
    Ok(Json<AuthResponse>, #[oai(header = "Cache-Control")] String),
}

/// Login failed.
#[derive(ApiResponse)]
pub enum LogInFailure {
    /// `VALIDATION_ERROR` (malformed body) or `VALIDATION_EMAIL`.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// `AUTH_FAILED`: wrong password, unknown email or deactivated account — the three
    /// are indistinguishable, also in timing.
    #[oai(status = 401)]
    Unauthorized(
        Json<ErrorEnvelope>,
        #[oai(header = "WWW-Authenticate")] String,
    ),
    /// `PAYLOAD_TOO_LARGE`: the body is over 64 KiB.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// `RATE_LIMIT_EXCEEDED`: too many logins from this IP, or too many failures for
    /// this account.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable or password hashing is
    /// saturated.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
}

/// Logout succeeded.
#[derive(ApiResponse)]
pub enum LogOutResponse {
    /// The session is revoked: its token is refused from the next request on.
    #[oai(status = 200)]
    Ok(Json<MessageResponse>),
}

/// A failure of an operation that only needs a valid token.
#[derive(ApiResponse)]
pub enum AuthenticatedFailure {
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(
        Json<ErrorEnvelope>,
        #[oai(header = "WWW-Authenticate")] String,
    ),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>, #[oai(header = "Retry-After")] u64),
}

/// The current user.
#[derive(ApiResponse)]
pub enum MeResponse {
    /// The user the token belongs to.
    #[oai(status = 200)]
    Ok(Json<UserDto>),
}

fn sign_up_failure(err: SignUpError) -> SignUpFailure {
    let api = match err {
        SignUpError::InvalidEmail(_) => invalid_email(),
        SignUpError::WeakPassword(violation) => password_violations(&violation),
        SignUpError::EmailTaken => ApiError::new(
            StatusCode::CONFLICT,
            ErrorCode::ConflictEmail,
            "Email already registered",
        ),
        SignUpError::Unexpected(e) => ApiError::unexpected(&e),
    };
    by_status!(api, SignUpFailure {
        400 => BadRequest, 409 => Conflict, 413 => PayloadTooLarge,
        415 => UnsupportedMediaType, 429 => TooManyRequests(retry), 500 => Internal,
        503 => Unavailable(retry),
    })
}

/// 400 `VALIDATION_PASSWORD` listing every broken rule.
pub fn password_violations(violation: &PasswordPolicyViolation) -> ApiError {
    let mut e = ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::ValidationPassword,
        "Password does not meet requirements",
    );
    e.details = Some(ErrorDetails::Violations(PasswordViolations {
        violations: violation
            .violations()
            .iter()
            .map(|v| PasswordRuleViolation {
                rule: v.rule.code().to_owned(),
                message: v.message.clone(),
            })
            .collect(),
    }));
    e
}

fn invalid_email() -> ApiError {
    ApiError::new(
        StatusCode::BAD_REQUEST,
        ErrorCode::ValidationEmail,
        "Invalid email format",
    )
}

fn log_in_failure(err: LogInError) -> LogInFailure {
    let api = match err {
        LogInError::InvalidEmail(_) => invalid_email(),
        LogInError::InvalidCredentials => {
            ApiError::unauthorized(ErrorCode::AuthFailed, "Invalid credentials", false)
        }
        LogInError::Throttled { retry_after_secs } => ApiError::rate_limited(retry_after_secs),
        LogInError::Unexpected(e) => ApiError::unexpected(&e),
    };
    by_status!(api, LogInFailure {
        400 => BadRequest, 401 => Unauthorized(challenge), 413 => PayloadTooLarge,
        415 => UnsupportedMediaType, 429 => TooManyRequests(retry), 500 => Internal,
        503 => Unavailable(retry),
    })
}

fn authenticated_failure(api: ApiError) -> AuthenticatedFailure {
    by_status!(api, AuthenticatedFailure {
        401 => Unauthorized(challenge), 500 => Internal, 503 => Unavailable(retry),
    })
}

/// The `/api/auth` operations.
pub struct AuthApi;

#[OpenApi(tag = "ApiTags::Authentication")]
impl AuthApi {
    /// Sign up
    ///
    /// Creates an account and logs it in: the answer carries a session and its access
    /// token, as login's does. The email is trimmed, then must parse as an address of at
    /// most 254 characters (`VALIDATION_EMAIL`), and is kept as typed; the password must
    /// meet the configured policy (`VALIDATION_PASSWORD`, listing every broken rule). An
    /// email that is already registered in any form (case, Unicode normalisation, width,
    /// needless quotes, IDN or punycode domain) — even by a deactivated account — is 409
    /// `CONFLICT_EMAIL`; the password is hashed before that is known, so a 409 takes as
    /// long as a 201. Counts toward the per-IP signup limit.
    #[oai(path = "/api/auth/signup", method = "post", operation_id = "signUp")]
    async fn sign_up(
        &self,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
        body: Json<Credentials>,
    ) -> Result<SignUpResponse, SignUpFailure> {
        let Json(body) = body;
        let request = SignUpRequest {
            email: body.email,
            password: body.password.0,
            caller: caller(req),
        };
        match service.sign_up(request).await {
            Ok(issued) => Ok(SignUpResponse::Created(
                Json(auth_response(issued)),
                NO_STORE.into(),
            )),
            Err(err) => Err(sign_up_failure(err)),
        }
    }

    /// Log in
    ///
    /// Verifies the email and password and opens a new session; sets the user's
    /// `last_login`. A wrong password, an unknown email and a deactivated account all
    /// answer 401 `AUTH_FAILED` with the same body and the same work. Any form of the
    /// address the account signed up with logs in, and the answer's `email` is the one
    /// typed at signup. Counts toward the per-IP login limit and, when it fails, the
    /// per-account throttle (429), which counts every form of the address together.
    #[oai(path = "/api/auth/login", method = "post", operation_id = "logIn")]
    async fn log_in(
        &self,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
        body: Json<Credentials>,
    ) -> Result<LogInResponse, LogInFailure> {
        let Json(body) = body;
        let request = LogInRequest {
            email: body.email,
            password: body.password.0,
            caller: caller(req),
        };
        match service.log_in(request).await {
            Ok(issued) => Ok(LogInResponse::Ok(
                Json(auth_response(issued)),
                NO_STORE.into(),
            )),
            Err(err) => Err(log_in_failure(err)),
        }
    }

    /// Log out
    ///
    /// Revokes the session the bearer token belongs to, at once: the same token is
    /// refused with 401 `AUTH_REVOKED` from the next request on. Other sessions of the
    /// user stay open. No request body.
    #[oai(path = "/api/auth/logout", method = "post", operation_id = "logOut")]
    async fn log_out(
        &self,
        auth: Authenticated,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
    ) -> Result<LogOutResponse, AuthenticatedFailure> {
        match service.log_out(&auth.0, &caller(req)).await {
            Ok(()) => Ok(LogOutResponse::Ok(Json(MessageResponse {
                message: "Logged out successfully".into(),
            }))),
            Err(LogOutError::Unexpected(e)) => Err(authenticated_failure(ApiError::unexpected(&e))),
        }
    }

    /// Current user
    ///
    /// The user the bearer token belongs to. This is how another service checks a
    /// token: a 200 means the token is genuine, unexpired, its session is live and its
    /// user active — revocation included, unlike verifying the JWT alone.
    #[oai(path = "/api/auth/me", method = "get", operation_id = "getCurrentUser")]
    async fn me(&self, auth: Authenticated) -> Result<MeResponse, AuthenticatedFailure> {
        Ok(MeResponse::Ok(Json(UserDto::from(&auth.0.user))))
    }
}
