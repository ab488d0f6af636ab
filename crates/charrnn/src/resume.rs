//! Resumable checkpoints: a model file that also holds everything [`Trainer`] needs to go on
//! exactly where it stopped.
//!
//! The file is an ordinary checkpoint ([`crate::checkpoint`]), so `sample`, `score`,
//! `--init-from` and numpy load it as a model, plus (L layers, B streams, H hidden, N
//! parameters):
//!
//! | tensor | shape | holds |
//! |---|---|---|
//! | `train.optim.m` | `[N]` | the optimizer's first buffer (Adagrad's sum of squares, Adam's m, ...) |
//! | `train.optim.v` | `[N]` | Adam's second moment (Adam only) |
//! | `train.state.h` | `[L, B, H]` | the hidden state carried into the next window, by stream |
//! | `train.state.c` | `[L, B, H]` | the LSTM's carried cell state (LSTM only) |
//!
//! (one `train.state.{name}` per state of the cell, by [`crate::model::CellSpec::states`])
//!
//! in the model's dtype, and metadata: `train.format_version` ([`STATE_VERSION`]),
//! `train.state` (JSON: step, epochs, cursor, smoothed loss, optimizer step count, the dropout
//! RNG of each thread), `train.config` (JSON: the [`TrainConfig`]) and, when parts of the model
//! are frozen, `train.freeze` (JSON: the [`Freeze`]). Callers may add their own
//! `train.*` keys. PyTorch's strict `load_state_dict` rejects the extra tensors: drop the keys
//! that start with `train.` first, or use a model-only file (`charrnn train --out`).
//!
//! ```
//! use std::collections::BTreeMap;
//! use charrnn::{data::Streams, model::{CellKind, ModelConfig}, resume, train, Vocab};
//!
//! let text = "to be or not to be, that is the question. ".repeat(20);
//! let vocab = Vocab::from_text(&text);
//! let streams = Streams::new(vocab.encode(&text).unwrap(), 8, 2).unwrap();
//! let config = ModelConfig { cell: CellKind::LSTM, vocab: vocab.len(), emb: 4, hidden: 8, layers: 1 };
//! let cfg = train::TrainConfig { seq_len: 8, batch: 2, dropout: 0.1, ..Default::default() };
//! let model = train::init_model::<f32>(config, 0.1, 1).unwrap();
//! let mut a = train::Trainer::new(model, streams.clone(), cfg).unwrap();
//! for _ in 0..10 {
//!     a.train_step();
//! }
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("ckpt.safetensors");
//! resume::save(&path, &a, &vocab, &BTreeMap::new()).unwrap();
//! let mut b = resume::load::<f32>(&path).unwrap().into_trainer(streams, 1).unwrap();
//! assert_eq!(a.train_step().loss, b.train_step().loss);
//! ```

use std::collections::BTreeMap;
use std::path::Path;

use rand_xoshiro::Xoshiro256PlusPlus;
use safetensors::{Dtype, SafeTensors};
use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, Checkpoint, ExtraTensor};
use crate::data::{Cursor, Streams};
use crate::error::{Error, Result};
use crate::finetune::Freeze;
use crate::fsutil::write_atomic;
use crate::kernels::Real;
use crate::optim::{Clip, ClipMode, Horizon, OptimConfig, OptimKind, Schedule, Shape};
use crate::train::{TrainConfig, TrainState, Trainer};
use crate::vocab::Vocab;

/// The version of the training state this build writes and reads.
pub const STATE_VERSION: u32 = 1;

/// A resumable checkpoint, loaded.
#[derive(Clone, Debug)]
pub struct Resumable<T> {
    /// The model, its vocabulary and every metadata entry.
    pub checkpoint: Checkpoint<T>,
    pub config: TrainConfig,
    pub state: TrainState<T>,
    /// The parts held fixed (none in files of older builds).
    pub freeze: Freeze,
}

