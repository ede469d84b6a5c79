//! wf-plot's command line.

use lexopt::prelude::*;
use wf_agg::flags::InputFlags;
use wf_events::cli;

pub const USAGE: &str = "\
wf-plot: a latency report of workflow events: charts and a page that opens from disk

Usage: wf-plot [OPTIONS] [FILE]...

Reads JSON-lines events from the FILEs in turn, or standard input when there is
none or a FILE is '-', and writes report.html, report.json and one PNG per chart
into the output folder.

Options:
  -f, --file FILE          read events from FILE (repeatable; same as a FILE argument)
  -o, --out-dir DIR        where to write the report [default: report_out]
      --svg                also write each chart as SVG
      --csv                also write txn_durations.csv and inter_step_gaps.csv
      --top N              list the N slowest transactions [default: 10]
      --outlier-ms MS      gaps at or over MS are outliers [default: 15000]
      --derive-inter-step  gaps from step_done to the next step_open, not planned_wait_ms
      --open-ttl D         count transactions open longer than D as abandoned [default: 10m]
      --strict             stop at the first malformed line (exit 1)
      --show-malformed N   report the first N malformed lines on stderr [default: 10]
      --window D           fixed windows of D (e.g. 1m) over time, anomalies marked red
      --error-rate-threshold R  health: failed above error rate R, degraded above R/2
                           [default: 20%]
      --slow-ms MS         health: a step is degraded when its p95 is over MS [default: 1000]
      --slow-txn-ms MS     health: a workflow is degraded when its p95 is over MS
  -h, --help               short help (--help: long help with examples)
  -V, --version            print the version
";

pub const LONG_HELP: &str = "
The numbers come from the same code as wf-agg's, so the page and
`wf-agg --json` never disagree (report.json is that document). Latency axes are
logarithmic; the charts are transaction durations, inter-step gaps (injected
outliers apart, the outlier threshold marked), latency by percentile up to
p99.99, each step's p50/p95/p99 and error rate, and throughput and percentiles
over time (with --window, in fixed windows, the anomalies wf-agg finds shaded
red and listed). Steps and workflows carry their health class and its reason;
error patterns list each error of each step with when it was first and last
seen. report.html needs no network and no server, and keeps working when
the folder is moved.

Exit status: 0 success, 1 an input or output error (or a malformed line with
--strict), 2 a usage error.

Examples:
  A report of a simulated run:
    wf-sim --samples 100000 | wf-plot --out-dir report/

  A report of a file, with SVG charts and CSV data for a ticket:
    wf-plot --file events.jsonl --out-dir report/ --svg --csv

  Gaps measured from the steps, outliers from 5 s:
    wf-plot --derive-inter-step --outlier-ms 5000 events.jsonl

  Minute by minute, with an injected slowdown shaded where it was found:
    wf-sim --duration 10m --incident slowdown:5m-7m:x4 | wf-plot --window 1m -o report/
";

#[derive(Debug)]
pub enum Command {
    Help { long: bool },
    Version,
    Run(Args),
}

#[derive(Debug)]
pub struct Args {
    pub input: InputFlags,
    pub out_dir: String,
    pub svg: bool,
    pub csv: bool,
}

pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    let mut a = Args {
        input: InputFlags::default(),
        out_dir: "report_out".into(),
        svg: false,
        csv: false,
    };
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') => return Ok(Command::Help { long: false }),
            Long("help") => return Ok(Command::Help { long: true }),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('f') => a.input.take_long("file", &mut p)?,
            Value(v) => a.input.take_file(v)?,
            Short('o') | Long("out-dir") => a.out_dir = cli::string(&mut p, "--out-dir")?,
            Long("svg") => a.svg = true,
            Long("csv") => a.csv = true,
            // Every other long flag is one of the input flags, or unknown.
            Long(name) => {
                let name = name.to_string();
                a.input.take_long(&name, &mut p)?
            }
            other => return Err(cli::unexpected(other)),
        }
    }
    a.input.finish()?;
    if a.out_dir.is_empty() {
        return Err("--out-dir needs a folder name".into());
    }
    Ok(Command::Run(a))
}
