//! The aggregation itself: events in, one [`Report`] out.
//!
//! This is a library so that every tool that reports numbers (wf-agg's text and
//! JSON, wf-plot's page) computes them with the same code and cannot disagree.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::io::{self, Write};

use serde::Serialize;
use wf_events::hash::FxHashMap;
use wf_events::tracker::DEFAULT_OPEN_TTL_MS;
use wf_events::{
    ClosedTxn, Event, EventType, ObservedGap, Observer, Status, StepDone, Sym, Tracker, Wait,
};

use crate::anomaly::{self, Anomaly};
use crate::health::{self, Health, Thresholds};
use crate::hist::{Hist, Summary};
use crate::state::{self, SavedOptions, SavedRow, SavedWindows, State};
use crate::timeline::{Bucket, RoundedHist, Timeline, Window};

/// The seed's outlier threshold for inter-step gaps.
pub const DEFAULT_OUTLIER_MS: i64 = 15_000;
/// How many slowest transactions a report lists by default (the seed's ten).
pub const DEFAULT_TOP: usize = 10;

#[derive(Clone, Debug)]
pub struct Options {
    /// Gaps at or over this many ms are outliers.
    pub outlier_ms: i64,
    /// Gaps from step_done → next step_open instead of `planned_wait_ms`.
    pub derive_inter_step: bool,
    /// Evict transactions open longer than this (event time); 0 never evicts.
    pub open_ttl_ms: u64,
    /// Slowest transactions to keep.
    pub top: usize,
    /// How long after its close a transaction's late step events still count
    /// for its gaps (event time); 0 for one ordered stream, more for Kafka.
    pub step_grace_ms: u64,
    /// When a step or workflow row is degraded or failed.
    pub health: Thresholds,
    /// `--window`: fixed windows of event time, reported with their anomalies.
    pub window_ms: Option<i64>,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            outlier_ms: DEFAULT_OUTLIER_MS,
            derive_inter_step: false,
            open_ttl_ms: DEFAULT_OPEN_TTL_MS,
            top: DEFAULT_TOP,
            step_grace_ms: 0,
            health: Thresholds::default(),
            window_ms: None,
        }
    }
}

#[derive(Clone, Debug, Default)]
struct Row {
    count: u64,
    errors: u64,
    hist: Hist,
}

impl Row {
    fn add(&mut self, saved: &SavedRow) {
        self.count += saved.count;
        self.errors += saved.errors;
        self.hist.merge(&(&saved.duration_ms).into());
    }

    fn record(&mut self, duration_ms: Option<i64>, status: Status) {
        self.count += 1;
        if status == Status::Error {
            self.errors += 1;
        }
        if let Some(d) = duration_ms {
            self.hist.record(d);
        }
    }
}

/// A kept transaction: (duration, close time reversed, id reversed), so that
/// the heap's least entry is the one a report would list last: the shortest and,
/// among equals, the latest closed, then the greatest id. The order depends on
/// the events alone, not on the order they arrived in, so that states merge.
type Kept = (i64, Reverse<i64>, Reverse<Box<str>>);

/// The N slowest transactions; ties go to the one closed first, then the least id.
#[derive(Clone, Debug, Default)]
struct Slowest {
    keep: usize,
    heap: BinaryHeap<Reverse<Kept>>,
}

impl Slowest {
    fn offer(&mut self, txn_id: &str, duration_ms: i64, close_ts_ms: i64) {
        if self.keep == 0 {
            return;
        }
        let candidate = (duration_ms, Reverse(close_ts_ms), Reverse(txn_id.into()));
        if self.heap.len() == self.keep {
            match self.heap.peek() {
                Some(Reverse(least)) if candidate > *least => {
                    self.heap.pop();
                }
                _ => return,
            }
        }
        self.heap.push(Reverse(candidate));
    }

