//! Closed transactions per window of event time: throughput and latency over the
//! run.
//!
//! The run's length is not known while it streams, so the window starts at one
//! second and doubles (merging neighbours) whenever the run would need more than
//! `max_windows` of them. Each window keeps its durations at two significant
//! digits (a relative error under 1%, in a fixed few KiB): exact per-window
//! histograms would grow with the window, and the windows grow with the run.
//! Counts, min, max and mean stay exact. Memory is at most `max_windows` windows,
//! whatever the run's length.

use serde::Serialize;

use crate::hist::{nearest_rank, Summary, PERCENTILES};

/// Windows kept before they are merged two by two.
pub const DEFAULT_MAX_WINDOWS: usize = 120;
const FIRST_WINDOW_MS: i64 = 1_000;
/// The most windows a fixed timeline (`--window`) spans: a year of minutes.
pub const MAX_FIXED_WINDOWS: i64 = 525_600;
/// Closes outside 1970 … about 2^53 ms (285,000 years on) are left out of the
/// timeline: windows are computed in i64 without overflow only within that span.
const MAX_TS_MS: i64 = 1 << 53;

/// The most slots a duration can need (an i64 has 19 digits): 100 + 17·90.
const SLOTS_MAX: usize = 100 + 17 * 90 + 90;

/// A rounded distribution as a state file keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct SavedRounded {
    pub slots: Vec<(u32, u32)>,
    pub n: u64,
    pub sum: i128,
    pub min: i64,
    pub max: i64,
}

/// Durations at two significant digits: 0..99 exactly, then 100, 110, … 990,
/// 1000, 1100, … (negative values count as 0).
/// A few KiB whatever the count: for windows, and for wf-prom's step health.
#[derive(Clone, Debug, Default)]
pub struct RoundedHist {
    counts: Vec<u32>,
    n: u64,
    sum: i128,
    min: i64,
    max: i64,
}

fn slot(v: i64) -> usize {
    if v < 100 {
        return v.max(0) as usize;
    }
    let digits = v.ilog10() as usize; // 2 for 100..999
    let lead = (v / 10i64.pow(digits as u32 - 1)) as usize; // 10..99
    100 + (digits - 2) * 90 + (lead - 10)
}

fn slot_value(i: usize) -> i64 {
    if i < 100 {
        return i as i64;
    }
    let digits = (i - 100) / 90 + 2;
    let lead = (i - 100) % 90 + 10;
    lead as i64 * 10i64.pow(digits as u32 - 1)
}

impl RoundedHist {
    pub(crate) fn count(&self) -> u64 {
        self.n
    }

    /// (slot, count) of the non-empty slots, and n, sum, min, max: a state's form.
    pub(crate) fn to_saved(&self) -> SavedRounded {
        SavedRounded {
            slots: self
                .counts
                .iter()
                .enumerate()
                .filter(|(_, &c)| c > 0)
                .map(|(i, &c)| (i as u32, c))
                .collect(),
            n: self.n,
            sum: self.sum,
            min: self.min,
            max: self.max,
        }
    }

    pub(crate) fn from_saved(s: &SavedRounded) -> RoundedHist {
        let len = s
            .slots
            .iter()
            .map(|&(i, _)| i as usize + 1)
            .max()
            .unwrap_or(0);
        let mut counts = vec![0u32; len.min(SLOTS_MAX)];
        for &(i, c) in &s.slots {
            if let Some(slot) = counts.get_mut(i as usize) {
                *slot = slot.saturating_add(c);
            }
        }
        RoundedHist {
            counts,
            n: s.n,
            sum: s.sum,
            min: s.min,
            max: s.max,
        }
    }

    /// How many values lie in slots above the one `v` falls in.
    pub(crate) fn count_above(&self, v: i64) -> u64 {
        self.counts
            .iter()
            .skip(slot(v) + 1)
            .map(|&c| u64::from(c))
            .sum()
    }

    /// The largest gap between the two distributions' cumulative shares at
    /// any value: the Kolmogorov–Smirnov distance, from 0 (alike) to 1.
    pub(crate) fn ks_distance(&self, other: &RoundedHist) -> f64 {
        if self.n == 0 || other.n == 0 {
            return 0.0;
        }
        let (mut a, mut b, mut d) = (0u64, 0u64, 0f64);
        for i in 0..self.counts.len().max(other.counts.len()) {
            a += u64::from(self.counts.get(i).copied().unwrap_or(0));
            b += u64::from(other.counts.get(i).copied().unwrap_or(0));
            d = d.max((a as f64 / self.n as f64 - b as f64 / other.n as f64).abs());
        }
        d
    }

