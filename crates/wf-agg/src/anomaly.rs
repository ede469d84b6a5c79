//! Anomalies: windows of event time that are unlike the run's own baseline.
//!
//! Seed 003 names three kinds: a `drop` (throughput fell), a `spike` (p95
//! latency or the error rate rose) and a `pattern_shift` (the latency
//! distribution moved). Each window is judged against the median window of the
//! baseline, with two tests that must both hold: the change is large (half the
//! throughput, twice the p95, twice the error rate) and it is not chance at the
//! window's size: a Poisson or binomial tail below 3.2·10⁻⁵ (a normal z of 4)
//! for the closes, the errors or the closes above the baseline's p95, or a
//! Kolmogorov–Smirnov distance beyond its critical value at the same level. A clean run of the same length then flags
//! nothing, and an incident of a few windows stands out.
//!
//! Over a whole input (wf-agg, wf-plot) the baseline is every full window, and
//! only windows wholly between the first and the last transaction_open are
//! judged: the windows at the edges are partial by construction (the first has
//! not filled, the last holds only the longest transactions). Live (wf-prom, the
//! dashboard) the baseline is the windows seen before, see [`Live`].

use std::collections::VecDeque;

use serde::Serialize;

use crate::timeline::{Bucket, RoundedHist, Timeline};

/// Windows a baseline needs before anything is judged against it.
pub const MIN_BASELINE: usize = 5;
/// Closes a window needs before its latency or error rate is judged.
pub const MIN_CLOSED: u64 = 30;
/// How unlikely by chance a change must be: as a normal z ≥ 4 (one-sided).
const P_CHANCE: f64 = 3.2e-5;
/// Kolmogorov–Smirnov critical coefficient at α = 3.2·10⁻⁵, as for the other
/// tests: sqrt(-ln(α/2)/2).
const KS_C: f64 = 2.35;
/// A shift smaller than this is not worth a person's time, however certain.
const KS_MIN: f64 = 0.2;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    Drop,
    Spike,
    PatternShift,
}

impl Kind {
    pub const ALL: [Kind; 3] = [Kind::Drop, Kind::Spike, Kind::PatternShift];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Drop => "drop",
            Kind::Spike => "spike",
            Kind::PatternShift => "pattern_shift",
        }
    }
}

/// One flagged window and metric.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Anomaly {
    pub kind: Kind,
    pub window_start_ms: i64,
    pub window_end_ms: i64,
    /// `throughput` (closes per second), `p95_ms`, `error_rate`, or for a
    /// pattern shift `p50_ms` (the distribution moved; the medians show how far).
    pub metric: &'static str,
    pub observed: f64,
    pub expected: f64,
}

/// What a window is expected to look like.
#[derive(Clone, Debug)]
struct Baseline {
    /// Median closes per window.
    closed: f64,
    p95: f64,
    error_rate: f64,
    p50: f64,
    /// Every baseline window's durations together.
    hist: RoundedHist,
}

fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7): exact enough for tail probabilities.
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let t = x + 7.5;
    let mut a = C[0];
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// P(X ≥ k) for X ~ Binomial(n, p): how likely `k` or more of `n` by chance.
fn binomial_upper(n: u64, k: u64, p: f64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    if k > n || p <= 0.0 {
        return 0.0;
    }
    if p >= 1.0 {
        return 1.0;
    }
    let (nf, lp, lq) = (n as f64, p.ln(), (1.0 - p).ln());
    let ln_pmf = |i: f64| {
        ln_gamma(nf + 1.0) - ln_gamma(i + 1.0) - ln_gamma(nf - i + 1.0) + i * lp + (nf - i) * lq
    };
    // Past the mean the terms fall at least geometrically; stop when they vanish.
    let mut sum = 0.0;
    let mut i = k;
    while i <= n {
        let term = ln_pmf(i as f64).exp();
        sum += term;
        if term < sum * 1e-12 || i - k > 100_000 {
            break;
        }
        i += 1;
    }
    sum.min(1.0)
}

