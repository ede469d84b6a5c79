//! Reading and parsing on one thread, using the events on another.
//!
//! Parsing JSON is most of what a wf tool does per event. On a machine with two
//! cores, a reader thread reads chunks of whole lines and parses every line while
//! the caller's thread applies the previous chunk's events, so a tool runs at
//! about the speed of parsing alone.
//!
//! Events are not copied: a parsed event's strings borrow from the chunk, and the
//! reader records them as byte spans; the caller's closure sees an ordinary
//! [`Event`] that borrows from the same chunk. The two threads balance the work:
//! when the caller's thread has nothing queued (it is waiting for the reader), the
//! reader sends the next chunk unparsed and the caller's thread parses it itself,
//! with the same [`parse_line`], so who parsed a line never changes a result. A chunk is sent as soon as the
//! reader has whole lines, so a live stream (a pipe, `tail -F`) is not held back
//! waiting for a full chunk. Chunks go back to the reader for reuse, so memory is
//! a few chunks, whatever the input's length.

use std::borrow::Cow;
use std::io::{self, Read};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender};

use crate::event::{parse_line, Event, EventType, ParseError, Status};
use crate::source::is_blank;

/// Bytes read per chunk.
const CHUNK: usize = 256 * 1024;
/// Chunks in flight between the threads (one parsing, one being applied, spares).
const IN_FLIGHT: usize = 4;

/// What the caller's closure is given, in input order.
#[derive(Debug)]
pub enum Item<'a> {
    Event(Event<'a>),
    /// A line that is not an event, with its 1-based line number.
    Malformed {
        line_no: u64,
        error: ParseError,
    },
}

/// Where one string of an event is: a range of the chunk, or an unescaped copy.
#[derive(Clone, Copy, Debug)]
enum Span {
    Chunk { start: u32, len: u32 },
    Owned(u32),
}

#[derive(Clone, Debug)]
struct Located {
    kind: EventType,
    txn_id: Span,
    ts_ms: i64,
    workflow: Option<Span>,
    step: Option<Span>,
    step_index: Option<u32>,
    duration_ms: Option<i64>,
    status: Option<Status>,
    error: Option<Span>,
    from_step: Option<Span>,
    to_step: Option<Span>,
    planned_wait_ms: Option<i64>,
    outlier_injected: Option<bool>,
}

enum Slot {
    Event(Located),
    Malformed { line_no: u64, error: ParseError },
}

#[derive(Default)]
struct Batch {
    /// Allocated (and zeroed) once at full size and reused; `len` bytes are valid.
    chunk: Vec<u8>,
    len: usize,
    /// False: the lines are still to be parsed, by the caller's thread.
    parsed: bool,
    /// Line number of the line before the chunk's first.
    first_line_no: u64,
    slots: Vec<Slot>,
    owned: Vec<String>,
}

impl Batch {
    // The Cow itself, not a &str: whether it borrows is what decides the span.
    #[allow(clippy::ptr_arg)]
    fn span(&mut self, s: &Cow<'_, str>, base: usize) -> Span {
        match s {
            Cow::Borrowed(b) => Span::Chunk {
                start: (b.as_ptr() as usize - base) as u32,
                len: b.len() as u32,
            },
            Cow::Owned(o) => {
                self.owned.push(o.clone());
                Span::Owned(self.owned.len() as u32 - 1)
            }
        }
    }

