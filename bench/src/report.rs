//! The results section of BENCHMARKS.md, built from a results directory of one
//! `bench/run.sh` run.
//!
//! Layout of the directory (every file written by `bench/run.sh`):
//! - `run.json`: the machine, the settings of the run and the load before and after it;
//! - `commands.txt`: the commands, with the token and ids as shell variables;
//! - one directory per backend (`sqlite`, `postgres`) holding, in the order they ran:
//!   `http-1`, `me`, `http-2`, `profile`, `http-3` (scenario 1 and its HTTP ceilings),
//!   `verify-1`, `login`, `verify-2` (scenario 2), `hash-1`, `signup`, `hash-2`
//!   (scenario 3), `idle-gets`, `flood-gets`, `flood-login` (scenario 4), `startup`
//!   (scenario 6), `memory` and `memory-login` (scenario 5), all `.json`.
//!
//! A scenario whose files are missing or show no successful answer is reported as "did
//! not run", and [`Report::problems`] lists it: that is all the smoke run in CI checks.
//! Nothing here judges a timing except the verdict column, which only reports.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Context as _;
use serde::Deserialize;

use crate::load::LoadRun;

/// The line that opens the generated section in BENCHMARKS.md.
pub const BEGIN: &str =
    "<!-- bench:begin — written by bench/run.sh; edit outside these markers -->";
/// The line that closes it.
pub const END: &str = "<!-- bench:end -->";

/// What `bench/run.sh` records about the run itself.
#[derive(Debug, Clone, Deserialize)]
pub struct RunInfo {
    /// `full` or `quick`.
    pub mode: String,
    /// UTC start and end, as `date -u` prints them.
    pub started: String,
    pub finished: String,
    /// The commit measured (with `+dirty` when the tree had changes).
    pub commit: String,
    /// `nproc`.
    pub nproc: u32,
    /// CPU model from /proc/cpuinfo.
    pub cpu: String,
    /// Memory from /proc/meminfo, in KiB.
    pub memory_kib: u64,
    /// `uname -r`.
    pub kernel: String,
    /// /proc/loadavg's first three fields at the start and at the end.
    pub load_start: String,
    pub load_end: String,
    /// The busiest other processes at the start and at the end (`top`, names only).
    pub others_start: String,
    pub others_end: String,
    /// Seconds of load per scenario and per ceiling measurement.
    pub scenario_seconds: f64,
    pub ceiling_seconds: f64,
    /// Connections for scenario 1 and the HTTP ceiling.
    pub http_connections: u32,
    /// Connections for scenarios 2 and 3 and for the login flood of scenario 4.
    pub login_connections: u32,
    /// Connections for scenario 5.
    pub memory_connections: u32,
    /// Fixed request rate of scenario 4's GETs.
    pub fixed_rate: f64,
    /// `oha --version`.
    pub oha_version: String,
}

/// What `hash-ceiling` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct HashCeiling {
    /// How it was measured (absent in older results).
    #[serde(default)]
    pub method: Option<String>,
    pub ops_per_sec: f64,
    /// Operations counted and the CPU time the hashing threads used (absent in older
    /// results).
    #[serde(default)]
    pub ops: u64,
    #[serde(default)]
    pub cpu_ms: Option<f64>,
    pub threads: usize,
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

/// What `startup-time` prints.
#[derive(Debug, Clone, Deserialize)]
pub struct Startup {
    pub runs_ms: Vec<f64>,
    pub median_ms: f64,
}

/// What `bench/run.sh` reads from /proc for scenario 5.
#[derive(Debug, Clone, Deserialize)]
pub struct Memory {
    /// VmHWM of the gatehouse process after the flood.
    pub peak_kib: u64,
    /// VmRSS after start-up and seeding, before the flood.
    pub idle_kib: u64,
}

/// The CPU time a process used during one load run (`NAME.cpu.json`).
#[derive(Debug, Clone, Deserialize)]
struct CpuTime {
    cpu_ms: f64,
}

