//! A training run: what `charrnn train` does, for any caller.
//!
//! [`run`] takes a [`RunConfig`], starts a new run or resumes one from a checkpoint, and trains
//! until a stopping rule ends it (`steps`, `epochs`, `max_time`) or the caller's stop flag asks
//! it to stop (Ctrl-C in the CLI). It owns:
//! - new or resumed: a resumed run takes its settings from the checkpoint (the trainer's config
//!   and a [`RunRecord`]), refuses settings given now that would change it, and refuses a text
//!   other than its own (by the corpus fingerprint);
//! - the checkpoint policy: a resumable checkpoint every `checkpoint_every` steps, at the end,
//!   and whenever the run stops early, named by step and validation loss; the last `keep` kept
//!   plus the best ([`checkpoints`]); one run at a time per directory;
//! - validation every `eval_every` steps, at checkpoints and at the end;
//! - the divergence guard: a non-finite loss, gradient or weight stops the run with
//!   [`Error::RunDiverged`], naming the last good checkpoint; the model file is not written;
//! - the metrics file ([`metrics`]) and the model file (`out`).
//!
//! It never prints: what happens goes to a [`Sink`] as [`Event`]s (one [`Event::Step`] per
//! step), and the caller draws it. Messages name [`RunConfig`] fields in backticks.
//!
//! ```
//! use charrnn::run::{self, Event, RunConfig, Stop, Text};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let config = RunConfig {
//!     text: Some(Text { name: "the text".into(), content: "hello world, hello rnn. ".repeat(20) }),
//!     steps: Some(30),
//!     seq_len: Some(8),
//!     batch: Some(2),
//!     out: Some(dir.path().join("model.safetensors")),
//!     checkpoint_dir: Some(dir.path().join("checkpoints")),
//!     ..RunConfig::default()
//! };
//! let mut losses = Vec::new();
//! let mut sink = |e: &Event| {
//!     if let Event::Step(r) = e {
//!         losses.push(r.loss);
//!     }
//!     Ok(())
//! };
//! let outcome = run::run(&config, &mut sink, &|| false).unwrap();
//! assert_eq!((outcome.stop, outcome.steps, losses.len()), (Stop::Done, 30, 30));
//! assert!(dir.path().join("model.safetensors").exists());
//! ```

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::checkpoint;
use crate::error::{Error, Result};
use crate::eval::EvalStats;
use crate::model::ModelConfig;
use crate::train::TrainConfig;

pub mod checkpoints;
mod config;
mod init_from;
pub mod metrics;
pub mod place;
mod preset;
mod record;
mod session;
mod setup;

pub use config::{Dtype, RunConfig, Text};
pub use preset::Preset;
pub use record::{RunRecord, META_KEY};

/// Why a run stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stop {
    /// It reached `steps` or `epochs`.
    Done,
    /// The stop flag asked it to stop: a checkpoint was written, the model file was not.
    Interrupted,
    /// `max_time` ran out: a checkpoint was written, and the model file too.
    OutOfTime,
}

/// Something the run tells its caller, besides a step's record.
#[derive(Clone, Debug, PartialEq)]
pub enum Note {
    /// The `lr` given replaces the resumed run's `was` from `step` on.
    LrReplaced { lr: f64, was: f64, step: u64 },
    /// The resumed run ends elsewhere than it did (other stopping rules), and its annealed
    /// schedule now ends there: after `steps`, or `seconds` of training.
    ScheduleEndMoved {
        steps: Option<u64>,
        seconds: Option<f64>,
    },
    /// `checkpoint` was written with `saved` threads and this session uses `now`: with dropout
    /// the run goes on with other masks than an uninterrupted run.
    ThreadsChanged {
        checkpoint: PathBuf,
        saved: usize,
        now: usize,
    },
    /// `extend_vocab` added `added`, characters the `init_from` checkpoint did not know, which
    /// are `count` of the text's `of` characters.
    VocabExtended {
        added: Vec<char>,
        count: u64,
        of: u64,
    },
    /// The `init_from` checkpoint's unknown symbol U+FFFD stands for `chars`, characters it
    /// does not know (`count` of the text's `of`), as `extend_vocab` was not given.
    ReadAsUnknown {
        chars: Vec<char>,
        count: u64,
        of: u64,
    },
    /// `keep_optimizer` carries `checkpoint`'s `optim` state, after `updates` updates.
    OptimizerKept {
        checkpoint: PathBuf,
        optim: crate::optim::OptimKind,
        updates: u64,
    },
    /// `freeze` holds `parts` fixed: `training` of the model's `of` parameters train.
    Frozen {
        parts: String,
        training: usize,
        of: usize,
    },
}

