//! `charrnn train`'s flags, grouped under the headings `--help` shows, and the parsers that
//! take their values from the library (cells, presets, initializations).

use std::path::PathBuf;

use charrnn::model::{CellKind, Init, CELLS};
use charrnn::run::Preset;
use clap::{Args, ValueEnum};

use crate::Dtype;

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
#[command(after_help = "\
Output: the path of the model written is the one line on standard output; the header, progress,
`iter N, loss` lines, samples and warnings go to standard error. Ctrl-C (or SIGTERM) writes a
resumable checkpoint and prints the command that resumes it.

Examples:
  charrnn train                      # the notebook's RNN on the built-in corpus, into runs/N
  charrnn sample -n 300              # then sample the latest run's model
  charrnn train --data input.txt --preset auto --val-frac 0.1 --max-time 5m   # the best 5 minutes we know
  charrnn train --data input.txt --cell lstm --layers 2 --hidden 128 --emb 64 \\
      --seq-len 50 --batch 50 --optim adam --lr 0.003 --val-frac 0.1 --max-time 5m
  charrnn train --resume runs/1/checkpoints/ckpt-step00001000.safetensors --steps 5000
  charrnn train --data input.txt --steps 2000 --metrics m.jsonl && charrnn plot --metrics m.jsonl")]
