//! What a run is asked to do ([`RunConfig`]), and the checks of it that need neither the text
//! nor a checkpoint.
//!
//! Every field is optional. `None` takes the default for a new run and the saved value for a
//! resumed one; on a resume, a `Some` either replaces the saved value (where the output goes,
//! how often to report and checkpoint, when to stop, `lr`, `threads`, `data`) or must equal it
//! (everything that defines the run: the model, the optimizer, the data split, the seed).
//! Field names are those of `charrnn train`'s flags with `_` for `-`, and messages name fields
//! in backticks (`` `lr` ``), so a front end can show them as its own option names.

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{CellKind, Init};
use crate::optim::{Clip, ClipMode, Horizon, OptimConfig, OptimKind, Schedule, Shape};
use crate::train::TrainConfig;

/// Arithmetic precision of a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Dtype {
    /// 32-bit: fast, the default.
    #[default]
    F32,
    /// 64-bit: the notebook's arithmetic.
    F64,
}

impl Dtype {
    /// `f32` or `f64`, as in checkpoint metadata.
    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
        }
    }
}

/// A text in memory to train on, when no `data` file is named.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Text {
    /// What messages call it (`charrnn` says "the built-in corpus").
    pub name: String,
    pub content: String,
}

/// A training run: where it starts, its data, model, optimizer, stopping rules, validation,
/// checkpoints and reports. See the module docs for what `None` means.
///
/// ```
/// use charrnn::run::RunConfig;
///
/// let config = RunConfig {
///     data: Some("input.txt".into()),
///     steps: Some(2000),
///     hidden: Some(128),
///     ..RunConfig::default()
/// };
/// assert_eq!(config.lr, None); // 0.02, the notebook's, for a new run
/// ```
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// Continue the run saved in this checkpoint exactly (its settings, data position,
    /// optimizer and RNG state come from the file). Excludes `init_from`.
    pub resume: Option<PathBuf>,
    /// Start from the weights (and take the cell, sizes and vocabulary) of this checkpoint.
    /// The text is read with its vocabulary, character by character ([`crate::finetune`]).
    pub init_from: Option<PathBuf>,
    /// With `init_from`: add the text's characters the checkpoint does not know to its
    /// vocabulary, their rows set so that its predictions for the characters it knows do not
    /// change ([`crate::finetune::extend_vocab`]); at most `max_vocab` in all, if given
    /// [default: false: such characters are an error, unless the model has the unknown symbol
    /// U+FFFD, which then stands for them].
    pub extend_vocab: Option<bool>,
    /// With `init_from` a resumable checkpoint: carry its optimizer's state (moments, update
    /// count) into the new run, whose vocabulary must then be the checkpoint's; the
    /// optimizer's settings not given default to the checkpoint's [default: false: a fresh
    /// optimizer].
    pub keep_optimizer: Option<bool>,
    /// Hold these parts fixed and train the rest ([`crate::finetune::Part`]: `embed`, `rnn`,
    /// `rnn.K`, `out`); the rows of characters `extend_vocab` added train in any case
    /// [default: none].
    pub freeze: Option<Vec<crate::finetune::Part>>,

    /// A named recipe ([`super::Preset`]) filling every model, optimizer and schedule setting
    /// left unset (new runs only) [default: none: the notebook's settings].
    pub preset: Option<super::Preset>,

    /// UTF-8 text file to train on; else `text`.
    pub data: Option<PathBuf>,
    /// The text to train on when `data` names no file (never saved in checkpoints: a resumed
    /// run is given it again, and the corpus fingerprint checks it is the same).
    pub text: Option<Text>,
    /// Keep `\r\n` and lone `\r` as they are [default: false: they become `\n`].
    pub keep_cr: Option<bool>,
    /// Keep only the N most frequent characters (new models only; with `init_from` and
    /// `extend_vocab`, the most the extended vocabulary may have).
    pub max_vocab: Option<usize>,
    /// Map characters seen fewer than C times to U+FFFD (new models only).
    pub min_count: Option<u64>,

    /// [default: f32]
    pub dtype: Option<Dtype>,
    /// [default: rnn]
    pub cell: Option<CellKind>,
    /// Stacked layers [default: 1].
    pub layers: Option<usize>,
    /// Embedding size E [default: 4].
    pub emb: Option<usize>,
    /// Hidden size H [default: 32].
    pub hidden: Option<usize>,
    /// How the new model's weights are drawn [default: the cell's: `notebook` for the
    /// one-layer tanh RNN (the notebook's model), `torch` for every other model].
    pub init: Option<Init>,
    /// Standard deviation of the initial weights with `init` `notebook` [default: 0.02].
    pub std: Option<f64>,
    /// Seed of the initial weights and of dropout [default: 0].
    pub seed: Option<u64>,
    /// Dropout between layers and before the output layer [default: 0].
    pub dropout: Option<f64>,

    /// Window length T [default: 32].
    pub seq_len: Option<usize>,
    /// Parallel streams B [default: 4].
    pub batch: Option<usize>,
    /// [default: adagrad]
    pub optim: Option<OptimKind>,
    /// Learning rate [default: 0.02]. On a resume it replaces the saved one from then on.
    pub lr: Option<f64>,
    /// Multiply the learning rate by this every `lr_decay_every` steps [default: none].
    pub lr_decay: Option<f64>,
    /// [default: 1000]
    pub lr_decay_every: Option<u64>,
    /// Anneal from `lr` down to `lr_min` along half a cosine, ending with the run: at
    /// `steps`, the end of `epochs` or the end of `max_time`, whichever comes first
    /// [default: false].
    pub cosine: Option<bool>,
    /// The same along a straight line [default: false].
    pub linear: Option<bool>,
    /// Raise the rate linearly over the first N steps [default: 0].
    pub warmup: Option<u64>,
    /// [default: 0]
    pub lr_min: Option<f64>,
    /// Adam's beta1 [default: 0.9].
    pub beta1: Option<f64>,
    /// Adam's beta2 [default: 0.999].
    pub beta2: Option<f64>,
    /// RMSprop's smoothing constant [default: 0.99].
    pub alpha: Option<f64>,
    /// SGD's momentum [default: 0].
    pub momentum: Option<f64>,
    /// Optimizer epsilon [default: 1e-8].
    pub eps: Option<f64>,
    /// Clip gradients at this (0: no clipping) [default: 1].
    pub clip: Option<f64>,
    /// [default: value]
    pub clip_mode: Option<ClipMode>,
    /// Clip the embedding's gradient too [default: false].
    pub clip_embedding: Option<bool>,
    /// Worker threads [default: all cores, or fewer for a model too small for them to pay; a
    /// resumed run: the threads that wrote it].
    pub threads: Option<usize>,

    /// Stop after this many steps in all (also when resuming) [default: 50000, unless
    /// `epochs` or `max_time` is given].
    pub steps: Option<u64>,
    /// Stop after this many passes over the text.
    pub epochs: Option<u64>,
    /// Stop after this much training time in all, counted across resumes like `steps`,
    /// writing a resumable checkpoint and the model. On a resume, any of `steps`, `epochs` and
    /// `max_time` given replaces all three; none given keeps the saved ones.
    pub max_time: Option<Duration>,

    /// Hold out this last fraction of the text for validation [default: 0].
    pub val_frac: Option<f64>,
    /// Score the validation text every N steps (and at the end) [default: 2000].
    pub eval_every: Option<u64>,

    /// The directory of a new run: its model and checkpoints go there unless `out` and
    /// `checkpoint_dir` say otherwise [default: `runs/N`, the next free number, unless `out`
    /// is given; see [`super::place`]].
    pub run_dir: Option<PathBuf>,
    /// Replace an existing file at an output named explicitly (`out`, `metrics`, or the model
    /// in a `run_dir` named explicitly), which is otherwise refused [default: false].
    pub overwrite: Option<bool>,
    /// Where the trained model goes [default: RUN_DIR/model.safetensors].
    pub out: Option<PathBuf>,
    /// Write one JSON object per step here ([`super::metrics`]).
    pub metrics: Option<PathBuf>,
    /// Where checkpoints go [default: RUN_DIR/checkpoints, or beside an `out` given without a
    /// run directory: `NAME.checkpoints` for `NAME.safetensors`].
    pub checkpoint_dir: Option<PathBuf>,
    /// Write a resumable checkpoint every N steps and at the end (0: only when stopped early)
    /// [default: 0].
    pub checkpoint_every: Option<u64>,
    /// Keep the last K checkpoints, plus the best by validation loss [default: 3].
    pub keep: Option<usize>,

    /// Steps between reports of the smoothed loss, for the front end ([`RunInfo`]'s settings)
    /// [default: 1000].
    ///
    /// [`RunInfo`]: super::RunInfo
    pub print_every: Option<u64>,
    /// Steps between samples ([`super::Event::Sample`]; 0: only at the end) [default: 10000].
    pub sample_every: Option<u64>,
    /// Length of the samples in characters [default: 300].
    pub sample_len: Option<usize>,
}

