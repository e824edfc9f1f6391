//! What one load-generator run measured, read from `oha --output-format json
//! --stats-success-breakdown`.
//!
//! Throughput counts successful (2xx) answers only, over the run's whole duration, so a
//! run that answers fast with errors is not mistaken for a fast run. Latency percentiles
//! are those of the successful answers.

use std::collections::BTreeMap;

use anyhow::Context as _;
use serde::Deserialize;

/// One load-generator run.
#[derive(Debug, Clone, PartialEq)]
pub struct LoadRun {
    /// Wall-clock length of the run.
    pub seconds: f64,
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Requests that got no answer, by reason (for example aborted at the deadline).
    pub errors: BTreeMap<String, u64>,
    /// Median latency of the successful answers.
    pub p50_ms: Option<f64>,
    /// 99th-percentile latency of the successful answers.
    pub p99_ms: Option<f64>,
}

#[derive(Deserialize)]
struct Raw {
    summary: RawSummary,
    #[serde(rename = "latencyPercentiles")]
    all: BTreeMap<String, Option<f64>>,
    #[serde(rename = "latencyPercentilesSuccessful", default)]
    successful: Option<BTreeMap<String, Option<f64>>>,
    #[serde(rename = "statusCodeDistribution")]
    statuses: BTreeMap<String, u64>,
    #[serde(rename = "errorDistribution", default)]
    errors: BTreeMap<String, u64>,
}

#[derive(Deserialize)]
struct RawSummary {
    total: f64,
}

impl LoadRun {
    /// Parses oha's JSON output.
    ///
    /// # Errors
    /// Not oha's JSON, or a status code that is not a number.
    pub fn parse(json: &str) -> anyhow::Result<Self> {
        let raw: Raw = serde_json::from_str(json).context("not oha's JSON output")?;
        let statuses = raw
            .statuses
            .into_iter()
            .map(|(code, n)| Ok((code.parse::<u16>()?, n)))
            .collect::<anyhow::Result<_>>()
            .context("a status code that is not a number")?;
        let percentiles = raw.successful.unwrap_or(raw.all);
        let ms = |key: &str| {
            percentiles
                .get(key)
                .copied()
                .flatten()
                .filter(|v| v.is_finite())
                .map(|s| s * 1000.0)
        };
        Ok(Self {
            seconds: raw.summary.total,
            p50_ms: ms("p50"),
            p99_ms: ms("p99"),
            statuses,
            errors: raw.errors,
        })
    }

    /// Answers with a 2xx status.
    pub fn successes(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(code, _)| (200..300).contains(*code))
            .map(|(_, n)| n)
            .sum()
    }

    /// Answers with any other status.
    pub fn failures(&self) -> u64 {
        self.statuses
            .iter()
            .filter(|(code, _)| !(200..300).contains(*code))
            .map(|(_, n)| n)
            .sum()
    }

    /// Successful answers per second.
    pub fn rate(&self) -> f64 {
        if self.seconds > 0.0 {
            self.successes() as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// The non-2xx statuses as `N × 503`, comma-separated; empty when there are none.
    pub fn failure_summary(&self) -> String {
        self.statuses
            .iter()
            .filter(|(code, _)| !(200..300).contains(*code))
            .map(|(code, n)| format!("{n} × {code}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
      "summary": {"successRate": 1.0, "total": 2.0, "slowest": 0.01, "fastest": 0.0001,
                  "average": 0.001, "requestsPerSec": 5100.0, "totalData": 1,
                  "sizePerRequest": 1, "sizePerSec": 1.0},
      "latencyPercentiles": {"p10": 0.0002, "p50": 0.0009, "p99": 0.02},
      "latencyPercentilesSuccessful": {"p50": 0.001, "p99": 0.004},
      "latencyPercentilesNotSuccessful": {"p50": null, "p99": null},
      "statusCodeDistribution": {"200": 10000, "503": 200},
      "errorDistribution": {"aborted due to deadline": 12}
    }"#;

    #[test]
    fn throughput_counts_only_successful_answers_over_the_whole_run() {
        let run = LoadRun::parse(SAMPLE).expect("parses");
        assert_eq!(run.successes(), 10_000);
        assert_eq!(run.failures(), 200);
        assert_eq!(run.rate(), 5_000.0);
        assert_eq!(run.failure_summary(), "200 × 503");
        assert_eq!(run.errors.get("aborted due to deadline"), Some(&12));
    }

    #[test]
    fn latency_is_that_of_the_successful_answers_in_milliseconds() {
        let run = LoadRun::parse(SAMPLE).expect("parses");
        assert_eq!(run.p50_ms, Some(1.0));
        assert_eq!(run.p99_ms, Some(4.0));
    }

    #[test]
    fn without_the_breakdown_the_percentiles_of_all_answers_are_used() {
        let json = SAMPLE.replace("latencyPercentilesSuccessful", "ignored");
        let run = LoadRun::parse(&json).expect("parses");
        assert_eq!(run.p99_ms, Some(20.0));
    }

    #[test]
    fn a_run_without_any_answer_has_no_latency_and_no_throughput() {
        let json = r#"{"summary": {"total": 1.0}, "latencyPercentiles": {"p50": null},
                       "statusCodeDistribution": {}, "errorDistribution": {}}"#;
        let run = LoadRun::parse(json).expect("parses");
        assert_eq!(run.p50_ms, None);
        assert_eq!(run.rate(), 0.0);
    }

    #[test]
    fn anything_else_is_refused() {
        assert!(LoadRun::parse("{}").is_err());
        assert!(LoadRun::parse("not json").is_err());
    }
}
