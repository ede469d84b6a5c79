//! wf-sim as a user runs it: byte-identical goldens, exact faults, workflow files,
//! errors and help.

use wf_events::{parse_line, EventType};
use wf_testkit::{run, testdata};

const BIN: &str = env!("CARGO_BIN_EXE_wf-sim");

fn path(rel: &str) -> String {
    testdata(rel).to_string_lossy().into_owned()
}

fn lines(s: &str) -> Vec<&str> {
    s.lines().collect()
}

fn count(s: &[u8], kind: EventType) -> usize {
    s.split(|&b| b == b'\n')
        .filter_map(|l| parse_line(l).ok())
        .filter(|e| e.kind == kind)
        .count()
}

#[test]
fn same_seed_same_bytes_as_the_golden() {
    let out = run(BIN, &["--samples", "50", "--seed", "7"], b"");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let golden = std::fs::read_to_string(testdata("sim/seed7-50.jsonl")).unwrap();
    assert!(
        out.stdout == golden,
        "wf-sim --samples 50 --seed 7 no longer matches testdata/sim/seed7-50.jsonl; \
         if the change is intended, regenerate it and the goldens built on it"
    );
    let other = run(BIN, &["--samples", "50", "--seed", "8"], b"");
    assert_ne!(other.stdout, golden);
}

#[test]
fn output_is_in_time_order_and_transactions_overlap() {
    let out = run(BIN, &["-n", "300", "--rate", "50"], b"");
    let evs: Vec<_> = out
        .stdout
        .lines()
        .map(|l| parse_line(l.as_bytes()).unwrap())
        .collect();
    assert!(evs.windows(2).all(|w| w[0].ts_ms <= w[1].ts_ms));
    assert_eq!(count(&out.raw, EventType::TransactionOpen), 300);
    assert_eq!(count(&out.raw, EventType::TransactionClose), 300);
    let mut open = 0i64;
    let mut max_open = 0;
    for e in &evs {
        match e.kind {
            EventType::TransactionOpen => open += 1,
            EventType::TransactionClose => open -= 1,
            _ => {}
        }
        max_open = max_open.max(open);
    }
    assert!(max_open > 10, "only {max_open} transactions ever in flight");
}

#[test]
fn faults_are_exact() {
    let clean = run(BIN, &["-n", "400", "--seed", "3"], b"");
    let dirty = run(
        BIN,
        &[
            "-n",
            "400",
            "--seed",
            "3",
            "--junk",
            "10",
            "--drop-closes",
            "4",
            "--duplicates",
            "6",
        ],
        b"",
    );
    assert_eq!(dirty.code, 0);
    let bad = dirty
        .raw
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && parse_line(l).is_err())
        .count();
    assert_eq!(bad, 10);
    assert_eq!(count(&dirty.raw, EventType::TransactionClose), 400 - 4 + 3);
    assert_eq!(count(&dirty.raw, EventType::TransactionOpen), 400 + 3);
    // The faults leave every other line as it was.
    let mut kept: Vec<&[u8]> = dirty
        .raw
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty() && parse_line(l).is_ok())
        .collect();
    kept.dedup();
    let clean_lines: Vec<&[u8]> = clean
        .raw
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    assert_eq!(kept.len(), clean_lines.len() - 4);
    assert!(kept.iter().all(|l| clean_lines.contains(l)));
}

#[test]
fn reordering_keeps_every_line() {
    let clean = run(BIN, &["-n", "200"], b"");
    let shuffled = run(BIN, &["-n", "200", "--reorder", "16"], b"");
    assert_ne!(clean.stdout, shuffled.stdout);
    let mut a = lines(&clean.stdout);
    let mut b = lines(&shuffled.stdout);
    a.sort_unstable();
    b.sort_unstable();
    assert_eq!(a, b);
}

