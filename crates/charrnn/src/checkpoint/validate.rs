//! The checks a checkpoint's bytes pass before anything is sized from them.
//!
//! A checkpoint may come from a stranger, so every number in it is a claim to check against
//! the file itself: the header size against the file's length, tensor names against the
//! names a model can have, and the parameter count the tensor shapes imply (computed with
//! checked arithmetic) against the bytes the file holds. Only then is the weight buffer
//! allocated, so it is never larger than twice the file's tensor data (f32 data read as
//! f64), and no product of dimensions can overflow.

use std::collections::HashMap;

use crate::model::ModelConfig;

/// More layers than any checkpoint is expected to have; more is taken as a hostile file.
pub(super) const MAX_LAYERS: usize = 1024;

/// Bytes of the little-endian header-size field that starts a safetensors file.
const N_LEN: usize = 8;

/// Check the size field and the start of the header: the file must hold the header it
/// announces, and the header must be a JSON object.
pub(super) fn header(bytes: &[u8]) -> Result<(), String> {
    let Some(size) = bytes.get(..N_LEN) else {
        return Err(format!(
            "is {} bytes long, too short for a safetensors header: the file is truncated or not a checkpoint",
            bytes.len()
        ));
    };
    let n = u64::from_le_bytes(size.try_into().expect("8 bytes"));
    let rest = (bytes.len() - N_LEN) as u64;
    if n > rest {
        return Err(format!(
            "its header claims {n} bytes but only {rest} follow: the file is truncated or not a safetensors checkpoint"
        ));
    }
    match bytes.get(N_LEN) {
        Some(b'{') => Ok(()),
        Some(&b) => Err(format!(
            "does not start with a safetensors header (byte 8 is 0x{b:02x}, not '{{'): not a checkpoint"
        )),
        None => Err("has an empty safetensors header: not a checkpoint".into()),
    }
}

/// Every tensor name must be one a charrnn, notebook or PyTorch char-model checkpoint has,
/// with a layer index below [`MAX_LAYERS`].
pub(super) fn names<'a>(names: impl ExactSizeIterator<Item = &'a str>) -> Result<(), String> {
    const NOTEBOOK: [&str; 6] = ["Wex", "Wxh", "Whh", "Why", "bh", "by"];
    const TORCH: [&str; 3] = ["embed.weight", "out.weight", "out.bias"];
    let count = names.len();
    if count > 4 * MAX_LAYERS + TORCH.len() {
        return Err(format!(
            "has {count} tensors, more than a model of {MAX_LAYERS} layers: not a charrnn checkpoint"
        ));
    }
    for name in names {
        if NOTEBOOK.contains(&name) || TORCH.contains(&name) || layer_index(name).is_some() {
            continue;
        }
        return Err(format!(
            "has a tensor named {:?}, which no charrnn, notebook or PyTorch char-model checkpoint has",
            shorten(name)
        ));
    }
    Ok(())
}

/// `k` of `rnn.{weight,bias}_{ih,hh}_l{k}`, written without leading zeros, below
/// [`MAX_LAYERS`].
fn layer_index(name: &str) -> Option<usize> {
    let rest = name.strip_prefix("rnn.")?;
    let rest = ["weight_ih_l", "weight_hh_l", "bias_ih_l", "bias_hh_l"]
        .iter()
        .find_map(|p| rest.strip_prefix(p))?;
    let k: usize = rest.parse().ok()?;
    (k.to_string() == rest && k < MAX_LAYERS).then_some(k)
}

/// Metadata that describes the model (`vocab_size`, `layers`, `emb`, `hidden`, `cell`,
/// `dtype`) must agree with what the tensors are.
pub(super) fn meta_agrees(
    meta: &HashMap<String, String>,
    c: &ModelConfig,
    dtype: Option<&str>,
) -> Result<(), String> {
    for (key, have) in [
        ("vocab_size", c.vocab),
        ("layers", c.layers),
        ("emb", c.emb),
        ("hidden", c.hidden),
    ] {
        if let Some(said) = meta.get(key) {
            if said.parse::<usize>().ok() != Some(have) {
                return Err(format!(
                    "metadata says {key} {:?} but the tensors have {have}",
                    shorten(said)
                ));
            }
        }
    }
    if let Some(cell) = meta.get("cell") {
        if cell != c.cell.name() {
            return Err(format!(
                "metadata says cell {} but the tensors are those of a {} model",
                shorten(cell),
                c.cell.name()
            ));
        }
    }
    if let (Some(said), Some(have)) = (meta.get("dtype"), dtype) {
        if said != have {
            return Err(format!(
                "metadata says dtype {} but the tensors are {have}",
                shorten(said)
            ));
        }
    }
    Ok(())
}

/// A value from the file, cut to a length fit for an error message.
pub(super) fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    if s.chars().count() <= MAX {
        s.to_string()
    } else {
        let head: String = s.chars().take(MAX).collect();
        format!("{head}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layer_names() {
        assert_eq!(layer_index("rnn.weight_hh_l0"), Some(0));
        assert_eq!(layer_index("rnn.bias_ih_l12"), Some(12));
        assert_eq!(layer_index("rnn.bias_ih_l012"), None);
        assert_eq!(layer_index("rnn.bias_ih_l+1"), None);
        assert_eq!(layer_index("rnn.bias_ih_l99999999999999999999"), None);
        assert_eq!(layer_index("rnn.weight_xx_l0"), None);
    }
}
