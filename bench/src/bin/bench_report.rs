//! Turns a results directory of `bench/run.sh` into the load section of BENCHMARKS.md.
//!
//! `bench-report --results DIR --benchmarks BENCHMARKS.md` replaces the text between the
//! markers (and keeps every hand-written section); `--output FILE` writes the section
//! alone (the smoke run in CI, which must not touch BENCHMARKS.md). Either way it exits
//! non-zero when a scenario did not run — and never because of a timing.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Parser;
use gatehouse_bench::report::{Report, splice};

#[derive(Parser)]
#[command(about = "Write the load section of BENCHMARKS.md from a bench/run.sh results directory")]
struct Args {
    /// The results directory.
    #[arg(long)]
    results: PathBuf,
    /// BENCHMARKS.md to update between its markers.
    #[arg(long, conflicts_with = "output", required_unless_present = "output")]
    benchmarks: Option<PathBuf>,
    /// A file to write the section alone to.
    #[arg(long)]
    output: Option<PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let report = Report::read(&args.results)?;
    let section = report.markdown();
    if let Some(path) = &args.benchmarks {
        let document =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        std::fs::write(path, splice(&document, &section)?)
            .with_context(|| format!("writing {}", path.display()))?;
        println!("updated {}", path.display());
    }
    if let Some(path) = &args.output {
        std::fs::write(path, &section).with_context(|| format!("writing {}", path.display()))?;
        println!("wrote {}", path.display());
    }
    let problems = report.problems();
    for problem in &problems {
        eprintln!("did not run: {problem}");
    }
    anyhow::ensure!(
        problems.is_empty(),
        "{} scenario(s) did not run",
        problems.len()
    );
    let scenarios: usize = report.backends.iter().map(|b| b.rows.len()).sum();
    println!(
        "every scenario ran: {scenarios} on {} backends",
        report.backends.len()
    );
    Ok(())
}