    pub fn record(&mut self, v: i64) {
        let i = slot(v);
        if self.counts.len() <= i {
            self.counts.resize(i + 1, 0);
        }
        self.counts[i] = self.counts[i].saturating_add(1);
        self.min = if self.n == 0 { v } else { self.min.min(v) };
        self.max = if self.n == 0 { v } else { self.max.max(v) };
        self.n += 1;
        self.sum += i128::from(v);
    }

    pub fn merge(&mut self, other: &RoundedHist) {
        if other.n == 0 {
            return;
        }
        if self.counts.len() < other.counts.len() {
            self.counts.resize(other.counts.len(), 0);
        }
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a = a.saturating_add(*b);
        }
        self.min = if self.n == 0 {
            other.min
        } else {
            self.min.min(other.min)
        };
        self.max = if self.n == 0 {
            other.max
        } else {
            self.max.max(other.max)
        };
        self.n += other.n;
        self.sum += other.sum;
    }

    /// Count, min, max and mean exact; percentiles at two significant digits
    /// (the lower end of the value's slot, within the seen range).
    pub fn summary(&self) -> Summary {
        if self.n == 0 {
            return Summary::default();
        }
        let at = |p: f64| {
            let k = nearest_rank(p, self.n);
            let mut seen = 0u64;
            let i = self.counts.iter().position(|&c| {
                seen += u64::from(c);
                seen >= k
            })?;
            // Never outside what was seen.
            Some(slot_value(i).clamp(self.min, self.max))
        };
        let p: Vec<Option<i64>> = PERCENTILES.iter().map(|&p| at(p)).collect();
        Summary {
            count: self.n,
            min: Some(self.min),
            mean: Some(self.sum as f64 / self.n as f64),
            p50: p[0],
            p90: p[1],
            p95: p[2],
            p99: p[3],
            p999: p[4],
            max: Some(self.max),
        }
    }
}

/// One window's closes.
#[derive(Clone, Debug, Default)]
pub(crate) struct Bucket {
    pub(crate) closed: u64,
    pub(crate) errors: u64,
    pub(crate) hist: RoundedHist,
}

impl Bucket {
    pub(crate) fn record(&mut self, duration_ms: i64, error: bool) {
        self.closed += 1;
        self.errors += u64::from(error);
        self.hist.record(duration_ms);
    }

    pub(crate) fn merge(&mut self, other: &Bucket) {
        self.closed += other.closed;
        self.errors += other.errors;
        self.hist.merge(&other.hist);
    }
}

#[derive(Clone, Debug)]
pub struct Timeline {
    window_ms: i64,
    max_windows: usize,
    /// `--window`'s windows: never widened.
    fixed: bool,
    /// Start of the first bucket; a multiple of `window_ms`.
    origin: Option<i64>,
    buckets: Vec<Bucket>,
    outside: u64,
}

/// One window of the timeline, as reports show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
    /// Transactions closed in the window.
    pub closed: u64,
    pub errors: u64,
    /// Closed transactions per second.
    pub throughput: f64,
    /// Errors per closed transaction (0 without any).
    pub error_rate: f64,
    /// Count, min, max and mean exact; percentiles at two significant digits.
    pub duration_ms: Summary,
}

impl Default for Timeline {
    fn default() -> Timeline {
        Timeline::new(DEFAULT_MAX_WINDOWS)
    }
}

impl Timeline {
    pub fn new(max_windows: usize) -> Timeline {
        Timeline {
            window_ms: FIRST_WINDOW_MS,
            max_windows: max_windows.max(2),
            fixed: false,
            origin: None,
            buckets: Vec::new(),
            outside: 0,
        }
    }

    /// Windows of exactly `window_ms`, never merged: as many as the run is long
    /// (`--window`).
    pub fn fixed(window_ms: i64) -> Timeline {
        Timeline {
            window_ms: window_ms.max(1),
            max_windows: usize::MAX,
            fixed: true,
            origin: None,
            buckets: Vec::new(),
            outside: 0,
        }
    }

