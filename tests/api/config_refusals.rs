//! Configuration that would silently weaken the service (issue 13): the real binary,
//! once per bad configuration, must refuse to start, name the variable at fault, and
//! never print a secret or a password. Also what the service creates on disk: the SQLite
//! database, its `-wal` and `-shm`, and the development secret are private (0600), and
//! `AUTH_EVENT_RETENTION_DAYS=0` keeps the audit log instead of deleting it.

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::json;

use crate::binary::{gatehouse, serve_with};
use crate::helpers::PASSWORD;

/// The environments a row is run in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Env {
    Development,
    Production,
    Both,
}

/// One bad configuration: where it is refused, the variable the refusal must name, and
/// the settings (on top of a valid base for the environment).
struct Row {
    env: Env,
    variable: &'static str,
    vars: Vec<(&'static str, String)>,
}

fn row(env: Env, variable: &'static str, vars: &[(&'static str, &str)]) -> Row {
    Row {
        env,
        variable,
        vars: vars.iter().map(|(k, v)| (*k, (*v).to_owned())).collect(),
    }
}

/// A password in every URL of the table; it must never reach the output.
const DB_PASSWORD: &str = "hunter2pass";
/// What `gatehouse gen-secret` prints: production's base, strong enough.
const STRONG_SECRET: &str =
    "q0DkU4Jx9mZr1Ty7Wb3Nc6Lp8Hs2Fv5Ga-QeRt_YiOu4Kl9Mn0Bv3Cx6Za8Sd1Fg7Hj2Kl5Pq0Wz9Xy4Rt6Ep";
/// How long a row may run: a refusal is immediate (or a 1 s database timeout); a row
/// still running then has started the service instead of refusing.
const REFUSAL_DEADLINE: Duration = Duration::from_secs(15);

