//! The text through the model: the chunk forward pass, batch 1, state carried across chunks;
//! per character its loss, probability and top predictions, per layer its states and gates.

use crate::kernels::Real;
use crate::model::{Model, Workspace};

use super::{Channel, ChannelKind};

/// What one pass over the text collects.
pub(super) struct Trace {
    /// Summed cross-entropy in nats, in text order.
    pub nats: f64,
    /// `[N]` bits per character (`None` for the first).
    pub bits: Vec<Option<f64>>,
    /// `[N]` the probability of each character (`None` for the first).
    pub p: Vec<Option<f32>>,
    /// `[N]` top `(id, p)` per character, most likely first (empty for the first).
    pub top: Vec<Vec<(u32, f32)>>,
    /// Per layer: its states, then its gates.
    pub channels: Vec<Channel>,
}

/// Run `ids` (N of them) through `model` from a zero state, in chunks of `chunk` steps.
pub(super) fn trace<T: Real>(model: &Model<T>, ids: &[u32], top: usize, chunk: usize) -> Trace {
    let n = ids.len();
    let c = model.config();
    let (h, v) = (c.hidden, c.vocab);
    let spec = c.cell.spec();
    let gates = spec.gate_info();
    let gh = spec.gates() * h;
    let mut channels = Vec::new();
    for layer in 0..c.layers {
        for &name in spec.states() {
            channels.push(Channel {
                layer,
                name,
                kind: ChannelKind::State,
                squash: None,
                units: h,
                values: vec![0.0; n * h],
            });
        }
        for g in gates {
            channels.push(Channel {
                layer,
                name: g.name,
                kind: ChannelKind::Gate,
                squash: Some(g.squash),
                units: h,
                values: vec![0.0; n * h],
            });
        }
    }
    let per_layer = spec.states().len() + gates.len();
    let mut out = Trace {
        nats: 0.0,
        bits: vec![None; n],
        p: vec![None; n],
        top: vec![Vec::new(); n],
        channels,
    };
    let steps = chunk.clamp(1, n);
    let mut ws = Workspace::new(&model.layout, steps, 1);
    ws.frozen = true;
    ws.reset_state();
    let mut inputs = vec![0u32; steps];
    let mut start = 0;
    while start < n {
        let valid = steps.min(n - start);
        // The tail chunk is padded; padding comes after every step that is read.
        for (t, x) in inputs.iter_mut().enumerate() {
            *x = if t < valid { ids[start + t] } else { 0 };
        }
        if start > 0 {
            ws.carry_state();
        }
        model.forward(&mut ws, &inputs, None);
        for t in 0..valid {
            let i = start + t;
            for (k, st) in ws.layers.iter().enumerate() {
                let chans = &mut out.channels[k * per_layer..(k + 1) * per_layer];
                let (state_chans, gate_chans) = chans.split_at_mut(st.states.len());
                for (ch, s) in state_chans.iter_mut().zip(&st.states) {
                    copy_f32(
                        &s[(t + 1) * h..(t + 2) * h],
                        &mut ch.values[i * h..(i + 1) * h],
                    );
                }
                for (j, ch) in gate_chans.iter_mut().enumerate() {
                    let row = &st.pre[t * gh + j * h..t * gh + (j + 1) * h];
                    copy_f32(row, &mut ch.values[i * h..(i + 1) * h]);
                }
            }
            if i + 1 < n {
                let probs = &ws.probs[t * v..(t + 1) * v];
                let y = ids[i + 1] as usize;
                let nats = -probs[y].f64().ln();
                out.nats += nats;
                out.bits[i + 1] = Some(nats / std::f64::consts::LN_2);
                out.p[i + 1] = Some(probs[y].f64() as f32);
                out.top[i + 1] = top_k(probs, top);
            }
        }
        start += valid;
    }
    out
}

fn copy_f32<T: Real>(src: &[T], dst: &mut [f32]) {
    for (d, s) in dst.iter_mut().zip(src) {
        *d = s.f64() as f32;
    }
}

/// The `k` largest entries of `probs` as `(index, value)`, largest first (ties to the lower
/// index).
fn top_k<T: Real>(probs: &[T], k: usize) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(k + 1);
    for (i, p) in probs.iter().enumerate() {
        let p = p.f64() as f32;
        if best.len() == k && best.last().is_none_or(|&(_, q)| p <= q) {
            continue;
        }
        let at = best.partition_point(|&(_, q)| q >= p);
        best.insert(at, (i as u32, p));
        best.truncate(k);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::top_k;

    #[test]
    fn top_k_is_the_largest_in_order() {
        let p = [0.1f64, 0.4, 0.05, 0.4, 0.05];
        assert_eq!(top_k(&p, 3), vec![(1, 0.4), (3, 0.4), (0, 0.1)]);
        assert_eq!(top_k(&p, 0), vec![]);
        assert_eq!(top_k(&p, 9).len(), 5);
    }
}
