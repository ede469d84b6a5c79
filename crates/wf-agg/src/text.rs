//! The aligned, readable text report (wf-agg's default output).

use std::fmt::Write as _;

use crate::aggregate::Report;
use crate::health::Health;
use crate::hist::Summary;
use wf_events::units::{clock, utc};

/// A table whose first `left` columns are left-aligned and the rest right-aligned.
struct Table {
    left: usize,
    rows: Vec<Vec<String>>,
}

impl Table {
    fn new(left: usize, header: &[&str]) -> Table {
        Table {
            left,
            rows: vec![header.iter().map(|h| h.to_string()).collect()],
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    fn render(&self, out: &mut String, indent: &str) {
        let cols = self.rows.iter().map(Vec::len).max().unwrap_or(0);
        let widths: Vec<usize> = (0..cols)
            .map(|c| {
                self.rows
                    .iter()
                    .filter_map(|r| r.get(c))
                    .map(|s| s.chars().count())
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        for row in &self.rows {
            let mut line = String::from(indent);
            for (c, cell) in row.iter().enumerate() {
                if c > 0 {
                    line.push_str("  ");
                }
                let pad = widths[c].saturating_sub(cell.chars().count());
                if c < self.left {
                    line.push_str(cell);
                    line.extend(std::iter::repeat_n(' ', pad));
                } else {
                    line.extend(std::iter::repeat_n(' ', pad));
                    line.push_str(cell);
                }
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
}

fn opt(v: Option<i64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| v.to_string())
}

fn mean(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.1}"))
}

fn pct(rate: f64) -> String {
    format!("{:.2}%", rate * 100.0)
}

const DIST_HEADER: [&str; 10] = [
    "", "count", "min", "mean", "p50", "p90", "p95", "p99", "p99.9", "max",
];

fn dist_cells(name: &str, s: &Summary) -> Vec<String> {
    vec![
        name.to_string(),
        s.count.to_string(),
        opt(s.min),
        mean(s.mean),
        opt(s.p50),
        opt(s.p90),
        opt(s.p95),
        opt(s.p99),
        opt(s.p999),
        opt(s.max),
    ]
}

const ROW_HEADER: [&str; 10] = [
    "workflow",
    "step",
    "count",
    "errors",
    "error rate",
    "p50",
    "p95",
    "p99",
    "max",
    "health",
];

fn name_or_dash(name: &Option<String>) -> String {
    name.clone().unwrap_or_else(|| "-".into())
}

/// The cells a workflow row and a step row share.
fn row_cells(count: u64, errors: u64, error_rate: f64, d: &Summary, h: Health) -> Vec<String> {
    vec![
        count.to_string(),
        errors.to_string(),
        pct(error_rate),
        opt(d.p50),
        opt(d.p95),
        opt(d.p99),
        opt(d.max),
        h.as_str().to_string(),
    ]
}

/// Renders the report as text.
pub fn render(r: &Report) -> String {
    let mut out = String::new();
    let e = &r.events;
    let _ = writeln!(out, "Events: {} read", e.total);
    let mut t = Table::new(1, &["", ""]);
    for (name, n) in [
        ("transaction_open", e.by_type.transaction_open),
        ("step_open", e.by_type.step_open),
        ("step_done", e.by_type.step_done),
        ("inter_step_wait", e.by_type.inter_step_wait),
        ("transaction_close", e.by_type.transaction_close),
        ("unknown type", e.unknown_type),
        ("malformed lines", e.malformed),
    ] {
        t.row(vec![name.to_string(), n.to_string()]);
    }
    t.rows.remove(0);
    t.render(&mut out, "  ");

    let x = &r.transactions;
    let _ = writeln!(
        out,
        "\nTransactions: {} closed, {} open at end, {} abandoned, {} orphan closes, {} duplicates",
        x.closed, x.open_at_end, x.abandoned, x.orphan_closes, x.duplicates
    );
    let g = &r.gaps;
    let mut t = Table::new(1, &DIST_HEADER);
    t.row(dist_cells("transaction duration (ms)", &x.duration_ms));
    t.row(dist_cells(
        &format!("inter-step gap, {} (ms)", g.source),
        &g.duration_ms,
    ));
    if g.lateness_ms.count > 0 {
        t.row(dist_cells("gap lateness vs planned (ms)", &g.lateness_ms));
    }
    out.push('\n');
    t.render(&mut out, "  ");
    let _ = writeln!(
        out,
        "\nInter-step gaps: {} outliers >= {} ms, {} injected outliers seen",
        g.outliers, g.outlier_threshold_ms, g.injected_outliers
    );

    if !x.slowest.is_empty() {
        let _ = writeln!(out, "\nSlowest transactions:");
        let mut t = Table::new(1, &["txn_id", "duration (ms)"]);
        for s in &x.slowest {
            t.row(vec![s.txn_id.clone(), s.duration_ms.to_string()]);
        }
        t.render(&mut out, "  ");
    }

    if !r.workflows.is_empty() {
        let _ = writeln!(out, "\nWorkflows (transaction duration, ms):");
        let header: Vec<&str> = ROW_HEADER
            .iter()
            .copied()
            .filter(|&h| h != "step")
            .collect();
        let mut t = Table::new(1, &header);
        for w in &r.workflows {
            let mut cells = vec![name_or_dash(&w.workflow)];
            cells.extend(row_cells(
                w.count,
                w.errors,
                w.error_rate,
                &w.duration_ms,
                w.health,
            ));
            t.row(cells);
        }
        t.render(&mut out, "  ");
    }

    if !r.steps.is_empty() {
        let _ = writeln!(out, "\nSteps (step duration, ms):");
        let mut t = Table::new(2, &ROW_HEADER);
        for s in &r.steps {
            let mut cells = vec![name_or_dash(&s.workflow), s.step.clone()];
            cells.extend(row_cells(
                s.count,
                s.errors,
                s.error_rate,
                &s.duration_ms,
                s.health,
            ));
            t.row(cells);
        }
        t.render(&mut out, "  ");
    }

    let unwell: Vec<(String, Health, &str)> = r
        .workflows
        .iter()
        .filter_map(|w| {
            let why = w.health_reason.as_deref()?;
            Some((name_or_dash(&w.workflow), w.health, why))
        })
        .chain(r.steps.iter().filter_map(|s| {
            let why = s.health_reason.as_deref()?;
            let wf = name_or_dash(&s.workflow);
            Some((format!("{wf} / {}", s.step), s.health, why))
        }))
        .collect();
    if !unwell.is_empty() {
        let _ = writeln!(out, "\nNot healthy:");
        let mut t = Table::new(3, &["workflow / step", "health", "why"]);
        for (name, h, why) in unwell {
            t.row(vec![name, h.as_str().to_string(), why.to_string()]);
        }
        t.render(&mut out, "  ");
    }

    if !r.errors.is_empty() {
        let _ = writeln!(out, "\nErrors:");
        let mut t = Table::new(1, &["error", "count"]);
        for e in &r.errors {
            t.row(vec![e.error.clone(), e.count.to_string()]);
        }
        t.render(&mut out, "  ");
    }

    if !r.error_patterns.is_empty() {
        let _ = writeln!(out, "\nError patterns (by step):");
        let mut t = Table::new(
            3,
            &[
                "workflow",
                "step",
                "error",
                "count",
                "first seen",
                "last seen",
            ],
        );
        for p in &r.error_patterns {
            t.row(vec![
                name_or_dash(&p.workflow),
                p.step.clone(),
                p.error.clone(),
                p.count.to_string(),
                utc(p.first_seen_ms),
                utc(p.last_seen_ms),
            ]);
        }
        t.render(&mut out, "  ");
    }

    if let Some(w) = &r.windows {
        let _ = writeln!(
            out,
            "\nWindows ({} s each, by transaction close; percentiles at 2 significant digits):",
            w.window_ms as f64 / 1000.0
        );
        let mut t = Table::new(
            1,
            &[
                "window (UTC)",
                "closed",
                "per second",
                "error rate",
                "p50",
                "p95",
                "p99",
            ],
        );
        for x in &w.items {
            t.row(vec![
                clock(x.start_ms),
                x.closed.to_string(),
                format!("{:.2}", x.throughput),
                pct(x.error_rate),
                opt(x.duration_ms.p50),
                opt(x.duration_ms.p95),
                opt(x.duration_ms.p99),
            ]);
        }
        t.render(&mut out, "  ");
        if w.left_out > 0 {
            let _ = writeln!(
                out,
                "  {} closes too far from the others for a window were left out",
                w.left_out
            );
        }
    }

    if let Some(found) = &r.anomalies {
        if found.is_empty() {
            let _ = writeln!(out, "\nAnomalies: none");
        } else {
            let _ = writeln!(out, "\nAnomalies:");
            let mut t = Table::new(
                3,
                &["window (UTC)", "kind", "metric", "observed", "expected"],
            );
            for a in found {
                let num = |v: f64| {
                    if a.metric == "error_rate" {
                        pct(v)
                    } else {
                        format!("{v:.1}")
                    }
                };
                t.row(vec![
                    format!("{}–{}", clock(a.window_start_ms), clock(a.window_end_ms)),
                    a.kind.as_str().to_string(),
                    a.metric.to_string(),
                    num(a.observed),
                    num(a.expected),
                ]);
            }
            t.render(&mut out, "  ");
        }
    }
    out
}
