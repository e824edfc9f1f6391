//! Token refusals over HTTP: each case answers its contract code.

use adapters::token::key_id;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

use super::{spawn_app, spawn_app_with};
use crate::helpers::{TEST_SECRET, TestApp, assert_error, token};

/// The claims of a real token, for re-signing variants of it.
fn claims_of(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("payload");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).expect("base64")).expect("json")
}

fn sign(claims: &Value, secret: &str, kid: Option<String>, typ: &str) -> String {
    let mut header = Header::new(Algorithm::HS256);
    header.typ = Some(typ.to_owned());
    header.kid = kid;
    jsonwebtoken::encode(
        &header,
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("sign")
}

fn kid(secret: &str) -> Option<String> {
    Some(key_id(&SecretString::from(secret.to_owned())))
}

async fn refused(app: &TestApp, token: &str, code: &str) {
    let resp = app.me(token).await;
    assert_eq!(
        resp.headers()["www-authenticate"],
        r#"Bearer error="invalid_token""#
    );
    assert_error(resp, StatusCode::UNAUTHORIZED, code).await;
}

#[tokio::test]
async fn an_expired_token_is_auth_expired() {
    let app = spawn_app().await;
    let (_, body) = app.new_user().await;
    let mut claims = claims_of(&token(&body));
    let now = chrono::Utc::now().timestamp();
    claims["iat"] = json!(now - 7200);
    claims["nbf"] = json!(now - 7200);
    claims["exp"] = json!(now - 3600);
    refused(
        &app,
        &sign(&claims, TEST_SECRET, kid(TEST_SECRET), "at+jwt"),
        "AUTH_EXPIRED",
    )
    .await;
}

#[tokio::test]
async fn a_token_missing_a_required_claim_is_auth_invalid_claims() {
    let app = spawn_app().await;
    let (_, body) = app.new_user().await;
    for claim in ["sid", "jti", "iat", "aud"] {
        let mut claims = claims_of(&token(&body));
        claims.as_object_mut().expect("object").remove(claim);
        let forged = sign(&claims, TEST_SECRET, kid(TEST_SECRET), "at+jwt");
        refused(&app, &forged, "AUTH_INVALID_CLAIMS").await;
    }
}

#[tokio::test]
async fn a_token_with_a_wrong_key_issuer_audience_type_or_kid_is_auth_invalid() {
    let app = spawn_app().await;
    let (_, body) = app.new_user().await;
    let claims = claims_of(&token(&body));
    let other = "another-secret-that-is-long-enough-for-hs256-000000";
    refused(
        &app,
        &sign(&claims, other, kid(TEST_SECRET), "at+jwt"),
        "AUTH_INVALID",
    )
    .await;
    refused(
        &app,
        &sign(&claims, TEST_SECRET, kid(TEST_SECRET), "JWT"),
        "AUTH_INVALID",
    )
    .await;
    refused(
        &app,
        &sign(&claims, TEST_SECRET, None, "at+jwt"),
        "AUTH_INVALID",
    )
    .await;
    refused(
        &app,
        &sign(&claims, TEST_SECRET, Some("unknown".into()), "at+jwt"),
        "AUTH_INVALID",
    )
    .await;
    let mut wrong_iss = claims.clone();
    wrong_iss["iss"] = json!("someone-else");
    refused(
        &app,
        &sign(&wrong_iss, TEST_SECRET, kid(TEST_SECRET), "at+jwt"),
        "AUTH_INVALID",
    )
    .await;
    let mut wrong_aud = claims.clone();
    wrong_aud["aud"] = json!("another-api");
    refused(
        &app,
        &sign(&wrong_aud, TEST_SECRET, kid(TEST_SECRET), "at+jwt"),
        "AUTH_INVALID",
    )
    .await;
    let mut future = claims.clone();
    future["nbf"] = json!(chrono::Utc::now().timestamp() + 3600);
    refused(
        &app,
        &sign(&future, TEST_SECRET, kid(TEST_SECRET), "at+jwt"),
        "AUTH_INVALID",
    )
    .await;
}

#[tokio::test]
async fn alg_none_and_other_algorithms_are_refused() {
    let app = spawn_app().await;
    let (_, body) = app.new_user().await;
    let real = token(&body);
    let payload = real.split('.').nth(1).expect("payload");
    let kid = kid(TEST_SECRET).expect("kid");
    let none_header =
        URL_SAFE_NO_PAD.encode(json!({"alg": "none", "typ": "at+jwt", "kid": kid}).to_string());
    refused(&app, &format!("{none_header}.{payload}."), "AUTH_INVALID").await;
    let mut header = Header::new(Algorithm::HS512);
    header.typ = Some("at+jwt".into());
    header.kid = Some(kid);
    let hs512 = jsonwebtoken::encode(
        &header,
        &claims_of(&real),
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
    )
    .expect("sign");
    refused(&app, &hs512, "AUTH_INVALID").await;
}

#[tokio::test]
async fn malformed_tokens_and_oversized_headers_are_auth_invalid() {
    let app = spawn_app().await;
    for junk in ["abc", "a.b", "a.b.c", "a.b.c.d", "%%%.&&&.***"] {
        refused(&app, junk, "AUTH_INVALID").await;
    }
    refused(&app, &"a".repeat(9 * 1024), "AUTH_INVALID").await;
}

#[tokio::test]
async fn a_token_signed_with_a_listed_previous_secret_is_accepted_during_rotation() {
    let new_secret = "rotated-secret-that-is-long-enough-for-hs256-1234567";
    let app = spawn_app_with(&[
        ("JWT_SECRET", new_secret),
        ("JWT_PREVIOUS_SECRETS", TEST_SECRET),
    ])
    .await;
    let (_, body) = app.new_user().await;
    let issued = token(&body);
    assert_eq!(
        jsonwebtoken::decode_header(&issued).expect("header").kid,
        kid(new_secret),
        "new tokens are signed with the current secret"
    );
    let claims = claims_of(&issued);
    let old_token = sign(&claims, TEST_SECRET, kid(TEST_SECRET), "at+jwt");
    assert_eq!(app.me(&old_token).await.status(), StatusCode::OK);
    let unlisted = "retired-secret-that-is-long-enough-for-hs256-7654321";
    refused(
        &app,
        &sign(&claims, unlisted, kid(unlisted), "at+jwt"),
        "AUTH_INVALID",
    )
    .await;
}