    fn str(&self, span: Span) -> Cow<'_, str> {
        match span {
            Span::Chunk { start, len } => {
                let bytes = &self.chunk[start as usize..(start + len) as usize];
                // The reader parsed these bytes as a string, so they are UTF-8.
                Cow::Borrowed(std::str::from_utf8(bytes).unwrap_or_default())
            }
            Span::Owned(i) => Cow::Borrowed(self.owned.get(i as usize).map_or("", |s| s)),
        }
    }

    fn event(&self, l: &Located) -> Event<'_> {
        let opt = |s: Option<Span>| s.map(|s| self.str(s));
        Event {
            kind: l.kind,
            txn_id: self.str(l.txn_id),
            ts_ms: l.ts_ms,
            workflow: opt(l.workflow),
            step: opt(l.step),
            step_index: l.step_index,
            duration_ms: l.duration_ms,
            status: l.status,
            error: opt(l.error),
            from_step: opt(l.from_step),
            to_step: opt(l.to_step),
            planned_wait_ms: l.planned_wait_ms,
            outlier_injected: l.outlier_injected,
        }
    }

    /// Calls `f` with every item of the batch, parsing the lines first if the
    /// reader did not. False when `f` asked to stop.
    fn deliver<F>(&self, f: &mut F) -> bool
    where
        F: FnMut(Item<'_>) -> ControlFlow<()>,
    {
        if self.parsed {
            for slot in &self.slots {
                let item = match slot {
                    Slot::Event(l) => Item::Event(self.event(l)),
                    Slot::Malformed { line_no, error } => Item::Malformed {
                        line_no: *line_no,
                        error: error.clone(),
                    },
                };
                if f(item).is_break() {
                    return false;
                }
            }
            return true;
        }
        for (line_no, raw) in (self.first_line_no + 1..).zip(lines(&self.chunk[..self.len])) {
            if is_blank(raw) {
                continue;
            }
            let item = match parse_line(raw) {
                Ok(ev) => Item::Event(ev),
                Err(error) => Item::Malformed { line_no, error },
            };
            if f(item).is_break() {
                return false;
            }
        }
        true
    }

    /// Parses every line of `self.chunk` (which holds whole lines only).
    fn parse(&mut self, first_line_no: u64) -> u64 {
        self.slots.clear();
        self.owned.clear();
        let chunk = std::mem::take(&mut self.chunk);
        let valid = &chunk[..self.len];
        let base = chunk.as_ptr() as usize;
        let mut line_no = first_line_no;
        for raw in lines(valid) {
            line_no += 1;
            if is_blank(raw) {
                continue;
            }
            match parse_line(raw) {
                Ok(ev) => {
                    let mut span = |s: &Cow<'_, str>| self.span(s, base);
                    let located = Located {
                        kind: ev.kind,
                        txn_id: span(&ev.txn_id),
                        ts_ms: ev.ts_ms,
                        workflow: ev.workflow.as_ref().map(&mut span),
                        step: ev.step.as_ref().map(&mut span),
                        step_index: ev.step_index,
                        duration_ms: ev.duration_ms,
                        status: ev.status,
                        error: ev.error.as_ref().map(&mut span),
                        from_step: ev.from_step.as_ref().map(&mut span),
                        to_step: ev.to_step.as_ref().map(&mut span),
                        planned_wait_ms: ev.planned_wait_ms,
                        outlier_injected: ev.outlier_injected,
                    };
                    self.slots.push(Slot::Event(located));
                }
                Err(error) => self.slots.push(Slot::Malformed { line_no, error }),
            }
        }
        self.chunk = chunk;
        line_no - first_line_no
    }
}

/// The lines of `data`: split at `\n`, with no empty line after a final `\n`.
fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut start = 0;
    std::iter::from_fn(move || {
        if start >= data.len() {
            return None;
        }
        let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |i| start + i);
        let line = &data[start..end];
        start = end + 1;
        Some(line)
    })
}

/// Reads `input` to its end on a reader thread, parsing every line, and calls `f`
/// with each event or malformed line in input order. `f` returns
/// `ControlFlow::Break(())` to stop early. An error reading the input is returned
/// after `f` has seen everything read before it.
pub fn for_each_event<R, F>(input: R, mut f: F) -> io::Result<()>
where
    R: Read + Send,
    F: FnMut(Item<'_>) -> ControlFlow<()>,
{
    let (full_tx, full_rx) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
    let (empty_tx, empty_rx) = mpsc::sync_channel::<Batch>(IN_FLIGHT);
    // Batches sent and not yet taken by the caller's thread.
    let queued = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let queued = &queued;
        let reader = std::thread::Builder::new()
            .name("wf-read".into())
            .spawn_scoped(scope, move || {
                read_batches(input, full_tx, empty_rx, queued)
            })?;
        for batch in full_rx.iter() {
            queued.fetch_sub(1, Ordering::Relaxed);
            if !batch.deliver(&mut f) {
                break;
            }
            // The reader may have finished; a spare it does not take is dropped.
            let _ = empty_tx.try_send(batch);
        }
        drop(full_rx);
        drop(empty_tx);
        match reader.join() {
            Ok(result) => result,
            Err(_) => Err(io::Error::other("the reader thread panicked")),
        }
    })
}

