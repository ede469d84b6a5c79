//! Exact distributions of integer milliseconds.
//!
//! Latencies are whole milliseconds, so a count per distinct value is exact and
//! small: memory grows with the number of distinct values (a few thousand for a
//! real workload), not with the number of events. Two histograms merge by adding
//! counts, which is what scale-out needs.

use serde::Serialize;
use wf_events::hash::FxHashMap;

/// The percentiles every report gives, in percent.
pub const PERCENTILES: [f64; 5] = [50.0, 90.0, 95.0, 99.0, 99.9];

/// Values below this are counted in a dense array; the rest (and negatives) in a
/// map. Latencies cluster low, so most records are one array increment instead of
/// a hash probe.
const DENSE_LIMIT: i64 = 1 << 16;

#[derive(Clone, Debug, Default)]
pub struct Hist {
    /// u32 cells keep the array small; a count past u32::MAX goes on in `counts`.
    dense: Vec<u32>,
    dense_distinct: usize,
    counts: FxHashMap<i64, u64>,
    n: u64,
    sum: i128,
    min: i64,
    max: i64,
}

/// What a report says of a distribution: the `duration_ms` object of `wf-agg --json`.
/// Every field but `count` is `null` when there are no values.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Summary {
    pub count: u64,
    pub min: Option<i64>,
    pub mean: Option<f64>,
    pub p50: Option<i64>,
    pub p90: Option<i64>,
    pub p95: Option<i64>,
    pub p99: Option<i64>,
    pub p999: Option<i64>,
    pub max: Option<i64>,
}

/// The nearest rank of percentile `p` among `n` values, as the seed aggregator
/// computes it: k = max(1, round(p/100 · n)), where round goes half to even (as
/// Python's does).
pub fn nearest_rank(p: f64, n: u64) -> u64 {
    let k = (p / 100.0 * n as f64).round_ties_even();
    (k as u64).clamp(1, n.max(1))
}

impl Hist {
    pub fn new() -> Hist {
        Hist::default()
    }

    #[inline]
    pub fn record(&mut self, v: i64) {
        self.add(v, 1);
        if self.n == 0 {
            self.min = v;
            self.max = v;
        } else {
            self.min = self.min.min(v);
            self.max = self.max.max(v);
        }
        self.n += 1;
        self.sum += i128::from(v);
    }

    #[inline]
    fn add(&mut self, v: i64, c: u64) {
        if (0..DENSE_LIMIT).contains(&v) {
            let i = v as usize;
            if self.dense.is_empty() {
                // Allocated once, zeroed by the allocator: a block this size is
                // fresh zero pages, so resident memory is only the pages values
                // land in, and the array is never copied to grow.
                self.dense = vec![0; DENSE_LIMIT as usize];
            }
            let slot = &mut self.dense[i];
            if *slot == 0 {
                self.dense_distinct += 1;
            }
            match u32::try_from(u64::from(*slot) + c) {
                Ok(sum) => *slot = sum,
                Err(_) => {
                    let spill = u64::from(*slot) + c - u64::from(u32::MAX);
                    *slot = u32::MAX;
                    *self.counts.entry(v).or_insert(0) += spill;
                }
            }
        } else {
            *self.counts.entry(v).or_insert(0) += c;
        }
    }

    pub fn count(&self) -> u64 {
        self.n
    }

    /// Distinct values held (what memory grows with).
    pub fn distinct(&self) -> usize {
        self.dense_distinct + self.counts.keys().filter(|&&v| !self.in_dense(v)).count()
    }

    fn in_dense(&self, v: i64) -> bool {
        (0..self.dense.len() as i64).contains(&v) && self.dense[v as usize] > 0
    }

    pub fn merge(&mut self, other: &Hist) {
        for (v, c) in other.iter() {
            self.add(v, c);
        }
        if other.n > 0 {
            if self.n == 0 {
                self.min = other.min;
                self.max = other.max;
            } else {
                self.min = self.min.min(other.min);
                self.max = self.max.max(other.max);
            }
        }
        self.n += other.n;
        self.sum += other.sum;
    }

