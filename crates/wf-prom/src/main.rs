//! wf-prom: a live Prometheus exporter for workflow events. See `wf-prom --help`.

mod args;
mod health;
mod metrics;
mod process;
mod quantiles;
mod series;
mod server;

use std::fmt;
use std::io::{self, Read, Write};
use std::ops::ControlFlow;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use prometheus_client::registry::Registry;
use wf_events::cli::{self, MalformedReporter};
use wf_events::follow::Follow;
use wf_events::kafka::{self, EventConsumer, Handler, Origin, StopAt};
use wf_events::{for_each_event, Input, Item, Tracker};

use args::Command;
use metrics::{Metrics, Progress};
use server::Shared;

enum Error {
    Usage(String),
    Kafka(kafka::Error),
    Listen { addr: String, err: String },
    Input { name: String, err: io::Error },
    Signals(io::Error),
    Stdout(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Kafka(e) => write!(f, "{e}"),
            Error::Listen { addr, err } => write!(f, "cannot listen on {addr}: {err}"),
            Error::Input { name, err } => write!(f, "{name}: {err}"),
            Error::Signals(e) => write!(f, "cannot handle signals: {e}"),
            Error::Stdout(e) => write!(f, "writing output: {e}"),
        }
    }
}

impl cli::Failure for Error {
    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }

    fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Stdout(e) if cli::is_broken_pipe(e))
    }
}

fn main() -> ExitCode {
    cli::exit("wf-prom", run())
}

/// Passes every byte read through to standard output (`--tee`), unchanged and as
/// it comes. If the reader of the copy goes away, the copy stops; ingest goes on.
struct Tee<R> {
    inner: R,
    out: Option<io::Stdout>,
}

impl<R: Read> Read for Tee<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(out) = &mut self.out {
            let mut lock = out.lock();
            if lock
                .write_all(&buf[..n])
                .and_then(|()| lock.flush())
                .is_err()
            {
                self.out = None;
            }
        }
        Ok(n)
    }
}

/// Where events come from.
enum Source {
    Reader(Box<dyn Read + Send>),
    Kafka(Box<EventConsumer>),
}

/// Applies events to the tracker and the metrics.
struct Ingest {
    tracker: Tracker,
    malformed: MalformedReporter,
    metrics: Metrics,
    progress: Arc<Progress>,
}

impl Ingest {
    fn item(&mut self, item: Item<'_>, input: &dyn fmt::Display) -> ControlFlow<()> {
        match item {
            Item::Event(ev) => {
                self.progress.events.fetch_add(1, Ordering::Relaxed);
                self.progress
                    .last_event_wall_ms
                    .store(now_ms(), Ordering::Relaxed);
                self.metrics.event(&ev);
                if ev.kind != wf_events::EventType::Unknown {
                    self.metrics.last_event.set(ev.ts_ms as f64 / 1000.0);
                }
                self.tracker.apply(&ev, &mut self.metrics);
                self.metrics
                    .open
                    .set(self.tracker.open_transactions() as i64);
            }
            Item::Malformed { line_no, error } => {
                self.progress.malformed.fetch_add(1, Ordering::Relaxed);
                self.metrics.malformed.inc();
                self.malformed.report(&input.to_string(), line_no, &error);
            }
        }
        ControlFlow::Continue(())
    }
}

impl Handler for Ingest {
    fn item(&mut self, item: Item<'_>, origin: &Origin<'_>) -> ControlFlow<()> {
        Ingest::item(self, item, origin)
    }

