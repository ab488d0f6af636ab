//! `charrnn train`: the notebook's training loop, with its progress lines and samples, grown
//! with LSTM/GRU cells, stacked layers, optimizers, schedules and validation.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use charrnn::corpus::{self, LoadOptions, OnUnknown, Source};
use charrnn::data::Streams;
use charrnn::eval::{evaluate, EvalStats};
use charrnn::model::{CellKind, ModelConfig};
use charrnn::optim::{Clip, ClipMode, OptimConfig, OptimKind, Schedule};
use charrnn::train::{init_model, TrainConfig, Trainer};
use charrnn::vocab::{CharCounts, VocabOptions, UNKNOWN};
use charrnn::{checkpoint, resume};
use charrnn::{Error, Real, Result, Vocab};
use clap::{ArgMatches, Args, ValueEnum};

use crate::checkpoints;
use crate::interrupt;
use crate::metrics::{finite, Metrics, Row};
use crate::progress::{Progress, Status};
use crate::{builtin, Dtype};

mod session;
mod settings;

use session::{sample_text, Session, Stop};
use settings::{check_resume_flags, was_given, RunRecord};

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
    /// Keep only the N most frequent characters (the unknown symbol U+FFFD included); the
    /// rest are mapped to U+FFFD. New models only: a checkpoint brings its vocabulary
    #[arg(long, value_name = "N")]
    pub max_vocab: Option<usize>,
    /// Map characters seen fewer than C times to the unknown symbol U+FFFD. New models only
    #[arg(long, value_name = "C")]
    pub min_count: Option<u64>,
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
    /// Stop after N steps (windows) in all: on --resume too, so the same command line finishes
    /// the same run [default: 50000, unless --epochs or --max-time is given]
    #[arg(long, value_name = "N")]
    pub steps: Option<u64>,
    /// Stop after N passes over the text
    #[arg(long, value_name = "N")]
    pub epochs: Option<u64>,
    /// Stop after this much time (e.g. 90s, 10m, 1h30m), writing a resumable checkpoint
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub max_time: Option<std::time::Duration>,
    /// Seed of the initial weights and of dropout
    #[arg(long, default_value_t = 0, value_name = "S")]
    pub seed: u64,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
    /// Worker threads (the batch streams are split across them) [default: all cores, or fewer
    /// for a model too small for them to pay]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Hold out this last fraction of the text for validation (0: none, as the notebook)
    #[arg(long, default_value_t = 0.0, value_name = "F")]
    pub val_frac: f64,
    /// Report the validation loss every N steps (and always at the end)
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub eval_every: u64,
    /// Start from the weights (and take the cell, sizes and vocabulary) of this checkpoint
    #[arg(long, value_name = "FILE", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Continue a run exactly from a checkpoint written by --checkpoint-every, Ctrl-C or
    /// --max-time (its settings, data position, optimizer and RNG state come from the file)
    #[arg(long, value_name = "FILE")]
    pub resume: Option<PathBuf>,
    /// Write a resumable checkpoint every N steps (and at the end) into --checkpoint-dir
    /// (0: only when interrupted or out of --max-time)
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub checkpoint_every: u64,
    /// Where checkpoints go, named by step and validation loss
    #[arg(long, default_value = "checkpoints", value_name = "DIR")]
    pub checkpoint_dir: PathBuf,
    /// Keep the last K checkpoints (plus the best by validation loss)
    #[arg(long, default_value_t = 3, value_name = "K")]
    pub keep: usize,
    /// No progress bar, progress lines or samples
    #[arg(long, short)]
    pub quiet: bool,
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

