//! A unique index on `lower(email)`: the application stores emails already lowercased,
//! and this makes the database refuse a case variant even from a writer that forgot to
//! (a manual fix-up, an import). Same SQL on SQLite (expression indexes) and PostgreSQL.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("CREATE UNIQUE INDEX ux_users_email_lower ON users (lower(email))")
            .await
            .map(|_| ())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX ux_users_email_lower")
            .await
            .map(|_| ())
    }
}
