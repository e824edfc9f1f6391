//! Measures the resident memory the in-process limit stores take for 100,000 distinct
//! client IPs and 100,000 distinct emails, and what is left after pruning.
//!
//! `cargo run --release -p adapters --example limits_memory` (Linux: reads
//! `/proc/self/status`). Figures go to BENCHMARKS.md; nothing here is asserted.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Instant;

use adapters::limits::{GovernorRateLimiter, InMemoryLoginThrottle};
use application::ports::{LimitedAction, LoginThrottle, RateLimiter};
use chrono::{Duration, Utc};
use domain::{EmailAddress, LoginThrottlePolicy, ThrottleLimit};

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> anyhow::Result<()> {
    const N: u32 = 100_000;
    let base = rss_kib();
    let limiter = GovernorRateLimiter::new(5, 5);
    let start = Instant::now();
    for i in 0..N {
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
        limiter.check(LimitedAction::LogIn, Some(ip));
    }
    let after_ips = rss_kib();
    println!(
        "rate limiter: {N} distinct IPs -> {} keys, +{} KiB RSS ({:.0} bytes/key), {:?}",
        limiter.len(),
        after_ips.saturating_sub(base),
        (after_ips.saturating_sub(base) * 1024) as f64 / f64::from(N),
        start.elapsed()
    );

    let policy = LoginThrottlePolicy {
        per_source: ThrottleLimit {
            max_failures: 10,
            window_secs: 900,
        },
        per_account: ThrottleLimit {
            max_failures: 100,
            window_secs: 3600,
        },
    };
    let throttle = InMemoryLoginThrottle::new(policy, 100_000);
    let now = Utc::now();
    let before_emails = rss_kib();
    let start = Instant::now();
    for i in 0..N {
        let email = EmailAddress::parse(&format!("user{i}@example.com"))
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        throttle
            .attempt(
                email.key(),
                Some(IpAddr::V4(Ipv4Addr::new(198, 51, 100, 1))),
                now,
            )
            .await?;
    }
    let after_emails = rss_kib();
    println!(
        "login throttle: {N} distinct emails -> {:?} counters, +{} KiB RSS, {:?}",
        throttle.len(),
        after_emails.saturating_sub(before_emails),
        start.elapsed()
    );
    throttle.prune(now + Duration::hours(2));
    println!(
        "after pruning: throttle {:?} counters, RSS {} KiB",
        throttle.len(),
        rss_kib()
    );
    Ok(())
}
