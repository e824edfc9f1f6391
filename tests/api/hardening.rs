//! Requests that should be refused (issue 13, part 3), over real HTTP — some of them
//! written byte by byte on a raw TCP connection, since no HTTP client sends them:
//!
//! - more than one `Authorization` header: 401 `AUTH_INVALID`, whichever comes first;
//! - a token with a `crit` header (RFC 7515 §4.1.11): 401 `AUTH_INVALID`;
//! - a method a route lacks, on a path that only has the route's shape: 404, not 405;
//! - malformed requests: those that reach the service are answered in the envelope;
//!   those the HTTP server (hyper) answers itself, before the service sees them, are
//!   pinned here as the documented exceptions (empty body, connection closed).
//!
//! On SQLite: nothing here depends on the database.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use adapters::token::key_id;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey};
use reqwest::StatusCode;
use secrecy::SecretString;
use serde_json::{Value, json};

use crate::helpers::{Backend, TEST_SECRET, TestApp, assert_error, spawn_app_on, token};

async fn spawn() -> TestApp {
    spawn_app_on(Backend::Sqlite, &[]).await
}

/// `GET /api/auth/me` with each of `authorizations` as its own header, in order.
async fn me_with(app: &TestApp, authorizations: &[&str]) -> reqwest::Response {
    let mut request = app.client.get(app.url("/api/auth/me"));
    for value in authorizations {
        // `header` appends: each value goes out as a header line of its own.
        request = request.header("authorization", *value);
    }
    request.send().await.expect("request")
}

/// Rows of `token_rejected` without a user and with `reason`: (rows, summed `count`).
async fn anonymous_rejections(app: &TestApp, reason: &str) -> (i64, i64) {
    use sea_orm::ConnectionTrait as _;
    let url = format!("sqlite://{}/gatehouse.db", app._dir.path().display());
    let db = sea_orm::Database::connect(&url)
        .await
        .expect("direct connection");
    let row = db
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            format!(
                "SELECT count(*), coalesce(sum(count), 0) FROM auth_events \
                 WHERE event_type = 'token_rejected' AND user_id IS NULL \
                 AND failure_reason = '{reason}'"
            ),
        ))
        .await
        .expect("query")
        .expect("a row");
    let rows: i64 = row.try_get_by_index(0).expect("rows");
    let total: i64 = row.try_get_by_index(1).expect("total");
    let _ = db.close().await;
    (rows, total)
}

#[tokio::test]
async fn two_authorization_headers_are_refused_as_auth_invalid_even_when_one_is_valid() {
    let app = spawn().await;
    let (_, body) = app.new_user().await;
    let bearer = format!("Bearer {}", token(&body));
    assert_eq!(me_with(&app, &[&bearer]).await.status(), StatusCode::OK);

    for headers in [
        [bearer.as_str(), "Bearer junk"],
        ["Bearer junk", bearer.as_str()],
        [bearer.as_str(), bearer.as_str()],
    ] {
        let resp = me_with(&app, &headers).await;

        assert_eq!(
            resp.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;
    }
    // Recorded as rejected tokens, as an unverifiable token is: without a user, since
    // none of the headers was read (one source within a minute: one row, counted).
    assert_eq!(anonymous_rejections(&app, "AUTH_INVALID").await, (1, 3));
    // The header means nothing on a public operation: it is not looked at there.
    let resp = app
        .client
        .get(app.url("/health"))
        .header("authorization", "Bearer a")
        .header("authorization", "Bearer b")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status(), StatusCode::OK);
}

/// The claims of a real token, signed again under `header`.
fn resign(token: &str, header: &Value) -> String {
    let payload = token.split('.').nth(1).expect("payload");
    let message = format!("{}.{payload}", URL_SAFE_NO_PAD.encode(header.to_string()));
    let signature = jsonwebtoken::crypto::sign(
        message.as_bytes(),
        &EncodingKey::from_secret(TEST_SECRET.as_bytes()),
        Algorithm::HS256,
    )
    .expect("sign");
    format!("{message}.{signature}")
}

