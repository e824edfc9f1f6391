//! Two gatehouse instances on one PostgreSQL database: a revocation through one reaches
//! the other's liveness cache within the contract's one second (`LISTEN/NOTIFY`), even
//! though that cache would otherwise answer for an hour.
//!
//! PostgreSQL only: run by the `needs_postgres` harness, which reports these tests
//! ignored when no server answers (see `needs_postgres.rs`).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use sea_orm::ConnectionTrait as _;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, TestApp, assert_error, start_app, token};

/// Entries live an hour: only an invalidation can make the other instance refuse. Set
/// past the configuration, which refuses more than the contract's one second.
fn long_ttl(settings: &mut adapters::config::Settings) {
    settings.session_cache.ttl_secs = 3600;
}

/// The contract's bound for every other instance.
const WITHIN: Duration = Duration::from_secs(1);

/// Two instances on one fresh PostgreSQL database (the first holds it).
async fn instances() -> (TestApp, TestApp) {
    let postgres = testkit::postgres::create().await;
    let url = postgres.url.clone();
    let dir = || tempfile::tempdir().expect("temp dir");
    let first = start_app(url.clone(), dir(), Some(postgres), &[], long_ttl).await;
    let second = start_app(url, dir(), None, &[], long_ttl).await;
    (first, second)
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

pub(crate) async fn logout_through_one_instance_is_refused_at_once_there_and_within_a_second_by_another()
 {
    let (a, b) = instances().await;
    let (_, user_id, token) = sign_up(&a).await;
    assert_eq!(a.me(&token).await.status(), StatusCode::OK);
    warm_cache_of(&b, &a, &token, &user_id).await;

    assert_eq!(a.log_out(&token).await.status(), StatusCode::OK);
    let logged_out = Instant::now();

    assert_error(a.me(&token).await, StatusCode::UNAUTHORIZED, "AUTH_REVOKED").await;
    refused_within_a_second(&b, &token, logged_out).await;
}

pub(crate) async fn a_password_change_through_one_instance_revokes_the_other_sessions_on_another_within_a_second()
 {
    let (a, b) = instances().await;
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

pub(crate) async fn deactivation_through_one_instance_is_refused_at_once_there_and_within_a_second_by_another()
 {
    let (a, b) = instances().await;
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

/// A TCP proxy to PostgreSQL that can make every connection that ran `LISTEN` go
/// silent: kept open, nothing forwarded either way any more — what a NAT or firewall
/// that dropped the connection's mapping does. The other connections keep working.
struct SilencingProxy {
    port: u16,
    silenced: Arc<AtomicBool>,
}

impl SilencingProxy {
    async fn start(upstream: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        let silenced = Arc::new(AtomicBool::new(false));
        let all_silenced = Arc::clone(&silenced);
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let silenced = Arc::clone(&all_silenced);
                let upstream = upstream.clone();
                tokio::spawn(async move {
                    let Ok(server) = tokio::net::TcpStream::connect(&upstream).await else {
                        return;
                    };
                    let listens = Arc::new(AtomicBool::new(false));
                    let (client_read, client_write) = client.into_split();
                    let (server_read, server_write) = server.into_split();
                    tokio::join!(
                        pump(client_read, server_write, true, &listens, &silenced),
                        pump(server_read, client_write, false, &listens, &silenced),
                    );
                });
            }
        });
        Self { port, silenced }
    }

    fn silence_listeners(&self) {
        self.silenced.store(true, Ordering::SeqCst);
    }
}

/// Copies `from` to `to`; marks the connection as a listener when the client sends
/// `LISTEN`; once it is one and listeners are silenced, swallows everything and holds
/// both sockets open (no FIN, no RST: nothing tells the client).
async fn pump(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    from_client: bool,
    listens: &AtomicBool,
    silenced: &AtomicBool,
) {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        if from_client && buf[..n].windows(6).any(|w| w == b"LISTEN") {
            listens.store(true, Ordering::SeqCst);
        }
        if listens.load(Ordering::SeqCst) && silenced.load(Ordering::SeqCst) {
            // `from` and `to` stay open while this waits forever.
            std::future::pending::<()>().await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

/// Issue 14, point 5: a listener whose connection dies without an error. Instance `b`
/// reaches PostgreSQL through a proxy that silences its listening connection; its cache
/// would answer for an hour. A logout through `a` must still be refused by `b` within
/// the contract's second: `b` notices that its probes no longer come back and reads the
/// database.
pub(crate) async fn a_listener_that_dies_silently_stops_the_cache_within_a_second() {
    let database = testkit::postgres::create().await;
    let url = database.url.clone();
    let a = start_app(
        url.clone(),
        tempfile::tempdir().expect("temp dir"),
        Some(database),
        &[],
        long_ttl,
    )
    .await;
    let base =
        reqwest::Url::parse(&testkit::postgres::base()).expect("GATEHOUSE_TEST_POSTGRES is a URL");
    let upstream = format!(
        "{}:{}",
        base.host_str().expect("a host"),
        base.port().unwrap_or(5432)
    );
    let proxy = SilencingProxy::start(upstream).await;
    let mut through_proxy = reqwest::Url::parse(&url).expect("database URL");
    through_proxy.set_host(Some("127.0.0.1")).expect("host");
    through_proxy.set_port(Some(proxy.port)).expect("port");
    // In clear text, so that the proxy can tell the listening connection from the others.
    through_proxy.set_query(Some("sslmode=disable"));
    let b = start_app(
        through_proxy.to_string(),
        tempfile::tempdir().expect("temp dir"),
        None,
        &[],
        long_ttl,
    )
    .await;
    let (_, user_id, token) = sign_up(&a).await;
    warm_cache_of(&b, &a, &token, &user_id).await;

    proxy.silence_listeners();
    assert_eq!(a.log_out(&token).await.status(), StatusCode::OK);
    let logged_out = Instant::now();

    refused_within_a_second(&b, &token, logged_out).await;
}
