//! An aggregator's saved state (`wf-agg --state-out`), and merging states
//! (`wf-agg merge`).
//!
//! A state holds exact counts: every distribution as (value, count) pairs, the
//! slowest transactions, the per-workflow, per-step and per-error rows, the
//! tracker's counts and the transactions still in flight. Merging adds counts and
//! pairs a transaction opened in one state with its close in another, so the
//! report of merged states equals one aggregator's over all their events (the
//! self-sizing over-time chart's windows are not kept; `--window`'s are).

use serde::{Deserialize, Serialize};
use wf_events::{InFlight, TrackerCounts};

use crate::aggregate::ErrorPattern;
use crate::hist::Hist;
use crate::timeline::SavedRounded;

/// The format's name and version, the first key of every state file.
pub const FORMAT: &str = "wf-agg-state/2";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct State {
    pub format: String,
    pub options: SavedOptions,
    /// Events by type, in wf_events::EventType order (the last is unknown types).
    pub by_type: [u64; 6],
    pub malformed: u64,
    pub first_ts_ms: Option<i64>,
    pub last_ts_ms: Option<i64>,
    pub watermark_ts_ms: Option<i64>,
    pub transactions: SavedHist,
    /// (duration, close time, id), slowest first.
    pub slowest: Vec<(i64, i64, String)>,
    pub gaps: SavedHist,
    pub injected_gaps: SavedHist,
    pub outliers: u64,
    pub injected: u64,
    pub lateness: SavedHist,
    pub workflows: Vec<SavedRow>,
    pub steps: Vec<SavedRow>,
    pub error_patterns: Vec<ErrorPattern>,
    pub closed: u64,
    pub duplicates: u64,
    pub orphan_closes: u64,
    pub abandoned: u64,
    pub in_flight: Vec<InFlight>,
    /// `--window`'s windows; absent without it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows: Option<SavedWindows>,
}

/// Fixed windows (`--window`) as a state keeps them: exact counts, durations at
/// two significant digits as the windows hold them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedWindows {
    pub window_ms: i64,
    pub left_out: u64,
    /// First and last transaction_open `ts_ms`: which windows are full.
    pub opens: Option<(i64, i64)>,
    /// (start, closed, errors, durations) of each non-empty window.
    pub items: Vec<(i64, u64, u64, SavedRounded)>,
}

/// The options that change what is counted: states merge only when they agree.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedOptions {
    pub outlier_ms: i64,
    pub derive_inter_step: bool,
    pub top: usize,
    /// `--window`, in ms; states merge only with the same windows.
    #[serde(default)]
    pub window_ms: Option<i64>,
}

/// A distribution as (value, count) pairs, smallest value first.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SavedHist(pub Vec<(i64, u64)>);

impl From<&Hist> for SavedHist {
    fn from(h: &Hist) -> SavedHist {
        SavedHist(h.sorted())
    }
}

impl From<&SavedHist> for Hist {
    fn from(h: &SavedHist) -> Hist {
        Hist::from_counts(&h.0)
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SavedRow {
    pub workflow: Option<String>,
    /// The step, for a step row.
    pub step: Option<String>,
    pub count: u64,
    pub errors: u64,
    pub duration_ms: SavedHist,
}

impl State {
    pub fn tracker_counts(&self) -> TrackerCounts {
        TrackerCounts {
            closed: self.closed,
            duplicates: self.duplicates,
            orphan_closes: self.orphan_closes,
            abandoned: self.abandoned,
        }
    }

    /// The state as a file's bytes: compact JSON and a final newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        // Plain structs and maps with string keys: serializing cannot fail.
        let mut out = serde_json::to_vec(self).unwrap_or_default();
        out.push(b'\n');
        out
    }

    /// Reads a state, checking its format line.
    pub fn from_bytes(bytes: &[u8]) -> Result<State, String> {
        #[derive(Deserialize)]
        struct Head {
            format: Option<String>,
        }
        let head: Head =
            serde_json::from_slice(bytes).map_err(|e| format!("not a wf-agg state file ({e})"))?;
        match head.format.as_deref() {
            Some(FORMAT) => {}
            Some(other) => {
                return Err(format!(
                    "state format '{other}' is not supported (this wf-agg reads '{FORMAT}')"
                ))
            }
            None => return Err("not a wf-agg state file (no \"format\")".into()),
        }
        serde_json::from_slice(bytes).map_err(|e| format!("damaged state file: {e}"))
    }
}
