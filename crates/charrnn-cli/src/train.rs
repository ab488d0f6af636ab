//! `charrnn train`: the notebook's training loop, with its progress lines and samples, grown
//! with LSTM/GRU cells, stacked layers, optimizers, schedules and validation.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::PathBuf;

use charrnn::checkpoint;
use charrnn::data::{self, ReadOptions, Streams};
use charrnn::eval::{evaluate, EvalStats};
use charrnn::model::{CellKind, ModelConfig};
use charrnn::optim::{Clip, ClipMode, OptimConfig, OptimKind, Schedule};
use charrnn::sample::Sampler;
use charrnn::train::{init_model, TrainConfig, Trainer};
use charrnn::{Error, Real, Result, Vocab};
use clap::{Args, ValueEnum};

use crate::{builtin, Dtype};

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Cell {
    /// The notebook's tanh RNN
    Rnn,
    /// Long short-term memory (PyTorch's gate order i, f, g, o)
    Lstm,
    /// Gated recurrent unit (PyTorch's r, z, n)
    Gru,
}

/// The optimizer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Optim {
    /// The notebook's: w -= lr g / sqrt(sum g^2 + 1e-8)
    Adagrad,
    /// Adam, as PyTorch (use --lr 0.002 or so)
    Adam,
    /// RMSprop, as PyTorch
    Rmsprop,
    /// Plain SGD, with --momentum
    Sgd,
}

/// How gradients are clipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum ClipBy {
    /// Every element to [-C, C] (the notebook)
    Value,
    /// The global L2 norm to at most C
    Norm,
}

/// Flags of `charrnn train`. Defaults are the notebook's hyperparameters.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// UTF-8 text file to train on [default: a built-in corpus of charrnn's own docs and source]
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Keep `\r\n` and lone `\r` as they are (by default they become `\n`, as Python reads text)
    #[arg(long)]
    pub keep_cr: bool,
    /// Recurrent cell [default: rnn]
    #[arg(long, value_enum)]
    pub cell: Option<Cell>,
    /// Stacked recurrent layers [default: 1]
    #[arg(long, value_name = "N")]
    pub layers: Option<usize>,
    /// Embedding size (E) [default: 4]
    #[arg(long, value_name = "N")]
    pub emb: Option<usize>,
    /// Hidden size (H) [default: 32]
    #[arg(long, value_name = "N")]
    pub hidden: Option<usize>,
    /// Dropout between layers and before the output layer, in training only
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    pub dropout: f64,
    /// Steps of truncated backpropagation through time per window (T)
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub seq_len: usize,
    /// Parallel streams the corpus is cut into (B)
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub batch: usize,
    /// Optimizer
    #[arg(long, value_enum, default_value_t = Optim::Adagrad)]
    pub optim: Optim,
    /// Learning rate
    #[arg(long, default_value_t = 0.02, value_name = "F")]
    pub lr: f64,
    /// Multiply the learning rate by F every --lr-decay-every steps
    #[arg(long, value_name = "F")]
    pub lr_decay: Option<f64>,
    /// Steps between learning-rate decays
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub lr_decay_every: u64,
    /// Cosine learning-rate schedule from --lr down to --lr-min over --steps
    #[arg(long, conflicts_with = "lr_decay")]
    pub cosine: bool,
    /// Final learning rate of the cosine schedule
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub lr_min: f64,
    /// Adam's beta1
    #[arg(long, default_value_t = 0.9, value_name = "F")]
    pub beta1: f64,
    /// Adam's beta2
    #[arg(long, default_value_t = 0.999, value_name = "F")]
    pub beta2: f64,
    /// RMSprop's smoothing constant
    #[arg(long, default_value_t = 0.99, value_name = "F")]
    pub alpha: f64,
    /// SGD's momentum
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub momentum: f64,
    /// Optimizer epsilon (Adagrad adds it inside the square root, as the notebook)
    #[arg(long, default_value_t = 1e-8, value_name = "F")]
    pub eps: f64,
    /// Standard deviation of the initial weights (every tensor, biases too, from N(0, std^2))
    #[arg(long, default_value_t = 0.02, value_name = "F")]
    pub std: f64,
    /// Clip gradients at C (0: no clipping)
    #[arg(long, default_value_t = 1.0, value_name = "C")]
    pub clip: f64,
    /// Clip each element (the notebook) or the global norm
    #[arg(long, value_enum, default_value_t = ClipBy::Value)]
    pub clip_mode: ClipBy,
    /// Clip the embedding's gradient too (the notebook leaves it unclipped)
    #[arg(long)]
    pub clip_embedding: bool,
    /// Total number of training steps (windows)
    #[arg(long, default_value_t = 50_000, value_name = "N")]
    pub steps: u64,
    /// Seed of the initial weights and of dropout
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
    /// Worker threads (the batch streams are split across them) [default: all cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Hold out this last fraction of the text for validation (0: none, as the notebook)
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub val_frac: f64,
    /// Report the validation loss every N steps (and always at the end)
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub eval_every: u64,
    /// Start from the weights (and take the cell, sizes and vocabulary) of this checkpoint
    #[arg(long, value_name = "FILE")]
    pub init_from: Option<PathBuf>,
    /// Where to save the trained model (safetensors, written atomically)
    #[arg(long, default_value = "model.safetensors", value_name = "FILE")]
    pub out: PathBuf,
    /// Write one JSON object per step (step, loss, smooth_loss, lr, ...) to this file
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

