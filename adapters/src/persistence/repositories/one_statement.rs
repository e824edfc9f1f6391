//! The two hot writes on PostgreSQL, each one statement — one round trip, its own
//! transaction — instead of a transaction of five or six: a login (the guarded user
//! update, the session, the event, the notification) and a signup (the user, the session,
//! the event). SQLite keeps the transactions of [`super::write_with_event`]: it has no
//! network to save, and runs one writer at a time anyway.

use application::ports::{CreateUserError, NewLogin, StartLoginError};
use domain::{AuthEvent, Session, User};
use sea_orm::{ConnectionTrait as _, DbBackend, DbErr, EntityTrait as _, SqlErr, Statement, Value};

use super::{Database, trace_event, users};

/// A login's writes, guarded by the hash it verified and the account being active (the
/// compare-and-swap of `SessionRepository::start`): the user update runs first and takes
/// the row lock; a password change or a deactivation that committed since the
/// verification makes it update nothing — PostgreSQL re-checks the condition once a
/// concurrent writer of the row commits — and then the session and the event, which
/// insert one row per updated user, insert none, and nobody is notified. The notification
/// is delivered when the statement commits.
const LOG_IN: &str = "\
WITH login AS (
    UPDATE users SET last_login = $1, password_hash = COALESCE($2, password_hash)
    WHERE id = $3 AND password_hash = $4 AND is_active
    RETURNING id
), session AS (
    INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at, ip_address, user_agent)
    SELECT $5, $6, $7, $8, $9, $10, $11 FROM login
), event AS (
    INSERT INTO auth_events
        (id, user_id, event_type, success, failure_reason, ip_address, user_agent, created_at, count)
    SELECT $12, $13, $14, $15, $16, $17, $18, $19, $20 FROM login
)
SELECT count(pg_notify($21, id::text)) AS started FROM login";

/// A signup's writes. The foreign keys of the session and the event are checked at the
/// end of the statement, when the user row is there.
const SIGN_UP: &str = "\
WITH new_user AS (
    INSERT INTO users (id, email, email_key, password_hash, created_at, last_login, is_active)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
), session AS (
    INSERT INTO sessions (id, user_id, created_at, expires_at, revoked_at, ip_address, user_agent)
    VALUES ($8, $9, $10, $11, $12, $13, $14)
)
INSERT INTO auth_events
    (id, user_id, event_type, success, failure_reason, ip_address, user_agent, created_at, count)
VALUES ($15, $16, $17, $18, $19, $20, $21, $22, $23)";

/// See [`LOG_IN`]. A refused login costs one more round trip, to tell why.
pub(super) async fn start(db: &Database, login: &NewLogin) -> Result<(), StartLoginError> {
    let user_id = login.session.user_id;
    let session = &login.session;
    let event = &login.event;
    let mut values: Vec<Value> = vec![
        login.last_login.into(),
        login
            .rehashed
            .as_ref()
            .map(|h| h.as_str().to_owned())
            .into(),
        user_id.as_uuid().into(),
        login.verified.as_str().into(),
    ];
    values.extend(session_values(session));
    values.extend(event_values(event));
    values.push(crate::persistence::LIVENESS_CHANNEL.into());
    let started: i64 = db
        .connection()
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            LOG_IN,
            values,
        ))
        .await
        .and_then(|row| {
            row.ok_or_else(|| DbErr::RecordNotFound("the login statement's count".into()))?
                .try_get("", "started")
        })
        .map_err(|e| db.error(e))?;
    if started == 1 {
        trace_event(event);
        return Ok(());
    }
    // Why: deactivation is final, so the row read now tells it as well as the row the
    // guarded update saw.
    let inactive = users::Entity::find_by_id(user_id.as_uuid())
        .one(db.connection())
        .await
        .map_err(|e| db.error(e))?
        .is_some_and(|row| !row.is_active);
    Err(if inactive {
        StartLoginError::AccountInactive
    } else {
        StartLoginError::CredentialChanged
    })
}

/// See [`SIGN_UP`]. A unique key of `users` taken is [`CreateUserError::EmailTaken`]
/// (the email's key; an id taken, as in the transaction this replaces).
pub(super) async fn create_with_session(
    db: &Database,
    user: &User,
    session: &Session,
    event: &AuthEvent,
) -> Result<(), CreateUserError> {
    let mut values: Vec<Value> = vec![
        user.id.as_uuid().into(),
        user.email.as_str().into(),
        user.email.key().as_str().into(),
        user.password_hash.as_str().into(),
        user.created_at.into(),
        user.last_login.into(),
        user.is_active.into(),
    ];
    values.extend(session_values(session));
    values.extend(event_values(event));
    let written = db
        .connection()
        .execute_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            SIGN_UP,
            values,
        ))
        .await;
    match written {
        Ok(_) => {
            trace_event(event);
            Ok(())
        }
        Err(err) if takes_a_unique_key_of_users(&err) => Err(CreateUserError::EmailTaken),
        Err(err) => Err(CreateUserError::Unexpected(db.error(err))),
    }
}

/// A `sessions` row's columns in table order: id, user_id, created_at, expires_at,
/// revoked_at, ip_address, user_agent.
fn session_values(session: &Session) -> [Value; 7] {
    [
        session.id.as_uuid().into(),
        session.user_id.as_uuid().into(),
        session.created_at.into(),
        session.expires_at.into(),
        session.revoked_at.into(),
        session.ip_address.clone().into(),
        session.user_agent.clone().into(),
    ]
}

/// An `auth_events` row's columns in table order: id, user_id, event_type, success,
/// failure_reason, ip_address, user_agent, created_at, count.
fn event_values(event: &AuthEvent) -> [Value; 9] {
    [
        event.id.as_uuid().into(),
        event.user_id.map(|u| u.as_uuid()).into(),
        event.event_type.as_str().into(),
        event.success.into(),
        event.failure_reason.map(|r| r.as_str().to_owned()).into(),
        event.ip_address.clone().into(),
        event.user_agent.clone().into(),
        event.created_at.into(),
        i32::try_from(event.count).unwrap_or(i32::MAX).into(),
    ]
}

/// Whether `err` is a unique violation in the `users` table (not, say, a session id taken).
fn takes_a_unique_key_of_users(err: &DbErr) -> bool {
    use sea_orm::RuntimeErr;
    if !matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))) {
        return false;
    }
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => e
            .as_database_error()
            .is_some_and(|db| db.table() == Some("users")),
        _ => false,
    }
}
