//! The repositories against real databases migrated by our own `Migrator`, compiled once
//! per backend (`on_sqlite`, `on_postgres`): the parent module gives a fresh database per
//! test (`empty_db`, `pooled_db`) and `sqlite_only!`, which leaves out on PostgreSQL the
//! tests that are about SQLite itself (pragmas, file databases).
//! Rows are read back through the ports and through raw SQL, so that the stored column
//! values (the contract's strings, UTC timestamps) are checked, not only the round trip.

use chrono::{DateTime, TimeDelta, Utc};
use domain::ClientInfo;
use sea_orm::{DbBackend, QueryResult, Statement, Value};
use uuid::Uuid;

use super::*;

// ---------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------

/// 2026-01-01T00:00:00Z plus `secs` seconds and a microsecond fraction, so that every
/// timestamp has a sub-second part to lose (microseconds: what PostgreSQL keeps too).
fn at(secs: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_767_225_600 + secs, 123_456_000).expect("valid test time")
}

/// A fresh migrated database: in memory on SQLite, a new database on PostgreSQL.
async fn memory_db() -> super::TestDb {
    let db = super::empty_db().await;
    db.migrate_up().await.expect("migrations apply");
    db
}

fn backend(db: &Database) -> DbBackend {
    db.connection().get_database_backend()
}

/// The statement for the database's backend: the `?` placeholders become `$1, $2…` on
/// PostgreSQL.
fn statement(db: &Database, sql: &str, values: Vec<Value>) -> Statement {
    let backend = backend(db);
    let sql = if backend == DbBackend::Postgres {
        let mut numbered = String::with_capacity(sql.len() + 8);
        let mut n = 0;
        for c in sql.chars() {
            if c == '?' {
                n += 1;
                numbered.push_str(&format!("${n}"));
            } else {
                numbered.push(c);
            }
        }
        numbered
    } else {
        sql.to_owned()
    };
    Statement::from_sql_and_values(backend, sql, values)
}

fn client() -> ClientInfo {
    ClientInfo {
        ip_address: Some("192.0.2.7".to_owned()),
        user_agent: Some("persistence-test/1.0".to_owned()),
    }
}

fn new_user(email: &str, created_at: DateTime<Utc>) -> User {
    User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: EmailAddress::parse(email).expect("valid test email"),
        password_hash: PasswordHash::from_phc(format!(
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA${}",
            Uuid::now_v7().simple()
        )),
        created_at,
        last_login: None,
        is_active: true,
    }
}

fn new_session(user_id: UserId, created_at: DateTime<Utc>) -> Session {
    let client = client();
    Session {
        id: SessionId::from_uuid(Uuid::now_v7()),
        user_id,
        created_at,
        expires_at: created_at + TimeDelta::minutes(15),
        revoked_at: None,
        ip_address: client.ip_address,
        user_agent: client.user_agent,
    }
}

fn success_event(
    event_type: AuthEventType,
    user_id: Option<UserId>,
    created_at: DateTime<Utc>,
) -> AuthEvent {
    AuthEvent::success(
        EventId::from_uuid(Uuid::now_v7()),
        event_type,
        user_id,
        &client(),
        created_at,
    )
}

fn failure_event(
    event_type: AuthEventType,
    user_id: Option<UserId>,
    reason: FailureReason,
    created_at: DateTime<Utc>,
) -> AuthEvent {
    AuthEvent::failure(
        EventId::from_uuid(Uuid::now_v7()),
        event_type,
        user_id,
        reason,
        &client(),
        created_at,
    )
}

/// Signs a user up through the repository: the user, its first session, the event.
async fn sign_up(db: &Database, email: &str) -> (User, Session, AuthEvent) {
    let user = new_user(email, at(0));
    let session = new_session(user.id, at(0));
    let event = success_event(AuthEventType::Signup, Some(user.id), at(0));
    SeaOrmUserRepository::new(db.clone())
        .create_with_session(&user, &session, &event)
        .await
        .expect("sign-up is stored");
    (user, session, event)
}

/// A login of `user` that verified its stored hash.
fn new_login(user: &User, when: DateTime<Utc>, rehashed: Option<PasswordHash>) -> NewLogin {
    let user_id = user.id;
    NewLogin {
        session: new_session(user_id, when),
        verified: user.password_hash.clone(),
        last_login: when,
        rehashed,
        event: success_event(AuthEventType::Login, Some(user_id), when),
    }
}

// ---------------------------------------------------------------------------------------
// Raw reads
// ---------------------------------------------------------------------------------------

async fn raw_all(db: &Database, sql: &str, values: Vec<Value>) -> Vec<QueryResult> {
    db.connection()
        .query_all_raw(statement(db, sql, values))
        .await
        .expect("raw query runs")
}

async fn raw_one(db: &Database, sql: &str, values: Vec<Value>) -> Option<QueryResult> {
    db.connection()
        .query_one_raw(statement(db, sql, values))
        .await
        .expect("raw query runs")
}

async fn count(db: &Database, table: &str) -> i64 {
    raw_one(db, &format!("SELECT COUNT(*) AS n FROM {table}"), vec![])
        .await
        .expect("COUNT returns a row")
        .try_get::<i64>("", "n")
        .expect("the count is an integer")
}

fn text(row: &QueryResult, column: &str) -> String {
    row.try_get::<String>("", column)
        .unwrap_or_else(|err| panic!("column {column} is text: {err}"))
}

fn nullable_text(row: &QueryResult, column: &str) -> Option<String> {
    row.try_get::<Option<String>>("", column)
        .unwrap_or_else(|err| panic!("column {column} is nullable text: {err}"))
}

async fn stored_events(db: &Database) -> Vec<AuthEvent> {
    auth_events::Entity::find()
        .all(db.connection())
        .await
        .expect("events read")
        .into_iter()
        .map(|row| event_from_row(row).expect("stored event parses"))
        .collect()
}

async fn stored_password_hash(db: &Database, user_id: UserId) -> String {
    let row = raw_one(
        db,
        "SELECT password_hash FROM users WHERE id = ?",
        vec![user_id.as_uuid().into()],
    )
    .await
    .expect("the user row exists");
    text(&row, "password_hash")
}

/// Stores a session row as it is, whatever its state (expired, revoked): the ports only
/// ever create live sessions.
async fn store_session(db: &Database, session: &Session) {
    sessions::Entity::insert(session_row(session))
        .exec_without_returning(db.connection())
        .await
        .expect("session is stored");
}

/// The instant the session-changing calls below run at.
fn now() -> DateTime<Utc> {
    at(300)
}

/// A signed-up user's sessions of every kind at [`now`], all stored.
struct UserSessions {
    user: User,
    /// The sign-up session (created at 0): live.
    signup: Session,
    /// Live: the one a password change keeps.
    current: Session,
    /// Live.
    other: Session,
    /// Expired long ago, never revoked.
    expired: Session,
    /// Expires exactly at [`now`]: no longer live then.
    expiring_now: Session,
    /// Revoked before [`now`], not yet expired.
    revoked: Session,
}

impl UserSessions {
    /// Every session, in a fixed order.
    fn all(&self) -> [&Session; 6] {
        [
            &self.signup,
            &self.current,
            &self.other,
            &self.expired,
            &self.expiring_now,
            &self.revoked,
        ]
    }
}

async fn sign_up_with_sessions(db: &Database, email: &str) -> UserSessions {
    let (user, signup, _) = sign_up(db, email).await;
    let current = new_session(user.id, at(60));
    let other = new_session(user.id, at(120));
    let expired = new_session(user.id, at(-3_600));
    let mut expiring_now = new_session(user.id, at(-600));
    expiring_now.expires_at = now();
    let revoked = Session {
        revoked_at: Some(at(45)),
        ..new_session(user.id, at(30))
    };
    for session in [&current, &other, &expired, &expiring_now, &revoked] {
        store_session(db, session).await;
    }
    for session in [&signup, &current, &other] {
        assert!(session.is_live(now()), "fixture: {session:?} is live");
    }
    for session in [&expired, &expiring_now, &revoked] {
        assert!(!session.is_live(now()), "fixture: {session:?} is not live");
    }
    UserSessions {
        user,
        signup,
        current,
        other,
        expired,
        expiring_now,
        revoked,
    }
}

/// The session as stored (it must exist).
async fn stored_session(db: &Database, id: SessionId) -> Session {
    SeaOrmSessionRepository::new(db.clone())
        .find_by_id(id)
        .await
        .expect("session lookup works")
        .expect("the session row exists")
}

/// The user as stored (it must exist).
async fn stored_user(db: &Database, id: UserId) -> User {
    SeaOrmUserRepository::new(db.clone())
        .find_by_id(id)
        .await
        .expect("user lookup works")
        .expect("the user row exists")
}

/// Every stored session, by id.
async fn all_sessions(db: &Database) -> Vec<Session> {
    sessions::Entity::find()
        .order_by_asc(sessions::Column::Id)
        .all(db.connection())
        .await
        .expect("sessions read")
        .into_iter()
        .map(session_from_row)
        .collect()
}

fn revoked_at(session: &Session, when: DateTime<Utc>) -> Session {
    Session {
        revoked_at: Some(when),
        ..session.clone()
    }
}

fn new_hash() -> PasswordHash {
    PasswordHash::from_phc(format!(
        "$argon2id$v=19$m=19456,t=2,p=1$bmV3$new{}",
        Uuid::now_v7().simple()
    ))
}

fn cursor_of(event: &AuthEvent) -> EventCursor {
    EventCursor {
        created_at: event.created_at,
        id: event.id,
    }
}

/// `events` in the security log's order: newest first, then by id descending.
fn newest_first(mut events: Vec<AuthEvent>) -> Vec<AuthEvent> {
    events.sort_by_key(|e| std::cmp::Reverse((e.created_at, e.id.as_uuid())));
    events
}

