//! Truncated backpropagation through time, as the notebook trains: windows of T steps over B
//! parallel streams, the hidden state carried from window to window and reset when the streams
//! wrap; gradients of `loss / B`, clipped; an optimizer step (Adagrad by default); a smoothed
//! loss.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::data::{Cursor, Streams, Window};
use crate::error::{Error, Result};
use crate::model::{Mode, Model, ModelConfig, Workspace};
use crate::optim::{Clip, ClipStats, OptimConfig, Optimizer, Schedule};
use crate::real::Real;

/// Training settings (the notebook's hyperparameters by default).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// T: steps per window.
    pub seq_len: usize,
    /// B: parallel streams.
    pub batch: usize,
    /// Base learning rate.
    pub lr: f64,
    pub schedule: Schedule,
    pub clip: Clip,
    pub optim: OptimConfig,
    /// Inverted dropout between layers and before the output, in `[0, 1)`.
    pub dropout: f64,
    /// Seed of the dropout masks.
    pub seed: u64,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seq_len: 32,
            batch: 4,
            lr: 0.02,
            schedule: Schedule::Constant,
            clip: Clip::default(),
            optim: OptimConfig::default(),
            dropout: 0.0,
            seed: 0,
        }
    }
}

impl TrainConfig {
    /// Check every setting is in range.
    pub fn validate(&self) -> Result<()> {
        if self.seq_len == 0 {
            return Err(Error::config("--seq-len must be at least 1"));
        }
        if self.batch == 0 {
            return Err(Error::config("--batch must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config(format!(
                "--lr must be a positive number, got {}",
                self.lr
            )));
        }
        if let Some(c) = self.clip.value {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config(format!(
                    "--clip must be positive (or 0 for no clipping), got {c}"
                )));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::config(format!(
                "--dropout must be in [0, 1), got {}",
                self.dropout
            )));
        }
        self.optim.validate()?;
        self.schedule.validate()
    }
}

/// What one training step did.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// The step's index, from 0.
    pub step: u64,
    /// The window's loss summed over time and batch (the notebook's `loss`).
    pub loss: f64,
    /// `0.999 * smooth + 0.001 * loss / B`.
    pub smooth_loss: f64,
    /// The learning rate used.
    pub lr: f64,
    /// The window started from a zeroed state (a new epoch).
    pub reset: bool,
    /// Gradient norm before clipping and the share of elements clipped.
    pub clip: ClipStats,
}

/// A model, its optimizer and its place in the data.
pub struct Trainer<T> {
    pub model: Model<T>,
    pub cfg: TrainConfig,
    pub streams: Streams,
    pub cursor: Cursor,
    pub optim: Optimizer<T>,
    pub smooth_loss: f64,
    /// Steps done.
    pub step: u64,
    /// Dropout's RNG.
    pub rng: Xoshiro256PlusPlus,
    /// Windows so far that started from a reset.
    pub epochs: u64,
    ws: Workspace<T>,
    grads: Vec<T>,
    inputs: Vec<u32>,
    targets: Vec<u32>,
}

/// A new model's parameters from a seed: every tensor from N(0, std^2).
pub fn init_model<T: Real>(config: ModelConfig, std: f64, seed: u64) -> Result<Model<T>> {
    config.validate()?;
    if !(std.is_finite() && std > 0.0) {
        return Err(Error::config(format!(
            "--std must be a positive number, got {std}"
        )));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    Ok(Model::init(config, std, &mut rng))
}

impl<T: Real> Trainer<T> {
    /// Train `model` on `streams` (cut with `cfg.seq_len` and `cfg.batch`).
    ///
    /// # Panics
    /// If `streams` was cut with another T or B than `cfg`.
    pub fn new(model: Model<T>, streams: Streams, cfg: TrainConfig) -> Result<Self> {
        cfg.validate()?;
        assert_eq!(
            (streams.seq_len(), streams.batch()),
            (cfg.seq_len, cfg.batch)
        );
        let n = model.layout.len;
        let v = model.config().vocab as f64;
        Ok(Trainer {
            ws: Workspace::new(&model.layout, cfg.seq_len, cfg.batch),
            grads: vec![T::zero(); n],
            optim: Optimizer::new(cfg.optim, n),
            inputs: vec![0; cfg.seq_len * cfg.batch],
            targets: vec![0; cfg.seq_len * cfg.batch],
            smooth_loss: -(1.0 / v).ln() * cfg.seq_len as f64,
            step: 0,
            epochs: 0,
            cursor: Cursor::default(),
            rng: Xoshiro256PlusPlus::seed_from_u64(cfg.seed ^ 0x9e37_79b9_7f4a_7c15),
            model,
            streams,
            cfg,
        })
    }

    /// The window the next step will train on.
    pub fn next_window(&self) -> Window {
        self.cursor.peek(&self.streams)
    }

    /// The first input character (stream 0) of the next window: the notebook seeds its
    /// samples with it.
    pub fn next_first_input(&self) -> u32 {
        self.streams.at(0, self.next_window().start)
    }

    /// Train on the next window.
    pub fn train_step(&mut self) -> StepStats {
        let (t_len, b) = (self.cfg.seq_len, self.cfg.batch);
        let w = self.cursor.advance(&self.streams);
        for t in 0..t_len {
            for s in 0..b {
                self.inputs[t * b + s] = self.streams.at(s, w.start + t);
                self.targets[t * b + s] = self.streams.at(s, w.start + t + 1);
            }
        }
        if w.reset {
            self.epochs += 1;
            self.ws.reset_state();
        } else {
            self.ws.carry_state();
        }
        let mode = Mode::Train {
            p: self.cfg.dropout,
            rng: &mut self.rng,
        };
        let loss = self
            .model
            .forward_with(&mut self.ws, &self.inputs, Some(&self.targets), mode);
        self.grads.fill(T::zero());
        self.model
            .backward(&mut self.ws, &self.inputs, &self.targets, &mut self.grads);
        let clip = self.cfg.clip.apply(&self.model.layout, &mut self.grads);
        self.smooth_loss = self.smooth_loss * 0.999 + loss / b as f64 * 0.001;
        let lr = self.cfg.schedule.lr(self.cfg.lr, self.step);
        self.optim.step(&mut self.model.w, &self.grads, lr);
        let stats = StepStats {
            step: self.step,
            loss,
            smooth_loss: self.smooth_loss,
            lr,
            reset: w.reset,
            clip,
        };
        self.step += 1;
        stats
    }

    /// Epochs begun: windows that started from a reset (the first one included).
    pub fn epoch(&self) -> u64 {
        self.epochs
    }

    /// The last gradient (after clipping).
    pub fn grads(&self) -> &[T] {
        &self.grads
    }
}
