//! The settings of a run beyond the trainer's config, kept in its checkpoints (metadata key
//! `train.run`) so that resuming from a file alone continues it; and the checks that keep a
//! resumed run the same run.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::config::{defaults, RunConfig};
use crate::error::{Error, Result};
use crate::finetune::Freeze;
use crate::kernels::Real;
use crate::model::Init;
use crate::optim::{Schedule, Shape};
use crate::resume::Resumable;

/// The metadata key of a [`RunRecord`] in a checkpoint.
pub const META_KEY: &str = "train.run";

/// The run-level settings of a run, stored as JSON in its checkpoints ([`META_KEY`]): the
/// resolved values of the [`RunConfig`] fields the trainer's config does not hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The text file (`None`: a text in memory, [`RunConfig::text`]).
    pub data: Option<PathBuf>,
    pub keep_cr: bool,
    pub val_frac: f64,
    pub eval_every: u64,
    pub steps: Option<u64>,
    pub epochs: Option<u64>,
    /// The time budget in seconds, counted across resumes (absent in checkpoints of older
    /// builds, where it was the session's).
    #[serde(default)]
    pub max_time: Option<f64>,
    pub out: PathBuf,
    pub metrics: Option<PathBuf>,
    pub checkpoint_dir: PathBuf,
    pub checkpoint_every: u64,
    pub keep: usize,
    pub print_every: u64,
    pub sample_every: u64,
    pub sample_len: usize,
    /// The recipe the run was set up with, resolved (`auto` never appears).
    #[serde(default)]
    pub preset: Option<super::Preset>,
    /// How the weights were drawn (absent in checkpoints of older builds: the notebook's).
    #[serde(default)]
    pub init: Option<Init>,
    pub std: f64,
    /// Characters of the text and a hash of it, so a resume on another text is refused.
    pub corpus_chars: u64,
    pub corpus_hash: u64,
    /// Seconds trained before this session.
    pub elapsed: f64,
}

impl RunRecord {
    /// A new run's settings, its files in `run_dir` unless `c` places them (without a run
    /// directory, checkpoints go beside the model: `NAME.checkpoints` for `NAME.safetensors`).
    ///
    /// # Panics
    /// If `c` leaves `out` to a `run_dir` that is not given.
    pub(crate) fn fresh(c: &RunConfig, run_dir: Option<&Path>) -> Self {
        let out = c.out.clone().unwrap_or_else(|| {
            run_dir
                .expect("a run directory for the model")
                .join(defaults::OUT)
        });
        let checkpoint_dir = c.checkpoint_dir.clone().unwrap_or_else(|| match run_dir {
            Some(d) => d.join(defaults::CHECKPOINT_DIR),
            None => out.with_extension("checkpoints"),
        });
        RunRecord {
            data: c.data.clone(),
            keep_cr: c.keep_cr.unwrap_or(false),
            val_frac: c.val_frac.unwrap_or(0.0),
            eval_every: c.eval_every.unwrap_or(defaults::EVAL_EVERY),
            steps: c
                .steps
                .or((c.epochs.is_none() && c.max_time.is_none()).then_some(defaults::STEPS)),
            epochs: c.epochs,
            max_time: c.max_time.map(|d| d.as_secs_f64()),
            out,
            metrics: c.metrics.clone(),
            checkpoint_dir,
            checkpoint_every: c.checkpoint_every.unwrap_or(0),
            keep: c.keep.unwrap_or(defaults::KEEP),
            print_every: c.print_every.unwrap_or(defaults::PRINT_EVERY),
            sample_every: c.sample_every.unwrap_or(defaults::SAMPLE_EVERY),
            sample_len: c.sample_len.unwrap_or(defaults::SAMPLE_LEN),
            preset: c.preset,
            init: c.init,
            std: c.std.unwrap_or(defaults::STD),
            corpus_chars: 0,
            corpus_hash: 0,
            elapsed: 0.0,
        }
    }

