//! Setting a run up, new or resumed: its settings, its checkpoint directory, its text (read in
//! two streaming passes, checked against a resumed run's fingerprint), its model and
//! vocabulary, and the trainer at the step it starts from.

use std::path::PathBuf;

use super::checkpoints;
use super::config::{self, defaults, RunConfig};
use super::init_from::{self, Carried};
use super::place::{check_distinct, check_fresh, NewRunDir};
use super::record::{check_resume, RunRecord};
use super::{Event, Note, Sink};
use crate::checkpoint;
use crate::corpus::{self, LoadOptions, OnUnknown, Source};
use crate::data::Streams;
use crate::error::{Error, Result};
use crate::fsutil::{self, DirLock};
use crate::kernels::Real;
use crate::memory;
use crate::model::{CellKind, Init, Model, ModelConfig};
use crate::optim::{Horizon, Schedule};
use crate::resume::{self, Resumable};
use crate::train::{self, init_model_with, TrainConfig, Trainer};
use crate::vocab::{CharCounts, Ids, Vocab, VocabOptions, UNKNOWN};

/// A run ready for its first step.
pub(super) struct Setup<T> {
    pub trainer: Trainer<T>,
    pub vocab: Vocab,
    pub rec: RunRecord,
    /// The held-out tail of the text (empty without validation).
    pub val_ids: Ids,
    /// The step the run stops at, if known.
    pub total: Option<u64>,
    /// The data file, or the name of the text in memory.
    pub source: String,
    /// Characters of the whole text.
    pub chars: usize,
    /// The checkpoint resumed from.
    pub resumed: Option<PathBuf>,
    /// The claim on the checkpoint directory, held for the whole run.
    pub lock: Option<DirLock>,
}

