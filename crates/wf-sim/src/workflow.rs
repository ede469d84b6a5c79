//! Workflow definitions: the built-in ones and the `--workflows FILE` format.
//!
//! A workflow is a list of stages; a stage is one step or a group of steps that run
//! at once (`parallel`). Each step has a latency distribution, an error probability
//! and the error types it fails with; each workflow has a distribution of planned
//! waits between stages. The file format is the JSON that `--list-workflows`
//! prints, so the built-ins are the starting point for one's own.

use serde::{Deserialize, Serialize};

use crate::rng::Rng;

/// z for the 99th percentile of the standard normal.
const Z99: f64 = 2.326_347_874_040_841;

/// A latency distribution in milliseconds.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "dist", rename_all = "lowercase")]
pub enum Dist {
    Fixed {
        ms: f64,
    },
    Uniform {
        min_ms: f64,
        max_ms: f64,
    },
    Exponential {
        mean_ms: f64,
    },
    /// Log-normal given by its median and 99th percentile: long right tail.
    Lognormal {
        median_ms: f64,
        p99_ms: f64,
    },
}

impl Dist {
    fn validate(&self) -> Result<(), String> {
        let ok = |v: f64| v.is_finite() && v >= 0.0;
        match *self {
            Dist::Fixed { ms } if ok(ms) => Ok(()),
            Dist::Uniform { min_ms, max_ms } if ok(min_ms) && ok(max_ms) && min_ms <= max_ms => {
                Ok(())
            }
            Dist::Exponential { mean_ms } if ok(mean_ms) && mean_ms > 0.0 => Ok(()),
            Dist::Lognormal { median_ms, p99_ms }
                if ok(median_ms) && median_ms > 0.0 && ok(p99_ms) && p99_ms >= median_ms =>
            {
                Ok(())
            }
            Dist::Fixed { .. } => Err("fixed: ms must be a number >= 0".into()),
            Dist::Uniform { .. } => Err("uniform: need 0 <= min_ms <= max_ms".into()),
            Dist::Exponential { .. } => Err("exponential: mean_ms must be > 0".into()),
            Dist::Lognormal { .. } => Err("lognormal: need 0 < median_ms <= p99_ms".into()),
        }
    }

    /// One sample, rounded to whole milliseconds.
    pub fn sample(&self, rng: &mut Rng) -> i64 {
        let v = match *self {
            Dist::Fixed { ms } => ms,
            Dist::Uniform { min_ms, max_ms } => min_ms + (max_ms - min_ms) * rng.f64(),
            Dist::Exponential { mean_ms } => rng.exponential(mean_ms),
            Dist::Lognormal { median_ms, p99_ms } => {
                let sigma = (p99_ms / median_ms).ln() / Z99;
                median_ms * (sigma * rng.normal()).exp()
            }
        };
        // Capped at a year so that no configuration overflows the clock.
        v.round().clamp(0.0, 3.2e10) as i64
    }
}

/// One step as written in the file.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StepSpec {
    pub name: String,
    pub latency: Dist,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub error_rate: f64,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
}

fn is_zero(v: &f64) -> bool {
    *v == 0.0
}

/// A stage as written in the file: a step, or `{"parallel": [steps]}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum StageSpec {
    Parallel { parallel: Vec<StepSpec> },
    Step(StepSpec),
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowSpec {
    pub name: String,
    #[serde(default = "one")]
    pub weight: f64,
    /// Planned wait between stages (the `planned_wait_ms` of inter_step_wait).
    pub wait: Dist,
    pub steps: Vec<StageSpec>,
}

