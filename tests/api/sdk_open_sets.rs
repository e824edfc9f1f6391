//! Contract v2 rule 4, for the Rust client progenitor generates from `contracts/auth.yaml`:
//! event types, failure reasons, error codes and password rules grow in later releases, and
//! a client generated from this spec must keep working when a newer server sends a value
//! the spec does not list. A stand-in server answers as such a release might; the client
//! must decode the answer and keep the value. (The HTTP suites run once per backend; this
//! needs no database, so it runs once.)

use gatehouse_client::types::{
    AuthEventEventType, AuthEventFailureReason, AuthEventType, ErrorBodyCode, ErrorEnvelope,
    FailureReason,
};
use gatehouse_client::{Client, Error};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpListener;

/// Answers every request on a loopback port with `status` and the JSON `body`, as a
/// later gatehouse release might: a stand-in server for what this spec does not know yet.
async fn canned_server(status: &'static str, body: serde_json::Value) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    let body = body.to_string();
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut request = vec![0_u8; 16 * 1024];
            // One read holds these small requests' heads; the body is ignored.
            let _ = stream.read(&mut request).await;
            let response = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 connection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes()).await;
            let _ = stream.shutdown().await;
        }
    });
    address
}

/// Against a spec with closed enums, progenitor's client refuses both bodies
/// (`Error::InvalidResponsePayload`: unknown variant).
#[tokio::test]
async fn the_generated_rust_client_keeps_values_a_later_release_adds() {
    let user_id = uuid::Uuid::new_v4();
    let events = canned_server(
        "200 OK",
        serde_json::json!({
            "data": [{
                "event_id": uuid::Uuid::new_v4(),
                "event_type": "some_future_event",
                "success": false,
                "failure_reason": "SOME_FUTURE_REASON",
                "ip_address": "127.0.0.1",
                "user_agent": null,
                "created_at": "2026-01-14T10:00:00Z",
                "count": 1
            }, {
                "event_id": uuid::Uuid::new_v4(),
                "event_type": "login_failed",
                "success": false,
                "failure_reason": "INVALID_CREDENTIALS",
                "ip_address": null,
                "user_agent": null,
                "created_at": "2026-01-14T09:00:00Z",
                "count": 1
            }],
            "next_cursor": null
        }),
    )
    .await;
    let page = Client::new(&events)
        .list_auth_events(&user_id, None, None)
        .await
        .expect("a page with an event type and a reason this spec does not list")
        .into_inner();
    let future = &page.data[0];
    assert!(
        matches!(&future.event_type, AuthEventEventType::String(s) if s.as_str() == "some_future_event"),
        "{:?}",
        future.event_type
    );
    assert_eq!(future.event_type.to_string(), "some_future_event");
    assert!(
        matches!(&future.failure_reason, AuthEventFailureReason::Variant1(Some(s)) if s.as_str() == "SOME_FUTURE_REASON"),
        "{:?}",
        future.failure_reason
    );
    let known = &page.data[1];
    assert!(matches!(
        known.event_type,
        AuthEventEventType::AuthEventType(AuthEventType::LoginFailed)
    ));
    assert!(matches!(
        known.failure_reason,
        AuthEventFailureReason::Variant0(FailureReason::InvalidCredentials)
    ));

    let refusing = canned_server(
        "403 Forbidden",
        serde_json::json!({
            "error": {
                "code": "SOME_FUTURE_CODE",
                "message": "Refused for a reason a later release adds",
                "details": {
                    "violations": [{ "rule": "some_future_rule", "message": "Too guessable" }]
                }
            },
            "meta": {
                "timestamp": "2026-01-14T10:00:00Z",
                "request_id": uuid::Uuid::new_v4()
            }
        }),
    )
    .await;
    let refused: ErrorEnvelope = match Client::new(&refusing).get_profile(&user_id).await {
        Err(Error::ErrorResponse(response)) => {
            assert_eq!(response.status().as_u16(), 403);
            response.into_inner()
        }
        other => panic!("expected the envelope with a code this spec does not list, got {other:?}"),
    };
    assert!(
        matches!(&refused.error.code, ErrorBodyCode::String(s) if s.as_str() == "SOME_FUTURE_CODE"),
        "{:?}",
        refused.error.code
    );
    let details = refused.error.details.and_then(|d| d.0).expect("details");
    let rules: Vec<String> = details
        .violations
        .iter()
        .map(|v| v.rule.to_string())
        .collect();
    assert_eq!(rules, ["some_future_rule"]);
}
