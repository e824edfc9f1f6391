//! `/api/auth/*`: sign up, log in, log out, who am I.
//!
//! Handlers translate DTOs to use-case requests and each use case's error enum to the
//! operation's response enum with an exhaustive `match`; they hold no rules of their own.

use std::marker::PhantomData;
use std::sync::Arc;

use application::{
    AuthUseCases, AuthenticateError, AuthenticateRequest, IssuedSession, LogInError, LogInRequest,
    LogOutError, Principal, SignUpError, SignUpRequest,
};
use domain::User;
use poem::Request;
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
use super::envelope::ErrorCode;
use super::failures::{
    Envelope, Refusal, RefusesTokens, Unexpected, error, invalid_email, password_violations,
    rate_limited, refusal, shared_variants, unauthorized,
};
use super::security::presented_token;
use super::types::{Email, SecretInput, Timestamp, TokenType};

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
    pub email: Email,
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
    pub email: Email,
    /// The access token (a JWT); send it as `Authorization: Bearer <token>`.
    // Tokens over 8 KiB are refused before they are parsed (contract).
    #[oai(validator(
        pattern = r"^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$",
        max_length = 8192
    ))]
    pub token: String,
    /// Always `Bearer`.
    pub token_type: TokenType,
    /// Seconds until the token expires.
    #[oai(validator(minimum(value = "1")))]
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
    pub email: Email,
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
    #[oai(validator(max_length = 1000))]
    pub message: String,
}

impl From<&User> for UserDto {
    fn from(user: &User) -> Self {
        Self {
            user_id: user.id.as_uuid(),
            email: Email(user.email.as_str().to_owned()),
            created_at: Timestamp(user.created_at),
            last_login: user.last_login.map(Timestamp),
            is_active: user.is_active,
        }
    }
}

