//! The command-line flags of every tool that aggregates (wf-agg, wf-plot): the
//! inputs, the aggregation's options and how malformed lines are handled. One
//! parser, so the tools cannot come to disagree on what a shared flag means.

use std::ffi::OsString;

use lexopt::Parser;
use wf_events::cli;
use wf_events::Input;

use crate::aggregate::Options;

/// The longest `--window`: a week.
const MAX_WINDOW_MS: u64 = 7 * 86_400_000;

/// `--error-rate-threshold`'s value.
pub fn error_rate_threshold(p: &mut Parser) -> Result<f64, String> {
    rate(&cli::string(p, "--error-rate-threshold")?).ok_or_else(|| {
        "--error-rate-threshold takes a fraction from 0 to 1 or a percentage, e.g. 0.2 or 20%"
            .to_string()
    })
}

/// A fraction (`0.2`) or a percentage (`20%`) from 0 to 1.
fn rate(text: &str) -> Option<f64> {
    let v = match text.strip_suffix('%') {
        Some(pct) => pct.trim().parse::<f64>().ok()? / 100.0,
        None => text.trim().parse::<f64>().ok()?,
    };
    (0.0..=1.0).contains(&v).then_some(v)
}

/// A slow threshold (`--slow-ms`): a duration, or `0`/`off` for none.
pub fn slow(p: &mut Parser, flag: &str) -> Result<Option<i64>, String> {
    let v = cli::string(p, flag)?;
    if v == "off" {
        return Ok(None);
    }
    let ms = wf_events::units::parse_duration_ms(&v).map_err(|e| format!("{flag}: {e}"))?;
    Ok((ms > 0).then_some(ms.min(i64::MAX as u64) as i64))
}

#[derive(Debug)]
pub struct InputFlags {
    pub inputs: Vec<Input>,
    pub opts: Options,
    pub strict: bool,
    pub show_malformed: u64,
}

impl Default for InputFlags {
    fn default() -> InputFlags {
        InputFlags {
            inputs: Vec::new(),
            opts: Options::default(),
            strict: false,
            show_malformed: 10,
        }
    }
}

impl InputFlags {
    /// Takes the long flag `--name`, reading its value from `p`; a name that is
    /// none of these flags is an unknown option (so tools match their own flags
    /// first and hand every other long flag here).
    pub fn take_long(&mut self, name: &str, p: &mut Parser) -> Result<(), String> {
        match name {
            "file" => self
                .inputs
                .push(Input::from_arg(&cli::string(p, "--file")?)),
            "top" => self.opts.top = cli::value(p, "--top", "a whole number")?,
            "outlier-ms" => {
                self.opts.outlier_ms = cli::value(p, "--outlier-ms", "whole milliseconds")?
            }
            "derive-inter-step" => self.opts.derive_inter_step = true,
            "open-ttl" => self.opts.open_ttl_ms = cli::duration_ms(p, "--open-ttl")?,
            "error-rate-threshold" => self.opts.health.error_rate = error_rate_threshold(p)?,
            "slow-ms" => self.opts.health.slow_ms = slow(p, "--slow-ms")?,
            "slow-txn-ms" => self.opts.health.slow_txn_ms = slow(p, "--slow-txn-ms")?,
            "window" => {
                let w = cli::duration_ms(p, "--window")?;
                if w == 0 || w > MAX_WINDOW_MS {
                    return Err("--window takes a duration from 1ms to 7d, e.g. 1m".into());
                }
                self.opts.window_ms = Some(w as i64);
            }
            "strict" => self.strict = true,
            "show-malformed" => {
                self.show_malformed = cli::value(p, "--show-malformed", "a whole number")?
            }
            _ => return Err(format!("unknown option '--{name}'")),
        }
        Ok(())
    }

    /// Whether `name` is one of the flags that only change how counts are
    /// judged (health thresholds), which `wf-agg merge` also takes.
    pub fn judges(name: &str) -> bool {
        matches!(name, "error-rate-threshold" | "slow-ms" | "slow-txn-ms")
    }

    /// A FILE argument (`-` is standard input).
    pub fn take_file(&mut self, v: OsString) -> Result<(), String> {
        let v = v
            .into_string()
            .map_err(|v| format!("file name {v:?} is not UTF-8"))?;
        self.inputs.push(Input::from_arg(&v));
        Ok(())
    }

    /// After the last flag: standard input when no input was named, and at most
    /// once.
    pub fn finish(&mut self) -> Result<(), String> {
        if self.inputs.is_empty() {
            self.inputs.push(Input::Stdin);
        }
        if self.inputs.iter().filter(|i| **i == Input::Stdin).count() > 1 {
            return Err("standard input ('-') can be read only once".into());
        }
        Ok(())
    }
}