impl<T: Real> Resumable<T> {
    /// A trainer on `streams` (cut from the same text with the saved T and B) that continues
    /// the saved run on `threads` threads (see [`Trainer::restore`] for another thread count).
    pub fn into_trainer(self, streams: Streams, threads: usize) -> Result<Trainer<T>> {
        let cfg = TrainConfig {
            threads,
            ..self.config
        };
        let mut t = Trainer::new(self.checkpoint.model, streams, cfg)?;
        t.restore(self.state)?;
        if !self.freeze.is_empty() {
            t.set_freeze(self.freeze)?;
        }
        Ok(t)
    }

    /// The thread count that wrote the checkpoint: resuming with it repeats the run exactly.
    pub fn threads(&self) -> usize {
        self.state.rngs.len()
    }
}

/// Does this metadata belong to a resumable checkpoint?
pub fn is_resumable(meta: &std::collections::HashMap<String, String>) -> bool {
    meta.contains_key("train.format_version")
}

/// Serialize `trainer`'s model and training state, with `vocab` and extra metadata.
pub fn to_bytes<T: Real>(
    trainer: &Trainer<T>,
    vocab: &Vocab,
    extra: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    let st = trainer.snapshot();
    let c = trainer.model.config();
    let (l, b, h) = (c.layers, trainer.cfg.batch, c.hidden);
    let bytes = |v: &[T]| {
        let mut out = Vec::with_capacity(v.len() * T::BYTES);
        v.iter().for_each(|x| x.write_le(&mut out));
        out
    };
    let mut tensors: Vec<ExtraTensor> = vec![(
        "train.optim.m".into(),
        T::DTYPE,
        vec![st.optim_m.len()],
        bytes(&st.optim_m),
    )];
    if !st.optim_v.is_empty() {
        tensors.push((
            "train.optim.v".into(),
            T::DTYPE,
            vec![st.optim_v.len()],
            bytes(&st.optim_v),
        ));
    }
    for (name, buf) in c.cell.spec().states().iter().zip(&st.states) {
        tensors.push((
            format!("train.state.{name}"),
            T::DTYPE,
            vec![l, b, h],
            bytes(buf),
        ));
    }
    let record = StateRecord {
        step: st.step,
        epochs: st.epochs,
        cursor_p: st.cursor.p as u64,
        cursor_n: st.cursor.n,
        smooth_loss: st.smooth_loss,
        optim_t: st.optim_t,
        rngs: st.rngs,
    };
    let mut meta = extra.clone();
    meta.insert("train.format_version".into(), STATE_VERSION.to_string());
    meta.insert("train.state".into(), to_json(&record));
    meta.insert(
        "train.config".into(),
        to_json(&ConfigRecord::of(&trainer.cfg)),
    );
    if !trainer.freeze().is_empty() {
        meta.insert("train.freeze".into(), to_json(trainer.freeze()));
    }
    checkpoint::to_bytes_with(&trainer.model, vocab, &meta, &tensors)
}

/// Write a resumable checkpoint atomically (temp file + rename): a crash or a kill during the
/// write leaves the file that was there before.
pub fn save<T: Real>(
    path: &Path,
    trainer: &Trainer<T>,
    vocab: &Vocab,
    extra: &BTreeMap<String, String>,
) -> Result<()> {
    write_atomic(path, &to_bytes(trainer, vocab, extra)?)
}

/// Read a resumable checkpoint. Its tensors must be of `T`'s dtype (the `dtype` metadata says
/// which): the optimizer state is kept exactly as it was.
pub fn load<T: Real>(path: &Path) -> Result<Resumable<T>> {
    let ck = checkpoint::load::<T>(path)?;
    let bytes = std::fs::read(path).map_err(|e| Error::Io {
        path: path.into(),
        what: "cannot read",
        source: e,
    })?;
    from_parts(ck, &bytes).map_err(|msg| Error::Checkpoint {
        path: path.into(),
        msg,
    })
}

