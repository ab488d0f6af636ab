//! Checkpoints: one safetensors file holding every tensor under the names and shapes of
//! [`Layout`] (the notebook's for its model, PyTorch's otherwise), so numpy and PyTorch users
//! can load it directly.
//!
//! Metadata (all strings): `vocab`, a JSON array of one-character strings in id order;
//! `format` = `charrnn`, `format_version` = [`FORMAT_VERSION`]; `cell`, `layers`, `emb`,
//! `hidden`, `vocab_size`, `dtype`; and whatever the trainer adds (hyperparameters, step).
//! A file with only the tensors and `vocab` (what the numpy reference writes) loads too.
//!
//! A resumable checkpoint ([`crate::resume`]) is the same file with more: tensors named
//! `train.*` and metadata keys `train.*` holding the training state. [`load`] skips them, so it
//! is still a model file for every command.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::fsutil::write_atomic;
use crate::kernels::Real;
use crate::model::{Layout, Model};
use crate::vocab::Vocab;

mod validate;

/// The checkpoint format this build writes and reads.
pub const FORMAT_VERSION: u32 = 1;

/// A loaded checkpoint.
#[derive(Clone, Debug)]
pub struct Checkpoint<T> {
    pub model: Model<T>,
    pub vocab: Vocab,
    /// Every metadata entry of the file.
    pub meta: HashMap<String, String>,
}

/// Prefix of the tensors (and metadata keys) that hold training state, not the model.
pub const TRAIN_PREFIX: &str = "train.";

/// A tensor stored beside the model's: name (starting with [`TRAIN_PREFIX`]), dtype, shape and
/// little-endian bytes.
pub type ExtraTensor = (String, Dtype, Vec<usize>, Vec<u8>);

/// Serialize a model, its vocabulary and extra metadata to safetensors bytes.
pub fn to_bytes<T: Real>(
    model: &Model<T>,
    vocab: &Vocab,
    extra: &BTreeMap<String, String>,
) -> Result<Vec<u8>> {
    to_bytes_with(model, vocab, extra, &[])
}

/// [`to_bytes`] with extra tensors (training state) beside the model's.
///
/// # Panics
/// If an extra tensor's name does not start with [`TRAIN_PREFIX`] or its bytes do not fit its
/// shape and dtype.
pub fn to_bytes_with<T: Real>(
    model: &Model<T>,
    vocab: &Vocab,
    extra: &BTreeMap<String, String>,
    tensors: &[ExtraTensor],
) -> Result<Vec<u8>> {
    let c = model.config();
    assert_eq!(vocab.len(), c.vocab, "vocabulary and model disagree");
    let mut meta: HashMap<String, String> = extra.clone().into_iter().collect();
    let vocab_json: Vec<String> = vocab.chars().iter().map(|c| c.to_string()).collect();
    meta.insert(
        "vocab".into(),
        serde_json::to_string(&vocab_json).expect("strings serialize"),
    );
    meta.insert("format".into(), "charrnn".into());
    meta.insert("format_version".into(), FORMAT_VERSION.to_string());
    meta.insert("cell".into(), c.cell.name().into());
    meta.insert("layers".into(), c.layers.to_string());
    meta.insert("emb".into(), c.emb.to_string());
    meta.insert("hidden".into(), c.hidden.to_string());
    meta.insert("vocab_size".into(), c.vocab.to_string());
    meta.insert("dtype".into(), T::NAME.into());
    let bytes: Vec<(String, Vec<usize>, Vec<u8>)> = model
        .layout
        .tensors
        .iter()
        .map(|t| {
            let mut b = Vec::with_capacity(t.range.len() * T::BYTES);
            for &x in &model.w[t.range.clone()] {
                x.write_le(&mut b);
            }
            (t.name.clone(), t.shape.clone(), b)
        })
        .collect();
    let model_views = bytes.iter().map(|(n, s, b)| {
        (
            n.as_str(),
            safetensors::tensor::TensorView::new(T::DTYPE, s.clone(), b).expect("sizes agree"),
        )
    });
    let extra_views = tensors.iter().map(|(n, d, s, b)| {
        assert!(
            n.starts_with(TRAIN_PREFIX),
            "extra tensor {n} outside train.*"
        );
        (
            n.as_str(),
            safetensors::tensor::TensorView::new(*d, s.clone(), b).expect("sizes agree"),
        )
    });
    let views = model_views.chain(extra_views);
    safetensors::serialize(views, Some(meta))
        .map_err(|e| Error::config(format!("cannot serialize checkpoint: {e}")))
}