/// CPU milliseconds per successful answer of a load run, when its CPU time was recorded.
fn cpu_per_success(dir: &Path, name: &str, run: &LoadRun) -> Option<f64> {
    let cpu: CpuTime = read_json(dir, &format!("{name}.cpu")).ok()?;
    (run.successes() > 0).then(|| cpu.cpu_ms / run.successes() as f64)
}

/// The mean of the values present.
fn mean(values: &[Option<f64>]) -> Option<f64> {
    let present: Vec<f64> = values.iter().flatten().copied().collect();
    (!present.is_empty()).then(|| present.iter().sum::<f64>() / present.len() as f64)
}

/// How a measurement compares with its target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Met against every ceiling it was measured against.
    Met,
    /// Met against one ceiling and not the other: the machine drifted in between.
    Split,
    /// Met against none.
    NotMet,
    /// The scenario has no result.
    DidNotRun,
}

impl Verdict {
    fn text(self) -> &'static str {
        match self {
            Self::Met => "met",
            Self::Split => "split (drift)",
            Self::NotMet => "**not met**",
            Self::DidNotRun => "**did not run**",
        }
    }

    /// For a ratio that must reach `target`, measured against the ceiling before and
    /// the one after.
    pub fn at_least(target: f64, before: f64, after: f64) -> Self {
        match (before >= target, after >= target) {
            (true, true) => Self::Met,
            (false, false) => Self::NotMet,
            _ => Self::Split,
        }
    }

    /// For a single value that must not exceed `target`.
    pub fn at_most(target: f64, value: f64) -> Self {
        if value <= target {
            Self::Met
        } else {
            Self::NotMet
        }
    }
}

/// One line of a backend's table.
#[derive(Debug, Clone)]
pub struct Row {
    pub number: &'static str,
    pub scenario: String,
    pub measured: String,
    pub ceiling: String,
    pub ratio: String,
    pub target: &'static str,
    pub verdict: Verdict,
}

impl Row {
    fn did_not_run(number: &'static str, scenario: &str, target: &'static str, why: &str) -> Self {
        Self {
            number,
            scenario: scenario.to_owned(),
            measured: format!("— ({why})"),
            ceiling: "—".into(),
            ratio: "—".into(),
            target,
            verdict: Verdict::DidNotRun,
        }
    }
}

/// The results of one backend.
#[derive(Debug, Clone)]
pub struct BackendReport {
    pub label: &'static str,
    pub rows: Vec<Row>,
    /// HTTP ceilings (req/s) in the order measured; `None` where one is missing.
    pub http: Vec<Option<f64>>,
    pub verify: Vec<Option<f64>>,
    pub hash: Vec<Option<f64>>,
    /// The hashing set-up the ceilings ran with.
    pub hashing: Option<HashCeiling>,
}

impl BackendReport {
    /// The HTTP, verification and hashing ceilings, each in the order measured.
    pub fn ceilings(&self) -> [&[Option<f64>]; 3] {
        [&self.http, &self.verify, &self.hash]
    }
}

/// The whole report.
#[derive(Debug, Clone)]
pub struct Report {
    pub info: RunInfo,
    pub commands: String,
    pub backends: Vec<BackendReport>,
}

/// The backends, in the order `bench/run.sh` runs them: directory and heading.
pub const BACKENDS: [(&str, &str); 2] = [("sqlite", "SQLite"), ("postgres", "PostgreSQL")];

fn read_json<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> anyhow::Result<T> {
    let path = dir.join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("missing {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("unreadable {}", path.display()))
}

fn read_load(dir: &Path, name: &str) -> anyhow::Result<LoadRun> {
    let path = dir.join(format!("{name}.json"));
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("missing {}", path.display()))?;
    let run = LoadRun::parse(&text).with_context(|| format!("unreadable {}", path.display()))?;
    anyhow::ensure!(
        run.successes() > 0,
        "{name}: no successful answer ({})",
        run.failure_summary()
    );
    Ok(run)
}

