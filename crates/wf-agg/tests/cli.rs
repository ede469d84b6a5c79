//! wf-agg as a user runs it: the built binary, goldens in testdata/, exact stderr
//! and exit codes.

use serde_json::Value;
use wf_testkit::{golden, run, testdata};

const BIN: &str = env!("CARGO_BIN_EXE_wf-agg");

fn path(rel: &str) -> String {
    testdata(rel).to_string_lossy().into_owned()
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

#[test]
fn simulated_run_text_and_json_goldens() {
    let input = std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap();
    let text = run(BIN, &[], &input);
    assert_eq!((text.code, text.stderr.as_str()), (0, ""));
    golden("agg/seed7-50.expected.txt", &text.stdout);
    let js = run(BIN, &["--json"], &input);
    assert_eq!((js.code, js.stderr.as_str()), (0, ""));
    golden("agg/seed7-50.expected.json", &js.stdout);
    let r = json(&js.stdout);
    assert_eq!(r["events"]["total"], 775);
    assert_eq!(r["transactions"]["closed"], 50);
    assert_eq!(r["transactions"]["open_at_end"], 0);
}

#[test]
fn interleaved_stream_pairs_everything_it_can() {
    let out = run(BIN, &["--json", &path("agg/interleaved.jsonl")], b"");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    golden("agg/interleaved.expected.json", &out.stdout);
    let r = json(&out.stdout);
    let t = &r["transactions"];
    assert_eq!(t["closed"], 3);
    assert_eq!(t["open_at_end"], 1);
    assert_eq!(t["orphan_closes"], 1);
    assert_eq!(t["duplicates"], 1);
    assert_eq!(t["abandoned"], 0);
    assert_eq!(r["events"]["unknown_type"], 1);
    assert_eq!(r["events"]["total"], 20);
    // The step without duration_ms is paired with its step_open: 1400 - 1256.
    let charge = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["step"] == "charge")
        .unwrap();
    assert_eq!(charge["duration_ms"]["max"], 144);
    assert_eq!(charge["workflow"], "checkout");
    assert_eq!(r["gaps"]["lateness_ms"]["max"], 6);
    assert_eq!(r["gaps"]["outliers"], 1);
    assert_eq!(r["gaps"]["injected_outliers"], 1);
}

#[test]
fn text_report_of_the_interleaved_stream() {
    let out = run(BIN, &[&path("agg/interleaved.jsonl")], b"");
    assert_eq!(out.code, 0);
    golden("agg/interleaved.expected.txt", &out.stdout);
}

#[test]
fn malformed_lines_are_counted_and_reported_with_line_numbers() {
    let file = path("bad/mixed.jsonl");
    let out = run(BIN, &["--json", &file], b"");
    assert_eq!(out.code, 0);
    let expected: String = [
        "2: not JSON: expected ident at column 2",
        "3: not JSON: EOF while parsing an object at column 43",
        "4: missing field \"ts_ms\"",
        "5: field \"ts_ms\": invalid type: string \"yesterday\", expected an integer",
        "6: not a JSON object: found sequence",
        "7: field \"status\": invalid value: string \"fine\", expected \"ok\" or \"error\"",
        "8: missing field \"type\"",
        "10: not UTF-8: invalid byte at column 38",
    ]
    .iter()
    .map(|l| format!("wf-agg: {file}:{l}\n"))
    .collect();
    assert_eq!(out.stderr, expected);
    let r = json(&out.stdout);
    assert_eq!(r["events"]["malformed"], 8);
    assert_eq!(r["events"]["total"], 2);
    // Nothing read is lost: the good lines around the bad ones still pair.
    assert_eq!(r["transactions"]["closed"], 1);
}

