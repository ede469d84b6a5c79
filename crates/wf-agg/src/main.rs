//! wf-agg: aggregate workflow events. See `wf-agg --help`.

mod args;
mod live;

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use std::ops::ControlFlow;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use wf_agg::state::State;
use wf_agg::{text, Aggregator, ReadError, Report};
use wf_events::cli::{self, MalformedReporter};
use wf_events::kafka::{self, EventConsumer, Handler, Origin, StopAt};
use wf_events::Item;

use args::Command;

enum Error {
    Usage(String),
    /// Opening or reading an input, or a malformed line under --strict.
    Read(ReadError),
    /// A file we write (CSV).
    Output {
        name: String,
        err: io::Error,
    },
    Stdout(io::Error),
    Kafka(kafka::Error),
    /// A state file that cannot be read or merged.
    State {
        name: String,
        msg: String,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Read(e) => write!(f, "{e}"),
            Error::Output { name, err } => write!(f, "{name}: {err}"),
            Error::Stdout(e) => write!(f, "writing output: {e}"),
            Error::Kafka(e) => write!(f, "{e}"),
            Error::State { name, msg } => write!(f, "{name}: {msg}"),
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

/// Exit status when an objective of --fail-on is violated.
const EXIT_VIOLATED: u8 = 3;

fn main() -> ExitCode {
    cli::exit("wf-agg", run())
}

fn create(path: &Option<String>) -> Result<Option<Box<dyn Write + Send>>, Error> {
    let Some(path) = path else { return Ok(None) };
    let file = File::create(path).map_err(|err| Error::Output {
        name: path.clone(),
        err,
    })?;
    Ok(Some(Box::new(BufWriter::with_capacity(64 * 1024, file))))
}

fn run() -> Result<ExitCode, Error> {
    let a = match args::parse(std::env::args_os().skip(1)).map_err(Error::Usage)? {
        Command::Help { long } => {
            cli::print_help(args::USAGE, args::LONG_HELP, long).map_err(Error::Stdout)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            cli::print_version("wf-agg").map_err(Error::Stdout)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Run(a) => a,
        Command::Merge(a) => return merge(&a),
    };

    if let Some(id) = &a.trace {
        return trace(id, &a);
    }
    if a.watch {
        return live::run(&a, stop_on_signals()?);
    }
    let mut opts = a.input.opts.clone();
    if a.kafka.bootstrap.is_some() {
        // The two topics are read at different paces: a step may come after
        // its transaction's close.
        opts.step_grace_ms = wf_events::tracker::DEFAULT_STEP_GRACE_MS;
    }
    let mut agg = Aggregator::new(opts);
    match &a.kafka.bootstrap {
        Some(_) => from_kafka(&mut agg, &a),
        None => from_files(&mut agg, &a),
    }
}

/// Writes the report, and the state with --state-out.
fn output(agg: &mut Aggregator, a: &args::Args) -> Result<Report, Error> {
    let report = agg.report();
    let mut out = io::stdout().lock();
    if a.json {
        out.write_all(&report.to_json()).map_err(Error::Stdout)?;
    } else {
        out.write_all(text::render(&report).as_bytes())
            .map_err(Error::Stdout)?;
    }
    out.flush().map_err(Error::Stdout)?;
    if let Some(path) = &a.state_out {
        save_state(path, &agg.to_state())?;
    }
    Ok(report)
}

/// Writes a state file whole or not at all: into a temporary file beside it,
/// then renamed over it.
fn save_state(path: &str, state: &State) -> Result<(), Error> {
    let tmp = format!("{path}.tmp");
    let write = || -> io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(&state.to_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|err| Error::Output {
        name: path.to_string(),
        err,
    })
}

/// Exit 3 with a line per violated objective, or 0.
fn verdict(report: &Report, a: &args::Args) -> ExitCode {
    let violations: Vec<String> = a.fail_on.iter().flat_map(|o| o.check(report)).collect();
    for v in &violations {
        eprintln!("wf-agg: objective violated: {v}");
    }
    if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATED)
    }
}

fn from_files(agg: &mut Aggregator, a: &args::Args) -> Result<ExitCode, Error> {
    let opened = wf_agg::open_all(&a.input.inputs).map_err(Error::Read)?;
    if a.txn_csv.is_some() || a.gap_csv.is_some() {
        let (txn, gap) = (create(&a.txn_csv)?, create(&a.gap_csv)?);
        agg.write_csv(txn, gap).map_err(|err| Error::Output {
            name: "CSV".into(),
            err,
        })?;
    }
    let mut malformed = MalformedReporter::new("wf-agg", a.input.show_malformed);
    // A read error comes after the report of what was read: nothing read is lost.
    let read =
        wf_agg::input::read_all_showing("wf-agg", agg, opened, a.input.strict, &mut malformed);
    let read_error = match read {
        Ok(()) => None,
        Err(e @ ReadError::Read { .. }) => Some(Error::Read(e)),
        Err(e) => return Err(Error::Read(e)),
    };
    let csv_result = agg.finish_csv();
    let report = output(agg, a)?;
    if let Some(e) = read_error {
        return Err(e);
    }
    let code = verdict(&report, a);
    csv_result.map_err(|err| Error::Output {
        name: a
            .txn_csv
            .clone()
            .or_else(|| a.gap_csv.clone())
            .unwrap_or_default(),
        err,
    })?;
    Ok(code)
}

/// Feeds consumed events to the aggregator.
struct Feed<'a> {
    agg: &'a mut Aggregator,
    malformed: MalformedReporter,
    strict: bool,
    strict_error: Option<ReadError>,
}

