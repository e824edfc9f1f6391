//! The `gatehouse` binary as a user runs it: CLI commands, start-up refusals, and a
//! restart that keeps the development secret and the data.
//!
//! The binary is found next to this test's own executable (`target/<profile>/`), where
//! `cargo test --workspace` builds it, or at `$GATEHOUSE_BIN`.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::PASSWORD;

pub(crate) fn binary() -> PathBuf {
    if let Some(path) = std::env::var_os("GATEHOUSE_BIN") {
        return PathBuf::from(path);
    }
    let exe = std::env::current_exe().expect("test executable");
    // target/<profile>/deps/api-<hash> → target/<profile>/gatehouse
    let dir = exe.parent().and_then(Path::parent).expect("target dir");
    let bin = dir.join(format!("gatehouse{}", std::env::consts::EXE_SUFFIX));
    assert!(
        bin.exists(),
        "{} not found: build it with `cargo build -p adapters --bin gatehouse` or set GATEHOUSE_BIN",
        bin.display()
    );
    bin
}

/// A command in `dir` with a clean configuration environment.
pub(crate) fn gatehouse(dir: &Path) -> Command {
    let mut cmd = Command::new(binary());
    cmd.current_dir(dir);
    for (key, _) in std::env::vars() {
        let configured = [
            "DATABASE_URL",
            "HOST",
            "PORT",
            "JWT_",
            "RATE_LIMIT_",
            "LOGIN_THROTTLE_",
            "TRUSTED_PROXIES",
            "CORS_ORIGINS",
            "ARGON2_",
            "HASH_",
            "LOG_",
            "HTTP_",
            "PASSWORD_POLICY",
            "AUTH_EVENT_",
            "ENVIRONMENT",
            "DATABASE_",
            "SESSION_CACHE_",
        ];
        if configured.iter().any(|p| key.starts_with(p)) {
            cmd.env_remove(key);
        }
    }
    cmd
}

pub(crate) fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

