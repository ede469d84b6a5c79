//! wf-prom as a user runs it: the real binary serving on a loopback port, fed on
//! stdin, scraped over HTTP; its counts against wf-agg's on the same events.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use wf_events::cli::MalformedReporter;
use wf_events::Input;
use wf_testkit::{run, testdata};

const BIN: &str = env!("CARGO_BIN_EXE_wf-prom");

/// A running wf-prom, killed when dropped.
struct Exporter {
    child: Child,
    addr: String,
}

impl Drop for Exporter {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Spawns wf-prom on a free port with `args` and the given stdin. Returns the
/// child and the address it serves.
fn spawn(args: &[&str], stdin: Stdio) -> (Child, String) {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .args(args)
        .stdin(stdin)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("wf-prom starts");
    let mut stderr = BufReader::new(child.stderr.take().unwrap());
    let mut first = String::new();
    stderr.read_line(&mut first).unwrap();
    let addr = first
        .trim()
        .strip_prefix("wf-prom: serving http://")
        .and_then(|s| s.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_string();
    // Drain the rest of stderr so the exporter never blocks on it.
    std::thread::spawn(move || {
        let mut sink = String::new();
        let _ = stderr.read_to_string(&mut sink);
    });
    (child, addr)
}

/// Starts wf-prom on a free port, writes `input` to its stdin and closes it.
fn start(args: &[&str], input: Vec<u8>) -> Exporter {
    let (mut child, addr) = spawn(args, Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    std::thread::spawn(move || {
        let _ = stdin.write_all(&input);
    });
    Exporter { child, addr }
}

/// One HTTP request; (status, content type, body).
fn request(addr: &str, method: &str, path: &str, accept: Option<&str>) -> (u16, String, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let accept = accept.map_or(String::new(), |a| format!("Accept: {a}\r\n"));
    write!(
        s,
        "{method} {path} HTTP/1.0\r\nHost: {addr}\r\n{accept}\r\n"
    )
    .unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or("")
        .to_string();
    (status, content_type, body.to_string())
}

fn get(addr: &str, path: &str) -> (u16, String, String) {
    request(addr, "GET", path, None)
}

/// Waits until /health has read `events` events.
fn wait_for(addr: &str, events: u64) -> Value {
    // Fails when the count stops moving for 20 s, not when a big input on a
    // busy machine takes longer than that.
    let mut start = Instant::now();
    let mut last = Value::Null;
    loop {
        let (_, _, body) = get(addr, "/health");
        let h: Value = serde_json::from_str(&body).unwrap();
        if h["events_read"] == events {
            return h;
        }
        if h["events_read"] != last {
            last = h["events_read"].clone();
            start = Instant::now();
        }
        assert!(start.elapsed() < Duration::from_secs(20), "stuck at {h}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The value of a sample line `name{labels} value` (labels exactly as written).
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .unwrap_or_else(|| panic!("no {series} in\n{text}"))
        .parse()
        .unwrap()
}

fn sum_of(text: &str, prefix: &str) -> f64 {
    text.lines()
        .filter(|l| l.starts_with(prefix))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

fn wf_agg_report(input: &[u8]) -> Value {
    // One file per call: tests run in parallel.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let path = std::env::temp_dir().join(format!("wf-prom-agg-{}-{n}.jsonl", std::process::id()));
    std::fs::write(&path, input).unwrap();
    let mut agg = wf_agg::Aggregator::new(wf_agg::Options::default());
    let opened = wf_agg::open_all(&[Input::Path(path.to_string_lossy().into_owned())]).unwrap();
    wf_agg::read_all(
        &mut agg,
        opened,
        false,
        &mut MalformedReporter::new("test", 0),
    )
    .unwrap();
    std::fs::remove_file(&path).unwrap();
    serde_json::to_value(agg.report()).unwrap()
}

#[test]
fn counts_on_metrics_equal_wf_agg() {
    let mut input = std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap();
    input.extend_from_slice(b"not an event\n");
    let mut cfg = wf_sim::Config::builtin(2000, 9);
    cfg.outlier_rate = 0.05;
    input.extend_from_slice(&cfg.generate().unwrap());
    let expected = wf_agg_report(&input);
    let total = expected["events"]["total"].as_u64().unwrap();

    let ex = start(&[], input);
    let health = wait_for(&ex.addr, total);
    assert_eq!(health["malformed_lines"], 1);
    assert_eq!(health["status"], "ok");
    let (status, content_type, text) = get(&ex.addr, "/metrics");
    assert_eq!(status, 200);
    assert_eq!(content_type, "text/plain; version=0.0.4; charset=utf-8");

    for t in [
        "transaction_open",
        "step_open",
        "step_done",
        "inter_step_wait",
        "transaction_close",
    ] {
        assert_eq!(
            sample(&text, &format!("wf_events_total{{type=\"{t}\"}}")),
            expected["events"]["by_type"][t].as_f64().unwrap(),
            "{t}"
        );
    }
    assert_eq!(sample(&text, "wf_malformed_lines_total"), 1.0);
    assert_eq!(
        sum_of(&text, "wf_transactions_total{"),
        expected["transactions"]["closed"].as_f64().unwrap()
    );
    for w in expected["workflows"].as_array().unwrap() {
        let name = w["workflow"].as_str().unwrap();
        let errors = sample(
            &text,
            &format!("wf_transactions_total{{workflow=\"{name}\",status=\"error\"}}"),
        );
        assert_eq!(errors, w["errors"].as_f64().unwrap(), "{name}");
    }
    assert_eq!(
        sample(&text, "wf_inter_step_outliers_total"),
        expected["gaps"]["outliers"].as_f64().unwrap()
    );
    assert_eq!(
        sample(&text, "wf_injected_outliers_total"),
        expected["gaps"]["injected_outliers"].as_f64().unwrap()
    );
    assert_eq!(
        sample(&text, "wf_inter_step_gap_seconds_count"),
        expected["gaps"]["duration_ms"]["count"].as_f64().unwrap()
    );
    assert_eq!(
        sum_of(&text, "wf_step_errors_total{"),
        expected["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["count"].as_f64().unwrap())
            .sum::<f64>()
    );
    assert_eq!(sample(&text, "wf_open_transactions"), 0.0);
    assert!(text.contains("# TYPE wf_transaction_duration_seconds histogram\n"));
    assert!(!text.contains("# EOF"));

    let (_, om_type, om) = request(
        &ex.addr,
        "GET",
        "/metrics",
        Some("application/openmetrics-text; version=1.0.0"),
    );
    assert_eq!(
        om_type,
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    assert!(om.ends_with("# EOF\n"));
    assert!(om.contains("# TYPE wf_events counter\n"));
}

#[test]
fn endpoints_answer_and_others_do_not() {
    let ex = start(&[], Vec::new());
    wait_for(&ex.addr, 0);
    let (status, ct, body) = get(&ex.addr, "/info");
    assert_eq!((status, ct.as_str()), (200, "application/json"));
    let info: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(info["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(info["config"]["outlier_ms"], 15000);
    let (status, _, body) = get(&ex.addr, "/");
    assert_eq!(status, 200);
    assert!(body.contains("<a href=\"metrics\">/metrics</a>"));
    assert_eq!(get(&ex.addr, "/nope").0, 404);
    assert_eq!(request(&ex.addr, "POST", "/metrics", None).0, 405);
    let h: Value = serde_json::from_str(&get(&ex.addr, "/health").2).unwrap();
    assert_eq!(h["seconds_since_last_event"], Value::Null);
}

#[test]
fn exit_on_eof_and_tee_pass_every_line_through() {
    let mut input = std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap();
    input.extend_from_slice(b"junk stays junk\n");
    let out = run(
        BIN,
        &["--listen", "127.0.0.1:0", "--exit-on-eof", "--tee"],
        &input,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.raw, input);
    assert!(
        out.stderr
            .contains("wf-prom: <stdin>:776: not JSON: expected value at column 1\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_taken_port_is_a_clear_error() {
    let held = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = held.local_addr().unwrap().to_string();
    let out = run(BIN, &["--listen", &addr, "--exit-on-eof"], b"");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with(&format!("wf-prom: cannot listen on {addr}: ")),
        "{}",
        out.stderr
    );
    let follow = run(BIN, &["--follow"], b"");
    assert_eq!(
        follow.stderr,
        "wf-prom: --follow needs --file PATH\nTry 'wf-prom --help' for more information.\n"
    );
    let usage = run(BIN, &["--port", "9"], b"");
    assert_eq!(usage.code, 2);
    assert_eq!(
        usage.stderr,
        "wf-prom: unknown option '--port'\nTry 'wf-prom --help' for more information.\n"
    );
}

fn signal(child: &Child, sig: &str) {
    let status = Command::new("kill")
        .args([sig, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

fn wait_exit(child: &mut Child) -> std::process::ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        assert!(start.elapsed() < Duration::from_secs(10), "did not exit");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn sigterm_after_the_input_ended_exits_0() {
    let mut ex = start(&[], std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap());
    wait_for(&ex.addr, 775);
    // Still serving the final values after the end of the input.
    assert_eq!(get(&ex.addr, "/metrics").0, 200);
    signal(&ex.child, "-TERM");
    assert_eq!(wait_exit(&mut ex.child).code(), Some(0));
}

#[test]
fn sigint_while_the_input_is_idle_exits_0() {
    // stdin stays open and silent: ingest is blocked reading it.
    let (mut child, _) = spawn(&[], Stdio::piped());
    let _stdin = child.stdin.take();
    signal(&child, "-INT");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn const_labels_buckets_and_process_metrics() {
    let ex = start(
        &[
            "--const-label",
            "pipeline=orders",
            "--gap-buckets",
            "0.5,1,30",
        ],
        std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap(),
    );
    wait_for(&ex.addr, 775);
    let text = get(&ex.addr, "/metrics").2;
    assert_eq!(
        sample(
            &text,
            "wf_events_total{pipeline=\"orders\",type=\"transaction_open\"}"
        ),
        50.0
    );
    let buckets: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("wf_inter_step_gap_seconds_bucket{"))
        .map(|l| l.split("le=\"").nth(1).unwrap().split('"').next().unwrap())
        .collect();
    assert_eq!(buckets, ["0.5", "1.0", "30.0", "+Inf"]);
    assert!(sample(&text, "process_resident_memory_bytes{pipeline=\"orders\"}") > 1e5);
    assert!(sample(&text, "process_open_fds{pipeline=\"orders\"}") >= 3.0);
    assert!(text.contains("# TYPE process_cpu_seconds_total counter\n"));
    let info: Value = serde_json::from_str(&get(&ex.addr, "/info").2).unwrap();
    assert_eq!(info["config"]["const_labels"][0], "pipeline=orders");
}

#[test]
fn bad_buckets_and_labels_are_usage_errors() {
    for (args, msg) in [
        (vec!["--txn-buckets", "1,0.5"], "invalid value '1,0.5' for --txn-buckets: buckets must be positive and increasing"),
        (vec!["--gap-buckets", "soon"], "invalid value 'soon' for --gap-buckets: expected seconds, e.g. 0.1,0.5,1,5"),
        (vec!["--const-label", "pipeline"], "invalid value 'pipeline' for --const-label: expected NAME=VALUE"),
        (vec!["--const-label", "9x=1"], "invalid label name '9x' for --const-label: use letters, digits and _, not starting with a digit or __"),
    ] {
        let out = run(BIN, &args, b"");
        assert_eq!(out.code, 2, "{args:?}");
        assert_eq!(out.stderr, format!("wf-prom: {msg}\nTry 'wf-prom --help' for more information.\n"));
    }
}

#[test]
fn follow_reads_a_file_across_rotation_and_truncation() {
    let dir = std::env::temp_dir().join(format!("wf-prom-follow-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("events.jsonl");
    let events = std::fs::read_to_string(testdata("sim/seed7-50.jsonl")).unwrap();
    let lines: Vec<&str> = events.lines().collect();
    let chunk = |r: std::ops::Range<usize>| lines[r].join("\n") + "\n";
    std::fs::write(&path, chunk(0..300)).unwrap();
    let (mut child, addr) = spawn(
        &["--follow", "--file", path.to_str().unwrap()],
        Stdio::null(),
    );
    wait_for(&addr, 300);
    // Grows.
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    f.write_all(chunk(300..500).as_bytes()).unwrap();
    drop(f);
    wait_for(&addr, 500);
    // Rotated: renamed, and a new file at the path.
    std::fs::rename(&path, dir.join("events.jsonl.1")).unwrap();
    std::fs::write(&path, chunk(500..700)).unwrap();
    wait_for(&addr, 700);
    // Truncated and written again.
    std::fs::write(&path, "").unwrap();
    std::thread::sleep(Duration::from_millis(300));
    std::fs::write(&path, chunk(700..775)).unwrap();
    let h = wait_for(&addr, 775);
    assert_eq!(h["malformed_lines"], 0);
    let text = get(&addr, "/metrics").2;
    assert_eq!(
        sample(&text, "wf_events_total{type=\"transaction_open\"}"),
        50.0
    );
    assert_eq!(sum_of(&text, "wf_transactions_total{"), 50.0);
    signal(&child, "-TERM");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn max_series_folds_new_label_sets_and_loses_nothing() {
    let ex = start(
        &["--max-series", "2"],
        std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap(),
    );
    wait_for(&ex.addr, 775);
    let text = get(&ex.addr, "/metrics").2;
    let series: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("wf_transactions_total{"))
        .collect();
    assert_eq!(series.len(), 3, "{series:?}");
    assert!(series
        .iter()
        .any(|l| l.contains("workflow=\"__overflow__\"")));
    assert_eq!(sum_of(&text, "wf_transactions_total{"), 50.0);
    assert!(
        sample(
            &text,
            "wf_series_overflow_total{metric=\"wf_transactions_total\"}"
        ) > 0.0
    );
}

#[test]
fn series_ttl_removes_quiet_series_on_a_timer() {
    let ex = start(
        &["--series-ttl", "300ms"],
        std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap(),
    );
    wait_for(&ex.addr, 775);
    let start = Instant::now();
    loop {
        let text = get(&ex.addr, "/metrics").2;
        if !text.contains("wf_transactions_total{") {
            // Unlabelled counters stay.
            assert_eq!(
                sample(&text, "wf_events_total{type=\"transaction_open\"}"),
                50.0
            );
            assert!(!text.contains("wf_step_duration_seconds_count{"));
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "series never expired"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn windowed_quantiles_track_the_exact_ones() {
    let input = wf_sim::Config::builtin(3000, 5).generate().unwrap();
    let expected = wf_agg_report(&input);
    let total = expected["events"]["total"].as_u64().unwrap();
    let ex = start(
        &["--quantiles", "0.5,0.9", "--quantile-window", "10m"],
        input,
    );
    wait_for(&ex.addr, total);
    let text = get(&ex.addr, "/metrics").2;
    for w in expected["workflows"].as_array().unwrap() {
        let name = w["workflow"].as_str().unwrap();
        let exact = w["duration_ms"]["p50"].as_f64().unwrap() / 1000.0;
        let estimate = sample(
            &text,
            &format!("wf_transaction_duration_window_seconds{{workflow=\"{name}\",q=\"0.5\"}}"),
        );
        assert!(
            (estimate - exact).abs() / exact < 0.03,
            "{name}: {estimate} vs {exact}"
        );
    }
    assert!(text.contains("wf_inter_step_gap_window_seconds{q=\"0.9\"}"));
    assert!(!text.contains("q=\"0.99\""));
    let bad = run(BIN, &["--quantiles", "0.5,2"], b"");
    assert_eq!(bad.code, 2);
}

#[test]
fn the_open_gauge_follows_a_slow_stream_event_by_event() {
    let (mut child, addr) = spawn(&[], Stdio::piped());
    let mut stdin = child.stdin.take().unwrap();
    for (i, id) in ["a", "b", "c"].iter().enumerate() {
        writeln!(
            stdin,
            "{{\"type\":\"transaction_open\",\"txn_id\":\"{id}\",\"ts_ms\":{i}}}"
        )
        .unwrap();
    }
    writeln!(
        stdin,
        "{{\"type\":\"transaction_close\",\"txn_id\":\"b\",\"ts_ms\":9}}"
    )
    .unwrap();
    stdin.flush().unwrap();
    wait_for(&addr, 4);
    assert_eq!(
        sample(&get(&addr, "/metrics").2, "wf_open_transactions"),
        2.0
    );
    drop(stdin);
    signal(&child, "-TERM");
    assert_eq!(wait_exit(&mut child).code(), Some(0));
}

#[test]
fn over_kafka_counts_equal_wf_agg_and_lag_is_exported() {
    let k = wf_testkit::MockKafka::start(&["workflow.transactions", "workflow.steps"], 3);
    let sim = wf_testkit::sibling(BIN, "wf-sim");
    let produced = run(
        &sim,
        &[
            "--samples",
            "500",
            "--seed",
            "9",
            "--kafka-bootstrap",
            &k.bootstrap(),
        ],
        b"",
    );
    assert_eq!((produced.code, produced.stderr.as_str()), (0, ""));
    let report = wf_agg_report(&wf_sim::Config::builtin(500, 9).generate().unwrap());

    let (child, addr) = spawn(&["--kafka-bootstrap", &k.bootstrap()], Stdio::null());
    let _exporter = Exporter {
        child,
        addr: addr.clone(),
    };
    let total = report["events"]["total"].as_u64().unwrap();
    wait_for(&addr, total);
    let (_, _, text) = get(&addr, "/metrics");
    assert_eq!(sum_of(&text, "wf_events_total{"), total as f64);
    assert_eq!(
        sum_of(&text, "wf_transactions_total{"),
        report["transactions"]["closed"].as_f64().unwrap()
    );
    let errors: f64 = report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_f64().unwrap())
        .sum();
    assert_eq!(sum_of(&text, "wf_step_errors_total{"), errors);
    assert_eq!(
        sample(&text, "wf_inter_step_outliers_total"),
        report["gaps"]["outliers"].as_f64().unwrap()
    );
    // Lag per partition, 0 once caught up (it is refreshed every second).
    let start = Instant::now();
    loop {
        let (_, _, text) = get(&addr, "/metrics");
        let lags: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("wf_kafka_consumer_lag{"))
            .collect();
        if lags.len() == 6 && sum_of(&text, "wf_kafka_consumer_lag{") == 0.0 {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(15),
            "lag series: {lags:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Ten minutes at 30 starts a second with `incidents`, and no outlier waits
/// (so no transaction lasts a minute and the last window never completes).
fn ten_minutes(incidents: &[&str]) -> Vec<u8> {
    let mut cfg = wf_sim::Config::builtin(0, 3);
    cfg.samples = None;
    cfg.rate = 30.0;
    cfg.duration_ms = Some(600_000);
    cfg.outlier_rate = 0.0;
    cfg.incidents = incidents
        .iter()
        .map(|i| wf_sim::incident::Incident::parse(i).unwrap())
        .collect();
    cfg.generate().unwrap()
}

fn anomaly_counts(text: &str) -> [f64; 3] {
    ["drop", "spike", "pattern_shift"].map(|k| {
        sample(
            text,
            &format!("wf_anomalies_detected_total{{kind=\"{k}\"}}"),
        )
    })
}

#[test]
fn step_health_agrees_with_wf_agg_and_anomalies_are_counted() {
    let input = ten_minutes(&["slowdown:5m-7m:x4", "drop:8m-9m:0.1"]);
    let report = wf_agg_report(&input);
    let total = report["events"]["total"].as_u64().unwrap();
    let ex = start(&["--quantile-window", "10m"], input);
    wait_for(&ex.addr, total);
    let text = get(&ex.addr, "/metrics").2;
    // wf_step_health is wf-agg's class of each step, as 0/1/2.
    let steps = report["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 15);
    for s in steps {
        let level = match s["health"].as_str().unwrap() {
            "healthy" => 0.0,
            "degraded" => 1.0,
            _ => 2.0,
        };
        let series = format!(
            "wf_step_health{{workflow=\"{}\",step=\"{}\"}}",
            s["workflow"].as_str().unwrap(),
            s["step"].as_str().unwrap()
        );
        assert_eq!(sample(&text, &series), level, "{series}");
    }
    // The per-error counters are wf-agg's error patterns.
    let patterns = report["error_patterns"].as_array().unwrap();
    assert!(patterns.len() > 20);
    for p in patterns {
        let series = format!(
            "wf_step_errors_total{{workflow=\"{}\",step=\"{}\",error=\"{}\"}}",
            p["workflow"].as_str().unwrap(),
            p["step"].as_str().unwrap(),
            p["error"].as_str().unwrap()
        );
        assert_eq!(
            sample(&text, &series),
            p["count"].as_f64().unwrap(),
            "{series}"
        );
    }
    // The slowdown: minutes 5 and 6 spike (p95) and the first shifts; the
    // drop: minute 8 against the windows before it.
    assert_eq!(anomaly_counts(&text), [1.0, 2.0, 1.0]);

    // A clean run of the same length: every kind exported, none counted.
    let input = ten_minutes(&[]);
    let total = wf_agg_report(&input)["events"]["total"].as_u64().unwrap();
    let ex = start(&[], input);
    wait_for(&ex.addr, total);
    assert_eq!(
        anomaly_counts(&get(&ex.addr, "/metrics").2),
        [0.0, 0.0, 0.0]
    );
}

#[test]
fn health_thresholds_are_flags() {
    let input = std::fs::read(testdata("agg/interleaved.jsonl")).unwrap();
    let ex = start(
        &["--error-rate-threshold", "60%", "--slow-ms", "100"],
        input,
    );
    wait_for(&ex.addr, 20);
    let text = get(&ex.addr, "/metrics").2;
    for (series, level) in [
        ("wf_step_health{workflow=\"checkout\",step=\"charge\"}", 2.0),
        (
            "wf_step_health{workflow=\"checkout\",step=\"validate\"}",
            0.0,
        ),
        (
            "wf_step_health{workflow=\"signup\",step=\"create_account\"}",
            1.0,
        ),
    ] {
        assert_eq!(sample(&text, series), level, "{series}");
    }
    let bad = run(BIN, &["--anomaly-window", "10ms"], b"");
    assert_eq!(bad.code, 2);
    assert_eq!(
        bad.stderr,
        "wf-prom: --anomaly-window takes a duration from 1s to 1d, e.g. 1m\n\
         Try 'wf-prom --help' for more information.\n"
    );
}
