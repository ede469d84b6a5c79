//! wf-sim: simulate workflow event streams. See `wf-sim --help`.

mod args;

use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use wf_events::cli::{self, Output};
use wf_events::kafka;

use wf_sim::{workflow, Config, Simulator, WorkflowFile, DEFAULT_START_MS};

use args::Command;

enum Error {
    Usage(String),
    Input(String),
    Io(io::Error),
    Kafka(kafka::Error),
}

impl From<kafka::Error> for Error {
    fn from(e: kafka::Error) -> Error {
        Error::Kafka(e)
    }
}

impl From<io::Error> for Error {
    fn from(e: io::Error) -> Error {
        Error::Io(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) | Error::Input(m) => f.write_str(m),
            Error::Io(e) => write!(f, "writing output: {e}"),
            Error::Kafka(e) => write!(f, "{e}"),
        }
    }
}

impl cli::Failure for Error {
    fn is_usage(&self) -> bool {
        matches!(self, Error::Usage(_))
    }

    fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Io(e) if cli::is_broken_pipe(e))
    }
}

fn main() -> ExitCode {
    cli::exit("wf-sim", run())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn load_workflows(a: &args::Args) -> Result<WorkflowFile, Error> {
    let mut file = match &a.workflows_file {
        None => workflow::builtin(),
        Some(path) => {
            let text =
                std::fs::read_to_string(path).map_err(|e| Error::Input(format!("{path}: {e}")))?;
            WorkflowFile::from_json(&text).map_err(|e| Error::Input(format!("{path}: {e}")))?
        }
    };
    if !a.only.is_empty() {
        for name in &a.only {
            if !file.workflows.iter().any(|w| &w.name == name) {
                let known: Vec<&str> = file.workflows.iter().map(|w| w.name.as_str()).collect();
                return Err(Error::Usage(format!(
                    "no workflow named '{name}' (known: {})",
                    known.join(", ")
                )));
            }
        }
        file.workflows.retain(|w| a.only.contains(&w.name));
    }
    Ok(file)
}

fn run() -> Result<ExitCode, Error> {
    let a = match args::parse(std::env::args_os().skip(1)).map_err(Error::Usage)? {
        Command::Help { long } => {
            cli::print_help(args::USAGE, args::LONG_HELP, long)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            cli::print_version("wf-sim")?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::ListWorkflows(a) => {
            let file = load_workflows(&a)?;
            let mut out = io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &file).map_err(io::Error::from)?;
            out.write_all(b"\n")?;
            out.flush()?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Run(a) => a,
    };
    let file = load_workflows(&a)?;
    let workflows = file.compile().map_err(Error::Input)?;
    let start_ms = match (a.start_ms, a.realtime) {
        (Some(ms), _) => ms,
        (None, true) => now_ms(),
        (None, false) => DEFAULT_START_MS,
    };
    let mut sim = Simulator::new(Config {
        samples: a.samples,
        seed: a.seed,
        rate: a.rate,
        workflows,
        outlier_rate: a.outlier_rate,
        outlier_min_ms: a.outlier_min_ms,
        outlier_max_ms: a.outlier_max_ms,
        start_ms,
        duration_ms: a.duration_ms,
        faults: a.faults.clone(),
        incidents: a.incidents.clone(),
    })
    .map_err(Error::Usage)?;

    match a.kafka.bootstrap.clone() {
        Some(bootstrap) => to_kafka(&mut sim, &a, &bootstrap),
        None => to_stdout(&mut sim, &a),
    }
}

/// Waits until the simulation's next event is due, with --realtime.
fn pace(
    sim: &mut Simulator,
    realtime: bool,
    before_sleep: &mut dyn FnMut() -> Result<(), Error>,
) -> Result<bool, Error> {
    if !realtime {
        return Ok(true);
    }
    let Some(ts) = sim.peek_ts() else {
        return Ok(false);
    };
    let wait = ts.saturating_sub(now_ms());
    if wait > 0 {
        // Everything due so far goes out before sleeping.
        before_sleep()?;
        std::thread::sleep(Duration::from_millis(wait as u64));
    }
    Ok(true)
}

fn to_stdout(sim: &mut Simulator, a: &args::Args) -> Result<ExitCode, Error> {
    let mut out = Output::stdout(a.line_buffered);
    loop {
        if !pace(sim, a.realtime, &mut || Ok(out.flush()?))? {
            break;
        }
        if sim.next_unit(out.buffer()).is_none() {
            break;
        }
        out.line_done()?;
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// How long the last messages may take to be confirmed at the end.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(60);

fn to_kafka(sim: &mut Simulator, a: &args::Args, bootstrap: &str) -> Result<ExitCode, Error> {
    let mut producer = kafka::EventProducer::connect(bootstrap, &a.kafka)?;
    let mut buf = Vec::with_capacity(64 * 1024);
    loop {
        if !pace(sim, a.realtime, &mut || Ok(()))? {
            break;
        }
        buf.clear();
        if sim.next_unit(&mut buf).is_none() {
            break;
        }
        producer.send_lines(&buf)?;
    }
    producer.finish(DELIVERY_TIMEOUT)?;
    Ok(ExitCode::SUCCESS)
}
