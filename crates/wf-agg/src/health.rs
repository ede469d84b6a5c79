//! Health classes: is a step or a workflow healthy, degraded or failed, and why.
//!
//! The class comes from two thresholds, as in seed 002's `error_rate_threshold`
//! and `slow_execution_threshold_ms`, and the reason names the number that
//! crossed one ("error rate 31.0% > 20%"), so a person can act on it. One
//! function classifies for every tool (wf-agg's report, wf-prom's gauge, the
//! dashboard), so they cannot disagree.

use serde::Serialize;

/// The seed's `error_rate_threshold`.
pub const DEFAULT_ERROR_RATE_THRESHOLD: f64 = 0.2;
/// The seed's `slow_execution_threshold_ms`, compared with a step's p95.
pub const DEFAULT_SLOW_MS: i64 = 1_000;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Degraded,
    Failed,
}

impl Health {
    pub fn as_str(self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Degraded => "degraded",
            Health::Failed => "failed",
        }
    }

    /// The value of wf-prom's `wf_step_health` gauge: 0, 1 or 2.
    pub fn level(self) -> i64 {
        self as i64
    }
}

/// When a row stops being healthy.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Thresholds {
    /// Failed above this error rate; degraded above half of it.
    pub error_rate: f64,
    /// A step is degraded when its p95 is above this (ms).
    pub slow_ms: Option<i64>,
    /// A workflow is degraded when its transactions' p95 is above this (ms).
    pub slow_txn_ms: Option<i64>,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            error_rate: DEFAULT_ERROR_RATE_THRESHOLD,
            slow_ms: Some(DEFAULT_SLOW_MS),
            slow_txn_ms: None,
        }
    }
}

/// A rate as a percentage with no needless digits: 0.2 → "20%", 0.025 → "2.5%".
pub fn percent(rate: f64) -> String {
    let s = format!("{:.3}", rate * 100.0);
    let s = s.trim_end_matches('0').trim_end_matches('.');
    format!("{s}%")
}

/// Classifies a row of `count` executions with `errors` failures and the given
/// p95, against `slow_ms` (the step or the workflow threshold). The reason is
/// `None` for a healthy row; otherwise every crossed threshold, joined by "; ".
pub fn classify(
    count: u64,
    errors: u64,
    p95_ms: Option<i64>,
    slow_ms: Option<i64>,
    error_threshold: f64,
) -> (Health, Option<String>) {
    let mut health = Health::Healthy;
    let mut reasons = Vec::new();
    let rate = if count == 0 {
        0.0
    } else {
        errors as f64 / count as f64
    };
    if count > 0 && rate > error_threshold {
        health = Health::Failed;
        reasons.push(format!(
            "error rate {:.1}% > {}",
            rate * 100.0,
            percent(error_threshold)
        ));
    } else if count > 0 && rate > error_threshold / 2.0 {
        health = Health::Degraded;
        reasons.push(format!(
            "error rate {:.1}% > {} (half of {})",
            rate * 100.0,
            percent(error_threshold / 2.0),
            percent(error_threshold)
        ));
    }
    if let (Some(p95), Some(slow)) = (p95_ms, slow_ms) {
        if p95 > slow {
            health = health.max(Health::Degraded);
            reasons.push(format!("p95 {p95} ms > {slow} ms"));
        }
    }
    let reason = (!reasons.is_empty()).then(|| reasons.join("; "));
    (health, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_and_reasons() {
        assert_eq!(
            classify(100, 5, Some(900), Some(1000), 0.2),
            (Health::Healthy, None)
        );
        assert_eq!(
            classify(100, 31, Some(900), Some(1000), 0.2),
            (Health::Failed, Some("error rate 31.0% > 20%".into()))
        );
        assert_eq!(
            classify(100, 12, Some(900), Some(1000), 0.2),
            (
                Health::Degraded,
                Some("error rate 12.0% > 10% (half of 20%)".into())
            )
        );
        assert_eq!(
            classify(100, 0, Some(1479), Some(1000), 0.2),
            (Health::Degraded, Some("p95 1479 ms > 1000 ms".into()))
        );
        assert_eq!(
            classify(10, 5, Some(1479), Some(1000), 0.2),
            (
                Health::Failed,
                Some("error rate 50.0% > 20%; p95 1479 ms > 1000 ms".into())
            )
        );
        // Exactly at a threshold is still within it.
        assert_eq!(
            classify(10, 2, Some(1000), Some(1000), 0.2).0,
            Health::Degraded
        );
        assert_eq!(
            classify(10, 1, Some(1000), Some(1000), 0.2).0,
            Health::Healthy
        );
        // No slow threshold, no executions.
        assert_eq!(classify(1, 0, Some(99_999), None, 0.2).0, Health::Healthy);
        assert_eq!(classify(0, 0, None, Some(1), 0.2), (Health::Healthy, None));
    }

    #[test]
    fn percentages_drop_needless_digits() {
        assert_eq!(percent(0.2), "20%");
        assert_eq!(percent(0.025), "2.5%");
        assert_eq!(percent(0.01), "1%");
        assert_eq!(percent(0.001), "0.1%");
    }
}