/// `12,345` for 12345.4; one decimal under 100.
pub fn number(value: f64) -> String {
    if !value.is_finite() {
        return "—".into();
    }
    if value.abs() < 100.0 {
        return format!("{value:.1}");
    }
    let digits = format!("{:.0}", value.abs());
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    if value < 0.0 { format!("-{out}") } else { out }
}

fn ms(value: Option<f64>) -> String {
    match value {
        Some(v) if v < 10.0 => format!("{v:.2} ms"),
        Some(v) => format!("{v:.1} ms"),
        None => "—".into(),
    }
}

fn latency(run: &LoadRun) -> String {
    format!("p50 {}, p99 {}", ms(run.p50_ms), ms(run.p99_ms))
}

fn with_failures(text: String, run: &LoadRun) -> String {
    let failures = run.failure_summary();
    if failures.is_empty() {
        text
    } else {
        format!("{text}; also {failures}")
    }
}

struct Throughput<'a> {
    number: &'static str,
    scenario: &'a str,
    unit: &'a str,
    ceiling_name: &'a str,
    target: f64,
    target_text: &'static str,
}

/// CPU per answer of the scenario and of its ceiling, as a clause of the measured text.
fn cpu_clause(scenario: Option<f64>, ceiling: Option<f64>) -> String {
    match (scenario, ceiling) {
        (Some(s), Some(c)) => format!(
            "; CPU per answer {s:.3} ms vs {c:.3} ms in the ceiling (ceiling ÷ gatehouse {:.2})",
            c / s
        ),
        (Some(s), None) => format!("; CPU per answer {s:.3} ms"),
        _ => String::new(),
    }
}

fn throughput_row(
    spec: &Throughput<'_>,
    run: anyhow::Result<LoadRun>,
    before: anyhow::Result<f64>,
    after: anyhow::Result<f64>,
    cpu: (Option<f64>, Option<f64>),
) -> Row {
    let (run, before, after) = match (run, before, after) {
        (Ok(run), Ok(before), Ok(after)) => (run, before, after),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => {
            return Row::did_not_run(spec.number, spec.scenario, spec.target_text, &e.to_string());
        }
    };
    let rate = run.rate();
    let (r_before, r_after) = (rate / before, rate / after);
    Row {
        number: spec.number,
        scenario: spec.scenario.to_owned(),
        measured: with_failures(
            format!(
                "{} {}/s ({}){}",
                number(rate),
                spec.unit,
                latency(&run),
                cpu_clause(cpu.0, cpu.1)
            ),
            &run,
        ),
        ceiling: format!(
            "{} {} / {} per s",
            spec.ceiling_name,
            number(before),
            number(after)
        ),
        ratio: format!("{r_before:.2} / {r_after:.2}"),
        target: spec.target_text,
        verdict: Verdict::at_least(spec.target, r_before, r_after),
    }
}

fn flood_row(dir: &Path, info: &RunInfo) -> Row {
    const SCENARIO: &str = "p99 of `GET /api/auth/me` at a fixed rate, login flood vs idle";
    const TARGET: &str = "≤ 2 × idle p99";
    let runs = (|| {
        Ok::<_, anyhow::Error>((
            read_load(dir, "idle-gets")?,
            read_load(dir, "flood-gets")?,
            read_load(dir, "flood-login")?,
        ))
    })();
    let (idle, flood, login) = match runs {
        Ok(runs) => runs,
        Err(e) => return Row::did_not_run("4", SCENARIO, TARGET, &e.to_string()),
    };
    let (Some(idle_p99), Some(flood_p99)) = (idle.p99_ms, flood.p99_ms) else {
        return Row::did_not_run("4", SCENARIO, TARGET, "no latency percentiles");
    };
    let ratio = flood_p99 / idle_p99;
    Row {
        number: "4",
        scenario: SCENARIO.into(),
        measured: format!(
            "{} GET/s asked; p99 {} under the flood ({} GET/s served, p50 {}) vs {} idle \
             ({} GET/s, p50 {}); the flood: {} logins/s{}",
            number(info.fixed_rate),
            ms(Some(flood_p99)),
            number(flood.rate()),
            ms(flood.p50_ms),
            ms(Some(idle_p99)),
            number(idle.rate()),
            ms(idle.p50_ms),
            number(login.rate()),
            match login.failure_summary() {
                s if s.is_empty() => String::new(),
                s => format!(", {s}"),
            }
        ),
        ceiling: format!("idle p99 {}", ms(Some(idle_p99))),
        ratio: format!("{ratio:.2}"),
        target: TARGET,
        verdict: Verdict::at_most(2.0, ratio),
    }
}

