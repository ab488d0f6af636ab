//! `charrnn sample`: generate text from a saved model, streamed as it is drawn.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use charrnn::checkpoint;
use charrnn::sample::Sampler;
use charrnn::vocab::describe_chars;
use charrnn::{Error, Real, Result};
use clap::{Args, ValueEnum};

use crate::Dtype;

/// What to do with prime characters the model does not know.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Unknown {
    /// Stop with an error that lists them.
    Error,
    /// Leave them out of the prime.
    Skip,
}

/// Flags of `charrnn sample`.
#[derive(Args, Debug)]
pub struct SampleArgs {
    /// Checkpoint written by `charrnn train` (or a notebook/PyTorch safetensors file with "vocab")
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Characters to generate
    #[arg(short = 'n', long = "len", default_value_t = 500, value_name = "N")]
    pub n: usize,
    /// Text to warm the state with; the output starts with it [default: a newline, not printed]
    #[arg(long, value_name = "TEXT")]
    pub prime: Option<String>,
    /// Random seed: the same seed and arguments give the same text [default: from the clock]
    #[arg(long, value_name = "S")]
    pub seed: Option<u64>,
    /// Prime characters outside the model's vocabulary
    #[arg(long, value_enum, default_value_t = Unknown::Error)]
    pub unknown: Unknown,
    /// Arithmetic precision
    #[arg(long, value_enum, default_value_t = Dtype::F32)]
    pub dtype: Dtype,
}

pub fn run(a: SampleArgs) -> Result<()> {
    match a.dtype {
        Dtype::F32 => run_typed::<f32>(a),
        Dtype::F64 => run_typed::<f64>(a),
    }
}

fn run_typed<T: Real>(a: SampleArgs) -> Result<()> {
    let ck = checkpoint::load::<T>(&a.model)?;
    let vocab = &ck.vocab;
    let (prime, echo): (Vec<u32>, String) = match &a.prime {
        Some(p) => {
            let unknown = vocab.unknown(p);
            if !unknown.is_empty() && a.unknown == Unknown::Error {
                return Err(Error::Vocab(format!(
                    "--prime has characters not in the model's vocabulary: {}; remove them or pass --unknown skip",
                    describe_chars(&unknown)
                )));
            }
            let kept: String = p.chars().filter(|&c| vocab.id(c).is_some()).collect();
            if kept.is_empty() {
                return Err(Error::Vocab(
                    "--prime has no character the model knows".into(),
                ));
            }
            (
                kept.chars()
                    .map(|c| vocab.id(c).expect("filtered"))
                    .collect(),
                kept,
            )
        }
        None => (vec![vocab.id('\n').unwrap_or(0)], String::new()),
    };
    let seed = a.seed.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
    });
    let stdout = std::io::stdout();
    let live = stdout.is_terminal();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let write_err =
        |e: std::io::Error| Error::Config(format!("cannot write to standard output: {e}"));
    out.write_all(echo.as_bytes()).map_err(write_err)?;
    let mut sampler = Sampler::new(&ck.model, seed);
    let mut failed = None;
    let mut buf = [0u8; 4];
    sampler.generate(&prime, a.n, |c| {
        if failed.is_some() {
            return;
        }
        let s = vocab.char(c).encode_utf8(&mut buf);
        let r = out
            .write_all(s.as_bytes())
            .and_then(|_| if live { out.flush() } else { Ok(()) });
        if let Err(e) = r {
            failed = Some(e);
        }
    });
    if let Some(e) = failed {
        // A closed pipe (`charrnn sample | head`) is not an error.
        if e.kind() == std::io::ErrorKind::BrokenPipe {
            return Ok(());
        }
        return Err(write_err(e));
    }
    match writeln!(out).and_then(|_| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(write_err(e)),
        _ => Ok(()),
    }
}