/// Signs a user up (one `signup` event at `at(0)`) and records 24 more of their events,
/// out of order, with random (v4) ids and many sharing an instant — two such groups
/// straddle the page boundaries of a limit of 10 — and instants whose stored text has
/// no fraction, three or six digits. Returns the user and its 25 events, newest first.
async fn user_with_25_events(db: &Database, email: &str) -> (User, Vec<AuthEvent>) {
    let (user, _, signup) = sign_up(db, email).await;
    let base = DateTime::from_timestamp(1_767_225_600 + 10, 0).expect("valid test time");
    // (offset from base in microseconds, how many events share that instant), newest
    // first: the positions in the log are given on the right.
    let instants: [(i64, usize); 10] = [
        (5_000_000, 2), // 0-1
        (4_100_001, 1), // 2
        (4_100_000, 2), // 3-4
        (4_000_000, 3), // 5-7
        (3_000_001, 4), // 8-11: across the first page boundary
        (3_000_000, 2), // 12-13
        (2_999_999, 1), // 14
        (2_500_000, 3), // 15-17
        (2_000_000, 5), // 18-22: across the second page boundary
        (1_000_000, 1), // 23
    ];
    let mut recorded = Vec::new();
    for (offset, n) in instants {
        for _ in 0..n {
            let mut event = success_event(
                AuthEventType::Login,
                Some(user.id),
                base + TimeDelta::microseconds(offset),
            );
            event.id = EventId::from_uuid(Uuid::new_v4());
            recorded.push(event);
        }
    }
    assert_eq!(recorded.len(), 24);
    let log = SeaOrmAuthEventLog::new(db.clone());
    // Recorded in a scrambled order (7 is coprime with 24).
    for i in 0..24 {
        log.record(&recorded[(i * 7) % 24])
            .await
            .expect("event recorded");
    }
    recorded.push(signup);
    let expected = newest_first(recorded);
    assert_eq!(expected.len(), 25);
    assert_eq!(expected[9].created_at, expected[10].created_at, "fixture");
    assert_eq!(expected[19].created_at, expected[20].created_at, "fixture");
    (user, expected)
}

// ---------------------------------------------------------------------------------------
// Users
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn create_with_session_writes_the_user_the_session_and_the_signup_event() {
    let db = memory_db().await;
    let (user, session, event) = sign_up(&db, "alice@example.com").await;

    let found_user = SeaOrmUserRepository::new(db.clone())
        .find_by_id(user.id)
        .await
        .expect("user lookup works");
    assert_eq!(found_user, Some(user.clone()));
    let found_session = SeaOrmSessionRepository::new(db.clone())
        .find_by_id(session.id)
        .await
        .expect("session lookup works");
    assert_eq!(found_session, Some(session.clone()));
    assert_eq!(stored_events(&db).await, vec![event.clone()]);

    // The same three rows, seen as the entities store them.
    let user_row = users::Entity::find_by_id(user.id.as_uuid())
        .one(db.connection())
        .await
        .expect("users read")
        .expect("user row present");
    assert_eq!(user_row.email, "alice@example.com");
    assert_eq!(user_row.password_hash, user.password_hash.as_str());
    assert!(user_row.is_active);
    assert_eq!(user_row.last_login, None);
    let session_rows = sessions::Entity::find()
        .filter(sessions::Column::UserId.eq(user.id.as_uuid()))
        .all(db.connection())
        .await
        .expect("sessions read");
    assert_eq!(session_rows.len(), 1);
    assert_eq!(session_rows[0].id, session.id.as_uuid());
    assert_eq!(session_rows[0].revoked_at, None);

    let raw = raw_one(
        &db,
        "SELECT event_type, success, failure_reason, ip_address, user_agent, count \
         FROM auth_events WHERE id = ?",
        vec![event.id.as_uuid().into()],
    )
    .await
    .expect("event row present");
    assert_eq!(text(&raw, "event_type"), "signup");
    assert!(
        raw.try_get::<bool>("", "success")
            .expect("success is a bool")
    );
    assert_eq!(nullable_text(&raw, "failure_reason"), None);
    assert_eq!(
        nullable_text(&raw, "ip_address").as_deref(),
        Some("192.0.2.7")
    );
    assert_eq!(
        nullable_text(&raw, "user_agent").as_deref(),
        Some("persistence-test/1.0")
    );
    assert_eq!(raw.try_get::<i32>("", "count").expect("count is an int"), 1);
}

#[tokio::test]
async fn a_second_signup_with_another_form_of_the_email_is_email_taken_and_writes_nothing() {
    let db = memory_db().await;
    let (first, first_session, _) = sign_up(&db, "bob@example.com").await;

    let second = new_user("  \"BOB\"@ＥＸＡＭＰＬＥ.com ", at(60));
    assert_ne!(second.email, first.email, "typed differently");
    assert_eq!(second.email.key(), first.email.key(), "one key");
    let second_session = new_session(second.id, at(60));
    let second_event = success_event(AuthEventType::Signup, Some(second.id), at(60));
    let result = SeaOrmUserRepository::new(db.clone())
        .create_with_session(&second, &second_session, &second_event)
        .await;
    assert!(
        matches!(result, Err(CreateUserError::EmailTaken)),
        "{result:?}"
    );

    assert_eq!(count(&db, "users").await, 1);
    assert_eq!(count(&db, "sessions").await, 1);
    assert_eq!(count(&db, "auth_events").await, 1);
    let users = SeaOrmUserRepository::new(db.clone());
    assert_eq!(
        users.find_by_id(second.id).await.expect("lookup works"),
        None
    );
    assert_eq!(
        users
            .find_by_email(first.email.key())
            .await
            .expect("lookup works")
            .map(|u| u.id),
        Some(first.id),
        "the first account is untouched"
    );
    let sessions = SeaOrmSessionRepository::new(db.clone());
    assert_eq!(
        sessions
            .find_by_id(second_session.id)
            .await
            .expect("lookup works"),
        None
    );
    assert!(
        sessions
            .find_by_id(first_session.id)
            .await
            .expect("lookup works")
            .is_some()
    );
    assert!(
        stored_events(&db)
            .await
            .iter()
            .all(|e| e.id != second_event.id)
    );

    // The connection is usable afterwards (the failed transaction was rolled back).
    sign_up(&db, "carol@example.com").await;
    assert_eq!(count(&db, "users").await, 2);
}

#[tokio::test]
async fn concurrent_signups_with_one_email_on_a_file_database_store_exactly_one_account() {
    let db = super::pooled_db().await;
    let repo = SeaOrmUserRepository::new(db.clone());

    let attempts = (0..4).map(|i| {
        let repo = repo.clone();
        tokio::spawn(async move {
            let user = new_user("race@example.com", at(i));
            let session = new_session(user.id, at(i));
            let event = success_event(AuthEventType::Signup, Some(user.id), at(i));
            repo.create_with_session(&user, &session, &event).await
        })
    });
    let mut created = 0;
    let mut taken = 0;
    for attempt in attempts.collect::<Vec<_>>() {
        match attempt.await.expect("task completes") {
            Ok(()) => created += 1,
            Err(CreateUserError::EmailTaken) => taken += 1,
            Err(CreateUserError::Unexpected(err)) => panic!("unexpected error: {err:#}"),
        }
    }
    assert_eq!((created, taken), (1, 3));
    assert_eq!(count(&db, "users").await, 1);
    assert_eq!(count(&db, "sessions").await, 1);
    assert_eq!(count(&db, "auth_events").await, 1);
}

#[tokio::test]
async fn create_with_session_writes_nothing_when_the_session_cannot_be_stored() {
    let db = memory_db().await;
    let (_, first_session, _) = sign_up(&db, "dave@example.com").await;

    // A session id that already exists makes the second insert of the transaction fail.
    let user = new_user("erin@example.com", at(5));
    let mut session = new_session(user.id, at(5));
    session.id = first_session.id;
    let event = success_event(AuthEventType::Signup, Some(user.id), at(5));
    let result = SeaOrmUserRepository::new(db.clone())
        .create_with_session(&user, &session, &event)
        .await;
    assert!(
        matches!(result, Err(CreateUserError::Unexpected(_))),
        "{result:?}"
    );

    assert_eq!(
        count(&db, "users").await,
        1,
        "the user insert is rolled back"
    );
    assert_eq!(count(&db, "sessions").await, 1);
    assert_eq!(count(&db, "auth_events").await, 1);
    sign_up(&db, "erin@example.com").await;
}

#[tokio::test]
async fn find_by_email_finds_the_user_by_the_key_of_any_form_of_its_email_and_none_for_an_unknown_one()
 {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "Fran\u{e7}ois@B\u{fc}cher.de").await;
    let repo = SeaOrmUserRepository::new(db.clone());

    for other_form in [
        " FRAN\u{c7}OIS@b\u{fc}cher.DE",
        "franc\u{327}ois@xn--bcher-kva.de",
        "\"ｆｒａｎ\u{e7}ｏｉｓ\"@BU\u{308}CHER.de",
    ] {
        let key = EmailAddress::parse(other_form).expect("valid email");
        assert_eq!(
            repo.find_by_email(key.key()).await.expect("lookup works"),
            Some(user.clone()),
            "{other_form:?}"
        );
    }
    assert_eq!(
        user.email.as_str(),
        "Fran\u{e7}ois@B\u{fc}cher.de",
        "kept as typed"
    );
    let unknown = EmailAddress::parse("nobody@example.com").expect("valid email");
    assert_eq!(
        repo.find_by_email(unknown.key())
            .await
            .expect("lookup works"),
        None
    );
}

#[tokio::test]
async fn the_row_keeps_the_email_as_typed_beside_its_key() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "  Jos\u{e9}@B\u{fc}cher.de ").await;
    let row = raw_one(
        &db,
        "SELECT email, email_key FROM users WHERE id = ?",
        vec![user.id.as_uuid().into()],
    )
    .await
    .expect("the row");
    assert_eq!(
        row.try_get::<String>("", "email").expect("text"),
        "Jos\u{e9}@B\u{fc}cher.de"
    );
    assert_eq!(
        row.try_get::<String>("", "email_key").expect("text"),
        "jos\u{e9}@xn--bcher-kva.de"
    );
}