#[test]
fn only_the_first_few_are_shown_then_a_total() {
    let out = run(
        BIN,
        &["--show-malformed", "2", "-"],
        &std::fs::read(testdata("bad/mixed.jsonl")).unwrap(),
    );
    assert_eq!(
        out.stderr,
        "wf-agg: <stdin>:2: not JSON: expected ident at column 2\n\
         wf-agg: <stdin>:3: not JSON: EOF while parsing an object at column 43\n\
         wf-agg: 8 malformed lines in all (the first 2 shown)\n"
    );
    assert!(
        out.stdout.contains("malformed lines    8\n"),
        "{}",
        out.stdout
    );
}

#[test]
fn a_truncated_last_line_is_reported_not_dropped() {
    let file = path("bad/truncated-line.jsonl");
    let out = run(BIN, &["--json", &file], b"");
    assert_eq!(out.code, 0);
    assert_eq!(
        out.stderr,
        format!("wf-agg: {file}:3: not JSON: EOF while parsing a value at column 48\n")
    );
    let r = json(&out.stdout);
    assert_eq!(r["events"]["malformed"], 1);
    assert_eq!(r["transactions"]["closed"], 1);
}

#[test]
fn strict_stops_at_the_first_malformed_line() {
    let file = path("bad/mixed.jsonl");
    let out = run(BIN, &["--strict", &file], b"");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        format!("wf-agg: {file}:2: not JSON: expected ident at column 2\n")
    );
}

