//! report.html: one page that opens from disk, with no network and no server.
//!
//! Every number on the page is read from the same [`wf_agg::Report`] that
//! `wf-agg --json` prints, by its path in that document; each cell carries the path
//! and the raw value (`data-field`, `data-value`), so a test (or a script) can check
//! the page against wf-agg's JSON. Images are referenced by relative paths, so the
//! folder can be moved or attached to a ticket whole.

use std::fmt::Write as _;

use serde_json::Value;

use crate::charts::{fmt_ms, Chart};
use wf_agg::Window;
use wf_events::units::{clock, utc};

/// What the page shows besides the report itself.
pub struct PageInput<'a> {
    /// The report as `wf-agg --json` prints it.
    pub report: &'a Value,
    /// Charts drawn, with whether an SVG was written too.
    pub charts: &'a [(Chart, bool)],
    pub windows: &'a [Window],
    pub window_ms: i64,
    /// Closes left out of the timeline for an absurd timestamp.
    pub windows_outside: u64,
    pub inputs: &'a [String],
    pub command_line: &'a str,
    pub csv: bool,
}

pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The value at a dotted path (`transactions.duration_ms.p95`, `steps.3.count`).
fn lookup<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) if v.is_array() => &v[i],
        _ => &v[k],
    })
}

/// How a value reads on the page.
fn show(path: &str, v: &Value) -> String {
    match v {
        Value::Null => "–".into(),
        Value::Number(n) if path.ends_with("error_rate") => {
            format!("{:.2}%", n.as_f64().unwrap_or(0.0) * 100.0)
        }
        Value::Number(n) if path.ends_with("mean") => format!("{:.1}", n.as_f64().unwrap_or(0.0)),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A table cell holding the report's value at `path`.
fn cell(report: &Value, path: &str) -> String {
    let v = lookup(report, path);
    format!(
        "<td{} data-field=\"{}\" data-value=\"{}\">{}</td>",
        if v.is_string() { " class=\"t\"" } else { "" },
        escape(path),
        escape(&v.to_string()),
        escape(&show(path, v))
    )
}

const DIST_FIELDS: [&str; 9] = [
    "count", "min", "mean", "p50", "p90", "p95", "p99", "p999", "max",
];

fn dist_header(first: &str) -> String {
    let mut h = format!("<tr><th>{first}</th>");
    for f in DIST_FIELDS {
        let name = if f == "p999" { "p99.9" } else { f };
        let unit = if f == "count" { "" } else { " (ms)" };
        let _ = write!(h, "<th>{name}{unit}</th>");
    }
    h.push_str("</tr>\n");
    h
}

fn dist_row(report: &Value, label: &str, path: &str) -> String {
    let mut row = format!("<tr><th>{}</th>", escape(label));
    for f in DIST_FIELDS {
        row.push_str(&cell(report, &format!("{path}.{f}")));
    }
    row.push_str("</tr>\n");
    row
}

fn kv_table(report: &Value, rows: &[(&str, &str)]) -> String {
    let mut t = String::from("<table class=\"kv\">\n");
    for (label, path) in rows {
        let _ = writeln!(
            t,
            "<tr><th>{}</th>{}</tr>",
            escape(label),
            cell(report, path)
        );
    }
    t.push_str("</table>\n");
    t
}

fn figure(chart: Chart, svg: bool) -> String {
    let stem = chart.file_stem();
    let mut f = format!(
        "<figure><img src=\"{stem}.png\" alt=\"{}\" loading=\"eager\">",
        escape(chart.title())
    );
    if svg {
        let _ = write!(f, "<figcaption><a href=\"{stem}.svg\">SVG</a></figcaption>");
    }
    f.push_str("</figure>\n");
    f
}

fn no_data(what: &str) -> String {
    format!("<p class=\"empty\">No {what} in the input, so there is no chart.</p>\n")
}

/// The anomalies of --window under the over-time chart: a table, or a line
/// saying there were none (and nothing without --window).
fn anomalies(r: &Value) -> String {
    let Some(found) = r["anomalies"].as_array() else {
        return String::new();
    };
    if found.is_empty() {
        return "<p id=\"anomalies\">No anomaly: every full window is like the run's median window.</p>\n".into();
    }
    let mut h = String::from("<h3 id=\"anomalies\">Anomalies (red on the chart)</h3>\n<table>\n<tr><th class=\"t\">window (UTC)</th><th class=\"t\">kind</th><th class=\"t\">metric</th><th>observed</th><th>expected</th></tr>\n");
    for (i, a) in found.iter().enumerate() {
        let (start, end) = (a["window_start_ms"].as_i64(), a["window_end_ms"].as_i64());
        let _ = write!(
            h,
            "<tr><td class=\"t\">{}–{}</td>",
            start.map_or_else(String::new, clock),
            end.map_or_else(String::new, clock)
        );
        for f in ["kind", "metric", "observed", "expected"] {
            h.push_str(&cell(r, &format!("anomalies.{i}.{f}")));
        }
        h.push_str("</tr>\n");
    }
    h.push_str("</table>\n");
    h
}

/// The whole page.
pub fn render(p: &PageInput<'_>) -> String {
    let r = p.report;
    let drawn = |c: Chart| p.charts.iter().find(|(d, _)| *d == c).map(|&(_, svg)| svg);
    let mut h = String::with_capacity(64 * 1024);
    h.push_str(HEAD);

    // Input summary.
    let total = r["events"]["total"].as_u64().unwrap_or(0);
    let malformed = r["events"]["malformed"].as_u64().unwrap_or(0);
    h.push_str("<section class=\"card\" id=\"input\"><h2>Input</h2>\n");
    let _ = writeln!(
        h,
        "<p class=\"inputs\">{}</p>",
        escape(&p.inputs.join(", "))
    );
    if total == 0 {
        let _ = writeln!(
            h,
            "<p class=\"empty\" id=\"no-events\">No events were read{}.</p>",
            if malformed > 0 {
                format!(": all {malformed} non-blank lines were malformed")
            } else {
                String::from(": the input was empty")
            }
        );
    }
    if let (Some(first), Some(last)) = (
        r["events"]["first_ts_ms"].as_i64(),
        r["events"]["last_ts_ms"].as_i64(),
    ) {
        let _ = writeln!(
            h,
            "<p>From {} to {} ({} of event time).</p>",
            utc(first),
            utc(last),
            fmt_ms(last.saturating_sub(first) as f64)
        );
    }
    h.push_str("<div class=\"cols\">");
    h.push_str(&kv_table(
        r,
        &[
            ("events", "events.total"),
            ("transaction_open", "events.by_type.transaction_open"),
            ("step_open", "events.by_type.step_open"),
            ("step_done", "events.by_type.step_done"),
            ("inter_step_wait", "events.by_type.inter_step_wait"),
            ("transaction_close", "events.by_type.transaction_close"),
            ("unknown type", "events.unknown_type"),
            ("malformed lines", "events.malformed"),
        ],
    ));
    h.push_str(&kv_table(
        r,
        &[
            ("transactions closed", "transactions.closed"),
            ("open at end", "transactions.open_at_end"),
            ("abandoned", "transactions.abandoned"),
            ("orphan closes", "transactions.orphan_closes"),
            ("duplicates", "transactions.duplicates"),
        ],
    ));
    h.push_str("</div></section>\n");

    // 1. Transactions.
    h.push_str(
        "<section class=\"card\" id=\"transactions\"><h2>Transaction durations</h2>\n<table>\n",
    );
    h.push_str(&dist_header(""));
    h.push_str(&dist_row(r, "transactions", "transactions.duration_ms"));
    h.push_str("</table>\n");
    match drawn(Chart::Transactions) {
        Some(svg) => h.push_str(&figure(Chart::Transactions, svg)),
        None => h.push_str(&no_data("closed transactions")),
    }
    h.push_str("</section>\n");

    // 2. Gaps.
    let source = r["gaps"]["source"].as_str().unwrap_or("planned");
    let _ = writeln!(
        h,
        "<section class=\"card\" id=\"gaps\"><h2>Inter-step gaps</h2>\n<p>Gaps are {}.</p>",
        if source == "derived" {
            "measured from each step_done to the next step_open"
        } else {
            "the planned waits (planned_wait_ms) of inter_step_wait events"
        }
    );
    h.push_str("<table>\n");
    h.push_str(&dist_header(""));
    h.push_str(&dist_row(r, "gaps", "gaps.duration_ms"));
    h.push_str(&dist_row(
        r,
        "lateness (observed − planned)",
        "gaps.lateness_ms",
    ));
    h.push_str("</table>\n");
    h.push_str(&kv_table(
        r,
        &[
            ("source", "gaps.source"),
            ("outlier threshold (ms)", "gaps.outlier_threshold_ms"),
            ("outliers", "gaps.outliers"),
            ("injected outliers", "gaps.injected_outliers"),
        ],
    ));
    match drawn(Chart::Gaps) {
        Some(svg) => h.push_str(&figure(Chart::Gaps, svg)),
        None => h.push_str(&no_data("inter-step gaps")),
    }
    h.push_str("</section>\n");

    // 3. Percentiles.
    h.push_str(
        "<section class=\"card\" id=\"percentiles\"><h2>Latency by percentile</h2>\n<table>\n",
    );
    h.push_str(&dist_header(""));
    h.push_str(&dist_row(r, "transactions", "transactions.duration_ms"));
    h.push_str(&dist_row(r, "inter-step gaps", "gaps.duration_ms"));
    h.push_str("</table>\n");
    match drawn(Chart::Percentiles) {
        Some(svg) => h.push_str(&figure(Chart::Percentiles, svg)),
        None => h.push_str(&no_data("latencies")),
    }
    h.push_str("</section>\n");

    // 4. Steps and workflows.
    h.push_str("<section class=\"card\" id=\"steps\"><h2>Steps</h2>\n");
    if let Some(steps) = r["steps"].as_array() {
        h.push_str("<table>\n<tr><th class=\"t\">workflow</th><th class=\"t\">step</th><th class=\"t\">health</th><th>count</th><th>errors</th><th>error rate</th>");
        for f in &DIST_FIELDS[1..] {
            let _ = write!(
                h,
                "<th>{} (ms)</th>",
                if *f == "p999" { "p99.9" } else { f }
            );
        }
        h.push_str("<th class=\"t\">why</th></tr>\n");
        for i in 0..steps.len() {
            h.push_str("<tr>");
            for f in [
                "workflow",
                "step",
                "health",
                "count",
                "errors",
                "error_rate",
            ] {
                h.push_str(&cell(r, &format!("steps.{i}.{f}")));
            }
            for f in &DIST_FIELDS[1..] {
                h.push_str(&cell(r, &format!("steps.{i}.duration_ms.{f}")));
            }
            h.push_str(&cell(r, &format!("steps.{i}.health_reason")));
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    match drawn(Chart::Steps) {
        Some(svg) => h.push_str(&figure(Chart::Steps, svg)),
        None => h.push_str(&no_data("steps")),
    }
    if let Some(workflows) = r["workflows"].as_array().filter(|w| !w.is_empty()) {
        h.push_str("<h3>Workflows (transaction duration)</h3>\n<table>\n<tr><th>workflow</th><th class=\"t\">health</th><th>count</th><th>errors</th><th>error rate</th>");
        for f in &DIST_FIELDS[1..] {
            let _ = write!(
                h,
                "<th>{} (ms)</th>",
                if *f == "p999" { "p99.9" } else { f }
            );
        }
        h.push_str("<th class=\"t\">why</th></tr>\n");
        for i in 0..workflows.len() {
            h.push_str("<tr>");
            for f in ["workflow", "health", "count", "errors", "error_rate"] {
                h.push_str(&cell(r, &format!("workflows.{i}.{f}")));
            }
            for f in &DIST_FIELDS[1..] {
                h.push_str(&cell(r, &format!("workflows.{i}.duration_ms.{f}")));
            }
            h.push_str(&cell(r, &format!("workflows.{i}.health_reason")));
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");

    // 5. Over time.
    h.push_str("<section class=\"card\" id=\"over-time\"><h2>Over time</h2>\n");
    match drawn(Chart::OverTime) {
        Some(svg) => {
            let _ = writeln!(
                h,
                "<p>Transactions by the time they closed, in {} windows of {}.</p>",
                p.windows.len(),
                fmt_ms(p.window_ms as f64)
            );
            if p.windows_outside > 0 {
                let _ = writeln!(
                    h,
                    "<p class=\"empty\">{} closes with a ts_ms too far from the others (or before 1970) are left out of this chart.</p>",
                    p.windows_outside
                );
            }
            h.push_str(&figure(Chart::OverTime, svg));
            h.push_str(&anomalies(r));
            h.push_str("<details><summary>Windows</summary>\n<table>\n<tr><th>window (UTC)</th><th>closed</th><th>errors</th><th>per second</th><th>p50 (ms)</th><th>p95 (ms)</th><th>p99 (ms)</th></tr>\n");
            for w in p.windows {
                let d = &w.duration_ms;
                let opt = |v: Option<i64>| v.map_or_else(|| "–".to_string(), |v| v.to_string());
                let _ = writeln!(
                    h,
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{:.2}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                    clock(w.start_ms),
                    w.closed,
                    w.errors,
                    w.throughput,
                    opt(d.p50),
                    opt(d.p95),
                    opt(d.p99)
                );
            }
            h.push_str("</table></details>\n");
        }
        None => h.push_str(&no_data("closed transactions")),
    }
    h.push_str("</section>\n");

    // Slowest transactions and errors.
    h.push_str("<section class=\"card\" id=\"slowest\"><h2>Slowest transactions</h2>\n");
    match r["transactions"]["slowest"]
        .as_array()
        .filter(|s| !s.is_empty())
    {
        Some(slowest) => {
            h.push_str("<table>\n<tr><th class=\"t\">txn_id</th><th>duration (ms)</th></tr>\n");
            for i in 0..slowest.len() {
                let _ = writeln!(
                    h,
                    "<tr>{}{}</tr>",
                    cell(r, &format!("transactions.slowest.{i}.txn_id")),
                    cell(r, &format!("transactions.slowest.{i}.duration_ms"))
                );
            }
            h.push_str("</table>\n");
        }
        None => h.push_str("<p class=\"empty\">No closed transactions.</p>\n"),
    }
    h.push_str("</section>\n<section class=\"card\" id=\"errors\"><h2>Errors</h2>\n");
    match r["errors"].as_array().filter(|e| !e.is_empty()) {
        Some(errors) => {
            h.push_str("<table>\n<tr><th class=\"t\">error</th><th>count</th></tr>\n");
            for i in 0..errors.len() {
                let _ = writeln!(
                    h,
                    "<tr>{}{}</tr>",
                    cell(r, &format!("errors.{i}.error")),
                    cell(r, &format!("errors.{i}.count"))
                );
            }
            h.push_str("</table>\n");
        }
        None => h.push_str("<p class=\"empty\">No step failed.</p>\n"),
    }
    if let Some(patterns) = r["error_patterns"].as_array().filter(|e| !e.is_empty()) {
        h.push_str("<h3>Error patterns (by step)</h3>\n<table>\n<tr><th class=\"t\">workflow</th><th class=\"t\">step</th><th class=\"t\">error</th><th>count</th><th>first seen</th><th>last seen</th></tr>\n");
        for (i, pat) in patterns.iter().enumerate() {
            h.push_str("<tr>");
            for f in ["workflow", "step", "error", "count"] {
                h.push_str(&cell(r, &format!("error_patterns.{i}.{f}")));
            }
            for f in ["first_seen_ms", "last_seen_ms"] {
                let _ = write!(
                    h,
                    "<td data-field=\"error_patterns.{i}.{f}\" data-value=\"{}\">{}</td>",
                    pat[f],
                    pat[f].as_i64().map_or_else(|| "–".to_string(), utc)
                );
            }
            h.push_str("</tr>\n");
        }
        h.push_str("</table>\n");
    }
    h.push_str("</section>\n");

    let _ = writeln!(
        h,
        "<footer>wf-plot {}{} · <code>{}</code></footer>",
        wf_events::VERSION,
        if p.csv {
            " · <a href=\"txn_durations.csv\">txn_durations.csv</a> · <a href=\"inter_step_gaps.csv\">inter_step_gaps.csv</a>"
        } else {
            ""
        },
        escape(p.command_line)
    );
    h.push_str(TAIL);
    h
}

const HEAD: &str = r#"<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Workflow latency report</title>
<style>
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif; margin: 0 auto; max-width: 1080px; padding: 20px; line-height: 1.4; color: #222; }
h1 { margin-top: 0; }
.card { border: 1px solid #ddd; border-radius: 10px; padding: 12px 16px; margin: 14px 0; }
table { border-collapse: collapse; margin: 8px 0; font-variant-numeric: tabular-nums; }
th, td { padding: 3px 9px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child, th.t, td.t { text-align: left; }
table.kv { display: inline-table; margin-right: 32px; vertical-align: top; }
img { max-width: 100%; height: auto; border: 1px solid #eee; border-radius: 6px; }
figure { margin: 10px 0; }
.empty { color: #a33; }
.inputs { color: #555; }
footer { margin-top: 20px; color: #666; font-size: 12px; }
</style>
</head>
<body>
<h1>Workflow latency report</h1>
"#;

/// Marks on <html> how many images loaded and failed, for people and for tests.
const TAIL: &str = r#"<script>
window.addEventListener("load", function () {
  var ok = 0, bad = 0;
  document.querySelectorAll("img").forEach(function (img) {
    if (img.complete && img.naturalWidth > 0) { ok++; } else { bad++; }
  });
  document.documentElement.setAttribute("data-images-loaded", ok);
  document.documentElement.setAttribute("data-images-failed", bad);
});
</script>
</body>
</html>
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_carry_path_value_and_text() {
        let r: Value =
            serde_json::json!({"a": {"b": [{"mean": 12.345, "error_rate": 0.125, "name": "x<y"}]}});
        assert_eq!(
            cell(&r, "a.b.0.mean"),
            "<td data-field=\"a.b.0.mean\" data-value=\"12.345\">12.3</td>"
        );
        assert_eq!(
            cell(&r, "a.b.0.error_rate"),
            "<td data-field=\"a.b.0.error_rate\" data-value=\"0.125\">12.50%</td>"
        );
        assert_eq!(
            cell(&r, "a.b.0.name"),
            "<td class=\"t\" data-field=\"a.b.0.name\" data-value=\"&quot;x&lt;y&quot;\">x&lt;y</td>"
        );
        assert_eq!(
            cell(&r, "a.nope"),
            "<td data-field=\"a.nope\" data-value=\"null\">–</td>"
        );
    }
}
