//! wf-plot as a user runs it: the page's numbers equal wf-agg's JSON, every image
//! it references exists and decodes, empty and junk input give a page that says
//! so, and errors are clear.

use std::path::{Path, PathBuf};

use serde_json::Value;
use wf_agg::{Aggregator, Options};
use wf_events::cli::MalformedReporter;
use wf_events::Input;
use wf_testkit::{run, testdata};

const BIN: &str = env!("CARGO_BIN_EXE_wf-plot");

struct TempDir(PathBuf);

impl TempDir {
    fn new(name: &str) -> TempDir {
        let dir = std::env::temp_dir().join(format!("wf-plot-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        TempDir(dir)
    }
    fn path(&self, rel: &str) -> PathBuf {
        self.0.join(rel)
    }
    fn arg(&self) -> String {
        self.0.to_string_lossy().into_owned()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What `wf-agg --json` prints for a file: the library wf-agg serializes.
fn wf_agg_json(file: &Path, opts: Options) -> Value {
    let mut agg = Aggregator::new(opts);
    let opened = wf_agg::open_all(&[Input::Path(file.to_string_lossy().into_owned())]).unwrap();
    wf_agg::read_all(
        &mut agg,
        opened,
        false,
        &mut MalformedReporter::new("test", 0),
    )
    .unwrap();
    serde_json::to_value(agg.report()).unwrap()
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// Every `data-field="path" data-value="json"` pair of the page.
fn page_fields(html: &str) -> Vec<(String, Value)> {
    let mut out = Vec::new();
    let mut rest = html;
    while let Some(i) = rest.find("data-field=\"") {
        rest = &rest[i + 12..];
        let end = rest.find('"').unwrap();
        let field = unescape(&rest[..end]);
        let v = rest.find("data-value=\"").unwrap();
        let vrest = &rest[v + 12..];
        let vend = vrest.find('"').unwrap();
        let value: Value = serde_json::from_str(&unescape(&vrest[..vend])).unwrap();
        out.push((field, value));
    }
    out
}

fn lookup<'v>(v: &'v Value, path: &str) -> &'v Value {
    path.split('.').fold(v, |v, k| match k.parse::<usize>() {
        Ok(i) if v.is_array() => &v[i],
        _ => &v[k],
    })
}

/// The `src` of every <img> on the page.
fn images(html: &str) -> Vec<String> {
    html.match_indices("<img src=\"")
        .map(|(i, m)| {
            let rest = &html[i + m.len()..];
            rest[..rest.find('"').unwrap()].to_string()
        })
        .collect()
}

fn check_report(dir: &TempDir, input: &Path, opts: Options) -> String {
    let html = std::fs::read_to_string(dir.path("report.html")).unwrap();
    let expected = wf_agg_json(input, opts);
    // The page's every number is wf-agg's.
    let fields = page_fields(&html);
    assert!(
        fields.len() > 100,
        "only {} fields on the page",
        fields.len()
    );
    for (path, value) in &fields {
        assert_eq!(value, lookup(&expected, path), "page field {path}");
    }
    for must in [
        "transactions.duration_ms.p95",
        "gaps.duration_ms.p99",
        "gaps.injected_outliers",
        "events.malformed",
        "transactions.slowest.0.txn_id",
        "steps.0.error_rate",
        "steps.0.health",
        "steps.0.health_reason",
        "workflows.0.health",
        "workflows.0.duration_ms.p50",
    ] {
        assert!(
            fields.iter().any(|(p, _)| p == must),
            "no {must} on the page"
        );
    }
    // report.json is the same document.
    let json: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path("report.json")).unwrap()).unwrap();
    assert_eq!(json, expected);
    html
}

#[test]
fn the_page_agrees_with_wf_agg_and_every_image_decodes() {
    let dir = TempDir::new("sim");
    let input = testdata("sim/seed7-50.jsonl");
    let out = run(
        BIN,
        &["--out-dir", &dir.arg(), &input.to_string_lossy()],
        b"",
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert!(out
        .stdout
        .starts_with(&format!("wrote {}\n", dir.path("report.html").display())));
    let html = check_report(&dir, &input, Options::default());
    let imgs = images(&html);
    assert_eq!(
        imgs,
        [
            "txn_durations.png",
            "inter_step_gaps.png",
            "latency_by_percentile.png",
            "steps.png",
            "over_time.png"
        ]
    );
    for src in &imgs {
        let img = image::open(dir.path(src)).unwrap_or_else(|e| panic!("{src}: {e}"));
        assert!(
            img.width() >= 1000 && img.height() >= 500,
            "{src} is {}x{}",
            img.width(),
            img.height()
        );
    }
    assert!(html.contains("No step failed.") || html.contains("errors.0.error"));
    assert!(html.contains(&format!("wf-plot {}", env!("CARGO_PKG_VERSION"))));
}

#[test]
fn a_bigger_run_from_stdin_with_svg_csv_and_derived_gaps() {
    let dir = TempDir::new("big");
    let mut cfg = wf_sim::Config::builtin(3000, 42);
    cfg.outlier_rate = 0.02;
    let events = cfg.generate().unwrap();
    let file = dir.0.with_extension("jsonl");
    std::fs::write(&file, &events).unwrap();
    let out = run(
        BIN,
        &[
            "-o",
            &dir.arg(),
            "--svg",
            "--csv",
            "--derive-inter-step",
            "--outlier-ms",
            "5000",
        ],
        &events,
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let opts = Options {
        derive_inter_step: true,
        outlier_ms: 5000,
        ..Options::default()
    };
    let html = check_report(&dir, &file, opts);
    std::fs::remove_file(&file).unwrap();
    assert!(html.contains("measured from each step_done to the next step_open"));
    for stem in [
        "txn_durations",
        "inter_step_gaps",
        "latency_by_percentile",
        "steps",
        "over_time",
    ] {
        let svg = std::fs::read_to_string(dir.path(&format!("{stem}.svg"))).unwrap();
        assert!(svg.starts_with("<svg"), "{stem}.svg");
        assert!(html.contains(&format!("<a href=\"{stem}.svg\">")));
    }
    let txn = std::fs::read_to_string(dir.path("txn_durations.csv")).unwrap();
    assert_eq!(txn.lines().count(), 3001);
    assert!(dir.path("inter_step_gaps.csv").exists());
}

#[test]
fn empty_input_gives_a_page_that_says_so() {
    let dir = TempDir::new("empty");
    let out = run(BIN, &["--out-dir", &dir.arg()], b"");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let html = std::fs::read_to_string(dir.path("report.html")).unwrap();
    assert!(html.contains("No events were read: the input was empty."));
    assert!(html.contains("No closed transactions in the input, so there is no chart."));
    assert!(images(&html).is_empty());
    assert!(!dir.path("txn_durations.png").exists());
}

#[test]
fn all_junk_input_gives_a_page_that_says_so() {
    let dir = TempDir::new("junk");
    let out = run(
        BIN,
        &["--out-dir", &dir.arg()],
        b"junk\n{\"type\":\n\n[1]\n",
    );
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stderr,
        "wf-plot: <stdin>:1: not JSON: expected value at column 1\n\
         wf-plot: <stdin>:2: not JSON: EOF while parsing a value at column 8\n\
         wf-plot: <stdin>:4: not a JSON object: found sequence\n"
    );
    let html = std::fs::read_to_string(dir.path("report.html")).unwrap();
    assert!(html.contains("No events were read: all 3 non-blank lines were malformed."));
    assert!(images(&html).is_empty());
    assert!(html.contains("data-field=\"events.malformed\" data-value=\"3\""));
}

#[test]
fn errors_are_clear() {
    let out = run(BIN, &["missing.jsonl"], b"");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "wf-plot: missing.jsonl: No such file or directory (os error 2)\n"
    );
    let out = run(BIN, &["--out-dir", "/proc/forbidden"], b"");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.starts_with("wf-plot: /proc/forbidden: "),
        "{}",
        out.stderr
    );
    let out = run(BIN, &["--bins"], b"");
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "wf-plot: unknown option '--bins'\nTry 'wf-plot --help' for more information.\n"
    );
    let dir = TempDir::new("strict");
    let out = run(BIN, &["--strict", "-o", &dir.arg()], b"{}\n");
    assert_eq!(out.code, 1);
    assert_eq!(out.stderr, "wf-plot: <stdin>:1: missing field \"type\"\n");
}