#[tokio::test]
async fn find_by_id_returns_the_user_and_none_for_an_unknown_id() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "grace@example.com").await;
    let repo = SeaOrmUserRepository::new(db.clone());

    assert_eq!(
        repo.find_by_id(user.id).await.expect("lookup works"),
        Some(user)
    );
    assert_eq!(
        repo.find_by_id(UserId::from_uuid(Uuid::now_v7()))
            .await
            .expect("lookup works"),
        None
    );
}

#[tokio::test]
async fn inactive_users_are_found_by_email_and_by_id() {
    let db = memory_db().await;
    let mut user = new_user("heidi@example.com", at(0));
    user.is_active = false;
    user.last_login = Some(at(-3_600));
    let session = new_session(user.id, at(0));
    let event = success_event(AuthEventType::Signup, Some(user.id), at(0));
    let repo = SeaOrmUserRepository::new(db.clone());
    repo.create_with_session(&user, &session, &event)
        .await
        .expect("stored");

    assert_eq!(
        repo.find_by_email(user.email.key())
            .await
            .expect("lookup works"),
        Some(user.clone())
    );
    assert_eq!(
        repo.find_by_id(user.id).await.expect("lookup works"),
        Some(user)
    );
}

#[tokio::test]
async fn change_password_replaces_the_hash_revokes_the_other_live_sessions_and_records_the_event() {
    let db = memory_db().await;
    let alice = sign_up_with_sessions(&db, "alice@example.com").await;
    let bob = sign_up_with_sessions(&db, "bob@example.com").await;
    let sessions_before = all_sessions(&db).await;
    let events_before = stored_events(&db).await;
    let new = new_hash();
    let event = success_event(AuthEventType::PasswordChanged, Some(alice.user.id), now());

    let changed = SeaOrmUserRepository::new(db.clone())
        .change_password(
            alice.user.id,
            &alice.user.password_hash,
            &new,
            alice.current.id,
            now(),
            &event,
        )
        .await
        .expect("the change works");

    assert!(changed);
    assert_eq!(stored_password_hash(&db, alice.user.id).await, new.as_str());
    assert_eq!(
        stored_user(&db, alice.user.id).await,
        User {
            password_hash: new.clone(),
            ..alice.user.clone()
        },
        "nothing else of the user changes"
    );
    // The other live sessions are revoked at the change's instant...
    for session in [&alice.signup, &alice.other] {
        assert_eq!(
            stored_session(&db, session.id).await,
            revoked_at(session, now())
        );
    }
    // ...the kept one, the dead ones and the other user's are untouched.
    for session in [
        &alice.current,
        &alice.expired,
        &alice.expiring_now,
        &alice.revoked,
    ] {
        assert_eq!(&stored_session(&db, session.id).await, session);
    }
    for session in bob.all() {
        assert_eq!(&stored_session(&db, session.id).await, session);
    }
    assert_eq!(stored_user(&db, bob.user.id).await, bob.user);
    assert_eq!(all_sessions(&db).await.len(), sessions_before.len());
    assert_eq!(
        SeaOrmSessionRepository::new(db.clone())
            .list_live(alice.user.id, now())
            .await
            .expect("listing works"),
        vec![alice.current.clone()]
    );
    let mut expected_events = events_before;
    expected_events.push(event.clone());
    assert_eq!(stored_events(&db).await, expected_events);
    let raw = raw_one(
        &db,
        "SELECT event_type, success FROM auth_events WHERE id = ?",
        vec![event.id.as_uuid().into()],
    )
    .await
    .expect("event row present");
    assert_eq!(text(&raw, "event_type"), "password_changed");
    assert!(raw.try_get::<bool>("", "success").expect("a boolean"));
}

#[tokio::test]
async fn change_password_with_a_stale_expected_hash_returns_false_and_writes_nothing() {
    let db = memory_db().await;
    let alice = sign_up_with_sessions(&db, "alice@example.com").await;
    let sessions_before = all_sessions(&db).await;
    let events_before = stored_events(&db).await;
    let repo = SeaOrmUserRepository::new(db.clone());
    let stale = new_hash();
    let event = success_event(AuthEventType::PasswordChanged, Some(alice.user.id), now());

    let changed = repo
        .change_password(
            alice.user.id,
            &stale,
            &new_hash(),
            alice.current.id,
            now(),
            &event,
        )
        .await
        .expect("the call itself works");

    assert!(!changed);
    assert_eq!(
        stored_password_hash(&db, alice.user.id).await,
        alice.user.password_hash.as_str()
    );
    assert_eq!(stored_user(&db, alice.user.id).await, alice.user);
    assert_eq!(
        all_sessions(&db).await,
        sessions_before,
        "no session revoked"
    );
    assert_eq!(stored_events(&db).await, events_before, "no event recorded");

    // The transaction was rolled back: the connection takes the change with the right
    // hash afterwards.
    let retry = success_event(AuthEventType::PasswordChanged, Some(alice.user.id), now());
    assert!(
        repo.change_password(
            alice.user.id,
            &alice.user.password_hash,
            &new_hash(),
            alice.current.id,
            now(),
            &retry,
        )
        .await
        .expect("the change works")
    );
}

#[tokio::test]
async fn change_password_of_an_unknown_user_returns_false_and_writes_nothing() {
    let db = memory_db().await;
    let alice = sign_up_with_sessions(&db, "alice@example.com").await;
    let sessions_before = all_sessions(&db).await;
    let events_before = stored_events(&db).await;
    // No user id on the event, so that only the compare-and-swap can refuse.
    let event = success_event(AuthEventType::PasswordChanged, None, now());

    let changed = SeaOrmUserRepository::new(db.clone())
        .change_password(
            UserId::from_uuid(Uuid::now_v7()),
            &alice.user.password_hash,
            &new_hash(),
            alice.current.id,
            now(),
            &event,
        )
        .await
        .expect("the call itself works");

    assert!(!changed);
    assert_eq!(stored_user(&db, alice.user.id).await, alice.user);
    assert_eq!(all_sessions(&db).await, sessions_before);
    assert_eq!(stored_events(&db).await, events_before);
}

#[tokio::test]
async fn concurrent_password_changes_from_one_hash_on_a_file_database_let_exactly_one_win() {
    let db = super::pooled_db().await;
    let (user, _, _) = sign_up(&db, "race@example.com").await;
    let repo = SeaOrmUserRepository::new(db.clone());
    let mut expected = user.password_hash.clone();

    // Several rounds, each racing two changes from the hash the previous round left.
    for round in 0..5 {
        let when = now() + TimeDelta::seconds(round);
        let events_before = stored_events(&db).await;
        let contenders: Vec<(Session, PasswordHash, AuthEvent)> = (0..2)
            .map(|_| {
                (
                    new_session(user.id, when - TimeDelta::seconds(1)),
                    new_hash(),
                    success_event(AuthEventType::PasswordChanged, Some(user.id), when),
                )
            })
            .collect();
        for (session, _, _) in &contenders {
            store_session(&db, session).await;
        }

        let tasks: Vec<_> = contenders
            .iter()
            .cloned()
            .map(|(keep, new, event)| {
                let repo = repo.clone();
                let expected = expected.clone();
                tokio::spawn(async move {
                    repo.change_password(user.id, &expected, &new, keep.id, when, &event)
                        .await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(
                task.await
                    .expect("task completes")
                    .unwrap_or_else(|err| panic!("round {round}: unexpected error: {err:#}")),
            );
        }

        assert_eq!(
            outcomes.iter().filter(|won| **won).count(),
            1,
            "round {round}: {outcomes:?}"
        );
        let winner = outcomes.iter().position(|won| *won).expect("one call won");
        let (kept, new, event) = &contenders[winner];
        let (lost, _, _) = &contenders[1 - winner];
        assert_eq!(stored_password_hash(&db, user.id).await, new.as_str());
        let mut expected_events = events_before;
        expected_events.push(event.clone());
        assert_eq!(
            stored_events(&db).await,
            expected_events,
            "round {round}: only the winner's event"
        );
        assert_eq!(&stored_session(&db, kept.id).await, kept);
        assert_eq!(
            stored_session(&db, lost.id).await,
            revoked_at(lost, when),
            "round {round}: the loser's session is revoked by the winner"
        );
        assert_eq!(
            SeaOrmSessionRepository::new(db.clone())
                .list_live(user.id, when)
                .await
                .expect("listing works"),
            vec![kept.clone()]
        );
        expected = new.clone();
    }
}

#[tokio::test]
async fn deactivate_marks_the_user_inactive_revokes_every_live_session_and_records_the_event() {
    let db = memory_db().await;
    let alice = sign_up_with_sessions(&db, "alice@example.com").await;
    let bob = sign_up_with_sessions(&db, "bob@example.com").await;
    let events_before = stored_events(&db).await;
    let event = success_event(
        AuthEventType::AccountDeactivated,
        Some(alice.user.id),
        now(),
    );

    SeaOrmUserRepository::new(db.clone())
        .deactivate(alice.user.id, now(), &event)
        .await
        .expect("deactivation works");

    assert_eq!(
        stored_user(&db, alice.user.id).await,
        User {
            is_active: false,
            ..alice.user.clone()
        },
        "only is_active changes"
    );
    for session in [&alice.signup, &alice.current, &alice.other] {
        assert_eq!(
            stored_session(&db, session.id).await,
            revoked_at(session, now())
        );
    }
    for session in [&alice.expired, &alice.expiring_now, &alice.revoked] {
        assert_eq!(
            &stored_session(&db, session.id).await,
            session,
            "a dead session keeps its state"
        );
    }
    assert!(
        SeaOrmSessionRepository::new(db.clone())
            .list_live(alice.user.id, now())
            .await
            .expect("listing works")
            .is_empty()
    );
    assert_eq!(stored_user(&db, bob.user.id).await, bob.user);
    for session in bob.all() {
        assert_eq!(&stored_session(&db, session.id).await, session);
    }
    let mut expected_events = events_before;
    expected_events.push(event.clone());
    assert_eq!(stored_events(&db).await, expected_events);
    let raw = raw_one(
        &db,
        "SELECT event_type, is_active FROM auth_events, users \
         WHERE auth_events.id = ? AND users.id = ?",
        vec![event.id.as_uuid().into(), alice.user.id.as_uuid().into()],
    )
    .await
    .expect("rows present");
    assert_eq!(text(&raw, "event_type"), "account_deactivated");
    assert!(!raw.try_get::<bool>("", "is_active").expect("a boolean"));
}

// ---------------------------------------------------------------------------------------
// Sessions
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn start_writes_the_session_the_last_login_and_the_login_event() {
    let db = memory_db().await;
    let (user, _, signup) = sign_up(&db, "ivan@example.com").await;
    let login = new_login(&user, at(3_600), None);

    let sessions = SeaOrmSessionRepository::new(db.clone());
    sessions.start(&login).await.expect("login is stored");

    assert_eq!(
        sessions
            .find_by_id(login.session.id)
            .await
            .expect("lookup works"),
        Some(login.session.clone())
    );
    let stored = SeaOrmUserRepository::new(db.clone())
        .find_by_id(user.id)
        .await
        .expect("lookup works")
        .expect("user present");
    assert_eq!(stored.last_login, Some(at(3_600)));
    assert_eq!(
        stored,
        User {
            last_login: Some(at(3_600)),
            ..user
        },
        "nothing else of the user changes"
    );
    assert_eq!(stored_events(&db).await, vec![signup, login.event.clone()]);
    assert_eq!(count(&db, "sessions").await, 2);
}

#[tokio::test]
async fn start_with_a_rehash_replaces_the_stored_password_hash() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "judy@example.com").await;
    let rehashed =
        PasswordHash::from_phc("$argon2id$v=19$m=19456,t=3,p=1$bmV3c2FsdA$bmV3aGFzaA".into());
    let login = new_login(&user, at(60), Some(rehashed.clone()));

    SeaOrmSessionRepository::new(db.clone())
        .start(&login)
        .await
        .expect("login is stored");

    assert_eq!(stored_password_hash(&db, user.id).await, rehashed.as_str());
    let stored = SeaOrmUserRepository::new(db.clone())
        .find_by_id(user.id)
        .await
        .expect("lookup works")
        .expect("user present");
    assert_eq!(stored.password_hash, rehashed);
    assert_eq!(stored.last_login, Some(at(60)));
}

#[tokio::test]
async fn start_without_a_rehash_leaves_the_stored_password_hash() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "mallory@example.com").await;
    let login = new_login(&user, at(60), None);

    SeaOrmSessionRepository::new(db.clone())
        .start(&login)
        .await
        .expect("login is stored");

    assert_eq!(
        stored_password_hash(&db, user.id).await,
        user.password_hash.as_str()
    );
}

