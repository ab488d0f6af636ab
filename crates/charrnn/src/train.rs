//! Truncated backpropagation through time, as the notebook trains: windows of T steps over B
//! parallel streams, the hidden state carried from window to window and reset when the streams
//! wrap; gradients of `loss / B`, clipped; an optimizer step (Adagrad by default); a smoothed
//! loss.
//!
//! [`Trainer::snapshot`] takes everything the loop needs to go on ([`TrainState`]) and
//! [`Trainer::restore`] puts it back, so a run stopped after step k and resumed gives the losses
//! and weights of the run that never stopped, bit for bit ([`crate::resume`] stores it in a
//! checkpoint). [`Trainer::try_train_step`] refuses to apply a non-finite loss or gradient.

use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::crew::Crew;
use crate::data::{Cursor, Streams, Window};
use crate::error::{Error, Result};
use crate::finetune::Freeze;
use crate::kernels::Real;
use crate::model::{Init, Mode, Model, ModelConfig, Workspace};
use crate::optim::{Clip, ClipStats, OptimConfig, Optimizer, Schedule};

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
    /// Steps over which the rate rises linearly to its scheduled value (0: none).
    pub warmup: u64,
    pub clip: Clip,
    pub optim: OptimConfig,
    /// Inverted dropout between layers and before the output, in `[0, 1)`.
    pub dropout: f64,
    /// Seed of the dropout masks.
    pub seed: u64,
    /// Worker threads: the B streams are split into this many shards (at most B), each run
    /// forward and backward on its own thread; their gradients are summed once per window, in
    /// shard order, so a seed and a thread count always give the same run.
    pub threads: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            seq_len: 32,
            batch: 4,
            lr: 0.02,
            schedule: Schedule::Constant,
            warmup: 0,
            clip: Clip::default(),
            optim: OptimConfig::default(),
            dropout: 0.0,
            seed: 0,
            threads: 1,
        }
    }
}

impl TrainConfig {
    /// Check every setting is in range.
    pub fn validate(&self) -> Result<()> {
        if self.seq_len == 0 {
            return Err(Error::config("`seq_len` must be at least 1"));
        }
        if self.batch == 0 {
            return Err(Error::config("`batch` must be at least 1"));
        }
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return Err(Error::config(format!(
                "`lr` must be a positive number, got {}",
                self.lr
            )));
        }
        if let Some(c) = self.clip.value {
            if !(c.is_finite() && c > 0.0) {
                return Err(Error::config(format!(
                    "`clip` must be positive (or 0 for no clipping), got {c}"
                )));
            }
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::config(format!(
                "`dropout` must be in [0, 1), got {}",
                self.dropout
            )));
        }
        if self.threads == 0 {
            return Err(Error::config("`threads` must be at least 1"));
        }
        self.optim.validate()?;
        self.schedule.validate()
    }

    /// The learning rate of step `step`, `secs` seconds into the run: the schedule's, during
    /// warmup scaled down.
    pub fn lr_at(&self, step: u64, secs: f64) -> f64 {
        self.schedule.lr(self.lr, step, secs) * crate::optim::warmup_factor(step, self.warmup)
    }
}

/// Everything a [`Trainer`] needs, besides its model and config, to continue exactly where it
/// was: shapes use L layers, B streams, H hidden, N parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState<T> {
    /// Steps done.
    pub step: u64,
    /// Windows so far that started from a reset.
    pub epochs: u64,
    pub cursor: Cursor,
    pub smooth_loss: f64,
    /// Optimizer updates done.
    pub optim_t: u64,
    /// `[N]` the optimizer's first state buffer ([`Optimizer::m`]).
    pub optim_m: Vec<T>,
    /// `[N]` Adam's second moment; empty for the other optimizers.
    pub optim_v: Vec<T>,
    /// `[L, B, H]` per state of the cell (h, then the LSTM's c; see
    /// [`crate::model::CellSpec::states`]): the state carried into the next window, by stream
    /// (independent of how the streams are split across threads).
    pub states: Vec<Vec<T>>,
    /// The dropout RNG of each shard, in shard order (one per thread).
    pub rngs: Vec<Xoshiro256PlusPlus>,
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

