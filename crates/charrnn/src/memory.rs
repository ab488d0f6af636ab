//! How much memory a training run needs, and how much the machine has: checked before
//! anything large is allocated, so a model too big for the machine is a clear error, not an
//! abort in the allocator.

use crate::error::{Error, Result};
use crate::model::{Layout, ModelConfig};
use crate::optim::OptimKind;
use crate::train::TrainConfig;

/// Bytes a [`crate::train::Trainer`] of `model` with `cfg` allocates in a number type of
/// `bytes` bytes (within a few percent; the corpus is not counted), or `None` if that
/// overflows.
///
/// The weights, their transposed copy and the optimizer state (one or two buffers); per
/// shard (thread) a gradient, a transposed copy, the packed recurrent weights and the
/// activations of a window (every layer's states, pre-activations and caches, the
/// probabilities, and the backward pass's buffers).
pub fn training_bytes(model: &ModelConfig, cfg: &TrainConfig, bytes: usize) -> Option<u64> {
    let params = Layout::try_new(*model)?.len as u64;
    let spec = model.cell.spec();
    let (e, h, v, l) = (
        model.emb as u64,
        model.hidden as u64,
        model.vocab as u64,
        model.layers as u64,
    );
    let (t, b) = (cfg.seq_len as u64, cfg.batch as u64);
    let shards = cfg.threads.clamp(1, cfg.batch) as u64;
    let gh = (spec.gates() as u64).checked_mul(h)?;
    let states = spec.states().len() as u64;
    let optim = 1 + u64::from(cfg.optim.kind == OptimKind::Adam);
    let dropout = if cfg.dropout > 0.0 { 2 } else { 0 };
    // Per layer and row of a window: states, pre-activations, cache, dropout mask and output.
    let per_row_layer = states * h + gh + u64::from(spec.aux()) * h + dropout * h;
    // Per row of a window: the embedded input, the layers, the probabilities and the backward
    // pass's gradients (at outputs, inputs, pre-activations and the recurrent part).
    let per_row = e
        .checked_add(l.checked_mul(per_row_layer)?)?
        .checked_add(v)?
        .checked_add(2 * e.max(h))?
        .checked_add(2 * gh)?;
    let activations = t.checked_add(1)?.checked_mul(b)?.checked_mul(per_row)?;
    let per_shard_params = params.checked_mul(2)?.checked_add(2 * l * gh * h)?;
    let elements = params
        .checked_mul(2 + optim)?
        .checked_add(shards.checked_mul(per_shard_params)?)?
        .checked_add(activations)?;
    elements.checked_mul(bytes as u64)
}

/// The memory this machine can give a new process now (Linux's `MemAvailable`), if known.
pub fn available() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = info.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    kb.checked_mul(1024)
}

/// Refuse a run that needs more memory than the machine has available, saying how much it
/// needs.
pub fn check_fits(model: &ModelConfig, cfg: &TrainConfig, bytes: usize) -> Result<()> {
    let need = training_bytes(model, cfg, bytes);
    let have = available();
    let too_big = match (need, have) {
        (None, _) => true,
        (Some(n), Some(a)) => n > a,
        (Some(_), None) => false,
    };
    if !too_big {
        return Ok(());
    }
    let params =
        Layout::try_new(*model).map_or("more than 2^64".to_string(), |l| l.len.to_string());
    let need = need.map_or("more than 16 EB".to_string(), gigabytes);
    let have = have.map_or(String::new(), |a| {
        format!(", and this machine has {} available", gigabytes(a))
    });
    Err(Error::config(format!(
        "this model needs about {need} of memory to train ({params} parameters, `hidden` {}, `layers` {}, `batch` {}, `seq_len` {}){have}: make it smaller",
        model.hidden, model.layers, cfg.batch, cfg.seq_len
    )))
}

fn gigabytes(b: u64) -> String {
    format!("{:.1} GB", b as f64 / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::CellKind;

    #[test]
    fn the_estimate_counts_the_buffers_and_overflows_to_none() {
        let model = ModelConfig {
            cell: CellKind::RNN,
            vocab: 10,
            emb: 2,
            hidden: 4,
            layers: 1,
        };
        let cfg = TrainConfig {
            seq_len: 3,
            batch: 2,
            threads: 1,
            ..Default::default()
        };
        // 10*2 + 4*2 + 4*4 + 10*4 + 4 + 10 = 98 parameters: weights, transposed copy, Adagrad's
        // sums, and per shard a gradient and a transposed copy, plus W_hh packed twice (32);
        // 4 rows (T+1) x B=2 of 2 + (4+4) + 10 + 2*4 + 2*4 = 36 activations.
        let p = 98;
        let want = (p * 3 + p * 2 + 32 + 4 * 2 * 36) * 4;
        assert_eq!(training_bytes(&model, &cfg, 4), Some(want));
        let big = ModelConfig {
            hidden: 100_000,
            emb: 64,
            ..model
        };
        let need = training_bytes(&big, &cfg, 4).unwrap();
        assert!(need > 100_000_000_000, "{need}");
        let huge = ModelConfig {
            hidden: usize::MAX / 2,
            ..model
        };
        assert_eq!(training_bytes(&huge, &cfg, 4), None);
        let err = check_fits(&huge, &cfg, 4).unwrap_err().to_string();
        assert!(err.contains("make it smaller"), "{err}");
    }
}
