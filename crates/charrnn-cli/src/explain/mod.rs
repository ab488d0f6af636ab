//! `charrnn explain`: a text run through a model, as a self-contained HTML report (or JSON):
//! the surprise at every character, any unit of any layer, the units that track features of
//! the text, and how the gates saturate. The work is `charrnn::explain`'s; this reads the
//! flags and the text and writes the result.

pub mod view;

use std::path::PathBuf;
use std::time::Instant;

use charrnn::corpus::{self, LoadOptions, Source};
use charrnn::explain::{explain, ExplainConfig, Explanation};
use charrnn::fsutil::{check_target, write_atomic};
use charrnn::vocab::describe_chars;
use charrnn::{checkpoint, Error, Real, Result};
use clap::Args;

use crate::sample::Unknown;
use crate::{output, Dtype};

/// The most top predictions a character may list.
pub const MAX_TOP: usize = 20;

/// Flags of `charrnn explain`.
#[derive(Args, Debug)]
#[command(after_help = "\
The report colours every character by the model's surprise at it (hover one for what the model
expected there), or by any unit of any layer (h; c for an LSTM; or one of its gates), or by a
feature of the text; lists the units that correlate most with each feature (click one to show
it); and draws how often each gate sits near 0 or 1. It needs no network: open it from disk.

Examples:
  charrnn explain --model m.safetensors --text play.txt --out report.html
  charrnn explain --model m.safetensors --prime \"ROMEO: \\\"Hark!\\\" (aside)\" --json > e.json")]
pub struct ExplainArgs {
    /// Checkpoint to explain
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// UTF-8 text file to run through the model (its first --max-chars characters)
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "prime",
        conflicts_with = "prime"
    )]
    pub text: Option<PathBuf>,
    /// The text itself, instead of --text
    #[arg(long, value_name = "TEXT")]
    pub prime: Option<String>,
    /// Where to write the report [default: explain.html; with --json, standard output]
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Write the numbers as one JSON object instead of the HTML report
    #[arg(long)]
    pub json: bool,
    /// Explain at most the first N characters (the work and the report grow with N)
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_chars: usize,
    /// Top predictions listed per character
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top: usize,
    /// Characters outside the model's vocabulary: an error that lists them (on a model
    /// trained with --max-vocab or --min-count they are read as its unknown symbol U+FFFD),
    /// skip them, or replace them by U+FFFD
    #[arg(long, value_enum, default_value_t = Unknown::Error)]
    pub unknown: Unknown,
    /// Keep `\r\n` and lone `\r` as they are
    #[arg(long)]
    pub keep_cr: bool,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
}

pub fn run(a: ExplainArgs) -> Result<()> {
    match a.dtype {
        Dtype::F32 => run_typed::<f32>(a),
        Dtype::F64 => run_typed::<f64>(a),
    }
}

fn run_typed<T: Real>(a: ExplainArgs) -> Result<()> {
    if a.max_chars == 0 {
        return Err(Error::Config("--max-chars must be at least 1".into()));
    }
    if a.top == 0 || a.top > MAX_TOP {
        return Err(Error::Config(format!(
            "--top must be from 1 to {MAX_TOP}, got {}",
            a.top
        )));
    }
    let out = match (&a.out, a.json) {
        (Some(p), _) => Some(p.clone()),
        (None, false) => Some(PathBuf::from("explain.html")),
        (None, true) => None,
    };
    if let Some(p) = &out {
        check_target(p)?;
    }
    let ck = checkpoint::load::<T>(&a.model)?;
    let (text, more, source) = match (&a.text, &a.prime) {
        (Some(path), _) => {
            let opts = LoadOptions {
                keep_cr: a.keep_cr,
                ..Default::default()
            };
            let (text, more) = corpus::read_head(Source::File(path), &opts, a.max_chars)?;
            (text, more, path.display().to_string())
        }
        (None, Some(p)) => (p.clone(), false, "--prime".to_string()),
        (None, None) => unreachable!("clap requires --text or --prime"),
    };
    let head: String = text.chars().take(a.max_chars).collect();
    // `--unknown replace` needs the unknown symbol, as in `sample` and `score`.
    Unknown::resolve(Some(a.unknown), &ck.vocab)?;
    let unknown = ck.vocab.unknown(&head);
    if !unknown.is_empty() && a.unknown == Unknown::Error && ck.vocab.unknown_id().is_none() {
        return Err(Error::Vocab(format!(
            "{source} has characters not in the model's vocabulary: {}; pass --unknown skip to leave them out",
            describe_chars(&unknown)
        )));
    }
    let cfg = ExplainConfig {
        max_chars: a.max_chars,
        top: a.top,
        skip_unknown: a.unknown == Unknown::Skip,
        ..Default::default()
    };
    let t0 = Instant::now();
    let mut e =
        explain(&ck.model, &ck.vocab, &text, &cfg).map_err(|e| with_flag_hint(e, &source))?;
    e.truncated |= more;
    let secs = t0.elapsed().as_secs_f64();
    let model_name = a
        .model
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
    let bytes = if a.json {
        serde_json::to_string(&e).expect("explanations serialize") + "\n"
    } else {
        let title = format!("{model_name} on {source}");
        view::html(&view::View::new(&e, &title))
    };
    match &out {
        Some(p) => {
            write_atomic(p, bytes.as_bytes())?;
            let text = summary(
                &e,
                p.display().to_string(),
                bytes.len(),
                secs,
                &source,
                a.max_chars,
            );
            output::print(text)
        }
        None => output::print(bytes),
    }
}

/// The library's message in the CLI's words: its settings (in backticks) as flags, and the
/// text it is about.
fn with_flag_hint(e: Error, source: &str) -> Error {
    let flags = |m: String| m.replace("`max_chars`", "--max-chars");
    match e {
        Error::Config(m) => Error::Config(format!("{source}: {}", flags(m))),
        Error::Vocab(m) => Error::Vocab(format!("{source}: {m}")),
        e => e,
    }
}

/// What was written, the loss, and the unit found first for each feature.
fn summary(
    e: &Explanation,
    out: String,
    bytes: usize,
    secs: f64,
    source: &str,
    max: usize,
) -> String {
    let n = e.text.chars().count();
    let mut lines = vec![format!(
        "wrote {out} ({:.1} MB): {n} characters in {secs:.2} s, {:.4} bits/char",
        bytes as f64 / 1e6,
        e.loss.bits_per_char,
    )];
    if e.truncated {
        lines.push(format!(
            "{source} has more: the first {max} characters were explained (--max-chars)"
        ));
    }
    for f in e.found.iter().filter(|f| f.varies) {
        let units: Vec<String> = f
            .neurons
            .iter()
            .take(3)
            .map(|u| format!("L{} {}{} r={:+.2}", u.layer, u.channel, u.unit, u.r))
            .collect();
        lines.push(format!("  {:12} {}", f.feature, units.join(", ")));
    }
    lines.push(String::new());
    lines.join("\n")
}