    fn status(&mut self, status: &kafka::Status) {
        for l in &status.lag {
            self.metrics
                .kafka_lag
                .get_or_create(&metrics::PartitionLabels {
                    topic: l.topic.clone(),
                    partition: l.partition.to_string(),
                })
                .set(l.lag);
        }
        for e in &status.errors {
            self.metrics.kafka_errors.inc();
            eprintln!("wf-prom: kafka: {e}");
        }
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// How long shutdown waits for requests being answered.
const DRAIN: Duration = Duration::from_secs(5);

fn run() -> Result<ExitCode, Error> {
    let a = match args::parse(std::env::args_os().skip(1)).map_err(Error::Usage)? {
        Command::Help { long } => {
            cli::print_help(args::USAGE, args::LONG_HELP, long).map_err(Error::Stdout)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            cli::print_version("wf-prom").map_err(Error::Stdout)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Run(a) => a,
    };

    let input = a.file.as_deref().map_or(Input::Stdin, Input::from_arg);
    let source = match &a.kafka.bootstrap {
        Some(_) => Source::Kafka(Box::new(
            EventConsumer::connect(&a.kafka).map_err(Error::Kafka)?,
        )),
        None => {
            let opened = match (&input, a.follow) {
                (Input::Path(path), true) => {
                    Follow::open(path).map(|f| Box::new(f) as Box<dyn Read + Send>)
                }
                _ => input.open_raw(),
            };
            Source::Reader(opened.map_err(|err| Error::Input {
                name: input.name().to_string(),
                err,
            })?)
        }
    };
    let input_name = match &a.kafka.bootstrap {
        Some(b) => format!("kafka://{b}/{}", a.kafka.topics.join(",")),
        None => input.name().to_string(),
    };

    let mut registry = Registry::with_labels(
        a.const_labels
            .iter()
            .map(|(k, v)| (k.clone().into(), v.clone().into())),
    );
    let metrics = Metrics::register(
        &mut registry,
        &metrics::Config {
            outlier_ms: a.outlier_ms,
            quantiles: a.quantiles.clone(),
            quantile_window: Duration::from_millis(a.quantile_window_ms),
            limits: series::Limits {
                max_series: a.max_series,
                ttl: (a.series_ttl_ms > 0).then(|| Duration::from_millis(a.series_ttl_ms)),
            },
            txn_buckets: a.txn_buckets.clone(),
            step_buckets: a.step_buckets.clone(),
            gap_buckets: a.gap_buckets.clone(),
            kafka: a.kafka.bootstrap.is_some(),
            health: a.health,
            anomaly_window_ms: a.anomaly_window_ms as i64,
        },
    );
    registry.register_collector(Box::new(process::ProcessCollector));
    if a.series_ttl_ms > 0 {
        // Expiry on a timer, so series go whether or not events come.
        let every = Duration::from_millis((a.series_ttl_ms / 4).clamp(10, 1_000));
        series::start_timer(metrics.expiring(), every);
    }
    let progress = Arc::new(Progress::default());
    let config = serde_json::json!({
        "input": input_name,
        "kafka_group": a.kafka.bootstrap.as_ref().map(|_| a.kafka.group.clone()),
        "follow": a.follow,
        "listen": a.listen,
        "tee": a.tee,
        "exit_on_eof": a.exit_on_eof,
        "outlier_ms": a.outlier_ms,
        "open_ttl_ms": a.open_ttl_ms,
        "quantiles": a.quantiles,
        "quantile_window_ms": a.quantile_window_ms,
        "max_series": a.max_series,
        "series_ttl_ms": a.series_ttl_ms,
        "const_labels": a.const_labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>(),
        "txn_buckets": a.txn_buckets,
        "step_buckets": a.step_buckets,
        "gap_buckets": a.gap_buckets,
        "error_rate_threshold": a.health.error_rate,
        "slow_ms": a.health.slow_ms,
        "anomaly_window_ms": a.anomaly_window_ms,
    });
    let server = tiny_http::Server::http(&a.listen).map_err(|e| Error::Listen {
        addr: a.listen.clone(),
        err: e.to_string(),
    })?;
    let server = Arc::new(server);
    let shared = Arc::new(Shared {
        registry,
        progress: Arc::clone(&progress),
        started: Instant::now(),
        config,
        active: AtomicUsize::new(0),
    });
    // SIGINT and SIGTERM end the process cleanly: stop reading, let requests being
    // answered finish, exit 0.
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, Arc::clone(&stop)).map_err(Error::Signals)?;
    }
    eprintln!("wf-prom: serving http://{}/metrics", server.server_addr());
    {
        let (server, shared) = (Arc::clone(&server), Arc::clone(&shared));
        std::thread::spawn(move || server::serve(server, shared));
    }

    let name = input.name().to_string();
    let open_ttl_ms = a.open_ttl_ms;
    let tee = a.tee;
    let stop_reading = Arc::clone(&stop);
    // Ingest on its own thread: the main thread watches for a signal even while
    // the input is idle.
    let ingest = std::thread::spawn(move || {
        let mut ingest = Ingest {
            // No gap metric is derived here: closed transactions go at once.
            tracker: Tracker::new(open_ttl_ms),
            malformed: MalformedReporter::new("wf-prom", 10),
            metrics,
            progress,
        };
        let result = match source {
            Source::Reader(reader) => {
                let reader = Tee {
                    inner: reader,
                    out: tee.then(io::stdout),
                };
                for_each_event(reader, |item| ingest.item(item, &name))
                    .map_err(|err| Error::Input { name, err })
            }
            Source::Kafka(mut consumer) => {
                let stop = StopAt {
                    flag: Some(stop_reading),
                    commit_every: Some(Duration::from_secs(1)),
                    ..StopAt::default()
                };
                let result = consumer.run(&stop, &mut ingest);
                // What was applied is committed on the way out.
                result
                    .and_then(|_| consumer.commit())
                    .map(|_| ())
                    .map_err(Error::Kafka)
            }
        };
        ingest
            .metrics
            .open
            .set(ingest.tracker.open_transactions() as i64);
        result
    });

    // Until a signal, or the end of the input with --exit-on-eof; after the end of
    // the input, keep serving the final values.
    let mut ingest = Some(ingest);
    while !stop.load(Ordering::SeqCst) {
        if ingest.as_ref().is_some_and(|t| t.is_finished()) {
            if let Some(Ok(Err(e))) = ingest.take().map(|t| t.join()) {
                server.unblock();
                return Err(e);
            }
            if a.exit_on_eof {
                break;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    server.unblock();
    let deadline = Instant::now() + DRAIN;
    while shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(ExitCode::SUCCESS)
}
