//! What `charrnn.torch` needs from the library to carry a run to PyTorch and back: a resumable
//! checkpoint's training state as numpy arrays, the run's text cut exactly as the trainer cuts
//! it, and a checked, atomic write of a checkpoint made of numpy arrays and metadata.
//!
//! The file format is [`charrnn::resume`]'s: model tensors under their layout names,
//! `train.optim.m`/`train.optim.v` `[N]` in layout order, `train.state.{h,c}` `[L, B, H]`, and
//! JSON metadata `train.state`, `train.config` and `train.run` ([`RunRecord`]).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use charrnn::checkpoint;
use charrnn::corpus::{self, LoadOptions, OnUnknown, Source};
use charrnn::resume;
use charrnn::run::{checkpoints, RunRecord, META_KEY};
use charrnn::vocab::UNKNOWN;
use charrnn::{Error, Real};
use numpy::{PyArray1, PyArrayMethods, PyReadonlyArrayDyn, PyUntypedArrayMethods};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use safetensors::Dtype;

use crate::errors::{guard, IntoPy};
use crate::model::{PyModel, Typed};
use crate::options::TEXT_NAME;

/// The dtype a checkpoint's metadata says its run trains in.
fn saved_dtype(path: &Path) -> charrnn::Result<&'static str> {
    let ck = checkpoint::load::<f64>(path)?;
    Ok(match ck.meta.get("dtype").map(String::as_str) {
        Some("f64") => "f64",
        _ => "f32",
    })
}

/// A resumable checkpoint's training state: `{"model": Model, "dtype", "optim_m": [N],
/// "optim_v": [N] or None, "states": {"h": [L, B, H], ...}, "step", "epochs", "cursor_p",
/// "cursor_n", "smooth_loss", "optim_t"}`, in the run's dtype; the JSON metadata is the
/// model's `metadata`.
#[pyfunction]
pub fn read_run<'py>(py: Python<'py>, path: PathBuf) -> PyResult<Bound<'py, PyDict>> {
    guard(|| {
        let dtype = py.detach(|| saved_dtype(&path)).py_err()?;
        let d = PyDict::new(py);
        d.set_item("dtype", dtype)?;
        match dtype {
            "f64" => fill::<f64>(py, &d, &path, |ck| Typed::F64(Arc::new(ck)))?,
            _ => fill::<f32>(py, &d, &path, |ck| Typed::F32(Arc::new(ck)))?,
        }
        Ok(d)
    })
}

fn fill<T: Real + numpy::Element>(
    py: Python<'_>,
    d: &Bound<'_, PyDict>,
    path: &Path,
    typed: impl FnOnce(checkpoint::Checkpoint<T>) -> Typed,
) -> PyResult<()> {
    let r = py.detach(|| resume::load::<T>(path)).py_err()?;
    if !r.checkpoint.meta.contains_key(META_KEY) {
        return Err(PyValueError::new_err(format!(
            "{}: has training state but no charrnn train settings (\"{META_KEY}\"): it was not written by charrnn train",
            path.display()
        )));
    }
    let c = r.checkpoint.model.config();
    let (l, b, h) = (c.layers, r.config.batch, c.hidden);
    let st = r.state;
    d.set_item("optim_m", PyArray1::from_vec(py, st.optim_m))?;
    let v = (!st.optim_v.is_empty()).then(|| PyArray1::from_vec(py, st.optim_v));
    d.set_item("optim_v", v)?;
    let states = PyDict::new(py);
    for (name, buf) in c.cell.spec().states().iter().zip(st.states) {
        states.set_item(*name, PyArray1::from_vec(py, buf).reshape(vec![l, b, h])?)?;
    }
    d.set_item("states", states)?;
    d.set_item("step", st.step)?;
    d.set_item("epochs", st.epochs)?;
    d.set_item("cursor_p", st.cursor.p)?;
    d.set_item("cursor_n", st.cursor.n)?;
    d.set_item("smooth_loss", st.smooth_loss)?;
    d.set_item("optim_t", st.optim_t)?;
    let model = PyModel::new(typed(r.checkpoint), Some(path.to_path_buf()));
    d.set_item("model", Bound::new(py, model)?)?;
    Ok(())
}

