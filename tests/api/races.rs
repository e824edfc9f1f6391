//! Races between a password change and a login with the old password, over real HTTP
//! with the production Argon2 settings (issue 14, point 2). The login is sent at delays
//! swept across the change's duration, so that in some trials it verifies the old hash
//! before the change commits and writes after it. Whatever the interleaving, once the
//! change answered 204: no session opened with the old password is live, the new
//! password works and the old one does not.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use super::spawn_app;
use crate::helpers::{PASSWORD, TestApp, token, unique_email};

/// What the password is changed to.
const NEW_PASSWORD: &str = "Battery-Staple-77";
/// Trials per battery: enough that, on the code before the fix, some login lands in the
/// window (about one verification wide) in practically every run.
const TRIALS: u32 = 24;

/// A signed-up user: (email, user id, token).
async fn sign_up(app: &TestApp) -> (String, String, String) {
    let email = unique_email();
    let resp = app.sign_up(&email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    let body: Value = resp.json().await.expect("json");
    let user_id = body["user_id"].as_str().expect("user_id").to_owned();
    (email, user_id, token(&body))
}

async fn change_password(app: &TestApp, user_id: &str, token: &str) -> StatusCode {
    app.client
        .put(app.url(&format!("/api/{user_id}/password")))
        .bearer_auth(token)
        .json(&json!({"current_password": PASSWORD, "new_password": NEW_PASSWORD}))
        .send()
        .await
        .expect("request")
        .status()
}

/// How long one password change takes here (verification, hash, write): the span the
/// logins' delays are swept across.
async fn change_duration(app: &TestApp) -> Duration {
    let (_, user_id, token) = sign_up(app).await;
    let started = Instant::now();
    assert_eq!(
        change_password(app, &user_id, &token).await,
        StatusCode::NO_CONTENT
    );
    started.elapsed()
}

/// What a battery saw.
#[derive(Debug, Default)]
struct Tally {
    /// Trials whose change answered 204.
    changed: u32,
    /// Of those, trials whose old-password login answered 200 (and had its session
    /// revoked by the change, as the battery checks).
    logins_before_change: u32,
    /// Trials whose change answered 403 (a concurrent re-hash won the compare-and-swap).
    change_refused: u32,
}

/// Runs the battery: `users` signs up (on the instance that made the stored hashes),
/// `app` changes passwords and logs in.
async fn battery(users: &TestApp, app: &TestApp) -> Tally {
    let span = change_duration(app).await;
    let mut tally = Tally::default();
    for trial in 0..TRIALS {
        let (email, user_id, signup_token) = sign_up(users).await;
        let delay = span * trial / TRIALS;
        let change = change_password(app, &user_id, &signup_token);
        let login = async {
            tokio::time::sleep(delay).await;
            app.log_in(&email, PASSWORD).await
        };
        let (changed, login) = tokio::join!(change, login);
        let login_status = login.status();
        let login_token = if login_status == StatusCode::OK {
            Some(token(&login.json().await.expect("json")))
        } else {
            assert_eq!(login_status, StatusCode::UNAUTHORIZED, "trial {trial}");
            None
        };

        match changed {
            StatusCode::NO_CONTENT => {
                tally.changed += 1;
                if let Some(login_token) = &login_token {
                    tally.logins_before_change += 1;
                    assert_eq!(
                        app.me(login_token).await.status(),
                        StatusCode::UNAUTHORIZED,
                        "trial {trial} (login {delay:?} after the change started): a session \
                         opened with the old password outlives the change"
                    );
                }
                assert_eq!(
                    app.log_in(&email, NEW_PASSWORD).await.status(),
                    StatusCode::OK,
                    "trial {trial} (login {delay:?} after the change started): the new \
                     password is refused after the change's 204"
                );
                assert_eq!(
                    app.log_in(&email, PASSWORD).await.status(),
                    StatusCode::UNAUTHORIZED,
                    "trial {trial} (login {delay:?} after the change started): the old \
                     password still works after the change's 204"
                );
            }
            StatusCode::FORBIDDEN => {
                tally.change_refused += 1;
                // Refused: nothing changed; the old password is the password.
                assert_eq!(
                    app.log_in(&email, PASSWORD).await.status(),
                    StatusCode::OK,
                    "trial {trial}: a refused change changed the password"
                );
            }
            other => panic!("trial {trial}: the change answered {other}"),
        }
    }
    tally
}

#[tokio::test]
async fn a_login_with_the_old_password_racing_a_password_change_never_keeps_a_live_session() {
    let app = spawn_app().await;

    let tally = battery(&app, &app).await;

    // The login never touches the hash here: nothing can make the change lose.
    assert_eq!(tally.changed, TRIALS, "{tally:?}");
}

#[tokio::test]
async fn a_login_that_rehashes_the_old_password_racing_a_password_change_never_undoes_the_change() {
    // Users sign up under older parameters (t = 3); the instance under test verifies with
    // the production ones (t = 2), so every first login re-hashes.
    let app = spawn_app_with_old_hashes().await;
    let current = app.another_instance(&[]).await;

    let tally = battery(&app, &current).await;

    assert!(
        tally.changed > 0,
        "no trial changed the password: {tally:?}"
    );
}

/// An app that hashes with t = 3 (what the production settings were before).
async fn spawn_app_with_old_hashes() -> TestApp {
    super::spawn_app_with(&[("ARGON2_ITERATIONS", "3")]).await
}
