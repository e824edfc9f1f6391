//! Test support: the ports as mockall mocks, a fixed clock and default policies.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, TimeZone, Utc};
use domain::{
    AuthEvent, AuthEventType, EmailAddress, FailureReason, PasswordHash, PasswordPolicy,
    TokenPolicy, User, UserId,
};
use uuid::Uuid;

use crate::ports::{
    MockAuthEventLog, MockClock, MockLoginThrottle, MockPasswordHasher, MockRateLimiter,
    MockSessionRepository, MockTokenCodec, MockUserRepository,
};
use crate::service::{AuthConfig, Ports};
use crate::{Caller, Unavailable};

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

/// Every port as a mock; set expectations, then call [`Mocks::into_ports`].
#[derive(Default)]
pub struct Mocks {
    pub users: MockUserRepository,
    pub sessions: MockSessionRepository,
    pub events: MockAuthEventLog,
    pub hasher: MockPasswordHasher,
    pub tokens: MockTokenCodec,
    pub rate_limiter: MockRateLimiter,
    pub throttle: MockLoginThrottle,
}

impl Mocks {
    /// Freezes the expectations into ports (the clock always answers [`now`]).
    pub fn into_ports(self) -> Ports {
        let mut clock = MockClock::new();
        clock.expect_now().returning(now);
        Ports {
            users: Arc::new(self.users),
            sessions: Arc::new(self.sessions),
            events: Arc::new(self.events),
            hasher: Arc::new(self.hasher),
            tokens: Arc::new(self.tokens),
            rate_limiter: Arc::new(self.rate_limiter),
            throttle: Arc::new(self.throttle),
            clock: Arc::new(clock),
        }
    }
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
