//! Sign-up, login, logout and `me` over real HTTP.

use reqwest::StatusCode;
use serde_json::json;

use super::spawn_app;
use crate::helpers::{PASSWORD, assert_error, token, unique_email};

#[tokio::test]
async fn signup_returns_201_with_a_token_that_authenticates_me() {
    let app = spawn_app().await;
    let email = unique_email();
    let resp = app.sign_up(&email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body["email"], email.as_str());
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86_400);
    assert!(
        body["expires_at"]
            .as_str()
            .expect("expires_at")
            .ends_with('Z')
    );
    assert!(uuid::Uuid::parse_str(body["session_id"].as_str().expect("sid")).is_ok());

    let me = app.me(&token(&body)).await;
    assert_eq!(me.status(), StatusCode::OK);
    let me: serde_json::Value = me.json().await.expect("json");
    assert_eq!(me["user_id"], body["user_id"]);
    assert_eq!(me["email"], email.as_str());
    assert_eq!(me["is_active"], true);
    assert!(
        me["last_login"].is_string(),
        "signup logs the user in: {me}"
    );
}

#[tokio::test]
async fn signup_trims_the_email_keeps_its_case_and_case_variants_conflict() {
    let app = spawn_app().await;
    let email = unique_email();
    let shouted = format!("  {}  ", email.to_uppercase());
    let resp = app.sign_up(&shouted, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(
        body["email"],
        email.to_uppercase().as_str(),
        "as typed, trimmed"
    );

    let again = app.sign_up(&email, PASSWORD).await;
    let body = assert_error(again, StatusCode::CONFLICT, "CONFLICT_EMAIL").await;
    assert_eq!(body["error"]["message"], "Email already registered");
}

#[tokio::test]
async fn signup_with_a_malformed_email_returns_400_validation_email() {
    let app = spawn_app().await;
    for email in [
        "not-an-email",
        "a@b",
        "",
        &format!("{}@example.com", "a".repeat(250)),
    ] {
        let resp = app.sign_up(email, PASSWORD).await;
        let body = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_EMAIL").await;
        assert_eq!(body["error"]["message"], "Invalid email format");
    }
}

#[tokio::test]
async fn signup_with_a_weak_password_lists_every_violated_rule() {
    let app = spawn_app().await;
    let resp = app.sign_up(&unique_email(), "abc").await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_PASSWORD").await;
    assert_eq!(
        body["error"]["message"],
        "Password does not meet requirements"
    );
    let rules: Vec<&str> = body["error"]["details"]["violations"]
        .as_array()
        .expect("violations")
        .iter()
        .map(|v| v["rule"].as_str().expect("rule"))
        .collect();
    assert_eq!(rules, ["min_length", "uppercase", "digit"]);

    let resp = app.sign_up(&unique_email(), "Password1").await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_PASSWORD").await;
    assert_eq!(body["error"]["details"]["violations"][0]["rule"], "common");
}

#[tokio::test]
async fn the_nist_policy_needs_fifteen_characters_and_no_composition() {
    let app = super::spawn_app_with(&[("PASSWORD_POLICY", "nist")]).await;
    let resp = app.sign_up(&unique_email(), "Short-Pass-1").await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_PASSWORD").await;
    assert_eq!(
        body["error"]["details"]["violations"][0]["rule"],
        "min_length"
    );
    let resp = app
        .sign_up(&unique_email(), "all lower case passphrase")
        .await;
    assert_eq!(resp.status(), StatusCode::CREATED);
}

#[tokio::test]
async fn twenty_parallel_signups_of_one_email_create_exactly_one_account() {
    let app = spawn_app().await;
    let email = unique_email();
    let attempts = (0..20).map(|_| app.sign_up(&email, PASSWORD));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 19), "{statuses:?}");
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn login_opens_a_new_session_and_sets_last_login() {
    let app = spawn_app().await;
    let (email, signup) = app.new_user().await;
    let resp = app.log_in(&email.to_uppercase(), PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["cache-control"], "no-store");
    let login: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(login["user_id"], signup["user_id"]);
    assert_ne!(login["session_id"], signup["session_id"]);
    let me: serde_json::Value = app.me(&token(&login)).await.json().await.expect("json");
    let last_login = me["last_login"].as_str().expect("last_login set");
    let issued_at = chrono::DateTime::parse_from_rfc3339(last_login).expect("RFC 3339");
    let age = chrono::Utc::now().signed_duration_since(issued_at);
    assert!(
        age.num_seconds().abs() < 60,
        "last_login is the login's time: {last_login}"
    );
    // Both sessions are live.
    assert_eq!(app.me(&token(&signup)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_wrong_password_and_an_unknown_email_get_the_same_401_auth_failed() {
    let app = spawn_app().await;
    let (email, _) = app.new_user().await;
    let wrong = app.log_in(&email, "Wrong-Horse-42").await;
    assert_eq!(wrong.headers()["www-authenticate"], "Bearer");
    let wrong = assert_error(wrong, StatusCode::UNAUTHORIZED, "AUTH_FAILED").await;
    let unknown = app.log_in(&unique_email(), "Wrong-Horse-42").await;
    assert_eq!(unknown.headers()["www-authenticate"], "Bearer");
    let unknown = assert_error(unknown, StatusCode::UNAUTHORIZED, "AUTH_FAILED").await;
    assert_eq!(wrong["error"], unknown["error"]);
    assert_eq!(wrong["error"]["message"], "Invalid credentials");
}

#[tokio::test]
async fn logout_revokes_the_token_on_the_very_next_request_and_only_that_session() {
    let app = spawn_app().await;
    let (email, first) = app.new_user().await;
    let second: serde_json::Value = app
        .log_in(&email, PASSWORD)
        .await
        .json()
        .await
        .expect("json");

    let resp = app.log_out(&token(&first)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let body: serde_json::Value = resp.json().await.expect("json");
    assert_eq!(body, json!({"message": "Logged out successfully"}));

    let me = app.me(&token(&first)).await;
    assert_eq!(
        me.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    let body = assert_error(me, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
    assert_eq!(body["error"]["message"], "Invalid or expired token");
    // Logging out again with the dead token is refused too.
    assert_error(
        app.log_out(&token(&first)).await,
        StatusCode::UNAUTHORIZED,
        "AUTH_REVOKED",
    )
    .await;
    // The other session is untouched.
    assert_eq!(app.me(&token(&second)).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn protected_routes_without_a_token_answer_401_auth_missing() {
    let app = spawn_app().await;
    let me = app
        .client
        .get(app.url("/api/auth/me"))
        .send()
        .await
        .expect("request");
    assert_eq!(me.headers()["www-authenticate"], "Bearer");
    assert_error(me, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
    let logout = app
        .client
        .post(app.url("/api/auth/logout"))
        .send()
        .await
        .expect("request");
    assert_error(logout, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer   "] {
        let resp = app
            .client
            .get(app.url("/api/auth/me"))
            .header("authorization", header)
            .send()
            .await
            .expect("request");
        assert_eq!(resp.headers()["www-authenticate"], "Bearer", "{header}");
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_MISSING").await;
    }
}

#[tokio::test]
async fn fifty_parallel_signups_of_one_email_create_exactly_one_account() {
    let app = spawn_app().await;
    let email = unique_email();
    let attempts = (0..50).map(|_| app.sign_up(&email, PASSWORD));
    let statuses: Vec<StatusCode> = futures::future::join_all(attempts)
        .await
        .into_iter()
        .map(|r| r.status())
        .collect();
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    let conflicts = statuses
        .iter()
        .filter(|s| **s == StatusCode::CONFLICT)
        .count();
    assert_eq!((created, conflicts), (1, 49), "{statuses:?}");
}

#[tokio::test]
async fn fifty_parallel_logouts_of_one_session_answer_only_the_contracts_codes_and_log_it_once() {
    let app = spawn_app().await;
    let (email, first) = app.new_user().await;
    let second: serde_json::Value = app
        .log_in(&email, PASSWORD)
        .await
        .json()
        .await
        .expect("json");
    let doomed = token(&second);
    let attempts = (0..50).map(|_| app.log_out(&doomed));
    let mut ok = 0;
    for resp in futures::future::join_all(attempts).await {
        match resp.status() {
            StatusCode::OK => ok += 1,
            StatusCode::UNAUTHORIZED => {
                assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(ok >= 1);
    assert_error(
        app.me(&doomed).await,
        StatusCode::UNAUTHORIZED,
        "AUTH_REVOKED",
    )
    .await;
    let user_id = first["user_id"].as_str().expect("user id");
    let log: serde_json::Value = app
        .client
        .get(app.url(&format!("/api/{user_id}/auth-events?limit=100")))
        .bearer_auth(token(&first))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let logouts = log["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["event_type"] == "logout")
        .count();
    assert_eq!(logouts, 1, "one session, one logout event");
}