#[tokio::test]
async fn start_only_touches_the_logged_in_users_row() {
    let db = memory_db().await;
    let (alice, _, _) = sign_up(&db, "alice@example.com").await;
    let (bob, _, _) = sign_up(&db, "bob@example.com").await;
    let rehashed = PasswordHash::from_phc("$argon2id$v=19$m=1,t=1,p=1$eA$eA".into());

    SeaOrmSessionRepository::new(db.clone())
        .start(&new_login(&alice, at(60), Some(rehashed)))
        .await
        .expect("login is stored");

    let stored_bob = SeaOrmUserRepository::new(db.clone())
        .find_by_id(bob.id)
        .await
        .expect("lookup works");
    assert_eq!(stored_bob, Some(bob));
}

#[tokio::test]
async fn start_writes_nothing_when_the_event_cannot_be_stored() {
    let db = memory_db().await;
    let (user, _, signup) = sign_up(&db, "niaj@example.com").await;
    let mut login = new_login(
        &user,
        at(60),
        Some(PasswordHash::from_phc(
            "$argon2id$v=19$m=1,t=1,p=1$eQ$eQ".into(),
        )),
    );
    // The event id is already taken: the last insert of the transaction fails.
    login.event.id = signup.id;

    let result = SeaOrmSessionRepository::new(db.clone()).start(&login).await;
    assert!(result.is_err(), "a duplicate event id must fail");

    let sessions = SeaOrmSessionRepository::new(db.clone());
    assert_eq!(
        sessions
            .find_by_id(login.session.id)
            .await
            .expect("lookup works"),
        None
    );
    assert_eq!(
        SeaOrmUserRepository::new(db.clone())
            .find_by_id(user.id)
            .await
            .expect("lookup works"),
        Some(user),
        "last_login and the hash are rolled back"
    );
    assert_eq!(count(&db, "auth_events").await, 1);
}

/// What a refused `start` must leave: the user as it was, no new session, no new event.
async fn assert_login_wrote_nothing(db: &Database, login: &NewLogin, user: &User, events: i64) {
    assert_eq!(
        SeaOrmSessionRepository::new(db.clone())
            .find_by_id(login.session.id)
            .await
            .expect("lookup works"),
        None
    );
    assert_eq!(
        SeaOrmUserRepository::new(db.clone())
            .find_by_id(user.id)
            .await
            .expect("lookup works")
            .as_ref(),
        Some(user),
        "neither last_login nor the hash changed"
    );
    assert_eq!(count(db, "auth_events").await, events);
}

#[tokio::test]
async fn start_after_a_password_change_writes_nothing_and_says_the_credential_changed() {
    let db = memory_db().await;
    let (user, signup_session, _) = sign_up(&db, "olivia@example.com").await;
    // The login verified the old hash (and would re-hash it); then the change committed.
    let login = new_login(
        &user,
        at(120),
        Some(PasswordHash::from_phc(
            "$argon2id$v=19$m=19456,t=2,p=1$b2xk$b2xk".into(),
        )),
    );
    let changed = PasswordHash::from_phc("$argon2id$v=19$m=19456,t=2,p=1$bmV3$bmV3".into());
    let users = SeaOrmUserRepository::new(db.clone());
    assert!(
        users
            .change_password(
                user.id,
                &user.password_hash,
                &changed,
                signup_session.id,
                at(60),
                &success_event(AuthEventType::PasswordChanged, Some(user.id), at(60)),
            )
            .await
            .expect("change stored")
    );

    let result = SeaOrmSessionRepository::new(db.clone()).start(&login).await;

    assert!(
        matches!(result, Err(StartLoginError::CredentialChanged)),
        "{result:?}"
    );
    let after_change = User {
        password_hash: changed,
        ..user
    };
    assert_login_wrote_nothing(&db, &login, &after_change, 2).await;
}

#[tokio::test]
async fn start_after_a_deactivation_writes_nothing_and_says_the_account_is_inactive() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "peggy@example.com").await;
    let login = new_login(&user, at(120), None);
    SeaOrmUserRepository::new(db.clone())
        .deactivate(
            user.id,
            at(60),
            &success_event(AuthEventType::AccountDeactivated, Some(user.id), at(60)),
        )
        .await
        .expect("deactivation stored");

    let result = SeaOrmSessionRepository::new(db.clone()).start(&login).await;

    assert!(
        matches!(result, Err(StartLoginError::AccountInactive)),
        "{result:?}"
    );
    let deactivated = User {
        is_active: false,
        ..user
    };
    assert_login_wrote_nothing(&db, &login, &deactivated, 2).await;
}

#[tokio::test]
async fn a_session_for_an_unknown_user_is_refused_by_the_foreign_key() {
    let db = memory_db().await;
    let stranger = UserId::from_uuid(Uuid::now_v7());

    // `start` refuses it before any insert (no user row to swap on); the schema refuses
    // it too.
    let login = NewLogin {
        session: new_session(stranger, at(0)),
        verified: PasswordHash::from_phc("$argon2id$v=19$m=1,t=1,p=1$eA$eA".into()),
        last_login: at(0),
        rehashed: None,
        event: success_event(AuthEventType::Login, None, at(0)),
    };
    let result = SeaOrmSessionRepository::new(db.clone()).start(&login).await;
    assert!(
        matches!(result, Err(StartLoginError::CredentialChanged)),
        "{result:?}"
    );

    let result = sessions::Entity::insert(session_row(&login.session))
        .exec_without_returning(db.connection())
        .await;
    let db_err = result.expect_err("a session needs an existing user");
    assert!(
        matches!(
            db_err.sql_err(),
            Some(SqlErr::ForeignKeyConstraintViolation(_))
        ),
        "{db_err:?}"
    );
    assert_eq!(count(&db, "sessions").await, 0);
    assert_eq!(count(&db, "auth_events").await, 0);

    // The pragma is on for the connection, not only for this statement.
    if backend(&db) == DbBackend::Sqlite {
        let pragma = raw_one(&db, "PRAGMA foreign_keys", vec![])
            .await
            .expect("pragma answers");
        assert_eq!(
            pragma
                .try_get_by_index::<i64>(0)
                .expect("pragma is an integer"),
            1
        );
    }
}

#[tokio::test]
async fn an_event_for_an_unknown_user_is_refused_by_the_foreign_key() {
    let db = memory_db().await;
    let event = success_event(
        AuthEventType::TokenRejected,
        Some(UserId::from_uuid(Uuid::now_v7())),
        at(0),
    );

    let result = SeaOrmAuthEventLog::new(db.clone()).record(&event).await;
    assert!(result.is_err(), "auth_events.user_id references users");
    assert_eq!(count(&db, "auth_events").await, 0);
}