    /// A resumed run's settings: the saved ones, with those given now that do not change the
    /// run (where the output goes, how often to report, when to stop).
    pub(crate) fn merged(&self, c: &RunConfig) -> Self {
        let mut rec = self.clone();
        if c.data.is_some() {
            rec.data = c.data.clone();
        }
        if c.steps.is_some() || c.epochs.is_some() || c.max_time.is_some() {
            // New stopping rules replace the saved ones; none given keeps them.
            rec.steps = c.steps;
            rec.epochs = c.epochs;
            rec.max_time = c.max_time.map(|d| d.as_secs_f64());
        }
        if c.metrics.is_some() {
            rec.metrics = c.metrics.clone();
        }
        let set = |to: &mut u64, v: Option<u64>| *to = v.unwrap_or(*to);
        set(&mut rec.eval_every, c.eval_every);
        set(&mut rec.checkpoint_every, c.checkpoint_every);
        set(&mut rec.print_every, c.print_every);
        set(&mut rec.sample_every, c.sample_every);
        rec.out = c.out.clone().unwrap_or(rec.out);
        rec.checkpoint_dir = c.checkpoint_dir.clone().unwrap_or(rec.checkpoint_dir);
        rec.keep = c.keep.unwrap_or(rec.keep);
        rec.sample_len = c.sample_len.unwrap_or(rec.sample_len);
        rec
    }

    /// The record of a resumable checkpoint at `file`.
    pub(crate) fn of<T>(file: &Path, r: &Resumable<T>) -> Result<Self> {
        r.checkpoint
            .meta
            .get(META_KEY)
            .and_then(|j| serde_json::from_str(j).ok())
            .ok_or_else(|| {
                Error::config(format!(
                    "{}: has training state but no charrnn train settings (\"{META_KEY}\"): resume it from the library, or start from its weights with `init_from`",
                    file.display()
                ))
            })
    }
}