#[test]
fn csv_files_have_a_row_per_transaction_and_gap() {
    let dir = std::env::temp_dir().join(format!("wf-agg-csv-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let txn = dir.join("txn.csv");
    let gap = dir.join("gap.csv");
    let out = run(
        BIN,
        &[
            "--file",
            &path("agg/interleaved.jsonl"),
            "--txn-csv",
            txn.to_str().unwrap(),
            "--gap-csv",
            gap.to_str().unwrap(),
        ],
        b"",
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(
        std::fs::read_to_string(&txn).unwrap(),
        "txn_id,duration_ms,workflow,status,open_ts_ms\n\
         b,96,signup,error,1005\n\
         a,400,checkout,error,1000\n\
         c,50,checkout,ok,1450\n"
    );
    assert_eq!(
        std::fs::read_to_string(&gap).unwrap(),
        "gap_ms,txn_id,ts_ms,from_step,to_step,outlier_injected\n\
         200,a,1050,validate,charge,false\n\
         20000,d,1730,create_account,verify_email,true\n"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn derived_gaps_come_from_the_steps() {
    let out = run(
        BIN,
        &[
            "--json",
            "--derive-inter-step",
            "--outlier-ms",
            "200",
            &path("agg/interleaved.jsonl"),
        ],
        b"",
    );
    let r = json(&out.stdout);
    let g = &r["gaps"];
    assert_eq!(g["source"], "derived");
    // One observed gap: a's validate done at 1050, charge opened at 1256.
    assert_eq!(g["duration_ms"]["count"], 1);
    assert_eq!(g["duration_ms"]["min"], 206);
    assert_eq!(g["outliers"], 1);
    assert_eq!(g["outlier_threshold_ms"], 200);
}

#[test]
fn open_ttl_turns_long_open_transactions_into_abandoned() {
    let input = b"{\"type\":\"transaction_open\",\"txn_id\":\"slow\",\"ts_ms\":0}\n\
        {\"type\":\"transaction_open\",\"txn_id\":\"x\",\"ts_ms\":500}\n\
        {\"type\":\"transaction_close\",\"txn_id\":\"x\",\"ts_ms\":2500}\n\
        {\"type\":\"transaction_close\",\"txn_id\":\"slow\",\"ts_ms\":4000}\n";
    let r = json(&run(BIN, &["--json", "--open-ttl", "3s"], input).stdout);
    let t = &r["transactions"];
    assert_eq!(t["abandoned"], 1);
    assert_eq!(t["closed"], 1);
    assert_eq!(t["orphan_closes"], 1);
    let r = json(&run(BIN, &["--json"], input).stdout);
    assert_eq!(r["transactions"]["closed"], 2);
    assert_eq!(r["transactions"]["abandoned"], 0);
}

#[test]
fn several_inputs_are_one_stream() {
    let half = std::fs::read_to_string(testdata("sim/seed7-50.jsonl")).unwrap();
    let lines: Vec<&str> = half.lines().collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let first = std::env::temp_dir().join(format!("wf-agg-first-{}.jsonl", std::process::id()));
    std::fs::write(&first, a.join("\n") + "\n").unwrap();
    let split = run(
        BIN,
        &["--json", first.to_str().unwrap(), "-"],
        (b.join("\n") + "\n").as_bytes(),
    );
    let whole = run(BIN, &["--json", &path("sim/seed7-50.jsonl")], b"");
    std::fs::remove_file(&first).unwrap();
    assert_eq!(split.code, 0);
    assert_eq!(split.stdout, whole.stdout);
}

#[test]
fn empty_input_gives_an_empty_report() {
    let out = run(BIN, &["--json"], b"");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    golden("agg/empty.expected.json", &out.stdout);
    let r = json(&out.stdout);
    assert_eq!(r["transactions"]["duration_ms"]["count"], 0);
    assert_eq!(r["transactions"]["duration_ms"]["p50"], Value::Null);
}

#[test]
fn a_missing_file_is_an_error_before_any_work() {
    let out = run(BIN, &["nope.jsonl"], b"");
    assert_eq!(out.code, 1);
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "wf-agg: nope.jsonl: No such file or directory (os error 2)\n"
    );
}

/// Exit 2, and the message with a pointer to --help on stderr.
fn assert_usage_error(args: &[&str], msg: &str) {
    let out = run(BIN, args, b"");
    assert_eq!(out.code, 2, "{args:?}");
    assert_eq!(
        out.stderr,
        format!("wf-agg: {msg}\nTry 'wf-agg --help' for more information.\n")
    );
}

#[test]
fn usage_errors_exit_2_and_point_at_help() {
    for (args, msg) in [
        (vec!["--bogus"], "unknown option '--bogus'"),
        (
            vec!["--top", "many"],
            "invalid value 'many' for --top: expected a whole number",
        ),
        (
            vec!["--open-ttl", "5 weeks"],
            "--open-ttl: invalid duration '5 weeks': unknown unit ' weeks' (use ms, s, m, h or d)",
        ),
        (vec!["-", "-"], "standard input ('-') can be read only once"),
    ] {
        assert_usage_error(&args, msg);
    }
}

#[test]
fn help_and_version() {
    let short = run(BIN, &["-h"], b"");
    assert_eq!(short.code, 0);
    assert!(short
        .stdout
        .starts_with("wf-agg: aggregate workflow events"));
    assert!(!short.stdout.contains("Examples:"));
    let long = run(BIN, &["--help"], b"");
    assert!(long.stdout.contains("Examples:\n"));
    assert!(long.stdout.contains("wf-sim --samples 100000 | wf-agg\n"));
    let v = run(BIN, &["--version"], b"");
    assert_eq!(v.stdout, format!("wf-agg {}\n", env!("CARGO_PKG_VERSION")));
}

#[test]
fn extreme_timestamps_saturate_instead_of_overflowing() {
    // The test binary is a debug build: an overflow would panic here.
    let out = run(BIN, &["--json", &path("bad/extreme-timestamps.jsonl")], b"");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let r = json(&out.stdout);
    // a's close at i64::MAX moves event time past its TTL: a is abandoned and its
    // close an orphan. b pairs, its duration saturating at i64::MAX.
    let t = &r["transactions"];
    assert_eq!(
        (&t["closed"], &t["abandoned"], &t["orphan_closes"]),
        (&1.into(), &1.into(), &1.into())
    );
    assert_eq!(t["duration_ms"]["max"], i64::MAX);
}

/// Lines of every shape a broken producer writes: wrong types, extreme numbers,
/// truncation, repeats, any order. Deterministic (a fixed LCG), so a failure
/// reproduces.
fn hostile_input(seed: u64) -> Vec<u8> {
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut next = move |n: u64| {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        (x >> 33) % n
    };
    let types = [
        "transaction_open",
        "transaction_close",
        "step_open",
        "step_done",
        "inter_step_wait",
        "other",
    ];
    let ints = [
        "0",
        "-1",
        "7",
        "65535",
        "65536",
        "9007199254740993",
        "9223372036854775807",
        "-9223372036854775808",
    ];
    let values = [
        "1.5",
        "\"x\"",
        "null",
        "true",
        "[1]",
        "{}",
        "\"\\u00e9\\\"\"",
    ];
    let fields = [
        "workflow",
        "step",
        "step_index",
        "duration_ms",
        "status",
        "error",
        "to_step",
        "planned_wait_ms",
        "outlier_injected",
    ];
    let mut out = Vec::new();
    for _ in 0..3000 {
        let mut line = format!(
            "{{\"type\":\"{}\",\"txn_id\":\"t{}\",\"ts_ms\":{}",
            types[next(6) as usize],
            next(40),
            if next(4) == 0 {
                ints[next(8) as usize].to_string()
            } else {
                (1_767_225_600_000 + next(100_000)).to_string()
            }
        );
        for f in fields {
            if next(3) == 0 {
                let v = match (f, next(4)) {
                    (_, 0) => values[next(7) as usize].to_string(),
                    (_, 1) => ints[next(8) as usize].to_string(),
                    ("status", _) => ["\"ok\"", "\"error\""][next(2) as usize].to_string(),
                    ("outlier_injected", _) => "true".to_string(),
                    ("workflow" | "step" | "error" | "to_step", _) => format!("\"s{}\"", next(4)),
                    _ => next(100_000).to_string(),
                };
                line.push_str(&format!(",\"{f}\":{v}"));
            }
        }
        line.push('}');
        if next(20) == 0 {
            line.truncate(next(line.len() as u64) as usize);
        }
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
    }
    out
}

#[test]
fn hostile_input_never_crashes() {
    for seed in 0..12 {
        let input = hostile_input(seed);
        for flags in [
            &["--json", "--open-ttl", "1s"][..],
            &["--derive-inter-step"][..],
        ] {
            let out = run(BIN, flags, &input);
            assert_eq!(out.code, 0, "seed {seed} {flags:?}: {}", out.stderr);
            assert!(
                !out.stderr.contains("panicked"),
                "seed {seed}: {}",
                out.stderr
            );
        }
    }
}

#[test]
fn fail_on_exits_3_with_a_line_per_violated_objective() {
    let file = path("sim/seed7-50.jsonl");
    let out = run(
        BIN,
        &[
            "--fail-on",
            "p99>2s",
            "--fail-on",
            "p99>1h",
            "--fail-on",
            "step:charge_card:p95>500ms",
            "--fail-on",
            "workflow:checkout:error_rate>=5%",
            "--fail-on",
            "step:nope:p50>1ms",
            &file,
        ],
        b"",
    );
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        "wf-agg: objective violated: p99>2s: transactions p99 is 12105 ms\n\
         wf-agg: objective violated: step:charge_card:p95>500ms: step checkout/charge_card p95 is 1166 ms\n\
         wf-agg: objective violated: step:nope:p50>1ms: no data (nothing matches the scope)\n"
    );
    // The report is printed either way.
    assert!(out.stdout.starts_with("Events: 775 read\n"));
    let met = run(
        BIN,
        &["--fail-on", "p99>1h", "--fail-on", "malformed>0", &file],
        b"",
    );
    assert_eq!((met.code, met.stderr.as_str()), (0, ""));
}

#[test]
fn a_bad_objective_is_a_usage_error_showing_the_grammar() {
    let out = run(BIN, &["--fail-on", "p42>1s"], b"");
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        format!(
            "wf-agg: invalid objective 'p42>1s': unknown metric 'p42' here\n{}\nTry 'wf-agg --help' for more information.\n",
            wf_agg::slo::GRAMMAR
        )
    );
}

fn tmp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("wf-agg-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_string_lossy().into_owned()
}

#[test]
fn states_of_two_halves_merge_to_the_whole() {
    let input = std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap();
    let whole = run(BIN, &["--json"], &input);
    // Cut in the middle of transactions: the merge pairs them again.
    let lines: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
    let (a, b) = lines.split_at(lines.len() / 2);
    let (sa, sb) = (tmp("a.state"), tmp("b.state"));
    for (part, state) in [(a, &sa), (b, &sb)] {
        let out = run(BIN, &["--state-out", state], &part.concat());
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    }
    let halves: Vec<Value> = [&sa, &sb]
        .iter()
        .map(|s| {
            let out = run(BIN, &["merge", "--json", s], b"");
            json(&out.stdout)
        })
        .collect();
    assert!(halves[0]["transactions"]["open_at_end"].as_u64().unwrap() > 0);
    assert!(halves[1]["transactions"]["orphan_closes"].as_u64().unwrap() > 0);
    let merged = run(BIN, &["merge", "--json", &sa, &sb], b"");
    assert_eq!((merged.code, merged.stderr.as_str()), (0, ""));
    assert_eq!(merged.stdout, whole.stdout);
    // And in the other order.
    let merged = run(BIN, &["merge", "--json", &sb, &sa], b"");
    assert_eq!(merged.stdout, whole.stdout);
}

#[test]
fn merge_refuses_other_options_and_other_files() {
    let input = std::fs::read(testdata("sim/seed7-50.jsonl")).unwrap();
    let (sa, sb) = (tmp("opt-a.state"), tmp("opt-b.state"));
    assert_eq!(run(BIN, &["--state-out", &sa], &input).code, 0);
    assert_eq!(
        run(BIN, &["--outlier-ms", "5000", "--state-out", &sb], &input).code,
        0
    );
    let out = run(BIN, &["merge", &sa, &sb], b"");
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!("wf-agg: {sb}: counted with other options (--outlier-ms 5000, here 15000)\n")
    );
    let not_state = path("sim/seed7-50.jsonl");
    let out = run(BIN, &["merge", &not_state], b"");
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with(&format!("wf-agg: {not_state}: not a wf-agg state file (")),
        "{}",
        out.stderr
    );
    let out = run(BIN, &["merge"], b"");
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            2,
            "wf-agg: merge needs at least one state file\nTry 'wf-agg --help' for more information.\n"
        )
    );
    let out = run(BIN, &["--kafka-max-events", "5"], b"");
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            2,
            "wf-agg: --kafka-max-events needs --kafka-bootstrap\nTry 'wf-agg --help' for more information.\n"
        )
    );
}

