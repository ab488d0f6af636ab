//! `charrnn sample`: generate text from a saved model, streamed as it is drawn.

mod out;
pub mod prime;

use std::io::IsTerminal;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use charrnn::sample::{beam_search, SampleConfig, Sampler, StopMatcher};
use charrnn::vocab::describe_chars;
use charrnn::{checkpoint, Error, Real, Result};
use clap::{Args, ValueEnum};

use crate::{output, Dtype};
use out::Out;
use prime::{clock_seed, encode_prime, encode_stop, PrimeError};

/// The model `charrnn sample` (and `score`) take without `--model`: the latest run's.
pub const LATEST_MODEL: &str = "runs/latest/model.safetensors";

/// What to do with characters the model does not know (in `sample`'s prime, in the text
/// `score` scores). Both commands decide alike: a model trained with `--max-vocab` or
/// `--min-count` has the unknown symbol U+FFFD, which stood for the characters it dropped,
/// and reads unknown characters as it (saying so on standard error); a model without it
/// refuses them, listing them; `--unknown` chooses otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Unknown {
    /// Stop with an error that lists them
    Error,
    /// Leave them out
    Skip,
    /// Read them as the unknown symbol U+FFFD (only models trained with --max-vocab or
    /// --min-count have it)
    Replace,
}

impl Unknown {
    /// What `--unknown` (if given) means for a model with or without the unknown symbol.
    pub fn resolve(given: Option<Unknown>, vocab: &charrnn::Vocab) -> Result<Unknown> {
        let has = vocab.unknown_id().is_some();
        match given {
            Some(Unknown::Replace) if !has => Err(Error::Vocab(
                "--unknown replace: this model has no unknown symbol U+FFFD (only models trained with --max-vocab or --min-count do): use --unknown skip or error".into(),
            )),
            Some(u) => Ok(u),
            None if has => Ok(Unknown::Replace),
            None => Ok(Unknown::Error),
        }
    }
}

/// The model to use: `--model`, else the latest run's, if there is one.
pub fn model_path(model: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(m) = model {
        return Ok(m);
    }
    let latest = Path::new(LATEST_MODEL);
    if !latest.exists() {
        let why = match latest.parent() {
            Some(run) if run.is_dir() => format!(
                "the latest run here, {}, has no model yet: it was stopped before its end (charrnn train --resume one of its checkpoints to finish it) or is still training",
                run.display()
            ),
            _ => format!("no {LATEST_MODEL} here (the model of the latest charrnn train run in this directory)"),
        };
        return Err(Error::Config(format!(
            "no --model given, and {why}: give --model FILE"
        )));
    }
    output::log(&format!("model: {LATEST_MODEL} (the latest run's)"));
    Ok(latest.to_path_buf())
}

/// The widest beam `--beam` accepts.
pub const MAX_BEAM: usize = 1024;

/// Flags of `charrnn sample`.
#[derive(Args, Debug)]
#[command(after_help = "\
Sampling: the next character is drawn from the model's distribution after --temperature, then
--top-k, then --top-p; --argmax always takes the most likely one; --beam W searches for the most
likely continuation as a whole (printed when the search ends). Each character costs one step of
the model. With --num-samples K the samples are separated by a line \"----\".

Without --seed the seed is drawn from the clock and told on standard error, so a text can be had
again. Without --model, the latest `charrnn train` run's model here is sampled.

Examples:
  charrnn sample -n 300
  charrnn sample --model m.safetensors --prime \"ROMEO:\" -n 300 --temperature 0.8 --seed 1
  charrnn sample --model m.safetensors --prime \"def \" --top-p 0.9 --stop $'\\n\\n'  (bash)
  charrnn sample --model m.safetensors --prime \"The \" -n 40 --beam 8 --num-samples 3")]
pub struct SampleArgs {
    /// Checkpoint written by `charrnn train` (or a notebook/PyTorch safetensors file with "vocab")
    /// [default: runs/latest/model.safetensors, the latest run's, if there is one]
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
    /// Characters to generate per sample (after the prime)
    #[arg(short = 'n', long = "len", default_value_t = 500, value_name = "N")]
    pub n: usize,
    /// Text to warm the state with; the output starts with it [default: a newline, not printed]
    #[arg(long, value_name = "TEXT")]
    pub prime: Option<String>,
    /// Random seed: the same seed and arguments give the same text [default: from the clock,
    /// told on standard error]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Above 0: below 1 is more conservative, above 1 more adventurous
    #[arg(long, default_value_t = 1.0, value_name = "T")]
    pub temperature: f64,
    /// Draw only from the K most likely characters
    #[arg(long, value_name = "K")]
    pub top_k: Option<usize>,
    /// Draw only from the most likely characters that together reach probability P, in (0, 1]
    #[arg(long, value_name = "P")]
    pub top_p: Option<f64>,
    /// Always take the most likely character (greedy; no randomness)
    #[arg(long, conflicts_with_all = ["temperature", "top_k", "top_p", "beam"])]
    pub argmax: bool,
    /// Beam search with W beams for the most likely continuation of N characters
    #[arg(long, value_name = "W", conflicts_with_all = ["temperature", "top_k", "top_p"])]
    pub beam: Option<usize>,
    /// Stop a sample once it has produced this text (the text is printed)
    #[arg(long, value_name = "STRING")]
    pub stop: Option<String>,
    /// Samples to draw, one after the other from one seeded generator (with --beam: the K best)
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub num_samples: usize,
    /// Prime characters outside the model's vocabulary [default: replace on a model that has
    /// the unknown symbol U+FFFD, else error]
    #[arg(long, value_enum)]
    pub unknown: Option<Unknown>,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
}

