//! wf-agg: aggregate workflow events. See `wf-agg --help`.

mod args;

use std::fmt;
use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

use std::ops::ControlFlow;
use wf_agg::{text, Aggregator};
use wf_events::cli::{self, MalformedReporter};

use wf_events::{for_each_event, Item, ParseError};

use args::Command;

enum Error {
    Usage(String),
    /// An input that cannot be opened or read.
    Input {
        name: String,
        err: io::Error,
    },
    /// A malformed line under --strict.
    Malformed {
        name: String,
        line: u64,
        err: ParseError,
    },
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
            Error::Input { name, err } | Error::Output { name, err } => write!(f, "{name}: {err}"),
            Error::Malformed { name, line, err } => write!(f, "{name}:{line}: {err}"),
            Error::Stdout(e) => write!(f, "writing output: {e}"),
        }
    }
}

fn main() -> ExitCode {
    match run() {
        Ok(code) => code,
        Err(Error::Stdout(e)) if cli::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e @ Error::Usage(_)) => {
            eprintln!("wf-agg: {e}\nTry 'wf-agg --help' for more information.");
            ExitCode::from(cli::EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("wf-agg: {e}");
            ExitCode::from(cli::EXIT_FAILURE)
        }
    }
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
            let mut out = io::stdout().lock();
            out.write_all(args::USAGE.as_bytes())
                .map_err(Error::Stdout)?;
            if long {
                out.write_all(args::LONG_HELP.as_bytes())
                    .map_err(Error::Stdout)?;
            }
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            println!("wf-agg {}", wf_events::VERSION);
            return Ok(ExitCode::SUCCESS);
        }
        Command::Run(a) => a,
    };

    // Open every input first: a mistyped name fails before any work is done.
    let mut opened = Vec::with_capacity(a.inputs.len());
    for input in &a.inputs {
        let reader = input.open_raw().map_err(|err| Error::Input {
            name: input.name().to_string(),
            err,
        })?;
        opened.push((input.name().to_string(), reader));
    }

    let mut agg = Aggregator::new(a.opts.clone());
    if a.txn_csv.is_some() || a.gap_csv.is_some() {
        let (txn, gap) = (create(&a.txn_csv)?, create(&a.gap_csv)?);
        agg.write_csv(txn, gap).map_err(|err| Error::Output {
            name: "CSV".into(),
            err,
        })?;
    }
    let mut malformed = MalformedReporter::new("wf-agg", a.show_malformed);
    let mut read_error = None;
    for (name, reader) in opened {
        let mut strict_error = None;
        let result = for_each_event(reader, |item| {
            match item {
                Item::Event(ev) => agg.apply(&ev),
                Item::Malformed { line_no, error } => {
                    agg.count_malformed();
                    if a.strict {
                        strict_error = Some((line_no, error));
                        return ControlFlow::Break(());
                    }
                    malformed.report(&name, line_no, &error);
                }
            }
            ControlFlow::Continue(())
        });
        if let Some((line, err)) = strict_error {
            return Err(Error::Malformed { name, line, err });
        }
        if let Err(err) = result {
            // Report what was read, then fail: nothing read is lost.
            read_error = Some(Error::Input { name, err });
            break;
        }
    }
    malformed.finish();
    let csv_result = agg.finish_csv();

    let report = agg.report();
    let mut out = io::stdout().lock();
    if a.json {
        serde_json::to_writer_pretty(&mut out, &report).map_err(|e| Error::Stdout(e.into()))?;
        out.write_all(b"\n").map_err(Error::Stdout)?;
    } else {
        out.write_all(text::render(&report).as_bytes())
            .map_err(Error::Stdout)?;
    }
    out.flush().map_err(Error::Stdout)?;

    if let Some(e) = read_error {
        return Err(e);
    }
    csv_result.map_err(|err| Error::Output {
        name: a
            .txn_csv
            .clone()
            .or_else(|| a.gap_csv.clone())
            .unwrap_or_default(),
        err,
    })?;
    Ok(ExitCode::SUCCESS)
}
