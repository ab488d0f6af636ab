//! Where `charrnn sample` writes its text: [`Out`].

use std::io::Write;
use std::time::{Duration, Instant};

/// Standard output, flushed after every character on a terminal and at least every 20 ms
/// otherwise, so a pipe sees the text as it is drawn without a system call per character.
/// Each sample ends with a newline (unless its text already does).
pub struct Out<W: Write> {
    w: W,
    live: bool,
    last_flush: Instant,
    buf: [u8; 4],
    at_line_start: bool,
    /// Characters between clock reads, and written since the last one.
    every: u32,
    since: u32,
    last_check: Instant,
}

impl<W: Write> Out<W> {
    /// Writing to `w`; `live` (a terminal): flush after every character.
    pub fn new(w: W, live: bool) -> Self {
        Out {
            w,
            live,
            last_flush: Instant::now(),
            buf: [0; 4],
            at_line_start: true,
            every: 1,
            since: 0,
            last_check: Instant::now(),
        }
    }

    /// One character of a sample.
    pub fn char(&mut self, c: char) -> std::io::Result<()> {
        self.w.write_all(c.encode_utf8(&mut self.buf).as_bytes())?;
        self.at_line_start = c == '\n';
        if self.live {
            return self.w.flush();
        }
        // Reading the clock costs about as much as a small model's step, so it is read every
        // `every` characters: doubled while checks come less than 1 ms apart, halved when
        // more than 5 ms, so a slow model still flushes about every 20 ms.
        self.since += 1;
        if self.since >= self.every {
            self.since = 0;
            let now = Instant::now();
            let gap = now - self.last_check;
            self.last_check = now;
            if gap < Duration::from_millis(1) {
                self.every = (self.every * 2).min(1024);
            } else if gap > Duration::from_millis(5) {
                self.every = (self.every / 2).max(1);
            }
            if now - self.last_flush >= Duration::from_millis(20) {
                self.w.flush()?;
                self.last_flush = now;
            }
        }
        Ok(())
    }

    /// Begin sample `i`: a line `----` before every sample but the first, then the prime.
    pub fn sample_start(&mut self, i: usize, prime: &str) -> std::io::Result<()> {
        if i > 0 {
            self.w.write_all(b"----\n")?;
        }
        self.at_line_start = prime.is_empty() || prime.ends_with('\n');
        self.w.write_all(prime.as_bytes())
    }

    /// End a sample: a newline unless its text ends with one; flush.
    pub fn sample_end(&mut self) -> std::io::Result<()> {
        if !self.at_line_start {
            self.w.write_all(b"\n")?;
            self.at_line_start = true;
        }
        self.w.flush()
    }

    pub fn flush(&mut self) -> std::io::Result<()> {
        self.w.flush()
    }
}
