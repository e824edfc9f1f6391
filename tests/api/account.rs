//! The caller's own resources under `/api/{user_id}/…` over real HTTP: scoping to the
//! caller, the order of checks, sessions, password change, deactivation and the
//! security log.

use adapters::token::key_id;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::{Method, Response, StatusCode};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{spawn_app, spawn_app_with};
use crate::helpers::{PASSWORD, TEST_SECRET, TestApp, assert_error, token, unique_email};

/// A password that meets the compat policy and differs from [`PASSWORD`].
const NEW_PASSWORD: &str = "Battery-Staple-77";
/// A password that is not the user's.
const WRONG_PASSWORD: &str = "Wrong-Horse-42";
/// The user agent of the test client (the first "device").
const LAPTOP: &str = "gatehouse-tests";
/// The user agent of a second device.
const PHONE: &str = "GatehousePhone/2.0 (e2e)";
/// The user agent of a third device.
const TABLET: &str = "GatehouseTablet/3.0 (e2e)";
/// Where every test request comes from.
const LOOPBACK: &str = "127.0.0.1";

/// An app whose per-IP limits and per-account throttles are off, for tests that need
/// more logins or failures than the defaults allow within a minute.
async fn spawn_unthrottled_app() -> TestApp {
    spawn_app_with(&[
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "0"),
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "0"),
        ("LOGIN_THROTTLE_FAILURES", "0"),
        ("LOGIN_THROTTLE_ACCOUNT_FAILURES", "0"),
    ])
    .await
}

fn user_id(body: &Value) -> String {
    body["user_id"].as_str().expect("user_id").to_owned()
}

fn session_id(body: &Value) -> String {
    body["session_id"].as_str().expect("session_id").to_owned()
}

fn random_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

async fn send(
    app: &TestApp,
    method: Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> Response {
    let mut request = app.client.request(method, app.url(path));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    if let Some(body) = body {
        request = request.json(body);
    }
    request.send().await.expect("request")
}

async fn get(app: &TestApp, token: &str, path: &str) -> Response {
    send(app, Method::GET, path, Some(token), None).await
}

async fn delete(app: &TestApp, token: &str, path: &str) -> Response {
    send(app, Method::DELETE, path, Some(token), None).await
}

async fn change_password(
    app: &TestApp,
    token: &str,
    user_id: &str,
    current: &str,
    new: &str,
) -> Response {
    let body = json!({"current_password": current, "new_password": new});
    let path = format!("/api/{user_id}/password");
    send(app, Method::PUT, &path, Some(token), Some(&body)).await
}

async fn deactivate(app: &TestApp, token: &str, user_id: &str, password: &str) -> Response {
    let body = json!({"password": password});
    let path = format!("/api/{user_id}");
    send(app, Method::DELETE, &path, Some(token), Some(&body)).await
}

/// Asserts a 200 and returns its JSON body.
async fn json_ok(resp: Response) -> Value {
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert_eq!(status, StatusCode::OK, "{text}");
    serde_json::from_str(&text).expect("JSON body")
}

/// Asserts a 204 with an empty body.
async fn assert_no_content(resp: Response) {
    let status = resp.status();
    let body = resp.text().await.expect("body");
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    assert!(body.is_empty(), "204 carries no body: {body}");
}

/// Logs in with a given user agent and returns the AuthResponse body.
async fn log_in_from(app: &TestApp, email: &str, password: &str, user_agent: &str) -> Value {
    let resp = app
        .client
        .post(app.url("/api/auth/login"))
        .header("user-agent", user_agent)
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .expect("request");
    json_ok(resp).await
}

async fn assert_live(app: &TestApp, token: &str) {
    let resp = app.me(token).await;
    assert_eq!(resp.status(), StatusCode::OK, "the token still works");
}

async fn assert_revoked(app: &TestApp, token: &str) {
    assert_error(
        app.me(token).await,
        StatusCode::UNAUTHORIZED,
        "AUTH_REVOKED",
    )
    .await;
}

async fn assert_login_fails(app: &TestApp, email: &str, password: &str) -> Value {
    assert_error(
        app.log_in(email, password).await,
        StatusCode::UNAUTHORIZED,
        "AUTH_FAILED",
    )
    .await
}

async fn sessions(app: &TestApp, token: &str, user_id: &str) -> Vec<Value> {
    let body = json_ok(get(app, token, &format!("/api/{user_id}/sessions")).await).await;
    body["data"].as_array().expect("data").clone()
}

async fn events_page(app: &TestApp, token: &str, user_id: &str, query: &str) -> Value {
    json_ok(get(app, token, &format!("/api/{user_id}/auth-events{query}")).await).await
}

/// The whole security log (it fits one page of 100 in these tests).
async fn all_events(app: &TestApp, token: &str, user_id: &str) -> Vec<Value> {
    let page = events_page(app, token, user_id, "?limit=100").await;
    assert!(
        page["next_cursor"].is_null(),
        "one page holds it all: {page}"
    );
    page["data"].as_array().expect("data").clone()
}

fn event_types(events: &[Value]) -> Vec<&str> {
    events
        .iter()
        .map(|e| e["event_type"].as_str().expect("event_type"))
        .collect()
}

fn of_type<'a>(events: &'a [Value], event_type: &str) -> Vec<&'a Value> {
    events
        .iter()
        .filter(|e| e["event_type"] == event_type)
        .collect()
}