/// What `charrnn train` is asked to do, with the flags a resumed run may not change.
pub fn run(a: TrainArgs, given: &ArgMatches) -> Result<ExitCode> {
    let dtype = match &a.resume {
        Some(path) => {
            let ck = checkpoint::load::<f64>(path)?;
            let saved = if ck.meta.get("dtype").map(String::as_str) == Some("f64") {
                Dtype::F64
            } else {
                Dtype::F32
            };
            if was_given(given, "dtype") && a.dtype != saved {
                return Err(Error::Config(format!(
                    "--dtype {} differs from the resumed run's {} ({}): drop --dtype",
                    dtype_name(a.dtype),
                    dtype_name(saved),
                    path.display()
                )));
            }
            saved
        }
        None => a.dtype,
    };
    match dtype {
        Dtype::F32 => run_typed::<f32>(a, given),
        Dtype::F64 => run_typed::<f64>(a, given),
    }
}

fn dtype_name(d: Dtype) -> &'static str {
    match d {
        Dtype::F32 => "f32",
        Dtype::F64 => "f64",
    }
}

fn cell_kind(c: Cell) -> CellKind {
    match c {
        Cell::Rnn => CellKind::RNN,
        Cell::Lstm => CellKind::LSTM,
        Cell::Gru => CellKind::GRU,
    }
}

/// The training config of a new run (a cosine schedule's length is set once the text is
/// known: [`cosine_total`]).
fn train_config(a: &TrainArgs) -> Result<TrainConfig> {
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
            total: 0,
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
    Ok(cfg)
}

/// Checks of the flags that need no text.
fn check_flags(a: &TrainArgs) -> Result<()> {
    for (flag, v) in [("--steps", a.steps), ("--epochs", a.epochs)] {
        if v == Some(0) {
            return Err(Error::Config(format!("{flag} must be at least 1")));
        }
    }
    if a.max_time == Some(Duration::ZERO) {
        return Err(Error::Config("--max-time must be more than 0".into()));
    }
    if !(0.0..1.0).contains(&a.val_frac) {
        return Err(Error::Config(format!(
            "--val-frac must be in [0, 1), got {}",
            a.val_frac
        )));
    }
    if a.layers == Some(0) {
        return Err(Error::Config("--layers must be at least 1".into()));
    }
    if a.keep == 0 {
        return Err(Error::Config(
            "--keep must be at least 1 (the checkpoint just written)".into(),
        ));
    }
    Ok(())
}

