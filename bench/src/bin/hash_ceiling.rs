//! The hashing ceilings: Argon2id verifications per second (what a login costs) and
//! hashes per second (what a signup costs) on all cores, with the parameters gatehouse
//! is configured with.
//!
//! It reads the service's own settings from the environment (`ARGON2_*`,
//! `HASH_CONCURRENCY`), and runs the service's own [`Argon2PasswordHasher`] on the
//! service's own [`HashPool`], so the ceiling is the very code the login and signup
//! paths call, minus HTTP, JSON and the database. Twice as many callers as pool threads
//! keep every thread busy for the whole measurement.
//!
//! Usage: `hash-ceiling --mode verify|hash [--seconds 5]`; prints one JSON object.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use adapters::config::Settings;
use adapters::crypto::{Argon2PasswordHasher, HashPool};
use application::ports::{PasswordCheck, PasswordHasher as _};
use clap::{Parser, ValueEnum};
use domain::PlaintextPassword;
use serde::Serialize;

#[derive(Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Mode {
    /// Verify the right password against a stored hash (a successful login).
    Verify,
    /// Hash a password with a fresh salt (a signup).
    Hash,
}

#[derive(Parser)]
#[command(about = "Argon2id operations per second on all cores with the configured parameters")]
struct Args {
    #[arg(long, value_enum)]
    mode: Mode,
    /// How long to measure.
    #[arg(long, default_value_t = 5.0)]
    seconds: f64,
}

#[derive(Serialize)]
struct Report {
    mode: Mode,
    ops_per_sec: f64,
    ops: u64,
    seconds: f64,
    threads: usize,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

const PASSWORD: &str = "Bench-Ceiling-42";

fn password() -> PlaintextPassword {
    PlaintextPassword::new(PASSWORD.to_owned())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mode = args.mode;
    let settings = Settings::from_env()?;
    let threads = settings.hash_concurrency;
    let callers = threads * 2;
    let pool = Arc::new(HashPool::new(threads, callers)?);
    let hasher = Arc::new(Argon2PasswordHasher::new(settings.argon2, pool)?);
    let stored = hasher.hash(password()).await?;
    // Warm-up: one operation per thread, so page faults of the first run are not counted.
    let warm: Vec<_> = (0..threads)
        .map(|_| {
            let hasher = Arc::clone(&hasher);
            let stored = stored.clone();
            tokio::spawn(async move { hasher.verify(password(), stored).await })
        })
        .collect();
    for task in warm {
        task.await??;
    }

    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(args.seconds);
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let hasher = Arc::clone(&hasher);
            let stored = stored.clone();
            let done = Arc::clone(&done);
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    match mode {
                        Mode::Verify => {
                            let check = hasher.verify(password(), stored.clone()).await?;
                            anyhow::ensure!(
                                matches!(check, PasswordCheck::Match { .. }),
                                "the right password did not verify"
                            );
                        }
                        Mode::Hash => {
                            hasher.hash(password()).await?;
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
                Ok(())
            })
        })
        .collect();
    for task in tasks {
        task.await??;
    }
    // The operations that started before the deadline finish after it: count their time.
    let seconds = start.elapsed().as_secs_f64();
    let ops = done.load(Ordering::Relaxed);
    let report = Report {
        mode,
        ops_per_sec: ops as f64 / seconds,
        ops,
        seconds,
        threads,
        memory_kib: settings.argon2.memory_kib,
        iterations: settings.argon2.iterations,
        parallelism: settings.argon2.parallelism,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