/// Defaults of a new run (the notebook's hyperparameters).
pub(crate) mod defaults {
    pub const STEPS: u64 = 50_000;
    pub const EMB: usize = 4;
    pub const HIDDEN: usize = 32;
    pub const LAYERS: usize = 1;
    pub const STD: f64 = 0.02;
    pub const SEQ_LEN: usize = 32;
    pub const BATCH: usize = 4;
    pub const LR: f64 = 0.02;
    pub const LR_DECAY_EVERY: u64 = 1000;
    pub const CLIP: f64 = 1.0;
    pub const EVAL_EVERY: u64 = 2000;
    /// The model's file name in the run directory.
    pub const OUT: &str = "model.safetensors";
    /// The checkpoint directory's name in the run directory.
    pub const CHECKPOINT_DIR: &str = "checkpoints";
    pub const KEEP: usize = 3;
    pub const PRINT_EVERY: u64 = 1000;
    pub const SAMPLE_EVERY: u64 = 10_000;
    pub const SAMPLE_LEN: usize = 300;
}

impl RunConfig {
    /// The values a new run takes for the fields left `None` that have a fixed default
    /// (`steps` and `threads` depend on other settings and on the machine, `out` and
    /// `checkpoint_dir` on the run directory).
    pub fn defaults() -> Self {
        let o = OptimConfig::default();
        RunConfig {
            keep_cr: Some(false),
            dtype: Some(Dtype::default()),
            cell: Some(CellKind::RNN),
            layers: Some(defaults::LAYERS),
            emb: Some(defaults::EMB),
            hidden: Some(defaults::HIDDEN),
            std: Some(defaults::STD),
            seed: Some(0),
            dropout: Some(0.0),
            seq_len: Some(defaults::SEQ_LEN),
            batch: Some(defaults::BATCH),
            optim: Some(o.kind),
            lr: Some(defaults::LR),
            lr_decay_every: Some(defaults::LR_DECAY_EVERY),
            cosine: Some(false),
            linear: Some(false),
            warmup: Some(0),
            lr_min: Some(0.0),
            beta1: Some(o.beta1),
            beta2: Some(o.beta2),
            alpha: Some(o.alpha),
            momentum: Some(o.momentum),
            eps: Some(o.eps),
            clip: Some(defaults::CLIP),
            clip_mode: Some(ClipMode::default()),
            clip_embedding: Some(false),
            val_frac: Some(0.0),
            eval_every: Some(defaults::EVAL_EVERY),
            overwrite: Some(false),
            checkpoint_every: Some(0),
            keep: Some(defaults::KEEP),
            print_every: Some(defaults::PRINT_EVERY),
            sample_every: Some(defaults::SAMPLE_EVERY),
            sample_len: Some(defaults::SAMPLE_LEN),
            ..RunConfig::default()
        }
    }