#[tokio::test]
async fn session_find_by_id_returns_live_and_revoked_sessions_and_none_for_an_unknown_id() {
    let db = memory_db().await;
    let (user, first, _) = sign_up(&db, "olivia@example.com").await;
    let sessions = SeaOrmSessionRepository::new(db.clone());
    let revoked_at = at(120);
    let logout = success_event(AuthEventType::Logout, Some(user.id), revoked_at);
    assert!(
        sessions
            .revoke(first.id, user.id, revoked_at, &logout)
            .await
            .expect("revocation works")
    );

    let found = sessions
        .find_by_id(first.id)
        .await
        .expect("lookup works")
        .expect("a revoked session is still found");
    assert_eq!(
        found,
        Session {
            revoked_at: Some(revoked_at),
            ..first
        }
    );
    assert!(!found.is_live(at(1)));
    assert_eq!(
        sessions
            .find_by_id(SessionId::from_uuid(Uuid::now_v7()))
            .await
            .expect("lookup works"),
        None
    );
}

#[tokio::test]
async fn revoke_returns_true_once_then_false_and_records_the_event_only_once() {
    let db = memory_db().await;
    let (user, session, signup) = sign_up(&db, "peggy@example.com").await;
    let sessions = SeaOrmSessionRepository::new(db.clone());
    let first_event = success_event(AuthEventType::Logout, Some(user.id), at(100));
    let second_event = success_event(AuthEventType::Logout, Some(user.id), at(200));

    let first = sessions
        .revoke(session.id, user.id, at(100), &first_event)
        .await
        .expect("revocation works");
    let second = sessions
        .revoke(session.id, user.id, at(200), &second_event)
        .await
        .expect("revocation works");

    assert!(first);
    assert!(!second);
    assert_eq!(stored_events(&db).await, vec![signup, first_event]);
    let stored = sessions
        .find_by_id(session.id)
        .await
        .expect("lookup works")
        .expect("present");
    assert_eq!(
        stored.revoked_at,
        Some(at(100)),
        "the first revocation time stays"
    );
}

#[tokio::test]
async fn revoke_refuses_another_users_session_and_writes_nothing() {
    let db = memory_db().await;
    let (owner, session, _) = sign_up(&db, "owner@example.com").await;
    let (intruder, _, _) = sign_up(&db, "intruder@example.com").await;
    let sessions = SeaOrmSessionRepository::new(db.clone());
    let event = success_event(AuthEventType::Logout, Some(intruder.id), at(100));

    let revoked = sessions
        .revoke(session.id, intruder.id, at(100), &event)
        .await
        .expect("the call itself works");

    assert!(!revoked);
    assert_eq!(
        sessions.find_by_id(session.id).await.expect("lookup works"),
        Some(session.clone()),
        "still live"
    );
    assert_eq!(count(&db, "auth_events").await, 2, "only the two signups");
    assert!(stored_events(&db).await.iter().all(|e| e.id != event.id));
    // The owner can still revoke it.
    let owners = success_event(AuthEventType::Logout, Some(owner.id), at(150));
    assert!(
        sessions
            .revoke(session.id, owner.id, at(150), &owners)
            .await
            .expect("revocation works")
    );
}

#[tokio::test]
async fn revoke_of_an_unknown_session_returns_false_and_writes_nothing() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "quentin@example.com").await;
    let event = success_event(AuthEventType::Logout, Some(user.id), at(100));

    let revoked = SeaOrmSessionRepository::new(db.clone())
        .revoke(
            SessionId::from_uuid(Uuid::now_v7()),
            user.id,
            at(100),
            &event,
        )
        .await
        .expect("the call itself works");

    assert!(!revoked);
    assert_eq!(count(&db, "auth_events").await, 1);
}

#[tokio::test]
async fn list_live_returns_only_the_users_unrevoked_unexpired_sessions_newest_first() {
    let db = memory_db().await;
    let alice = sign_up_with_sessions(&db, "alice@example.com").await;
    let bob = sign_up_with_sessions(&db, "bob@example.com").await;
    let newest = new_session(alice.user.id, at(200));
    store_session(&db, &newest).await;
    let sessions = SeaOrmSessionRepository::new(db.clone());

    let live = sessions
        .list_live(alice.user.id, now())
        .await
        .expect("listing works");

    assert_eq!(
        live,
        vec![
            newest.clone(),
            alice.other.clone(),
            alice.current.clone(),
            alice.signup.clone(),
        ]
    );
    assert!(live.iter().all(|s| s.is_live(now())));
    assert!(live.iter().all(|s| s.user_id == alice.user.id));
    let bobs = sessions
        .list_live(bob.user.id, now())
        .await
        .expect("listing works");
    assert_eq!(
        bobs,
        vec![bob.other.clone(), bob.current.clone(), bob.signup.clone()]
    );

    // One microsecond before it expires, `expiring_now` is still listed (and `expired`
    // never is); once everything has expired nothing is.
    let just_before = now() - TimeDelta::microseconds(1);
    assert!(
        sessions
            .list_live(alice.user.id, just_before)
            .await
            .expect("listing works")
            .contains(&alice.expiring_now)
    );
    assert!(
        sessions
            .list_live(alice.user.id, at(10_000))
            .await
            .expect("listing works")
            .is_empty()
    );
    assert!(
        sessions
            .list_live(UserId::from_uuid(Uuid::now_v7()), now())
            .await
            .expect("listing works")
            .is_empty()
    );
}

#[tokio::test]
async fn revoke_all_revokes_the_live_sessions_and_records_one_event_with_their_count() {
    let db = memory_db().await;
    let alice = sign_up_with_sessions(&db, "alice@example.com").await;
    let bob = sign_up_with_sessions(&db, "bob@example.com").await;
    let events_before = stored_events(&db).await;
    let event = success_event(AuthEventType::SessionRevoked, Some(alice.user.id), now());
    assert_eq!(event.count, 1, "fixture");

    let revoked = SeaOrmSessionRepository::new(db.clone())
        .revoke_all(alice.user.id, now(), &event)
        .await
        .expect("revocation works");

    assert_eq!(revoked, 3, "signup, current and other were live");
    for session in [&alice.signup, &alice.current, &alice.other] {
        assert_eq!(
            stored_session(&db, session.id).await,
            revoked_at(session, now())
        );
    }
    for session in [&alice.expired, &alice.expiring_now, &alice.revoked] {
        assert_eq!(&stored_session(&db, session.id).await, session);
    }
    for session in bob.all() {
        assert_eq!(
            &stored_session(&db, session.id).await,
            session,
            "another user's sessions are untouched"
        );
    }
    let mut expected_events = events_before;
    expected_events.push(event.clone().with_count(revoked));
    assert_eq!(stored_events(&db).await, expected_events);
    let raw = raw_one(
        &db,
        "SELECT event_type, count FROM auth_events WHERE id = ?",
        vec![event.id.as_uuid().into()],
    )
    .await
    .expect("event row present");
    assert_eq!(text(&raw, "event_type"), "session_revoked");
    assert_eq!(
        raw.try_get::<i32>("", "count").expect("an integer"),
        i32::try_from(revoked).expect("small")
    );
}

#[tokio::test]
async fn revoke_all_with_no_live_session_returns_zero_and_records_nothing() {
    let db = memory_db().await;
    let alice = sign_up_with_sessions(&db, "alice@example.com").await;
    let bob = sign_up_with_sessions(&db, "bob@example.com").await;
    let sessions = SeaOrmSessionRepository::new(db.clone());
    let first = success_event(AuthEventType::SessionRevoked, Some(alice.user.id), now());
    assert_eq!(
        sessions
            .revoke_all(alice.user.id, now(), &first)
            .await
            .expect("revocation works"),
        3
    );
    let sessions_before = all_sessions(&db).await;
    let events_before = stored_events(&db).await;

    // Nothing left live: again at the same instant, and later when all have expired.
    for when in [now(), at(10_000)] {
        let again = success_event(AuthEventType::SessionRevoked, Some(alice.user.id), when);
        let revoked = sessions
            .revoke_all(alice.user.id, when, &again)
            .await
            .expect("the call itself works");
        assert_eq!(revoked, 0);
        assert!(stored_events(&db).await.iter().all(|e| e.id != again.id));
    }
    assert_eq!(all_sessions(&db).await, sessions_before);
    assert_eq!(stored_events(&db).await, events_before);
    assert_eq!(
        sessions
            .list_live(bob.user.id, now())
            .await
            .expect("listing works")
            .len(),
        3,
        "bob's sessions are still live"
    );

    // A user who never had a live session: zero too.
    let (carol, carol_session, _) = sign_up(&db, "carol@example.com").await;
    let late = carol_session.expires_at;
    let event = success_event(AuthEventType::SessionRevoked, Some(carol.id), late);
    assert_eq!(
        sessions
            .revoke_all(carol.id, late, &event)
            .await
            .expect("the call itself works"),
        0
    );
    assert!(stored_events(&db).await.iter().all(|e| e.id != event.id));
    assert_eq!(stored_session(&db, carol_session.id).await, carol_session);
}

#[tokio::test]
async fn revoke_of_an_expired_session_returns_false_and_writes_nothing() {
    let db = memory_db().await;
    let (user, session, _) = sign_up(&db, "expired@example.com").await;
    let sessions = SeaOrmSessionRepository::new(db.clone());
    let events_before = stored_events(&db).await;

    // At the expiry instant the session is no longer live, nor after it.
    for when in [session.expires_at, session.expires_at + TimeDelta::hours(1)] {
        let event = success_event(AuthEventType::Logout, Some(user.id), when);
        let revoked = sessions
            .revoke(session.id, user.id, when, &event)
            .await
            .expect("the call itself works");
        assert!(!revoked, "at {when}");
        assert_eq!(stored_session(&db, session.id).await, session);
        assert_eq!(stored_events(&db).await, events_before);
    }

    // One microsecond earlier it was still live.
    let when = session.expires_at - TimeDelta::microseconds(1);
    let event = success_event(AuthEventType::Logout, Some(user.id), when);
    assert!(
        sessions
            .revoke(session.id, user.id, when, &event)
            .await
            .expect("revocation works")
    );
    assert_eq!(
        stored_session(&db, session.id).await,
        revoked_at(&session, when)
    );
}

