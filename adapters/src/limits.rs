//! Per-IP rate limits and the per-account login throttle, in process.
//!
//! Both live in this process's memory: with several instances each keeps its own
//! counters (a shared store replaces them behind the same ports with multi-instance
//! support). Both stores are bounded and forget what has expired.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use application::ports::{
    LimitedAction, LoginThrottle, RateDecision, RateLimitStatus, RateLimiter,
};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use domain::{
    EmailKey, LoginThrottlePolicy, ThrottleLimit, ThrottleVerdict, ThrottleWindow, ip_bucket,
};

type KeyedLimiter<C> = governor::RateLimiter<
    IpAddr,
    governor::state::keyed::DefaultKeyedStateStore<IpAddr>,
    C,
    governor::middleware::StateInformationMiddleware,
>;

struct ActionLimit<C: governor::clock::Clock> {
    limiter: KeyedLimiter<C>,
    burst: u32,
    period: std::time::Duration,
}

/// Per-IP token buckets (governor's GCRA), one per limited action: a burst of `n`, then
/// one more request every `60 / n` seconds. Keys are IP buckets (IPv6 per /64).
///
/// # Security
/// Memory grows with distinct client IPs; [`GovernorRateLimiter::prune`] (run every
/// minute by the service) drops every key whose bucket is full again, so it stays bounded
/// by the IPs seen in the last minute or so.
pub struct GovernorRateLimiter<C: governor::clock::Clock = governor::clock::DefaultClock> {
    signup: Option<ActionLimit<C>>,
    login: Option<ActionLimit<C>>,
    clock: C,
}

impl GovernorRateLimiter {
    /// Limits of `signup_per_minute` and `login_per_minute` (0 = off) on the real clock.
    pub fn new(signup_per_minute: u32, login_per_minute: u32) -> Self {
        Self::with_clock(
            signup_per_minute,
            login_per_minute,
            governor::clock::DefaultClock::default(),
        )
    }
}

impl<C: governor::clock::Clock + Clone> GovernorRateLimiter<C> {
    /// The same on any clock (tests use a fake one).
    pub fn with_clock(signup_per_minute: u32, login_per_minute: u32, clock: C) -> Self {
        let limit = |per_minute: u32| {
            let burst = std::num::NonZeroU32::new(per_minute)?;
            let quota = governor::Quota::per_minute(burst);
            Some(ActionLimit {
                limiter: governor::RateLimiter::<
                    IpAddr,
                    governor::state::keyed::DefaultKeyedStateStore<IpAddr>,
                    C,
                    governor::middleware::NoOpMiddleware<C::Instant>,
                >::new(quota, Default::default(), clock.clone())
                .with_middleware::<governor::middleware::StateInformationMiddleware>(),
                burst: per_minute,
                period: quota.replenish_interval(),
            })
        };
        Self {
            signup: limit(signup_per_minute),
            login: limit(login_per_minute),
            clock: clock.clone(),
        }
    }

    /// Drops the keys whose buckets are full again, and gives their memory back.
    pub fn prune(&self) {
        for limit in [&self.signup, &self.login].into_iter().flatten() {
            limit.limiter.retain_recent();
            limit.limiter.shrink_to_fit();
        }
    }

    /// Keys held now, over both actions.
    pub fn len(&self) -> usize {
        [&self.signup, &self.login]
            .into_iter()
            .flatten()
            .map(|l| l.limiter.len())
            .sum()
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

fn whole_secs_up(d: std::time::Duration) -> u64 {
    d.as_secs() + u64::from(d.subsec_nanos() > 0)
}

impl<C> RateLimiter for GovernorRateLimiter<C>
where
    C: governor::clock::Clock + Clone + Send + Sync + 'static,
{
    fn check(&self, action: LimitedAction, ip: Option<IpAddr>) -> RateDecision {
        let limit = match action {
            LimitedAction::SignUp => &self.signup,
            LimitedAction::LogIn => &self.login,
        };
        let Some(limit) = limit else {
            return RateDecision::Unlimited;
        };
        // Requests whose IP is unknown share one bucket: they cannot escape the limit.
        let key = ip.map_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED), ip_bucket);
        match limit.limiter.check_key(&key) {
            Ok(snapshot) => {
                let remaining = snapshot.remaining_burst_capacity().min(limit.burst);
                RateDecision::Allowed(RateLimitStatus {
                    limit: limit.burst,
                    remaining,
                    reset_secs: whole_secs_up(limit.period * (limit.burst - remaining)),
                })
            }
            Err(not_until) => {
                let wait = not_until.wait_time_from(self.clock.now());
                let retry_after_secs = whole_secs_up(wait).max(1);
                RateDecision::Limited {
                    retry_after_secs,
                    status: RateLimitStatus {
                        limit: limit.burst,
                        remaining: 0,
                        reset_secs: retry_after_secs
                            + whole_secs_up(limit.period * (limit.burst - 1)),
                    },
                }
            }
        }
    }
}

