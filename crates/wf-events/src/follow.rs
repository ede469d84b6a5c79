//! Reading a file as it grows, like `tail -F`: across rotation (the file renamed
//! and a new one created at the path) and truncation (copytruncate), without
//! losing or repeating lines.
//!
//! [`Follow`] is a `Read` that never reaches end of input: at the end of the file
//! it waits and looks again. On rotation it reads the old file to its end first,
//! then opens the new one from its start; on truncation it starts over from the
//! start of the file. A line the old file left unfinished is ended with a newline,
//! so it is never glued to the new file's first line.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::Duration;

/// How long to wait at the end of the file before looking again.
pub const POLL: Duration = Duration::from_millis(100);

pub struct Follow {
    path: PathBuf,
    file: File,
    inode: u64,
    offset: u64,
    last_byte: Option<u8>,
    poll: Duration,
}

impl Follow {
    /// Opens `path` and reads it from its start.
    pub fn open(path: impl Into<PathBuf>) -> io::Result<Follow> {
        let path = path.into();
        let file = File::open(&path)?;
        let inode = file.metadata()?.ino();
        Ok(Follow {
            path,
            file,
            inode,
            offset: 0,
            last_byte: None,
            poll: POLL,
        })
    }

    /// Sets how long to wait at the end of the file (tests use a short one).
    pub fn poll_every(mut self, poll: Duration) -> Follow {
        self.poll = poll;
        self
    }

    /// At the end of the current file: what happened to the path?
    fn check(&mut self) -> io::Result<Change> {
        let now = match std::fs::metadata(&self.path) {
            Ok(m) => m,
            // Between a rename and the new file's creation: wait.
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Change::None),
            Err(e) => return Err(e),
        };
        if now.ino() != self.inode {
            return Ok(Change::Rotated);
        }
        if now.len() < self.offset {
            return Ok(Change::Truncated);
        }
        Ok(Change::None)
    }
}

enum Change {
    None,
    Rotated,
    Truncated,
}

impl Read for Follow {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let n = self.file.read(buf)?;
            if n > 0 {
                self.offset += n as u64;
                self.last_byte = Some(buf[n - 1]);
                return Ok(n);
            }
            match self.check()? {
                Change::None => std::thread::sleep(self.poll),
                Change::Rotated => {
                    // The old file is read to its end (n == 0 above): move on.
                    let file = match File::open(&self.path) {
                        Ok(f) => f,
                        Err(e) if e.kind() == io::ErrorKind::NotFound => {
                            std::thread::sleep(self.poll);
                            continue;
                        }
                        Err(e) => return Err(e),
                    };
                    self.inode = file.metadata()?.ino();
                    self.file = file;
                    self.offset = 0;
                    if self.end_unfinished_line(buf) {
                        return Ok(1);
                    }
                }
                Change::Truncated => {
                    self.file.seek(SeekFrom::Start(0))?;
                    self.offset = 0;
                    if self.end_unfinished_line(buf) {
                        return Ok(1);
                    }
                }
            }
        }
    }
}

impl Follow {
    /// Writes a newline into `buf` if the last byte read did not end a line.
    fn end_unfinished_line(&mut self, buf: &mut [u8]) -> bool {
        if self.last_byte.is_some_and(|b| b != b'\n') {
            buf[0] = b'\n';
            self.last_byte = Some(b'\n');
            return true;
        }
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::sync::mpsc;

    /// Reads lines from a Follow on a thread, handing each over as it comes.
    fn reader(path: &std::path::Path) -> mpsc::Receiver<String> {
        let f = Follow::open(path)
            .unwrap()
            .poll_every(Duration::from_millis(5));
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut r = io::BufReader::new(f);
            let mut line = String::new();
            while io::BufRead::read_line(&mut r, &mut line).unwrap() > 0 {
                if tx.send(line.trim_end().to_string()).is_err() {
                    return;
                }
                line.clear();
            }
        });
        rx
    }

    fn next(rx: &mpsc::Receiver<String>) -> String {
        rx.recv_timeout(Duration::from_secs(5)).unwrap()
    }

    fn append(path: &std::path::Path, text: &str) {
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .create(true)
            .open(path)
            .unwrap();
        f.write_all(text.as_bytes()).unwrap();
    }

    #[test]
    fn growth_rotation_and_truncation_lose_and_repeat_nothing() {
        let dir = std::env::temp_dir().join(format!("wf-follow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("events.jsonl");
        std::fs::write(&path, "a\nb\n").unwrap();
        let rx = reader(&path);
        assert_eq!((next(&rx), next(&rx)), ("a".into(), "b".into()));

        append(&path, "c\n");
        assert_eq!(next(&rx), "c");

        // Rotation: the rest of the old file, then the new file from its start.
        append(&path, "d\nunfinished");
        std::fs::rename(&path, dir.join("events.jsonl.1")).unwrap();
        std::fs::write(&path, "e\n").unwrap();
        assert_eq!(next(&rx), "d");
        assert_eq!(next(&rx), "unfinished");
        assert_eq!(next(&rx), "e");

        // Truncation: the file starts over.
        std::fs::write(&path, "").unwrap();
        std::thread::sleep(Duration::from_millis(50));
        append(&path, "f\n");
        assert_eq!(next(&rx), "f");
        assert!(rx.recv_timeout(Duration::from_millis(100)).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
