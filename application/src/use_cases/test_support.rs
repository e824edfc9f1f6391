//! Test support: the ports as mockall mocks, a fixed clock and default policies.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use domain::{EmailAddress, PasswordHash, PasswordPolicy, TokenPolicy, User, UserId};
use uuid::Uuid;

use crate::ports::{
    MockAuthEventLog, MockClock, MockLoginThrottle, MockPasswordHasher, MockRateLimiter,
    MockSessionRepository, MockTokenCodec, MockUserRepository,
};
use crate::service::{AuthConfig, Ports};

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
