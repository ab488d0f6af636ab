//! `charrnn._charrnn.train`: a whole training run ([`charrnn::run::run`]) with the GIL
//! released, its events handed to a Python reporter, Ctrl-C checked between steps.
//!
//! The run's thread takes the GIL back only briefly: before every step to check for signals
//! (`PyErr_CheckSignals`, which runs Python's SIGINT handler: Ctrl-C in a terminal, the stop
//! button in Jupyter), and to hand an event to the reporter. Without a per-step callback, step
//! events go to Python only when they are shown (every `print_every` steps, with a validation,
//! and at most every 50 ms for a progress bar), so a small model does not wait on Python.
//!
//! A `KeyboardInterrupt`, or an exception raised by the reporter (a user's callback), stops
//! the run the way Ctrl-C stops `charrnn train`: after the step in progress, with a resumable
//! checkpoint written; then the exception is raised (`KeyboardInterrupt` as
//! [`Interrupted`], which says where the checkpoint is).

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use charrnn::run::{self, Event, RunInfo, RunOutcome, Sink, StepRecord, Stop};
use pyo3::exceptions::PyKeyboardInterrupt;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{guard, guard_detached, internal, to_py, Interrupted};
use crate::options::run_config;

/// An exception raised while the run went on without the GIL: it stops the run.
type Pending = Arc<Mutex<Option<PyErr>>>;

/// Train as `options` say (keyword -> value, `charrnn train`'s flags), telling `reporter`
/// what happens: `reporter.event(kind, data)` with `kind` one of `note`, `start`, `sample`,
/// `step`, `validation`, `checkpoint`, `stopped`. Returns the run's outcome as a dict.
#[pyfunction]
#[pyo3(signature = (options, reporter, every_step = false, samples = true))]
pub fn train(
    py: Python<'_>,
    options: &Bound<'_, PyDict>,
    reporter: Py<PyAny>,
    every_step: bool,
    samples: bool,
) -> PyResult<Py<PyDict>> {
    guard(|| {
        let config = run_config(py, options)?;
        let pending: Pending = Arc::new(Mutex::new(None));
        let mut sink = PySink {
            reporter,
            every_step,
            samples,
            print_every: 0,
            last_sent: None,
            pending: pending.clone(),
        };
        let stop_pending = pending.clone();
        let stop = move || stop_requested(&stop_pending);
        let result = py.detach(|| guard_detached(|| run::run(&config, &mut sink, &stop)));
        let raised = pending.lock().map(|mut p| p.take()).unwrap_or(None);
        let outcome = match result.map_err(internal)? {
            Err(e) => return Err(raised.unwrap_or_else(|| to_py(e))),
            Ok(o) => o,
        };
        if let Some(e) = raised {
            return Err(stopped_by(py, e, &outcome));
        }
        outcome_dict(py, &outcome)
    })
}

/// Before each step: whether an exception is pending or a signal handler raises one.
fn stop_requested(pending: &Pending) -> bool {
    let mut p = pending.lock().unwrap_or_else(|e| e.into_inner());
    if p.is_some() {
        return true;
    }
    if let Err(e) = Python::attach(|py| py.check_signals()) {
        *p = Some(e);
        return true;
    }
    false
}

/// The exception to raise for a run stopped by `e`, a checkpoint written.
fn stopped_by(py: Python<'_>, e: PyErr, o: &RunOutcome) -> PyErr {
    let Some(ckpt) = o
        .checkpoint
        .as_deref()
        .filter(|_| o.stop == Stop::Interrupted)
    else {
        return e;
    };
    let where_ = format!(
        "a resumable checkpoint of step {} was written to {}: continue with charrnn.train(resume={:?})",
        o.steps,
        ckpt.display(),
        ckpt.display().to_string()
    );
    if e.is_instance_of::<PyKeyboardInterrupt>(py) {
        let err = Interrupted::new_err(format!("interrupted after step {}; {where_}", o.steps));
        let v = err.value(py);
        let _ = v.setattr("checkpoint", ckpt.display().to_string());
        let _ = v.setattr("step", o.steps);
        return err;
    }
    // Another exception (from a callback): raised as it is, with a note.
    let _ = e
        .value(py)
        .call_method1("add_note", (format!("charrnn: the run stopped; {where_}"),));
    e
}

fn outcome_dict(py: Python<'_>, o: &RunOutcome) -> PyResult<Py<PyDict>> {
    let d = PyDict::new(py);
    d.set_item(
        "stop",
        match o.stop {
            Stop::Done => "done",
            Stop::Interrupted => "interrupted",
            Stop::OutOfTime => "out_of_time",
        },
    )?;
    d.set_item("steps", o.steps)?;
    d.set_item("new_steps", o.new_steps)?;
    d.set_item("secs", o.secs)?;
    d.set_item("chars_per_s", o.chars_per_s)?;
    d.set_item("smooth_loss", o.smooth_loss)?;
    d.set_item("seq_len", o.seq_len)?;
    d.set_item("val", o.val.map(|v| eval_dict(py, v)).transpose()?)?;
    let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
    d.set_item("checkpoint", path(&o.checkpoint))?;
    d.set_item("out", path(&o.out))?;
    Ok(d.unbind())
}

pub fn eval_dict(py: Python<'_>, v: charrnn::eval::EvalStats) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("nats_per_char", v.nats_per_char())?;
    d.set_item("bits_per_char", v.bits_per_char())?;
    d.set_item("perplexity", v.perplexity())?;
    d.set_item("chars", v.chars)?;
    Ok(d)
}

