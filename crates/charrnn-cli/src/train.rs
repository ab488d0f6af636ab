//! `charrnn train`: the notebook's training loop, with its progress lines and samples.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use charrnn::checkpoint;
use charrnn::data::{self, ReadOptions, Streams};
use charrnn::model::{CellKind, ModelConfig};
use charrnn::optim::Clip;
use charrnn::sample::Sampler;
use charrnn::train::{init_model, TrainConfig, Trainer};
use charrnn::{Error, Real, Result, Vocab};
use clap::Args;

use crate::{builtin, Dtype};

/// Flags of `charrnn train`. Defaults are the notebook's hyperparameters.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// UTF-8 text file to train on [default: a built-in corpus of charrnn's own docs and source]
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Keep `\r\n` and lone `\r` as they are (by default they become `\n`, as Python reads text)
    #[arg(long)]
    pub keep_cr: bool,
    /// Embedding size (E)
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub emb: usize,
    /// Hidden size (H)
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub hidden: usize,
    /// Steps of truncated backpropagation through time per window (T)
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub seq_len: usize,
    /// Parallel streams the corpus is cut into (B)
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub batch: usize,
    /// Adagrad learning rate
    #[arg(long, default_value_t = 0.02, value_name = "F")]
    pub lr: f64,
    /// Standard deviation of the initial weights (every tensor, biases too, from N(0, std^2))
    #[arg(long, default_value_t = 0.02, value_name = "F")]
    pub std: f64,
    /// Clip every gradient element to [-C, C] (0: no clipping)
    #[arg(long, default_value_t = 1.0, value_name = "C")]
    pub clip: f64,
    /// Clip the embedding's gradient too (the notebook leaves it unclipped)
    #[arg(long)]
    pub clip_embedding: bool,
    /// Total number of training steps (windows)
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    pub steps: u64,
    /// Seed of the initial weights
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
    /// Start from the weights (and take the sizes and vocabulary) of this checkpoint
    #[arg(long, value_name = "FILE")]
    pub init_from: Option<PathBuf>,
    /// Where to save the trained model (safetensors, written atomically)
    #[arg(long, default_value = "model.safetensors", value_name = "FILE")]
    pub out: PathBuf,
    /// Write one JSON object per step (step, loss, smooth_loss) to this file
    #[arg(long, value_name = "FILE")]
    pub metrics: Option<PathBuf>,
    /// Print `iter N, loss: X` (the smoothed loss) every N steps (0: never)
    #[arg(long, default_value_t = 1_000, value_name = "N")]
    pub print_every: u64,
    /// Print a sample every N steps, as the notebook does (0: only at the end)
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub sample_every: u64,
    /// Length of those samples, in characters
    #[arg(long, default_value_t = 300, value_name = "N")]
    pub sample_len: usize,
}

pub fn run(a: TrainArgs) -> Result<()> {
    match a.dtype {
        Dtype::F32 => run_typed::<f32>(a),
        Dtype::F64 => run_typed::<f64>(a),
    }
}

