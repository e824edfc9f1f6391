//! Logging with `tracing`: human-readable by default, JSON lines with `LOG_FORMAT=json`.
//!
//! Security outcomes are logged under the target `security`. Library chatter is kept at
//! `warn` (sqlx would otherwise log every statement). No body, password or token is
//! ever logged.

use tracing_subscriber::EnvFilter;

use crate::config::LogFormat;

/// Installs the global subscriber; a second call is a no-op (tests).
pub fn init(level: &str, format: LogFormat) {
    let filter = EnvFilter::try_new(format!(
        "{level},sqlx=warn,sea_orm=warn,sea_orm_migration=warn"
    ))
    .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format {
        LogFormat::Json => builder.json().flatten_event(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