fn table() -> Vec<Row> {
    let unreachable = format!("postgres://bob:{DB_PASSWORD}@127.0.0.1:1/gatehouse");
    let unparseable = format!("postgres://bob:{DB_PASSWORD}@localhost:notaport/gatehouse");
    let bad_option = format!("postgres://bob:{DB_PASSWORD}@127.0.0.1:5432/gatehouse?sslmode=bogus");
    let no_such_db = format!("postgres://bob:{DB_PASSWORD}@127.0.0.1:5432/gatehouse_no_such_db");
    let mut rows = vec![
        // An unknown level turned every log line off, audit lines included.
        row(Env::Both, "LOG_LEVEL", &[("LOG_LEVEL", "warning")]),
        row(Env::Both, "LOG_LEVEL", &[("LOG_LEVEL", "verbose")]),
        row(
            Env::Development,
            "LOG_LEVEL",
            &[("LOG_LEVEL", "information")],
        ),
        row(Env::Development, "LOG_LEVEL", &[("LOG_LEVEL", "err")]),
        // Retention: a floor in production, and no calendar overflow anywhere.
        row(
            Env::Production,
            "AUTH_EVENT_RETENTION_DAYS",
            &[("AUTH_EVENT_RETENTION_DAYS", "7")],
        ),
        row(
            Env::Both,
            "AUTH_EVENT_RETENTION_DAYS",
            &[("AUTH_EVENT_RETENTION_DAYS", "4000000000")],
        ),
        // A zero window switched the throttle off; only the failure count may, and not
        // in production.
        row(
            Env::Both,
            "LOGIN_THROTTLE_WINDOW_SECONDS",
            &[("LOGIN_THROTTLE_WINDOW_SECONDS", "0")],
        ),
        row(
            Env::Both,
            "LOGIN_THROTTLE_ACCOUNT_WINDOW_SECONDS",
            &[("LOGIN_THROTTLE_ACCOUNT_WINDOW_SECONDS", "0")],
        ),
        row(
            Env::Production,
            "LOGIN_THROTTLE_FAILURES",
            &[("LOGIN_THROTTLE_FAILURES", "0")],
        ),
        row(
            Env::Production,
            "LOGIN_THROTTLE_ACCOUNT_FAILURES",
            &[("LOGIN_THROTTLE_ACCOUNT_FAILURES", "0")],
        ),
        // Weak JWT secrets in production; spaces no longer pad a short one anywhere.
        row(
            Env::Production,
            "JWT_SECRET",
            &[("JWT_SECRET", &" ".repeat(32))],
        ),
        row(
            Env::Production,
            "JWT_SECRET",
            &[("JWT_SECRET", &"a".repeat(32))],
        ),
        row(
            Env::Production,
            "JWT_SECRET",
            &[("JWT_SECRET", &"changeme".repeat(4))],
        ),
        row(
            Env::Production,
            "JWT_SECRET",
            &[("JWT_SECRET", "your-256-bit-secret-goes-here-replace-me")],
        ),
        row(
            Env::Production,
            "JWT_PREVIOUS_SECRETS",
            &[("JWT_PREVIOUS_SECRETS", &"changeme".repeat(4))],
        ),
        row(
            Env::Development,
            "JWT_SECRET",
            &[("JWT_SECRET", &format!("{}tiny-secret", " ".repeat(24)))],
        ),
        // URLs: refused naming DATABASE_URL, never with their password.
        row(Env::Both, "DATABASE_URL", &[("DATABASE_URL", &unparseable)]),
        row(Env::Both, "DATABASE_URL", &[("DATABASE_URL", &unreachable)]),
        row(
            Env::Development,
            "DATABASE_URL",
            &[("DATABASE_URL", &bad_option)],
        ),
        row(
            Env::Development,
            "DATABASE_URL",
            &[("DATABASE_URL", &no_such_db)],
        ),
        row(
            Env::Development,
            "DATABASE_URL",
            &[("DATABASE_URL", "sqlite:")],
        ),
        row(
            Env::Development,
            "DATABASE_URL",
            &[("DATABASE_URL", "sqlite://no-such-directory/gatehouse.db")],
        ),
        // Every start-up refusal names its variable.
        row(Env::Development, "HOST", &[("HOST", "not a host")]),
        row(Env::Development, "HOST", &[("HOST", "999.1.1.1")]),
        row(
            Env::Development,
            "JWT_SECRET_FILE",
            &[("JWT_SECRET_FILE", "a-file/jwt-secret")],
        ),
        row(
            Env::Development,
            "JWT_SECRET_FILE",
            &[("JWT_SECRET_FILE", "/etc/passwd")],
        ),
        // Production hardening, some of it everywhere.
        row(
            Env::Both,
            "TRUSTED_PROXIES",
            &[("TRUSTED_PROXIES", "0.0.0.0/0")],
        ),
        row(Env::Both, "TRUSTED_PROXIES", &[("TRUSTED_PROXIES", "::/0")]),
        row(
            Env::Production,
            "TRUSTED_PROXIES",
            &[("TRUSTED_PROXIES", "10.0.0.0/8, 0.0.0.0/1")],
        ),
        row(Env::Both, "CORS_ORIGINS", &[("CORS_ORIGINS", "null")]),
        row(
            Env::Both,
            "SESSION_CACHE_TTL_SECONDS",
            &[("SESSION_CACHE_TTL_SECONDS", "86400")],
        ),
        row(
            Env::Both,
            "SESSION_CACHE_TTL_SECONDS",
            &[("SESSION_CACHE_TTL_SECONDS", "2")],
        ),
        // Timeouts cannot be off, nor so long that they never bound anything.
        row(
            Env::Both,
            "HTTP_REQUEST_TIMEOUT_SECONDS",
            &[("HTTP_REQUEST_TIMEOUT_SECONDS", "0")],
        ),
        row(
            Env::Development,
            "HTTP_REQUEST_TIMEOUT_SECONDS",
            &[("HTTP_REQUEST_TIMEOUT_SECONDS", "3601")],
        ),
        row(
            Env::Both,
            "DATABASE_STATEMENT_TIMEOUT_SECONDS",
            &[("DATABASE_STATEMENT_TIMEOUT_SECONDS", "0")],
        ),
        row(
            Env::Development,
            "DATABASE_STATEMENT_TIMEOUT_SECONDS",
            &[("DATABASE_STATEMENT_TIMEOUT_SECONDS", "3601")],
        ),
        row(
            Env::Both,
            "READY_TIMEOUT_MILLISECONDS",
            &[("READY_TIMEOUT_MILLISECONDS", "0")],
        ),
        row(
            Env::Development,
            "READY_TIMEOUT_MILLISECONDS",
            &[("READY_TIMEOUT_MILLISECONDS", "60001")],
        ),
    ];
    // A refusal at connect time must come before the connect timeout's default.
    for row in &mut rows {
        row.vars
            .push(("DATABASE_CONNECT_TIMEOUT_SECONDS", "1".to_owned()));
    }
    rows
}

/// What must never appear in the output of a row: every password and secret it set.
fn secrets_of(row: &Row) -> Vec<String> {
    let mut secrets = vec![DB_PASSWORD.to_owned(), STRONG_SECRET.to_owned()];
    for (name, value) in &row.vars {
        if name.starts_with("JWT_SECRET") || name.starts_with("JWT_PREVIOUS") {
            let value = value.trim();
            if value.len() >= 8 && *name != "JWT_SECRET_FILE" {
                secrets.push(value.to_owned());
            }
        }
    }
    // The first line of /etc/passwd, were it read as a key and printed.
    secrets.push("root:x:0:0".to_owned());
    secrets
}

