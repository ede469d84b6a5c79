//! `wf-agg --watch`: reads a live stream on one thread and draws the dashboard
//! (`wf_agg::watch`) on this one, every --interval. On a terminal the frame is
//! drawn on the alternate screen, which a guard leaves on every way out (end of
//! input, Ctrl-C, an error), then the last frame is printed where it stays; off
//! a terminal each frame is a plain summary on stdout.

use std::io::{self, IsTerminal, Write};
use std::ops::ControlFlow;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use wf_agg::watch::{self, Frame};
use wf_agg::{Aggregator, ReadError};
use wf_events::follow::Follow;
use wf_events::kafka::{EventConsumer, Handler, Origin, StopAt};
use wf_events::{Input, Item};

use crate::args::Args;
use crate::Error;

/// Leaves the alternate screen and shows the cursor again when dropped.
struct Screen;

impl Screen {
    fn enter() -> Screen {
        let mut out = io::stdout().lock();
        let _ = out.write_all(b"\x1b[?1049h\x1b[?25l");
        let _ = out.flush();
        Screen
    }
}

impl Drop for Screen {
    fn drop(&mut self) {
        let mut out = io::stdout().lock();
        let _ = out.write_all(b"\x1b[?25h\x1b[?1049l");
        let _ = out.flush();
    }
}

fn lock(m: &Mutex<Live>) -> MutexGuard<'_, Live> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// What the reader thread shares with the drawing one.
struct Live {
    agg: Aggregator,
    /// Malformed lines: (where, line, what), the first few kept to print after.
    malformed: Vec<String>,
    /// Why reading stopped early, if it failed.
    error: Option<String>,
}

/// The terminal's rows and columns, from `stty size` on /dev/tty (so a resize
/// shows in the next frame); 0 where unknown.
fn size() -> (usize, usize) {
    let ask = || -> Option<(usize, usize)> {
        let out = std::process::Command::new("stty")
            .arg("size")
            .stdin(std::fs::File::open("/dev/tty").ok()?)
            .output()
            .ok()?;
        let text = String::from_utf8_lossy(&out.stdout);
        let mut it = text.split_whitespace().map(|v| v.parse::<usize>().ok());
        Some((it.next()??, it.next()??))
    };
    ask().unwrap_or((0, 0))
}

struct Feed {
    live: Arc<Mutex<Live>>,
}

impl Feed {
    fn item(&self, item: Item<'_>, origin: &dyn std::fmt::Display) {
        let mut l = lock(&self.live);
        match item {
            Item::Event(ev) => l.agg.apply(&ev),
            Item::Malformed { line_no, error } => {
                l.agg.count_malformed();
                if l.malformed.len() < 10 {
                    l.malformed.push(format!("{origin}:{line_no}: {error}"));
                }
            }
        }
    }
}

impl Handler for Feed {
    fn item(&mut self, item: Item<'_>, origin: &Origin<'_>) -> ControlFlow<()> {
        Feed::item(self, item, origin);
        ControlFlow::Continue(())
    }
}