/// A note in words, naming settings by their config fields in backticks (`lr`,
/// `extend_vocab`, ...), which the CLI turns into its flags.
impl std::fmt::Display for Note {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::vocab::describe_chars;
        let share = |count: u64, of: u64| 100.0 * count as f64 / of.max(1) as f64;
        match self {
            Note::LrReplaced { lr, was, step } => {
                write!(f, "`lr` {lr} replaces the run's {was} from step {step} on")
            }
            Note::ScheduleEndMoved { steps, seconds } => {
                let at = match (steps, seconds) {
                    (Some(s), Some(t)) => {
                        format!("at step {s} or after {t} s, whichever comes first")
                    }
                    (Some(s), None) => format!("at step {s}"),
                    (None, Some(t)) => format!("after {t} s of training"),
                    (None, None) => "with the run".into(),
                };
                write!(f, "the learning-rate schedule now ends with the run's new end, {at}")
            }
            Note::ThreadsChanged {
                checkpoint,
                saved,
                now,
            } => write!(
                f,
                "{} wrote it with {saved} threads, this run uses {now}: it goes on, but with other dropout masks than an uninterrupted run",
                checkpoint.display()
            ),
            Note::VocabExtended { added, count, of } => write!(
                f,
                "`extend_vocab` added {} character(s) the model did not know, {count} of the text's {of} ({:.2}%): {}",
                added.len(),
                share(*count, *of),
                describe_chars(added)
            ),
            Note::ReadAsUnknown { chars, count, of } => write!(
                f,
                "the model reads {} character(s) it does not know as U+FFFD, {count} of the text's {of} ({:.2}%): {}; `extend_vocab` gives them their own",
                chars.len(),
                share(*count, *of),
                describe_chars(chars)
            ),
            Note::OptimizerKept {
                checkpoint,
                optim,
                updates,
            } => write!(
                f,
                "`keep_optimizer`: the {} state of {} ({updates} updates) carries on",
                optim.name(),
                checkpoint.display()
            ),
            Note::Frozen {
                parts,
                training,
                of,
            } => write!(
                f,
                "`freeze` {parts}: {training} of the model's {of} parameters train"
            ),
        }
    }
}

/// What a run is, once set up: what [`Event::Start`] reports.
#[derive(Clone, Debug, PartialEq)]
pub struct RunInfo {
    /// The data file, or the name of the text in memory.
    pub source: String,
    /// Characters of the text, the validation part included.
    pub chars: usize,
    /// Characters held out for validation.
    pub val_chars: usize,
    pub model: ModelConfig,
    /// Parameters of the model.
    pub params: usize,
    pub dtype: Dtype,
    pub train: TrainConfig,
    /// The step the run stops at, if known (`max_time` alone: not).
    pub total: Option<u64>,
    /// Steps done before this session (0 for a new run).
    pub start_step: u64,
    /// The time budget, counted across resumes (`settings.elapsed` of it is spent).
    pub max_time: Option<Duration>,
    /// The run's settings (a resumed run's, with what was given now).
    pub settings: RunRecord,
}

/// What one step did, and where the run is: what [`Event::Step`] reports and the metrics file
/// writes ([`metrics::Row`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepRecord {
    /// The step's index, from 0 (the run has done `step + 1` steps after it).
    pub step: u64,
    /// Passes over the text begun so far.
    pub epoch: u64,
    /// The window's loss, summed over time and batch (the notebook's `loss`).
    pub loss: f64,
    /// The same per character.
    pub nats_per_char: f64,
    /// The notebook's smoothed loss.
    pub smooth_loss: f64,
    pub lr: f64,
    /// Gradient norm before clipping.
    pub grad_norm: f64,
    /// Share of gradient elements clipped.
    pub clip_fraction: f64,
    /// This session's mean training speed.
    pub chars_per_s: f64,
    /// Seconds since the run began, across resumes.
    pub elapsed: f64,
    /// Seconds of this session.
    pub secs: f64,
    /// The validation loss, when the validation text was scored after this step.
    pub val: Option<EvalStats>,
    /// Seconds that scoring took.
    pub val_secs: Option<f64>,
}

