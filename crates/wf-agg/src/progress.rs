//! Progress on a terminal: bytes and events read and the rate, redrawn on one
//! stderr line while a long run reads its files, and wiped at the end. Nothing
//! when stderr is not a terminal, and nothing for a run shorter than a second.

use std::io::{self, IsTerminal, Read, Write};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a run goes before progress shows, and how often it is redrawn.
const FIRST: Duration = Duration::from_secs(1);
const EVERY: Duration = Duration::from_millis(250);

#[derive(Default)]
struct Counts {
    bytes: AtomicU64,
    events: AtomicU64,
}

/// The progress line of one run; see the module docs.
pub struct Progress {
    counts: Arc<Counts>,
    done: Arc<(Mutex<bool>, Condvar)>,
    drawn: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Progress {
    /// A progress line for `tool`, when stderr is a terminal.
    pub fn start(tool: &'static str) -> Option<Progress> {
        if !io::stderr().is_terminal() {
            return None;
        }
        let counts = Arc::new(Counts::default());
        let done = Arc::new((Mutex::new(false), Condvar::new()));
        let drawn = Arc::new(AtomicBool::new(false));
        let thread = {
            let (counts, done, drawn) = (counts.clone(), done.clone(), drawn.clone());
            std::thread::spawn(move || draw(tool, &counts, &done, &drawn))
        };
        Some(Progress {
            counts,
            done,
            drawn,
            thread: Some(thread),
        })
    }

    /// `reader`, counting the bytes read through it.
    pub fn count(&self, reader: Box<dyn Read + Send>) -> Box<dyn Read + Send> {
        Box::new(Counting {
            inner: reader,
            counts: self.counts.clone(),
        })
    }

    /// One more event read.
    #[inline]
    pub fn event(&self) {
        self.counts.events.fetch_add(1, Ordering::Relaxed);
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        let (lock, cv) = &*self.done;
        *lock.lock().unwrap_or_else(|p| p.into_inner()) = true;
        cv.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        if self.drawn.load(Ordering::Relaxed) {
            // Wipe the line, so the report or an error starts clean.
            let _ = io::stderr().write_all(b"\r\x1b[2K");
        }
    }
}

struct Counting {
    inner: Box<dyn Read + Send>,
    counts: Arc<Counts>,
}

impl Read for Counting {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.counts.bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
}

fn draw(tool: &str, counts: &Counts, done: &(Mutex<bool>, Condvar), drawn: &AtomicBool) {
    let start = Instant::now();
    let (lock, cv) = done;
    let mut finished = lock.lock().unwrap_or_else(|p| p.into_inner());
    let mut wait = FIRST;
    loop {
        let (guard, _) = cv
            .wait_timeout(finished, wait)
            .unwrap_or_else(|p| p.into_inner());
        finished = guard;
        if *finished {
            return;
        }
        wait = EVERY;
        let secs = start.elapsed().as_secs_f64();
        let events = counts.events.load(Ordering::Relaxed);
        let mb = counts.bytes.load(Ordering::Relaxed) as f64 / 1e6;
        let line = format!(
            "\r\x1b[2K{tool}: {mb:.1} MB, {events} events read, {:.0} events/s",
            events as f64 / secs.max(1e-9)
        );
        let _ = io::stderr().write_all(line.as_bytes());
        drawn.store(true, Ordering::Relaxed);
    }
}
