//! HTTP-layer tests of the caller's own resources, `/api/{user_id}/…`: profile, security
//! log, sessions, password change and deactivation, driven through the whole app
//! over a mocked `AuthUseCases`.
//!
//! Besides each operation's answers, these tests pin the contract's order of checks on
//! a protected route: authentication (401) → request validation, a malformed path or
//! query parameter included (400) → `user_id` scoping (403) → lookup (404). A use case
//! that must not be reached has no expectation (or `never()`): calling it panics, which
//! `CatchPanic` turns into a 500, so it shows up as a wrong status.

use application::ports::EventCursor;
use application::service::MockAuthUseCases;
use application::{
    AuthEventPage, AuthenticateError, Caller, ChangePasswordError, ChangePasswordRequest,
    DeactivateError, DeactivateRequest, Forbidden, ListAuthEventsError, ListAuthEventsRequest,
    ListSessionsError, RevokeAllSessionsError, RevokeSessionError, RevokeSessionRequest,
};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use domain::{
    AuthEvent, AuthEventType, EventId, FailureReason, PasswordPolicyViolation, PasswordRule,
    PasswordViolation, Session, SessionId, UserId,
};

use super::{
    Answer, BEARER, CREATED_AT, EMAIL, EXPIRES_AT, Endpoint, Method, OVERSIZED, PASSWORD, Refusal,
    SESSION_ID, StatusCode, TOKEN, TestClient, TestRequestBuilder, USER_AGENT, USER_ID, Uuid,
    Value, assert_error, assert_payload_too_large, assert_retry_after, assert_validation_error, at,
    authenticating, carries, client, header, json, openapi_document, plain_error, principal, send,
    session, unavailable, untouched, user,
};

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// Another user's id: the principal may not touch it.
const OTHER_USER: Uuid = Uuid::from_u128(0x0194_a3b2_7c1d_7e3f_8a9b_0c1d_2e3f_4b00);
/// Another session of the principal (not the one of the request's token).
const OTHER_SESSION: Uuid = Uuid::from_u128(0x0194_a3b2_7c1d_7e3f_8a9b_0c1d_2e3f_4b01);
/// A third session of the principal.
const THIRD_SESSION: Uuid = Uuid::from_u128(0x0194_a3b2_7c1d_7e3f_8a9b_0c1d_2e3f_4b02);
/// Path segments that are not UUIDs.
const NOT_UUIDS: [&str; 3] = ["not-a-uuid", "123", "0194a3b2-7c1d-7e3f-8a9b-0c1d2e3f4a5"];
const NEW_PASSWORD: &str = "Battery-Staple-97";

/// The `/api/{user_id}/…` operations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Profile,
    AuthEvents,
    Sessions,
    RevokeSession,
    RevokeAllSessions,
    ChangePassword,
    Deactivate,
}

const OPS: [Op; 7] = [
    Op::Profile,
    Op::AuthEvents,
    Op::Sessions,
    Op::RevokeSession,
    Op::RevokeAllSessions,
    Op::ChangePassword,
    Op::Deactivate,
];

/// The operations whose use case can fail unexpectedly (`get_profile` cannot: the
/// profile is the principal's user, already loaded).
const FALLIBLE_OPS: [Op; 6] = [
    Op::AuthEvents,
    Op::Sessions,
    Op::RevokeSession,
    Op::RevokeAllSessions,
    Op::ChangePassword,
    Op::Deactivate,
];

/// The operations that take a password in a JSON body.
const PASSWORD_OPS: [Op; 2] = [Op::ChangePassword, Op::Deactivate];

impl Op {
    fn method(self) -> Method {
        match self {
            Op::Profile | Op::AuthEvents | Op::Sessions => Method::GET,
            Op::RevokeSession | Op::RevokeAllSessions | Op::Deactivate => Method::DELETE,
            Op::ChangePassword => Method::PUT,
        }
    }

    /// The path as the spec writes it.
    fn template(self) -> &'static str {
        match self {
            Op::Profile => "/api/{user_id}/profile",
            Op::AuthEvents => "/api/{user_id}/auth-events",
            Op::Sessions | Op::RevokeAllSessions => "/api/{user_id}/sessions",
            Op::RevokeSession => "/api/{user_id}/sessions/{session_id}",
            Op::ChangePassword => "/api/{user_id}/password",
            Op::Deactivate => "/api/{user_id}",
        }
    }

    fn operation_id(self) -> &'static str {
        match self {
            Op::Profile => "getProfile",
            Op::AuthEvents => "listAuthEvents",
            Op::Sessions => "listSessions",
            Op::RevokeSession => "revokeSession",
            Op::RevokeAllSessions => "revokeAllSessions",
            Op::ChangePassword => "changePassword",
            Op::Deactivate => "deactivateAccount",
        }
    }

    /// The path for `user_id` (and [`OTHER_SESSION`]).
    fn path(self, user_id: &str) -> String {
        self.template()
            .replace("{user_id}", user_id)
            .replace("{session_id}", &OTHER_SESSION.to_string())
    }

    /// A well-formed body, for the operations that take one.
    fn body(self) -> Option<Value> {
        match self {
            Op::ChangePassword => Some(json!({
                "current_password": PASSWORD,
                "new_password": NEW_PASSWORD,
            })),
            Op::Deactivate => Some(json!({ "password": PASSWORD })),
            _ => None,
        }
    }

    /// A well-formed request for `user_id`, without `Authorization`.
    fn request<'a, E: Endpoint>(
        self,
        cli: &'a TestClient<E>,
        user_id: &str,
    ) -> TestRequestBuilder<'a, E> {
        let request = cli.request(self.method(), self.path(user_id));
        match self.body() {
            Some(body) => request.body_json(&body),
            None => request,
        }
    }

    /// A well-formed request for `user_id` with the test bearer token.
    fn authorized<'a, E: Endpoint>(
        self,
        cli: &'a TestClient<E>,
        user_id: &str,
    ) -> TestRequestBuilder<'a, E> {
        self.request(cli, user_id)
            .header(header::AUTHORIZATION, BEARER)
    }
}

/// How a use case fails, whatever its own error type.
#[derive(Debug, Clone, Copy)]
enum Failure {
    /// `user_id` is not the principal's.
    Forbidden,
    /// A plain unexpected error.
    Internal,
    /// An unexpected error carrying [`application::Unavailable`].
    Unavailable(u64),
}

impl Failure {
    fn anyhow(self) -> anyhow::Error {
        match self {
            Failure::Unavailable(secs) => unavailable(secs),
            Failure::Forbidden | Failure::Internal => plain_error(),
        }
    }
}

