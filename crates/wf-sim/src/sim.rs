//! The simulation: overlapping transactions, emitted in `ts_ms` order.
//!
//! Transactions start as a Poisson process at `rate` per second. Each one's events
//! are generated in full when it starts and wait in a min-heap keyed by
//! (`ts_ms`, generation order); an event leaves the heap only once no transaction
//! still to start could precede it. The output is therefore interleaved exactly as
//! a live producer would write it, and memory holds only events in flight.
//!
//! Faults are drawn from their own random stream, so asking for them leaves the
//! rest of the output as it was: `--drop-closes 3` gives the same events as without
//! it, less three closes.

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap, HashSet};

use wf_events::{write_line, Event, EventType, Status};

use crate::incident::{self, Incident};
use crate::rng::{mix64, Rng};
use crate::workflow::Workflow;

/// Mean extra delay, in ms, between a planned wait's end and the next step's start,
/// so that observed gaps differ from planned ones as they do in real systems.
const JITTER_MEAN_MS: f64 = 3.0;

/// Exact, reproducible damage to the output, for testing consumers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Faults {
    /// Malformed lines to insert (before the open of as many transactions).
    pub junk: u64,
    /// Transactions whose transaction_close is left out.
    pub drop_closes: u64,
    /// Transactions with one event written twice (alternately the open and the close).
    pub duplicates: u64,
    /// Shuffle the output in blocks of this many events (0 or 1: no reordering).
    pub reorder: usize,
}

#[derive(Clone, Debug)]
pub struct Config {
    /// Transactions to start; `None`: until `duration_ms` or forever.
    pub samples: Option<u64>,
    pub seed: u64,
    /// Transactions started per second (mean of a Poisson process).
    pub rate: f64,
    pub workflows: Vec<Workflow>,
    /// Probability that a planned wait is replaced by an outlier.
    pub outlier_rate: f64,
    pub outlier_min_ms: i64,
    pub outlier_max_ms: i64,
    /// `ts_ms` of the first transaction's start.
    pub start_ms: i64,
    /// Start no transaction later than this many ms after `start_ms`.
    pub duration_ms: Option<u64>,
    pub faults: Faults,
    /// Slowdowns, error bursts and drops over ranges of the run.
    pub incidents: Vec<Incident>,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    ts: i64,
    seq: u64,
    txn: u64,
    workflow: u16,
    kind: EventType,
    step: u16,
    to_step: u16,
    /// duration_ms of a step_done, planned_wait_ms of an inter_step_wait.
    value: i64,
    /// Index into the step's error types; `NO_ERROR` when it succeeded.
    error: u16,
    injected: bool,
}

const NO_ERROR: u16 = u16::MAX;
const NO_STEP: u16 = u16::MAX;

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Reversed, so that the max-heap pops the earliest event first.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.ts, other.seq).cmp(&(self.ts, self.seq))
    }
}

/// What to do to a chosen transaction.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Damage {
    DropClose,
    DuplicateOpen,
    DuplicateClose,
}

pub struct Simulator {
    cfg: Config,
    rng: Rng,
    fault_rng: Rng,
    heap: BinaryHeap<Pending>,
    seq: u64,
    started: u64,
    /// Start of the next transaction, in ms since `start_ms`.
    clock_ms: f64,
    end_of_starts: Option<i64>,
    cumulative_weights: Vec<f64>,
    id_key: u64,
    damage: HashMap<u64, Damage>,
    junk_before: HashSet<u64>,
    junk_written: u64,
    /// Reordering: finished units waiting to be handed out, shuffled.
    block: Vec<(i64, Vec<u8>)>,
    spare: Vec<Vec<u8>>,
}

