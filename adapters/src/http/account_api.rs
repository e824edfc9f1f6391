//! `/api/{user_id}/…`: the caller's own profile, security log, sessions, password and
//! account.
//!
//! The order of checks is the contract's: the bearer token (401) is checked first — the
//! `Authenticated` extractor is the first argument of every operation — then the request
//! itself (400, including a path parameter that is not a UUID), then the scoping of
//! `user_id` to the caller (403, before any lookup), then the lookup (404).

use std::sync::Arc;

use application::ports::EventCursor;
use application::use_cases::account::list_auth_events::DEFAULT_PAGE;
use application::{
    AuthUseCases, ChangePasswordError, ChangePasswordRequest, DeactivateError, DeactivateRequest,
    Forbidden, ListAuthEventsError, ListAuthEventsRequest, ListSessionsError,
    RevokeAllSessionsError, RevokeSessionError, RevokeSessionRequest,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::DateTime;
use domain::{AuthEvent, EventId, SessionId, UserId};
use poem::Request;
use poem::web::Data;
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi};
use uuid::Uuid;

use super::auth_api::{ApiTags, Authenticated, UserDto};
use super::client_ip::caller;
use super::envelope::{ApiError, ErrorCode, FieldError};
use super::failures::{
    Envelope, Unexpected, envelope_of, error, forbidden, password_violations, rate_limited,
    shared_variants, wrong_password,
};
use super::open_set::{EventTypeName, FailureReasonName, Open};
use super::types::{Cursor, SecretInput, Timestamp};

/// An open session.
#[derive(Debug, Object)]
#[oai(rename = "Session")]
pub struct SessionDto {
    /// The session's id (the token's `sid`).
    pub session_id: Uuid,
    /// When it was opened (signup or login).
    pub created_at: Timestamp,
    /// When it (and its token) expires.
    pub expires_at: Timestamp,
    /// The client IP it was opened from.
    #[oai(validator(pattern = r"^[0-9A-Fa-f.:]+$", max_length = 45))]
    pub ip_address: Option<String>,
    /// The user agent it was opened with (at most 500 characters).
    #[oai(validator(max_length = 500))]
    pub user_agent: Option<String>,
    /// `true` for the session of the token making this request.
    pub current: bool,
}

/// The caller's open sessions.
#[derive(Debug, Object)]
pub struct SessionList {
    /// Live sessions (neither revoked nor expired), newest first.
    pub data: Vec<SessionDto>,
}

/// An entry of the security log.
#[derive(Debug, Object)]
#[oai(rename = "AuthEvent")]
pub struct AuthEventDto {
    /// The event's id.
    pub event_id: Uuid,
    /// What happened: one of `AuthEventType`. The set grows in later releases: accept
    /// (and keep) a value not listed there.
    pub event_type: Open<EventTypeName>,
    /// Whether it succeeded.
    pub success: bool,
    /// Why it failed, one of `FailureReason`; `null` on success. The set grows in later
    /// releases: accept (and keep) a value not listed there.
    pub failure_reason: Option<Open<FailureReasonName>>,
    /// The client IP.
    #[oai(validator(pattern = r"^[0-9A-Fa-f.:]+$", max_length = 45))]
    pub ip_address: Option<String>,
    /// The client's user agent (at most 500 characters).
    #[oai(validator(max_length = 500))]
    pub user_agent: Option<String>,
    /// When it happened.
    pub created_at: Timestamp,
    /// How many identical events this entry stands for (repeats from one source within
    /// a minute are counted, not stored again); at least 1.
    #[oai(validator(minimum(value = "1")))]
    pub count: u32,
}

/// A page of the security log.
#[derive(Debug, Object)]
pub struct AuthEventList {
    /// Events, newest first.
    // `limit` is at most 100.
    #[oai(validator(max_items = 100))]
    pub data: Vec<AuthEventDto>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<Cursor>,
}

/// `PUT /api/{user_id}/password` body.
#[derive(Debug, Object)]
pub struct ChangePasswordBody {
    /// The current password.
    pub current_password: SecretInput,
    /// The new password; must meet the password policy.
    pub new_password: SecretInput,
}

/// `DELETE /api/{user_id}` body.
#[derive(Debug, Object)]
pub struct DeactivateBody {
    /// The account's password, as confirmation.
    pub password: SecretInput,
}

