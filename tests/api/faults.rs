//! Database faults. On PostgreSQL, through a loopback TCP proxy the test can cut (the
//! app's connections die, as with a restart of PostgreSQL or `pg_terminate_backend`, and
//! new ones are refused), black-hole (nothing answers, nothing is closed) or slow down,
//! without touching the shared server the other tests use; and with a table another
//! session keeps locked (the statement timeout). On
//! SQLite, a full disk (a small tmpfs, which needs root and `mount`) and a file that
//! cannot be written (`chattr +i`, which needs root and a file system that has the
//! flag); each test says why it skips when it cannot set its fault up.
//!
//! The PostgreSQL tests and their proxy are compiled only by the `needs_postgres`
//! harness, which reports them ignored when no server answers (see `needs_postgres.rs`).

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Backend, PASSWORD, assert_error, spawn_app_on, token, unique_email};

// The PostgreSQL tests and their proxy: run by the `needs_postgres` harness.
needs_postgres! {
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt as _, AsyncWrite, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, watch};
use tokio::task::AbortHandle;

/// What the proxy does with the bytes it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Flow {
    /// Forwards each chunk after `delay` (a slow network).
    Open { delay: Duration },
    /// Holds every chunk, and forwards nothing of new connections either: a database that
    /// stopped answering, or a network that drops its packets. Nothing is lost: once the
    /// flow opens again the held bytes go on, as TCP's retransmissions would.
    Held,
}

/// Forwards loopback connections to PostgreSQL, until cut, black-holed or slowed down.
struct CuttableProxy {
    port: u16,
    open: Arc<AtomicBool>,
    flow: Arc<watch::Sender<Flow>>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let open = Arc::new(AtomicBool::new(true));
        let flow = Arc::new(watch::Sender::new(Flow::Open {
            delay: Duration::ZERO,
        }));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accept_open, accept_links, accept_flow) =
            (Arc::clone(&open), Arc::clone(&links), Arc::clone(&flow));
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                if !accept_open.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused mid-handshake
                }
                let upstream = upstream.clone();
                let (to_server, to_client) = (accept_flow.subscribe(), accept_flow.subscribe());
                let link = tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&upstream).await {
                        let (client_read, client_write) = client.into_split();
                        let (server_read, server_write) = server.into_split();
                        tokio::join!(
                            pump(client_read, server_write, to_server),
                            pump(server_read, client_write, to_client),
                        );
                    }
                });
                accept_links.lock().await.push(link.abort_handle());
            }
        });
        Self {
            port,
            open,
            flow,
            links,
        }
    }

    /// Kills every open connection and refuses new ones.
    async fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    /// Stops forwarding, on open connections and new ones alike, without closing any.
    fn black_hole(&self) {
        self.flow.send_replace(Flow::Held);
    }

    /// Forwards each chunk (each way) after `delay`.
    fn delay(&self, delay: Duration) {
        self.flow.send_replace(Flow::Open { delay });
    }

    /// Accepts and forwards again, at full speed (held bytes go on).
    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
        self.flow.send_replace(Flow::Open {
            delay: Duration::ZERO,
        });
    }
}

/// Copies `from` to `to` as `flow` allows, until either side closes.
async fn pump(
    mut from: impl AsyncRead + Unpin,
    mut to: impl AsyncWrite + Unpin,
    mut flow: watch::Receiver<Flow>,
) {
    let mut buf = vec![0_u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        loop {
            let current = *flow.borrow_and_update();
            match current {
                Flow::Open { delay } => {
                    tokio::time::sleep(delay).await;
                    break;
                }
                Flow::Held => {
                    if flow.changed().await.is_err() {
                        return;
                    }
                }
            }
        }
        if to.write_all(&buf[..n]).await.is_err() {
            break;
        }
    }
    let _ = to.shutdown().await;
}

fn upstream_of(url: &str) -> (String, String) {
    // postgres://user@host:port/db -> ("host:port", "postgres://user@")
    let (scheme_user, rest) = url.split_once('@').expect("user@host");
    let host_port = rest.split('/').next().expect("host:port").to_owned();
    (host_port, format!("{scheme_user}@"))
}