fn timestamp(value: &Value) -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(value.as_str().expect("timestamp")).expect("RFC 3339")
}

/// Every account route of `user_id`, with a body that would succeed for the owner
/// whose password is [`PASSWORD`].
fn routes(user_id: &str, session: &str) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (Method::GET, format!("/api/{user_id}/profile"), None),
        (Method::GET, format!("/api/{user_id}/auth-events"), None),
        (Method::GET, format!("/api/{user_id}/sessions"), None),
        (
            Method::DELETE,
            format!("/api/{user_id}/sessions/{session}"),
            None,
        ),
        (Method::DELETE, format!("/api/{user_id}/sessions"), None),
        (
            Method::PUT,
            format!("/api/{user_id}/password"),
            Some(json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD})),
        ),
        (
            Method::DELETE,
            format!("/api/{user_id}"),
            Some(json!({"password": PASSWORD})),
        ),
    ]
}

/// The claims of a real token.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

/// `claims` signed with `secret` under the `kid` of the app's real key.
fn forge(claims: &Value, secret: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(key_id(&SecretString::from(TEST_SECRET.to_owned())));
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

// ---------------------------------------------------------------- scoping and order

#[tokio::test]
async fn every_account_route_answers_403_auth_forbidden_for_another_users_id_or_an_unknown_id_and_changes_nothing()
 {
    let app = spawn_app().await;
    let (alice_email, alice) = app.new_user().await;
    let (bob_email, bob) = app.new_user().await;
    let bob_phone = log_in_from(&app, &bob_email, PASSWORD, PHONE).await;
    let bob_id = user_id(&bob);
    let bob_events_before = all_events(&app, &token(&bob), &bob_id).await;

    let targets = [
        (bob_id.clone(), session_id(&bob_phone)),
        (random_id(), random_id()),
    ];
    for (target, session) in &targets {
        for (method, path, body) in routes(target, session) {
            let resp = send(
                &app,
                method.clone(),
                &path,
                Some(&token(&alice)),
                body.as_ref(),
            )
            .await;
            let error = assert_error(resp, StatusCode::FORBIDDEN, "AUTH_FORBIDDEN").await;
            assert_eq!(
                error["error"]["message"], "Access denied",
                "{method} {path}"
            );
        }
    }

    // Bob: both sessions live, password unchanged, still active.
    assert_live(&app, &token(&bob)).await;
    assert_live(&app, &token(&bob_phone)).await;
    assert_eq!(sessions(&app, &token(&bob), &bob_id).await.len(), 2);
    let profile = json_ok(get(&app, &token(&bob), &format!("/api/{bob_id}/profile")).await).await;
    assert_eq!(profile["is_active"], true);
    assert_eq!(
        all_events(&app, &token(&bob), &bob_id).await,
        bob_events_before,
        "nothing was written into Bob's log"
    );
    assert_login_fails(&app, &bob_email, NEW_PASSWORD).await;
    assert_eq!(
        app.log_in(&bob_email, PASSWORD).await.status(),
        StatusCode::OK
    );
    // Alice did not change herself either.
    assert_live(&app, &token(&alice)).await;
    assert_eq!(
        app.log_in(&alice_email, PASSWORD).await.status(),
        StatusCode::OK
    );
}

#[tokio::test]
async fn every_account_route_works_for_the_callers_own_id() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let me = user_id(&laptop);
    let laptop = token(&laptop);

    let profile = json_ok(get(&app, &laptop, &format!("/api/{me}/profile")).await).await;
    assert_eq!(profile["user_id"], me.as_str());
    assert_eq!(profile["email"], email.as_str());

    let page = events_page(&app, &laptop, &me, "").await;
    assert_eq!(
        event_types(page["data"].as_array().expect("data")),
        ["login", "signup"]
    );
    assert!(page["next_cursor"].is_null());

    assert_eq!(sessions(&app, &laptop, &me).await.len(), 2);
    assert_no_content(
        delete(
            &app,
            &laptop,
            &format!("/api/{me}/sessions/{}", session_id(&phone)),
        )
        .await,
    )
    .await;
    assert_no_content(change_password(&app, &laptop, &me, PASSWORD, NEW_PASSWORD).await).await;
    assert_no_content(delete(&app, &laptop, &format!("/api/{me}/sessions")).await).await;
    assert_revoked(&app, &laptop).await;

    let again = token(&json_ok(app.log_in(&email, NEW_PASSWORD).await).await);
    assert_no_content(deactivate(&app, &again, &me, NEW_PASSWORD).await).await;
}

