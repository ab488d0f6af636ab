//! Named benchmark configurations and the measurements `charrnn bench` reports: training
//! characters per second, an estimate of the floating-point work behind them, and sampling
//! characters per second.

use std::time::Instant;

use crate::data::Streams;
use crate::error::Result;
use crate::model::{CellKind, Model, ModelConfig};
use crate::sample::Sampler;
use crate::train::{init_model, TrainConfig, Trainer};
use crate::vocab::Ids;

/// A named benchmark configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BenchConfig {
    pub name: &'static str,
    pub cell: CellKind,
    pub emb: usize,
    pub hidden: usize,
    pub layers: usize,
    pub seq_len: usize,
    pub batch: usize,
}

impl BenchConfig {
    /// The model this configuration trains over a vocabulary of `vocab`.
    pub fn model(&self, vocab: usize) -> ModelConfig {
        ModelConfig {
            cell: self.cell,
            vocab,
            emb: self.emb,
            hidden: self.hidden,
            layers: self.layers,
        }
    }
}

/// The configurations of the benchmark, smallest first.
pub const CONFIGS: [BenchConfig; 5] = [
    BenchConfig {
        name: "seed",
        cell: CellKind::RNN,
        emb: 4,
        hidden: 32,
        layers: 1,
        seq_len: 32,
        batch: 4,
    },
    BenchConfig {
        name: "rnn256",
        cell: CellKind::RNN,
        emb: 64,
        hidden: 256,
        layers: 1,
        seq_len: 64,
        batch: 32,
    },
    BenchConfig {
        name: "lstm2x128",
        cell: CellKind::LSTM,
        emb: 64,
        hidden: 128,
        layers: 2,
        seq_len: 50,
        batch: 50,
    },
    BenchConfig {
        name: "gru256",
        cell: CellKind::GRU,
        emb: 64,
        hidden: 256,
        layers: 1,
        seq_len: 64,
        batch: 32,
    },
    BenchConfig {
        name: "lstm2x512",
        cell: CellKind::LSTM,
        emb: 64,
        hidden: 512,
        layers: 2,
        seq_len: 100,
        batch: 50,
    },
];

/// The configuration called `name`.
pub fn config(name: &str) -> Option<BenchConfig> {
    CONFIGS.iter().find(|c| c.name == name).copied()
}

/// What one training measurement found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TrainSpeed {
    pub chars_per_s: f64,
    pub gflops: f64,
    /// Threads actually used (at most the batch).
    pub threads: usize,
}

/// Train `bc` (f32) on `ids` for about `seconds` after one warm-up step, with `threads`.
pub fn measure_train(
    bc: &BenchConfig,
    ids: &Ids,
    vocab: usize,
    threads: usize,
    seconds: f64,
) -> Result<(TrainSpeed, Model<f32>)> {
    let config = bc.model(vocab);
    let model = init_model::<f32>(config, 0.02, 0)?;
    let streams = Streams::new(ids.clone(), bc.seq_len, bc.batch)?;
    let cfg = TrainConfig {
        seq_len: bc.seq_len,
        batch: bc.batch,
        threads,
        ..Default::default()
    };
    let mut trainer = Trainer::new(model, streams, cfg)?;
    trainer.train_step();
    let started = Instant::now();
    let mut steps = 0u64;
    while steps < 3 || started.elapsed().as_secs_f64() < seconds {
        trainer.train_step();
        steps += 1;
    }
    let secs = started.elapsed().as_secs_f64();
    let chars_per_s = (steps * (bc.seq_len * bc.batch) as u64) as f64 / secs;
    let speed = TrainSpeed {
        chars_per_s,
        gflops: chars_per_s * config.train_flops_per_char() / 1e9,
        threads: trainer.threads(),
    };
    Ok((speed, trainer.model))
}

/// Characters per second the sampler draws from `model`, one model step each, for about
/// `seconds`.
pub fn measure_sampling(model: &Model<f32>, seconds: f64) -> f64 {
    let mut sampler = Sampler::new(model, 1);
    let started = Instant::now();
    let mut n = 0usize;
    let mut sink = 0u64;
    while n < 10_000 || started.elapsed().as_secs_f64() < seconds {
        sampler.generate(&[0], 10_000, |c| sink += c as u64);
        n += 10_000;
    }
    std::hint::black_box(sink);
    n as f64 / started.elapsed().as_secs_f64()
}