impl Simulator {
    pub fn new(cfg: Config) -> Result<Simulator, String> {
        if cfg.workflows.is_empty() {
            return Err("no workflows to simulate".into());
        }
        let needs_samples =
            cfg.faults.junk > 0 || cfg.faults.drop_closes > 0 || cfg.faults.duplicates > 0;
        let samples =
            match (cfg.samples, needs_samples) {
                (Some(n), _) => n,
                (None, true) => return Err(
                    "--junk, --drop-closes and --duplicates need --samples (they are exact counts)"
                        .into(),
                ),
                (None, false) => 0,
            };
        if cfg.faults.drop_closes + cfg.faults.duplicates > samples {
            return Err(format!(
                "--drop-closes plus --duplicates ({}) is more than --samples ({samples})",
                cfg.faults.drop_closes + cfg.faults.duplicates
            ));
        }
        if cfg.faults.junk > samples {
            return Err(format!(
                "--junk ({}) is more than --samples ({samples})",
                cfg.faults.junk
            ));
        }

        let mut fault_rng = Rng::new(cfg.seed ^ 0x6661_756c_7473);
        let chosen =
            fault_rng.sample_distinct(samples, cfg.faults.drop_closes + cfg.faults.duplicates);
        let mut damage = HashMap::new();
        for (i, txn) in chosen.into_iter().enumerate() {
            let i = i as u64;
            let d = if i < cfg.faults.drop_closes {
                Damage::DropClose
            } else if (i - cfg.faults.drop_closes) % 2 == 0 {
                Damage::DuplicateOpen
            } else {
                Damage::DuplicateClose
            };
            damage.insert(txn, d);
        }
        let junk_before = fault_rng
            .sample_distinct(samples, cfg.faults.junk)
            .into_iter()
            .collect();

        let mut total = 0.0;
        let cumulative_weights = cfg
            .workflows
            .iter()
            .map(|w| {
                total += w.weight;
                total
            })
            .collect();
        let end_of_starts = cfg.duration_ms.map(|d| {
            cfg.start_ms
                .saturating_add(i64::try_from(d).unwrap_or(i64::MAX))
        });
        Ok(Simulator {
            rng: Rng::new(cfg.seed),
            id_key: mix64(cfg.seed ^ 0x7478_6e5f_6964),
            cfg,
            fault_rng,
            heap: BinaryHeap::new(),
            seq: 0,
            started: 0,
            clock_ms: 0.0,
            end_of_starts,
            cumulative_weights,
            damage,
            junk_before,
            junk_written: 0,
            block: Vec::new(),
            spare: Vec::new(),
        })
    }

    /// `ts_ms` of the next transaction to start, if any is left to start.
    fn next_start(&self) -> Option<i64> {
        if self.cfg.samples.is_some_and(|n| self.started >= n) {
            return None;
        }
        let ts = self.cfg.start_ms.saturating_add(self.clock_ms as i64);
        match self.end_of_starts {
            Some(end) if ts > end => None,
            _ => Some(ts),
        }
    }

    /// Starts transactions until the earliest pending event is final.
    fn fill(&mut self) {
        while let Some(start) = self.next_start() {
            if self.heap.peek().is_some_and(|p| p.ts <= start) {
                break;
            }
            self.start_transaction(start);
        }
    }

    /// `ts_ms` of the next unit [`Simulator::next_unit`] will write.
    pub fn peek_ts(&mut self) -> Option<i64> {
        if self.cfg.faults.reorder > 1 {
            self.fill_block();
            return self.block.last().map(|(ts, _)| *ts);
        }
        self.fill();
        self.heap.peek().map(|p| p.ts)
    }

    /// Appends the next event's line to `out` (with a junk line before it or a
    /// duplicate after it when a fault asks), and returns its `ts_ms`; `None` when
    /// the simulation is over.
    pub fn next_unit(&mut self, out: &mut Vec<u8>) -> Option<i64> {
        if self.cfg.faults.reorder > 1 {
            self.fill_block();
            let (ts, line) = self.block.pop()?;
            out.extend_from_slice(&line);
            self.spare.push(line);
            return Some(ts);
        }
        self.fill();
        let p = self.heap.pop()?;
        self.write_unit(&p, out);
        Some(p.ts)
    }

    fn fill_block(&mut self) {
        if !self.block.is_empty() {
            return;
        }
        for _ in 0..self.cfg.faults.reorder {
            self.fill();
            let Some(p) = self.heap.pop() else { break };
            let mut line = self.spare.pop().unwrap_or_default();
            line.clear();
            self.write_unit(&p, &mut line);
            self.block.push((p.ts, line));
        }
        // Fisher–Yates; units are popped from the back.
        for i in (1..self.block.len()).rev() {
            let j = self.fault_rng.below(i as u64 + 1) as usize;
            self.block.swap(i, j);
        }
    }

    fn push(&mut self, mut p: Pending) {
        p.seq = self.seq;
        self.seq += 1;
        self.heap.push(p);
    }

    fn pick_workflow(&mut self) -> usize {
        let total = self.cumulative_weights.last().copied().unwrap_or(1.0);
        let x = self.rng.f64() * total;
        self.cumulative_weights
            .iter()
            .position(|&c| x < c)
            .unwrap_or(self.cumulative_weights.len() - 1)
    }