    /// Distinct values with their counts, in no particular order.
    fn iter(&self) -> impl Iterator<Item = (i64, u64)> + '_ {
        // A value whose dense cell is full also has its overflow in `counts`.
        let dense = self
            .dense
            .iter()
            .enumerate()
            .filter(|(_, &c)| c > 0)
            .map(|(v, &c)| {
                (
                    v as i64,
                    u64::from(c) + self.counts.get(&(v as i64)).copied().unwrap_or(0),
                )
            });
        let rest = self
            .counts
            .iter()
            .filter(|(&k, _)| !self.in_dense(k))
            .map(|(&k, &c)| (k, c));
        dense.chain(rest)
    }

    /// A histogram of the given (value, count) pairs, as [`Hist::sorted`] gives
    /// them.
    pub fn from_counts(pairs: &[(i64, u64)]) -> Hist {
        let mut h = Hist::new();
        for &(v, c) in pairs.iter().filter(|(_, c)| *c > 0) {
            h.add(v, c);
            if h.n == 0 {
                (h.min, h.max) = (v, v);
            } else {
                (h.min, h.max) = (h.min.min(v), h.max.max(v));
            }
            h.n += c;
            h.sum += i128::from(v) * i128::from(c);
        }
        h
    }

    /// Distinct values with their counts, smallest first.
    pub fn sorted(&self) -> Vec<(i64, u64)> {
        let mut v: Vec<(i64, u64)> = self.iter().collect();
        v.sort_unstable();
        v
    }

    /// The values at the given percentiles (nearest rank), in one pass.
    pub fn percentiles(&self, ps: &[f64]) -> Vec<Option<i64>> {
        if self.n == 0 {
            return vec![None; ps.len()];
        }
        let sorted = self.sorted();
        ps.iter()
            .map(|&p| {
                let k = nearest_rank(p, self.n);
                let mut seen = 0;
                sorted.iter().find_map(|&(v, c)| {
                    seen += c;
                    (seen >= k).then_some(v)
                })
            })
            .collect()
    }

    pub fn mean(&self) -> Option<f64> {
        (self.n > 0).then(|| self.sum as f64 / self.n as f64)
    }

    pub fn summary(&self) -> Summary {
        if self.n == 0 {
            return Summary::default();
        }
        let p = self.percentiles(&PERCENTILES);
        Summary {
            count: self.n,
            min: Some(self.min),
            mean: self.mean(),
            p50: p[0],
            p90: p[1],
            p95: p[2],
            p99: p[3],
            p999: p[4],
            max: Some(self.max),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The seed's pct(): sort, then index by nearest rank.
    fn seed_pct(vals: &[i64], p: f64) -> i64 {
        let mut arr = vals.to_vec();
        arr.sort_unstable();
        arr[nearest_rank(p, arr.len() as u64) as usize - 1]
    }

    #[test]
    fn ranks_round_half_to_even_like_python() {
        // Checked against Python 3: max(1, int(round(p / 100.0 * n))).
        assert_eq!(nearest_rank(95.0, 30), 28);
        assert_eq!(nearest_rank(95.0, 10), 10);
        assert_eq!(nearest_rank(50.0, 1), 1);
        assert_eq!(nearest_rank(50.0, 7), 4);
        assert_eq!(nearest_rank(95.0, 50), 48);
        assert_eq!(nearest_rank(99.0, 50), 50);
        assert_eq!(nearest_rank(99.9, 101), 101);
        assert_eq!(nearest_rank(90.0, 101), 91);
    }

    #[test]
    fn summary_matches_sorting_everything() {
        let vals: Vec<i64> = (0..1000).map(|i| (i * 7919) % 613 - 20).collect();
        let mut h = Hist::new();
        for &v in &vals {
            h.record(v);
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert_eq!(s.min, vals.iter().min().copied());
        assert_eq!(s.max, vals.iter().max().copied());
        assert_eq!(s.p50, Some(seed_pct(&vals, 50.0)));
        assert_eq!(s.p90, Some(seed_pct(&vals, 90.0)));
        assert_eq!(s.p95, Some(seed_pct(&vals, 95.0)));
        assert_eq!(s.p99, Some(seed_pct(&vals, 99.0)));
        assert_eq!(s.p999, Some(seed_pct(&vals, 99.9)));
        let mean = vals.iter().sum::<i64>() as f64 / 1000.0;
        assert_eq!(s.mean, Some(mean));
    }

    #[test]
    fn a_count_past_u32_spills_and_stays_exact() {
        let mut h = Hist::new();
        h.add(7, u64::from(u32::MAX) - 1);
        h.add(7, 5);
        h.add(3, 1);
        assert_eq!(h.sorted(), vec![(3, 1), (7, u64::from(u32::MAX) + 4)]);
        assert_eq!(h.distinct(), 2);
    }

    #[test]
    fn empty_is_all_null_and_merge_adds() {
        assert_eq!(Hist::new().summary(), Summary::default());
        let mut a = Hist::new();
        let mut b = Hist::new();
        let mut all = Hist::new();
        for v in 0..100 {
            if v % 3 == 0 {
                a.record(v)
            } else {
                b.record(v)
            }
            all.record(v);
        }
        a.merge(&b);
        assert_eq!(a.summary(), all.summary());
        assert_eq!(a.distinct(), 100);
    }
}