/// P(X ≤ k) for X ~ Poisson(mean): how likely as few as `k` by chance.
fn poisson_lower(k: u64, mean: f64) -> f64 {
    if mean <= 0.0 {
        return 1.0;
    }
    // From k down: the terms fall at least geometrically below the mean.
    let mut sum = 0.0;
    let mut i = k as f64;
    loop {
        let term = (i * mean.ln() - mean - ln_gamma(i + 1.0)).exp();
        sum += term;
        if i == 0.0 || term < sum * 1e-12 {
            break;
        }
        i -= 1.0;
    }
    sum.min(1.0)
}

fn rate(b: &Bucket) -> f64 {
    if b.closed == 0 {
        0.0
    } else {
        b.errors as f64 / b.closed as f64
    }
}

impl Baseline {
    fn of<'a>(windows: impl Iterator<Item = &'a Bucket> + Clone) -> Option<Baseline> {
        let n = windows.clone().count();
        if n < MIN_BASELINE {
            return None;
        }
        let mut hist = RoundedHist::default();
        for b in windows.clone() {
            hist.merge(&b.hist);
        }
        // Latency and error rate from the windows big enough to measure them,
        // each window's summary computed once.
        let sized: Vec<(&Bucket, crate::hist::Summary)> = windows
            .clone()
            .filter(|b| b.closed >= MIN_CLOSED)
            .map(|b| (b, b.hist.summary()))
            .collect();
        let pct = |f: fn(&crate::hist::Summary) -> Option<i64>| {
            median(
                sized
                    .iter()
                    .filter_map(|(_, s)| f(s).map(|v| v as f64))
                    .collect(),
            )
        };
        Some(Baseline {
            closed: median(windows.map(|b| b.closed as f64).collect()),
            p95: pct(|s| s.p95),
            p50: pct(|s| s.p50),
            error_rate: median(sized.iter().map(|(b, _)| rate(b)).collect()),
            hist,
        })
    }

    /// The anomalies of one window that lasts `window_ms`.
    fn judge(&self, b: &Bucket, start_ms: i64, window_ms: i64) -> Vec<Anomaly> {
        let per_s = 1000.0 / window_ms as f64;
        let mut found = Vec::new();
        let mut flag = |kind, metric, observed, expected| {
            found.push(Anomaly {
                kind,
                window_start_ms: start_ms,
                window_end_ms: start_ms + window_ms,
                metric,
                observed,
                expected,
            })
        };
        let (obs, exp) = (b.closed as f64, self.closed);
        if exp > 0.0 && obs < exp / 2.0 && poisson_lower(b.closed, exp) <= P_CHANCE {
            flag(Kind::Drop, "throughput", obs * per_s, exp * per_s);
        }
        if b.closed < MIN_CLOSED {
            return found;
        }
        let s = b.hist.summary();
        let n = b.closed as f64;
        if let Some(p95) = s.p95 {
            let p95 = p95 as f64;
            // A few slow transactions make a small window's p95 jump: the share
            // above the baseline's p95 must be beyond 5% by more than chance.
            let above = b.hist.count_above(self.p95 as i64);
            if self.p95 > 0.0
                && p95 >= 2.0 * self.p95
                && binomial_upper(b.closed, above, 0.05) <= P_CHANCE
            {
                flag(Kind::Spike, "p95_ms", p95, self.p95);
            }
        }
        let r = rate(b);
        let p = self.error_rate.max(0.001);
        if r >= 2.0 * p && r - p >= 0.02 && binomial_upper(b.closed, b.errors, p) <= P_CHANCE {
            flag(Kind::Spike, "error_rate", r, self.error_rate);
        }
        let m = self.hist.count() as f64;
        let d = b.hist.ks_distance(&self.hist);
        if d >= KS_MIN && d >= KS_C * ((n + m) / (n * m)).sqrt() {
            let p50 = s.p50.unwrap_or(0) as f64;
            flag(Kind::PatternShift, "p50_ms", p50, self.p50);
        }
        found
    }
}