/// [`authenticating`] plus `op`'s use case, called once for [`OTHER_USER`] (for
/// `Forbidden`) or the principal's own id, failing with `failure`.
fn failing(op: Op, failure: Failure) -> MockAuthUseCases {
    let expected = UserId::from_uuid(match failure {
        Failure::Forbidden => OTHER_USER,
        Failure::Internal | Failure::Unavailable(_) => USER_ID,
    });
    let forbidden = matches!(failure, Failure::Forbidden);
    let mut mock = authenticating();
    match op {
        Op::Profile => {
            assert!(forbidden, "get_profile can only be forbidden");
            mock.expect_get_profile()
                .withf(move |who, user_id| *who == principal() && *user_id == expected)
                .times(1)
                .returning(|_, _| Err(Forbidden));
        }
        Op::AuthEvents => {
            mock.expect_list_auth_events()
                .withf(move |who, request| *who == principal() && request.user_id == expected)
                .times(1)
                .returning(move |_, _| {
                    Err(if forbidden {
                        ListAuthEventsError::Forbidden(Forbidden)
                    } else {
                        ListAuthEventsError::Unexpected(failure.anyhow())
                    })
                });
        }
        Op::Sessions => {
            mock.expect_list_sessions()
                .withf(move |who, user_id| *who == principal() && *user_id == expected)
                .times(1)
                .returning(move |_, _| {
                    Err(if forbidden {
                        ListSessionsError::Forbidden(Forbidden)
                    } else {
                        ListSessionsError::Unexpected(failure.anyhow())
                    })
                });
        }
        Op::RevokeSession => {
            mock.expect_revoke_session()
                .withf(move |who, request| *who == principal() && request.user_id == expected)
                .times(1)
                .returning(move |_, _| {
                    Err(if forbidden {
                        RevokeSessionError::Forbidden(Forbidden)
                    } else {
                        RevokeSessionError::Unexpected(failure.anyhow())
                    })
                });
        }
        Op::RevokeAllSessions => {
            mock.expect_revoke_all_sessions()
                .withf(move |who, user_id, _| *who == principal() && *user_id == expected)
                .times(1)
                .returning(move |_, _, _| {
                    Err(if forbidden {
                        RevokeAllSessionsError::Forbidden(Forbidden)
                    } else {
                        RevokeAllSessionsError::Unexpected(failure.anyhow())
                    })
                });
        }
        Op::ChangePassword => {
            mock.expect_change_password()
                .withf(move |who, request| *who == principal() && request.user_id == expected)
                .times(1)
                .returning(move |_, _| {
                    Err(if forbidden {
                        ChangePasswordError::Forbidden(Forbidden)
                    } else {
                        ChangePasswordError::Unexpected(failure.anyhow())
                    })
                });
        }
        Op::Deactivate => {
            mock.expect_deactivate()
                .withf(move |who, request| *who == principal() && request.user_id == expected)
                .times(1)
                .returning(move |_, _| {
                    Err(if forbidden {
                        DeactivateError::Forbidden(Forbidden)
                    } else {
                        DeactivateError::Unexpected(failure.anyhow())
                    })
                });
        }
    }
    mock
}

/// Adds `never()` for every account use case.
fn no_account_use_case(mock: &mut MockAuthUseCases) {
    mock.expect_get_profile().never();
    mock.expect_list_auth_events().never();
    mock.expect_list_sessions().never();
    mock.expect_revoke_session().never();
    mock.expect_revoke_all_sessions().never();
    mock.expect_change_password().never();
    mock.expect_deactivate().never();
}

/// A mock that must not be called at all.
fn nothing_called() -> MockAuthUseCases {
    let mut mock = untouched();
    no_account_use_case(&mut mock);
    mock
}

/// A mock that authenticates [`BEARER`] once and must not run any account use case.
fn only_authenticating() -> MockAuthUseCases {
    only_authenticating_times(1)
}

/// A mock that authenticates [`BEARER`] exactly `times` times and must not run any
/// account use case.
fn only_authenticating_times(times: usize) -> MockAuthUseCases {
    let mut mock = MockAuthUseCases::new();
    mock.expect_authenticate()
        .withf(|request| carries(request, TOKEN))
        .times(times)
        .returning(|_| Ok(principal()));
    no_account_use_case(&mut mock);
    mock
}

/// Every password operation, for the principal's id and for another user's.
fn password_ops_for_both_users() -> impl Iterator<Item = (Op, Uuid)> {
    PASSWORD_OPS
        .into_iter()
        .flat_map(|op| [(op, USER_ID), (op, OTHER_USER)])
}

fn event(
    n: u128,
    event_type: AuthEventType,
    failure_reason: Option<FailureReason>,
    created_at: &str,
) -> AuthEvent {
    AuthEvent {
        id: EventId::from_uuid(event_uuid(n)),
        user_id: Some(UserId::from_uuid(USER_ID)),
        event_type,
        success: failure_reason.is_none(),
        failure_reason,
        ip_address: Some("203.0.113.7".into()),
        user_agent: Some(USER_AGENT.into()),
        created_at: at(created_at),
        count: 1,
    }
}

fn event_uuid(n: u128) -> Uuid {
    Uuid::from_u128(0x0194_a3b2_7c1d_7e3f_8a9b_0c1d_2e3f_0000 + n)
}

/// A cursor with a sub-second `created_at` (microseconds: what the clock keeps).
fn cursor() -> EventCursor {
    EventCursor {
        created_at: at("2026-01-14T10:00:05.123456Z"),
        id: EventId::from_uuid(event_uuid(7)),
    }
}

fn page(events: Vec<AuthEvent>, next: Option<EventCursor>) -> AuthEventPage {
    AuthEventPage { events, next }
}

/// The principal's session, [`session`], and two more, newest first.
fn sessions() -> Vec<Session> {
    vec![
        Session {
            id: SessionId::from_uuid(OTHER_SESSION),
            created_at: at("2026-01-14T12:00:00Z"),
            expires_at: at("2026-01-15T12:00:00Z"),
            ip_address: Some("2001:db8::1".into()),
            user_agent: None,
            ..session()
        },
        Session {
            ip_address: Some("203.0.113.7".into()),
            ..session()
        },
        Session {
            id: SessionId::from_uuid(THIRD_SESSION),
            created_at: at("2026-01-13T08:30:00Z"),
            expires_at: at("2026-01-14T08:30:00Z"),
            ip_address: None,
            user_agent: Some("curl/8.5.0".into()),
            ..session()
        },
    ]
}

fn weak_password() -> PasswordPolicyViolation {
    PasswordPolicyViolation::from_violations(
        ALL_RULES
            .iter()
            .map(|rule| PasswordViolation {
                rule: *rule,
                message: format!("broken: {}", rule.code()),
            })
            .collect(),
    )
    .expect("a non-empty list of violations")
}

const ALL_RULES: [PasswordRule; 7] = [
    PasswordRule::MinLength,
    PasswordRule::MaxLength,
    PasswordRule::Uppercase,
    PasswordRule::Lowercase,
    PasswordRule::Digit,
    PasswordRule::Common,
    PasswordRule::MatchesEmail,
];

// ---------------------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------------------

#[track_caller]
fn assert_json_ok(answer: &Answer) -> Value {
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let content_type = answer.header("content-type").expect("a content type");
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    answer.request_id();
    assert!(answer.header("www-authenticate").is_none());
    answer.json()
}