fn run_typed<T: Real>(a: TrainArgs) -> Result<()> {
    if a.steps == 0 {
        return Err(Error::Config("--steps must be at least 1".into()));
    }
    if !(a.clip.is_finite() && a.clip >= 0.0) {
        return Err(Error::Config(format!(
            "--clip must be 0 (off) or positive, got {}",
            a.clip
        )));
    }
    let cfg = TrainConfig {
        seq_len: a.seq_len,
        batch: a.batch,
        lr: a.lr,
        clip: Clip {
            value: (a.clip > 0.0).then_some(a.clip),
            embedding: a.clip_embedding,
        },
    };
    cfg.validate()?;
    charrnn::fsutil::check_target(&a.out)?;
    let text = match &a.data {
        Some(path) => data::read_text(path, ReadOptions { keep_cr: a.keep_cr })?,
        None => {
            let t = builtin::TEXT.to_string();
            if a.keep_cr {
                t
            } else {
                data::universal_newlines(t)
            }
        }
    };
    let source = a
        .data
        .as_ref()
        .map_or("the built-in corpus".to_string(), |p| {
            p.display().to_string()
        });
    let (model, vocab) = match &a.init_from {
        Some(path) => {
            let ck = checkpoint::load::<T>(path)?;
            let unknown = ck.vocab.unknown(&text);
            if !unknown.is_empty() {
                return Err(Error::Vocab(format!(
                    "{source} has characters that {} does not know: {}; train a new model without --init-from",
                    path.display(),
                    charrnn::vocab::describe_chars(&unknown)
                )));
            }
            (ck.model, ck.vocab)
        }
        None => {
            let vocab = Vocab::from_text(&text);
            let config = ModelConfig {
                cell: CellKind::Rnn,
                vocab: vocab.len(),
                emb: a.emb,
                hidden: a.hidden,
                layers: 1,
            };
            (init_model::<T>(config, a.std, a.seed)?, vocab)
        }
    };
    let ids = vocab.encode(&text)?;
    let n_chars = ids.len();
    let streams = Streams::new(ids, a.seq_len, a.batch).map_err(|e| match (&a.data, e) {
        (Some(p), Error::Config(msg)) => Error::Corpus {
            path: p.clone(),
            msg,
        },
        (_, e) => e,
    })?;
    let c = model.config();
    println!(
        "charrnn: {source}: {n_chars} characters, vocabulary {}; {} E{} H{} x{} ({} parameters, {}); T{} B{}, {} steps",
        c.vocab,
        c.cell.name(),
        c.emb,
        c.hidden,
        c.layers,
        model.layout.len,
        T::NAME,
        a.seq_len,
        a.batch,
        a.steps
    );
    let mut metrics = match &a.metrics {
        Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| {
            Error::Config(format!("{}: cannot create metrics file: {e}", p.display()))
        })?)),
        None => None,
    };
    let mut trainer = Trainer::new(model, streams, cfg)?;
    let started = std::time::Instant::now();
    let mut last = None;
    while trainer.step < a.steps {
        let n = trainer.step;
        if a.sample_every > 0 && n % a.sample_every == 0 {
            print_sample(
                &trainer.model,
                &vocab,
                trainer.next_first_input(),
                a.sample_len,
                a.seed.wrapping_add(n),
            );
        }
        let s = trainer.train_step();
        if let Some(m) = metrics.as_mut() {
            writeln!(
                m,
                "{{\"step\":{},\"loss\":{},\"smooth_loss\":{}}}",
                s.step,
                json_f64(s.loss),
                json_f64(s.smooth_loss)
            )
            .map_err(|e| Error::Config(format!("cannot write the metrics file: {e}")))?;
        }
        if !s.loss.is_finite() {
            return Err(Error::Config(format!(
                "the loss became {} at step {}: training diverged; try a smaller --lr. {} was not written",
                s.loss,
                s.step,
                a.out.display()
            )));
        }
        if a.print_every > 0 && n % a.print_every == 0 {
            println!("iter {n}, loss: {:.6}", s.smooth_loss);
        }
        last = Some(s);
    }
    if let Some(m) = metrics.as_mut() {
        m.flush()
            .map_err(|e| Error::Config(format!("cannot write the metrics file: {e}")))?;
    }
    let secs = started.elapsed().as_secs_f64();
    let chars = a.steps as f64 * (a.seq_len * a.batch) as f64;
    let last = last.expect("at least one step");
    print_sample(
        &trainer.model,
        &vocab,
        trainer.next_first_input(),
        a.sample_len,
        a.seed.wrapping_add(a.steps),
    );
    let mut meta = BTreeMap::new();
    for (k, v) in [
        ("seq_len", a.seq_len.to_string()),
        ("batch", a.batch.to_string()),
        ("lr", a.lr.to_string()),
        ("std", a.std.to_string()),
        ("clip", a.clip.to_string()),
        ("seed", a.seed.to_string()),
        ("steps", trainer.step.to_string()),
        ("smooth_loss", last.smooth_loss.to_string()),
    ] {
        meta.insert(k.to_string(), v);
    }
    checkpoint::save(&a.out, &trainer.model, &vocab, &meta)?;
    println!(
        "done: {} steps in {secs:.1} s ({:.0} chars/s), smoothed loss {:.4} ({:.4} nats/char); saved {}",
        a.steps,
        chars / secs,
        last.smooth_loss,
        last.smooth_loss / a.seq_len as f64,
        a.out.display()
    );
    println!(
        "sample it: charrnn sample --model {} -n 500",
        a.out.display()
    );
    Ok(())
}

/// A finite float as JSON, or `null`.
fn json_f64(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

/// The notebook's periodic sample: from a zero state, seeded by `first`, `n` characters.
fn print_sample<T: Real>(
    model: &charrnn::Model<T>,
    vocab: &Vocab,
    first: u32,
    n: usize,
    seed: u64,
) {
    let mut sampler = Sampler::new(model, seed);
    let mut text = String::with_capacity(n);
    sampler.generate(&[first], n, |c| text.push(vocab.char(c)));
    println!("----\n {text} \n----");
}