pub struct TrainArgs {
    /// A measured recipe for the model, optimizer and schedule; flags given still win
    /// (new runs only). `charrnn train --data FILE --preset auto --max-time 5m` trains the best
    /// model we know for five minutes
    #[arg(long, value_parser = preset_parser())]
    pub preset: Option<Preset>,
    /// UTF-8 text file to train on [default: a built-in corpus of charrnn's own docs and source]
    #[arg(long, value_name = "FILE", help_heading = "Data")]
    pub data: Option<PathBuf>,
    /// Keep `\r\n` and lone `\r` as they are (by default they become `\n`, as Python reads text)
    #[arg(long, help_heading = "Data")]
    pub keep_cr: bool,
    /// Keep only the N most frequent characters (the unknown symbol U+FFFD included); the
    /// rest are mapped to U+FFFD. New models only: a checkpoint brings its vocabulary
    #[arg(long, value_name = "N", help_heading = "Data")]
    pub max_vocab: Option<usize>,
    /// Map characters seen fewer than C times to the unknown symbol U+FFFD. New models only
    #[arg(long, value_name = "C", help_heading = "Data")]
    pub min_count: Option<u64>,
    /// Hold out this last fraction of the text for validation (0: none, as the notebook)
    #[arg(long, default_value_t = 0.0, value_name = "F", help_heading = "Data")]
    pub val_frac: f64,
    /// Steps of truncated backpropagation through time per window (T)
    #[arg(long, default_value_t = 32, value_name = "N", help_heading = "Data")]
    pub seq_len: usize,
    /// Parallel streams the corpus is cut into (B)
    #[arg(long, default_value_t = 4, value_name = "N", help_heading = "Data")]
    pub batch: usize,
    /// Recurrent cell [default: rnn]
    #[arg(long, value_parser = cell_parser(), help_heading = "Model")]
    pub cell: Option<CellKind>,
    /// Stacked recurrent layers [default: 1]
    #[arg(long, value_name = "N", help_heading = "Model")]
    pub layers: Option<usize>,
    /// Embedding size (E) [default: 4]
    #[arg(long, value_name = "N", help_heading = "Model")]
    pub emb: Option<usize>,
    /// Hidden size (H) [default: 32]
    #[arg(long, value_name = "N", help_heading = "Model")]
    pub hidden: Option<usize>,
    /// Dropout between layers and before the output layer, in training only
    #[arg(long, default_value_t = 0.0, value_name = "P", help_heading = "Model")]
    pub dropout: f64,
    /// How the new model's weights are drawn [default: notebook for the one-layer rnn (the
    /// notebook's model, exactly), torch for every other model]
    #[arg(long, value_parser = init_parser(), help_heading = "Model")]
    pub init: Option<Init>,
    /// Standard deviation of the initial weights with --init notebook (every tensor, biases
    /// too, from N(0, std^2))
    #[arg(long, default_value_t = 0.02, value_name = "F", help_heading = "Model")]
    pub std: f64,
    /// Seed of the initial weights and of dropout
    #[arg(long, default_value_t = 0, value_name = "S", help_heading = "Model")]
    pub seed: u64,
    /// Start from the weights (and take the cell, sizes and vocabulary) of this checkpoint
    #[arg(
        long,
        value_name = "FILE",
        conflicts_with = "resume",
        help_heading = "Model"
    )]
    pub init_from: Option<PathBuf>,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32, help_heading = "Model")]
    pub dtype: Dtype,
    /// Worker threads (the batch streams are split across them) [default: all cores, or fewer
    /// for a model too small for them to pay]
    #[arg(long, value_name = "N", help_heading = "Model")]
    pub threads: Option<usize>,
    /// Optimizer
    #[arg(long, value_enum, default_value_t = Optim::Adagrad, help_heading = "Optimizer")]
    pub optim: Optim,
    /// Learning rate
    #[arg(
        long,
        default_value_t = 0.02,
        value_name = "F",
        help_heading = "Optimizer"
    )]
    pub lr: f64,
    /// Adam's beta1
    #[arg(
        long,
        default_value_t = 0.9,
        value_name = "F",
        help_heading = "Optimizer"
    )]
    pub beta1: f64,
    /// Adam's beta2
    #[arg(
        long,
        default_value_t = 0.999,
        value_name = "F",
        help_heading = "Optimizer"
    )]
    pub beta2: f64,
    /// RMSprop's smoothing constant
    #[arg(
        long,
        default_value_t = 0.99,
        value_name = "F",
        help_heading = "Optimizer"
    )]
    pub alpha: f64,
    /// SGD's momentum
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "F",
        help_heading = "Optimizer"
    )]
    pub momentum: f64,
    /// Optimizer epsilon (Adagrad adds it inside the square root, as the notebook)
    #[arg(
        long,
        default_value_t = 1e-8,
        value_name = "F",
        help_heading = "Optimizer"
    )]
    pub eps: f64,
    /// Clip gradients at C (0: no clipping)
    #[arg(
        long,
        default_value_t = 1.0,
        value_name = "C",
        help_heading = "Optimizer"
    )]
    pub clip: f64,
    /// Clip each element (the notebook) or the global norm
    #[arg(long, value_enum, default_value_t = ClipBy::Value, help_heading = "Optimizer")]
    pub clip_mode: ClipBy,
    /// Clip the embedding's gradient too (the notebook leaves it unclipped)
    #[arg(long, help_heading = "Optimizer")]
    pub clip_embedding: bool,
    /// Multiply the learning rate by F every --lr-decay-every steps
    #[arg(long, value_name = "F", help_heading = "Schedule")]
    pub lr_decay: Option<f64>,
    /// Steps between learning-rate decays
    #[arg(
        long,
        default_value_t = 1000,
        value_name = "N",
        help_heading = "Schedule"
    )]
    pub lr_decay_every: u64,
    /// Anneal the learning rate from --lr down to --lr-min along half a cosine that ends with
    /// the run: at --steps, the end of --epochs or the end of --max-time, whichever comes first
    #[arg(long, conflicts_with = "lr_decay", help_heading = "Schedule")]
    pub cosine: bool,
    /// The same along a straight line
    #[arg(long, conflicts_with_all = ["lr_decay", "cosine"], help_heading = "Schedule")]
    pub linear: bool,
    /// Final learning rate of --cosine or --linear
    #[arg(
        long,
        default_value_t = 0.0,
        value_name = "F",
        help_heading = "Schedule"
    )]
    pub lr_min: f64,
    /// Raise the learning rate linearly over the first N steps
    #[arg(long, default_value_t = 0, value_name = "N", help_heading = "Schedule")]
    pub warmup: u64,
    /// Stop after N steps (windows) in all: on --resume too, so the same command line finishes
    /// the same run [default: 50000, unless --epochs or --max-time is given]
    #[arg(long, value_name = "N", help_heading = "Stopping")]
    pub steps: Option<u64>,
    /// Stop after N passes over the text
    #[arg(long, value_name = "N", help_heading = "Stopping")]
    pub epochs: Option<u64>,
    /// Stop after this much training time (e.g. 90s, 10m, 1h30m) in all, counted across
    /// resumes like --steps, writing a resumable checkpoint and the model. On --resume, any of
    /// --steps, --epochs, --max-time replaces the run's stopping rules; none keeps them
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration, help_heading = "Stopping")]
    pub max_time: Option<std::time::Duration>,
    /// The new run's directory: its model and checkpoints go there unless --out and
    /// --checkpoint-dir say otherwise [default: runs/N, the next free number, unless --out is
    /// given; runs/latest points at the newest]
    #[arg(
        long,
        value_name = "DIR",
        conflicts_with = "resume",
        help_heading = "Checkpoints and outputs"
    )]
    pub run_dir: Option<PathBuf>,
    /// Where to save the trained model (safetensors, written atomically)
    /// [default: RUN_DIR/model.safetensors]
    #[arg(long, value_name = "FILE", help_heading = "Checkpoints and outputs")]
    pub out: Option<PathBuf>,
    /// Replace an existing file at an output you name (--out, --metrics, or the model in a
    /// --run-dir you name); without it that is refused, so no run destroys another's files
    #[arg(long, help_heading = "Checkpoints and outputs")]
    pub overwrite: bool,
    /// Write one JSON object per step (step, loss, smooth_loss, lr, ...) to this file
    #[arg(long, value_name = "FILE", help_heading = "Checkpoints and outputs")]
    pub metrics: Option<PathBuf>,
    /// Write a resumable checkpoint every N steps (and at the end) into --checkpoint-dir
    /// (0: only when interrupted or out of --max-time)
    #[arg(
        long,
        default_value_t = 0,
        value_name = "N",
        help_heading = "Checkpoints and outputs"
    )]
    pub checkpoint_every: u64,
    /// Where checkpoints go, named by step and validation loss [default: RUN_DIR/checkpoints,
    /// or NAME.checkpoints beside an --out NAME.safetensors given without --run-dir]
    #[arg(long, value_name = "DIR", help_heading = "Checkpoints and outputs")]
    pub checkpoint_dir: Option<PathBuf>,
    /// Keep the last K checkpoints (plus the best by validation loss)
    #[arg(
        long,
        default_value_t = 3,
        value_name = "K",
        help_heading = "Checkpoints and outputs"
    )]
    pub keep: usize,
    /// Continue a run exactly from a checkpoint written by --checkpoint-every, Ctrl-C or
    /// --max-time (its settings, data position, optimizer and RNG state come from the file)
    #[arg(long, value_name = "FILE", help_heading = "Checkpoints and outputs")]
    pub resume: Option<PathBuf>,
    /// No progress bar, progress lines or samples (warnings, and where a stopped run is saved,
    /// are still printed)
    #[arg(long, short, help_heading = "Reporting")]
    pub quiet: bool,
    /// Print `iter N, loss: X` (the smoothed loss) every N steps (0: never)
    #[arg(
        long,
        default_value_t = 1_000,
        value_name = "N",
        help_heading = "Reporting"
    )]
    pub print_every: u64,
    /// Print a sample every N steps, as the notebook does (0: only at the end)
    #[arg(
        long,
        default_value_t = 10_000,
        value_name = "N",
        help_heading = "Reporting"
    )]
    pub sample_every: u64,
    /// Length of those samples, in characters
    #[arg(
        long,
        default_value_t = 300,
        value_name = "N",
        help_heading = "Reporting"
    )]
    pub sample_len: usize,
    /// Report the validation loss every N steps (and always at the end)
    #[arg(
        long,
        default_value_t = 2000,
        value_name = "N",
        help_heading = "Reporting"
    )]
    pub eval_every: u64,
    #[command(flatten)]
    pub finetune: super::finetune::FinetuneArgs,
}

/// `--preset`'s values.
fn preset_parser() -> impl clap::builder::TypedValueParser<Value = Preset> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = Preset::ALL
        .iter()
        .map(|p| PossibleValue::new(p.name()).help(p.about()));
    PossibleValuesParser::new(values).map(|name| Preset::parse(&name).expect("a preset"))
}

/// `--init`'s values.
fn init_parser() -> impl clap::builder::TypedValueParser<Value = Init> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    PossibleValuesParser::new([
        PossibleValue::new("notebook").help("Every tensor from N(0, std^2), as the notebook"),
        PossibleValue::new("torch")
            .help("PyTorch's defaults: embedding N(0, 1), layers and output U(+-1/sqrt(H))"),
    ])
    .map(|name| match name.as_str() {
        "notebook" => Init::Notebook,
        _ => Init::Torch,
    })
}

/// `--cell`'s values: the cells of the library's registry, each with its line of help.
fn cell_parser() -> impl clap::builder::TypedValueParser<Value = CellKind> {
    use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
    let values = CELLS
        .iter()
        .map(|c| PossibleValue::new(c.name()).help(c.spec().about()));
    PossibleValuesParser::new(values).map(|name| CellKind::parse(&name).expect("a registered cell"))
}
