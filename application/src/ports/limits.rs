//! Ports: per-IP rate limits and the per-account login throttle.
//!
//! Both are in-process today; behind these ports a shared store can replace them.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::EmailKey;

/// An operation limited per client IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LimitedAction {
    /// `POST /api/auth/signup`.
    SignUp,
    /// `POST /api/auth/login`.
    LogIn,
}

/// The state of a client's per-IP limit, for the `RateLimit-*` response headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimitStatus {
    /// Requests allowed in a burst (`RateLimit-Limit`).
    pub limit: u32,
    /// Requests left now (`RateLimit-Remaining`).
    pub remaining: u32,
    /// Seconds until the full burst is available again (`RateLimit-Reset`).
    pub reset_secs: u64,
}

/// A per-IP limiter's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// The limit for this action is off (configured as 0).
    Unlimited,
    /// Go ahead.
    Allowed(RateLimitStatus),
    /// Refused; retry after this many seconds.
    Limited {
        /// Seconds until a request would be allowed (at least 1).
        retry_after_secs: u64,
        /// The limit's state.
        status: RateLimitStatus,
    },
}

/// Per-client-IP request limits.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one request of `action` from `ip` and says whether it may proceed.
    fn check(&self, action: LimitedAction, ip: Option<IpAddr>) -> RateDecision;
}

/// The per-account throttle's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleDecision {
    /// The attempt may proceed (and has been counted as a potential failure).
    Allowed,
    /// The account (or the account from this IP bucket) is throttled.
    Throttled {
        /// Seconds until the window ends.
        retry_after_secs: u64,
    },
}

/// Failed-login counters per email key (per IP bucket, and across all IPs): every form
/// of one address counts towards one account's counters.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LoginThrottle: Send + Sync + 'static {
    /// Atomically checks the counters and counts this attempt as a failure in advance,
    /// so that parallel attempts cannot overrun the limit; a success undoes it through
    /// [`LoginThrottle::succeeded`].
    ///
    /// # Errors
    /// Storage failures only.
    async fn attempt(
        &self,
        email: &EmailKey,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<ThrottleDecision>;

    /// The password was right: clears the account's failures.
    ///
    /// # Errors
    /// Storage failures only.
    async fn succeeded(&self, email: &EmailKey, ip: Option<IpAddr>) -> anyhow::Result<()>;

    /// Gives back one attempt counted by [`LoginThrottle::attempt`] that did not end in
    /// a judgement of the password (the service failed: database down, hashing
    /// saturated) — such an attempt is not a failed login.
    ///
    /// # Errors
    /// Storage failures only.
    async fn release(&self, email: &EmailKey, ip: Option<IpAddr>) -> anyhow::Result<()>;
}
