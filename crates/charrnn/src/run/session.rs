//! One session of a run, from its first step to its model file: the stopping rules, the
//! checkpoint policy, validation, the divergence guard, samples and the metrics file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::checkpoints;
use super::record::{RunRecord, META_KEY};
use super::setup::Setup;
use super::{Dtype, Event, RunInfo, RunOutcome, Sink, StepRecord, Stop};
use crate::checkpoint;
use crate::error::{Error, Result};
use crate::eval::{evaluate_streams, EvalStats};
use crate::fsutil::DirLock;
use crate::kernels::Real;
use crate::resume;
use crate::run::metrics::{Metrics, Row};
use crate::sample::Sampler;
use crate::train::Trainer;
use crate::vocab::{Ids, Vocab};

/// The most streams the validation text is cut into.
const VAL_STREAMS: usize = 32;

/// Characters of validation text per stream, at least (each is warmed up on the 256 before it,
/// so streams much shorter would spend more on warming up than on scoring).
const VAL_CHARS_PER_STREAM: usize = 2048;

/// A run between its setup and its end.
pub(super) struct Session<T> {
    trainer: Trainer<T>,
    vocab: Vocab,
    rec: RunRecord,
    val_ids: Ids,
    total: Option<u64>,
    metrics: Option<Metrics>,
    /// The run's hyperparameters as metadata (what plain model files always had).
    meta: BTreeMap<String, String>,
    started: Instant,
    /// Steps done before this session.
    resumed_from: u64,
    /// The last checkpoint written or resumed from: intact if training diverges.
    last_ckpt: Option<PathBuf>,
    /// The step of the last checkpoint written.
    ckpt_step: Option<u64>,
    /// The last validation, and the step it was after.
    last_val: Option<(u64, EvalStats)>,
    _lock: Option<DirLock>,
}

impl<T: Real> Session<T> {
    /// Report the run set up ([`Event::Start`]) and open its metrics file.
    pub fn start(s: Setup<T>, dtype: Dtype, sink: &mut dyn Sink) -> Result<Self> {
        let cfg = s.trainer.cfg.clone();
        let resumed_from = s.trainer.step;
        let info = RunInfo {
            source: s.source,
            chars: s.chars,
            val_chars: s.val_ids.len(),
            model: s.trainer.model.config(),
            params: s.trainer.model.layout.len,
            dtype,
            train: cfg.clone(),
            total: s.total,
            start_step: resumed_from,
            max_time: s.rec.max_time.map(Duration::from_secs_f64),
            settings: s.rec.clone(),
        };
        sink.event(&Event::Start(&info))?;
        let metrics = match &s.rec.metrics {
            Some(p) => Some(Metrics::open(
                p,
                s.resumed.is_some().then_some(resumed_from),
            )?),
            None => None,
        };
        let mut meta = BTreeMap::new();
        for (k, v) in [
            ("seq_len", cfg.seq_len.to_string()),
            ("batch", cfg.batch.to_string()),
            ("optim", cfg.optim.kind.name().to_string()),
            ("lr", cfg.lr.to_string()),
            ("std", s.rec.std.to_string()),
            ("clip", cfg.clip.value.unwrap_or(0.0).to_string()),
            ("dropout", cfg.dropout.to_string()),
            ("seed", cfg.seed.to_string()),
        ] {
            meta.insert(k.to_string(), v);
        }
        if let Some(init) = s.rec.init {
            meta.insert("init".into(), init.name().into());
        }
        Ok(Session {
            trainer: s.trainer,
            vocab: s.vocab,
            rec: s.rec,
            val_ids: s.val_ids,
            total: s.total,
            metrics,
            meta,
            started: Instant::now(),
            resumed_from,
            last_ckpt: s.resumed,
            ckpt_step: None,
            last_val: None,
            _lock: s.lock,
        })
    }