#[tokio::test]
async fn authentication_is_checked_before_scoping_so_no_token_with_another_users_id_is_401() {
    let app = spawn_app().await;
    let (email, alice) = app.new_user().await;
    let (_, bob) = app.new_user().await;
    let dead = log_in_from(&app, &email, PASSWORD, PHONE).await;
    assert_eq!(app.log_out(&token(&dead)).await.status(), StatusCode::OK);

    for target in [user_id(&bob), random_id()] {
        for (method, path, body) in routes(&target, &session_id(&bob)) {
            let resp = send(&app, method.clone(), &path, None, body.as_ref()).await;
            assert_eq!(
                resp.headers()["www-authenticate"],
                "Bearer",
                "{method} {path}"
            );
            assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;

            let resp = send(&app, method, &path, Some(&token(&dead)), body.as_ref()).await;
            assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
        }
    }
    // Nothing happened to Alice or Bob.
    assert_live(&app, &token(&alice)).await;
    assert_live(&app, &token(&bob)).await;
}

#[tokio::test]
async fn a_user_id_that_is_not_a_uuid_is_400_validation_error_naming_user_id_not_403() {
    let app = spawn_app().await;
    let (_, alice) = app.new_user().await;
    let (_, bob) = app.new_user().await;
    let alice_token = token(&alice);

    for (method, path, body) in routes("not-a-uuid", &session_id(&alice)) {
        let resp = send(
            &app,
            method.clone(),
            &path,
            Some(&alice_token),
            body.as_ref(),
        )
        .await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], "user_id",
            "{method} {path}: {error}"
        );
    }
    // A malformed session id is a validation error too, even under another user's id.
    for owner in [user_id(&alice), user_id(&bob)] {
        let resp = delete(&app, &alice_token, &format!("/api/{owner}/sessions/42")).await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], "session_id",
            "{error}"
        );
    }
    assert_live(&app, &alice_token).await;
}

// ---------------------------------------------------------------------- sessions