impl<T: Real> Setup<T> {
    /// Set up the run `c` asks for; notes (settings a resume replaced) go to `sink`.
    pub fn new(c: &RunConfig, sink: &mut dyn Sink) -> Result<Self> {
        c.check()?;
        // A new run's recipe fills what the caller leaves unset.
        let filled;
        let c = match (c.preset, &c.resume) {
            (Some(p), None) => {
                let p = p.resolve(text_size(c), c.max_time);
                filled = RunConfig {
                    preset: Some(p),
                    ..p.fill(c)
                };
                &filled
            }
            _ => c,
        };
        // A resumed run takes its settings from the file; settings given now replace the ones
        // that do not change the run.
        let resumed = match &c.resume {
            Some(path) => {
                let r = resume::load::<T>(path)?;
                let rec = RunRecord::of(path, &r)?;
                check_resume(c, path, &r, &rec)?;
                Some((path.clone(), r, rec))
            }
            None => None,
        };
        // A new run's own directory, unless it places every file itself.
        let run_dir = match (&resumed, &c.run_dir) {
            (Some(_), _) => None,
            (None, Some(dir)) => Some(NewRunDir::named(dir)?),
            (None, None) if c.out.is_none() => Some(NewRunDir::next()?),
            (None, None) => None,
        };
        let mut rec = match &resumed {
            Some((_, _, saved)) => saved.merged(c),
            None => RunRecord::fresh(c, run_dir.as_ref().map(|d| d.path.as_path())),
        };
        check_outputs(c, &rec, resumed.as_ref().map(|(_, _, saved)| saved))?;
        fsutil::check_target(&rec.out)?;
        let mut new_cfg = match resumed {
            None => Some(c.new_train_config()?),
            Some(_) => None,
        };
        // One run at a time writes into a checkpoint directory (the lock dies with the
        // process). A run that checkpoints creates its directory now; any run that may write
        // into an existing one (stopped early) locks it.
        if rec.checkpoint_every > 0 {
            checkpoints::ensure_dir(&rec.checkpoint_dir)?;
        }
        let lock = if rec.checkpoint_dir.is_dir() {
            Some(DirLock::acquire(&rec.checkpoint_dir)?)
        } else {
            None
        };
        if resumed.is_none() {
            if let Some(e) = checkpoints::list(&rec.checkpoint_dir)?.last() {
                return Err(Error::config(format!(
                    "{} already holds checkpoints of a run (the latest is {}): continue it with `resume` {}, or give another `checkpoint_dir`",
                    rec.checkpoint_dir.display(),
                    e.path.display(),
                    e.path.display()
                )));
            }
        }
        // Two streaming passes over the file (count, then encode): the text is never held
        // whole, only its ids, so a corpus trains in about its own size of memory.
        let load = LoadOptions {
            keep_cr: rec.keep_cr,
            ..LoadOptions::default()
        };
        let (src, source) = match (&rec.data, &c.text) {
            (Some(path), _) => (Source::File(path), path.display().to_string()),
            (None, Some(text)) => (Source::text(&text.content), text.name.clone()),
            (None, None) => {
                return Err(Error::config(
                    "no text to train on: give `data` (a file) or `text`",
                ))
            }
        };
        let counts = corpus::scan(src, &load, |_| {})?;
        let (chars, hash) = (counts.total(), counts.fingerprint());
        if let Some((path, _, saved)) = &resumed {
            if (saved.corpus_chars, saved.corpus_hash) != (chars, hash) {
                return Err(Error::config(format!(
                    "{source} is not the text {} was trained on ({} characters then, {chars} now, or other characters): give the run's `data` to resume it",
                    path.display(),
                    saved.corpus_chars
                )));
            }
        }
        rec.corpus_chars = chars;
        rec.corpus_hash = hash;
        let mut carried = Carried::default();
        let (model, vocab, resumed) = match resumed {
            Some((path, r, _)) => (None, r.checkpoint.vocab.clone(), Some((path, r))),
            None => {
                let cfg = new_cfg.as_mut().expect("a new run has a config");
                let (model, vocab, init, from) = new_model::<T>(c, cfg, &counts, &source, sink)?;
                rec.init = init;
                carried = from;
                (Some(model), vocab, None)
            }
        };
        let unknown = if vocab.id(UNKNOWN).is_some() {
            OnUnknown::Replace
        } else {
            OnUnknown::Error
        };
        let ids = corpus::encode(src, &load, &vocab, &counts, unknown, |_| {})?;
        let n_chars = ids.len();
        let n_val = (n_chars as f64 * rec.val_frac) as usize;
        let (train_ids, val_ids) = ids.split_at(n_chars - n_val);
        if rec.val_frac > 0.0 && val_ids.len() < 2 {
            return Err(Error::config(format!(
                "`val_frac` {} holds out {} characters of {n_chars}: raise it or use a longer text",
                rec.val_frac,
                val_ids.len()
            )));
        }
        let (seq_len, batch) = match (&resumed, &new_cfg) {
            (Some((_, r)), _) => (r.config.seq_len, r.config.batch),
            (None, Some(cfg)) => (cfg.seq_len, cfg.batch),
            (None, None) => unreachable!("a new run has a config"),
        };
        let streams =
            Streams::new(train_ids, seq_len, batch).map_err(|e| match (&rec.data, e) {
                (Some(p), Error::Config(msg)) => Error::Corpus {
                    path: p.clone(),
                    msg,
                },
                (_, e) => e,
            })?;
        let wpe = streams.windows_per_epoch() as u64;
        let total = match (rec.steps, rec.epochs) {
            (Some(s), Some(e)) => Some(s.min(e * wpe)),
            (s, e) => s.or(e.map(|e| e * wpe)),
        };
        let (trainer, resumed) = match (resumed, model) {
            (Some((path, r)), _) => {
                let t = resumed_trainer(c, sink, &path, r, streams, total, rec.max_time)?;
                check_left_to_do(&path, &t, &rec, total, wpe)?;
                (t, Some(path))
            }
            (None, Some(model)) => {
                let mut cfg = new_cfg.expect("a new run has a config");
                if let Schedule::Anneal { shape, min, .. } = cfg.schedule {
                    let end = horizon(total, rec.max_time);
                    if !end.is_set() {
                        return Err(Error::config(
                            "an annealed schedule ends with the run: give `steps`, `epochs` or `max_time`",
                        ));
                    }
                    cfg.schedule = Schedule::Anneal { shape, min, end };
                }
                if c.threads.is_none() {
                    // All cores by default, but no more than pay at this size.
                    let (m, t) = (model.config(), cfg.threads);
                    cfg.threads = train::useful_threads(&m, cfg.seq_len, cfg.batch, t);
                }
                let mut t = Trainer::new(model, streams, cfg)?;
                init_from::apply(&mut t, carried, c.freeze.as_deref(), sink)?;
                (t, None)
            }
            (None, None) => unreachable!("a new run has a model"),
        };
        if let Some(dir) = run_dir {
            dir.keep();
        }
        Ok(Setup {
            trainer,
            vocab,
            rec,
            val_ids,
            total,
            source,
            chars: n_chars,
            resumed,
            lock,
        })
    }
}

