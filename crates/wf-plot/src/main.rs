//! wf-plot: a latency report of workflow events. See `wf-plot --help`.

mod args;
mod charts;
mod page;

use std::fmt;
use std::fs::{self, File};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use wf_agg::{Aggregator, ReadError};
use wf_events::cli::{self, MalformedReporter};

use args::Command;
use charts::{Chart, ChartData};

enum Error {
    Usage(String),
    Read(ReadError),
    /// Something we write: the folder, a chart, the page.
    Output {
        name: String,
        err: String,
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

fn main() -> ExitCode {
    cli::exit("wf-plot", run())
}

fn output<E: fmt::Display>(path: &Path) -> impl FnOnce(E) -> Error + '_ {
    move |err| Error::Output {
        name: path.display().to_string(),
        err: err.to_string(),
    }
}

fn create(path: &Path) -> Result<Box<dyn Write + Send>, Error> {
    let file = File::create(path).map_err(output(path))?;
    Ok(Box::new(BufWriter::with_capacity(64 * 1024, file)))
}

fn run() -> Result<ExitCode, Error> {
    let a = match args::parse(std::env::args_os().skip(1)).map_err(Error::Usage)? {
        Command::Help { long } => {
            cli::print_help(args::USAGE, args::LONG_HELP, long).map_err(Error::Stdout)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Version => {
            cli::print_version("wf-plot").map_err(Error::Stdout)?;
            return Ok(ExitCode::SUCCESS);
        }
        Command::Run(a) => a,
    };

    let opened = wf_agg::open_all(&a.input.inputs).map_err(Error::Read)?;
    let dir = PathBuf::from(&a.out_dir);
    fs::create_dir_all(&dir).map_err(output(&dir))?;
    let mut written: Vec<PathBuf> = Vec::new();

    let mut agg = Aggregator::new(a.input.opts.clone());
    if a.csv {
        let txn = dir.join("txn_durations.csv");
        let gap = dir.join("inter_step_gaps.csv");
        agg.write_csv(Some(create(&txn)?), Some(create(&gap)?))
            .map_err(output(&txn))?;
        written.extend([txn, gap]);
    }
    let mut malformed = MalformedReporter::new("wf-plot", a.input.show_malformed);
    // A read error comes after the report of what was read: nothing read is lost.
    let read = wf_agg::input::read_all_showing(
        "wf-plot",
        &mut agg,
        opened,
        a.input.strict,
        &mut malformed,
    );
    let read_error = match read {
        Ok(()) => None,
        Err(e @ ReadError::Read { .. }) => Some(Error::Read(e)),
        Err(e) => return Err(Error::Read(e)),
    };
    agg.finish_csv().map_err(output(&dir))?;

    let report = agg.report();
    let value = serde_json::to_value(&report).map_err(output(&dir))?;
    let json_path = dir.join("report.json");
    fs::write(&json_path, report.to_json()).map_err(output(&json_path))?;
    written.push(json_path);

    charts::register_font().map_err(output(&dir))?;
    // --window's fixed windows when asked for, else the self-sizing timeline.
    let (windows, window_ms, outside) = match &report.windows {
        Some(w) => (w.items.clone(), w.window_ms, w.left_out),
        None => (
            agg.timeline().windows(),
            agg.timeline().window_ms(),
            agg.timeline().outside(),
        ),
    };
    let mut flagged: Vec<(i64, i64)> = report
        .anomalies
        .iter()
        .flatten()
        .map(|a| (a.window_start_ms, a.window_end_ms))
        .collect();
    flagged.dedup();
    let data = ChartData {
        report: &report,
        txn: agg.transaction_hist(),
        gaps: agg.gap_hist(),
        injected: agg.injected_gap_hist(),
        windows,
        window_ms,
        anomalies: flagged,
    };
    let mut drawn = Vec::new();
    for chart in Chart::ALL {
        if !chart.has_data(&data) {
            continue;
        }
        let png = dir.join(format!("{}.png", chart.file_stem()));
        chart.draw(&data, &png).map_err(output(&png))?;
        written.push(png);
        if a.svg {
            let svg = dir.join(format!("{}.svg", chart.file_stem()));
            chart.draw(&data, &svg).map_err(output(&svg))?;
            written.push(svg);
        }
        drawn.push((chart, a.svg));
    }

    let names: Vec<String> = a
        .input
        .inputs
        .iter()
        .map(|i| i.name().to_string())
        .collect();
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let html = page::render(&page::PageInput {
        report: &value,
        charts: &drawn,
        windows: &data.windows,
        window_ms: data.window_ms,
        windows_outside: outside,
        inputs: &names,
        command_line: &command_line,
        csv: a.csv,
    });
    let page_path = dir.join("report.html");
    fs::write(&page_path, html).map_err(output(&page_path))?;
    written.insert(0, page_path);

    let mut out = io::stdout().lock();
    for path in &written {
        writeln!(out, "wrote {}", path.display()).map_err(Error::Stdout)?;
    }
    out.flush().map_err(Error::Stdout)?;
    match read_error {
        Some(e) => Err(e),
        None => Ok(ExitCode::SUCCESS),
    }
}
