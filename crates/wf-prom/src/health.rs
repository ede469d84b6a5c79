//! `wf_step_health{workflow,step}`: each step's health class (0 healthy,
//! 1 degraded, 2 failed) over the last --quantile-window, by the same rule and
//! thresholds as wf-agg's report (`wf_agg::health`), so an alert and a report
//! agree on what "degraded" means.
//!
//! Each step keeps five rotating sub-windows of wall-clock time with its
//! executions, failures and durations at two significant digits (a few KiB per
//! step and sub-window, whatever the rate; the p95 compared with --slow-ms is
//! the lower end of its 1%-to-10%-wide slot, so a p95 just over the threshold may
//! read as at it). A scrape merges the sub-windows
//! still inside the window and classifies. A step with no execution in the
//! window is left out: no news is not health.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use wf_agg::health::{self, Thresholds};
use wf_agg::RoundedHist;

use crate::quantiles::rotate;
use crate::series::OVERFLOW;

#[derive(Default)]
struct Cell {
    count: u64,
    errors: u64,
    /// At two significant digits: a few KiB per step and sub-window at most.
    durations: RoundedHist,
}

/// `workflow` NUL `step`: one string, so that a lookup borrows a reused buffer.
type Key = String;

fn split(key: &str) -> (String, String) {
    let (wf, step) = key.split_once('\0').unwrap_or((key, ""));
    (wf.to_string(), step.to_string())
}

#[derive(Default)]
struct Inner {
    /// Sub-windows, newest last, each with the instant it started.
    slots: Vec<(Instant, HashMap<Key, Cell>)>,
    scratch: String,
}

pub struct StepHealth {
    window: Duration,
    thresholds: Thresholds,
    /// Steps kept; past it, new steps are one overflow series.
    max_series: usize,
    inner: Mutex<Inner>,
}

impl std::fmt::Debug for StepHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StepHealth").finish()
    }
}

impl StepHealth {
    pub fn new(window: Duration, thresholds: Thresholds, max_series: usize) -> StepHealth {
        StepHealth {
            window,
            thresholds,
            max_series,
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Records one execution of a step.
    pub fn observe(&self, workflow: &str, step: &str, duration_ms: Option<i64>, error: bool) {
        let mut guard = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        let inner = &mut *guard;
        rotate(&mut inner.slots, self.window, Instant::now());
        let key = &mut inner.scratch;
        key.clear();
        key.push_str(workflow);
        key.push('\0');
        key.push_str(step);
        let Some(((_, current), older)) = inner.slots.split_last_mut() else {
            return;
        };
        let cell = match current.get_mut(key.as_str()) {
            Some(cell) => cell,
            None => {
                // A step new to this sub-window: within the cap, or overflow.
                let known = older.iter().any(|(_, c)| c.contains_key(key.as_str()));
                let mut distinct: Vec<&String> = older
                    .iter()
                    .flat_map(|(_, c)| c.keys())
                    .chain(current.keys())
                    .collect();
                distinct.sort();
                distinct.dedup();
                let fits = known || self.max_series == 0 || distinct.len() < self.max_series;
                let owned = if fits {
                    key.clone()
                } else {
                    format!("{OVERFLOW}\0{OVERFLOW}")
                };
                current.entry(owned).or_default()
            }
        };
        cell.count += 1;
        cell.errors += u64::from(error);
        if let Some(d) = duration_ms {
            cell.durations.record(d);
        }
    }

    /// (workflow, step, level, reason) of every step seen in the window, sorted.
    pub fn classes(&self) -> Vec<(String, String, i64, Option<String>)> {
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        rotate(&mut inner.slots, self.window, Instant::now());
        let mut merged: HashMap<&Key, Cell> = HashMap::new();
        for (_, cells) in inner.slots.iter() {
            for (key, c) in cells {
                let m = merged.entry(key).or_default();
                m.count += c.count;
                m.errors += c.errors;
                m.durations.merge(&c.durations);
            }
        }
        let mut out: Vec<_> = merged
            .into_iter()
            .map(|(key, c)| {
                let (wf, step) = split(key);
                let (h, why) = health::classify(
                    c.count,
                    c.errors,
                    c.durations.summary().p95,
                    self.thresholds.slow_ms,
                    self.thresholds.error_rate,
                );
                (wf, step, h.level(), why)
            })
            .collect();
        out.sort();
        out
    }
}

impl Collector for StepHealth {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let classes = self.classes();
        if classes.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "wf_step_health",
            "Step health over the last --quantile-window: 0 healthy, 1 degraded, 2 failed \
             (--error-rate-threshold, --slow-ms)",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        for (wf, step, level, _) in classes {
            let labels = [("workflow", wf), ("step", step)];
            let g = ConstGauge::new(level);
            g.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_wf_aggs_rule() {
        let h = StepHealth::new(Duration::from_secs(60), Thresholds::default(), 100);
        for i in 0..10 {
            h.observe("checkout", "charge", Some(100), i < 3);
            h.observe("checkout", "ship", Some(2_000), false);
            h.observe("checkout", "validate", Some(10), false);
        }
        assert_eq!(
            h.classes(),
            vec![
                (
                    "checkout".into(),
                    "charge".into(),
                    2,
                    Some("error rate 30.0% > 20%".into())
                ),
                (
                    "checkout".into(),
                    "ship".into(),
                    1,
                    Some("p95 2000 ms > 1000 ms".into())
                ),
                ("checkout".into(), "validate".into(), 0, None),
            ]
        );
    }

    #[test]
    fn steps_past_the_cap_share_the_overflow_series() {
        let h = StepHealth::new(Duration::from_secs(60), Thresholds::default(), 2);
        for s in ["a", "b", "c", "d"] {
            h.observe("w", s, Some(1), false);
        }
        let names: Vec<String> = h.classes().into_iter().map(|c| c.1).collect();
        assert_eq!(names, vec![OVERFLOW, "a", "b"]);
    }

    #[test]
    fn old_sub_windows_leave() {
        let h = StepHealth::new(Duration::from_millis(50), Thresholds::default(), 10);
        h.observe("w", "s", Some(1), true);
        assert_eq!(h.classes()[0].2, 2);
        std::thread::sleep(Duration::from_millis(80));
        assert_eq!(h.classes(), vec![]);
    }
}