pub fn run(a: &Args, stop: Arc<AtomicBool>) -> Result<std::process::ExitCode, Error> {
    let tty = io::stdout().is_terminal();
    let interval = a
        .interval
        .unwrap_or(Duration::from_secs(if tty { 1 } else { 10 }));
    let mut agg = Aggregator::new(a.input.opts.clone());
    agg.watch(a.input.opts.window_ms.unwrap_or(60_000));
    let live = Arc::new(Mutex::new(Live {
        agg,
        malformed: Vec::new(),
        error: None,
    }));
    let done = Arc::new(AtomicBool::new(false));

    // The source is opened here, so that a missing file is an error before the
    // screen changes.
    enum Source {
        Reader(String, Box<dyn io::Read + Send>),
        Kafka(Box<EventConsumer>),
    }
    let (source, name) = match &a.kafka.bootstrap {
        Some(b) => (
            Source::Kafka(Box::new(
                EventConsumer::connect(&a.kafka).map_err(Error::Kafka)?,
            )),
            format!("kafka://{b}"),
        ),
        None => {
            let input = a.input.inputs.first().cloned().unwrap_or(Input::Stdin);
            let name = input.name().to_string();
            let reader: Box<dyn io::Read + Send> = match (&input, a.follow) {
                (Input::Path(p), true) => Box::new(Follow::open(p).map_err(|err| {
                    Error::Read(ReadError::Open {
                        name: name.clone(),
                        err,
                    })
                })?),
                _ => wf_agg::open_all(std::slice::from_ref(&input))
                    .map_err(Error::Read)?
                    .into_inner()
                    .pop()
                    .map(|(_, r)| r)
                    .ok_or_else(|| Error::Usage("no input".into()))?,
            };
            (Source::Reader(name.clone(), reader), name)
        }
    };
    {
        let (live, done, stop) = (live.clone(), done.clone(), stop.clone());
        std::thread::spawn(move || {
            let mut feed = Feed { live: live.clone() };
            let result = match source {
                Source::Reader(name, reader) => wf_events::for_each_event(reader, |item| {
                    feed.item(item, &name);
                    if stop.load(Ordering::Relaxed) {
                        ControlFlow::Break(())
                    } else {
                        ControlFlow::Continue(())
                    }
                })
                .map_err(|e| format!("{name}: {e}")),
                Source::Kafka(mut consumer) => {
                    let at = StopAt {
                        max_events: None,
                        idle: None,
                        flag: Some(stop),
                        commit_every: Some(Duration::from_secs(1)),
                        max_hold: None,
                    };
                    let r = consumer.run(&at, &mut feed).map(|_| ());
                    r.and_then(|()| consumer.commit())
                        .map_err(|e| e.to_string())
                }
            };
            if let Err(e) = result {
                lock(&live).error = Some(e);
            }
            done.store(true, Ordering::SeqCst);
        });
    }

    let screen = tty.then(Screen::enter);
    let mut last = (Instant::now(), 0u64);
    let mut frame_text;
    loop {
        let due = Instant::now() + interval;
        while Instant::now() < due && !done.load(Ordering::SeqCst) && !stop.load(Ordering::SeqCst) {
            std::thread::sleep(Duration::from_millis(50));
        }
        let ended = done.load(Ordering::SeqCst) || stop.load(Ordering::SeqCst);
        {
            let mut l = lock(&live);
            let report = l.agg.report();
            let now = Instant::now();
            let events = report.events.total;
            let secs = now.duration_since(last.0).as_secs_f64().max(1e-3);
            let rate = (events - last.1) as f64 / secs;
            last = (now, events);
            let (rows, cols) = if tty { size() } else { (0, 0) };
            let mut f = Frame {
                report: &report,
                live: l.agg.live(),
                open: l.agg.open_transactions(),
                rate,
                source: &name,
                color: tty,
                rows,
                cols,
                ended,
            };
            frame_text = watch::render(&f);
            let mut out = io::stdout().lock();
            let written = if tty {
                out.write_all(b"\x1b[H\x1b[2J")
                    .and_then(|()| out.write_all(frame_text.as_bytes()))
            } else {
                out.write_all(frame_text.as_bytes())
                    .and_then(|()| out.write_all(b"\n"))
            };
            match written.and_then(|()| out.flush()) {
                Ok(()) => {}
                Err(e) if wf_events::cli::is_broken_pipe(&e) => {
                    return Ok(std::process::ExitCode::SUCCESS)
                }
                Err(e) => return Err(Error::Stdout(e)),
            }
            if ended && tty {
                // The last frame stays on the normal screen, without colours.
                f.color = false;
                f.rows = 0;
                f.cols = 0;
                frame_text = watch::render(&f);
            }
        }
        if ended {
            break;
        }
    }
    drop(screen);
    let l = lock(&live);
    if tty {
        let mut out = io::stdout().lock();
        out.write_all(frame_text.as_bytes())
            .map_err(Error::Stdout)?;
        out.flush().map_err(Error::Stdout)?;
    }
    for m in &l.malformed {
        eprintln!("wf-agg: {m}");
    }
    if l.agg.malformed() > l.malformed.len() as u64 {
        eprintln!(
            "wf-agg: {} malformed lines in all (the first {} shown)",
            l.agg.malformed(),
            l.malformed.len()
        );
    }
    match &l.error {
        Some(e) => Err(Error::State {
            name: "input".into(),
            msg: e.clone(),
        }),
        None => Ok(std::process::ExitCode::SUCCESS),
    }
}
