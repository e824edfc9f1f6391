//! Use case: admit a request under the per-IP rate limit (signup and login).
//!
//! It runs before anything else of the request — before its body is even parsed — so
//! every signup and login request counts, failed, malformed or not, and the per-IP check
//! precedes the per-account throttle.

use domain::{AuthEvent, AuthEventType, EventId, FailureReason};

use crate::caller::Caller;
use crate::ports::{
    AuthEventLog, Clock, IdGenerator, LimitedAction, RateDecision, RateLimitStatus, RateLimiter,
};

/// The ports [`admit`] uses.
#[derive(Clone, Copy)]
pub struct AdmitPorts<'a> {
    /// The per-IP limits.
    pub rate_limiter: &'a dyn RateLimiter,
    /// Where a refusal is recorded.
    pub events: &'a dyn AuthEventLog,
    /// The time.
    pub clock: &'a dyn Clock,
    /// The refusal event's id.
    pub ids: &'a dyn IdGenerator,
}

/// Why a request was not admitted.
#[derive(Debug, thiserror::Error)]
pub enum AdmitError {
    /// Over the per-IP limit.
    #[error("rate limited")]
    Limited {
        /// Seconds until a request would be allowed.
        retry_after_secs: u64,
        /// The limit's state, for the response headers.
        status: RateLimitStatus,
    },
    /// Anything else (may carry [`crate::errors::Unavailable`]).
    #[error(transparent)]
    Unexpected(#[from] anyhow::Error),
}

/// Counts the request against its per-IP limit. `Ok(None)` when the limit is off.
///
/// # Errors
/// [`AdmitError::Limited`] over the limit, after recording `rate_limited` (no user:
/// the body naming one has not been read).
pub async fn admit(
    ports: &AdmitPorts<'_>,
    action: LimitedAction,
    caller: &Caller,
) -> Result<Option<RateLimitStatus>, AdmitError> {
    match ports.rate_limiter.check(action, caller.ip) {
        RateDecision::Unlimited => Ok(None),
        RateDecision::Allowed(status) => Ok(Some(status)),
        RateDecision::Limited {
            retry_after_secs,
            status,
        } => {
            let event = AuthEvent::failure(
                EventId::from_uuid(ports.ids.new_id()),
                AuthEventType::RateLimited,
                None,
                FailureReason::RateLimitExceeded,
                &caller.client_info(),
                ports.clock.now(),
            );
            ports.events.record(&event).await?;
            Err(AdmitError::Limited {
                retry_after_secs,
                status,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::use_cases::test_support::{
        Mocks, assert_carries_unavailable, assert_event, caller, capture_events, only, taken,
        unavailable,
    };

    const STATUS: RateLimitStatus = RateLimitStatus {
        limit: 5,
        remaining: 0,
        reset_secs: 60,
    };

    fn limiter(mocks: &mut Mocks, decision: RateDecision) {
        let ip = caller().ip;
        mocks
            .rate_limiter
            .expect_check()
            .withf(move |action, seen| *action == LimitedAction::LogIn && *seen == ip)
            .times(1)
            .return_const(decision);
    }

    #[tokio::test]
    async fn a_request_within_the_limit_is_admitted_with_its_status_and_records_nothing() {
        let mut mocks = Mocks::default();
        let status = RateLimitStatus {
            limit: 5,
            remaining: 4,
            reset_secs: 12,
        };
        limiter(&mut mocks, RateDecision::Allowed(status));
        mocks.events.expect_record().never();
        let ports = mocks.into_ports();
        let admitted = admit(&ports.for_admit(), LimitedAction::LogIn, &caller()).await;
        assert_eq!(admitted.expect("admitted"), Some(status));
    }

    #[tokio::test]
    async fn a_disabled_limit_admits_without_status() {
        let mut mocks = Mocks::default();
        limiter(&mut mocks, RateDecision::Unlimited);
        let ports = mocks.into_ports();
        let admitted = admit(&ports.for_admit(), LimitedAction::LogIn, &caller()).await;
        assert_eq!(admitted.expect("admitted"), None);
    }

    #[tokio::test]
    async fn a_request_over_the_limit_is_refused_and_recorded_as_rate_limited_without_a_user() {
        let mut mocks = Mocks::default();
        limiter(
            &mut mocks,
            RateDecision::Limited {
                retry_after_secs: 12,
                status: STATUS,
            },
        );
        let events = capture_events(&mut mocks.events);
        let ports = mocks.into_ports();
        match admit(&ports.for_admit(), LimitedAction::LogIn, &caller()).await {
            Err(AdmitError::Limited {
                retry_after_secs,
                status,
            }) => assert_eq!((retry_after_secs, status), (12, STATUS)),
            other => panic!("expected Limited, got {other:?}"),
        }
        let event = only(taken(&events));
        assert_event(
            &event,
            AuthEventType::RateLimited,
            None,
            Some(FailureReason::RateLimitExceeded),
        );
    }

    #[tokio::test]
    async fn a_refusal_that_cannot_be_recorded_is_unexpected() {
        let mut mocks = Mocks::default();
        limiter(
            &mut mocks,
            RateDecision::Limited {
                retry_after_secs: 12,
                status: STATUS,
            },
        );
        mocks
            .events
            .expect_record()
            .returning(|_| Err(unavailable()));
        let ports = mocks.into_ports();
        match admit(&ports.for_admit(), LimitedAction::LogIn, &caller()).await {
            Err(AdmitError::Unexpected(err)) => assert_carries_unavailable(&err),
            other => panic!("expected Unexpected, got {other:?}"),
        }
    }
}