    fn start_transaction(&mut self, t0: i64) {
        let txn = self.started;
        self.started += 1;
        let now = incident::in_force(&self.cfg.incidents, t0.saturating_sub(self.cfg.start_ms));
        self.clock_ms += self
            .rng
            .exponential(1000.0 / (self.cfg.rate * now.rate_share));

        let wi = self.pick_workflow();
        let base = Pending {
            ts: t0,
            seq: 0,
            txn,
            workflow: wi as u16,
            kind: EventType::TransactionOpen,
            step: NO_STEP,
            to_step: NO_STEP,
            value: 0,
            error: NO_ERROR,
            injected: false,
        };
        self.push(base);

        let wf = &self.cfg.workflows[wi];
        let mut events = Vec::with_capacity(wf.steps.len() * 2 + wf.stages.len() + 1);
        let mut t = t0;
        let mut prev_last: u16 = NO_STEP;
        let mut failed = false;
        for (si, stage) in wf.stages.iter().enumerate() {
            if si > 0 {
                let mut planned = wf.wait.sample(&mut self.rng);
                let mut injected = false;
                if self.rng.chance(self.cfg.outlier_rate) {
                    let span = (self.cfg.outlier_max_ms - self.cfg.outlier_min_ms) as u64 + 1;
                    planned = self.cfg.outlier_min_ms + self.rng.below(span) as i64;
                    injected = true;
                }
                events.push(Pending {
                    ts: t,
                    kind: EventType::InterStepWait,
                    step: prev_last,
                    to_step: stage[0] as u16,
                    value: planned,
                    injected,
                    ..base
                });
                t = t.saturating_add(planned + self.rng.exponential(JITTER_MEAN_MS).round() as i64);
            }
            let mut stage_end = t;
            let mut last = stage[0] as u16;
            for &s in stage {
                let step = &wf.steps[s];
                events.push(Pending {
                    ts: t,
                    kind: EventType::StepOpen,
                    step: s as u16,
                    ..base
                });
                let mut dur = step.latency.sample(&mut self.rng);
                if now.slowdown != 1.0 {
                    dur = (dur as f64 * now.slowdown).round() as i64;
                }
                let error = if self.rng.chance(step.error_rate.max(now.error_rate)) {
                    failed = true;
                    self.rng.below(step.errors.len() as u64) as u16
                } else {
                    NO_ERROR
                };
                events.push(Pending {
                    ts: t.saturating_add(dur),
                    kind: EventType::StepDone,
                    step: s as u16,
                    value: dur,
                    error,
                    ..base
                });
                if t.saturating_add(dur) >= stage_end {
                    stage_end = t.saturating_add(dur);
                    last = s as u16;
                }
            }
            t = stage_end;
            prev_last = last;
            // A failed stage ends the transaction, as a failed order or signup does.
            if failed {
                break;
            }
        }
        events.push(Pending {
            ts: t,
            kind: EventType::TransactionClose,
            error: if failed { 0 } else { NO_ERROR },
            ..base
        });
        for p in events {
            self.push(p);
        }
    }

    fn txn_id(&self, txn: u64) -> [u8; 16] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let v = mix64(txn ^ self.id_key);
        let mut id = [0u8; 16];
        for (i, b) in id.iter_mut().enumerate() {
            *b = HEX[((v >> (60 - 4 * i)) & 0xf) as usize];
        }
        id
    }

    fn write_unit(&mut self, p: &Pending, out: &mut Vec<u8>) {
        let damage = self.damage.get(&p.txn).copied();
        if p.kind == EventType::TransactionOpen && self.junk_before.contains(&p.txn) {
            write_junk(self.junk_written, out);
            self.junk_written += 1;
        }
        if p.kind == EventType::TransactionClose && damage == Some(Damage::DropClose) {
            return;
        }
        let id = self.txn_id(p.txn);
        let id = std::str::from_utf8(&id).unwrap_or("0");
        let wf = &self.cfg.workflows[p.workflow as usize];
        let step_name = |i: u16| wf.steps.get(i as usize).map(|s| s.name.as_str().into());
        let mut ev = Event::new(p.kind, id, p.ts);
        match p.kind {
            EventType::TransactionOpen => ev.workflow = Some(wf.name.as_str().into()),
            EventType::StepOpen | EventType::StepDone => {
                let step = &wf.steps[p.step as usize];
                ev.workflow = Some(wf.name.as_str().into());
                ev.step = Some(step.name.as_str().into());
                ev.step_index = Some(step.index);
                if p.kind == EventType::StepDone {
                    ev.duration_ms = Some(p.value);
                    if p.error == NO_ERROR {
                        ev.status = Some(Status::Ok);
                    } else {
                        ev.status = Some(Status::Error);
                        ev.error = step.errors.get(p.error as usize).map(|e| e.as_str().into());
                    }
                }
            }
            EventType::InterStepWait => {
                ev.from_step = step_name(p.step);
                ev.to_step = step_name(p.to_step);
                ev.planned_wait_ms = Some(p.value);
                ev.outlier_injected = Some(p.injected);
            }
            EventType::TransactionClose => {
                ev.workflow = Some(wf.name.as_str().into());
                ev.status = Some(if p.error == NO_ERROR {
                    Status::Ok
                } else {
                    Status::Error
                });
            }
            EventType::Unknown => {}
        }
        write_line(out, &ev);
        let repeat = matches!(
            (p.kind, damage),
            (EventType::TransactionOpen, Some(Damage::DuplicateOpen))
                | (EventType::TransactionClose, Some(Damage::DuplicateClose))
        );
        if repeat {
            write_line(out, &ev);
        }
    }
}

