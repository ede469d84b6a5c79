//! What every wf command line shares: flag values with errors that name the flag,
//! the exit-code convention, and an output writer that treats a closed pipe as
//! success.
//!
//! Exit codes: 0 success, 1 a runtime or input error, 2 a usage error. A reader
//! that goes away (`wf-sim | head`) is success with nothing on stderr.

use std::fmt;
use std::io::{self, IsTerminal, Write};
use std::process::ExitCode;
use std::str::FromStr;

use lexopt::{Arg, Parser};

use crate::units::parse_duration_ms;

/// Exit status for a usage error.
pub const EXIT_USAGE: u8 = 2;
/// Exit status for a runtime or input error.
pub const EXIT_FAILURE: u8 = 1;

/// Prints `usage`, and `long_help` after it for `--help`, on standard output.
pub fn print_help(usage: &str, long_help: &str, long: bool) -> io::Result<()> {
    let mut out = io::stdout().lock();
    out.write_all(usage.as_bytes())?;
    if long {
        out.write_all(long_help.as_bytes())?;
    }
    out.flush()
}

/// Prints `tool VERSION` on standard output.
pub fn print_version(tool: &str) -> io::Result<()> {
    let mut out = io::stdout().lock();
    writeln!(out, "{tool} {}", crate::VERSION)?;
    out.flush()
}

/// What a tool's error means for how the process ends.
pub trait Failure: fmt::Display {
    /// A usage error: exit 2, with a pointer to `--help`.
    fn is_usage(&self) -> bool;
    /// The reader of our output went away: success, silently.
    fn is_broken_pipe(&self) -> bool;
}

/// Ends a tool's `main`: the exit code of `run`, or its error on one stderr line
/// (`tool: message`) with exit 1, or 2 for a usage error.
pub fn exit<E: Failure>(tool: &str, result: Result<ExitCode, E>) -> ExitCode {
    match result {
        Ok(code) => code,
        Err(e) if e.is_broken_pipe() => ExitCode::SUCCESS,
        Err(e) if e.is_usage() => {
            eprintln!("{tool}: {e}\nTry '{tool} --help' for more information.");
            ExitCode::from(EXIT_USAGE)
        }
        Err(e) => {
            eprintln!("{tool}: {e}");
            ExitCode::from(EXIT_FAILURE)
        }
    }
}

/// The value of `flag` as a `T`, with an error that names the flag and the value.
pub fn value<T>(parser: &mut Parser, flag: &str, expected: &str) -> Result<T, String>
where
    T: FromStr,
{
    let raw = string(parser, flag)?;
    raw.parse::<T>()
        .map_err(|_| format!("invalid value '{raw}' for {flag}: expected {expected}"))
}

/// The value of `flag` as a UTF-8 string.
pub fn string(parser: &mut Parser, flag: &str) -> Result<String, String> {
    let raw = parser
        .value()
        .map_err(|_| format!("{flag} needs a value"))?;
    raw.into_string()
        .map_err(|raw| format!("invalid value {raw:?} for {flag}: not UTF-8"))
}

/// The value of `flag` as a duration (`250ms`, `30s`, `10m`, bare milliseconds).
pub fn duration_ms(parser: &mut Parser, flag: &str) -> Result<u64, String> {
    let raw = string(parser, flag)?;
    parse_duration_ms(&raw).map_err(|e| format!("{flag}: {e}"))
}

/// A usage message for an argument no flag takes.
pub fn unexpected(arg: Arg<'_>) -> String {
    match arg {
        Arg::Short(c) => format!("unknown option '-{c}'"),
        Arg::Long(name) => format!("unknown option '--{name}'"),
        Arg::Value(v) => format!("unexpected argument {v:?}"),
    }
}

/// True when `err` means the reader of our output went away.
pub fn is_broken_pipe(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::BrokenPipe
}

/// Standard output, block-buffered into a pipe or file and line-buffered on a
/// terminal or when asked: a live consumer sees each line as it is written.
pub struct Output {
    out: io::StdoutLock<'static>,
    buf: Vec<u8>,
    line_buffered: bool,
}

/// Bytes gathered before a write to a pipe.
const OUTPUT_CAPACITY: usize = 128 * 1024;

impl Output {
    pub fn stdout(force_line_buffered: bool) -> Output {
        let out = io::stdout().lock();
        let line_buffered = force_line_buffered || out.is_terminal();
        Output {
            out,
            buf: Vec::with_capacity(OUTPUT_CAPACITY),
            line_buffered,
        }
    }

    /// The buffer to append whole lines to; call [`Output::line_done`] after each.
    pub fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.buf
    }

    /// Writes out what is buffered if a line-buffered or full buffer asks for it.
    pub fn line_done(&mut self) -> io::Result<()> {
        if self.line_buffered || self.buf.len() >= OUTPUT_CAPACITY {
            self.flush()?;
        }
        Ok(())
    }

    /// Writes out everything buffered.
    pub fn flush(&mut self) -> io::Result<()> {
        if !self.buf.is_empty() {
            self.out.write_all(&self.buf)?;
            self.buf.clear();
        }
        self.out.flush()
    }
}

/// Reports malformed lines on stderr as `tool: input:line: what is wrong`, the first
/// `limit` of them, and at the end how many there were in all if some went unshown.
pub struct MalformedReporter {
    tool: &'static str,
    limit: u64,
    total: u64,
}

impl MalformedReporter {
    pub fn new(tool: &'static str, limit: u64) -> MalformedReporter {
        MalformedReporter {
            tool,
            limit,
            total: 0,
        }
    }

    pub fn report(&mut self, input: &str, line_no: u64, err: &crate::ParseError) {
        self.total += 1;
        if self.total <= self.limit {
            eprintln!("{}: {input}:{line_no}: {err}", self.tool);
        }
    }

    /// Says how many malformed lines there were, when not all were shown.
    pub fn finish(&self) {
        if self.total > self.limit {
            eprintln!(
                "{}: {} malformed lines in all (the first {} shown)",
                self.tool, self.total, self.limit
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parser(args: &[&str]) -> Parser {
        Parser::from_iter(std::iter::once("wf").chain(args.iter().copied()))
    }

    #[test]
    fn values_name_the_flag() {
        let mut p = parser(&["--samples", "ten"]);
        assert!(matches!(p.next(), Ok(Some(Arg::Long("samples")))));
        assert_eq!(
            value::<u64>(&mut p, "--samples", "a whole number"),
            Err("invalid value 'ten' for --samples: expected a whole number".to_string())
        );
        let mut p = parser(&["--open-ttl"]);
        let _ = p.next();
        assert_eq!(
            duration_ms(&mut p, "--open-ttl"),
            Err("--open-ttl needs a value".to_string())
        );
        let mut p = parser(&["--open-ttl=5m"]);
        let _ = p.next();
        assert_eq!(duration_ms(&mut p, "--open-ttl"), Ok(300_000));
    }
}
