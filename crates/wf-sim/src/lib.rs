//! wf-sim as a library: the simulator, its random generator and the workflow
//! definitions, so that tests elsewhere can make the same streams in memory.

pub mod incident;
pub mod rng;
pub mod sim;
pub mod workflow;

pub use sim::{Config, Faults, Simulator};
pub use workflow::{builtin, WorkflowFile};

/// Where the first transaction starts unless told otherwise: 2026-01-01T00:00:00Z,
/// fixed so that a seed always gives the same bytes.
pub const DEFAULT_START_MS: i64 = 1_767_225_600_000;

/// Default outlier injection, as `wf-sim` uses it.
pub const DEFAULT_OUTLIER_RATE: f64 = 0.005;
pub const DEFAULT_OUTLIER_MIN_MS: i64 = 15_000;
pub const DEFAULT_OUTLIER_MAX_MS: i64 = 60_000;
pub const DEFAULT_RATE: f64 = 100.0;
pub const DEFAULT_SEED: u64 = 1;

impl Config {
    /// wf-sim's defaults with the built-in workflows: `samples` transactions from
    /// `seed`, as `wf-sim --samples N --seed S` makes them.
    pub fn builtin(samples: u64, seed: u64) -> Config {
        Config {
            samples: Some(samples),
            seed,
            rate: DEFAULT_RATE,
            // The built-ins are checked by their own test; an error here is a bug.
            workflows: builtin().compile().unwrap_or_default(),
            outlier_rate: DEFAULT_OUTLIER_RATE,
            outlier_min_ms: DEFAULT_OUTLIER_MIN_MS,
            outlier_max_ms: DEFAULT_OUTLIER_MAX_MS,
            start_ms: DEFAULT_START_MS,
            duration_ms: None,
            faults: Faults::default(),
            incidents: Vec::new(),
        }
    }

    /// Runs the whole simulation into memory.
    pub fn generate(self) -> Result<Vec<u8>, String> {
        let mut sim = Simulator::new(self)?;
        let mut out = Vec::new();
        while sim.next_unit(&mut out).is_some() {}
        Ok(out)
    }
}
