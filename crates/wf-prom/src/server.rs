//! The HTTP side: /metrics, /health, /info and a small index page, on tiny_http.
//!
//! Requests are answered on their own threads, so a slow client holds up neither
//! ingest nor other scrapes. Metrics are atomics: encoding reads them while ingest
//! goes on.

use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::registry::Registry;
use tiny_http::{Header, Method, Request, Response, Server};

use crate::metrics::Progress;

pub struct Shared {
    pub registry: Registry,
    pub progress: Arc<Progress>,
    pub started: Instant,
    /// The effective configuration, as /info shows it.
    pub config: serde_json::Value,
    /// Requests being answered, so that shutdown can let them finish.
    pub active: AtomicUsize,
}

const OPENMETRICS: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
const PROMETHEUS_TEXT: &str = "text/plain; version=0.0.4; charset=utf-8";

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn respond(req: Request, code: u16, content_type: &str, body: String) {
    let mut response: Response<Cursor<Vec<u8>>> =
        Response::from_string(body).with_status_code(code);
    // Our content types are ASCII constants, so the header always parses.
    if let Ok(h) = Header::from_bytes(&b"Content-Type"[..], content_type.as_bytes()) {
        response = response.with_header(h);
    }
    // A client that went away is its own business.
    let _ = req.respond(response);
}

/// The registry as OpenMetrics text.
pub fn openmetrics(registry: &Registry) -> String {
    let mut out = String::new();
    // Encoding into a String cannot fail.
    let _ = prometheus_client::encoding::text::encode(&mut out, registry);
    out
}

/// OpenMetrics text rewritten as the Prometheus text format (0.0.4): counter
/// families carry their `_total` name in HELP and TYPE, and the `# EOF` and
/// `# UNIT` lines go.
pub fn prometheus_text(openmetrics: &str) -> String {
    let counters: Vec<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len());
    for line in openmetrics.lines() {
        if line == "# EOF" || line.starts_with("# UNIT ") {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters
                .contains(&name)
                .then(|| format!("{prefix}{name}_total {tail}"))
        });
        match renamed {
            Some(l) => out.push_str(&l),
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

fn wants_openmetrics(req: &Request) -> bool {
    req.headers().iter().any(|h| {
        h.field.equiv("Accept") && h.value.as_str().contains("application/openmetrics-text")
    })
}

fn health(shared: &Shared) -> String {
    let p = &shared.progress;
    let last = p.last_event_wall_ms.load(Ordering::Relaxed);
    let since = if last == 0 {
        serde_json::Value::Null
    } else {
        serde_json::json!(now_ms().saturating_sub(last) as f64 / 1000.0)
    };
    let doc = serde_json::json!({
        "status": "ok",
        "uptime_seconds": shared.started.elapsed().as_secs_f64(),
        "events_read": p.events(),
        "malformed_lines": p.malformed(),
        "seconds_since_last_event": since,
    });
    format!("{doc}\n")
}

const INDEX: &str = "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>wf-prom</title></head>\n<body><h1>wf-prom</h1><ul>\n<li><a href=\"metrics\">/metrics</a>: Prometheus metrics</li>\n<li><a href=\"health\">/health</a>: liveness and progress (JSON)</li>\n<li><a href=\"info\">/info</a>: version and configuration (JSON)</li>\n</ul></body></html>\n";

/// Answers one request.
pub fn handle(req: Request, shared: &Shared) {
    if *req.method() != Method::Get && *req.method() != Method::Head {
        return respond(
            req,
            405,
            "text/plain; charset=utf-8",
            "method not allowed: use GET\n".into(),
        );
    }
    let path = req.url().split('?').next().unwrap_or("").to_string();
    match path.as_str() {
        "/metrics" => {
            let text = openmetrics(&shared.registry);
            if wants_openmetrics(&req) {
                respond(req, 200, OPENMETRICS, text)
            } else {
                respond(req, 200, PROMETHEUS_TEXT, prometheus_text(&text))
            }
        }
        "/health" => respond(req, 200, "application/json", health(shared)),
        "/info" => {
            let doc = serde_json::json!({
                "name": "wf-prom",
                "version": wf_events::VERSION,
                "config": shared.config,
            });
            respond(req, 200, "application/json", format!("{doc}\n"))
        }
        "/" => respond(req, 200, "text/html; charset=utf-8", INDEX.into()),
        _ => respond(
            req,
            404,
            "text/plain; charset=utf-8",
            format!("not found: {path}\n"),
        ),
    }
}

/// Serves until the server is dropped: each request on a thread of its own.
pub fn serve(server: Arc<Server>, shared: Arc<Shared>) {
    for req in server.incoming_requests() {
        let shared = Arc::clone(&shared);
        shared.active.fetch_add(1, Ordering::SeqCst);
        std::thread::spawn(move || {
            handle(req, &shared);
            shared.active.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_get_their_total_name_in_prometheus_text() {
        let om = "# HELP wf_events Events read.\n# TYPE wf_events counter\nwf_events_total{type=\"step_open\"} 3\n# HELP wf_open_transactions Open.\n# TYPE wf_open_transactions gauge\nwf_open_transactions 2\n# EOF\n";
        assert_eq!(
            prometheus_text(om),
            "# HELP wf_events_total Events read.\n# TYPE wf_events_total counter\nwf_events_total{type=\"step_open\"} 3\n# HELP wf_open_transactions Open.\n# TYPE wf_open_transactions gauge\nwf_open_transactions 2\n"
        );
    }
}
