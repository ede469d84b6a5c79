//! wf-agg's command line.

use lexopt::prelude::*;
use std::time::Duration;
use wf_agg::flags::InputFlags;

use wf_events::cli;
use wf_events::kafka::{self, ConsumerFlags};

pub const USAGE: &str = "\
wf-agg: aggregate workflow events into latency percentiles, gaps, errors and counts

Usage: wf-agg [OPTIONS] [FILE]...
       wf-agg [OPTIONS] --kafka-bootstrap HOSTS
       wf-agg merge [--json] [--fail-on EXPR]... [--state-out FILE] [HEALTH FLAGS] STATE...

Reads JSON-lines events from the FILEs in turn, or standard input when there is
none or a FILE is '-', or from Kafka, and prints one report when the input ends.
'merge' prints the report of saved states (--state-out) together.

Options:
  -f, --file FILE          read events from FILE (repeatable; same as a FILE argument)
      --json               print the report as one JSON document (schema: docs/wf-agg.md)
      --top N              list the N slowest transactions [default: 10]
      --outlier-ms MS      gaps at or over MS are outliers [default: 15000]
      --derive-inter-step  gaps from step_done to the next step_open, not planned_wait_ms
      --open-ttl D         count transactions open longer than D (event time) as
                           abandoned and forget them; 0: never [default: 10m]
      --txn-csv FILE       write txn_id,duration_ms,workflow,status,open_ts_ms per closed
                           transaction
      --gap-csv FILE       write gap_ms,txn_id,ts_ms,from_step,to_step,outlier_injected
                           per gap
      --strict             stop at the first malformed line (exit 1)
      --fail-on EXPR       exit 3 if the objective is violated, e.g. 'p99>2s' or
                           'step:charge_card:p95>500ms' (repeatable; see --help)
      --show-malformed N   report the first N malformed lines on stderr [default: 10]
      --state-out FILE     also save the exact counts, for 'wf-agg merge'
      --trace TXN_ID       print that transaction's timeline instead of the report
      --watch              a live dashboard instead of one report: redrawn every
                           second on a terminal, a summary every 10 s otherwise
      --interval D         how often --watch draws [default: 1s on a terminal, else 10s]
      --follow             with --watch and a FILE: keep reading it as it grows
      --window D           also report fixed windows of event time (e.g. 1m) and the
                           anomalies among them
      --error-rate-threshold R  a row's health is failed above error rate R, degraded
                           above R/2 (0.2 or 20%) [default: 20%]
      --slow-ms MS         a step is degraded when its p95 is over MS [default: 1000]
      --slow-txn-ms MS     a workflow is degraded when its p95 is over MS [default: off]

Kafka:
      --kafka-bootstrap H  consume from Kafka at H (host:port,…) as a group member
      --kafka-topics T…    topics [default: workflow.transactions workflow.steps]
      --kafka-group G      consumer group [default: workflow-aggregator]
      --kafka-max-events N stop after N events
      --kafka-idle-timeout S  stop after S seconds with nothing new [default: 5]
      --from-beginning     ignore the group's committed offsets
      --kafka-config K=V   a librdkafka setting (repeatable): SASL, TLS…
  -h, --help               short help (--help: long help with examples)
  -V, --version            print the version
";

pub const LONG_HELP: &str = "
Percentiles are nearest-rank (k = max(1, round(p/100 * n)), round half to even) and
exact: every distinct millisecond value is counted. Malformed lines are counted in
the report and the first few reported on stderr as FILE:LINE: what is wrong; blank
lines are skipped.

Objectives (--fail-on) are [SCOPE:]METRIC OP VALUE; SCOPE is workflow:NAME,
step:NAME or gap; METRIC a duration (min mean p50 p90 p95 p99 p999 max, VALUE in
ms, s, m, h), count, errors, error_rate (a fraction or a percentage), or for the
whole input malformed, unknown_type, orphan_closes, abandoned, duplicates,
open_at_end, outliers; OP one of > >= < <=. An objective with no data to check
(no such step) counts as violated. The report is printed either way; each
violation is one line on stderr.

