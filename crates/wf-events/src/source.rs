//! Where events come from: stdin or files, read line by line into one reused buffer.
//!
//! Every tool reads the same way so that each is as fast as the parse-only floor
//! allows: a large `BufReader`, `read_until(b'\n')` into a `Vec<u8>` that is reused
//! for every line, and the line number kept for error messages.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

/// Read buffer size: large enough that a syscall per 256 KiB dominates nothing.
pub const READ_CAPACITY: usize = 256 * 1024;

/// A named input: a file path, or `-` for standard input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Input {
    Stdin,
    Path(String),
}

impl Input {
    /// `-` means standard input; anything else is a path.
    pub fn from_arg(arg: &str) -> Input {
        if arg == "-" {
            Input::Stdin
        } else {
            Input::Path(arg.to_string())
        }
    }

    /// How errors name this input: the path as given, or `<stdin>`.
    pub fn name(&self) -> &str {
        match self {
            Input::Stdin => "<stdin>",
            Input::Path(p) => p,
        }
    }

    /// Opens the input for reading line by line.
    pub fn open(&self) -> io::Result<LineReader> {
        Ok(LineReader::new(self.open_raw()?))
    }

    /// Opens the input as a plain byte stream (for [`crate::pipeline`]).
    pub fn open_raw(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(match self {
            Input::Stdin => Box::new(io::stdin()),
            Input::Path(p) => Box::new(File::open(Path::new(p))?),
        })
    }
}

/// Reads lines into a reused buffer and counts them.
pub struct LineReader {
    inner: BufReader<Box<dyn Read + Send>>,
    buf: Vec<u8>,
    line_no: u64,
    bytes: u64,
}

impl LineReader {
    pub fn new(inner: Box<dyn Read + Send>) -> LineReader {
        LineReader {
            inner: BufReader::with_capacity(READ_CAPACITY, inner),
            buf: Vec::with_capacity(1024),
            line_no: 0,
            bytes: 0,
        }
    }

    /// The next line without its `\n`, or `None` at end of input. A last line with
    /// no newline is still returned.
    pub fn next_line(&mut self) -> io::Result<Option<&[u8]>> {
        self.buf.clear();
        let n = loop {
            match self.inner.read_until(b'\n', &mut self.buf) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        };
        if n == 0 {
            return Ok(None);
        }
        self.line_no += 1;
        self.bytes += n as u64;
        let line = match self.buf.last() {
            Some(b'\n') => &self.buf[..self.buf.len() - 1],
            _ => &self.buf[..],
        };
        Ok(Some(line))
    }

    /// The 1-based number of the line last returned.
    pub fn line_no(&self) -> u64 {
        self.line_no
    }

    /// Bytes consumed so far, line endings included.
    pub fn bytes_read(&self) -> u64 {
        self.bytes
    }
}

/// True for a line that holds nothing but white space: skipped, never an event.
pub fn is_blank(line: &[u8]) -> bool {
    line.iter().all(u8::is_ascii_whitespace)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_lines_with_and_without_final_newline() {
        let data = b"a\n\nbc\r\nlast".to_vec();
        let mut r = LineReader::new(Box::new(io::Cursor::new(data)));
        let mut got = Vec::new();
        while let Some(line) = r.next_line().unwrap() {
            let text = String::from_utf8(line.to_vec()).unwrap();
            got.push((r.line_no(), text));
        }
        assert_eq!(
            got,
            vec![
                (1, "a".to_string()),
                (2, String::new()),
                (3, "bc\r".to_string()),
                (4, "last".to_string())
            ]
        );
        assert_eq!(r.bytes_read(), 11);
    }

    #[test]
    fn blank_lines() {
        assert!(is_blank(b""));
        assert!(is_blank(b" \t\r"));
        assert!(!is_blank(b" {}"));
    }
}