#[track_caller]
fn assert_no_content(answer: &Answer) {
    assert_eq!(answer.status, StatusCode::NO_CONTENT, "{}", answer.body);
    assert_eq!(answer.body, "", "a 204 has no body");
    answer.request_id();
}

#[track_caller]
fn assert_forbidden(answer: &Answer) {
    assert_error(
        answer,
        StatusCode::FORBIDDEN,
        "AUTH_FORBIDDEN",
        "Access denied",
        Value::Null,
    );
    assert!(answer.header("www-authenticate").is_none());
}

#[track_caller]
fn assert_wrong_password(answer: &Answer) {
    assert_error(
        answer,
        StatusCode::FORBIDDEN,
        "AUTH_FAILED",
        "Invalid credentials",
        Value::Null,
    );
    assert!(
        answer.header("www-authenticate").is_none(),
        "a wrong password is not a failed authentication: {:?}",
        answer.header("www-authenticate")
    );
}

/// Checks a 400 `VALIDATION_ERROR` naming exactly one field; returns its message.
#[track_caller]
fn assert_invalid_field(answer: &Answer, field: &str) -> String {
    let fields = assert_validation_error(answer);
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].0, field, "{fields:?}");
    assert!(!fields[0].1.is_empty(), "{fields:?}");
    fields[0].1.clone()
}

// ---------------------------------------------------------------------------------------
// getProfile
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn get_profile_answers_200_with_the_callers_user() {
    let mut mock = authenticating();
    mock.expect_get_profile()
        .withf(|who, user_id| *who == principal() && *user_id == UserId::from_uuid(USER_ID))
        .times(1)
        .returning(|_, _| Ok(user(Some(at("2026-01-14T11:30:05Z")))));
    let cli = client(mock);

    let answer = send(Op::Profile.authorized(&cli, &USER_ID.to_string())).await;

    assert_eq!(
        assert_json_ok(&answer),
        json!({
            "user_id": USER_ID.to_string(),
            "email": EMAIL,
            "created_at": CREATED_AT,
            "last_login": "2026-01-14T11:30:05Z",
            "is_active": true,
        })
    );
}

#[tokio::test]
async fn get_profile_shows_a_missing_last_login_as_null() {
    let mut mock = authenticating();
    mock.expect_get_profile()
        .times(1)
        .returning(|_, _| Ok(user(None)));
    let cli = client(mock);

    let answer = send(Op::Profile.authorized(&cli, &USER_ID.to_string())).await;

    let body = assert_json_ok(&answer);
    assert_eq!(body["last_login"], Value::Null, "{body}");
    assert!(
        body.as_object()
            .is_some_and(|o| o.contains_key("last_login")),
        "last_login is sent as null, not omitted: {body}"
    );
}

// ---------------------------------------------------------------------------------------
// listAuthEvents
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn list_auth_events_answers_200_with_lowercase_event_types_upper_case_reasons_utc_times_and_counts()
 {
    let types = [
        (AuthEventType::Signup, "signup"),
        (AuthEventType::Login, "login"),
        (AuthEventType::LoginFailed, "login_failed"),
        (AuthEventType::LoginThrottled, "login_throttled"),
        (AuthEventType::RateLimited, "rate_limited"),
        (AuthEventType::Logout, "logout"),
        (AuthEventType::SessionRevoked, "session_revoked"),
        (AuthEventType::PasswordChanged, "password_changed"),
        (AuthEventType::AccountDeactivated, "account_deactivated"),
        (AuthEventType::TokenRejected, "token_rejected"),
    ];
    let reasons = [
        (FailureReason::EmailExists, "EMAIL_EXISTS"),
        (FailureReason::InvalidCredentials, "INVALID_CREDENTIALS"),
        (FailureReason::UnknownEmail, "UNKNOWN_EMAIL"),
        (FailureReason::AccountInactive, "ACCOUNT_INACTIVE"),
        (FailureReason::RateLimitExceeded, "RATE_LIMIT_EXCEEDED"),
        (FailureReason::ValidationPassword, "VALIDATION_PASSWORD"),
        (FailureReason::AuthMissing, "AUTH_MISSING"),
        (FailureReason::AuthInvalid, "AUTH_INVALID"),
        (FailureReason::AuthExpired, "AUTH_EXPIRED"),
        (FailureReason::AuthInvalidClaims, "AUTH_INVALID_CLAIMS"),
        (FailureReason::AuthRevoked, "AUTH_REVOKED"),
    ];
    // One successful event of every type, then one failed event for every reason; the
    // first has a sub-second time, a count, and neither IP nor user agent.
    let mut events: Vec<AuthEvent> = types
        .iter()
        .enumerate()
        .map(|(n, (t, _))| event(n as u128, *t, None, "2026-01-14T10:00:00Z"))
        .collect();
    events[0].created_at = at("2026-01-14T10:00:05.999999Z");
    events[0].count = 17;
    events[0].ip_address = None;
    events[0].user_agent = None;
    events.extend(reasons.iter().enumerate().map(|(n, (r, _))| {
        event(
            100 + n as u128,
            AuthEventType::TokenRejected,
            Some(*r),
            "2026-01-13T09:00:00Z",
        )
    }));
    let returned = events.clone();
    let mut mock = authenticating();
    mock.expect_list_auth_events()
        .times(1)
        .returning(move |_, _| Ok(page(returned.clone(), None)));
    let cli = client(mock);

    let answer = send(Op::AuthEvents.authorized(&cli, &USER_ID.to_string())).await;

    let mut expected: Vec<Value> = types
        .iter()
        .enumerate()
        .map(|(n, (_, name))| {
            json!({
                "event_id": event_uuid(n as u128).to_string(),
                "event_type": name,
                "success": true,
                "failure_reason": null,
                "ip_address": "203.0.113.7",
                "user_agent": USER_AGENT,
                "created_at": "2026-01-14T10:00:00Z",
                "count": 1,
            })
        })
        .collect();
    expected[0]["created_at"] = json!("2026-01-14T10:00:05Z");
    expected[0]["count"] = json!(17);
    expected[0]["ip_address"] = Value::Null;
    expected[0]["user_agent"] = Value::Null;
    expected.extend(reasons.iter().enumerate().map(|(n, (_, name))| {
        json!({
            "event_id": event_uuid(100 + n as u128).to_string(),
            "event_type": "token_rejected",
            "success": false,
            "failure_reason": name,
            "ip_address": "203.0.113.7",
            "user_agent": USER_AGENT,
            "created_at": "2026-01-13T09:00:00Z",
            "count": 1,
        })
    }));
    assert_eq!(
        assert_json_ok(&answer),
        json!({ "data": expected, "next_cursor": null })
    );
}

#[tokio::test]
async fn an_empty_security_log_answers_200_with_no_data_and_a_null_next_cursor() {
    let mut mock = authenticating();
    mock.expect_list_auth_events()
        .times(1)
        .returning(|_, _| Ok(page(Vec::new(), None)));
    let cli = client(mock);

    let answer = send(Op::AuthEvents.authorized(&cli, &USER_ID.to_string())).await;

    assert_eq!(
        assert_json_ok(&answer),
        json!({ "data": [], "next_cursor": null })
    );
}

