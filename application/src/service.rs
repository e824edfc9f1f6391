//! The inbound port ([`AuthUseCases`]) and its implementation over the outbound ports.
//!
//! The HTTP adapter depends only on the trait, so its tests run against a mock.

use std::sync::Arc;

use async_trait::async_trait;
use domain::{Session, User, UserId};

use crate::caller::Caller;
use crate::config::AuthConfig;
use crate::ports::{
    AuthEventLog, Clock, IdGenerator, LimitedAction, LoginThrottle, PasswordHasher, PrincipalStore,
    RateLimitStatus, RateLimiter, SessionRepository, TokenCodec, UserRepository,
};
use crate::principal::Principal;
use crate::use_cases::IssuedSession;
use crate::use_cases::account::change_password::{
    self, ChangePasswordError, ChangePasswordPorts, ChangePasswordRequest,
};
use crate::use_cases::account::deactivate::{
    self, DeactivateError, DeactivatePorts, DeactivateRequest,
};
use crate::use_cases::account::list_auth_events::{
    self, AuthEventPage, ListAuthEventsError, ListAuthEventsPorts, ListAuthEventsRequest,
};
use crate::use_cases::account::list_sessions::{self, ListSessionsError, ListSessionsPorts};
use crate::use_cases::account::revoke_sessions::{
    self, RevokeAllSessionsError, RevokeSessionError, RevokeSessionRequest, RevokeSessionsPorts,
};
use crate::use_cases::account::{self, Forbidden};
use crate::use_cases::admit::{self, AdmitError, AdmitPorts};
use crate::use_cases::authenticate::{
    self, AuthenticateError, AuthenticatePorts, AuthenticateRequest,
};
use crate::use_cases::log_in::{self, LogInError, LogInPorts, LogInRequest};
use crate::use_cases::log_out::{self, LogOutError, LogOutPorts};
use crate::use_cases::maintenance::{self, PrunePorts, PruneReport};
use crate::use_cases::sign_up::{self, SignUpError, SignUpPorts, SignUpRequest};

/// Every outbound port, as the binary wires them; each use case is handed only the ones
/// it names (its `…Ports` struct).
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
    /// New ids.
    pub ids: Arc<dyn IdGenerator>,
    /// Live sessions with their users, for authentication.
    pub principals: Arc<dyn PrincipalStore>,
}

