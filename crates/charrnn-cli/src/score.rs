//! `charrnn score`: a model's loss on any text, in nats and bits per character.

use std::path::PathBuf;

use charrnn::corpus::{self, LoadOptions, OnUnknown, Source};
use charrnn::eval::evaluate;
use charrnn::vocab::describe_chars;
use charrnn::{checkpoint, Error, Real, Result};
use clap::Args;

use crate::sample::Unknown;
use crate::Dtype;

/// Flags of `charrnn score`.
#[derive(Args, Debug)]
pub struct ScoreArgs {
    /// Checkpoint to score with
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// UTF-8 text to score
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// Print one JSON object: nats_per_char, bits_per_char, perplexity, chars
    #[arg(long)]
    pub json: bool,
    /// Characters outside the model's vocabulary: an error that lists them, or skip them
    #[arg(long, value_enum, default_value_t = Unknown::Error)]
    pub unknown: Unknown,
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
    let src = Source::File(&a.data);
    let counts = corpus::scan(src, &opts, |_| {})?;
    let (unknown, _) = counts.unknown_to(&ck.vocab);
    // A model trained with --max-vocab/--min-count has the unknown symbol: rare characters
    // are scored as it, as they were trained.
    let replace = ck.vocab.unknown_id().is_some();
    if !unknown.is_empty() && a.unknown == Unknown::Error && !replace {
        return Err(Error::Vocab(format!(
            "{} has characters not in the model's vocabulary: {}; pass --unknown skip to leave them out",
            a.data.display(),
            describe_chars(&unknown)
        )));
    }
    let on_unknown = if replace {
        OnUnknown::Replace
    } else {
        OnUnknown::Skip
    };
    let ids = corpus::encode(src, &opts, &ck.vocab, &counts, on_unknown, |_| {})?;
    if ids.len() < 2 {
        return Err(Error::Corpus {
            path: a.data.clone(),
            msg: "has fewer than 2 characters the model knows: nothing to score".into(),
        });
    }
    let s = evaluate(&ck.model, &ids, a.seq_len);
    if a.json {
        println!(
            "{}",
            serde_json::json!({
                "nats_per_char": s.nats_per_char(),
                "bits_per_char": s.bits_per_char(),
                "perplexity": s.perplexity(),
                "chars": s.chars,
            })
        );
    } else {
        println!(
            "{}: {:.4} nats/char, {:.4} bits/char, perplexity {:.3} over {} characters",
            a.data.display(),
            s.nats_per_char(),
            s.bits_per_char(),
            s.perplexity(),
            s.chars
        );
    }
    Ok(())
}
