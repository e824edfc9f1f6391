//! What a login on PostgreSQL tells the other instances: the one statement that writes
//! it also sends the user's id on the liveness channel — and a refused login writes
//! nothing and sends nothing.
//!
//! PostgreSQL only: run by the `needs_postgres` harness (see `needs_postgres.rs`).

use std::time::Duration;

use adapters::persistence::LIVENESS_CHANNEL;
use adapters::persistence::{Database, SeaOrmSessionRepository, SeaOrmUserRepository, connect};
use application::ports::{NewLogin, SessionRepository as _, StartLoginError, UserRepository as _};
use chrono::{TimeDelta, Utc};
use domain::{
    AuthEvent, AuthEventType, ClientInfo, EmailAddress, EventId, PasswordHash, Session, SessionId,
    User, UserId,
};
use sea_orm::sqlx::postgres::PgListener;
use uuid::Uuid;

fn event(event_type: AuthEventType, user_id: UserId) -> AuthEvent {
    AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        event_type,
        Some(user_id),
        &ClientInfo::default(),
        Utc::now(),
    )
}

fn session(user_id: UserId) -> Session {
    Session {
        id: SessionId::from_uuid(Uuid::now_v7()),
        user_id,
        created_at: Utc::now(),
        expires_at: Utc::now() + TimeDelta::minutes(15),
        revoked_at: None,
        ip_address: None,
        user_agent: None,
    }
}

/// A user signed up through the repository.
async fn sign_up(db: &Database) -> User {
    let user = User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: EmailAddress::parse(&crate::helpers::unique_email()).expect("email"),
        password_hash: PasswordHash::from_phc(format!(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${}",
            Uuid::now_v7().simple()
        )),
        created_at: Utc::now(),
        last_login: None,
        is_active: true,
    };
    SeaOrmUserRepository::new(db.clone())
        .create_with_session(
            &user,
            &session(user.id),
            &event(AuthEventType::Signup, user.id),
        )
        .await
        .expect("signed up");
    user
}

fn login(user: &User, verified: &PasswordHash) -> NewLogin {
    NewLogin {
        session: session(user.id),
        verified: verified.clone(),
        last_login: Utc::now(),
        rehashed: None,
        event: event(AuthEventType::Login, user.id),
    }
}

pub(crate) async fn a_login_notifies_the_other_instances_and_a_refused_one_does_not() {
    let postgres = testkit::postgres::create().await;
    let db = connect(&postgres.url).await.expect("connects");
    db.migrate_up().await.expect("migrates");
    let sessions = SeaOrmSessionRepository::new(db.clone());
    let mut listener = PgListener::connect(&postgres.url).await.expect("listener");
    listener.listen(LIVENESS_CHANNEL).await.expect("listen");
    let (refused, admitted) = (sign_up(&db).await, sign_up(&db).await);

    let stale = PasswordHash::from_phc("$argon2id$v=19$m=1,t=1,p=1$eQ$eQ".into());
    let answer = sessions.start(&login(&refused, &stale)).await;
    assert!(
        matches!(answer, Err(StartLoginError::CredentialChanged)),
        "{answer:?}"
    );
    sessions
        .start(&login(&admitted, &admitted.password_hash))
        .await
        .expect("the login is written");

    // Notifications arrive in commit order: the first is the admitted login's.
    let notification = tokio::time::timeout(Duration::from_secs(5), listener.recv())
        .await
        .expect("a notification within 5 s")
        .expect("the listener works");
    assert_eq!(notification.payload(), admitted.id.as_uuid().to_string());
}
