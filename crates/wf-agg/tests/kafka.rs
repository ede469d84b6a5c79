//! wf-sim → Kafka → wf-agg on librdkafka's mock cluster: the numbers equal the
//! pipe's exactly, a restarted consumer resumes from its commit, and three
//! consumers in one group merge to the single-pipe report.

use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;
use wf_testkit::{run, sibling, MockKafka};

const BIN: &str = env!("CARGO_BIN_EXE_wf-agg");
const TOPICS: [&str; 2] = ["workflow.transactions", "workflow.steps"];

fn sim() -> String {
    sibling(BIN, "wf-sim")
}

fn json(stdout: &str) -> Value {
    serde_json::from_str(stdout).unwrap_or_else(|e| panic!("not JSON ({e}):\n{stdout}"))
}

/// wf-agg's report over the pipe: the reference.
fn piped(samples: &str, seed: &str) -> String {
    let events = run(&sim(), &["--samples", samples, "--seed", seed], b"");
    assert_eq!(events.code, 0, "{}", events.stderr);
    let out = run(BIN, &["--json"], &events.raw);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    out.stdout
}

/// wf-agg --json reading the broker until 3 s pass with nothing new.
fn consume(bootstrap: &str, extra: &[&str]) -> wf_testkit::Run {
    let args = [
        "--json",
        "--kafka-bootstrap",
        bootstrap,
        "--kafka-idle-timeout",
        "3",
    ];
    run(BIN, &[&args[..], extra].concat(), b"")
}

fn produce(bootstrap: &str, samples: &str, seed: &str) {
    let out = run(
        &sim(),
        &[
            "--samples",
            samples,
            "--seed",
            seed,
            "--kafka-bootstrap",
            bootstrap,
        ],
        b"",
    );
    assert_eq!(
        (out.code, out.stderr.as_str(), out.stdout.as_str()),
        (0, "", "")
    );
}