/// The run's [`Sink`]: events to the Python reporter.
struct PySink {
    reporter: Py<PyAny>,
    /// Hand every step to the reporter (there is a per-step callback).
    every_step: bool,
    samples: bool,
    print_every: u64,
    last_sent: Option<Instant>,
    pending: Pending,
}

/// How often a progress bar needs a step, at most.
const SHOW_EVERY: Duration = Duration::from_millis(50);

impl PySink {
    fn wanted(&mut self, r: &StepRecord) -> bool {
        let now = Instant::now();
        let due = self.every_step
            || r.val.is_some()
            || r.step == 0
            || (self.print_every > 0 && r.step.is_multiple_of(self.print_every))
            || self.last_sent.is_none_or(|t| now - t >= SHOW_EVERY);
        if due {
            self.last_sent = Some(now);
        }
        due
    }

    fn send(&self, kind: &str, data: impl FnOnce(Python<'_>) -> PyResult<Bound<'_, PyDict>>) {
        let mut pending = self.pending.lock().unwrap_or_else(|e| e.into_inner());
        if pending.is_some() {
            return;
        }
        let result = Python::attach(|py| {
            let d = data(py)?;
            self.reporter.call_method1(py, "event", (kind, d)).map(drop)
        });
        if let Err(e) = result {
            *pending = Some(e);
        }
    }
}

impl Sink for PySink {
    fn event(&mut self, e: &Event<'_>) -> charrnn::Result<()> {
        match e {
            Event::Note(n) => self.send("note", |py| {
                let d = PyDict::new(py);
                d.set_item("message", n.to_string())?;
                Ok(d)
            }),
            Event::Start(info) => {
                self.print_every = info.settings.print_every;
                self.send("start", |py| start_dict(py, info))
            }
            Event::Sample { step, text } => self.send("sample", |py| {
                let d = PyDict::new(py);
                d.set_item("step", step)?;
                d.set_item("text", text)?;
                Ok(d)
            }),
            Event::Step(r) => {
                if self.wanted(r) {
                    self.send("step", |py| step_dict(py, r))
                }
            }
            Event::Validation { step, stats } => self.send("validation", |py| {
                let d = eval_dict(py, *stats)?;
                d.set_item("step", step)?;
                Ok(d)
            }),
            Event::Checkpoint { step, path } => self.send("checkpoint", |py| {
                let d = PyDict::new(py);
                d.set_item("step", step)?;
                d.set_item("path", path.display().to_string())?;
                Ok(d)
            }),
            Event::Stopped {
                step,
                stop,
                checkpoint,
            } => self.send("stopped", |py| {
                let d = PyDict::new(py);
                d.set_item("step", step)?;
                d.set_item(
                    "stop",
                    match stop {
                        Stop::Done => "done",
                        Stop::Interrupted => "interrupted",
                        Stop::OutOfTime => "out_of_time",
                    },
                )?;
                d.set_item("checkpoint", checkpoint.map(|p| p.display().to_string()))?;
                Ok(d)
            }),
        }
        Ok(())
    }

    fn wants_samples(&self) -> bool {
        self.samples
    }
}

/// A step's record: the keys of `charrnn train --metrics` rows.
pub fn step_dict<'py>(py: Python<'py>, r: &StepRecord) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    d.set_item("step", r.step)?;
    d.set_item("epoch", r.epoch)?;
    d.set_item("loss", r.loss)?;
    d.set_item("nats_per_char", r.nats_per_char)?;
    d.set_item("smooth_loss", r.smooth_loss)?;
    d.set_item("lr", r.lr)?;
    d.set_item("grad_norm", r.grad_norm)?;
    d.set_item("clip_fraction", r.clip_fraction)?;
    d.set_item("chars_per_s", r.chars_per_s)?;
    d.set_item("elapsed", r.elapsed)?;
    d.set_item("secs", r.secs)?;
    d.set_item("val", r.val.map(|v| eval_dict(py, v)).transpose()?)?;
    Ok(d)
}

fn start_dict<'py>(py: Python<'py>, info: &RunInfo) -> PyResult<Bound<'py, PyDict>> {
    let d = PyDict::new(py);
    let (m, t) = (&info.model, &info.train);
    d.set_item("source", &info.source)?;
    d.set_item("chars", info.chars)?;
    d.set_item("val_chars", info.val_chars)?;
    d.set_item("cell", m.cell.name())?;
    d.set_item("vocab_size", m.vocab)?;
    d.set_item("emb", m.emb)?;
    d.set_item("hidden", m.hidden)?;
    d.set_item("layers", m.layers)?;
    d.set_item("params", info.params)?;
    d.set_item("dtype", info.dtype.name())?;
    d.set_item("seq_len", t.seq_len)?;
    d.set_item("batch", t.batch)?;
    d.set_item("optim", t.optim.kind.name())?;
    d.set_item("threads", t.threads)?;
    d.set_item("total", info.total)?;
    d.set_item("start_step", info.start_step)?;
    d.set_item("max_time", info.max_time.map(|m| m.as_secs_f64()))?;
    d.set_item("print_every", info.settings.print_every)?;
    d.set_item("out", info.settings.out.display().to_string())?;
    d.set_item(
        "checkpoint_dir",
        info.settings.checkpoint_dir.display().to_string(),
    )?;
    Ok(d)
}