pub(crate) async fn a_database_outage_answers_503_keeps_health_up_and_recovers_without_a_restart()
{
    let database = testkit::postgres::create().await;
    let (upstream, _) = upstream_of(&database.url);
    let proxy = CuttableProxy::start(upstream).await;
    let url = through(&proxy, &database.url);
    let app = spawn_app_on(
        Backend::Sqlite,
        &[
            ("DATABASE_URL", &url),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "1"),
        ],
    )
    .await;
    let guard = reqwest::Client::builder()
        .timeout(Duration::from_secs(30)) // a generous guard against a hang, not a timing check
        .build()
        .expect("client");
    let (_, body) = app.new_user().await;
    let bearer = token(&body);

    proxy.cut().await;
    let me = guard
        .get(app.url("/api/auth/me"))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("answered, not hung");
    assert!(me.headers().contains_key("retry-after"));
    assert_error(me, StatusCode::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE").await;
    let lost_email = unique_email();
    let signup = guard
        .post(app.url("/api/auth/signup"))
        .json(&serde_json::json!({"email": lost_email, "password": PASSWORD}))
        .send()
        .await
        .expect("answered, not hung");
    assert!(signup.headers().contains_key("retry-after"));
    assert_error(
        signup,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    // More signups while the database is away: none may leave half a signup behind.
    let attempts = (0..10).map(|_| {
        guard
            .post(app.url("/api/auth/signup"))
            .json(&serde_json::json!({"email": unique_email(), "password": PASSWORD}))
            .send()
    });
    for answer in futures::future::join_all(attempts).await {
        let answer = answer.expect("answered, not hung");
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    let ready = guard.get(app.url("/ready")).send().await.expect("answered");
    assert_error(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    let health = guard
        .get(app.url("/health"))
        .send()
        .await
        .expect("answered");
    assert_eq!(health.status(), StatusCode::OK);

    proxy.restore();
    let restored = Instant::now();
    let mut recovered = false;
    for _ in 0..300 {
        let ready = guard.get(app.url("/ready")).send().await.expect("answered");
        if ready.status() == StatusCode::OK {
            recovered = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        recovered,
        "the service recovers by itself once the database is back"
    );
    eprintln!(
        "faults: /ready recovered {:?} after the database came back",
        restored.elapsed()
    );
    let me = guard
        .get(app.url("/api/auth/me"))
        .bearer_auth(&bearer)
        .send()
        .await
        .expect("answered");
    assert_eq!(me.status(), StatusCode::OK, "the old session still works");
    // The signup refused during the outage left nothing behind: the email is free, and
    // signing up now writes the user with its event.
    let again = app.sign_up(&lost_email, PASSWORD).await;
    assert_eq!(again.status(), StatusCode::CREATED);
    let created: Value = again.json().await.expect("json");
    let log: Value = guard
        .get(app.url(&format!(
            "/api/{}/auth-events",
            created["user_id"].as_str().expect("id")
        )))
        .bearer_auth(token(&created))
        .send()
        .await
        .expect("answered")
        .json()
        .await
        .expect("json");
    let types: Vec<&str> = log["data"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["event_type"].as_str())
        .collect();
    assert_eq!(types, ["signup"]);

    // Straight to the database: no user without its signup event, no successful signup
    // event without its user, no session without its user.
    use sea_orm::ConnectionTrait as _;
    let db = sea_orm::Database::connect(&database.url)
        .await
        .expect("direct connection");
    for (what, sql) in [
        (
            "users without their signup event",
            "SELECT count(*) FROM users u WHERE NOT EXISTS \
             (SELECT 1 FROM auth_events e WHERE e.user_id = u.id AND e.event_type = 'signup')",
        ),
        (
            "successful signup events without a user",
            "SELECT count(*) FROM auth_events WHERE event_type = 'signup' AND success AND user_id IS NULL",
        ),
        (
            "sessions without their user",
            "SELECT count(*) FROM sessions s LEFT JOIN users u ON u.id = s.user_id WHERE u.id IS NULL",
        ),
    ] {
        let row = db
            .query_one_raw(sea_orm::Statement::from_string(
                sea_orm::DbBackend::Postgres,
                sql,
            ))
            .await
            .expect("query")
            .expect("a row");
        let n: i64 = row.try_get_by_index(0).expect("count");
        assert_eq!(n, 0, "{what}");
    }
    let _ = db.close().await;
}
}

/// A size-limited tmpfs, unmounted (lazily) when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// Mounts `size` (as `mount -o size=` takes it), or says why not and gives `None`.
    fn mount(size: &str) -> Option<Self> {
        let dir = tempfile::tempdir().expect("temp dir");
        let mounted = std::process::Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(dir.path())
            .output();
        match mounted {
            Ok(out) if out.status.success() => Some(Self { dir }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot mount a small tmpfs for the full-disk test ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(err) => {
                eprintln!("skipped: cannot run mount for the full-disk test ({err})");
                None
            }
        }
    }

    fn path(&self) -> &std::path::Path {
        self.dir.path()
    }

    /// Gives the disk `size`: space comes back.
    fn resize(&self, size: &str) {
        let status = std::process::Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(self.dir.path())
            .status()
            .expect("mount runs");
        assert!(status.success(), "remount to {size}");
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(self.dir.path())
            .status();
    }
}

/// The emails of the users committed to the SQLite file at `path`, as a separate reader
/// sees them (what survives a restart).
async fn stored_emails(path: &std::path::Path) -> Vec<String> {
    use sea_orm::ConnectionTrait as _;
    let db = sea_orm::Database::connect(format!("sqlite://{}?mode=ro", path.display()))
        .await
        .expect("a reader opens the file");
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT email FROM users",
        ))
        .await
        .expect("users read");
    let _ = db.close().await;
    rows.iter()
        .map(|row| row.try_get_by_index::<String>(0).expect("email"))
        .collect()
}

/// Polls `/ready` for up to 15 s; whether it answered 200.
async fn becomes_ready(app: &crate::helpers::TestApp) -> bool {
    for _ in 0..150 {
        let ready = app
            .client
            .get(app.url("/ready"))
            .send()
            .await
            .expect("answered");
        if ready.status() == StatusCode::OK {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    false
}

/// Signs up `email`; the answer must be 201, or 503 `SERVICE_UNAVAILABLE` with
/// `Retry-After`. Returns whether it was acknowledged.
async fn sign_up_acknowledged(app: &crate::helpers::TestApp, email: &str) -> bool {
    let answer = app.sign_up(email, PASSWORD).await;
    if answer.status() == StatusCode::CREATED {
        return true;
    }
    assert!(
        answer.headers().contains_key("retry-after"),
        "a refused signup says when to retry"
    );
    assert_error(
        answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    false
}

#[tokio::test]
async fn sqlite_on_a_full_disk_answers_503_never_acknowledges_a_lost_signup_and_recovers_when_space_returns()
 {
    let Some(disk) = SmallDisk::mount("1m") else {
        return;
    };
    let file = disk.path().join("gh.db");
    let url = format!("sqlite://{}", file.display());
    // One connection, as in the report: every request meets the connection the failed
    // commit left behind.
    let app = spawn_app_on(
        Backend::Sqlite,
        &[("DATABASE_URL", &url), ("DATABASE_MAX_CONNECTIONS", "1")],
    )
    .await;

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    let mut after_first_refusal = 0;
    while acknowledged.len() + refused < 600 && after_first_refusal < 40 {
        let email = unique_email();
        if sign_up_acknowledged(&app, &email).await {
            acknowledged.push(email);
        } else {
            refused += 1;
        }
        if refused > 0 {
            after_first_refusal += 1;
        }
    }
    assert!(refused > 0, "the 1 MiB disk filled up");
    eprintln!(
        "faults: full disk: {} signups acknowledged, {refused} refused",
        acknowledged.len()
    );
    let ready = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("answered");
    assert!(ready.headers().contains_key("retry-after"));
    assert_error(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    let mut stored = stored_emails(&file).await;
    stored.sort();
    let mut expected = acknowledged.clone();
    expected.sort();
    assert_eq!(
        stored, expected,
        "every acknowledged signup, and only those, is in the file"
    );

    disk.resize("64m");
    let back = Instant::now();
    assert!(
        becomes_ready(&app).await,
        "ready again once space returns, without a restart"
    );
    eprintln!(
        "faults: full disk: /ready recovered {:?} after space came back",
        back.elapsed()
    );
    for _ in 0..10 {
        let email = unique_email();
        assert!(
            sign_up_acknowledged(&app, &email).await,
            "signups work again"
        );
        acknowledged.push(email);
    }
    assert_eq!(stored_emails(&file).await.len(), acknowledged.len());
    let last = acknowledged.last().expect("one");
    assert_eq!(app.log_in(last, PASSWORD).await.status(), StatusCode::OK);
}

/// Makes files immutable (`chattr +i`: not even root may write them) until dropped.
struct Immutable {
    files: Vec<std::path::PathBuf>,
}

impl Immutable {
    fn set(files: Vec<std::path::PathBuf>) -> Option<Self> {
        let out = std::process::Command::new("chattr")
            .arg("+i")
            .args(&files)
            .output();
        match out {
            Ok(out) if out.status.success() => Some(Self { files }),
            Ok(out) => {
                eprintln!(
                    "skipped: cannot make the database file read-only with chattr +i ({})",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
                None
            }
            Err(err) => {
                eprintln!("skipped: cannot run chattr for the read-only test ({err})");
                None
            }
        }
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .args(&self.files)
            .status();
    }
}

#[tokio::test]
async fn sqlite_on_a_file_that_cannot_be_written_answers_503_reports_unready_and_recovers_without_a_restart()
 {
    let app = crate::helpers::spawn_app_on(Backend::Sqlite, &[]).await;
    let file = app._dir.path().join("gatehouse.db");
    let (first, body) = app.new_user().await;
    // The -shm file stays writable: SQLite maps it, and a fault there is a crash, not
    // what an operator's read-only file does.
    let wal = app._dir.path().join("gatehouse.db-wal");
    let Some(read_only) = Immutable::set(vec![file.clone(), wal]) else {
        return;
    };
    let lost = unique_email();
    assert!(
        !sign_up_acknowledged(&app, &lost).await,
        "a write to a read-only file is refused"
    );
    let ready = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("answered");
    assert_error(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    assert_eq!(
        app.me(&token(&body)).await.status(),
        StatusCode::OK,
        "reads still work"
    );

    drop(read_only);
    assert!(
        becomes_ready(&app).await,
        "ready again once the file is writable, without a restart"
    );
    assert!(
        sign_up_acknowledged(&app, &lost).await,
        "the refused signup can be made now"
    );
    let mut stored = stored_emails(&file).await;
    stored.sort();
    let mut expected = vec![first, lost];
    expected.sort();
    assert_eq!(stored, expected);
}

/// A client that gives up after a minute: a guard against a hang, never a timing check.
fn guard_client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .expect("client")
}

needs_postgres! {
/// `database_url` with its host and port replaced by the proxy's.
fn through(proxy: &CuttableProxy, database_url: &str) -> String {
    let (_, prefix) = upstream_of(database_url);
    let name = database_url.rsplit('/').next().expect("db name");
    format!("{prefix}127.0.0.1:{}/{name}", proxy.port)
}
}

/// Sends `request`; the answer must be 503 `SERVICE_UNAVAILABLE` with `Retry-After`,
/// within `within`. Returns how long it took.
async fn unavailable_within(request: reqwest::RequestBuilder, within: Duration) -> Duration {
    let started = Instant::now();
    let answer = request.send().await.expect("answered, not hung");
    let took = started.elapsed();
    assert!(
        answer.headers().contains_key("retry-after"),
        "a 503 says when to retry"
    );
    assert_error(
        answer,
        StatusCode::SERVICE_UNAVAILABLE,
        "SERVICE_UNAVAILABLE",
    )
    .await;
    assert!(
        took < within,
        "answered after {took:?}, not within {within:?}"
    );
    took
}

needs_postgres! {
/// Issue 14.4: a database that stops answering (nothing closed, nothing refused) held
/// requests until the pool's acquire timeout, several times over, and a query on an open
/// connection forever; `/ready` answered only after the acquire timeout.
pub(crate) async fn a_black_holed_database_answers_503_within_the_request_deadline_and_ready_within_its_own_timeout()
 {
    let database = testkit::postgres::create().await;
    let (upstream, _) = upstream_of(&database.url);
    let proxy = CuttableProxy::start(upstream).await;
    let url = through(&proxy, &database.url);
    let app = spawn_app_on(
        Backend::Sqlite,
        &[
            ("DATABASE_URL", &url),
            // The pool would wait this long for a connection: the deadline must cut first.
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "30"),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "4"),
            ("READY_TIMEOUT_MILLISECONDS", "200"),
            // Every `/me` asks the database.
            ("SESSION_CACHE_TTL_SECONDS", "0"),
        ],
    )
    .await;
    let guard = guard_client();
    let (email, body) = app.new_user().await;
    let bearer = token(&body);

    proxy.black_hole();
    // Before the 4 s deadline could have cut it: `/ready`'s own timeout did.
    let took = unavailable_within(guard.get(app.url("/ready")), Duration::from_secs(3)).await;
    eprintln!("faults: black hole: /ready answered 503 after {took:?}");
    // The deadline, generously: its 4 s and 3 more, far below the pool's 30 s.
    let within = Duration::from_secs(4 + 3);
    let me = guard.get(app.url("/api/auth/me")).bearer_auth(&bearer);
    let signup = guard
        .post(app.url("/api/auth/signup"))
        .json(&serde_json::json!({"email": unique_email(), "password": PASSWORD}));
    let login = guard
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}));
    let (me, signup, login) = tokio::join!(
        unavailable_within(me, within),
        unavailable_within(signup, within),
        unavailable_within(login, within),
    );
    eprintln!("faults: black hole: /me {me:?}, signup {signup:?}, login {login:?}");
    // Again, with the pool's connections now stuck in the black hole too.
    unavailable_within(
        guard.get(app.url("/api/auth/me")).bearer_auth(&bearer),
        within,
    )
    .await;
    let health = guard
        .get(app.url("/health"))
        .send()
        .await
        .expect("answered");
    assert_eq!(health.status(), StatusCode::OK);

    proxy.restore();
    assert!(
        becomes_ready(&app).await,
        "ready again once the database answers, without a restart"
    );
    assert_eq!(app.me(&bearer).await.status(), StatusCode::OK);
    assert_eq!(
        app.sign_up(&unique_email(), PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

/// Issue 14.4: with slow round trips, each wait of a request stayed under its own
/// timeout while the request as a whole took many times the deadline.
pub(crate) async fn a_slow_database_cannot_hold_a_request_past_its_deadline() {
    let database = testkit::postgres::create().await;
    let (upstream, _) = upstream_of(&database.url);
    let proxy = CuttableProxy::start(upstream).await;
    let url = through(&proxy, &database.url);
    let app = spawn_app_on(
        Backend::Sqlite,
        &[
            ("DATABASE_URL", &url),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "2"),
        ],
    )
    .await;
    // 0.8 s per round trip: a signup's half-dozen of them take several deadlines.
    proxy.delay(Duration::from_millis(400));
    let signup = guard_client()
        .post(app.url("/api/auth/signup"))
        .json(&serde_json::json!({"email": unique_email(), "password": PASSWORD}));
    let took = unavailable_within(signup, Duration::from_secs(2 + 3)).await;
    eprintln!("faults: slow database: signup answered 503 after {took:?}");
    proxy.restore();
    assert!(becomes_ready(&app).await);
    assert_eq!(
        app.sign_up(&unique_email(), PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

/// Issue 14.4: PostgreSQL cancels a statement that runs past
/// `DATABASE_STATEMENT_TIMEOUT_SECONDS` (here one waiting on a table another session
/// holds locked), and the request gets 503 with `Retry-After` — long before its deadline.
pub(crate) async fn postgres_cuts_a_statement_at_the_statement_timeout_with_503() {
    use sea_orm::{ConnectionTrait as _, TransactionTrait as _};
    let database = testkit::postgres::create().await;
    let app = spawn_app_on(
        Backend::Sqlite,
        &[
            ("DATABASE_URL", &database.url),
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "1"),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "60"),
        ],
    )
    .await;
    let (email, _) = app.new_user().await;
    let other = sea_orm::Database::connect(&database.url)
        .await
        .expect("direct connection");
    let txn = other.begin().await.expect("begin");
    txn.execute_unprepared("LOCK TABLE users IN ACCESS EXCLUSIVE MODE")
        .await
        .expect("lock");
    let login = guard_client()
        .post(app.url("/api/auth/login"))
        .json(&serde_json::json!({"email": email, "password": PASSWORD}));
    // The statement timeout's 1 s and 3 more: only it, not the 60 s deadline, cut it.
    let took = unavailable_within(login, Duration::from_secs(1 + 3)).await;
    eprintln!("faults: locked table: login answered 503 after {took:?}");
    txn.rollback().await.expect("unlock");
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    let _ = other.close().await;
}
}

/// Issue 14.4: on SQLite a write waits for the write lock `busy_timeout`
/// (`DATABASE_STATEMENT_TIMEOUT_SECONDS`) at most, then answers 503 with `Retry-After` —
/// not 500, and not after the request's deadline.
#[tokio::test]
async fn sqlite_answers_503_when_the_write_lock_stays_taken_past_the_statement_timeout() {
    use sea_orm::sqlx::{Connection as _, Executor as _, SqliteConnection};
    let app = spawn_app_on(
        Backend::Sqlite,
        &[
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "1"),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "60"),
        ],
    )
    .await;
    let (email, _) = app.new_user().await;
    let file = app._dir.path().join("gatehouse.db");
    let mut other = SqliteConnection::connect(&format!("sqlite://{}", file.display()))
        .await
        .expect("another connection");
    other.execute("BEGIN IMMEDIATE").await.expect("write lock");
    let signup = guard_client()
        .post(app.url("/api/auth/signup"))
        .json(&serde_json::json!({"email": unique_email(), "password": PASSWORD}));
    let took = unavailable_within(signup, Duration::from_secs(1 + 3)).await;
    eprintln!("faults: SQLite write lock taken: signup answered 503 after {took:?}");
    other.execute("ROLLBACK").await.expect("lock released");
    assert_eq!(app.log_in(&email, PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(
        app.sign_up(&unique_email(), PASSWORD).await.status(),
        StatusCode::CREATED
    );
}

needs_postgres! {
/// Issue 14.4: every pooled PostgreSQL connection carries the statement timeout and
/// asks the server for TCP keepalives (gatehouse's own sockets cannot have them: sqlx
/// 0.9 offers no socket options).
pub(crate) async fn postgres_connections_carry_the_statement_timeout_and_server_side_keepalives() {
    use sea_orm::ConnectionTrait as _;
    let database = testkit::postgres::create().await;
    let pool = adapters::persistence::PoolSettings {
        statement_timeout_secs: 7,
        ..adapters::persistence::PoolSettings::default()
    };
    let db = adapters::persistence::connect_with(&database.url, pool)
        .await
        .expect("connects");
    let row = db
        .connection()
        .query_one_raw(sea_orm::Statement::from_string(
            sea_orm::DbBackend::Postgres,
            "SELECT current_setting('statement_timeout'), current_setting('tcp_keepalives_idle'), \
             current_setting('tcp_keepalives_interval'), current_setting('tcp_keepalives_count')",
        ))
        .await
        .expect("query")
        .expect("a row");
    let settings: Vec<String> = (0..4)
        .map(|i| row.try_get_by_index::<String>(i).expect("text"))
        .collect();
    assert_eq!(settings, ["7s", "30", "10", "3"]);
}
}
