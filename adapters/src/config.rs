//! Configuration: every setting from the environment (and `.env`), typed and validated
//! at start-up. A bad value stops start-up with a message naming the variable; nothing
//! here is read again after start-up.
//!
//! # Security
//! Secrets are kept as [`SecretString`] and never printed; `Debug` of [`Settings`] shows
//! them redacted.

use std::path::PathBuf;

use domain::{PasswordPolicy, TokenPolicy};
use secrecy::{ExposeSecret, SecretString};

/// Where a setting failed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid configuration: {variable}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub variable: &'static str,
    /// What is wrong with it (never its value when it is a secret).
    pub message: String,
}

impl ConfigError {
    fn new(variable: &'static str, message: impl Into<String>) -> Self {
        Self {
            variable,
            message: message.into(),
        }
    }
}

/// The deployment environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    /// Unsafe defaults allowed (a generated JWT secret), with warnings.
    Development,
    /// Every unsafe default is an error.
    Production,
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Argon2Settings {
    /// Memory in KiB (`ARGON2_MEMORY_KIB`).
    pub memory_kib: u32,
    /// Iterations (`ARGON2_ITERATIONS`).
    pub iterations: u32,
    /// Lanes (`ARGON2_PARALLELISM`).
    pub parallelism: u32,
}

/// Per-IP limits and the per-account throttle (0 turns one off).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitSettings {
    /// `RATE_LIMIT_SIGNUP_PER_MINUTE`.
    pub signup_per_minute: u32,
    /// `RATE_LIMIT_LOGIN_PER_MINUTE`.
    pub login_per_minute: u32,
    /// `LOGIN_THROTTLE_FAILURES`.
    pub throttle_failures: u32,
    /// `LOGIN_THROTTLE_WINDOW_SECONDS`.
    pub throttle_window_secs: u64,
    /// `LOGIN_THROTTLE_ACCOUNT_FAILURES`.
    pub account_failures: u32,
    /// `LOGIN_THROTTLE_ACCOUNT_WINDOW_SECONDS`.
    pub account_window_secs: u64,
}