/// Write a checkpoint atomically (temp file + rename).
pub fn save<T: Real>(
    path: &Path,
    model: &Model<T>,
    vocab: &Vocab,
    extra: &BTreeMap<String, String>,
) -> Result<()> {
    write_atomic(path, &to_bytes(model, vocab, extra)?)
}

/// Read a checkpoint, converting its tensors (f32 or f64) to `T`.
///
/// Every failure names the file and what is wrong with it; see [`from_bytes`] for what is
/// checked.
pub fn load<T: Real>(path: &Path) -> Result<Checkpoint<T>> {
    if path.is_dir() {
        return Err(Error::checkpoint(
            path,
            "is a directory: give a checkpoint file",
        ));
    }
    let not_found = |e: std::io::Error| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::checkpoint(
                path,
                "no such checkpoint file: check the path (train writes one with `out`)",
            )
        } else {
            Error::io(path, "cannot read", e)
        }
    };
    // A device or a pipe could stream without end: only regular files are read whole.
    let file_type = std::fs::metadata(path).map_err(not_found)?.file_type();
    if !file_type.is_file() {
        return Err(Error::checkpoint(
            path,
            "is not a regular file: give a checkpoint file",
        ));
    }
    let bytes = std::fs::read(path).map_err(not_found)?;
    from_bytes(&bytes).map_err(|msg| Error::checkpoint(path, msg))
}

