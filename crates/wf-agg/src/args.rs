//! wf-agg's command line.

use lexopt::prelude::*;
use wf_agg::flags::InputFlags;
use wf_events::cli;

pub const USAGE: &str = "\
wf-agg: aggregate workflow events into latency percentiles, gaps, errors and counts

Usage: wf-agg [OPTIONS] [FILE]...

Reads JSON-lines events from the FILEs in turn, or standard input when there is
none or a FILE is '-', and prints one report when the input ends.

Options:
  -f, --file FILE          read events from FILE (repeatable; same as a FILE argument)
      --json               print the report as one JSON document (schema: docs/wf-agg.md)
      --top N              list the N slowest transactions [default: 10]
      --outlier-ms MS      gaps at or over MS are outliers [default: 15000]
      --derive-inter-step  gaps from step_done to the next step_open, not planned_wait_ms
      --open-ttl D         count transactions open longer than D (event time) as
                           abandoned and forget them; 0: never [default: 10m]
      --txn-csv FILE       write txn_id,duration_ms,workflow,status,open_ts_ms per closed
                           transaction
      --gap-csv FILE       write gap_ms,txn_id,ts_ms,from_step,to_step,outlier_injected
                           per gap
      --strict             stop at the first malformed line (exit 1)
      --fail-on EXPR       exit 3 if the objective is violated, e.g. 'p99>2s' or
                           'step:charge_card:p95>500ms' (repeatable; see --help)
      --show-malformed N   report the first N malformed lines on stderr [default: 10]
  -h, --help               short help (--help: long help with examples)
  -V, --version            print the version
";

pub const LONG_HELP: &str = "
Percentiles are nearest-rank (k = max(1, round(p/100 * n)), round half to even) and
exact: every distinct millisecond value is counted. Malformed lines are counted in
the report and the first few reported on stderr as FILE:LINE: what is wrong; blank
lines are skipped.

Objectives (--fail-on) are [SCOPE:]METRIC OP VALUE; SCOPE is workflow:NAME,
step:NAME or gap; METRIC a duration (min mean p50 p90 p95 p99 p999 max, VALUE in
ms, s, m, h), count, errors, error_rate (a fraction or a percentage), or for the
whole input malformed, unknown_type, orphan_closes, abandoned, duplicates,
open_at_end, outliers; OP one of > >= < <=. An objective with no data to check
(no such step) counts as violated. The report is printed either way; each
violation is one line on stderr.

Exit status: 0 success, 1 an input or output error (or a malformed line with
--strict), 2 a usage error, 3 an objective of --fail-on was violated.

Examples:
  Summarize a simulated run:
    wf-sim --samples 100000 | wf-agg

  The same as JSON, for scripts and dashboards:
    wf-agg --json events.jsonl | jq '.transactions.duration_ms.p99'

  Gaps measured from the steps themselves, outliers from 5 s:
    wf-agg --derive-inter-step --outlier-ms 5000 events.jsonl

  Per-transaction durations for a spreadsheet:
    wf-agg --file events.jsonl --txn-csv txn_durations.csv --gap-csv gaps.csv

  Fail a CI job on the first bad line:
    wf-agg --strict events.jsonl > /dev/null

  Fail a CI job on a latency or error regression:
    wf-sim --samples 10000 | wf-agg --fail-on 'p99>40s' --fail-on 'error_rate>0.1'
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
    pub json: bool,
    pub txn_csv: Option<String>,
    pub gap_csv: Option<String>,
    pub fail_on: Vec<wf_agg::slo::Objective>,
}

pub fn parse(args: impl IntoIterator<Item = std::ffi::OsString>) -> Result<Command, String> {
    let mut a = Args {
        input: InputFlags::default(),
        json: false,
        txn_csv: None,
        gap_csv: None,
        fail_on: Vec::new(),
    };
    let mut p = lexopt::Parser::from_args(args);
    while let Some(arg) = p.next().map_err(|e| e.to_string())? {
        match arg {
            Short('h') => return Ok(Command::Help { long: false }),
            Long("help") => return Ok(Command::Help { long: true }),
            Short('V') | Long("version") => return Ok(Command::Version),
            Short('f') => a.input.take_long("file", &mut p)?,
            Value(v) => a.input.take_file(v)?,
            Long("json") => a.json = true,
            Long("txn-csv") => a.txn_csv = Some(cli::string(&mut p, "--txn-csv")?),
            Long("gap-csv") => a.gap_csv = Some(cli::string(&mut p, "--gap-csv")?),
            Long("fail-on") => a.fail_on.push(wf_agg::slo::Objective::parse(&cli::string(
                &mut p,
                "--fail-on",
            )?)?),
            // Every other long flag is one of the input flags, or unknown.
            Long(name) => {
                let name = name.to_string();
                a.input.take_long(&name, &mut p)?
            }
            other => return Err(cli::unexpected(other)),
        }
    }
    a.input.finish()?;
    Ok(Command::Run(a))
}
