//! Gatehouse's schema history. Each migration is frozen once released: it names its
//! tables and columns itself (no dependency on the application's entities), so the
//! history stays reproducible whatever the code becomes. Works on SQLite and PostgreSQL.
//! One exception, on purpose: the email-key backfill computes keys with the domain's
//! `EmailAddress::parse` (see `m20260103_000001_email_key`).

pub use sea_orm_migration::MigrationStatus;
pub use sea_orm_migration::prelude::*;

mod m20260101_000001_create_users;
mod m20260101_000002_create_sessions;
mod m20260101_000003_create_auth_events;
mod m20260102_000001_case_insensitive_email;
mod m20260103_000001_email_key;

/// Applies gatehouse's migrations in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20260101_000001_create_users::Migration),
            Box::new(m20260101_000002_create_sessions::Migration),
            Box::new(m20260101_000003_create_auth_events::Migration),
            Box::new(m20260102_000001_case_insensitive_email::Migration),
            Box::new(m20260103_000001_email_key::Migration),
        ]
    }
}