Health: each step and workflow row is healthy, degraded or failed, with the
reason (\"error rate 31.0% > 20%\", \"p95 1479 ms > 1000 ms\"). Failed: error rate
over --error-rate-threshold. Degraded: error rate over half of it, or p95 over
--slow-ms (steps) or --slow-txn-ms (workflows). Error patterns count each error
type of each step, with the first and last time it was seen.

Windows and anomalies (--window): transactions are counted in the window of
their close. Each window wholly between the first and the last
transaction_open is judged against the median window: a drop (throughput under
half), a spike (p95 or error rate at least twice) or a pattern_shift (the
latency distribution moved, by a Kolmogorov–Smirnov test), each only when it is
also beyond chance at the window's size (z of 4). At least 5 full windows are
needed; memory grows by a few KiB per window.

The dashboard (--watch) shows events per second, open transactions, each
workflow's p50/p95/p99 and health, each step's health mark (● healthy, ▲
degraded, ✖ failed) with its reason, the latest failed steps and the anomalies
found so far, each window (--window, 1m by default) judged against the windows
before it. It is drawn on the terminal's alternate screen; on exit (end of input,
Ctrl-C) the terminal is restored and the last frame printed. When stdout is not
a terminal the same frame is printed as a plain summary every --interval.

With --kafka-bootstrap, wf-agg joins the consumer group and reads until
--kafka-max-events or --kafka-idle-timeout (or Ctrl-C), in event-time order
across its partitions. It commits the offsets of what it counted only after the
report (and --state-out) are written: at-least-once. Malformed messages are
reported as TOPIC[PARTITION]:OFFSET. Scaling out: docs/scaling.md.

Exit status: 0 success, 1 an input or output error (or a malformed line with
--strict), 2 a usage error, 3 an objective of --fail-on was violated.

Examples:
  Summarize a simulated run:
    wf-sim --samples 100000 | wf-agg

  The same as JSON, for scripts and dashboards:
    wf-agg --json events.jsonl | jq '.transactions.duration_ms.p99'

  Gaps measured from the steps themselves, outliers from 5 s:
    wf-agg --derive-inter-step --outlier-ms 5000 events.jsonl

  Per-transaction durations for a spreadsheet:
    wf-agg --file events.jsonl --txn-csv txn_durations.csv --gap-csv gaps.csv

  Fail a CI job on the first bad line:
    wf-agg --strict events.jsonl > /dev/null

  Three consumers in one group, then one report of all of them:
    wf-agg --kafka-bootstrap localhost:9092 --state-out a.state > /dev/null &
    wf-agg --kafka-bootstrap localhost:9092 --state-out b.state > /dev/null &
    wf-agg --kafka-bootstrap localhost:9092 --state-out c.state > /dev/null
    wait; wf-agg merge a.state b.state c.state

  One transaction's timeline: offsets from its open, step durations, gaps:
    wf-agg --trace 7c2d1798ac764d5c events.jsonl

  Minute windows and what was unusual in them (wf-sim can inject an incident):
    wf-sim --duration 10m --incident errors:3m-4m:0.3 | wf-agg --window 1m

  Stricter health: failed over 5% errors, degraded over 2.5% or p95 over 500 ms:
    wf-agg --error-rate-threshold 5% --slow-ms 500 events.jsonl

  Watch a live stream (Ctrl-C to stop; the terminal is restored):
    wf-sim --realtime --rate 200 | wf-agg --watch
    wf-agg --watch --follow events.jsonl
    wf-agg --watch --kafka-bootstrap localhost:9092

  Fail a CI job on a latency or error regression:
    wf-sim --samples 10000 | wf-agg --fail-on 'p99>40s' --fail-on 'error_rate>0.1'
";

#[derive(Debug)]
pub enum Command {
    Help { long: bool },
    Version,
    Run(Args),
    Merge(Args),
}

#[derive(Debug)]
pub struct Args {
    pub input: InputFlags,
    pub json: bool,
    pub txn_csv: Option<String>,
    pub gap_csv: Option<String>,
    pub fail_on: Vec<wf_agg::slo::Objective>,
    pub state_out: Option<String>,
    pub trace: Option<String>,
    pub kafka: ConsumerFlags,
    pub max_events: Option<u64>,
    pub idle: Duration,
    pub watch: bool,
    pub interval: Option<Duration>,
    pub follow: bool,
}

pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    let mut a = Args {
        input: InputFlags::default(),
        json: false,
        txn_csv: None,
        gap_csv: None,
        fail_on: Vec::new(),
        state_out: None,
        trace: None,
        kafka: ConsumerFlags::new("workflow-aggregator"),
        max_events: None,
        idle: Duration::from_secs(5),
        watch: false,
        interval: None,
        follow: false,
    };
    let mut group_set = false;
    let mut args = args.into_iter().peekable();
    let merge = args.peek().is_some_and(|a| a == "merge");
    if merge {
        args.next();
    }
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') => return Ok(Command::Help { long: false }),
            Long("help") => return Ok(Command::Help { long: true }),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('f') => a.input.take_long("file", &mut p)?,
            Value(v) => a.input.take_file(v)?,
            Long("json") => a.json = true,
            Long("txn-csv") => a.txn_csv = Some(cli::string(&mut p, "--txn-csv")?),
            Long("gap-csv") => a.gap_csv = Some(cli::string(&mut p, "--gap-csv")?),
            Long("fail-on") => a.fail_on.push(wf_agg::slo::Objective::parse(&cli::string(
                &mut p,
                "--fail-on",
            )?)?),
            Long("state-out") => a.state_out = Some(cli::string(&mut p, "--state-out")?),
            Long("window") if merge => {
                return Err(
                    "merge takes its windows from the states: give --window when saving them"
                        .into(),
                )
            }
            Long(name) if merge && InputFlags::judges(name) => {
                let name = name.to_string();
                a.input.take_long(&name, &mut p)?
            }
            Long("watch") if !merge => a.watch = true,
            Long("follow") if !merge => a.follow = true,
            Long("interval") if !merge => {
                let ms = cli::duration_ms(&mut p, "--interval")?;
                if !(100..=3_600_000).contains(&ms) {
                    return Err("--interval takes a duration from 100ms to 1h, e.g. 1s".into());
                }
                a.interval = Some(Duration::from_millis(ms));
            }
            Long("trace") if !merge => a.trace = Some(cli::string(&mut p, "--trace")?),
            Long("kafka-max-events") if !merge => {
                a.max_events = Some(cli::value(&mut p, "--kafka-max-events", "a whole number")?)
            }
            Long("kafka-idle-timeout") if !merge => {
                a.idle = kafka::seconds(&mut p, "--kafka-idle-timeout")?
            }
            // Every other long flag is a Kafka or an input flag, or unknown.
            Long(name) if !merge => {
                let name = name.to_string();
                group_set |= name == "kafka-group";
                if !a.kafka.take_long(&name, &mut p)? {
                    a.input.take_long(&name, &mut p)?
                }
            }
            other => return Err(cli::unexpected(other)),
        }
    }
    if merge {
        if a.input.inputs.is_empty() {
            return Err("merge needs at least one state file".into());
        }
        return Ok(Command::Merge(a));
    }
    a.kafka.finish()?;
    if a.trace.is_some() && (a.kafka.bootstrap.is_some() || a.state_out.is_some()) {
        return Err("--trace reads files or standard input and prints a timeline only".into());
    }
    if a.watch && !group_set {
        // A dashboard sees every partition and takes none from the aggregators.
        a.kafka.group = format!("wf-agg-watch-{}", std::process::id());
    }
    if a.watch {
        if a.json
            || a.trace.is_some()
            || a.state_out.is_some()
            || !a.fail_on.is_empty()
            || a.txn_csv.is_some()
            || a.gap_csv.is_some()
            || a.max_events.is_some()
        {
            return Err(
                "--watch draws a live dashboard: it takes no --json, --trace, \
                        --state-out, --fail-on, CSV or --kafka-max-events"
                    .into(),
            );
        }
        if a.input.inputs.len() > 1 {
            return Err("--watch reads one input: standard input, a file, or Kafka".into());
        }
    } else if a.interval.is_some() {
        return Err("--interval needs --watch".into());
    }
    if a.follow && (!a.watch || !matches!(a.input.inputs.as_slice(), [wf_events::Input::Path(_)])) {
        return Err("--follow needs --watch and one FILE".into());
    }
    if a.kafka.bootstrap.is_some() {
        if !a.input.inputs.is_empty() {
            return Err("read from files or from Kafka, not both".into());
        }
    } else {
        if a.max_events.is_some() {
            return Err("--kafka-max-events needs --kafka-bootstrap".into());
        }
        a.input.finish()?;
    }
    Ok(Command::Run(a))
}
