//! The inbound port ([`AuthUseCases`]) and its implementation over the outbound ports.
//!
//! The HTTP adapter depends only on the trait, so its tests run against a mock.

use std::sync::Arc;

use async_trait::async_trait;
use domain::{PasswordPolicy, TokenPolicy};

use crate::ports::{
    AuthEventLog, Clock, LoginThrottle, PasswordHasher, PrincipalStore, RateLimiter,
    SessionRepository, TokenCodec, UserRepository,
};
use crate::ports::{LimitedAction, RateLimitStatus};
use crate::use_cases::account::{
    self, change_password, deactivate, list_auth_events, list_sessions, revoke_sessions,
};
use crate::use_cases::{IssuedSession, admit, authenticate, log_in, log_out, sign_up};
use crate::{
    AdmitError, AuthEventPage, AuthenticateError, AuthenticateRequest, Caller, ChangePasswordError,
    ChangePasswordRequest, DeactivateError, DeactivateRequest, Forbidden, ListAuthEventsError,
    ListAuthEventsRequest, ListSessionsError, LogInError, LogInRequest, LogOutError, Principal,
    RevokeAllSessionsError, RevokeSessionError, RevokeSessionRequest, SignUpError, SignUpRequest,
};
use domain::{Session, User, UserId};

/// Every outbound port the use cases need.
#[derive(Clone)]
pub struct Ports {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
    /// A session with its user, for authentication.
    pub principals: Arc<dyn PrincipalStore>,
    /// The audit log.
    pub events: Arc<dyn AuthEventLog>,
    /// Password hashing.
    pub hasher: Arc<dyn PasswordHasher>,
    /// Token signing and verification.
    pub tokens: Arc<dyn TokenCodec>,
    /// Per-IP limits.
    pub rate_limiter: Arc<dyn RateLimiter>,
    /// Per-account login throttle.
    pub throttle: Arc<dyn LoginThrottle>,
    /// The time.
    pub clock: Arc<dyn Clock>,
}

/// Policies the use cases apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthConfig {
    /// Token lifetime, issuer, audience, leeway.
    pub token_policy: TokenPolicy,
    /// Which password rules apply.
    pub password_policy: PasswordPolicy,
}

/// What the transport layer can ask of the core.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait AuthUseCases: Send + Sync + 'static {
    /// Counts a signup or login request against its per-IP limit. See [`admit::admit`].
    async fn admit(
        &self,
        action: LimitedAction,
        caller: &Caller,
    ) -> Result<Option<RateLimitStatus>, AdmitError>;
    /// Registers a user and logs them in. See [`sign_up::sign_up`].
    async fn sign_up(&self, request: SignUpRequest) -> Result<IssuedSession, SignUpError>;
    /// Logs a user in. See [`log_in::log_in`].
    async fn log_in(&self, request: LogInRequest) -> Result<IssuedSession, LogInError>;
    /// Ends the caller's current session. See [`log_out::log_out`].
    async fn log_out(&self, principal: &Principal, caller: &Caller) -> Result<(), LogOutError>;
    /// Turns a bearer token into a principal. See [`authenticate::authenticate`].
    async fn authenticate(
        &self,
        request: AuthenticateRequest,
    ) -> Result<Principal, AuthenticateError>;
    /// The caller's profile. See [`account::get_profile`].
    fn get_profile(&self, principal: &Principal, user_id: UserId) -> Result<User, Forbidden>;
    /// A page of the caller's security log. See [`list_auth_events::list_auth_events`].
    async fn list_auth_events(
        &self,
        principal: &Principal,
        request: ListAuthEventsRequest,
    ) -> Result<AuthEventPage, ListAuthEventsError>;
    /// The caller's live sessions. See [`list_sessions::list_sessions`].
    async fn list_sessions(
        &self,
        principal: &Principal,
        user_id: UserId,
    ) -> Result<Vec<Session>, ListSessionsError>;
    /// Revokes one session. See [`revoke_sessions::revoke_session`].
    async fn revoke_session(
        &self,
        principal: &Principal,
        request: RevokeSessionRequest,
    ) -> Result<(), RevokeSessionError>;
    /// Revokes every session. See [`revoke_sessions::revoke_all_sessions`].
    async fn revoke_all_sessions(
        &self,
        principal: &Principal,
        user_id: UserId,
        caller: &Caller,
    ) -> Result<u32, RevokeAllSessionsError>;
    /// Changes the password. See [`change_password::change_password`].
    async fn change_password(
        &self,
        principal: &Principal,
        request: ChangePasswordRequest,
    ) -> Result<(), ChangePasswordError>;
    /// Deactivates the account. See [`deactivate::deactivate`].
    async fn deactivate(
        &self,
        principal: &Principal,
        request: DeactivateRequest,
    ) -> Result<(), DeactivateError>;
}