#[tokio::test]
async fn sessions_of_two_devices_are_listed_and_revoking_one_kills_only_its_token_at_once() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let me = user_id(&laptop);

    let listed = sessions(&app, &token(&laptop), &me).await;
    assert_eq!(listed.len(), 2, "{listed:?}");
    assert_eq!(
        listed[0]["session_id"],
        session_id(&phone).as_str(),
        "newest first"
    );
    for (session, device, agent) in [(&listed[0], &phone, PHONE), (&listed[1], &laptop, LAPTOP)] {
        assert_eq!(session["session_id"], device["session_id"]);
        assert_eq!(
            session["current"],
            device["session_id"] == laptop["session_id"]
        );
        assert_eq!(session["user_agent"], agent);
        assert_eq!(session["ip_address"], LOOPBACK);
        assert_eq!(
            timestamp(&session["expires_at"]),
            timestamp(&device["expires_at"]),
            "a session lives as long as its token"
        );
        assert!(timestamp(&session["created_at"]) < timestamp(&session["expires_at"]));
    }
    // From the phone, the phone's session is the current one.
    let from_phone = sessions(&app, &token(&phone), &me).await;
    let current: Vec<&Value> = from_phone.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["session_id"], phone["session_id"]);

    let phone_path = format!("/api/{me}/sessions/{}", session_id(&phone));
    assert_no_content(delete(&app, &token(&laptop), &phone_path).await).await;
    assert_revoked(&app, &token(&phone)).await;
    assert_live(&app, &token(&laptop)).await;
    let listed = sessions(&app, &token(&laptop), &me).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["session_id"], laptop["session_id"]);

    let again = delete(&app, &token(&laptop), &phone_path).await;
    let error = assert_error(again, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(error["error"]["message"], "Resource not found");
    let unknown = delete(
        &app,
        &token(&laptop),
        &format!("/api/{me}/sessions/{}", random_id()),
    )
    .await;
    assert_error(unknown, StatusCode::NOT_FOUND, "NOT_FOUND").await;
}

#[tokio::test]
async fn revoking_another_users_session_through_ones_own_path_is_404_and_leaves_it_alive() {
    let app = spawn_app().await;
    let (_, alice) = app.new_user().await;
    let (_, bob) = app.new_user().await;
    let path = format!("/api/{}/sessions/{}", user_id(&alice), session_id(&bob));
    assert_error(
        delete(&app, &token(&alice), &path).await,
        StatusCode::NOT_FOUND,
        "NOT_FOUND",
    )
    .await;
    assert_live(&app, &token(&bob)).await;
    assert_eq!(sessions(&app, &token(&bob), &user_id(&bob)).await.len(), 1);
}

#[tokio::test]
async fn revoking_the_current_session_is_a_logout_recorded_as_logout() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let tablet = log_in_from(&app, &email, PASSWORD, TABLET).await;
    let me = user_id(&laptop);

    let phone_path = format!("/api/{me}/sessions/{}", session_id(&phone));
    assert_no_content(delete(&app, &token(&laptop), &phone_path).await).await;
    let own_path = format!("/api/{me}/sessions/{}", session_id(&laptop));
    assert_no_content(delete(&app, &token(&laptop), &own_path).await).await;
    assert_revoked(&app, &token(&laptop)).await;
    assert_live(&app, &token(&tablet)).await;

    let events = all_events(&app, &token(&tablet), &me).await;
    let logouts = of_type(&events, "logout");
    let revoked = of_type(&events, "session_revoked");
    assert_eq!((logouts.len(), revoked.len()), (1, 1), "{events:?}");
    for event in [logouts[0], revoked[0]] {
        assert_eq!(event["success"], true);
        assert!(event["failure_reason"].is_null());
        assert_eq!(event["count"], 1);
        assert_eq!(event["user_agent"], LAPTOP);
    }
    let position = |event: &Value| events.iter().position(|e| e == event).expect("listed");
    assert!(
        position(logouts[0]) < position(revoked[0]),
        "the logout came last, so it is listed first: {events:?}"
    );
}