#[tokio::test]
async fn list_auth_events_without_limit_or_cursor_asks_the_use_case_for_the_first_page_of_50() {
    let mut mock = authenticating();
    mock.expect_list_auth_events()
        .withf(|who, request| {
            *who == principal()
                && *request
                    == ListAuthEventsRequest {
                        user_id: UserId::from_uuid(USER_ID),
                        after: None,
                        limit: 50,
                    }
        })
        .times(1)
        .returning(|_, _| Ok(page(Vec::new(), None)));
    let cli = client(mock);

    let answer = send(Op::AuthEvents.authorized(&cli, &USER_ID.to_string())).await;

    assert_json_ok(&answer);
}

#[tokio::test]
async fn list_auth_events_passes_every_limit_from_1_to_100_as_sent() {
    for limit in [1_u32, 2, 50, 99, 100] {
        let mut mock = authenticating();
        mock.expect_list_auth_events()
            .withf(move |_, request| {
                request.limit == limit
                    && request.after.is_none()
                    && request.user_id == UserId::from_uuid(USER_ID)
            })
            .times(1)
            .returning(|_, _| Ok(page(Vec::new(), None)));
        let cli = client(mock);

        let answer = send(
            Op::AuthEvents
                .authorized(&cli, &USER_ID.to_string())
                .query("limit", &limit),
        )
        .await;

        assert_json_ok(&answer);
    }
}

#[tokio::test]
async fn a_next_cursor_is_an_opaque_url_safe_string_that_comes_back_as_the_same_event_cursor() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_authenticate()
        .withf(|request| carries(request, TOKEN))
        .times(2)
        .returning(|_| Ok(principal()));
    mock.expect_list_auth_events()
        .withf(|_, request| request.after.is_none() && request.limit == 2)
        .times(1)
        .returning(|_, _| {
            Ok(page(
                vec![
                    event(8, AuthEventType::Login, None, "2026-01-14T10:00:06Z"),
                    event(7, AuthEventType::Logout, None, "2026-01-14T10:00:05Z"),
                ],
                Some(cursor()),
            ))
        });
    mock.expect_list_auth_events()
        .withf(|who, request| {
            *who == principal()
                && *request
                    == ListAuthEventsRequest {
                        user_id: UserId::from_uuid(USER_ID),
                        after: Some(cursor()),
                        limit: 2,
                    }
        })
        .times(1)
        .returning(|_, _| {
            Ok(page(
                vec![event(
                    6,
                    AuthEventType::Signup,
                    None,
                    "2026-01-14T10:00:00Z",
                )],
                None,
            ))
        });
    let cli = client(mock);

    let first = send(
        Op::AuthEvents
            .authorized(&cli, &USER_ID.to_string())
            .query("limit", &2),
    )
    .await;
    let first = assert_json_ok(&first);
    assert_eq!(first["data"].as_array().map(Vec::len), Some(2), "{first}");
    let next = first["next_cursor"]
        .as_str()
        .expect("next_cursor is a string when there is a next page")
        .to_owned();
    assert!(!next.is_empty());
    assert!(
        next.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{next} can be sent in a query string as it is"
    );
    assert!(
        !next.contains(&event_uuid(7).to_string()) && !next.contains("2026"),
        "{next} is opaque"
    );

    let second = send(
        Op::AuthEvents
            .authorized(&cli, &USER_ID.to_string())
            .query("limit", &2)
            .query("cursor", &next),
    )
    .await;

    let second = assert_json_ok(&second);
    assert_eq!(second["next_cursor"], Value::Null, "{second}");
    assert_eq!(
        second["data"][0]["event_id"],
        event_uuid(6).to_string(),
        "{second}"
    );
}

#[tokio::test]
async fn the_cursor_in_the_specs_example_is_one_this_api_accepts() {
    let example = openapi_document()["paths"]["/api/{user_id}/auth-events"]["get"]["responses"]
        ["200"]["content"]["application/json"]["example"]
        .clone();
    let sent = example["next_cursor"]
        .as_str()
        .expect("the example has a next_cursor")
        .to_owned();
    let last_event = example["data"]
        .as_array()
        .and_then(|d| d.last())
        .cloned()
        .expect("the example has an event");
    let expected = EventCursor {
        created_at: at(last_event["created_at"]
            .as_str()
            .expect("created_at is a string")),
        id: EventId::from_uuid(
            last_event["event_id"]
                .as_str()
                .and_then(|id| Uuid::parse_str(id).ok())
                .expect("event_id is a UUID"),
        ),
    };
    let mut mock = authenticating();
    mock.expect_list_auth_events()
        .withf(move |_, request| request.after == Some(expected))
        .times(1)
        .returning(|_, _| Ok(page(Vec::new(), None)));
    let cli = client(mock);

    let answer = send(
        Op::AuthEvents
            .authorized(&cli, &USER_ID.to_string())
            .query("cursor", &sent),
    )
    .await;

    assert_json_ok(&answer);
}

// ---------------------------------------------------------------------------------------
// listSessions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn list_sessions_answers_200_with_every_session_and_only_the_principals_is_current() {
    let mut mock = authenticating();
    mock.expect_list_sessions()
        .withf(|who, user_id| *who == principal() && *user_id == UserId::from_uuid(USER_ID))
        .times(1)
        .returning(|_, _| Ok(sessions()));
    let cli = client(mock);

    let answer = send(Op::Sessions.authorized(&cli, &USER_ID.to_string())).await;

    assert_eq!(
        assert_json_ok(&answer),
        json!({ "data": [
            {
                "session_id": OTHER_SESSION.to_string(),
                "created_at": "2026-01-14T12:00:00Z",
                "expires_at": "2026-01-15T12:00:00Z",
                "ip_address": "2001:db8::1",
                "user_agent": null,
                "current": false,
            },
            {
                "session_id": SESSION_ID.to_string(),
                "created_at": CREATED_AT,
                "expires_at": EXPIRES_AT,
                "ip_address": "203.0.113.7",
                "user_agent": USER_AGENT,
                "current": true,
            },
            {
                "session_id": THIRD_SESSION.to_string(),
                "created_at": "2026-01-13T08:30:00Z",
                "expires_at": "2026-01-14T08:30:00Z",
                "ip_address": null,
                "user_agent": "curl/8.5.0",
                "current": false,
            },
        ]})
    );
}

#[tokio::test]
async fn list_sessions_without_the_principals_session_marks_none_current() {
    let mut mock = authenticating();
    mock.expect_list_sessions().times(1).returning(|_, _| {
        Ok(sessions()
            .into_iter()
            .filter(|s| s.id != SessionId::from_uuid(SESSION_ID))
            .collect())
    });
    let cli = client(mock);

    let answer = send(Op::Sessions.authorized(&cli, &USER_ID.to_string())).await;

    let body = assert_json_ok(&answer);
    let current: Vec<&Value> = body["data"]
        .as_array()
        .expect("data is an array")
        .iter()
        .map(|s| &s["current"])
        .collect();
    assert_eq!(current, [&json!(false), &json!(false)], "{body}");
}

