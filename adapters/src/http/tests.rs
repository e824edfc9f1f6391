//! HTTP-layer tests: the whole [`app`] driven through `poem::test::TestClient` over a
//! mocked [`AuthUseCases`](application::AuthUseCases) and a fake readiness probe.
//!
//! Every error is checked against the whole envelope (`error.code`, `error.message`,
//! `error.details`, `meta.timestamp`, `meta.request_id` = the `X-Request-ID` header),
//! together with the status and the headers the contract requires.
//!
//! A mock called without a matching expectation panics; the app's `CatchPanic` turns
//! that into a 500, so "the service is not called" shows up as a wrong status.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use application::service::MockAuthUseCases;
use application::{
    AuthenticateError, AuthenticateRequest, Caller, IssuedSession, LogInError, LogOutError,
    Principal, SignUpError, Unavailable, UnreadableCredentials,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    EmailAddress, EmailAddressError, PasswordHash, PasswordPolicyViolation, PasswordRule,
    PasswordViolation, Session, SessionId, User, UserId,
};
use poem::http::{HeaderMap, Method, StatusCode, header};
use poem::test::{TestClient, TestRequestBuilder, TestResponse};
use poem::{Body, Endpoint, Response};
use secrecy::SecretString;
use serde_json::{Value, json};
use uuid::Uuid;

use super::{HttpDeps, MAX_BODY_BYTES, Readiness, app, openapi_document, openapi_yaml};

mod account;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

const USER_ID: Uuid = Uuid::from_u128(0x0194_a3b2_7c1d_7e3f_8a9b_0c1d_2e3f_4a50);
const SESSION_ID: Uuid = Uuid::from_u128(0x0194_a3b2_7c1d_7e3f_8a9b_0c1d_2e3f_4a51);
const EMAIL: &str = "ada@example.com";
const PASSWORD: &str = "Correct-Horse-42";
const TOKEN: &str = "header.payload.signature";
const USER_AGENT: &str = "gatehouse-tests/1.0";
const CREATED_AT: &str = "2026-01-14T10:00:00Z";
const EXPIRES_AT: &str = "2026-01-15T10:00:00Z";
const BEARER: &str = "Bearer header.payload.signature";
const ORIGIN: &str = "https://app.example";
/// Text that must never reach a client.
const SECRET_CAUSE: &str = "SELECT password_hash FROM users -- connection to 10.9.8.7 refused";

struct FakeReadiness(bool);

#[async_trait]
impl Readiness for FakeReadiness {
    async fn ready(&self) -> bool {
        self.0
    }
}

fn at(rfc3339: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(rfc3339)
        .expect("a valid test timestamp")
        .with_timezone(&Utc)
}

fn user(last_login: Option<DateTime<Utc>>) -> User {
    User {
        id: UserId::from_uuid(USER_ID),
        email: EmailAddress::parse(EMAIL).expect("a valid test email"),
        password_hash: PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$salt$hash".into()),
        created_at: at(CREATED_AT),
        last_login,
        is_active: true,
    }
}

fn session() -> Session {
    Session {
        id: SessionId::from_uuid(SESSION_ID),
        user_id: UserId::from_uuid(USER_ID),
        created_at: at(CREATED_AT),
        expires_at: at(EXPIRES_AT),
        revoked_at: None,
        ip_address: None,
        user_agent: Some(USER_AGENT.into()),
    }
}

fn issued() -> IssuedSession {
    IssuedSession {
        user: user(Some(at(CREATED_AT))),
        session: session(),
        token: SecretString::from(TOKEN.to_owned()),
        expires_in: 86_400,
    }
}

fn principal() -> Principal {
    Principal {
        user: user(None),
        session: session(),
    }
}

fn credentials() -> Value {
    json!({ "email": EMAIL, "password": PASSWORD })
}

/// An error chain with [`Unavailable`] somewhere in it (what adapters produce for a
/// database outage or a saturated hashing pool).
fn unavailable(retry_after_secs: u64) -> anyhow::Error {
    anyhow::Error::new(Unavailable {
        retry_after_secs,
        what: "database",
    })
    .context(SECRET_CAUSE)
}

fn plain_error() -> anyhow::Error {
    anyhow::anyhow!(SECRET_CAUSE)
}

fn client(service: MockAuthUseCases) -> TestClient<impl Endpoint<Output = Response>> {
    client_with(service, true, Vec::new())
}

fn client_with(
    mut service: MockAuthUseCases,
    ready: bool,
    cors_origins: Vec<String>,
) -> TestClient<impl Endpoint<Output = Response>> {
    // Signup and login pass the per-IP limit unless a test set its own expectation
    // first (mockall tries expectations in the order they were set).
    service.expect_admit().returning(|_, _| Ok(None));
    TestClient::new(
        app(HttpDeps {
            service: Arc::new(service),
            readiness: Arc::new(FakeReadiness(ready)),
            cors_origins,
            trusted_proxies: crate::http::TrustedProxies::default(),
            body_read_timeout: std::time::Duration::from_secs(10),
            request_timeout: std::time::Duration::from_secs(10),
        })
        .expect("the app"),
    )
}

/// A mock that must not be called at all.
fn untouched() -> MockAuthUseCases {
    let mut mock = MockAuthUseCases::new();
    mock.expect_sign_up().never();
    mock.expect_log_in().never();
    mock.expect_log_out().never();
    mock.expect_authenticate().never();
    mock
}

/// Whether `request` presents the bearer token `value`.
fn carries(request: &AuthenticateRequest, value: &str) -> bool {
    matches!(&request.token, Ok(Some(sent)) if sent.expose() == value)
}

/// A mock whose `authenticate` accepts [`BEARER`] and answers [`principal`].
fn authenticating() -> MockAuthUseCases {
    let mut mock = MockAuthUseCases::new();
    mock.expect_authenticate()
        .withf(|request| carries(request, TOKEN))
        .times(1)
        .returning(|_| Ok(principal()));
    mock
}

// ---------------------------------------------------------------------------------------
// Reading answers
// ---------------------------------------------------------------------------------------

/// A response, read completely.
struct Answer {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Answer {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    #[track_caller]
    fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("the body is JSON ({e}): {}", self.body))
    }

    #[track_caller]
    fn request_id(&self) -> &str {
        let id = self.header("x-request-id").expect("X-Request-ID is set");
        assert!(Uuid::parse_str(id).is_ok(), "X-Request-ID {id:?} is a UUID");
        id
    }
}

async fn read(resp: TestResponse) -> Answer {
    let resp = resp.0;
    let status = resp.status();
    let headers = resp.headers().clone();
    let body = resp
        .into_body()
        .into_string()
        .await
        .expect("the body is readable UTF-8");
    Answer {
        status,
        headers,
        body,
    }
}

async fn send<E: Endpoint>(request: TestRequestBuilder<'_, E>) -> Answer {
    read(request.send().await).await
}

fn sorted_keys(value: &Value) -> Vec<String> {
    value
        .as_object()
        .unwrap_or_else(|| panic!("an object: {value}"))
        .keys()
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

fn keys(names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| (*n).to_owned())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect()
}