fn run_typed<T: Real>(a: TrainArgs, given: &ArgMatches) -> Result<ExitCode> {
    check_flags(&a)?;
    // A resumed run takes its settings from the file; flags given now override the ones that
    // do not change the run.
    let resumed = match &a.resume {
        Some(path) => {
            let r = resume::load::<T>(path)?;
            let rec: RunRecord = r
                .checkpoint
                .meta
                .get("train.run")
                .and_then(|j| serde_json::from_str(j).ok())
                .ok_or_else(|| {
                    Error::Config(format!(
                        "{}: has training state but no charrnn train settings (\"train.run\"): resume it from the library, or start from its weights with --init-from",
                        path.display()
                    ))
                })?;
            check_resume_flags(&a, given, path, &r, &rec)?;
            Some((path.clone(), r, rec))
        }
        None => None,
    };
    let mut rec = match &resumed {
        Some((_, _, saved)) => settings::merge(saved, &a, given),
        None => settings::fresh(&a),
    };
    charrnn::fsutil::check_target(&rec.out)?;
    let new_cfg = match resumed {
        None => Some(train_config(&a)?),
        Some(_) => None,
    };
    // One run at a time writes into a checkpoint directory (the lock dies with the process).
    // A run that checkpoints creates its directory now; any run that may write into an
    // existing one (Ctrl-C, --max-time) locks it.
    if rec.checkpoint_every > 0 {
        checkpoints::ensure_dir(&rec.checkpoint_dir)?;
    }
    let _dir_lock = if rec.checkpoint_dir.is_dir() {
        Some(charrnn::fsutil::DirLock::acquire(&rec.checkpoint_dir)?)
    } else {
        None
    };
    if resumed.is_none() {
        if let Some(e) = checkpoints::list(&rec.checkpoint_dir)?.last() {
            return Err(Error::Config(format!(
                "{} already holds checkpoints of a run (the latest is {}): continue it with --resume {}, or give another --checkpoint-dir",
                rec.checkpoint_dir.display(),
                e.path.display(),
                e.path.display()
            )));
        }
    }
    // Two streaming passes over the file (count, then encode): the text is never held whole,
    // only its ids, so a corpus trains in about its own size of memory.
    let load = LoadOptions {
        keep_cr: rec.keep_cr,
        ..LoadOptions::default()
    };
    let src = match &rec.data {
        Some(path) => Source::File(path),
        None => Source::text(builtin::TEXT),
    };
    let counts = corpus::scan(src, &load, |_| {})?;
    let source = rec
        .data
        .as_ref()
        .map_or("the built-in corpus".to_string(), |p| {
            p.display().to_string()
        });
    let chars = counts.total();
    let hash = counts.fingerprint();
    if let Some((path, _, saved)) = &resumed {
        if (saved.corpus_chars, saved.corpus_hash) != (chars, hash) {
            return Err(Error::Config(format!(
                "{source} is not the text {} was trained on ({} characters then, {chars} now, or other characters): give the run's --data to resume it",
                path.display(),
                saved.corpus_chars
            )));
        }
    }
    rec.corpus_chars = chars;
    rec.corpus_hash = hash;
    let (model, vocab, resume_state) = match resumed {
        Some((path, r, _)) => {
            let vocab = r.checkpoint.vocab.clone();
            (None, vocab, Some((path, r)))
        }
        None => {
            let (model, vocab) = new_model::<T>(&a, &counts, &source)?;
            (Some(model), vocab, None)
        }
    };
    let unknown = if vocab.id(UNKNOWN).is_some() {
        OnUnknown::Replace
    } else {
        OnUnknown::Error
    };
    let ids = corpus::encode(src, &load, &vocab, &counts, unknown, |_| {})?;
    let n_chars = ids.len();
    let n_val = (n_chars as f64 * rec.val_frac) as usize;
    let (train_ids, val_ids) = ids.split_at(n_chars - n_val);
    if rec.val_frac > 0.0 && val_ids.len() < 2 {
        return Err(Error::Config(format!(
            "--val-frac {} holds out {} characters of {n_chars}: raise it or use a longer text",
            rec.val_frac,
            val_ids.len()
        )));
    }
    let (seq_len, batch) = match &resume_state {
        Some((_, r)) => (r.config.seq_len, r.config.batch),
        None => (a.seq_len, a.batch),
    };
    let streams = Streams::new(train_ids, seq_len, batch).map_err(|e| match (&rec.data, e) {
        (Some(p), Error::Config(msg)) => Error::Corpus {
            path: p.clone(),
            msg,
        },
        (_, e) => e,
    })?;
    let wpe = streams.windows_per_epoch() as u64;
    let total = match (rec.steps, rec.epochs) {
        (Some(s), Some(e)) => Some(s.min(e * wpe)),
        (s, e) => s.or(e.map(|e| e * wpe)),
    };
    let mut trainer = match (resume_state, model) {
        (Some((path, r)), _) => {
            let saved_threads = r.threads();
            let threads = match a.threads {
                Some(_) => crate::resolve_threads(a.threads)?,
                None => saved_threads,
            };
            let mut t = r.into_trainer(streams, threads)?;
            if was_given(given, "lr") && a.lr != t.cfg.lr {
                if !(a.lr.is_finite() && a.lr > 0.0) {
                    return Err(Error::Config(format!(
                        "--lr must be a positive number, got {}",
                        a.lr
                    )));
                }
                if !a.quiet {
                    println!(
                        "note: --lr {} replaces the run's {} from step {} on",
                        a.lr, t.cfg.lr, t.step
                    );
                }
                t.cfg.lr = a.lr;
            }
            if let (Schedule::Cosine { total: was, .. }, Some(now)) = (t.cfg.schedule, total) {
                if was != now && !a.quiet {
                    println!(
                        "note: the cosine schedule keeps the run's length, {was} steps: the learning rate stays at --lr-min past it"
                    );
                }
            }
            if t.threads() != saved_threads && t.cfg.dropout > 0.0 && !a.quiet {
                println!(
                    "note: {} wrote it with {saved_threads} threads, this run uses {}: it goes on, but with other dropout masks than an uninterrupted run",
                    path.display(),
                    t.threads()
                );
            }
            t
        }
        (None, Some(model)) => {
            let mut cfg = new_cfg.expect("a new run has a config");
            if let Schedule::Cosine { min, .. } = cfg.schedule {
                let total = total.ok_or_else(|| {
                    Error::Config(
                        "--cosine needs the run's length: give --steps or --epochs".into(),
                    )
                })?;
                cfg.schedule = Schedule::Cosine { total, min };
            }
            if a.threads.is_none() {
                // All cores by default, but no more than pay at this size.
                let (c, t) = (model.config(), cfg.threads);
                cfg.threads = charrnn::train::useful_threads(&c, cfg.seq_len, cfg.batch, t);
            }
            Trainer::new(model, streams, cfg)?
        }
        (None, None) => unreachable!("a new run has a model"),
    };
    let cfg = trainer.cfg.clone();
    let c = trainer.model.config();
    let resumed_from = trainer.step;
    let mut progress = Progress::new(a.quiet, total, trainer.step);
    progress.println(&format!(
        "charrnn: {source}: {n_chars} characters ({} for validation), vocabulary {}; {} E{} H{} x{} ({} parameters, {}); T{} B{}, {} {}{}",
        val_ids.len(),
        c.vocab,
        c.cell.name(),
        c.emb,
        c.hidden,
        c.layers,
        trainer.model.layout.len,
        T::NAME,
        cfg.seq_len,
        cfg.batch,
        cfg.optim.kind.name(),
        total.map_or("until --max-time".to_string(), |t| format!("{t} steps")),
        if resumed_from > 0 {
            format!(", resumed at step {resumed_from}")
        } else {
            String::new()
        }
    ));
    let mut metrics = match &rec.metrics {
        Some(p) => Some(Metrics::open(
            p,
            a.resume.is_some().then_some(resumed_from),
        )?),
        None => None,
    };
    let mut meta = BTreeMap::new();
    for (k, v) in [
        ("seq_len", cfg.seq_len.to_string()),
        ("batch", cfg.batch.to_string()),
        ("optim", cfg.optim.kind.name().to_string()),
        ("lr", cfg.lr.to_string()),
        ("std", rec.std.to_string()),
        ("clip", cfg.clip.value.unwrap_or(0.0).to_string()),
        ("dropout", cfg.dropout.to_string()),
        ("seed", cfg.seed.to_string()),
    ] {
        meta.insert(k.to_string(), v);
    }
    let mut session = Session {
        rec,
        vocab: &vocab,
        meta,
        started: Instant::now(),
        last_ckpt: a.resume.clone(),
        ckpt_step: None,
    };
    interrupt::install()?;
    let rec = session.rec.clone();
    let chars_per_step = (cfg.seq_len * cfg.batch) as f64;
    let mut last_val: Option<EvalStats> = None;
    let mut val_step = None;
    // The loss per character the progress shows: an average over the last 20 or so steps
    // (the notebook's smoothed loss takes thousands of steps to forget its start).
    let mut recent: Option<f64> = None;
    let stop = loop {
        let n = trainer.step;
        if rec.steps.is_some_and(|s| n >= s)
            || rec
                .epochs
                .is_some_and(|e| trainer.epoch() >= e && trainer.next_window().reset)
        {
            break Stop::Done;
        }
        if interrupt::requested() {
            break Stop::Interrupted;
        }
        if a.max_time.is_some_and(|m| session.started.elapsed() >= m) {
            break Stop::OutOfTime;
        }
        if rec.sample_every > 0 && n % rec.sample_every == 0 && !a.quiet {
            progress.println(&sample_text(
                &trainer.model,
                &vocab,
                trainer.next_first_input(),
                rec.sample_len,
                cfg.seed.wrapping_add(n),
            ));
        }
        let s = match trainer.try_train_step() {
            Ok(s) => s,
            Err(Error::Diverged { step, what }) => {
                progress.finish();
                if let Some(m) = metrics.as_mut() {
                    m.flush()?;
                }
                let last = match &session.last_ckpt {
                    Some(p) => format!(
                        "the last good checkpoint, {}, is intact: continue from it with a smaller learning rate (charrnn train --resume {} --lr F)",
                        p.display(),
                        p.display()
                    ),
                    None => "no checkpoint was written (--checkpoint-every N keeps some): start again with a smaller --lr".into(),
                };
                return Err(Error::Config(format!(
                    "training diverged at step {step}: {what}; {last}; {} was not written",
                    rec.out.display()
                )));
            }
            Err(e) => return Err(e),
        };
        let done = trainer.step;
        let ckpt_due = rec.checkpoint_every > 0 && done % rec.checkpoint_every == 0;
        let at_end = total == Some(done);
        let val = (!val_ids.is_empty()
            && (at_end || ckpt_due || (rec.eval_every > 0 && done % rec.eval_every == 0)))
            .then(|| evaluate(&trainer.model, &val_ids, cfg.seq_len));
        let secs = session.started.elapsed().as_secs_f64();
        let chars_per_s = (done - resumed_from) as f64 * chars_per_step / secs.max(1e-9);
        if let Some(m) = metrics.as_mut() {
            m.write(&Row {
                step: s.step,
                epoch: trainer.epoch(),
                loss: finite(s.loss),
                nats_per_char: finite(s.loss / chars_per_step),
                smooth_loss: finite(s.smooth_loss),
                lr: finite(s.lr),
                grad_norm: finite(s.clip.norm),
                clip_fraction: finite(s.clip.fraction),
                chars_per_s: finite(chars_per_s),
                elapsed: session.elapsed(),
                val_loss: val.map(|v| v.nats_per_char()),
                val_bpc: val.map(|v| v.bits_per_char()),
            })?;
        }
        if rec.print_every > 0 && n % rec.print_every == 0 {
            progress.println(&format!("iter {n}, loss: {:.6}", s.smooth_loss));
        }
        if let Some(v) = val {
            progress.println(&format!(
                "step {done}: validation loss {:.4} nats/char, {:.4} bits/char",
                v.nats_per_char(),
                v.bits_per_char()
            ));
            last_val = Some(v);
            val_step = Some(done);
        }
        let steps_per_s = (done - resumed_from) as f64 / secs.max(1e-9);
        let eta_steps = total.map(|t| {
            Duration::from_secs_f64(t.saturating_sub(done) as f64 / steps_per_s.max(1e-9))
        });
        let eta_time = a
            .max_time
            .map(|m| m.saturating_sub(session.started.elapsed()));
        let per_char = s.loss / chars_per_step;
        let shown = recent.map_or(per_char, |r| 0.95 * r + 0.05 * per_char);
        recent = Some(shown);
        progress.update(&Status {
            step: done,
            loss: shown,
            chars_per_s,
            eta: match (eta_steps, eta_time) {
                (Some(x), Some(y)) => Some(x.min(y)),
                (x, y) => x.or(y),
            },
        });
        if ckpt_due {
            if let Some(m) = metrics.as_mut() {
                m.flush()?;
            }
            let path = session.checkpoint(&trainer, val)?;
            progress.println(&format!("step {done}: saved {}", path.display()));
        }
    };
    progress.finish();
    if let Some(m) = metrics.as_mut() {
        m.flush()?;
    }
    let done = trainer.step;
    if stop != Stop::Done {
        let path = match session.ckpt_step {
            Some(s) if s == done => session.last_ckpt.clone().expect("written"),
            _ => {
                let v = (val_step == Some(done)).then_some(last_val).flatten();
                session.checkpoint(&trainer, v)?
            }
        };
        let why = match stop {
            Stop::Interrupted => "interrupted".to_string(),
            _ => format!(
                "--max-time {} reached",
                humantime::format_duration(a.max_time.unwrap_or_default())
            ),
        };
        let line = format!(
            "{why} at step {done}: saved {}\nresume with: charrnn train --resume {}",
            path.display(),
            path.display()
        );
        if stop == Stop::Interrupted {
            eprintln!("{line}");
            return Ok(ExitCode::from(interrupt::EXIT_CODE));
        }
        progress.println(&line);
    }
    if !val_ids.is_empty() && val_step != Some(done) && done > resumed_from {
        let v = evaluate(&trainer.model, &val_ids, cfg.seq_len);
        progress.println(&format!(
            "step {done}: validation loss {:.4} nats/char, {:.4} bits/char",
            v.nats_per_char(),
            v.bits_per_char()
        ));
        last_val = Some(v);
        val_step = Some(done);
    }
    let val_at_end = (val_step == Some(done)).then_some(last_val).flatten();
    if stop == Stop::Done && rec.checkpoint_every > 0 && session.ckpt_step != Some(done) {
        let path = session.checkpoint(&trainer, val_at_end)?;
        progress.println(&format!("step {done}: saved {}", path.display()));
    }
    if !a.quiet {
        progress.println(&sample_text(
            &trainer.model,
            &vocab,
            trainer.next_first_input(),
            rec.sample_len,
            cfg.seed.wrapping_add(done),
        ));
    }
    let mut meta = session.meta.clone();
    meta.insert("steps".into(), done.to_string());
    meta.insert("smooth_loss".into(), trainer.smooth_loss.to_string());
    if let Some(v) = last_val {
        meta.insert("val_loss".into(), v.nats_per_char().to_string());
    }
    checkpoint::save(&rec.out, &trainer.model, &vocab, &meta)?;
    let secs = session.started.elapsed().as_secs_f64();
    let chars = (done - resumed_from) as f64 * chars_per_step;
    progress.println(&format!(
        "done: {done} steps ({} in {secs:.1} s, {:.0} chars/s), smoothed loss {:.4} ({:.4} nats/char); saved {}",
        done - resumed_from,
        chars / secs.max(1e-9),
        trainer.smooth_loss,
        trainer.smooth_loss / cfg.seq_len as f64,
        rec.out.display()
    ));
    progress.println(&format!(
        "sample it: charrnn sample --model {} -n 500",
        rec.out.display()
    ));
    Ok(ExitCode::SUCCESS)
}

