//! Test support: the ports as mockall mocks, a fixed clock and default policies.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use domain::ThrottleVerdict;
use domain::{
    AuthEvent, AuthEventType, EmailAddress, FailureReason, PasswordHash, PasswordPolicy, Session,
    SessionId, TokenPolicy, User, UserId,
};
use uuid::Uuid;

use crate::caller::Caller;
use crate::config::AuthConfig;
use crate::errors::Unavailable;
use mockall::Sequence;

use crate::ports::{
    IdGenerator, MockAuthEventLog, MockClock, MockLoginThrottle, MockPasswordHasher,
    MockPrincipalStore, MockRateLimiter, MockSessionRepository, MockTokenCodec, MockUserRepository,
    PasswordCheck,
};
use crate::principal::Principal;
use crate::service::Ports;

/// Ids as production makes them (UUIDv7): fresh and distinct on every call.
pub struct FreshIds;

impl IdGenerator for FreshIds {
    fn new_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

/// The instant every test runs at.
pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0)
        .single()
        .expect("valid date")
}

/// Default policies: 1 h tokens, compat passwords.
pub fn config() -> AuthConfig {
    AuthConfig {
        token_policy: TokenPolicy::new(3600, "gatehouse".into(), "gatehouse".into(), 30)
            .expect("valid policy"),
        password_policy: PasswordPolicy::Compat,
    }
}

/// A stored, active user.
pub fn user(email: &str) -> User {
    User {
        id: UserId::from_uuid(Uuid::now_v7()),
        email: EmailAddress::parse(email).expect("valid email"),
        password_hash: PasswordHash::from_phc("$argon2id$stored".into()),
        created_at: now(),
        last_login: None,
        is_active: true,
    }
}

/// Every port as a mock; set expectations, then call [`Mocks::into_ports`]. The hasher
/// is never saturated unless a test says otherwise (`hasher.checkpoint()` first).
pub struct Mocks {
    pub users: MockUserRepository,
    pub sessions: MockSessionRepository,
    pub events: MockAuthEventLog,
    pub hasher: MockPasswordHasher,
    pub tokens: MockTokenCodec,
    pub rate_limiter: MockRateLimiter,
    pub throttle: MockLoginThrottle,
    pub principals: MockPrincipalStore,
}

impl Default for Mocks {
    fn default() -> Self {
        let mut hasher = MockPasswordHasher::new();
        hasher
            .expect_admit()
            .returning(|| Ok(crate::ports::HashAdmission::unbounded()));
        Self {
            users: MockUserRepository::default(),
            sessions: MockSessionRepository::default(),
            events: MockAuthEventLog::default(),
            hasher,
            tokens: MockTokenCodec::default(),
            rate_limiter: MockRateLimiter::default(),
            throttle: MockLoginThrottle::default(),
            principals: MockPrincipalStore::default(),
        }
    }
}

impl Mocks {
    /// Freezes the expectations into ports (the clock always answers [`now`]).
    pub fn into_ports(self) -> Ports {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        self.into_ports_with_clock(clock)
    }

    /// Freezes the expectations into ports with this clock.
    pub fn into_ports_with_clock(self, clock: MockClock) -> Ports {
        Ports {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            events: Arc::new(self.events),
            hasher: Arc::new(self.hasher),
            tokens: Arc::new(self.tokens),
            rate_limiter: Arc::new(self.rate_limiter),
            throttle: Arc::new(self.throttle),
            clock: Arc::new(clock),
            ids: Arc::new(FreshIds),
            principals: Arc::new(self.principals),
        }
    }
}