/// Every setting of the service.
#[derive(Debug, Clone)]
pub struct Settings {
    /// `ENVIRONMENT`.
    pub environment: Environment,
    /// `DATABASE_URL`.
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`, `DATABASE_CONNECT_TIMEOUT_SECONDS`,
    /// `DATABASE_STATEMENT_TIMEOUT_SECONDS`, `READY_TIMEOUT_MILLISECONDS`.
    pub database_pool: crate::persistence::PoolSettings,
    /// `HOST`.
    pub host: String,
    /// `PORT`.
    pub port: u16,
    /// `JWT_SECRET`; `None` until resolved (development may generate it).
    pub jwt_secret: Option<SecretString>,
    /// `JWT_PREVIOUS_SECRETS`.
    pub jwt_previous_secrets: Vec<SecretString>,
    /// `JWT_SECRET_FILE`.
    pub jwt_secret_file: PathBuf,
    /// `JWT_ISSUER`, `JWT_AUDIENCE`, `JWT_TTL_SECONDS`.
    pub token_policy: TokenPolicy,
    /// `PASSWORD_POLICY`.
    pub password_policy: PasswordPolicy,
    /// `ARGON2_*`.
    pub argon2: Argon2Settings,
    /// `HASH_CONCURRENCY`.
    pub hash_concurrency: usize,
    /// `HASH_QUEUE_LIMIT`.
    pub hash_queue_limit: usize,
    /// Rate limits and throttles.
    pub limits: LimitSettings,
    /// `TRUSTED_PROXIES`, as given (comma-separated entries, trimmed).
    pub trusted_proxies: Vec<String>,
    /// `CORS_ORIGINS`.
    pub cors_origins: Vec<String>,
    /// `LOG_LEVEL`.
    pub log_level: String,
    /// `LOG_FORMAT`.
    pub log_format: LogFormat,
    /// `AUTH_EVENT_RETENTION_DAYS`.
    pub auth_event_retention_days: u32,
    /// `SESSION_CACHE_TTL_SECONDS`, `SESSION_CACHE_CAPACITY`.
    pub session_cache: SessionCacheSettings,
    /// `HTTP_*`: timeouts and the connection cap.
    pub http: HttpSettings,
}

/// How long a client may take, and how many connections it may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpSettings {
    /// `HTTP_HEADER_READ_TIMEOUT_SECONDS`: to deliver a request's headers, counted from
    /// when the connection starts waiting for a request (so also the keep-alive idle
    /// timeout).
    pub header_read_timeout_secs: u64,
    /// `HTTP_BODY_READ_TIMEOUT_SECONDS`: to deliver a request's body once its headers are in.
    pub body_read_timeout_secs: u64,
    /// `HTTP_REQUEST_TIMEOUT_SECONDS`: the deadline of a request once its body is in —
    /// every wait inside it (for a pool connection, a query, a password hash) included;
    /// then 503 with `Retry-After`.
    pub request_timeout_secs: u64,
    /// `HTTP_MAX_CONNECTIONS`: open connections at most; `None` sizes the cap from the
    /// file-descriptor limit at start-up.
    pub max_connections: Option<usize>,
}

/// The liveness cache (`crate::liveness`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionCacheSettings {
    /// How long an accepted session is answered from memory at most, in seconds; `0`
    /// switches the cache off. The backstop if an invalidation is ever lost, so at most
    /// the contract's one second unless a cluster is known to deliver `NOTIFY` reliably.
    pub ttl_secs: u64,
    /// Users kept at most.
    pub capacity: usize,
}

/// The least a JWT secret may have, in bytes of the string as given.
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// Clock leeway for `nbf`/`exp`, the contract's maximum.
pub const TOKEN_LEEWAY_SECONDS: i64 = 30;
/// OWASP's minimum Argon2id memory (19 MiB); production refuses less.
pub const MIN_ARGON2_MEMORY_KIB: u32 = 19_456;
/// Production refuses fewer Argon2 iterations.
pub const MIN_ARGON2_ITERATIONS: u32 = 2;
/// Production refuses a JWT secret with fewer distinct bytes: `"a" × 32`, `"changeme" × 4`
/// and their kind are long enough but guessable. 64 random bytes in base64 (what
/// `gatehouse gen-secret` prints) have about 60; 32 random hex digits have 16.
pub const MIN_JWT_SECRET_DISTINCT_BYTES: usize = 16;
/// Words that mark a JWT secret as a placeholder or a made-up phrase (compared without
/// case, anywhere in it). None is shorter than six letters, so that a random secret of
/// 86 base64 characters contains one with a chance below one in ten million.
const PLACEHOLDER_WORDS: &[&str] = &[
    "changeme",
    "change-me",
    "change_me",
    "changeit",
    "replaceme",
    "replace-me",
    "replace_me",
    "placeholder",
    "example",
    "secret",
    "password",
    "gatehouse",
    "default",
    "qwerty",
    "123456",
    "abcdef",
];
/// The longest `AUTH_EVENT_RETENTION_DAYS` (100 years; `0` keeps events forever): a
/// larger cutoff would overflow the calendar and kill the pruning task at its first run.
pub const MAX_AUTH_EVENT_RETENTION_DAYS: u32 = 36_500;
/// Production refuses a shorter audit retention (`0`, forever, is allowed): an incident
/// is often found weeks after it happened, and the audit log is how it is traced.
pub const MIN_PRODUCTION_AUTH_EVENT_RETENTION_DAYS: u32 = 30;
/// The longest login-throttle window (a week): longer windows buy nothing and, near
/// `u64::MAX`, overflow the calendar at the first failed login.
pub const MAX_THROTTLE_WINDOW_SECONDS: u64 = 7 * 86_400;
/// The longest `SESSION_CACHE_TTL_SECONDS`: the contract lets a revoked session be
/// accepted for at most one second.
pub const MAX_SESSION_CACHE_TTL_SECONDS: u64 = 1;
/// What `READY_TIMEOUT_MILLISECONDS` may be: long enough for a query on a slow
/// network, short enough that `/ready` answers a probe before the probe gives up.
pub const READY_TIMEOUT_MILLISECONDS_RANGE: std::ops::RangeInclusive<u64> = 50..=60_000;
/// Production refuses a trusted IPv4 range wider than this prefix: a `/7` or wider always
/// spans public addresses, whose clients could then choose their own IP.
pub const MIN_PRODUCTION_TRUSTED_PREFIX_V4: u8 = 8;
/// Production refuses a trusted IPv6 range wider than this prefix, outside the private
/// `fc00::/7`: the registries hand out `/12`s, so a shorter prefix trusts whole regions,
/// while the widest proxy ranges published (Cloudflare's `/29`) still pass.
pub const MIN_PRODUCTION_TRUSTED_PREFIX_V6: u8 = 16;

/// Why `secret` is too weak to sign tokens with in production, if it is: fewer than
/// [`MIN_JWT_SECRET_DISTINCT_BYTES`] distinct bytes, or a placeholder word in it. The
/// reason never quotes the secret.
pub fn weak_secret_reason(secret: &str) -> Option<&'static str> {
    let mut seen = [false; 256];
    for byte in secret.bytes() {
        seen[usize::from(byte)] = true;
    }
    if seen.iter().filter(|s| **s).count() < MIN_JWT_SECRET_DISTINCT_BYTES {
        return Some(
            "has fewer than 16 distinct bytes, so it is guessable; run `gatehouse gen-secret`",
        );
    }
    let lower = secret.to_ascii_lowercase();
    if PLACEHOLDER_WORDS.iter().any(|word| lower.contains(word)) {
        return Some(
            "looks like a placeholder or a made-up phrase (it contains a word such as `secret` or `changeme`); run `gatehouse gen-secret`",
        );
    }
    None
}

/// `.env.example`: every variable the service reads, each after a comment saying what it
/// does; the one list of them (`--help` prints it, and a test holds it to what
/// [`Settings::from_lookup`] reads).
pub const ENV_EXAMPLE: &str = include_str!("../../.env.example");

/// The variables of [`ENV_EXAMPLE`], each with its example value and the comment above
/// it (a comment stands for every variable up to the next comment or blank line).
pub fn documented_variables() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut comment: Vec<&str> = Vec::new();
    let mut comment_open = false;
    for line in ENV_EXAMPLE.lines().map(str::trim) {
        if line.is_empty() {
            comment.clear();
            comment_open = false;
            continue;
        }
        let assignment = line.trim_start_matches("# ");
        if let Some((name, value)) = assignment.split_once('=')
            && !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
        {
            out.push((name.to_owned(), value.to_owned(), comment.join(" ")));
            comment_open = false;
            continue;
        }
        if let Some(text) = line.strip_prefix('#') {
            if !comment_open {
                comment.clear();
                comment_open = true;
            }
            comment.push(text.trim());
        }
    }
    out
}

/// The environment section of `--help`.
pub fn environment_help() -> String {
    let mut help = String::from(
        "Environment (also read from .env in the working directory; every variable is \
         optional in development):\n",
    );
    for (name, value, comment) in documented_variables() {
        help.push_str(&format!("  {name}={value}\n"));
        if !comment.is_empty() {
            help.push_str(&format!("      {comment}\n"));
        }
    }
    help
}

impl Settings {
    /// Reads `.env` (if present) and then the process environment.
    ///
    /// # Errors
    /// The first invalid variable.
    pub fn from_env() -> Result<Self, ConfigError> {
        // A missing .env is normal; a malformed one is worth a warning but not fatal.
        if let Err(err) = dotenvy::dotenv()
            && !err.not_found()
        {
            eprintln!("warning: .env could not be read: {err}");
        }
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Builds settings from any variable source (tests pass a map).
    ///
    /// # Errors
    /// The first invalid variable.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let var = |name: &'static str| {
            get(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let environment = match var("ENVIRONMENT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("development") | Some("dev") => Environment::Development,
            Some("production") | Some("prod") => Environment::Production,
            Some(_) => {
                return Err(ConfigError::new(
                    "ENVIRONMENT",
                    "must be `development` or `production`",
                ));
            }
        };
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

        // Trimmed like every other value: spaces must not pad a short secret past the
        // length check.
        let jwt_secret = var("JWT_SECRET").map(SecretString::from);
        if let Some(secret) = &jwt_secret
            && secret.expose_secret().len() < MIN_JWT_SECRET_BYTES
        {
            return Err(ConfigError::new(
                "JWT_SECRET",
                format!(
                    "must be at least {MIN_JWT_SECRET_BYTES} bytes (run `gatehouse gen-secret`)"
                ),
            ));
        }
        let jwt_previous_secrets: Vec<SecretString> = list(var("JWT_PREVIOUS_SECRETS"))
            .into_iter()
            .map(SecretString::from)
            .collect();
        if jwt_previous_secrets
            .iter()
            .any(|s| s.expose_secret().len() < MIN_JWT_SECRET_BYTES)
        {
            return Err(ConfigError::new(
                "JWT_PREVIOUS_SECRETS",
                format!("every secret must be at least {MIN_JWT_SECRET_BYTES} bytes"),
            ));
        }

        let token_policy = TokenPolicy::new(
            parse(&var, "JWT_TTL_SECONDS", 86_400)?,
            var("JWT_ISSUER").unwrap_or_else(|| "gatehouse".into()),
            var("JWT_AUDIENCE").unwrap_or_else(|| "gatehouse".into()),
            TOKEN_LEEWAY_SECONDS,
        )
        .map_err(|e| ConfigError::new("JWT_TTL_SECONDS", e.to_string()))?;
        if token_policy.ttl_seconds > 366 * 86_400 {
            return Err(ConfigError::new(
                "JWT_TTL_SECONDS",
                "must be at most one year",
            ));
        }

        let password_policy = match var("PASSWORD_POLICY") {
            None => PasswordPolicy::default(),
            Some(v) => PasswordPolicy::parse(&v)
                .ok_or_else(|| ConfigError::new("PASSWORD_POLICY", "must be `compat` or `nist`"))?,
        };

        let argon2 = Argon2Settings {
            memory_kib: parse(&var, "ARGON2_MEMORY_KIB", MIN_ARGON2_MEMORY_KIB)?,
            iterations: parse(&var, "ARGON2_ITERATIONS", MIN_ARGON2_ITERATIONS)?,
            parallelism: parse(&var, "ARGON2_PARALLELISM", 1)?,
        };
        if argon2.memory_kib < argon2.parallelism.max(1).saturating_mul(8) {
            return Err(ConfigError::new(
                "ARGON2_MEMORY_KIB",
                "must be at least 8 × ARGON2_PARALLELISM",
            ));
        }
        if argon2.iterations == 0 {
            return Err(ConfigError::new("ARGON2_ITERATIONS", "must be at least 1"));
        }
        if argon2.parallelism == 0 || argon2.parallelism > argon2::Params::MAX_P_COST {
            return Err(ConfigError::new(
                "ARGON2_PARALLELISM",
                format!("must be 1 to {}", argon2::Params::MAX_P_COST),
            ));
        }
        let hash_concurrency: usize = parse(&var, "HASH_CONCURRENCY", cores)?;
        if hash_concurrency == 0 {
            return Err(ConfigError::new("HASH_CONCURRENCY", "must be at least 1"));
        }
        let hash_queue_limit: usize = parse(&var, "HASH_QUEUE_LIMIT", 64 * cores)?;
        if hash_queue_limit == 0 {
            return Err(ConfigError::new("HASH_QUEUE_LIMIT", "must be at least 1"));
        }

        let limits = LimitSettings {
            signup_per_minute: parse(&var, "RATE_LIMIT_SIGNUP_PER_MINUTE", 5)?,
            login_per_minute: parse(&var, "RATE_LIMIT_LOGIN_PER_MINUTE", 5)?,
            throttle_failures: parse(&var, "LOGIN_THROTTLE_FAILURES", 10)?,
            throttle_window_secs: parse(&var, "LOGIN_THROTTLE_WINDOW_SECONDS", 900)?,
            account_failures: parse(&var, "LOGIN_THROTTLE_ACCOUNT_FAILURES", 100)?,
            account_window_secs: parse(&var, "LOGIN_THROTTLE_ACCOUNT_WINDOW_SECONDS", 3600)?,
        };
        for (variable, window) in [
            ("LOGIN_THROTTLE_WINDOW_SECONDS", limits.throttle_window_secs),
            (
                "LOGIN_THROTTLE_ACCOUNT_WINDOW_SECONDS",
                limits.account_window_secs,
            ),
        ] {
            // Only the failure count turns a throttle off; a zero window did it silently.
            if !(1..=MAX_THROTTLE_WINDOW_SECONDS).contains(&window) {
                return Err(ConfigError::new(
                    variable,
                    format!(
                        "must be 1 to {MAX_THROTTLE_WINDOW_SECONDS} seconds (the throttle is turned off by its failure count, not its window)"
                    ),
                ));
            }
        }

        let trusted_proxies = list(var("TRUSTED_PROXIES"));
        let proxies = crate::http::TrustedProxies::parse(&trusted_proxies)
            .map_err(|message| ConfigError::new("TRUSTED_PROXIES", message))?;
        check_trusted_ranges(proxies.ranges(), environment)?;
        let cors_origins = list(var("CORS_ORIGINS"));
        if cors_origins.iter().any(|o| o.contains('*')) {
            return Err(ConfigError::new(
                "CORS_ORIGINS",
                "`*` is never allowed: list the origins",
            ));
        }
        if cors_origins.iter().any(|o| o.eq_ignore_ascii_case("null")) {
            return Err(ConfigError::new(
                "CORS_ORIGINS",
                "`null` is never allowed: any sandboxed iframe or local file sends `Origin: null`",
            ));
        }

        let log_format = match var("LOG_FORMAT")
            .as_deref()
            .map(str::to_ascii_lowercase)
            .as_deref()
        {
            None | Some("pretty") => LogFormat::Pretty,
            Some("json") => LogFormat::Json,
            Some(_) => return Err(ConfigError::new("LOG_FORMAT", "must be `pretty` or `json`")),
        };
        let log_level = var("LOG_LEVEL").unwrap_or_else(|| "info".into());
        check_log_filter(&log_level).map_err(|message| ConfigError::new("LOG_LEVEL", message))?;

        let database_url = var("DATABASE_URL").unwrap_or_else(|| "sqlite://gatehouse.db".into());
        check_database_url(&database_url)?;

        let max_connections: u32 = parse(&var, "DATABASE_MAX_CONNECTIONS", 0)?;
        let connect_timeout_secs: u64 = parse(&var, "DATABASE_CONNECT_TIMEOUT_SECONDS", 5)?;
        if connect_timeout_secs == 0 {
            return Err(ConfigError::new(
                "DATABASE_CONNECT_TIMEOUT_SECONDS",
                "must be at least 1",
            ));
        }
        let ready_timeout_ms: u64 = parse(&var, "READY_TIMEOUT_MILLISECONDS", 500)?;
        if !READY_TIMEOUT_MILLISECONDS_RANGE.contains(&ready_timeout_ms) {
            return Err(ConfigError::new(
                "READY_TIMEOUT_MILLISECONDS",
                format!(
                    "must be {} to {} milliseconds",
                    READY_TIMEOUT_MILLISECONDS_RANGE.start(),
                    READY_TIMEOUT_MILLISECONDS_RANGE.end()
                ),
            ));
        }
        let settings = Settings {
            environment,
            database_url,
            database_pool: crate::persistence::PoolSettings {
                max_connections: (max_connections > 0).then_some(max_connections),
                connect_timeout_secs,
                statement_timeout_secs: seconds(&var, "DATABASE_STATEMENT_TIMEOUT_SECONDS", 5)?,
                ready_timeout_ms,
            },
            host: host(var("HOST"))?,
            port: parse(&var, "PORT", 8000)?,
            jwt_secret,
            jwt_previous_secrets,
            jwt_secret_file: var("JWT_SECRET_FILE")
                .map_or_else(|| PathBuf::from(".gatehouse/jwt-secret"), PathBuf::from),
            token_policy,
            password_policy,
            argon2,
            hash_concurrency,
            hash_queue_limit,
            limits,
            trusted_proxies,
            cors_origins,
            log_level,
            log_format,
            auth_event_retention_days: parse(&var, "AUTH_EVENT_RETENTION_DAYS", 90)?,
            session_cache: SessionCacheSettings {
                ttl_secs: parse(&var, "SESSION_CACHE_TTL_SECONDS", 1)?,
                capacity: parse(&var, "SESSION_CACHE_CAPACITY", 10_000)?,
            },
            http: HttpSettings {
                header_read_timeout_secs: seconds(&var, "HTTP_HEADER_READ_TIMEOUT_SECONDS", 10)?,
                body_read_timeout_secs: seconds(&var, "HTTP_BODY_READ_TIMEOUT_SECONDS", 10)?,
                request_timeout_secs: seconds(&var, "HTTP_REQUEST_TIMEOUT_SECONDS", 10)?,
                max_connections: match parse::<usize>(&var, "HTTP_MAX_CONNECTIONS", 0)? {
                    0 => None,
                    n if n < 2 => {
                        return Err(ConfigError::new(
                            "HTTP_MAX_CONNECTIONS",
                            "must be at least 2 (or 0 to size it from the file-descriptor limit)",
                        ));
                    }
                    n => Some(n),
                },
            },
        };
        if settings.auth_event_retention_days > MAX_AUTH_EVENT_RETENTION_DAYS {
            return Err(ConfigError::new(
                "AUTH_EVENT_RETENTION_DAYS",
                format!(
                    "must be at most {MAX_AUTH_EVENT_RETENTION_DAYS} (0 keeps auth events forever)"
                ),
            ));
        }
        if settings.session_cache.ttl_secs > MAX_SESSION_CACHE_TTL_SECONDS {
            return Err(ConfigError::new(
                "SESSION_CACHE_TTL_SECONDS",
                "must be 0 (off) or 1: the contract lets a revoked session be accepted for at most one second",
            ));
        }
        settings.check_production()?;
        Ok(settings)
    }

    /// `ENVIRONMENT=production` makes every unsafe default an error.
    fn check_production(&self) -> Result<(), ConfigError> {
        if self.environment != Environment::Production {
            return Ok(());
        }
        if self.jwt_secret.is_none() {
            return Err(ConfigError::new(
                "JWT_SECRET",
                "is required in production (at least 32 bytes; `gatehouse gen-secret` makes one)",
            ));
        }
        if self.argon2.memory_kib < MIN_ARGON2_MEMORY_KIB {
            return Err(ConfigError::new(
                "ARGON2_MEMORY_KIB",
                format!("must be at least {MIN_ARGON2_MEMORY_KIB} in production"),
            ));
        }
        if self.argon2.iterations < MIN_ARGON2_ITERATIONS {
            return Err(ConfigError::new(
                "ARGON2_ITERATIONS",
                format!("must be at least {MIN_ARGON2_ITERATIONS} in production"),
            ));
        }
        if let Some(reason) = self
            .jwt_secret
            .as_ref()
            .and_then(|s| weak_secret_reason(s.expose_secret()))
        {
            return Err(ConfigError::new(
                "JWT_SECRET",
                format!("is too weak for production: it {reason}"),
            ));
        }
        if let Some(reason) = self
            .jwt_previous_secrets
            .iter()
            .find_map(|s| weak_secret_reason(s.expose_secret()))
        {
            return Err(ConfigError::new(
                "JWT_PREVIOUS_SECRETS",
                format!(
                    "holds a secret too weak for production (tokens it signed can be forged): it {reason}"
                ),
            ));
        }
        for (variable, failures) in [
            ("LOGIN_THROTTLE_FAILURES", self.limits.throttle_failures),
            (
                "LOGIN_THROTTLE_ACCOUNT_FAILURES",
                self.limits.account_failures,
            ),
        ] {
            if failures == 0 {
                return Err(ConfigError::new(
                    variable,
                    "must not be 0 in production (0 turns the login throttle off)",
                ));
            }
        }
        let retention = self.auth_event_retention_days;
        if retention != 0 && retention < MIN_PRODUCTION_AUTH_EVENT_RETENTION_DAYS {
            return Err(ConfigError::new(
                "AUTH_EVENT_RETENTION_DAYS",
                format!(
                    "must be at least {MIN_PRODUCTION_AUTH_EVENT_RETENTION_DAYS} in production, or 0 to keep auth events forever"
                ),
            ));
        }
        Ok(())
    }

    /// `host:port` to listen on.
    pub fn listen_address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

/// A timeout in whole seconds, 1 to 3600: a timeout cannot be off.
fn seconds(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: u64,
) -> Result<u64, ConfigError> {
    let value: u64 = parse(var, name, default)?;
    if !(1..=3600).contains(&value) {
        return Err(ConfigError::new(name, "must be 1 to 3600 seconds"));
    }
    Ok(value)
}

fn list(value: Option<String>) -> Vec<String> {
    value
        .map(|v| {
            v.split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// `LOG_LEVEL`: every directive must end in a level. `EnvFilter` reads a bare word it
/// does not know (`warning`, `verbose`) as a target name, which switches every other
/// target off: all logging, the `security` lines included, gone without a word.
fn check_log_filter(filter: &str) -> Result<(), String> {
    use tracing_subscriber::filter::LevelFilter;
    for directive in filter.split(',').map(str::trim).filter(|d| !d.is_empty()) {
        let level = directive
            .rsplit_once('=')
            .map_or(directive, |(_, level)| level);
        if level.parse::<LevelFilter>().is_err() {
            return Err(format!(
                "`{directive}` is not a level: use error, warn, info, debug, trace or off, or `target=level` directives"
            ));
        }
    }
    tracing_subscriber::EnvFilter::try_new(filter)
        .map(drop)
        .map_err(|e| format!("is not a tracing filter: {e}"))
}

/// `DATABASE_URL`: a SQLite file (or `sqlite::memory:`) or a PostgreSQL URL that parses.
/// Messages show the URL only redacted.
fn check_database_url(url: &str) -> Result<(), ConfigError> {
    if let Some(rest) = url.strip_prefix("sqlite:") {
        let path = rest.strip_prefix("//").unwrap_or(rest);
        let path = path.split('?').next().unwrap_or(path);
        if path.is_empty() {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "names no SQLite file: use `sqlite://gatehouse.db` (or `sqlite::memory:` for a database that dies with the process)",
            ));
        }
        return Ok(());
    }
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err(ConfigError::new(
            "DATABASE_URL",
            "must start with `sqlite:` or `postgres://`",
        ));
    }
    match url::Url::parse(url) {
        Ok(parsed) if parsed.host_str().is_some_and(|h| !h.is_empty()) => Ok(()),
        Ok(_) => Err(ConfigError::new(
            "DATABASE_URL",
            format!("names no host: {}", crate::redact::redact_url(url)),
        )),
        Err(err) => Err(ConfigError::new(
            "DATABASE_URL",
            format!(
                "does not parse as a URL ({err}): {}",
                crate::redact::redact_url(url)
            ),
        )),
    }
}

