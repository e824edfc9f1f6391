//! `spawn_app`: the production wiring on port 0 with an isolated database.

use std::sync::Arc;

use adapters::bootstrap::{build_app, resolve_jwt_secret};
use adapters::config::Settings;
use adapters::crypto::Argon2PasswordHasher;
use poem::Server;
use poem::listener::{Acceptor, Listener, TcpListener};
use reqwest::{Client, Response, StatusCode};
use serde_json::{Value, json};
use tempfile::TempDir;
use testkit::postgres::PostgresDatabase;

/// The JWT secret every spawned app signs with (tests forge tokens with it).
pub const TEST_SECRET: &str = "test-secret-that-is-long-enough-for-hs256-0123456789";
/// A password that meets the compat policy.
pub const PASSWORD: &str = "Correct-Horse-42";

/// A running app.
pub struct TestApp {
    pub address: String,
    pub client: Client,
    /// The app's password hasher: `hasher.pool().stats()` counts the hashing jobs.
    pub hasher: Arc<Argon2PasswordHasher>,
    /// The database it runs on.
    pub database_url: String,
    /// Holds the database and secret file until the test ends.
    pub _dir: TempDir,
    /// The PostgreSQL database, dropped with the app.
    pub _postgres: Option<PostgresDatabase>,
}

/// The database a test app runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A SQLite file in the test's temporary directory.
    Sqlite,
    /// A fresh PostgreSQL database, created for the test and dropped after it.
    Postgres,
}

/// Starts the app on `backend` with extra environment settings.
pub async fn spawn_app_on(backend: Backend, vars: &[(&str, &str)]) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let postgres = match backend {
        Backend::Postgres => {
            testkit::postgres::create_or_fall_back("the postgres:: tests run on SQLite").await
        }
        Backend::Sqlite => None,
    };
    let database_url = match &postgres {
        Some(db) => db.url.clone(),
        None => format!("sqlite://{}/gatehouse.db", dir.path().display()),
    };
    start_app(database_url, dir, postgres, vars, |_| {}).await
}

/// Builds the app over `database_url` with the test defaults and `vars`, and serves it
/// on a loopback port.
pub async fn start_app(
    database_url: String,
    dir: TempDir,
    postgres: Option<PostgresDatabase>,
    vars: &[(&str, &str)],
    adjust: fn(&mut Settings),
) -> TestApp {
    let mut env: Vec<(String, String)> = vec![
        ("DATABASE_URL".into(), database_url),
        ("JWT_SECRET".into(), TEST_SECRET.into()),
        // Every test runs from 127.0.0.1: per-IP limits are off unless a test turns
        // them on (the limit tests do).
        ("RATE_LIMIT_SIGNUP_PER_MINUTE".into(), "0".into()),
        ("RATE_LIMIT_LOGIN_PER_MINUTE".into(), "0".into()),
        (
            "JWT_SECRET_FILE".into(),
            dir.path().join("jwt-secret").display().to_string(),
        ),
    ];
    env.extend(vars.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    let mut settings = Settings::from_lookup(|name| {
        env.iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    })
    .expect("valid settings");
    adjust(&mut settings);
    let secret = resolve_jwt_secret(&settings).expect("secret");
    let app = build_app(&settings, &secret).await.expect("app builds");
    let acceptor = TcpListener::bind("127.0.0.1:0")
        .into_acceptor()
        .await
        .expect("bind");
    let port = acceptor
        .local_addr()
        .first()
        .and_then(|a| a.as_socket_addr().map(|s| s.port()))
        .expect("port");
    let hasher = Arc::clone(&app.hasher);
    let database_url = settings.database_url.clone();
    tokio::spawn(Server::new_with_acceptor(acceptor).run(app.endpoint));
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: Client::builder()
            .user_agent("gatehouse-tests")
            .build()
            .expect("client"),
        hasher,
        database_url,
        _dir: dir,
        _postgres: postgres,
    }
}

/// A unique email per call, so tests never collide.
pub fn unique_email() -> String {
    format!("user-{}@example.com", uuid::Uuid::now_v7().simple())
}

impl TestApp {
    /// Another instance of the app on this one's database, with `vars` (for example
    /// other Argon2 parameters: the instance that stored a hash and the one that
    /// verifies it disagree, as after a restart with new settings). This app keeps the
    /// database.
    pub async fn another_instance(&self, vars: &[(&str, &str)]) -> TestApp {
        start_app(
            self.database_url.clone(),
            tempfile::tempdir().expect("temp dir"),
            None,
            vars,
            |_| {},
        )
        .await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn sign_up(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/signup",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    pub async fn log_in(&self, email: &str, password: &str) -> Response {
        self.post_json(
            "/api/auth/login",
            &json!({"email": email, "password": password}),
        )
        .await
    }

    /// Signs up a new user and returns (email, AuthResponse body).
    pub async fn new_user(&self) -> (String, Value) {
        let email = unique_email();
        let resp = self.sign_up(&email, PASSWORD).await;
        assert_eq!(resp.status(), StatusCode::CREATED);
        (email, resp.json().await.expect("json"))
    }

    pub async fn me(&self, token: &str) -> Response {
        self.client
            .get(self.url("/api/auth/me"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }

    pub async fn log_out(&self, token: &str) -> Response {
        self.client
            .post(self.url("/api/auth/logout"))
            .bearer_auth(token)
            .send()
            .await
            .expect("request")
    }
}

/// The token of an AuthResponse body.
pub fn token(body: &Value) -> String {
    body["token"].as_str().expect("token").to_owned()
}

/// Asserts `resp` is an error in the envelope with `status` and `code`; returns the body.
pub async fn assert_error(resp: Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(resp.status(), status, "status");
    let request_id = resp
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
        .expect("X-Request-ID header");
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    let body: Value = resp.json().await.expect("JSON error body");
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(body["error"]["message"].is_string(), "{body}");
    assert!(
        body["error"].get("details").is_some(),
        "details always present: {body}"
    );
    assert_eq!(body["meta"]["request_id"], request_id.as_str());
    let ts = body["meta"]["timestamp"].as_str().expect("timestamp");
    assert!(
        ts.ends_with('Z') && chrono::DateTime::parse_from_rfc3339(ts).is_ok(),
        "{ts}"
    );
    body
}
