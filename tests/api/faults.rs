//! Database faults. On PostgreSQL, through a loopback TCP proxy the test can cut: the
//! app's connections die (as with a restart of PostgreSQL or `pg_terminate_backend`), and
//! new ones are refused, without touching the shared server the other tests use. On
//! SQLite, a full disk (a small tmpfs, which needs root and `mount`) and a file that
//! cannot be written (`chattr +i`, which needs root and a file system that has the
//! flag); each test says why it skips when it cannot set its fault up.
//!
//! The PostgreSQL test and its proxy are compiled only by the `needs_postgres` harness,
//! which reports the test ignored when no server answers (see `needs_postgres.rs`).

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::helpers::{Backend, PASSWORD, assert_error, spawn_app_on, token, unique_email};

// The PostgreSQL test and its proxy: run by the `needs_postgres` harness.
needs_postgres! {
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Mutex;
use tokio::task::AbortHandle;

/// Forwards loopback connections to PostgreSQL until cut.
struct CuttableProxy {
    port: u16,
    open: Arc<AtomicBool>,
    links: Arc<Mutex<Vec<AbortHandle>>>,
}

impl CuttableProxy {
    async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let open = Arc::new(AtomicBool::new(true));
        let links: Arc<Mutex<Vec<AbortHandle>>> = Arc::default();
        let (accept_open, accept_links) = (Arc::clone(&open), Arc::clone(&links));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if !accept_open.load(Ordering::SeqCst) {
                    continue; // dropped: the connection is refused mid-handshake
                }
                let upstream = upstream.clone();
                let link = tokio::spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(&upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
                accept_links.lock().await.push(link.abort_handle());
            }
        });
        Self { port, open, links }
    }

    /// Kills every open connection and refuses new ones.
    async fn cut(&self) {
        self.open.store(false, Ordering::SeqCst);
        for link in self.links.lock().await.drain(..) {
            link.abort();
        }
    }

    fn restore(&self) {
        self.open.store(true, Ordering::SeqCst);
    }
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
    let (upstream, prefix) = upstream_of(&database.url);
    let name = database.url.rsplit('/').next().expect("db name").to_owned();
    let proxy = CuttableProxy::start(upstream).await;
    let url = format!("{prefix}127.0.0.1:{}/{name}", proxy.port);
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