#[tokio::test]
async fn a_token_with_a_crit_header_is_auth_invalid() {
    let app = spawn().await;
    let (_, body) = app.new_user().await;
    let genuine = token(&body);
    let kid = key_id(&SecretString::from(TEST_SECRET.to_owned()));
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": kid});
    // Re-signed without `crit`, the token is accepted: `crit` alone makes the difference.
    let plain = resign(&genuine, &header);
    assert_eq!(app.me(&plain).await.status(), StatusCode::OK);

    for crit in [json!(["exp"]), json!(["b64"]), json!([])] {
        let mut with_crit = header.clone();
        with_crit["crit"] = crit;
        let forged = resign(&genuine, &with_crit);

        let resp = app.me(&forged).await;

        assert_eq!(
            resp.headers()["www-authenticate"],
            r#"Bearer error="invalid_token""#
        );
        assert_error(resp, StatusCode::UNAUTHORIZED, "AUTH_INVALID").await;
    }
}

#[tokio::test]
async fn a_method_a_route_lacks_is_404_on_a_path_that_names_nothing_and_405_on_one_that_does() {
    let app = spawn().await;
    for path in ["/api/anything", "/api/auth", "/api/users/"] {
        let resp = app.client.get(app.url(path)).send().await.expect("request");
        assert!(resp.headers().get("allow").is_none(), "{path}");
        assert_error(resp, StatusCode::NOT_FOUND, "NOT_FOUND").await;
    }
    let user = "/api/0194a3b2-7c1d-7e3f-8a9b-0c1d2e3f4a50";
    let resp = app.client.get(app.url(user)).send().await.expect("request");
    assert_eq!(resp.headers()["allow"], "DELETE");
    assert_error(resp, StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED").await;
}

// ---------------------------------------------------------------------------------------
// Raw requests
// ---------------------------------------------------------------------------------------

/// An answer read off the wire.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Writes `request` as it is on a new connection and reads one answer: up to its
/// `Content-Length`, or until the server closes the connection.
async fn raw(app: &TestApp, request: Vec<u8>) -> Raw {
    let address = app.address.trim_start_matches("http://").to_owned();
    // The app runs on this test's runtime: block on a thread of its own.
    tokio::task::spawn_blocking(move || {
        let mut stream = TcpStream::connect(address).expect("connect");
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        // The server may answer and close before it has read all of an oversized
        // request: a failed write or a reset after the answer is part of the exchange.
        let _ = stream.write_all(&request);
        let mut received = Vec::new();
        let mut chunk = [0_u8; 16 * 1024];
        loop {
            let n = stream.read(&mut chunk).unwrap_or(0);
            if n == 0 {
                break;
            }
            received.extend_from_slice(&chunk[..n]);
            if let Some(answer) = parse(&received) {
                return answer;
            }
        }
        parse(&received).unwrap_or_else(|| {
            panic!(
                "an incomplete answer: {:?}",
                String::from_utf8_lossy(&received)
            )
        })
    })
    .await
    .expect("the raw exchange")
}

/// One complete answer in `bytes`, if there is one yet.
fn parse(bytes: &[u8]) -> Option<Raw> {
    let text = String::from_utf8_lossy(bytes);
    let (head, body) = text.split_once("\r\n\r\n")?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(n, _)| n == "content-length")?
        .1
        .parse()
        .ok()?;
    (body.len() >= length).then(|| Raw {
        status,
        headers,
        body: body[..length].to_owned(),
    })
}