#[test]
fn a_workflow_file_defines_steps_parallel_groups_and_errors() {
    let out = run(
        BIN,
        &[
            "--workflows",
            &path("workflows/two-step.json"),
            "-n",
            "200",
            "--outlier-rate",
            "0",
        ],
        b"",
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let evs: Vec<_> = out
        .stdout
        .lines()
        .map(|l| parse_line(l.as_bytes()).unwrap())
        .collect();
    let steps: std::collections::BTreeSet<_> = evs
        .iter()
        .filter_map(|e| e.step.as_deref().map(str::to_string))
        .collect();
    assert_eq!(
        steps.into_iter().collect::<Vec<_>>(),
        ["extract", "load", "transform_a", "transform_b"]
    );
    // Every wait is the fixed 250 ms; load fails about half the time with a listed error.
    assert!(evs
        .iter()
        .filter(|e| e.kind == EventType::InterStepWait)
        .all(|e| e.planned_wait_ms == Some(250)));
    let loads: Vec<_> = evs
        .iter()
        .filter(|e| e.kind == EventType::StepDone && e.step.as_deref() == Some("load"))
        .collect();
    let failed = loads.iter().filter(|e| e.error.is_some()).count();
    assert!((60..140).contains(&failed), "{failed} of {}", loads.len());
    assert!(loads
        .iter()
        .filter_map(|e| e.error.as_deref())
        .all(|e| e == "DiskFull" || e == "Timeout"));
    // The parallel pair opens at the same instant.
    let opens: Vec<_> = evs
        .iter()
        .filter(|e| {
            e.kind == EventType::StepOpen
                && e.step
                    .as_deref()
                    .is_some_and(|s| s.starts_with("transform"))
        })
        .collect();
    assert!(opens
        .chunks(2)
        .all(|p| p[0].ts_ms == p[1].ts_ms && p[0].txn_id == p[1].txn_id));
}

#[test]
fn list_workflows_prints_a_file_wf_sim_reads_back() {
    let listed = run(BIN, &["--list-workflows"], b"");
    assert_eq!(listed.code, 0);
    assert!(listed.stdout.contains("\"name\": \"checkout\""));
    let file = std::env::temp_dir().join(format!("wf-sim-list-{}.json", std::process::id()));
    std::fs::write(&file, &listed.stdout).unwrap();
    let from_file = run(
        BIN,
        &[
            "--workflows",
            file.to_str().unwrap(),
            "-n",
            "50",
            "--seed",
            "7",
        ],
        b"",
    );
    std::fs::remove_file(&file).unwrap();
    let builtin = run(BIN, &["-n", "50", "--seed", "7"], b"");
    assert_eq!(from_file.stdout, builtin.stdout);
}

#[test]
fn one_workflow_only() {
    let out = run(BIN, &["-n", "100", "--workflow", "signup"], b"");
    assert!(out
        .stdout
        .lines()
        .filter_map(|l| parse_line(l.as_bytes()).ok())
        .filter_map(|e| e.workflow.map(|w| w.into_owned()))
        .all(|w| w == "signup"));
    let bad = run(BIN, &["--workflow", "nope"], b"");
    assert_eq!(bad.code, 2);
    assert_eq!(
        bad.stderr,
        "wf-sim: no workflow named 'nope' (known: checkout, signup, agent_run)\n\
         Try 'wf-sim --help' for more information.\n"
    );
}

#[test]
fn bad_workflow_files_are_clear_errors() {
    let range = path("workflows/bad-range.json");
    let out = run(BIN, &["--workflows", &range], b"");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!("wf-sim: {range}: workflow 1 (\"w\"): step \"a\": latency: uniform: need 0 <= min_ms <= max_ms\n")
    );
    let truncated = path("workflows/truncated.json");
    let out = run(BIN, &["--workflows", &truncated], b"");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!("wf-sim: {truncated}: EOF while parsing a list at line 1 column 39\n")
    );
    let out = run(BIN, &["--workflows", "missing.json"], b"");
    assert_eq!(
        out.stderr,
        "wf-sim: missing.json: No such file or directory (os error 2)\n"
    );
}