/// A new run's model and vocabulary: from `--init-from`, or initialised from the seed.
fn new_model<T: Real>(
    a: &TrainArgs,
    counts: &CharCounts,
    source: &str,
) -> Result<(charrnn::Model<T>, Vocab)> {
    match &a.init_from {
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
            let unknown = if ck.vocab.id(UNKNOWN).is_some() {
                Vec::new()
            } else {
                counts.unknown_to(&ck.vocab).0
            };
            if !unknown.is_empty() {
                return Err(Error::Vocab(format!(
                    "{source} has characters that {} does not know: {}; train a new model without --init-from",
                    path.display(),
                    charrnn::vocab::describe_chars(&unknown)
                )));
            }
            Ok((ck.model, ck.vocab))
        }
        None => {
            let opts = VocabOptions {
                max_vocab: a.max_vocab,
                min_count: a.min_count,
            };
            let vocab = Vocab::from_counts(counts, opts)?;
            let config = ModelConfig {
                cell: cell_kind(a.cell.unwrap_or(Cell::Rnn)),
                vocab: vocab.len(),
                emb: a.emb.unwrap_or(4),
                hidden: a.hidden.unwrap_or(32),
                layers: a.layers.unwrap_or(1),
            };
            Ok((init_model::<T>(config, a.std, a.seed)?, vocab))
        }
    }
}
