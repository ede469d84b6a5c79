//! wf-prom's command line.

use lexopt::prelude::*;
use wf_events::cli;
use wf_events::kafka::ConsumerFlags;
use wf_events::tracker::DEFAULT_OPEN_TTL_MS;

pub const USAGE: &str = "\
wf-prom: a live Prometheus exporter for workflow events

Usage: wf-prom [OPTIONS]

Reads JSON-lines events from standard input (or --file, or Kafka) as they come and serves
their metrics over HTTP: /metrics (Prometheus text, or OpenMetrics when the
scraper asks for it), /health and /info.

Options:
  -f, --file PATH        read events from PATH instead of standard input
      --follow           keep reading --file as it grows, across rotation and
                         truncation (like tail -F)
      --listen ADDR      address to serve on [default: 127.0.0.1:8000]
      --tee              copy every input line to standard output, unchanged
      --exit-on-eof      exit when the input ends (default: keep serving)
      --outlier-ms MS    gaps at or over MS are outliers [default: 15000]
      --open-ttl D       count transactions open longer than D as abandoned
                         [default: 10m]
      --const-label K=V  add label K=V to every series (repeatable)
      --quantiles LIST   quantiles over a sliding window [default: 0.5,0.9,0.99]
      --quantile-window D  the window [default: 5m]
      --max-series N     label sets per metric before new ones fold into one
                         overflow series; 0: no cap [default: 10000]
      --series-ttl D     drop series not updated for D (e.g. 1h); 0: never [default: 0]
      --txn-buckets LIST transaction duration buckets, seconds, comma-separated
      --step-buckets LIST step duration buckets, seconds
      --gap-buckets LIST inter-step gap buckets, seconds
      --error-rate-threshold R  wf_step_health: failed above error rate R, degraded
                         above R/2 (0.2 or 20%) [default: 20%]
      --slow-ms MS       wf_step_health: degraded when p95 is over MS [default: 1000]
      --anomaly-window D windows of event time judged for anomalies [default: 1m]

Kafka:
      --kafka-bootstrap H  consume from Kafka at H (host:port,…) as a group member
      --kafka-topics T…    topics [default: workflow.transactions workflow.steps]
      --kafka-group G      consumer group [default: wf-prom-exporter]
      --from-beginning     ignore the group's committed offsets
      --kafka-config K=V   a librdkafka setting (repeatable): SASL, TLS…

  -h, --help             short help (--help: long help with examples)
  -V, --version          print the version
";

pub const LONG_HELP: &str = "
Counts on /metrics equal wf-agg's on the same events: events by type,
transactions, outliers, injected outliers. Metrics are in base units (seconds)
with Prometheus names; docs/wf-prom.md lists them.

With --kafka-bootstrap, wf-prom joins the consumer group, applies events in
event-time order across its partitions and commits the offsets of what it
applied every second and before a rebalance takes partitions away
(at-least-once). It exports each partition's lag (wf_kafka_consumer_lag), keeps
serving while the broker is away, and reconnects by itself. Run several in one
group and sum their series in Prometheus: docs/scaling.md.

Health and anomalies: wf_step_health{workflow,step} is 0 (healthy), 1 (degraded)
or 2 (failed) over the last --quantile-window, by wf-agg's rule. Each window of
--anomaly-window is judged, when event time passes its end, against up to 60
windows before it (from the sixth on); wf_anomalies_detected_total{kind} counts
the drops, spikes and pattern shifts found (see wf-agg --help, --window).

SIGINT and SIGTERM stop it cleanly (requests being answered finish first).

Exit status: 0 when the input ended with --exit-on-eof, or on SIGINT/SIGTERM;
1 when the address cannot be bound or the input cannot be read; 2 on a usage
error.

Examples:
  A live simulated stream, scraped on port 8000:
    wf-sim --realtime --rate 20 | wf-prom --listen 127.0.0.1:8000

  Follow a log file that a producer appends to (and rotates):
    wf-prom --file events.jsonl --follow --listen 0.0.0.0:8000

  In the middle of a pipe, passing the events on:
    wf-sim --realtime | wf-prom --tee | wf-agg

  Two exporters sharing the topics' partitions:
    wf-prom --kafka-bootstrap localhost:9092 --listen 0.0.0.0:8001 &
    wf-prom --kafka-bootstrap localhost:9092 --listen 0.0.0.0:8002 &

  Alert on what a person would call unwell:
    wf-prom --error-rate-threshold 5% --slow-ms 500   # then alert on wf_step_health == 2

  One exporter per pipeline, told apart by a label:
    tail -F orders.jsonl | wf-prom --listen 0.0.0.0:8001 --const-label pipeline=orders
";

#[derive(Debug)]
pub enum Command {
    Help { long: bool },
    Version,
    Run(Box<Args>),
}

#[derive(Debug)]
pub struct Args {
    pub kafka: ConsumerFlags,
    pub file: Option<String>,
    pub follow: bool,
    pub listen: String,
    pub tee: bool,
    pub exit_on_eof: bool,
    pub outlier_ms: i64,
    pub open_ttl_ms: u64,
    pub const_labels: Vec<(String, String)>,
    pub quantiles: Vec<f64>,
    pub quantile_window_ms: u64,
    pub max_series: usize,
    pub series_ttl_ms: u64,
    pub txn_buckets: Vec<f64>,
    pub step_buckets: Vec<f64>,
    pub gap_buckets: Vec<f64>,
    pub health: wf_agg::health::Thresholds,
    pub anomaly_window_ms: u64,
}

