//! Gatehouse's benchmark harness, the Rust half: the binaries `http-ceiling`,
//! `hash-ceiling` and `startup-time` measure, `bench-report` turns a results directory
//! written by `bench/run.sh` into the tables of BENCHMARKS.md.
//!
//! This library holds what the report needs and what its tests check: reading the load
//! generator's JSON ([`load`]) and building the tables with their verdicts ([`report`]).
//! It measures nothing and asserts nothing about speed.

pub mod load;
pub mod report;

/// The median of values already sorted ascending (the mean of the middle two for an even
/// count); `NaN` for none.
pub fn median(sorted: &[f64]) -> f64 {
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

#[cfg(test)]
mod tests {
    use super::median;

    #[test]
    fn the_median_of_an_odd_count_is_the_middle_value_and_of_an_even_count_the_mean_of_two() {
        assert_eq!(median(&[1.0, 2.0, 9.0]), 2.0);
        assert_eq!(median(&[1.0, 2.0, 4.0, 9.0]), 3.0);
        assert!(median(&[]).is_nan());
    }
}
