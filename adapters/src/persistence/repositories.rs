//! The storage ports over sea-orm.

use std::borrow::Cow;
use std::convert::Infallible;

use anyhow::Context as _;
use application::ports::{
    AuthEventLog, CreateUserError, EventCursor, NewLogin, SessionRepository, StartLoginError,
    UserRepository,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    AuthEvent, AuthEventType, EmailAddress, EmailKey, EventId, FailureReason, PasswordHash,
    Session, SessionId, User, UserId,
};
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, DbErr,
    EntityTrait, QueryFilter, QueryOrder, QuerySelect, SqlErr, Statement, TransactionTrait,
};

use super::connection::Database;
use super::entities::{auth_events, sessions, users};

/// [`UserRepository`] over sea-orm.
#[derive(Clone)]
pub struct SeaOrmUserRepository {
    db: Database,
}

/// [`SessionRepository`] over sea-orm.
#[derive(Clone)]
pub struct SeaOrmSessionRepository {
    db: Database,
}

/// [`AuthEventLog`] over sea-orm.
#[derive(Clone)]
pub struct SeaOrmAuthEventLog {
    db: Database,
}

impl SeaOrmUserRepository {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl SeaOrmSessionRepository {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl SeaOrmAuthEventLog {
    /// Over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

pub(super) fn user_from_row(row: users::Model) -> anyhow::Result<User> {
    Ok(User {
        id: UserId::from_uuid(row.id),
        email: EmailAddress::parse(&row.email)
            .with_context(|| format!("stored email of user {} does not parse", row.id))?,
        password_hash: PasswordHash::from_phc(row.password_hash),
        created_at: row.created_at,
        last_login: row.last_login,
        is_active: row.is_active,
    })
}

pub(super) fn session_from_row(row: sessions::Model) -> Session {
    Session {
        id: SessionId::from_uuid(row.id),
        user_id: UserId::from_uuid(row.user_id),
        created_at: row.created_at,
        expires_at: row.expires_at,
        revoked_at: row.revoked_at,
        ip_address: row.ip_address,
        user_agent: row.user_agent,
    }
}

fn event_from_row(row: auth_events::Model) -> anyhow::Result<AuthEvent> {
    let event_type = AuthEventType::parse(&row.event_type)
        .with_context(|| format!("unknown stored event type {:?}", row.event_type))?;
    let failure_reason = row
        .failure_reason
        .as_deref()
        .map(|r| FailureReason::parse(r).with_context(|| format!("unknown stored reason {r:?}")))
        .transpose()?;
    Ok(AuthEvent {
        id: EventId::from_uuid(row.id),
        user_id: row.user_id.map(UserId::from_uuid),
        event_type,
        success: row.success,
        failure_reason,
        ip_address: row.ip_address,
        user_agent: row.user_agent,
        created_at: row.created_at,
        count: Ord::max(u32::try_from(row.count).unwrap_or(1), 1),
    })
}

fn user_row(user: &User) -> users::ActiveModel {
    users::ActiveModel {
        id: Set(user.id.as_uuid()),
        email: Set(user.email.as_str().to_owned()),
        email_key: Set(user.email.key().as_str().to_owned()),
        password_hash: Set(user.password_hash.as_str().to_owned()),
        created_at: Set(user.created_at),
        last_login: Set(user.last_login),
        is_active: Set(user.is_active),
    }
}

fn session_row(session: &Session) -> sessions::ActiveModel {
    sessions::ActiveModel {
        id: Set(session.id.as_uuid()),
        user_id: Set(session.user_id.as_uuid()),
        created_at: Set(session.created_at),
        expires_at: Set(session.expires_at),
        revoked_at: Set(session.revoked_at),
        ip_address: Set(session.ip_address.clone()),
        user_agent: Set(session.user_agent.clone()),
    }
}

fn event_row(event: &AuthEvent) -> auth_events::ActiveModel {
    auth_events::ActiveModel {
        id: Set(event.id.as_uuid()),
        user_id: Set(event.user_id.map(|u| u.as_uuid())),
        event_type: Set(event.event_type.as_str().to_owned()),
        success: Set(event.success),
        failure_reason: Set(event.failure_reason.map(|r| r.as_str().to_owned())),
        ip_address: Set(event.ip_address.clone()),
        user_agent: Set(event.user_agent.clone()),
        created_at: Set(event.created_at),
        count: Set(i32::try_from(event.count).unwrap_or(i32::MAX)),
    }
}

/// Tells the other instances' liveness caches that `user_id`'s sessions or record
/// changed (on [`super::LIVENESS_CHANNEL`]; see `crate::liveness`). Called inside the changing transaction: PostgreSQL
/// delivers the notification when it commits, and never if it rolls back. SQLite is
/// single-instance: nothing to tell.
async fn announce_change<C: ConnectionTrait>(conn: &C, user_id: UserId) -> Result<(), DbErr> {
    if conn.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    conn.execute_raw(Statement::from_sql_and_values(
        DbBackend::Postgres,
        "SELECT pg_notify($1, $2)",
        [
            super::LIVENESS_CHANNEL.into(),
            user_id.as_uuid().to_string().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Revokes every session of `user_id` live at `at`, except `keep`; returns how many.
async fn revoke_live_sessions<C: ConnectionTrait>(
    conn: &C,
    user_id: UserId,
    keep: Option<SessionId>,
    at: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let mut update = sessions::Entity::update_many()
        .col_expr(sessions::Column::RevokedAt, Expr::value(at))
        .filter(sessions::Column::UserId.eq(user_id.as_uuid()))
        .filter(sessions::Column::RevokedAt.is_null())
        .filter(sessions::Column::ExpiresAt.gt(at));
    if let Some(keep) = keep {
        update = update.filter(sessions::Column::Id.ne(keep.as_uuid()));
    }
    Ok(update.exec(conn).await?.rows_affected)
}

/// How long repeated throttled attempts and rejected tokens from one source merge into
/// one row.
const MERGE_WINDOW_SECS: i64 = 60;

/// The event types recorded once per window with a count: the ones an attacker can
/// produce at will.
fn is_merged(event_type: AuthEventType) -> bool {
    matches!(
        event_type,
        AuthEventType::LoginThrottled | AuthEventType::RateLimited | AuthEventType::TokenRejected
    )
}

/// Adds `event.count` to a row of the same type, reason, IP and user from the last
/// minute; returns whether there was one.
async fn merge_event<C: ConnectionTrait>(conn: &C, event: &AuthEvent) -> Result<bool, DbErr> {
    let since = event.created_at - chrono::Duration::seconds(MERGE_WINDOW_SECS);
    let mut update = auth_events::Entity::update_many()
        .col_expr(
            auth_events::Column::Count,
            Expr::col(auth_events::Column::Count).add(i32::try_from(event.count).unwrap_or(1)),
        )
        .filter(auth_events::Column::EventType.eq(event.event_type.as_str()))
        .filter(auth_events::Column::CreatedAt.gt(since))
        .filter(auth_events::Column::CreatedAt.lte(event.created_at));
    update = match event.failure_reason {
        Some(reason) => update.filter(auth_events::Column::FailureReason.eq(reason.as_str())),
        None => update.filter(auth_events::Column::FailureReason.is_null()),
    };
    update = match &event.ip_address {
        Some(ip) => update.filter(auth_events::Column::IpAddress.eq(ip.as_str())),
        None => update.filter(auth_events::Column::IpAddress.is_null()),
    };
    update = match event.user_id {
        Some(user) => update.filter(auth_events::Column::UserId.eq(user.as_uuid())),
        None => update.filter(auth_events::Column::UserId.is_null()),
    };
    Ok(update.exec(conn).await?.rows_affected > 0)
}

/// How the writes handed to [`write_with_event`] end its transaction.
enum Written<'e, T, R> {
    /// Record `event` — when there is one: without it nothing changed — and tell the
    /// other instances, commit, trace the event; the answer is `value`.
    Commit {
        value: T,
        event: Option<Cow<'e, AuthEvent>>,
    },
    /// A guard refused the change: roll back (a failed rollback is an error); the answer
    /// is `R`.
    Refused(R),
    /// A statement failed and `R`, made from its error, is the answer: roll back at best.
    /// After a failed statement SQLite may have rolled back already, and a failing
    /// ROLLBACK says nothing new (the pool closes a connection left in doubt).
    Failed(R),
}

/// Every write that records an auth event has this shape: begin; `write` — the guarded
/// changes, on the transaction it is handed and hands back — then, as it decided, record
/// the event, tell the other instances that `announce`'s sessions or record changed (see
/// [`announce_change`]), commit, and trace the event after the commit; or roll back.
/// Every database error goes through [`Database::error`] (503 for a store that cannot be
/// reached or written); a `write` that fails drops the transaction, which rolls it back.
async fn write_with_event<'e, T, R, F, Fut>(
    db: &Database,
    announce: Option<UserId>,
    write: F,
) -> anyhow::Result<Result<T, R>>
where
    F: FnOnce(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(DatabaseTransaction, Written<'e, T, R>), DbErr>>,
{
    let txn = db.connection().begin().await.map_err(|e| db.error(e))?;
    let (txn, written) = write(txn).await.map_err(|e| db.error(e))?;
    match written {
        Written::Commit { value, event } => {
            if let Some(event) = &event {
                insert_event(&txn, event).await.map_err(|e| db.error(e))?;
                if let Some(user_id) = announce {
                    announce_change(&txn, user_id)
                        .await
                        .map_err(|e| db.error(e))?;
                }
            }
            txn.commit().await.map_err(|e| db.error(e))?;
            if let Some(event) = &event {
                trace_event(event);
            }
            Ok(Ok(value))
        }
        Written::Refused(answer) => {
            txn.rollback().await.map_err(|e| db.error(e))?;
            Ok(Err(answer))
        }
        Written::Failed(answer) => {
            if let Err(rollback) = txn.rollback().await {
                tracing::warn!(error = %rollback, "rollback after a failed statement failed");
            }
            Ok(Err(answer))
        }
    }
}

/// [`write_with_event`] for the writes no guard refuses.
async fn commit_with_event<'e, T, F, Fut>(
    db: &Database,
    announce: Option<UserId>,
    write: F,
) -> anyhow::Result<T>
where
    F: FnOnce(DatabaseTransaction) -> Fut,
    Fut: Future<Output = Result<(DatabaseTransaction, Written<'e, T, Infallible>), DbErr>>,
{
    let Ok(value) = write_with_event(db, announce, write).await?;
    Ok(value)
}

/// Every stored auth event is also a `tracing` event under the target `security`, after
/// its transaction committed (a rolled-back event is not reported). Only ids, types and
/// reasons are logged: never an email, password or token.
fn trace_event(event: &AuthEvent) {
    let user_id = event.user_id.map(|u| u.to_string());
    let reason = event.failure_reason.map(|r| r.as_str());
    if event.success {
        tracing::info!(
            target: "security",
            event_type = event.event_type.as_str(),
            user_id = user_id.as_deref(),
            ip = event.ip_address.as_deref(),
            "auth event"
        );
    } else {
        tracing::warn!(
            target: "security",
            event_type = event.event_type.as_str(),
            failure_reason = reason,
            user_id = user_id.as_deref(),
            ip = event.ip_address.as_deref(),
            "auth event"
        );
    }
}

async fn insert_event<C: ConnectionTrait>(conn: &C, event: &AuthEvent) -> Result<(), DbErr> {
    auth_events::Entity::insert(event_row(event))
        .exec_without_returning(conn)
        .await
        .map(|_| ())
}

#[async_trait]
impl UserRepository for SeaOrmUserRepository {
    async fn find_by_email(&self, key: &EmailKey) -> anyhow::Result<Option<User>> {
        users::Entity::find()
            .filter(users::Column::EmailKey.eq(key.as_str()))
            .one(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?
            .map(user_from_row)
            .transpose()
    }

    async fn find_by_id(&self, id: UserId) -> anyhow::Result<Option<User>> {
        users::Entity::find_by_id(id.as_uuid())
            .one(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?
            .map(user_from_row)
            .transpose()
    }

    async fn create_with_session(
        &self,
        user: &User,
        session: &Session,
        event: &AuthEvent,
    ) -> Result<(), CreateUserError> {
        let db = &self.db;
        if db.connection().get_database_backend() == DbBackend::Postgres {
            return one_statement::create_with_session(db, user, session, event).await;
        }
        write_with_event(db, None, |txn| async move {
            let inserted = users::Entity::insert(user_row(user))
                .exec_without_returning(&txn)
                .await;
            if let Err(err) = inserted {
                let taken = matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)));
                // The insert's own error is the answer.
                let answer = if taken {
                    CreateUserError::EmailTaken
                } else {
                    CreateUserError::Unexpected(db.error(err))
                };
                return Ok((txn, Written::Failed(answer)));
            }
            sessions::Entity::insert(session_row(session))
                .exec_without_returning(&txn)
                .await?;
            let event = Some(Cow::Borrowed(event));
            Ok((txn, Written::Commit { value: (), event }))
        })
        .await?
    }

    async fn change_password(
        &self,
        user_id: UserId,
        expected: &PasswordHash,
        new_hash: &PasswordHash,
        keep: SessionId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<bool> {
        let changed = write_with_event(&self.db, Some(user_id), |txn| async move {
            // Compare-and-swap on the hash the caller just verified: a concurrent change
            // that committed first makes this one update nothing.
            let swapped = users::Entity::update_many()
                .col_expr(users::Column::PasswordHash, Expr::value(new_hash.as_str()))
                .filter(users::Column::Id.eq(user_id.as_uuid()))
                .filter(users::Column::PasswordHash.eq(expected.as_str()))
                .exec(&txn)
                .await?
                .rows_affected
                == 1;
            if !swapped {
                return Ok((txn, Written::Refused(())));
            }
            revoke_live_sessions(&txn, user_id, Some(keep), at).await?;
            let event = Some(Cow::Borrowed(event));
            Ok((txn, Written::Commit { value: (), event }))
        })
        .await?;
        Ok(changed.is_ok())
    }

    async fn deactivate(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<()> {
        commit_with_event(&self.db, Some(user_id), |txn| async move {
            users::Entity::update_many()
                .col_expr(users::Column::IsActive, Expr::value(false))
                .filter(users::Column::Id.eq(user_id.as_uuid()))
                .exec(&txn)
                .await?;
            revoke_live_sessions(&txn, user_id, None, at).await?;
            let event = Some(Cow::Borrowed(event));
            Ok((txn, Written::Commit { value: (), event }))
        })
        .await
    }
}

#[async_trait]
impl SessionRepository for SeaOrmSessionRepository {
    async fn start(&self, login: &NewLogin) -> Result<(), StartLoginError> {
        if self.db.connection().get_database_backend() == DbBackend::Postgres {
            return one_statement::start(&self.db, login).await;
        }
        let user_id = login.session.user_id;
        write_with_event(&self.db, Some(user_id), |txn| async move {
            // Compare-and-swap on the hash the login verified and on the account being
            // active, first, so that it takes the row lock before anything else is
            // written: a password change or a deactivation that committed since the
            // verification (PostgreSQL re-checks the condition once a concurrent writer of
            // the row commits; SQLite runs one writer at a time) makes it update nothing,
            // and the login writes nothing.
            let mut update = users::Entity::update_many()
                .col_expr(users::Column::LastLogin, Expr::value(login.last_login))
                .filter(users::Column::Id.eq(user_id.as_uuid()))
                .filter(users::Column::PasswordHash.eq(login.verified.as_str()))
                .filter(users::Column::IsActive.eq(true));
            if let Some(hash) = &login.rehashed {
                update = update.col_expr(users::Column::PasswordHash, Expr::value(hash.as_str()));
            }
            let swapped = update.exec(&txn).await?.rows_affected == 1;
            if !swapped {
                // Why, read in the same transaction: the row as the guarded write saw it.
                let inactive = users::Entity::find_by_id(user_id.as_uuid())
                    .one(&txn)
                    .await?
                    .is_some_and(|row| !row.is_active);
                let refusal = if inactive {
                    StartLoginError::AccountInactive
                } else {
                    StartLoginError::CredentialChanged
                };
                return Ok((txn, Written::Refused(refusal)));
            }
            sessions::Entity::insert(session_row(&login.session))
                .exec_without_returning(&txn)
                .await?;
            let event = Some(Cow::Borrowed(&login.event));
            Ok((txn, Written::Commit { value: (), event }))
        })
        .await?
    }

    async fn find_by_id(&self, id: SessionId) -> anyhow::Result<Option<Session>> {
        Ok(sessions::Entity::find_by_id(id.as_uuid())
            .one(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?
            .map(session_from_row))
    }

    async fn revoke(
        &self,
        id: SessionId,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<bool> {
        commit_with_event(&self.db, Some(user_id), |txn| async move {
            // The `revoked_at IS NULL` guard makes concurrent revocations race safely:
            // exactly one of them updates the row and records the event.
            let revoked = sessions::Entity::update_many()
                .col_expr(sessions::Column::RevokedAt, Expr::value(at))
                .filter(sessions::Column::Id.eq(id.as_uuid()))
                .filter(sessions::Column::UserId.eq(user_id.as_uuid()))
                .filter(sessions::Column::RevokedAt.is_null())
                .filter(sessions::Column::ExpiresAt.gt(at))
                .exec(&txn)
                .await?
                .rows_affected
                > 0;
            let event = revoked.then_some(Cow::Borrowed(event));
            Ok((
                txn,
                Written::Commit {
                    value: revoked,
                    event,
                },
            ))
        })
        .await
    }

    async fn list_live(&self, user_id: UserId, now: DateTime<Utc>) -> anyhow::Result<Vec<Session>> {
        Ok(sessions::Entity::find()
            .filter(sessions::Column::UserId.eq(user_id.as_uuid()))
            .filter(sessions::Column::RevokedAt.is_null())
            .filter(sessions::Column::ExpiresAt.gt(now))
            .order_by_desc(sessions::Column::CreatedAt)
            .order_by_desc(sessions::Column::Id)
            .all(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?
            .into_iter()
            .map(session_from_row)
            .collect())
    }

    async fn prune_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        Ok(sessions::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(sessions::Column::ExpiresAt.lt(cutoff))
                    .add(sessions::Column::RevokedAt.lt(cutoff)),
            )
            .exec(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?
            .rows_affected)
    }

    async fn revoke_all(
        &self,
        user_id: UserId,
        at: DateTime<Utc>,
        event: &AuthEvent,
    ) -> anyhow::Result<u32> {
        commit_with_event(&self.db, Some(user_id), |txn| async move {
            let revoked = revoke_live_sessions(&txn, user_id, None, at).await?;
            let count = u32::try_from(revoked).unwrap_or(u32::MAX);
            let event = (count > 0).then(|| Cow::Owned(event.clone().with_count(count)));
            Ok((
                txn,
                Written::Commit {
                    value: count,
                    event,
                },
            ))
        })
        .await
    }
}

#[async_trait]
impl AuthEventLog for SeaOrmAuthEventLog {
    async fn record(&self, event: &AuthEvent) -> anyhow::Result<()> {
        if is_merged(event.event_type)
            && merge_event(self.db.connection(), event)
                .await
                .map_err(|e| self.db.error(e))?
        {
            // Already logged once for this window: the log lines stay bounded too.
            return Ok(());
        }
        insert_event(self.db.connection(), event)
            .await
            .map_err(|e| self.db.error(e))?;
        trace_event(event);
        Ok(())
    }

    async fn prune_before(&self, cutoff: DateTime<Utc>) -> anyhow::Result<u64> {
        Ok(auth_events::Entity::delete_many()
            .filter(auth_events::Column::CreatedAt.lt(cutoff))
            .exec(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?
            .rows_affected)
    }

    async fn list_for_user(
        &self,
        user_id: UserId,
        after: Option<EventCursor>,
        limit: u32,
    ) -> anyhow::Result<Vec<AuthEvent>> {
        let mut query =
            auth_events::Entity::find().filter(auth_events::Column::UserId.eq(user_id.as_uuid()));
        if let Some(cursor) = after {
            // Keyset pagination on (created_at, id), both immutable: strictly older than
            // the cursor, or as old with a smaller id.
            query = query.filter(
                Condition::any()
                    .add(auth_events::Column::CreatedAt.lt(cursor.created_at))
                    .add(
                        Condition::all()
                            .add(auth_events::Column::CreatedAt.eq(cursor.created_at))
                            .add(auth_events::Column::Id.lt(cursor.id.as_uuid())),
                    ),
            );
        }
        query
            .order_by_desc(auth_events::Column::CreatedAt)
            .order_by_desc(auth_events::Column::Id)
            .limit(u64::from(limit))
            .all(self.db.connection())
            .await
            .map_err(|e| self.db.error(e))?
            .into_iter()
            .map(event_from_row)
            .collect()
    }
}

mod one_statement;

#[cfg(test)]
mod on_postgres;
#[cfg(test)]
mod on_sqlite;
