//! The aligned, readable text report (wf-agg's default output).

use std::fmt::Write as _;

use crate::aggregate::Report;
use crate::hist::Summary;

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

const ROW_HEADER: [&str; 9] = [
    "workflow",
    "step",
    "count",
    "errors",
    "error rate",
    "p50",
    "p95",
    "p99",
    "max",
];

fn name_or_dash(name: &Option<String>) -> String {
    name.clone().unwrap_or_else(|| "-".into())
}

/// The cells a workflow row and a step row share.
fn row_cells(count: u64, errors: u64, error_rate: f64, d: &Summary) -> Vec<String> {
    vec![
        count.to_string(),
        errors.to_string(),
        pct(error_rate),
        opt(d.p50),
        opt(d.p95),
        opt(d.p99),
        opt(d.max),
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
            cells.extend(row_cells(w.count, w.errors, w.error_rate, &w.duration_ms));
            t.row(cells);
        }
        t.render(&mut out, "  ");
    }

    if !r.steps.is_empty() {
        let _ = writeln!(out, "\nSteps (step duration, ms):");
        let mut t = Table::new(2, &ROW_HEADER);
        for s in &r.steps {
            let mut cells = vec![name_or_dash(&s.workflow), s.step.clone()];
            cells.extend(row_cells(s.count, s.errors, s.error_rate, &s.duration_ms));
            t.row(cells);
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
    out
}
