//! wf-agg: aggregate workflow events. See `wf-agg --help`.

mod args;

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use wf_agg::{text, Aggregator, ReadError};
use wf_events::cli::{self, MalformedReporter};

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
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(m) => f.write_str(m),
            Error::Read(e) => write!(f, "{e}"),
            Error::Output { name, err } => write!(f, "{name}: {err}"),
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

/// Exit status when an objective of --fail-on is violated.
const EXIT_VIOLATED: u8 = 3;

fn main() -> ExitCode {
    cli::exit("wf-agg", run())
}

fn create(path: &Option<String>) -> Result<Option<Box<dyn Write>>, Error> {
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
    };

    let opened = wf_agg::open_all(&a.input.inputs).map_err(Error::Read)?;
    let mut agg = Aggregator::new(a.input.opts.clone());
    if a.txn_csv.is_some() || a.gap_csv.is_some() {
        let (txn, gap) = (create(&a.txn_csv)?, create(&a.gap_csv)?);
        agg.write_csv(txn, gap).map_err(|err| Error::Output {
            name: "CSV".into(),
            err,
        })?;
    }
    let mut malformed = MalformedReporter::new("wf-agg", a.input.show_malformed);
    // A read error comes after the report of what was read: nothing read is lost.
    let read_error = match wf_agg::read_all(&mut agg, opened, a.input.strict, &mut malformed) {
        Ok(()) => None,
        Err(e @ ReadError::Read { .. }) => Some(Error::Read(e)),
        Err(e) => return Err(Error::Read(e)),
    };
    let csv_result = agg.finish_csv();

    let report = agg.report();
    let mut out = io::stdout().lock();
    if a.json {
        out.write_all(&report.to_json()).map_err(Error::Stdout)?;
    } else {
        out.write_all(text::render(&report).as_bytes())
            .map_err(Error::Stdout)?;
    }
    out.flush().map_err(Error::Stdout)?;

    if let Some(e) = read_error {
        return Err(e);
    }
    let violations: Vec<String> = a.fail_on.iter().flat_map(|o| o.check(&report)).collect();
    for v in &violations {
        eprintln!("wf-agg: objective violated: {v}");
    }
    csv_result.map_err(|err| Error::Output {
        name: a
            .txn_csv
            .clone()
            .or_else(|| a.gap_csv.clone())
            .unwrap_or_default(),
        err,
    })?;
    Ok(if violations.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_VIOLATED)
    })
}