#[tokio::test]
async fn logging_out_everywhere_refuses_every_token_and_records_one_session_revoked_with_the_count()
{
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let tablet = log_in_from(&app, &email, PASSWORD, TABLET).await;
    let (_, bob) = app.new_user().await;
    let me = user_id(&laptop);

    assert_no_content(delete(&app, &token(&phone), &format!("/api/{me}/sessions")).await).await;
    for device in [&laptop, &phone, &tablet] {
        assert_revoked(&app, &token(device)).await;
    }
    assert_live(&app, &token(&bob)).await;

    let fresh = token(&json_ok(app.log_in(&email, PASSWORD).await).await);
    let listed = sessions(&app, &fresh, &me).await;
    assert_eq!(listed.len(), 1, "only the new login is live: {listed:?}");
    let events = all_events(&app, &fresh, &me).await;
    let revoked = of_type(&events, "session_revoked");
    assert_eq!(revoked.len(), 1, "{events:?}");
    assert_eq!(revoked[0]["count"], 3);
    assert_eq!(revoked[0]["success"], true);
    assert_eq!(
        revoked[0]["user_agent"], LAPTOP,
        "the request came from the test client"
    );
    assert!(
        of_type(&events, "logout").is_empty(),
        "log out everywhere is not a logout: {events:?}"
    );
}

// ---------------------------------------------------------------------- password

#[tokio::test]
async fn a_password_change_with_a_wrong_current_password_is_403_auth_failed_and_changes_nothing() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let me = user_id(&laptop);

    let resp = change_password(&app, &token(&laptop), &me, WRONG_PASSWORD, NEW_PASSWORD).await;
    assert!(
        resp.headers().get("www-authenticate").is_none(),
        "403, not a challenge"
    );
    let error = assert_error(resp, StatusCode::FORBIDDEN, "AUTH_FAILED").await;
    assert_eq!(error["error"]["message"], "Invalid credentials");

    assert_live(&app, &token(&laptop)).await;
    assert_live(&app, &token(&phone)).await;
    assert_login_fails(&app, &email, NEW_PASSWORD).await;
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    let events = all_events(&app, &token(&laptop), &me).await;
    let failed = of_type(&events, "password_changed");
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["success"], false);
    assert_eq!(failed[0]["failure_reason"], "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn a_password_change_to_a_weak_password_is_400_validation_password_and_changes_nothing() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let me = user_id(&laptop);

    let resp = change_password(&app, &token(&laptop), &me, PASSWORD, "weak").await;
    let error = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_PASSWORD").await;
    let rules: Vec<&str> = error["error"]["details"]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["rule"].as_str().expect("rule"))
        .collect();
    assert_eq!(rules, ["min_length", "uppercase", "digit"]);

    assert_live(&app, &token(&laptop)).await;
    assert_live(&app, &token(&phone)).await;
    assert_login_fails(&app, &email, "weak").await;
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    let events = all_events(&app, &token(&laptop), &me).await;
    let failed = of_type(&events, "password_changed");
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["failure_reason"], "VALIDATION_PASSWORD");
}

#[tokio::test]
async fn a_password_change_revokes_every_other_session_and_keeps_the_current_one() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let tablet = log_in_from(&app, &email, PASSWORD, TABLET).await;
    let me = user_id(&laptop);

    assert_no_content(change_password(&app, &token(&laptop), &me, PASSWORD, NEW_PASSWORD).await)
        .await;
    assert_revoked(&app, &token(&phone)).await;
    assert_revoked(&app, &token(&tablet)).await;
    assert_live(&app, &token(&laptop)).await;
    let listed = sessions(&app, &token(&laptop), &me).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["session_id"], laptop["session_id"]);

    let old = assert_login_fails(&app, &email, PASSWORD).await;
    assert_eq!(old["error"]["message"], "Invalid credentials");
    assert_eq!(
        app.log_in(&email, NEW_PASSWORD).await.status(),
        StatusCode::OK
    );
    let events = all_events(&app, &token(&laptop), &me).await;
    let changed = of_type(&events, "password_changed");
    assert_eq!(changed.len(), 1, "{events:?}");
    assert_eq!(changed[0]["success"], true);
}

