//! The settings of a `charrnn train` run beyond the library's config, kept in its checkpoints
//! (`train.run`) so that `--resume FILE` alone continues it; and the checks that keep a resumed
//! run the same run.

use std::path::{Path, PathBuf};

use charrnn::optim::Schedule;
use charrnn::{resume, Real, Result};
use clap::parser::ValueSource;
use clap::ArgMatches;
use serde::{Deserialize, Serialize};

use super::{cell_kind, TrainArgs};
use charrnn::Error;

/// The CLI-level settings of a run, stored in its checkpoints (`train.run`) so that
/// `--resume FILE` alone continues it.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct RunRecord {
    pub data: Option<PathBuf>,
    pub keep_cr: bool,
    pub val_frac: f64,
    pub eval_every: u64,
    pub steps: Option<u64>,
    pub epochs: Option<u64>,
    pub out: PathBuf,
    pub metrics: Option<PathBuf>,
    pub checkpoint_dir: PathBuf,
    pub checkpoint_every: u64,
    pub keep: usize,
    pub print_every: u64,
    pub sample_every: u64,
    pub sample_len: usize,
    pub std: f64,
    /// Characters of the text and a hash of it, so a resume on another text is refused.
    pub corpus_chars: u64,
    pub corpus_hash: u64,
    /// Seconds trained before this session.
    pub elapsed: f64,
}

/// A new run's settings, from its flags.
pub fn fresh(a: &TrainArgs) -> RunRecord {
    RunRecord {
        data: a.data.clone(),
        keep_cr: a.keep_cr,
        val_frac: a.val_frac,
        eval_every: a.eval_every,
        steps: a
            .steps
            .or((a.epochs.is_none() && a.max_time.is_none()).then_some(50_000)),
        epochs: a.epochs,
        out: a.out.clone(),
        metrics: a.metrics.clone(),
        checkpoint_dir: a.checkpoint_dir.clone(),
        checkpoint_every: a.checkpoint_every,
        keep: a.keep,
        print_every: a.print_every,
        sample_every: a.sample_every,
        sample_len: a.sample_len,
        std: a.std,
        corpus_chars: 0,
        corpus_hash: 0,
        elapsed: 0.0,
    }
}

/// A resumed run's settings: the saved ones, with the flags given now that do not change the
/// run (where the output goes, how often to report, when to stop).
pub fn merge(saved: &RunRecord, a: &TrainArgs, given: &ArgMatches) -> RunRecord {
    let pick = |id: &str| was_given(given, id);
    let mut rec = saved.clone();
    if a.data.is_some() {
        rec.data = a.data.clone();
    }
    if pick("steps") || pick("epochs") {
        // New stopping rules replace the saved ones (--max-time is this session's).
        rec.steps = a.steps;
        rec.epochs = a.epochs;
    }
    if pick("eval_every") {
        rec.eval_every = a.eval_every;
    }
    if pick("out") {
        rec.out = a.out.clone();
    }
    if a.metrics.is_some() {
        rec.metrics = a.metrics.clone();
    }
    if pick("checkpoint_dir") {
        rec.checkpoint_dir = a.checkpoint_dir.clone();
    }
    if pick("checkpoint_every") {
        rec.checkpoint_every = a.checkpoint_every;
    }
    if pick("keep") {
        rec.keep = a.keep;
    }
    if pick("print_every") {
        rec.print_every = a.print_every;
    }
    if pick("sample_every") {
        rec.sample_every = a.sample_every;
    }
    if pick("sample_len") {
        rec.sample_len = a.sample_len;
    }
    rec
}

/// Was this flag on the command line (not a default)?
pub fn was_given(m: &ArgMatches, id: &str) -> bool {
    m.value_source(id) == Some(ValueSource::CommandLine)
}