/// One shard of the batch: a contiguous range of streams with its own buffers, state and
/// gradient, run on one thread.
struct Shard<T> {
    /// The streams `first..first + ws.batch`.
    first: usize,
    ws: Workspace<T>,
    /// This shard's gradient of `loss / B`.
    grads: Vec<T>,
    inputs: Vec<u32>,
    targets: Vec<u32>,
    /// Dropout's RNG.
    rng: Xoshiro256PlusPlus,
    loss: f64,
}

impl<T: Real> Shard<T> {
    /// The seed of shard `i`'s dropout RNG.
    fn seed(seed: u64, i: usize) -> u64 {
        (seed ^ 0x9e37_79b9_7f4a_7c15).wrapping_add(i as u64)
    }

    fn run(&mut self, model: &Model<T>, wt: &[T], streams: &Streams, w: Window, dropout: f64) {
        let (t_len, b) = (streams.seq_len(), self.ws.batch);
        for t in 0..t_len {
            for s in 0..b {
                self.inputs[t * b + s] = streams.at(self.first + s, w.start + t);
                self.targets[t * b + s] = streams.at(self.first + s, w.start + t + 1);
            }
        }
        if w.reset {
            self.ws.reset_state();
        } else {
            self.ws.carry_state();
        }
        let mode = Mode::Train {
            p: dropout,
            rng: &mut self.rng,
        };
        self.loss =
            model.forward_prepared(wt, &mut self.ws, &self.inputs, Some(&self.targets), mode);
        self.grads.fill(T::zero());
        model.backward(&mut self.ws, &self.inputs, &self.targets, &mut self.grads);
    }
}

/// Floating-point work per parameter per shard and step below which a shard does not pay:
/// every step moves the weights and the gradients between cores (a few µs for a small model,
/// more across chiplets), which then costs more than the shard saves.
pub const MIN_FLOPS_PER_PARAM: f64 = 2000.0;

/// How many of `threads` a run of `config` over windows of `seq_len` x `batch` should use:
/// at most `batch`, and no more than keep each shard's work per step at [`MIN_FLOPS_PER_PARAM`]
/// per parameter (at least one). The notebook's model (E4 H32, T32 B4) gets one thread: on
/// the 2-core machine of the README two were slower, or no faster, depending on where the
/// machine placed them; rnn E64 H256 (T64 B32) and larger get two.
pub fn useful_threads(config: &ModelConfig, seq_len: usize, batch: usize, threads: usize) -> usize {
    let params = crate::model::Layout::new(*config).len as f64;
    let step = config.train_flops_per_char() * (seq_len * batch) as f64;
    let by_work = (step / (MIN_FLOPS_PER_PARAM * params)).floor().max(1.0) as usize;
    threads.min(batch).min(by_work).max(1)
}

/// A guarded step stops a run whose loss per character exceeds this many times that of a
/// uniform guess (`ln V`, at least 1): no run that is learning gets there.
pub const EXPLODING_LOSS: f64 = 10.0;

/// A guarded step stops a run with a weight beyond this magnitude: trained weights are of
/// order 1 to 10; this is an update gone wild, even while everything is finite.
pub const EXPLODING_WEIGHT: f64 = 1e6;

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
    /// Windows so far that started from a reset.
    pub epochs: u64,
    shards: Vec<Shard<T>>,
    /// The threads shards run on (one shard each), when there is more than one.
    crew: Option<Crew>,
    /// The weights transposed for the forward products, made once per step for every shard.
    wt: Vec<T>,
    /// Seconds into the run, set by the caller before a step: what a schedule that ends with a
    /// time budget reads (see [`crate::optim::Horizon`]). Not part of the training state.
    pub clock: f64,
    /// The parts held fixed ([`Trainer::set_freeze`]), and their ranges of the flat buffer.
    freeze: Freeze,
    frozen: Vec<std::ops::Range<usize>>,
}

