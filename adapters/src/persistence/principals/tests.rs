//! [`SeaOrmPrincipalStore`] on both backends, compiled into the repository tests'
//! `on_sqlite` and `on_postgres` (their fresh databases), with rows written through the
//! repositories.

use chrono::{DateTime, TimeDelta, Utc};
use domain::ClientInfo;
use uuid::Uuid;

use super::*;
use crate::persistence::SeaOrmPrincipalStore;
use application::Principal;
use application::ports::PrincipalStore as _;

/// 2026-01-01T00:00:00Z plus `secs` seconds, to the microsecond (what both keep).
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 654_321_000).expect("valid test time")
}

fn event(user_id: UserId, event_type: AuthEventType) -> AuthEvent {
    AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        event_type,
        Some(user_id),
        &ClientInfo::default(),
        at(0),
    )
}

/// A migrated database holding one active user with one live session (and its store).
struct Stored {
    db: TestDb,
    store: SeaOrmPrincipalStore,
    principal: Principal,
}

async fn stored(email: &str) -> Stored {
    let db = empty_db().await;
    db.migrate_up().await.expect("migrations apply");
    let principal = add_user(&db, email).await;
    let store = SeaOrmPrincipalStore::new(Database::clone(&db));
    Stored {
        db,
        store,
        principal,
    }
}

async fn add_user(db: &Database, email: &str) -> Principal {
    let user = User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: EmailAddress::parse(email).expect("valid email"),
        password_hash: PasswordHash::from_phc(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        ),
        created_at: at(0),
        last_login: Some(at(5)),
        is_active: true,
    };
    let session = Session {
        id: SessionId::from_uuid(Uuid::now_v7()),
        user_id: user.id,
        created_at: at(10),
        expires_at: at(10) + TimeDelta::minutes(15),
        revoked_at: None,
        ip_address: Some("192.0.2.7".into()),
        user_agent: Some("principal-test/1.0".into()),
    };
    SeaOrmUserRepository::new(db.clone())
        .create_with_session(&user, &session, &event(user.id, AuthEventType::Signup))
        .await
        .expect("stored");
    Principal { user, session }
}

impl Stored {
    async fn load(&self, user_id: UserId, session_id: SessionId) -> Option<Principal> {
        self.store
            .load_live(user_id, session_id)
            .await
            .expect("the store answers")
    }
}

#[tokio::test]
async fn principal_store_answers_a_live_session_of_an_active_user_with_both_as_stored() {
    let s = stored("jane.doe@example.com").await;
    let p = &s.principal;

    let loaded = s.load(p.user.id, p.session.id).await;

    assert_eq!(loaded.as_ref(), Some(p));
}

#[tokio::test]
async fn principal_store_answers_nothing_for_an_unknown_session_or_another_users_session() {
    let s = stored("jane.doe@example.com").await;
    let john = add_user(&s.db, "john.roe@example.com").await;
    let p = &s.principal;

    assert_eq!(
        s.load(p.user.id, SessionId::from_uuid(Uuid::now_v7()))
            .await,
        None
    );
    assert_eq!(
        s.load(p.user.id, john.session.id).await,
        None,
        "John's session"
    );
    assert_eq!(s.load(john.user.id, p.session.id).await, None, "as John");
    assert_eq!(
        s.load(UserId::from_uuid(Uuid::now_v7()), p.session.id)
            .await,
        None,
        "an unknown user"
    );
    assert_eq!(s.load(john.user.id, john.session.id).await, Some(john));
}

#[tokio::test]
async fn principal_store_answers_nothing_for_a_revoked_session() {
    let s = stored("jane.doe@example.com").await;
    let p = &s.principal;
    let revoked = SeaOrmSessionRepository::new(Database::clone(&s.db))
        .revoke(
            p.session.id,
            p.user.id,
            at(60),
            &event(p.user.id, AuthEventType::Logout),
        )
        .await
        .expect("revoked");
    assert!(revoked);

    assert_eq!(s.load(p.user.id, p.session.id).await, None);
}

#[tokio::test]
async fn principal_store_answers_nothing_for_a_deactivated_user() {
    let s = stored("jane.doe@example.com").await;
    let p = &s.principal;
    // Deactivation revokes the sessions too; flip the flag alone as well, so that the
    // user's state is what is tested.
    s.db.connection()
        .execute_unprepared("UPDATE users SET is_active = false")
        .await
        .expect("raw update");

    assert_eq!(s.load(p.user.id, p.session.id).await, None);
}

#[tokio::test]
async fn principal_store_answers_a_session_past_its_expiry_which_is_the_callers_to_judge() {
    // The store has no clock; the use case checks expiry against its own on every
    // answer (a cached one may have expired since it was read anyway).
    let s = stored("jane.doe@example.com").await;
    let p = &s.principal;
    assert!(p.session.expires_at < Utc::now());

    assert_eq!(s.load(p.user.id, p.session.id).await.as_ref(), Some(p));
}
