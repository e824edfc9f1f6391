//! Gatehouse application layer: the use cases (sign up, log in, log out, authenticate)
//! and the outbound ports they need.
//!
//! This crate owns the order of checks and which audit event each outcome records. It
//! must not do I/O itself, know HTTP, SQL, Argon2 or JWT, or depend on an async runtime:
//! every effect goes through a port in [`ports`], implemented in `adapters`.

pub mod caller;
pub mod config;
pub mod errors;
pub mod ports;
pub mod principal;
pub mod service;
pub mod use_cases;

pub use caller::Caller;
pub use config::AuthConfig;
pub use errors::Unavailable;
pub use principal::Principal;
pub use service::{AuthService, AuthUseCases, Ports};
pub use use_cases::IssuedSession;
pub use use_cases::account::Forbidden;
pub use use_cases::account::change_password::{ChangePasswordError, ChangePasswordRequest};
pub use use_cases::account::deactivate::{DeactivateError, DeactivateRequest};
pub use use_cases::account::list_auth_events::{
    AuthEventPage, ListAuthEventsError, ListAuthEventsRequest,
};
pub use use_cases::account::list_sessions::ListSessionsError;
pub use use_cases::account::revoke_sessions::{
    RevokeAllSessionsError, RevokeSessionError, RevokeSessionRequest,
};
pub use use_cases::admit::AdmitError;
pub use use_cases::authenticate::{
    AuthenticateError, AuthenticateRequest, PresentedToken, UnreadableCredentials,
};
pub use use_cases::log_in::{LogInError, LogInRequest};
pub use use_cases::log_out::LogOutError;
pub use use_cases::sign_up::{SignUpError, SignUpRequest};
