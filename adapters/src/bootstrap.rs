//! Wiring: settings → adapters → use cases → HTTP app. Used by `main` and by the tests,
//! so the tests run the real wiring.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use application::ports::{Clock, IdGenerator, PrincipalStore, SessionRepository, UserRepository};
use application::{AuthConfig, AuthService, AuthUseCases, Ports};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, SubsecRound as _, Utc};
use poem::endpoint::BoxEndpoint;
use poem::{EndpointExt as _, Response};
use rand::RngCore as _;
use secrecy::SecretString;

use crate::config::{Environment, MIN_JWT_SECRET_BYTES, Settings};
use crate::crypto::{Argon2PasswordHasher, HashPool};
use crate::http::{self, HttpDeps, Readiness};
use crate::limits::{DEFAULT_THROTTLE_CAPACITY, GovernorRateLimiter, InMemoryLoginThrottle};
use crate::liveness::{
    CachedPrincipalStore, ForgetAfterWrite, InProcessLivenessCache, spawn_postgres_listener,
};
use crate::persistence::{
    self, Database, SeaOrmAuthEventLog, SeaOrmPrincipalStore, SeaOrmSessionRepository,
    SeaOrmUserRepository,
};
use crate::token::{JwtTokenCodec, VerifiedTokens};
use domain::{LoginThrottlePolicy, ThrottleLimit};

/// The system clock, to the microsecond: PostgreSQL keeps microseconds, so SQLite gets
/// the same precision and a timestamp reads back exactly as it was written (the security
/// log's cursors compare them for equality).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// New ids as UUIDv7: time-ordered, so rows written together sit together in the
/// primary-key indexes.
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Ids;

impl IdGenerator for UuidV7Ids {
    fn new_id(&self) -> uuid::Uuid {
        uuid::Uuid::now_v7()
    }
}

#[async_trait]
impl Readiness for Database {
    async fn ready(&self) -> bool {
        Database::ready(self).await
    }
}

/// The assembled service.
pub struct App {
    /// The HTTP endpoint.
    pub endpoint: BoxEndpoint<'static, Response>,
    /// The database (migrated).
    pub database: Database,
    /// The password hasher (its pool counters are useful to tests).
    pub hasher: Arc<Argon2PasswordHasher>,
}

/// 64 random bytes, URL-safe base64: what `gatehouse gen-secret` prints.
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 64];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// The JWT secret to sign with: `JWT_SECRET`, or in development one generated once and
/// kept in `JWT_SECRET_FILE` (mode 0600) so tokens survive restarts.
///
/// # Errors
/// Production without `JWT_SECRET` (also refused by the settings), or the secret file
/// cannot be read or written, or is not a private regular file holding one secret.
///
/// # Security
/// An existing file is taken as the key only if it is a regular file that neither group
/// nor others may read (as the file this function writes): `JWT_SECRET_FILE=/etc/passwd`
/// would otherwise sign tokens with a key anyone on the host can read.
pub fn resolve_jwt_secret(settings: &Settings) -> anyhow::Result<SecretString> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.clone());
    }
    if settings.environment == Environment::Production {
        anyhow::bail!("JWT_SECRET is required in production");
    }
    let path = settings.jwt_secret_file.as_path();
    if path.exists() {
        check_private_file(path)?;
        let secret = std::fs::read_to_string(path)
            .with_context(|| format!("reading JWT_SECRET_FILE {}", path.display()))?;
        let secret = secret.trim().to_owned();
        if secret.len() < MIN_JWT_SECRET_BYTES {
            anyhow::bail!(
                "JWT_SECRET_FILE {} holds fewer than {MIN_JWT_SECRET_BYTES} bytes",
                path.display()
            );
        }
        if secret.contains(char::is_whitespace) {
            anyhow::bail!(
                "JWT_SECRET_FILE {} holds more than one word: it is not a secret this service wrote",
                path.display()
            );
        }
        return Ok(SecretString::from(secret));
    }
    let secret = generate_secret();
    write_private(path, &secret)?;
    tracing::warn!(
        file = %path.display(),
        "JWT_SECRET is not set: generated a development secret and kept it in JWT_SECRET_FILE; set JWT_SECRET in production"
    );
    Ok(SecretString::from(secret))
}