/// Parse checkpoint bytes; the error is a message without the file name.
///
/// The bytes may be hostile: this never panics, allocates at most twice the file's tensor
/// data besides the parsed header, and rejects a truncated file, a header larger than the
/// file or not a JSON object, tensor names no model has, shapes whose product overflows or
/// that the file's bytes cannot hold, dtypes other than F32/F64, shapes or metadata that
/// disagree with the model the tensors describe, NaN or infinite weights, a vocabulary with
/// duplicates or entries that are not one character, and a `format_version` other than
/// [`FORMAT_VERSION`] (named in the message).
pub fn from_bytes<T: Real>(bytes: &[u8]) -> std::result::Result<Checkpoint<T>, String> {
    validate::header(bytes)?;
    let bad = |e: safetensors::SafeTensorError| {
        format!("not a readable safetensors file ({e}): it may be truncated or of another format")
    };
    let (header_len, header) = SafeTensors::read_metadata(bytes).map_err(bad)?;
    let meta = header.metadata().clone().unwrap_or_default();
    if let Some(v) = meta.get("format_version") {
        if v.parse::<u32>().ok() != Some(FORMAT_VERSION) {
            return Err(format!(
                "checkpoint format version {}, this build reads version {FORMAT_VERSION}: use the charrnn release that wrote it",
                validate::shorten(v)
            ));
        }
    }
    let st = SafeTensors::deserialize(bytes).map_err(bad)?;
    // Training state (`train.*`, see `crate::resume`) rides along; only the model's are checked.
    let names: Vec<&str> = st
        .names()
        .into_iter()
        .filter(|n| !n.starts_with(TRAIN_PREFIX))
        .collect();
    validate::names(names.iter().copied())?;
    let vocab_json = meta
        .get("vocab")
        .ok_or("no \"vocab\" metadata: not a charrnn or notebook checkpoint")?;
    let entries: Vec<String> = serde_json::from_str(vocab_json)
        .map_err(|e| format!("the \"vocab\" metadata is not a JSON array of strings: {e}"))?;
    let mut chars = Vec::with_capacity(entries.len());
    for s in &entries {
        let mut it = s.chars();
        match (it.next(), it.next()) {
            (Some(c), None) => chars.push(c),
            _ => {
                return Err(format!(
                    "vocabulary entry {:?} is not exactly one character",
                    validate::shorten(s)
                ))
            }
        }
    }
    let vocab = Vocab::from_chars(chars).map_err(|e| e.to_string())?;
    if vocab.is_empty() {
        return Err("the \"vocab\" metadata is empty".into());
    }

    let shapes: Vec<(String, Vec<usize>)> = st
        .tensors()
        .into_iter()
        .filter(|(n, _)| !n.starts_with(TRAIN_PREFIX))
        .map(|(n, v)| (n, v.shape().to_vec()))
        .collect();
    let config = Layout::infer(&shapes, meta.get("cell").map(String::as_str))?;
    if config.vocab != vocab.len() {
        return Err(format!(
            "the tensors are for a vocabulary of {} characters but the \"vocab\" metadata has {}",
            config.vocab,
            vocab.len()
        ));
    }
    if config.emb == 0 || config.hidden == 0 {
        return Err("a tensor has a zero dimension".into());
    }
    // Every tensor the model needs must be in the file, so the file's data bounds the count;
    // checked (the layout's arithmetic is) before anything is allocated from it.
    let data_bytes = bytes.len() - 8 - header_len;
    let layout = match Layout::try_new(config) {
        Some(l) if l.len <= data_bytes / 4 => l,
        _ => {
            return Err(format!(
                "the tensor shapes describe a {} model (vocabulary {}, embedding {}, hidden {}, {} layers) larger than the file's {data_bytes} bytes of data: the header is corrupt",
                config.cell.name(),
                config.vocab,
                config.emb,
                config.hidden,
                config.layers
            ))
        }
    };
    for (name, _) in &shapes {
        if layout.tensor(name).is_none() {
            return Err(format!(
                "unexpected tensor {name} for a {}-layer {} model",
                config.layers,
                config.cell.name()
            ));
        }
    }
    let mut w = vec![T::zero(); layout.len];
    // The one dtype of the model's tensors ("f32" or "f64"), or "mixed".
    let mut dtype = None;
    for spec in &layout.tensors {
        let view = st
            .tensor(&spec.name)
            .map_err(|_| format!("tensor {} is missing", spec.name))?;
        if view.shape() != spec.shape.as_slice() {
            return Err(format!(
                "tensor {} has shape {:?}, expected {:?}",
                spec.name,
                view.shape(),
                spec.shape
            ));
        }
        let dst = &mut w[spec.range.clone()];
        let data = view.data();
        let name = match view.dtype() {
            Dtype::F32 => "f32",
            Dtype::F64 => "f64",
            _ => "",
        };
        dtype = match dtype {
            None => Some(name),
            Some(d) if d == name => Some(d),
            Some(_) => Some("mixed"),
        };
        match view.dtype() {
            Dtype::F32 => {
                for (d, b) in dst.iter_mut().zip(data.chunks_exact(4)) {
                    *d = T::of(f32::from_le_bytes(b.try_into().expect("4 bytes")) as f64);
                }
            }
            Dtype::F64 => {
                for (d, b) in dst.iter_mut().zip(data.chunks_exact(8)) {
                    *d = T::of(f64::from_le_bytes(b.try_into().expect("8 bytes")));
                }
            }
            other => {
                return Err(format!(
                    "tensor {} has dtype {other:?}; charrnn reads F32 or F64",
                    spec.name
                ))
            }
        }
        if dst.iter().any(|x| !x.is_finite()) {
            return Err(format!(
                "tensor {} holds NaN or infinite values (or values too large for {}): the run that wrote it diverged",
                spec.name,
                T::NAME
            ));
        }
    }
    // Last, so that a tensor of the wrong shape is named as such first.
    validate::meta_agrees(&meta, &config, dtype)?;
    Ok(Checkpoint {
        model: Model { layout, w },
        vocab,
        meta,
    })
}