/// Refuse flags that would change a resumed run (other than `--lr`), naming the saved value.
pub fn check_resume_flags<T: Real>(
    a: &TrainArgs,
    given: &ArgMatches,
    file: &Path,
    r: &resume::Resumable<T>,
    rec: &RunRecord,
) -> Result<()> {
    let m = r.checkpoint.model.config();
    let c = &r.config;
    let (decay, decay_every, cosine, lr_min) = match c.schedule {
        Schedule::Constant => (None, None, false, None),
        Schedule::Step { factor, every } => (Some(factor), Some(every), false, None),
        Schedule::Cosine { min, .. } => (None, None, true, Some(min)),
    };
    let opt = |x: Option<String>| x.unwrap_or_else(|| "(none)".into());
    let checks: Vec<(&str, &str, String, String)> = vec![
        (
            "cell",
            "--cell",
            a.cell.map_or(String::new(), |x| cell_kind(x).name().into()),
            m.cell.name().into(),
        ),
        (
            "layers",
            "--layers",
            opt(a.layers.map(|x| x.to_string())),
            m.layers.to_string(),
        ),
        (
            "emb",
            "--emb",
            opt(a.emb.map(|x| x.to_string())),
            m.emb.to_string(),
        ),
        (
            "hidden",
            "--hidden",
            opt(a.hidden.map(|x| x.to_string())),
            m.hidden.to_string(),
        ),
        (
            "dropout",
            "--dropout",
            a.dropout.to_string(),
            c.dropout.to_string(),
        ),
        (
            "seq_len",
            "--seq-len",
            a.seq_len.to_string(),
            c.seq_len.to_string(),
        ),
        ("batch", "--batch", a.batch.to_string(), c.batch.to_string()),
        (
            "optim",
            "--optim",
            format!("{:?}", a.optim).to_lowercase(),
            c.optim.kind.name().into(),
        ),
        (
            "lr_decay",
            "--lr-decay",
            opt(a.lr_decay.map(|x| x.to_string())),
            opt(decay.map(|x| x.to_string())),
        ),
        (
            "lr_decay_every",
            "--lr-decay-every",
            a.lr_decay_every.to_string(),
            decay_every.map_or(a.lr_decay_every.to_string(), |x| x.to_string()),
        ),
        (
            "cosine",
            "--cosine",
            a.cosine.to_string(),
            cosine.to_string(),
        ),
        (
            "lr_min",
            "--lr-min",
            a.lr_min.to_string(),
            lr_min.map_or(a.lr_min.to_string(), |x| x.to_string()),
        ),
        (
            "beta1",
            "--beta1",
            a.beta1.to_string(),
            c.optim.beta1.to_string(),
        ),
        (
            "beta2",
            "--beta2",
            a.beta2.to_string(),
            c.optim.beta2.to_string(),
        ),
        (
            "alpha",
            "--alpha",
            a.alpha.to_string(),
            c.optim.alpha.to_string(),
        ),
        (
            "momentum",
            "--momentum",
            a.momentum.to_string(),
            c.optim.momentum.to_string(),
        ),
        ("eps", "--eps", a.eps.to_string(), c.optim.eps.to_string()),
        ("std", "--std", a.std.to_string(), rec.std.to_string()),
        (
            "clip",
            "--clip",
            a.clip.to_string(),
            c.clip.value.unwrap_or(0.0).to_string(),
        ),
        (
            "clip_mode",
            "--clip-mode",
            format!("{:?}", a.clip_mode).to_lowercase(),
            format!("{:?}", c.clip.mode).to_lowercase(),
        ),
        (
            "clip_embedding",
            "--clip-embedding",
            a.clip_embedding.to_string(),
            c.clip.embedding.to_string(),
        ),
        ("seed", "--seed", a.seed.to_string(), c.seed.to_string()),
        (
            "val_frac",
            "--val-frac",
            a.val_frac.to_string(),
            rec.val_frac.to_string(),
        ),
        (
            "keep_cr",
            "--keep-cr",
            a.keep_cr.to_string(),
            rec.keep_cr.to_string(),
        ),
    ];
    for (id, flag, want, have) in checks {
        if was_given(given, id) && want != have {
            return Err(Error::Config(format!(
                "{flag} {want} differs from the resumed run's {have} ({}): drop {flag} to continue that run, or start a new one from its weights with --init-from",
                file.display()
            )));
        }
    }
    Ok(())
}