/// The training state of checkpoint bytes already loaded as `ck`.
pub fn from_parts<T: Real>(
    ck: Checkpoint<T>,
    bytes: &[u8],
) -> std::result::Result<Resumable<T>, String> {
    let version = ck.meta.get("train.format_version").ok_or(
        "holds a model but no training state, so it cannot be resumed: \
         start a new run from its weights with `init_from`",
    )?;
    if version.parse::<u32>().ok() != Some(STATE_VERSION) {
        return Err(format!(
            "training state version {version}, this build resumes version {STATE_VERSION}: \
             use the charrnn release that wrote it, or start from its weights with `init_from`"
        ));
    }
    let json = |key: &str| {
        ck.meta
            .get(key)
            .ok_or_else(|| format!("the {key:?} metadata is missing"))
    };
    let record: StateRecord = serde_json::from_str(json("train.state")?)
        .map_err(|e| format!("the \"train.state\" metadata is unreadable: {e}"))?;
    let config = serde_json::from_str::<ConfigRecord>(json("train.config")?)
        .map_err(|e| format!("the \"train.config\" metadata is unreadable: {e}"))?
        .to_config()?;
    config.validate().map_err(|e| e.to_string())?;
    let freeze = match ck.meta.get("train.freeze") {
        Some(j) => serde_json::from_str::<Freeze>(j)
            .map_err(|e| format!("the \"train.freeze\" metadata is unreadable: {e}"))?,
        None => Freeze::default(),
    };
    let st = SafeTensors::deserialize(bytes).map_err(|e| e.to_string())?;
    let read = |name: &str, required: bool| -> std::result::Result<Vec<T>, String> {
        let Ok(view) = st.tensor(name) else {
            return if required {
                Err(format!("tensor {name} is missing"))
            } else {
                Ok(Vec::new())
            };
        };
        if view.dtype() != T::DTYPE {
            return Err(format!(
                "tensor {name} is {:?}, the run trains in {}: resume with `dtype` {}",
                view.dtype(),
                T::NAME,
                if view.dtype() == Dtype::F64 {
                    "f64"
                } else {
                    "f32"
                }
            ));
        }
        // The dtype is T's, so the round trip through f64 is exact.
        let data = view.data();
        Ok(match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| T::of(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64))
                .collect(),
            _ => data
                .chunks_exact(8)
                .map(|b| T::of(f64::from_le_bytes(b.try_into().expect("8 bytes"))))
                .collect(),
        })
    };
    let c = ck.model.config();
    let state = TrainState {
        step: record.step,
        epochs: record.epochs,
        cursor: Cursor {
            p: record.cursor_p as usize,
            n: record.cursor_n,
        },
        smooth_loss: record.smooth_loss,
        optim_t: record.optim_t,
        optim_m: read("train.optim.m", true)?,
        optim_v: read("train.optim.v", config.optim.kind == OptimKind::Adam)?,
        states: c
            .cell
            .spec()
            .states()
            .iter()
            .map(|name| read(&format!("train.state.{name}"), true))
            .collect::<std::result::Result<_, _>>()?,
        rngs: record.rngs,
    };
    if state.rngs.is_empty() {
        return Err("the training state has no dropout RNG".into());
    }
    Ok(Resumable {
        checkpoint: ck,
        config,
        state,
        freeze,
    })
}

fn to_json<S: Serialize>(x: &S) -> String {
    serde_json::to_string(x).expect("plain records serialize")
}

/// The scalar part of [`TrainState`], as stored in `train.state`.
#[derive(Serialize, Deserialize)]
struct StateRecord {
    step: u64,
    epochs: u64,
    cursor_p: u64,
    cursor_n: u64,
    smooth_loss: f64,
    optim_t: u64,
    rngs: Vec<Xoshiro256PlusPlus>,
}

/// [`TrainConfig`] as stored in `train.config`: names as on the command line.
#[derive(Serialize, Deserialize)]
struct ConfigRecord {
    seq_len: usize,
    batch: usize,
    lr: f64,
    /// `constant`, `step`, `cosine` or `linear`.
    schedule: String,
    lr_decay: f64,
    lr_decay_every: u64,
    /// The end of an annealed schedule, in steps (0: none)...
    cosine_total: u64,
    /// ... and in seconds (0: none; absent in files of older builds).
    #[serde(default)]
    anneal_seconds: f64,
    lr_min: f64,
    #[serde(default)]
    warmup: u64,
    /// The clipping bound, `null` for none.
    clip: Option<f64>,
    /// `value` or `norm`.
    clip_mode: String,
    clip_embedding: bool,
    optim: String,
    beta1: f64,
    beta2: f64,
    alpha: f64,
    momentum: f64,
    eps: f64,
    dropout: f64,
    seed: u64,
    threads: usize,
}