fn auth_response(issued: IssuedSession) -> AuthResponse {
    AuthResponse {
        user_id: issued.user.id.as_uuid(),
        email: Email(issued.user.email.as_str().to_owned()),
        token: issued.token.expose_secret().to_owned(),
        token_type: TokenType("Bearer".into()),
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

/// An authenticated request: a live session of an active user. `R` is the operation's
/// response enum, which declares the 401 (and the 500/503 of checking the token) and
/// builds it: the refusal is a variant of the operation's own response.
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
pub struct Authenticated<R>(pub Principal, PhantomData<fn() -> R>);

impl<'a, R: RefusesTokens> ApiExtractor<'a> for Authenticated<R> {
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
        // The operation's own refusal, carried out of the extractor as its response.
        let refuse =
            |refusal: Refusal| poem::Error::from_response(R::refused(refusal).into_response());
        let service = req
            .data::<Arc<dyn AuthUseCases>>()
            .ok_or_else(|| refuse(Refusal::Unexpected(Unexpected::Internal)))?;
        let Some(token) = presented_token(req.headers()) else {
            return Err(refuse(refusal(&AuthenticateError::Missing)));
        };
        let request = AuthenticateRequest {
            token,
            caller: caller(req),
        };
        match service.authenticate(request).await {
            Ok(principal) => Ok(Self(principal, PhantomData)),
            Err(err) => Err(refuse(refusal(&err))),
        }
    }
}

/// `POST /api/auth/signup` answers.
#[derive(ApiResponse)]
pub enum SignUpResponse {
    /// The account was created and logged in.
    #[oai(status = 201)]
    Created(Json<AuthResponse>, #[oai(header = "Cache-Control")] String),
    /// `VALIDATION_ERROR` (malformed body), `VALIDATION_EMAIL` or `VALIDATION_PASSWORD`
    /// (every broken rule listed in `details.violations`).
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `CONFLICT_EMAIL`: the email is registered (also when that account is deactivated).
    #[oai(status = 409)]
    Conflict(Envelope),
    /// `PAYLOAD_TOO_LARGE`: the body is over 64 KiB.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    PayloadTooLarge(Envelope),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
    #[oai(status = 415)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    UnsupportedMediaType(Envelope),
    /// `RATE_LIMIT_EXCEEDED`: too many signups from this client IP.
    #[oai(status = 429)]
    #[allow(dead_code)] // answered by the outermost layer (the per-IP limit)
    TooManyRequests(Envelope, #[oai(header = "Retry-After")] u64),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable or password hashing is
    /// saturated.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<SignUpError> for SignUpResponse {
    fn from(err: SignUpError) -> Self {
        match err {
            SignUpError::InvalidEmail(_) => Self::BadRequest(invalid_email()),
            SignUpError::WeakPassword(violation) => {
                Self::BadRequest(password_violations(&violation))
            }
            SignUpError::EmailTaken => {
                Self::Conflict(error(ErrorCode::ConflictEmail, "Email already registered"))
            }
            SignUpError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `POST /api/auth/login` answers.
#[derive(ApiResponse)]
pub enum LogInResponse {
    /// Logged in: a new session and its token.
    #[oai(status = 200)]
    Ok(Json<AuthResponse>, #[oai(header = "Cache-Control")] String),
    /// `VALIDATION_ERROR` (malformed body) or `VALIDATION_EMAIL`.
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_FAILED`: wrong password, unknown email or deactivated account — the three
    /// are indistinguishable, also in timing.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `PAYLOAD_TOO_LARGE`: the body is over 64 KiB.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    PayloadTooLarge(Envelope),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
    #[oai(status = 415)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    UnsupportedMediaType(Envelope),
    /// `RATE_LIMIT_EXCEEDED`: too many logins from this IP, or too many failures for
    /// this account.
    #[oai(status = 429)]
    TooManyRequests(Envelope, #[oai(header = "Retry-After")] u64),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable or password hashing is
    /// saturated.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<LogInError> for LogInResponse {
    fn from(err: LogInError) -> Self {
        match err {
            LogInError::InvalidEmail(_) => Self::BadRequest(invalid_email()),
            LogInError::InvalidCredentials => {
                let refused = unauthorized(ErrorCode::AuthFailed, "Invalid credentials", false);
                Self::Unauthorized(refused.envelope, refused.challenge)
            }
            LogInError::Throttled { retry_after_secs } => {
                let (envelope, retry_after) = rate_limited(retry_after_secs);
                Self::TooManyRequests(envelope, retry_after)
            }
            LogInError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `POST /api/auth/logout` answers.
#[derive(ApiResponse)]
pub enum LogOutResponse {
    /// The session is revoked: its token is refused from the next request on.
    #[oai(status = 200)]
    Ok(Json<MessageResponse>),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<LogOutError> for LogOutResponse {
    fn from(err: LogOutError) -> Self {
        match err {
            LogOutError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `GET /api/auth/me` answers.
#[derive(ApiResponse)]
pub enum MeResponse {
    /// The user the token belongs to.
    #[oai(status = 200)]
    Ok(Json<UserDto>),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

shared_variants!(SignUpResponse, LogInResponse; LogOutResponse, MeResponse);

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
    ) -> SignUpResponse {
        let Json(body) = body;
        let request = SignUpRequest {
            email: body.email.0,
            password: body.password.0,
            caller: caller(req),
        };
        match service.sign_up(request).await {
            Ok(issued) => SignUpResponse::Created(Json(auth_response(issued)), NO_STORE.into()),
            Err(err) => err.into(),
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
    ) -> LogInResponse {
        let Json(body) = body;
        let request = LogInRequest {
            email: body.email.0,
            password: body.password.0,
            caller: caller(req),
        };
        match service.log_in(request).await {
            Ok(issued) => LogInResponse::Ok(Json(auth_response(issued)), NO_STORE.into()),
            Err(err) => err.into(),
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
        auth: Authenticated<LogOutResponse>,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
    ) -> LogOutResponse {
        match service.log_out(&auth.0, &caller(req)).await {
            Ok(()) => LogOutResponse::Ok(Json(MessageResponse {
                message: "Logged out successfully".into(),
            })),
            Err(err) => err.into(),
        }
    }

    /// Current user
    ///
    /// The user the bearer token belongs to. This is how another service checks a
    /// token: a 200 means the token is genuine, unexpired, its session is live and its
    /// user active — revocation included, unlike verifying the JWT alone.
    #[oai(path = "/api/auth/me", method = "get", operation_id = "getCurrentUser")]
    async fn me(&self, auth: Authenticated<MeResponse>) -> MeResponse {
        MeResponse::Ok(Json(UserDto::from(&auth.0.user)))
    }
}