#[test]
fn trace_prints_one_transactions_timeline() {
    let input = path("sim/seed7-50.jsonl");
    let out = run(BIN, &["--trace", "c8c50dba4613b90b", &input], b"");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    golden("agg/trace-c8c50dba4613b90b.expected.txt", &out.stdout);
    // A failed step shows its error.
    let out = run(BIN, &["--trace", "c4175ae24a7f7f05", &input], b"");
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    golden("agg/trace-c4175ae24a7f7f05.expected.txt", &out.stdout);
    assert!(out
        .stdout
        .contains("call_api  took 123 ms  error (NetworkError)"));
    let out = run(BIN, &["--trace", "c8c50dba4613b90b", "--json", &input], b"");
    let t = json(&out.stdout);
    assert_eq!(t["duration_ms"], 6695);
    assert_eq!(t["status"], "ok");
    assert_eq!(t["events"].as_array().unwrap().len(), 18);
    let second = &t["events"][4];
    assert_eq!(
        (
            &second["type"],
            &second["gap_ms"],
            &second["planned_wait_ms"]
        ),
        (
            &Value::from("step_open"),
            &Value::from(1939),
            &Value::from(1937)
        )
    );
    let out = run(BIN, &["--trace", "nope", &input], b"");
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            1,
            "wf-agg: nope: no event of this transaction in the input\n"
        )
    );
    let out = run(BIN, &["--trace", "x", "--kafka-bootstrap", "h:1"], b"");
    assert_eq!(
        (out.code, out.stderr.as_str()),
        (
            2,
            "wf-agg: --trace reads files or standard input and prints a timeline only\nTry 'wf-agg --help' for more information.\n"
        )
    );
}

