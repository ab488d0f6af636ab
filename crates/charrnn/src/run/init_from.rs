//! A new run that starts from a checkpoint's weights (`init_from`): the text's characters
//! matched to the model's by character, the vocabulary extended (`extend_vocab`) and the
//! optimizer's state carried over (`keep_optimizer`); and, for any new run, the parts held
//! fixed (`freeze`). See [`crate::finetune`].

use std::path::Path;

use super::config::RunConfig;
use super::{Event, Note, Sink};
use crate::checkpoint::Checkpoint;
use crate::error::{Error, Result};
use crate::finetune::{extend_vocab, Freeze, Part, VocabFit};
use crate::kernels::Real;
use crate::memory;
use crate::model::Model;
use crate::optim::OptimConfig;
use crate::resume;
use crate::train::{TrainConfig, Trainer};
use crate::vocab::{describe_chars, CharCounts, Vocab};

/// What a run from a checkpoint brings besides its model and vocabulary.
pub(super) struct Carried<T> {
    /// The optimizer's update count and buffers (`keep_optimizer`).
    optim: Option<(u64, Vec<T>, Vec<T>)>,
    /// The first id `extend_vocab` added.
    added_from: Option<usize>,
}

impl<T> Default for Carried<T> {
    fn default() -> Self {
        Carried {
            optim: None,
            added_from: None,
        }
    }
}

/// The model and vocabulary a run on the text of `counts` (called `source`) trains from the
/// checkpoint `ck` (read from `path`): the checkpoint's, extended by the text's new characters
/// with `extend_vocab`. With `keep_optimizer`, `cfg`'s optimizer settings not given in `c` are
/// the checkpoint's, and its state is carried.
pub(super) fn fit<T: Real>(
    c: &RunConfig,
    cfg: &mut TrainConfig,
    path: &Path,
    ck: Checkpoint<T>,
    counts: &CharCounts,
    source: &str,
    sink: &mut dyn Sink,
) -> Result<(Model<T>, Vocab, Carried<T>)> {
    let fit = VocabFit::new(&counts.sorted(), &ck.vocab);
    let new = fit.new_chars();
    let share = |n: u64| {
        format!(
            "{n} of its {} characters, {:.2}%",
            fit.text_chars,
            100.0 * fit.new_share()
        )
    };
    let mut carried = Carried::default();
    // Told once every check has passed, so that an error is the only thing a failed run says.
    let mut notes = Vec::new();
    let extend = !new.is_empty() && c.extend_vocab == Some(true);
    if !new.is_empty() && !extend && !fit.has_unknown {
        return Err(Error::Vocab(format!(
            "{source} has characters that {} does not know: {} ({}): add them to the model with `extend_vocab`, or train a new model without `init_from`",
            path.display(),
            describe_chars(&new),
            share(fit.new_count)
        )));
    }
    if let Some(max) = c.max_vocab.filter(|&m| extend && fit.extended_vocab() > m) {
        return Err(Error::config(format!(
            "`extend_vocab` would take the {} characters of {} to {} with the {} new ones of {source}, over `max_vocab` {max}: raise `max_vocab`, or train on a text with fewer new characters",
            fit.model_vocab,
            path.display(),
            fit.extended_vocab(),
            new.len()
        )));
    }
    if c.keep_optimizer == Some(true) {
        if extend {
            return Err(Error::config(format!(
                "`keep_optimizer` needs the vocabulary of {} unchanged (its optimizer state is sized to it), but `extend_vocab` adds {} characters: drop `keep_optimizer` (a fresh optimizer is the default)",
                path.display(),
                new.len()
            )));
        }
        carried.optim = Some(optimizer_state(c, cfg, path, &ck.meta, &mut notes)?);
    }
    let (model, vocab) = if extend {
        let (model, vocab) = extend_vocab(&ck.model, &ck.vocab, &new)?;
        carried.added_from = Some(fit.model_vocab);
        notes.push(Note::VocabExtended {
            added: new,
            count: fit.new_count,
            of: fit.text_chars,
        });
        (model, vocab)
    } else {
        if !new.is_empty() {
            notes.push(Note::ReadAsUnknown {
                chars: new,
                count: fit.new_count,
                of: fit.text_chars,
            });
        }
        (ck.model, ck.vocab)
    };
    memory::check_fits(&model.config(), cfg, T::BYTES)?;
    if let Some(parts) = c.freeze.as_deref().filter(|p| !p.is_empty()) {
        let freeze = Freeze {
            parts: parts.to_vec(),
            new_from: carried.added_from,
        };
        freeze.ranges(&model.layout)?;
    }
    for n in notes {
        sink.event(&Event::Note(n))?;
    }
    Ok((model, vocab, carried))
}