/// Refuse settings that would change a resumed run (other than `lr`), naming the saved value.
pub(crate) fn check_resume<T: Real>(
    c: &RunConfig,
    file: &Path,
    r: &Resumable<T>,
    rec: &RunRecord,
) -> Result<()> {
    let m = r.checkpoint.model.config();
    let t = &r.config;
    let (decay, decay_every, shape, lr_min) = match t.schedule {
        Schedule::Constant => (None, None, None, None),
        Schedule::Step { factor, every } => (Some(factor), Some(every), None, None),
        Schedule::Anneal { shape, min, .. } => (None, None, Some(shape), Some(min)),
    };
    fn given(x: Option<impl ToString>) -> Option<String> {
        x.map(|x| x.to_string())
    }
    fn s(x: impl ToString) -> String {
        x.to_string()
    }
    let opt = |x: Option<f64>| x.map_or("(none)".into(), s);
    let lower = |x: &dyn std::fmt::Debug| format!("{x:?}").to_lowercase();
    // A setting that does not apply to the saved run (the decay period of a run without step
    // decay, the final rate of one without a cosine schedule) agrees with whatever is given.
    let or_given = |saved: Option<String>, want: Option<String>| saved.or(want).unwrap_or_default();
    let checks: Vec<(&str, Option<String>, String)> = vec![
        ("cell", given(c.cell.map(|x| x.name())), s(m.cell.name())),
        ("layers", given(c.layers), s(m.layers)),
        ("emb", given(c.emb), s(m.emb)),
        ("hidden", given(c.hidden), s(m.hidden)),
        ("dropout", given(c.dropout), s(t.dropout)),
        ("seq_len", given(c.seq_len), s(t.seq_len)),
        ("batch", given(c.batch), s(t.batch)),
        (
            "optim",
            given(c.optim.map(|x| x.name())),
            s(t.optim.kind.name()),
        ),
        ("lr_decay", given(c.lr_decay), opt(decay)),
        (
            "lr_decay_every",
            given(c.lr_decay_every),
            or_given(given(decay_every), given(c.lr_decay_every)),
        ),
        ("cosine", given(c.cosine), s(shape == Some(Shape::Cosine))),
        ("linear", given(c.linear), s(shape == Some(Shape::Linear))),
        ("warmup", given(c.warmup), s(t.warmup)),
        (
            "lr_min",
            given(c.lr_min),
            or_given(given(lr_min), given(c.lr_min)),
        ),
        ("beta1", given(c.beta1), s(t.optim.beta1)),
        ("beta2", given(c.beta2), s(t.optim.beta2)),
        ("alpha", given(c.alpha), s(t.optim.alpha)),
        ("momentum", given(c.momentum), s(t.optim.momentum)),
        ("eps", given(c.eps), s(t.optim.eps)),
        ("std", given(c.std), s(rec.std)),
        (
            "preset",
            given(c.preset.map(|p| p.name())),
            s(rec.preset.map_or("(none)", |p| p.name())),
        ),
        (
            "init",
            given(c.init.map(|i| i.name())),
            s(rec.init.unwrap_or(Init::Notebook).name()),
        ),
        ("clip", given(c.clip), s(t.clip.value.unwrap_or(0.0))),
        (
            "clip_mode",
            c.clip_mode.map(|x| lower(&x)),
            lower(&t.clip.mode),
        ),
        (
            "clip_embedding",
            given(c.clip_embedding),
            s(t.clip.embedding),
        ),
        ("seed", given(c.seed), s(t.seed)),
        ("val_frac", given(c.val_frac), s(rec.val_frac)),
        ("keep_cr", given(c.keep_cr), s(rec.keep_cr)),
        (
            "freeze",
            c.freeze.as_ref().map(|p| Freeze::of(p).describe()),
            r.freeze.describe(),
        ),
    ];
    for (field, want, have) in checks {
        if let Some(want) = want.filter(|w| *w != have) {
            return Err(Error::config(format!(
                "`{field}` {want} differs from the resumed run's {have} ({}): drop `{field}` to continue that run, or start a new one from its weights with `init_from`",
                file.display()
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn none_is_the_default_of_a_new_run() {
        let (none, defaults) = (RunConfig::default(), RunConfig::defaults());
        let dir = Some(Path::new("runs/7"));
        assert_eq!(
            RunRecord::fresh(&none, dir),
            RunRecord::fresh(&defaults, dir)
        );
        assert_eq!(
            RunRecord::fresh(&none, dir).out,
            Path::new("runs/7/model.safetensors")
        );
        let t = |c: &RunConfig| {
            RunConfig {
                threads: Some(1),
                ..c.clone()
            }
            .new_train_config()
        };
        assert_eq!(t(&none).unwrap(), t(&defaults).unwrap());
        assert_eq!(RunRecord::fresh(&none, dir).steps, Some(defaults::STEPS));
    }

    #[test]
    fn a_resume_replaces_only_what_is_given() {
        let saved = RunRecord::fresh(&RunConfig::defaults(), Some(Path::new("runs/1")));
        assert_eq!(saved.merged(&RunConfig::default()), saved);
        let c = RunConfig {
            epochs: Some(3),
            keep: Some(9),
            ..RunConfig::default()
        };
        let m = saved.merged(&c);
        assert_eq!((m.steps, m.epochs, m.keep), (None, Some(3), 9));
        assert_eq!(m.out, saved.out);
        // A time budget given alone replaces the saved steps; none given keeps the budget.
        let timed = saved.merged(&RunConfig {
            max_time: Some(std::time::Duration::from_secs(90)),
            ..RunConfig::default()
        });
        assert_eq!((timed.steps, timed.max_time), (None, Some(90.0)));
        assert_eq!(timed.merged(&RunConfig::default()).max_time, Some(90.0));
    }
}
