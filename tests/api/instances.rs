//! Two gatehouse instances on one PostgreSQL database: a revocation through one reaches
//! the other's liveness cache within the contract's one second (`LISTEN/NOTIFY`), even
//! though that cache would otherwise answer for an hour.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, spawn_two_instances_on_postgres, token};

/// Entries live an hour: only an invalidation can make the other instance refuse. Set
/// past the configuration, which refuses more than the contract's one second.
fn long_ttl(settings: &mut adapters::config::Settings) {
    settings.session_cache.ttl_secs = 3600;
}

/// The contract's bound for every other instance.
const WITHIN: Duration = Duration::from_secs(1);

/// Two instances, or `None` (and the test passes vacuously) without PostgreSQL outside
/// CI, as the other PostgreSQL tests do.
async fn instances() -> Option<(TestApp, TestApp)> {
    spawn_two_instances_on_postgres(&[], long_ttl).await
}

async fn me_email(app: &TestApp, token: &str) -> Option<String> {
    let resp = app.me(token).await;
    if resp.status() != StatusCode::OK {
        return None;
    }
    let body: Value = resp.json().await.expect("json");
    body["email"].as_str().map(str::to_owned)
}

/// Waits until instance `b` answers `token` from its cache, shown by a change made
/// behind gatehouse's back (raw SQL, no notification) that `b` does not see. This is the
/// premise of the tests below: without it, `b` refusing could be `b` reading the
/// database. The change is undone before returning.
async fn warm_cache_of(b: &TestApp, a: &TestApp, token: &str, user_id: &str) {
    let database = a
        ._postgres
        .as_ref()
        .expect("the first instance holds the database");
    let db = sea_orm::Database::connect(&database.url)
        .await
        .expect("connect");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let email = me_email(b, token).await.expect("token accepted by b");
        db.execute_unprepared(&format!(
            "UPDATE users SET email = 'behind-the-back-' || email WHERE id = '{user_id}'"
        ))
        .await
        .expect("raw update");
        let seen = me_email(b, token).await.expect("token accepted by b");
        db.execute_unprepared(&format!(
            "UPDATE users SET email = substr(email, length('behind-the-back-') + 1) WHERE id = '{user_id}'"
        ))
        .await
        .expect("raw undo");
        if seen == email {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "instance b never answered from its cache (listener not subscribed?)"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = db.close().await;
}

/// Polls `b` with `token` until it answers 401 AUTH_REVOKED, failing after [`WITHIN`]
/// from `since`.
async fn refused_within_a_second(b: &TestApp, token: &str, since: Instant) {
    loop {
        let resp = b.me(token).await;
        if resp.status() == StatusCode::UNAUTHORIZED {
            assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
            return;
        }
        assert_eq!(resp.status(), StatusCode::OK);
        assert!(
            since.elapsed() <= WITHIN,
            "the other instance still accepts the token after {:?}",
            since.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn sign_up(app: &TestApp) -> (String, String, String) {
    let (email, body) = app.new_user().await;
    let user_id = body["user_id"].as_str().expect("user_id").to_owned();
    (email, user_id, token(&body))
}

#[tokio::test]
async fn logout_through_one_instance_is_refused_at_once_there_and_within_a_second_by_another() {
    let Some((a, b)) = instances().await else {
        return;
    };
    let (_, user_id, token) = sign_up(&a).await;
    assert_eq!(a.me(&token).await.status(), StatusCode::OK);
    warm_cache_of(&b, &a, &token, &user_id).await;

    assert_eq!(a.log_out(&token).await.status(), StatusCode::OK);
    let logged_out = Instant::now();

    assert_error(a.me(&token).await, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
    refused_within_a_second(&b, &token, logged_out).await;
}

#[tokio::test]
async fn a_password_change_through_one_instance_revokes_the_other_sessions_on_another_within_a_second()
 {
    let Some((a, b)) = instances().await else {
        return;
    };
    let (email, user_id, kept) = sign_up(&a).await;
    let resp = a.log_in(&email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::OK);
    let other = token(&resp.json().await.expect("json"));
    warm_cache_of(&b, &a, &other, &user_id).await;
    assert_eq!(b.me(&kept).await.status(), StatusCode::OK);

    let resp = a
        .client
        .put(a.url(&format!("/api/{user_id}/password")))
        .bearer_auth(&kept)
        .json(&json!({"current_password": PASSWORD, "new_password": "Another-Horse-43"}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let changed = Instant::now();

    assert_error(a.me(&other).await, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
    refused_within_a_second(&b, &other, changed).await;
    assert_eq!(
        b.me(&kept).await.status(),
        StatusCode::OK,
        "this session is kept"
    );
}

#[tokio::test]
async fn deactivation_through_one_instance_is_refused_at_once_there_and_within_a_second_by_another()
{
    let Some((a, b)) = instances().await else {
        return;
    };
    let (_, user_id, token) = sign_up(&a).await;
    warm_cache_of(&b, &a, &token, &user_id).await;

    let resp = a
        .client
        .delete(a.url(&format!("/api/{user_id}")))
        .bearer_auth(&token)
        .json(&json!({"password": PASSWORD}))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let deactivated = Instant::now();

    assert_error(a.me(&token).await, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
    refused_within_a_second(&b, &token, deactivated).await;
}