fn memory_row(dir: &Path, info: &RunInfo) -> Row {
    const TARGET: &str = "≤ 150 MiB";
    let scenario = format!(
        "peak resident memory, {} concurrent login connections",
        number(f64::from(info.memory_connections))
    );
    let read = (|| {
        Ok::<_, anyhow::Error>((
            read_json::<Memory>(dir, "memory")?,
            read_load(dir, "memory-login")?,
        ))
    })();
    let (memory, run) = match read {
        Ok(read) => read,
        Err(e) => return Row::did_not_run("5", &scenario, TARGET, &e.to_string()),
    };
    if memory.peak_kib == 0 {
        return Row::did_not_run("5", &scenario, TARGET, "no VmHWM read");
    }
    let peak_mib = memory.peak_kib as f64 / 1024.0;
    Row {
        number: "5",
        scenario,
        measured: format!(
            "VmHWM {peak_mib:.1} MiB (VmRSS {:.1} MiB before the flood); {} logins/s, {} × 2xx{}",
            memory.idle_kib as f64 / 1024.0,
            number(run.rate()),
            run.successes(),
            match run.failure_summary() {
                s if s.is_empty() => String::new(),
                s => format!(", {s}"),
            }
        ),
        ceiling: "—".into(),
        ratio: format!("{:.2} of 150 MiB", peak_mib / 150.0),
        target: TARGET,
        verdict: Verdict::at_most(150.0, peak_mib),
    }
}