#[tokio::test]
async fn two_authorization_header_lines_on_the_wire_are_refused_as_auth_invalid() {
    let app = spawn().await;
    let (_, body) = app.new_user().await;
    let request = format!(
        "GET /api/auth/me HTTP/1.1\r\nHost: gatehouse\r\nAuthorization: Bearer {}\r\n\
         Authorization: Bearer junk\r\nConnection: close\r\n\r\n",
        token(&body)
    );

    let answer = raw(&app, request.into_bytes()).await;

    assert_eq!(answer.status, 401, "{answer:?}");
    let body: Value = serde_json::from_str(&answer.body).expect("an envelope");
    assert_eq!(body["error"]["code"], "AUTH_INVALID", "{body}");
    assert_eq!(
        answer.header("www-authenticate"),
        Some(r#"Bearer error="invalid_token""#)
    );
}

/// Odd requests the HTTP server passes on: each is answered by the service, in the
/// envelope, with the contract's status and code.
#[tokio::test]
async fn odd_requests_that_reach_the_service_are_answered_in_the_envelope() {
    let app = spawn().await;
    let cases: [(&str, &[u8], u16, &str); 9] = [
        (
            "an unknown method",
            b"FOO /health HTTP/1.1\r\nHost: x\r\n\r\n",
            405,
            "METHOD_NOT_ALLOWED",
        ),
        (
            "GET on a path shaped like /api/{user_id}",
            b"GET /api/anything HTTP/1.1\r\nHost: x\r\n\r\n",
            404,
            "NOT_FOUND",
        ),
        (
            "a path that decodes to no UTF-8",
            b"GET /api/%FF%FE HTTP/1.1\r\nHost: x\r\n\r\n",
            404,
            "NOT_FOUND",
        ),
        (
            "a malformed percent escape",
            b"GET /health%ZZ HTTP/1.1\r\nHost: x\r\n\r\n",
            404,
            "NOT_FOUND",
        ),
        (
            "the asterisk form",
            b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n",
            404,
            "NOT_FOUND",
        ),
        (
            "CONNECT",
            b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
            404,
            "NOT_FOUND",
        ),
        (
            "HTTP/1.0 without Host",
            b"GET /api/auth/me HTTP/1.0\r\n\r\n",
            401,
            "AUTH_MISSING",
        ),
        (
            "an Authorization header that is not ASCII",
            b"GET /api/auth/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a\xffb\r\n\r\n",
            401,
            "AUTH_INVALID",
        ),
        (
            "a malformed chunk size",
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
              Transfer-Encoding: chunked\r\n\r\nZZ\r\n{}\r\n0\r\n\r\n",
            400,
            "VALIDATION_ERROR",
        ),
    ];
    for (what, request, status, code) in cases {
        let answer = raw(&app, request.to_vec()).await;

        assert_eq!(answer.status, status, "{what}: {answer:?}");
        let body: Value = serde_json::from_str(&answer.body)
            .unwrap_or_else(|e| panic!("{what}: an envelope ({e}): {answer:?}"));
        assert_eq!(body["error"]["code"], code, "{what}: {body}");
        assert_eq!(
            Some(body["meta"]["request_id"].as_str().expect("request_id")),
            answer.header("x-request-id"),
            "{what}"
        );
    }
}

/// The exceptions: requests hyper cannot parse are answered by hyper itself, before any
/// part of the service runs and with no hook to shape the answer — the status alone, an
/// empty body, and the connection closed. README and the spec's description list them;
/// this pins them, so that a server upgrade that changes them is noticed.
///
/// Not pinned: a request head over hyper's read buffer (about 400 KiB) is 431 only when
/// its bytes arrive in pieces; on a loaded machine a 500 KiB header has been read whole
/// and served (200). That limit is hyper's, by timing, not a contract.
#[tokio::test]
async fn malformed_requests_are_answered_by_the_http_server_with_an_empty_body_and_closed() {
    let app = spawn().await;
    let many_headers: String = (0..101).map(|i| format!("X-{i}: a\r\n")).collect();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        (
            "a request line that is not HTTP",
            b"GARBAGE\r\n\r\n".to_vec(),
            400,
        ),
        (
            "an HTTP/0.9 request line",
            b"GET /health\r\n\r\n".to_vec(),
            400,
        ),
        (
            "an unknown HTTP version",
            b"GET /health HTTP/9.9\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a method that is not a token",
            b"G@T /health HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a space in the target",
            b"GET /he alth HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a header line without a colon",
            b"GET /health HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a space before the colon",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A : a\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a folded header line",
            b"GET /health HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a control character in a header value",
            b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: a\x00b\r\n\r\n".to_vec(),
            400,
        ),
        (
            "two different Content-Lengths",
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\
              Content-Length: 3\r\n\r\n{}"
                .to_vec(),
            400,
        ),
        (
            "a Content-Length that is not a number",
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n".to_vec(),
            400,
        ),
        (
            "a Transfer-Encoding that does not end in chunked",
            b"POST /api/auth/login HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n".to_vec(),
            400,
        ),
        (
            "Transfer-Encoding in HTTP/1.0",
            b"POST /api/auth/login HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "more than 100 header lines",
            format!("GET /health HTTP/1.1\r\nHost: x\r\n{many_headers}\r\n").into_bytes(),
            431,
        ),
        (
            "a target of 64 KiB or more",
            format!("GET /{} HTTP/1.1\r\nHost: x\r\n\r\n", "a".repeat(64 * 1024)).into_bytes(),
            414,
        ),
    ];
    for (what, request, status) in cases {
        let answer = raw(&app, request).await;

        assert_eq!(answer.status, status, "{what}: {answer:?}");
        assert_eq!(answer.header("content-length"), Some("0"), "{what}");
        assert_eq!(answer.header("connection"), Some("close"), "{what}");
        assert_eq!(answer.header("x-request-id"), None, "{what}");
    }
}