impl Handler for Feed<'_> {
    fn item(&mut self, item: Item<'_>, origin: &Origin<'_>) -> ControlFlow<()> {
        match item {
            Item::Event(ev) => self.agg.apply(&ev),
            Item::Malformed { line_no, error } => {
                self.agg.count_malformed();
                if self.strict {
                    self.strict_error = Some(ReadError::Malformed {
                        name: origin.to_string(),
                        line: line_no,
                        err: error,
                    });
                    return ControlFlow::Break(());
                }
                self.malformed.report(&origin.to_string(), line_no, &error);
            }
        }
        ControlFlow::Continue(())
    }
}

/// A flag that SIGINT and SIGTERM set, instead of ending the process.
fn stop_on_signals() -> Result<Arc<AtomicBool>, Error> {
    let stop_flag = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop_flag.clone()).map_err(|err| Error::Output {
            name: "signal handler".into(),
            err,
        })?;
    }
    Ok(stop_flag)
}

fn from_kafka(agg: &mut Aggregator, a: &args::Args) -> Result<ExitCode, Error> {
    // Ctrl-C or SIGTERM ends the reading; the report and the commit still happen.
    let stop_flag = stop_on_signals()?;
    let mut consumer = EventConsumer::connect(&a.kafka).map_err(Error::Kafka)?;
    let mut feed = Feed {
        agg,
        malformed: MalformedReporter::new("wf-agg", a.input.show_malformed),
        strict: a.input.strict,
        strict_error: None,
    };
    let stop = StopAt {
        max_events: a.max_events,
        idle: Some(a.idle),
        flag: Some(stop_flag),
        commit_every: None,
        // A slow broker may leave a partition silent for a while; the report
        // waits for it rather than loosen the order.
        max_hold: Some(Duration::from_secs(60)),
    };
    let result = consumer.run(&stop, &mut feed);
    feed.malformed.finish();
    if let Some(e) = feed.strict_error.take() {
        return Err(Error::Read(e));
    }
    // What was read is reported even when the consumer failed.
    let report = output(feed.agg, a)?;
    result.map_err(Error::Kafka)?;
    // Offsets only now that the report and the state are out: at-least-once.
    consumer.commit().map_err(Error::Kafka)?;
    Ok(verdict(&report, a))
}

/// `--trace`: reads every input, keeps the events of one transaction, prints
/// its timeline.
fn trace(id: &str, a: &args::Args) -> Result<ExitCode, Error> {
    let opened = wf_agg::open_all(&a.input.inputs).map_err(Error::Read)?;
    let mut malformed = MalformedReporter::new("wf-agg", a.input.show_malformed);
    let mut kept = Vec::new();
    for (name, reader) in opened.into_inner() {
        wf_events::for_each_event(reader, |item| {
            match item {
                Item::Event(ev) if ev.txn_id == id => kept.push(ev.into_owned()),
                Item::Event(_) => {}
                Item::Malformed { line_no, error } => malformed.report(&name, line_no, &error),
            }
            ControlFlow::Continue(())
        })
        .map_err(|err| Error::Read(ReadError::Read { name, err }))?;
    }
    malformed.finish();
    if kept.is_empty() {
        return Err(Error::State {
            name: id.to_string(),
            msg: "no event of this transaction in the input".into(),
        });
    }
    let t = wf_agg::trace::build(id, kept);
    let mut out = io::stdout().lock();
    if a.json {
        // Plain structs: serializing cannot fail.
        let mut doc = serde_json::to_vec_pretty(&t).unwrap_or_default();
        doc.push(b'\n');
        out.write_all(&doc).map_err(Error::Stdout)?;
    } else {
        out.write_all(wf_agg::trace::render(&t).as_bytes())
            .map_err(Error::Stdout)?;
    }
    out.flush().map_err(Error::Stdout)?;
    Ok(ExitCode::SUCCESS)
}

fn merge(a: &args::Args) -> Result<ExitCode, Error> {
    let mut agg: Option<Aggregator> = None;
    for input in &a.input.inputs {
        let name = input.name().to_string();
        let bytes = match input {
            wf_events::Input::Stdin => {
                let mut v = Vec::new();
                io::Read::read_to_end(&mut io::stdin().lock(), &mut v).map(|_| v)
            }
            wf_events::Input::Path(p) => std::fs::read(p),
        }
        .map_err(|e| Error::State {
            name: name.clone(),
            msg: e.to_string(),
        })?;
        let state = State::from_bytes(&bytes).map_err(|msg| Error::State {
            name: name.clone(),
            msg,
        })?;
        let agg = agg.get_or_insert_with(|| {
            Aggregator::new(wf_agg::Options {
                outlier_ms: state.options.outlier_ms,
                derive_inter_step: state.options.derive_inter_step,
                top: state.options.top,
                window_ms: state.options.window_ms,
                health: a.input.opts.health,
                ..wf_agg::Options::default()
            })
        });
        agg.merge_state(state)
            .map_err(|msg| Error::State { name, msg })?;
    }
    let mut agg = agg.unwrap_or_else(|| Aggregator::new(a.input.opts.clone()));
    let report = output(&mut agg, a)?;
    Ok(verdict(&report, a))
}
