//! `charrnn.Model`: a trained model in Python. Load and save checkpoints, sample (whole or
//! character by character), score a text, step the model one character at a time and look
//! at its probabilities, states and weights as numpy arrays.
//!
//! A model computes in `f32` (the default, as `charrnn sample` and `score`) or `f64`, whatever
//! the dtype of the file.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use charrnn::checkpoint::{self, Checkpoint, TRAIN_PREFIX};
use charrnn::corpus::{self, LoadOptions, OnUnknown, Source};
use charrnn::eval::evaluate;
use charrnn::model::Stepper;
use charrnn::vocab::describe_chars;
use charrnn::{Error, Real, Vocab};
use numpy::{PyArray1, PyArrayDyn, PyArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::{guard, IntoPy};
use crate::sampling::{self, Args, SampleIter};
use crate::train::eval_dict;

/// A checkpoint in one of the two number types.
#[derive(Clone)]
pub enum Typed {
    F32(Arc<Checkpoint<f32>>),
    F64(Arc<Checkpoint<f64>>),
}

/// Run `$body` with `$ck` bound to the checkpoint, whatever its number type.
macro_rules! typed {
    ($t:expr, $ck:ident => $body:expr) => {
        match $t {
            Typed::F32($ck) => $body,
            Typed::F64($ck) => $body,
        }
    };
}

/// The batch-1 stepper of `Model.step`.
enum Step {
    F32(Box<Stepper<f32>>),
    F64(Box<Stepper<f64>>),
}

/// A trained character-level model: its weights, vocabulary and metadata, and a recurrent
/// state for :meth:`step`.
///
/// Load one with :meth:`Model.load` (any checkpoint ``charrnn train`` writes, resumable ones
/// too, or a notebook/PyTorch safetensors file with a ``vocab``), or get one from
/// :func:`charrnn.train`.
#[pyclass(module = "charrnn", name = "Model", dict, subclass)]
pub struct PyModel {
    ck: Typed,
    path: Option<PathBuf>,
    step: Mutex<Option<Step>>,
}

impl PyModel {
    pub fn new(ck: Typed, path: Option<PathBuf>) -> Self {
        PyModel {
            ck,
            path,
            step: Mutex::new(None),
        }
    }

    pub fn typed(&self) -> &Typed {
        &self.ck
    }

    fn vocab_ref(&self) -> &Vocab {
        typed!(&self.ck, ck => &ck.vocab)
    }

    fn char_id(&self, ch: &Bound<'_, PyAny>) -> PyResult<u32> {
        let vocab = self.vocab_ref();
        if let Ok(s) = ch.extract::<String>() {
            let mut it = s.chars();
            return match (it.next(), it.next()) {
                (Some(c), None) => vocab.id(c).ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "{} is not in the model's vocabulary",
                        describe_chars(&[c])
                    ))
                }),
                _ => Err(PyValueError::new_err(format!(
                    "step() takes one character, got a string of {}",
                    s.chars().count()
                ))),
            };
        }
        match ch.extract::<i64>() {
            Ok(i) if (0..vocab.len() as i64).contains(&i) => Ok(i as u32),
            Ok(i) => Err(PyValueError::new_err(format!(
                "character id {i} is outside the vocabulary of {}",
                vocab.len()
            ))),
            Err(_) => Err(PyTypeError::new_err(
                "step() takes a character (a str of length 1) or its id (an int)",
            )),
        }
    }
}

/// `[V]` the probabilities after a step, as numpy.
fn probs_array<'py, T: Real + numpy::Element>(py: Python<'py>, p: &[T]) -> Bound<'py, PyArray1<T>> {
    PyArray1::from_slice(py, p)
}

fn shaped<'py, T: numpy::Element>(
    py: Python<'py>,
    data: &[T],
    shape: &[usize],
) -> PyResult<Bound<'py, PyArrayDyn<T>>> {
    PyArray1::from_slice(py, data).reshape(shape.to_vec())
}