fn one() -> f64 {
    1.0
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WorkflowFile {
    pub workflows: Vec<WorkflowSpec>,
}

/// A step ready to simulate.
#[derive(Clone, Debug)]
pub struct Step {
    pub name: String,
    /// Position in the workflow's flattened step list (`step_index`).
    pub index: u32,
    pub latency: Dist,
    pub error_rate: f64,
    pub errors: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct Workflow {
    pub name: String,
    pub weight: f64,
    pub wait: Dist,
    /// Stages of indices into `steps`; a stage of several runs them at once.
    pub stages: Vec<Vec<usize>>,
    pub steps: Vec<Step>,
}

impl WorkflowFile {
    /// Parses and checks a workflow file's text.
    pub fn from_json(text: &str) -> Result<WorkflowFile, String> {
        let file: WorkflowFile = serde_json::from_str(text).map_err(|e| {
            // serde's untagged-enum message names no step; point at the place.
            e.to_string().replace(
                "data did not match any variant of untagged enum StageSpec",
                "a stage must be a step {\"name\", \"latency\", ...} or {\"parallel\": [steps]}",
            )
        })?;
        file.compile()?;
        Ok(file)
    }

    /// Checks every value and flattens the stages for simulation.
    pub fn compile(&self) -> Result<Vec<Workflow>, String> {
        if self.workflows.is_empty() {
            return Err("no workflows defined".into());
        }
        let mut out = Vec::new();
        for (wi, w) in self.workflows.iter().enumerate() {
            let at = format!("workflow {} ({:?})", wi + 1, w.name);
            if w.name.is_empty() {
                return Err(format!("{at}: name is empty"));
            }
            if out.iter().any(|o: &Workflow| o.name == w.name) {
                return Err(format!("{at}: name defined twice"));
            }
            if !(w.weight.is_finite() && w.weight > 0.0) {
                return Err(format!("{at}: weight must be > 0"));
            }
            w.wait.validate().map_err(|e| format!("{at}: wait: {e}"))?;
            if w.steps.is_empty() {
                return Err(format!("{at}: no steps"));
            }
            let mut steps = Vec::new();
            let mut stages = Vec::new();
            for stage in &w.steps {
                let group: &[StepSpec] = match stage {
                    StageSpec::Step(s) => std::slice::from_ref(s),
                    StageSpec::Parallel { parallel } => parallel,
                };
                if group.is_empty() {
                    return Err(format!("{at}: empty parallel group"));
                }
                let mut indices = Vec::new();
                for s in group {
                    let sat = format!("{at}: step {:?}", s.name);
                    if s.name.is_empty() {
                        return Err(format!("{at}: a step has an empty name"));
                    }
                    if steps.iter().any(|o: &Step| o.name == s.name) {
                        return Err(format!("{sat}: name used twice"));
                    }
                    s.latency
                        .validate()
                        .map_err(|e| format!("{sat}: latency: {e}"))?;
                    if !(0.0..=1.0).contains(&s.error_rate) {
                        return Err(format!("{sat}: error_rate must be between 0 and 1"));
                    }
                    let errors = if s.errors.is_empty() {
                        vec!["StepError".to_string()]
                    } else {
                        s.errors.clone()
                    };
                    indices.push(steps.len());
                    steps.push(Step {
                        name: s.name.clone(),
                        index: steps.len() as u32,
                        latency: s.latency.clone(),
                        error_rate: s.error_rate,
                        errors,
                    });
                }
                stages.push(indices);
            }
            out.push(Workflow {
                name: w.name.clone(),
                weight: w.weight,
                wait: w.wait.clone(),
                stages,
                steps,
            });
        }
        Ok(out)
    }
}

fn ln(median_ms: f64, p99_ms: f64) -> Dist {
    Dist::Lognormal { median_ms, p99_ms }
}

fn step(name: &str, latency: Dist, error_rate: f64, errors: &[&str]) -> StepSpec {
    StepSpec {
        name: name.into(),
        latency,
        error_rate,
        errors: errors.iter().map(|e| e.to_string()).collect(),
    }
}

/// The built-in workflows: an order checkout, an account signup and an agent run.
pub fn builtin() -> WorkflowFile {
    use StageSpec::{Parallel, Step as S};
    WorkflowFile {
        workflows: vec![
            WorkflowSpec {
                name: "checkout".into(),
                weight: 5.0,
                wait: ln(300.0, 3000.0),
                steps: vec![
                    S(step(
                        "validate_cart",
                        ln(40.0, 250.0),
                        0.005,
                        &["ValidationError"],
                    )),
                    S(step(
                        "reserve_inventory",
                        ln(120.0, 900.0),
                        0.01,
                        &["OutOfStock", "InventoryTimeout"],
                    )),
                    S(step(
                        "charge_card",
                        ln(350.0, 2500.0),
                        0.02,
                        &["CardDeclined", "GatewayTimeout", "FraudSuspected"],
                    )),
                    Parallel {
                        parallel: vec![
                            step("send_receipt", ln(80.0, 400.0), 0.005, &["SmtpError"]),
                            step("update_loyalty", ln(60.0, 300.0), 0.002, &["DbDeadlock"]),
                        ],
                    },
                    S(step(
                        "ship_order",
                        ln(200.0, 1200.0),
                        0.005,
                        &["CarrierUnavailable"],
                    )),
                ],
            },
            WorkflowSpec {
                name: "signup".into(),
                weight: 3.0,
                wait: Dist::Uniform {
                    min_ms: 100.0,
                    max_ms: 2000.0,
                },
                steps: vec![
                    S(step(
                        "create_account",
                        ln(80.0, 500.0),
                        0.01,
                        &["DuplicateEmail", "DbTimeout"],
                    )),
                    S(step(
                        "verify_email",
                        Dist::Uniform {
                            min_ms: 500.0,
                            max_ms: 4000.0,
                        },
                        0.03,
                        &["EmailBounced"],
                    )),
                    S(step(
                        "provision_workspace",
                        ln(1500.0, 9000.0),
                        0.01,
                        &["QuotaExceeded", "ProvisionTimeout"],
                    )),
                ],
            },
            WorkflowSpec {
                name: "agent_run".into(),
                weight: 2.0,
                wait: Dist::Exponential { mean_ms: 250.0 },
                steps: vec![
                    S(step("plan", ln(800.0, 4000.0), 0.01, &["ModelTimeout"])),
                    Parallel {
                        parallel: vec![
                            step(
                                "search_docs",
                                ln(600.0, 3000.0),
                                0.02,
                                &["IndexUnavailable"],
                            ),
                            step("query_db", ln(150.0, 1200.0), 0.01, &["QueryTimeout"]),
                            step(
                                "call_api",
                                ln(400.0, 5000.0),
                                0.05,
                                &["RateLimitError", "NetworkError"],
                            ),
                        ],
                    },
                    S(step(
                        "synthesize",
                        ln(2000.0, 12000.0),
                        0.02,
                        &["ContextOverflow", "ModelTimeout"],
                    )),
                    S(step(
                        "review",
                        Dist::Exponential { mean_ms: 300.0 },
                        0.005,
                        &["ValidationError"],
                    )),
                ],
            },
        ],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_compile_and_round_trip() {
        let b = builtin();
        let compiled = b.compile().unwrap();
        assert_eq!(compiled.len(), 3);
        assert_eq!(
            compiled[0].stages,
            vec![vec![0], vec![1], vec![2], vec![3, 4], vec![5]]
        );
        let text = serde_json::to_string_pretty(&b).unwrap();
        assert_eq!(WorkflowFile::from_json(&text).unwrap(), b);
    }

    #[test]
    fn bad_files_say_where() {
        let err = |t: &str| WorkflowFile::from_json(t).unwrap_err();
        assert_eq!(err(r#"{"workflows":[]}"#), "no workflows defined");
        assert_eq!(
            err(
                r#"{"workflows":[{"name":"w","wait":{"dist":"fixed","ms":1},"steps":[{"name":"a","latency":{"dist":"uniform","min_ms":5,"max_ms":1}}]}]}"#
            ),
            "workflow 1 (\"w\"): step \"a\": latency: uniform: need 0 <= min_ms <= max_ms"
        );
        assert_eq!(
            err(
                r#"{"workflows":[{"name":"w","wait":{"dist":"fixed","ms":1},"steps":[{"name":"a","latency":{"dist":"fixed","ms":1},"error_rate":2}]}]}"#
            ),
            "workflow 1 (\"w\"): step \"a\": error_rate must be between 0 and 1"
        );
        assert!(
            err(r#"{"workflows":[{"name":"w","wait":{"dist":"gauss"},"steps":[]}]}"#)
                .starts_with("unknown variant `gauss`")
        );
    }

    #[test]
    fn lognormal_hits_its_median_and_p99() {
        let d = ln(100.0, 1000.0);
        let mut rng = Rng::new(5);
        let mut v: Vec<i64> = (0..100_000).map(|_| d.sample(&mut rng)).collect();
        v.sort_unstable();
        let p50 = v[50_000] as f64;
        let p99 = v[99_000] as f64;
        assert!((p50 - 100.0).abs() < 3.0, "{p50}");
        assert!((p99 - 1000.0).abs() < 60.0, "{p99}");
    }
}