/// Bucket upper bounds in seconds: positive, finite and increasing.
fn buckets(p: &mut lexopt::Parser, flag: &str) -> Result<Vec<f64>, String> {
    let raw = cli::string(p, flag)?;
    let mut out = Vec::new();
    for part in raw.split(',') {
        let v: f64 = part.trim().parse().map_err(|_| {
            format!("invalid value '{raw}' for {flag}: expected seconds, e.g. 0.1,0.5,1,5")
        })?;
        if !(v.is_finite() && v > 0.0) || out.last().is_some_and(|&last| v <= last) {
            return Err(format!(
                "invalid value '{raw}' for {flag}: buckets must be positive and increasing"
            ));
        }
        out.push(v);
    }
    Ok(out)
}

/// `name=value` with a Prometheus label name.
fn const_label(p: &mut lexopt::Parser) -> Result<(String, String), String> {
    let raw = cli::string(p, "--const-label")?;
    let (k, v) = raw
        .split_once('=')
        .ok_or_else(|| format!("invalid value '{raw}' for --const-label: expected NAME=VALUE"))?;
    let valid = k
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with("__");
    if !valid {
        return Err(format!(
            "invalid label name '{k}' for --const-label: use letters, digits and _, not starting with a digit or __"
        ));
    }
    Ok((k.to_string(), v.to_string()))
}

pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    let mut a = Args {
        kafka: ConsumerFlags::new("wf-prom-exporter"),
        file: None,
        follow: false,
        listen: "127.0.0.1:8000".into(),
        tee: false,
        exit_on_eof: false,
        outlier_ms: 15_000,
        open_ttl_ms: DEFAULT_OPEN_TTL_MS,
        const_labels: Vec::new(),
        quantiles: vec![0.5, 0.9, 0.99],
        quantile_window_ms: 5 * 60 * 1000,
        max_series: 10_000,
        series_ttl_ms: 0,
        txn_buckets: crate::metrics::TXN_BUCKETS.to_vec(),
        step_buckets: crate::metrics::STEP_BUCKETS.to_vec(),
        gap_buckets: crate::metrics::GAP_BUCKETS.to_vec(),
        health: Default::default(),
        anomaly_window_ms: 60_000,
    };
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') => return Ok(Command::Help { long: false }),
            Long("help") => return Ok(Command::Help { long: true }),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('f') | Long("file") => a.file = Some(cli::string(&mut p, "--file")?),
            Long("follow") => a.follow = true,
            Long("listen") => a.listen = cli::string(&mut p, "--listen")?,
            Long("tee") => a.tee = true,
            Long("exit-on-eof") => a.exit_on_eof = true,
            Long("outlier-ms") => {
                a.outlier_ms = cli::value(&mut p, "--outlier-ms", "whole milliseconds")?
            }
            Long("open-ttl") => a.open_ttl_ms = cli::duration_ms(&mut p, "--open-ttl")?,
            Long("const-label") => a.const_labels.push(const_label(&mut p)?),
            Long("quantiles") => {
                a.quantiles =
                    crate::quantiles::parse_quantiles(&cli::string(&mut p, "--quantiles")?)?
            }
            Long("quantile-window") => {
                a.quantile_window_ms = cli::duration_ms(&mut p, "--quantile-window")?;
                if a.quantile_window_ms < 5 {
                    return Err("--quantile-window must be at least 5ms".into());
                }
            }
            Long("max-series") => {
                a.max_series = cli::value(&mut p, "--max-series", "a whole number")?
            }
            Long("series-ttl") => a.series_ttl_ms = cli::duration_ms(&mut p, "--series-ttl")?,
            Long("error-rate-threshold") => {
                a.health.error_rate = wf_agg::flags::error_rate_threshold(&mut p)?
            }
            Long("slow-ms") => a.health.slow_ms = wf_agg::flags::slow(&mut p, "--slow-ms")?,
            Long("anomaly-window") => {
                a.anomaly_window_ms = cli::duration_ms(&mut p, "--anomaly-window")?;
                if !(1_000..=86_400_000).contains(&a.anomaly_window_ms) {
                    return Err("--anomaly-window takes a duration from 1s to 1d, e.g. 1m".into());
                }
            }
            Long("txn-buckets") => a.txn_buckets = buckets(&mut p, "--txn-buckets")?,
            Long("step-buckets") => a.step_buckets = buckets(&mut p, "--step-buckets")?,
            Long("gap-buckets") => a.gap_buckets = buckets(&mut p, "--gap-buckets")?,
            Long(name) => {
                let name = name.to_string();
                if !a.kafka.take_long(&name, &mut p)? {
                    return Err(format!("unknown option '--{name}'"));
                }
            }
            other => return Err(cli::unexpected(other)),
        }
    }
    if a.follow && a.file.is_none() {
        return Err("--follow needs --file PATH".into());
    }
    a.kafka.finish()?;
    if a.kafka.bootstrap.is_some() && (a.file.is_some() || a.tee) {
        return Err("--kafka-bootstrap reads Kafka: it does not go with --file or --tee".into());
    }
    Ok(Command::Run(Box::new(a)))
}
