//! Quantiles over a sliding window of wall-clock time (`--quantiles`,
//! `--quantile-window`), estimated with t-digests.
//!
//! Histograms give quantiles only to a bucket's width and over all time; these
//! say what p99 was over the last few minutes. The window is five sub-windows that
//! rotate: an observation goes into the current one, buffered and compressed into
//! its digest every 512 values, and a scrape merges the sub-windows still inside
//! the window. Memory is five digests per label set, whatever the rate.
//!
//! They are gauges with a `q` label: `quantile` is reserved for summaries, which
//! prometheus-client does not encode.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use tdigest::TDigest;

const SUBWINDOWS: u32 = 5;
const BUFFER: usize = 512;
/// Centroids per digest: 300 keeps the p99 of a long-tailed latency within a few
/// percent of the exact value on the built-in workflows.
const DIGEST_SIZE: usize = 300;

#[derive(Default)]
struct Cell {
    digest: Option<TDigest>,
    buffer: Vec<f64>,
}

impl Cell {
    fn add(&mut self, v: f64) {
        self.buffer.push(v);
        if self.buffer.len() >= BUFFER {
            self.compress();
        }
    }

    fn compress(&mut self) {
        if self.buffer.is_empty() {
            return;
        }
        let values = std::mem::take(&mut self.buffer);
        let base = self
            .digest
            .take()
            .unwrap_or_else(|| TDigest::new_with_size(DIGEST_SIZE));
        self.digest = Some(base.merge_unsorted(values));
    }
}

/// Drops the sub-windows of `slots` (newest last, each with the instant it
/// started) that left `window`, and starts a new one when the newest is a
/// sub-window old. wf-prom's windowed metrics all rotate this way.
pub fn rotate<T: Default>(slots: &mut Vec<(Instant, T)>, window: Duration, now: Instant) {
    slots.retain(|(start, _)| now.duration_since(*start) < window);
    let due = slots
        .last()
        .is_none_or(|(start, _)| now.duration_since(*start) >= window / SUBWINDOWS);
    if due {
        slots.push((now, T::default()));
    }
}

struct Ring {
    /// Sub-windows, newest last, each with the instant it started.
    slots: Vec<(Instant, HashMap<String, Cell>)>,
}

/// One windowed quantile metric, keyed by one label (e.g. workflow) or none.
pub struct WindowQuantiles {
    name: &'static str,
    help: &'static str,
    label: Option<&'static str>,
    quantiles: Vec<f64>,
    window: Duration,
    ring: Mutex<Ring>,
}

impl std::fmt::Debug for WindowQuantiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WindowQuantiles")
            .field("name", &self.name)
            .finish()
    }
}

impl WindowQuantiles {
    pub fn new(
        name: &'static str,
        help: &'static str,
        label: Option<&'static str>,
        quantiles: Vec<f64>,
        window: Duration,
    ) -> WindowQuantiles {
        WindowQuantiles {
            name,
            help,
            label,
            quantiles,
            window,
            ring: Mutex::new(Ring { slots: Vec::new() }),
        }
    }

    /// Drops sub-windows that left the window and starts a new one when due.
    fn rotate(&self, ring: &mut Ring, now: Instant) {
        rotate(&mut ring.slots, self.window, now);
    }

    /// Records one value (seconds) under `key` (ignored without a label).
    pub fn observe(&self, key: &str, value: f64) {
        let now = Instant::now();
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        self.rotate(&mut ring, now);
        if let Some((_, cells)) = ring.slots.last_mut() {
            let key = if self.label.is_some() { key } else { "" };
            match cells.get_mut(key) {
                Some(cell) => cell.add(value),
                None => {
                    let mut cell = Cell::default();
                    cell.add(value);
                    cells.insert(key.to_string(), cell);
                }
            }
        }
    }

    /// The quantiles of each key over the window, keys sorted.
    pub fn estimate(&self) -> Vec<(String, Vec<(f64, f64)>)> {
        let now = Instant::now();
        let mut ring = self.ring.lock().unwrap_or_else(|e| e.into_inner());
        self.rotate(&mut ring, now);
        let mut per_key: HashMap<String, Vec<TDigest>> = HashMap::new();
        for (_, cells) in ring.slots.iter_mut() {
            for (key, cell) in cells.iter_mut() {
                cell.compress();
                if let Some(d) = &cell.digest {
                    per_key.entry(key.clone()).or_default().push(d.clone());
                }
            }
        }
        let mut out: Vec<(String, Vec<(f64, f64)>)> = per_key
            .into_iter()
            .map(|(key, digests)| {
                let merged = TDigest::merge_digests(digests);
                let qs = self
                    .quantiles
                    .iter()
                    .map(|&q| (q, merged.estimate_quantile(q)))
                    .collect();
                (key, qs)
            })
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }
}

impl Collector for WindowQuantiles {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let estimates = self.estimate();
        if estimates.is_empty() {
            return Ok(());
        }
        let mut family =
            encoder.encode_descriptor(self.name, self.help, None, MetricType::Gauge)?;
        for (key, qs) in estimates {
            for (q, v) in qs {
                let gauge = ConstGauge::new(v);
                let quantile = q.to_string();
                match self.label {
                    Some(label) => {
                        let labels = [(label, key.as_str()), ("q", quantile.as_str())];
                        gauge.encode(family.encode_family(&labels)?)?;
                    }
                    None => {
                        let labels = [("q", quantile.as_str())];
                        gauge.encode(family.encode_family(&labels)?)?;
                    }
                }
            }
        }
        Ok(())
    }
}

/// `0.5,0.9,0.99`: each strictly between 0 and 1.
pub fn parse_quantiles(raw: &str) -> Result<Vec<f64>, String> {
    raw.split(',')
        .map(|p| {
            p.trim()
                .parse::<f64>()
                .ok()
                .filter(|q| *q > 0.0 && *q < 1.0)
                .ok_or_else(|| {
                    format!("invalid value '{raw}' for --quantiles: expected numbers between 0 and 1, e.g. 0.5,0.9,0.99")
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_of_a_known_distribution() {
        let w = WindowQuantiles::new(
            "m",
            "h",
            Some("workflow"),
            vec![0.5, 0.99],
            Duration::from_secs(60),
        );
        for i in 1..=10_000 {
            w.observe("a", f64::from(i) / 1000.0);
        }
        w.observe("b", 2.0);
        let e = w.estimate();
        assert_eq!(e.len(), 2);
        let (key, qs) = &e[0];
        assert_eq!(key, "a");
        assert!((qs[0].1 - 5.0).abs() < 0.1, "{qs:?}");
        assert!((qs[1].1 - 9.9).abs() < 0.1, "{qs:?}");
        assert_eq!(e[1].1[0].1, 2.0);
    }

    #[test]
    fn old_values_leave_the_window() {
        let w = WindowQuantiles::new("m", "h", None, vec![0.5], Duration::from_millis(100));
        w.observe("", 10.0);
        std::thread::sleep(Duration::from_millis(150));
        w.observe("", 1.0);
        let e = w.estimate();
        assert_eq!(e[0].1[0].1, 1.0);
    }

    #[test]
    fn quantile_lists() {
        assert_eq!(parse_quantiles("0.5, 0.9,0.99"), Ok(vec![0.5, 0.9, 0.99]));
        assert!(parse_quantiles("0.5,1").is_err());
        assert!(parse_quantiles("p99").is_err());
    }
}