/// The flags' sampling settings, each range checked with the flag's name in the message.
fn sample_config(a: &SampleArgs) -> Result<SampleConfig> {
    let bad = |msg: String| Err(Error::Config(msg));
    if a.n == 0 {
        return bad("-n (--len) must be at least 1".into());
    }
    let t = a.temperature;
    if !(t.is_finite() && t > 0.0) {
        return bad(format!(
            "--temperature must be a number above 0, got {t}; for the most likely character use --argmax"
        ));
    }
    if a.top_k == Some(0) {
        return bad("--top-k must be at least 1, got 0".into());
    }
    if let Some(p) = a.top_p {
        if !(p > 0.0 && p <= 1.0) {
            return bad(format!("--top-p must be in (0, 1], got {p}"));
        }
    }
    if let Some(w) = a.beam {
        if !(1..=MAX_BEAM).contains(&w) {
            return bad(format!("--beam must be between 1 and {MAX_BEAM}, got {w}"));
        }
        if a.num_samples > w {
            return bad(format!(
                "--num-samples {} is more than --beam {w}: beam search finds at most W continuations",
                a.num_samples
            ));
        }
    }
    if a.num_samples == 0 {
        return bad("--num-samples must be at least 1".into());
    }
    let config = SampleConfig {
        temperature: t,
        top_k: a.top_k,
        top_p: a.top_p,
        argmax: a.argmax,
    };
    config.validate()?;
    Ok(config)
}

pub fn run(a: SampleArgs) -> Result<()> {
    match a.dtype {
        Dtype::F32 => run_typed::<f32>(a),
        Dtype::F64 => run_typed::<f64>(a),
    }
}

fn run_typed<T: Real>(a: SampleArgs) -> Result<()> {
    let config = sample_config(&a)?;
    let model = model_path(a.model.clone())?;
    let ck = checkpoint::load::<T>(&model)?;
    let vocab = &ck.vocab;
    let unknown = Unknown::resolve(a.unknown, vocab)?;
    let (prime, echo): (Vec<u32>, String) = match &a.prime {
        Some(p) if unknown == Unknown::Replace => {
            let chars = vocab.unknown(p);
            if !chars.is_empty() {
                output::log(&format!(
                    "note: the model reads --prime's {} as its unknown symbol U+FFFD (--unknown skip leaves them out)",
                    describe_chars(&chars)
                ));
            }
            // The prime as the model reads it, with U+FFFD for what it does not know.
            let ids: Vec<u32> = p.chars().filter_map(|c| vocab.id_or_unknown(c)).collect();
            let echo = ids.iter().map(|&i| vocab.char(i)).collect();
            (ids, echo)
        }
        Some(p) => match encode_prime(vocab, p, unknown == Unknown::Skip) {
            Ok(x) => x,
            Err(PrimeError::Unknown(chars)) => {
                return Err(Error::Vocab(format!(
                    "--prime has characters not in the model's vocabulary: {}; remove them or pass --unknown skip",
                    describe_chars(&chars)
                )))
            }
            Err(PrimeError::Empty) => {
                return Err(Error::Vocab(
                    "--prime has no character the model knows".into(),
                ))
            }
        },
        None => (vec![vocab.id('\n').unwrap_or(0)], String::new()),
    };
    let stop = match &a.stop {
        Some(s) => encode_stop(vocab, s).map_err(|e| Error::Config(format!("--stop {e}")))?,
        None => Vec::new(),
    };
    let stdout = std::io::stdout();
    let mut out = Out::new(std::io::BufWriter::new(stdout.lock()), stdout.is_terminal());
    let result = match a.beam {
        Some(w) => {
            let beams = beam_search(&ck.model, &prime, a.n, w);
            beams
                .iter()
                .take(a.num_samples)
                .enumerate()
                .try_for_each(|(i, b)| {
                    let mut matcher = StopMatcher::new(&stop);
                    let end = b
                        .ids
                        .iter()
                        .position(|&c| matcher.push(c))
                        .map_or(b.ids.len(), |e| e + 1);
                    out.sample_start(i, &echo)?;
                    b.ids[..end]
                        .iter()
                        .try_for_each(|&c| out.char(vocab.char(c)))?;
                    out.sample_end()
                })
        }
        None => {
            let seed = a.seed.unwrap_or_else(|| {
                let seed = clock_seed();
                if !a.argmax {
                    output::log(&format!(
                        "seed: {seed} (--seed {seed} gives this text again)"
                    ));
                }
                seed
            });
            let mut sampler =
                Sampler::with_config(&ck.model, seed, config).expect("settings checked above");
            (0..a.num_samples).try_for_each(|i| {
                out.sample_start(i, &echo)?;
                let mut failed = None;
                sampler.generate_until(&prime, a.n, &stop, |c| match out.char(vocab.char(c)) {
                    Ok(()) => ControlFlow::Continue(()),
                    Err(e) => {
                        failed = Some(e);
                        ControlFlow::Break(())
                    }
                });
                failed.map_or(Ok(()), Err)?;
                out.sample_end()
            })
        }
    };
    // A closed pipe (`charrnn sample | head`) ends the command quietly (see `output`).
    result
        .and_then(|_| out.flush())
        .map_err(output::stdout_error)
}
