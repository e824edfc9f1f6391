//! Abuse limits over real HTTP: the per-IP rate limits, client-IP resolution behind
//! trusted proxies, the two-tier per-account login throttle, the bounded hashing pool,
//! and token hardening that the token tests do not cover.
//!
//! Every request goes to the app on 127.0.0.1; other client addresses are simulated with
//! `X-Forwarded-For` behind `TRUSTED_PROXIES=127.0.0.1`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use adapters::token::key_id;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::{Method, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::spawn_app_with;
use crate::helpers::{PASSWORD, TEST_SECRET, TestApp, assert_error, token, unique_email};

/// A password that meets the compat policy and is not the user's.
const WRONG_PASSWORD: &str = "Wrong-Horse-42";
/// A password that meets the compat policy and differs from [`PASSWORD`].
const NEW_PASSWORD: &str = "Battery-Staple-77";
/// Where every test request comes from.
const LOOPBACK: &str = "127.0.0.1";
/// Simulated clients behind the trusted proxy (documentation ranges).
const CLIENT_A: &str = "203.0.113.10";
const CLIENT_B: &str = "203.0.113.20";

/// Starts the app with cheap Argon2 parameters (allowed in development), so that the
/// limit tests spend their requests on the limits, not on hashing; `vars` come after
/// and win.
async fn spawn(vars: &[(&str, &str)]) -> TestApp {
    let mut all = vec![("ARGON2_MEMORY_KIB", "1024"), ("ARGON2_ITERATIONS", "1")];
    all.extend_from_slice(vars);
    spawn_app_with(&all).await
}

/// Sends a request, optionally through the "proxy" (`X-Forwarded-For`), with a token and a
/// JSON body.
async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    forwarded_for: Option<&str>,
    bearer: Option<&str>,
    body: Option<&Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(forwarded_for) = forwarded_for {
        request = request.header("x-forwarded-for", forwarded_for);
    }
    if let Some(bearer) = bearer {
        request = request.bearer_auth(bearer);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

async fn sign_up_from(app: &TestApp, forwarded_for: &str, email: &str) -> Response {
    let body = json!({"email": email, "password": PASSWORD});
    send(
        app,
        Method::POST,
        "/api/auth/signup",
        Some(forwarded_for),
        None,
        Some(&body),
    )
    .await
}

async fn log_in_from(app: &TestApp, forwarded_for: &str, email: &str, password: &str) -> Response {
    let body = json!({"email": email, "password": password});
    send(
        app,
        Method::POST,
        "/api/auth/login",
        Some(forwarded_for),
        None,
        Some(&body),
    )
    .await
}

async fn change_password(app: &TestApp, bearer: &str, user_id: &str, current: &str) -> Response {
    let body = json!({"current_password": current, "new_password": NEW_PASSWORD});
    let path = format!("/api/{user_id}/password");
    send(app, Method::PUT, &path, None, Some(bearer), Some(&body)).await
}

async fn deactivate(app: &TestApp, bearer: &str, user_id: &str, password: &str) -> Response {
    let body = json!({"password": password});
    let path = format!("/api/{user_id}");
    send(app, Method::DELETE, &path, None, Some(bearer), Some(&body)).await
}

fn user_id(body: &Value) -> String {
    body["user_id"].as_str().expect("user_id").to_owned()
}

/// Signs up a new user; returns (email, user id, token).
async fn new_user(app: &TestApp) -> (String, String, String) {
    let (email, body) = app.new_user().await;
    (email, user_id(&body), token(&body))
}

/// Signs up from a client behind the proxy; returns (user id, token).
async fn new_user_from(app: &TestApp, forwarded_for: &str) -> (String, String) {
    let resp = sign_up_from(app, forwarded_for, &unique_email()).await;
    assert_eq!(
        resp.status(),
        StatusCode::CREATED,
        "signup from {forwarded_for}"
    );
    let body: Value = resp.json().await.expect("json");
    (user_id(&body), token(&body))
}

/// The user's whole security log (one page of up to 100 events is enough here).
async fn events(app: &TestApp, bearer: &str, user_id: &str) -> Vec<Value> {
    let path = format!("/api/{user_id}/auth-events?limit=100");
    let resp = send(app, Method::GET, &path, None, Some(bearer), None).await;
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{text}");
    let page: Value = serde_json::from_str(&text).expect("json");
    page["data"].as_array().expect("data").clone()
}

fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .collect()
}

/// The one event of `event_type` in the log.
fn only_event<'a>(events: &'a [Value], event_type: &str) -> &'a Value {
    match of_type(events, event_type).as_slice() {
        [one] => one,
        other => panic!("expected one {event_type} event, got {other:?}"),
    }
}

/// A header as a whole number of seconds (or a count).
fn header_u64(resp: &Response, name: &str) -> Option<u64> {
    resp.headers().get(name).map(|v| {
        v.to_str()
            .expect("ASCII header")
            .parse::<u64>()
            .unwrap_or_else(|_| panic!("{name} is not a whole number: {v:?}"))
    })
}

/// `RateLimit-Limit`, `RateLimit-Remaining`, `RateLimit-Reset`, all required.
fn rate_limit_headers(resp: &Response) -> (u64, u64, u64) {
    (
        header_u64(resp, "ratelimit-limit").expect("RateLimit-Limit"),
        header_u64(resp, "ratelimit-remaining").expect("RateLimit-Remaining"),
        header_u64(resp, "ratelimit-reset").expect("RateLimit-Reset"),
    )
}

