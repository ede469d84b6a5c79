//! The parse-only floor for benchmarks: reads lines exactly as the tools do and
//! parses each into the borrowed event, and nothing more. `make bench` times the
//! tools against it.
//!
//! Usage: parse_floor [FILE]   (standard input without a FILE)

use std::process::ExitCode;

use wf_events::{is_blank, parse_line, Input};

fn main() -> ExitCode {
    let input = std::env::args()
        .nth(1)
        .map_or(Input::Stdin, |a| Input::from_arg(&a));
    let mut reader = match input.open() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("parse_floor: {}: {e}", input.name());
            return ExitCode::FAILURE;
        }
    };
    let (mut events, mut malformed, mut checksum) = (0u64, 0u64, 0i64);
    loop {
        match reader.next_line() {
            Ok(Some(line)) if is_blank(line) => {}
            Ok(Some(line)) => match parse_line(line) {
                // Touch the parsed value so the parse cannot be optimised away.
                Ok(ev) => {
                    events += 1;
                    checksum = checksum.wrapping_add(ev.ts_ms);
                }
                Err(_) => malformed += 1,
            },
            Ok(None) => break,
            Err(e) => {
                eprintln!("parse_floor: {}: {e}", input.name());
                return ExitCode::FAILURE;
            }
        }
    }
    println!("{events} events, {malformed} malformed, checksum {checksum}");
    ExitCode::SUCCESS
}
