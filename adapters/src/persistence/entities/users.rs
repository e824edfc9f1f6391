//! The `users` table.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: Uuid,
    /// The address as the user typed it (trimmed): where mail goes.
    pub email: String,
    /// Its canonical key (`domain::EmailKey`): unique, what login looks up.
    pub email_key: String,
    pub password_hash: String,
    pub created_at: DateTimeUtc,
    pub last_login: Option<DateTimeUtc>,
    pub is_active: bool,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