/// Checks everything of an error envelope but the message and details; returns `error`.
#[track_caller]
fn assert_envelope(answer: &Answer, status: StatusCode, code: &str) -> Value {
    assert_eq!(answer.status, status, "status; body: {}", answer.body);
    let content_type = answer
        .header("content-type")
        .expect("an error has a content type");
    assert!(
        content_type.starts_with("application/json"),
        "content type {content_type:?}"
    );
    let body = answer.json();
    assert_eq!(sorted_keys(&body), keys(&["error", "meta"]), "{body}");
    assert_eq!(
        sorted_keys(&body["error"]),
        keys(&["code", "details", "message"]),
        "{body}"
    );
    assert_eq!(
        sorted_keys(&body["meta"]),
        keys(&["request_id", "timestamp"]),
        "{body}"
    );
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");

    let timestamp = body["meta"]["timestamp"]
        .as_str()
        .expect("meta.timestamp is a string");
    assert!(timestamp.ends_with('Z'), "{timestamp} is UTC with a Z");
    let when = DateTime::parse_from_rfc3339(timestamp).expect("meta.timestamp is RFC 3339");
    let skew = (Utc::now() - when.with_timezone(&Utc)).num_seconds().abs();
    assert!(skew < 60, "meta.timestamp {timestamp} is now");

    assert_eq!(
        body["meta"]["request_id"],
        answer.request_id(),
        "meta.request_id is the X-Request-ID header"
    );
    body["error"].clone()
}

/// Checks the whole envelope.
#[track_caller]
fn assert_error(answer: &Answer, status: StatusCode, code: &str, message: &str, details: Value) {
    let error = assert_envelope(answer, status, code);
    assert_eq!(error["message"], message, "{error}");
    assert_eq!(error["details"], details, "{error}");
}

/// Checks a `VALIDATION_ERROR` envelope; returns `details.fields` as `(field, message)`.
#[track_caller]
fn assert_validation_error(answer: &Answer) -> Vec<(String, String)> {
    let error = assert_envelope(answer, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert_eq!(sorted_keys(&error["details"]), keys(&["fields"]), "{error}");
    let fields: Vec<(String, String)> = error["details"]["fields"]
        .as_array()
        .expect("details.fields is an array")
        .iter()
        .map(|f| {
            assert_eq!(sorted_keys(f), keys(&["field", "message"]), "{f}");
            (
                f["field"].as_str().expect("field is a string").to_owned(),
                f["message"]
                    .as_str()
                    .expect("message is a string")
                    .to_owned(),
            )
        })
        .collect();
    assert!(!fields.is_empty(), "{error}");
    let message = error["message"].as_str().expect("message is a string");
    if let [(field, _)] = fields.as_slice() {
        assert!(
            message.starts_with(&format!("Invalid field `{field}`")),
            "{message}"
        );
    }
    fields
}

#[track_caller]
fn assert_retry_after(answer: &Answer, secs: u64) {
    assert_eq!(
        answer.header("retry-after"),
        Some(secs.to_string().as_str())
    );
}

#[track_caller]
fn assert_no_store(answer: &Answer) {
    assert_eq!(answer.header("cache-control"), Some("no-store"));
}

#[track_caller]
fn assert_auth_response(answer: &Answer) {
    let body = answer.json();
    assert_eq!(
        sorted_keys(&body),
        keys(&[
            "email",
            "expires_at",
            "expires_in",
            "session_id",
            "token",
            "token_type",
            "user_id",
        ]),
        "{body}"
    );
    assert_eq!(body["user_id"], USER_ID.to_string());
    assert_eq!(body["email"], EMAIL);
    assert_eq!(body["token"], TOKEN);
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert_eq!(body["expires_at"], EXPIRES_AT);
    assert_eq!(body["session_id"], SESSION_ID.to_string());
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        answer.header("content-type")
    );
    answer.request_id();
}

// ---------------------------------------------------------------------------------------
// signUp
// ---------------------------------------------------------------------------------------

fn signing_up_fails_with(
    error: impl Fn() -> SignUpError + Send + 'static,
) -> TestClient<impl Endpoint<Output = Response>> {
    let mut mock = MockAuthUseCases::new();
    mock.expect_sign_up()
        .times(1)
        .returning(move |_| Err(error()));
    client(mock)
}

async fn sign_up<E: Endpoint>(cli: &TestClient<E>) -> Answer {
    send(cli.post("/api/auth/signup").body_json(&credentials())).await
}

#[tokio::test]
async fn sign_up_answers_201_with_the_new_session_and_cache_control_no_store() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_sign_up().times(1).returning(|_| Ok(issued()));
    let cli = client(mock);

    let answer = sign_up(&cli).await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
    assert_no_store(&answer);
    assert_auth_response(&answer);
}

#[tokio::test]
async fn sign_up_passes_the_email_and_password_exactly_as_sent_and_the_user_agent() {
    let sent_email = "  Ada.Lovelace@Example.COM ";
    let sent_password = " pässwörd with spaces\u{1F512} ";
    let mut mock = MockAuthUseCases::new();
    mock.expect_sign_up()
        .withf(move |request| {
            request.email == sent_email
                && request.password.expose() == sent_password
                && request.caller.user_agent.as_deref() == Some(USER_AGENT)
        })
        .times(1)
        .returning(|_| Ok(issued()));
    let cli = client(mock);

    let answer = send(
        cli.post("/api/auth/signup")
            .header(header::USER_AGENT, USER_AGENT)
            .body_json(&json!({ "email": sent_email, "password": sent_password })),
    )
    .await;

    assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
}

#[tokio::test]
async fn sign_up_with_an_invalid_email_answers_400_validation_email_for_every_email_error() {
    for kind in [
        EmailAddressError::Empty,
        EmailAddressError::TooLong,
        EmailAddressError::Invalid,
    ] {
        let cli = signing_up_fails_with(move || SignUpError::InvalidEmail(kind));

        let answer = sign_up(&cli).await;

        assert_error(
            &answer,
            StatusCode::BAD_REQUEST,
            "VALIDATION_EMAIL",
            "Invalid email format",
            Value::Null,
        );
    }
}

#[tokio::test]
async fn sign_up_with_a_weak_password_answers_400_validation_password_listing_every_rule() {
    let rules = [
        PasswordRule::MinLength,
        PasswordRule::MaxLength,
        PasswordRule::Uppercase,
        PasswordRule::Lowercase,
        PasswordRule::Digit,
        PasswordRule::Common,
        PasswordRule::MatchesEmail,
    ];
    let cli = signing_up_fails_with(move || {
        SignUpError::WeakPassword(
            PasswordPolicyViolation::from_violations(
                rules
                    .iter()
                    .map(|rule| PasswordViolation {
                        rule: *rule,
                        message: format!("broken: {}", rule.code()),
                    })
                    .collect(),
            )
            .expect("a non-empty list of violations"),
        )
    });

    let answer = sign_up(&cli).await;

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
async fn sign_up_with_a_taken_email_answers_409_conflict_email() {
    let cli = signing_up_fails_with(|| SignUpError::EmailTaken);

    let answer = sign_up(&cli).await;

    assert_error(
        &answer,
        StatusCode::CONFLICT,
        "CONFLICT_EMAIL",
        "Email already registered",
        Value::Null,
    );
}

// ---------------------------------------------------------------------------------------
// logIn
// ---------------------------------------------------------------------------------------

fn logging_in_fails_with(
    error: impl Fn() -> LogInError + Send + 'static,
) -> TestClient<impl Endpoint<Output = Response>> {
    let mut mock = MockAuthUseCases::new();
    mock.expect_log_in()
        .times(1)
        .returning(move |_| Err(error()));
    client(mock)
}

async fn log_in<E: Endpoint>(cli: &TestClient<E>) -> Answer {
    send(cli.post("/api/auth/login").body_json(&credentials())).await
}

#[tokio::test]
async fn log_in_answers_200_with_the_new_session_and_cache_control_no_store() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_log_in().times(1).returning(|_| Ok(issued()));
    let cli = client(mock);

    let answer = log_in(&cli).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_no_store(&answer);
    assert_auth_response(&answer);
}

