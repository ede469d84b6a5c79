//! The transaction tracker: what a stream of events means, shared by every tool.
//!
//! It pairs each transaction's open and close by `txn_id`, pairs step_open with
//! step_done when a step has no `duration_ms`, derives the gap from a step_done to
//! the next step_open, and keeps the books on what does not pair: duplicates,
//! closes without an open (orphans), transactions open longer than a TTL in event
//! time (abandoned) and those still open at the end.
//!
//! Events may arrive out of order (a close before its open, a done before its
//! open): the tracker waits for the other half instead of mis-pairing. Memory holds
//! transactions in flight, plus the ids of transactions closed within the last TTL
//! (as 64-bit hashes, to recognise a repeated close), never every event seen.

use std::collections::VecDeque;

use crate::event::{Event, EventType, Status};
use crate::hash::{hash_one, FxHashMap, FxHashSet};
use crate::intern::{Interner, Sym};

/// Default TTL for open transactions: ten minutes of event time.
pub const DEFAULT_OPEN_TTL_MS: u64 = 10 * 60 * 1000;

/// A transaction whose open and close were both seen.
#[derive(Clone, Debug, PartialEq)]
pub struct ClosedTxn<'a> {
    pub txn_id: &'a str,
    pub workflow: Option<Sym>,
    pub workflow_name: Option<&'a str>,
    pub open_ts_ms: i64,
    pub close_ts_ms: i64,
    pub duration_ms: i64,
    pub status: Status,
}

/// A step_done, with its duration from `duration_ms` or from the paired step_open.
#[derive(Clone, Debug, PartialEq)]
pub struct StepDone<'a> {
    pub txn_id: &'a str,
    pub workflow: Option<Sym>,
    pub workflow_name: Option<&'a str>,
    pub step: Sym,
    pub step_name: &'a str,
    pub step_index: Option<u32>,
    pub ts_ms: i64,
    pub duration_ms: Option<i64>,
    pub status: Status,
    pub error: Option<&'a str>,
}

/// An inter_step_wait that carries `planned_wait_ms`.
#[derive(Clone, Debug, PartialEq)]
pub struct Wait<'a> {
    pub txn_id: &'a str,
    pub ts_ms: i64,
    pub from_step: Option<&'a str>,
    pub to_step: Option<&'a str>,
    pub planned_ms: i64,
    pub injected: bool,
}

/// The observed gap from a transaction's last step_done to its next step_open,
/// with the planned wait announced in between, if any.
#[derive(Clone, Debug, PartialEq)]
pub struct ObservedGap<'a> {
    pub txn_id: &'a str,
    pub workflow: Option<Sym>,
    pub to_step: Sym,
    pub to_step_name: &'a str,
    pub ts_ms: i64,
    pub observed_ms: i64,
    pub planned_ms: Option<i64>,
}

