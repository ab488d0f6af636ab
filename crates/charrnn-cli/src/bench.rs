//! `charrnn bench`: training throughput (chars/s, estimated GFLOP/s) of named configurations,
//! and sampling throughput of the notebook's model.

use std::path::PathBuf;

use charrnn::bench::{self, BenchConfig, CONFIGS};
use charrnn::corpus::{self, LoadOptions};
use charrnn::{Error, Result};
use clap::Args;

use crate::input::Input;
use crate::{builtin, output};

/// Flags of `charrnn bench`.
#[derive(Args, Debug)]
pub struct BenchArgs {
    /// Configurations to run: seed (rnn E4 H32 T32 B4), rnn256 (rnn E64 H256 T64 B32),
    /// lstm2x128 (lstm E64 H128 x2 T50 B50), gru256 (gru E64 H256 T64 B32), lstm2x512 (lstm
    /// E64 H512 x2 T100 B50) [default: all]
    #[arg(long = "config", value_name = "NAME")]
    pub configs: Vec<String>,
    /// Worker threads [default: all cores, or fewer for a configuration too small for them to
    /// pay; the output says how many it used]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Text to train on (`-`: standard input) [default: the built-in corpus]
    #[arg(long, value_name = "FILE")]
    pub data: Option<PathBuf>,
    /// Seconds of timed training per configuration
    #[arg(long, default_value_t = 3.0, value_name = "S")]
    pub seconds: f64,
    /// One JSON object per line: config, threads, chars_per_s, gflops (and sample_chars_per_s
    /// for seed)
    #[arg(long)]
    pub json: bool,
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
                bench::config(n).ok_or_else(|| {
                    let names: Vec<_> = CONFIGS.iter().map(|c| c.name).collect();
                    Error::Config(format!(
                        "unknown bench config {n:?}: use one of {}",
                        names.join(", ")
                    ))
                })
            })
            .collect::<Result<_>>()?
    };
    let opts = LoadOptions::default();
    let input = a.data.as_deref().map(Input::open).transpose()?;
    let corpus::Corpus { vocab, ids, .. } = match &input {
        Some(i) => corpus::load_source(i.source(), &opts, |_| {})?,
        None => corpus::load_str(&builtin::text(), &opts)?,
    };
    // Each row as it is measured; a closed pipe ends the run before the next one.
    if !a.json {
        output::print(format!(
            "{:<12} {:>7} {:>14} {:>9}\n",
            "config", "threads", "train chars/s", "GFLOP/s"
        ))?;
    }
    for bc in chosen {
        let t = match a.threads {
            Some(_) => threads,
            None => charrnn::train::useful_threads(
                &bc.model(vocab.len()),
                bc.seq_len,
                bc.batch,
                threads,
            ),
        };
        let (speed, model) = bench::measure_train(&bc, &ids, vocab.len(), t, a.seconds)?;
        let sample =
            (bc.name == "seed").then(|| bench::measure_sampling(&model, a.seconds.min(2.0)));
        if a.json {
            let mut row = serde_json::json!({
                "config": bc.name,
                "threads": speed.threads,
                "chars_per_s": speed.chars_per_s.round(),
                "gflops": (speed.gflops * 1000.0).round() / 1000.0,
            });
            if let Some(s) = sample {
                row["sample_chars_per_s"] = serde_json::json!(s.round());
            }
            output::print(format!("{row}\n"))?;
        } else {
            output::print(format!(
                "{:<12} {:>7} {:>14.0} {:>9.2}\n",
                bc.name, speed.threads, speed.chars_per_s, speed.gflops
            ))?;
            if let Some(s) = sample {
                output::print(format!(
                    "{:<12} {:>7} {:>14.0} {:>9}\n",
                    "seed sample", 1, s, "(chars/s)"
                ))?;
            }
        }
    }
    Ok(())
}
