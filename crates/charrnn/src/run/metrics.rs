//! The metrics file of a training run ([`crate::run`]): one JSON object per step, a line each.
//!
//! Fields: `step` (from 0), `epoch`, `loss` (the window's, summed over time and batch, as the
//! notebook prints), `nats_per_char` (the same per character), `smooth_loss` (the notebook's),
//! `lr`, `grad_norm` (before clipping), `clip_fraction` (share of gradient elements clipped),
//! `chars_per_s` (this session's mean), `elapsed` (seconds since the run began, across
//! resumes), and `val_loss` / `val_bpc` (nats and bits per character) and `val_secs` (seconds
//! the scoring took) when the validation text
//! was scored after the step. Non-finite numbers are written as `null`.
//!
//! A resumed run keeps the rows before the step it resumes at and appends: the rows an
//! interrupted run wrote past its last checkpoint are written again, not twice.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::StepRecord;
use crate::error::{Error, Result};

/// One row.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Row {
    pub step: u64,
    pub epoch: u64,
    pub loss: Option<f64>,
    pub nats_per_char: Option<f64>,
    pub smooth_loss: Option<f64>,
    pub lr: Option<f64>,
    pub grad_norm: Option<f64>,
    pub clip_fraction: Option<f64>,
    pub chars_per_s: Option<f64>,
    pub elapsed: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_loss: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub val_bpc: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub val_secs: Option<f64>,
}

impl From<&StepRecord> for Row {
    fn from(r: &StepRecord) -> Self {
        Row {
            step: r.step,
            epoch: r.epoch,
            loss: finite(r.loss),
            nats_per_char: finite(r.nats_per_char),
            smooth_loss: finite(r.smooth_loss),
            lr: finite(r.lr),
            grad_norm: finite(r.grad_norm),
            clip_fraction: finite(r.clip_fraction),
            chars_per_s: finite(r.chars_per_s),
            elapsed: r.elapsed,
            val_loss: r.val.map(|v| v.nats_per_char()),
            val_bpc: r.val.map(|v| v.bits_per_char()),
            val_secs: r.val_secs,
        }
    }
}

/// A finite number, or `None` (written as `null`).
pub fn finite(x: f64) -> Option<f64> {
    x.is_finite().then_some(x)
}

/// An open metrics file.
pub struct Metrics {
    path: PathBuf,
    out: BufWriter<File>,
}

impl Metrics {
    /// Start a new file, or, resuming at `from_step`, keep the rows before it (those after it
    /// were written by the interrupted run past its last checkpoint and will be written again)
    /// and append.
    pub fn open(path: &Path, from_step: Option<u64>) -> Result<Self> {
        let cannot = |e: std::io::Error| {
            Error::Config(format!(
                "{}: cannot write the metrics file: {e}",
                path.display()
            ))
        };
        let mut kept = Vec::new();
        if let (Some(from), true) = (from_step, path.exists()) {
            let f = File::open(path).map_err(cannot)?;
            for line in BufReader::new(f).lines() {
                let line = line.map_err(cannot)?;
                match serde_json::from_str::<serde_json::Value>(&line) {
                    Ok(v) if v["step"].as_u64().is_some_and(|s| s < from) => kept.push(line),
                    _ => {}
                }
            }
        }
        crate::fsutil::check_target(path)?;
        let mut out = BufWriter::new(File::create(path).map_err(cannot)?);
        for line in kept {
            writeln!(out, "{line}").map_err(cannot)?;
        }
        Ok(Metrics {
            path: path.to_path_buf(),
            out,
        })
    }

    /// Append a row (buffered: [`Metrics::flush`] writes it out).
    pub fn write(&mut self, row: &Row) -> Result<()> {
        let line = serde_json::to_string(row).expect("rows serialize");
        writeln!(self.out, "{line}").map_err(|e| self.err(e))
    }

    pub fn flush(&mut self) -> Result<()> {
        self.out.flush().map_err(|e| self.err(e))
    }

    fn err(&self, e: std::io::Error) -> Error {
        Error::Config(format!(
            "{}: cannot write the metrics file: {e}",
            self.path.display()
        ))
    }
}