    /// Most to least: (duration, close time, id).
    fn sorted(&self) -> Vec<(i64, i64, Box<str>)> {
        let mut v: Vec<Kept> = self.heap.iter().map(|Reverse(x)| x.clone()).collect();
        v.sort_by(|a, b| b.cmp(a));
        v.into_iter()
            .map(|(d, Reverse(ts), Reverse(id))| (d, ts, id))
            .collect()
    }

    fn list(&self) -> Vec<SlowTxn> {
        self.sorted()
            .into_iter()
            .map(|(duration_ms, _, txn_id)| SlowTxn {
                txn_id: txn_id.into(),
                duration_ms,
            })
            .collect()
    }
}

/// CSV files written as the stream is read, so they cost no memory.
struct CsvSinks {
    txn: Option<Box<dyn Write + Send>>,
    gap: Option<Box<dyn Write + Send>>,
    error: Option<io::Error>,
}

impl CsvSinks {
    fn write(&mut self, which: fn(&mut CsvSinks) -> Option<&mut Box<dyn Write + Send>>, row: &str) {
        if self.error.is_some() {
            return;
        }
        if let Some(w) = which(self) {
            if let Err(e) = w.write_all(row.as_bytes()) {
                self.error = Some(e);
            }
        }
    }
}

/// Quotes a CSV field if it needs it.
fn csv_field(s: &str) -> std::borrow::Cow<'_, str> {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\"")).into()
    } else {
        s.into()
    }
}

pub const TXN_CSV_HEADER: &str = "txn_id,duration_ms,workflow,status,open_ts_ms\n";
pub const GAP_CSV_HEADER: &str = "gap_ms,txn_id,ts_ms,from_step,to_step,outlier_injected\n";

/// Everything counted, as the tracker's observer.
struct Stats {
    opts: Options,
    by_type: [u64; 6],
    malformed: u64,
    txn: Hist,
    slowest: Slowest,
    gaps: Hist,
    /// The gaps of waits flagged `outlier_injected` (planned mode), for charts.
    injected_gaps: Hist,
    outliers: u64,
    injected: u64,
    lateness: Hist,
    timeline: Timeline,
    /// `--window`'s fixed windows.
    windows: Option<Timeline>,
    /// Earliest and latest `ts_ms` of a transaction_open.
    opens: Option<(i64, i64)>,
    /// Earliest and latest `ts_ms` of any event.
    span: Option<(i64, i64)>,
    workflows: FxHashMap<Option<Sym>, Row>,
    steps: FxHashMap<(Option<Sym>, Sym), Row>,
    /// Failures by step and error type.
    patterns: Patterns,
    /// For --watch: recent failures and anomalies as they are found.
    live: Option<LiveView>,
    csv: Option<CsvSinks>,
}

impl Stats {
    fn gap(&mut self, gap_ms: i64) {
        self.gaps.record(gap_ms);
        if gap_ms >= self.opts.outlier_ms {
            self.outliers += 1;
        }
    }
}

impl Observer for Stats {
    fn transaction_closed(&mut self, t: &ClosedTxn<'_>) {
        self.txn.record(t.duration_ms);
        let error = t.status == Status::Error;
        self.timeline.record(t.close_ts_ms, t.duration_ms, error);
        if let Some(w) = &mut self.windows {
            w.record(t.close_ts_ms, t.duration_ms, error);
        }
        if let Some(live) = &mut self.live {
            let found = live.detector.record(t.close_ts_ms, t.duration_ms, error);
            live.anomalies.extend(found);
            let excess = live.anomalies.len().saturating_sub(LIVE_KEEP);
            live.anomalies.drain(..excess);
        }
        self.slowest.offer(t.txn_id, t.duration_ms, t.close_ts_ms);
        self.workflows
            .entry(t.workflow)
            .or_default()
            .record(Some(t.duration_ms), t.status);
        if let Some(csv) = &mut self.csv {
            let row = format!(
                "{},{},{},{},{}\n",
                csv_field(t.txn_id),
                t.duration_ms,
                csv_field(t.workflow_name.unwrap_or("")),
                t.status,
                t.open_ts_ms
            );
            csv.write(|c| c.txn.as_mut(), &row);
        }
    }