/// Refuses a secret file that is not a regular file, or that group or others may read.
fn check_private_file(path: &Path) -> anyhow::Result<()> {
    let metadata = std::fs::metadata(path)
        .with_context(|| format!("reading JWT_SECRET_FILE {}", path.display()))?;
    anyhow::ensure!(
        metadata.is_file(),
        "JWT_SECRET_FILE {} is not a regular file",
        path.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode();
        anyhow::ensure!(
            mode & 0o077 == 0,
            "JWT_SECRET_FILE {} may be read by others (mode {:o}): a signing key must be private (chmod 600), and a shared file is no key",
            path.display(),
            mode & 0o777
        );
    }
    Ok(())
}

fn write_private(path: &Path, secret: &str) -> anyhow::Result<()> {
    use std::io::Write as _;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).with_context(|| {
            format!(
                "creating the directory of JWT_SECRET_FILE {}",
                path.display()
            )
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("creating JWT_SECRET_FILE {}", path.display()))?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.sync_all())
        .with_context(|| format!("writing JWT_SECRET_FILE {}", path.display()))
}

/// Connects, migrates and wires everything.
///
/// # Errors
/// Database unreachable, migrations failing, invalid hashing parameters.
pub async fn build_app(settings: &Settings, jwt_secret: &SecretString) -> anyhow::Result<App> {
    let pool = Arc::new(HashPool::new(
        settings.hash_concurrency,
        settings.hash_queue_limit,
    )?);
    // The dummy hash is made on the pool while the database connects and is checked.
    let (database, hasher) = tokio::try_join!(
        async {
            let database =
                persistence::connect_with(&settings.database_url, settings.database_pool).await?;
            database.migrate_up().await?;
            Ok::<_, anyhow::Error>(database)
        },
        Argon2PasswordHasher::start(settings.argon2, pool),
    )?;
    let hasher = Arc::new(hasher);
    let tokens = JwtTokenCodec::new(jwt_secret, &settings.jwt_previous_secrets);
    self_test_tokens(&tokens)?;

    let limits = settings.limits;
    let rate_limiter = Arc::new(GovernorRateLimiter::new(
        limits.signup_per_minute,
        limits.login_per_minute,
    ));
    let throttle = Arc::new(InMemoryLoginThrottle::new(
        LoginThrottlePolicy {
            per_source: ThrottleLimit {
                max_failures: limits.throttle_failures,
                window_secs: limits.throttle_window_secs,
            },
            per_account: ThrottleLimit {
                max_failures: limits.account_failures,
                window_secs: limits.account_window_secs,
            },
        },
        DEFAULT_THROTTLE_CAPACITY,
    ));
    let stores = stores(settings, &database);
    let ports = Ports {
        users: stores.users,
        sessions: stores.sessions,
        principals: stores.principals,
        events: Arc::new(SeaOrmAuthEventLog::new(database.clone())),
        hasher: hasher.clone(),
        tokens: token_codec(tokens, settings),
        rate_limiter: rate_limiter.clone(),
        throttle: throttle.clone(),
        clock: Arc::new(SystemClock),
        ids: Arc::new(UuidV7Ids),
    };
    let config = AuthConfig {
        token_policy: settings.token_policy.clone(),
        password_policy: settings.password_policy,
    };
    let service = Arc::new(AuthService::new(ports, config));
    spawn_maintenance(
        Arc::clone(&service),
        rate_limiter,
        throttle,
        settings.auth_event_retention_days,
    );
    let service: Arc<dyn AuthUseCases> = service;
    let endpoint = http::app(HttpDeps {
        service,
        trusted_proxies: http::TrustedProxies::parse(&settings.trusted_proxies)
            .map_err(|e| anyhow::anyhow!("TRUSTED_PROXIES: {e}"))?,
        readiness: Arc::new(database.clone()),
        cors_origins: settings.cors_origins.clone(),
        body_read_timeout: Duration::from_secs(settings.http.body_read_timeout_secs),
        request_timeout: Duration::from_secs(settings.http.request_timeout_secs),
    });
    Ok(App {
        endpoint: endpoint.boxed(),
        database,
        hasher,
    })
}

/// The token codec, with its memo of verified tokens (as many as the liveness cache
/// holds users; `SESSION_CACHE_CAPACITY=0` turns both off).
fn token_codec(
    tokens: JwtTokenCodec,
    settings: &Settings,
) -> Arc<dyn application::ports::TokenCodec> {
    match settings.session_cache.capacity {
        0 => Arc::new(tokens),
        capacity => Arc::new(VerifiedTokens::new(tokens, capacity)),
    }
}

/// The stores the use cases read and write users and sessions through.
struct Stores {
    users: Arc<dyn UserRepository>,
    sessions: Arc<dyn SessionRepository>,
    principals: Arc<dyn PrincipalStore>,
}