fn cell_kind(c: Cell) -> CellKind {
    match c {
        Cell::Rnn => CellKind::Rnn,
        Cell::Lstm => CellKind::Lstm,
        Cell::Gru => CellKind::Gru,
    }
}

fn train_config(a: &TrainArgs) -> Result<TrainConfig> {
    if a.steps == 0 {
        return Err(Error::Config("--steps must be at least 1".into()));
    }
    if !(a.clip.is_finite() && a.clip >= 0.0) {
        return Err(Error::Config(format!(
            "--clip must be 0 (off) or positive, got {}",
            a.clip
        )));
    }
    let kind = match a.optim {
        Optim::Adagrad => OptimKind::Adagrad,
        Optim::Adam => OptimKind::Adam,
        Optim::Rmsprop => OptimKind::Rmsprop,
        Optim::Sgd => OptimKind::Sgd,
    };
    let schedule = match (a.lr_decay, a.cosine) {
        (Some(factor), _) => Schedule::Step {
            factor,
            every: a.lr_decay_every,
        },
        (None, true) => Schedule::Cosine {
            total: a.steps,
            min: a.lr_min,
        },
        (None, false) => Schedule::Constant,
    };
    let cfg = TrainConfig {
        seq_len: a.seq_len,
        batch: a.batch,
        lr: a.lr,
        schedule,
        clip: Clip {
            value: (a.clip > 0.0).then_some(a.clip),
            mode: match a.clip_mode {
                ClipBy::Value => ClipMode::Value,
                ClipBy::Norm => ClipMode::Norm,
            },
            embedding: a.clip_embedding,
        },
        optim: OptimConfig {
            kind,
            beta1: a.beta1,
            beta2: a.beta2,
            alpha: a.alpha,
            momentum: a.momentum,
            eps: a.eps,
        },
        dropout: a.dropout,
        seed: a.seed,
        threads: crate::resolve_threads(a.threads)?,
    };
    cfg.validate()?;
    if !(0.0..1.0).contains(&a.val_frac) {
        return Err(Error::Config(format!(
            "--val-frac must be in [0, 1), got {}",
            a.val_frac
        )));
    }
    if a.layers == Some(0) {
        return Err(Error::Config("--layers must be at least 1".into()));
    }
    Ok(cfg)
}