    fn step_done(&mut self, s: &StepDone<'_>) {
        self.steps
            .entry((s.workflow, s.step))
            .or_default()
            .record(s.duration_ms, s.status);
        if s.status == Status::Error {
            let name = s.error.unwrap_or(UNSPECIFIED_ERROR);
            let seen = Pattern {
                count: 1,
                first_ms: s.ts_ms,
                last_ms: s.ts_ms,
            };
            add_pattern(&mut self.patterns, (s.workflow, s.step), name, seen);
            if let Some(live) = &mut self.live {
                if live.recent_errors.len() == LIVE_KEEP {
                    live.recent_errors.pop_front();
                }
                live.recent_errors.push_back(RecentError {
                    ts_ms: s.ts_ms,
                    workflow: s.workflow_name.map(String::from),
                    step: s.step_name.to_string(),
                    error: name.to_string(),
                    txn_id: s.txn_id.to_string(),
                });
            }
        }
    }

    fn wait(&mut self, w: &Wait<'_>) {
        if w.injected {
            self.injected += 1;
        }
        if !self.opts.derive_inter_step {
            self.gap(w.planned_ms);
            if w.injected {
                self.injected_gaps.record(w.planned_ms);
            }
            if let Some(csv) = &mut self.csv {
                let row = format!(
                    "{},{},{},{},{},{}\n",
                    w.planned_ms,
                    csv_field(w.txn_id),
                    w.ts_ms,
                    csv_field(w.from_step.unwrap_or("")),
                    csv_field(w.to_step.unwrap_or("")),
                    w.injected
                );
                csv.write(|c| c.gap.as_mut(), &row);
            }
        }
    }

    fn gap(&mut self, g: &ObservedGap<'_>) {
        if let Some(planned) = g.planned_ms {
            self.lateness.record(g.observed_ms.saturating_sub(planned));
        }
        if self.opts.derive_inter_step {
            self.gap(g.observed_ms);
            if let Some(csv) = &mut self.csv {
                let row = format!(
                    "{},{},{},,{},\n",
                    g.observed_ms,
                    csv_field(g.txn_id),
                    g.ts_ms,
                    csv_field(g.to_step_name)
                );
                csv.write(|c| c.gap.as_mut(), &row);
            }
        }
    }
}

/// Recent failures and anomalies kept for a live view.
const LIVE_KEEP: usize = 50;

/// What a live view (`--watch`) shows besides the report: the latest failed
/// steps and the anomalies found so far, each window judged against the
/// windows before it ([`anomaly::Live`]).
#[derive(Clone, Debug)]
pub struct LiveView {
    detector: anomaly::Live,
    pub anomalies: Vec<Anomaly>,
    pub recent_errors: std::collections::VecDeque<RecentError>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct RecentError {
    pub ts_ms: i64,
    pub workflow: Option<String>,
    pub step: String,
    pub error: String,
    pub txn_id: String,
}

/// One error type of one step: how often, first and last seen (event time).
#[derive(Clone, Copy, Debug)]
struct Pattern {
    count: u64,
    first_ms: i64,
    last_ms: i64,
}

impl Pattern {
    fn add(&mut self, other: &Pattern) {
        self.count += other.count;
        self.first_ms = self.first_ms.min(other.first_ms);
        self.last_ms = self.last_ms.max(other.last_ms);
    }
}

type Patterns = FxHashMap<(Option<Sym>, Sym), FxHashMap<Box<str>, Pattern>>;

/// Counts `seen` for one error of one step.
fn add_pattern(patterns: &mut Patterns, step: (Option<Sym>, Sym), error: &str, seen: Pattern) {
    let errors = patterns.entry(step).or_default();
    match errors.get_mut(error) {
        Some(p) => p.add(&seen),
        None => {
            errors.insert(error.into(), seen);
        }
    }
}

/// Error type reported for a failed step that names none.
pub const UNSPECIFIED_ERROR: &str = "(unspecified)";

/// Reads events and keeps every count and distribution a report needs.
pub struct Aggregator {
    tracker: Tracker,
    stats: Stats,
}

impl Aggregator {
    pub fn new(opts: Options) -> Aggregator {
        let windows = opts.window_ms.map(Timeline::fixed);
        Aggregator {
            tracker: Tracker::new(opts.open_ttl_ms).with_step_grace(opts.step_grace_ms),
            stats: Stats {
                slowest: Slowest {
                    keep: opts.top,
                    ..Slowest::default()
                },
                opts,
                by_type: [0; 6],
                malformed: 0,
                txn: Hist::new(),
                gaps: Hist::new(),
                injected_gaps: Hist::new(),
                outliers: 0,
                injected: 0,
                lateness: Hist::new(),
                timeline: Timeline::default(),
                windows,
                opens: None,
                span: None,
                workflows: FxHashMap::default(),
                steps: FxHashMap::default(),
                patterns: FxHashMap::default(),
                live: None,
                csv: None,
            },
        }
    }