    /// Each window's start and closes, first to last.
    pub(crate) fn buckets(&self) -> impl Iterator<Item = (i64, &Bucket)> {
        let origin = self.origin.unwrap_or(0);
        let w = self.window_ms;
        self.buckets
            .iter()
            .enumerate()
            .map(move |(i, b)| (origin + i as i64 * w, b))
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Records a transaction that closed at `ts_ms`; false when `ts_ms` is outside
    /// the span a timeline covers (see MAX_TS_MS) and it was left out.
    pub fn record(&mut self, ts_ms: i64, duration_ms: i64, error: bool) -> bool {
        match self.slot_of(ts_ms) {
            Some(i) => {
                self.buckets[i].record(duration_ms, error);
                true
            }
            None => {
                self.outside += 1;
                false
            }
        }
    }

    /// Adds a saved window's closes (a state's) to the window starting at
    /// `start_ms`; false when it falls outside the span, as for a close.
    pub(crate) fn absorb(&mut self, start_ms: i64, b: &Bucket) -> bool {
        match self.slot_of(start_ms) {
            Some(i) => {
                self.buckets[i].merge(b);
                true
            }
            None => {
                self.outside += b.closed;
                false
            }
        }
    }

    /// The index of the window `ts_ms` falls in, made to exist (widening or
    /// padding as needed); None when it is outside the span a timeline covers.
    fn slot_of(&mut self, ts_ms: i64) -> Option<usize> {
        if !(0..MAX_TS_MS).contains(&ts_ms) {
            return None;
        }
        self.origin
            .get_or_insert(ts_ms.div_euclid(self.window_ms) * self.window_ms);
        // Widen the windows until the earliest and the latest close both fit.
        loop {
            let w = self.window_ms;
            let origin = self.origin.unwrap_or(0);
            let start = ts_ms.div_euclid(w) * w;
            let first = origin.min(start);
            let end = (origin + self.buckets.len() as i64 * w).max(start + w);
            let needed = (end - first) / w;
            if self.fixed {
                // Fixed windows are never widened: a close so far from the
                // others that it would need too many windows is left out.
                if needed > MAX_FIXED_WINDOWS {
                    return None;
                }
                break;
            }
            if needed <= self.max_windows as i64 {
                break;
            }
            self.coarsen();
        }
        let w = self.window_ms;
        let origin = self.origin.unwrap_or(0);
        if ts_ms < origin {
            // Out of order, before the first window: pad at the front.
            let missing = (origin - ts_ms + w - 1) / w;
            let front = vec![Bucket::default(); missing as usize];
            self.buckets.splice(0..0, front);
            self.origin = Some(origin - missing * w);
        }
        let index = ((ts_ms - self.origin.unwrap_or(ts_ms)) / w) as usize;
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, Bucket::default());
        }
        Some(index)
    }

    /// Closes left out, counted when a state is merged.
    pub(crate) fn add_outside(&mut self, n: u64) {
        self.outside += n;
    }

    /// Closes left out because their `ts_ms` was outside the timeline's span.
    pub fn outside(&self) -> u64 {
        self.outside
    }

    /// Doubles the window, merging neighbours; the origin moves to a multiple of
    /// the new window.
    fn coarsen(&mut self) {
        let Some(origin) = self.origin else { return };
        let window = self.window_ms * 2;
        let new_origin = origin.div_euclid(window) * window;
        let mut merged: Vec<Bucket> = Vec::with_capacity(self.buckets.len() / 2 + 1);
        for (i, b) in self.buckets.iter().enumerate() {
            let start = origin + i as i64 * self.window_ms;
            let j = ((start - new_origin) / window) as usize;
            if merged.len() <= j {
                merged.resize(j + 1, Bucket::default());
            }
            merged[j].merge(b);
        }
        self.window_ms = window;
        self.origin = Some(new_origin);
        self.buckets = merged;
    }

    /// The windows from the first close to the last, empty ones included.
    pub fn windows(&self) -> Vec<Window> {
        let Some(origin) = self.origin else {
            return Vec::new();
        };
        self.buckets
            .iter()
            .enumerate()
            .map(|(i, b)| {
                let start_ms = origin + i as i64 * self.window_ms;
                Window {
                    start_ms,
                    end_ms: start_ms + self.window_ms,
                    closed: b.closed,
                    errors: b.errors,
                    throughput: b.closed as f64 * 1000.0 / self.window_ms as f64,
                    error_rate: if b.closed == 0 {
                        0.0
                    } else {
                        b.errors as f64 / b.closed as f64
                    },
                    duration_ms: b.hist.summary(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_double_and_lose_nothing() {
        let mut t = Timeline::new(10);
        for i in 0..100i64 {
            t.record(1_000_000 + i * 250, 10 + i, i % 10 == 0);
        }
        // 25 s of closes in at most 10 windows: 4 s windows.
        assert_eq!(t.window_ms(), 4_000);
        let w = t.windows();
        assert!(w.len() <= 10);
        assert_eq!(w.iter().map(|w| w.closed).sum::<u64>(), 100);
        assert_eq!(w.iter().map(|w| w.errors).sum::<u64>(), 10);
        assert_eq!(w[0].start_ms % 4_000, 0);
        assert_eq!(w[0].closed, 16);
        assert_eq!(w[0].throughput, 4.0);
        // Each window's closes fall inside it.
        assert_eq!(w[0].duration_ms.max, Some(25));
    }

    #[test]
    fn a_close_long_before_the_first_widens_the_windows() {
        let mut t = Timeline::new(100);
        t.record(1_000_000_000_000, 1, false);
        t.record(5_000, 2, false);
        let w = t.windows();
        assert!(w.len() <= 100, "{}", w.len());
        assert_eq!(w.iter().map(|w| w.closed).sum::<u64>(), 2);
        assert!(w[0].start_ms <= 5_000 && w.last().unwrap().end_ms > 1_000_000_000_000);
    }

    #[test]
    fn absurd_timestamps_are_left_out_not_overflowed() {
        let mut t = Timeline::new(120);
        assert!(t.record(1_767_225_600_000, 5, false));
        assert!(!t.record(i64::MAX, 5, false));
        assert!(!t.record(-1, 5, false));
        assert!(t.record(0, 5, false));
        assert_eq!(t.outside(), 2);
        assert_eq!(t.windows().iter().map(|w| w.closed).sum::<u64>(), 2);
    }

    #[test]
    fn fixed_windows_never_widen_and_refuse_a_far_close() {
        let mut t = Timeline::fixed(60_000);
        for i in 0..600i64 {
            t.record(1_767_225_600_000 + i * 1_000, 10, i % 100 == 0);
        }
        assert_eq!(t.window_ms(), 60_000);
        let w = t.windows();
        assert_eq!(w.len(), 10);
        assert!(w.iter().all(|w| w.closed == 60));
        assert_eq!(w[0].throughput, 1.0);
        assert_eq!(w[0].error_rate, 1.0 / 60.0);
        // Two years later: it would need a million windows.
        assert!(!t.record(1_767_225_600_000 + 2 * 365 * 86_400_000, 10, false));
        assert_eq!((t.outside(), t.windows().len()), (1, 10));
    }

    #[test]
    fn ks_distance() {
        let mut a = RoundedHist::default();
        let mut b = RoundedHist::default();
        for v in 0..100 {
            a.record(v);
            b.record(v);
        }
        assert_eq!(a.ks_distance(&b), 0.0);
        let mut c = RoundedHist::default();
        for v in 50..150 {
            c.record(v);
        }
        // Half of a lies below everything in c.
        assert!((a.ks_distance(&c) - 0.5).abs() < 1e-9);
    }

    #[test]
    fn two_significant_digits() {
        for (v, s) in [
            (0, 0),
            (99, 99),
            (100, 100),
            (109, 100),
            (110, 110),
            (999, 990),
            (1000, 1000),
            (1234, 1200),
            (98_765, 98_000),
            (-3, 0),
        ] {
            assert_eq!(slot_value(slot(v)), s, "{v}");
        }
        let mut h = RoundedHist::default();
        for v in 1..=1000 {
            h.record(v);
        }
        let s = h.summary();
        assert_eq!((s.count, s.min, s.max), (1000, Some(1), Some(1000)));
        assert_eq!(s.mean, Some(500.5));
        assert_eq!(s.p50, Some(500));
        assert_eq!(s.p99, Some(990));
        assert!(h.counts.len() <= 200);
    }

    #[test]
    fn a_close_before_the_first_window_grows_the_front() {
        let mut t = Timeline::new(100);
        t.record(10_500, 1, false);
        t.record(7_200, 2, false);
        let w = t.windows();
        assert_eq!(w[0].start_ms, 7_000);
        assert_eq!(w.len(), 4);
        assert_eq!((w[0].closed, w[3].closed), (1, 1));
    }
}