fn event_dto(e: AuthEvent) -> AuthEventDto {
    AuthEventDto {
        event_id: e.id.as_uuid(),
        event_type: Open(EventTypeName(e.event_type)),
        success: e.success,
        failure_reason: e.failure_reason.map(|r| Open(FailureReasonName(r))),
        ip_address: e.ip_address,
        user_agent: e.user_agent,
        created_at: Timestamp(e.created_at),
        count: e.count,
    }
}

/// The opaque cursor: `created_at` in microseconds and the event id, URL-safe base64.
pub fn encode_cursor(cursor: &EventCursor) -> String {
    URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        cursor.created_at.timestamp_micros(),
        cursor.id.as_uuid().simple()
    ))
}

/// Reads a cursor made by [`encode_cursor`]; `None` for anything else.
pub fn decode_cursor(raw: &str) -> Option<EventCursor> {
    let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
    let text = std::str::from_utf8(&bytes).ok()?;
    let (micros, id) = text.split_once('.')?;
    Some(EventCursor {
        created_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
        id: EventId::from_uuid(Uuid::try_parse(id).ok()?),
    })
}

/// `GET /api/{user_id}/profile` answers.
#[derive(ApiResponse)]
pub enum ProfileResponse {
    /// The caller's account.
    #[oai(status = 200)]
    Ok(Json<UserDto>),
    /// `VALIDATION_ERROR`: a path parameter is not a UUID (`details.fields` names it).
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `AUTH_FORBIDDEN`: `user_id` is not the caller's (checked before any lookup).
    #[oai(status = 403)]
    Forbidden(Envelope),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<Forbidden> for ProfileResponse {
    fn from(_: Forbidden) -> Self {
        Self::Forbidden(forbidden())
    }
}

/// `GET /api/{user_id}/auth-events` answers.
#[derive(ApiResponse)]
pub enum ListAuthEventsResponse {
    /// One page, newest first.
    #[oai(status = 200)]
    Ok(Json<AuthEventList>),
    /// `VALIDATION_ERROR`: a path or query parameter is malformed (`details.fields`
    /// names it).
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `AUTH_FORBIDDEN`: `user_id` is not the caller's (checked before any lookup).
    #[oai(status = 403)]
    Forbidden(Envelope),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<ListAuthEventsError> for ListAuthEventsResponse {
    fn from(err: ListAuthEventsError) -> Self {
        match err {
            ListAuthEventsError::Forbidden(_) => Self::Forbidden(forbidden()),
            ListAuthEventsError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `GET /api/{user_id}/sessions` answers.
#[derive(ApiResponse)]
pub enum ListSessionsResponse {
    /// The caller's live sessions.
    #[oai(status = 200)]
    Ok(Json<SessionList>),
    /// `VALIDATION_ERROR`: a path parameter is not a UUID (`details.fields` names it).
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `AUTH_FORBIDDEN`: `user_id` is not the caller's (checked before any lookup).
    #[oai(status = 403)]
    Forbidden(Envelope),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<ListSessionsError> for ListSessionsResponse {
    fn from(err: ListSessionsError) -> Self {
        match err {
            ListSessionsError::Forbidden(_) => Self::Forbidden(forbidden()),
            ListSessionsError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `DELETE /api/{user_id}/sessions/{session_id}` answers.
#[derive(ApiResponse)]
pub enum RevokeSessionResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
    /// `VALIDATION_ERROR`: a path parameter is not a UUID.
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `AUTH_FORBIDDEN`: `user_id` is not the caller's.
    #[oai(status = 403)]
    Forbidden(Envelope),
    /// `NOT_FOUND`: no live session with this id belongs to the caller (unknown,
    /// another user's, already revoked or expired).
    #[oai(status = 404)]
    NotFound(Envelope),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<RevokeSessionError> for RevokeSessionResponse {
    fn from(err: RevokeSessionError) -> Self {
        match err {
            RevokeSessionError::Forbidden(_) => Self::Forbidden(forbidden()),
            RevokeSessionError::NotFound => {
                Self::NotFound(error(ErrorCode::NotFound, "Resource not found"))
            }
            RevokeSessionError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `DELETE /api/{user_id}/sessions` answers.
#[derive(ApiResponse)]
pub enum RevokeAllSessionsResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
    /// `VALIDATION_ERROR`: a path parameter is not a UUID (`details.fields` names it).
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `AUTH_FORBIDDEN`: `user_id` is not the caller's (checked before any lookup).
    #[oai(status = 403)]
    Forbidden(Envelope),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<RevokeAllSessionsError> for RevokeAllSessionsResponse {
    fn from(err: RevokeAllSessionsError) -> Self {
        match err {
            RevokeAllSessionsError::Forbidden(_) => Self::Forbidden(forbidden()),
            RevokeAllSessionsError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `PUT /api/{user_id}/password` answers.
#[derive(ApiResponse)]
pub enum ChangePasswordResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
    /// `VALIDATION_ERROR` (malformed body or path) or `VALIDATION_PASSWORD` listing every
    /// broken rule of the new password.
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `AUTH_FORBIDDEN` (`user_id` is not the caller's) or `AUTH_FAILED` (the current
    /// password is wrong — 403, not 401: the token is still valid; nothing changed).
    #[oai(status = 403)]
    Forbidden(Envelope),
    /// `PAYLOAD_TOO_LARGE`: the body is over 64 KiB.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    PayloadTooLarge(Envelope),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
    #[oai(status = 415)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    UnsupportedMediaType(Envelope),
    /// `RATE_LIMIT_EXCEEDED`: the account is throttled after too many failed password
    /// checks.
    #[oai(status = 429)]
    TooManyRequests(Envelope, #[oai(header = "Retry-After")] u64),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable or hashing is saturated.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<ChangePasswordError> for ChangePasswordResponse {
    fn from(err: ChangePasswordError) -> Self {
        match err {
            ChangePasswordError::Forbidden(_) => Self::Forbidden(forbidden()),
            ChangePasswordError::InvalidCredentials => Self::Forbidden(wrong_password()),
            ChangePasswordError::WeakPassword(v) => Self::BadRequest(password_violations(&v)),
            ChangePasswordError::Throttled { retry_after_secs } => {
                let (envelope, retry_after) = rate_limited(retry_after_secs);
                Self::TooManyRequests(envelope, retry_after)
            }
            ChangePasswordError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

/// `DELETE /api/{user_id}` answers.
#[derive(ApiResponse)]
pub enum DeactivateResponse {
    /// Done.
    #[oai(status = 204)]
    Done,
    /// `VALIDATION_ERROR`: the body is malformed or a path parameter is not a UUID.
    #[oai(status = 400)]
    BadRequest(Envelope),
    /// `AUTH_MISSING`, `AUTH_INVALID`, `AUTH_EXPIRED`, `AUTH_INVALID_CLAIMS` or
    /// `AUTH_REVOKED`.
    #[oai(status = 401)]
    Unauthorized(Envelope, #[oai(header = "WWW-Authenticate")] String),
    /// `AUTH_FORBIDDEN` (`user_id` is not the caller's) or `AUTH_FAILED` (the password
    /// is wrong — 403, not 401: the token is still valid; nothing changed).
    #[oai(status = 403)]
    Forbidden(Envelope),
    /// `PAYLOAD_TOO_LARGE`: the body is over 64 KiB.
    #[oai(status = 413)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    PayloadTooLarge(Envelope),
    /// `UNSUPPORTED_MEDIA_TYPE`: the body is not `application/json`.
    #[oai(status = 415)]
    #[allow(dead_code)] // answered by the outermost layer (middleware)
    UnsupportedMediaType(Envelope),
    /// `RATE_LIMIT_EXCEEDED`: the account is throttled after too many failed password
    /// checks.
    #[oai(status = 429)]
    TooManyRequests(Envelope, #[oai(header = "Retry-After")] u64),
    /// `INTERNAL_ERROR`.
    #[oai(status = 500)]
    Internal(Envelope),
    /// `SERVICE_UNAVAILABLE`: the database is unreachable or hashing is saturated.
    #[oai(status = 503)]
    Unavailable(Envelope, #[oai(header = "Retry-After")] u64),
}

impl From<DeactivateError> for DeactivateResponse {
    fn from(err: DeactivateError) -> Self {
        match err {
            DeactivateError::Forbidden(_) => Self::Forbidden(forbidden()),
            DeactivateError::InvalidCredentials => Self::Forbidden(wrong_password()),
            DeactivateError::Throttled { retry_after_secs } => {
                let (envelope, retry_after) = rate_limited(retry_after_secs);
                Self::TooManyRequests(envelope, retry_after)
            }
            DeactivateError::Unexpected(e) => Unexpected::of(&e).into(),
        }
    }
}

shared_variants!(;
    ProfileResponse,
    ListAuthEventsResponse,
    ListSessionsResponse,
    RevokeSessionResponse,
    RevokeAllSessionsResponse,
    ChangePasswordResponse,
    DeactivateResponse,
);

/// The `/api/{user_id}/…` operations.
pub struct AccountApi;

#[OpenApi(tag = "ApiTags::Account")]
impl AccountApi {
    /// Get profile
    ///
    /// The caller's own account. `user_id` must be the caller's (403 `AUTH_FORBIDDEN`
    /// otherwise, also for ids that do not exist).
    #[oai(
        path = "/api/:user_id/profile",
        method = "get",
        operation_id = "getProfile"
    )]
    async fn get_profile(
        &self,
        auth: Authenticated<ProfileResponse>,
        /// The caller's user id.
        user_id: Path<Uuid>,
        service: Data<&Arc<dyn AuthUseCases>>,
    ) -> ProfileResponse {
        match service.get_profile(&auth.0, UserId::from_uuid(user_id.0)) {
            Ok(user) => ProfileResponse::Ok(Json(UserDto::from(&user))),
            Err(err) => err.into(),
        }
    }

    /// List security events
    ///
    /// The caller's own security log (signups, logins, failures, logouts, revocations,
    /// password changes, refused tokens …), newest first, in pages of `limit` (1–100,
    /// default 50). Pass the answer's `next_cursor` as `cursor` for the next page; pages
    /// stay stable while new events arrive (no event is skipped or repeated). A `limit`
    /// out of range or a cursor that does not decode is 400 `VALIDATION_ERROR`.
    #[oai(
        path = "/api/:user_id/auth-events",
        method = "get",
        operation_id = "listAuthEvents"
    )]
    async fn list_auth_events(
        &self,
        auth: Authenticated<ListAuthEventsResponse>,
        /// The caller's user id.
        user_id: Path<Uuid>,
        /// Page size, 1–100 (default 50).
        #[oai(validator(minimum(value = "1"), maximum(value = "100")))]
        limit: Query<Option<u32>>,
        /// The `next_cursor` of the previous page.
        cursor: Query<Option<Cursor>>,
        service: Data<&Arc<dyn AuthUseCases>>,
    ) -> ListAuthEventsResponse {
        let after = match cursor.0 {
            None => None,
            Some(Cursor(raw)) => match decode_cursor(&raw) {
                Some(c) => Some(c),
                None => {
                    return ListAuthEventsResponse::BadRequest(envelope_of(&ApiError::validation(
                        vec![FieldError {
                            field: "cursor".into(),
                            message: "is not a cursor this API returned".into(),
                        }],
                    )));
                }
            },
        };
        let request = ListAuthEventsRequest {
            user_id: UserId::from_uuid(user_id.0),
            after,
            limit: limit.0.unwrap_or(DEFAULT_PAGE),
        };
        match service.list_auth_events(&auth.0, request).await {
            Ok(page) => ListAuthEventsResponse::Ok(Json(AuthEventList {
                next_cursor: page.next.as_ref().map(|c| Cursor(encode_cursor(c))),
                data: page.events.into_iter().map(event_dto).collect(),
            })),
            Err(err) => err.into(),
        }
    }

    /// List sessions
    ///
    /// The caller's live sessions (neither revoked nor expired), newest first; `current`
    /// marks the one of the token making this request.
    #[oai(
        path = "/api/:user_id/sessions",
        method = "get",
        operation_id = "listSessions"
    )]
    async fn list_sessions(
        &self,
        auth: Authenticated<ListSessionsResponse>,
        /// The caller's user id.
        user_id: Path<Uuid>,
        service: Data<&Arc<dyn AuthUseCases>>,
    ) -> ListSessionsResponse {
        let current = auth.0.session.id;
        match service
            .list_sessions(&auth.0, UserId::from_uuid(user_id.0))
            .await
        {
            Ok(sessions) => ListSessionsResponse::Ok(Json(SessionList {
                data: sessions
                    .into_iter()
                    .map(|s| SessionDto {
                        session_id: s.id.as_uuid(),
                        created_at: Timestamp(s.created_at),
                        expires_at: Timestamp(s.expires_at),
                        ip_address: s.ip_address,
                        user_agent: s.user_agent,
                        current: s.id == current,
                    })
                    .collect(),
            })),
            Err(err) => err.into(),
        }
    }

    /// Revoke a session
    ///
    /// Revokes one of the caller's live sessions: its token is refused from the next
    /// request on. Revoking the session of the token making this request is allowed and
    /// is a logout. 404 `NOT_FOUND` when no live session with this id is the caller's
    /// (unknown, another user's, already revoked or expired).
    #[oai(
        path = "/api/:user_id/sessions/:session_id",
        method = "delete",
        operation_id = "revokeSession"
    )]
    async fn revoke_session(
        &self,
        auth: Authenticated<RevokeSessionResponse>,
        /// The caller's user id.
        user_id: Path<Uuid>,
        /// The session to revoke.
        session_id: Path<Uuid>,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
    ) -> RevokeSessionResponse {
        let request = RevokeSessionRequest {
            user_id: UserId::from_uuid(user_id.0),
            session_id: SessionId::from_uuid(session_id.0),
            caller: caller(req),
        };
        match service.revoke_session(&auth.0, request).await {
            Ok(()) => RevokeSessionResponse::Done,
            Err(err) => err.into(),
        }
    }

    /// Revoke all sessions
    ///
    /// "Log out everywhere": revokes every live session of the caller, the current one
    /// included, and records one `session_revoked` event whose `count` is the number
    /// revoked.
    #[oai(
        path = "/api/:user_id/sessions",
        method = "delete",
        operation_id = "revokeAllSessions"
    )]
    async fn revoke_all_sessions(
        &self,
        auth: Authenticated<RevokeAllSessionsResponse>,
        /// The caller's user id.
        user_id: Path<Uuid>,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
    ) -> RevokeAllSessionsResponse {
        match service
            .revoke_all_sessions(&auth.0, UserId::from_uuid(user_id.0), &caller(req))
            .await
        {
            Ok(_) => RevokeAllSessionsResponse::Done,
            Err(err) => err.into(),
        }
    }

    /// Change password
    ///
    /// Checks `current_password` (wrong: 403 `AUTH_FAILED`, nothing changes, and the
    /// attempt counts toward the account's login throttle), checks `new_password` against
    /// the policy (400 `VALIDATION_PASSWORD` listing every broken rule), then stores it
    /// and revokes every other session of the user; the session making this request stays
    /// open. Of two concurrent changes exactly one applies; the other gets 403
    /// `AUTH_FAILED`.
    #[oai(
        path = "/api/:user_id/password",
        method = "put",
        operation_id = "changePassword"
    )]
    async fn change_password(
        &self,
        auth: Authenticated<ChangePasswordResponse>,
        /// The caller's user id.
        user_id: Path<Uuid>,
        body: Json<ChangePasswordBody>,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
    ) -> ChangePasswordResponse {
        let Json(body) = body;
        let request = ChangePasswordRequest {
            user_id: UserId::from_uuid(user_id.0),
            current_password: body.current_password.0,
            new_password: body.new_password.0,
            caller: caller(req),
        };
        match service.change_password(&auth.0, request).await {
            Ok(()) => ChangePasswordResponse::Done,
            Err(err) => err.into(),
        }
    }

    /// Deactivate account
    ///
    /// Confirms with the password (wrong: 403 `AUTH_FAILED`, nothing changes, and the
    /// attempt counts toward the account's login throttle), then sets `is_active` to
    /// false and revokes every session. Later logins fail exactly like a wrong password
    /// (401 `AUTH_FAILED`); the email stays registered, so signing up with it again is
    /// 409 `CONFLICT_EMAIL`.
    #[oai(
        path = "/api/:user_id",
        method = "delete",
        operation_id = "deactivateAccount"
    )]
    async fn deactivate(
        &self,
        auth: Authenticated<DeactivateResponse>,
        /// The caller's user id.
        user_id: Path<Uuid>,
        body: Json<DeactivateBody>,
        service: Data<&Arc<dyn AuthUseCases>>,
        req: &Request,
    ) -> DeactivateResponse {
        let Json(body) = body;
        let request = DeactivateRequest {
            user_id: UserId::from_uuid(user_id.0),
            password: body.password.0,
            caller: caller(req),
        };
        match service.deactivate(&auth.0, request).await {
            Ok(()) => DeactivateResponse::Done,
            Err(err) => err.into(),
        }
    }
}
