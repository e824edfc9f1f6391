//! The Rust client that progenitor generates from `contracts/auth.yaml` (crate
//! `gatehouse-client`, rebuilt whenever the spec changes) drives the whole flow against the
//! real app, and decodes errors into the spec's typed envelope. A spec change that breaks
//! generated clients (a wrong schema, a missing status, a renamed operation) fails here.

use gatehouse_client::reqwest::header::{AUTHORIZATION, HeaderMap, HeaderValue};
use gatehouse_client::types::{
    AuthEventEventType, AuthEventFailureReason, AuthEventType, Credentials, ErrorBodyCode,
    ErrorCode, ErrorDetails, ErrorEnvelope,
};
use gatehouse_client::{Client, Error};

use super::spawn_app;
use crate::helpers::{PASSWORD, unique_email};

fn client_with_token(address: &str, token: &str) -> Client {
    let mut headers = HeaderMap::new();
    let mut value = HeaderValue::from_str(&format!("Bearer {token}")).expect("header value");
    value.set_sensitive(true);
    headers.insert(AUTHORIZATION, value);
    let http = gatehouse_client::reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client");
    Client::new_with_client(address, http)
}

/// The typed envelope of an error answer, with its status.
fn envelope<T: std::fmt::Debug>(result: Result<T, Error<ErrorEnvelope>>) -> (u16, ErrorEnvelope) {
    match result {
        Err(Error::ErrorResponse(response)) => {
            let status = response.status().as_u16();
            (status, response.into_inner())
        }
        other => panic!("expected an error answer in the envelope, got {other:?}"),
    }
}

#[tokio::test]
async fn the_generated_rust_client_drives_signup_to_logout_and_decodes_auth_revoked() {
    let app = spawn_app().await;
    let anonymous = Client::new(&app.address);
    let email = unique_email();
    // The spec's bounds (`maxLength`) make typed strings: they are checked client-side.
    let credentials = Credentials {
        email: email.parse().expect("an email within the spec's bounds"),
        password: PASSWORD
            .parse()
            .expect("a password within the spec's bounds"),
    };

    let signed_up = anonymous.sign_up(&credentials).await.expect("signup");
    assert_eq!(signed_up.status().as_u16(), 201);
    let signed_up = signed_up.into_inner();
    assert_eq!(signed_up.email.as_str(), email);
    assert_eq!(signed_up.token_type.to_string(), "Bearer");

    let logged_in = anonymous
        .log_in(&credentials)
        .await
        .expect("login")
        .into_inner();
    assert_eq!(logged_in.user_id, signed_up.user_id);
    assert_ne!(logged_in.session_id, signed_up.session_id);

    let client = client_with_token(&app.address, &logged_in.token);
    let me = client.get_current_user().await.expect("me").into_inner();
    assert_eq!(me.user_id, signed_up.user_id);
    assert_eq!(me.email.as_str(), email);
    assert!(me.is_active);
    assert!(me.last_login.is_some());

    let profile = client
        .get_profile(&me.user_id)
        .await
        .expect("profile")
        .into_inner();
    assert_eq!(profile.email.as_str(), email);

    let events = client
        .list_auth_events(&me.user_id, None, None)
        .await
        .expect("auth events")
        .into_inner();
    // Known values decode into the spec's enum (the open set's first branch).
    let types: Vec<AuthEventType> = events
        .data
        .iter()
        .map(|e| match &e.event_type {
            AuthEventEventType::AuthEventType(known) => *known,
            other => panic!("a known event type decoded as {other:?}"),
        })
        .collect();
    assert_eq!(types, [AuthEventType::Login, AuthEventType::Signup]);
    assert!(
        events
            .data
            .iter()
            .all(|e| matches!(e.failure_reason, AuthEventFailureReason::Variant1(None)))
    );
    assert!(events.data.iter().all(|e| e.success && e.count.get() == 1));
    assert_eq!(events.next_cursor, None);

    let sessions = client
        .list_sessions(&me.user_id)
        .await
        .expect("sessions")
        .into_inner();
    assert_eq!(sessions.data.len(), 2);
    let current: Vec<_> = sessions.data.iter().filter(|s| s.current).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0].session_id, logged_in.session_id);

    let bye = client.log_out().await.expect("logout").into_inner();
    assert_eq!(bye.message.as_str(), "Logged out successfully");

    let (status, refused) = envelope(client.get_current_user().await);
    assert_eq!(status, 401);
    assert!(matches!(
        refused.error.code,
        ErrorBodyCode::ErrorCode(ErrorCode::AuthRevoked)
    ));
    assert_eq!(refused.error.message.as_str(), "Invalid or expired token");
    assert!(refused.error.details.is_none());
    assert!(!refused.meta.request_id.is_nil());

    // The signup session is untouched by logging out the other one.
    let other = client_with_token(&app.address, signed_up.token.as_str());
    assert_eq!(
        other
            .get_current_user()
            .await
            .expect("me")
            .into_inner()
            .email
            .as_str(),
        email
    );
}

#[tokio::test]
async fn the_generated_rust_client_decodes_a_weak_password_into_typed_violations() {
    let app = spawn_app().await;
    let client = Client::new(&app.address);
    let weak = Credentials {
        email: unique_email().parse().expect("email"),
        password: "short".parse().expect("password"),
    };
    let (status, refused) = envelope(client.sign_up(&weak).await);
    assert_eq!(status, 400);
    assert!(matches!(
        refused.error.code,
        ErrorBodyCode::ErrorCode(ErrorCode::ValidationPassword)
    ));
    // `details` is the one `ErrorDetails` object: exactly one of `fields` / `violations`.
    let details: Option<ErrorDetails> = refused.error.details;
    let details = details
        .and_then(|d| d.0)
        .expect("details of VALIDATION_PASSWORD");
    assert!(details.fields.is_empty(), "{details:?}");
    let rules: Vec<String> = details
        .violations
        .iter()
        .map(|v| v.rule.to_string())
        .collect();
    assert_eq!(rules, ["min_length", "uppercase", "digit"]);
}