impl ConfigRecord {
    fn of(c: &TrainConfig) -> Self {
        let none = Horizon::default();
        let (schedule, lr_decay, lr_decay_every, end, lr_min) = match c.schedule {
            Schedule::Constant => ("constant", 1.0, 1, none, 0.0),
            Schedule::Step { factor, every } => ("step", factor, every, none, 0.0),
            Schedule::Anneal { shape, min, end } => match shape {
                Shape::Cosine => ("cosine", 1.0, 1, end, min),
                Shape::Linear => ("linear", 1.0, 1, end, min),
            },
        };
        ConfigRecord {
            seq_len: c.seq_len,
            batch: c.batch,
            lr: c.lr,
            schedule: schedule.into(),
            lr_decay,
            lr_decay_every,
            cosine_total: end.steps,
            anneal_seconds: end.seconds,
            lr_min,
            warmup: c.warmup,
            clip: c.clip.value,
            clip_mode: match c.clip.mode {
                ClipMode::Value => "value",
                ClipMode::Norm => "norm",
            }
            .into(),
            clip_embedding: c.clip.embedding,
            optim: c.optim.kind.name().into(),
            beta1: c.optim.beta1,
            beta2: c.optim.beta2,
            alpha: c.optim.alpha,
            momentum: c.optim.momentum,
            eps: c.optim.eps,
            dropout: c.dropout,
            seed: c.seed,
            threads: c.threads,
        }
    }

    fn to_config(&self) -> std::result::Result<TrainConfig, String> {
        let schedule = match self.schedule.as_str() {
            "constant" => Schedule::Constant,
            "step" => Schedule::Step {
                factor: self.lr_decay,
                every: self.lr_decay_every,
            },
            shape @ ("cosine" | "linear") => Schedule::Anneal {
                shape: if shape == "cosine" {
                    Shape::Cosine
                } else {
                    Shape::Linear
                },
                min: self.lr_min,
                end: Horizon {
                    steps: self.cosine_total,
                    seconds: self.anneal_seconds,
                },
            },
            s => return Err(format!("unknown schedule {s:?} in \"train.config\"")),
        };
        let mode = match self.clip_mode.as_str() {
            "value" => ClipMode::Value,
            "norm" => ClipMode::Norm,
            s => return Err(format!("unknown clip mode {s:?} in \"train.config\"")),
        };
        Ok(TrainConfig {
            seq_len: self.seq_len,
            batch: self.batch,
            lr: self.lr,
            schedule,
            warmup: self.warmup,
            clip: Clip {
                value: self.clip,
                mode,
                embedding: self.clip_embedding,
            },
            optim: OptimConfig {
                kind: OptimKind::parse(&self.optim).map_err(|e| e.to_string())?,
                beta1: self.beta1,
                beta2: self.beta2,
                alpha: self.alpha,
                momentum: self.momentum,
                eps: self.eps,
            },
            dropout: self.dropout,
            seed: self.seed,
            threads: self.threads.max(1),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_round_trips_exactly() {
        let cfg = TrainConfig {
            lr: 0.1 + 0.2,
            schedule: Schedule::Anneal {
                shape: Shape::Linear,
                min: 1.0 / 3.0,
                end: Horizon {
                    steps: 77,
                    seconds: 0.1 + 0.7,
                },
            },
            warmup: 13,
            clip: Clip {
                value: None,
                mode: ClipMode::Norm,
                embedding: true,
            },
            optim: OptimConfig {
                kind: OptimKind::Adam,
                eps: 1e-300,
                beta2: 0.999_999_999_999,
                ..Default::default()
            },
            dropout: 0.123_456_789_012_345_68,
            seed: u64::MAX,
            threads: 3,
            ..Default::default()
        };
        let json = to_json(&ConfigRecord::of(&cfg));
        let back = serde_json::from_str::<ConfigRecord>(&json)
            .unwrap()
            .to_config()
            .unwrap();
        assert_eq!(back, cfg);
    }
}
