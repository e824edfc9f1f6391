//! Refresh-token rules (`contract-v2.md` §1): how long a session's refresh chain lives,
//! when a token already exchanged may be presented again, and when that is reuse.
//!
//! Pure: `now` and every timestamp are arguments. Storage (the consume-once write) and
//! the token bytes are the adapters'.

use chrono::{DateTime, TimeDelta, Utc};

/// The lifetimes and the grace of refresh tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshPolicy {
    /// Idle timeout: a refresh token expires this long after it was issued
    /// (`REFRESH_TOKEN_TTL_SECONDS`); each refresh issues a new one.
    pub idle_ttl: TimeDelta,
    /// Absolute cap from login (`SESSION_MAX_LIFETIME_SECONDS`).
    pub max_lifetime: TimeDelta,
    /// How long the immediate predecessor of the newest token may be presented again
    /// and get the same successor (`REFRESH_REUSE_GRACE_SECONDS`; zero: never).
    pub reuse_grace: TimeDelta,
}

/// Why a [`RefreshPolicy`] cannot be built.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RefreshPolicyError {
    /// The idle timeout is not positive.
    #[error("the refresh token lifetime must be a positive number of seconds")]
    NonPositiveIdleTtl,
    /// The absolute lifetime is shorter than the idle timeout.
    #[error("the session's maximum lifetime must be at least the refresh token lifetime")]
    MaxBelowIdle,
    /// The grace is negative or not shorter than the idle timeout.
    #[error("the reuse grace must be at least zero and below the refresh token lifetime")]
    GraceOutOfRange,
}

/// What to do with a refresh token that was already exchanged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecondPresentation {
    /// The immediate predecessor within its grace: answer with the same successor.
    Grace,
    /// Anything else: the chain is compromised; revoke the session (RT-4).
    Reuse,
}

impl RefreshPolicy {
    /// Checks the combination.
    ///
    /// # Errors
    /// See [`RefreshPolicyError`].
    pub fn new(
        idle_ttl: TimeDelta,
        max_lifetime: TimeDelta,
        reuse_grace: TimeDelta,
    ) -> Result<Self, RefreshPolicyError> {
        if idle_ttl <= TimeDelta::zero() {
            return Err(RefreshPolicyError::NonPositiveIdleTtl);
        }
        if max_lifetime < idle_ttl {
            return Err(RefreshPolicyError::MaxBelowIdle);
        }
        if reuse_grace < TimeDelta::zero() || reuse_grace >= idle_ttl {
            return Err(RefreshPolicyError::GraceOutOfRange);
        }
        Ok(Self {
            idle_ttl,
            max_lifetime,
            reuse_grace,
        })
    }

    /// When a refresh token issued at `now` for a session that began at
    /// `session_started` expires: the idle timeout, capped by the absolute lifetime.
    /// This is also the session's `expires_at`.
    pub fn refresh_expiry(
        &self,
        session_started: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> DateTime<Utc> {
        (now + self.idle_ttl).min(session_started + self.max_lifetime)
    }

    /// Judges a token presented after it was exchanged at `consumed_at`.
    ///
    /// `is_newest_predecessor`: its successor has not itself been exchanged (so it is
    /// the immediate predecessor of the newest token). Only that one has grace (RT-3),
    /// and only strictly within `reuse_grace` of its exchange (RT-2).
    pub fn judge_second_presentation(
        &self,
        consumed_at: DateTime<Utc>,
        is_newest_predecessor: bool,
        now: DateTime<Utc>,
    ) -> SecondPresentation {
        if is_newest_predecessor && now < consumed_at + self.reuse_grace {
            SecondPresentation::Grace
        } else {
            SecondPresentation::Reuse
        }
    }
}

/// An access token's expiry: its own lifetime, never past its session's end.
pub fn access_expiry(
    now: DateTime<Utc>,
    access_ttl: TimeDelta,
    session_expires_at: DateTime<Utc>,
) -> DateTime<Utc> {
    (now + access_ttl).min(session_expires_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(secs, 0).expect("valid time")
    }

    fn policy(grace: i64) -> RefreshPolicy {
        RefreshPolicy::new(
            TimeDelta::seconds(100),
            TimeDelta::seconds(250),
            TimeDelta::seconds(grace),
        )
        .expect("valid policy")
    }

    #[test]
    fn the_chain_renews_by_the_idle_timeout_up_to_the_absolute_cap() {
        let p = policy(10);
        let login = at(1_000);
        assert_eq!(p.refresh_expiry(login, login), at(1_100));
        assert_eq!(p.refresh_expiry(login, at(1_090)), at(1_190));
        assert_eq!(p.refresh_expiry(login, at(1_150)), at(1_250), "capped");
        assert_eq!(p.refresh_expiry(login, at(1_240)), at(1_250), "capped");
    }

    #[test]
    fn grace_belongs_to_the_immediate_predecessor_within_its_window_only() {
        let p = policy(10);
        let consumed = at(2_000);
        let table = [
            (true, 2_000, SecondPresentation::Grace),
            (true, 2_009, SecondPresentation::Grace),
            (true, 2_010, SecondPresentation::Reuse),
            (true, 2_500, SecondPresentation::Reuse),
            (false, 2_000, SecondPresentation::Reuse),
            (false, 2_001, SecondPresentation::Reuse),
        ];
        for (newest, now, expected) in table {
            assert_eq!(
                p.judge_second_presentation(consumed, newest, at(now)),
                expected,
                "newest predecessor {newest}, at {now}"
            );
        }
    }

    #[test]
    fn a_zero_grace_means_every_second_presentation_is_reuse() {
        let p = policy(0);
        assert_eq!(
            p.judge_second_presentation(at(5), true, at(5)),
            SecondPresentation::Reuse
        );
    }

    #[test]
    fn an_access_token_never_outlives_its_session() {
        let ttl = TimeDelta::seconds(900);
        assert_eq!(access_expiry(at(0), ttl, at(10_000)), at(900));
        assert_eq!(access_expiry(at(0), ttl, at(300)), at(300));
    }

    #[test]
    fn inconsistent_lifetimes_are_refused() {
        let s = TimeDelta::seconds;
        assert_eq!(
            RefreshPolicy::new(s(0), s(10), s(0)),
            Err(RefreshPolicyError::NonPositiveIdleTtl)
        );
        assert_eq!(
            RefreshPolicy::new(s(100), s(99), s(0)),
            Err(RefreshPolicyError::MaxBelowIdle)
        );
        assert_eq!(
            RefreshPolicy::new(s(100), s(100), s(-1)),
            Err(RefreshPolicyError::GraceOutOfRange)
        );
        assert_eq!(
            RefreshPolicy::new(s(100), s(100), s(100)),
            Err(RefreshPolicyError::GraceOutOfRange)
        );
        assert!(RefreshPolicy::new(s(100), s(100), s(99)).is_ok());
    }
}