/// About how many characters the text has, before reading it: its size in bytes.
fn text_size(c: &RunConfig) -> u64 {
    match (&c.data, &c.text) {
        (Some(path), _) => std::fs::metadata(path).map_or(0, |m| m.len()),
        (None, Some(t)) => t.content.len() as u64,
        (None, None) => 0,
    }
}

/// The end of a run for its schedule: its last step, if known, and its time budget.
fn horizon(total: Option<u64>, max_time: Option<f64>) -> Horizon {
    Horizon {
        steps: total.unwrap_or(0),
        seconds: max_time.unwrap_or(0.0),
    }
}

/// Refuse outputs that would destroy an input, each other, or (unless `overwrite`) a file
/// that is not this run's own: an output named now that already exists.
fn check_outputs(c: &RunConfig, rec: &RunRecord, saved: Option<&RunRecord>) -> Result<()> {
    let inputs: Vec<(&str, &std::path::Path)> = [
        ("data", rec.data.as_deref()),
        ("resume", c.resume.as_deref()),
        ("init_from", c.init_from.as_deref()),
    ]
    .into_iter()
    .filter_map(|(f, p)| Some((f, p?)))
    .collect();
    let mut outputs = vec![("out", rec.out.as_path())];
    outputs.extend(rec.metrics.as_deref().map(|m| ("metrics", m)));
    check_distinct(&inputs, &outputs)?;
    let overwrite = c.overwrite.unwrap_or(false);
    // The model: named now (itself, or by naming its run directory), and not the run's own.
    let named = c.out.is_some() || (saved.is_none() && c.run_dir.is_some());
    if named && saved.is_none_or(|s| s.out != rec.out) {
        check_fresh("out", &rec.out, overwrite)?;
    }
    if let Some(m) = c.metrics.as_deref() {
        if saved.is_none_or(|s| s.metrics.as_deref() != Some(m)) {
            check_fresh("metrics", m, overwrite)?;
        }
    }
    Ok(())
}

/// Refuse to resume a run that its stopping rules have already ended: there would be nothing
/// to train, and its model would be written again.
fn check_left_to_do<T: Real>(
    path: &std::path::Path,
    t: &Trainer<T>,
    rec: &RunRecord,
    total: Option<u64>,
    windows_per_epoch: u64,
) -> Result<()> {
    let done = t.step;
    let at = format!("{} is at step {done}", path.display());
    if let Some(s) = rec.steps.filter(|&s| s <= done) {
        return Err(Error::config(format!(
            "{at}: `steps` {s} (the total, counted across resumes) leaves nothing to train: give a larger `steps`"
        )));
    }
    if let Some(e) = rec.epochs.filter(|_| total.is_some_and(|t| t <= done)) {
        return Err(Error::config(format!(
            "{at}: `epochs` {e} end at step {}, so nothing is left to train: give a larger `epochs`",
            e * windows_per_epoch
        )));
    }
    if let Some(m) = rec.max_time.filter(|&m| rec.elapsed >= m) {
        return Err(Error::config(format!(
            "{at}: its `max_time` budget of {m} s (the total, counted across resumes) is spent ({:.1} s trained): give a larger `max_time`",
            rec.elapsed
        )));
    }
    Ok(())
}

