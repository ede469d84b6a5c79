//! wf-prom: a live Prometheus exporter for workflow events. See `wf-prom --help`.

mod args;
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
use wf_events::{for_each_event, Input, Item, Tracker};

use args::Command;
use metrics::{Metrics, Progress};
use server::Shared;

enum Error {
    Usage(String),
    Listen { addr: String, err: String },
    Input { name: String, err: io::Error },
    Signals(io::Error),
    Stdout(io::Error),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
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
    let opened = match (&input, a.follow) {
        (Input::Path(path), true) => {
            Follow::open(path).map(|f| Box::new(f) as Box<dyn Read + Send>)
        }
        _ => input.open_raw(),
    };
    let reader = opened.map_err(|err| Error::Input {
        name: input.name().to_string(),
        err,
    })?;

    let mut registry = Registry::with_labels(
        a.const_labels
            .iter()
            .map(|(k, v)| (k.clone().into(), v.clone().into())),
    );
    let mut metrics = Metrics::register(
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
        "input": input.name(),
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

    let reader = Tee {
        inner: reader,
        out: a.tee.then(io::stdout),
    };
    let name = input.name().to_string();
    let open_ttl_ms = a.open_ttl_ms;
    // Ingest on its own thread: the main thread watches for a signal even while
    // the input is idle.
    let ingest = std::thread::spawn(move || {
        let mut tracker = Tracker::new(open_ttl_ms);
        let mut malformed = MalformedReporter::new("wf-prom", 10);
        let result = for_each_event(reader, |item| {
            match item {
                Item::Event(ev) => {
                    progress.events.fetch_add(1, Ordering::Relaxed);
                    progress
                        .last_event_wall_ms
                        .store(now_ms(), Ordering::Relaxed);
                    metrics.event(&ev);
                    if ev.kind != wf_events::EventType::Unknown {
                        metrics.last_event.set(ev.ts_ms as f64 / 1000.0);
                    }
                    tracker.apply(&ev, &mut metrics);
                    metrics.open.set(tracker.open_transactions() as i64);
                }
                Item::Malformed { line_no, error } => {
                    progress.malformed.fetch_add(1, Ordering::Relaxed);
                    metrics.malformed.inc();
                    malformed.report(&name, line_no, &error);
                }
            }
            ControlFlow::Continue(())
        });
        metrics.open.set(tracker.open_transactions() as i64);
        result.map_err(|err| Error::Input { name, err })
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