fn startup_row(dir: &Path) -> Row {
    const SCENARIO: &str = "start-up to the first 200 from `/ready`, migrated database";
    const TARGET: &str = "≤ 150 ms";
    match read_json::<Startup>(dir, "startup") {
        Ok(s) if !s.runs_ms.is_empty() => Row {
            number: "6",
            scenario: SCENARIO.into(),
            measured: format!(
                "median {:.0} ms of {} (runs: {})",
                s.median_ms,
                s.runs_ms.len(),
                s.runs_ms
                    .iter()
                    .map(|v| format!("{v:.0}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            ceiling: "—".into(),
            ratio: format!("{:.2} of 150 ms", s.median_ms / 150.0),
            target: TARGET,
            verdict: Verdict::at_most(150.0, s.median_ms),
        },
        Ok(_) => Row::did_not_run("6", SCENARIO, TARGET, "no run"),
        Err(e) => Row::did_not_run("6", SCENARIO, TARGET, &e.to_string()),
    }
}

fn http_ceiling(dir: &Path, n: usize) -> anyhow::Result<f64> {
    Ok(read_load(dir, &format!("http-{n}"))?.rate())
}

fn hash_ceiling(dir: &Path, name: &str) -> anyhow::Result<HashCeiling> {
    let ceiling: HashCeiling = read_json(dir, name)?;
    anyhow::ensure!(ceiling.ops_per_sec > 0.0, "{name}: no operation");
    Ok(ceiling)
}

/// Reads one backend's directory.
pub fn backend(dir: &Path, label: &'static str) -> BackendReport {
    let http = |n| http_ceiling(dir, n);
    let ops = |name: &str| hash_ceiling(dir, name).map(|c| c.ops_per_sec);
    let scenario_cpu = |name: &str| {
        read_load(dir, name)
            .ok()
            .and_then(|run| cpu_per_success(dir, name, &run))
    };
    let http_cpu = |n: usize| {
        let name = format!("http-{n}");
        read_load(dir, &name)
            .ok()
            .and_then(|run| cpu_per_success(dir, &name, &run))
    };
    let hash_cpu = |name: &str| {
        hash_ceiling(dir, name)
            .ok()
            .and_then(|c| Some(c.cpu_ms? / (c.ops > 0).then_some(c.ops as f64)?))
    };
    let rows = vec![
        throughput_row(
            &Throughput {
                number: "1a",
                scenario: "authenticated `GET /api/auth/me`",
                unit: "req",
                ceiling_name: "HTTP",
                target: 0.70,
                target_text: "≥ 0.70 of HTTP",
            },
            read_load(dir, "me"),
            http(1),
            http(2),
            (scenario_cpu("me"), mean(&[http_cpu(1), http_cpu(2)])),
        ),
        throughput_row(
            &Throughput {
                number: "1b",
                scenario: "authenticated `GET /api/{user_id}/profile`",
                unit: "req",
                ceiling_name: "HTTP",
                target: 0.70,
                target_text: "≥ 0.70 of HTTP",
            },
            read_load(dir, "profile"),
            http(2),
            http(3),
            (scenario_cpu("profile"), mean(&[http_cpu(2), http_cpu(3)])),
        ),
        throughput_row(
            &Throughput {
                number: "2",
                scenario: "login (`POST /api/auth/login`, right password)",
                unit: "logins",
                ceiling_name: "verify",
                target: 0.90,
                target_text: "≥ 0.90 of hashing",
            },
            read_load(dir, "login"),
            ops("verify-1"),
            ops("verify-2"),
            (
                scenario_cpu("login"),
                mean(&[hash_cpu("verify-1"), hash_cpu("verify-2")]),
            ),
        ),
        throughput_row(
            &Throughput {
                number: "3",
                scenario: "signup (`POST /api/auth/signup`, new emails)",
                unit: "signups",
                ceiling_name: "hash",
                target: 0.90,
                target_text: "≥ 0.90 of hashing",
            },
            read_load(dir, "signup"),
            ops("hash-1"),
            ops("hash-2"),
            (
                scenario_cpu("signup"),
                mean(&[hash_cpu("hash-1"), hash_cpu("hash-2")]),
            ),
        ),
    ];
    BackendReport {
        label,
        rows,
        http: (1..=3).map(|n| http(n).ok()).collect(),
        verify: ["verify-1", "verify-2"].map(|n| ops(n).ok()).to_vec(),
        hash: ["hash-1", "hash-2"].map(|n| ops(n).ok()).to_vec(),
        hashing: hash_ceiling(dir, "verify-1").ok(),
    }
}

impl Report {
    /// Reads a results directory.
    ///
    /// # Errors
    /// `run.json` or `commands.txt` missing or unreadable; a missing scenario is not an
    /// error here but a "did not run" row.
    pub fn read(results: &Path) -> anyhow::Result<Self> {
        let info: RunInfo = read_json(results, "run")?;
        let commands = std::fs::read_to_string(results.join("commands.txt"))
            .context("missing commands.txt")?;
        let backends = BACKENDS
            .iter()
            .map(|(dir, label)| {
                let dir = results.join(dir);
                let mut report = backend(&dir, label);
                report.rows.push(flood_row(&dir, &info));
                report.rows.push(memory_row(&dir, &info));
                report.rows.push(startup_row(&dir));
                report
            })
            .collect();
        Ok(Self {
            info,
            commands,
            backends,
        })
    }

    /// Every scenario that did not run, as `backend scenario: why`.
    pub fn problems(&self) -> Vec<String> {
        self.backends
            .iter()
            .flat_map(|b| {
                b.rows
                    .iter()
                    .filter(|r| r.verdict == Verdict::DidNotRun)
                    .map(move |r| format!("{} {}: {}", b.label, r.number, r.measured))
            })
            .collect()
    }

    /// The section between the markers, markers included.
    pub fn markdown(&self) -> String {
        let i = &self.info;
        let mut out = String::new();
        let _ = writeln!(out, "{BEGIN}");
        let _ = writeln!(out, "## Load: gatehouse against the machine's ceilings\n");
        let _ = writeln!(
            out,
            "Written by `bench/run.sh` ({} run) from {} to {} (UTC), commit `{}`. Everything \
             between the markers is replaced by the next run.\n",
            i.mode, i.started, i.finished, i.commit
        );
        let _ = writeln!(
            out,
            "**Machine**: {} cores (`nproc`), {}, {:.1} GiB RAM, Linux {}. Load average \
             (1/5/15 min): {} at the start, {} at the end. Busiest processes besides the \
             harness at the start: {}; at the end: {}.\n",
            i.nproc,
            i.cpu,
            i.memory_kib as f64 / 1024.0 / 1024.0,
            i.kernel,
            i.load_start,
            i.load_end,
            i.others_start,
            i.others_end
        );
        let hashing = self
            .backends
            .iter()
            .find_map(|b| b.hashing.clone())
            .map_or_else(
                || "—".to_owned(),
                |h| {
                    format!(
                        "Argon2id m = {} KiB, t = {}, p = {} on {} hashing threads (hashing \
                         ceilings: {})",
                        h.memory_kib,
                        h.iterations,
                        h.parallelism,
                        h.threads,
                        h.method.as_deref().unwrap_or("the service's hasher")
                    )
                },
            );
        let _ = writeln!(
            out,
            "**How**: release build; gatehouse with rate limits and login throttle off, \
             `LOG_LEVEL=info`, JSON logs to a file, {hashing}; {} on 127.0.0.1 only. \
             {} s of load per scenario; every ceiling ({} s) right before and right after \
             its scenario, and the ratio against both (*before / after*). Scenario 1 and \
             the HTTP ceiling use {} connections; scenarios 2 and 3 and scenario 4's login \
             flood {}; scenario 4's GETs run at a fixed rate of {} req/s (oha `-q`, latency \
             corrected) idle and then under the flood. Throughput counts 2xx answers only. \
             \"split\" means met against one ceiling and not the other: the machine's speed \
             drifted between the two. Because the machine is shared, scenarios 1 to 3 also \
             give the CPU time (all threads, from /proc) per answer, of gatehouse and of the \
             ceiling, which does not depend on how much CPU the others left: the ceiling's \
             CPU per answer divided by gatehouse's is the share of gatehouse's CPU that does \
             the ceiling's work.\n",
            i.oha_version,
            number(i.scenario_seconds),
            number(i.ceiling_seconds),
            i.http_connections,
            i.login_connections,
            number(i.fixed_rate)
        );
        let _ = writeln!(out, "```sh\n{}\n```\n", self.commands.trim_end());
        for b in &self.backends {
            let _ = writeln!(out, "### {}\n", b.label);
            let _ = writeln!(
                out,
                "| # | scenario | measured | ceiling before / after | ratio | target | verdict |"
            );
            let _ = writeln!(out, "|---|---|---|---|---|---|---|");
            for r in &b.rows {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} | {} | {} |",
                    r.number,
                    r.scenario,
                    r.measured.replace('|', "\\|"),
                    r.ceiling,
                    r.ratio,
                    r.target,
                    r.verdict.text()
                );
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "### Ceilings measured in this run (in order)\n");
        let mut header = "| ceiling |".to_owned();
        let mut rule = "|---|".to_owned();
        for b in &self.backends {
            let _ = write!(header, " during the {} run |", b.label);
            rule.push_str("---|");
        }
        let _ = writeln!(out, "{header}\n{rule}");
        let series = |values: &[Option<f64>]| {
            values
                .iter()
                .map(|v| v.map_or_else(|| "—".to_owned(), number))
                .collect::<Vec<_>>()
                .join(" → ")
        };
        let names = [
            "HTTP: bare poem endpoint, req/s (before 1a → between 1a and 1b → after 1b)",
            "Argon2id verifications/s, all cores (before 2 → after 2)",
            "Argon2id hashes/s, all cores (before 3 → after 3)",
        ];
        for (k, name) in names.iter().enumerate() {
            let _ = write!(out, "| {name} |");
            for b in &self.backends {
                let _ = write!(out, " {} |", series(b.ceilings()[k]));
            }
            let _ = writeln!(out);
        }
        let _ = writeln!(out, "\n{END}");
        out
    }
}

/// `document` with the text between the markers (inclusive) replaced by `section`, or
/// with `section` appended when the markers are absent. Everything outside is kept.
///
/// # Errors
/// A begin marker without an end marker after it.
pub fn splice(document: &str, section: &str) -> anyhow::Result<String> {
    match document.find(BEGIN) {
        Some(start) => {
            let end = document[start..]
                .find(END)
                .map(|e| start + e + END.len())
                .context("BENCHMARKS.md has the begin marker but no end marker after it")?;
            // Drop the newline after the old end marker; the section brings its own.
            let rest = document[end..]
                .strip_prefix('\n')
                .unwrap_or(&document[end..]);
            Ok(format!("{}{section}{rest}", &document[..start]))
        }
        None => {
            let mut out = document.trim_end().to_owned();
            out.push_str("\n\n");
            out.push_str(section);
            Ok(out)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ratio_met_against_both_ceilings_is_met_against_one_is_split() {
        assert_eq!(Verdict::at_least(0.9, 0.95, 0.91), Verdict::Met);
        assert_eq!(Verdict::at_least(0.9, 0.95, 0.85), Verdict::Split);
        assert_eq!(Verdict::at_least(0.9, 0.5, 0.85), Verdict::NotMet);
        assert_eq!(Verdict::at_most(150.0, 150.0), Verdict::Met);
        assert_eq!(Verdict::at_most(150.0, 150.1), Verdict::NotMet);
    }

    #[test]
    fn numbers_get_thousands_separators_and_small_ones_a_decimal() {
        assert_eq!(number(1_234_567.4), "1,234,567");
        assert_eq!(number(123.0), "123");
        assert_eq!(number(42.25), "42.2");
        assert_eq!(number(f64::NAN), "—");
    }

    #[test]
    fn splicing_replaces_only_the_text_between_the_markers() {
        let doc =
            format!("# Benchmarks\n\nhand-written\n\n{BEGIN}\nold\n{END}\n\n## Fuzzing\nkept\n");
        let section = format!("{BEGIN}\nnew\n{END}\n");
        let out = splice(&doc, &section).expect("splices");
        assert_eq!(
            out,
            format!("# Benchmarks\n\nhand-written\n\n{BEGIN}\nnew\n{END}\n\n## Fuzzing\nkept\n")
        );
        // Splicing twice gives the same document.
        assert_eq!(splice(&out, &section).expect("again"), out);
    }

    #[test]
    fn without_markers_the_section_is_appended() {
        let out = splice("# Benchmarks\n\ntext\n", "S\n").expect("appends");
        assert_eq!(out, "# Benchmarks\n\ntext\n\nS\n");
    }

    #[test]
    fn a_begin_marker_without_its_end_is_refused_rather_than_eating_the_file() {
        assert!(splice(&format!("a\n{BEGIN}\nb\n"), "S\n").is_err());
    }

    #[test]
    fn a_missing_results_directory_reports_every_scenario_as_not_run() {
        let report = backend(Path::new("/nonexistent/gatehouse-bench"), "SQLite");
        assert_eq!(report.rows.len(), 4);
        assert!(report.rows.iter().all(|r| r.verdict == Verdict::DidNotRun));
        assert!(report.http.iter().all(Option::is_none));
    }
}