    /// Also writes one CSV row per closed transaction and per gap, with headers.
    pub fn write_csv(
        &mut self,
        txn: Option<Box<dyn Write + Send>>,
        gap: Option<Box<dyn Write + Send>>,
    ) -> io::Result<()> {
        let mut sinks = CsvSinks {
            txn,
            gap,
            error: None,
        };
        if let Some(w) = &mut sinks.txn {
            w.write_all(TXN_CSV_HEADER.as_bytes())?;
        }
        if let Some(w) = &mut sinks.gap {
            w.write_all(GAP_CSV_HEADER.as_bytes())?;
        }
        self.stats.csv = Some(sinks);
        Ok(())
    }

    /// Flushes the CSV files and returns the first error writing them hit.
    pub fn finish_csv(&mut self) -> io::Result<()> {
        let Some(mut sinks) = self.stats.csv.take() else {
            return Ok(());
        };
        if let Some(e) = sinks.error.take() {
            return Err(e);
        }
        for w in [sinks.txn.as_mut(), sinks.gap.as_mut()]
            .into_iter()
            .flatten()
        {
            w.flush()?;
        }
        Ok(())
    }

    /// Keeps what a live view shows: recent failures, and anomalies judged
    /// live in windows of `window_ms`.
    pub fn watch(&mut self, window_ms: i64) {
        self.stats.live = Some(LiveView {
            detector: anomaly::Live::new(window_ms),
            anomalies: Vec::new(),
            recent_errors: Default::default(),
        });
    }

    /// The live view, after [`Aggregator::watch`].
    pub fn live(&self) -> Option<&LiveView> {
        self.stats.live.as_ref()
    }

    /// Transactions open now.
    pub fn open_transactions(&self) -> u64 {
        self.tracker.open_transactions()
    }

    /// Counts a line that was not an event (when the caller parsed it).
    pub fn count_malformed(&mut self) {
        self.stats.malformed += 1;
    }

    /// Applies one parsed event.
    pub fn apply(&mut self, ev: &Event<'_>) {
        self.stats.by_type[ev.kind.index()] += 1;
        if ev.kind != EventType::Unknown {
            let ts = ev.ts_ms;
            widen(&mut self.stats.span, (ts, ts));
            if ev.kind == EventType::TransactionOpen {
                widen(&mut self.stats.opens, (ts, ts));
            }
        }
        self.tracker.apply(ev, &mut self.stats);
    }

    /// Lines that were not events.
    pub fn malformed(&self) -> u64 {
        self.stats.malformed
    }

    /// Events read (every type, known or not).
    pub fn events(&self) -> u64 {
        self.stats.by_type.iter().sum()
    }

    /// Reports the gaps of transactions still in their grace (see
    /// [`Tracker::with_step_grace`]): the end of the input.
    pub fn flush(&mut self) {
        self.tracker.flush(&mut self.stats);
    }