/// What a tool does with the facts the tracker derives. Every method defaults to
/// doing nothing.
pub trait Observer {
    fn transaction_closed(&mut self, _txn: &ClosedTxn<'_>) {}
    fn step_done(&mut self, _step: &StepDone<'_>) {}
    fn wait(&mut self, _wait: &Wait<'_>) {}
    fn gap(&mut self, _gap: &ObservedGap<'_>) {}
    /// An event the tracker recognised as a repeat and did not apply.
    fn duplicate(&mut self, _event: &Event<'_>) {}
    /// A transaction evicted after the TTL without a close.
    fn abandoned(&mut self, _txn_id: &str, _workflow: Option<Sym>, _open_ts_ms: i64) {}
}

impl Observer for () {}

/// Running counts of what did not pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrackerCounts {
    /// Transactions with both open and close seen.
    pub closed: u64,
    /// Repeated opens, closes, step_opens and step_dones that were not applied.
    pub duplicates: u64,
    /// Closes whose open never came within the TTL.
    pub orphan_closes: u64,
    /// Opens whose close never came within the TTL.
    pub abandoned: u64,
}

#[derive(Clone, Copy, Debug)]
struct StepSlot {
    step: Sym,
    open_ts: Option<i64>,
    done_ts: Option<i64>,
    /// `planned_wait_ms` of the inter_step_wait whose `to_step` is this step.
    planned: Option<i64>,
}

#[derive(Debug)]
struct TxnState {
    first_seen_ts: i64,
    open_ts: Option<i64>,
    /// A close that arrived before its open, waiting for it.
    early_close: Option<(i64, Status)>,
    workflow: Option<Sym>,
    had_error: bool,
    steps: Vec<StepSlot>,
    /// Closed and counted; kept for the grace so late step events still count
    /// for its gaps.
    done: bool,
}

impl TxnState {
    fn new(ts: i64) -> TxnState {
        TxnState {
            first_seen_ts: ts,
            open_ts: None,
            early_close: None,
            workflow: None,
            had_error: false,
            steps: Vec::new(),
            done: false,
        }
    }

    /// Adds what another tracker saw of these steps, keeping what is known here.
    fn absorb_steps(&mut self, steps: Vec<(Sym, InFlightStep)>) {
        for (sym, s) in steps {
            let slot = self.slot(sym);
            slot.open_ts = slot.open_ts.or(s.open_ts_ms);
            slot.done_ts = slot.done_ts.or(s.done_ts_ms);
            slot.planned = slot.planned.or(s.planned_wait_ms);
        }
    }

    fn slot(&mut self, step: Sym) -> &mut StepSlot {
        let i = match self.steps.iter().position(|s| s.step == step) {
            Some(i) => i,
            None => {
                self.steps.push(StepSlot {
                    step,
                    open_ts: None,
                    done_ts: None,
                    planned: None,
                });
                self.steps.len() - 1
            }
        };
        &mut self.steps[i]
    }
}

/// Pairs events into transactions and steps; see the module docs.
pub struct Tracker {
    ttl_ms: i64,
    txns: FxHashMap<Box<str>, TxnState>,
    closed_ids: FxHashSet<u64>,
    /// The ids closed in each sweep interval, oldest first, to forget them a whole
    /// interval at a time. Spent vectors are kept for reuse, so memory does not
    /// jump when a busy interval outgrows a buffer.
    closed_generations: VecDeque<(i64, Vec<u64>)>,
    spare_generations: Vec<Vec<u64>>,
    names: Interner,
    watermark: i64,
    next_sweep: i64,
    counts: TrackerCounts,
    /// Transactions opened and neither closed nor evicted, kept as they change so
    /// that a live gauge reads it at no cost.
    open_now: u64,
    /// How long (event time) after its close a transaction's late step events
    /// still count for its gaps.
    grace_ms: i64,
    /// Closed transactions in their grace: (when it ends, id), in closing order.
    closing: VecDeque<(i64, Box<str>)>,
}

/// The grace for step events that arrive after their transaction's close when
/// two topics are read at different paces (Kafka): 30 s of event time. A
/// tracker has none unless given one: in one ordered stream a step never
/// follows its transaction's close.
pub const DEFAULT_STEP_GRACE_MS: u64 = 30_000;

impl Tracker {
    /// A tracker evicting transactions open longer than `open_ttl_ms` of event time;
    /// 0 never evicts.
    pub fn new(open_ttl_ms: u64) -> Tracker {
        Tracker {
            ttl_ms: i64::try_from(open_ttl_ms).unwrap_or(i64::MAX),
            txns: FxHashMap::default(),
            closed_ids: FxHashSet::default(),
            closed_generations: VecDeque::new(),
            spare_generations: Vec::new(),
            names: Interner::new(),
            watermark: i64::MIN,
            next_sweep: i64::MIN,
            counts: TrackerCounts::default(),
            open_now: 0,
            grace_ms: 0,
            closing: VecDeque::new(),
        }
    }

    /// Sets how long (event time) after a transaction's close its late step
    /// events still count for its gaps. The gaps are reported when the grace
    /// ends or at [`Tracker::flush`]; counts and durations are not delayed.
    pub fn with_step_grace(mut self, grace_ms: u64) -> Tracker {
        self.grace_ms = i64::try_from(grace_ms).unwrap_or(i64::MAX);
        self
    }

    /// Reports the gaps of every closed transaction still in its grace.
    pub fn flush<O: Observer>(&mut self, obs: &mut O) {
        while let Some((_, id)) = self.closing.pop_front() {
            self.finish_closed(&id, obs);
        }
    }

    fn finish_closed<O: Observer>(&mut self, id: &str, obs: &mut O) {
        if let Some(mut st) = self.txns.remove(id) {
            self.emit_gaps(id, &mut st, obs);
        }
    }

    /// Workflow and step names, by the numbers the observer is given.
    pub fn names(&self) -> &Interner {
        &self.names
    }

    pub fn counts(&self) -> TrackerCounts {
        self.counts
    }

    /// The latest `ts_ms` seen: the tracker's idea of now.
    pub fn watermark(&self) -> Option<i64> {
        (self.watermark != i64::MIN).then_some(self.watermark)
    }

    /// Transactions opened and not yet closed nor evicted.
    pub fn open_transactions(&self) -> u64 {
        self.open_now
    }

    /// Closes still waiting for their open (not yet evicted).
    pub fn waiting_closes(&self) -> u64 {
        self.txns
            .values()
            .filter(|s| s.early_close.is_some() && !s.done)
            .count() as u64
    }

    /// Applies one event, telling `obs` what it completes.
    pub fn apply<O: Observer>(&mut self, ev: &Event<'_>, obs: &mut O) {
        if ev.kind == EventType::Unknown {
            return;
        }
        if ev.ts_ms > self.watermark {
            self.watermark = ev.ts_ms;
            while let Some((due, _)) = self.closing.front() {
                if *due > self.watermark {
                    break;
                }
                if let Some((_, id)) = self.closing.pop_front() {
                    self.finish_closed(&id, obs);
                }
            }
            if self.watermark >= self.next_sweep {
                self.sweep(obs);
            }
        }
        match ev.kind {
            EventType::TransactionOpen => self.open(ev, obs),
            EventType::TransactionClose => self.close(ev, obs),
            EventType::StepOpen => self.step_open(ev, obs),
            EventType::StepDone => self.step_done(ev, obs),
            EventType::InterStepWait => self.inter_step_wait(ev, obs),
            EventType::Unknown => {}
        }
    }

    fn is_closed(&self, txn_id: &str) -> bool {
        !self.closed_ids.is_empty() && self.closed_ids.contains(&hash_one(txn_id))
    }

    fn open<O: Observer>(&mut self, ev: &Event<'_>, obs: &mut O) {
        let workflow = ev.workflow.as_deref().map(|w| self.names.intern(w));
        let id: &str = &ev.txn_id;
        if let Some(st) = self.txns.get_mut(id) {
            if st.open_ts.is_some() || st.done {
                self.counts.duplicates += 1;
                obs.duplicate(ev);
                return;
            }
            st.open_ts = Some(ev.ts_ms);
            if workflow.is_some() {
                st.workflow = workflow;
            }
            match st.early_close {
                Some((close_ts, status)) => self.complete(id, ev.ts_ms, close_ts, status, obs),
                None => self.open_now += 1,
            }
            return;
        }
        if self.is_closed(id) {
            self.counts.duplicates += 1;
            obs.duplicate(ev);
            return;
        }
        let mut st = TxnState::new(ev.ts_ms);
        st.open_ts = Some(ev.ts_ms);
        st.workflow = workflow;
        self.txns.insert(id.into(), st);
        self.open_now += 1;
    }

    fn close<O: Observer>(&mut self, ev: &Event<'_>, obs: &mut O) {
        let id: &str = &ev.txn_id;
        if let Some(st) = self.txns.get_mut(id) {
            if st.early_close.is_some() || st.done {
                self.counts.duplicates += 1;
                obs.duplicate(ev);
                return;
            }
            let status = close_status(ev, st.had_error);
            match st.open_ts {
                Some(open_ts) => {
                    self.open_now = self.open_now.saturating_sub(1);
                    self.complete(id, open_ts, ev.ts_ms, status, obs);
                }
                None => st.early_close = Some((ev.ts_ms, status)),
            }
            return;
        }
        if self.is_closed(id) {
            self.counts.duplicates += 1;
            obs.duplicate(ev);
            return;
        }
        let mut st = TxnState::new(ev.ts_ms);
        st.early_close = Some((ev.ts_ms, close_status(ev, false)));
        self.txns.insert(id.into(), st);
    }

    fn complete<O: Observer>(
        &mut self,
        id: &str,
        open_ts: i64,
        close_ts: i64,
        status: Status,
        obs: &mut O,
    ) {
        let Some(st) = self.txns.get_mut(id) else {
            return;
        };
        self.counts.closed += 1;
        st.done = true;
        let workflow = st.workflow;
        obs.transaction_closed(&ClosedTxn {
            txn_id: id,
            workflow,
            workflow_name: workflow.map(|w| self.names.name(w)),
            open_ts_ms: open_ts,
            close_ts_ms: close_ts,
            duration_ms: close_ts.saturating_sub(open_ts),
            status,
        });
        // Its gaps wait for the grace: a step event may still come.
        if self.grace_ms > 0 {
            self.closing
                .push_back((close_ts.saturating_add(self.grace_ms), id.into()));
        } else {
            self.finish_closed(id, obs);
        }
        let h = hash_one(id);
        if self.closed_ids.insert(h) {
            if self.closed_generations.is_empty() {
                self.closed_generations.push_back((
                    self.watermark,
                    self.spare_generations.pop().unwrap_or_default(),
                ));
            }
            if let Some((_, ids)) = self.closed_generations.back_mut() {
                ids.push(h);
            }
        }
    }

    /// The observed gaps of a completed transaction, from its steps' timestamps, so
    /// that the order events arrived in does not matter: each step_open after the
    /// first, with a step_done since the previous step_open, is a gap from the
    /// latest such step_done. Steps that open together (a parallel group) make one.
    fn emit_gaps<O: Observer>(&self, id: &str, st: &mut TxnState, obs: &mut O) {
        st.steps.sort_by_key(|s| s.open_ts);
        let mut prev_open: Option<i64> = None;
        for i in 0..st.steps.len() {
            let Some(open) = st.steps[i].open_ts else {
                continue;
            };
            if prev_open == Some(open) {
                continue;
            }
            let since = prev_open.unwrap_or(i64::MIN);
            // Only a step that opened earlier can end the wait (a 0 ms step's
            // own done shares its open's timestamp).
            let last_done = st
                .steps
                .iter()
                .filter(|s| s.open_ts.is_none_or(|o| o < open))
                .filter_map(|s| s.done_ts)
                .filter(|&d| d >= since && d <= open)
                .max();
            // With a step still unseen done (its event came after the close), the
            // wait's start is unknown: no gap rather than a wrong one.
            let complete = st
                .steps
                .iter()
                .filter(|s| s.open_ts.is_some_and(|o| o < open))
                .all(|s| s.done_ts.is_some());
            if let (Some(_), Some(done), true) = (prev_open, last_done, complete) {
                // The planned wait was announced for the stage's first step.
                let planned = st.steps[i..]
                    .iter()
                    .take_while(|s| s.open_ts == Some(open))
                    .find_map(|s| s.planned);
                obs.gap(&ObservedGap {
                    txn_id: id,
                    workflow: st.workflow,
                    to_step: st.steps[i].step,
                    to_step_name: self.names.name(st.steps[i].step),
                    ts_ms: open,
                    observed_ms: open.saturating_sub(done),
                    planned_ms: planned,
                });
            }
            prev_open = Some(open);
        }
    }

    /// The state a step event belongs to: the transaction in flight, a new one for
    /// a transaction not seen yet, or none for one already closed.
    fn step_state(&mut self, id: &str, ts: i64) -> Option<&mut TxnState> {
        if !self.txns.contains_key(id) {
            if self.is_closed(id) {
                return None;
            }
            self.txns.insert(id.into(), TxnState::new(ts));
        }
        self.txns.get_mut(id)
    }

    fn step_open<O: Observer>(&mut self, ev: &Event<'_>, obs: &mut O) {
        let step = self.names.intern(ev.step.as_deref().unwrap_or(""));
        let event_workflow = ev.workflow.as_deref().map(|w| self.names.intern(w));
        let Some(st) = self.step_state(&ev.txn_id, ev.ts_ms) else {
            return;
        };
        let slot = st.slot(step);
        if slot.open_ts == Some(ev.ts_ms) {
            self.counts.duplicates += 1;
            obs.duplicate(ev);
            return;
        }
        // A step opened again (a retry) starts over.
        slot.open_ts = Some(ev.ts_ms);
        slot.done_ts = None;
        if st.workflow.is_none() {
            st.workflow = event_workflow;
        }
    }

    fn step_done<O: Observer>(&mut self, ev: &Event<'_>, obs: &mut O) {
        let step = self.names.intern(ev.step.as_deref().unwrap_or(""));
        let event_workflow = ev.workflow.as_deref().map(|w| self.names.intern(w));
        let status = ev.effective_status();
        let mut done = StepDone {
            txn_id: &ev.txn_id,
            workflow: event_workflow,
            workflow_name: None,
            step,
            step_name: ev.step.as_deref().unwrap_or(""),
            step_index: ev.step_index,
            ts_ms: ev.ts_ms,
            duration_ms: ev.duration_ms,
            status,
            error: ev.error.as_deref(),
        };
        if let Some(st) = self.step_state(&ev.txn_id, ev.ts_ms) {
            let slot = st.slot(step);
            if slot.done_ts == Some(ev.ts_ms) {
                self.counts.duplicates += 1;
                obs.duplicate(ev);
                return;
            }
            slot.done_ts = Some(ev.ts_ms);
            if done.duration_ms.is_none() {
                done.duration_ms = slot.open_ts.map(|open| ev.ts_ms.saturating_sub(open));
            }
            st.had_error |= status == Status::Error;
            if st.workflow.is_none() {
                st.workflow = event_workflow;
            }
            done.workflow = done.workflow.or(st.workflow);
        }
        done.workflow_name = done.workflow.map(|w| self.names.name(w));
        obs.step_done(&done);
    }

    fn inter_step_wait<O: Observer>(&mut self, ev: &Event<'_>, obs: &mut O) {
        if let (Some(to), Some(planned)) = (ev.to_step.as_deref(), ev.planned_wait_ms) {
            let to = self.names.intern(to);
            if let Some(st) = self.step_state(&ev.txn_id, ev.ts_ms) {
                st.slot(to).planned = Some(planned);
            }
        }
        if let Some(planned_ms) = ev.planned_wait_ms {
            obs.wait(&Wait {
                txn_id: &ev.txn_id,
                ts_ms: ev.ts_ms,
                from_step: ev.from_step.as_deref(),
                to_step: ev.to_step.as_deref(),
                planned_ms,
                injected: ev.outlier_injected == Some(true),
            });
        }
    }

    /// Evicts what is older than the TTL and forgets old closed ids.
    fn sweep<O: Observer>(&mut self, obs: &mut O) {
        let retention = if self.ttl_ms > 0 {
            self.ttl_ms
        } else {
            DEFAULT_OPEN_TTL_MS as i64
        };
        let interval = (retention / 10).clamp(1_000, 60_000);
        self.next_sweep = self.watermark.saturating_add(interval);

        // A generation is forgotten once its newest id is older than the retention.
        let closed_cutoff = self.watermark.saturating_sub(retention);
        while self
            .closed_generations
            .get(1)
            .is_some_and(|(next_start, _)| *next_start < closed_cutoff)
        {
            if let Some((_, mut ids)) = self.closed_generations.pop_front() {
                for h in ids.drain(..) {
                    self.closed_ids.remove(&h);
                }
                self.spare_generations.push(ids);
            }
        }
        self.closed_generations.push_back((
            self.watermark,
            self.spare_generations.pop().unwrap_or_default(),
        ));

        if self.ttl_ms == 0 {
            return;
        }
        let cutoff = self.watermark.saturating_sub(self.ttl_ms);
        let counts = &mut self.counts;
        let open_now = &mut self.open_now;
        self.txns.retain(|id, st| {
            let since = st.open_ts.unwrap_or(st.first_seen_ts);
            if since >= cutoff || st.done {
                return true;
            }
            match (st.open_ts, st.early_close) {
                (Some(open_ts), None) => {
                    counts.abandoned += 1;
                    *open_now = open_now.saturating_sub(1);
                    obs.abandoned(id, st.workflow, open_ts);
                }
                (None, Some(_)) => counts.orphan_closes += 1,
                // Only step events were seen: they were reported as they came.
                _ => {}
            }
            false
        });
    }
}

/// A transaction in flight, by names: what a saved state keeps of one, so that
/// states from different consumers (or before and after a restart) can pair a
/// transaction's open in one with its close in another.
#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InFlight {
    pub txn_id: String,
    pub first_seen_ts_ms: i64,
    pub open_ts_ms: Option<i64>,
    /// A close seen before its open, and whether it was an error.
    pub close_ts_ms: Option<i64>,
    pub close_error: bool,
    pub workflow: Option<String>,
    pub had_error: bool,
    pub steps: Vec<InFlightStep>,
}

#[derive(Clone, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct InFlightStep {
    pub step: String,
    pub open_ts_ms: Option<i64>,
    pub done_ts_ms: Option<i64>,
    pub planned_wait_ms: Option<i64>,
}

impl Tracker {
    /// A name's number, interning it.
    pub fn intern(&mut self, name: &str) -> Sym {
        self.names.intern(name)
    }

    /// The transactions in flight, by id (closed ones in their grace are not:
    /// [`Tracker::flush`] first).
    pub fn in_flight(&self) -> Vec<InFlight> {
        let name = |s: Sym| self.names.name(s).to_string();
        let mut v: Vec<InFlight> = self
            .txns
            .iter()
            .filter(|(_, st)| !st.done)
            .map(|(id, st)| InFlight {
                txn_id: id.to_string(),
                first_seen_ts_ms: st.first_seen_ts,
                open_ts_ms: st.open_ts,
                close_ts_ms: st.early_close.map(|(ts, _)| ts),
                close_error: st.early_close.is_some_and(|(_, s)| s == Status::Error),
                workflow: st.workflow.map(name),
                had_error: st.had_error,
                steps: st
                    .steps
                    .iter()
                    .map(|s| InFlightStep {
                        step: name(s.step),
                        open_ts_ms: s.open_ts,
                        done_ts_ms: s.done_ts,
                        planned_wait_ms: s.planned,
                    })
                    .collect(),
            })
            .collect();
        v.sort_by(|a, b| a.txn_id.cmp(&b.txn_id));
        v
    }

    /// Takes in another tracker's counts and transactions in flight (from a saved
    /// state): a transaction open in one and closed in the other completes here,
    /// with its steps' gaps, as if one tracker had seen both.
    pub fn absorb<O: Observer>(
        &mut self,
        counts: TrackerCounts,
        in_flight: Vec<InFlight>,
        watermark: Option<i64>,
        obs: &mut O,
    ) {
        self.counts.closed += counts.closed;
        self.counts.duplicates += counts.duplicates;
        self.counts.orphan_closes += counts.orphan_closes;
        self.counts.abandoned += counts.abandoned;
        if let Some(w) = watermark {
            self.watermark = self.watermark.max(w);
        }
        for t in in_flight {
            let workflow = t.workflow.as_deref().map(|w| self.names.intern(w));
            let steps: Vec<(Sym, InFlightStep)> = t
                .steps
                .into_iter()
                .map(|s| (self.names.intern(&s.step), s))
                .collect();
            let st = self
                .txns
                .entry(t.txn_id.as_str().into())
                .or_insert_with(|| TxnState::new(t.first_seen_ts_ms));
            if st.done {
                // Closed here already, in its grace: only late steps to add.
                st.absorb_steps(steps);
                continue;
            }
            let was_open = st.open_ts.is_some() && st.early_close.is_none();
            st.first_seen_ts = st.first_seen_ts.min(t.first_seen_ts_ms);
            st.open_ts = st.open_ts.or(t.open_ts_ms);
            if st.early_close.is_none() {
                let status = if t.close_error {
                    Status::Error
                } else {
                    Status::Ok
                };
                st.early_close = t.close_ts_ms.map(|ts| (ts, status));
            }
            st.workflow = st.workflow.or(workflow);
            st.had_error |= t.had_error;
            st.absorb_steps(steps);
            let (open, close) = (st.open_ts, st.early_close);
            if was_open {
                self.open_now = self.open_now.saturating_sub(1);
            }
            match (open, close) {
                (Some(open_ts), Some((close_ts, status))) => {
                    self.complete(&t.txn_id, open_ts, close_ts, status, obs);
                }
                (Some(_), None) => self.open_now += 1,
                _ => {}
            }
        }
    }
}

fn close_status(ev: &Event<'_>, had_error: bool) -> Status {
    match ev.effective_status() {
        Status::Ok if had_error && ev.status.is_none() => Status::Error,
        s => s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct Log {
        closed: Vec<(String, i64, Status)>,
        steps: Vec<(String, Option<i64>, Status)>,
        gaps: Vec<(i64, Option<i64>)>,
        waits: Vec<i64>,
        dups: usize,
        abandoned: Vec<String>,
    }

    impl Observer for Log {
        fn transaction_closed(&mut self, t: &ClosedTxn<'_>) {
            self.closed
                .push((t.txn_id.to_string(), t.duration_ms, t.status));
        }
        fn step_done(&mut self, s: &super::StepDone<'_>) {
            self.steps
                .push((s.txn_id.to_string(), s.duration_ms, s.status));
        }
        fn gap(&mut self, g: &ObservedGap<'_>) {
            self.gaps.push((g.observed_ms, g.planned_ms));
        }
        fn wait(&mut self, w: &Wait<'_>) {
            self.waits.push(w.planned_ms);
        }
        fn duplicate(&mut self, _: &Event<'_>) {
            self.dups += 1;
        }
        fn abandoned(&mut self, id: &str, _: Option<Sym>, _: i64) {
            self.abandoned.push(id.to_string());
        }
    }

    fn ev(kind: EventType, id: &str, ts: i64) -> Event<'static> {
        Event::new(kind, id.to_string(), ts)
    }

    fn step(kind: EventType, id: &str, ts: i64, name: &str) -> Event<'static> {
        let mut e = ev(kind, id, ts);
        e.step = Some(name.to_string().into());
        e
    }

    fn run(events: &[Event<'_>], ttl: u64) -> (Tracker, Log) {
        let mut t = Tracker::new(ttl);
        let mut log = Log::default();
        for e in events {
            t.apply(e, &mut log);
        }
        t.flush(&mut log);
        (t, log)
    }

    use EventType::{InterStepWait, StepOpen, TransactionClose, TransactionOpen};
    const STEP_DONE: EventType = EventType::StepDone;

    #[test]
    fn pairs_open_and_close() {
        let (t, log) = run(
            &[
                ev(TransactionOpen, "a", 100),
                ev(TransactionClose, "a", 350),
            ],
            0,
        );
        assert_eq!(log.closed, vec![("a".to_string(), 250, Status::Ok)]);
        assert_eq!(t.counts().closed, 1);
        assert_eq!(t.open_transactions(), 0);
    }

    #[test]
    fn close_before_open_still_pairs() {
        let (t, log) = run(
            &[
                ev(TransactionClose, "a", 350),
                ev(TransactionOpen, "a", 100),
            ],
            0,
        );
        assert_eq!(log.closed, vec![("a".to_string(), 250, Status::Ok)]);
        assert_eq!(t.waiting_closes(), 0);
    }

    #[test]
    fn duplicates_are_counted_not_applied() {
        let (t, log) = run(
            &[
                ev(TransactionOpen, "a", 100),
                ev(TransactionOpen, "a", 100),
                step(StepOpen, "a", 110, "s"),
                step(StepOpen, "a", 110, "s"),
                step(STEP_DONE, "a", 120, "s"),
                step(STEP_DONE, "a", 120, "s"),
                ev(TransactionClose, "a", 200),
                ev(TransactionClose, "a", 200),
            ],
            0,
        );
        assert_eq!(log.closed.len(), 1);
        assert_eq!(log.steps, vec![("a".to_string(), Some(10), Status::Ok)]);
        assert_eq!(log.dups, 4);
        assert_eq!(t.counts().duplicates, 4);
    }

    #[test]
    fn orphan_close_is_counted_after_ttl() {
        let (t, log) = run(
            &[
                ev(TransactionClose, "ghost", 0),
                ev(TransactionOpen, "b", 5_000),
                ev(TransactionClose, "b", 6_000),
                ev(TransactionOpen, "c", 20_000),
            ],
            10_000,
        );
        assert_eq!(log.closed.len(), 1);
        assert_eq!(t.counts().orphan_closes, 1);
        assert_eq!(t.waiting_closes(), 0);
        assert_eq!(t.open_transactions(), 1);
    }

    #[test]
    fn abandoned_after_ttl_in_event_time() {
        let (t, log) = run(
            &[
                ev(TransactionOpen, "slow", 0),
                ev(TransactionOpen, "x", 9_000),
                ev(TransactionOpen, "y", 12_000),
            ],
            10_000,
        );
        assert_eq!(log.abandoned, vec!["slow".to_string()]);
        assert_eq!(t.counts().abandoned, 1);
        assert_eq!(t.open_transactions(), 2);
    }

    #[test]
    fn a_late_close_of_an_abandoned_transaction_is_an_orphan() {
        let (t, _) = run(
            &[
                ev(TransactionOpen, "slow", 0),
                ev(TransactionOpen, "x", 12_000),
                ev(TransactionClose, "slow", 13_000),
                ev(TransactionOpen, "y", 40_000),
            ],
            10_000,
        );
        assert_eq!(t.counts().abandoned, 2);
        assert_eq!(t.counts().orphan_closes, 1);
    }

    #[test]
    fn step_durations_pair_when_absent_and_gaps_derive() {
        let mut wait = ev(InterStepWait, "a", 150);
        wait.planned_wait_ms = Some(40);
        wait.to_step = Some("b".into());
        let mut done_b = step(STEP_DONE, "a", 260, "b");
        done_b.duration_ms = Some(55);
        done_b.status = Some(Status::Error);
        let (_, log) = run(
            &[
                ev(TransactionOpen, "a", 100),
                step(StepOpen, "a", 100, "a1"),
                step(STEP_DONE, "a", 150, "a1"),
                wait,
                step(StepOpen, "a", 195, "b"),
                done_b,
                ev(TransactionClose, "a", 260),
            ],
            0,
        );
        assert_eq!(
            log.steps,
            vec![
                ("a".to_string(), Some(50), Status::Ok),
                ("a".to_string(), Some(55), Status::Error),
            ]
        );
        assert_eq!(log.gaps, vec![(45, Some(40))]);
        assert_eq!(log.waits, vec![40]);
        // A failed step makes a close without status an error.
        assert_eq!(log.closed, vec![("a".to_string(), 160, Status::Error)]);
    }

    #[test]
    fn parallel_steps_give_one_gap() {
        let (_, log) = run(
            &[
                ev(TransactionOpen, "a", 0),
                step(StepOpen, "a", 0, "p"),
                step(STEP_DONE, "a", 10, "p"),
                step(StepOpen, "a", 20, "x"),
                step(StepOpen, "a", 20, "y"),
                step(STEP_DONE, "a", 30, "x"),
                step(STEP_DONE, "a", 35, "y"),
                step(StepOpen, "a", 40, "z"),
                ev(TransactionClose, "a", 50),
            ],
            0,
        );
        assert_eq!(log.gaps, vec![(10, None), (5, None)]);
    }

    #[test]
    fn a_zero_length_step_is_not_its_own_gap() {
        let (_, log) = run(
            &[
                ev(TransactionOpen, "a", 0),
                step(StepOpen, "a", 0, "x"),
                step(STEP_DONE, "a", 10, "x"),
                step(StepOpen, "a", 30, "y"),
                step(STEP_DONE, "a", 30, "y"),
                ev(TransactionClose, "a", 30),
            ],
            0,
        );
        assert_eq!(log.gaps, vec![(20, None)]);
    }

    #[test]
    fn gaps_do_not_depend_on_arrival_order() {
        let mut wait = ev(InterStepWait, "a", 150);
        wait.planned_wait_ms = Some(40);
        wait.to_step = Some("b".into());
        let ordered = vec![
            ev(TransactionOpen, "a", 100),
            step(StepOpen, "a", 100, "a1"),
            step(STEP_DONE, "a", 150, "a1"),
            wait,
            step(StepOpen, "a", 195, "b"),
            step(STEP_DONE, "a", 260, "b"),
            ev(TransactionClose, "a", 260),
        ];
        let (_, log) = run(&ordered, 0);
        assert_eq!(log.gaps, vec![(45, Some(40))]);
        // The next step opens before the previous is seen done, the wait comes
        // last and the open after the steps: the same gap.
        let mut shuffled = ordered.clone();
        shuffled.swap(2, 4);
        let wait = shuffled.remove(3);
        shuffled.insert(5, wait);
        let open = shuffled.remove(0);
        shuffled.insert(5, open);
        let (_, log) = run(&shuffled, 0);
        assert_eq!(log.gaps, vec![(45, Some(40))]);
        assert_eq!(log.closed, vec![("a".to_string(), 160, Status::Ok)]);
    }

    /// What open_transactions() counts, recounted from the map.
    fn recount(t: &Tracker) -> u64 {
        t.txns
            .values()
            .filter(|s| s.open_ts.is_some() && s.early_close.is_none() && !s.done)
            .count() as u64
    }

    #[test]
    fn the_open_count_is_kept_exactly() {
        let mut t = Tracker::new(10_000);
        let mut x: u64 = 7;
        for i in 0..20_000i64 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            let id = format!("t{}", (x >> 33) % 500);
            let kind = match (x >> 20) % 5 {
                0 | 1 => TransactionOpen,
                2 | 3 => TransactionClose,
                _ => StepOpen,
            };
            let mut e = ev(kind, &id, i * 7 + ((x >> 40) % 50) as i64);
            e.step = Some("s".into());
            t.apply(&e, &mut ());
            assert_eq!(t.open_transactions(), recount(&t), "after event {i}");
        }
        assert!(t.counts().abandoned > 0 && t.counts().closed > 0);
    }

    #[test]
    fn memory_holds_only_what_is_in_flight() {
        let mut t = Tracker::new(10_000);
        for i in 0..100_000i64 {
            let id = format!("t{i}");
            t.apply(&ev(TransactionOpen, &id, i * 100), &mut ());
            t.apply(&ev(TransactionClose, &id, i * 100 + 50), &mut ());
        }
        assert_eq!(t.counts().closed, 100_000);
        // Only the closed transactions in their grace (30 s of 100 ms spacing).
        assert!(t.txns.len() <= 301, "{}", t.txns.len());
        t.flush(&mut ());
        assert!(t.txns.is_empty());
        // Ids closed within the last TTL (10 s of 100 ms spacing), plus up to two
        // sweep intervals (1 s each), as ids are forgotten a generation at a time.
        assert!(t.closed_ids.len() <= 120, "{}", t.closed_ids.len());
        assert!(t.closed_ids.len() >= 100, "{}", t.closed_ids.len());
    }

    #[test]
    fn a_step_read_after_its_close_still_counts_within_the_grace() {
        let late = |gap_at: i64| {
            let mut t = Tracker::new(0).with_step_grace(5_000);
            let mut log = Log::default();
            for e in [
                ev(TransactionOpen, "a", 0),
                step(StepOpen, "a", 0, "one"),
                ev(TransactionClose, "a", 300),
                // The steps topic behind: read after the close.
                step(STEP_DONE, "a", 100, "one"),
                step(StepOpen, "a", 150, "two"),
                step(STEP_DONE, "a", 300, "two"),
            ] {
                t.apply(&e, &mut log);
            }
            assert_eq!(log.closed.len(), 1, "the close is counted at once");
            assert!(log.gaps.is_empty(), "gaps wait for the grace");
            // Another transaction moves event time on.
            t.apply(&ev(TransactionOpen, "b", gap_at), &mut log);
            t.flush(&mut log);
            log.gaps
        };
        assert_eq!(late(1_000), vec![(50, None)]);
        assert_eq!(late(10_000), vec![(50, None)]);
    }

    #[test]
    fn a_step_after_the_grace_counts_alone() {
        let mut t = Tracker::new(0).with_step_grace(1_000);
        let mut log = Log::default();
        for e in [
            ev(TransactionOpen, "a", 0),
            step(StepOpen, "a", 0, "one"),
            step(STEP_DONE, "a", 100, "one"),
            ev(TransactionClose, "a", 300),
            ev(TransactionOpen, "b", 5_000),
            step(StepOpen, "a", 150, "two"),
            step(STEP_DONE, "a", 300, "two"),
        ] {
            t.apply(&e, &mut log);
        }
        t.flush(&mut log);
        assert!(log.gaps.is_empty());
        assert_eq!(log.steps.len(), 2, "its step still counts");
    }
}
