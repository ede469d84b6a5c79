//! wf-sim's command line.

use lexopt::prelude::*;
use wf_events::cli;

use wf_sim::Faults;

pub const USAGE: &str = "\
wf-sim: simulate workflow events as JSON lines

Usage: wf-sim [OPTIONS]

Options:
  -n, --samples N          transactions to simulate [default: 1000]
      --seed S             random seed; the same seed gives the same bytes [default: 1]
      --rate R             transactions started per second [default: 100]
      --workflows FILE     workflow definitions (JSON) instead of the built-ins
      --workflow NAME      simulate only this workflow (repeatable)
      --list-workflows     print the workflow definitions as JSON and exit
      --outlier-rate P     share of waits replaced by an outlier [default: 0.005]
      --outlier-min-ms MS  shortest injected outlier wait [default: 15000]
      --outlier-max-ms MS  longest injected outlier wait [default: 60000]
      --start-ms MS        ts_ms of the first start [default: 1767225600000, or now]
      --duration D         start transactions for this long (event time; e.g. 30s)
      --realtime           emit at wall-clock pace, starting now
      --line-buffered      flush after every line
      --junk N             insert N malformed lines
      --drop-closes N      leave out N transaction_close events
      --duplicates N       write one event of N transactions twice
      --reorder K          shuffle the output in blocks of K events
      --incident SPEC      a slowdown, error burst or drop over a range of the run,
                           e.g. slowdown:5m-7m:x4 (repeatable; see --help)
      --kafka-bootstrap H  send to Kafka at H (host:port,…) instead of stdout
      --topic-steps T      topic for step events and waits [default: workflow.steps]
      --topic-txn T        topic for transaction_open/close [default: workflow.transactions]
      --kafka-config K=V   a librdkafka setting (repeatable): SASL, TLS, compression…
  -h, --help               short help (--help: long help with examples)
  -V, --version            print the version
";

pub const LONG_HELP: &str = "
Transactions start at --rate per second and overlap; their events are written in
ts_ms order, interleaved as a live producer writes them. Without --realtime the
simulation runs as fast as it can; with it, events come out at wall-clock pace
and the output is flushed as they do.

With --kafka-bootstrap the events go to Kafka instead of stdout:
transaction_open and transaction_close to --topic-txn, everything else to
--topic-steps, each line one message keyed by its txn_id (so a transaction's
events stay in order within a partition). wf-sim waits until the broker has
confirmed every message; if any was not delivered it exits 1 and says how many.
A broker that cannot be reached is an error within about 10 seconds; messages
time out after 30 s (message.timeout.ms, settable with --kafka-config).

Without --samples, --duration or --realtime, 1000 transactions are simulated.
With --duration or --realtime and no --samples, transactions start until the
duration is over (or forever).

Fault injection is exact and reproducible: --junk, --drop-closes and --duplicates
are counts (they need --samples), and faults come from their own random stream,
so the rest of the output stays as it was.

Incidents (--incident KIND:FROM-TO[:AMOUNT]) change the transactions that start
between FROM and TO after the first start: 'slowdown' multiplies their step
latencies by AMOUNT (x5 by default), 'errors' makes every step fail at least at
AMOUNT (0.5 by default), 'drop' starts them at AMOUNT of --rate (0.1 by default).
A run with an incident draws the same random numbers as one without, so only
the incident differs: ground truth for anomaly detection (wf-agg --window).

Examples:
  Simulate 100000 transactions and summarize them:
    wf-sim --samples 100000 | wf-agg

  Keep a file of events for later:
    wf-sim --samples 100000 --seed 7 > events.jsonl

  A live stream for a minute, 20 transactions a second:
    wf-sim --realtime --rate 20 --duration 60s | wf-agg

  Test a consumer against bad input:
    wf-sim --samples 1000 --junk 5 --drop-closes 3 --duplicates 2 | wf-agg

  Send to Kafka, keyed by txn_id (the topics must exist):
    wf-sim --samples 100000 --kafka-bootstrap localhost:9092

  A live Kafka producer over TLS with compression:
    wf-sim --realtime --rate 50 --kafka-bootstrap broker:9093 \
      --kafka-config security.protocol=ssl --kafka-config compression.type=zstd

  Ten minutes at 100/s with a 4x slowdown in minutes 5 and 6, then find it:
    wf-sim --duration 10m --incident slowdown:5m-7m:x4 | wf-agg --window 1m --json | jq .anomalies

  Start from the built-in workflows to define your own:
    wf-sim --list-workflows > flows.json
    wf-sim --workflows flows.json --samples 1000
";

#[derive(Debug)]
pub enum Command {
    Help { long: bool },
    Version,
    ListWorkflows(Args),
    Run(Args),
}

#[derive(Debug, Clone)]
pub struct Args {
    pub samples: Option<u64>,
    pub seed: u64,
    pub rate: f64,
    pub workflows_file: Option<String>,
    pub only: Vec<String>,
    pub outlier_rate: f64,
    pub outlier_min_ms: i64,
    pub outlier_max_ms: i64,
    pub start_ms: Option<i64>,
    pub duration_ms: Option<u64>,
    pub realtime: bool,
    pub line_buffered: bool,
    pub faults: Faults,
    pub incidents: Vec<wf_sim::incident::Incident>,
    pub kafka: wf_events::kafka::ProducerFlags,
}

pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    let mut a = Args {
        samples: None,
        seed: wf_sim::DEFAULT_SEED,
        rate: wf_sim::DEFAULT_RATE,
        workflows_file: None,
        only: Vec::new(),
        outlier_rate: wf_sim::DEFAULT_OUTLIER_RATE,
        outlier_min_ms: wf_sim::DEFAULT_OUTLIER_MIN_MS,
        outlier_max_ms: wf_sim::DEFAULT_OUTLIER_MAX_MS,
        start_ms: None,
        duration_ms: None,
        realtime: false,
        line_buffered: false,
        faults: Faults::default(),
        incidents: Vec::new(),
        kafka: Default::default(),
    };
    let mut list = false;
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') => return Ok(Command::Help { long: false }),
            Long("help") => return Ok(Command::Help { long: true }),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('n') | Long("samples") => {
                a.samples = Some(cli::value(&mut p, "--samples", "a whole number")?)
            }
            Long("seed") => a.seed = cli::value(&mut p, "--seed", "a whole number")?,
            Long("rate") => {
                a.rate = cli::value(&mut p, "--rate", "a number of transactions per second")?;
                if !(a.rate.is_finite() && a.rate > 0.0) {
                    return Err(format!(
                        "invalid value '{}' for --rate: must be > 0",
                        a.rate
                    ));
                }
            }
            Long("workflows") => a.workflows_file = Some(cli::string(&mut p, "--workflows")?),
            Long("workflow") => a.only.push(cli::string(&mut p, "--workflow")?),
            Long("list-workflows") => list = true,
            Long("outlier-rate") => {
                a.outlier_rate = cli::value(&mut p, "--outlier-rate", "a probability")?;
                if !(0.0..=1.0).contains(&a.outlier_rate) {
                    return Err(format!(
                        "invalid value '{}' for --outlier-rate: must be between 0 and 1",
                        a.outlier_rate
                    ));
                }
            }
            Long("outlier-min-ms") => {
                a.outlier_min_ms =
                    cli::value(&mut p, "--outlier-min-ms", "whole milliseconds >= 0")?
            }
            Long("outlier-max-ms") => {
                a.outlier_max_ms =
                    cli::value(&mut p, "--outlier-max-ms", "whole milliseconds >= 0")?
            }
            Long("start-ms") => {
                a.start_ms = Some(cli::value(&mut p, "--start-ms", "epoch milliseconds")?)
            }
            Long("duration") => a.duration_ms = Some(cli::duration_ms(&mut p, "--duration")?),
            Long("realtime") => a.realtime = true,
            Long("line-buffered") => a.line_buffered = true,
            Long("junk") => a.faults.junk = cli::value(&mut p, "--junk", "a whole number")?,
            Long("drop-closes") => {
                a.faults.drop_closes = cli::value(&mut p, "--drop-closes", "a whole number")?
            }
            Long("duplicates") => {
                a.faults.duplicates = cli::value(&mut p, "--duplicates", "a whole number")?
            }
            Long("incident") => a
                .incidents
                .push(wf_sim::incident::Incident::parse(&cli::string(
                    &mut p,
                    "--incident",
                )?)?),
            Long("reorder") => {
                a.faults.reorder = cli::value(&mut p, "--reorder", "a block size in events")?
            }
            Long(name) => {
                let name = name.to_string();
                if !a.kafka.take_long(&name, &mut p)? {
                    return Err(format!("unknown option '--{name}'"));
                }
            }
            other => return Err(cli::unexpected(other)),
        }
    }
    if a.kafka.bootstrap.is_none()
        && (!a.kafka.config.is_empty()
            || a.kafka.topic_steps != wf_events::kafka::DEFAULT_TOPIC_STEPS
            || a.kafka.topic_txn != wf_events::kafka::DEFAULT_TOPIC_TXN)
    {
        return Err("the Kafka flags need --kafka-bootstrap".into());
    }
    if a.outlier_min_ms < 0 || a.outlier_min_ms > a.outlier_max_ms {
        return Err(format!(
            "--outlier-min-ms ({}) must be >= 0 and <= --outlier-max-ms ({})",
            a.outlier_min_ms, a.outlier_max_ms
        ));
    }
    if a.samples.is_none() && a.duration_ms.is_none() && !a.realtime {
        a.samples = Some(1000);
    }
    Ok(if list {
        Command::ListWorkflows(a)
    } else {
        Command::Run(a)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_strs(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(std::ffi::OsString::from))
    }

    #[test]
    fn defaults_and_flags() {
        let Ok(Command::Run(a)) = parse_strs(&[]) else {
            panic!()
        };
        assert_eq!(a.samples, Some(1000));
        let Ok(Command::Run(a)) = parse_strs(&["--realtime", "--duration", "2s"]) else {
            panic!()
        };
        assert_eq!((a.samples, a.duration_ms), (None, Some(2000)));
    }

    #[test]
    fn errors_name_the_flag() {
        assert_eq!(
            parse_strs(&["--samples", "-3"]).unwrap_err(),
            "invalid value '-3' for --samples: expected a whole number"
        );
        assert_eq!(
            parse_strs(&["--bogus"]).unwrap_err(),
            "unknown option '--bogus'"
        );
        assert_eq!(
            parse_strs(&["--rate", "0"]).unwrap_err(),
            "invalid value '0' for --rate: must be > 0"
        );
    }
}