    /// The report of everything applied so far (after [`Aggregator::flush`],
    /// which it does).
    pub fn report(&mut self) -> Report {
        self.flush();
        let s = &self.stats;
        let names = self.tracker.names();
        let counts = self.tracker.counts();
        let name = |sym: Option<Sym>| sym.map(|w| names.name(w).to_string());
        let th = &s.opts.health;

        let mut workflows: Vec<WorkflowRow> = s
            .workflows
            .iter()
            .map(|(&wf, row)| {
                let duration_ms = row.hist.summary();
                let (health, health_reason) = health::classify(
                    row.count,
                    row.errors,
                    duration_ms.p95,
                    th.slow_txn_ms,
                    th.error_rate,
                );
                WorkflowRow {
                    workflow: name(wf),
                    count: row.count,
                    errors: row.errors,
                    error_rate: rate(row.errors, row.count),
                    success_rate: rate(row.count.saturating_sub(row.errors), row.count),
                    duration_ms,
                    health,
                    health_reason,
                }
            })
            .collect();
        workflows.sort_by(|a, b| a.workflow.cmp(&b.workflow));

        let mut steps: Vec<StepRow> = s
            .steps
            .iter()
            .map(|(&(wf, step), row)| {
                let duration_ms = row.hist.summary();
                let (health, health_reason) = health::classify(
                    row.count,
                    row.errors,
                    duration_ms.p95,
                    th.slow_ms,
                    th.error_rate,
                );
                StepRow {
                    workflow: name(wf),
                    step: names.name(step).to_string(),
                    count: row.count,
                    errors: row.errors,
                    error_rate: rate(row.errors, row.count),
                    success_rate: rate(row.count.saturating_sub(row.errors), row.count),
                    duration_ms,
                    health,
                    health_reason,
                }
            })
            .collect();
        steps.sort_by(|a, b| (&a.workflow, &a.step).cmp(&(&b.workflow, &b.step)));

        let mut error_patterns = self.error_patterns();
        let mut totals: FxHashMap<&str, u64> = FxHashMap::default();
        for p in &error_patterns {
            *totals.entry(&p.error).or_default() += p.count;
        }
        let mut errors: Vec<ErrorRow> = totals
            .into_iter()
            .map(|(e, count)| ErrorRow {
                error: e.to_string(),
                count,
            })
            .collect();
        errors.sort_by(|a, b| b.count.cmp(&a.count).then(a.error.cmp(&b.error)));
        // Most frequent first; error_patterns() ordered the ties.
        error_patterns.sort_by_key(|p| std::cmp::Reverse(p.count));

        let mut by_type = ByType::default();
        for t in EventType::KNOWN {
            let n = s.by_type[t.index()];
            match t {
                EventType::TransactionOpen => by_type.transaction_open = n,
                EventType::StepOpen => by_type.step_open = n,
                EventType::StepDone => by_type.step_done = n,
                EventType::InterStepWait => by_type.inter_step_wait = n,
                EventType::TransactionClose => by_type.transaction_close = n,
                EventType::Unknown => {}
            }
        }

        Report {
            events: EventCounts {
                total: self.events(),
                by_type,
                malformed: s.malformed,
                unknown_type: s.by_type[EventType::Unknown.index()],
                first_ts_ms: s.span.map(|(lo, _)| lo),
                last_ts_ms: s.span.map(|(_, hi)| hi),
            },
            transactions: Transactions {
                closed: counts.closed,
                open_at_end: self.tracker.open_transactions(),
                abandoned: counts.abandoned,
                orphan_closes: counts.orphan_closes + self.tracker.waiting_closes(),
                duplicates: counts.duplicates,
                duration_ms: s.txn.summary(),
                slowest: s.slowest.list(),
            },
            gaps: Gaps {
                source: if s.opts.derive_inter_step {
                    "derived"
                } else {
                    "planned"
                },
                duration_ms: s.gaps.summary(),
                outlier_threshold_ms: s.opts.outlier_ms,
                outliers: s.outliers,
                injected_outliers: s.injected,
                lateness_ms: s.lateness.summary(),
            },
            workflows,
            steps,
            errors,
            error_patterns,
            windows: s.windows.as_ref().map(|t| Windows {
                window_ms: t.window_ms(),
                left_out: t.outside(),
                items: t.windows(),
            }),
            anomalies: s.windows.as_ref().map(|t| anomaly::detect(t, s.opens)),
        }
    }
}

impl Aggregator {
    /// Everything counted so far, to save and merge later.
    pub fn to_state(&mut self) -> State {
        self.flush();
        let s = &self.stats;
        let names = self.tracker.names();
        let name = |sym: Option<Sym>| sym.map(|w| names.name(w).to_string());
        let mut workflows: Vec<SavedRow> = s
            .workflows
            .iter()
            .map(|(&wf, row)| SavedRow {
                workflow: name(wf),
                step: None,
                count: row.count,
                errors: row.errors,
                duration_ms: (&row.hist).into(),
            })
            .collect();
        workflows.sort_by(|a, b| a.workflow.cmp(&b.workflow));
        let mut steps: Vec<SavedRow> = s
            .steps
            .iter()
            .map(|(&(wf, step), row)| SavedRow {
                workflow: name(wf),
                step: name(Some(step)),
                count: row.count,
                errors: row.errors,
                duration_ms: (&row.hist).into(),
            })
            .collect();
        steps.sort_by(|a, b| (&a.workflow, &a.step).cmp(&(&b.workflow, &b.step)));
        let error_patterns = self.error_patterns();
        let counts = self.tracker.counts();
        State {
            format: state::FORMAT.into(),
            options: SavedOptions {
                outlier_ms: s.opts.outlier_ms,
                derive_inter_step: s.opts.derive_inter_step,
                top: s.opts.top,
                window_ms: s.opts.window_ms,
            },
            by_type: s.by_type,
            malformed: s.malformed,
            first_ts_ms: s.span.map(|(lo, _)| lo),
            last_ts_ms: s.span.map(|(_, hi)| hi),
            watermark_ts_ms: self.tracker.watermark(),
            transactions: (&s.txn).into(),
            slowest: s
                .slowest
                .sorted()
                .into_iter()
                .map(|(d, ts, id)| (d, ts, id.into()))
                .collect(),
            gaps: (&s.gaps).into(),
            injected_gaps: (&s.injected_gaps).into(),
            outliers: s.outliers,
            injected: s.injected,
            lateness: (&s.lateness).into(),
            workflows,
            steps,
            error_patterns,
            closed: counts.closed,
            duplicates: counts.duplicates,
            orphan_closes: counts.orphan_closes,
            abandoned: counts.abandoned,
            in_flight: self.tracker.in_flight(),
            windows: s.windows.as_ref().map(|t| SavedWindows {
                window_ms: t.window_ms(),
                left_out: t.outside(),
                opens: s.opens,
                items: t
                    .buckets()
                    .filter(|(_, b)| b.closed > 0)
                    .map(|(start, b)| (start, b.closed, b.errors, b.hist.to_saved()))
                    .collect(),
            }),
        }
    }

