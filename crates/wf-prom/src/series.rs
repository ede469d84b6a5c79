//! Bounded label sets: `--max-series` and `--series-ttl`.
//!
//! Label values come from the input (workflow, step and error names), so a bad
//! producer can make unbounded series. Each labelled family is wrapped: past the
//! cap, a new label set is folded into one overflow series (every label value
//! `__overflow__`) and `wf_series_overflow_total{metric}` counts the folded
//! updates; a series not updated for the TTL is removed by a timer, whether or not
//! events still come.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};

use crate::metrics::MetricLabels;

/// The label value of the overflow series.
pub const OVERFLOW: &str = "__overflow__";

#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Label sets per metric; 0: no cap.
    pub max_series: usize,
    /// Remove series not updated for this long; None: never.
    pub ttl: Option<Duration>,
}

/// A family whose label sets are capped and expire.
pub struct Bounded<L, M, C = fn() -> M> {
    family: Family<L, M, C>,
    name: &'static str,
    seen: Mutex<HashMap<L, Instant>>,
    limits: Limits,
    overflow: Family<MetricLabels, Counter>,
}

/// Locks, recovering the map if a thread panicked while holding it: the map
/// holds timestamps only, and none of them can be left half-written.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl<L, M, C> Bounded<L, M, C>
where
    L: Clone + Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    M: Clone + Send + Sync + 'static,
    C: MetricConstructor<M> + Clone,
{
    pub fn new(
        name: &'static str,
        family: Family<L, M, C>,
        limits: Limits,
        overflow: Family<MetricLabels, Counter>,
    ) -> Arc<Self> {
        Arc::new(Bounded {
            family,
            name,
            seen: Mutex::new(HashMap::new()),
            limits,
            overflow,
        })
    }

    /// The family to register.
    pub fn family(&self) -> Family<L, M, C> {
        self.family.clone()
    }

    /// The metric for `labels`, or for `fold(labels)` when the cap is reached.
    pub fn get(&self, labels: L, fold: impl FnOnce(&L) -> L) -> M {
        let now = Instant::now();
        let mut seen = lock(&self.seen);
        let key = if seen.contains_key(&labels)
            || self.limits.max_series == 0
            || seen.len() < self.limits.max_series
        {
            labels
        } else {
            self.overflow
                .get_or_create(&MetricLabels {
                    metric: self.name.to_string(),
                })
                .inc();
            fold(&labels)
        };
        seen.insert(key.clone(), now);
        drop(seen);
        self.family.get_or_create_owned(&key)
    }

    /// Removes the series not updated within the TTL; returns how many.
    pub fn expire(&self) -> usize {
        let Some(ttl) = self.limits.ttl else { return 0 };
        let now = Instant::now();
        let mut seen = lock(&self.seen);
        let old: Vec<L> = seen
            .iter()
            .filter(|(_, &t)| now.duration_since(t) > ttl)
            .map(|(l, _)| l.clone())
            .collect();
        for l in &old {
            seen.remove(l);
            self.family.remove(l);
        }
        old.len()
    }

    #[cfg(test)]
    pub fn len(&self) -> usize {
        lock(&self.seen).len()
    }
}

/// Something the timer can expire.
pub trait Expire: Send + Sync {
    fn expire(&self) -> usize;
}

impl<L, M, C> Expire for Bounded<L, M, C>
where
    L: Clone + Hash + Eq + EncodeLabelSet + std::fmt::Debug + Send + Sync + 'static,
    M: Clone + Send + Sync + 'static,
    C: MetricConstructor<M> + Clone + Send + Sync,
{
    fn expire(&self) -> usize {
        Bounded::expire(self)
    }
}

/// Expires series every `every` until the process ends.
pub fn start_timer(families: Vec<Arc<dyn Expire>>, every: Duration) {
    std::thread::spawn(move || loop {
        std::thread::sleep(every);
        for f in &families {
            f.expire();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
    struct L {
        name: String,
    }

    fn fold(_: &L) -> L {
        L {
            name: OVERFLOW.into(),
        }
    }

    #[test]
    fn past_the_cap_new_series_fold_into_one() {
        let overflow = Family::<MetricLabels, Counter>::default();
        let b = Bounded::new(
            "m",
            Family::<L, Counter>::default(),
            Limits {
                max_series: 2,
                ttl: None,
            },
            overflow.clone(),
        );
        for n in ["a", "b", "c", "d", "a"] {
            b.get(L { name: n.into() }, fold).inc();
        }
        assert_eq!(b.len(), 3);
        assert_eq!(b.family().get_or_create(&L { name: "a".into() }).get(), 2);
        assert_eq!(
            b.family()
                .get_or_create(&L {
                    name: OVERFLOW.into()
                })
                .get(),
            2
        );
        assert_eq!(
            overflow
                .get_or_create(&MetricLabels { metric: "m".into() })
                .get(),
            2
        );
    }

    #[test]
    fn series_expire_after_the_ttl() {
        let b = Bounded::new(
            "m",
            Family::<L, Counter>::default(),
            Limits {
                max_series: 0,
                ttl: Some(Duration::from_millis(30)),
            },
            Family::default(),
        );
        b.get(L { name: "old".into() }, fold).inc();
        std::thread::sleep(Duration::from_millis(60));
        b.get(L { name: "new".into() }, fold).inc();
        assert_eq!(b.expire(), 1);
        assert_eq!(b.len(), 1);
    }
}