/// Ports that fail the test as soon as any of them is called — the clock included. For
/// refusals that must come before any lookup, such as another user's id.
pub fn untouchable_ports() -> Ports {
    let mut mocks = Mocks::default();
    mocks.users.expect_find_by_email().never();
    mocks.users.expect_find_by_id().never();
    mocks.users.expect_create_with_session().never();
    mocks.users.expect_change_password().never();
    mocks.users.expect_deactivate().never();
    mocks.sessions.expect_start().never();
    mocks.sessions.expect_find_by_id().never();
    mocks.principals.expect_load_live().never();
    mocks.sessions.expect_revoke().never();
    mocks.sessions.expect_list_live().never();
    mocks.sessions.expect_revoke_all().never();
    mocks.events.expect_record().never();
    mocks.events.expect_list_for_user().never();
    mocks.hasher.expect_hash().never();
    mocks.hasher.expect_verify().never();
    mocks.hasher.expect_verify_dummy().never();
    mocks.tokens.expect_encode().never();
    mocks.tokens.expect_decode().never();
    mocks.rate_limiter.expect_check().never();
    mocks.throttle.expect_attempt().never();
    mocks.throttle.expect_succeeded().never();
    let mut clock = MockClock::new();
    clock.expect_now().never();
    mocks.into_ports_with_clock(clock)
}

/// The email of the [`principal`].
pub const PRINCIPAL_EMAIL: &str = "Jane.Doe@Example.com";
/// The key of [`PRINCIPAL_EMAIL`]: what the principal's throttle counters are kept under.
pub const PRINCIPAL_EMAIL_KEY: &str = "jane.doe@example.com";

/// An authenticated caller as `authenticate` hands it over: an active [`user`] and a
/// live session of theirs, opened ten minutes ago from another address than the
/// [`caller`]'s (so that events can be seen to record the request's client).
pub fn principal() -> Principal {
    let user = user(PRINCIPAL_EMAIL);
    let session = Session {
        id: SessionId::from_uuid(Uuid::now_v7()),
        user_id: user.id,
        created_at: now() - TimeDelta::minutes(10),
        expires_at: now() + TimeDelta::minutes(50),
        revoked_at: None,
        ip_address: Some("198.51.100.1".into()),
        user_agent: Some("another-client/2.0".into()),
    };
    Principal { user, session }
}

/// An id that belongs to somebody other than the [`principal`].
pub fn someone_else() -> UserId {
    UserId::from_uuid(Uuid::now_v7())
}

/// The client address every test request comes from.
pub const CALLER_IP: &str = "203.0.113.9";

/// The user agent every test request sends.
pub const CALLER_USER_AGENT: &str = "gatehouse-tests/1.0";

/// The client every test request comes from.
pub fn caller() -> Caller {
    Caller {
        ip: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, 9))),
        user_agent: Some(CALLER_USER_AGENT.into()),
    }
}

/// The outage an adapter reports when the database is down.
pub fn unavailable() -> anyhow::Error {
    anyhow::Error::new(Unavailable {
        retry_after_secs: 2,
        what: "database",
    })
}

/// Asserts that `err` still carries the outage made by [`unavailable`], so the HTTP
/// layer can answer 503 with `Retry-After`.
pub fn assert_carries_unavailable(err: &anyhow::Error) {
    assert_eq!(
        Unavailable::find_in(err),
        Some(Unavailable {
            retry_after_secs: 2,
            what: "database",
        }),
        "{err:?}"
    );
}

/// Values a mock was called with, shared between the mock and the test.
pub type Captured<T> = Arc<Mutex<Vec<T>>>;

/// An empty capture.
pub fn captured<T>() -> Captured<T> {
    Arc::new(Mutex::new(Vec::new()))
}

/// Everything captured so far.
pub fn taken<T: Clone>(captured: &Captured<T>) -> Vec<T> {
    captured.lock().expect("capture lock poisoned").clone()
}

/// Lets `events.record` be called any number of times, keeping every event; the test
/// asserts how many there were.
pub fn capture_events(events: &mut MockAuthEventLog) -> Captured<AuthEvent> {
    let sink = captured();
    let kept = Arc::clone(&sink);
    events.expect_record().returning(move |event| {
        kept.lock()
            .expect("capture lock poisoned")
            .push(event.clone());
        Ok(())
    });
    sink
}

