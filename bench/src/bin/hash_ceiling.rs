//! The hashing ceilings: Argon2id verifications per second (what a login costs) and
//! hashes per second (what a signup costs) on all cores, with the parameters gatehouse
//! is configured with (`ARGON2_*` and `HASH_CONCURRENCY`, read by the service's own
//! [`Settings`]).
//!
//! The ceiling is the machine's, not the service's: one thread per hashing thread of
//! the service, each computing Argon2id over its own block memory, allocated once and
//! reused, so that neither the allocator nor page faults are counted. (Allocating the
//! 19 MiB afresh for every hash, as the argon2 crate's `hash_password` does, faults
//! every page in again: measured here at about 5,000 page faults per hash.) A
//! verification is one Argon2id computation with the stored salt and a comparison with
//! the stored output; a hash is one with a fresh salt.
//!
//! `--service` measures the service's own [`Argon2PasswordHasher`] on its [`HashPool`]
//! instead (PHC strings, allocation per call): not a ceiling, but it shows what the
//! allocation costs.
//!
//! Usage: `hash-ceiling --mode verify|hash [--seconds 5] [--service]`; prints one JSON
//! object.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use adapters::config::Settings;
use adapters::crypto::{Argon2PasswordHasher, HashPool};
use application::ports::{PasswordCheck, PasswordHasher as _};
use argon2::{Algorithm, Argon2, Block, Params, Version};
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
    /// Measure the service's hasher and pool instead of the machine's ceiling.
    #[arg(long)]
    service: bool,
}

#[derive(Serialize)]
struct Report {
    mode: Mode,
    method: &'static str,
    ops_per_sec: f64,
    ops: u64,
    seconds: f64,
    /// CPU time the hashing threads used while measured, in ms (ceiling only): with the
    /// machine shared, CPU per operation compares where operations per second cannot.
    cpu_ms: Option<f64>,
    threads: usize,
    memory_kib: u32,
    iterations: u32,
    parallelism: u32,
}

const PASSWORD: &str = "Bench-Ceiling-42";
const OUTPUT_LEN: usize = 32;

/// CPU time of the calling thread so far, in ns (first field of its schedstat).
fn thread_cpu_ns() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Every thread hashes until `seconds` have passed; returns (operations, elapsed
/// seconds, CPU ns of the hashing threads).
fn ceiling(
    params: &Params,
    threads: usize,
    mode: Mode,
    seconds: f64,
) -> anyhow::Result<(u64, f64, u64)> {
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let stored_salt = *b"gatehouse-bench!";
    let mut stored = [0u8; OUTPUT_LEN];
    argon2
        .hash_password_into(PASSWORD.as_bytes(), &stored_salt, &mut stored)
        .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
    let done = AtomicU64::new(0);
    let cpu_ns = AtomicU64::new(0);
    // The threads start together, after each has allocated and touched its memory.
    let start_line = Barrier::new(threads + 1);
    let duration = Duration::from_secs_f64(seconds);
    let elapsed = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|index| {
                let (argon2, done, cpu_ns, start_line) = (&argon2, &done, &cpu_ns, &start_line);
                scope.spawn(move || -> anyhow::Result<()> {
                    let mut memory = vec![Block::default(); params.block_count()];
                    let mut run = |salt: &[u8]| {
                        let mut out = [0u8; OUTPUT_LEN];
                        argon2
                            .hash_password_into_with_memory(
                                PASSWORD.as_bytes(),
                                salt,
                                &mut out,
                                &mut memory,
                            )
                            .map_err(|e| anyhow::anyhow!("argon2: {e}"))?;
                        Ok::<_, anyhow::Error>(out)
                    };
                    run(&stored_salt)?;
                    start_line.wait();
                    let cpu_start = thread_cpu_ns();
                    let deadline = Instant::now() + duration;
                    let mut n: u64 = 0;
                    while Instant::now() < deadline {
                        match mode {
                            Mode::Verify => {
                                let out = run(&stored_salt)?;
                                anyhow::ensure!(out == stored, "the right password did not verify");
                            }
                            Mode::Hash => {
                                let mut salt = [0u8; 16];
                                salt[..8].copy_from_slice(&(index as u64).to_le_bytes());
                                salt[8..].copy_from_slice(&n.to_le_bytes());
                                run(&salt)?;
                            }
                        }
                        n += 1;
                    }
                    done.fetch_add(n, Ordering::Relaxed);
                    cpu_ns.fetch_add(thread_cpu_ns().saturating_sub(cpu_start), Ordering::Relaxed);
                    Ok(())
                })
            })
            .collect();
        start_line.wait();
        let start = Instant::now();
        for worker in workers {
            worker
                .join()
                .map_err(|_| anyhow::anyhow!("a hashing thread panicked"))??;
        }
        // The operations that started before the deadline finish after it: count their time.
        Ok::<_, anyhow::Error>(start.elapsed().as_secs_f64())
    })?;
    Ok((
        done.load(Ordering::Relaxed),
        elapsed,
        cpu_ns.load(Ordering::Relaxed),
    ))
}

fn password() -> PlaintextPassword {
    PlaintextPassword::new(PASSWORD.to_owned())
}

/// The service's hasher on its pool, twice as many callers as threads.
async fn service(
    settings: &Settings,
    threads: usize,
    mode: Mode,
    seconds: f64,
) -> anyhow::Result<(u64, f64)> {
    let callers = threads * 2;
    let pool = Arc::new(HashPool::new(threads, callers)?);
    let hasher = Arc::new(Argon2PasswordHasher::new(settings.argon2, pool)?);
    let stored = hasher.hash(password()).await?;
    let done = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    let deadline = start + Duration::from_secs_f64(seconds);
    let tasks: Vec<_> = (0..callers)
        .map(|_| {
            let (hasher, stored, done) = (Arc::clone(&hasher), stored.clone(), Arc::clone(&done));
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
    Ok((done.load(Ordering::Relaxed), start.elapsed().as_secs_f64()))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let settings = Settings::from_env()?;
    let threads = settings.hash_concurrency;
    let a = settings.argon2;
    let (ops, seconds, cpu_ms, method) = if args.service {
        let (ops, seconds) = service(&settings, threads, args.mode, args.seconds).await?;
        (
            ops,
            seconds,
            None,
            "the service's Argon2PasswordHasher on its HashPool",
        )
    } else {
        let params = Params::new(a.memory_kib, a.iterations, a.parallelism, Some(OUTPUT_LEN))
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters: {e}"))?;
        let (ops, seconds, cpu_ns) = ceiling(&params, threads, args.mode, args.seconds)?;
        let cpu_ms = (cpu_ns > 0).then(|| cpu_ns as f64 / 1e6);
        (ops, seconds, cpu_ms, "Argon2id, memory reused per thread")
    };
    let report = Report {
        mode: args.mode,
        method,
        ops_per_sec: ops as f64 / seconds,
        ops,
        seconds,
        cpu_ms,
        threads,
        memory_kib: a.memory_kib,
        iterations: a.iterations,
        parallelism: a.parallelism,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
