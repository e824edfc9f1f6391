//! The login throttle's rule: failed attempts counted in fixed windows.
//!
//! A window starts at the first failure and lasts `window_secs`; within it at most
//! `max_failures` attempts may fail. Once the limit is reached every further attempt is
//! refused until the window ends — refused attempts are not counted, so an attacker
//! cannot keep the account locked by hammering it, and the lock expires by itself.
//! This module holds only the arithmetic; where counters live (memory, a shared store)
//! is an adapter's business. It must not read the clock: `now` is an argument.

use std::net::IpAddr;

use chrono::{DateTime, Duration, Utc};

/// One counter: failures since `started_at`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleWindow {
    /// Failures counted in this window.
    pub failures: u32,
    /// When the window's first failure happened.
    pub started_at: DateTime<Utc>,
}

/// What a limit says about an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ThrottleVerdict {
    /// The attempt may proceed; count it with [`ThrottleLimit::count`].
    Allowed,
    /// Refused until the window ends.
    Blocked {
        /// Whole seconds until the window ends (at least 1).
        retry_after_secs: u64,
    },
}

/// `max_failures` per `window_secs`; `max_failures == 0` turns the limit off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleLimit {
    /// Failures allowed per window.
    pub max_failures: u32,
    /// The window's length in seconds.
    pub window_secs: u64,
}

impl ThrottleLimit {
    /// Whether the limit is in force.
    pub fn is_enabled(&self) -> bool {
        self.max_failures > 0 && self.window_secs > 0
    }

    fn window(&self) -> Duration {
        Duration::seconds(i64::try_from(self.window_secs).unwrap_or(i64::MAX / 1000))
    }

    /// Whether `window` is over at `now` (a new window would start).
    pub fn has_expired(&self, window: &ThrottleWindow, now: DateTime<Utc>) -> bool {
        now >= window.started_at + self.window()
    }

    /// Whether one more attempt may be made at `now`.
    pub fn decide(&self, window: Option<&ThrottleWindow>, now: DateTime<Utc>) -> ThrottleVerdict {
        match window {
            Some(w)
                if self.is_enabled()
                    && !self.has_expired(w, now)
                    && w.failures >= self.max_failures =>
            {
                let ends = w.started_at + self.window();
                let secs = (ends - now).num_milliseconds().max(0);
                // Round up: telling a client to retry a little early only earns another 429.
                let secs = u64::try_from((secs + 999) / 1000).unwrap_or(1).max(1);
                ThrottleVerdict::Blocked {
                    retry_after_secs: secs,
                }
            }
            _ => ThrottleVerdict::Allowed,
        }
    }

    /// The window after counting one more failure at `now` (a new window if there was
    /// none or it had expired).
    pub fn count(&self, window: Option<ThrottleWindow>, now: DateTime<Utc>) -> ThrottleWindow {
        match window {
            Some(w) if !self.has_expired(&w, now) => ThrottleWindow {
                failures: w.failures.saturating_add(1),
                started_at: w.started_at,
            },
            _ => ThrottleWindow {
                failures: 1,
                started_at: now,
            },
        }
    }
}

/// The two tiers of the login throttle: per email and client-IP bucket (so one attacker
/// cannot lock the owner out from elsewhere), and per email across all IPs (NIST's cap on
/// online guessing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginThrottlePolicy {
    /// Per email and IP bucket (default 10 per 15 minutes).
    pub per_source: ThrottleLimit,
    /// Per email, any IP (default 100 per hour).
    pub per_account: ThrottleLimit,
}

impl LoginThrottlePolicy {
    /// Whether one more attempt may be made at `now`, given the two tiers' windows: it
    /// is refused while either tier is full, for as long as the longer refusal lasts (a
    /// client told to come back when one tier reopens would only meet the other).
    pub fn decide(
        &self,
        per_source: Option<&ThrottleWindow>,
        per_account: Option<&ThrottleWindow>,
        now: DateTime<Utc>,
    ) -> ThrottleVerdict {
        self.per_source
            .decide(per_source, now)
            .longest(self.per_account.decide(per_account, now))
    }
}