/// The anomalies of a whole input's fixed windows. `opens` is the first and
/// last `ts_ms` of a transaction_open: only windows wholly between them are
/// judged (and make the baseline).
pub fn detect(t: &Timeline, opens: Option<(i64, i64)>) -> Vec<Anomaly> {
    let Some((first, last)) = opens else {
        return Vec::new();
    };
    let w = t.window_ms();
    let full: Vec<(i64, &Bucket)> = t
        .buckets()
        .filter(|&(start, _)| start >= first && start + w <= last)
        .collect();
    let Some(base) = Baseline::of(full.iter().map(|(_, b)| *b)) else {
        return Vec::new();
    };
    full.iter()
        .flat_map(|&(start, b)| base.judge(b, start, w))
        .collect()
}

/// Windows a live baseline remembers.
const LIVE_HISTORY: usize = 60;

/// Anomaly detection over a live stream: each window is judged when event time
/// passes its end, against the windows before it (at most the last hour of
/// 1-minute windows). The first window is partial and only starts the clock.
#[derive(Clone, Debug)]
pub struct Live {
    window_ms: i64,
    /// Start of the window being filled, and whether it is the partial first.
    current: Option<(i64, bool)>,
    bucket: Bucket,
    history: VecDeque<Bucket>,
}

impl Live {
    pub fn new(window_ms: i64) -> Live {
        Live {
            window_ms: window_ms.max(1),
            current: None,
            bucket: Bucket::default(),
            history: VecDeque::new(),
        }
    }

    pub fn window_ms(&self) -> i64 {
        self.window_ms
    }

    /// Judges a finished window and adds it to the history.
    fn close(&mut self, b: Bucket, at: i64, found: &mut Vec<Anomaly>) {
        if let Some(base) = Baseline::of(self.history.iter()) {
            found.extend(base.judge(&b, at, self.window_ms));
        }
        self.history.push_back(b);
        if self.history.len() > LIVE_HISTORY {
            self.history.pop_front();
        }
    }

    /// Records a close; returns the anomalies of the windows it completed.
    /// A close older than the current window counts in the current one.
    pub fn record(&mut self, ts_ms: i64, duration_ms: i64, error: bool) -> Vec<Anomaly> {
        let found = self.advance(ts_ms);
        self.bucket.record(duration_ms, error);
        found
    }