#[tokio::test]
async fn ten_parallel_password_changes_with_the_same_current_password_apply_exactly_one() {
    let app = spawn_unthrottled_app().await;
    let (email, body) = app.new_user().await;
    let me = user_id(&body);
    let caller = token(&body);
    let proposals: Vec<String> = (0..10).map(|i| format!("Parallel-Horse-{i}7")).collect();

    let attempts = proposals
        .iter()
        .map(|new| change_password(&app, &caller, &me, PASSWORD, new));
    let responses = futures::future::join_all(attempts).await;
    let mut applied = 0;
    let mut refused = 0;
    for resp in responses {
        match resp.status() {
            StatusCode::NO_CONTENT => applied += 1,
            _ => {
                assert_error(resp, StatusCode::FORBIDDEN, "AUTH_FAILED").await;
                refused += 1;
            }
        }
    }
    assert_eq!((applied, refused), (1, 9));

    let mut working = Vec::new();
    for new in &proposals {
        if app.log_in(&email, new).await.status() == StatusCode::OK {
            working.push(new.clone());
        }
    }
    assert_eq!(
        working.len(),
        1,
        "exactly one new password works: {working:?}"
    );
    assert_login_fails(&app, &email, PASSWORD).await;
    assert_live(&app, &caller).await;
}

// ------------------------------------------------------------------- deactivation

#[tokio::test]
async fn deactivation_with_a_wrong_password_is_403_auth_failed_and_the_account_stays_active() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let me = user_id(&laptop);

    let resp = deactivate(&app, &token(&laptop), &me, WRONG_PASSWORD).await;
    let error = assert_error(resp, StatusCode::FORBIDDEN, "AUTH_FAILED").await;
    assert_eq!(error["error"]["message"], "Invalid credentials");

    let profile = json_ok(get(&app, &token(&laptop), &format!("/api/{me}/profile")).await).await;
    assert_eq!(profile["is_active"], true);
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    let events = all_events(&app, &token(&laptop), &me).await;
    let failed = of_type(&events, "account_deactivated");
    assert_eq!(failed.len(), 1, "{events:?}");
    assert_eq!(failed[0]["success"], false);
    assert_eq!(failed[0]["failure_reason"], "INVALID_CREDENTIALS");
}

#[tokio::test]
async fn deactivation_refuses_every_token_and_later_logins_look_like_a_wrong_password() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let (other_email, _) = app.new_user().await;
    let me = user_id(&laptop);

    assert_no_content(deactivate(&app, &token(&laptop), &me, PASSWORD).await).await;
    for device in [&laptop, &phone] {
        assert_revoked(&app, &token(device)).await;
    }
    assert_error(
        get(&app, &token(&phone), &format!("/api/{me}/profile")).await,
        StatusCode::UNAUTHORIZED,
        "AUTH_REVOKED",
    )
    .await;

    let right = app.log_in(&email, PASSWORD).await;
    assert_eq!(right.headers()["www-authenticate"], "Bearer");
    let right = assert_error(right, StatusCode::UNAUTHORIZED, "AUTH_FAILED").await;
    for (account, password) in [(&email, WRONG_PASSWORD), (&other_email, WRONG_PASSWORD)] {
        let wrong = app.log_in(account, password).await;
        assert_eq!(wrong.headers()["www-authenticate"], "Bearer");
        let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED, "AUTH_FAILED").await;
        assert_eq!(right["error"], wrong["error"], "indistinguishable");
    }

    let again = app.sign_up(&email, PASSWORD).await;
    assert_error(again, StatusCode::CONFLICT, "CONFLICT_EMAIL").await;
}

// ------------------------------------------------------------------- security log