    /// Adds a saved state to this aggregator, as if its events had been applied
    /// here. Fails, changing nothing, when the state was counted with other
    /// options.
    pub fn merge_state(&mut self, st: State) -> Result<(), String> {
        let o = &self.stats.opts;
        let mine = SavedOptions {
            outlier_ms: o.outlier_ms,
            derive_inter_step: o.derive_inter_step,
            top: o.top,
            window_ms: o.window_ms,
        };
        let theirs = &st.options;
        let differ = if theirs.outlier_ms != mine.outlier_ms {
            Some(format!(
                "--outlier-ms {}, here {}",
                theirs.outlier_ms, mine.outlier_ms
            ))
        } else if theirs.derive_inter_step != mine.derive_inter_step {
            Some(format!(
                "--derive-inter-step {}, here {}",
                theirs.derive_inter_step, mine.derive_inter_step
            ))
        } else if theirs.top != mine.top {
            Some(format!("--top {}, here {}", theirs.top, mine.top))
        } else if theirs.window_ms != mine.window_ms {
            let w = |v: Option<i64>| v.map_or_else(|| "none".to_string(), |v| format!("{v} ms"));
            Some(format!(
                "--window {}, here {}",
                w(theirs.window_ms),
                w(mine.window_ms)
            ))
        } else {
            None
        };
        if let Some(d) = differ {
            return Err(format!("counted with other options ({d})"));
        }
        let s = &mut self.stats;
        for (mine, theirs) in s.by_type.iter_mut().zip(st.by_type) {
            *mine += theirs;
        }
        s.malformed += st.malformed;
        if let (Some(lo), Some(hi)) = (st.first_ts_ms, st.last_ts_ms) {
            widen(&mut s.span, (lo, hi));
        }
        s.txn.merge(&(&st.transactions).into());
        for (d, ts, id) in &st.slowest {
            s.slowest.offer(id, *d, *ts);
        }
        s.gaps.merge(&(&st.gaps).into());
        s.injected_gaps.merge(&(&st.injected_gaps).into());
        s.outliers += st.outliers;
        s.injected += st.injected;
        s.lateness.merge(&(&st.lateness).into());
        for row in &st.workflows {
            let wf = row.workflow.as_deref().map(|w| self.tracker.intern(w));
            s.workflows.entry(wf).or_default().add(row);
        }
        for row in &st.steps {
            let wf = row.workflow.as_deref().map(|w| self.tracker.intern(w));
            let step = self.tracker.intern(row.step.as_deref().unwrap_or(""));
            s.steps.entry((wf, step)).or_default().add(row);
        }
        for p in &st.error_patterns {
            let wf = p.workflow.as_deref().map(|w| self.tracker.intern(w));
            let step = self.tracker.intern(&p.step);
            let seen = Pattern {
                count: p.count,
                first_ms: p.first_seen_ms,
                last_ms: p.last_seen_ms,
            };
            add_pattern(&mut s.patterns, (wf, step), &p.error, seen);
        }
        if let (Some(mine), Some(theirs)) = (&mut s.windows, &st.windows) {
            mine.add_outside(theirs.left_out);
            for (start, closed, errors, hist) in &theirs.items {
                let b = Bucket {
                    closed: *closed,
                    errors: *errors,
                    hist: RoundedHist::from_saved(hist),
                };
                mine.absorb(*start, &b);
            }
            if let Some(theirs) = theirs.opens {
                widen(&mut s.opens, theirs);
            }
        }
        let counts = st.tracker_counts();
        self.tracker
            .absorb(counts, st.in_flight, st.watermark_ts_ms, &mut self.stats);
        Ok(())
    }