#[test]
fn progress_shows_on_a_terminal_and_is_wiped() {
    let input = path("sim/seed7-50.jsonl");
    // script(1) gives the command a terminal; the input pauses past a second.
    let cmd = format!("(head -n 100 {input}; sleep 1.6; tail -n +101 {input}) | {BIN} > /dev/null");
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .expect("script(1) from util-linux runs");
    let shown = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{shown}");
    assert!(
        shown.starts_with("\r\x1b[2Kwf-agg: 0.0 MB, 100 events read, "),
        "{shown:?}"
    );
    assert!(shown.ends_with(" events/s\r\x1b[2K"), "{shown:?}");
    // Not on a pipe: the other tests see an empty stderr.
    let piped = run(BIN, &[&input], b"");
    assert_eq!(piped.stderr, "");
}

/// Ten minutes of wf-sim's defaults (100 starts a second), with `incidents`.
fn ten_minutes(seed: u64, incidents: &[&str]) -> Vec<u8> {
    let mut cfg = wf_sim::Config::builtin(0, seed);
    cfg.samples = None;
    cfg.duration_ms = Some(600_000);
    cfg.incidents = incidents
        .iter()
        .map(|i| wf_sim::incident::Incident::parse(i).unwrap())
        .collect();
    cfg.generate().unwrap()
}