impl ThrottleVerdict {
    /// The stricter of two verdicts: blocked if either is, until the later end.
    pub fn longest(self, other: ThrottleVerdict) -> ThrottleVerdict {
        match (self, other) {
            (ThrottleVerdict::Allowed, verdict) | (verdict, ThrottleVerdict::Allowed) => verdict,
            (
                ThrottleVerdict::Blocked {
                    retry_after_secs: a,
                },
                ThrottleVerdict::Blocked {
                    retry_after_secs: b,
                },
            ) => ThrottleVerdict::Blocked {
                retry_after_secs: a.max(b),
            },
        }
    }
}

/// The bucket an IP is counted in: IPv4 addresses as themselves (IPv4-mapped IPv6 folded
/// to IPv4), IPv6 addresses by their /64 — one subscriber usually holds a whole /64, so
/// counting single IPv6 addresses would let them rotate through 2^64 of them.
pub fn ip_bucket(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => IpAddr::V4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(std::net::Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use std::net::{Ipv4Addr, Ipv6Addr};

    use chrono::TimeZone;
    use proptest::prelude::*;

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0)
            .single()
            .expect("date")
    }

    const TEN_PER_15_MIN: ThrottleLimit = ThrottleLimit {
        max_failures: 10,
        window_secs: 900,
    };

    #[test]
    fn the_tenth_failure_is_allowed_and_the_eleventh_attempt_is_blocked() {
        let mut w = None;
        for i in 0..10 {
            assert_eq!(
                TEN_PER_15_MIN.decide(w.as_ref(), t0()),
                ThrottleVerdict::Allowed,
                "attempt {i}"
            );
            w = Some(TEN_PER_15_MIN.count(w, t0()));
        }
        assert_eq!(
            TEN_PER_15_MIN.decide(w.as_ref(), t0()),
            ThrottleVerdict::Blocked {
                retry_after_secs: 900
            }
        );
    }

    #[test]
    fn the_window_is_fixed_from_the_first_failure_and_expires_by_itself() {
        let mut w = None;
        for _ in 0..10 {
            w = Some(TEN_PER_15_MIN.count(w, t0()));
        }
        let later = t0() + Duration::seconds(600);
        assert_eq!(
            TEN_PER_15_MIN.decide(w.as_ref(), later),
            ThrottleVerdict::Blocked {
                retry_after_secs: 300
            }
        );
        let end = t0() + Duration::seconds(900);
        assert_eq!(
            TEN_PER_15_MIN.decide(w.as_ref(), end),
            ThrottleVerdict::Allowed
        );
        assert_eq!(
            TEN_PER_15_MIN.count(w, end),
            ThrottleWindow {
                failures: 1,
                started_at: end
            }
        );
    }

    #[test]
    fn retry_after_rounds_up_to_a_whole_second() {
        let w = ThrottleWindow {
            failures: 10,
            started_at: t0(),
        };
        let now = t0() + Duration::milliseconds(899_500);
        assert_eq!(
            TEN_PER_15_MIN.decide(Some(&w), now),
            ThrottleVerdict::Blocked {
                retry_after_secs: 1
            }
        );
    }

    #[test]
    fn a_limit_of_zero_is_off() {
        let off = ThrottleLimit {
            max_failures: 0,
            window_secs: 900,
        };
        let w = ThrottleWindow {
            failures: 1_000,
            started_at: t0(),
        };
        assert_eq!(off.decide(Some(&w), t0()), ThrottleVerdict::Allowed);
    }

    fn full(limit: ThrottleLimit, started_at: DateTime<Utc>) -> ThrottleWindow {
        ThrottleWindow {
            failures: limit.max_failures,
            started_at,
        }
    }

    const HUNDRED_PER_HOUR: ThrottleLimit = ThrottleLimit {
        max_failures: 100,
        window_secs: 3600,
    };

    const POLICY: LoginThrottlePolicy = LoginThrottlePolicy {
        per_source: TEN_PER_15_MIN,
        per_account: HUNDRED_PER_HOUR,
    };

    #[test]
    fn the_policy_allows_an_attempt_only_while_both_tiers_do() {
        let source = full(TEN_PER_15_MIN, t0());
        let account = full(HUNDRED_PER_HOUR, t0());
        let some = ThrottleWindow {
            failures: 1,
            started_at: t0(),
        };
        let cases = [
            (None, None, ThrottleVerdict::Allowed),
            (Some(&some), Some(&some), ThrottleVerdict::Allowed),
            (
                Some(&source),
                Some(&some),
                ThrottleVerdict::Blocked {
                    retry_after_secs: 900,
                },
            ),
            (
                None,
                Some(&account),
                ThrottleVerdict::Blocked {
                    retry_after_secs: 3600,
                },
            ),
        ];
        for (per_source, per_account, expected) in cases {
            assert_eq!(
                POLICY.decide(per_source, per_account, t0()),
                expected,
                "{per_source:?} {per_account:?}"
            );
        }
    }

    #[test]
    fn when_both_tiers_refuse_the_policy_waits_for_the_later_end_whichever_tier_it_is() {
        // The account tier's window ends first, the source tier's later.
        let account = full(HUNDRED_PER_HOUR, t0() - Duration::seconds(3500));
        let source = full(TEN_PER_15_MIN, t0());
        assert_eq!(
            POLICY.decide(Some(&source), Some(&account), t0()),
            ThrottleVerdict::Blocked {
                retry_after_secs: 900
            }
        );
        let source = full(TEN_PER_15_MIN, t0() - Duration::seconds(850));
        let account = full(HUNDRED_PER_HOUR, t0());
        assert_eq!(
            POLICY.decide(Some(&source), Some(&account), t0()),
            ThrottleVerdict::Blocked {
                retry_after_secs: 3600
            }
        );
    }

    #[test]
    fn ipv6_is_bucketed_per_64_and_ipv4_mapped_counts_as_ipv4() {
        let a = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 3, 4, 5, 6));
        let b = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 2, 0xffff, 0, 0, 1));
        let c = IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 1, 3, 3, 4, 5, 6));
        assert_eq!(ip_bucket(a), ip_bucket(b));
        assert_ne!(ip_bucket(a), ip_bucket(c));
        let v4 = Ipv4Addr::new(198, 51, 100, 7);
        assert_eq!(ip_bucket(IpAddr::V6(v4.to_ipv6_mapped())), IpAddr::V4(v4));
        assert_eq!(ip_bucket(IpAddr::V4(v4)), IpAddr::V4(v4));
    }

    proptest! {
        #[test]
        fn never_more_than_max_failures_are_allowed_within_one_window(
            max in 1u32..50, attempts in 0usize..200, step_ms in 0i64..2_000,
        ) {
            let limit = ThrottleLimit { max_failures: max, window_secs: 900 };
            let mut w = None;
            let mut allowed = 0u32;
            for i in 0..attempts {
                let now = t0() + Duration::milliseconds(step_ms * i as i64);
                if now >= t0() + Duration::seconds(900) { break; }
                if limit.decide(w.as_ref(), now) == ThrottleVerdict::Allowed {
                    allowed += 1;
                    w = Some(limit.count(w, now));
                }
            }
            prop_assert!(allowed <= max);
        }

        #[test]
        fn bucketing_is_idempotent(segments in proptest::array::uniform8(any::<u16>())) {
            let ip = IpAddr::V6(Ipv6Addr::from(segments));
            prop_assert_eq!(ip_bucket(ip_bucket(ip)), ip_bucket(ip));
        }
    }
}
