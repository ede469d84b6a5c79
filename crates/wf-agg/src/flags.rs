//! The command-line flags of every tool that aggregates (wf-agg, wf-plot): the
//! inputs, the aggregation's options and how malformed lines are handled. One
//! parser, so the tools cannot come to disagree on what a shared flag means.

use std::ffi::OsString;

use lexopt::Parser;
use wf_events::cli;
use wf_events::Input;

use crate::aggregate::Options;

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
            "strict" => self.strict = true,
            "show-malformed" => {
                self.show_malformed = cli::value(p, "--show-malformed", "a whole number")?
            }
            _ => return Err(format!("unknown option '--{name}'")),
        }
        Ok(())
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
