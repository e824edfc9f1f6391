//! Gatehouse's domain: the pure types and policies of authentication.
//!
//! This crate owns identifiers, the email and password rules, the token policy and
//! claims, users, sessions and audit events. It must not do I/O, run async code, read the
//! clock or the random-number generator (time and ids are always arguments), serialise
//! (no serde), or know any framework: the application and adapters depend on it, never
//! the other way round.

pub mod auth_event;
pub mod email;
pub mod ids;
pub mod password;
pub mod refresh;
pub mod session;
pub mod signing_key;
pub mod throttle;
pub mod token;
pub mod user;

pub use auth_event::{AuthEvent, AuthEventType, ClientInfo, FailureReason};
pub use email::{EmailAddress, EmailAddressError, EmailKey};
pub use ids::{EventId, SessionId, UserId};
pub use password::{
    PasswordHash, PasswordPolicy, PasswordPolicyViolation, PasswordRule, PasswordViolation,
    PlaintextPassword, is_common_password,
};
pub use refresh::{RefreshPolicy, RefreshPolicyError, SecondPresentation, access_expiry};
pub use session::Session;
pub use signing_key::{KeyAlgorithm, KeyRing, KeySchedule, KeyState, RetirementPolicy, key_ring};
pub use throttle::{
    LoginThrottlePolicy, ThrottleLimit, ThrottleVerdict, ThrottleWindow, ip_bucket,
};
pub use token::{AccessToken, Claims, ClaimsRejection, TokenPolicy, TokenPolicyError};
pub use user::User;