fn run_typed<T: Real>(a: TrainArgs) -> Result<()> {
    let cfg = train_config(&a)?;
    charrnn::fsutil::check_target(&a.out)?;
    let text = match &a.data {
        Some(path) => data::read_text(path, ReadOptions { keep_cr: a.keep_cr })?,
        None if a.keep_cr => builtin::TEXT.to_string(),
        None => data::universal_newlines(builtin::TEXT.to_string()),
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
            let c = ck.model.config();
            let given = [
                (
                    "--cell",
                    a.cell.map(|x| cell_kind(x).name().to_string()),
                    c.cell.name().to_string(),
                ),
                (
                    "--layers",
                    a.layers.map(|x| x.to_string()),
                    c.layers.to_string(),
                ),
                ("--emb", a.emb.map(|x| x.to_string()), c.emb.to_string()),
                (
                    "--hidden",
                    a.hidden.map(|x| x.to_string()),
                    c.hidden.to_string(),
                ),
            ];
            for (flag, want, have) in given {
                if let Some(want) = want.filter(|w| *w != have) {
                    return Err(Error::Config(format!(
                        "{flag} {want} disagrees with {} (which has {have}): drop {flag} or --init-from",
                        path.display()
                    )));
                }
            }
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
                cell: cell_kind(a.cell.unwrap_or(Cell::Rnn)),
                vocab: vocab.len(),
                emb: a.emb.unwrap_or(4),
                hidden: a.hidden.unwrap_or(32),
                layers: a.layers.unwrap_or(1),
            };
            (init_model::<T>(config, a.std, a.seed)?, vocab)
        }
    };
    let ids = vocab.encode(&text)?;
    drop(text);
    let n_chars = ids.len();
    let n_val = (n_chars as f64 * a.val_frac) as usize;
    let (train_ids, val_ids) = ids.split_at(n_chars - n_val);
    if a.val_frac > 0.0 && val_ids.len() < 2 {
        return Err(Error::Config(format!(
            "--val-frac {} holds out {} characters of {n_chars}: raise it or use a longer text",
            a.val_frac,
            val_ids.len()
        )));
    }
    let streams = Streams::new(train_ids, a.seq_len, a.batch).map_err(|e| match (&a.data, e) {
        (Some(p), Error::Config(msg)) => Error::Corpus {
            path: p.clone(),
            msg,
        },
        (_, e) => e,
    })?;
    let c = model.config();
    println!(
        "charrnn: {source}: {n_chars} characters ({} for validation), vocabulary {}; {} E{} H{} x{} ({} parameters, {}); T{} B{}, {} {} steps",
        val_ids.len(),
        c.vocab,
        c.cell.name(),
        c.emb,
        c.hidden,
        c.layers,
        model.layout.len,
        T::NAME,
        a.seq_len,
        a.batch,
        cfg.optim.kind.name(),
        a.steps
    );
    let mut metrics = match &a.metrics {
        Some(p) => Some(BufWriter::new(File::create(p).map_err(|e| {
            Error::Config(format!("{}: cannot create metrics file: {e}", p.display()))
        })?)),
        None => None,
    };
    let metrics_err =
        |e: std::io::Error| Error::Config(format!("cannot write the metrics file: {e}"));
    let mut trainer = Trainer::new(model, streams, cfg)?;
    let started = std::time::Instant::now();
    let mut last = None;
    let mut last_val: Option<EvalStats> = None;
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
        if !s.loss.is_finite() {
            return Err(Error::Config(format!(
                "the loss became {} at step {}: training diverged; try a smaller --lr. {} was not written",
                s.loss,
                s.step,
                a.out.display()
            )));
        }
        let done = trainer.step;
        let val = (!val_ids.is_empty()
            && (done == a.steps || (a.eval_every > 0 && done % a.eval_every == 0)))
            .then(|| evaluate(&trainer.model, &val_ids, a.seq_len));
        if let Some(m) = metrics.as_mut() {
            let mut row = format!(
                "{{\"step\":{},\"epoch\":{},\"loss\":{},\"smooth_loss\":{},\"lr\":{},\"grad_norm\":{},\"clip_fraction\":{},\"elapsed\":{:.6}",
                s.step,
                trainer.epoch(),
                json_f64(s.loss),
                json_f64(s.smooth_loss),
                json_f64(s.lr),
                json_f64(s.clip.norm),
                json_f64(s.clip.fraction),
                started.elapsed().as_secs_f64()
            );
            if let Some(v) = val {
                row += &format!(
                    ",\"val_loss\":{},\"val_bpc\":{}",
                    json_f64(v.nats_per_char()),
                    json_f64(v.bits_per_char())
                );
            }
            row.push('}');
            writeln!(m, "{row}").map_err(metrics_err)?;
        }
        if a.print_every > 0 && n % a.print_every == 0 {
            println!("iter {n}, loss: {:.6}", s.smooth_loss);
        }
        if let Some(v) = val {
            println!(
                "step {done}: validation loss {:.4} nats/char, {:.4} bits/char",
                v.nats_per_char(),
                v.bits_per_char()
            );
            last_val = Some(v);
        }
        last = Some(s);
    }
    if let Some(m) = metrics.as_mut() {
        m.flush().map_err(metrics_err)?;
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
        ("optim", trainer.cfg.optim.kind.name().to_string()),
        ("lr", a.lr.to_string()),
        ("std", a.std.to_string()),
        ("clip", a.clip.to_string()),
        ("dropout", a.dropout.to_string()),
        ("seed", a.seed.to_string()),
        ("steps", trainer.step.to_string()),
        ("smooth_loss", last.smooth_loss.to_string()),
    ] {
        meta.insert(k.to_string(), v);
    }
    if let Some(v) = last_val {
        meta.insert("val_loss".into(), v.nats_per_char().to_string());
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
