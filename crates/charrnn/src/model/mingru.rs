//! The minimal GRU (minGRU) of Feng et al., "Were RNNs All We Needed?" (2024).
//!
//! Its gate and candidate depend on the input only, so a layer has no recurrent weights:
//! `z_t = σ(a_z)`, `ĥ_t = a_h` with `(a_z, a_h) = W_ih x_t + b_ih` (two blocks of H), and
//! `h_t = (1 - z_t) * h_{t-1} + z_t * ĥ_t`. Training is then the input projections of a whole
//! chunk as one large product plus an element-wise scan over time (sequential here: per step
//! it is a few multiply-adds per unit, no matrix product). Stacked layers make the upper
//! layers' gates depend on the past through the lower layers' states, as in the paper.
//!
//! Backward, from `dh = dh_t + dh_next`: `da_z = dh * (ĥ_t - h_{t-1}) * z(1-z)`,
//! `da_h = dh * z`, and `dh_next = dh * (1 - z)` (all of the gradient at `h_{t-1}`: there is
//! no `W_hh`).
//!
//! One state (h), G = 2; `pre` keeps `(z, ĥ)`. Stored under PyTorch-style names like the other
//! cells, with `rnn.weight_ih_l{k}` `[2H, In]` and `rnn.bias_ih_l{k}` `[2H]` only.

use crate::kernels::{add_row_bias, Real};
use crate::model::cell::{Bwd, Cell, CellKind, CellSpec, Fwd, GateInfo, Recurrence, Squash};

/// The minimal GRU.
pub struct MinGru;

/// Its handle.
pub const MINGRU: CellKind = CellKind::of(&MinGru);

impl CellSpec for MinGru {
    fn name(&self) -> &'static str {
        "mingru"
    }

    fn about(&self) -> &'static str {
        "Minimal GRU (Feng et al. 2024): gates from the input only, no recurrent product"
    }

    fn gates(&self) -> usize {
        2
    }

    fn states(&self) -> &'static [&'static str] {
        &["h"]
    }

    fn recurrence(&self) -> Recurrence {
        Recurrence::None
    }

    fn carries_h(&self) -> bool {
        true
    }

    /// Its projections are `nn.Linear`s of the input: `1/sqrt(fan_in)`.
    fn init_bound(&self, input: usize, _hidden: usize) -> f64 {
        1.0 / (input as f64).sqrt()
    }

    fn gate_info(&self) -> &'static [GateInfo] {
        const G: [GateInfo; 2] = [
            GateInfo {
                name: "z",
                about: "update gate: how much of the candidate replaces h_{t-1}",
                squash: Squash::Sigmoid,
            },
            GateInfo {
                name: "ĥ",
                about: "candidate state (linear in the input)",
                squash: Squash::Identity,
            },
        ];
        &G
    }
}

impl<T: Real> Cell<T> for MinGru {
    fn input_bias(&self, pre: &mut [T], b_ih: &[T], _b_hh: Option<&[T]>) {
        add_row_bias(pre, b_ih);
    }

    fn forward_step(&self, s: Fwd<'_, T>) {
        let hid = s.hidden;
        let [h, _] = s.next;
        let rows = s.pre.chunks_exact_mut(2 * hid);
        let states = s.prev[0].chunks_exact(hid).zip(h.chunks_exact_mut(hid));
        for (row, (h_prev, h)) in rows.zip(states) {
            let (az, cand) = row.split_at_mut(hid);
            for j in 0..hid {
                let z = az[j].sigmoid_k();
                az[j] = z;
                h[j] = h_prev[j] + z * (cand[j] - h_prev[j]);
            }
        }
    }

    fn backward_step(&self, s: Bwd<'_, T>) {
        let hid = s.hidden;
        let [dh_next, _] = s.dnext;
        let one = T::one();
        let rows = s
            .pre
            .chunks_exact(2 * hid)
            .zip(s.dpre.chunks_exact_mut(2 * hid));
        let grads = s.dh.chunks_exact(hid).zip(dh_next.chunks_exact_mut(hid));
        for (((row, drow), h_prev), (dh, dh_next)) in
            rows.zip(s.prev[0].chunks_exact(hid)).zip(grads)
        {
            let (z, cand) = row.split_at(hid);
            let (dz, dcand) = drow.split_at_mut(hid);
            for j in 0..hid {
                let d = dh[j] + dh_next[j];
                dz[j] = d * (cand[j] - h_prev[j]) * z[j] * (one - z[j]);
                dcand[j] = d * z[j];
                dh_next[j] = d * (one - z[j]);
            }
        }
    }
}
