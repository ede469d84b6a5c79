//! The exported metrics, in base units and Prometheus naming, fed by the shared
//! transaction tracker. Every metric is an atomic of prometheus-client, so a scrape
//! encodes them while ingest goes on, and neither waits for the other.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::{Family, MetricConstructor};
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;
use wf_events::{ClosedTxn, Event, Observer, StepDone, Sym, Wait};

use crate::health::StepHealth;
use crate::quantiles::WindowQuantiles;
use crate::series::{Bounded, Expire, Limits, OVERFLOW};
use wf_agg::anomaly::{Kind, Live};

/// Seconds, for transactions: the seed exporter's Fibonacci-ish range, widened.
pub const TXN_BUCKETS: [f64; 14] = [
    0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 34.0, 55.0, 89.0, 144.0, 233.0, 377.0,
];
/// Seconds, for steps: 5 ms to 30 s.
pub const STEP_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0,
];
/// Seconds, for inter-step gaps: the seed exporter's buckets.
pub const GAP_BUCKETS: [f64; 11] = [0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 20.0, 30.0, 60.0];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TypeLabels {
    pub r#type: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct MetricLabels {
    pub metric: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct TxnLabels {
    pub workflow: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepLabels {
    pub workflow: String,
    pub step: String,
    pub status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct StepErrorLabels {
    pub workflow: String,
    pub step: String,
    pub error: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct KindLabels {
    pub kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PartitionLabels {
    pub topic: String,
    pub partition: String,
}

/// What the metrics are made with.
pub struct Config {
    pub outlier_ms: i64,
    pub limits: Limits,
    pub quantiles: Vec<f64>,
    pub quantile_window: std::time::Duration,
    pub txn_buckets: Vec<f64>,
    pub step_buckets: Vec<f64>,
    pub gap_buckets: Vec<f64>,
    /// Reading Kafka: export the consumer's metrics.
    pub kafka: bool,
    /// When a step is degraded or failed (`wf_step_health`).
    pub health: wf_agg::health::Thresholds,
    /// Windows of event time judged for anomalies.
    pub anomaly_window_ms: i64,
}

/// Makes histograms with a fixed set of buckets, for a family.
#[derive(Clone)]
pub struct Buckets(Arc<[f64]>);

impl MetricConstructor<Histogram> for Buckets {
    fn new_metric(&self) -> Histogram {
        Histogram::new(self.0.iter().copied())
    }
}

/// Counts that /health reports besides the metrics.
#[derive(Default)]
pub struct Progress {
    pub events: AtomicU64,
    pub malformed: AtomicU64,
    /// Wall-clock milliseconds of the last event read; 0 before the first.
    pub last_event_wall_ms: AtomicU64,
}

impl Progress {
    pub fn events(&self) -> u64 {
        self.events.load(Ordering::Relaxed)
    }
    pub fn malformed(&self) -> u64 {
        self.malformed.load(Ordering::Relaxed)
    }
}

/// Handles to every metric; clones share the same values.
#[derive(Clone)]
pub struct Metrics {
    pub events: Family<TypeLabels, Counter>,
    pub malformed: Counter,
    pub transactions: Arc<Bounded<TxnLabels, Counter>>,
    pub txn_duration: Arc<Bounded<TxnLabels, Histogram, Buckets>>,
    pub step_duration: Arc<Bounded<StepLabels, Histogram, Buckets>>,
    pub step_errors: Arc<Bounded<StepErrorLabels, Counter>>,
    pub overflow: Family<MetricLabels, Counter>,
    pub gaps: Histogram,
    pub outliers: Counter,
    pub injected: Counter,
    pub open: Gauge,
    pub abandoned: Counter,
    pub last_event: Gauge<f64, AtomicU64>,
    pub kafka_lag: Family<PartitionLabels, Gauge>,
    pub kafka_errors: Counter,
    pub outlier_ms: i64,
    pub txn_window: Arc<WindowQuantiles>,
    pub gap_window: Arc<WindowQuantiles>,
    pub health: Arc<StepHealth>,
    pub anomalies: Family<KindLabels, Counter>,
    pub live: Arc<Mutex<Live>>,
}

impl Metrics {
    /// The metrics, registered in `registry`.
    pub fn register(registry: &mut Registry, cfg: &Config) -> Metrics {
        let overflow = Family::<MetricLabels, Counter>::default();
        let limits = cfg.limits;
        let m = Metrics {
            events: Family::default(),
            malformed: Counter::default(),
            transactions: Bounded::new(
                "wf_transactions_total",
                Family::default(),
                limits,
                overflow.clone(),
            ),
            txn_duration: Bounded::new(
                "wf_transaction_duration_seconds",
                Family::new_with_constructor(Buckets(cfg.txn_buckets.as_slice().into())),
                limits,
                overflow.clone(),
            ),
            step_duration: Bounded::new(
                "wf_step_duration_seconds",
                Family::new_with_constructor(Buckets(cfg.step_buckets.as_slice().into())),
                limits,
                overflow.clone(),
            ),
            step_errors: Bounded::new(
                "wf_step_errors_total",
                Family::default(),
                limits,
                overflow.clone(),
            ),
            overflow,
            gaps: Histogram::new(cfg.gap_buckets.iter().copied()),
            outliers: Counter::default(),
            injected: Counter::default(),
            open: Gauge::default(),
            abandoned: Counter::default(),
            last_event: Gauge::default(),
            kafka_lag: Family::default(),
            kafka_errors: Counter::default(),
            outlier_ms: cfg.outlier_ms,
            txn_window: Arc::new(WindowQuantiles::new(
                "wf_transaction_duration_window_seconds",
                "Transaction duration quantiles over the last --quantile-window (t-digest)",
                Some("workflow"),
                cfg.quantiles.clone(),
                cfg.quantile_window,
            )),
            gap_window: Arc::new(WindowQuantiles::new(
                "wf_inter_step_gap_window_seconds",
                "Inter-step gap quantiles over the last --quantile-window (t-digest)",
                None,
                cfg.quantiles.clone(),
                cfg.quantile_window,
            )),
            health: Arc::new(StepHealth::new(
                cfg.quantile_window,
                cfg.health,
                limits.max_series,
            )),
            anomalies: Family::default(),
            live: Arc::new(Mutex::new(Live::new(cfg.anomaly_window_ms))),
        };
        for kind in Kind::ALL {
            // Every kind from the start, at 0: an alert on increase() needs it.
            let _ = m.anomalies.get_or_create(&KindLabels {
                kind: kind.as_str().into(),
            });
        }
        registry.register_collector(Box::new(m.health.clone()));
        registry.register(
            "wf_anomalies_detected",
            "Windows of --anomaly-window judged unlike those before them, by kind \
             (drop, spike, pattern_shift)",
            m.anomalies.clone(),
        );
        registry.register_collector(Box::new(m.txn_window.clone()));
        registry.register_collector(Box::new(m.gap_window.clone()));
        registry.register("wf_events", "Events read, by type", m.events.clone());
        registry.register(
            "wf_malformed_lines",
            "Input lines that were not events",
            m.malformed.clone(),
        );
        registry.register(
            "wf_transactions",
            "Transactions closed, by workflow and status",
            m.transactions.family(),
        );
        registry.register(
            "wf_transaction_duration_seconds",
            "Transaction duration from open to close",
            m.txn_duration.family(),
        );
        registry.register(
            "wf_step_duration_seconds",
            "Step duration",
            m.step_duration.family(),
        );
        registry.register(
            "wf_step_errors",
            "Failed steps, by workflow, step and error type",
            m.step_errors.family(),
        );
        registry.register(
            "wf_series_overflow",
            "Updates folded into the overflow series of a metric past --max-series",
            m.overflow.clone(),
        );
        registry.register(
            "wf_inter_step_gap_seconds",
            "Inter-step gaps (planned_wait_ms of inter_step_wait events)",
            m.gaps.clone(),
        );
        registry.register(
            "wf_inter_step_outliers",
            "Inter-step gaps at or over the outlier threshold",
            m.outliers.clone(),
        );
        registry.register(
            "wf_injected_outliers",
            "Gaps the producer flagged outlier_injected",
            m.injected.clone(),
        );
        registry.register(
            "wf_open_transactions",
            "Transactions open now",
            m.open.clone(),
        );
        registry.register(
            "wf_abandoned_transactions",
            "Transactions evicted after the open TTL without a close",
            m.abandoned.clone(),
        );
        registry.register(
            "wf_last_event_timestamp_seconds",
            "ts_ms of the latest event, in seconds since the epoch",
            m.last_event.clone(),
        );
        if cfg.kafka {
            registry.register(
                "wf_kafka_consumer_lag",
                "Messages in the partition not yet applied (high-water mark minus position)",
                m.kafka_lag.clone(),
            );
            registry.register(
                "wf_kafka_errors",
                "Errors librdkafka reported (broker down, …); it retries by itself",
                m.kafka_errors.clone(),
            );
        }
        m
    }

    /// The families whose series expire (`--series-ttl`).
    pub fn expiring(&self) -> Vec<Arc<dyn Expire>> {
        vec![
            self.transactions.clone(),
            self.txn_duration.clone(),
            self.step_duration.clone(),
            self.step_errors.clone(),
        ]
    }

    /// Counts one event by its type; the tracker's facts come through [`Observer`].
    pub fn event(&self, ev: &Event<'_>) {
        self.events
            .get_or_create(&TypeLabels {
                r#type: ev.kind.as_str().to_string(),
            })
            .inc();
    }
}

fn fold_txn(_: &TxnLabels) -> TxnLabels {
    TxnLabels {
        workflow: OVERFLOW.into(),
        status: OVERFLOW.into(),
    }
}

fn name(n: Option<&str>) -> String {
    n.unwrap_or("unknown").to_string()
}

impl Observer for Metrics {
    fn transaction_closed(&mut self, t: &ClosedTxn<'_>) {
        let labels = TxnLabels {
            workflow: name(t.workflow_name),
            status: t.status.as_str().to_string(),
        };
        self.transactions.get(labels.clone(), fold_txn).inc();
        self.txn_duration
            .get(labels, fold_txn)
            .observe(t.duration_ms as f64 / 1000.0);
        self.txn_window.observe(
            t.workflow_name.unwrap_or("unknown"),
            t.duration_ms as f64 / 1000.0,
        );
        let found = self.live.lock().unwrap_or_else(|e| e.into_inner()).record(
            t.close_ts_ms,
            t.duration_ms,
            t.status == wf_events::Status::Error,
        );
        for a in found {
            self.anomalies
                .get_or_create(&KindLabels {
                    kind: a.kind.as_str().into(),
                })
                .inc();
        }
    }

    fn step_done(&mut self, s: &StepDone<'_>) {
        self.health.observe(
            s.workflow_name.unwrap_or("unknown"),
            s.step_name,
            s.duration_ms,
            s.status == wf_events::Status::Error,
        );
        if let Some(d) = s.duration_ms {
            let labels = StepLabels {
                workflow: name(s.workflow_name),
                step: s.step_name.to_string(),
                status: s.status.as_str().to_string(),
            };
            self.step_duration
                .get(labels, |_| StepLabels {
                    workflow: OVERFLOW.into(),
                    step: OVERFLOW.into(),
                    status: OVERFLOW.into(),
                })
                .observe(d as f64 / 1000.0);
        }
        if s.status == wf_events::Status::Error {
            let labels = StepErrorLabels {
                workflow: name(s.workflow_name),
                step: s.step_name.to_string(),
                error: s.error.unwrap_or("(unspecified)").to_string(),
            };
            self.step_errors
                .get(labels, |_| StepErrorLabels {
                    workflow: OVERFLOW.into(),
                    step: OVERFLOW.into(),
                    error: OVERFLOW.into(),
                })
                .inc();
        }
    }

    fn wait(&mut self, w: &Wait<'_>) {
        self.gaps.observe(w.planned_ms as f64 / 1000.0);
        self.gap_window.observe("", w.planned_ms as f64 / 1000.0);
        if w.planned_ms >= self.outlier_ms {
            self.outliers.inc();
        }
        if w.injected {
            self.injected.inc();
        }
    }

    fn abandoned(&mut self, _txn_id: &str, _workflow: Option<Sym>, _open_ts_ms: i64) {
        self.abandoned.inc();
    }
}
