//! One transaction's timeline (`wf-agg --trace TXN_ID`): every event of it in time
//! order, with its offset from the open, step durations, the gap before each step
//! (observed, and planned where an inter_step_wait announced one) and errors.

use std::fmt::Write as _;

use serde::Serialize;
use wf_events::{Event, EventType};

/// The timeline, as `--trace --json` prints it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Trace {
    pub txn_id: String,
    pub workflow: Option<String>,
    /// Close minus open, when both were seen.
    pub duration_ms: Option<i64>,
    /// The close's status; null without a close.
    pub status: Option<&'static str>,
    pub events: Vec<TraceEvent>,
}

#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TraceEvent {
    /// From the transaction_open (or the first event, without one).
    pub offset_ms: i64,
    pub ts_ms: i64,
    #[serde(rename = "type")]
    pub kind: String,
    pub step: Option<String>,
    /// A step_done's duration: its `duration_ms`, or from its step_open.
    pub duration_ms: Option<i64>,
    pub status: Option<&'static str>,
    pub error: Option<String>,
    /// A step_open's gap since the latest step_done before it.
    pub gap_ms: Option<i64>,
    /// The planned wait announced for this step (step_open) or by this wait.
    pub planned_wait_ms: Option<i64>,
    pub from_step: Option<String>,
    pub to_step: Option<String>,
}

/// The timeline of `events`, which all belong to one transaction, in the order
/// read; they are put in time order (stable, so ties keep the read order).
pub fn build(txn_id: &str, mut events: Vec<Event<'static>>) -> Trace {
    events.sort_by_key(|e| e.ts_ms);
    let open = events
        .iter()
        .find(|e| e.kind == EventType::TransactionOpen)
        .map(|e| e.ts_ms);
    let close = events
        .iter()
        .find(|e| e.kind == EventType::TransactionClose);
    let origin = open.or(events.first().map(|e| e.ts_ms)).unwrap_or(0);
    let workflow = events
        .iter()
        .find_map(|e| e.workflow.as_deref())
        .map(str::to_string);

    let mut out = Vec::with_capacity(events.len());
    let mut last_done: Option<i64> = None;
    for (i, e) in events.iter().enumerate() {
        let step = e.step.as_deref().map(str::to_string);
        let mut te = TraceEvent {
            offset_ms: e.ts_ms.saturating_sub(origin),
            ts_ms: e.ts_ms,
            kind: e.kind.to_string(),
            step: step.clone(),
            duration_ms: None,
            status: None,
            error: e.error.as_deref().map(str::to_string),
            gap_ms: None,
            planned_wait_ms: None,
            from_step: e.from_step.as_deref().map(str::to_string),
            to_step: e.to_step.as_deref().map(str::to_string),
        };
        match e.kind {
            EventType::StepDone => {
                te.duration_ms = e.duration_ms.or_else(|| {
                    events[..i]
                        .iter()
                        .rev()
                        .find(|o| o.kind == EventType::StepOpen && o.step == e.step)
                        .map(|o| e.ts_ms.saturating_sub(o.ts_ms))
                });
                te.status = Some(e.effective_status().as_str());
                last_done = Some(e.ts_ms);
            }
            EventType::StepOpen => {
                te.gap_ms = last_done.map(|d| e.ts_ms.saturating_sub(d));
                te.planned_wait_ms = events[..i]
                    .iter()
                    .rev()
                    .find(|w| w.kind == EventType::InterStepWait && w.to_step == e.step)
                    .and_then(|w| w.planned_wait_ms);
            }
            EventType::InterStepWait => te.planned_wait_ms = e.planned_wait_ms,
            EventType::TransactionClose => te.status = Some(e.effective_status().as_str()),
            _ => {}
        }
        out.push(te);
    }
    Trace {
        txn_id: txn_id.to_string(),
        workflow,
        duration_ms: match (open, close) {
            (Some(o), Some(c)) => Some(c.ts_ms.saturating_sub(o)),
            _ => None,
        },
        status: close.map(|c| c.effective_status().as_str()),
        events: out,
    }
}

/// The timeline as text, a line per event.
pub fn render(t: &Trace) -> String {
    let mut s = String::new();
    let _ = write!(s, "transaction {}", t.txn_id);
    if let Some(w) = &t.workflow {
        let _ = write!(s, " ({w})");
    }
    match (t.duration_ms, t.status) {
        (Some(d), Some(st)) => {
            let _ = write!(s, ": {d} ms, {st}");
        }
        (None, Some(st)) => {
            let _ = write!(s, ": no open seen, closed {st}");
        }
        _ => s.push_str(": not closed"),
    }
    let _ = writeln!(s, ", {} events", t.events.len());
    for e in &t.events {
        let _ = write!(s, "  {:>+9} ms  {:<17}", e.offset_ms, e.kind);
        if let Some(step) = &e.step {
            let _ = write!(s, " {step}");
        }
        if let (Some(from), Some(to)) = (&e.from_step, &e.to_step) {
            let _ = write!(s, " {from} -> {to}");
        }
        if let Some(d) = e.duration_ms {
            let _ = write!(s, "  took {d} ms");
        }
        if let Some(st) = e.status {
            let _ = write!(s, "  {st}");
        }
        if let Some(err) = &e.error {
            let _ = write!(s, " ({err})");
        }
        match (e.gap_ms, e.planned_wait_ms, e.kind.as_str()) {
            (Some(g), Some(p), _) => {
                let _ = write!(s, "  gap {g} ms (planned {p} ms, {:+} ms)", g - p);
            }
            (Some(g), None, _) => {
                let _ = write!(s, "  gap {g} ms");
            }
            (None, Some(p), "inter_step_wait") => {
                let _ = write!(s, "  planned {p} ms");
            }
            _ => {}
        }
        s.truncate(s.trim_end().len());
        s.push('\n');
    }
    s
}