#[test]
fn help_and_version() {
    let long = run(BIN, &["--help"], b"");
    assert_eq!(long.code, 0);
    assert!(long.stdout.contains("Examples:\n"));
    assert!(long
        .stdout
        .contains("wf-sim --samples 100000 | wf-plot --out-dir report/"));
    assert_eq!(
        run(BIN, &["--version"], b"").stdout,
        format!("wf-plot {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn windows_mark_the_anomalies_of_an_injected_incident() {
    let dir = TempDir::new("incident");
    let mut cfg = wf_sim::Config::builtin(0, 1);
    cfg.samples = None;
    cfg.duration_ms = Some(600_000);
    cfg.incidents = vec![wf_sim::incident::Incident::parse("errors:3m-4m:0.3").unwrap()];
    let events = cfg.generate().unwrap();
    let file = dir.0.with_extension("jsonl");
    std::fs::write(&file, &events).unwrap();
    let out = run(
        BIN,
        &["-o", &dir.arg(), "--window", "1m", &file.to_string_lossy()],
        b"",
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let opts = Options {
        window_ms: Some(60_000),
        ..Options::default()
    };
    let html = check_report(&dir, &file, opts);
    std::fs::remove_file(&file).unwrap();
    // The error burst of minute 3, on the page as in the JSON.
    assert!(html.contains("<h3 id=\"anomalies\">Anomalies (red on the chart)</h3>"));
    assert!(html.contains("<td class=\"t\">00:03:00–00:04:00</td>"));
    let fields = page_fields(&html);
    assert!(fields.contains(&("anomalies.0.kind".into(), "spike".into())));
    assert!(fields.contains(&("anomalies.0.metric".into(), "error_rate".into())));
    // Fixed windows of a minute on the over-time chart, and error patterns.
    assert!(html.contains("in 11 windows of 1.0 min") || html.contains("in 12 windows of 1.0 min"));
    assert!(html.contains("<h3>Error patterns (by step)</h3>"));
    assert!(fields
        .iter()
        .any(|(p, _)| p == "error_patterns.0.first_seen_ms"));
    assert!(image::open(dir.path("over_time.png")).is_ok());
}
