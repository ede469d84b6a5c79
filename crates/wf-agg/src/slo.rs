//! Service-level objectives for CI: `wf-agg --fail-on EXPR` checks the report
//! against thresholds and says which are violated.

use std::fmt;

use crate::aggregate::Report;
use crate::hist::Summary;
use wf_events::units::parse_duration_ms;

/// The grammar, shown with every parse error.
pub const GRAMMAR: &str = "\
objectives are [SCOPE:]METRIC OP VALUE, for example p99>2s, error_rate>0.01,
step:charge_card:p95>500ms, workflow:checkout:error_rate>=5%, gap:p99>15s, malformed>0
  SCOPE   workflow:NAME, step:NAME or gap (default: all transactions)
  METRIC  min mean p50 p90 p95 p99 p999 max (durations: VALUE in ms, s, m, h),
          count, errors, error_rate (VALUE a fraction or a percentage),
          or, without a scope: malformed, unknown_type, orphan_closes, abandoned,
          duplicates, open_at_end, outliers
  OP      > >= < <=";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Op {
    Gt,
    Ge,
    Lt,
    Le,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Scope {
    All,
    Workflow(String),
    Step(String),
    Gap,
}

/// One objective, e.g. `step:charge_card:p95>500ms`; violated when `METRIC OP
/// VALUE` holds.
#[derive(Clone, Debug, PartialEq)]
pub struct Objective {
    text: String,
    scope: Scope,
    metric: String,
    op: Op,
    value: f64,
}

const DURATIONS: [&str; 8] = ["min", "mean", "p50", "p90", "p95", "p99", "p999", "max"];
const RATES: [&str; 3] = ["count", "errors", "error_rate"];
const COUNTS: [&str; 7] = [
    "malformed",
    "unknown_type",
    "orphan_closes",
    "abandoned",
    "duplicates",
    "open_at_end",
    "outliers",
];

impl Objective {
    /// Parses `text`; the error includes the grammar.
    pub fn parse(text: &str) -> Result<Objective, String> {
        let bad = |why: &str| format!("invalid objective '{text}': {why}\n{GRAMMAR}");
        let t = text.trim();
        let (op, at, len) = [(">=", Op::Ge), ("<=", Op::Le), (">", Op::Gt), ("<", Op::Lt)]
            .iter()
            .find_map(|(s, op)| t.find(s).map(|i| (*op, i, s.len())))
            .ok_or_else(|| bad("no comparison (>, >=, <, <=)"))?;
        let (lhs, rhs) = (&t[..at], t[at + len..].trim());
        let parts: Vec<&str> = lhs.split(':').map(str::trim).collect();
        let (scope, metric) = match parts.as_slice() {
            [m] => (Scope::All, *m),
            ["gap", m] => (Scope::Gap, *m),
            ["workflow", name, m] if !name.is_empty() => (Scope::Workflow(name.to_string()), *m),
            ["step", name, m] if !name.is_empty() => (Scope::Step(name.to_string()), *m),
            _ => return Err(bad("unknown scope")),
        };
        let duration = DURATIONS.contains(&metric);
        let known = duration
            || (RATES.contains(&metric) && scope != Scope::Gap)
            || (COUNTS.contains(&metric) && scope == Scope::All);
        if !known {
            return Err(bad(&format!("unknown metric '{metric}' here")));
        }
        let value = if duration {
            if rhs.starts_with('-') {
                return Err(bad("a duration cannot be negative"));
            }
            parse_duration_ms(rhs).map_err(|e| bad(&e))? as f64
        } else if let Some(pct) = rhs.strip_suffix('%') {
            pct.trim().parse::<f64>().map_err(|_| bad("not a number"))? / 100.0
        } else {
            rhs.parse::<f64>().map_err(|_| bad("not a number"))?
        };
        if !value.is_finite() {
            return Err(bad("not a number"));
        }
        Ok(Objective {
            text: t.to_string(),
            scope,
            metric: metric.to_string(),
            op,
            value,
        })
    }