fn read_batches<R: Read>(
    mut input: R,
    full: SyncSender<Batch>,
    empty: Receiver<Batch>,
    queued: &AtomicUsize,
) -> io::Result<()> {
    let send = |batch: &mut Batch, carry: &mut Vec<u8>, line_no: &mut u64, eof: bool| {
        send_whole_lines(batch, carry, line_no, eof, &full, queued)
    };
    let mut carry: Vec<u8> = Vec::new();
    let mut line_no = 0u64;
    let mut made = 0;
    loop {
        let mut batch = match empty.try_recv() {
            Ok(b) => b,
            Err(_) if made < IN_FLIGHT => {
                made += 1;
                Batch::default()
            }
            Err(_) => match empty.recv() {
                Ok(b) => b,
                // The consumer stopped.
                Err(_) => return Ok(()),
            },
        };
        if batch.chunk.len() < CHUNK.max(carry.len() * 2) {
            batch.chunk.resize(CHUNK.max(carry.len() * 2), 0);
        }
        batch.chunk[..carry.len()].copy_from_slice(&carry);
        let mut filled = carry.len();
        carry.clear();
        let mut eof = false;
        // Read until the chunk holds at least one whole line (or the input ends);
        // then send what there is, so live input flows line by line.
        loop {
            if filled == batch.chunk.len() {
                // One line longer than the chunk: make room.
                batch.chunk.resize(filled * 2, 0);
            }
            let n = match read_retrying(&mut input, &mut batch.chunk[filled..]) {
                Ok(n) => n,
                Err(e) => {
                    batch.len = filled;
                    send(&mut batch, &mut carry, &mut line_no, true);
                    return Err(e);
                }
            };
            let had_newline = memchr::memchr(b'\n', &batch.chunk[filled..filled + n]).is_some();
            filled += n;
            if n == 0 {
                eof = true;
                break;
            }
            if had_newline {
                break;
            }
        }
        batch.len = filled;
        if !send(&mut batch, &mut carry, &mut line_no, eof) || eof {
            return Ok(());
        }
    }
}

fn read_retrying<R: Read>(input: &mut R, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match input.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            result => return result,
        }
    }
}