/// The trainer of a resumed run, with the `lr` and `threads` given now.
fn resumed_trainer<T: Real>(
    c: &RunConfig,
    sink: &mut dyn Sink,
    path: &std::path::Path,
    r: Resumable<T>,
    streams: Streams,
    total: Option<u64>,
    max_time: Option<f64>,
) -> Result<Trainer<T>> {
    let saved_threads = r.threads();
    let threads = match c.threads {
        Some(_) => config::threads(c.threads)?,
        None => saved_threads,
    };
    let cfg = TrainConfig {
        threads,
        ..r.config.clone()
    };
    memory::check_fits(&r.checkpoint.model.config(), &cfg, T::BYTES)?;
    let mut t = r.into_trainer(streams, threads)?;
    if let Some(lr) = c.lr.filter(|&lr| lr != t.cfg.lr) {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::config(format!(
                "`lr` must be a positive number, got {lr}"
            )));
        }
        sink.event(&Event::Note(Note::LrReplaced {
            lr,
            was: t.cfg.lr,
            step: t.step,
        }))?;
        t.cfg.lr = lr;
    }
    if let Schedule::Anneal { shape, min, end } = t.cfg.schedule {
        // The schedule ends with the run, also when a resume moves its end.
        let now = horizon(total, max_time);
        if now != end && now.is_set() {
            t.cfg.schedule = Schedule::Anneal {
                shape,
                min,
                end: now,
            };
            sink.event(&Event::Note(Note::ScheduleEndMoved {
                steps: (now.steps > 0).then_some(now.steps),
                seconds: (now.seconds > 0.0).then_some(now.seconds),
            }))?;
        }
    }
    if t.threads() != saved_threads && t.cfg.dropout > 0.0 {
        sink.event(&Event::Note(Note::ThreadsChanged {
            checkpoint: path.to_path_buf(),
            saved: saved_threads,
            now: t.threads(),
        }))?;
    }
    Ok(t)
}

/// A new run's model, vocabulary, initialization (`None` from `init_from`) and what it carries
/// from a checkpoint.
type NewModel<T> = (Model<T>, Vocab, Option<Init>, Carried<T>);

/// A new run's model and vocabulary: from `init_from` (with what it carries), or initialised
/// from the seed (with the initialization used).
fn new_model<T: Real>(
    c: &RunConfig,
    cfg: &mut TrainConfig,
    counts: &CharCounts,
    source: &str,
    sink: &mut dyn Sink,
) -> Result<NewModel<T>> {
    let Some(path) = &c.init_from else {
        let opts = VocabOptions {
            max_vocab: c.max_vocab,
            min_count: c.min_count,
        };
        let vocab = Vocab::from_counts(counts, opts)?;
        let config = ModelConfig {
            cell: c.cell.unwrap_or(CellKind::RNN),
            vocab: vocab.len(),
            emb: c.emb.unwrap_or(defaults::EMB),
            hidden: c.hidden.unwrap_or(defaults::HIDDEN),
            layers: c.layers.unwrap_or(defaults::LAYERS),
        };
        config.validate()?;
        memory::check_fits(&config, cfg, T::BYTES)?;
        let std = c.std.unwrap_or(defaults::STD);
        let init = c
            .init
            .unwrap_or(config.cell.spec().default_init(config.layers));
        let model = init_model_with::<T>(config, init, std, c.seed.unwrap_or(0))?;
        return Ok((model, vocab, Some(init), Carried::default()));
    };
    let ck = checkpoint::load::<T>(path)?;
    let m = ck.model.config();
    memory::check_fits(&m, cfg, T::BYTES)?;
    let given = [
        (
            "cell",
            c.cell.map(|x| x.name().to_string()),
            m.cell.name().to_string(),
        ),
        (
            "layers",
            c.layers.map(|x| x.to_string()),
            m.layers.to_string(),
        ),
        ("emb", c.emb.map(|x| x.to_string()), m.emb.to_string()),
        (
            "hidden",
            c.hidden.map(|x| x.to_string()),
            m.hidden.to_string(),
        ),
    ];
    for (field, want, have) in given {
        if let Some(want) = want.filter(|w| *w != have) {
            return Err(Error::config(format!(
                "`{field}` {want} disagrees with {} (which has {have}): drop `{field}` or `init_from`",
                path.display()
            )));
        }
    }
    let (model, vocab, carried) = init_from::fit(c, cfg, path, ck, counts, source, sink)?;
    Ok((model, vocab, None, carried))
}