// ---------------------------------------------------------------------------------------
// The audit log
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn record_stores_an_event_with_a_user_id() {
    let db = memory_db().await;
    let (user, _, signup) = sign_up(&db, "rupert@example.com").await;
    let event = failure_event(
        AuthEventType::LoginFailed,
        Some(user.id),
        FailureReason::InvalidCredentials,
        at(30),
    );

    SeaOrmAuthEventLog::new(db.clone())
        .record(&event)
        .await
        .expect("recorded");

    assert_eq!(stored_events(&db).await, vec![signup, event.clone()]);
    let rows = auth_events::Entity::find()
        .filter(auth_events::Column::UserId.eq(user.id.as_uuid()))
        .all(db.connection())
        .await
        .expect("events read");
    assert_eq!(rows.len(), 2);
}

#[tokio::test]
async fn record_stores_an_event_without_a_user_id_as_null() {
    let db = memory_db().await;
    let event = failure_event(
        AuthEventType::LoginFailed,
        None,
        FailureReason::UnknownEmail,
        at(30),
    )
    .with_count(7);

    SeaOrmAuthEventLog::new(db.clone())
        .record(&event)
        .await
        .expect("recorded");

    assert_eq!(stored_events(&db).await, vec![event.clone()]);
    let raw = raw_one(
        &db,
        "SELECT user_id IS NULL AS no_user, count FROM auth_events WHERE id = ?",
        vec![event.id.as_uuid().into()],
    )
    .await
    .expect("event row present");
    assert!(raw.try_get::<bool>("", "no_user").expect("a boolean"));
    assert_eq!(raw.try_get::<i32>("", "count").expect("an integer"), 7);
}

#[tokio::test]
async fn every_event_type_is_stored_lowercase_snake_case_and_every_reason_upper_snake_case() {
    let db = memory_db().await;
    let log = SeaOrmAuthEventLog::new(db.clone());
    let mut expected = Vec::new();
    for (i, event_type) in AuthEventType::ALL.into_iter().enumerate() {
        let event = success_event(event_type, None, at(i64::try_from(i).expect("small")));
        log.record(&event).await.expect("recorded");
        expected.push((event.id.as_uuid(), event_type.as_str().to_owned(), None));
    }
    for (i, reason) in FailureReason::ALL.into_iter().enumerate() {
        let event = failure_event(
            AuthEventType::LoginFailed,
            None,
            reason,
            at(100 + i64::try_from(i).expect("small")),
        );
        log.record(&event).await.expect("recorded");
        expected.push((
            event.id.as_uuid(),
            "login_failed".to_owned(),
            Some(reason.as_str().to_owned()),
        ));
    }

    let rows = raw_all(
        &db,
        "SELECT id, event_type, failure_reason FROM auth_events ORDER BY created_at",
        vec![],
    )
    .await;
    let stored: Vec<(Uuid, String, Option<String>)> = rows
        .iter()
        .map(|row| {
            (
                row.try_get::<Uuid>("", "id").expect("a uuid"),
                text(row, "event_type"),
                nullable_text(row, "failure_reason"),
            )
        })
        .collect();
    assert_eq!(stored, expected);
    // Spelled out for the strings the contract names most often.
    assert!(stored.iter().any(|(_, t, _)| t == "login_failed"));
    assert!(stored.iter().any(|(_, t, _)| t == "session_revoked"));
    assert!(
        stored
            .iter()
            .any(|(_, _, r)| r.as_deref() == Some("INVALID_CREDENTIALS"))
    );
    assert!(
        stored
            .iter()
            .any(|(_, _, r)| r.as_deref() == Some("AUTH_INVALID_CLAIMS"))
    );
    // And they all read back through the domain's parsers.
    assert_eq!(stored_events(&db).await.len(), expected.len());
}

#[tokio::test]
async fn list_for_user_returns_only_that_users_events_newest_first_up_to_the_limit() {
    let db = memory_db().await;
    let (alice, _, alice_signup) = sign_up(&db, "alice@example.com").await;
    let (bob, _, _) = sign_up(&db, "bob@example.com").await;
    let log = SeaOrmAuthEventLog::new(db.clone());
    let mut alices = vec![alice_signup];
    // Recorded out of order, interleaved with bob's and anonymous events.
    for secs in [30, 10, 50, 20, 40] {
        let mine = failure_event(
            AuthEventType::LoginFailed,
            Some(alice.id),
            FailureReason::InvalidCredentials,
            at(secs),
        );
        log.record(&mine).await.expect("recorded");
        alices.push(mine);
        log.record(&success_event(
            AuthEventType::Login,
            Some(bob.id),
            at(secs + 1),
        ))
        .await
        .expect("recorded");
        log.record(&failure_event(
            AuthEventType::LoginFailed,
            None,
            FailureReason::UnknownEmail,
            at(secs + 2),
        ))
        .await
        .expect("recorded");
    }
    let expected = newest_first(alices);
    assert_eq!(
        expected.iter().map(|e| e.created_at).collect::<Vec<_>>(),
        vec![at(50), at(40), at(30), at(20), at(10), at(0)],
        "fixture"
    );

    let all = log
        .list_for_user(alice.id, None, 100)
        .await
        .expect("listing works");
    assert_eq!(all, expected);
    let first_three = log
        .list_for_user(alice.id, None, 3)
        .await
        .expect("listing works");
    assert_eq!(first_three, expected[..3]);
    assert!(
        log.list_for_user(alice.id, None, 0)
            .await
            .expect("listing works")
            .is_empty()
    );
    let bobs = log
        .list_for_user(bob.id, None, 100)
        .await
        .expect("listing works");
    assert_eq!(bobs.len(), 6, "bob's signup and five logins");
    assert!(bobs.iter().all(|e| e.user_id == Some(bob.id)));
    assert!(
        log.list_for_user(UserId::from_uuid(Uuid::now_v7()), None, 100)
            .await
            .expect("listing works")
            .is_empty()
    );
}

#[tokio::test]
async fn paging_through_25_events_by_10_with_the_last_events_cursor_returns_each_once_in_order() {
    let db = memory_db().await;
    let (user, expected) = user_with_25_events(&db, "pager@example.com").await;
    // Another user's events at the very same instants must not leak into the pages.
    let (other, _) = user_with_25_events(&db, "other@example.com").await;
    let log = SeaOrmAuthEventLog::new(db.clone());

    let mut pages = Vec::new();
    let mut after = None;
    loop {
        let page = log
            .list_for_user(user.id, after, 10)
            .await
            .expect("listing works");
        if page.is_empty() {
            break;
        }
        assert!(pages.len() < 3, "more pages than expected");
        after = Some(cursor_of(page.last().expect("a non-empty page")));
        pages.push(page);
    }

    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![10, 10, 5]
    );
    let seen: Vec<AuthEvent> = pages.into_iter().flatten().collect();
    assert!(seen.iter().all(|e| e.user_id == Some(user.id)));
    assert_eq!(
        seen.iter().map(|e| e.id).collect::<Vec<_>>(),
        expected.iter().map(|e| e.id).collect::<Vec<_>>(),
        "every event once, newest first, ties by id descending"
    );
    assert_eq!(seen, expected);
    assert_eq!(
        log.list_for_user(other.id, None, 100)
            .await
            .expect("listing works")
            .len(),
        25
    );
}

#[tokio::test]
async fn paging_stays_correct_when_new_events_are_recorded_between_page_reads() {
    let db = memory_db().await;
    let (user, expected) = user_with_25_events(&db, "pager@example.com").await;
    let log = SeaOrmAuthEventLog::new(db.clone());
    let newest = expected[0].created_at;
    let mut arrived = Vec::new();

    let mut seen = Vec::new();
    let mut after = None;
    for page_number in 0..4 {
        let page = log
            .list_for_user(user.id, after, 10)
            .await
            .expect("listing works");
        assert!(
            page.iter()
                .all(|e| !arrived.iter().any(|a: &AuthEvent| a.id == e.id)),
            "page {page_number}: an event recorded after the first page read"
        );
        if let Some(last) = page.last() {
            after = Some(cursor_of(last));
        }
        seen.extend(page);
        // New events arrive, as the clock produces them: newer than everything so far
        // (including one in the very next microsecond).
        for k in 0..3 {
            let when = newest
                + TimeDelta::microseconds(1)
                + TimeDelta::milliseconds(i64::from(page_number * 3 + k));
            let event = success_event(AuthEventType::Login, Some(user.id), when);
            log.record(&event).await.expect("recorded");
            arrived.push(event);
        }
    }

    assert_eq!(seen, expected, "no event skipped or repeated");
    let everything = log
        .list_for_user(user.id, None, 100)
        .await
        .expect("listing works");
    assert_eq!(everything.len(), 25 + arrived.len());
    assert_eq!(everything[arrived.len()..], expected[..]);
    assert_eq!(
        everything[..arrived.len()],
        newest_first(arrived.clone())[..],
        "the new events come first"
    );
}