/// The persistence adapters, with the liveness cache around them when the settings ask
/// for it: the principal store answers from it, and the repositories forget a user in it
/// after each write that revokes a session or changes the user.
fn stores(settings: &Settings, database: &Database) -> Stores {
    let users = SeaOrmUserRepository::new(database.clone());
    let sessions = SeaOrmSessionRepository::new(database.clone());
    let principals = SeaOrmPrincipalStore::new(database.clone());
    match liveness_cache(settings, database) {
        None => Stores {
            users: Arc::new(users),
            sessions: Arc::new(sessions),
            principals: Arc::new(principals),
        },
        Some(cache) => Stores {
            users: Arc::new(ForgetAfterWrite::new(users, Arc::clone(&cache))),
            sessions: Arc::new(ForgetAfterWrite::new(sessions, Arc::clone(&cache))),
            principals: Arc::new(CachedPrincipalStore::new(principals, cache)),
        },
    }
}

/// The liveness cache the settings ask for: none (off), in process (SQLite: one
/// instance), or in process and kept honest across instances by PostgreSQL
/// `LISTEN/NOTIFY` (answering only once the listener is subscribed).
fn liveness_cache(settings: &Settings, database: &Database) -> Option<Arc<InProcessLivenessCache>> {
    let cache = settings.session_cache;
    if cache.ttl_secs == 0 || cache.capacity == 0 {
        return None;
    }
    let shared = sea_orm::ConnectionTrait::get_database_backend(database.connection())
        == sea_orm::DbBackend::Postgres;
    let in_process = Arc::new(InProcessLivenessCache::new(
        cache.capacity,
        std::time::Duration::from_secs(cache.ttl_secs),
        !shared,
    ));
    if shared {
        spawn_postgres_listener(
            settings.database_url.clone(),
            database.clone(),
            Arc::clone(&in_process),
        );
    }
    Some(in_process)
}

/// How often the in-process limit stores drop what has expired.
const LIMITS_PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(60);
/// How often old auth events and dead sessions are deleted.
const RETENTION_PRUNE_EVERY: std::time::Duration = std::time::Duration::from_secs(3600);

/// Background upkeep: bounds the limit stores every minute, and applies the retention
/// to the audit log and dead sessions every hour (first at start-up; never with
/// `retention_days == 0`, which keeps them forever, as `0` means "off" everywhere else).
/// Ends with the runtime.
fn spawn_maintenance(
    service: Arc<AuthService>,
    rate_limiter: Arc<GovernorRateLimiter>,
    throttle: Arc<InMemoryLoginThrottle>,
    retention_days: u32,
) {
    tokio::spawn(async move {
        let mut limits = tokio::time::interval(LIMITS_PRUNE_EVERY);
        let mut retention = tokio::time::interval(RETENTION_PRUNE_EVERY);
        loop {
            tokio::select! {
                _ = limits.tick() => {
                    rate_limiter.prune();
                    throttle.prune(Utc::now());
                }
                _ = retention.tick(), if retention_days > 0 => match service.prune(retention_days).await {
                    Ok(report) => tracing::info!(
                        events = report.events,
                        sessions = report.sessions,
                        retention_days,
                        "retention: pruned old auth events and dead sessions"
                    ),
                    Err(err) => tracing::warn!(error = format!("{err:#}"), "retention pruning failed"),
                },
            }
        }
    });
}

/// jsonwebtoken panics at the first sign/verify when its crypto backend is
/// misconfigured by feature unification; find out at start-up, not on a request.
fn self_test_tokens(tokens: &JwtTokenCodec) -> anyhow::Result<()> {
    use application::ports::TokenCodec as _;
    use domain::{Claims, EmailAddress, SessionId, TokenPolicy, UserId};
    let policy = TokenPolicy::new(60, "self-test".into(), "self-test".into(), 0)
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let email = EmailAddress::parse("self-test@example.com").map_err(|e| anyhow::anyhow!("{e}"))?;
    let claims = Claims::issue(
        &policy,
        UserId::from_uuid(uuid::Uuid::now_v7()),
        &email,
        SessionId::from_uuid(uuid::Uuid::now_v7()),
        uuid::Uuid::now_v7(),
        Utc::now(),
    );
    let token = tokens.encode(&claims)?;
    let decoded = tokens
        .decode(&token)
        .map_err(|e| anyhow::anyhow!("token self-test failed: {e}"))?;
    anyhow::ensure!(decoded == claims, "token self-test round trip differs");
    Ok(())
}