#[tokio::test]
async fn the_security_log_lists_the_users_own_actions_newest_first() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let me = user_id(&laptop);
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    assert_login_fails(&app, &email, WRONG_PASSWORD).await;
    assert_eq!(app.log_out(&token(&phone)).await.status(), StatusCode::OK);
    // Someone else's actions stay out of this log.
    let (other_email, _) = app.new_user().await;
    assert_login_fails(&app, &other_email, WRONG_PASSWORD).await;
    assert_login_fails(&app, &unique_email(), WRONG_PASSWORD).await;

    let events = all_events(&app, &token(&laptop), &me).await;
    assert_eq!(
        event_types(&events),
        ["logout", "login_failed", "login", "signup"]
    );
    // The logout is sent by the test client, whatever device the session was opened on.
    let expected = [
        (LAPTOP, true, Value::Null),
        (LAPTOP, false, json!("INVALID_CREDENTIALS")),
        (PHONE, true, Value::Null),
        (LAPTOP, true, Value::Null),
    ];
    for (event, (agent, success, reason)) in events.iter().zip(expected) {
        assert_eq!(event["user_agent"], agent, "{event}");
        assert_eq!(event["success"], success, "{event}");
        assert_eq!(event["failure_reason"], reason, "{event}");
        assert_eq!(event["ip_address"], LOOPBACK, "{event}");
        assert_eq!(event["count"], 1, "{event}");
        assert!(uuid::Uuid::parse_str(event["event_id"].as_str().expect("id")).is_ok());
    }
    for pair in events.windows(2) {
        assert!(
            timestamp(&pair[0]["created_at"]) >= timestamp(&pair[1]["created_at"]),
            "newest first: {events:?}"
        );
    }
    // The default page holds all of them.
    let default_page = events_page(&app, &token(&laptop), &me, "").await;
    assert_eq!(default_page["data"].as_array().expect("data"), &events);
}

#[tokio::test]
async fn paging_the_security_log_two_at_a_time_walks_every_event_exactly_once() {
    let app = spawn_unthrottled_app().await;
    let (email, laptop) = app.new_user().await;
    let me = user_id(&laptop);
    // signup + 3 × (login, failed login, logout) = 10 events: the last page is full.
    for _ in 0..3 {
        let session = log_in_from(&app, &email, PASSWORD, PHONE).await;
        assert_login_fails(&app, &email, WRONG_PASSWORD).await;
        assert_eq!(app.log_out(&token(&session)).await.status(), StatusCode::OK);
    }
    let everything = all_events(&app, &token(&laptop), &me).await;
    assert_eq!(everything.len(), 10, "{everything:?}");

    let mut walked: Vec<Value> = Vec::new();
    let mut query = "?limit=2".to_owned();
    let mut pages = 0;
    loop {
        let page = events_page(&app, &token(&laptop), &me, &query).await;
        pages += 1;
        let data = page["data"].as_array().expect("data");
        assert!(data.len() <= 2, "{page}");
        walked.extend(data.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(cursor) => {
                assert_eq!(data.len(), 2, "only the last page is short: {page}");
                query = format!("?limit=2&cursor={cursor}");
            }
            None => {
                assert!(page["next_cursor"].is_null(), "{page}");
                break;
            }
        }
        assert!(pages <= 10, "the walk ends");
    }
    assert_eq!(walked, everything, "every event exactly once, in order");
    assert_eq!(
        pages, 5,
        "ten events in pages of two, no empty page at the end"
    );
}

#[tokio::test]
async fn a_limit_outside_1_to_100_or_a_cursor_that_does_not_decode_is_400_validation_error() {
    let app = spawn_app().await;
    let (_, laptop) = app.new_user().await;
    let me = user_id(&laptop);
    let garbage = URL_SAFE_NO_PAD.encode("not a cursor");
    for (query, field) in [
        ("?limit=0", "limit"),
        ("?limit=101", "limit"),
        ("?limit=-1", "limit"),
        ("?limit=ten", "limit"),
        ("?cursor=%25%25%25", "cursor"),
        ("?cursor=bm90LWEtY3Vyc29y", "cursor"),
        (&format!("?cursor={garbage}"), "cursor"),
    ] {
        let resp = get(
            &app,
            &token(&laptop),
            &format!("/api/{me}/auth-events{query}"),
        )
        .await;
        let error = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
        assert_eq!(
            error["error"]["details"]["fields"][0]["field"], field,
            "{query}: {error}"
        );
    }
    for limit in [1, 100] {
        let page = events_page(&app, &token(&laptop), &me, &format!("?limit={limit}")).await;
        assert_eq!(page["data"].as_array().expect("data").len(), 1);
    }
}