// ---------------------------------------------------------------------------------------
// Timestamps
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn timestamps_round_trip_with_their_sub_seconds_and_are_stored_in_utc() {
    let db = memory_db().await;
    let created = DateTime::from_timestamp(1_767_225_600, 987_654_000).expect("valid time");
    let mut user = new_user("trent@example.com", created);
    user.last_login = Some(created - TimeDelta::days(400));
    let mut session = new_session(user.id, created);
    session.expires_at = created + TimeDelta::microseconds(1);
    let event = success_event(AuthEventType::Signup, Some(user.id), created);
    SeaOrmUserRepository::new(db.clone())
        .create_with_session(&user, &session, &event)
        .await
        .expect("stored");

    let read_user = SeaOrmUserRepository::new(db.clone())
        .find_by_id(user.id)
        .await
        .expect("lookup works")
        .expect("present");
    assert_eq!(read_user.created_at, created);
    assert_eq!(read_user.last_login, user.last_login);
    let read_session = SeaOrmSessionRepository::new(db.clone())
        .find_by_id(session.id)
        .await
        .expect("lookup works")
        .expect("present");
    assert_eq!(read_session.created_at, created);
    assert_eq!(read_session.expires_at, session.expires_at);
    assert!(read_session.is_live(created));
    assert!(!read_session.is_live(session.expires_at));
    assert_eq!(stored_events(&db).await[0].created_at, created);

    // The stored text is RFC 3339 with a zero offset and the same instant.
    for (sql, id) in [
        (
            "SELECT created_at AS t FROM users WHERE id = ?",
            user.id.as_uuid(),
        ),
        (
            "SELECT created_at AS t FROM sessions WHERE id = ?",
            session.id.as_uuid(),
        ),
        (
            "SELECT created_at AS t FROM auth_events WHERE id = ?",
            event.id.as_uuid(),
        ),
    ] {
        let row = raw_one(&db, sql, vec![id.into()])
            .await
            .expect("row present");
        if backend(&db) == DbBackend::Postgres {
            // A `timestamptz` column: an instant, whatever the session's time zone.
            let stored = row
                .try_get::<DateTime<Utc>>("", "t")
                .expect("a timestamp with time zone");
            assert_eq!(stored, created);
            continue;
        }
        let raw = text(&row, "t");
        let parsed = DateTime::parse_from_rfc3339(&raw)
            .unwrap_or_else(|err| panic!("{raw:?} is a timestamp with an offset: {err}"));
        assert_eq!(parsed.offset().local_minus_utc(), 0, "{raw:?} is in UTC");
        assert_eq!(parsed.with_timezone(&Utc), created, "{raw:?}");
    }
    if backend(&db) == DbBackend::Postgres {
        let types = raw_all(
            &db,
            "SELECT data_type::text AS data_type FROM information_schema.columns \
             WHERE column_name = 'created_at' AND table_schema = 'public' \
             AND table_name IN ('users', 'sessions', 'auth_events')",
            vec![],
        )
        .await;
        assert_eq!(types.len(), 3);
        for row in &types {
            assert_eq!(text(row, "data_type"), "timestamp with time zone");
        }
    }

    // Ordering by the stored value is time ordering (on SQLite: text ordering within the
    // stored format), which the `ORDER BY created_at` of the security log relies on.
    let earlier = success_event(
        AuthEventType::Login,
        Some(user.id),
        created - TimeDelta::microseconds(1),
    );
    let later = success_event(
        AuthEventType::Login,
        Some(user.id),
        created + TimeDelta::seconds(1),
    );
    let log = SeaOrmAuthEventLog::new(db.clone());
    log.record(&later).await.expect("recorded");
    log.record(&earlier).await.expect("recorded");
    let ordered: Vec<Uuid> = raw_all(
        &db,
        "SELECT id FROM auth_events ORDER BY created_at",
        vec![],
    )
    .await
    .iter()
    .map(|row| row.try_get::<Uuid>("", "id").expect("a uuid"))
    .collect();
    assert_eq!(
        ordered,
        vec![earlier.id.as_uuid(), event.id.as_uuid(), later.id.as_uuid()]
    );
}

// ---------------------------------------------------------------------------------------
// Connection and migrations
// ---------------------------------------------------------------------------------------

const MIGRATIONS: [&str; 5] = [
    "m20260101_000001_create_users",
    "m20260101_000002_create_sessions",
    "m20260101_000003_create_auth_events",
    "m20260102_000001_case_insensitive_email",
    "m20260103_000001_email_key",
];

fn status(names_applied: [bool; 5]) -> Vec<(String, bool)> {
    MIGRATIONS
        .iter()
        .zip(names_applied)
        .map(|(name, applied)| ((*name).to_owned(), applied))
        .collect()
}

#[tokio::test]
async fn migration_status_lists_every_migration_as_applied_after_migrate_up() {
    let db = super::empty_db().await;
    assert_eq!(
        db.migration_status().await.expect("status readable"),
        status([false, false, false, false, false])
    );
    db.migrate_up().await.expect("migrations apply");
    assert_eq!(
        db.migration_status().await.expect("status readable"),
        status([true, true, true, true, true])
    );
    db.migrate_up().await.expect("applying again is a no-op");
    assert_eq!(
        db.migration_status().await.expect("status readable"),
        status([true, true, true, true, true])
    );
}

#[tokio::test]
async fn migrate_down_rolls_back_the_last_migration_and_migrate_up_reapplies_it() {
    let db = memory_db().await;
    sign_up(&db, "victor@example.com").await;

    for expected in [
        [true, true, true, true, false],
        [true, true, true, false, false],
        [true, true, false, false, false],
    ] {
        db.migrate_down().await.expect("rollback works");
        assert_eq!(
            db.migration_status().await.expect("status readable"),
            status(expected)
        );
    }
    let tables = raw_all(
        &db,
        if backend(&db) == DbBackend::Postgres {
            "SELECT tablename FROM pg_tables WHERE tablename = 'auth_events'"
        } else {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = 'auth_events'"
        },
        vec![],
    )
    .await;
    assert!(tables.is_empty(), "auth_events is dropped");
    assert_eq!(count(&db, "users").await, 1, "earlier tables are kept");

    db.migrate_up().await.expect("re-applying works");
    assert_eq!(
        db.migration_status().await.expect("status readable"),
        status([true, true, true, true, true])
    );
    let event = success_event(AuthEventType::Logout, None, at(10));
    SeaOrmAuthEventLog::new(db.clone())
        .record(&event)
        .await
        .expect("the recreated table takes events");
    assert_eq!(stored_events(&db).await, vec![event]);
}

#[tokio::test]
async fn migrating_all_the_way_down_and_up_again_leaves_a_working_empty_schema() {
    let db = memory_db().await;
    sign_up(&db, "walter@example.com").await;

    for expected in [
        [true, true, true, true, false],
        [true, true, true, false, false],
        [true, true, false, false, false],
        [true, false, false, false, false],
        [false, false, false, false, false],
    ] {
        db.migrate_down().await.expect("rollback works");
        assert_eq!(
            db.migration_status().await.expect("status readable"),
            status(expected)
        );
    }
    db.migrate_up().await.expect("migrations apply");
    assert_eq!(count(&db, "users").await, 0);
    let (user, _, _) = sign_up(&db, "walter@example.com").await;
    assert!(
        SeaOrmUserRepository::new(db.clone())
            .find_by_id(user.id)
            .await
            .expect("lookup works")
            .is_some()
    );
}

#[tokio::test]
async fn ping_answers_true_on_a_connected_database() {
    let db = memory_db().await;
    assert!(db.ping().await);
}

sqlite_only! {
#[tokio::test]
async fn data_on_a_file_database_survives_reconnecting() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}/t.db", dir.path().display());

    let (user, session, signup, login) = {
        let db = connect(&url).await.expect("file database is created");
        db.migrate_up().await.expect("migrations apply");
        let (user, session, signup) = sign_up(&db, "xavier@example.com").await;
        let login = new_login(&user, at(600), None);
        SeaOrmSessionRepository::new(db.clone())
            .start(&login)
            .await
            .expect("login is stored");
        db.connection().clone().close().await.expect("pool closes");
        (user, session, signup, login)
    };
    assert!(dir.path().join("t.db").exists());

    let db = connect(&url).await.expect("file database reopens");
    assert_eq!(
        db.migration_status().await.expect("status readable"),
        status([true, true, true, true, true]),
        "the schema persisted"
    );
    db.migrate_up().await.expect("nothing left to apply");
    assert_eq!(
        SeaOrmUserRepository::new(db.clone())
            .find_by_email(user.email.key())
            .await
            .expect("lookup works"),
        Some(User {
            last_login: Some(at(600)),
            ..user
        })
    );
    let sessions = SeaOrmSessionRepository::new(db.clone());
    assert_eq!(
        sessions.find_by_id(session.id).await.expect("lookup works"),
        Some(session)
    );
    assert_eq!(
        sessions
            .find_by_id(login.session.id)
            .await
            .expect("lookup works"),
        Some(login.session)
    );
    assert_eq!(stored_events(&db).await, vec![signup, login.event]);

    let journal = raw_one(&db, "PRAGMA journal_mode", vec![])
        .await
        .expect("pragma answers");
    assert_eq!(
        journal
            .try_get_by_index::<String>(0)
            .expect("journal mode is text")
            .to_lowercase(),
        "wal"
    );
    assert!(db.ping().await);
}
}

// ---------------------------------------------------------------------------------------
// Bounded under attack: merged repeats, retention
// ---------------------------------------------------------------------------------------

#[tokio::test]
async fn repeated_rejected_tokens_from_one_source_within_a_minute_are_one_row_with_a_count() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "merge@example.com").await;
    let log = SeaOrmAuthEventLog::new(db.clone());
    for secs in [10, 20, 30, 69] {
        log.record(&failure_event(
            AuthEventType::TokenRejected,
            Some(user.id),
            FailureReason::AuthRevoked,
            at(secs),
        ))
        .await
        .expect("recorded");
    }
    let merged: Vec<AuthEvent> = stored_events(&db)
        .await
        .into_iter()
        .filter(|e| e.event_type == AuthEventType::TokenRejected)
        .collect();
    assert_eq!(merged.len(), 1, "{merged:?}");
    assert_eq!(merged[0].count, 4);
    assert_eq!(
        merged[0].created_at,
        at(10),
        "the row keeps its first occurrence"
    );

    // A minute after the row's first event, a new row starts.
    log.record(&failure_event(
        AuthEventType::TokenRejected,
        Some(user.id),
        FailureReason::AuthRevoked,
        at(71),
    ))
    .await
    .expect("recorded");
    let rows = stored_events(&db)
        .await
        .into_iter()
        .filter(|e| e.event_type == AuthEventType::TokenRejected)
        .count();
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn repeats_merge_only_with_the_same_type_reason_ip_and_user() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "distinct@example.com").await;
    let log = SeaOrmAuthEventLog::new(db.clone());
    let base = failure_event(
        AuthEventType::RateLimited,
        None,
        FailureReason::RateLimitExceeded,
        at(10),
    );
    let mut other_ip = failure_event(
        AuthEventType::RateLimited,
        None,
        FailureReason::RateLimitExceeded,
        at(11),
    );
    other_ip.ip_address = Some("198.51.100.200".into());
    let with_user = failure_event(
        AuthEventType::LoginThrottled,
        Some(user.id),
        FailureReason::RateLimitExceeded,
        at(12),
    );
    let without_user = failure_event(
        AuthEventType::LoginThrottled,
        None,
        FailureReason::RateLimitExceeded,
        at(13),
    );
    let other_reason = failure_event(
        AuthEventType::TokenRejected,
        Some(user.id),
        FailureReason::AuthExpired,
        at(14),
    );
    let same_reason = failure_event(
        AuthEventType::TokenRejected,
        Some(user.id),
        FailureReason::AuthInvalid,
        at(15),
    );
    for event in [
        &base,
        &other_ip,
        &with_user,
        &without_user,
        &other_reason,
        &same_reason,
    ] {
        log.record(event).await.expect("recorded");
    }
    assert_eq!(count(&db, "auth_events").await, 1 + 6);
}