    /// Every error of every step, by workflow, step and error.
    fn error_patterns(&self) -> Vec<ErrorPattern> {
        let names = self.tracker.names();
        let mut out: Vec<ErrorPattern> = Vec::new();
        for (&(wf, step), by_error) in &self.stats.patterns {
            for (error, p) in by_error {
                out.push(ErrorPattern {
                    workflow: wf.map(|w| names.name(w).to_string()),
                    step: names.name(step).to_string(),
                    error: error.to_string(),
                    count: p.count,
                    first_seen_ms: p.first_ms,
                    last_seen_ms: p.last_ms,
                });
            }
        }
        out.sort_by(|a, b| (&a.workflow, &a.step, &a.error).cmp(&(&b.workflow, &b.step, &b.error)));
        out
    }

    /// The distribution of transaction durations.
    pub fn transaction_hist(&self) -> &Hist {
        &self.stats.txn
    }

    /// The distribution of inter-step gaps.
    pub fn gap_hist(&self) -> &Hist {
        &self.stats.gaps
    }

    /// The gaps of waits flagged `outlier_injected` (empty with derived gaps, which
    /// carry no flag).
    pub fn injected_gap_hist(&self) -> &Hist {
        &self.stats.injected_gaps
    }

    /// Closed transactions per window of event time.
    pub fn timeline(&self) -> &Timeline {
        &self.stats.timeline
    }
}

/// Widens a (first, last) span to take in another.
fn widen(span: &mut Option<(i64, i64)>, (lo, hi): (i64, i64)) {
    *span = Some(match *span {
        None => (lo, hi),
        Some((a, b)) => (a.min(lo), b.max(hi)),
    });
}

fn rate(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// The document `wf-agg --json` prints; its schema is documented in docs/wf-agg.md.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Report {
    pub events: EventCounts,
    pub transactions: Transactions,
    pub gaps: Gaps,
    pub workflows: Vec<WorkflowRow>,
    pub steps: Vec<StepRow>,
    pub errors: Vec<ErrorRow>,
    /// Failures by step and error type, most frequent first.
    pub error_patterns: Vec<ErrorPattern>,
    /// With `--window` only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub windows: Option<Windows>,
    /// With `--window` only: the windows unlike the run's baseline.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub anomalies: Option<Vec<Anomaly>>,
}

/// `--window`'s fixed windows of event time, by transaction close.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Windows {
    pub window_ms: i64,
    /// Closes too far from the others to be given a window.
    pub left_out: u64,
    pub items: Vec<Window>,
}

