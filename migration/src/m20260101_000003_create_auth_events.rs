//! `auth_events`: the audit log. `count` lets repeated events from one source be one row
//! (de-duplication under attack); `user_id` is null when the actor is unknown and is set
//! to null, not deleted, if a user row is ever purged, so the log survives.

use sea_orm_migration::prelude::*;

use crate::m20260101_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum AuthEvents {
    Table,
    Id,
    UserId,
    EventType,
    Success,
    FailureReason,
    IpAddress,
    UserAgent,
    CreatedAt,
    Count,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuthEvents::Table)
                    .col(
                        ColumnDef::new(AuthEvents::Id)
                            .uuid()
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(AuthEvents::UserId).uuid().null())
                    .col(
                        ColumnDef::new(AuthEvents::EventType)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(AuthEvents::Success).boolean().not_null())
                    .col(
                        ColumnDef::new(AuthEvents::FailureReason)
                            .string_len(32)
                            .null(),
                    )
                    .col(ColumnDef::new(AuthEvents::IpAddress).string_len(45).null())
                    .col(ColumnDef::new(AuthEvents::UserAgent).string_len(500).null())
                    .col(
                        ColumnDef::new(AuthEvents::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(AuthEvents::Count)
                            .integer()
                            .not_null()
                            .default(1)
                            .check(Expr::col(AuthEvents::Count).gte(1)),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_auth_events_user")
                            .from(AuthEvents::Table, AuthEvents::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's security log, newest first, keyset-paginated on (created_at, id).
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_events_user_created_id")
                    .table(AuthEvents::Table)
                    .col(AuthEvents::UserId)
                    .col(AuthEvents::CreatedAt)
                    .col(AuthEvents::Id)
                    .to_owned(),
            )
            .await?;
        // Retention pruning by age.
        manager
            .create_index(
                Index::create()
                    .name("ix_auth_events_created_at")
                    .table(AuthEvents::Table)
                    .col(AuthEvents::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(AuthEvents::Table).to_owned())
            .await
    }
}
