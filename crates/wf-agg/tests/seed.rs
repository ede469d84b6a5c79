//! wf-agg's counts and percentiles equal the seed aggregator's (seed 001) on the
//! same input. The seed's real output is recorded in testdata/seed/ by
//! scripts/seed-golden.sh; these tests parse it and compare.

use serde_json::Value;
use wf_testkit::{run, testdata};

const BIN: &str = env!("CARGO_BIN_EXE_wf-agg");

/// The numbers the seed prints, by label.
#[derive(Debug, Default)]
struct Seed {
    total: u64,
    by_type: Vec<(String, u64)>,
    closed: u64,
    txn: Vec<(String, f64)>,
    slowest: Vec<(String, f64)>,
    gaps: u64,
    gap: Vec<(String, f64)>,
    outliers: u64,
    injected: u64,
}

fn ms(v: &str) -> f64 {
    v.trim().trim_end_matches(" ms").parse().unwrap()
}

fn parse_seed(text: &str) -> Seed {
    let mut s = Seed::default();
    let mut section = "";
    for line in text.lines() {
        let t = line.trim();
        if let Some(v) = t.strip_prefix("Total events: ") {
            s.total = v.parse().unwrap();
        } else if t == "Event counts:" {
            section = "events";
        } else if let Some(v) = t.strip_prefix("Transactions closed: ") {
            s.closed = v.parse().unwrap();
            section = "txn";
        } else if t == "Top slow transactions:" {
            section = "slow";
        } else if let Some(v) = t.strip_prefix("Inter-step gaps observed: ") {
            s.gaps = v.parse().unwrap();
            section = "gap";
        } else if let Some(v) = t.strip_prefix("outliers ≥ ") {
            s.outliers = v.rsplit(": ").next().unwrap().parse().unwrap();
        } else if let Some(v) = t.strip_prefix("injected_outliers_seen (from events): ") {
            s.injected = v.parse().unwrap();
        } else if let Some((k, v)) = t.split_once(": ") {
            let v = v.split("  (").next().unwrap();
            match section {
                "events" => s.by_type.push((k.to_string(), v.parse().unwrap())),
                "txn" => s.txn.push((k.trim_end_matches(':').to_string(), ms(v))),
                "slow" => s.slowest.push((k.to_string(), ms(v))),
                "gap" => s.gap.push((k.to_string(), ms(v))),
                _ => {}
            }
        } else if let Some((k, v)) = t.split_once(":  ") {
            let v = v.split("  (").next().unwrap();
            match section {
                "txn" => s.txn.push((k.to_string(), ms(v))),
                "gap" => s.gap.push((k.to_string(), ms(v))),
                _ => {}
            }
        }
    }
    s
}

fn stat(seed: &[(String, f64)], key: &str) -> f64 {
    seed.iter()
        .find(|(k, _)| k == key)
        .unwrap_or_else(|| panic!("seed output has no {key}"))
        .1
}

/// Compares everything the seed reports with wf-agg's JSON on the same input.
/// The seed's "med" is statistics.median (the mean of the two middle values for
/// an even count), not a nearest-rank percentile, so it is not compared.
fn compare(input: &[u8], seed_output: &str) {
    let seed = parse_seed(seed_output);
    let out = run(BIN, &["--json"], input);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let r: Value = serde_json::from_str(&out.stdout).unwrap();

    assert_eq!(r["events"]["total"], seed.total);
    assert!(!seed.by_type.is_empty());
    for (t, n) in &seed.by_type {
        assert_eq!(r["events"]["by_type"][t], *n, "count of {t}");
    }
    let t = &r["transactions"];
    assert_eq!(t["closed"], seed.closed);
    let d = &t["duration_ms"];
    assert_eq!(
        format!("{:.1}", d["mean"].as_f64().unwrap()),
        format!("{:.1}", stat(&seed.txn, "avg"))
    );
    for (p, key) in [("p90", "p90"), ("p95", "p95"), ("p99", "p99")] {
        assert_eq!(
            d[p].as_f64().unwrap(),
            stat(&seed.txn, key),
            "transaction {p}"
        );
    }
    let slowest: Vec<(String, f64)> = t["slowest"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["txn_id"].as_str().unwrap().to_string(),
                s["duration_ms"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(slowest, seed.slowest);

    let g = &r["gaps"];
    assert_eq!(g["duration_ms"]["count"], seed.gaps);
    assert_eq!(
        format!("{:.1}", g["duration_ms"]["mean"].as_f64().unwrap()),
        format!("{:.1}", stat(&seed.gap, "avg"))
    );
    for p in ["p90", "p95", "p99"] {
        assert_eq!(
            g["duration_ms"][p].as_f64().unwrap(),
            stat(&seed.gap, p),
            "gap {p}"
        );
    }
    assert_eq!(g["outliers"], seed.outliers);
    assert_eq!(g["injected_outliers"], seed.injected);
}

#[test]
fn equals_the_seed_on_a_simulated_run() {
    // Keep in step with scripts/seed-golden.sh.
    let mut cfg = wf_sim::Config::builtin(3000, 42);
    cfg.outlier_rate = 0.02;
    let input = cfg.generate().unwrap();
    let lines = input.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(
        lines, 45_478,
        "wf-sim's output changed: run scripts/seed-golden.sh to record the seed's output again"
    );
    let seed = std::fs::read_to_string(testdata("seed/sim-3000-seed42.seed-output.txt")).unwrap();
    compare(&input, &seed);
}

#[test]
fn equals_the_seed_where_ranks_fall_on_a_half() {
    // 30 durations: p95 is rank round(28.5) = 28, Python's half-to-even.
    let input = std::fs::read(testdata("seed/rounding.jsonl")).unwrap();
    let seed = std::fs::read_to_string(testdata("seed/rounding.seed-output.txt")).unwrap();
    compare(&input, &seed);
}
