//! [`PrincipalStore`] over sea-orm: a session and its user in one joined query, and the
//! channel on which the changes to what it answers are announced.
//!
//! Its tests (`principals/tests.rs`) run on both backends inside the repository tests'
//! `on_sqlite` and `on_postgres`, which give each test a fresh database.

use application::Principal;
use application::ports::PrincipalStore;
use async_trait::async_trait;
use domain::{SessionId, UserId};
use sea_orm::sea_query::JoinType;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QuerySelect, RelationDef};

use super::connection::Database;
use super::entities::{sessions, users};
use super::repositories::{session_from_row, user_from_row};

/// The PostgreSQL notification channel on which every transaction that revokes a
/// session or changes a user announces it (payload: the user's id), delivered when it
/// commits. What keeps the other instances' caches of [`PrincipalStore`] answers honest
/// (`crate::liveness` listens).
pub const LIVENESS_CHANNEL: &str = "gatehouse_liveness";

/// [`PrincipalStore`] over sea-orm: `sessions ⋈ users`, one round trip.
#[derive(Clone)]
pub struct SeaOrmPrincipalStore {
    db: Database,
}

impl SeaOrmPrincipalStore {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

/// `sessions.user_id → users.id`.
fn session_user() -> RelationDef {
    sessions::Entity::belongs_to(users::Entity)
        .from(sessions::Column::UserId)
        .to(users::Column::Id)
        .into()
}

#[async_trait]
impl PrincipalStore for SeaOrmPrincipalStore {
    async fn load_live(
        &self,
        user_id: UserId,
        session_id: SessionId,
    ) -> anyhow::Result<Option<Principal>> {
        let row = sessions::Entity::find_by_id(session_id.as_uuid())
            .join(JoinType::InnerJoin, session_user())
            .filter(sessions::Column::UserId.eq(user_id.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(users::Column::IsActive.eq(true))
            .select_two_required(users::Entity)
            .one(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?;
        row.map(|(session, user)| {
            Ok(Principal {
                user: user_from_row(user)?,
                session: session_from_row(session),
            })
        })
        .transpose()
    }
}
