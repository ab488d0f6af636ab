//! Training progress, on standard error: a bar (step, loss, chars/s, ETA) when it is a
//! terminal; plain lines every few seconds otherwise (logs, CI); nothing with `--quiet`.
//! Everything printed while training (the notebook's `iter N, loss: X` lines, samples) goes
//! through [`Progress::println`] so it never tears the bar.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::output;

/// How progress is shown.
enum Mode {
    Bar(ProgressBar),
    /// The time of the last plain line.
    Plain(Instant),
    Quiet,
}

pub struct Progress {
    mode: Mode,
    /// Steps the run stops at, if known.
    total: Option<u64>,
    /// Seconds between plain lines.
    every: Duration,
}

/// What one update reports.
pub struct Status {
    /// Steps done.
    pub step: u64,
    /// Recent training loss in nats per character.
    pub loss: f64,
    pub chars_per_s: f64,
    /// Time left, if it can be told.
    pub eta: Option<Duration>,
}

impl Progress {
    /// A bar if stderr is a terminal (and not `quiet`), else plain lines.
    pub fn new(quiet: bool, total: Option<u64>, start: u64) -> Self {
        let mode = if quiet {
            Mode::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = match total {
                Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
                None => ProgressBar::new_spinner(),
            };
            let template = if total.is_some() {
                "{elapsed_precise} [{wide_bar:.cyan/blue}] {pos}/{len} {msg}"
            } else {
                "{elapsed_precise} {spinner} step {pos}  {msg}"
            };
            bar.set_style(
                ProgressStyle::with_template(template)
                    .expect("a valid template")
                    .progress_chars("=> "),
            );
            bar.set_position(start);
            bar.enable_steady_tick(Duration::from_millis(250));
            Mode::Bar(bar)
        } else {
            Mode::Plain(Instant::now())
        };
        Progress {
            mode,
            total,
            every: Duration::from_secs(10),
        }
    }

    /// Print a line on standard error (nothing when quiet).
    pub fn println(&self, line: &str) {
        match &self.mode {
            Mode::Bar(bar) => bar.suspend(|| output::log(line)),
            Mode::Plain(_) => output::log(line),
            Mode::Quiet => {}
        }
    }

    /// Run `f` with the bar out of the way.
    pub fn suspend(&self, f: impl FnOnce()) {
        match &self.mode {
            Mode::Bar(bar) => bar.suspend(f),
            _ => f(),
        }
    }

    /// Report a step; plain mode prints a line at most every few seconds.
    pub fn update(&mut self, s: &Status) {
        let eta = s.eta.map_or(String::new(), |d| {
            format!(", ETA {}", humantime::format_duration(round(d)))
        });
        match &mut self.mode {
            Mode::Bar(bar) => {
                bar.set_position(s.step);
                bar.set_message(format!(
                    "loss {:.4}, {:.0} chars/s{eta}",
                    s.loss, s.chars_per_s
                ));
            }
            Mode::Plain(last) => {
                if last.elapsed() >= self.every {
                    *last = Instant::now();
                    let of = self.total.map_or(String::new(), |t| {
                        format!("/{t} ({:.1}%)", 100.0 * s.step as f64 / t.max(1) as f64)
                    });
                    output::log(&format!(
                        "step {}{of}, loss {:.4} nats/char, {:.0} chars/s{eta}",
                        s.step, s.loss, s.chars_per_s
                    ));
                }
            }
            Mode::Quiet => {}
        }
    }

    /// Remove the bar.
    pub fn finish(&self) {
        if let Mode::Bar(bar) = &self.mode {
            bar.finish_and_clear();
        }
    }
}

/// To the second (to the minute past an hour), for display.
fn round(d: Duration) -> Duration {
    let s = d.as_secs();
    Duration::from_secs(if s >= 3600 { s / 60 * 60 } else { s })
}