/// What happens in a run, in order: any [`Event::Note`]s, [`Event::Start`], then per step an
/// optional [`Event::Sample`] before it, its [`Event::Step`] and an optional
/// [`Event::Checkpoint`]; then [`Event::Stopped`], and unless interrupted a last
/// [`Event::Validation`], [`Event::Checkpoint`] and [`Event::Sample`] before the model file is
/// written.
#[derive(Clone, Debug, PartialEq)]
pub enum Event<'a> {
    Note(Note),
    /// Set up, about to take the first step.
    Start(&'a RunInfo),
    /// `text`, sampled from a zero state before step `step` (or at the end, after it).
    Sample {
        step: u64,
        text: &'a str,
    },
    Step(&'a StepRecord),
    /// The validation text was scored at the end, after `step` steps.
    Validation {
        step: u64,
        stats: EvalStats,
    },
    /// A resumable checkpoint of the run after `step` steps was written.
    Checkpoint {
        step: u64,
        path: &'a Path,
    },
    /// The loop stopped after `step` steps; `checkpoint` is the one to resume from when it
    /// stopped early.
    Stopped {
        step: u64,
        stop: Stop,
        checkpoint: Option<&'a Path>,
    },
}

/// Where a run's events go. An error from [`Sink::event`] stops the run and is returned.
///
/// Closures `FnMut(&Event) -> Result<()>` are sinks.
pub trait Sink {
    fn event(&mut self, event: &Event<'_>) -> Result<()>;

    /// Whether samples are wanted (false saves generating them).
    fn wants_samples(&self) -> bool {
        true
    }
}

impl<F: FnMut(&Event<'_>) -> Result<()>> Sink for F {
    fn event(&mut self, event: &Event<'_>) -> Result<()> {
        self(event)
    }
}

/// How a run ended.
#[derive(Clone, Debug, PartialEq)]
pub struct RunOutcome {
    pub stop: Stop,
    /// Steps done in all.
    pub steps: u64,
    /// Steps done in this session.
    pub new_steps: u64,
    /// Seconds of this session.
    pub secs: f64,
    /// This session's training speed.
    pub chars_per_s: f64,
    /// The notebook's smoothed loss at the end (summed over a window of `seq_len`).
    pub smooth_loss: f64,
    pub seq_len: usize,
    /// The last validation loss, if any.
    pub val: Option<EvalStats>,
    /// The checkpoint written when the run stopped early (resume from it), else the last
    /// one written or resumed from, if any.
    pub checkpoint: Option<PathBuf>,
    /// The model file, unless interrupted.
    pub out: Option<PathBuf>,
}

/// Train as `config` says, telling `sink` what happens, until a stopping rule ends the run or
/// `stop` returns true (it is polled before every step).
///
/// Errors: settings out of range or at odds with a resumed run, unreadable or unsuitable data
/// or checkpoints, files that cannot be written, an error from `sink`, and divergence
/// ([`Error::RunDiverged`]).
pub fn run(config: &RunConfig, sink: &mut dyn Sink, stop: &dyn Fn() -> bool) -> Result<RunOutcome> {
    let dtype = match &config.resume {
        Some(path) => {
            let ck = checkpoint::load::<f64>(path)?;
            let saved = if ck.meta.get("dtype").map(String::as_str) == Some("f64") {
                Dtype::F64
            } else {
                Dtype::F32
            };
            if let Some(d) = config.dtype.filter(|&d| d != saved) {
                return Err(Error::config(format!(
                    "`dtype` {} differs from the resumed run's {} ({}): drop `dtype`",
                    d.name(),
                    saved.name(),
                    path.display()
                )));
            }
            saved
        }
        None => config.dtype.unwrap_or_default(),
    };
    match dtype {
        Dtype::F32 => run_typed::<f32>(config, dtype, sink, stop),
        Dtype::F64 => run_typed::<f64>(config, dtype, sink, stop),
    }
}

fn run_typed<T: crate::Real>(
    config: &RunConfig,
    dtype: Dtype,
    sink: &mut dyn Sink,
    stop: &dyn Fn() -> bool,
) -> Result<RunOutcome> {
    let setup = setup::Setup::<T>::new(config, sink)?;
    session::Session::start(setup, dtype, sink)?.train(sink, stop)
}
