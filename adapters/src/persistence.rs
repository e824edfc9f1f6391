//! Persistence with sea-orm on SQLite or PostgreSQL: the repositories behind the
//! application's storage ports, the connection, and the readiness probe.
//!
//! Entities stay private here. Every state change and its audit event are written in
//! one transaction. Connection-level failures are reported as
//! [`application::Unavailable`] so that clients get 503 with `Retry-After`, not 500.

mod connection;
mod entities;
mod principals;
mod repositories;

pub use connection::{
    Database, PoolSettings, connect, connect_with, known_migrations, missing_sqlite_file,
};
pub use principals::{LIVENESS_CHANNEL, SeaOrmPrincipalStore};
pub use repositories::{SeaOrmAuthEventLog, SeaOrmSessionRepository, SeaOrmUserRepository};