#[tokio::test]
async fn log_in_passes_the_email_and_password_exactly_as_sent_and_the_user_agent() {
    let sent_email = " ADA@example.com";
    let sent_password = "Correct-Horse-42 ";
    let mut mock = MockAuthUseCases::new();
    mock.expect_log_in()
        .withf(move |request| {
            request.email == sent_email
                && request.password.expose() == sent_password
                && request.caller.user_agent.as_deref() == Some(USER_AGENT)
        })
        .times(1)
        .returning(|_| Ok(issued()));
    let cli = client(mock);

    let answer = send(
        cli.post("/api/auth/login")
            .header(header::USER_AGENT, USER_AGENT)
            .body_json(&json!({ "email": sent_email, "password": sent_password })),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn log_in_without_a_user_agent_passes_none() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_log_in()
        .withf(|request| request.caller.user_agent.is_none())
        .times(1)
        .returning(|_| Ok(issued()));
    let cli = client(mock);

    let answer = log_in(&cli).await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn log_in_with_invalid_credentials_answers_401_auth_failed_with_a_plain_bearer_challenge() {
    let cli = logging_in_fails_with(|| LogInError::InvalidCredentials);

    let answer = log_in(&cli).await;

    assert_error(
        &answer,
        StatusCode::UNAUTHORIZED,
        "AUTH_FAILED",
        "Invalid credentials",
        Value::Null,
    );
    assert_eq!(answer.header("www-authenticate"), Some("Bearer"));
    assert!(answer.header("cache-control").is_none());
}

#[tokio::test]
async fn log_in_with_an_invalid_email_answers_400_validation_email() {
    let cli = logging_in_fails_with(|| LogInError::InvalidEmail(EmailAddressError::Invalid));

    let answer = log_in(&cli).await;

    assert_error(
        &answer,
        StatusCode::BAD_REQUEST,
        "VALIDATION_EMAIL",
        "Invalid email format",
        Value::Null,
    );
}

#[tokio::test]
async fn a_throttled_log_in_answers_429_with_retry_after() {
    let cli = logging_in_fails_with(|| LogInError::Throttled {
        retry_after_secs: 900,
    });

    let answer = log_in(&cli).await;

    assert_error(
        &answer,
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMIT_EXCEEDED",
        "Too many requests. Try again later.",
        Value::Null,
    );
    assert_retry_after(&answer, 900);
}

// ---------------------------------------------------------------------------------------
// getCurrentUser and logOut: authentication
// ---------------------------------------------------------------------------------------

/// The operations that need a bearer token.
const PROTECTED: [(&str, &str); 2] = [("GET", "/api/auth/me"), ("POST", "/api/auth/logout")];

fn protected_request<'a, E: Endpoint>(
    cli: &'a TestClient<E>,
    method: &str,
    path: &str,
) -> TestRequestBuilder<'a, E> {
    let method = Method::from_bytes(method.as_bytes()).expect("a valid method");
    cli.request(method, path)
}

#[tokio::test]
async fn a_protected_operation_without_authorization_answers_401_auth_missing_without_calling_authenticate()
 {
    for (method, path) in PROTECTED {
        let cli = client(untouched());

        let answer = send(protected_request(&cli, method, path)).await;

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
            "{method} {path}"
        );
    }
}

/// Makes the refusal `authenticate` answers with.
type Refusal = fn() -> AuthenticateError;

#[tokio::test]
async fn each_token_refusal_answers_401_with_its_code_and_the_invalid_token_challenge() {
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
    for (method, path) in PROTECTED {
        for (refusal, code, message) in cases {
            let mut mock = MockAuthUseCases::new();
            mock.expect_authenticate()
                .withf(|request| carries(request, TOKEN))
                .times(1)
                .returning(move |_| Err(refusal()));
            mock.expect_log_out().never();
            let cli = client(mock);

            let answer =
                send(protected_request(&cli, method, path).header(header::AUTHORIZATION, BEARER))
                    .await;

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
                "{method} {path} {code}"
            );
        }
    }
}

