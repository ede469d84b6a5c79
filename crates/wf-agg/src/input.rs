//! Feeding an [`Aggregator`] from the command line's inputs, as every reporting
//! tool does: open them all first (a mistyped name fails before any work), read
//! them in turn through the two-thread pipeline, report malformed lines, and stop
//! at the first one under `--strict`.

use std::fmt;
use std::io::{self, Read};
use std::ops::ControlFlow;

use wf_events::cli::MalformedReporter;
use wf_events::{for_each_event, Input, Item, ParseError};

use crate::aggregate::Aggregator;
use crate::progress::Progress;

#[derive(Debug)]
pub enum ReadError {
    /// An input that cannot be opened.
    Open { name: String, err: io::Error },
    /// An input that failed while being read; everything before was applied.
    Read { name: String, err: io::Error },
    /// A malformed line under `--strict`.
    Malformed {
        name: String,
        line: u64,
        err: ParseError,
    },
}

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReadError::Open { name, err } | ReadError::Read { name, err } => {
                write!(f, "{name}: {err}")
            }
            ReadError::Malformed { name, line, err } => write!(f, "{name}:{line}: {err}"),
        }
    }
}

/// The inputs, opened and not yet read.
pub struct Opened(Vec<(String, Box<dyn Read + Send>)>);

/// Opens every input, or fails on the first that cannot be opened.
pub fn open_all(inputs: &[Input]) -> Result<Opened, ReadError> {
    let mut opened = Vec::with_capacity(inputs.len());
    for input in inputs {
        let reader = input.open_raw().map_err(|err| ReadError::Open {
            name: input.name().to_string(),
            err,
        })?;
        opened.push((input.name().to_string(), reader));
    }
    Ok(opened.into())
}

impl Opened {
    /// The inputs by name, in order.
    pub fn into_inner(self) -> Vec<(String, Box<dyn Read + Send>)> {
        self.0
    }
}

impl From<Vec<(String, Box<dyn Read + Send>)>> for Opened {
    fn from(v: Vec<(String, Box<dyn Read + Send>)>) -> Opened {
        Opened(v)
    }
}

/// Reads every input into `agg`, reporting malformed lines with `reporter` (and
/// its closing total). A read error stops the reading; what came before it stays
/// applied, so the caller can still report it.
pub fn read_all(
    agg: &mut Aggregator,
    opened: Opened,
    strict: bool,
    reporter: &mut MalformedReporter,
) -> Result<(), ReadError> {
    read_all_with(agg, opened, strict, reporter, None)
}

/// [`read_all`] for a command line: on a terminal, `tool`'s progress line shows
/// as it goes, and is wiped before this returns.
pub fn read_all_showing(
    tool: &'static str,
    agg: &mut Aggregator,
    opened: Opened,
    strict: bool,
    reporter: &mut MalformedReporter,
) -> Result<(), ReadError> {
    let progress = Progress::start(tool);
    read_all_with(agg, opened, strict, reporter, progress.as_ref())
}

fn read_all_with(
    agg: &mut Aggregator,
    opened: Opened,
    strict: bool,
    reporter: &mut MalformedReporter,
    progress: Option<&Progress>,
) -> Result<(), ReadError> {
    for (name, reader) in opened.0 {
        let reader = match progress {
            Some(p) => p.count(reader),
            None => reader,
        };
        let mut strict_error = None;
        let result = for_each_event(reader, |item| {
            match item {
                Item::Event(ev) => {
                    if let Some(p) = progress {
                        p.event();
                    }
                    agg.apply(&ev)
                }
                Item::Malformed { line_no, error } => {
                    agg.count_malformed();
                    if strict {
                        strict_error = Some((line_no, error));
                        return ControlFlow::Break(());
                    }
                    reporter.report(&name, line_no, &error);
                }
            }
            ControlFlow::Continue(())
        });
        if let Some((line, err)) = strict_error {
            return Err(ReadError::Malformed { name, line, err });
        }
        if let Err(err) = result {
            reporter.finish();
            return Err(ReadError::Read { name, err });
        }
    }
    reporter.finish();
    Ok(())
}