impl Ports {
    pub(crate) fn for_admit(&self) -> AdmitPorts<'_> {
        AdmitPorts {
            rate_limiter: &*self.rate_limiter,
            events: &*self.events,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_sign_up(&self) -> SignUpPorts<'_> {
        SignUpPorts {
            users: &*self.users,
            events: &*self.events,
            hasher: &*self.hasher,
            tokens: &*self.tokens,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_log_in(&self) -> LogInPorts<'_> {
        LogInPorts {
            users: &*self.users,
            sessions: &*self.sessions,
            events: &*self.events,
            hasher: &*self.hasher,
            tokens: &*self.tokens,
            throttle: &*self.throttle,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_log_out(&self) -> LogOutPorts<'_> {
        LogOutPorts {
            sessions: &*self.sessions,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_authenticate(&self) -> AuthenticatePorts<'_> {
        AuthenticatePorts {
            users: &*self.users,
            principals: &*self.principals,
            events: &*self.events,
            tokens: &*self.tokens,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_list_auth_events(&self) -> ListAuthEventsPorts<'_> {
        ListAuthEventsPorts {
            events: &*self.events,
        }
    }

    pub(crate) fn for_list_sessions(&self) -> ListSessionsPorts<'_> {
        ListSessionsPorts {
            sessions: &*self.sessions,
            clock: &*self.clock,
        }
    }

    pub(crate) fn for_revoke_sessions(&self) -> RevokeSessionsPorts<'_> {
        RevokeSessionsPorts {
            sessions: &*self.sessions,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_change_password(&self) -> ChangePasswordPorts<'_> {
        ChangePasswordPorts {
            users: &*self.users,
            events: &*self.events,
            hasher: &*self.hasher,
            throttle: &*self.throttle,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_deactivate(&self) -> DeactivatePorts<'_> {
        DeactivatePorts {
            users: &*self.users,
            events: &*self.events,
            hasher: &*self.hasher,
            throttle: &*self.throttle,
            clock: &*self.clock,
            ids: &*self.ids,
        }
    }

    pub(crate) fn for_prune(&self) -> PrunePorts<'_> {
        PrunePorts {
            events: &*self.events,
            sessions: &*self.sessions,
            clock: &*self.clock,
        }
    }
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

    /// One retention pass. See [`maintenance::prune`].
    ///
    /// # Errors
    /// Storage failures.
    pub async fn prune(&self, retention_days: u32) -> anyhow::Result<PruneReport> {
        maintenance::prune(&self.ports.for_prune(), retention_days).await
    }
}

#[async_trait]
impl AuthUseCases for AuthService {
    async fn admit(
        &self,
        action: LimitedAction,
        caller: &Caller,
    ) -> Result<Option<RateLimitStatus>, AdmitError> {
        admit::admit(&self.ports.for_admit(), action, caller).await
    }

    async fn sign_up(&self, request: SignUpRequest) -> Result<IssuedSession, SignUpError> {
        sign_up::sign_up(&self.ports.for_sign_up(), &self.config, request).await
    }

    async fn log_in(&self, request: LogInRequest) -> Result<IssuedSession, LogInError> {
        log_in::log_in(&self.ports.for_log_in(), &self.config, request).await
    }

    async fn log_out(&self, principal: &Principal, caller: &Caller) -> Result<(), LogOutError> {
        log_out::log_out(&self.ports.for_log_out(), principal, caller).await
    }

    async fn authenticate(
        &self,
        request: AuthenticateRequest,
    ) -> Result<Principal, AuthenticateError> {
        authenticate::authenticate(&self.ports.for_authenticate(), &self.config, request).await
    }

    fn get_profile(&self, principal: &Principal, user_id: UserId) -> Result<User, Forbidden> {
        account::get_profile(principal, user_id)
    }

    async fn list_auth_events(
        &self,
        principal: &Principal,
        request: ListAuthEventsRequest,
    ) -> Result<AuthEventPage, ListAuthEventsError> {
        list_auth_events::list_auth_events(&self.ports.for_list_auth_events(), principal, request)
            .await
    }

    async fn list_sessions(
        &self,
        principal: &Principal,
        user_id: UserId,
    ) -> Result<Vec<Session>, ListSessionsError> {
        list_sessions::list_sessions(&self.ports.for_list_sessions(), principal, user_id).await
    }

    async fn revoke_session(
        &self,
        principal: &Principal,
        request: RevokeSessionRequest,
    ) -> Result<(), RevokeSessionError> {
        revoke_sessions::revoke_session(&self.ports.for_revoke_sessions(), principal, request).await
    }

    async fn revoke_all_sessions(
        &self,
        principal: &Principal,
        user_id: UserId,
        caller: &Caller,
    ) -> Result<u32, RevokeAllSessionsError> {
        revoke_sessions::revoke_all_sessions(
            &self.ports.for_revoke_sessions(),
            principal,
            user_id,
            caller,
        )
        .await
    }

    async fn change_password(
        &self,
        principal: &Principal,
        request: ChangePasswordRequest,
    ) -> Result<(), ChangePasswordError> {
        change_password::change_password(
            &self.ports.for_change_password(),
            &self.config,
            principal,
            request,
        )
        .await
    }

    async fn deactivate(
        &self,
        principal: &Principal,
        request: DeactivateRequest,
    ) -> Result<(), DeactivateError> {
        deactivate::deactivate(&self.ports.for_deactivate(), principal, request).await
    }
}