    /// Train until a stopping rule or `stop`, then write what the end calls for.
    pub fn train(mut self, sink: &mut dyn Sink, stop: &dyn Fn() -> bool) -> Result<RunOutcome> {
        let why = loop {
            if let Some(why) = self.stop_now(stop) {
                break why;
            }
            let n = self.trainer.step;
            if self.rec.sample_every > 0 && n.is_multiple_of(self.rec.sample_every) {
                self.sample(sink)?;
            }
            self.step(sink)?;
        };
        self.flush()?;
        let done = self.trainer.step;
        let resume_from = match why {
            Stop::Done => None,
            _ => match self.ckpt_step {
                Some(s) if s == done => self.last_ckpt.clone(),
                _ => Some(self.checkpoint(self.val_at(done))?),
            },
        };
        sink.event(&Event::Stopped {
            step: done,
            stop: why,
            checkpoint: resume_from.as_deref(),
        })?;
        if why == Stop::Interrupted {
            return Ok(self.outcome(why, resume_from, None));
        }
        if !self.val_ids.is_empty() && self.val_at(done).is_none() && done > self.resumed_from {
            let stats = self.validate();
            self.last_val = Some((done, stats));
            sink.event(&Event::Validation { step: done, stats })?;
        }
        if why == Stop::Done && self.rec.checkpoint_every > 0 && self.ckpt_step != Some(done) {
            let path = self.checkpoint(self.val_at(done))?;
            sink.event(&Event::Checkpoint {
                step: done,
                path: &path,
            })?;
        }
        self.sample(sink)?;
        let mut meta = self.meta.clone();
        meta.insert("steps".into(), done.to_string());
        meta.insert("smooth_loss".into(), self.trainer.smooth_loss.to_string());
        if let Some((_, v)) = self.last_val {
            meta.insert("val_loss".into(), v.nats_per_char().to_string());
        }
        checkpoint::save(&self.rec.out, &self.trainer.model, &self.vocab, &meta)?;
        let out = Some(self.rec.out.clone());
        let checkpoint = resume_from.or_else(|| self.last_ckpt.clone());
        Ok(self.outcome(why, checkpoint, out))
    }

    /// Whether a stopping rule (or the caller) ends the run before the next step.
    fn stop_now(&self, stop: &dyn Fn() -> bool) -> Option<Stop> {
        let (t, rec) = (&self.trainer, &self.rec);
        let done = rec.steps.is_some_and(|s| t.step >= s)
            || rec
                .epochs
                .is_some_and(|e| t.epoch() >= e && t.next_window().reset);
        if done {
            Some(Stop::Done)
        } else if stop() {
            Some(Stop::Interrupted)
        } else if self
            .rec
            .max_time
            .is_some_and(|m| self.rec.elapsed + self.started.elapsed().as_secs_f64() >= m)
        {
            Some(Stop::OutOfTime)
        } else {
            None
        }
    }

    /// One step: train, score the validation text when due, record, checkpoint when due.
    fn step(&mut self, sink: &mut dyn Sink) -> Result<()> {
        // The clock a schedule that ends with the time budget reads.
        self.trainer.clock = self.rec.elapsed + self.started.elapsed().as_secs_f64();
        let s = match self.trainer.try_train_step() {
            Ok(s) => s,
            Err(Error::Diverged { step, what }) => {
                self.flush()?;
                return Err(Error::RunDiverged {
                    step,
                    what,
                    last_checkpoint: self.last_ckpt.clone(),
                    out: self.rec.out.clone(),
                });
            }
            Err(e) => return Err(e),
        };
        let (done, rec) = (self.trainer.step, &self.rec);
        let ckpt_due = rec.checkpoint_every > 0 && done % rec.checkpoint_every == 0;
        let at_end = self.total == Some(done);
        let eval_due = rec.eval_every > 0 && done % rec.eval_every == 0;
        let timed = (!self.val_ids.is_empty() && (at_end || ckpt_due || eval_due)).then(|| {
            let t = Instant::now();
            (self.validate(), t.elapsed().as_secs_f64())
        });
        let val = timed.map(|(v, _)| v);
        let secs = self.started.elapsed().as_secs_f64();
        let chars_per_step = self.chars_per_step();
        let record = StepRecord {
            step: s.step,
            epoch: self.trainer.epoch(),
            loss: s.loss,
            nats_per_char: s.loss / chars_per_step,
            smooth_loss: s.smooth_loss,
            lr: s.lr,
            grad_norm: s.clip.norm,
            clip_fraction: s.clip.fraction,
            chars_per_s: (done - self.resumed_from) as f64 * chars_per_step / secs.max(1e-9),
            elapsed: self.rec.elapsed + secs,
            secs,
            val,
            val_secs: timed.map(|(_, t)| t),
        };
        if let Some(m) = self.metrics.as_mut() {
            m.write(&Row::from(&record))?;
        }
        sink.event(&Event::Step(&record))?;
        if let Some(v) = val {
            self.last_val = Some((done, v));
        }
        if ckpt_due {
            self.flush()?;
            let path = self.checkpoint(val)?;
            sink.event(&Event::Checkpoint {
                step: done,
                path: &path,
            })?;
        }
        Ok(())
    }

