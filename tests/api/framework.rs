//! Errors raised by the framework, not a handler, still answer in the envelope.

use reqwest::StatusCode;
use serde_json::Value;

use super::spawn_app;
use crate::helpers::assert_error;

#[tokio::test]
async fn an_unknown_route_is_404_not_found_in_the_envelope() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/no/such/route"))
        .send()
        .await
        .expect("request");
    let body = assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    assert_eq!(body["error"]["message"], "Resource not found");
}

#[tokio::test]
async fn a_wrong_method_is_405_with_allow() {
    let app = spawn_app().await;
    let resp = app
        .client
        .get(app.url("/api/auth/login"))
        .send()
        .await
        .expect("request");
    assert_eq!(resp.headers()["allow"], "POST");
    assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}

#[tokio::test]
async fn malformed_json_and_wrong_types_are_400_validation_error_naming_the_fields() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("request");
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    assert_eq!(body["error"]["details"]["fields"][0]["field"], "body");

    let resp = app
        .post_json("/api/auth/signup", &serde_json::json!({"email": 42}))
        .await;
    let body = assert_error(resp, StatusCode::BAD_REQUEST, "VALIDATION_ERROR").await;
    let mut fields: Vec<&str> = body["error"]["details"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .filter_map(|f| f["field"].as_str())
        .collect();
    fields.sort_unstable();
    assert_eq!(fields, ["email", "password"]);
    assert!(!body.to_string().contains("ParseRequestPayloadError"));
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = spawn_app().await;
    let resp = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "text/plain")
        .body("email=a")
        .send()
        .await
        .expect("request");
    assert_error(
        resp,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "UNSUPPORTED_MEDIA_TYPE",
    )
    .await;
}

#[tokio::test]
async fn a_body_over_64_kib_is_413_with_or_without_content_length() {
    let app = spawn_app().await;
    let big = vec![b'a'; 65 * 1024];
    let resp = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("content-type", "application/json")
        .body(big.clone())
        .send()
        .await
        .expect("request");
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;

    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        big.chunks(8192).map(|c| Ok(c.to_vec())).collect();
    let stream = futures::stream::iter(chunks);
    let resp = app
        .client
        .post(app.url("/api/auth/signup"))
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .expect("request");
    assert_error(resp, StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE").await;
}

#[tokio::test]
async fn an_incoming_uuid_request_id_is_echoed_and_anything_else_replaced() {
    let app = spawn_app().await;
    let id = "0193e5a2-1c3f-7000-8000-000000000001";
    let resp = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", id)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.headers()["x-request-id"], id);
    let resp = app
        .client
        .get(app.url("/nope"))
        .header("x-request-id", "not-a-uuid")
        .send()
        .await
        .expect("request");
    let echoed = resp.headers()["x-request-id"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&echoed).is_ok());
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["meta"]["request_id"], echoed.as_str());
}

#[tokio::test]
async fn health_ready_docs_and_the_spec_answer() {
    let app = spawn_app().await;
    let health: Value = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(health["status"], "ok");
    assert_eq!(health["service"], "gatehouse");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    let ready = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("request");
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<Value>().await.expect("json")["status"],
        "ready"
    );
    let docs = app
        .client
        .get(app.url("/docs"))
        .send()
        .await
        .expect("request");
    assert_eq!(docs.status(), StatusCode::OK);
    assert!(docs.text().await.expect("html").contains("SwaggerUIBundle"));
    let spec: Value = app
        .client
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(
        spec,
        adapters::http::openapi_document().expect("the document")
    );
}
