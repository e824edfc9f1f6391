//! Scenario 6: time from spawning `gatehouse serve` to its first `200` from `/ready`, on
//! a database that is already migrated (the harness runs the service once before).
//!
//! Each run spawns the binary with this process's environment (so `DATABASE_URL`,
//! `JWT_SECRET` and the rest come from the harness) on its own port, polls `GET /ready`
//! over a raw loopback socket every millisecond, then stops the process with SIGTERM
//! and waits for it to exit before the next run. Prints one JSON object with every run
//! and their median.
//!
//! Usage: `startup-time --bin PATH [--runs 5] [--port 8200]`.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use serde::Serialize;

#[derive(Parser)]
#[command(about = "Spawn-to-ready time of gatehouse on an already-migrated database")]
struct Args {
    /// The gatehouse binary.
    #[arg(long)]
    bin: PathBuf,
    /// How many start-ups to time.
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// First port on 127.0.0.1; run `i` listens on `port + i`.
    #[arg(long, default_value_t = 8200)]
    port: u16,
    /// Give up on one start-up after this many seconds.
    #[arg(long, default_value_t = 30)]
    timeout_secs: u64,
}

#[derive(Serialize)]
struct Report {
    runs_ms: Vec<f64>,
    median_ms: f64,
    min_ms: f64,
    max_ms: f64,
}

/// `true` when `GET /ready` answers 200; `false` for a refused connection or any other
/// answer (the service is still starting).
fn ready(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /ready HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if stream.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).is_ok() && head.starts_with(b"HTTP/1.1 200")
}

fn stop(child: &mut Child) -> anyhow::Result<()> {
    let status = Command::new("kill")
        .arg("-TERM")
        .arg(child.id().to_string())
        .status()
        .context("running kill")?;
    if !status.success() {
        child.kill().context("killing gatehouse")?;
    }
    child.wait().context("waiting for gatehouse to exit")?;
    Ok(())
}

fn time_one(args: &Args, port: u16) -> anyhow::Result<Duration> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let start = Instant::now();
    let mut child = Command::new(&args.bin)
        .arg("serve")
        .env("HOST", "127.0.0.1")
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("spawning {}", args.bin.display()))?;
    let timeout = Duration::from_secs(args.timeout_secs);
    let outcome = loop {
        if ready(addr) {
            break Ok(start.elapsed());
        }
        if let Some(status) = child.try_wait()? {
            // Already reaped: nothing to stop.
            anyhow::bail!("gatehouse exited before it was ready: {status}");
        }
        if start.elapsed() > timeout {
            break Err(anyhow::anyhow!("gatehouse not ready after {timeout:?}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    };
    stop(&mut child)?;
    outcome
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(args.runs > 0, "--runs must be at least 1");
    let mut runs_ms = Vec::with_capacity(args.runs);
    for i in 0..args.runs {
        let port = args
            .port
            .checked_add(u16::try_from(i)?)
            .context("port out of range")?;
        runs_ms.push(time_one(&args, port)?.as_secs_f64() * 1000.0);
    }
    let mut sorted = runs_ms.clone();
    sorted.sort_by(f64::total_cmp);
    let report = Report {
        median_ms: gatehouse_bench::median(&sorted),
        min_ms: sorted[0],
        max_ms: sorted[sorted.len() - 1],
        runs_ms,
    };
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}