#[pymethods]
impl PyModel {
    /// Load a checkpoint.
    ///
    /// Args:
    ///     path: a ``.safetensors`` file written by ``charrnn train`` (a model or a resumable
    ///         checkpoint), or a notebook/PyTorch file with ``vocab`` metadata.
    ///     dtype: ``"f32"`` (the default, as ``charrnn sample``) or ``"f64"``: the arithmetic
    ///         the model computes in, whatever the file's.
    ///
    /// Raises:
    ///     FileNotFoundError: no such file.
    ///     ValueError: the file is not a usable checkpoint (the message says why).
    #[staticmethod]
    #[pyo3(signature = (path, dtype = "f32"))]
    fn load(py: Python<'_>, path: PathBuf, dtype: &str) -> PyResult<Self> {
        guard(|| {
            let ck = match dtype {
                "f32" => Typed::F32(Arc::new(
                    py.detach(|| checkpoint::load::<f32>(&path)).py_err()?,
                )),
                "f64" => Typed::F64(Arc::new(
                    py.detach(|| checkpoint::load::<f64>(&path)).py_err()?,
                )),
                d => {
                    return Err(PyValueError::new_err(format!(
                        "`dtype` must be \"f32\" or \"f64\", got {d:?}"
                    )))
                }
            };
            Ok(PyModel::new(ck, Some(path)))
        })
    }

    /// Write the model (weights, vocabulary and the run's metadata, without training state)
    /// to ``path``, atomically; ``charrnn sample --model path`` reads it.
    fn save(&self, py: Python<'_>, path: PathBuf) -> PyResult<()> {
        guard(|| {
            typed!(&self.ck, ck => {
                // Training state is not saved: drop its metadata too, or the file would claim
                // to be resumable.
                let meta: BTreeMap<String, String> = ck
                    .meta
                    .iter()
                    .filter(|(k, _)| !k.starts_with(TRAIN_PREFIX))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                py.detach(|| checkpoint::save(&path, &ck.model, &ck.vocab, &meta)).py_err()
            })
        })
    }

    /// The file the model was loaded from (or that training wrote), if any.
    #[getter]
    fn path(&self) -> Option<String> {
        self.path.as_ref().map(|p| p.display().to_string())
    }

