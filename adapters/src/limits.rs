//! Per-IP rate limits and the per-account login throttle.
//!
//! This version ships the ports with no-op adapters: every request is allowed. The real
//! limiter (governor, per IP) and throttle (per email and IP bucket, per email) replace
//! these behind the same ports; README says limits are not enforced yet.

use std::net::IpAddr;

use application::ports::{
    LimitedAction, LoginThrottle, RateDecision, RateLimiter, ThrottleDecision,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::EmailAddress;

/// Allows every request.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopRateLimiter;

impl RateLimiter for NoopRateLimiter {
    fn check(&self, _action: LimitedAction, _ip: Option<IpAddr>) -> RateDecision {
        RateDecision::Allowed
    }
}

/// Never throttles.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopLoginThrottle;

#[async_trait]
impl LoginThrottle for NoopLoginThrottle {
    async fn attempt(
        &self,
        _email: &EmailAddress,
        _ip: Option<IpAddr>,
        _now: DateTime<Utc>,
    ) -> anyhow::Result<ThrottleDecision> {
        Ok(ThrottleDecision::Allowed)
    }

    async fn succeeded(&self, _email: &EmailAddress, _ip: Option<IpAddr>) -> anyhow::Result<()> {
        Ok(())
    }
}
