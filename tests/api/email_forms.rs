//! One account per address, whatever Unicode form it is typed in (issue 13, part 3):
//! signing up again in another form is 409 `CONFLICT_EMAIL`, logging in with another form
//! reaches the account, the per-account throttle counts every form together, and the
//! address is answered as it was typed at sign-up.

use reqwest::StatusCode;

use super::{spawn_app, spawn_app_with};
use crate::helpers::{PASSWORD, assert_error};

/// A fresh hexadecimal tag, so that each test's addresses are its own: twelve random
/// hex digits, short enough that a fullwidth local part (three bytes a character) stays
/// within the 64 bytes a local part may have.
fn tag() -> String {
    let hex = uuid::Uuid::new_v4().simple().to_string();
    hex[hex.len() - 12..].to_owned()
}

/// `ascii` in fullwidth forms (U+FF01..U+FF5E), as an East Asian input method types it.
fn fullwidth(ascii: &str) -> String {
    ascii
        .chars()
        .map(|c| match c {
            '!'..='~' => char::from_u32(c as u32 + 0xFEE0).expect("fullwidth form exists"),
            other => other,
        })
        .collect()
}

/// Pairs of addresses that look the same (or name the same mailbox) but differ as
/// strings: (what differs, the form that signs up, the other form). Each pair has its own
/// tag, so that pairs never meet.
fn look_alike_pairs() -> Vec<(&'static str, String, String)> {
    let (a, b, c, d, e) = (tag(), tag(), tag(), tag(), tag());
    vec![
        (
            "precomposed vs decomposed",
            format!("jos\u{e9}-{a}@example.com"),
            format!("jose\u{301}-{a}@example.com"),
        ),
        (
            "fullwidth vs ASCII local part",
            format!("{}@example.com", fullwidth(&format!("jose-{b}"))),
            format!("jose-{b}@example.com"),
        ),
        (
            "IDN domain vs its punycode",
            format!("jose-{c}@b\u{fc}cher.de"),
            format!("jose-{c}@xn--bcher-kva.de"),
        ),
        (
            "quoted vs unquoted local part",
            format!("\"jose-{d}\"@example.com"),
            format!("jose-{d}@example.com"),
        ),
        (
            "case, fully folded",
            format!("Stra\u{df}e-{e}@Example.com"),
            format!("STRASSE-{e}@EXAMPLE.COM"),
        ),
    ]
}

/// Runs `check` on every look-alike pair and fails once, naming every pair that failed,
/// so that one run shows which of the forms are told apart.
async fn for_every_pair<F, Fut>(check: F)
where
    F: Fn(String, String) -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let mut failed = Vec::new();
    for (what, first, other) in look_alike_pairs() {
        if let Err(why) = check(first.clone(), other.clone()).await {
            failed.push(format!("{what} ({first:?} then {other:?}): {why}"));
        }
    }
    assert!(failed.is_empty(), "{}", failed.join("\n"));
}

#[tokio::test]
async fn signing_up_again_with_the_same_address_in_another_form_is_409_conflict_email() {
    let app = spawn_app().await;
    for_every_pair(|first, other| {
        let app = &app;
        async move {
            let status = app.sign_up(&first, PASSWORD).await.status();
            if status != StatusCode::CREATED {
                return Err(format!("first sign-up answered {status}"));
            }
            let again = app.sign_up(&other, PASSWORD).await;
            if again.status() != StatusCode::CONFLICT {
                return Err(format!("second sign-up answered {}", again.status()));
            }
            let body = assert_error(again, StatusCode::CONFLICT, "CONFLICT_EMAIL").await;
            assert_eq!(body["error"]["message"], "Email already registered");
            Ok(())
        }
    })
    .await;
}

#[tokio::test]
async fn logging_in_with_another_form_of_the_address_reaches_the_account_as_typed_at_signup() {
    let app = spawn_app().await;
    for_every_pair(|first, other| {
        let app = &app;
        async move {
            let resp = app.sign_up(&format!("  {first}\t"), PASSWORD).await;
            if resp.status() != StatusCode::CREATED {
                return Err(format!("sign-up answered {}", resp.status()));
            }
            let signed_up: serde_json::Value = resp.json().await.expect("json");
            if signed_up["email"] != first.as_str() {
                return Err(format!(
                    "sign-up answered the address {} instead of as typed (trimmed)",
                    signed_up["email"]
                ));
            }
            let resp = app.log_in(&other, PASSWORD).await;
            if resp.status() != StatusCode::OK {
                return Err(format!(
                    "login with the other form answered {}",
                    resp.status()
                ));
            }
            let logged_in: serde_json::Value = resp.json().await.expect("json");
            assert_eq!(logged_in["user_id"], signed_up["user_id"]);
            // Mail goes to the address typed at sign-up, whatever form logged in.
            assert_eq!(logged_in["email"], first.as_str());
            Ok(())
        }
    })
    .await;
}

#[tokio::test]
async fn failed_logins_in_every_form_of_the_address_count_towards_one_throttle() {
    let app = spawn_app_with(&[("LOGIN_THROTTLE_FAILURES", "3")]).await;
    let t = tag();
    let email = format!("jos\u{e9}-{t}@b\u{fc}cher.de");
    let resp = app.sign_up(&email, PASSWORD).await;
    assert_eq!(resp.status(), StatusCode::CREATED);
    for variant in [
        format!("jose\u{301}-{t}@xn--bcher-kva.de"),
        format!(
            "\"{}\u{e9}{}\"@B\u{dc}CHER.DE",
            fullwidth("jos"),
            fullwidth(&format!("-{t}"))
        ),
        format!("JOS\u{c9}-{t}@BU\u{308}CHER.DE"),
    ] {
        let resp = app.log_in(&variant, "Wrong-password-1").await;
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_FAILED").await;
    }
    let resp = app.log_in(&email, PASSWORD).await;
    assert_error(resp, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMIT_EXCEEDED").await;
}
