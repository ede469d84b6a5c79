//! `wf-agg --watch`: a console dashboard of a live stream, redrawn every
//! second: events per second, open transactions, p95 per workflow, a health mark
//! per step, recent errors and anomalies.
//!
//! A frame is plain text built from the same report as wf-agg's output; on a
//! terminal it is drawn with ANSI (the alternate screen, colours), which the
//! caller leaves on exit, and off a terminal the same text is printed as a
//! periodic summary. Rendering is a pure function so tests can check it.

use std::fmt::Write as _;

use wf_events::units::clock;

use crate::aggregate::{LiveView, Report};
use crate::health::Health;

/// What one frame shows besides the report.
pub struct Frame<'a> {
    pub report: &'a Report,
    pub live: Option<&'a LiveView>,
    pub open: u64,
    /// Events per second over the last interval.
    pub rate: f64,
    /// Where events come from (stdin, a file, Kafka).
    pub source: &'a str,
    /// ANSI colours for the health marks.
    pub color: bool,
    /// Rows of the terminal: the frame is cut to fit (0: no limit).
    pub rows: usize,
    /// Columns of the terminal: each line is cut to fit (0: no limit).
    pub cols: usize,
    /// Whether the input has ended.
    pub ended: bool,
}

fn mark(h: Health, color: bool) -> String {
    let (sym, code) = match h {
        Health::Healthy => ("●", "32"),
        Health::Degraded => ("▲", "33"),
        Health::Failed => ("✖", "31"),
    };
    if color {
        format!("\x1b[{code}m{sym} {}\x1b[0m", h.as_str())
    } else {
        format!("{sym} {}", h.as_str())
    }
}