fn tmp(name: &str) -> String {
    let dir = std::env::temp_dir().join(format!("wf-agg-kafka-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir.join(name).to_string_lossy().into_owned()
}

/// Kills the child if a test fails before waiting on it.
struct Reaped(Option<Child>);

impl Drop for Reaped {
    fn drop(&mut self) {
        if let Some(c) = &mut self.0 {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

#[test]
fn kafka_report_equals_the_pipe_exactly() {
    let k = MockKafka::start(&TOPICS, 6);
    let b = k.bootstrap();
    produce(&b, "2000", "3");
    let out = consume(&b, &[]);
    assert_eq!((out.code, out.stderr.as_str()), (0, ""));
    assert_eq!(out.stdout, piped("2000", "3"));
    let r = json(&out.stdout);
    assert_eq!(r["transactions"]["closed"], 2000);
    assert_eq!(r["transactions"]["duplicates"], 0);

    // Everything was committed: the group has nothing left to read.
    let again = consume(&b, &[]);
    assert_eq!((again.code, again.stderr.as_str()), (0, ""));
    assert_eq!(json(&again.stdout)["events"]["total"], 0);
    // --from-beginning reads it all again.
    let all = consume(&b, &["--from-beginning"]);
    assert_eq!(all.stdout, out.stdout);
}

#[test]
fn a_restarted_consumer_resumes_from_its_commit() {
    let k = MockKafka::start(&TOPICS, 6);
    let b = k.bootstrap();
    produce(&b, "1000", "5");
    let reference = piped("1000", "5");
    let total = json(&reference)["events"]["total"].as_u64().unwrap();
    let half = (total / 2).to_string();
    let (s1, s2) = (tmp("restart-1.state"), tmp("restart-2.state"));
    let common = [
        "--json",
        "--kafka-bootstrap",
        &b,
        "--kafka-group",
        "restart",
    ];

    let first = run(
        BIN,
        &[
            &common[..],
            &["--kafka-max-events", &half, "--state-out", &s1],
        ]
        .concat(),
        b"",
    );
    assert_eq!((first.code, first.stderr.as_str()), (0, ""));
    assert_eq!(json(&first.stdout)["events"]["total"], total / 2);

    let second = run(
        BIN,
        &[
            &common[..],
            &["--kafka-idle-timeout", "3", "--state-out", &s2],
        ]
        .concat(),
        b"",
    );
    assert_eq!((second.code, second.stderr.as_str()), (0, ""));
    // Every event counted, none twice.
    assert_eq!(
        json(&second.stdout)["events"]["total"],
        total - total / 2,
        "the second run read from the first one's commit"
    );
    // Transactions cut by the stop pair up again in the merge.
    let merged = run(BIN, &["merge", "--json", &s1, &s2], b"");
    assert_eq!((merged.code, merged.stderr.as_str()), (0, ""));
    assert_eq!(merged.stdout, reference);
}

#[test]
fn three_consumers_in_a_group_merge_to_the_single_pipe_result() {
    let k = MockKafka::start(&TOPICS, 6);
    let b = k.bootstrap();
    let states: Vec<String> = (0..3).map(|i| tmp(&format!("group-{i}.state"))).collect();
    let mut members: Vec<Reaped> = states
        .iter()
        .map(|s| {
            let child = Command::new(BIN)
                .args([
                    "--json",
                    "--kafka-bootstrap",
                    &b,
                    "--kafka-group",
                    "three",
                    "--kafka-idle-timeout",
                    "12",
                    "--state-out",
                    s,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            Reaped(Some(child))
        })
        .collect();
    // Let the three join before the events come (the first join takes ~3 s).
    std::thread::sleep(Duration::from_secs(5));
    produce(&b, "3000", "11");
    let mut totals = Vec::new();
    for m in &mut members {
        let out = m.0.take().unwrap().wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!((out.status.code(), stderr.as_ref()), (Some(0), ""));
        let r = json(&String::from_utf8_lossy(&out.stdout));
        totals.push(r["events"]["total"].as_u64().unwrap());
    }
    // The work was shared, not done three times.
    assert!(
        totals.iter().filter(|&&t| t > 0).count() >= 2,
        "events per member: {totals:?}"
    );
    let reference = piped("3000", "11");
    let all = json(&reference)["events"]["total"].as_u64().unwrap();
    assert_eq!(totals.iter().sum::<u64>(), all, "per member: {totals:?}");
    let merged = run(
        BIN,
        &["merge", "--json", &states[0], &states[1], &states[2]],
        b"",
    );
    assert_eq!((merged.code, merged.stderr.as_str()), (0, ""));
    assert_eq!(merged.stdout, reference);
}

#[test]
fn an_unreachable_broker_is_a_clear_error() {
    // Nothing listens on port 1.
    let out = run(
        BIN,
        &[
            "--kafka-bootstrap",
            "127.0.0.1:1",
            "--kafka-idle-timeout",
            "1",
        ],
        b"",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("wf-agg: cannot reach Kafka at 127.0.0.1:1: "),
        "{}",
        out.stderr
    );
    let out = run(
        &sim(),
        &["--samples", "5", "--kafka-bootstrap", "127.0.0.1:1"],
        b"",
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .starts_with("wf-sim: cannot reach Kafka at 127.0.0.1:1: "),
        "{}",
        out.stderr
    );
}

#[test]
fn a_missing_topic_is_named() {
    let k = MockKafka::start(&["workflow.steps"], 2);
    let out = run(
        &sim(),
        &["--samples", "5", "--kafka-bootstrap", &k.bootstrap()],
        b"",
    );
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        format!(
            "wf-sim: topic 'workflow.transactions' does not exist on {}; create it first (see docs/scaling.md)\n",
            k.bootstrap()
        )
    );
}

#[test]
fn watch_reads_kafka_live_and_stops_on_sigterm() {
    let k = MockKafka::start(&TOPICS, 3);
    produce(&k.bootstrap(), "400", "21");
    let expected = json(&piped("400", "21"));
    let total = expected["events"]["total"].as_u64().unwrap();
    let mut child = Command::new(BIN)
        .args([
            "--watch",
            "--interval",
            "500ms",
            "--kafka-bootstrap",
            &k.bootstrap(),
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let pid = child.id();
    let mut reaped = Reaped(Some(child));
    // Plain frames (stdout is a pipe); wait for one that has every event.
    let want = format!("events {}  (", wf_agg::watch::grouped(total));
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen = false;
    for line in lines.by_ref() {
        let line = line.unwrap();
        if line.starts_with(&want) {
            seen = true;
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no frame with {want}");
    }
    assert!(seen, "the output ended before a frame with {want}");
    // Kafka never ends by itself: SIGTERM stops it, the last frame says so.
    let killed = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let rest: Vec<String> = lines.map(|l| l.unwrap()).collect();
    let status = reaped.0.take().unwrap().wait().unwrap();
    assert_eq!(status.code(), Some(0));
    let last_header = rest
        .iter()
        .rev()
        .find(|l| l.starts_with("wf-agg --watch · kafka://"))
        .expect("a last frame");
    assert!(last_header.ends_with("· input ended"), "{last_header}");
    let closed = expected["transactions"]["closed"].as_u64().unwrap();
    assert!(
        rest.iter().any(|l| l.starts_with(&want)
            && l.contains(&format!(
                "closed {}   malformed 0",
                wf_agg::watch::grouped(closed)
            ))),
        "{rest:?}"
    );
}
