//! Ports: per-IP rate limits and the per-account login throttle.
//!
//! Both are in-process today; behind these ports a shared store can replace them.

use std::net::IpAddr;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{EmailKey, ThrottleVerdict};

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

/// Failed-login counters per email key (per IP bucket, and across all IPs): every form
/// of one address counts towards one account's counters.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait LoginThrottle: Send + Sync + 'static {
    /// Atomically checks the counters ([`domain::LoginThrottlePolicy::decide`]) and,
    /// when allowed, counts this attempt as a failure in advance, so that parallel
    /// attempts cannot overrun the limit; a success undoes it through
    /// [`LoginThrottle::succeeded`]. Use cases call it through [`ThrottleAttempt::count`].
    ///
    /// # Errors
    /// Storage failures only.
    async fn attempt(
        &self,
        email: &EmailKey,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<ThrottleVerdict>;

    /// The password was right: clears the account's failures.
    ///
    /// # Errors
    /// Storage failures only.
    async fn succeeded(&self, email: &EmailKey, ip: Option<IpAddr>) -> anyhow::Result<()>;

    /// Gives back one attempt counted by [`LoginThrottle::attempt`] that did not end in
    /// a judgement of the password (the service failed: database down, hashing
    /// saturated; or the request was abandoned) — such an attempt is not a failed login.
    ///
    /// Called when a [`ThrottleAttempt`] is dropped unjudged, so it MUST NOT block: an
    /// adapter over a remote store hands the release to a background task. Best effort:
    /// a release that is lost leaves one failure counted until its window ends.
    fn release(&self, email: &EmailKey, ip: Option<IpAddr>);
}

/// An attempt that [`LoginThrottle::attempt`] allowed and counted as a failure in
/// advance, until the use case judges it: [`ThrottleAttempt::failed`] leaves it counted
/// (a wrong password, or a login that lost a race to a change of the account),
/// [`ThrottleAttempt::succeeded`] clears the account's failures. Dropped unjudged — the
/// service failed before the password was judged (database down, hashing saturated),
/// or the request was abandoned — it is given back through [`LoginThrottle::release`].
#[must_use = "dropping the attempt gives it back to the throttle"]
pub struct ThrottleAttempt<'a> {
    throttle: &'a dyn LoginThrottle,
    email: &'a EmailKey,
    ip: Option<IpAddr>,
    judged: bool,
}

impl<'a> ThrottleAttempt<'a> {
    /// Asks `throttle` whether one more attempt on `email` from `ip` may be made at
    /// `now`, and counts it when it may. `Err(retry_after_secs)` when the account is
    /// throttled (nothing is counted then).
    ///
    /// # Errors
    /// The throttle's storage failures (nothing is counted then either).
    pub async fn count(
        throttle: &'a dyn LoginThrottle,
        email: &'a EmailKey,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Result<Self, u64>> {
        Ok(match throttle.attempt(email, ip, now).await? {
            ThrottleVerdict::Allowed => Ok(Self {
                throttle,
                email,
                ip,
                judged: false,
            }),
            ThrottleVerdict::Blocked { retry_after_secs } => Err(retry_after_secs),
        })
    }

    /// The attempt failed on its merits: it stays counted.
    pub fn failed(mut self) {
        self.judged = true;
    }

    /// The password was right: clears the account's failures.
    ///
    /// # Errors
    /// The throttle's storage failures.
    pub async fn succeeded(mut self) -> anyhow::Result<()> {
        self.judged = true;
        self.throttle.succeeded(self.email, self.ip).await
    }
}

impl Drop for ThrottleAttempt<'_> {
    fn drop(&mut self) {
        if !self.judged {
            self.throttle.release(self.email, self.ip);
        }
    }
}

impl std::fmt::Debug for ThrottleAttempt<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ThrottleAttempt")
            .field("judged", &self.judged)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    fn key() -> EmailKey {
        domain::EmailAddress::parse("ada@example.com")
            .expect("valid email")
            .key()
            .clone()
    }

    const IP: Option<IpAddr> = Some(IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 9)));

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0)
            .single()
            .expect("valid date")
    }

    /// A throttle that allows the attempt and expects `releases` releases and
    /// `successes` successes of it, for the right email and IP.
    fn throttle(releases: usize, successes: usize) -> MockLoginThrottle {
        let mut throttle = MockLoginThrottle::new();
        throttle
            .expect_attempt()
            .times(1)
            .returning(|_, _, _| Ok(ThrottleVerdict::Allowed));
        throttle
            .expect_release()
            .withf(|email, ip| email.as_str() == "ada@example.com" && *ip == IP)
            .times(releases)
            .return_const(());
        throttle
            .expect_succeeded()
            .withf(|email, ip| email.as_str() == "ada@example.com" && *ip == IP)
            .times(successes)
            .returning(|_, _| Ok(()));
        throttle
    }

    #[tokio::test]
    async fn an_attempt_dropped_unjudged_is_given_back_once() {
        let throttle = throttle(1, 0);
        let key = key();
        let attempt = ThrottleAttempt::count(&throttle, &key, IP, now())
            .await
            .expect("the throttle answers")
            .expect("allowed");
        drop(attempt);
    }

    #[tokio::test]
    async fn a_failed_attempt_stays_counted() {
        let throttle = throttle(0, 0);
        let key = key();
        ThrottleAttempt::count(&throttle, &key, IP, now())
            .await
            .expect("the throttle answers")
            .expect("allowed")
            .failed();
    }

    #[tokio::test]
    async fn a_successful_attempt_clears_the_failures_and_is_not_also_given_back() {
        let throttle = throttle(0, 1);
        let key = key();
        ThrottleAttempt::count(&throttle, &key, IP, now())
            .await
            .expect("the throttle answers")
            .expect("allowed")
            .succeeded()
            .await
            .expect("cleared");
    }

    #[tokio::test]
    async fn a_blocked_attempt_is_not_counted_and_says_how_long_to_wait() {
        let mut throttle = MockLoginThrottle::new();
        throttle.expect_attempt().times(1).returning(|_, _, _| {
            Ok(ThrottleVerdict::Blocked {
                retry_after_secs: 60,
            })
        });
        throttle.expect_release().never();
        throttle.expect_succeeded().never();
        let key = key();
        let counted = ThrottleAttempt::count(&throttle, &key, IP, now())
            .await
            .expect("the throttle answers");
        assert!(matches!(counted, Err(60)), "{counted:?}");
    }
}