/// Asserts 429 `RATE_LIMIT_EXCEEDED` in the envelope with `Retry-After` in
/// `1..=max_retry_after`; returns `Retry-After`.
async fn assert_rate_limited(resp: Response, max_retry_after: u64) -> u64 {
    let retry_after = header_u64(&resp, "retry-after").expect("Retry-After on a 429");
    assert!(
        (1..=max_retry_after).contains(&retry_after),
        "Retry-After {retry_after} outside 1..={max_retry_after}"
    );
    let body = assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED").await;
    assert_eq!(
        body["error"]["message"], "Too many requests. Try again later.",
        "{body}"
    );
    retry_after
}

/// Asserts a 401 `AUTH_FAILED` (a failed login).
async fn assert_auth_failed(resp: Response) {
    assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_FAILED").await;
}

/// Asserts the status, and reads the body for the failure message.
async fn assert_status(resp: Response, status: StatusCode) {
    let got = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(got, status, "{text}");
}

/// Status, headers and body of a response, without what may differ between two
/// requests: `X-Request-ID`, `Date`, `Retry-After`, `RateLimit-*` and `meta`.
async fn comparable(resp: Response) -> (StatusCode, BTreeMap<String, Vec<String>>, Value) {
    let status = resp.status();
    let mut headers: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (name, value) in resp.headers() {
        let name = name.as_str();
        if matches!(name, "x-request-id" | "date" | "retry-after") || name.starts_with("ratelimit-")
        {
            continue;
        }
        headers
            .entry(name.to_owned())
            .or_default()
            .push(value.to_str().expect("ASCII header").to_owned());
    }
    let mut body: Value = resp.json().await.expect("JSON body");
    body.as_object_mut().expect("object body").remove("meta");
    (status, headers, body)
}

// ---------------------------------------------------------------------------------
// Per-IP limits
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn a_sixth_signup_from_one_client_within_a_minute_is_429_even_when_the_first_was_malformed() {
    let app = spawn(&[("RATE_LIMIT_SIGNUP_PER_MINUTE", "5")]).await;
    let mut remaining = Vec::new();

    // A malformed body counts: the limit admits the request before its body is read.
    let junk = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("content-type", "application/json")
        .body(r#"{"email": "#)
        .send()
        .await
        .expect("request");
    let (limit, left, reset) = rate_limit_headers(&junk);
    assert_eq!(limit, 5);
    assert!(reset <= 60, "RateLimit-Reset {reset}");
    remaining.push(left);
    assert_error(junk, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;

    for _ in 0..4 {
        let resp = app.sign_up(&unique_email(), PASSWORD).await;
        let (limit, left, reset) = rate_limit_headers(&resp);
        assert_eq!(limit, 5);
        assert!(reset <= 60, "RateLimit-Reset {reset}");
        remaining.push(left);
        assert_status(resp, StatusCode::CREATED).await;
    }
    assert_eq!(
        remaining,
        [4, 3, 2, 1, 0],
        "RateLimit-Remaining counts down"
    );

    let sixth = app.sign_up(&unique_email(), PASSWORD).await;
    let (limit, left, reset) = rate_limit_headers(&sixth);
    assert_eq!((limit, left), (5, 0));
    assert!((1..=60).contains(&reset), "RateLimit-Reset {reset}");
    assert_rate_limited(sixth, 12).await;
}

#[tokio::test]
async fn login_has_its_own_per_ip_budget_next_to_signup() {
    let app = spawn(&[
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "5"),
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "5"),
    ])
    .await;
    let mut emails = Vec::new();
    for _ in 0..5 {
        let email = unique_email();
        assert_status(app.sign_up(&email, PASSWORD).await, StatusCode::CREATED).await;
        emails.push(email);
    }
    assert_rate_limited(app.sign_up(&unique_email(), PASSWORD).await, 12).await;

    // Signup's budget is spent; login's is whole.
    let mut remaining = Vec::new();
    for email in &emails {
        let resp = app.log_in(email, PASSWORD).await;
        let (limit, left, _) = rate_limit_headers(&resp);
        assert_eq!(limit, 5);
        remaining.push(left);
        assert_status(resp, StatusCode::OK).await;
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    // Failed or not, every login counts: the sixth is refused before the password.
    let sixth = app.log_in(&emails[0], PASSWORD).await;
    assert_eq!(rate_limit_headers(&sixth).1, 0);
    assert_rate_limited(sixth, 12).await;
}

#[tokio::test]
async fn a_signup_limit_of_zero_lets_twenty_signups_from_one_client_through() {
    let app = spawn(&[
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "0"),
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "5"),
    ])
    .await;
    for _ in 0..20 {
        assert_status(
            app.sign_up(&unique_email(), PASSWORD).await,
            StatusCode::CREATED,
        )
        .await;
    }
}