/// (minute of the run, kind, metric) of each anomaly.
fn anomalies(input: &[u8]) -> Vec<(i64, String, String)> {
    let out = run(BIN, &["--window", "1m", "--json"], input);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let r = json(&out.stdout);
    let items = r["windows"]["items"].as_array().unwrap();
    assert_eq!(r["windows"]["window_ms"], 60_000);
    // Starts for ten minutes; the last closes come in the eleventh (or, for a
    // transaction over a minute long, the twelfth).
    assert!((11..=12).contains(&items.len()), "{}", items.len());
    assert_eq!(
        items
            .iter()
            .map(|w| w["closed"].as_u64().unwrap())
            .sum::<u64>(),
        r["transactions"]["closed"].as_u64().unwrap()
    );
    r["anomalies"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let start = a["window_start_ms"].as_i64().unwrap();
            assert_eq!(a["window_end_ms"].as_i64().unwrap(), start + 60_000);
            (
                (start - wf_sim::DEFAULT_START_MS) / 60_000,
                a["kind"].as_str().unwrap().to_string(),
                a["metric"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn clean_runs_flag_no_anomaly() {
    for seed in [1, 2, 3] {
        assert_eq!(anomalies(&ten_minutes(seed, &[])), vec![], "seed {seed}");
    }
}

#[test]
fn injected_incidents_are_found_where_they_were_injected() {
    let has = |found: &[(i64, String, String)], minute: i64, kind: &str, metric: &str| {
        found
            .iter()
            .any(|(m, k, x)| *m == minute && k == kind && x == metric)
    };
    // A 4x slowdown of the transactions started in minutes 5 and 6: their p95
    // spikes; the slowed ones still closing in minute 7 show there too.
    let found = anomalies(&ten_minutes(1, &["slowdown:5m-7m:x4"]));
    assert!(has(&found, 5, "spike", "p95_ms"), "{found:?}");
    assert!(has(&found, 6, "spike", "p95_ms"), "{found:?}");
    assert!(has(&found, 5, "pattern_shift", "p50_ms"), "{found:?}");
    assert!(
        found.iter().all(|(m, _, _)| (5..=7).contains(m)),
        "{found:?}"
    );
    // An error burst in minute 3.
    let found = anomalies(&ten_minutes(1, &["errors:3m-4m:0.3"]));
    assert!(has(&found, 3, "spike", "error_rate"), "{found:?}");
    assert!(found.iter().all(|(m, _, _)| *m == 3), "{found:?}");
    // A fifth of the traffic in minutes 6 and 7, and nothing else.
    let found = anomalies(&ten_minutes(1, &["drop:6m-8m:0.2"]));
    assert_eq!(
        found,
        vec![
            (6, "drop".into(), "throughput".into()),
            (7, "drop".into(), "throughput".into())
        ]
    );
}

#[test]
fn windows_report_throughput_error_rate_and_percentiles() {
    let out = run(
        BIN,
        &["--window", "10s", "--json", &path("agg/interleaved.jsonl")],
        b"",
    );
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    let r = json(&out.stdout);
    let w = &r["windows"]["items"][0];
    assert_eq!(w["start_ms"], 0);
    assert_eq!(w["end_ms"], 10_000);
    assert_eq!(w["closed"], 3);
    assert_eq!(w["errors"], 2);
    assert_eq!(w["throughput"], 0.3);
    assert_eq!(w["error_rate"], 2.0 / 3.0);
    // 50, 96 and 400 ms.
    assert_eq!(w["duration_ms"]["p50"], 96);
    assert_eq!(w["duration_ms"]["max"], 400);
    // Too short for a baseline: nothing judged.
    assert_eq!(r["anomalies"], serde_json::json!([]));
    // Without --window neither key is there.
    let out = run(BIN, &["--json", &path("agg/interleaved.jsonl")], b"");
    let r = json(&out.stdout);
    assert!(r.get("windows").is_none() && r.get("anomalies").is_none());
}

#[test]
fn health_thresholds_can_be_set() {
    let rows = |args: &[&str]| -> Vec<(String, String, Value)> {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let f = path("agg/interleaved.jsonl");
        all.push(&f);
        let out = run(BIN, &all, b"");
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
        let r = json(&out.stdout);
        r["steps"]
            .as_array()
            .unwrap()
            .iter()
            .chain(r["workflows"].as_array().unwrap())
            .map(|s| {
                let name = format!(
                    "{}/{}",
                    s["workflow"].as_str().unwrap(),
                    s["step"].as_str().unwrap_or("")
                );
                (
                    name,
                    s["health"].as_str().unwrap().to_string(),
                    s["health_reason"].clone(),
                )
            })
            .collect()
    };
    // The defaults: 20% errors fail a row; p95 over 1 s degrades a step.
    assert_eq!(
        rows(&[]),
        vec![
            (
                "checkout/charge".into(),
                "failed".into(),
                "error rate 100.0% > 20%".into()
            ),
            ("checkout/validate".into(), "healthy".into(), Value::Null),
            (
                "signup/create_account".into(),
                "failed".into(),
                "error rate 50.0% > 20%".into()
            ),
            (
                "checkout/".into(),
                "failed".into(),
                "error rate 50.0% > 20%".into()
            ),
            (
                "signup/".into(),
                "failed".into(),
                "error rate 100.0% > 20%".into()
            ),
        ]
    );
    let set = rows(&[
        "--error-rate-threshold",
        "60%",
        "--slow-ms",
        "100",
        "--slow-txn-ms",
        "90",
    ]);
    assert_eq!(
        set,
        vec![
            (
                "checkout/charge".into(),
                "failed".into(),
                "error rate 100.0% > 60%; p95 144 ms > 100 ms".into()
            ),
            ("checkout/validate".into(), "healthy".into(), Value::Null),
            (
                "signup/create_account".into(),
                "degraded".into(),
                "error rate 50.0% > 30% (half of 60%)".into()
            ),
            (
                "checkout/".into(),
                "degraded".into(),
                "error rate 50.0% > 30% (half of 60%); p95 400 ms > 90 ms".into()
            ),
            (
                "signup/".into(),
                "failed".into(),
                "error rate 100.0% > 60%; p95 96 ms > 90 ms".into()
            ),
        ]
    );
}

#[test]
fn error_patterns_count_each_error_of_each_step_with_first_and_last_seen() {
    let input = ten_minutes(4, &["errors:3m-4m:0.3"]);
    let out = run(BIN, &["--json"], &input);
    let r = json(&out.stdout);
    let patterns = r["error_patterns"].as_array().unwrap();
    // Every failed step is in exactly one pattern, and the totals agree.
    let total: u64 = patterns.iter().map(|p| p["count"].as_u64().unwrap()).sum();
    let by_step: u64 = r["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["errors"].as_u64().unwrap())
        .sum();
    let by_error: u64 = r["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["count"].as_u64().unwrap())
        .sum();
    assert_eq!((total, by_error), (by_step, by_step));
    // Most frequent first; first seen never after last seen.
    let counts: Vec<u64> = patterns
        .iter()
        .map(|p| p["count"].as_u64().unwrap())
        .collect();
    assert!(counts.windows(2).all(|w| w[0] >= w[1]));
    for p in patterns {
        assert!(
            p["first_seen_ms"].as_i64() <= p["last_seen_ms"].as_i64(),
            "{p}"
        );
    }
}

#[test]
fn health_and_window_flags_check_their_values() {
    for (args, msg) in [
        (
            vec!["--window", "0"],
            "--window takes a duration from 1ms to 7d, e.g. 1m",
        ),
        (
            vec!["--error-rate-threshold", "1.5"],
            "--error-rate-threshold takes a fraction from 0 to 1 or a percentage, e.g. 0.2 or 20%",
        ),
        (
            vec!["--slow-ms", "fast"],
            "--slow-ms: invalid duration 'fast': unknown unit 'fast' (use ms, s, m, h or d)",
        ),
        (
            vec!["merge", "--window", "1m", "x.state"],
            "merge takes its windows from the states: give --window when saving them",
        ),
        (
            vec!["--watch", "--json"],
            "--watch draws a live dashboard: it takes no --json, --trace, --state-out, \
             --fail-on, CSV or --kafka-max-events",
        ),
        (
            vec!["--watch", "a.jsonl", "b.jsonl"],
            "--watch reads one input: standard input, a file, or Kafka",
        ),
        (
            vec!["--follow", "a.jsonl"],
            "--follow needs --watch and one FILE",
        ),
        (vec!["--interval", "1s"], "--interval needs --watch"),
    ] {
        assert_usage_error(&args, msg);
    }
}

#[test]
fn states_keep_their_windows_and_merge_them() {
    let input = ten_minutes(5, &["errors:4m-5m:0.4"]);
    let whole = run(BIN, &["--json", "--window", "1m"], &input);
    let r = json(&whole.stdout);
    assert_eq!(r["anomalies"][0]["kind"], "spike");
    // Three parts, cut anywhere: their states merge to the whole, windows and
    // anomalies included.
    let lines: Vec<&[u8]> = input.split_inclusive(|&b| b == b'\n').collect();
    let third = lines.len() / 3;
    let parts = [
        &lines[..third],
        &lines[third..2 * third],
        &lines[2 * third..],
    ];
    let states: Vec<String> = (0..3).map(|i| tmp(&format!("w{i}.state"))).collect();
    for (part, state) in parts.iter().zip(&states) {
        let out = run(
            BIN,
            &["--window", "1m", "--state-out", state],
            &part.concat(),
        );
        assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    }
    let mut args = vec!["merge", "--json"];
    args.extend(states.iter().map(String::as_str));
    let merged = run(BIN, &args, b"");
    assert_eq!((merged.code, merged.stderr.as_str()), (0, ""));
    assert_eq!(merged.stdout, whole.stdout);
    // A state without windows does not merge with one that has them.
    let plain = tmp("plain.state");
    assert_eq!(
        run(BIN, &["--state-out", &plain], parts[0].concat().as_slice()).code,
        0
    );
    let mixed = run(BIN, &["merge", &states[0], &plain], b"");
    assert_eq!(mixed.code, 1);
    assert_eq!(
        mixed.stderr,
        format!("wf-agg: {plain}: counted with other options (--window none, here 60000 ms)\n")
    );
}
