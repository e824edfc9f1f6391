//! Outbound ports: what the use cases need from the outside world, as role nouns.
//!
//! Each trait documents the contract an adapter MUST honour (`# Errors`). Ports return
//! `anyhow::Result` unless the core has to react to a specific outcome, in which case the
//! port has its own small error enum. With the `mocks` feature every port has a mockall
//! mock (`MockUserRepository`, …) for the use-case tests and for `adapters`' tests.

mod auth_event_log;
mod clock;
mod id_generator;
mod limits;
mod password_hasher;
mod principal_store;
mod session_repository;
mod token_codec;
mod user_repository;

pub use auth_event_log::{AuthEventLog, EventCursor};
pub use clock::Clock;
pub use id_generator::IdGenerator;
pub use limits::{
    LimitedAction, LoginThrottle, RateDecision, RateLimitStatus, RateLimiter, ThrottleAttempt,
};
pub use password_hasher::{HashAdmission, PasswordCheck, PasswordHasher};
pub use principal_store::PrincipalStore;
pub use session_repository::{NewLogin, SessionRepository, StartLoginError};
pub use token_codec::{TokenCodec, TokenDecodeError};
pub use user_repository::{CreateUserError, UserRepository};

#[cfg(any(test, feature = "mocks"))]
pub use auth_event_log::MockAuthEventLog;
#[cfg(any(test, feature = "mocks"))]
pub use clock::MockClock;
#[cfg(any(test, feature = "mocks"))]
pub use id_generator::MockIdGenerator;
#[cfg(any(test, feature = "mocks"))]
pub use limits::{MockLoginThrottle, MockRateLimiter};
#[cfg(any(test, feature = "mocks"))]
pub use password_hasher::MockPasswordHasher;
#[cfg(any(test, feature = "mocks"))]
pub use principal_store::MockPrincipalStore;
#[cfg(any(test, feature = "mocks"))]
pub use session_repository::MockSessionRepository;
#[cfg(any(test, feature = "mocks"))]
pub use token_codec::MockTokenCodec;
#[cfg(any(test, feature = "mocks"))]
pub use user_repository::MockUserRepository;