/// How many counters each tier of the throttle keeps at most.
pub const DEFAULT_THROTTLE_CAPACITY: usize = 100_000;

type SourceKey = (String, Option<IpAddr>);

#[derive(Default)]
struct Counters {
    per_source: HashMap<SourceKey, ThrottleWindow>,
    per_account: HashMap<String, ThrottleWindow>,
}

/// The per-account login throttle in this process's memory.
///
/// One mutex guards both tiers, so checking and counting an attempt is atomic: of many
/// parallel attempts on one account, no more than the limit pass. The critical section
/// is a few hash-map operations — nothing next to the Argon2 verification that follows.
///
/// # Security
/// Each tier holds at most `capacity` counters. Expired ones are dropped first; when every
/// counter is live the oldest tenth is evicted — a flood of distinct emails costs the
/// flooder its per-IP rate limit and can at worst shorten the oldest locks, never grow
/// memory.
pub struct InMemoryLoginThrottle {
    policy: LoginThrottlePolicy,
    capacity: usize,
    counters: Mutex<Counters>,
}

impl InMemoryLoginThrottle {
    /// A throttle with `policy`, keeping at most `capacity` counters per tier.
    pub fn new(policy: LoginThrottlePolicy, capacity: usize) -> Self {
        Self {
            policy,
            capacity: capacity.max(1),
            counters: Mutex::new(Counters::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counters> {
        // A panic while holding the lock leaves plain counters behind: still usable.
        self.counters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Drops every counter whose window is over at `now`.
    pub fn prune(&self, now: DateTime<Utc>) {
        let mut counters = self.lock();
        let (source, account) = (self.policy.per_source, self.policy.per_account);
        counters
            .per_source
            .retain(|_, w| !source.has_expired(w, now));
        counters
            .per_account
            .retain(|_, w| !account.has_expired(w, now));
        counters.per_source.shrink_to_fit();
        counters.per_account.shrink_to_fit();
    }

    /// Counters held now: (per email and IP bucket, per email).
    pub fn len(&self) -> (usize, usize) {
        let counters = self.lock();
        (counters.per_source.len(), counters.per_account.len())
    }

    /// Whether no counter is held.
    pub fn is_empty(&self) -> bool {
        self.len() == (0, 0)
    }
}

fn count_into<K: Clone + Eq + std::hash::Hash>(
    map: &mut HashMap<K, ThrottleWindow>,
    key: K,
    limit: ThrottleLimit,
    capacity: usize,
    now: DateTime<Utc>,
) {
    if !limit.is_enabled() {
        return;
    }
    if !map.contains_key(&key) && map.len() >= capacity {
        map.retain(|_, w| !limit.has_expired(w, now));
        if map.len() >= capacity {
            // Evict the oldest tenth at once, so a full store costs one O(n) pass per
            // n/10 new counters rather than one per attempt.
            let mut by_age: Vec<(DateTime<Utc>, K)> =
                map.iter().map(|(k, w)| (w.started_at, k.clone())).collect();
            let evict = (capacity / 10).max(1).min(by_age.len());
            by_age.select_nth_unstable_by_key(evict - 1, |(started, _)| *started);
            for (_, k) in by_age.into_iter().take(evict) {
                map.remove(&k);
            }
        }
    }
    let window = map.get(&key).copied();
    map.insert(key, limit.count(window, now));
}

fn uncount<K, Q>(map: &mut HashMap<K, ThrottleWindow>, key: &Q)
where
    K: std::borrow::Borrow<Q> + Eq + std::hash::Hash,
    Q: Eq + std::hash::Hash + ?Sized,
{
    if let Some(window) = map.get_mut(key) {
        window.failures = window.failures.saturating_sub(1);
        if window.failures == 0 {
            map.remove(key);
        }
    }
}

#[async_trait]
impl LoginThrottle for InMemoryLoginThrottle {
    async fn attempt(
        &self,
        email: &EmailKey,
        ip: Option<IpAddr>,
        now: DateTime<Utc>,
    ) -> anyhow::Result<ThrottleVerdict> {
        let source_key: SourceKey = (email.as_str().to_owned(), ip.map(ip_bucket));
        let account_key = email.as_str().to_owned();
        let mut counters = self.lock();
        let verdict = self.policy.decide(
            counters.per_source.get(&source_key),
            counters.per_account.get(&account_key),
            now,
        );
        if let ThrottleVerdict::Blocked { .. } = verdict {
            // Refused attempts are not counted: the lock ends when its window does.
            return Ok(verdict);
        }
        let capacity = self.capacity;
        count_into(
            &mut counters.per_source,
            source_key,
            self.policy.per_source,
            capacity,
            now,
        );
        count_into(
            &mut counters.per_account,
            account_key,
            self.policy.per_account,
            capacity,
            now,
        );
        Ok(ThrottleVerdict::Allowed)
    }

    fn release(&self, email: &EmailKey, ip: Option<IpAddr>) {
        let mut counters = self.lock();
        let source_key: SourceKey = (email.as_str().to_owned(), ip.map(ip_bucket));
        uncount(&mut counters.per_source, &source_key);
        uncount(&mut counters.per_account, email.as_str());
    }

    async fn succeeded(&self, email: &EmailKey, ip: Option<IpAddr>) -> anyhow::Result<()> {
        let mut counters = self.lock();
        counters
            .per_source
            .remove(&(email.as_str().to_owned(), ip.map(ip_bucket)));
        counters.per_account.remove(email.as_str());
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use chrono::{Duration, TimeZone};

    use super::*;

    fn t0() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 14, 10, 0, 0)
            .single()
            .expect("date")
    }

    fn policy() -> LoginThrottlePolicy {
        LoginThrottlePolicy {
            per_source: ThrottleLimit {
                max_failures: 10,
                window_secs: 900,
            },
            per_account: ThrottleLimit {
                max_failures: 100,
                window_secs: 3600,
            },
        }
    }

    /// The key of `s`, as the login use case hands it over.
    fn email(s: &str) -> EmailKey {
        domain::EmailAddress::parse(s).expect("email").key().clone()
    }

    fn ip(s: &str) -> Option<IpAddr> {
        Some(s.parse().expect("ip"))
    }

    fn limiter(
        per_minute: u32,
    ) -> (
        GovernorRateLimiter<governor::clock::FakeRelativeClock>,
        governor::clock::FakeRelativeClock,
    ) {
        let clock = governor::clock::FakeRelativeClock::default();
        (
            GovernorRateLimiter::with_clock(per_minute, per_minute, clock.clone()),
            clock,
        )
    }

    #[test]
    fn a_burst_of_five_then_one_more_every_twelve_seconds() {
        let (limiter, clock) = limiter(5);
        let me = ip("198.51.100.1");
        for remaining in (0..5).rev() {
            match limiter.check(LimitedAction::LogIn, me) {
                RateDecision::Allowed(status) => {
                    assert_eq!((status.limit, status.remaining), (5, remaining));
                }
                other => panic!("expected allowed, got {other:?}"),
            }
        }
        assert_eq!(
            limiter.check(LimitedAction::LogIn, me),
            RateDecision::Limited {
                retry_after_secs: 12,
                status: RateLimitStatus {
                    limit: 5,
                    remaining: 0,
                    reset_secs: 60
                }
            }
        );
        clock.advance(std::time::Duration::from_secs(12));
        assert!(matches!(
            limiter.check(LimitedAction::LogIn, me),
            RateDecision::Allowed(_)
        ));
        assert!(matches!(
            limiter.check(LimitedAction::LogIn, me),
            RateDecision::Limited { .. }
        ));
        // Signups have their own budget, other IPs theirs.
        assert!(matches!(
            limiter.check(LimitedAction::SignUp, me),
            RateDecision::Allowed(_)
        ));
        assert!(matches!(
            limiter.check(LimitedAction::LogIn, ip("198.51.100.2")),
            RateDecision::Allowed(_)
        ));
    }

    #[test]
    fn a_limit_of_zero_is_unlimited() {
        let (limiter, _) = limiter(0);
        for _ in 0..100 {
            assert_eq!(
                limiter.check(LimitedAction::SignUp, ip("198.51.100.1")),
                RateDecision::Unlimited
            );
        }
        assert!(limiter.is_empty());
    }

    #[test]
    fn ipv6_clients_share_their_64_and_unknown_clients_share_one_bucket() {
        let (limiter, _) = limiter(1);
        assert!(matches!(
            limiter.check(LimitedAction::LogIn, ip("2001:db8:1:2::1")),
            RateDecision::Allowed(_)
        ));
        assert!(matches!(
            limiter.check(LimitedAction::LogIn, ip("2001:db8:1:2::ffff")),
            RateDecision::Limited { .. }
        ));
        assert!(matches!(
            limiter.check(LimitedAction::LogIn, None),
            RateDecision::Allowed(_)
        ));
        assert!(matches!(
            limiter.check(LimitedAction::LogIn, None),
            RateDecision::Limited { .. }
        ));
    }

    #[test]
    fn a_hundred_thousand_distinct_ips_are_forgotten_once_their_buckets_refill() {
        let (limiter, clock) = limiter(5);
        for i in 0..100_000u32 {
            let v4 = std::net::Ipv4Addr::from(0x0a00_0000 + i);
            limiter.check(LimitedAction::LogIn, Some(IpAddr::V4(v4)));
        }
        assert_eq!(limiter.len(), 100_000);
        clock.advance(std::time::Duration::from_secs(61));
        limiter.prune();
        assert_eq!(limiter.len(), 0);
    }

    #[tokio::test]
    async fn ten_failures_from_one_ip_throttle_that_pair_but_not_another_ip() {
        let throttle = InMemoryLoginThrottle::new(policy(), 1_000);
        let ada = email("ada@example.com");
        for _ in 0..10 {
            assert_eq!(
                throttle
                    .attempt(&ada, ip("198.51.100.1"), t0())
                    .await
                    .expect("ok"),
                ThrottleVerdict::Allowed
            );
        }
        assert_eq!(
            throttle
                .attempt(&ada, ip("198.51.100.1"), t0())
                .await
                .expect("ok"),
            ThrottleVerdict::Blocked {
                retry_after_secs: 900
            }
        );
        assert_eq!(
            throttle
                .attempt(&ada, ip("198.51.100.2"), t0())
                .await
                .expect("ok"),
            ThrottleVerdict::Allowed
        );
    }

    #[tokio::test]
    async fn a_hundred_failures_from_many_ips_throttle_the_email_everywhere() {
        let throttle = InMemoryLoginThrottle::new(policy(), 1_000);
        let ada = email("ada@example.com");
        for i in 0..100 {
            let source = ip(&format!("198.51.{}.{}", i / 200, i % 200));
            assert_eq!(
                throttle.attempt(&ada, source, t0()).await.expect("ok"),
                ThrottleVerdict::Allowed,
                "attempt {i}"
            );
        }
        assert!(matches!(
            throttle
                .attempt(&ada, ip("203.0.113.99"), t0())
                .await
                .expect("ok"),
            ThrottleVerdict::Blocked { .. }
        ));
        // Other accounts are untouched.
        assert_eq!(
            throttle
                .attempt(&email("bob@example.com"), ip("203.0.113.99"), t0())
                .await
                .expect("ok"),
            ThrottleVerdict::Allowed
        );
    }

    #[tokio::test]
    async fn the_throttle_expires_by_itself_and_refused_attempts_do_not_extend_it() {
        let throttle = InMemoryLoginThrottle::new(policy(), 1_000);
        let ada = email("ada@example.com");
        for _ in 0..10 {
            throttle
                .attempt(&ada, ip("198.51.100.1"), t0())
                .await
                .expect("ok");
        }
        for minute in 1..15 {
            let now = t0() + Duration::minutes(minute);
            assert!(matches!(
                throttle
                    .attempt(&ada, ip("198.51.100.1"), now)
                    .await
                    .expect("ok"),
                ThrottleVerdict::Blocked { .. }
            ));
        }
        let after = t0() + Duration::seconds(900);
        assert_eq!(
            throttle
                .attempt(&ada, ip("198.51.100.1"), after)
                .await
                .expect("ok"),
            ThrottleVerdict::Allowed
        );
    }

    #[tokio::test]
    async fn a_success_clears_the_accounts_counters() {
        let throttle = InMemoryLoginThrottle::new(policy(), 1_000);
        let ada = email("ada@example.com");
        for _ in 0..9 {
            throttle
                .attempt(&ada, ip("198.51.100.1"), t0())
                .await
                .expect("ok");
        }
        throttle
            .succeeded(&ada, ip("198.51.100.1"))
            .await
            .expect("ok");
        for _ in 0..10 {
            assert_eq!(
                throttle
                    .attempt(&ada, ip("198.51.100.1"), t0())
                    .await
                    .expect("ok"),
                ThrottleVerdict::Allowed
            );
        }
    }

    #[tokio::test]
    async fn a_released_attempt_is_given_back() {
        let throttle = InMemoryLoginThrottle::new(policy(), 1_000);
        let ada = email("ada@example.com");
        for _ in 0..10 {
            throttle
                .attempt(&ada, ip("198.51.100.1"), t0())
                .await
                .expect("ok");
            throttle.release(&ada, ip("198.51.100.1"));
        }
        assert!(throttle.is_empty());
        for _ in 0..10 {
            throttle
                .attempt(&ada, ip("198.51.100.1"), t0())
                .await
                .expect("ok");
        }
        throttle.release(&ada, ip("198.51.100.1"));
        assert_eq!(
            throttle
                .attempt(&ada, ip("198.51.100.1"), t0())
                .await
                .expect("ok"),
            ThrottleVerdict::Allowed
        );
    }

    #[tokio::test]
    async fn ipv6_addresses_of_one_64_share_a_counter() {
        let throttle = InMemoryLoginThrottle::new(policy(), 1_000);
        let ada = email("ada@example.com");
        for i in 0..10 {
            throttle
                .attempt(&ada, ip(&format!("2001:db8:1:2::{i:x}")), t0())
                .await
                .expect("ok");
        }
        assert!(matches!(
            throttle
                .attempt(&ada, ip("2001:db8:1:2:ffff::1"), t0())
                .await
                .expect("ok"),
            ThrottleVerdict::Blocked { .. }
        ));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fifty_parallel_attempts_let_at_most_ten_through() {
        let throttle = Arc::new(InMemoryLoginThrottle::new(policy(), 1_000));
        let tasks: Vec<_> = (0..50)
            .map(|_| {
                let throttle = Arc::clone(&throttle);
                tokio::spawn(async move {
                    throttle
                        .attempt(&email("ada@example.com"), ip("198.51.100.1"), t0())
                        .await
                })
            })
            .collect();
        let mut allowed = 0;
        for task in tasks {
            if task.await.expect("join").expect("ok") == ThrottleVerdict::Allowed {
                allowed += 1;
            }
        }
        assert_eq!(allowed, 10);
    }

    #[tokio::test]
    async fn a_hundred_thousand_distinct_emails_stay_within_capacity_and_expire() {
        let capacity = 10_000;
        let throttle = InMemoryLoginThrottle::new(policy(), capacity);
        for i in 0..100_000 {
            let now = t0() + Duration::milliseconds(i);
            throttle
                .attempt(
                    &email(&format!("u{i}@example.com")),
                    ip("198.51.100.1"),
                    now,
                )
                .await
                .expect("ok");
        }
        let (source, account) = throttle.len();
        assert!(
            source <= capacity && account <= capacity,
            "{source}, {account}"
        );
        throttle.prune(t0() + Duration::hours(2));
        assert!(throttle.is_empty());
    }

    #[tokio::test]
    async fn a_limit_of_zero_turns_a_tier_off() {
        let off = LoginThrottlePolicy {
            per_source: ThrottleLimit {
                max_failures: 0,
                window_secs: 900,
            },
            per_account: ThrottleLimit {
                max_failures: 0,
                window_secs: 3600,
            },
        };
        let throttle = InMemoryLoginThrottle::new(off, 1_000);
        for _ in 0..200 {
            assert_eq!(
                throttle
                    .attempt(&email("ada@example.com"), ip("198.51.100.1"), t0())
                    .await
                    .expect("ok"),
                ThrottleVerdict::Allowed
            );
        }
        assert!(throttle.is_empty());
    }
}