    /// ``"f32"`` or ``"f64"``: the arithmetic the model computes in.
    #[getter]
    fn dtype(&self) -> &'static str {
        match self.ck {
            Typed::F32(_) => "f32",
            Typed::F64(_) => "f64",
        }
    }

    /// The characters the model knows, in id order (``vocab[i]`` is character ``i``).
    #[getter]
    fn vocab(&self) -> Vec<String> {
        self.vocab_ref()
            .chars()
            .iter()
            .map(|c| c.to_string())
            .collect()
    }

    /// The model's sizes: ``cell``, ``vocab_size``, ``emb``, ``hidden``, ``layers``,
    /// ``params`` and the state names (``states``: ``["h"]``, or ``["h", "c"]`` for an LSTM).
    #[getter]
    fn config<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        typed!(&self.ck, ck => {
            let c = ck.model.config();
            let d = PyDict::new(py);
            d.set_item("cell", c.cell.name())?;
            d.set_item("vocab_size", c.vocab)?;
            d.set_item("emb", c.emb)?;
            d.set_item("hidden", c.hidden)?;
            d.set_item("layers", c.layers)?;
            d.set_item("params", ck.model.layout.len)?;
            d.set_item("states", c.cell.spec().states().to_vec())?;
            Ok(d)
        })
    }

    /// Every metadata entry of the file (strings), e.g. ``steps``, ``lr``, ``smooth_loss``.
    #[getter]
    fn metadata(&self) -> BTreeMap<String, String> {
        typed!(&self.ck, ck => ck.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
    }

    /// The weights as numpy arrays (copies), under the checkpoint's names and shapes: the
    /// notebook's ``Wex [E,V]``, ``Wxh``, ``Whh``, ``Why``, ``bh [H,1]``, ``by [V,1]`` for the
    /// one-layer tanh RNN; PyTorch's ``embed.weight``, ``rnn.weight_ih_l0``, ...,
    /// ``out.weight``, ``out.bias`` for every other model.
    #[getter]
    fn weights<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        typed!(&self.ck, ck => {
            for t in &ck.model.layout.tensors {
                d.set_item(&t.name, shaped(py, &ck.model.w[t.range.clone()], &t.shape)?)?;
            }
        });
        Ok(d)
    }

    /// Where each tensor lies in the flat parameter buffer (the order of optimizer state in
    /// resumable checkpoints): a list of ``(name, shape, start)``.
    #[getter]
    fn layout(&self) -> Vec<(String, Vec<usize>, usize)> {
        typed!(&self.ck, ck => ck
            .model
            .layout
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.shape.clone(), t.range.start))
            .collect())
    }

    /// The ids of ``text`` (an int64 array); every character must be in the vocabulary
    /// (or map to its unknown symbol, for a model trained with ``max_vocab``/``min_count``).
    fn encode<'py>(&self, py: Python<'py>, text: &str) -> PyResult<Bound<'py, PyArray1<i64>>> {
        let vocab = self.vocab_ref();
        let ids: Option<Vec<i64>> = text
            .chars()
            .map(|c| vocab.id_or_unknown(c).map(i64::from))
            .collect();
        match ids {
            Some(ids) => Ok(PyArray1::from_vec(py, ids)),
            None => Err(PyValueError::new_err(format!(
                "`text` has characters not in the model's vocabulary: {}",
                describe_chars(&vocab.unknown(text))
            ))),
        }
    }

    /// The text of a sequence of ids.
    fn decode(&self, ids: Vec<i64>) -> PyResult<String> {
        let vocab = self.vocab_ref();
        ids.iter()
            .map(|&i| {
                u32::try_from(i)
                    .ok()
                    .filter(|&i| (i as usize) < vocab.len())
                    .map(|i| vocab.char(i))
                    .ok_or_else(|| {
                        PyValueError::new_err(format!(
                            "id {i} is outside the vocabulary of {}",
                            vocab.len()
                        ))
                    })
            })
            .collect()
    }

    /// Generate text, as ``charrnn sample`` does with the same settings (and ``seed``, the
    /// same text).
    ///
    /// Args:
    ///     prime: text to warm the state with; the sample starts with it (default: a
    ///         newline, not included).
    ///     n: characters to generate after the prime.
    ///     temperature: above 0; below 1 more conservative, above 1 more adventurous (1).
    ///     top_k: draw only from the ``top_k`` most likely characters.
    ///     top_p: draw only from the most likely characters that together reach ``top_p``.
    ///     argmax: always take the most likely character.
    ///     beam: beam search with this many beams for the most likely continuation.
    ///     seed: the same seed and settings give the same text (default: from the clock).
    ///     stop: stop once the sample has produced this text (it is included).
    ///     unknown: ``"error"`` or ``"skip"``: prime characters outside the vocabulary.
    ///
    /// Returns:
    ///     The prime's text followed by the characters drawn.
    #[pyo3(signature = (prime = None, n = 500, temperature = None, top_k = None, top_p = None,
                        argmax = false, beam = None, seed = None, stop = None, unknown = "error"))]
    #[allow(clippy::too_many_arguments)]
    fn sample(
        &self,
        py: Python<'_>,
        prime: Option<&str>,
        n: usize,
        temperature: Option<f64>,
        top_k: Option<usize>,
        top_p: Option<f64>,
        argmax: bool,
        beam: Option<usize>,
        seed: Option<u64>,
        stop: Option<&str>,
        unknown: &str,
    ) -> PyResult<String> {
        guard(|| {
            let args = Args {
                prime,
                n,
                temperature,
                top_k,
                top_p,
                argmax,
                beam,
                seed,
                stop,
                unknown,
            };
            let plan = args.plan(self.vocab_ref())?;
            typed!(&self.ck, ck => Ok(py.detach(|| sampling::sample(&ck.model, &ck.vocab, &plan))))
        })
    }

    /// :meth:`sample` as an iterator: yields the generated characters one by one, as they are
    /// drawn (the prime is not yielded). The same settings and ``seed`` give the same
    /// characters as :meth:`sample`. Beam search has no iterator form.
    #[pyo3(signature = (prime = None, n = 500, temperature = None, top_k = None, top_p = None,
                        argmax = false, seed = None, stop = None, unknown = "error"))]
    #[allow(clippy::too_many_arguments)]
    fn sample_iter(
        &self,
        prime: Option<&str>,
        n: usize,
        temperature: Option<f64>,
        top_k: Option<usize>,
        top_p: Option<f64>,
        argmax: bool,
        seed: Option<u64>,
        stop: Option<&str>,
        unknown: &str,
    ) -> PyResult<SampleIter> {
        guard(|| {
            let args = Args {
                prime,
                n,
                temperature,
                top_k,
                top_p,
                argmax,
                beam: None,
                seed,
                stop,
                unknown,
            };
            let plan = args.plan(self.vocab_ref())?;
            Ok(match &self.ck {
                Typed::F32(ck) => SampleIter::new_f32(ck.clone(), plan),
                Typed::F64(ck) => SampleIter::new_f64(ck.clone(), plan),
            })
        })
    }

    /// The model's loss on a text, as ``charrnn score --json``: a dict of ``nats_per_char``,
    /// ``bits_per_char``, ``perplexity`` and ``chars`` (characters predicted).
    ///
    /// Args:
    ///     text: the text to score; or
    ///     data: a UTF-8 file to score.
    ///     unknown: ``"error"`` or ``"skip"``: characters outside the vocabulary.
    ///     keep_cr: keep ``\r\n`` and lone ``\r`` as they are (else they become ``\n``).
    ///     seq_len: characters per window (the state is carried across windows).
    #[pyo3(signature = (text = None, *, data = None, unknown = "error", keep_cr = false, seq_len = 128))]
    fn score<'py>(
        &self,
        py: Python<'py>,
        text: Option<&str>,
        data: Option<PathBuf>,
        unknown: &str,
        keep_cr: bool,
        seq_len: usize,
    ) -> PyResult<Bound<'py, PyDict>> {
        guard(|| {
            if seq_len == 0 {
                return Err(PyValueError::new_err("`seq_len` must be at least 1"));
            }
            let skip = match unknown {
                "error" => false,
                "skip" => true,
                u => {
                    return Err(PyValueError::new_err(format!(
                        "`unknown` must be \"error\" or \"skip\", got {u:?}"
                    )))
                }
            };
            let (src, name) = match (text, &data) {
                (Some(t), None) => (Source::text(t), "`text`".to_string()),
                (None, Some(p)) => (Source::File(p), p.display().to_string()),
                _ => {
                    return Err(PyTypeError::new_err(
                        "score() takes a text, or data= a file, not both",
                    ))
                }
            };
            let stats = typed!(&self.ck, ck => py.detach(|| {
                score(&ck.model, &ck.vocab, src, &name, skip, keep_cr, seq_len)
            }))
            .py_err()?;
            eval_dict(py, stats)
        })
    }

    /// Run one character through the model from its current state (zero at first, or after
    /// :meth:`reset`) and return the next character's probabilities, a ``[V]`` numpy array
    /// (``vocab[i]``'s probability at ``i``).
    ///
    /// Args:
    ///     char: a character (a ``str`` of length 1) or its id.
    fn step(&self, py: Python<'_>, char: &Bound<'_, PyAny>) -> PyResult<Py<PyAny>> {
        guard(|| {
            let id = self.char_id(char)?;
            let mut guard = self.step.lock().unwrap_or_else(|e| e.into_inner());
            let s = guard.get_or_insert_with(|| match &self.ck {
                Typed::F32(ck) => Step::F32(Box::new(Stepper::new(&ck.model))),
                Typed::F64(ck) => Step::F64(Box::new(Stepper::new(&ck.model))),
            });
            Ok(match s {
                Step::F32(s) => {
                    s.step(id);
                    probs_array(py, s.probs()).into_any().unbind()
                }
                Step::F64(s) => {
                    s.step(id);
                    probs_array(py, s.probs()).into_any().unbind()
                }
            })
        })
    }

    /// Zero the state :meth:`step` carries.
    fn reset(&self) {
        if let Some(s) = self.step.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            match s {
                Step::F32(s) => s.reset(),
                Step::F64(s) => s.reset(),
            }
        }
    }

    /// The state :meth:`step` carries, by name: ``{"h": [L, H]}``, and ``"c"`` too for an
    /// LSTM (numpy copies; zero before the first step).
    #[getter]
    fn state<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let guard = self.step.lock().unwrap_or_else(|e| e.into_inner());
        match (&self.ck, guard.as_ref()) {
            (Typed::F32(ck), Some(Step::F32(s))) => state_dict(py, &ck.model, Some(s)),
            (Typed::F64(ck), Some(Step::F64(s))) => state_dict(py, &ck.model, Some(s)),
            (Typed::F32(ck), _) => state_dict(py, &ck.model, None),
            (Typed::F64(ck), _) => state_dict(py, &ck.model, None),
        }
    }

    fn __repr__(&self) -> String {
        typed!(&self.ck, ck => {
            let c = ck.model.config();
            format!(
                "charrnn.Model({} E{} H{} x{}, vocabulary {}, {} parameters, {}{})",
                c.cell.name(),
                c.emb,
                c.hidden,
                c.layers,
                c.vocab,
                ck.model.layout.len,
                self.dtype(),
                self.path.as_ref().map_or(String::new(), |p| format!(", {}", p.display()))
            )
        })
    }
}