/// The only element of `items`, failing the test if there is not exactly one.
pub fn only<T: std::fmt::Debug>(items: Vec<T>) -> T {
    assert_eq!(items.len(), 1, "expected exactly one, got {items:?}");
    items.into_iter().next().expect("one element")
}

/// Asserts an event's type, user and outcome, and that it was recorded now, once, for
/// the [`caller`]. `failure_reason: None` means the event must be a success.
pub fn assert_event(
    event: &AuthEvent,
    event_type: AuthEventType,
    user_id: Option<UserId>,
    failure_reason: Option<FailureReason>,
) {
    assert_eq!(event.event_type, event_type, "{event:?}");
    assert_eq!(event.user_id, user_id, "{event:?}");
    assert_eq!(event.success, failure_reason.is_none(), "{event:?}");
    assert_eq!(event.failure_reason, failure_reason, "{event:?}");
    assert_eq!(event.ip_address.as_deref(), Some(CALLER_IP), "{event:?}");
    assert_eq!(
        event.user_agent.as_deref(),
        Some(CALLER_USER_AGENT),
        "{event:?}"
    );
    assert_eq!(event.created_at, now(), "{event:?}");
    assert_eq!(event.count, 1, "{event:?}");
}

/// The password the [`principal`]'s stored hash ([`STORED_HASH`]) was made from.
pub const PRINCIPAL_PASSWORD: &str = "Correct7Horse";

/// What [`user`] stores as its hash.
pub const STORED_HASH: &str = "$argon2id$stored";

/// The throttle is asked once, now, about the [`principal`]'s email from the
/// [`caller`]'s IP, and answers `verdict`.
pub fn throttles_principal(
    mocks: &mut Mocks,
    verdict: ThrottleVerdict,
    order: Option<&mut Sequence>,
) {
    let expectation = mocks
        .throttle
        .expect_attempt()
        .withf(|email, ip, at| {
            email.as_str() == PRINCIPAL_EMAIL_KEY && *ip == caller().ip && *at == now()
        })
        .times(1)
        .returning(move |_, _, _| Ok(verdict));
    if let Some(order) = order {
        expectation.in_sequence(order);
    }
}

/// [`PRINCIPAL_PASSWORD`] is verified once against the principal's stored hash, and
/// `check` is the answer.
pub fn verifies_principal(mocks: &mut Mocks, check: PasswordCheck, order: Option<&mut Sequence>) {
    let expectation = mocks
        .hasher
        .expect_verify()
        .withf(|password, hash| {
            password.expose() == PRINCIPAL_PASSWORD && hash.as_str() == STORED_HASH
        })
        .times(1)
        .returning(move |_, _| Ok(check));
    if let Some(order) = order {
        expectation.in_sequence(order);
    }
}

/// The answer of a verification of the right password with current parameters.
pub fn right_password() -> PasswordCheck {
    PasswordCheck::Match {
        needs_rehash: false,
    }
}

/// The [`principal`]'s throttle is cleared once, for the [`caller`]'s IP.
pub fn clears_principal_throttle(mocks: &mut Mocks, order: Option<&mut Sequence>) {
    let expectation = mocks
        .throttle
        .expect_succeeded()
        .withf(|email, ip| email.as_str() == PRINCIPAL_EMAIL_KEY && *ip == caller().ip)
        .times(1)
        .returning(|_, _| Ok(()));
    if let Some(order) = order {
        expectation.in_sequence(order);
    }
}

/// No password is hashed and no account is changed.
pub fn nothing_is_hashed_or_stored(mocks: &mut Mocks) {
    mocks.hasher.expect_hash().never();
    mocks.users.expect_change_password().never();
    mocks.users.expect_deactivate().never();
    mocks.sessions.expect_revoke_all().never();
}