#[tokio::test]
async fn another_scheme_refused_as_missing_answers_401_auth_missing_with_a_plain_challenge() {
    for (method, path) in PROTECTED {
        let mut mock = MockAuthUseCases::new();
        mock.expect_authenticate()
            .withf(|request| matches!(request.token, Ok(None)))
            .times(1)
            .returning(|_| Err(AuthenticateError::Missing));
        let cli = client(mock);

        let answer =
            send(protected_request(&cli, method, path).header(header::AUTHORIZATION, "Basic xyz"))
                .await;

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
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn the_bearer_token_and_the_user_agent_reach_authenticate() {
    let sent = "Bearer   eyJ0eXAi.with-odd_chars~.and spaces ";
    let mut mock = MockAuthUseCases::new();
    mock.expect_authenticate()
        .withf(move |request| {
            carries(request, "eyJ0eXAi.with-odd_chars~.and spaces")
                && request.caller.user_agent.as_deref() == Some(USER_AGENT)
        })
        .times(1)
        .returning(|_| Err(AuthenticateError::Invalid));
    let cli = client(mock);

    let answer = send(
        cli.get("/api/auth/me")
            .header(header::AUTHORIZATION, sent)
            .header(header::USER_AGENT, USER_AGENT),
    )
    .await;

    assert_envelope(&answer, StatusCode::UNAUTHORIZED, "AUTH_INVALID");
}

#[tokio::test]
async fn two_authorization_headers_reach_authenticate_as_repeated_and_answer_401_auth_invalid() {
    for (method, path) in PROTECTED {
        // The first one valid, as `Bearer A` + `Bearer junk` would be.
        for second in ["Bearer junk", BEARER, "Basic xyz"] {
            let mut mock = MockAuthUseCases::new();
            mock.expect_authenticate()
                .withf(|request| matches!(request.token, Err(UnreadableCredentials)))
                .times(1)
                .returning(|_| Err(AuthenticateError::Invalid));
            mock.expect_log_out().never();
            let cli = client(mock);

            let answer = send(
                protected_request(&cli, method, path)
                    .header(header::AUTHORIZATION, BEARER)
                    .header(header::AUTHORIZATION, second),
            )
            .await;

            assert_error(
                &answer,
                StatusCode::UNAUTHORIZED,
                "AUTH_INVALID",
                "Invalid or expired token",
                Value::Null,
            );
            assert_eq!(
                answer.header("www-authenticate"),
                Some(r#"Bearer error="invalid_token""#),
                "{method} {path} + {second}"
            );
        }
    }
}

#[tokio::test]
async fn two_authorization_headers_on_a_public_operation_are_not_looked_at() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_authenticate().never();
    mock.expect_log_in().times(1).returning(|_| Ok(issued()));
    let cli = client(mock);

    let answer = send(
        cli.post("/api/auth/login")
            .header(header::AUTHORIZATION, BEARER)
            .header(header::AUTHORIZATION, "Bearer junk")
            .body_json(&credentials()),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}

#[tokio::test]
async fn an_unexpected_error_while_authenticating_answers_500_or_503_with_retry_after() {
    for (method, path) in PROTECTED {
        let mut mock = MockAuthUseCases::new();
        mock.expect_authenticate()
            .times(1)
            .returning(|_| Err(AuthenticateError::Unexpected(plain_error())));
        let cli = client(mock);
        let answer =
            send(protected_request(&cli, method, path).header(header::AUTHORIZATION, BEARER)).await;
        assert_error(
            &answer,
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL_ERROR",
            "An unexpected error occurred",
            Value::Null,
        );
        assert!(!answer.body.contains("SELECT"), "{}", answer.body);
        assert!(answer.header("www-authenticate").is_none());

        let mut mock = MockAuthUseCases::new();
        mock.expect_authenticate()
            .times(1)
            .returning(|_| Err(AuthenticateError::Unexpected(unavailable(2))));
        let cli = client(mock);
        let answer =
            send(protected_request(&cli, method, path).header(header::AUTHORIZATION, BEARER)).await;
        assert_error(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Service temporarily unavailable",
            Value::Null,
        );
        assert_retry_after(&answer, 2);
    }
}

// ---------------------------------------------------------------------------------------
// getCurrentUser and logOut: success and their own failures
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn me_answers_200_with_the_principals_user_and_a_null_last_login() {
    let cli = client(authenticating());

    let answer = send(
        cli.get("/api/auth/me")
            .header(header::AUTHORIZATION, BEARER),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.request_id();
    assert_eq!(
        answer.json(),
        json!({
            "user_id": USER_ID.to_string(),
            "email": EMAIL,
            "created_at": CREATED_AT,
            "last_login": null,
            "is_active": true,
        })
    );
}

#[tokio::test]
async fn me_shows_last_login_as_an_rfc_3339_utc_timestamp_when_there_is_one() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_authenticate().times(1).returning(|_| {
        let mut principal = principal();
        principal.user.last_login = Some(at("2026-01-14T11:30:05Z"));
        Ok(principal)
    });
    let cli = client(mock);

    let answer = send(
        cli.get("/api/auth/me")
            .header(header::AUTHORIZATION, BEARER),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.json()["last_login"], "2026-01-14T11:30:05Z");
}

#[tokio::test]
async fn logout_revokes_the_principals_session_and_answers_200_with_a_message() {
    let mut mock = authenticating();
    mock.expect_log_out()
        .withf(|who: &Principal, caller: &Caller| {
            *who == principal() && caller.user_agent.as_deref() == Some(USER_AGENT)
        })
        .times(1)
        .returning(|_, _| Ok(()));
    let cli = client(mock);

    let answer = send(
        cli.post("/api/auth/logout")
            .header(header::AUTHORIZATION, BEARER)
            .header(header::USER_AGENT, USER_AGENT),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.request_id();
    assert_eq!(
        answer.json(),
        json!({ "message": "Logged out successfully" })
    );
}

/// The operations of this file whose own use case can fail unexpectedly.
#[derive(Debug, Clone, Copy)]
enum Fallible {
    SignUp,
    LogIn,
    LogOut,
}

impl Fallible {
    /// A mock whose use case for this operation fails once with `cause()`.
    fn failing(self, cause: fn() -> anyhow::Error) -> MockAuthUseCases {
        match self {
            Self::SignUp => {
                let mut mock = MockAuthUseCases::new();
                mock.expect_sign_up()
                    .times(1)
                    .returning(move |_| Err(SignUpError::Unexpected(cause())));
                mock
            }
            Self::LogIn => {
                let mut mock = MockAuthUseCases::new();
                mock.expect_log_in()
                    .times(1)
                    .returning(move |_| Err(LogInError::Unexpected(cause())));
                mock
            }
            Self::LogOut => {
                let mut mock = authenticating();
                mock.expect_log_out()
                    .times(1)
                    .returning(move |_, _| Err(LogOutError::Unexpected(cause())));
                mock
            }
        }
    }

    async fn send<E: Endpoint>(self, cli: &TestClient<E>) -> Answer {
        match self {
            Self::SignUp => sign_up(cli).await,
            Self::LogIn => log_in(cli).await,
            Self::LogOut => {
                send(
                    cli.post("/api/auth/logout")
                        .header(header::AUTHORIZATION, BEARER),
                )
                .await
            }
        }
    }
}

#[tokio::test]
async fn an_unexpected_use_case_error_answers_500_or_503_with_retry_after_without_leaking_the_cause()
 {
    for op in [Fallible::SignUp, Fallible::LogIn, Fallible::LogOut] {
        let answer = op.send(&client(op.failing(plain_error))).await;
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

        let answer = op.send(&client(op.failing(|| unavailable(7)))).await;
        assert_error(
            &answer,
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            "Service temporarily unavailable",
            Value::Null,
        );
        assert_retry_after(&answer, 7);
        assert!(!answer.body.contains("SELECT"), "{op:?}: {}", answer.body);
        assert!(!answer.body.contains("database"), "{op:?}: {}", answer.body);
    }
}

// ---------------------------------------------------------------------------------------
// Framework errors
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_unknown_route_answers_404_not_found_in_the_envelope() {
    let cli = client(untouched());

    for path in ["/nope", "/api/auth/me/extra", "/api/auth/me/x/y/z"] {
        let answer = send(cli.get(path)).await;

        assert_error(
            &answer,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Resource not found",
            Value::Null,
        );
    }
}

#[tokio::test]
async fn a_path_that_only_has_the_shape_of_a_route_answers_404_for_a_method_the_route_lacks() {
    let cli = client(untouched());

    // Each fits a template with a `{user_id}` (or `{session_id}`) that is not a UUID:
    // it names nothing, whatever the method. (With a UUID it is a 405: see below.)
    for (method, path) in [
        (Method::GET, "/api/auth".to_owned()),
        (Method::GET, "/api/users".to_owned()),
        (Method::POST, "/api/anything".to_owned()),
        (Method::GET, "/api/%FF%FE".to_owned()),
        (Method::POST, "/api/me/profile".to_owned()),
        (Method::PUT, "/api/me/sessions".to_owned()),
        (Method::GET, format!("/api/{USER_ID}/sessions/current")),
    ] {
        let answer = send(
            cli.request(method.clone(), &path)
                .header(header::AUTHORIZATION, BEARER),
        )
        .await;

        assert_error(
            &answer,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
            "Resource not found",
            Value::Null,
        );
        assert_eq!(answer.header("allow"), None, "{method} {path}");
    }
}

#[tokio::test]
async fn a_wrong_method_on_the_documents_paths_answers_405_with_allow_get() {
    let cli = client(untouched());

    for path in ["/docs", "/openapi.json", "/openapi.yaml"] {
        let answer = send(cli.post(path)).await;

        assert_error(
            &answer,
            StatusCode::METHOD_NOT_ALLOWED,
            "METHOD_NOT_ALLOWED",
            "Method not allowed",
            Value::Null,
        );
        assert_eq!(answer.header("allow"), Some("GET"), "{path}");
    }
}

#[tokio::test]
async fn a_wrong_method_answers_405_method_not_allowed_with_allow() {
    let cli = client(untouched());

    for (method, path, allow) in [
        (Method::GET, "/api/auth/signup", "POST"),
        (Method::PUT, "/api/auth/login", "POST"),
        (Method::DELETE, "/api/auth/me", "GET"),
        (Method::GET, "/api/auth/logout", "POST"),
        (Method::POST, "/health", "GET"),
    ] {
        let answer = send(cli.request(method.clone(), path)).await;

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

#[tokio::test]
async fn malformed_json_answers_400_validation_error_naming_the_body() {
    let cli = client(untouched());

    for path in ["/api/auth/signup", "/api/auth/login"] {
        let answer = send(
            cli.post(path)
                .content_type("application/json")
                .body(r#"{"email": "ada@example.com", "password": "#),
        )
        .await;

        let fields = assert_validation_error(&answer);
        assert_eq!(fields.len(), 1, "{fields:?}");
        assert_eq!(fields[0].0, "body");
    }
}

#[tokio::test]
async fn an_empty_json_body_answers_400_validation_error_naming_the_body() {
    let cli = client(untouched());

    let answer = send(
        cli.post("/api/auth/login")
            .content_type("application/json")
            .body(""),
    )
    .await;

    let fields = assert_validation_error(&answer);
    assert_eq!(fields.len(), 1, "{fields:?}");
    assert_eq!(fields[0].0, "body");
}

#[tokio::test]
async fn a_missing_field_and_a_wrongly_typed_field_are_both_named() {
    let cli = client(untouched());

    for path in ["/api/auth/signup", "/api/auth/login"] {
        let answer = send(cli.post(path).body_json(&json!({ "password": 5 }))).await;

        let fields = assert_validation_error(&answer);
        let named: BTreeSet<&str> = fields.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(named, BTreeSet::from(["email", "password"]), "{fields:?}");
        assert_eq!(answer.json()["error"]["message"], "Invalid request");
    }
}

#[tokio::test]
async fn a_body_that_is_not_an_object_answers_400_validation_error() {
    let cli = client(untouched());

    let answer = send(cli.post("/api/auth/login").body_json(&json!([1, 2]))).await;

    let fields = assert_validation_error(&answer);
    assert_eq!(fields[0].0, "body", "{fields:?}");
}

#[tokio::test]
async fn a_wrong_content_type_answers_415_unsupported_media_type() {
    let cli = client(untouched());

    for content_type in [
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ] {
        let mut request = cli.post("/api/auth/signup").body(credentials().to_string());
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

/// A JSON credentials body of exactly `len` bytes.
fn credentials_of_length(len: usize) -> Vec<u8> {
    let prefix = format!(r#"{{"email":"{EMAIL}","password":""#);
    let suffix = r#""}"#;
    let padding = len - prefix.len() - suffix.len();
    format!("{prefix}{}{suffix}", "x".repeat(padding)).into_bytes()
}

const OVERSIZED: usize = 65 * 1024;

#[track_caller]
fn assert_payload_too_large(answer: &Answer) {
    assert_error(
        answer,
        StatusCode::PAYLOAD_TOO_LARGE,
        "PAYLOAD_TOO_LARGE",
        "Payload too large",
        Value::Null,
    );
}

#[tokio::test]
async fn a_65_kib_body_with_content_length_answers_413_without_calling_the_service() {
    let cli = client(untouched());

    let answer = send(
        cli.post("/api/auth/signup")
            .content_type("application/json")
            .header(header::CONTENT_LENGTH, OVERSIZED)
            .body(credentials_of_length(OVERSIZED)),
    )
    .await;

    assert_payload_too_large(&answer);
}

#[tokio::test]
async fn a_65_kib_body_without_content_length_answers_413_without_calling_the_service() {
    let cli = client(untouched());

    // TestClient sets no Content-Length of its own.
    let answer = send(
        cli.post("/api/auth/login")
            .content_type("application/json")
            .body(credentials_of_length(OVERSIZED)),
    )
    .await;

    assert_payload_too_large(&answer);
}

#[tokio::test]
async fn a_streamed_65_kib_body_answers_413_without_calling_the_service() {
    let cli = client(untouched());

    let answer = send(
        cli.post("/api/auth/signup")
            .content_type("application/json")
            .body(Body::from_async_read(Cursor::new(credentials_of_length(
                OVERSIZED,
            )))),
    )
    .await;

    assert_payload_too_large(&answer);
}

/// A body that never ends.
struct Endless;

impl tokio::io::AsyncRead for Endless {
    fn poll_read(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let n = buf.remaining().min(1024);
        buf.put_slice(&[b' '; 1024][..n]);
        Poll::Ready(Ok(()))
    }
}

#[tokio::test]
async fn an_endless_streamed_body_is_cut_off_with_413() {
    let cli = client(untouched());

    let answer = tokio::time::timeout(
        Duration::from_secs(20),
        send(
            cli.post("/api/auth/login")
                .content_type("application/json")
                .body(Body::from_async_read(Endless)),
        ),
    )
    .await
    .expect("the server stops reading at the cap");

    assert_payload_too_large(&answer);
}

#[tokio::test]
async fn a_body_of_exactly_64_kib_is_accepted() {
    let body = credentials_of_length(MAX_BODY_BYTES);
    assert_eq!(body.len(), 64 * 1024);
    let password_len = MAX_BODY_BYTES - format!(r#"{{"email":"{EMAIL}","password":""#).len() - 2;
    let mut mock = MockAuthUseCases::new();
    mock.expect_log_in()
        .withf(move |request| {
            request.email == EMAIL && request.password.expose().len() == password_len
        })
        .times(1)
        .returning(|_| Err(LogInError::InvalidCredentials));
    let cli = client(mock);

    let answer = send(
        cli.post("/api/auth/login")
            .content_type("application/json")
            .body(body),
    )
    .await;

    assert_envelope(&answer, StatusCode::UNAUTHORIZED, "AUTH_FAILED");
}

#[tokio::test]
async fn a_panic_in_the_service_answers_500_internal_error_in_the_envelope() {
    // No expectation at all: the mock panics when called.
    let cli = client(MockAuthUseCases::new());

    let answer = log_in(&cli).await;

    assert_error(
        &answer,
        StatusCode::INTERNAL_SERVER_ERROR,
        "INTERNAL_ERROR",
        "An unexpected error occurred",
        Value::Null,
    );
    assert!(!answer.body.contains("expectation"), "{}", answer.body);
}

// ---------------------------------------------------------------------------------------
// X-Request-ID
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn an_incoming_uuid_request_id_is_echoed_exactly_on_success_and_error() {
    let cli = client(untouched());
    for incoming in [
        "0193e5a2-1c3f-7000-8000-000000000001",
        "0193E5A2-1C3F-7000-8000-00000000000A",
    ] {
        let ok = send(cli.get("/health").header("X-Request-ID", incoming)).await;
        assert_eq!(ok.status, StatusCode::OK);
        assert_eq!(ok.header("x-request-id"), Some(incoming));

        let err = send(cli.get("/nope").header("X-Request-ID", incoming)).await;
        assert_envelope(&err, StatusCode::NOT_FOUND, "NOT_FOUND");
        assert_eq!(err.header("x-request-id"), Some(incoming));
        assert_eq!(err.json()["meta"]["request_id"], incoming);
    }
}

#[tokio::test]
async fn an_incoming_request_id_that_is_not_a_uuid_is_replaced_by_a_uuid() {
    let cli = client(untouched());
    for incoming in [
        "abc",
        "<script>alert(1)</script>",
        "",
        "0193e5a2-1c3f-7000-8000",
    ] {
        let ok = send(cli.get("/health").header("X-Request-ID", incoming)).await;
        assert_ne!(ok.request_id(), incoming);

        let err = send(cli.get("/nope").header("X-Request-ID", incoming)).await;
        assert_envelope(&err, StatusCode::NOT_FOUND, "NOT_FOUND");
        assert_ne!(err.request_id(), incoming);
    }
}

#[tokio::test]
async fn every_response_gets_its_own_request_id() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_sign_up().times(1).returning(|_| Ok(issued()));
    let cli = client(mock);

    let created = sign_up(&cli).await;
    let health = send(cli.get("/health")).await;
    let missing = send(cli.get("/api/auth/me")).await;

    assert_eq!(created.status, StatusCode::CREATED);
    let ids = BTreeSet::from([
        created.request_id().to_owned(),
        health.request_id().to_owned(),
        missing.request_id().to_owned(),
    ]);
    assert_eq!(ids.len(), 3, "{ids:?}");
}

// ---------------------------------------------------------------------------------------
// Operations endpoints, the document and the docs
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn health_answers_200_with_status_service_and_version() {
    let cli = client_with(untouched(), false, Vec::new());

    let answer = send(cli.get("/health")).await;

    assert_eq!(answer.status, StatusCode::OK);
    answer.request_id();
    assert_eq!(
        answer.json(),
        json!({ "status": "ok", "service": "gatehouse", "version": env!("CARGO_PKG_VERSION") })
    );
}

#[tokio::test]
async fn ready_answers_200_when_the_probe_says_ready() {
    let cli = client_with(untouched(), true, Vec::new());

    let answer = send(cli.get("/ready")).await;

    assert_eq!(answer.status, StatusCode::OK);
    answer.request_id();
    assert_eq!(answer.json(), json!({ "status": "ready" }));
}

#[tokio::test]
async fn ready_answers_503_service_unavailable_with_retry_after_when_the_probe_says_not_ready() {
    let cli = client_with(untouched(), false, Vec::new());

    let answer = send(cli.get("/ready")).await;

    assert_error(
        &answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
        "Service temporarily unavailable",
        Value::Null,
    );
    let retry_after: u64 = answer
        .header("retry-after")
        .expect("Retry-After is set")
        .parse()
        .expect("Retry-After is whole seconds");
    assert!(retry_after >= 1);
}

#[tokio::test]
async fn openapi_json_serves_the_finished_document() {
    let cli = client(untouched());

    let answer = send(cli.get("/openapi.json")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{:?}",
        answer.header("content-type")
    );
    answer.request_id();
    assert_eq!(answer.json(), openapi_document().expect("document"));
}

#[tokio::test]
async fn openapi_yaml_serves_the_same_document() {
    let cli = client(untouched());

    let answer = send(cli.get("/openapi.yaml")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.contains("yaml")),
        "{:?}",
        answer.header("content-type")
    );
    assert_eq!(answer.body, openapi_yaml().expect("yaml"));
    let parsed: Value = serde_yaml::from_str(&answer.body).expect("the body is YAML");
    assert_eq!(parsed, openapi_document().expect("document"));
}

/// The order of the first key of each operation-bearing path in a rendering.
fn path_order(rendered: &str, marker: &str) -> Vec<String> {
    rendered
        .lines()
        .filter_map(|l| l.strip_prefix(marker))
        .filter(|l| l.starts_with('/'))
        .map(|l| l.trim_end_matches([':', '{', ' ', '"']).to_owned())
        .collect()
}

#[test]
fn the_document_names_the_answers_the_http_server_gives_outside_the_envelope() {
    let document = openapi_document().expect("document");
    let description = document["info"]["description"]
        .as_str()
        .expect("description");
    for said in [
        "The exceptions to the envelope",
        "an empty body",
        "400 for a malformed request line",
        "431 for more than 100 header lines",
        "414 for a target of 64 KiB",
        "names nothing and is 404",
    ] {
        assert!(description.contains(said), "{said:?} in {description}");
    }
    let scheme = document["components"]["securitySchemes"]["bearerAuth"]["description"]
        .as_str()
        .expect("scheme description");
    assert!(scheme.contains("`crit`"), "{scheme}");
    assert!(
        scheme.contains("more than one `Authorization` header"),
        "{scheme}"
    );
}

#[test]
fn the_document_reads_in_the_order_a_person_works() {
    // Swagger UI lists tags in the order of the top-level `tags` list and operations in
    // the order of `paths`: sign up first, then the rest of auth, the account, operations.
    let yaml = openapi_yaml().expect("yaml");
    let paths = path_order(&yaml, "  ");
    assert_eq!(
        paths[..4],
        [
            "/api/auth/signup",
            "/api/auth/login",
            "/api/auth/me",
            "/api/auth/logout"
        ],
        "{paths:?}"
    );
    assert_eq!(paths[4], "/api/{user_id}/profile", "{paths:?}");
    assert_eq!(paths[paths.len() - 2..], ["/health", "/ready"], "{paths:?}");
    let json = super::openapi_json().expect("json");
    let json_paths: Vec<String> = path_order(&json, "    \"")
        .into_iter()
        .map(|p| p.trim_end_matches('"').to_owned())
        .collect();
    assert_eq!(json_paths, paths, "JSON and YAML in the same order");
    let document = openapi_document().expect("document");
    let tags: Vec<&str> = document["tags"]
        .as_array()
        .expect("tags")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(tags, ["Authentication", "Account", "Operations"]);
    let description = document["info"]["description"]
        .as_str()
        .expect("description");
    assert!(description.contains("Start here"), "{description}");
    let scheme = document["components"]["securitySchemes"]["bearerAuth"]["description"]
        .as_str()
        .expect("scheme description");
    assert!(scheme.contains("without `Bearer `"), "{scheme}");
    let password =
        document["components"]["schemas"]["Credentials"]["properties"]["password"]["description"]
            .as_str()
            .expect("password description");
    assert!(password.contains("8 to 128 characters"), "{password}");
    let schemas = document["components"]["schemas"]
        .as_object()
        .expect("schemas");
    for name in schemas.keys() {
        assert!(
            !name.ends_with("Dto"),
            "{name}: schemas are named as a client would name them"
        );
    }
}

#[tokio::test]
async fn docs_serve_swagger_ui_over_the_finished_document() {
    let cli = client(untouched());

    let answer = send(cli.get("/docs")).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert!(
        answer
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/html")),
        "{:?}",
        answer.header("content-type")
    );
    answer.request_id();
    assert!(answer.body.to_lowercase().contains("swagger"));
    assert!(answer.body.contains(r#""operationId":"signUp""#));

    let start = answer
        .body
        .rfind("let spec = ")
        .expect("the page embeds the document")
        + "let spec = ".len();
    let embedded: Value = serde_json::Deserializer::from_str(&answer.body[start..])
        .into_iter::<Value>()
        .next()
        .expect("a document follows `let spec =`")
        .expect("the embedded document is JSON");
    assert_eq!(embedded, openapi_document().expect("document"));
    assert!(!embedded.to_string().contains("charset"));
}

// ---------------------------------------------------------------------------------------
// The OpenAPI document
// ---------------------------------------------------------------------------------------

/// `(path, method, operation)` for every operation.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    document["paths"]
        .as_object()
        .expect("paths is an object")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .expect("a path item is an object")
                .iter()
                .map(|(method, op)| (path.clone(), method.clone(), op.clone()))
                .collect::<Vec<_>>()
        })
        .collect()
}

#[test]
fn the_document_has_exactly_the_contracts_operations_with_full_paths() {
    let document = openapi_document().expect("document");
    let found: BTreeSet<(String, String, String)> = operations(&document)
        .into_iter()
        .map(|(path, method, op)| {
            (
                path,
                method,
                op["operationId"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let expected: BTreeSet<(String, String, String)> = [
        ("/api/auth/signup", "post", "signUp"),
        ("/api/auth/login", "post", "logIn"),
        ("/api/auth/logout", "post", "logOut"),
        ("/api/auth/me", "get", "getCurrentUser"),
        ("/health", "get", "getHealth"),
        ("/ready", "get", "getReadiness"),
        ("/api/{user_id}/profile", "get", "getProfile"),
        ("/api/{user_id}/auth-events", "get", "listAuthEvents"),
        ("/api/{user_id}/sessions", "get", "listSessions"),
        ("/api/{user_id}/sessions", "delete", "revokeAllSessions"),
        (
            "/api/{user_id}/sessions/{session_id}",
            "delete",
            "revokeSession",
        ),
        ("/api/{user_id}/password", "put", "changePassword"),
        ("/api/{user_id}", "delete", "deactivateAccount"),
    ]
    .iter()
    .map(|(p, m, o)| ((*p).to_owned(), (*m).to_owned(), (*o).to_owned()))
    .collect();
    assert_eq!(found, expected);
}

#[test]
fn every_operation_has_an_operation_id_tags_a_summary_and_a_description() {
    for (path, method, op) in operations(&openapi_document().expect("document")) {
        let what = format!("{method} {path}");
        assert!(
            op["operationId"].as_str().is_some_and(|s| !s.is_empty()),
            "{what}: operationId"
        );
        assert!(
            op["tags"].as_array().is_some_and(|t| !t.is_empty()),
            "{what}: tags"
        );
        assert!(
            op["summary"].as_str().is_some_and(|s| !s.trim().is_empty()),
            "{what}: summary"
        );
        assert!(
            op["description"]
                .as_str()
                .is_some_and(|s| !s.trim().is_empty()),
            "{what}: description"
        );
    }
}

#[test]
fn public_operations_declare_no_security_and_protected_ones_bearer_auth() {
    for (path, method, op) in operations(&openapi_document().expect("document")) {
        let expected = match op["operationId"].as_str() {
            Some("getHealth" | "getReadiness" | "signUp" | "logIn") => json!([]),
            _ => json!([{ "bearerAuth": [] }]),
        };
        assert_eq!(op["security"], expected, "{method} {path}");
    }
}

#[test]
fn every_response_declares_its_headers() {
    for (path, method, op) in operations(&openapi_document().expect("document")) {
        let responses = op["responses"].as_object().expect("responses");
        assert!(!responses.is_empty(), "{method} {path}");
        for (status, response) in responses {
            let what = format!("{method} {path} {status}");
            let headers = &response["headers"];
            assert!(
                headers.get("X-Request-ID").is_some(),
                "{what}: X-Request-ID"
            );
            if status == "401" {
                assert!(
                    headers.get("WWW-Authenticate").is_some(),
                    "{what}: WWW-Authenticate"
                );
            }
            if status == "429" || status == "503" {
                assert!(headers.get("Retry-After").is_some(), "{what}: Retry-After");
            }
            if matches!(
                (op["operationId"].as_str(), status.as_str()),
                (Some("signUp"), "201") | (Some("logIn"), "200")
            ) {
                assert!(
                    headers.get("Cache-Control").is_some(),
                    "{what}: Cache-Control"
                );
            }
        }
    }
}

#[test]
fn every_error_response_is_the_error_envelope() {
    for (path, method, op) in operations(&openapi_document().expect("document")) {
        for (status, response) in op["responses"].as_object().expect("responses") {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

#[test]
fn the_document_uses_plain_application_json() {
    let text = openapi_document().expect("document").to_string();
    assert!(!text.contains("charset"), "no `; charset=utf-8` media type");
    assert!(text.contains(r#""application/json""#));
}

#[test]
fn the_servers_are_the_root() {
    assert_eq!(
        openapi_document().expect("document")["servers"],
        json!([{ "url": "/", "x-internal": false }])
    );
}

#[test]
fn every_operation_declares_413_and_500_with_the_envelope() {
    let doc = openapi_document().expect("document");
    for (path, item) in doc["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("operations") {
            for status in ["413", "500"] {
                assert_eq!(
                    op["responses"][status]["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorEnvelope",
                    "{method} {path} {status}"
                );
            }
        }
    }
}

/// Contract v2 rule 4: every field of a growing set is open — its known values listed
/// (a component), any other value of the same shape admitted — and every list of a set
/// that grows is such a field, so a value a later release adds never breaks a client
/// generated from this spec.
#[test]
fn growing_sets_are_open_strings_listing_their_known_values() {
    let doc = openapi_document().expect("document");
    let schemas = &doc["components"]["schemas"];
    for (object, field, known) in [
        ("AuthEvent", "event_type", "AuthEventType"),
        ("AuthEvent", "failure_reason", "FailureReason"),
        ("ErrorBody", "code", "ErrorCode"),
        ("PasswordRuleViolation", "rule", "PasswordRule"),
    ] {
        let prop = &schemas[object]["properties"][field];
        let reference = format!("#/components/schemas/{known}");
        let [listed, future] = prop["oneOf"].as_array().expect("oneOf").as_slice() else {
            panic!("{object}.{field}: {prop}");
        };
        assert_eq!(listed["$ref"], reference, "{object}.{field}");
        assert_eq!(future["type"], "string", "{object}.{field}");
        assert_eq!(future["not"]["$ref"], reference, "{object}.{field}");
        assert!(future["pattern"].is_string() && future["maxLength"].is_u64());
        assert!(future.get("enum").is_none());
        let description = prop["description"].as_str().expect("description");
        let description = description.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            description.contains("later releases") && description.contains("accept"),
            "{object}.{field}: {description}"
        );
        let known_description = schemas[known]["description"].as_str().expect("description");
        assert!(known_description.contains("must accept"), "{known}");
        assert!(
            schemas[known]["enum"]
                .as_array()
                .is_some_and(|v| !v.is_empty())
        );
    }
    // No closed enum of a growing set is left anywhere else: the only inline enums are
    // the constants (`Bearer`, `ok`, `gatehouse`, `ready`, `no-store`).
    let text = serde_json::to_string(&doc).expect("json");
    for value in [
        "\"signup\"",
        "\"AUTH_REVOKED\"",
        "\"INVALID_CREDENTIALS\"",
        "\"min_length\"",
    ] {
        let in_components = [
            "AuthEventType",
            "ErrorCode",
            "FailureReason",
            "PasswordRule",
        ]
        .iter()
        .filter(|k| schemas[**k].to_string().contains(value))
        .count();
        let anywhere =
            text.matches(&format!("[{value}")).count() + text.matches(&format!(",{value}")).count();
        assert_eq!(
            anywhere, in_components,
            "{value} listed outside its component"
        );
    }
}

#[test]
fn a_nullable_reference_points_at_a_schema_that_admits_null() {
    let doc = openapi_document().expect("document");
    let schemas = &doc["components"]["schemas"];
    // The nullable open set: `null` belongs to the string branch (the enum has none).
    let reason = &schemas["AuthEvent"]["properties"]["failure_reason"];
    assert!(reason.get("nullable").is_none(), "{reason}");
    assert_eq!(reason["oneOf"][1]["nullable"], true);
    assert!(
        !schemas["FailureReason"]["enum"]
            .as_array()
            .expect("enum")
            .contains(&Value::Null)
    );
    let details = &schemas["ErrorDetails"];
    assert_eq!(details["nullable"], true);
    assert_eq!(details["type"], "object");
    assert_eq!(details["maxProperties"], 1);
    assert!(details["properties"]["fields"].is_object(), "{details}");
    assert!(details["properties"]["violations"].is_object(), "{details}");
    assert!(schemas.get("FieldErrors").is_none() && schemas.get("PasswordViolations").is_none());
    let property = &schemas["ErrorBody"]["properties"]["details"];
    assert_eq!(property["nullable"], true);
    assert_eq!(property["type"], "object");
}

#[tokio::test]
async fn a_get_with_a_65_kib_body_answers_413_too() {
    let cli = client(untouched());

    let answer = send(
        cli.get("/health")
            .header(header::CONTENT_LENGTH, OVERSIZED)
            .body(vec![b'x'; OVERSIZED]),
    )
    .await;

    assert_payload_too_large(&answer);
}

#[test]
fn bearer_auth_is_an_http_bearer_scheme_with_jwt_format() {
    let scheme =
        &openapi_document().expect("document")["components"]["securitySchemes"]["bearerAuth"];
    assert_eq!(scheme["type"], "http", "{scheme}");
    assert_eq!(scheme["scheme"], "bearer", "{scheme}");
    assert_eq!(scheme["bearerFormat"], "JWT", "{scheme}");
}

// ---------------------------------------------------------------------------------------
// CORS
// ---------------------------------------------------------------------------------------

fn cors_client() -> TestClient<impl Endpoint<Output = Response>> {
    client_with(untouched(), true, vec![ORIGIN.to_owned()])
}

fn preflight<'a, E: Endpoint>(cli: &'a TestClient<E>, origin: &str) -> TestRequestBuilder<'a, E> {
    cli.request(Method::OPTIONS, "/api/auth/login")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type",
        )
}

#[tokio::test]
async fn a_preflight_from_a_listed_origin_is_allowed_for_that_origin() {
    let cli = cors_client();

    let answer = send(preflight(&cli, ORIGIN)).await;

    assert!(
        answer.status.is_success(),
        "{}: {}",
        answer.status,
        answer.body
    );
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    let methods = answer
        .header("access-control-allow-methods")
        .expect("Access-Control-Allow-Methods")
        .to_ascii_uppercase();
    assert!(methods.contains("POST"), "{methods}");
    let headers = answer
        .header("access-control-allow-headers")
        .expect("Access-Control-Allow-Headers")
        .to_ascii_lowercase();
    assert!(headers.contains("authorization"), "{headers}");
    assert!(headers.contains("content-type"), "{headers}");
    answer.request_id();
}

#[tokio::test]
async fn a_preflight_from_another_origin_gets_no_cors_headers() {
    let cli = cors_client();

    let answer = send(preflight(&cli, "https://evil.example")).await;

    assert!(answer.header("access-control-allow-origin").is_none());
    assert!(answer.header("access-control-allow-methods").is_none());
    assert!(answer.header("access-control-allow-headers").is_none());
    answer.request_id();
}

#[tokio::test]
async fn without_configured_origins_a_preflight_gets_no_cors_headers() {
    let cli = client(untouched());

    let answer = send(preflight(&cli, ORIGIN)).await;

    assert!(answer.header("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn a_request_from_a_listed_origin_gets_the_origin_and_exposed_headers() {
    let cli = cors_client();

    let answer = send(cli.get("/health").header(header::ORIGIN, ORIGIN)).await;

    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.header("access-control-allow-origin"), Some(ORIGIN));
    let exposed = answer
        .header("access-control-expose-headers")
        .expect("Access-Control-Expose-Headers")
        .to_ascii_lowercase();
    for name in [
        "x-request-id",
        "retry-after",
        "www-authenticate",
        "ratelimit-limit",
        "ratelimit-remaining",
        "ratelimit-reset",
    ] {
        assert!(
            exposed.split(',').any(|h| h.trim() == name),
            "{name} is readable by browser code: {exposed}"
        );
    }
    answer.request_id();
}

#[tokio::test]
async fn a_preflight_may_send_its_own_request_id() {
    let cli = cors_client();

    let answer = send(
        cli.request(Method::OPTIONS, "/api/auth/me")
            .header(header::ORIGIN, ORIGIN)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "GET")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "authorization, x-request-id",
            ),
    )
    .await;

    assert!(answer.status.is_success(), "{}", answer.status);
    let allowed = answer
        .header("access-control-allow-headers")
        .expect("Access-Control-Allow-Headers")
        .to_ascii_lowercase();
    assert!(
        allowed.split(',').any(|h| h.trim() == "x-request-id"),
        "{allowed}"
    );
}

#[tokio::test]
async fn framework_errors_stay_in_the_envelope_for_requests_from_a_listed_origin() {
    let cli = cors_client();

    let not_found = send(cli.get("/nope").header(header::ORIGIN, ORIGIN)).await;
    assert_error(
        &not_found,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
        "Resource not found",
        Value::Null,
    );

    let malformed = send(
        cli.post("/api/auth/login")
            .header(header::ORIGIN, ORIGIN)
            .content_type("application/json")
            .body("{"),
    )
    .await;
    let fields = assert_validation_error(&malformed);
    assert_eq!(fields[0].0, "body");

    let wrong_method = send(cli.get("/api/auth/login").header(header::ORIGIN, ORIGIN)).await;
    assert_error(
        &wrong_method,
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        "Method not allowed",
        Value::Null,
    );
    assert_eq!(wrong_method.header("allow"), Some("POST"));
}

#[tokio::test]
async fn a_request_from_an_unlisted_origin_is_served_without_cors_headers() {
    let mut mock = MockAuthUseCases::new();
    mock.expect_log_in().times(1).returning(|_| Ok(issued()));
    let cli = client_with(mock, true, vec![ORIGIN.to_owned()]);

    // What a browser sends for a same-origin POST, e.g. "Try it out" in /docs.
    let answer = send(
        cli.post("/api/auth/login")
            .header(header::ORIGIN, "https://auth.example")
            .body_json(&credentials()),
    )
    .await;

    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert!(answer.header("access-control-allow-origin").is_none());
}