// ---------------------------------------------------------------------------------
// Client IP behind proxies
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget_and_its_own_ip_in_the_log()
{
    let app = spawn(&[
        ("TRUSTED_PROXIES", LOOPBACK),
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "2"),
    ])
    .await;
    let (a_id, a_token) = new_user_from(&app, CLIENT_A).await;
    new_user_from(&app, CLIENT_A).await;
    assert_rate_limited(sign_up_from(&app, CLIENT_A, &unique_email()).await, 30).await;
    // Another client behind the same proxy still has its whole budget.
    let (b_id, b_token) = new_user_from(&app, CLIENT_B).await;

    let a_log = events(&app, &a_token, &a_id).await;
    assert_eq!(only_event(&a_log, "signup")["ip_address"], CLIENT_A);
    let b_log = events(&app, &b_token, &b_id).await;
    assert_eq!(only_event(&b_log, "signup")["ip_address"], CLIENT_B);
}

#[tokio::test]
async fn without_trusted_proxies_x_forwarded_for_is_ignored_by_the_budget_and_the_log() {
    let app = spawn(&[("RATE_LIMIT_SIGNUP_PER_MINUTE", "2")]).await;
    let (id, bearer) = new_user_from(&app, CLIENT_A).await;
    new_user_from(&app, CLIENT_B).await;
    // One shared budget: the peer's.
    assert_rate_limited(
        sign_up_from(&app, "203.0.113.30", &unique_email()).await,
        30,
    )
    .await;

    let log = events(&app, &bearer, &id).await;
    assert_eq!(only_event(&log, "signup")["ip_address"], LOOPBACK);
}

#[tokio::test]
async fn behind_a_trusted_proxy_a_forged_left_most_x_forwarded_for_entry_is_ignored() {
    let app = spawn(&[
        ("TRUSTED_PROXIES", LOOPBACK),
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "1"),
    ])
    .await;
    let (id, bearer) = new_user_from(&app, "6.6.6.6, 198.51.100.9").await;
    let log = events(&app, &bearer, &id).await;
    assert_eq!(only_event(&log, "signup")["ip_address"], "198.51.100.9");

    // The budget is keyed on the right-most untrusted hop, whatever the client forges.
    assert_rate_limited(
        sign_up_from(&app, "7.7.7.7, 198.51.100.9", &unique_email()).await,
        60,
    )
    .await;
    new_user_from(&app, "6.6.6.6, 198.51.100.10").await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_ipv6_clients_share_a_budget_per_64_and_ipv4_mapped_ones_count_as_ipv4()
 {
    let app = spawn(&[
        ("TRUSTED_PROXIES", LOOPBACK),
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "1"),
    ])
    .await;
    let (id, bearer) = new_user_from(&app, "2001:db8:1:2::1").await;
    let log = events(&app, &bearer, &id).await;
    assert_eq!(only_event(&log, "signup")["ip_address"], "2001:db8:1:2::1");
    // Another address of the same /64 shares its budget; another /64 has its own.
    assert_rate_limited(
        sign_up_from(&app, "2001:db8:1:2:ffff::9", &unique_email()).await,
        60,
    )
    .await;
    new_user_from(&app, "2001:db8:1:3::1").await;

    let (id, bearer) = new_user_from(&app, "::ffff:198.51.100.77").await;
    let log = events(&app, &bearer, &id).await;
    assert_eq!(only_event(&log, "signup")["ip_address"], "198.51.100.77");
    assert_rate_limited(
        sign_up_from(&app, "198.51.100.77", &unique_email()).await,
        60,
    )
    .await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_several_x_forwarded_for_headers_are_joined_and_a_non_ip_hop_ends_the_walk()
 {
    let app = spawn(&[("TRUSTED_PROXIES", LOOPBACK)]).await;
    let body = json!({"email": unique_email(), "password": PASSWORD});
    let resp = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("x-forwarded-for", "6.6.6.6")
        .header("x-forwarded-for", "198.51.100.9")
        .json(&body)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.expect("json");
    let log = events(&app, &token(&body), &user_id(&body)).await;
    assert_eq!(only_event(&log, "signup")["ip_address"], "198.51.100.9");

    // Walking from the right, "unknown" is not an IP: the last good hop (the peer) is used.
    let (id, bearer) = new_user_from(&app, "198.51.100.9, unknown").await;
    let log = events(&app, &bearer, &id).await;
    assert_eq!(only_event(&log, "signup")["ip_address"], LOOPBACK);
}

// ---------------------------------------------------------------------------------
// Per-account throttle
// ---------------------------------------------------------------------------------