#[tokio::test]
async fn a_token_of_a_revoked_session_is_logged_as_token_rejected_with_auth_revoked() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let me = user_id(&laptop);
    assert_eq!(app.log_out(&token(&phone)).await.status(), StatusCode::OK);
    assert_revoked(&app, &token(&phone)).await;

    let events = all_events(&app, &token(&laptop), &me).await;
    assert_eq!(
        event_types(&events),
        ["token_rejected", "logout", "login", "signup"]
    );
    let rejected = &events[0];
    assert_eq!(rejected["success"], false);
    assert_eq!(rejected["failure_reason"], "AUTH_REVOKED");
    assert_eq!(rejected["ip_address"], LOOPBACK);
    assert_eq!(rejected["user_agent"], LAPTOP);
    assert_eq!(rejected["count"], 1);
}

#[tokio::test]
async fn repeated_rejections_of_one_revoked_token_within_a_minute_are_one_row_whose_count_grows() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;
    let me = user_id(&laptop);
    assert_eq!(app.log_out(&token(&phone)).await.status(), StatusCode::OK);
    for _ in 0..3 {
        assert_revoked(&app, &token(&phone)).await;
    }

    let events = all_events(&app, &token(&laptop), &me).await;
    let rejected = of_type(&events, "token_rejected");
    assert_eq!(rejected.len(), 1, "{events:?}");
    assert_eq!(rejected[0]["count"], 3);
}

#[tokio::test]
async fn a_forged_token_writes_nothing_into_the_users_log() {
    let app = spawn_app().await;
    let (_, laptop) = app.new_user().await;
    let (_, bob) = app.new_user().await;
    let me = user_id(&laptop);
    let before = all_events(&app, &token(&laptop), &me).await;

    let claims = claims_of(&token(&laptop));
    let wrong_key = forge(&claims, "an-attackers-secret-that-is-long-enough-for-hs256");
    let real = token(&laptop);
    let mut parts = real.split('.');
    let (header, payload) = (
        parts.next().expect("header"),
        parts.next().expect("payload"),
    );
    let bobs_signature = token(&bob)
        .rsplit('.')
        .next()
        .expect("signature")
        .to_owned();
    let spliced = format!("{header}.{payload}.{bobs_signature}");
    let mut expired = claims.clone();
    expired["exp"] = json!(chrono::Utc::now().timestamp() - 3600);
    let expired_forgery = forge(
        &expired,
        "an-attackers-secret-that-is-long-enough-for-hs256",
    );

    for forged in [&wrong_key, &spliced, &expired_forgery] {
        assert_error(
            app.me(forged).await,
            StatusCode::UNAUTHORIZED,
            "AUTH_INVALID",
        )
        .await;
        let resp = get(&app, forged, &format!("/api/{me}/profile")).await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;
    }

    assert_eq!(all_events(&app, &token(&laptop), &me).await, before);
}

// ------------------------------------------------------------------------ profile

#[tokio::test]
async fn the_profile_equals_what_me_answers() {
    let app = spawn_app().await;
    let (email, laptop) = app.new_user().await;
    let me = user_id(&laptop);
    let phone = log_in_from(&app, &email, PASSWORD, PHONE).await;

    for device in [&laptop, &phone] {
        let profile = json_ok(get(&app, &token(device), &format!("/api/{me}/profile")).await).await;
        let who = json_ok(app.me(&token(device)).await).await;
        assert_eq!(profile, who);
        assert_eq!(profile["email"], email.as_str());
        assert_eq!(profile["is_active"], true);
        assert_eq!(
            profile.as_object().expect("object").len(),
            5,
            "user_id, email, created_at, last_login, is_active: {profile}"
        );
    }
}