/// The optimizer state of the resumable checkpoint at `path` (metadata `meta`), with `cfg`'s
/// optimizer settings not given in `c` set to the checkpoint's.
fn optimizer_state<T: Real>(
    c: &RunConfig,
    cfg: &mut TrainConfig,
    path: &Path,
    meta: &std::collections::HashMap<String, String>,
    notes: &mut Vec<Note>,
) -> Result<(u64, Vec<T>, Vec<T>)> {
    if !resume::is_resumable(meta) {
        return Err(Error::config(format!(
            "{} is a model file with no optimizer state (only resumable checkpoints, written by `checkpoint_every` or a stopped run, have one): drop `keep_optimizer`, or give `init_from` one of the run's checkpoints",
            path.display()
        )));
    }
    if let Some(d) = meta.get("dtype").filter(|d| d.as_str() != T::NAME) {
        return Err(Error::config(format!(
            "`keep_optimizer`: {} holds its optimizer state in {d} and this run trains in {}: give `dtype` {d}",
            path.display(),
            T::NAME
        )));
    }
    let r = resume::load::<T>(path)?;
    let saved = r.config.optim;
    if let Some(kind) = c.optim.filter(|&k| k != saved.kind) {
        return Err(Error::config(format!(
            "`optim` {} differs from the optimizer whose state `keep_optimizer` carries ({} in {}): drop `optim`, or drop `keep_optimizer`",
            kind.name(),
            saved.kind.name(),
            path.display()
        )));
    }
    cfg.optim = OptimConfig {
        kind: saved.kind,
        beta1: c.beta1.unwrap_or(saved.beta1),
        beta2: c.beta2.unwrap_or(saved.beta2),
        alpha: c.alpha.unwrap_or(saved.alpha),
        momentum: c.momentum.unwrap_or(saved.momentum),
        eps: c.eps.unwrap_or(saved.eps),
    };
    cfg.optim.validate()?;
    let s = r.state;
    notes.push(Note::OptimizerKept {
        checkpoint: path.to_path_buf(),
        optim: saved.kind,
        updates: s.optim_t,
    });
    Ok((s.optim_t, s.optim_m, s.optim_v))
}

/// Put what a new run carries into its trainer, then hold `freeze`'s parts fixed (telling
/// `sink` how many parameters train).
pub(super) fn apply<T: Real>(
    t: &mut Trainer<T>,
    carried: Carried<T>,
    freeze: Option<&[Part]>,
    sink: &mut dyn Sink,
) -> Result<()> {
    if let Some((updates, m, v)) = carried.optim {
        assert_eq!(m.len(), t.model.layout.len, "the checkpoint's own model");
        t.optim.t = updates;
        t.optim.m = m;
        t.optim.v = v;
    }
    let parts = freeze.unwrap_or_default();
    if !parts.is_empty() {
        t.set_freeze(Freeze {
            parts: parts.to_vec(),
            new_from: carried.added_from,
        })?;
        let frozen = t.freeze().ranges(&t.model.layout)?;
        let n = t.model.layout.len;
        sink.event(&Event::Note(Note::Frozen {
            parts: t.freeze().describe(),
            training: n - frozen.iter().map(|r| r.len()).sum::<usize>(),
            of: n,
        }))?;
    }
    Ok(())
}