    /// Checks that need neither the text nor a checkpoint.
    pub(crate) fn check(&self) -> Result<()> {
        if self.resume.is_some() && self.init_from.is_some() {
            return Err(Error::config(
                "`resume` and `init_from` exclude each other: resume a run, or start a new one from weights",
            ));
        }
        for (field, on) in [
            ("extend_vocab", self.extend_vocab),
            ("keep_optimizer", self.keep_optimizer),
        ] {
            if on == Some(true) && self.init_from.is_none() {
                return Err(Error::config(format!(
                    "`{field}` applies to a run that starts from a checkpoint: give `init_from` (a resumed run keeps its vocabulary and optimizer)"
                )));
            }
        }
        let schedules = [
            ("lr_decay", self.lr_decay.is_some()),
            ("cosine", self.cosine == Some(true)),
            ("linear", self.linear == Some(true)),
        ];
        let given: Vec<&str> = schedules.iter().filter(|s| s.1).map(|s| s.0).collect();
        if given.len() > 1 {
            return Err(Error::config(format!(
                "`{}` and `{}` exclude each other: give one schedule",
                given[0], given[1]
            )));
        }
        for (field, v) in [("steps", self.steps), ("epochs", self.epochs)] {
            if v == Some(0) {
                return Err(Error::config(format!("`{field}` must be at least 1")));
            }
        }
        if self.max_time == Some(Duration::ZERO) {
            return Err(Error::config("`max_time` must be more than 0"));
        }
        if let Some(f) = self.val_frac {
            if !(0.0..1.0).contains(&f) {
                return Err(Error::config(format!(
                    "`val_frac` must be in [0, 1), got {f}"
                )));
            }
        }
        if self.layers == Some(0) {
            return Err(Error::config("`layers` must be at least 1"));
        }
        if self.keep == Some(0) {
            return Err(Error::config(
                "`keep` must be at least 1 (the checkpoint just written)",
            ));
        }
        Ok(())
    }