#[tokio::test]
async fn ordinary_events_are_never_merged() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "plain@example.com").await;
    let log = SeaOrmAuthEventLog::new(db.clone());
    for secs in [10, 11, 12] {
        log.record(&failure_event(
            AuthEventType::LoginFailed,
            Some(user.id),
            FailureReason::InvalidCredentials,
            at(secs),
        ))
        .await
        .expect("recorded");
    }
    assert_eq!(count(&db, "auth_events").await, 1 + 3);
}

#[tokio::test]
async fn pruning_deletes_old_events_and_long_dead_sessions_but_never_a_live_one() {
    let db = memory_db().await;
    let (user, first_session, _) = sign_up(&db, "prune@example.com").await;
    let log = SeaOrmAuthEventLog::new(db.clone());
    log.record(&success_event(
        AuthEventType::Login,
        Some(user.id),
        at(10_000),
    ))
    .await
    .expect("recorded");
    let mut live = new_session(user.id, at(10_000));
    live.expires_at = at(100_000);
    store_session(&db, &live).await;
    let revoked_long_ago = revoked_at(&new_session(user.id, at(1)), at(2));
    store_session(&db, &revoked_long_ago).await;

    // Cut-off between the signup (at 0, its session expired at 900) and the login.
    let cutoff = at(5_000);
    assert_eq!(log.prune_before(cutoff).await.expect("pruned"), 1);
    let sessions = SeaOrmSessionRepository::new(db.clone());
    assert_eq!(sessions.prune_before(cutoff).await.expect("pruned"), 2);
    let left: Vec<SessionId> = all_sessions(&db).await.into_iter().map(|s| s.id).collect();
    assert_eq!(left, vec![live.id]);
    assert!(!left.contains(&first_session.id));
    let events = stored_events(&db).await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].event_type, AuthEventType::Login);
}

/// Writes a user row as a writer outside the application would, with `email_key` when
/// given (a `None` leaves the column out).
async fn insert_user_raw(
    db: &Database,
    id: Uuid,
    email: &str,
    email_key: Option<&str>,
) -> Result<(), DbErr> {
    let (sql, mut values): (&str, Vec<Value>) = match email_key {
        Some(key) => (
            "INSERT INTO users (id, email, email_key, password_hash, created_at, is_active) \
             VALUES (?, ?, ?, 'x', ?, ?)",
            vec![id.into(), email.into(), key.into()],
        ),
        None => (
            "INSERT INTO users (id, email, password_hash, created_at, is_active) \
             VALUES (?, ?, 'x', ?, ?)",
            vec![id.into(), email.into()],
        ),
    };
    values.extend([at(0).into(), true.into()]);
    db.connection()
        .execute_raw(statement(db, sql, values))
        .await
        .map(|_| ())
}

#[tokio::test]
async fn the_database_refuses_a_stored_key_again_and_a_row_without_a_key_even_written_raw() {
    let db = memory_db().await;
    sign_up(&db, "case@example.com").await;

    let err = insert_user_raw(
        &db,
        Uuid::now_v7(),
        "Case@Example.com",
        Some("case@example.com"),
    )
    .await
    .expect_err("the email_key index refuses it");
    assert!(
        matches!(err.sql_err(), Some(SqlErr::UniqueConstraintViolation(_))),
        "{err}"
    );
    let err = insert_user_raw(&db, Uuid::now_v7(), "other@example.com", None)
        .await
        .expect_err("a row needs its key");
    assert!(err.to_string().contains("email_key"), "{err}");
    assert_eq!(count(&db, "users").await, 1);
}

#[tokio::test]
async fn the_email_key_migration_gives_existing_accounts_their_keys() {
    let db = memory_db().await;
    db.migrate_down()
        .await
        .expect("back to the schema before keys");
    // As the earlier schema stored them: trimmed and lowercased.
    let zoe = Uuid::now_v7();
    let ada = Uuid::now_v7();
    insert_user_raw(&db, zoe, "zoe@example.com", None)
        .await
        .expect("stored");
    insert_user_raw(&db, ada, "ada@b\u{fc}cher.de", None)
        .await
        .expect("stored");

    db.migrate_up().await.expect("the backfill applies");

    let keys: Vec<(String, String)> = raw_all(
        &db,
        "SELECT email, email_key FROM users ORDER BY email",
        vec![],
    )
    .await
    .iter()
    .map(|row| {
        (
            row.try_get("", "email").expect("text"),
            row.try_get("", "email_key").expect("text"),
        )
    })
    .collect();
    assert_eq!(
        keys,
        [
            ("ada@b\u{fc}cher.de".into(), "ada@xn--bcher-kva.de".into()),
            ("zoe@example.com".into(), "zoe@example.com".into()),
        ]
    );
    let repo = SeaOrmUserRepository::new(db.clone());
    for (other_form, id) in [("ZOE@Example.COM", zoe), ("ada@XN--BCHER-KVA.DE", ada)] {
        let email = EmailAddress::parse(other_form).expect("valid");
        let found = repo.find_by_email(email.key()).await.expect("lookup works");
        assert_eq!(found.map(|u| u.id.as_uuid()), Some(id), "{other_form}");
    }
    // A look-alike of an existing account is refused from now on.
    let (_, _, _) = sign_up(&db, "carol@example.com").await;
    let look_alike = new_user("ADA@b\u{fc}cher.de", at(1));
    let result = repo
        .create_with_session(
            &look_alike,
            &new_session(look_alike.id, at(1)),
            &success_event(AuthEventType::Signup, Some(look_alike.id), at(1)),
        )
        .await;
    assert!(
        matches!(result, Err(CreateUserError::EmailTaken)),
        "{result:?}"
    );
}

#[tokio::test]
async fn the_email_key_migration_refuses_to_merge_existing_look_alike_accounts_and_names_them() {
    let db = memory_db().await;
    db.migrate_down()
        .await
        .expect("back to the schema before keys");
    // Distinct under the earlier schema (its unique index was on lower(email)).
    let precomposed = Uuid::now_v7();
    let decomposed = Uuid::now_v7();
    let unicode = Uuid::now_v7();
    let punycode = Uuid::now_v7();
    let bystander = Uuid::now_v7();
    for (id, email) in [
        (precomposed, "jos\u{e9}@example.com"),
        (decomposed, "jose\u{301}@example.com"),
        (unicode, "ada@b\u{fc}cher.de"),
        (punycode, "ada@xn--bcher-kva.de"),
        (bystander, "zoe@example.com"),
    ] {
        insert_user_raw(&db, id, email, None)
            .await
            .expect("the earlier schema takes it");
    }

    let err = db.migrate_up().await.expect_err("look-alikes are refused");
    let report = format!("{err:#}");
    assert!(report.contains("nothing was changed"), "{report}");
    assert!(report.contains("(2 groups)"), "{report}");
    for id in [precomposed, decomposed, unicode, punycode] {
        assert!(report.contains(&id.to_string()), "{id} in {report}");
    }
    assert!(
        report.contains("\"jose\\u{301}@example.com\""),
        "the decomposed form is visible: {report}"
    );
    assert!(!report.contains(&bystander.to_string()), "{report}");

    // Nothing changed: the migration is not applied, every account is there as it was.
    assert_eq!(
        db.migration_status().await.expect("status readable"),
        status([true, true, true, true, false])
    );
    assert_eq!(count(&db, "users").await, 5);
    assert!(
        db.connection()
            .query_one_raw(statement(&db, "SELECT email_key FROM users", vec![]))
            .await
            .is_err(),
        "no email_key column"
    );

    // Once an operator has resolved them, it applies.
    for id in [decomposed, punycode] {
        db.connection()
            .execute_raw(statement(
                &db,
                "DELETE FROM users WHERE id = ?",
                vec![id.into()],
            ))
            .await
            .expect("deleted");
    }
    db.migrate_up().await.expect("applies once resolved");
    assert_eq!(
        db.migration_status().await.expect("status readable"),
        status([true, true, true, true, true])
    );
}

#[tokio::test]
async fn rolling_back_the_email_key_migration_puts_addresses_back_in_lowercase() {
    let db = memory_db().await;
    let (user, _, _) = sign_up(&db, "Jos\u{c9}@Example.com").await;
    db.migrate_down().await.expect("rollback works");
    let row = raw_one(&db, "SELECT email FROM users", vec![])
        .await
        .expect("the row");
    assert_eq!(
        row.try_get::<String>("", "email").expect("text"),
        "jos\u{e9}@example.com",
        "as the earlier schema kept it"
    );
    db.migrate_up().await.expect("re-applies");
    let repo = SeaOrmUserRepository::new(db.clone());
    assert_eq!(
        repo.find_by_email(user.email.key())
            .await
            .expect("lookup works")
            .map(|u| u.id),
        Some(user.id)
    );
}
