//! The wf event schema and everything that gives it meaning.
//!
//! Every wf tool reads events through this crate: [`event`] parses and writes the
//! flat JSONL objects, [`source`] reads stdin and files fast, and [`tracker`] pairs
//! opens with closes and steps with their ends. No tool re-implements any of it, so
//! the tools agree on what a stream means.

pub mod cli;
pub mod event;
pub mod follow;
pub mod hash;
pub mod intern;
#[cfg(feature = "kafka")]
pub mod kafka;
pub mod pipeline;
pub mod source;
pub mod tracker;
pub mod units;

pub use event::{parse_line, write_line, Event, EventType, ParseError, Status};
pub use intern::{Interner, Sym};
pub use pipeline::{for_each_event, Item};
pub use source::{is_blank, Input, LineReader};
pub use tracker::{
    ClosedTxn, InFlight, InFlightStep, ObservedGap, Observer, StepDone, Tracker, TrackerCounts,
    Wait,
};

/// This crate's version, which every tool reports as its own.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