    /// The notebook's periodic sample: `sample_len` characters from a zero state, seeded by
    /// the next window's first input.
    fn sample(&self, sink: &mut dyn Sink) -> Result<()> {
        if !sink.wants_samples() {
            return Ok(());
        }
        let t = &self.trainer;
        let mut sampler = Sampler::new(&t.model, t.cfg.seed.wrapping_add(t.step));
        let mut text = String::with_capacity(self.rec.sample_len);
        sampler.generate(&[t.next_first_input()], self.rec.sample_len, |c| {
            text.push(self.vocab.char(c))
        });
        sink.event(&Event::Sample {
            step: t.step,
            text: &text,
        })
    }

    /// The validation loss: the held-out text in streams scored side by side on the trainer's
    /// threads ([`evaluate_streams`]), about one stream per [`VAL_CHARS_PER_STREAM`] characters.
    fn validate(&self) -> EvalStats {
        let t = &self.trainer;
        let streams = (self.val_ids.len() / VAL_CHARS_PER_STREAM).clamp(1, VAL_STREAMS);
        evaluate_streams(&t.model, &self.val_ids, t.cfg.seq_len, streams, t.threads())
    }

    /// The validation after `step` steps, if there was one.
    fn val_at(&self, step: u64) -> Option<EvalStats> {
        self.last_val.filter(|&(s, _)| s == step).map(|(_, v)| v)
    }

    fn chars_per_step(&self) -> f64 {
        (self.trainer.cfg.seq_len * self.trainer.cfg.batch) as f64
    }

    fn flush(&mut self) -> Result<()> {
        match self.metrics.as_mut() {
            Some(m) => m.flush(),
            None => Ok(()),
        }
    }

    /// Write a resumable checkpoint into the checkpoint directory, then rotate.
    fn checkpoint(&mut self, val: Option<EvalStats>) -> Result<PathBuf> {
        let t = &self.trainer;
        let dir = self.rec.checkpoint_dir.clone();
        checkpoints::ensure_dir(&dir)?;
        let val = val.map(|v| v.nats_per_char());
        let path = dir.join(checkpoints::name(t.step, val));
        let mut rec = self.rec.clone();
        rec.elapsed += self.started.elapsed().as_secs_f64();
        let mut meta = self.meta.clone();
        meta.insert("steps".into(), t.step.to_string());
        meta.insert("smooth_loss".into(), t.smooth_loss.to_string());
        if let Some(v) = val {
            meta.insert("val_loss".into(), v.to_string());
        }
        meta.insert(
            META_KEY.into(),
            serde_json::to_string(&rec).expect("records serialize"),
        );
        resume::save(&path, t, &self.vocab, &meta)?;
        checkpoints::rotate(&dir, t.step, self.rec.keep)?;
        self.last_ckpt = Some(path.clone());
        self.ckpt_step = Some(t.step);
        Ok(path)
    }

    fn outcome(&self, stop: Stop, checkpoint: Option<PathBuf>, out: Option<PathBuf>) -> RunOutcome {
        let secs = self.started.elapsed().as_secs_f64();
        let new_steps = self.trainer.step - self.resumed_from;
        RunOutcome {
            stop,
            steps: self.trainer.step,
            new_steps,
            secs,
            chars_per_s: new_steps as f64 * self.chars_per_step() / secs.max(1e-9),
            smooth_loss: self.trainer.smooth_loss,
            seq_len: self.trainer.cfg.seq_len,
            val: self.last_val.map(|(_, v)| v),
            checkpoint,
            out,
        }
    }
}