#[tokio::test]
async fn after_three_wrong_passwords_the_account_refuses_even_the_right_password_with_429() {
    let app = spawn(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let (email, _, _) = new_user(&app).await;
    for _ in 0..3 {
        assert_auth_failed(app.log_in(&email, WRONG_PASSWORD).await).await;
    }
    assert_rate_limited(app.log_in(&email, PASSWORD).await, 900).await;
    assert_rate_limited(app.log_in(&email, WRONG_PASSWORD).await, 900).await;
}

#[tokio::test]
async fn a_throttled_unknown_email_gets_exactly_the_answer_of_a_throttled_known_one() {
    let app = spawn(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let (known, _, _) = new_user(&app).await;
    let unknown = unique_email();
    for email in [&known, &unknown] {
        for _ in 0..3 {
            assert_auth_failed(app.log_in(email, WRONG_PASSWORD).await).await;
        }
    }
    let known_answer = comparable(app.log_in(&known, PASSWORD).await).await;
    let unknown_answer = comparable(app.log_in(&unknown, PASSWORD).await).await;
    assert_eq!(known_answer.0, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(known_answer, unknown_answer);
}

#[tokio::test]
async fn the_throttle_counts_failures_on_the_normalised_email() {
    let app = spawn(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let (email, _, _) = new_user(&app).await;
    let (local, domain) = email.split_once('@').expect("an email");
    for variant in [
        format!("  {email}  "),
        email.to_uppercase(),
        format!("{}@{}", local, domain.to_uppercase()),
    ] {
        assert_auth_failed(app.log_in(&variant, WRONG_PASSWORD).await).await;
    }
    assert_rate_limited(app.log_in(&email, PASSWORD).await, 900).await;
}

#[tokio::test]
async fn the_per_ip_limit_is_checked_before_the_per_account_throttle_and_both_carry_ratelimit_headers()
 {
    let app = spawn(&[
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "5"),
        ("LOGIN_THROTTLE_FAILURES", "3"),
    ])
    .await;
    let (email, id, bearer) = new_user(&app).await;
    let mut remaining = Vec::new();
    for _ in 0..3 {
        let resp = app.log_in(&email, WRONG_PASSWORD).await;
        remaining.push(rate_limit_headers(&resp).1);
        assert_auth_failed(resp).await;
    }
    // Throttled by the account tier: still a login response with the per-IP headers.
    for _ in 0..2 {
        let resp = app.log_in(&email, PASSWORD).await;
        remaining.push(rate_limit_headers(&resp).1);
        assert_rate_limited(resp, 900).await;
    }
    assert_eq!(remaining, [4, 3, 2, 1, 0]);
    // Over the per-IP limit: refused before the account is looked at.
    let sixth = app.log_in(&email, PASSWORD).await;
    assert_eq!(rate_limit_headers(&sixth).1, 0);
    assert_rate_limited(sixth, 12).await;

    let log = events(&app, &bearer, &id).await;
    assert_eq!(
        only_event(&log, "login_throttled")["count"],
        2,
        "the sixth attempt never reached the account throttle: {log:?}"
    );
}

#[tokio::test]
async fn the_per_pair_tier_does_not_throttle_the_account_for_another_client() {
    let app = spawn(&[
        ("TRUSTED_PROXIES", LOOPBACK),
        ("LOGIN_THROTTLE_FAILURES", "3"),
    ])
    .await;
    let (email, _, _) = new_user(&app).await;
    for _ in 0..3 {
        assert_auth_failed(log_in_from(&app, CLIENT_A, &email, WRONG_PASSWORD).await).await;
    }
    assert_rate_limited(log_in_from(&app, CLIENT_A, &email, PASSWORD).await, 900).await;
    // The owner, elsewhere, is not locked out by the attacker.
    assert_status(
        log_in_from(&app, CLIENT_B, &email, PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn the_per_account_tier_throttles_the_email_from_every_client() {
    let app = spawn(&[
        ("TRUSTED_PROXIES", LOOPBACK),
        ("LOGIN_THROTTLE_FAILURES", "3"),
        ("LOGIN_THROTTLE_ACCOUNT_FAILURES", "5"),
    ])
    .await;
    let (email, _, _) = new_user(&app).await;
    let (other, _, _) = new_user(&app).await;
    for i in 1..=5 {
        let client = format!("198.51.100.{i}");
        assert_auth_failed(log_in_from(&app, &client, &email, WRONG_PASSWORD).await).await;
    }
    // A client that never failed is refused too, the right password included.
    assert_rate_limited(
        log_in_from(&app, "198.51.100.99", &email, PASSWORD).await,
        3600,
    )
    .await;
    // Other accounts are untouched.
    assert_status(
        log_in_from(&app, "198.51.100.99", &other, PASSWORD).await,
        StatusCode::OK,
    )
    .await;
}

#[tokio::test]
async fn a_successful_login_clears_the_accounts_failure_count() {
    let app = spawn(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let (email, _, _) = new_user(&app).await;
    for _ in 0..2 {
        assert_auth_failed(app.log_in(&email, WRONG_PASSWORD).await).await;
    }
    assert_status(app.log_in(&email, PASSWORD).await, StatusCode::OK).await;
    for _ in 0..3 {
        assert_auth_failed(app.log_in(&email, WRONG_PASSWORD).await).await;
    }
    assert_rate_limited(app.log_in(&email, PASSWORD).await, 900).await;
}

#[tokio::test]
async fn the_owner_sees_throttled_attempts_on_their_account_in_their_security_log() {
    let app = spawn(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let (email, id, bearer) = new_user(&app).await;
    for _ in 0..3 {
        assert_auth_failed(app.log_in(&email, WRONG_PASSWORD).await).await;
    }
    for _ in 0..2 {
        assert_rate_limited(app.log_in(&email, PASSWORD).await, 900).await;
    }
    let log = events(&app, &bearer, &id).await;
    // In the owner's own log, so recorded with the owner's user id.
    let throttled = only_event(&log, "login_throttled");
    assert_eq!(throttled["success"], false);
    assert_eq!(throttled["failure_reason"], "RATE_LIMIT_EXCEEDED");
    assert_eq!(throttled["ip_address"], LOOPBACK);
    assert_eq!(throttled["count"], 2, "repeats within a minute are one row");
    let failed = of_type(&log, "login_failed");
    assert_eq!(failed.len(), 3, "{log:?}");
    assert!(
        failed
            .iter()
            .all(|e| e["failure_reason"] == "INVALID_CREDENTIALS")
    );
}

#[tokio::test]
async fn wrong_passwords_on_password_change_and_deactivation_count_toward_the_login_throttle() {
    let app = spawn(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let (email, id, bearer) = new_user(&app).await;
    for _ in 0..2 {
        assert_error(
            change_password(&app, &bearer, &id, WRONG_PASSWORD).await,
            StatusCode::FORBIDDEN,
            "AUTH_FAILED",
        )
        .await;
    }
    assert_error(
        deactivate(&app, &bearer, &id, WRONG_PASSWORD).await,
        StatusCode::FORBIDDEN,
        "AUTH_FAILED",
    )
    .await;
    assert_rate_limited(app.log_in(&email, PASSWORD).await, 900).await;
}

#[tokio::test]
async fn while_the_account_is_throttled_password_change_and_deactivation_answer_429_and_change_nothing()
 {
    let app = spawn(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let (email, id, bearer) = new_user(&app).await;
    for _ in 0..3 {
        assert_auth_failed(app.log_in(&email, WRONG_PASSWORD).await).await;
    }
    assert_rate_limited(change_password(&app, &bearer, &id, PASSWORD).await, 900).await;
    assert_rate_limited(deactivate(&app, &bearer, &id, PASSWORD).await, 900).await;
    // Neither applied: the account is active and its token still works.
    let me = app.me(&bearer).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: Value = me.json().await.expect("json");
    assert_eq!(me["is_active"], true);
}

// ---------------------------------------------------------------------------------
// Throttle atomicity and the hashing pool
// ---------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_parallel_wrong_passwords_from_one_ip_let_at_most_ten_reach_password_verification() {
    let app = spawn_app_with(&[("LOGIN_THROTTLE_FAILURES", "10")]).await;
    let (email, _, _) = new_user(&app).await;
    let before = app.hasher.pool().stats();
    let attempts = (0..50).map(|_| async {
        let resp = app.log_in(&email, WRONG_PASSWORD).await;
        let status = resp.status();
        let code = resp.json::<Value>().await.expect("json")["error"]["code"].clone();
        (status, code)
    });
    let outcomes = futures::future::join_all(attempts).await;
    let after = app.hasher.pool().stats();

    let failed = outcomes
        .iter()
        .filter(|(s, c)| *s == StatusCode::UNAUTHORIZED && c == "AUTH_FAILED")
        .count();
    let throttled = outcomes
        .iter()
        .filter(|(s, c)| *s == StatusCode::TOO_MANY_REQUESTS && c == "RATE_LIMIT_EXCEEDED")
        .count();
    assert!(
        (1..=10).contains(&failed),
        "{failed} answered 401: {outcomes:?}"
    );
    assert_eq!(failed + throttled, 50, "{outcomes:?}");
    let verified = after.accepted - before.accepted;
    assert!(verified <= 10, "{verified} passwords verified");
}

#[tokio::test]
async fn an_unknown_email_a_wrong_password_and_an_inactive_account_cost_one_hash_each_and_answer_alike()
 {
    let app = spawn(&[]).await;
    let (email, _, _) = new_user(&app).await;
    let (inactive, inactive_id, inactive_token) = new_user(&app).await;
    assert_status(
        deactivate(&app, &inactive_token, &inactive_id, PASSWORD).await,
        StatusCode::NO_CONTENT,
    )
    .await;

    let mut answers = Vec::new();
    for (email, password) in [
        (unique_email(), PASSWORD),
        (email, WRONG_PASSWORD),
        (inactive, PASSWORD),
    ] {
        let before = app.hasher.pool().stats().accepted;
        let answer = comparable(app.log_in(&email, password).await).await;
        let jobs = app.hasher.pool().stats().accepted - before;
        assert_eq!(jobs, 1, "hash jobs for a login as {email}");
        answers.push(answer);
    }
    assert_eq!(answers[0].0, StatusCode::UNAUTHORIZED);
    assert_eq!(answers[0].2["error"]["code"], "AUTH_FAILED");
    assert_eq!(answers[0], answers[1], "unknown email vs wrong password");
    assert_eq!(answers[0], answers[2], "unknown email vs inactive account");
}

/// One login's status, `Retry-After` and error code.
async fn login_outcome(app: &TestApp, email: &str) -> (StatusCode, Option<u64>, Value) {
    let resp = app.log_in(email, PASSWORD).await;
    let status = resp.status();
    let retry_after = header_u64(&resp, "retry-after");
    let body: Value = resp.json().await.expect("JSON body");
    (status, retry_after, body["error"]["code"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_hashing_is_saturated_logins_get_503_with_retry_after_while_health_and_me_still_answer()
 {
    let app = Arc::new(
        spawn_app_with(&[
            ("HASH_CONCURRENCY", "1"),
            ("HASH_QUEUE_LIMIT", "2"),
            // Parallel logins of one account would otherwise meet the throttle first.
            ("LOGIN_THROTTLE_FAILURES", "0"),
            ("LOGIN_THROTTLE_ACCOUNT_FAILURES", "0"),
        ])
        .await,
    );
    let (email, id, bearer) = new_user(&app).await;
    let rejected_before = app.hasher.pool().stats().rejected;

    // Waves of 40 parallel logins (the right password) until told to stop, so the flood
    // is still on while the other requests are made.
    let stop = Arc::new(AtomicBool::new(false));
    let flood = tokio::spawn({
        let (app, stop, email) = (Arc::clone(&app), Arc::clone(&stop), email.clone());
        async move {
            let mut outcomes = Vec::new();
            loop {
                let wave = (0..40).map(|_| login_outcome(&app, &email));
                outcomes.extend(futures::future::join_all(wave).await);
                if stop.load(Ordering::SeqCst) {
                    return outcomes;
                }
            }
        }
    });
    // Wait until the pool has refused work: hashing is saturated from here on.
    let mut polls = 0;
    while app.hasher.pool().stats().rejected == rejected_before {
        polls += 1;
        assert!(polls < 6_000, "the pool never refused a job");
        assert!(!flood.is_finished(), "the flood ended early");
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }

    let health = send(&app, Method::GET, "/health", None, None, None).await;
    assert_status(health, StatusCode::OK).await;
    let me = app.me(&bearer).await;
    assert_eq!(me.status(), StatusCode::OK);
    assert_eq!(
        me.json::<Value>().await.expect("json")["user_id"],
        id.as_str()
    );
    assert!(!flood.is_finished(), "the flood was still on");

    stop.store(true, Ordering::SeqCst);
    let outcomes = flood.await.expect("flood");
    let saturated: Vec<_> = outcomes
        .iter()
        .filter(|(s, _, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(!saturated.is_empty(), "no 503 among {outcomes:?}");
    for (_, retry_after, code) in &saturated {
        assert_eq!(*code, "SERVICE_UNAVAILABLE");
        assert!(
            retry_after.is_some_and(|r| r >= 1),
            "Retry-After {retry_after:?}"
        );
    }
    assert!(
        outcomes
            .iter()
            .all(|(s, _, _)| *s == StatusCode::OK || *s == StatusCode::SERVICE_UNAVAILABLE),
        "only 200 or 503 (never 500): {outcomes:?}"
    );
    assert!(outcomes.iter().any(|(s, _, _)| *s == StatusCode::OK));
    assert!(app.hasher.pool().stats().rejected > rejected_before);
}

/// A 503 from the hashing pool is in the envelope (checked once, on its own request).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_login_refused_for_hashing_saturation_is_503_service_unavailable_in_the_envelope() {
    let app = spawn_app_with(&[
        ("HASH_CONCURRENCY", "1"),
        ("HASH_QUEUE_LIMIT", "1"),
        ("LOGIN_THROTTLE_FAILURES", "0"),
        ("LOGIN_THROTTLE_ACCOUNT_FAILURES", "0"),
    ])
    .await;
    let (email, _, _) = new_user(&app).await;
    let responses = futures::future::join_all((0..20).map(|_| app.log_in(&email, PASSWORD))).await;
    let mut saturated = 0;
    for resp in responses {
        if resp.status() == StatusCode::SERVICE_UNAVAILABLE {
            saturated += 1;
            assert!(header_u64(&resp, "retry-after").is_some_and(|r| r >= 1));
            let body =
                assert_error(resp, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
            assert_eq!(
                body["error"]["message"], "Service temporarily unavailable",
                "{body}"
            );
        } else {
            assert_status(resp, StatusCode::OK).await;
        }
    }
    assert!(
        saturated > 0,
        "20 parallel logins on a pool of 1 + 1 queued"
    );
}

// ---------------------------------------------------------------------------------
// Token hardening
// ---------------------------------------------------------------------------------

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
}

/// HMAC-SHA256 of `message` with `secret`, base64url.
fn hmac(message: &str, secret: &str) -> String {
    jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(secret.as_bytes()),
        Algorithm::HS256,
    )
    .expect("sign")
}

/// A token with any header and claims, HMAC-SHA256-signed with `secret` whatever the
/// header says.
fn forge(header: &Value, claims: &Value, secret: &str) -> String {
    let message = format!("{}.{}", b64(header), b64(claims));
    let signature = hmac(&message, secret);
    format!("{message}.{signature}")
}

fn current_kid() -> String {
    key_id(&SecretString::from(TEST_SECRET.to_owned()))
}

/// The header gatehouse itself writes.
fn good_header() -> Value {
    json!({"alg": "HS256", "typ": "at+jwt", "kid": current_kid()})
}

/// The claims of a real token.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

async fn refused(app: &TestApp, token: &str, code: &str, case: &str) {
    let resp = app.me(token).await;
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED, "{case}");
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#,
        "{case}"
    );
    let body = assert_error(resp, StatusCode::UNAUTHORIZED, code).await;
    assert_eq!(body["error"]["code"], code, "{case}");
}

async fn accepted(app: &TestApp, token: &str, case: &str) {
    let resp = app.me(token).await;
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{case}: {text}");
}

#[tokio::test]
async fn a_token_carrying_jku_jwk_x5u_or_x5c_headers_of_any_shape_is_accepted() {
    let app = spawn(&[]).await;
    let (_, _, bearer) = new_user(&app).await;
    let claims = claims_of(&bearer);
    // Loopback URLs only: nothing may ever fetch them.
    let extras = [
        ("jku", json!("http://127.0.0.1:9/jwks.json")),
        ("x5u", json!("http://127.0.0.1:9/cert.pem")),
        ("x5c", json!(["not-a-certificate"])),
        ("x5c", json!("not even a list")),
        (
            "jwk",
            json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode("attacker-key")}),
        ),
        ("jwk", json!({"kty": "RSA", "n": "AQAB", "e": "AQAB"})),
        ("jwk", json!({"junk": [1, 2, {"x": null}]})),
        ("jwk", json!("a string")),
        ("jwk", json!(42)),
        ("jwk", json!([1, 2, 3])),
        ("jwk", json!(null)),
        ("jwk", json!(true)),
    ];
    for (name, value) in &extras {
        let mut header = good_header();
        header[*name] = value.clone();
        accepted(
            &app,
            &forge(&header, &claims, TEST_SECRET),
            &header.to_string(),
        )
        .await;
    }
    let mut all = good_header();
    for (name, value) in extras.iter().take(5) {
        all[*name] = value.clone();
    }
    accepted(&app, &forge(&all, &claims, TEST_SECRET), "all four at once").await;
}

#[tokio::test]
async fn a_key_embedded_in_the_header_is_never_used_to_verify() {
    let app = spawn(&[]).await;
    let (_, _, bearer) = new_user(&app).await;
    let claims = claims_of(&bearer);
    let attacker = "attacker-secret-that-is-long-enough-for-hs256-666";
    let jwk = json!({"kty": "oct", "k": URL_SAFE_NO_PAD.encode(attacker)});
    let mut header = good_header();
    header["jwk"] = jwk.clone();
    refused(
        &app,
        &forge(&header, &claims, attacker),
        "AUTH_INVALID",
        "signed with the embedded jwk",
    )
    .await;
    let no_kid = json!({"alg": "HS256", "typ": "at+jwt", "jwk": jwk});
    refused(
        &app,
        &forge(&no_kid, &claims, attacker),
        "AUTH_INVALID",
        "embedded jwk, no kid",
    )
    .await;
}

#[tokio::test]
async fn a_hostile_kid_is_auth_invalid() {
    let app = spawn(&[]).await;
    let (_, _, bearer) = new_user(&app).await;
    let claims = claims_of(&bearer);
    let long = "k".repeat(5 * 1024);
    for kid in [
        json!("../../etc/passwd"),
        json!("/dev/null"),
        json!(long),
        json!("' OR '1'='1'; DROP TABLE users; --"),
        json!(format!("{}' OR '1'='1", current_kid())),
        json!(""),
        json!(42),
        json!(null),
        json!([current_kid()]),
    ] {
        let mut header = good_header();
        header["kid"] = kid;
        let forged = forge(&header, &claims, TEST_SECRET);
        let case: String = header.to_string().chars().take(120).collect();
        refused(&app, &forged, "AUTH_INVALID", &case).await;
    }
    // The app still answers normally afterwards.
    accepted(&app, &bearer, "the real token").await;
}

#[tokio::test]
async fn an_rs256_header_signed_with_hmac_over_the_secret_is_auth_invalid() {
    let app = spawn(&[]).await;
    let (_, _, bearer) = new_user(&app).await;
    let claims = claims_of(&bearer);
    for alg in ["RS256", "ES256", "PS256", "EdDSA", "hs256", "HS256 "] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": current_kid()});
        refused(
            &app,
            &forge(&header, &claims, TEST_SECRET),
            "AUTH_INVALID",
            alg,
        )
        .await;
    }
    let no_alg = json!({"typ": "at+jwt", "kid": current_kid()});
    refused(
        &app,
        &forge(&no_alg, &claims, TEST_SECRET),
        "AUTH_INVALID",
        "no alg",
    )
    .await;
}

#[tokio::test]
async fn segments_that_are_not_base64url_are_auth_invalid() {
    let app = spawn(&[]).await;
    let (_, _, bearer) = new_user(&app).await;
    let mut parts = bearer.split('.');
    let (header, payload, signature) = (
        parts.next().expect("header"),
        parts.next().expect("payload"),
        parts.next().expect("signature"),
    );
    let header_json = URL_SAFE_NO_PAD.decode(header).expect("base64");

    // The header in the standard alphabet with padding, correctly signed over as sent.
    let padded = STANDARD.encode(&header_json);
    let message = format!("{padded}=.{payload}");
    let padded_token = format!("{message}.{}", hmac(&message, TEST_SECRET));
    // Characters outside any base64 alphabet.
    let message = format!("{header}!.{payload}");
    let junk_header = format!("{message}.{}", hmac(&message, TEST_SECRET));
    let junk_signature = format!("{header}.{payload}.{}!!", &signature[1..]);
    let signature_bytes = URL_SAFE_NO_PAD.decode(signature).expect("base64");
    let standard_signature = format!("{header}.{payload}.{}", STANDARD.encode(signature_bytes));
    let spaced = format!("{header}.{payload}.{} ", &signature[..10]);

    for (case, forged) in [
        ("padded standard header", padded_token.as_str()),
        ("junk in the header", junk_header.as_str()),
        ("junk in the signature", junk_signature.as_str()),
        ("padded standard signature", standard_signature.as_str()),
        ("truncated signature", spaced.trim_end()),
        ("%%%.%%%.%%%", "%%%.%%%.%%%"),
        ("empty segments", ".."),
    ] {
        refused(&app, forged, "AUTH_INVALID", case).await;
    }
}

#[tokio::test]
async fn a_token_missing_any_one_of_the_ten_required_claims_is_auth_invalid_claims() {
    let app = spawn(&[]).await;
    let (_, _, bearer) = new_user(&app).await;
    let claims = claims_of(&bearer);
    for claim in [
        "sub", "user_id", "email", "sid", "jti", "iat", "nbf", "exp", "iss", "aud",
    ] {
        let mut missing = claims.clone();
        assert!(
            missing
                .as_object_mut()
                .expect("object")
                .remove(claim)
                .is_some(),
            "a real token carries {claim}"
        );
        let forged = forge(&good_header(), &missing, TEST_SECRET);
        refused(&app, &forged, "AUTH_INVALID_CLAIMS", claim).await;
    }
}

#[tokio::test]
async fn refused_tokens_reach_a_users_log_only_when_signed_and_repeats_are_one_row_with_a_count() {
    let app = spawn(&[]).await;
    let (_, id, bearer) = new_user(&app).await;
    let claims = claims_of(&bearer);
    // Forged: an unknown kid, a foreign key. Neither may write into the user's log.
    let mut header = good_header();
    header["kid"] = json!("../../etc/passwd");
    refused(
        &app,
        &forge(&header, &claims, TEST_SECRET),
        "AUTH_INVALID",
        "kid",
    )
    .await;
    let attacker = "attacker-secret-that-is-long-enough-for-hs256-666";
    refused(
        &app,
        &forge(&good_header(), &claims, attacker),
        "AUTH_INVALID",
        "foreign key",
    )
    .await;
    let log = events(&app, &bearer, &id).await;
    assert!(of_type(&log, "token_rejected").is_empty(), "{log:?}");

    // Signed, the user known, a claim missing: recorded for the user, repeats merged.
    for claim in ["jti", "iat", "exp"] {
        let mut missing = claims.clone();
        missing.as_object_mut().expect("object").remove(claim);
        let forged = forge(&good_header(), &missing, TEST_SECRET);
        refused(&app, &forged, "AUTH_INVALID_CLAIMS", claim).await;
    }
    let log = events(&app, &bearer, &id).await;
    let rejected = only_event(&log, "token_rejected");
    assert_eq!(rejected["failure_reason"], "AUTH_INVALID_CLAIMS");
    assert_eq!(rejected["count"], 3);
}

#[tokio::test]
async fn every_token_of_a_deactivated_user_is_auth_revoked() {
    let app = spawn(&[]).await;
    let (email, id, first) = new_user(&app).await;
    let second = app.log_in(&email, PASSWORD).await;
    assert_eq!(second.status(), StatusCode::OK);
    let second = token(&second.json::<Value>().await.expect("json"));
    assert_status(
        deactivate(&app, &first, &id, PASSWORD).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    refused(&app, &first, "AUTH_REVOKED", "the token that deactivated").await;
    refused(&app, &second, "AUTH_REVOKED", "another session's token").await;
}

/// Bug: a login refused with 503 for hashing saturation counts toward the per-account
/// throttle (`application/src/use_cases/log_in.rs`: `throttle.attempt` counts before the
/// verification, and nothing gives the count back when `hasher.verify` fails with
/// `Unavailable`). So three 503s with the right password lock the owner out for the whole
/// window, with no wrong password ever sent — while anyone can cause the 503s by
/// flooding other accounts. Contract, "Abuse limits": "10 failed logins for one email
/// from one client-IP bucket ... throttle that pair", "so that one attacker cannot lock
/// the owner out", and "Every `AUTH_FAILED` counts": a 503 is not a failed login.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_refused_for_hashing_saturation_do_not_count_as_failed_logins() {
    let app = Arc::new(
        spawn_app_with(&[
            ("HASH_CONCURRENCY", "1"),
            ("HASH_QUEUE_LIMIT", "1"),
            ("LOGIN_THROTTLE_FAILURES", "3"),
            ("LOGIN_THROTTLE_ACCOUNT_FAILURES", "0"),
        ])
        .await,
    );
    let (email, _, _) = new_user(&app).await;
    // Others keep the pool saturated without a pause: unknown emails, each its own
    // throttle counter.
    let stop = Arc::new(AtomicBool::new(false));
    let flooders: Vec<_> = (0..8)
        .map(|_| {
            let (app, stop) = (Arc::clone(&app), Arc::clone(&stop));
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let resp = app.log_in(&unique_email(), WRONG_PASSWORD).await;
                    assert!(resp.status().is_client_error() || resp.status().is_server_error());
                }
            })
        })
        .collect();
    // The owner, with the right password, meets three 503s in a row (a success between
    // them would clear the count, so start again then).
    let mut in_a_row = 0;
    let mut tries = 0;
    while in_a_row < 3 {
        tries += 1;
        assert!(tries < 5_000, "never three 503s in a row");
        let resp = app.log_in(&email, PASSWORD).await;
        match resp.status() {
            StatusCode::SERVICE_UNAVAILABLE => in_a_row += 1,
            StatusCode::OK => in_a_row = 0,
            other => panic!("unexpected {other} after {in_a_row} 503s in a row"),
        }
    }
    stop.store(true, Ordering::SeqCst);
    for flooder in flooders {
        flooder.await.expect("flooder");
    }
    // No password was ever wrong: once hashing is free again, the owner logs in.
    assert_status(app.log_in(&email, PASSWORD).await, StatusCode::OK).await;
}