impl Report {
    /// The `--json` document: pretty-printed, in the schema's key order, with a
    /// final newline. Every tool that writes the report writes these bytes.
    pub fn to_json(&self) -> Vec<u8> {
        // Serializing plain structs into a Vec cannot fail.
        let mut out = serde_json::to_vec_pretty(self).unwrap_or_default();
        out.push(b'\n');
        out
    }
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EventCounts {
    pub total: u64,
    pub by_type: ByType,
    pub malformed: u64,
    pub unknown_type: u64,
    /// Earliest and latest `ts_ms` of the known events; null without any.
    pub first_ts_ms: Option<i64>,
    pub last_ts_ms: Option<i64>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ByType {
    pub transaction_open: u64,
    pub step_open: u64,
    pub step_done: u64,
    pub inter_step_wait: u64,
    pub transaction_close: u64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Transactions {
    pub closed: u64,
    pub open_at_end: u64,
    pub abandoned: u64,
    pub orphan_closes: u64,
    pub duplicates: u64,
    pub duration_ms: Summary,
    pub slowest: Vec<SlowTxn>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SlowTxn {
    pub txn_id: String,
    pub duration_ms: i64,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Gaps {
    pub source: &'static str,
    pub duration_ms: Summary,
    pub outlier_threshold_ms: i64,
    pub outliers: u64,
    pub injected_outliers: u64,
    /// Observed gap minus planned wait, where an inter_step_wait announced one.
    pub lateness_ms: Summary,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WorkflowRow {
    pub workflow: Option<String>,
    pub count: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// 1 − error_rate (0 without executions).
    pub success_rate: f64,
    pub duration_ms: Summary,
    pub health: Health,
    /// Why the row is not healthy; null when it is.
    pub health_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct StepRow {
    pub workflow: Option<String>,
    pub step: String,
    pub count: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// 1 − error_rate (0 without executions).
    pub success_rate: f64,
    pub duration_ms: Summary,
    pub health: Health,
    /// Why the row is not healthy; null when it is.
    pub health_reason: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ErrorRow {
    pub error: String,
    pub count: u64,
}

/// One error type of one step (in reports and in states).
#[derive(Clone, Debug, PartialEq, Serialize, serde::Deserialize)]
pub struct ErrorPattern {
    pub workflow: Option<String>,
    pub step: String,
    pub error: String,
    pub count: u64,
    /// `ts_ms` of the first and the last step_done with this error.
    pub first_seen_ms: i64,
    pub last_seen_ms: i64,
}