/// The use cases over real ports.
pub struct AuthService {
    ports: Ports,
    config: AuthConfig,
}

impl AuthService {
    /// Wires the use cases to their ports.
    pub fn new(ports: Ports, config: AuthConfig) -> Self {
        Self { ports, config }
    }

    /// One retention pass. See [`crate::use_cases::maintenance::prune`].
    ///
    /// # Errors
    /// Storage failures.
    pub async fn prune(
        &self,
        retention_days: u32,
    ) -> anyhow::Result<crate::use_cases::maintenance::PruneReport> {
        crate::use_cases::maintenance::prune(&self.ports, retention_days).await
    }
}

#[async_trait]
impl AuthUseCases for AuthService {
    async fn admit(
        &self,
        action: LimitedAction,
        caller: &Caller,
    ) -> Result<Option<RateLimitStatus>, AdmitError> {
        admit::admit(&self.ports, action, caller).await
    }

    async fn sign_up(&self, request: SignUpRequest) -> Result<IssuedSession, SignUpError> {
        sign_up::sign_up(&self.ports, &self.config, request).await
    }

    async fn log_in(&self, request: LogInRequest) -> Result<IssuedSession, LogInError> {
        log_in::log_in(&self.ports, &self.config, request).await
    }

    async fn log_out(&self, principal: &Principal, caller: &Caller) -> Result<(), LogOutError> {
        log_out::log_out(&self.ports, principal, caller).await
    }

    async fn authenticate(
        &self,
        request: AuthenticateRequest,
    ) -> Result<Principal, AuthenticateError> {
        authenticate::authenticate(&self.ports, &self.config, request).await
    }

    fn get_profile(&self, principal: &Principal, user_id: UserId) -> Result<User, Forbidden> {
        account::get_profile(principal, user_id)
    }

    async fn list_auth_events(
        &self,
        principal: &Principal,
        request: ListAuthEventsRequest,
    ) -> Result<AuthEventPage, ListAuthEventsError> {
        list_auth_events::list_auth_events(&self.ports, principal, request).await
    }

    async fn list_sessions(
        &self,
        principal: &Principal,
        user_id: UserId,
    ) -> Result<Vec<Session>, ListSessionsError> {
        list_sessions::list_sessions(&self.ports, principal, user_id).await
    }

    async fn revoke_session(
        &self,
        principal: &Principal,
        request: RevokeSessionRequest,
    ) -> Result<(), RevokeSessionError> {
        revoke_sessions::revoke_session(&self.ports, principal, request).await
    }

    async fn revoke_all_sessions(
        &self,
        principal: &Principal,
        user_id: UserId,
        caller: &Caller,
    ) -> Result<u32, RevokeAllSessionsError> {
        revoke_sessions::revoke_all_sessions(&self.ports, principal, user_id, caller).await
    }

    async fn change_password(
        &self,
        principal: &Principal,
        request: ChangePasswordRequest,
    ) -> Result<(), ChangePasswordError> {
        change_password::change_password(&self.ports, &self.config, principal, request).await
    }

    async fn deactivate(
        &self,
        principal: &Principal,
        request: DeactivateRequest,
    ) -> Result<(), DeactivateError> {
        deactivate::deactivate(&self.ports, principal, request).await
    }
}