/// Runs `gatehouse serve` in `dir` with `vars`; `Err` says what was wrong with the outcome.
fn refuses(dir: &Path, environment: Env, row: &Row) -> Result<(), String> {
    let mut command = gatehouse(dir);
    command
        .arg("serve")
        .env("PORT", "0")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if environment == Env::Production {
        command
            .env("ENVIRONMENT", "production")
            .env("JWT_SECRET", STRONG_SECRET);
    } else {
        // Cheap hashing, so that a row that wrongly starts gets there quickly.
        command
            .env("ARGON2_MEMORY_KIB", "1024")
            .env("ARGON2_ITERATIONS", "1");
    }
    for (name, value) in &row.vars {
        command.env(name, value);
    }
    let mut child = command.spawn().map_err(|e| format!("spawn: {e}"))?;
    let deadline = Instant::now() + REFUSAL_DEADLINE;
    let status = loop {
        if let Some(status) = child.try_wait().map_err(|e| format!("wait: {e}"))? {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            break None;
        }
        std::thread::sleep(Duration::from_millis(25));
    };
    let output = child
        .wait_with_output()
        .map_err(|e| format!("output: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let Some(status) = status else {
        return Err(format!("started instead of refusing; stderr: {stderr}"));
    };
    if status.success() {
        return Err(format!("exited successfully; stderr: {stderr}"));
    }
    if !stderr.contains(row.variable) {
        return Err(format!("does not name {}: {stderr}", row.variable));
    }
    for secret in secrets_of(row) {
        if stderr.contains(&secret) || stdout.contains(&secret) {
            return Err(format!("echoes a secret: {stderr}"));
        }
    }
    Ok(())
}

#[test]
fn every_weakening_configuration_is_refused_naming_its_variable_without_echoing_secrets() {
    let mut failures = Vec::new();
    let mut runs = 0;
    for row in table() {
        let environments: &[Env] = match row.env {
            Env::Both => &[Env::Development, Env::Production],
            Env::Development => &[Env::Development],
            Env::Production => &[Env::Production],
        };
        for environment in environments {
            let dir = tempfile::tempdir().expect("dir");
            // Something that is a file where JWT_SECRET_FILE wants a directory.
            std::fs::write(dir.path().join("a-file"), "").expect("file");
            runs += 1;
            if let Err(problem) = refuses(dir.path(), *environment, &row) {
                let vars: Vec<String> =
                    row.vars.iter().map(|(k, v)| format!("{k}={v:?}")).collect();
                failures.push(format!("{environment:?} {}: {problem}", vars.join(" ")));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {runs} bad configurations were not refused properly:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[cfg(unix)]
#[tokio::test]
async fn the_sqlite_database_its_wal_and_shm_and_the_development_secret_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("dir");
    let app = serve_with(dir.path(), &[]).await;
    // A write, so that the WAL is certainly in use.
    let resp = reqwest::Client::new()
        .post(format!("{}/api/auth/signup", app.base))
        .json(&json!({"email": crate::helpers::unique_email(), "password": PASSWORD}))
        .send()
        .await
        .expect("signup");
    assert_eq!(resp.status(), StatusCode::CREATED);
    for name in [
        "gatehouse.db",
        "gatehouse.db-wal",
        "gatehouse.db-shm",
        ".gatehouse/jwt-secret",
    ] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} is {:o}", mode & 0o777);
    }
}

#[tokio::test]
async fn auth_event_retention_zero_keeps_the_audit_log() {
    use sea_orm::{ConnectionTrait as _, Statement};
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    {
        let app = serve_with(dir.path(), &[]).await;
        let resp = client
            .post(format!("{}/api/auth/signup", app.base))
            .json(&json!({"email": crate::helpers::unique_email(), "password": PASSWORD}))
            .send()
            .await
            .expect("signup");
        assert_eq!(resp.status(), StatusCode::CREATED);
    }
    let count = || async {
        let url = format!("sqlite://{}/gatehouse.db?mode=ro", dir.path().display());
        let db = sea_orm::Database::connect(url.as_str())
            .await
            .expect("open");
        let row = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT COUNT(*) AS n FROM auth_events",
            ))
            .await
            .expect("count")
            .expect("a row");
        row.try_get::<i64>("", "n").expect("n")
    };
    let before = count().await;
    assert!(before >= 1, "the signup was recorded");
    {
        let _app = serve_with(dir.path(), &[("AUTH_EVENT_RETENTION_DAYS", "0")]).await;
        // The first retention pass starts with the service and races the first
        // request; give one time to finish (and delete) before looking.
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(count().await, before, "0 keeps every auth event");
}