#[tokio::test]
async fn list_sessions_with_no_live_session_answers_200_with_empty_data() {
    let mut mock = authenticating();
    mock.expect_list_sessions()
        .times(1)
        .returning(|_, _| Ok(Vec::new()));
    let cli = client(mock);

    let answer = send(Op::Sessions.authorized(&cli, &USER_ID.to_string())).await;

    assert_eq!(assert_json_ok(&answer), json!({ "data": [] }));
}

// ---------------------------------------------------------------------------------------
// revokeSession, revokeAllSessions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn revoke_session_answers_204_and_passes_both_path_ids_and_the_user_agent() {
    // The current session may be revoked too (a logout): the HTTP layer passes it on.
    for target in [OTHER_SESSION, SESSION_ID] {
        let mut mock = authenticating();
        mock.expect_revoke_session()
            .withf(move |who, request: &RevokeSessionRequest| {
                *who == principal()
                    && request.user_id == UserId::from_uuid(USER_ID)
                    && request.session_id == SessionId::from_uuid(target)
                    && request.caller.user_agent.as_deref() == Some(USER_AGENT)
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let cli = client(mock);

        let answer = send(
            cli.delete(format!("/api/{USER_ID}/sessions/{target}"))
                .header(header::AUTHORIZATION, BEARER)
                .header(header::USER_AGENT, USER_AGENT),
        )
        .await;

        assert_no_content(&answer);
    }
}

#[tokio::test]
async fn revoke_session_answers_404_not_found_for_a_session_that_is_not_the_callers() {
    let mut mock = authenticating();
    mock.expect_revoke_session()
        .withf(|_, request| request.session_id == SessionId::from_uuid(OTHER_SESSION))
        .times(1)
        .returning(|_, _| Err(RevokeSessionError::NotFound));
    let cli = client(mock);

    let answer = send(Op::RevokeSession.authorized(&cli, &USER_ID.to_string())).await;

    assert_error(
        &answer,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "Resource not found",
        Value::Null,
    );
}

#[tokio::test]
async fn revoke_all_sessions_answers_204_and_passes_the_path_user_id_and_the_user_agent() {
    let mut mock = authenticating();
    mock.expect_revoke_all_sessions()
        .withf(|who, user_id, caller: &Caller| {
            *who == principal()
                && *user_id == UserId::from_uuid(USER_ID)
                && caller.user_agent.as_deref() == Some(USER_AGENT)
        })
        .times(1)
        .returning(|_, _, _| Ok(3));
    let cli = client(mock);

    let answer = send(
        Op::RevokeAllSessions
            .authorized(&cli, &USER_ID.to_string())
            .header(header::USER_AGENT, USER_AGENT),
    )
    .await;

    assert_no_content(&answer);
}

#[tokio::test]
async fn revoke_all_sessions_without_a_user_agent_passes_none() {
    let mut mock = authenticating();
    mock.expect_revoke_all_sessions()
        .withf(|_, _, caller: &Caller| caller.user_agent.is_none())
        .times(1)
        .returning(|_, _, _| Ok(0));
    let cli = client(mock);

    let answer = send(Op::RevokeAllSessions.authorized(&cli, &USER_ID.to_string())).await;

    assert_no_content(&answer);
}

// ---------------------------------------------------------------------------------------
// changePassword, deactivateAccount
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn change_password_answers_204_and_passes_both_passwords_exactly_as_sent_and_the_user_agent()
{
    let current = " Correct-Horse-42 ";
    let new = "pässwörd\u{1F512} with Spaces 9";
    let mut mock = authenticating();
    mock.expect_change_password()
        .withf(move |who, request: &ChangePasswordRequest| {
            *who == principal()
                && request.user_id == UserId::from_uuid(USER_ID)
                && request.current_password.expose() == current
                && request.new_password.expose() == new
                && request.caller.user_agent.as_deref() == Some(USER_AGENT)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let cli = client(mock);

    let answer = send(
        cli.put(format!("/api/{USER_ID}/password"))
            .header(header::AUTHORIZATION, BEARER)
            .header(header::USER_AGENT, USER_AGENT)
            .body_json(&json!({ "current_password": current, "new_password": new })),
    )
    .await;

    assert_no_content(&answer);
}

#[tokio::test]
async fn deactivate_answers_204_and_passes_the_password_exactly_as_sent_and_the_user_agent() {
    let password = "\tCorrect-Horse-42\u{00e9}";
    let mut mock = authenticating();
    mock.expect_deactivate()
        .withf(move |who, request: &DeactivateRequest| {
            *who == principal()
                && request.user_id == UserId::from_uuid(USER_ID)
                && request.password.expose() == password
                && request.caller.user_agent.as_deref() == Some(USER_AGENT)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let cli = client(mock);

    let answer = send(
        cli.delete(format!("/api/{USER_ID}"))
            .header(header::AUTHORIZATION, BEARER)
            .header(header::USER_AGENT, USER_AGENT)
            .body_json(&json!({ "password": password })),
    )
    .await;

    assert_no_content(&answer);
}

#[tokio::test]
async fn change_password_with_a_wrong_current_password_answers_403_auth_failed_not_401() {
    let mut mock = authenticating();
    mock.expect_change_password()
        .times(1)
        .returning(|_, _| Err(ChangePasswordError::InvalidCredentials));
    let cli = client(mock);

    let answer = send(Op::ChangePassword.authorized(&cli, &USER_ID.to_string())).await;

    assert_wrong_password(&answer);
}

#[tokio::test]
async fn deactivate_with_a_wrong_password_answers_403_auth_failed_not_401() {
    let mut mock = authenticating();
    mock.expect_deactivate()
        .times(1)
        .returning(|_, _| Err(DeactivateError::InvalidCredentials));
    let cli = client(mock);

    let answer = send(Op::Deactivate.authorized(&cli, &USER_ID.to_string())).await;

    assert_wrong_password(&answer);
}

#[tokio::test]
async fn change_password_to_a_weak_password_answers_400_validation_password_listing_every_rule() {
    let mut mock = authenticating();
    mock.expect_change_password()
        .times(1)
        .returning(|_, _| Err(ChangePasswordError::WeakPassword(weak_password())));
    let cli = client(mock);

    let answer = send(Op::ChangePassword.authorized(&cli, &USER_ID.to_string())).await;

    let expected: Vec<Value> = [
        "min_length",
        "max_length",
        "uppercase",
        "lowercase",
        "digit",
        "common",
        "matches_email",
    ]
    .iter()
    .map(|code| json!({ "rule": code, "message": format!("broken: {code}") }))
    .collect();
    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "VALIDATION_PASSWORD",
        "Password does not meet requirements",
        json!({ "violations": expected }),
    );
}

#[tokio::test]
async fn a_throttled_password_change_or_deactivation_answers_429_with_retry_after() {
    for op in PASSWORD_OPS {
        let mut mock = authenticating();
        if op == Op::ChangePassword {
            mock.expect_change_password().times(1).returning(|_, _| {
                Err(ChangePasswordError::Throttled {
                    retry_after_secs: 600,
                })
            });
        } else {
            mock.expect_deactivate().times(1).returning(|_, _| {
                Err(DeactivateError::Throttled {
                    retry_after_secs: 600,
                })
            });
        }
        let cli = client(mock);

        let answer = send(op.authorized(&cli, &USER_ID.to_string())).await;

        assert_error(
            &answer,
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_EXCEEDED",
            "Too many requests. Try again later.",
            Value::Null,
        );
        assert_retry_after(&answer, 600);
    }
}

// ---------------------------------------------------------------------------------------
// Every operation: scoping and unexpected errors
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn every_account_operation_answers_403_auth_forbidden_for_another_users_id() {
    for op in OPS {
        let cli = client(failing(op, Failure::Forbidden));

        let answer = send(op.authorized(&cli, &OTHER_USER.to_string())).await;

        assert_forbidden(&answer);
    }
}

#[tokio::test]
async fn every_fallible_account_operation_answers_500_without_leaking_the_cause() {
    for op in FALLIBLE_OPS {
        let cli = client(failing(op, Failure::Internal));

        let answer = send(op.authorized(&cli, &USER_ID.to_string())).await;

        assert_error(
            &answer,
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "An unexpected error occurred",
            Value::Null,
        );
        assert!(!answer.body.contains("SELECT"), "{op:?}: {}", answer.body);
        assert!(!answer.body.contains("10.9.8.7"), "{op:?}: {}", answer.body);
        assert!(answer.header("retry-after").is_none(), "{op:?}");
    }
}

#[tokio::test]
async fn every_fallible_account_operation_answers_503_with_retry_after_when_a_dependency_is_unavailable()
 {
    for op in FALLIBLE_OPS {
        let cli = client(failing(op, Failure::Unavailable(9)));

        let answer = send(op.authorized(&cli, &USER_ID.to_string())).await;

        assert_error(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Service temporarily unavailable",
            Value::Null,
        );
        assert_retry_after(&answer, 9);
        assert!(!answer.body.contains("SELECT"), "{op:?}: {}", answer.body);
        assert!(!answer.body.contains("database"), "{op:?}: {}", answer.body);
    }
}

// ---------------------------------------------------------------------------------------
// Order of checks: 401 → 400 → 403 → 404
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn without_a_token_every_account_operation_answers_401_auth_missing_whatever_the_user_id() {
    let cli = client(nothing_called());
    for op in OPS {
        for user_id in [
            USER_ID.to_string(),
            OTHER_USER.to_string(),
            NOT_UUIDS[0].to_owned(),
        ] {
            let answer = send(op.request(&cli, &user_id)).await;

            assert_error(
                &answer,
                StatusCode::UNAUTHORIZED,
                "AUTH_MISSING",
                "Authentication required",
                Value::Null,
            );
            assert_eq!(
                answer.header("www-authenticate"),
                Some("Bearer"),
                "{op:?} {user_id}"
            );
        }
    }
}

#[tokio::test]
async fn without_a_token_a_malformed_session_id_limit_cursor_or_body_still_answers_401() {
    let cli = client(nothing_called());
    let requests = [
        cli.delete(format!("/api/{USER_ID}/sessions/not-a-uuid")),
        cli.get(format!("/api/{USER_ID}/auth-events"))
            .query("limit", &0),
        cli.get(format!("/api/{USER_ID}/auth-events"))
            .query("cursor", &"garbage"),
        cli.put(format!("/api/{USER_ID}/password"))
            .content_type("application/json")
            .body("{"),
        cli.put(format!("/api/{USER_ID}/password"))
            .body_json(&json!({})),
        cli.put(format!("/api/{USER_ID}/password"))
            .content_type("text/plain")
            .body("hello"),
        cli.delete(format!("/api/{USER_ID}"))
            .content_type("application/json")
            .body("not json"),
    ];
    for request in requests {
        let answer = send(request).await;

        assert_error(
            &answer,
            StatusCode::UNAUTHORIZED,
            "AUTH_MISSING",
            "Authentication required",
            Value::Null,
        );
        assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    }
}

#[tokio::test]
async fn a_refused_token_answers_401_with_its_code_on_every_account_operation_whatever_the_user_id()
{
    let cases: [(Refusal, &str, &str); 4] = [
        (
            || AuthenticateError::Invalid,
            "AUTH_INVALID",
            "Invalid or expired token",
        ),
        (
            || AuthenticateError::Expired,
            "AUTH_EXPIRED",
            "Invalid or expired token",
        ),
        (
            || AuthenticateError::InvalidClaims,
            "AUTH_INVALID_CLAIMS",
            "Invalid token format",
        ),
        (
            || AuthenticateError::Revoked,
            "AUTH_REVOKED",
            "Invalid or expired token",
        ),
    ];
    let user_ids = [USER_ID.to_string(), NOT_UUIDS[0].to_owned()];
    for (refusal, code, message) in cases {
        let mut mock = MockAuthUseCases::new();
        mock.expect_authenticate()
            .withf(|request| carries(request, TOKEN))
            .times(OPS.len() * user_ids.len())
            .returning(move |_| Err(refusal()));
        no_account_use_case(&mut mock);
        let cli = client(mock);
        for op in OPS {
            for user_id in &user_ids {
                let answer = send(op.authorized(&cli, user_id)).await;

                assert_error(
                    &answer,
                    StatusCode::UNAUTHORIZED,
                    code,
                    message,
                    Value::Null,
                );
                assert_eq!(
                    answer.header("www-authenticate"),
                    Some(r#"Bearer error="invalid_token""#),
                    "{op:?} {user_id} {code}"
                );
            }
        }
    }
}

#[tokio::test]
async fn with_a_valid_token_a_user_id_that_is_not_a_uuid_answers_400_naming_user_id() {
    let cli = client(only_authenticating_times(OPS.len() * NOT_UUIDS.len()));
    for op in OPS {
        for user_id in NOT_UUIDS {
            let answer = send(op.authorized(&cli, user_id)).await;

            let message = assert_invalid_field(&answer, "user_id");
            assert_eq!(message, "is not a valid UUID", "{op:?} {user_id}");
        }
    }
}

#[tokio::test]
async fn a_session_id_that_is_not_a_uuid_answers_400_naming_session_id_even_for_another_users_id() {
    let cli = client(only_authenticating_times(2 * NOT_UUIDS.len()));
    for user_id in [USER_ID, OTHER_USER] {
        for session_id in NOT_UUIDS {
            let answer = send(
                cli.delete(format!("/api/{user_id}/sessions/{session_id}"))
                    .header(header::AUTHORIZATION, BEARER),
            )
            .await;

            let message = assert_invalid_field(&answer, "session_id");
            assert_eq!(message, "is not a valid UUID", "{user_id} {session_id}");
        }
    }
}

#[tokio::test]
async fn a_user_id_and_a_session_id_that_are_both_malformed_name_the_user_id() {
    let cli = client(only_authenticating());

    let answer = send(
        cli.delete("/api/nope/sessions/nope")
            .header(header::AUTHORIZATION, BEARER),
    )
    .await;

    assert_invalid_field(&answer, "user_id");
}

#[tokio::test]
async fn a_limit_outside_1_to_100_or_not_an_integer_answers_400_naming_limit_even_for_another_users_id()
 {
    let limits = ["0", "101", "abc", "-1", "1.5", "4294967296"];
    let cli = client(only_authenticating_times(2 * limits.len()));
    for user_id in [USER_ID, OTHER_USER] {
        for limit in limits {
            let answer = send(
                Op::AuthEvents
                    .authorized(&cli, &user_id.to_string())
                    .query("limit", &limit),
            )
            .await;

            let message = assert_invalid_field(&answer, "limit");
            assert_eq!(
                message, "must be an integer from 1 to 100",
                "{user_id} limit={limit}"
            );
        }
    }
}

#[tokio::test]
async fn a_cursor_that_does_not_decode_answers_400_naming_cursor_without_calling_the_use_case() {
    let valid = URL_SAFE_NO_PAD.encode(format!(
        "{}.{}",
        cursor().created_at.timestamp_micros(),
        event_uuid(7).simple()
    ));
    let bad = [
        String::new(),
        "garbage!".to_owned(),
        "not base64 at all".to_owned(),
        format!("{valid}=="),
        format!("{valid}x"),
        URL_SAFE_NO_PAD.encode("no-dot-here"),
        URL_SAFE_NO_PAD.encode(format!("abc.{}", event_uuid(7).simple())),
        URL_SAFE_NO_PAD.encode("1768384800000000.not-a-uuid"),
        URL_SAFE_NO_PAD.encode(format!("99999999999999999999.{}", event_uuid(7).simple())),
        URL_SAFE_NO_PAD.encode([0xff, 0xfe, b'.', 0x00]),
    ];
    let cli = client(only_authenticating_times(2 * bad.len()));
    for user_id in [USER_ID, OTHER_USER] {
        for cursor in &bad {
            let answer = send(
                Op::AuthEvents
                    .authorized(&cli, &user_id.to_string())
                    .query("cursor", cursor),
            )
            .await;

            assert_invalid_field(&answer, "cursor");
        }
    }
}

#[tokio::test]
async fn a_password_body_that_is_not_json_answers_400_naming_the_body_even_for_another_users_id() {
    let bodies = ["{", "not json", r#"{"current_password": "#, ""];
    let cli = client(only_authenticating_times(
        PASSWORD_OPS.len() * 2 * bodies.len(),
    ));
    for (op, user_id) in password_ops_for_both_users() {
        for body in bodies {
            let answer = send(
                cli.request(op.method(), op.path(&user_id.to_string()))
                    .header(header::AUTHORIZATION, BEARER)
                    .content_type("application/json")
                    .body(body),
            )
            .await;

            assert_invalid_field(&answer, "body");
        }
    }
}

#[tokio::test]
async fn a_password_body_with_missing_or_mistyped_fields_answers_400_naming_every_field_even_for_another_users_id()
 {
    let cases = [
        (
            Op::ChangePassword,
            json!({}),
            vec!["current_password", "new_password"],
        ),
        (
            Op::ChangePassword,
            json!({ "current_password": 5, "new_password": null }),
            vec!["current_password", "new_password"],
        ),
        (
            Op::ChangePassword,
            json!({ "current_password": PASSWORD }),
            vec!["new_password"],
        ),
        (
            Op::ChangePassword,
            json!({ "new_password": NEW_PASSWORD }),
            vec!["current_password"],
        ),
        (Op::Deactivate, json!({}), vec!["password"]),
        (
            Op::Deactivate,
            json!({ "password": ["x"] }),
            vec!["password"],
        ),
    ];
    let cli = client(only_authenticating_times(2 * cases.len()));
    for (op, body, named) in &cases {
        for user_id in [USER_ID, OTHER_USER] {
            let answer = send(
                cli.request(op.method(), op.path(&user_id.to_string()))
                    .header(header::AUTHORIZATION, BEARER)
                    .body_json(body),
            )
            .await;

            let fields = assert_validation_error(&answer);
            let found: Vec<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
            assert_eq!(&found, named, "{op:?} {user_id} {body}");
        }
    }
}

#[tokio::test]
async fn a_password_body_that_is_not_an_object_answers_400_naming_the_body() {
    let cli = client(only_authenticating_times(PASSWORD_OPS.len() * 2));
    for (op, user_id) in password_ops_for_both_users() {
        let answer = send(
            cli.request(op.method(), op.path(&user_id.to_string()))
                .header(header::AUTHORIZATION, BEARER)
                .body_json(&json!([PASSWORD])),
        )
        .await;

        assert_invalid_field(&answer, "body");
    }
}

#[tokio::test]
async fn a_password_body_of_the_wrong_content_type_answers_415_even_for_another_users_id() {
    let content_types = [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ];
    let cli = client(only_authenticating_times(
        PASSWORD_OPS.len() * 2 * content_types.len(),
    ));
    for (op, user_id) in password_ops_for_both_users() {
        for content_type in content_types {
            let mut request = cli
                .request(op.method(), op.path(&user_id.to_string()))
                .header(header::AUTHORIZATION, BEARER)
                .body(op.body().map(|b| b.to_string()).unwrap_or_default());
            if let Some(content_type) = content_type {
                request = request.content_type(content_type);
            }

            let answer = send(request).await;

            assert_error(
                &answer,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                "Unsupported media type",
                Value::Null,
            );
        }
    }
}

#[tokio::test]
async fn a_password_body_over_64_kib_answers_413_before_authentication() {
    for op in PASSWORD_OPS {
        let cli = client(nothing_called());
        let padding = "x".repeat(OVERSIZED);

        let answer = send(
            cli.request(op.method(), op.path(&USER_ID.to_string()))
                .header(header::AUTHORIZATION, BEARER)
                .body_json(
                    &json!({ "current_password": padding, "new_password": "x", "password": "x" }),
                ),
        )
        .await;

        assert_payload_too_large(&answer);
    }
}

#[tokio::test]
async fn a_wrong_method_on_an_account_path_answers_405_with_allow() {
    let cli = client(nothing_called());
    for (method, path, allow) in [
        (Method::POST, format!("/api/{USER_ID}/profile"), "GET"),
        (Method::DELETE, format!("/api/{USER_ID}/auth-events"), "GET"),
        (
            Method::PUT,
            format!("/api/{USER_ID}/sessions"),
            "DELETE, GET",
        ),
        (
            Method::GET,
            format!("/api/{USER_ID}/sessions/{OTHER_SESSION}"),
            "DELETE",
        ),
        (Method::POST, format!("/api/{USER_ID}/password"), "PUT"),
        (Method::GET, format!("/api/{USER_ID}"), "DELETE"),
    ] {
        let answer = send(
            cli.request(method.clone(), &path)
                .header(header::AUTHORIZATION, BEARER),
        )
        .await;

        assert_error(
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
            Value::Null,
        );
        assert_eq!(answer.header("allow"), Some(allow), "{method} {path}");
    }
}

// ---------------------------------------------------------------------------------------
// The OpenAPI document
// ---------------------------------------------------------------------------------------

fn spec_operation(op: Op) -> Value {
    let method = op.method().as_str().to_ascii_lowercase();
    let operation = openapi_document()["paths"][op.template()][method.as_str()].clone();
    assert!(operation.is_object(), "{op:?} is in the document");
    assert_eq!(operation["operationId"], op.operation_id(), "{op:?}");
    operation
}

fn declared_statuses(operation: &Value) -> Vec<String> {
    operation["responses"]
        .as_object()
        .expect("responses is an object")
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_account_operation_requires_bearer_auth_and_declares_401_with_a_challenge() {
    for op in OPS {
        let operation = spec_operation(op);
        assert_eq!(
            operation["security"],
            json!([{ "bearerAuth": [] }]),
            "{op:?}"
        );
        assert!(
            operation["responses"]["401"]["headers"]
                .get("WWW-Authenticate")
                .is_some(),
            "{op:?}"
        );
    }
}

#[test]
fn every_account_operation_declares_its_success_400_403_500_and_503() {
    for op in OPS {
        let statuses = declared_statuses(&spec_operation(op));
        let success = match op {
            Op::Profile | Op::AuthEvents | Op::Sessions => "200",
            _ => "204",
        };
        for status in [success, "400", "401", "403", "500", "503"] {
            assert!(
                statuses.iter().any(|s| s == status),
                "{op:?} declares {status}: {statuses:?}"
            );
        }
    }
}

#[test]
fn only_revoke_session_declares_404() {
    for op in OPS {
        let statuses = declared_statuses(&spec_operation(op));
        assert_eq!(
            statuses.iter().any(|s| s == "404"),
            op == Op::RevokeSession,
            "{op:?}: {statuses:?}"
        );
    }
}

#[test]
fn only_change_password_and_deactivate_account_declare_429_and_415() {
    for op in OPS {
        let statuses = declared_statuses(&spec_operation(op));
        for status in ["429", "415"] {
            assert_eq!(
                statuses.iter().any(|s| s == status),
                PASSWORD_OPS.contains(&op),
                "{op:?} {status}: {statuses:?}"
            );
        }
    }
}

#[test]
fn every_account_operation_declares_413_because_every_route_caps_bodies() {
    for op in OPS {
        let statuses = declared_statuses(&spec_operation(op));
        assert!(statuses.iter().any(|s| s == "413"), "{op:?}: {statuses:?}");
    }
}

#[test]
fn every_account_response_with_a_body_has_an_example_and_204s_have_no_body() {
    for op in OPS {
        let operation = spec_operation(op);
        for (status, response) in operation["responses"].as_object().expect("responses") {
            let content = &response["content"]["application/json"];
            if status == "204" {
                assert!(response.get("content").is_none(), "{op:?} 204: {response}");
                continue;
            }
            let example = content
                .get("example")
                .unwrap_or_else(|| panic!("{op:?} {status} has an example"));
            if status.starts_with('4') || status.starts_with('5') {
                let code = example["error"]["code"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{op:?} {status}: {example}"));
                let fits = match status.as_str() {
                    "400" => code.starts_with("VALIDATION_"),
                    "401" => code.starts_with("AUTH_") && code != "AUTH_FORBIDDEN",
                    "403" => code == "AUTH_FORBIDDEN" || code == "AUTH_FAILED",
                    "404" => code == "NOT_FOUND",
                    "408" => code == "REQUEST_TIMEOUT",
                    "413" => code == "PAYLOAD_TOO_LARGE",
                    "415" => code == "UNSUPPORTED_MEDIA_TYPE",
                    "429" => code == "RATE_LIMIT_EXCEEDED",
                    "500" => code == "INTERNAL_ERROR",
                    "503" => code == "SERVICE_UNAVAILABLE",
                    _ => false,
                };
                assert!(fits, "{op:?} {status} example has code {code}");
            }
        }
    }
}

#[test]
fn the_success_examples_have_the_shape_of_the_answers() {
    let example = |op: Op| {
        spec_operation(op)["responses"]["200"]["content"]["application/json"]["example"].clone()
    };
    let user_keys = ["created_at", "email", "is_active", "last_login", "user_id"];
    let profile = example(Op::Profile);
    let mut found: Vec<&str> = profile
        .as_object()
        .expect("an object")
        .keys()
        .map(String::as_str)
        .collect();
    found.sort_unstable();
    assert_eq!(found, user_keys, "{profile}");

    let events = example(Op::AuthEvents);
    let event = &events["data"][0];
    assert!(
        event["event_type"]
            .as_str()
            .is_some_and(|t| t.chars().all(|c| c.is_ascii_lowercase() || c == '_')),
        "{events}"
    );
    assert!(
        event["failure_reason"]
            .as_str()
            .is_some_and(|r| r.chars().all(|c| c.is_ascii_uppercase() || c == '_')),
        "{events}"
    );
    assert!(event["count"].as_u64().is_some_and(|c| c >= 1), "{events}");
    assert!(events["next_cursor"].is_string() || events["next_cursor"].is_null());

    let sessions = example(Op::Sessions);
    assert_eq!(sessions["data"][0]["current"], true, "{sessions}");
}

#[test]
fn the_password_operations_have_request_examples_with_exactly_their_fields() {
    for (op, fields) in [
        (Op::ChangePassword, vec!["current_password", "new_password"]),
        (Op::Deactivate, vec!["password"]),
    ] {
        let operation = spec_operation(op);
        let body = &operation["requestBody"];
        assert_eq!(body["required"], true, "{op:?}: {body}");
        let example = body["content"]["application/json"]["example"]
            .as_object()
            .unwrap_or_else(|| panic!("{op:?} has a request example: {body}"));
        let mut found: Vec<&str> = example.keys().map(String::as_str).collect();
        found.sort_unstable();
        assert_eq!(found, fields, "{op:?}");
        assert!(example.values().all(Value::is_string), "{op:?}");
    }
}

#[test]
fn the_limit_parameter_is_an_integer_from_1_to_100() {
    let operation = spec_operation(Op::AuthEvents);
    let limit = operation["parameters"]
        .as_array()
        .expect("parameters")
        .iter()
        .find(|p| p["name"] == "limit")
        .cloned()
        .expect("a limit parameter");
    assert_eq!(limit["in"], "query");
    assert_eq!(limit["required"], false, "{limit}");
    assert_eq!(limit["schema"]["type"], "integer", "{limit}");
    assert_eq!(limit["schema"]["minimum"].as_f64(), Some(1.0), "{limit}");
    assert_eq!(limit["schema"]["maximum"].as_f64(), Some(100.0), "{limit}");
}
