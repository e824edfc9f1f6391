//! The inbound port ([`AuthUseCases`]) and its implementation over the outbound ports.
//!
//! The HTTP adapter depends only on the trait, so its tests run against a mock.

use std::sync::Arc;

use async_trait::async_trait;
use domain::{PasswordPolicy, TokenPolicy};

use crate::ports::{
    AuthEventLog, Clock, LoginThrottle, PasswordHasher, RateLimiter, SessionRepository, TokenCodec,
    UserRepository,
};
use crate::use_cases::{IssuedSession, authenticate, log_in, log_out, sign_up};
use crate::{
    AuthenticateError, AuthenticateRequest, Caller, LogInError, LogInRequest, LogOutError,
    Principal, SignUpError, SignUpRequest,
};

/// Every outbound port the use cases need.
#[derive(Clone)]
pub struct Ports {
    /// Users.
    pub users: Arc<dyn UserRepository>,
    /// Sessions.
    pub sessions: Arc<dyn SessionRepository>,
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
}

#[async_trait]
impl AuthUseCases for AuthService {
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
}