/// `{"h": [L, H], ...}`: a stepper's states, or zeros.
fn state_dict<'py, T: Real + numpy::Element>(
    py: Python<'py>,
    model: &charrnn::Model<T>,
    stepper: Option<&Stepper<T>>,
) -> PyResult<Bound<'py, PyDict>> {
    let c = model.config();
    let d = PyDict::new(py);
    for (i, name) in c.cell.spec().states().iter().enumerate() {
        let mut buf = vec![T::zero(); c.layers * c.hidden];
        if let Some(s) = stepper {
            for k in 0..c.layers {
                let (h, cs) = s.state(k);
                let src = if i == 0 { h } else { cs };
                buf[k * c.hidden..(k + 1) * c.hidden].copy_from_slice(src);
            }
        }
        d.set_item(*name, shaped(py, &buf, &[c.layers, c.hidden])?)?;
    }
    Ok(d)
}

/// `charrnn score` on `src`, the messages naming the keyword arguments.
fn score<T: Real>(
    model: &charrnn::Model<T>,
    vocab: &Vocab,
    src: Source<'_>,
    name: &str,
    skip: bool,
    keep_cr: bool,
    seq_len: usize,
) -> charrnn::Result<charrnn::eval::EvalStats> {
    let opts = LoadOptions {
        keep_cr,
        ..Default::default()
    };
    let counts = corpus::scan(src, &opts, |_| {})?;
    let (unknown, _) = counts.unknown_to(vocab);
    // A model trained with max_vocab/min_count has the unknown symbol: rare characters are
    // scored as it, as they were trained.
    let replace = vocab.unknown_id().is_some();
    if !unknown.is_empty() && !skip && !replace {
        return Err(Error::Vocab(format!(
            "{name} has characters not in the model's vocabulary: {}; pass unknown=\"skip\" to leave them out",
            describe_chars(&unknown)
        )));
    }
    let on_unknown = if replace {
        OnUnknown::Replace
    } else {
        OnUnknown::Skip
    };
    let ids = corpus::encode(src, &opts, vocab, &counts, on_unknown, |_| {})?;
    if ids.len() < 2 {
        return Err(Error::Config(format!(
            "{name} has fewer than 2 characters the model knows: nothing to score"
        )));
    }
    Ok(evaluate(model, &ids, seq_len))
}