/// `HOST`: an IP address or a host name, checked here so that a typo is refused naming
/// the variable instead of failing later at bind time.
fn host(value: Option<String>) -> Result<String, ConfigError> {
    let Some(host) = value else {
        return Ok("127.0.0.1".into());
    };
    if host.parse::<std::net::IpAddr>().is_ok() {
        return Ok(host);
    }
    let label_ok = |label: &str| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !label.starts_with('-')
            && !label.ends_with('-')
    };
    let name = host.strip_suffix('.').unwrap_or(&host);
    let is_name = name.len() <= 253
        && name.split('.').all(label_ok)
        // All digits and dots is an IP address that did not parse (`999.1.1.1`).
        && !name.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    if is_name {
        Ok(host)
    } else {
        Err(ConfigError::new(
            "HOST",
            format!("`{host}` is neither an IP address (IPv6 without brackets) nor a host name"),
        ))
    }
}

/// `TRUSTED_PROXIES`: a `/0` trusts every address, so every client could choose the IP
/// the limits and the audit log see: refused everywhere. Production also refuses any
/// range that spans public address space wholesale (see
/// [`MIN_PRODUCTION_TRUSTED_PREFIX_V4`], [`MIN_PRODUCTION_TRUSTED_PREFIX_V6`]).
fn check_trusted_ranges(
    ranges: &[ipnet::IpNet],
    environment: Environment,
) -> Result<(), ConfigError> {
    for range in ranges {
        if range.prefix_len() == 0 {
            return Err(ConfigError::new(
                "TRUSTED_PROXIES",
                format!(
                    "`{range}` trusts every address: any client could set its own IP with X-Forwarded-For"
                ),
            ));
        }
        if environment != Environment::Production {
            continue;
        }
        let too_wide = match range {
            ipnet::IpNet::V4(v4) => v4.prefix_len() < MIN_PRODUCTION_TRUSTED_PREFIX_V4,
            ipnet::IpNet::V6(v6) => {
                let unique_local =
                    ipnet::Ipv6Net::new(std::net::Ipv6Addr::new(0xfc00, 0, 0, 0, 0, 0, 0, 0), 7)
                        .is_ok_and(|ula| ula.contains(v6));
                v6.prefix_len() < MIN_PRODUCTION_TRUSTED_PREFIX_V6 && !unique_local
            }
        };
        if too_wide {
            return Err(ConfigError::new(
                "TRUSTED_PROXIES",
                format!(
                    "`{range}` is too wide for production (IPv4 at least /{MIN_PRODUCTION_TRUSTED_PREFIX_V4}, IPv6 at least /{MIN_PRODUCTION_TRUSTED_PREFIX_V6} outside fc00::/7): list your proxies' own ranges"
                ),
            ));
        }
    }
    Ok(())
}

