//! What `charrnn train` shows of a run, all on standard error: the header, warnings about
//! flags the run does not use, the notebook's `iter N, loss: X` lines and samples, validation
//! and checkpoint lines, a progress bar or plain progress lines, and the closing lines; with
//! `--quiet` only the warnings and the lines saying where an interrupted or timed-out run is
//! saved. It installs the Ctrl-C handler when the run starts its first step.

use std::time::Duration;

use charrnn::run::{Event, Note, RunInfo, RunOutcome, Sink, StepRecord, Stop};
use charrnn::Result;

use super::warn::{self, Given};
use crate::interrupt;
use crate::output;
use crate::progress::{Progress, Status};

/// The run's reporter, a [`Sink`].
pub struct Report {
    quiet: bool,
    /// The flags given, for the warnings.
    given: Given,
    /// Made when the run starts.
    progress: Option<Progress>,
    /// What the run said it is, when it started.
    info: Option<RunInfo>,
    /// The loss per character the progress shows: an average over the last 20 or so steps
    /// (the notebook's smoothed loss takes thousands of steps to forget its start).
    recent: Option<f64>,
}

impl Report {
    pub fn new(quiet: bool, given: Given) -> Self {
        Report {
            quiet,
            given,
            progress: None,
            info: None,
            recent: None,
        }
    }

    /// A line on standard error, unless quiet.
    fn println(&self, line: &str) {
        match &self.progress {
            Some(p) => p.println(line),
            None if !self.quiet => output::log(line),
            None => {}
        }
    }

    /// A line on standard error, quiet or not.
    fn always(&self, line: &str) {
        match &self.progress {
            Some(p) => p.suspend(|| output::log(line)),
            None => output::log(line),
        }
    }

    /// Remove the progress bar.
    pub fn finish(&self) {
        if let Some(p) = &self.progress {
            p.finish();
        }
    }

    /// The closing lines of a run that wrote its model.
    pub fn done(&self, o: &RunOutcome) {
        let out = o.out.as_deref().unwrap_or(std::path::Path::new(""));
        self.println(&format!(
            "done: {} steps ({} in {:.1} s, {:.0} chars/s), smoothed loss {:.4} ({:.4} nats/char); saved {}",
            o.steps,
            o.new_steps,
            o.secs,
            o.chars_per_s,
            o.smooth_loss,
            o.smooth_loss / o.seq_len as f64,
            out.display()
        ));
        // `charrnn sample` takes the latest run's model unless told otherwise.
        let latest = std::fs::canonicalize(crate::sample::LATEST_MODEL).ok();
        let model = if latest.is_some() && latest == std::fs::canonicalize(out).ok() {
            String::new()
        } else {
            format!(" --model {}", out.display())
        };
        self.println(&format!("sample it: charrnn sample{model} -n 500"));
    }

    fn start(&mut self, info: &RunInfo) -> Result<()> {
        let progress = Progress::new(self.quiet, info.total, info.start_step);
        let (m, t) = (&info.model, &info.train);
        progress.println(&format!(
            "charrnn: {}: {} characters ({} for validation), vocabulary {}; {} E{} H{} x{} ({} parameters, {}); T{} B{}, {} {}{}",
            info.source,
            info.chars,
            info.val_chars,
            m.vocab,
            m.cell.name(),
            m.emb,
            m.hidden,
            m.layers,
            info.params,
            info.dtype.name(),
            t.seq_len,
            t.batch,
            t.optim.kind.name(),
            info.total
                .map_or("until --max-time".to_string(), |t| format!("{t} steps")),
            if info.start_step > 0 {
                format!(", resumed at step {}", info.start_step)
            } else {
                String::new()
            }
        ));
        self.progress = Some(progress);
        for w in warn::warnings(&self.given, info) {
            self.always(&format!("warning: {w}"));
        }
        self.info = Some(info.clone());
        interrupt::install()
    }

    fn step(&mut self, r: &StepRecord) {
        let Some(info) = &self.info else { return };
        let print_every = info.settings.print_every;
        if print_every > 0 && r.step.is_multiple_of(print_every) {
            self.println(&format!("iter {}, loss: {:.6}", r.step, r.smooth_loss));
        }
        let done = r.step + 1;
        if let Some(v) = r.val {
            self.println(&validation(done, v));
        }
        let steps_per_s = (done - info.start_step) as f64 / r.secs.max(1e-9);
        let eta_steps = info.total.map(|t| {
            Duration::from_secs_f64(t.saturating_sub(done) as f64 / steps_per_s.max(1e-9))
        });
        let eta_time = info
            .max_time
            .map(|m| m.saturating_sub(Duration::from_secs_f64(r.elapsed)));
        let shown = self
            .recent
            .map_or(r.nats_per_char, |x| 0.95 * x + 0.05 * r.nats_per_char);
        self.recent = Some(shown);
        if let Some(p) = self.progress.as_mut() {
            p.update(&Status {
                step: done,
                loss: shown,
                chars_per_s: r.chars_per_s,
                eta: match (eta_steps, eta_time) {
                    (Some(x), Some(y)) => Some(x.min(y)),
                    (x, y) => x.or(y),
                },
            });
        }
    }

    fn stopped(&self, step: u64, stop: Stop, checkpoint: Option<&std::path::Path>) {
        self.finish();
        let Some(path) = checkpoint.filter(|_| stop != Stop::Done) else {
            return;
        };
        let budget = self.info.as_ref().and_then(|i| i.max_time);
        let line = match (stop, budget) {
            (Stop::OutOfTime, Some(m)) => {
                // The budget counts across resumes: continuing needs a larger one.
                let more = Duration::from_secs(2 * m.as_secs().max(1));
                format!(
                    "--max-time {} reached at step {step}: saved {}\nto train longer: charrnn train --resume {} --max-time {} (the time counts across resumes)",
                    humantime::format_duration(m),
                    path.display(),
                    path.display(),
                    humantime::format_duration(more)
                )
            }
            _ => format!(
                "interrupted at step {step}: saved {}\nresume with: charrnn train --resume {}",
                path.display(),
                path.display()
            ),
        };
        // Where the run is saved matters, quiet or not; interrupted or out of time alike.
        self.always(&line);
    }
}

impl Sink for Report {
    fn event(&mut self, e: &Event<'_>) -> Result<()> {
        match e {
            Event::Note(n) => self.println(&format!("note: {}", note(n))),
            Event::Start(info) => self.start(info)?,
            Event::Sample { text, .. } => self.println(&format!("----\n {text} \n----")),
            Event::Step(r) => self.step(r),
            Event::Validation { step, stats } => self.println(&validation(*step, *stats)),
            Event::Checkpoint { step, path } => {
                self.println(&format!("step {step}: saved {}", path.display()))
            }
            Event::Stopped {
                step,
                stop,
                checkpoint,
            } => self.stopped(*step, *stop, *checkpoint),
        }
        Ok(())
    }

    fn wants_samples(&self) -> bool {
        !self.quiet
    }
}

fn validation(step: u64, v: charrnn::eval::EvalStats) -> String {
    format!(
        "step {step}: validation loss {:.4} nats/char, {:.4} bits/char",
        v.nats_per_char(),
        v.bits_per_char()
    )
}

/// A note in the words of the library, its config fields named as flags.
fn note(n: &Note) -> String {
    super::config::flags(&n.to_string())
}