pub(crate) struct Running {
    pub(crate) child: Child,
    pub(crate) base: String,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn serve(dir: &Path) -> Running {
    serve_with(dir, &[]).await
}

pub(crate) async fn serve_with(dir: &Path, vars: &[(&str, &str)]) -> Running {
    let port = free_port();
    let child = gatehouse(dir)
        .arg("serve")
        .env("PORT", port.to_string())
        .envs(vars.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start gatehouse");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(resp) = client.get(format!("{base}/ready")).send().await
            && resp.status() == StatusCode::OK
        {
            break;
        }
        assert!(Instant::now() < deadline, "gatehouse did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Running { child, base }
}

#[test]
fn openapi_prints_exactly_the_checked_in_contract() {
    let dir = tempfile::tempdir().expect("dir");
    let out = gatehouse(dir.path()).arg("openapi").output().expect("run");
    assert!(out.status.success());
    let checked_in = std::fs::read_to_string(crate::contract::contract_path()).expect("contract");
    assert!(
        String::from_utf8_lossy(&out.stdout) == checked_in,
        "`gatehouse openapi` differs from contracts/auth.yaml"
    );
    let out = gatehouse(dir.path())
        .args(["openapi", "--json"])
        .output()
        .expect("run");
    let json: Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let yaml: Value = serde_yaml::from_str(&checked_in).expect("YAML");
    assert_eq!(json, yaml);
}

#[test]
fn gen_secret_prints_64_random_bytes_in_url_safe_base64() {
    use base64::Engine as _;
    let dir = tempfile::tempdir().expect("dir");
    let first = gatehouse(dir.path())
        .arg("gen-secret")
        .output()
        .expect("run");
    let second = gatehouse(dir.path())
        .arg("gen-secret")
        .output()
        .expect("run");
    let first = String::from_utf8_lossy(&first.stdout).trim().to_owned();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(&first)
        .expect("url-safe base64");
    assert_eq!(bytes.len(), 64);
    assert_ne!(first, String::from_utf8_lossy(&second.stdout).trim());
}

#[test]
fn production_without_a_secret_refuses_to_start_naming_the_variable() {
    let dir = tempfile::tempdir().expect("dir");
    let out = gatehouse(dir.path())
        .arg("serve")
        .env("ENVIRONMENT", "production")
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("JWT_SECRET"), "{stderr}");
}

#[test]
fn a_bad_value_stops_start_up_with_a_message_naming_the_variable() {
    let dir = tempfile::tempdir().expect("dir");
    for (var, value) in [
        ("PORT", "eighty"),
        ("JWT_SECRET", "too-short"),
        ("CORS_ORIGINS", "*"),
        ("PASSWORD_POLICY", "strict"),
    ] {
        let out = gatehouse(dir.path())
            .arg("serve")
            .env(var, value)
            .output()
            .expect("run");
        assert!(!out.status.success(), "{var}={value} must refuse to start");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(var), "{var}: {stderr}");
        assert!(
            var != "JWT_SECRET" || !stderr.contains(value),
            "the secret is not echoed"
        );
    }
}

#[test]
fn migrate_status_lists_the_migrations_before_and_after_migrate_up() {
    let dir = tempfile::tempdir().expect("dir");
    let status = |dir: &Path| {
        let out = gatehouse(dir)
            .args(["migrate", "status"])
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = status(dir.path());
    assert_eq!(
        before.lines().filter(|l| l.starts_with("pending ")).count(),
        5,
        "{before}"
    );
    assert!(
        !dir.path().join("gatehouse.db").exists(),
        "asking for the status does not create the database"
    );
    let up = gatehouse(dir.path())
        .args(["migrate", "up"])
        .output()
        .expect("run");
    assert!(up.status.success());
    let after = status(dir.path());
    assert_eq!(
        after.lines().filter(|l| l.starts_with("applied ")).count(),
        5,
        "{after}"
    );
}

#[tokio::test]
async fn a_restart_keeps_the_development_secret_the_users_and_their_sessions() {
    let dir = tempfile::tempdir().expect("dir");
    let client = reqwest::Client::new();
    let email = crate::helpers::unique_email();
    let token = {
        let app = serve(dir.path()).await;
        let resp = client
            .post(format!("{}/api/auth/signup", app.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("signup");
        assert_eq!(resp.status(), StatusCode::CREATED);
        let body: Value = resp.json().await.expect("json");
        body["token"].as_str().expect("token").to_owned()
    };
    let secret_file = dir.path().join(".gatehouse/jwt-secret");
    assert!(
        secret_file.exists(),
        "development secret kept in JWT_SECRET_FILE"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&secret_file)
            .expect("metadata")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(
        dir.path().join("gatehouse.db").exists(),
        "default SQLite file in the working directory"
    );

    let app = serve(dir.path()).await;
    let me = client
        .get(format!("{}/api/auth/me", app.base))
        .bearer_auth(&token)
        .send()
        .await
        .expect("me");
    assert_eq!(
        me.status(),
        StatusCode::OK,
        "the token survives the restart"
    );
    let login = client
        .post(format!("{}/api/auth/login", app.base))
        .json(&json!({"email": email, "password": PASSWORD}))
        .send()
        .await
        .expect("login");
    assert_eq!(login.status(), StatusCode::OK);
}

#[cfg(unix)]
#[tokio::test]
async fn sigterm_lets_the_server_stop_cleanly() {
    let dir = tempfile::tempdir().expect("dir");
    let mut app = serve(dir.path()).await;
    let pid = app.child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(exit) = app.child.try_wait().expect("wait") {
            assert!(exit.success(), "clean exit after SIGTERM: {exit}");
            break;
        }
        assert!(Instant::now() < deadline, "did not stop after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Signs up as fast as it can until killed; returns every email that got its 201.
async fn signups_until_killed(base: &str, running: &mut Running) -> Vec<String> {
    let client = reqwest::Client::new();
    let acknowledged = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for worker in 0..8 {
        let client = client.clone();
        let base = base.to_owned();
        let acknowledged = std::sync::Arc::clone(&acknowledged);
        tasks.push(tokio::spawn(async move {
            // Bounded: a worker stops at its first transport error (the server died) or
            // after 200 signups.
            for i in 0..200 {
                let email = format!(
                    "durable-{worker}-{i}-{}@example.com",
                    uuid::Uuid::now_v7().simple()
                );
                let resp = client
                    .post(format!("{base}/api/auth/signup"))
                    .json(&json!({"email": email, "password": PASSWORD}))
                    .send()
                    .await;
                match resp {
                    Ok(r) if r.status() == StatusCode::CREATED => {
                        acknowledged.lock().expect("lock").push(email);
                    }
                    Ok(_) => {}
                    Err(_) => break,
                }
            }
        }));
    }
    // Let some signups land, then kill the server mid-flight, without warning.
    while acknowledged.lock().expect("lock").len() < 20 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    running.child.kill().expect("SIGKILL");
    let _ = running.child.wait();
    for task in tasks {
        let _ = task.await;
    }
    acknowledged.lock().expect("lock").clone()
}

async fn every_acknowledged_signup_survives_sigkill(database_url: Option<&str>) {
    let dir = tempfile::tempdir().expect("dir");
    let mut vars = vec![
        ("RATE_LIMIT_SIGNUP_PER_MINUTE", "0"),
        ("RATE_LIMIT_LOGIN_PER_MINUTE", "0"),
        ("ARGON2_MEMORY_KIB", "1024"),
        ("ARGON2_ITERATIONS", "1"),
    ];
    if let Some(url) = database_url {
        vars.push(("DATABASE_URL", url));
    }
    let mut first = serve_with(dir.path(), &vars).await;
    let base = first.base.clone();
    let acknowledged = signups_until_killed(&base, &mut first).await;
    drop(first);
    assert!(acknowledged.len() >= 20);

    let second = serve_with(dir.path(), &vars).await;
    let client = reqwest::Client::new();
    for email in &acknowledged {
        let login = client
            .post(format!("{}/api/auth/login", second.base))
            .json(&json!({"email": email, "password": PASSWORD}))
            .send()
            .await
            .expect("login");
        assert_eq!(
            login.status(),
            StatusCode::OK,
            "{email} got its 201 before the kill"
        );
    }
}

#[tokio::test]
async fn every_signup_that_got_its_201_survives_a_sigkill_on_sqlite() {
    every_acknowledged_signup_survives_sigkill(None).await;
}

// Run by the `needs_postgres` harness (see `needs_postgres.rs`).
needs_postgres! {
pub(crate) async fn every_signup_that_got_its_201_survives_a_sigkill_on_postgresql() {
    let database = testkit::postgres::create().await;
    every_acknowledged_signup_survives_sigkill(Some(&database.url)).await;
}

pub(crate) async fn migrate_status_lists_the_migrations_on_postgresql_too() {
    let database = testkit::postgres::create().await;
    let dir = tempfile::tempdir().expect("dir");
    let status = |dir: &Path| {
        let out = gatehouse(dir)
            .args(["migrate", "status"])
            .env("DATABASE_URL", &database.url)
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let before = status(dir.path());
    assert_eq!(
        before.lines().filter(|l| l.starts_with("pending ")).count(),
        5,
        "{before}"
    );
    let up = gatehouse(dir.path())
        .args(["migrate", "up"])
        .env("DATABASE_URL", &database.url)
        .output()
        .expect("run");
    assert!(
        up.status.success(),
        "{}",
        String::from_utf8_lossy(&up.stderr)
    );
    let after = status(dir.path());
    assert_eq!(
        after.lines().filter(|l| l.starts_with("applied ")).count(),
        5,
        "{after}"
    );
}

/// Two instances deployed together on a fresh PostgreSQL database both migrate it on
/// start (issue 14, point 3): without a migration lock one of them crashed on a
/// duplicate `pg_type` row while both created the same tables. Several rounds, each on a
/// fresh database, each with two `gatehouse migrate up` started at once.
pub(crate) async fn two_migrate_up_started_together_on_a_fresh_postgresql_database_both_succeed() {
    for round in 0..4 {
        let database = testkit::postgres::create().await;
        let dirs = [
            tempfile::tempdir().expect("dir"),
            tempfile::tempdir().expect("dir"),
        ];
        let children: Vec<Child> = dirs
            .iter()
            .map(|dir| {
                gatehouse(dir.path())
                    .args(["migrate", "up"])
                    .env("DATABASE_URL", &database.url)
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .expect("run")
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().expect("wait");
            assert!(
                out.status.success(),
                "round {round}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let status = gatehouse(dirs[0].path())
            .args(["migrate", "status"])
            .env("DATABASE_URL", &database.url)
            .output()
            .expect("run");
        let status = String::from_utf8_lossy(&status.stdout).into_owned();
        assert_eq!(
            status.lines().filter(|l| l.starts_with("applied ")).count(),
            5,
            "round {round}: {status}"
        );
    }
}
}

#[cfg(unix)]
#[test]
fn openapi_into_a_closed_pipe_exits_quietly() {
    use std::io::Read as _;
    let dir = tempfile::tempdir().expect("dir");
    let mut child = gatehouse(dir.path())
        .arg("openapi")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run");
    // Read one line, then close the pipe, as `gatehouse openapi | head -1` does. The
    // document (over 100 KiB) does not fit the pipe's buffer, so the rest of the write
    // meets the closed pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0_u8; 16];
    stdout.read_exact(&mut first).expect("read");
    drop(stdout);
    let out = child.wait_with_output().expect("wait");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{:?}: {stderr}", out.status);
}

#[test]
fn help_lists_the_environment_variables() {
    let dir = tempfile::tempdir().expect("dir");
    for args in [&["--help"][..], &["serve", "--help"]] {
        let out = gatehouse(dir.path()).args(args).output().expect("run");
        assert!(out.status.success());
        let help = String::from_utf8_lossy(&out.stdout);
        for variable in [
            "DATABASE_URL",
            "JWT_SECRET",
            "PORT",
            "CORS_ORIGINS",
            "LOG_FORMAT",
        ] {
            assert!(help.contains(variable), "{args:?} names {variable}: {help}");
        }
    }
}

#[test]
fn a_port_in_use_stops_start_up_before_it_claims_to_listen() {
    let dir = tempfile::tempdir().expect("dir");
    let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = taken.local_addr().expect("addr").port().to_string();
    let out = gatehouse(dir.path())
        .arg("serve")
        .env("PORT", &port)
        .output()
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(!stderr.contains("gatehouse listening"), "{stderr}");
}

#[tokio::test]
async fn every_request_is_logged_once_with_its_request_id_and_no_token() {
    let dir = tempfile::tempdir().expect("dir");
    let log = dir.path().join("server.log");
    let port = free_port();
    let child = gatehouse(dir.path())
        .arg("serve")
        .env("PORT", port.to_string())
        .env("LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log file"))
        .spawn()
        .expect("start gatehouse");
    let app = Running {
        child,
        base: format!("http://127.0.0.1:{port}"),
    };
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !client
        .get(format!("{}/ready", app.base))
        .send()
        .await
        .is_ok_and(|r| r.status() == StatusCode::OK)
    {
        assert!(Instant::now() < deadline, "gatehouse did not become ready");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let token = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJub2JvZHkifQ.c2lnbmF0dXJlLW5vdC12YWxpZA";
    let refused = client
        .get(format!("{}/api/auth/me", app.base))
        .bearer_auth(token)
        .send()
        .await
        .expect("me");
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let nowhere = client
        .get(format!("{}/api/users", app.base))
        .send()
        .await
        .expect("a path that names no resource");
    assert_eq!(nowhere.status(), StatusCode::NOT_FOUND);
    let nowhere_id = nowhere
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("X-Request-ID")
        .to_owned();
    let request_id = refused
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .expect("X-Request-ID")
        .to_owned();
    drop(app);
    let text = std::fs::read_to_string(&log).expect("log");
    assert!(!text.contains(token), "no token in the log: {text}");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|_| panic!("a JSON line: {l}")))
        .collect();
    let access: Vec<&Value> = lines
        .iter()
        .filter(|l| l["target"] == "access" && l["span"]["request_id"] == request_id.as_str())
        .collect();
    assert_eq!(access.len(), 1, "one access line for the request: {text}");
    let line = access[0];
    assert_eq!(line["level"], "INFO", "{line}");
    assert_eq!(line["method"], "GET", "{line}");
    assert_eq!(line["route"], "/api/auth/me", "{line}");
    assert_eq!(line["status"], 401, "{line}");
    assert!(line["latency_ms"].as_f64().is_some(), "{line}");
    let nowhere_line = lines
        .iter()
        .find(|l| l["target"] == "access" && l["span"]["request_id"] == nowhere_id.as_str())
        .expect("an access line for the 404");
    assert_eq!(
        nowhere_line["route"], "(outside the API)",
        "a path that names no resource is not logged as /api/{{user_id}}: {nowhere_line}"
    );
    assert!(
        lines
            .iter()
            .filter(|l| l["span"]["request_id"] == request_id.as_str())
            .all(|l| l["span"]["name"] == "request"),
        "{text}"
    );
}

#[tokio::test]
async fn healthcheck_exits_zero_only_when_health_answers_200() {
    let dir = tempfile::tempdir().expect("dir");
    let app = serve_with(dir.path(), &[]).await;
    let port = app.base.rsplit(':').next().expect("port").to_owned();
    let probe = |url: &str| {
        gatehouse(dir.path())
            .args(["healthcheck", "--url", url, "--timeout", "2"])
            .output()
            .expect("run")
    };
    let ok = probe(&format!("{}/health", app.base));
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let by_port = gatehouse(dir.path())
        .arg("healthcheck")
        .env("PORT", &port)
        .output()
        .expect("run");
    assert!(by_port.status.success(), "the default URL uses PORT");
    let not_found = probe(&format!("{}/nope", app.base));
    assert!(!not_found.status.success());
    assert!(String::from_utf8_lossy(&not_found.stderr).contains("404"));
    drop(app);
    let gone = probe(&format!("http://127.0.0.1:{port}/health"));
    assert!(!gone.status.success(), "nothing listening");
}
