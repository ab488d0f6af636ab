//! `charrnn score`: a model's loss on any text, in nats and bits per character.

use std::path::PathBuf;

use charrnn::corpus::{self, LoadOptions, OnUnknown};
use charrnn::eval::evaluate;
use charrnn::vocab::describe_chars;
use charrnn::{checkpoint, Error, Real, Result};
use clap::Args;

use crate::input::Input;
use crate::sample::Unknown;
use crate::{output, Dtype};

/// Flags of `charrnn score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Checkpoint to score with
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// UTF-8 text to score (`-`: standard input; a pipe works too)
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Print one JSON object: nats_per_char, bits_per_char, perplexity, chars
    #[arg(long)]
    pub json: bool,
    /// Characters of the text outside the model's vocabulary [default: replace on a model that
    /// has the unknown symbol U+FFFD, else error]
    #[arg(long, value_enum)]
    pub unknown: Option<Unknown>,
    /// Keep `\r\n` and lone `\r` as they are
    #[arg(long)]
    pub keep_cr: bool,
    /// Characters per window (the state is carried across windows, so this only trades speed)
    #[arg(long, default_value_t = 128, value_name = "N")]
    pub seq_len: usize,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
}

pub fn run(a: ScoreArgs) -> Result<()> {
    match a.dtype {
        Dtype::F32 => run_typed::<f32>(a),
        Dtype::F64 => run_typed::<f64>(a),
    }
}

fn run_typed<T: Real>(a: ScoreArgs) -> Result<()> {
    if a.seq_len == 0 {
        return Err(Error::Config("--seq-len must be at least 1".into()));
    }
    let ck = checkpoint::load::<T>(&a.model)?;
    // Streamed: the text is never held, only its ids.
    let opts = LoadOptions {
        keep_cr: a.keep_cr,
        ..Default::default()
    };
    let unknown = Unknown::resolve(a.unknown, &ck.vocab)?;
    let input = Input::open(&a.data)?;
    let (src, name) = (input.source(), input.name().display());
    let counts = corpus::scan(src, &opts, |_| {})?;
    let (chars, n) = counts.unknown_to(&ck.vocab);
    // As `sample` does with its prime: see `Unknown`.
    if !chars.is_empty() {
        let chars = describe_chars(&chars);
        match unknown {
            Unknown::Error => {
                return Err(Error::Vocab(format!(
                    "{name} has characters not in the model's vocabulary: {chars}; pass --unknown skip to leave them out"
                )))
            }
            Unknown::Skip => output::log(&format!(
                "note: {n} characters of {name} the model does not know are left out: {chars}"
            )),
            Unknown::Replace => output::log(&format!(
                "note: the model reads {n} characters of {name} as its unknown symbol U+FFFD: {chars} (--unknown skip leaves them out)"
            )),
        }
    }
    let on_unknown = match unknown {
        Unknown::Replace => OnUnknown::Replace,
        _ => OnUnknown::Skip,
    };
    let ids = corpus::encode(src, &opts, &ck.vocab, &counts, on_unknown, |_| {})?;
    if ids.len() < 2 {
        return Err(Error::Corpus {
            path: input.name().to_path_buf(),
            msg: "has fewer than 2 characters the model knows: nothing to score".into(),
        });
    }
    let s = evaluate(&ck.model, &ids, a.seq_len);
    let line = if a.json {
        serde_json::json!({
            "nats_per_char": s.nats_per_char(),
            "bits_per_char": s.bits_per_char(),
            "perplexity": s.perplexity(),
            "chars": s.chars,
        })
        .to_string()
    } else {
        format!(
            "{name}: {:.4} nats/char, {:.4} bits/char, perplexity {:.3} over {} characters",
            s.nats_per_char(),
            s.bits_per_char(),
            s.perplexity(),
            s.chars
        )
    };
    output::print(format!("{line}\n"))
}