    /// The values the objective looks at: (what, value), one per matching row;
    /// empty when nothing matches.
    fn observed(&self, r: &Report) -> Vec<(String, Option<f64>)> {
        let dur = |s: &Summary| -> Option<f64> {
            match self.metric.as_str() {
                "min" => s.min.map(|v| v as f64),
                "mean" => s.mean,
                "p50" => s.p50.map(|v| v as f64),
                "p90" => s.p90.map(|v| v as f64),
                "p95" => s.p95.map(|v| v as f64),
                "p99" => s.p99.map(|v| v as f64),
                "p999" => s.p999.map(|v| v as f64),
                "max" => s.max.map(|v| v as f64),
                _ => None,
            }
        };
        let rate = |count: u64, errors: u64, error_rate: f64, d: &Summary| -> Option<f64> {
            match self.metric.as_str() {
                "count" => Some(count as f64),
                "errors" => Some(errors as f64),
                "error_rate" => Some(error_rate),
                _ => dur(d),
            }
        };
        let t = &r.transactions;
        match &self.scope {
            Scope::All => {
                let closed = t.closed;
                let errors: u64 = r.workflows.iter().map(|w| w.errors).sum();
                let error_rate = if closed == 0 {
                    0.0
                } else {
                    errors as f64 / closed as f64
                };
                let v = match self.metric.as_str() {
                    "malformed" => Some(r.events.malformed as f64),
                    "unknown_type" => Some(r.events.unknown_type as f64),
                    "orphan_closes" => Some(t.orphan_closes as f64),
                    "abandoned" => Some(t.abandoned as f64),
                    "duplicates" => Some(t.duplicates as f64),
                    "open_at_end" => Some(t.open_at_end as f64),
                    "outliers" => Some(r.gaps.outliers as f64),
                    _ => rate(closed, errors, error_rate, &t.duration_ms),
                };
                vec![("transactions".into(), v)]
            }
            Scope::Gap => vec![("gaps".into(), dur(&r.gaps.duration_ms))],
            Scope::Workflow(name) => r
                .workflows
                .iter()
                .filter(|w| w.workflow.as_deref() == Some(name))
                .map(|w| {
                    (
                        format!("workflow {name}"),
                        rate(w.count, w.errors, w.error_rate, &w.duration_ms),
                    )
                })
                .collect(),
            Scope::Step(name) => r
                .steps
                .iter()
                .filter(|s| &s.step == name)
                .map(|s| {
                    (
                        format!("step {}/{}", s.workflow.as_deref().unwrap_or("-"), s.step),
                        rate(s.count, s.errors, s.error_rate, &s.duration_ms),
                    )
                })
                .collect(),
        }
    }

    /// The violations of this objective in `r`, one line each. An objective with
    /// nothing to look at (no such step, no values) is violated: a gate must not
    /// pass on missing data.
    pub fn check(&self, r: &Report) -> Vec<String> {
        let rows = self.observed(r);
        if rows.is_empty() {
            return vec![format!(
                "{}: no data (nothing matches the scope)",
                self.text
            )];
        }
        rows.into_iter()
            .filter_map(|(what, v)| match v {
                None => Some(format!("{}: no data for {what}", self.text)),
                Some(v) => {
                    let hit = match self.op {
                        Op::Gt => v > self.value,
                        Op::Ge => v >= self.value,
                        Op::Lt => v < self.value,
                        Op::Le => v <= self.value,
                    };
                    hit.then(|| {
                        format!(
                            "{}: {what} {} is {}",
                            self.text,
                            self.metric,
                            Shown(&self.metric, v)
                        )
                    })
                }
            })
            .collect()
    }
}

/// A value as the objective's metric reads: ms for durations, % for rates.
struct Shown<'a>(&'a str, f64);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if DURATIONS.contains(&self.0) {
            write!(f, "{} ms", (self.1 * 10.0).round() / 10.0)
        } else if self.0 == "error_rate" {
            write!(f, "{:.2}%", self.1 * 100.0)
        } else {
            write!(f, "{}", self.1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_documented_forms() {
        let o = Objective::parse("step:charge_card:p95>500ms").unwrap();
        assert_eq!(o.scope, Scope::Step("charge_card".into()));
        assert_eq!((o.metric.as_str(), o.op, o.value), ("p95", Op::Gt, 500.0));
        assert_eq!(Objective::parse("p99>2s").unwrap().value, 2000.0);
        assert_eq!(Objective::parse("error_rate>0.01").unwrap().value, 0.01);
        assert_eq!(
            Objective::parse("workflow:checkout:error_rate>=5%")
                .unwrap()
                .value,
            0.05
        );
        assert_eq!(Objective::parse("gap:p99 > 15s").unwrap().scope, Scope::Gap);
        assert_eq!(Objective::parse("malformed>0").unwrap().op, Op::Gt);
    }

    #[test]
    fn bad_objectives_show_the_grammar() {
        for (text, why) in [
            ("p99", "no comparison (>, >=, <, <=)"),
            ("p42>1s", "unknown metric 'p42' here"),
            ("gap:error_rate>0.1", "unknown metric 'error_rate' here"),
            ("step:malformed>0", "unknown scope"),
            ("host:a:p99>1s", "unknown scope"),
            ("error_rate>lots", "not a number"),
        ] {
            let e = Objective::parse(text).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid objective '{text}': {why}\n")),
                "{e}"
            );
            assert!(e.ends_with(GRAMMAR));
        }
    }
}
