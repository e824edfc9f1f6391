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
    /// `DATABASE_MAX_CONNECTIONS`, `DATABASE_CONNECT_TIMEOUT_SECONDS`.
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

        let jwt_secret = get("JWT_SECRET")
            .filter(|s| !s.is_empty())
            .map(SecretString::from);
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
        if argon2.memory_kib < 8 * argon2.parallelism.max(1) {
            return Err(ConfigError::new(
                "ARGON2_MEMORY_KIB",
                "must be at least 8 × ARGON2_PARALLELISM",
            ));
        }
        if argon2.iterations == 0 {
            return Err(ConfigError::new("ARGON2_ITERATIONS", "must be at least 1"));
        }
        if argon2.parallelism == 0 {
            return Err(ConfigError::new("ARGON2_PARALLELISM", "must be at least 1"));
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

        let trusted_proxies = list(var("TRUSTED_PROXIES"));
        crate::http::TrustedProxies::parse(&trusted_proxies)
            .map_err(|message| ConfigError::new("TRUSTED_PROXIES", message))?;
        let cors_origins = list(var("CORS_ORIGINS"));
        if cors_origins.iter().any(|o| o.contains('*')) {
            return Err(ConfigError::new(
                "CORS_ORIGINS",
                "`*` is never allowed: list the origins",
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
        if tracing_subscriber::EnvFilter::try_new(&log_level).is_err() {
            return Err(ConfigError::new(
                "LOG_LEVEL",
                "must be a level (error, warn, info, debug, trace) or a tracing filter",
            ));
        }

        let database_url = var("DATABASE_URL").unwrap_or_else(|| "sqlite://gatehouse.db".into());
        if !(database_url.starts_with("sqlite:")
            || database_url.starts_with("postgres://")
            || database_url.starts_with("postgresql://"))
        {
            return Err(ConfigError::new(
                "DATABASE_URL",
                "must start with `sqlite:` or `postgres://`",
            ));
        }

        let max_connections: u32 = parse(&var, "DATABASE_MAX_CONNECTIONS", 0)?;
        let connect_timeout_secs: u64 = parse(&var, "DATABASE_CONNECT_TIMEOUT_SECONDS", 5)?;
        if connect_timeout_secs == 0 {
            return Err(ConfigError::new(
                "DATABASE_CONNECT_TIMEOUT_SECONDS",
                "must be at least 1",
            ));
        }
        let settings = Settings {
            environment,
            database_url,
            database_pool: crate::persistence::PoolSettings {
                max_connections: (max_connections > 0).then_some(max_connections),
                connect_timeout_secs,
            },
            host: var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
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

    fn settings(vars: &[(&str, &str)]) -> Result<Settings, ConfigError> {
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
            help.contains("  PORT=8000\n      Where to listen\n"),
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
                max_connections: None,
            }
        );
        for (var, value) in [
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
        let secret = "x".repeat(32);
        let err = settings(&[("ENVIRONMENT", "production")]).expect_err("no secret");
        assert_eq!(err.variable, "JWT_SECRET");
        let err = settings(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", &secret),
            ("ARGON2_MEMORY_KIB", "1024"),
        ])
        .expect_err("weak argon2");
        assert_eq!(err.variable, "ARGON2_MEMORY_KIB");
        let err = settings(&[
            ("ENVIRONMENT", "production"),
            ("JWT_SECRET", &secret),
            ("ARGON2_ITERATIONS", "1"),
        ])
        .expect_err("weak argon2");
        assert_eq!(err.variable, "ARGON2_ITERATIONS");
        assert!(settings(&[("ENVIRONMENT", "production"), ("JWT_SECRET", &secret)]).is_ok());
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
}