    /// Moves event time to `ts_ms`, judging every window that ended before it
    /// (an empty one too: nothing closed is a drop).
    pub fn advance(&mut self, ts_ms: i64) -> Vec<Anomaly> {
        let w = self.window_ms;
        let start = ts_ms.div_euclid(w) * w;
        let Some((cur, partial)) = self.current else {
            self.current = Some((start, true));
            return Vec::new();
        };
        if start <= cur {
            return Vec::new();
        }
        let mut found = Vec::new();
        let done = std::mem::take(&mut self.bucket);
        if !partial {
            self.close(done, cur, &mut found);
        }
        // The empty windows since; after a long silence only the last
        // history's worth of them matter.
        let empty_from = (cur + w).max(start - LIVE_HISTORY as i64 * w);
        let mut at = empty_from;
        while at < start {
            self.close(Bucket::default(), at, &mut found);
            at += w;
        }
        self.current = Some((start, false));
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A steady run: `per_window` closes in each 1-minute window for `windows`
    /// windows, durations cycling 100..=1099 ms, one error in 20; `bend`
    /// changes the closes of window `i`.
    fn run(
        windows: i64,
        per_window: i64,
        bend: impl Fn(i64, i64, &mut i64, &mut bool) -> bool,
    ) -> Timeline {
        let mut t = Timeline::fixed(60_000);
        let t0 = 1_767_225_600_000;
        for i in 0..windows {
            for j in 0..per_window {
                let mut d = 100 + (j * 37 + i * 11) % 1000;
                let mut err = j % 20 == 0;
                if bend(i, j, &mut d, &mut err) {
                    t.record(t0 + i * 60_000 + j * 60_000 / per_window, d, err);
                }
            }
        }
        t
    }

    const T0: i64 = 1_767_225_600_000;
    const SPAN: Option<(i64, i64)> = Some((T0, T0 + 20 * 60_000));

    #[test]
    fn tail_probabilities() {
        assert!((ln_gamma(5.0) - 24f64.ln()).abs() < 1e-10);
        assert!((ln_gamma(0.5) - std::f64::consts::PI.sqrt().ln()).abs() < 1e-10);
        // P(X >= 3), X ~ Bin(4, 0.5) = 5/16.
        assert!((binomial_upper(4, 3, 0.5) - 5.0 / 16.0).abs() < 1e-12);
        assert_eq!(binomial_upper(10, 0, 0.1), 1.0);
        assert_eq!(binomial_upper(10, 11, 0.1), 0.0);
        // P(X <= 1), X ~ Poisson(2) = 3 e^-2.
        assert!((poisson_lower(1, 2.0) - 3.0 * (-2f64).exp()).abs() < 1e-12);
        // 11 errors of 65 at 5.2% is unusual, but not one in 31,000.
        assert!(binomial_upper(65, 11, 0.052) > P_CHANCE);
        assert!(binomial_upper(600, 300, 0.05) < 1e-100);
    }

    #[test]
    fn a_steady_run_flags_nothing() {
        let t = run(20, 600, |_, _, _, _| true);
        assert_eq!(detect(&t, SPAN), vec![]);
    }

    #[test]
    fn a_slowdown_is_a_spike_and_a_shift() {
        let t = run(20, 600, |i, _, d, _| {
            if i == 12 {
                *d *= 4;
            }
            true
        });
        let found = detect(&t, SPAN);
        let kinds: Vec<(Kind, &str)> = found.iter().map(|a| (a.kind, a.metric)).collect();
        assert_eq!(
            kinds,
            vec![(Kind::Spike, "p95_ms"), (Kind::PatternShift, "p50_ms")]
        );
        assert!(found.iter().all(|a| a.window_start_ms == T0 + 12 * 60_000));
        assert_eq!(found[0].window_end_ms, T0 + 13 * 60_000);
        assert!(found[0].observed >= 2.0 * found[0].expected);
    }

    #[test]
    fn an_error_burst_and_a_drop() {
        let t = run(20, 600, |i, j, _, err| {
            if i == 5 {
                *err = j % 2 == 0;
            }
            // Window 9 gets a tenth of its closes.
            i != 9 || j % 10 == 1
        });
        let found = detect(&t, SPAN);
        let kinds: Vec<(Kind, &str, i64)> = found
            .iter()
            .map(|a| (a.kind, a.metric, (a.window_start_ms - T0) / 60_000))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::Spike, "error_rate", 5),
                (Kind::Drop, "throughput", 9)
            ]
        );
        assert_eq!((found[1].observed, found[1].expected), (1.0, 10.0));
        assert_eq!(found[0].observed, 0.5);
    }

    #[test]
    fn edge_windows_and_short_runs_are_not_judged() {
        // Windows 0 and 19 hold a tenth of the closes, but lie at the edges.
        let t = run(20, 600, |i, j, _, _| (i != 0 && i != 19) || j % 10 == 0);
        assert_eq!(
            detect(&t, Some((T0 + 30_000, T0 + 19 * 60_000 + 30_000))),
            vec![]
        );
        // Four full windows are too few for a baseline.
        let t = run(4, 600, |i, _, d, _| {
            *d *= 1 + i * 10;
            true
        });
        assert_eq!(detect(&t, Some((T0, T0 + 4 * 60_000))), vec![]);
        assert_eq!(detect(&t, None), vec![]);
    }

    #[test]
    fn live_judges_each_window_against_those_before() {
        let mut live = Live::new(60_000);
        let mut found = Vec::new();
        // A partial first window, then ten steady ones, then a slow one, and
        // two minutes of silence.
        for i in 0..13i64 {
            let n = if i == 0 { 100 } else { 600 };
            for j in 0..n {
                let d = 100 + (j * 37) % 1000;
                let d = if i == 11 { d * 4 } else { d };
                found.extend(live.record(T0 + i * 60_000 + j * 100, d, j % 20 == 0));
            }
        }
        found.extend(live.advance(T0 + 15 * 60_000));
        let kinds: Vec<(Kind, i64)> = found
            .iter()
            .map(|a| (a.kind, (a.window_start_ms - T0) / 60_000))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (Kind::Spike, 11),
                (Kind::PatternShift, 11),
                (Kind::Drop, 13),
                (Kind::Drop, 14)
            ]
        );
    }
}