/// A new model's parameters from a seed: every tensor from N(0, std^2) (the notebook's
/// initialization).
pub fn init_model<T: Real>(config: ModelConfig, std: f64, seed: u64) -> Result<Model<T>> {
    init_model_with(config, Init::Notebook, std, seed)
}

/// A new model's parameters from a seed, drawn as `init` says (`std` is the notebook's
/// standard deviation, unused by [`Init::Torch`]).
pub fn init_model_with<T: Real>(
    config: ModelConfig,
    init: Init,
    std: f64,
    seed: u64,
) -> Result<Model<T>> {
    config.validate()?;
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    match init {
        Init::Notebook => {
            if !(std.is_finite() && std > 0.0) {
                return Err(Error::config(format!(
                    "`std` must be a positive number, got {std}"
                )));
            }
            Ok(Model::init(config, std, &mut rng))
        }
        Init::Torch => Ok(Model::init_torch(config, &mut rng)),
    }
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
        let k = cfg.threads.min(cfg.batch);
        let mut shards = Vec::with_capacity(k);
        let mut first = 0;
        for i in 0..k {
            let b = cfg.batch / k + usize::from(i < cfg.batch % k);
            let mut ws = Workspace::new(&model.layout, cfg.seq_len, b);
            ws.grad_div = cfg.batch;
            let seed = Shard::<T>::seed(cfg.seed, i);
            shards.push(Shard {
                first,
                ws,
                grads: vec![T::zero(); n],
                inputs: vec![0; cfg.seq_len * b],
                targets: vec![0; cfg.seq_len * b],
                rng: Xoshiro256PlusPlus::seed_from_u64(seed),
                loss: 0.0,
            });
            first += b;
        }
        let crew = if k > 1 {
            Some(
                Crew::new(k)
                    .map_err(|e| Error::config(format!("cannot start {k} threads: {e}")))?,
            )
        } else {
            None
        };
        Ok(Trainer {
            optim: Optimizer::new(cfg.optim, n),
            smooth_loss: -(1.0 / v).ln() * cfg.seq_len as f64,
            step: 0,
            epochs: 0,
            cursor: Cursor::default(),
            shards,
            crew,
            wt: Vec::new(),
            clock: 0.0,
            freeze: Freeze::default(),
            frozen: Vec::new(),
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
        self.step_guarded(false)
            .expect("an unguarded step always succeeds")
    }

    /// Train on the next window, unless its loss or gradient is NaN or infinite, or its loss
    /// per character is over [`EXPLODING_LOSS`] times a uniform guess's: then the weights, the
    /// optimizer, the smoothed loss and the step count are left as they were and
    /// [`Error::Diverged`] is returned, naming the cause. It is returned too when the update
    /// makes a weight overflow or exceed [`EXPLODING_WEIGHT`]; the weights are then damaged. Either way the data position and the carried
    /// state have moved on, so a diverged trainer should be dropped and the run resumed from a
    /// checkpoint (written after a step that succeeded, so its weights are all finite).
    pub fn try_train_step(&mut self) -> Result<StepStats> {
        self.step_guarded(true)
    }

    fn step_guarded(&mut self, guard: bool) -> Result<StepStats> {
        let w = self.cursor.advance(&self.streams);
        self.model.transpose_into(&mut self.wt);
        let (model, wt, streams, p) = (&self.model, &self.wt[..], &self.streams, self.cfg.dropout);
        match &mut self.crew {
            None => self
                .shards
                .iter_mut()
                .for_each(|s| s.run(model, wt, streams, w, p)),
            Some(crew) => crew.for_each_mut(&mut self.shards, |s| s.run(model, wt, streams, w, p)),
        }
        // Reduce in shard order: the same sum for the same thread count.
        let (first, rest) = self.shards.split_at_mut(1);
        let grads = &mut first[0].grads;
        let mut loss = first[0].loss;
        for s in rest.iter() {
            loss += s.loss;
            for (g, &x) in grads.iter_mut().zip(&s.grads) {
                *g += x;
            }
        }
        for r in &self.frozen {
            grads[r.clone()].fill(T::zero());
        }
        let clip = self.cfg.clip.apply(&self.model.layout, grads);
        if guard && !(loss.is_finite() && clip.norm.is_finite()) {
            let what = if loss.is_finite() {
                format!("the gradient norm became {}", clip.norm)
            } else {
                format!("the loss became {loss}")
            };
            return Err(Error::Diverged {
                step: self.step,
                what: self.with_cause(what),
            });
        }
        // Finite but exploding: far worse than guessing every character uniformly.
        let uniform = (self.model.config().vocab as f64).ln().max(1.0);
        let per_char = loss / (self.cfg.seq_len * self.cfg.batch) as f64;
        if guard && per_char > EXPLODING_LOSS * uniform {
            let what = format!(
                "the loss reached {per_char:.3e} nats per character, over {EXPLODING_LOSS} times \
                 the {uniform:.2} of guessing uniformly"
            );
            return Err(Error::Diverged {
                step: self.step,
                what: self.with_cause(what),
            });
        }
        if w.reset {
            self.epochs += 1;
        }
        let b = self.cfg.batch;
        self.smooth_loss = self.smooth_loss * 0.999 + loss / b as f64 * 0.001;
        let lr = self.cfg.lr_at(self.step, self.clock);
        self.optim.step(&mut self.model.w, grads, lr);
        // `0 * x` is 0 for a finite x and NaN otherwise: one vectorizable sum.
        if guard && self.model.w.iter().map(|&x| x * T::zero()).sum::<T>() != T::zero() {
            return Err(Error::Diverged {
                step: self.step,
                what: self.with_cause("the update made a weight infinite or NaN".into()),
            });
        }
        if guard {
            let limit = T::of(EXPLODING_WEIGHT);
            let top = self
                .model
                .w
                .iter()
                .fold(T::zero(), |m, &x| if x.abs() > m { x.abs() } else { m });
            if top > limit {
                let what = format!(
                    "the update made a weight {:.3e}, beyond any trained model's ({EXPLODING_WEIGHT:e})",
                    top.f64()
                );
                return Err(Error::Diverged {
                    step: self.step,
                    what: self.with_cause(what),
                });
            }
        }
        let stats = StepStats {
            step: self.step,
            loss,
            smooth_loss: self.smooth_loss,
            lr,
            reset: w.reset,
            clip,
        };
        self.step += 1;
        Ok(stats)
    }

    /// `what` went wrong, with what in the settings most likely caused it.
    fn with_cause(&self, what: String) -> String {
        let c = &self.cfg;
        let clip = match c.clip.value {
            None => ", with no gradient clipping (`clip` 0)",
            Some(_) => "",
        };
        let lr = if c.lr >= 1e6 || c.lr < 1e-4 {
            format!("{:e}", c.lr)
        } else {
            c.lr.to_string()
        };
        format!(
            "{what}: the steps are too large (`lr` {lr} with `optim` {}{clip})",
            c.optim.kind.name()
        )
    }

    /// Everything needed to continue this run exactly (with the model's weights and the
    /// config, which the trainer owns and exposes).
    pub fn snapshot(&self) -> TrainState<T> {
        let c = self.model.config();
        let (b, h) = (self.cfg.batch, c.hidden);
        let n_states = c.cell.spec().states().len();
        let mut states = vec![vec![T::zero(); c.layers * b * h]; n_states];
        for (i, st) in states.iter_mut().enumerate() {
            for k in 0..c.layers {
                for s in &self.shards {
                    let at = (k * b + s.first) * h;
                    let n = s.ws.batch * h;
                    st[at..at + n].copy_from_slice(s.ws.last(k, i));
                }
            }
        }
        TrainState {
            step: self.step,
            epochs: self.epochs,
            cursor: self.cursor,
            smooth_loss: self.smooth_loss,
            optim_t: self.optim.t,
            optim_m: self.optim.m.clone(),
            optim_v: self.optim.v.clone(),
            states,
            rngs: self.shards.iter().map(|s| s.rng.clone()).collect(),
        }
    }

    /// Continue from `state`, taken by [`Trainer::snapshot`] of a trainer with this model's
    /// shapes and this config.
    ///
    /// The carried state is stored by stream, so any thread count can resume it. With the
    /// thread count of the snapshot the run goes on bit for bit as if it had never stopped;
    /// with another, the dropout RNGs (one per thread) cannot be carried over and are reseeded
    /// from the seed and the step, so the run continues correctly but draws other masks (and,
    /// as always with another thread count, the gradient sums round differently).
    ///
    /// Fails, changing nothing, if a buffer has the wrong size for this model.
    pub fn restore(&mut self, state: TrainState<T>) -> Result<()> {
        let c = self.model.config();
        let n = self.model.layout.len;
        let (b, h) = (self.cfg.batch, c.hidden);
        let names = c.cell.spec().states();
        let adam = self.cfg.optim.kind == crate::optim::OptimKind::Adam;
        let mut checks = vec![
            ("optimizer state m".to_string(), state.optim_m.len(), n),
            (
                "optimizer state v".to_string(),
                state.optim_v.len(),
                if adam { n } else { 0 },
            ),
            (
                "number of carried states".to_string(),
                state.states.len(),
                names.len(),
            ),
        ];
        for (name, st) in names.iter().zip(&state.states) {
            checks.push((format!("carried state {name}"), st.len(), c.layers * b * h));
        }
        for (what, got, want) in checks {
            if got != want {
                return Err(Error::config(format!(
                    "the saved {what} has {got} values, this model and batch need {want}: \
                     resume with the model and `batch` that wrote it"
                )));
            }
        }
        for (i, st) in state.states.iter().enumerate() {
            for k in 0..c.layers {
                for s in &mut self.shards {
                    let at = (k * b + s.first) * h;
                    let len = s.ws.batch * h;
                    let last = s.ws.steps * len;
                    let buf = &mut s.ws.layers[k].states[i];
                    // Block T is what the next window carries in; block 0 for good measure.
                    for block in [0, last] {
                        buf[block..block + len].copy_from_slice(&st[at..at + len]);
                    }
                }
            }
        }
        if state.rngs.len() == self.shards.len() {
            for (s, rng) in self.shards.iter_mut().zip(state.rngs) {
                s.rng = rng;
            }
        } else {
            for (i, s) in self.shards.iter_mut().enumerate() {
                let seed = Shard::<T>::seed(self.cfg.seed ^ state.step.rotate_left(32), i);
                s.rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            }
        }
        self.step = state.step;
        self.epochs = state.epochs;
        self.cursor = state.cursor;
        self.smooth_loss = state.smooth_loss;
        self.optim.t = state.optim_t;
        self.optim.m = state.optim_m;
        self.optim.v = state.optim_v;
        Ok(())
    }

    /// Hold `freeze`'s parts fixed from the next step on: their gradient is zeroed before
    /// clipping, and the optimizer's first buffer (Adam's and SGD's momentum) is cleared for
    /// them, so that no optimizer moves them, also with a state carried from another run. Set
    /// it after [`Trainer::restore`], which replaces the optimizer's state.
    ///
    /// Fails, changing nothing, if a part is not in the model or nothing would be left to
    /// train.
    pub fn set_freeze(&mut self, freeze: Freeze) -> Result<()> {
        let frozen = freeze.ranges(&self.model.layout)?;
        for r in &frozen {
            self.optim.m[r.clone()].fill(T::zero());
        }
        self.freeze = freeze;
        self.frozen = frozen;
        Ok(())
    }

    /// What is held fixed.
    pub fn freeze(&self) -> &Freeze {
        &self.freeze
    }

    /// Epochs begun: windows that started from a reset (the first one included).
    pub fn epoch(&self) -> u64 {
        self.epochs
    }

    /// The last gradient (after clipping).
    pub fn grads(&self) -> &[T] {
        &self.shards[0].grads
    }

    /// Worker threads in use (at most the batch).
    pub fn threads(&self) -> usize {
        self.shards.len()
    }
}