fn ms(v: Option<i64>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

/// Thousands separated by commas: 1234567 → "1,234,567".
pub fn grouped(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// The frame as lines of text (with ANSI colour codes when `color`).
pub fn render(f: &Frame<'_>) -> String {
    let r = f.report;
    let mut out = String::new();
    let when = r.events.last_ts_ms.map_or_else(
        || "no events yet".to_string(),
        |t| format!("event time {} UTC", clock(t)),
    );
    let state = if f.ended { "input ended" } else { "live" };
    let _ = writeln!(out, "wf-agg --watch · {} · {when} · {state}", f.source);
    let _ = writeln!(
        out,
        "events {}  ({:.0}/s)   open {}   closed {}   malformed {}",
        grouped(r.events.total),
        f.rate,
        grouped(f.open),
        grouped(r.transactions.closed),
        grouped(r.events.malformed)
    );

    out.push_str("\nWORKFLOW              CLOSED  ERRORS     P50     P95     P99  HEALTH\n");
    for w in &r.workflows {
        let _ = writeln!(
            out,
            "{:<20} {:>7} {:>6.1}% {:>7} {:>7} {:>7}  {}",
            w.workflow.as_deref().unwrap_or("-"),
            w.count,
            w.error_rate * 100.0,
            ms(w.duration_ms.p50),
            ms(w.duration_ms.p95),
            ms(w.duration_ms.p99),
            mark(w.health, f.color)
        );
    }

    out.push_str("\nSTEP                                 COUNT  ERRORS     P95  HEALTH\n");
    for s in &r.steps {
        let name = format!("{}/{}", s.workflow.as_deref().unwrap_or("-"), s.step);
        let why = s
            .health_reason
            .as_deref()
            .map_or_else(String::new, |w| format!("  {w}"));
        let _ = writeln!(
            out,
            "{:<35} {:>7} {:>6.1}% {:>7}  {}{why}",
            name,
            s.count,
            s.error_rate * 100.0,
            ms(s.duration_ms.p95),
            mark(s.health, f.color)
        );
    }

    if let Some(live) = f.live {
        out.push_str("\nRECENT ERRORS\n");
        if live.recent_errors.is_empty() {
            out.push_str("  none\n");
        }
        for e in live.recent_errors.iter().rev().take(5) {
            let _ = writeln!(
                out,
                "  {}  {}/{}  {}  txn {}",
                clock(e.ts_ms),
                e.workflow.as_deref().unwrap_or("-"),
                e.step,
                e.error,
                e.txn_id
            );
        }
        out.push_str("\nANOMALIES\n");
        if live.anomalies.is_empty() {
            out.push_str("  none\n");
        }
        for a in live.anomalies.iter().rev().take(5) {
            let _ = writeln!(
                out,
                "  {}–{}  {} {}: {:.3} (expected {:.3})",
                clock(a.window_start_ms),
                clock(a.window_end_ms),
                a.kind.as_str(),
                a.metric,
                a.observed,
                a.expected
            );
        }
    }
    if f.cols > 0 {
        out = out
            .lines()
            .map(|l| fit(l, f.cols))
            .collect::<Vec<_>>()
            .join("\n");
        out.push('\n');
    }
    if f.rows > 0 {
        let lines: Vec<&str> = out.lines().collect();
        if lines.len() > f.rows {
            let mut cut: String = lines[..f.rows - 1].join("\n");
            let _ = write!(
                cut,
                "\n… {} more lines (a taller terminal shows them)",
                lines.len() - f.rows + 1
            );
            cut.push('\n');
            return cut;
        }
    }
    out
}

/// `line` cut to `cols` visible characters; colour codes do not count and are
/// kept (with a reset if one was cut off).
fn fit(line: &str, cols: usize) -> String {
    let mut out = String::with_capacity(line.len());
    let mut visible = 0;
    let mut chars = line.chars().peekable();
    let mut cut = false;
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            out.push(c);
            for d in chars.by_ref() {
                out.push(d);
                if d.is_ascii_alphabetic() {
                    break;
                }
            }
            continue;
        }
        if visible == cols {
            cut = true;
            break;
        }
        out.push(c);
        visible += 1;
    }
    if cut && out.contains('\x1b') {
        out.push_str("\x1b[0m");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Aggregator, Options};
    use wf_events::{Event, EventType, Status};

    fn ev(kind: EventType, id: &str, ts: i64) -> Event<'static> {
        let mut e = Event::new(kind, id.to_string(), ts);
        e.workflow = Some("checkout".into());
        e
    }

    #[test]
    fn a_frame_shows_health_errors_and_counts() {
        let mut agg = Aggregator::new(Options::default());
        agg.watch(60_000);
        let t0 = 1_767_225_600_000;
        agg.apply(&ev(EventType::TransactionOpen, "a", t0));
        let mut open = ev(EventType::StepOpen, "a", t0);
        open.step = Some("charge".into());
        agg.apply(&open);
        let mut done = ev(EventType::StepDone, "a", t0 + 1500);
        done.step = Some("charge".into());
        done.duration_ms = Some(1500);
        done.status = Some(Status::Error);
        done.error = Some("CardDeclined".into());
        agg.apply(&done);
        agg.apply(&ev(EventType::TransactionClose, "a", t0 + 1600));
        agg.apply(&ev(EventType::TransactionOpen, "b", t0 + 2000));
        let report = agg.report();
        let text = render(&Frame {
            report: &report,
            live: agg.live(),
            open: agg.open_transactions(),
            rate: 1234.4,
            source: "stdin",
            color: false,
            rows: 0,
            cols: 0,
            ended: false,
        });
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            "wf-agg --watch · stdin · event time 00:00:02 UTC · live"
        );
        assert_eq!(
            lines[1],
            "events 5  (1234/s)   open 1   closed 1   malformed 0"
        );
        assert!(text.contains(
            "checkout/charge                           1  100.0%    1500  ✖ failed  error rate 100.0% > 20%; p95 1500 ms > 1000 ms\n"
        ), "{text}");
        assert!(
            text.contains("  00:00:01  checkout/charge  CardDeclined  txn a\n"),
            "{text}"
        );
        assert!(text.contains("ANOMALIES\n  none\n"), "{text}");
        // Cut to the terminal's rows, saying so.
        let short = render(&Frame {
            report: &report,
            live: agg.live(),
            open: 1,
            rate: 0.0,
            source: "stdin",
            color: true,
            rows: 6,
            cols: 0,
            ended: true,
        });
        assert_eq!(short.lines().count(), 6);
        assert!(short.ends_with("more lines (a taller terminal shows them)\n"));
        assert!(short.contains("· input ended"));
        // And to its columns.
        let narrow = render(&Frame {
            report: &report,
            live: agg.live(),
            open: 1,
            rate: 0.0,
            source: "stdin",
            color: false,
            rows: 0,
            cols: 30,
            ended: true,
        });
        assert_eq!(
            narrow.lines().nth(1),
            Some("events 5  (0/s)   open 1   clo")
        );
        assert!(narrow.lines().all(|l| l.chars().count() <= 30), "{narrow}");
    }

    #[test]
    fn lines_fit_the_terminal_width_colour_codes_aside() {
        assert_eq!(fit("abcdef", 4), "abcd");
        assert_eq!(fit("abc", 4), "abc");
        assert_eq!(fit("ab\x1b[31m● failed\x1b[0m", 4), "ab\x1b[31m● \x1b[0m");
        assert_eq!(fit("\x1b[32m●\x1b[0m x", 3), "\x1b[32m●\x1b[0m x");
    }

    #[test]
    fn thousands() {
        assert_eq!(grouped(0), "0");
        assert_eq!(grouped(999), "999");
        assert_eq!(grouped(1_000), "1,000");
        assert_eq!(grouped(1_234_567), "1,234,567");
    }
}
