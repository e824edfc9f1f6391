//! Logging with `tracing`: human-readable by default, JSON lines with `LOG_FORMAT=json`.
//!
//! One line per request under the target `access` (method, route template, status,
//! latency), and every line logged while serving a request inside its `request` span,
//! which carries the request id. Security outcomes are logged under the target `security`. Library chatter is kept at
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
        // The current span (`request`, with its `request_id`) on every line; not the
        // list of its parents, which would repeat it.
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
}