    /// The training config of a new run (a cosine schedule's length is set once the text is
    /// known).
    pub(crate) fn new_train_config(&self) -> Result<TrainConfig> {
        let clip = self.clip.unwrap_or(defaults::CLIP);
        if !(clip.is_finite() && clip >= 0.0) {
            return Err(Error::config(format!(
                "`clip` must be 0 (off) or positive, got {clip}"
            )));
        }
        let anneal = |shape| Schedule::Anneal {
            shape,
            min: self.lr_min.unwrap_or(0.0),
            // Set once the run's end is known.
            end: Horizon::default(),
        };
        let schedule = match (
            self.lr_decay,
            self.cosine == Some(true),
            self.linear == Some(true),
        ) {
            (Some(factor), _, _) => Schedule::Step {
                factor,
                every: self.lr_decay_every.unwrap_or(defaults::LR_DECAY_EVERY),
            },
            (None, true, _) => anneal(Shape::Cosine),
            (None, false, true) => anneal(Shape::Linear),
            (None, false, false) => Schedule::Constant,
        };
        let o = OptimConfig::default();
        let cfg = TrainConfig {
            seq_len: self.seq_len.unwrap_or(defaults::SEQ_LEN),
            batch: self.batch.unwrap_or(defaults::BATCH),
            lr: self.lr.unwrap_or(defaults::LR),
            schedule,
            warmup: self.warmup.unwrap_or(0),
            clip: Clip {
                value: (clip > 0.0).then_some(clip),
                mode: self.clip_mode.unwrap_or_default(),
                embedding: self.clip_embedding.unwrap_or(false),
            },
            optim: OptimConfig {
                kind: self.optim.unwrap_or_default(),
                beta1: self.beta1.unwrap_or(o.beta1),
                beta2: self.beta2.unwrap_or(o.beta2),
                alpha: self.alpha.unwrap_or(o.alpha),
                momentum: self.momentum.unwrap_or(o.momentum),
                eps: self.eps.unwrap_or(o.eps),
            },
            dropout: self.dropout.unwrap_or(0.0),
            seed: self.seed.unwrap_or(0),
            threads: threads(self.threads)?,
        };
        cfg.validate()?;
        Ok(cfg)
    }
}

/// `threads`, defaulting to every core.
pub(crate) fn threads(threads: Option<usize>) -> Result<usize> {
    match threads {
        Some(0) => Err(Error::config("`threads` must be at least 1")),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}