fn parse<T: std::str::FromStr>(
    var: &impl Fn(&'static str) -> Option<String>,
    name: &'static str,
    default: T,
) -> Result<T, ConfigError> {
    match var(name) {
        None => Ok(default),
        Some(v) => v
            .parse()
            .map_err(|_| ConfigError::new(name, format!("`{v}` is not a valid {}", kind::<T>()))),
    }
}

fn kind<T>() -> &'static str {
    let name = std::any::type_name::<T>();
    if name.starts_with('u') || name == "usize" {
        "non-negative integer"
    } else if name.starts_with('i') {
        "integer"
    } else {
        "value"
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    /// What `gatehouse gen-secret` prints.
    const STRONG: &str =
        "q0DkU4Jx9mZr1Ty7Wb3Nc6Lp8Hs2Fv5Ga-QeRt_YiOu4Kl9Mn0Bv3Cx6Za8Sd1Fg7Hj2Kl5Pq0Wz9Xy4Rt6Ep";

    fn production(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        let mut all = vec![("ENVIRONMENT", "production"), ("JWT_SECRET", STRONG)];
        all.extend_from_slice(vars);
        settings(&all)
    }

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
        // Later entries win, so that `production(&[("JWT_SECRET", …)])` overrides.
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn env_example_documents_exactly_the_variables_the_service_reads() {
        let read = std::cell::RefCell::new(std::collections::BTreeSet::new());
        Settings::from_lookup(|name| {
            read.borrow_mut().insert(name.to_owned());
            None
        })
        .expect("defaults are valid");
        let documented: std::collections::BTreeSet<String> = documented_variables()
            .into_iter()
            .map(|(name, _, comment)| {
                assert!(!comment.is_empty(), "{name} has no comment in .env.example");
                name
            })
            .collect();
        assert_eq!(read.into_inner(), documented);
    }

    #[test]
    fn help_lists_every_variable_with_its_comment() {
        let help = environment_help();
        assert!(
            help.contains("  PORT=8000\n      Where to listen: HOST an IP address"),
            "{help}"
        );
        assert!(
            help.contains(
                "  LOGIN_THROTTLE_WINDOW_SECONDS=900\n      Failed logins per email and IP"
            ),
            "a comment stands for the variables below it: {help}"
        );
        assert!(help.contains("  JWT_SECRET=\n"), "{help}");
    }

    #[test]
    fn connection_limits_default_and_refuse_what_would_switch_them_off() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(
            s.http,
            HttpSettings {
                header_read_timeout_secs: 10,
                body_read_timeout_secs: 10,
                request_timeout_secs: 10,
                max_connections: None,
            }
        );
        for (var, value) in [
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "0"),
            ("HTTP_REQUEST_TIMEOUT_SECONDS", "3601"),
            ("HTTP_HEADER_READ_TIMEOUT_SECONDS", "0"),
            ("HTTP_BODY_READ_TIMEOUT_SECONDS", "0"),
            ("HTTP_BODY_READ_TIMEOUT_SECONDS", "3601"),
            ("HTTP_MAX_CONNECTIONS", "1"),
            ("HTTP_MAX_CONNECTIONS", "-5"),
        ] {
            let err = settings(&[(var, value)]).expect_err(value);
            assert_eq!(err.variable, var, "{var}={value}");
        }
        let s = settings(&[("HTTP_MAX_CONNECTIONS", "500")]).expect("a cap");
        assert_eq!(s.http.max_connections, Some(500));
    }

    #[test]
    fn defaults_match_the_contract() {
        let s = settings(&[]).expect("defaults are valid");
        assert_eq!(s.environment, Environment::Development);
        assert_eq!(s.database_url, "sqlite://gatehouse.db");
        assert_eq!(s.listen_address(), "127.0.0.1:8000");
        assert_eq!(s.token_policy.ttl_seconds, 86_400);
        assert_eq!(s.token_policy.issuer, "gatehouse");
        assert_eq!(s.token_policy.audience, "gatehouse");
        assert_eq!(
            s.argon2,
            Argon2Settings {
                memory_kib: 19_456,
                iterations: 2,
                parallelism: 1
            }
        );
        assert_eq!(s.limits.signup_per_minute, 5);
        assert_eq!(s.limits.throttle_failures, 10);
        assert_eq!(s.limits.account_window_secs, 3600);
        assert_eq!(s.password_policy, PasswordPolicy::Compat);
        assert_eq!(s.auth_event_retention_days, 90);
        assert_eq!(s.jwt_secret_file, PathBuf::from(".gatehouse/jwt-secret"));
        assert!(s.jwt_secret.is_none());
    }

    #[test]
    fn pool_settings_default_per_backend_and_can_be_set() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.database_pool.max_connections, None);
        assert_eq!(s.database_pool.connect_timeout_secs, 5);
        let s = settings(&[
            ("DATABASE_MAX_CONNECTIONS", "20"),
            ("DATABASE_CONNECT_TIMEOUT_SECONDS", "2"),
        ])
        .expect("set");
        assert_eq!(s.database_pool.max_connections, Some(20));
        assert_eq!(s.database_pool.connect_timeout_secs, 2);
        let err = settings(&[("DATABASE_CONNECT_TIMEOUT_SECONDS", "0")]).expect_err("zero");
        assert_eq!(err.variable, "DATABASE_CONNECT_TIMEOUT_SECONDS");
    }

    #[test]
    fn database_timeouts_default_inside_the_request_deadline_and_refuse_what_is_out_of_range() {
        let s = settings(&[]).expect("defaults");
        assert_eq!(s.database_pool.statement_timeout_secs, 5);
        assert_eq!(s.database_pool.ready_timeout_ms, 500);
        // A statement cut by its own timeout answers 503 before the deadline does, and
        // `/ready` answers before a probe with the usual 1 s timeout gives up.
        assert!(s.database_pool.statement_timeout_secs < s.http.request_timeout_secs);
        assert!(s.database_pool.ready_timeout_ms < 1000);
        let s = settings(&[
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "30"),
            ("READY_TIMEOUT_MILLISECONDS", "2000"),
        ])
        .expect("set");
        assert_eq!(s.database_pool.statement_timeout_secs, 30);
        assert_eq!(s.database_pool.ready_timeout_ms, 2000);
        for (var, value) in [
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "0"),
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "3601"),
            ("DATABASE_STATEMENT_TIMEOUT_SECONDS", "5s"),
            ("READY_TIMEOUT_MILLISECONDS", "0"),
            ("READY_TIMEOUT_MILLISECONDS", "49"),
            ("READY_TIMEOUT_MILLISECONDS", "60001"),
        ] {
            let err = settings(&[(var, value)]).expect_err(value);
            assert_eq!(err.variable, var, "{var}={value}");
        }
    }

    #[test]
    fn a_bad_number_names_its_variable() {
        let err = settings(&[("PORT", "eighty")]).expect_err("PORT is not a number");
        assert_eq!(err.variable, "PORT");
        let err = settings(&[("JWT_TTL_SECONDS", "0")]).expect_err("ttl must be positive");
        assert_eq!(err.variable, "JWT_TTL_SECONDS");
    }

    #[test]
    fn a_short_jwt_secret_is_refused_without_echoing_it() {
        let err = settings(&[("JWT_SECRET", "short-secret-value")]).expect_err("too short");
        assert_eq!(err.variable, "JWT_SECRET");
        assert!(!err.to_string().contains("short-secret-value"));
    }

    #[test]
    fn cors_wildcard_is_refused_in_every_environment() {
        let err = settings(&[("CORS_ORIGINS", "*")]).expect_err("wildcard");
        assert_eq!(err.variable, "CORS_ORIGINS");
    }

    #[test]
    fn production_refuses_unsafe_defaults() {
        let secret = STRONG;
        let err = settings(&[("ENVIRONMENT", "production")]).expect_err("no secret");
        assert_eq!(err.variable, "JWT_SECRET");
        let err = settings(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", secret),
            ("ARGON2_MEMORY_KIB", "1024"),
        ])
        .expect_err("weak argon2");
        assert_eq!(err.variable, "ARGON2_MEMORY_KIB");
        let err = settings(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", secret),
            ("ARGON2_ITERATIONS", "1"),
        ])
        .expect_err("weak argon2");
        assert_eq!(err.variable, "ARGON2_ITERATIONS");
        assert!(settings(&[("ENVIRONMENT", "production"), ("JWT_SECRET", secret)]).is_ok());
    }

    #[test]
    fn development_allows_cheap_argon2_for_tests() {
        let s = settings(&[("ARGON2_MEMORY_KIB", "1024"), ("ARGON2_ITERATIONS", "1")])
            .expect("development allows it");
        assert_eq!(s.argon2.memory_kib, 1024);
    }

    #[test]
    fn unknown_enumerations_are_refused() {
        assert_eq!(
            settings(&[("PASSWORD_POLICY", "strict")])
                .expect_err("bad")
                .variable,
            "PASSWORD_POLICY"
        );
        assert_eq!(
            settings(&[("LOG_FORMAT", "xml")])
                .expect_err("bad")
                .variable,
            "LOG_FORMAT"
        );
        assert_eq!(
            settings(&[("ENVIRONMENT", "staging")])
                .expect_err("bad")
                .variable,
            "ENVIRONMENT"
        );
        assert_eq!(
            settings(&[("DATABASE_URL", "mysql://x")])
                .expect_err("bad")
                .variable,
            "DATABASE_URL"
        );
    }

    #[test]
    fn a_trusted_proxy_that_is_neither_cidr_nor_ip_is_refused() {
        let err = settings(&[("TRUSTED_PROXIES", "10.0.0.0/8, proxy.internal")]).expect_err("bad");
        assert_eq!(err.variable, "TRUSTED_PROXIES");
    }

    #[test]
    fn lists_are_comma_separated_and_trimmed() {
        let s = settings(&[("TRUSTED_PROXIES", " 10.0.0.0/8 , 127.0.0.1,, ")]).expect("valid");
        assert_eq!(
            s.trusted_proxies,
            vec!["10.0.0.0/8".to_owned(), "127.0.0.1".to_owned()]
        );
    }

    #[test]
    fn an_unknown_log_level_is_refused_naming_log_level() {
        for level in [
            "warning",
            "verbose",
            "information",
            "err",
            "adapters",
            "info,sqlx",
        ] {
            let err = settings(&[("LOG_LEVEL", level)]).expect_err(level);
            assert_eq!(err.variable, "LOG_LEVEL", "{level}");
        }
        for level in [
            "warn",
            "INFO",
            "off",
            "debug,sqlx=warn",
            "security=info,warn",
            "trace",
        ] {
            assert!(settings(&[("LOG_LEVEL", level)]).is_ok(), "{level}");
        }
    }

    #[test]
    fn auth_event_retention_zero_keeps_events_forever_and_production_has_a_floor() {
        let s = settings(&[("AUTH_EVENT_RETENTION_DAYS", "0")]).expect("0 is forever");
        assert_eq!(s.auth_event_retention_days, 0);
        assert!(production(&[("AUTH_EVENT_RETENTION_DAYS", "0")]).is_ok());
        assert!(settings(&[("AUTH_EVENT_RETENTION_DAYS", "1")]).is_ok());
        let err = production(&[("AUTH_EVENT_RETENTION_DAYS", "29")]).expect_err("floor");
        assert_eq!(err.variable, "AUTH_EVENT_RETENTION_DAYS");
        assert!(production(&[("AUTH_EVENT_RETENTION_DAYS", "30")]).is_ok());
        let err = settings(&[("AUTH_EVENT_RETENTION_DAYS", "4000000000")]).expect_err("overflow");
        assert_eq!(err.variable, "AUTH_EVENT_RETENTION_DAYS");
    }

    #[test]
    fn a_zero_throttle_window_is_refused_and_production_keeps_the_throttle_on() {
        for variable in [
            "LOGIN_THROTTLE_WINDOW_SECONDS",
            "LOGIN_THROTTLE_ACCOUNT_WINDOW_SECONDS",
        ] {
            for value in ["0", "18446744073709551615"] {
                let err = settings(&[(variable, value)]).expect_err(value);
                assert_eq!(err.variable, variable);
            }
        }
        assert!(settings(&[("LOGIN_THROTTLE_FAILURES", "0")]).is_ok());
        for variable in ["LOGIN_THROTTLE_FAILURES", "LOGIN_THROTTLE_ACCOUNT_FAILURES"] {
            let err = production(&[(variable, "0")]).expect_err("off in production");
            assert_eq!(err.variable, variable);
        }
    }

    #[test]
    fn production_refuses_weak_jwt_secrets_without_echoing_them() {
        for weak in [
            "a".repeat(32),
            "changeme".repeat(4),
            "my-super-secret-jwt-signing-key-2024!".to_owned(),
            "0123456789abcdef0123456789abcdef".to_owned(),
            "Placeholder-Value-For-Production-Use-Only-XYZ".to_owned(),
        ] {
            let err = production(&[("JWT_SECRET", &weak)]).expect_err(&weak);
            assert_eq!(err.variable, "JWT_SECRET", "{weak}");
            assert!(!err.to_string().contains(&weak), "{err}");
        }
        let err = production(&[("JWT_PREVIOUS_SECRETS", &"b".repeat(40))]).expect_err("weak");
        assert_eq!(err.variable, "JWT_PREVIOUS_SECRETS");
        assert!(
            settings(&[("JWT_SECRET", &"a".repeat(32))]).is_ok(),
            "development allows it"
        );
    }

    #[test]
    fn jwt_secret_is_trimmed_so_spaces_do_not_pad_it() {
        let padded = format!("{}{}", " ".repeat(20), "short-secret");
        let err = settings(&[("JWT_SECRET", &padded)]).expect_err("short once trimmed");
        assert_eq!(err.variable, "JWT_SECRET");
        let err = production(&[("JWT_SECRET", &" ".repeat(32))]).expect_err("blank");
        assert_eq!(err.variable, "JWT_SECRET");
        let s = settings(&[("JWT_SECRET", &format!("  {STRONG}\n"))]).expect("trimmed");
        assert_eq!(
            s.jwt_secret
                .map(|s| s.expose_secret().to_owned())
                .as_deref(),
            Some(STRONG)
        );
    }

    #[test]
    fn a_malformed_database_url_is_refused_without_its_password() {
        for url in [
            "postgres://bob:hunter2pass@localhost:notaport/db",
            "postgres://bob:hunter2pass@[::1/db",
            "postgres://bob:hunter2pass@/db",
        ] {
            let err = settings(&[("DATABASE_URL", url)]).expect_err(url);
            assert_eq!(err.variable, "DATABASE_URL");
            assert!(!err.to_string().contains("hunter2pass"), "{err}");
        }
        for url in ["sqlite:", "sqlite://", "sqlite://?mode=rwc"] {
            let err = settings(&[("DATABASE_URL", url)]).expect_err(url);
            assert_eq!(err.variable, "DATABASE_URL");
        }
        for url in [
            "sqlite::memory:",
            "sqlite:gatehouse.db",
            "postgres://bob:pw@db.internal:5432/gatehouse?sslmode=require",
        ] {
            assert!(settings(&[("DATABASE_URL", url)]).is_ok(), "{url}");
        }
    }

    #[test]
    fn a_bad_host_is_refused_naming_host() {
        for host in ["not a host", "999.1.1.1", "[::1]", "-bad.example", "a..b"] {
            let err = settings(&[("HOST", host)]).expect_err(host);
            assert_eq!(err.variable, "HOST", "{host}");
        }
        for host in [
            "0.0.0.0",
            "::",
            "::1",
            "localhost",
            "gatehouse.internal",
            "10.1.2.3",
        ] {
            assert!(settings(&[("HOST", host)]).is_ok(), "{host}");
        }
    }

    #[test]
    fn trusting_every_address_is_refused_and_production_refuses_public_wide_ranges() {
        for everything in ["0.0.0.0/0", "::/0", "10.0.0.1, ::/0"] {
            let err = settings(&[("TRUSTED_PROXIES", everything)]).expect_err(everything);
            assert_eq!(err.variable, "TRUSTED_PROXIES");
        }
        for wide in ["1.0.0.0/7", "128.0.0.0/1", "2000::/3", "2400::/12"] {
            assert!(
                settings(&[("TRUSTED_PROXIES", wide)]).is_ok(),
                "development: {wide}"
            );
            let err = production(&[("TRUSTED_PROXIES", wide)]).expect_err(wide);
            assert_eq!(err.variable, "TRUSTED_PROXIES", "{wide}");
        }
        for fine in [
            "10.0.0.0/8",
            "104.16.0.0/13",
            "fc00::/7",
            "2a06:98c0::/29",
            "127.0.0.1",
        ] {
            assert!(production(&[("TRUSTED_PROXIES", fine)]).is_ok(), "{fine}");
        }
    }

    #[test]
    fn a_null_cors_origin_is_refused_in_every_environment() {
        for value in ["null", "https://app.example, NULL"] {
            let err = settings(&[("CORS_ORIGINS", value)]).expect_err(value);
            assert_eq!(err.variable, "CORS_ORIGINS");
            let err = production(&[("CORS_ORIGINS", value)]).expect_err(value);
            assert_eq!(err.variable, "CORS_ORIGINS");
        }
    }

    #[test]
    fn a_session_cache_ttl_over_one_second_is_refused() {
        for ttl in ["2", "86400"] {
            let err = settings(&[("SESSION_CACHE_TTL_SECONDS", ttl)]).expect_err(ttl);
            assert_eq!(err.variable, "SESSION_CACHE_TTL_SECONDS");
            assert!(err.message.contains("one second"), "{err}");
        }
        for ttl in ["0", "1"] {
            assert!(production(&[("SESSION_CACHE_TTL_SECONDS", ttl)]).is_ok());
        }
    }

    #[test]
    fn argon2_parallelism_beyond_argon2s_limit_is_refused_naming_it() {
        let err = settings(&[
            ("ARGON2_PARALLELISM", "16777216"),
            ("ARGON2_MEMORY_KIB", "4294967295"),
        ])
        .expect_err("too many lanes");
        assert_eq!(err.variable, "ARGON2_PARALLELISM");
        // 8 × lanes overflowed (a panic in a debug build) before the lanes were checked.
        let err = settings(&[("ARGON2_PARALLELISM", "4294967295")]).expect_err("overflow");
        assert_eq!(err.variable, "ARGON2_MEMORY_KIB");
    }
}
