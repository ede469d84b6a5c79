//! wf-agg as a library: the aggregation every reporting tool shares.
//!
//! [`Aggregator`] takes events (or raw lines) and produces a [`Report`]; wf-agg
//! prints it as text or JSON, and other tools draw it, so the numbers agree
//! everywhere by construction.

pub mod aggregate;
pub mod anomaly;
pub mod flags;
pub mod health;
pub mod hist;
pub mod input;
pub mod progress;
pub mod slo;
pub mod state;
pub mod text;
pub mod timeline;
pub mod trace;
pub mod watch;

pub use aggregate::{Aggregator, Options, Report};
pub use hist::{Hist, Summary};
pub use input::{open_all, read_all, ReadError};
pub use timeline::{RoundedHist, Timeline, Window};