/// The ids a resumed run trains and validates on: its text (the `data` saved in `run`, the
/// run's [`RunRecord`] JSON, or `data`/`text` given now), read with the run's newline rule,
/// checked against the run's fingerprint, encoded with `model`'s vocabulary and split by
/// `val_frac`, as `charrnn train --resume` does. Returns `(train_ids, val_ids)`, int64.
#[pyfunction]
#[pyo3(signature = (model, run, data = None, text = None))]
pub fn run_text<'py>(
    py: Python<'py>,
    model: PyRef<'_, PyModel>,
    run: &str,
    data: Option<PathBuf>,
    text: Option<String>,
) -> PyResult<IdsPair<'py>> {
    guard(|| {
        let rec: RunRecord = serde_json::from_str(run).map_err(|e| {
            PyValueError::new_err(format!("the \"{META_KEY}\" metadata is unreadable: {e}"))
        })?;
        let vocab = match model.typed() {
            Typed::F32(ck) => ck.vocab.clone(),
            Typed::F64(ck) => ck.vocab.clone(),
        };
        let (train, val) = py
            .detach(|| {
                let data = data.or(rec.data.clone());
                let (src, source) = match (&data, &text) {
                    (Some(p), _) => (Source::File(p), p.display().to_string()),
                    (None, Some(t)) => (Source::text(t), TEXT_NAME.to_string()),
                    (None, None) => {
                        return Err(Error::Config(
                            "the run trained on a text in memory: give it again as `text`".into(),
                        ))
                    }
                };
                let load = LoadOptions {
                    keep_cr: rec.keep_cr,
                    ..LoadOptions::default()
                };
                let counts = corpus::scan(src, &load, |_| {})?;
                if (counts.total(), counts.fingerprint()) != (rec.corpus_chars, rec.corpus_hash) {
                    return Err(Error::Config(format!(
                        "{source} is not the text the run was trained on ({} characters then, {} now, or other characters): give the run's `data`",
                        rec.corpus_chars,
                        counts.total()
                    )));
                }
                let unknown = if vocab.id(UNKNOWN).is_some() {
                    OnUnknown::Replace
                } else {
                    OnUnknown::Error
                };
                let ids = corpus::encode(src, &load, &vocab, &counts, unknown, |_| {})?;
                let n = ids.len();
                let n_val = (n as f64 * rec.val_frac) as usize;
                let (train, val) = ids.split_at(n - n_val);
                let wide = |ids: charrnn::vocab::Ids| ids.iter().map(i64::from).collect::<Vec<_>>();
                Ok((wide(train), wide(val)))
            })
            .py_err()?;
        Ok((PyArray1::from_vec(py, train), PyArray1::from_vec(py, val)))
    })
}

/// The training and validation ids of a run's text.
type IdsPair<'py> = (Bound<'py, PyArray1<i64>>, Bound<'py, PyArray1<i64>>);

/// One tensor from numpy: dtype, shape, little-endian bytes.
fn tensor_bytes(name: &str, a: &Bound<'_, PyAny>) -> PyResult<(Dtype, Vec<usize>, Vec<u8>)> {
    if let Ok(x) = a.extract::<PyReadonlyArrayDyn<'_, f64>>() {
        let bytes = x.as_array().iter().flat_map(|v| v.to_le_bytes()).collect();
        return Ok((Dtype::F64, x.shape().to_vec(), bytes));
    }
    if let Ok(x) = a.extract::<PyReadonlyArrayDyn<'_, f32>>() {
        let bytes = x.as_array().iter().flat_map(|v| v.to_le_bytes()).collect();
        return Ok((Dtype::F32, x.shape().to_vec(), bytes));
    }
    Err(PyTypeError::new_err(format!(
        "tensor {name} must be a float32 or float64 numpy array"
    )))
}

/// Write a checkpoint of `tensors` (name -> float32/float64 numpy array) and `metadata`
/// atomically to `path`, after checking that charrnn reads it back: as a model, and, when its
/// metadata holds training state, as a resumable checkpoint of the dtype it says.
#[pyfunction]
pub fn write_checkpoint(
    py: Python<'_>,
    path: PathBuf,
    tensors: &Bound<'_, PyDict>,
    metadata: std::collections::HashMap<String, String>,
) -> PyResult<()> {
    guard(|| {
        let mut owned = Vec::with_capacity(tensors.len());
        for (k, v) in tensors.iter() {
            let name: String = k.extract()?;
            let (dtype, shape, bytes) = tensor_bytes(&name, &v)?;
            owned.push((name, dtype, shape, bytes));
        }
        py.detach(|| {
            let views = owned.iter().map(|(n, d, s, b)| {
                let view = safetensors::tensor::TensorView::new(*d, s.clone(), b)
                    .expect("numpy's shape and bytes agree");
                (n.as_str(), view)
            });
            let bytes = safetensors::serialize(views, Some(metadata))
                .map_err(|e| Error::Config(format!("cannot serialize the checkpoint: {e}")))?;
            let bad = |msg: String| Error::Checkpoint {
                path: path.clone(),
                msg: format!("would not load back, so it was not written: {msg}"),
            };
            let ck = checkpoint::from_bytes::<f64>(&bytes).map_err(bad)?;
            if resume::is_resumable(&ck.meta) {
                match ck.meta.get("dtype").map(String::as_str) {
                    Some("f64") => resume::from_parts(ck, &bytes).map(drop),
                    _ => checkpoint::from_bytes::<f32>(&bytes)
                        .and_then(|ck| resume::from_parts(ck, &bytes).map(drop)),
                }
                .map_err(bad)?;
            }
            charrnn::fsutil::write_atomic(&path, &bytes)
        })
        .py_err()
    })
}

/// The file name `charrnn train` gives the checkpoint after `step` steps.
#[pyfunction]
#[pyo3(signature = (step, val = None))]
pub fn checkpoint_name(step: u64, val: Option<f64>) -> String {
    checkpoints::name(step, val)
}

/// Keep the last `keep` checkpoints up to `step` in `dir` (and the best by validation loss),
/// as `charrnn train` does; returns the files removed.
#[pyfunction]
pub fn rotate_checkpoints(dir: PathBuf, step: u64, keep: usize) -> PyResult<Vec<String>> {
    guard(|| {
        if keep == 0 {
            return Err(PyValueError::new_err("`keep` must be at least 1"));
        }
        let removed = checkpoints::rotate(&dir, step, keep).py_err()?;
        Ok(removed.iter().map(|p| p.display().to_string()).collect())
    })
}
