//! `charrnn bench`: training throughput (chars/s, estimated GFLOP/s) of named configurations,
//! and sampling throughput of the notebook's model.

use std::path::PathBuf;
use std::time::Instant;

use charrnn::data::{self, ReadOptions, Streams};
use charrnn::model::{CellKind, ModelConfig};
use charrnn::sample::Sampler;
use charrnn::train::{init_model, TrainConfig, Trainer};
use charrnn::{Error, Result, Vocab};
use clap::Args;

use crate::builtin;

/// A named benchmark configuration.
#[derive(Clone, Copy, Debug)]
pub struct BenchConfig {
    pub name: &'static str,
    pub cell: CellKind,
    pub emb: usize,
    pub hidden: usize,
    pub layers: usize,
    pub seq_len: usize,
    pub batch: usize,
}

/// The configurations `--config` can name.
pub const CONFIGS: [BenchConfig; 5] = [
    BenchConfig {
        name: "seed",
        cell: CellKind::Rnn,
        emb: 4,
        hidden: 32,
        layers: 1,
        seq_len: 32,
        batch: 4,
    },
    BenchConfig {
        name: "rnn256",
        cell: CellKind::Rnn,
        emb: 64,
        hidden: 256,
        layers: 1,
        seq_len: 64,
        batch: 32,
    },
    BenchConfig {
        name: "lstm2x128",
        cell: CellKind::Lstm,
        emb: 64,
        hidden: 128,
        layers: 2,
        seq_len: 50,
        batch: 50,
    },
    BenchConfig {
        name: "gru256",
        cell: CellKind::Gru,
        emb: 64,
        hidden: 256,
        layers: 1,
        seq_len: 64,
        batch: 32,
    },
    BenchConfig {
        name: "lstm2x512",
        cell: CellKind::Lstm,
        emb: 64,
        hidden: 512,
        layers: 2,
        seq_len: 100,
        batch: 50,
    },
];

/// Flags of `charrnn bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Configurations to run (seed, rnn256, lstm2x128, gru256, lstm2x512) [default: all]
    #[arg(long = "config", value_name = "NAME")]
    pub configs: Vec<String>,
    /// Worker threads [default: all cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Text to train on [default: the built-in corpus]
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Seconds of timed training per configuration
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    pub seconds: f64,
    /// One JSON object per line: config, threads, chars_per_s, gflops (and sample_chars_per_s)
    #[arg(long)]
    pub json: bool,
}

/// Floating-point operations to train on one character: forward multiply-adds of every layer
/// and the output, times 2 (multiply and add), times 3 (forward, and backward's two products).
pub fn train_flops_per_char(c: &ModelConfig) -> f64 {
    let mut macs = c.vocab * c.hidden;
    for k in 0..c.layers {
        let input = if k == 0 { c.emb } else { c.hidden };
        macs += c.cell.gates() * c.hidden * (input + c.hidden);
    }
    6.0 * macs as f64
}

pub fn run(a: BenchArgs) -> Result<()> {
    if !(a.seconds.is_finite() && a.seconds > 0.0) {
        return Err(Error::Config(format!(
            "--seconds must be positive, got {}",
            a.seconds
        )));
    }
    let threads = crate::resolve_threads(a.threads)?;
    let chosen: Vec<BenchConfig> = if a.configs.is_empty() {
        CONFIGS.to_vec()
    } else {
        a.configs
            .iter()
            .map(|n| {
                CONFIGS
                    .iter()
                    .find(|c| c.name == n)
                    .copied()
                    .ok_or_else(|| {
                        let names: Vec<_> = CONFIGS.iter().map(|c| c.name).collect();
                        Error::Config(format!(
                            "unknown bench config {n:?}: use one of {}",
                            names.join(", ")
                        ))
                    })
            })
            .collect::<Result<_>>()?
    };
    let text = match &a.data {
        Some(p) => data::read_text(p, ReadOptions::default())?,
        None => data::universal_newlines(builtin::TEXT.to_string()),
    };
    let vocab = Vocab::from_text(&text);
    let ids = vocab.encode(&text)?;
    if !a.json {
        println!(
            "{:<10} {:>7} {:>14} {:>9}",
            "config", "threads", "train chars/s", "GFLOP/s"
        );
    }
    for bc in chosen {
        let config = ModelConfig {
            cell: bc.cell,
            vocab: vocab.len(),
            emb: bc.emb,
            hidden: bc.hidden,
            layers: bc.layers,
        };
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
        while steps < 3 || started.elapsed().as_secs_f64() < a.seconds {
            trainer.train_step();
            steps += 1;
        }
        let secs = started.elapsed().as_secs_f64();
        let chars_per_s = (steps * (bc.seq_len * bc.batch) as u64) as f64 / secs;
        let gflops = chars_per_s * train_flops_per_char(&config) / 1e9;
        let sample = (bc.name == "seed").then(|| sample_chars_per_s(&trainer.model, a.seconds));
        if a.json {
            let mut row = serde_json::json!({
                "config": bc.name,
                "threads": trainer.threads(),
                "chars_per_s": chars_per_s.round(),
                "gflops": (gflops * 1000.0).round() / 1000.0,
            });
            if let Some(s) = sample {
                row["sample_chars_per_s"] = serde_json::json!(s.round());
            }
            println!("{row}");
        } else {
            println!(
                "{:<10} {:>7} {:>14.0} {:>9.2}",
                bc.name,
                trainer.threads(),
                chars_per_s,
                gflops
            );
            if let Some(s) = sample {
                println!("{:<10} {:>7} {:>14.0} {:>9}", "  sampling", 1, s, "");
            }
        }
    }
    Ok(())
}

/// Characters per second drawn by the sampler, one model step each.
fn sample_chars_per_s(model: &charrnn::Model<f32>, seconds: f64) -> f64 {
    let mut sampler = Sampler::new(model, 1);
    let started = Instant::now();
    let mut n = 0usize;
    let mut sink = 0u64;
    while n < 1000 || started.elapsed().as_secs_f64() < seconds.min(2.0) {
        sampler.generate(&[0], 10_000, |c| sink += c as u64);
        n += 10_000;
    }
    std::hint::black_box(sink);
    n as f64 / started.elapsed().as_secs_f64()
}
