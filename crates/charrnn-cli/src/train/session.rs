//! One session of a run: the settings and metadata every checkpoint carries, the clock, and the
//! last checkpoint written (the one a diverged run names).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Instant;

use charrnn::eval::EvalStats;
use charrnn::resume;
use charrnn::sample::Sampler;
use charrnn::train::Trainer;
use charrnn::{Real, Result, Vocab};

use super::RunRecord;
use crate::checkpoints;

/// Why the loop stopped.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Stop {
    Done,
    Interrupted,
    OutOfTime,
}

/// Everything the loop needs besides the trainer.
pub struct Session<'a> {
    pub rec: RunRecord,
    pub vocab: &'a Vocab,
    /// The run's hyperparameters as metadata (what plain model files always had).
    pub meta: BTreeMap<String, String>,
    pub started: Instant,
    /// The last checkpoint written or resumed from: intact if training diverges.
    pub last_ckpt: Option<PathBuf>,
    /// The step of the last checkpoint written.
    pub ckpt_step: Option<u64>,
}

impl Session<'_> {
    pub fn elapsed(&self) -> f64 {
        self.rec.elapsed + self.started.elapsed().as_secs_f64()
    }

    /// Write a resumable checkpoint of `t` into the checkpoint directory, then rotate.
    pub fn checkpoint<T: Real>(
        &mut self,
        t: &Trainer<T>,
        val: Option<EvalStats>,
    ) -> Result<PathBuf> {
        let dir = self.rec.checkpoint_dir.clone();
        checkpoints::ensure_dir(&dir)?;
        let val = val.map(|v| v.nats_per_char());
        let path = dir.join(checkpoints::name(t.step, val));
        let mut rec = self.rec.clone();
        rec.elapsed = self.elapsed();
        let mut meta = self.meta.clone();
        meta.insert("steps".into(), t.step.to_string());
        meta.insert("smooth_loss".into(), t.smooth_loss.to_string());
        if let Some(v) = val {
            meta.insert("val_loss".into(), v.to_string());
        }
        meta.insert(
            "train.run".into(),
            serde_json::to_string(&rec).expect("records serialize"),
        );
        resume::save(&path, t, self.vocab, &meta)?;
        checkpoints::rotate(&dir, t.step, self.rec.keep)?;
        self.last_ckpt = Some(path.clone());
        self.ckpt_step = Some(t.step);
        Ok(path)
    }
}

/// The notebook's periodic sample: from a zero state, seeded by `first`, `n` characters.
pub fn sample_text<T: Real>(
    model: &charrnn::Model<T>,
    vocab: &Vocab,
    first: u32,
    n: usize,
    seed: u64,
) -> String {
    let mut sampler = Sampler::new(model, seed);
    let mut text = String::with_capacity(n);
    sampler.generate(&[first], n, |c| text.push(vocab.char(c)));
    format!("----\n {text} \n----")
}