#[test]
fn usage_errors_exit_2() {
    for (args, msg) in [
        (
            vec!["--samples", "lots"],
            "invalid value 'lots' for --samples: expected a whole number",
        ),
        (
            vec!["--junk", "5", "--realtime"],
            "--junk, --drop-closes and --duplicates need --samples (they are exact counts)",
        ),
        (
            vec!["-n", "3", "--drop-closes", "4"],
            "--drop-closes plus --duplicates (4) is more than --samples (3)",
        ),
        (
            vec!["--outlier-min-ms", "9", "--outlier-max-ms", "5"],
            "--outlier-min-ms (9) must be >= 0 and <= --outlier-max-ms (5)",
        ),
        (vec!["extra"], "unexpected argument \"extra\""),
        (
            vec!["--incident", "outage:1m-2m"],
            "--incident 'outage:1m-2m': unknown kind 'outage'; the form is KIND:FROM-TO[:AMOUNT], \
             KIND one of slowdown (AMOUNT a factor, e.g. x5 [default]), errors (a failure rate, \
             e.g. 0.5 [default] or 50%) or drop (the share of --rate left, e.g. 0.1 [default]); \
             FROM and TO durations since the start, e.g. slowdown:5m-7m:x4",
        ),
    ] {
        let out = run(BIN, &args, b"");
        assert_eq!(out.code, 2, "{args:?}");
        assert_eq!(
            out.stderr,
            format!("wf-sim: {msg}\nTry 'wf-sim --help' for more information.\n")
        );
    }
}

#[test]
fn realtime_paces_by_the_wall_clock() {
    let start = std::time::Instant::now();
    let out = run(
        BIN,
        &[
            "--realtime",
            "--rate",
            "200",
            "--duration",
            "1s",
            "--outlier-rate",
            "0",
            "--workflows",
            &path("workflows/two-step.json"),
        ],
        b"",
    );
    let took = start.elapsed();
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    // Starts for one second, then the last transactions finish (a few hundred ms).
    assert!(took >= std::time::Duration::from_millis(1000), "{took:?}");
    assert!(took < std::time::Duration::from_secs(10), "{took:?}");
    let first: i64 = parse_line(out.stdout.lines().next().unwrap().as_bytes())
        .unwrap()
        .ts_ms;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    assert!(
        (now - first).abs() < 15_000,
        "timestamps are not now: {first} vs {now}"
    );
    assert!(count(&out.raw, EventType::TransactionOpen) > 100);
}

#[test]
fn help_and_version() {
    let long = run(BIN, &["--help"], b"");
    assert_eq!(long.code, 0);
    assert!(long.stdout.contains("Examples:\n"));
    assert!(long.stdout.contains("wf-sim --samples 100000 | wf-agg"));
    let short = run(BIN, &["-h"], b"");
    assert!(!short.stdout.contains("Examples:"));
    assert_eq!(
        run(BIN, &["-V"], b"").stdout,
        format!("wf-sim {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn an_incident_changes_only_the_transactions_in_its_range() {
    let clean = run(BIN, &["--duration", "60s"], b"");
    let slow = run(
        BIN,
        &["--duration", "60s", "--incident", "slowdown:20s-30s:x3"],
        b"",
    );
    assert_eq!((slow.code, slow.stderr.as_str()), (0, ""));
    // The same transactions (same random draws), so the same opens.
    let opens = |out: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains("\"transaction_open\""))
            .map(String::from)
            .collect()
    };
    assert_eq!(opens(&clean.stdout), opens(&slow.stdout));
    // Step durations: the same before 20 s, three times as long (rounded)
    // for transactions started between 20 and 30 s.
    let steps = |out: &str| -> std::collections::HashMap<(String, String), (i64, i64)> {
        let mut open = std::collections::HashMap::new();
        let mut done = std::collections::HashMap::new();
        for l in out.lines() {
            let v: serde_json::Value = serde_json::from_str(l).unwrap();
            let id = v["txn_id"].as_str().unwrap().to_string();
            match v["type"].as_str().unwrap() {
                "transaction_open" => {
                    open.insert(id, v["ts_ms"].as_i64().unwrap());
                }
                "step_done" => {
                    let key = (id.clone(), v["step"].as_str().unwrap().to_string());
                    done.insert(key, (open[&id], v["duration_ms"].as_i64().unwrap()));
                }
                _ => {}
            }
        }
        done
    };
    let (a, b) = (steps(&clean.stdout), steps(&slow.stdout));
    let t0 = 1_767_225_600_000;
    let mut slowed = 0;
    for (key, (opened, d)) in &a {
        let Some((_, d2)) = b.get(key) else { continue };
        if (t0 + 20_000..t0 + 30_000).contains(opened) {
            assert_eq!(*d2, d * 3, "{key:?}");
            slowed += 1;
        } else {
            assert_eq!(d2, d, "{key:?}");
        }
    }
    assert!(slowed > 2_000, "{slowed}");
}