/// The malformed lines `--junk` inserts, in turn: every kind of error a reader must
/// survive.
pub const JUNK_KINDS: usize = 5;

fn write_junk(n: u64, out: &mut Vec<u8>) {
    let line: &[u8] = match n % JUNK_KINDS as u64 {
        0 => b"this line is not JSON",
        1 => br#"{"type":"step_done","txn_id":"junk","ts_ms":17"#,
        2 => br#"{"type":"step_open","txn_id":"junk","step":"no_timestamp"}"#,
        3 => br#"{"type":"transaction_open","txn_id":"junk","ts_ms":"yesterday"}"#,
        _ => b"{\"type\":\"transaction_open\",\"txn_id\":\"\xff\xfe\",\"ts_ms\":1}",
    };
    out.extend_from_slice(line);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(samples: u64) -> Config {
        let mut cfg = Config::builtin(samples, 1);
        cfg.outlier_rate = 0.01;
        cfg
    }

    fn run(cfg: Config) -> Vec<u8> {
        cfg.generate().unwrap()
    }

    fn events(out: &[u8]) -> Vec<Event<'_>> {
        out.split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .filter_map(|l| wf_events::parse_line(l).ok())
            .collect()
    }

    #[test]
    fn output_is_ordered_and_complete() {
        let out = run(config(500));
        let evs = events(&out);
        assert!(evs.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
        let opens = evs
            .iter()
            .filter(|e| e.kind == EventType::TransactionOpen)
            .count();
        let closes = evs
            .iter()
            .filter(|e| e.kind == EventType::TransactionClose)
            .count();
        assert_eq!((opens, closes), (500, 500));
        // Transactions overlap: some open comes between another's open and close.
        let first = &evs[0].txn_id;
        let first_close = evs
            .iter()
            .position(|e| e.kind == EventType::TransactionClose && &e.txn_id == first)
            .unwrap();
        assert!(evs[..first_close]
            .iter()
            .any(|e| e.kind == EventType::TransactionOpen && &e.txn_id != first));
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_bytes() {
        assert_eq!(run(config(200)), run(config(200)));
        let mut other = config(200);
        other.seed = 2;
        assert_ne!(run(config(200)), run(other));
    }

    #[test]
    fn faults_are_exact_and_leave_the_rest_alone() {
        let clean = run(config(300));
        let mut cfg = config(300);
        cfg.faults = Faults {
            junk: 7,
            drop_closes: 4,
            duplicates: 6,
            reorder: 0,
        };
        let dirty = run(cfg);
        let lines = |b: &[u8]| b.split(|&c| c == b'\n').filter(|l| !l.is_empty()).count();
        assert_eq!(lines(&dirty), lines(&clean) + 7 - 4 + 6);
        let bad = dirty
            .split(|&c| c == b'\n')
            .filter(|l| !l.is_empty() && wf_events::parse_line(l).is_err())
            .count();
        assert_eq!(bad, 7);
    }

    #[test]
    fn reordering_is_bounded_and_loses_nothing() {
        let clean = run(config(100));
        let mut cfg = config(100);
        cfg.faults.reorder = 8;
        let shuffled = run(cfg);
        assert_ne!(clean, shuffled);
        let mut a: Vec<&[u8]> = clean.split(|&c| c == b'\n').collect();
        let mut b: Vec<&[u8]> = shuffled.split(|&c| c == b'\n').collect();
        // Every line moved less than a block.
        for (i, line) in b.iter().enumerate() {
            let j = a.iter().position(|l| l == line).unwrap();
            assert!(i.abs_diff(j) < 8, "line {i} came from {j}");
        }
        a.sort();
        b.sort();
        assert_eq!(a, b);
    }

    #[test]
    fn faults_need_samples() {
        let mut cfg = config(10);
        cfg.samples = None;
        cfg.duration_ms = Some(1000);
        cfg.faults.junk = 1;
        assert!(Simulator::new(cfg).is_err());
        let mut cfg = config(10);
        cfg.faults.drop_closes = 11;
        assert_eq!(
            Simulator::new(cfg).err().unwrap(),
            "--drop-closes plus --duplicates (11) is more than --samples (10)"
        );
    }
}