/// Moves a trailing partial line into `carry` (unless at the end of input), parses
/// the rest if the caller's thread has work queued, and sends it. False when the
/// consumer has gone.
fn send_whole_lines(
    batch: &mut Batch,
    carry: &mut Vec<u8>,
    line_no: &mut u64,
    eof: bool,
    full: &SyncSender<Batch>,
    queued: &AtomicUsize,
) -> bool {
    if !eof {
        let cut = memchr::memrchr(b'\n', &batch.chunk[..batch.len]).map_or(0, |i| i + 1);
        carry.extend_from_slice(&batch.chunk[cut..batch.len]);
        batch.len = cut;
    }
    if batch.len == 0 {
        return true;
    }
    batch.first_line_no = *line_no;
    batch.parsed = queued.load(Ordering::Relaxed) > 0;
    *line_no += if batch.parsed {
        batch.parse(*line_no)
    } else {
        lines(&batch.chunk[..batch.len]).count() as u64
    };
    queued.fetch_add(1, Ordering::Relaxed);
    if full.send(std::mem::take(batch)).is_ok() {
        true
    } else {
        queued.fetch_sub(1, Ordering::Relaxed);
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that hands out its data a few bytes at a time, like a slow pipe.
    struct Trickle(Vec<u8>, usize, usize);

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.2.min(buf.len()).min(self.0.len() - self.1);
            buf[..n].copy_from_slice(&self.0[self.1..self.1 + n]);
            self.1 += n;
            Ok(n)
        }
    }

    fn collect(input: impl Read + Send) -> (Vec<String>, io::Result<()>) {
        let mut got = Vec::new();
        let res = for_each_event(input, |item| {
            got.push(match item {
                Item::Event(ev) => format!("{} {} {}", ev.kind, ev.txn_id, ev.ts_ms),
                Item::Malformed { line_no, error } => format!("{line_no}: {error}"),
            });
            ControlFlow::Continue(())
        });
        (got, res)
    }

    fn sample(n: usize) -> Vec<u8> {
        let mut data = Vec::new();
        for i in 0..n {
            if i % 1000 == 7 {
                data.extend_from_slice(b"junk\n\n");
            }
            data.extend_from_slice(
                format!(
                    "{{\"type\":\"transaction_open\",\"txn_id\":\"t\\u0041{i}\",\"ts_ms\":{i}}}\n"
                )
                .as_bytes(),
            );
        }
        data
    }

    #[test]
    fn every_line_in_order_with_line_numbers() {
        let data = sample(50_000);
        let (got, res) = collect(io::Cursor::new(data.clone()));
        res.unwrap();
        assert_eq!(got.len(), 50_000 + 50);
        assert_eq!(got[0], "transaction_open tA0 0");
        assert_eq!(got[7], "8: not JSON: expected value at column 1");
        assert_eq!(got[8], "transaction_open tA7 7");
        assert_eq!(got.last().unwrap(), "transaction_open tA49999 49999");
        // The same through a pipe that trickles 7 bytes at a time.
        let (slow, res) = collect(Trickle(data, 0, 7));
        res.unwrap();
        assert_eq!(slow, got);
    }

    #[test]
    fn parsed_by_either_thread_the_items_are_the_same() {
        let data = sample(3000);
        let items = |parse_in_reader: bool| {
            let mut batch = Batch {
                chunk: data.clone(),
                len: data.len(),
                first_line_no: 10,
                ..Batch::default()
            };
            if parse_in_reader {
                batch.parse(10);
                batch.parsed = true;
            }
            let mut got = Vec::new();
            assert!(batch.deliver(&mut |item: Item<'_>| {
                got.push(format!("{item:?}"));
                ControlFlow::Continue(())
            }));
            got
        };
        let by_reader = items(true);
        assert_eq!(by_reader.len(), 3003);
        assert!(
            by_reader[7].starts_with("Malformed { line_no: 18,"),
            "{}",
            by_reader[7]
        );
        assert_eq!(by_reader, items(false));
    }

    #[test]
    fn last_line_without_newline_is_read() {
        let (got, _) = collect(io::Cursor::new(
            b"{\"type\":\"x\"}\n{\"type\":\"step_open\",\"txn_id\":\"a\",\"ts_ms\":3,\"step\":\"s\"}"
                .to_vec(),
        ));
        assert_eq!(got, vec!["unknown  0", "step_open a 3"]);
    }

    #[test]
    fn stops_when_asked() {
        let mut seen = 0;
        for_each_event(io::Cursor::new(sample(100_000)), |_| {
            seen += 1;
            if seen == 10 {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        })
        .unwrap();
        assert_eq!(seen, 10);
    }

    #[test]
    fn a_read_error_comes_after_what_was_read() {
        struct Fails(bool);
        impl Read for Fails {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0 {
                    return Err(io::Error::other("disk on fire"));
                }
                self.0 = true;
                let line = b"{\"type\":\"transaction_open\",\"txn_id\":\"a\",\"ts_ms\":1}\n{\"type";
                buf[..line.len()].copy_from_slice(line);
                Ok(line.len())
            }
        }
        let (got, res) = collect(Fails(false));
        assert_eq!(got[0], "transaction_open a 1");
        assert_eq!(
            got[1],
            "2: not JSON: EOF while parsing a string at column 6"
        );
        assert_eq!(res.unwrap_err().to_string(), "disk on fire");
    }
}
