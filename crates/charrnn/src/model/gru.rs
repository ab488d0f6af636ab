//! The GRU cell, as PyTorch's `nn.GRU` (gate order r, z, n).
//!
//! Forward, with the input part `gi_t = W_ih x_t + b_ih` and the recurrent part
//! `gh_t = W_hh h_{t-1} + b_hh`, each split into blocks (r, z, n) of H:
//! `r = σ(gi_r + gh_r)`, `z = σ(gi_z + gh_z)`, `n = tanh(gi_n + r * gh_n)`,
//! `h_t = (1 - z) * n + z * h_{t-1}`.
//!
//! Backward, from `dh = dh_t + dh_next` (the loss's gradient at the output plus what flows
//! back from step t+1):
//! `da_n = dh * (1-z) * (1-n^2)`, `da_r = da_n * gh_n * r(1-r)`,
//! `da_z = dh * (h_{t-1} - n) * z(1-z)`; the input part's gradient is `dgi = (da_r, da_z, da_n)`,
//! the recurrent part's `dgh = (da_r, da_z, r * da_n)`; then `dh_next = dh * z`, to which the
//! time loop adds `W_hh^T dgh_t`.
//!
//! One state (h), G = 3, the recurrent part apart (`r = W_hh h_{t-1} + b_hh`, gated by r in the
//! candidate); `pre` keeps the activated gates (r, z, n) and `aux` the recurrent part of the
//! candidate, `W_hn h_{t-1} + b_hn`.

use crate::kernels::{add_row_bias, Real};
use crate::model::cell::{Bwd, Cell, CellKind, CellSpec, Fwd, GateInfo, Recurrence, Squash};

/// PyTorch's GRU.
pub struct Gru;

/// Its handle.
pub const GRU: CellKind = CellKind::of(&Gru);

impl CellSpec for Gru {
    fn name(&self) -> &'static str {
        "gru"
    }

    fn about(&self) -> &'static str {
        "Gated recurrent unit (PyTorch's gate order r, z, n)"
    }

    fn gates(&self) -> usize {
        3
    }

    fn states(&self) -> &'static [&'static str] {
        &["h"]
    }

    fn recurrence(&self) -> Recurrence {
        Recurrence::Apart
    }

    fn aux(&self) -> bool {
        true
    }

    fn carries_h(&self) -> bool {
        true
    }

    fn gate_info(&self) -> &'static [GateInfo] {
        const G: [GateInfo; 3] = [
            GateInfo {
                name: "r",
                about: "reset gate: how much of h_{t-1} the candidate sees",
                squash: Squash::Sigmoid,
            },
            GateInfo {
                name: "z",
                about: "update gate: how much of h_{t-1} is kept",
                squash: Squash::Sigmoid,
            },
            GateInfo {
                name: "n",
                about: "candidate state",
                squash: Squash::Tanh,
            },
        ];
        &G
    }
}

impl<T: Real> Cell<T> for Gru {
    fn input_bias(&self, pre: &mut [T], b_ih: &[T], _b_hh: Option<&[T]>) {
        add_row_bias(pre, b_ih);
    }

    fn forward_step(&self, s: Fwd<'_, T>) {
        let hid = s.hidden;
        let [h, _] = s.next;
        let rows = s
            .pre
            .chunks_exact_mut(3 * hid)
            .zip(s.rec.chunks_exact(3 * hid));
        for (b, (row, hrow)) in rows.enumerate().take(h.len() / hid) {
            let n = b * hid..(b + 1) * hid;
            cell_forward(
                row,
                hrow,
                &s.prev[0][n.clone()],
                &mut s.aux[n.clone()],
                &mut h[n],
            );
        }
    }

    fn backward_step(&self, s: Bwd<'_, T>) {
        let hid = s.hidden;
        let [dh_next, _] = s.dnext;
        let rows = s
            .pre
            .chunks_exact(3 * hid)
            .zip(s.dpre.chunks_exact_mut(3 * hid))
            .zip(s.drec.chunks_exact_mut(3 * hid));
        for (b, ((row, di), dr)) in rows.enumerate().take(s.dh.len() / hid) {
            let n = b * hid..(b + 1) * hid;
            cell_backward(
                row,
                di,
                dr,
                &s.prev[0][n.clone()],
                &s.aux[n.clone()],
                &s.dh[n.clone()],
                &mut dh_next[n],
            );
        }
    }
}

/// One row of the GRU update: `row` holds `gi = W_ih x + b_ih` (r, z, n) and gets the
/// activated gates; `hrow` holds `gh = W_hh h + b_hh`; then `gh_n` keeps the recurrent part
/// of the candidate and `h = (1 - z) n + z h_prev`.
#[inline(always)]
fn cell_forward<T: Real>(row: &mut [T], hrow: &[T], h_prev: &[T], gh_n: &mut [T], h: &mut [T]) {
    let hid = h_prev.len();
    let (gr, rest) = row.split_at_mut(hid);
    let (gz, gn) = rest.split_at_mut(hid);
    let (hr, rest) = hrow.split_at(hid);
    let (hz, hn) = rest.split_at(hid);
    let (gn, hz, hn, gh_n, h) = (
        &mut gn[..hid],
        &hz[..hid],
        &hn[..hid],
        &mut gh_n[..hid],
        &mut h[..hid],
    );
    let one = T::one();
    for j in 0..hid {
        let r = (gr[j] + hr[j]).sigmoid_k();
        let z = (gz[j] + hz[j]).sigmoid_k();
        let n = (gn[j] + r * hn[j]).tanh_k();
        (gr[j], gz[j], gn[j]) = (r, z, n);
        gh_n[j] = hn[j];
        h[j] = (one - z) * n + z * h_prev[j];
    }
}

/// One row of the GRU backward step: the gradients at the input part (`di`) and recurrent
/// part (`dr`) of the pre-activations, and `dh_next <- dh * z` (the rest of the gradient at
/// `h_{t-1}` is added by the caller's product with `W_hh`).
#[inline(always)]
fn cell_backward<T: Real>(
    row: &[T],
    di: &mut [T],
    dr: &mut [T],
    h_prev: &[T],
    gh_n: &[T],
    dh: &[T],
    dh_next: &mut [T],
) {
    let hid = h_prev.len();
    let (gr, rest) = row.split_at(hid);
    let (gz, gn) = rest.split_at(hid);
    let (dir, rest) = di.split_at_mut(hid);
    let (diz, din) = rest.split_at_mut(hid);
    let (drr, rest) = dr.split_at_mut(hid);
    let (drz, drn) = rest.split_at_mut(hid);
    let (gz, gn, diz, din, drr, drz, drn) = (
        &gz[..hid],
        &gn[..hid],
        &mut diz[..hid],
        &mut din[..hid],
        &mut drr[..hid],
        &mut drz[..hid],
        &mut drn[..hid],
    );
    let (gh_n, dh, dh_next) = (&gh_n[..hid], &dh[..hid], &mut dh_next[..hid]);
    let one = T::one();
    for j in 0..hid {
        let (r, z, n) = (gr[j], gz[j], gn[j]);
        let dhv = dh[j] + dh_next[j];
        let da_n = dhv * (one - z) * (one - n * n);
        let da_r = da_n * gh_n[j] * r * (one - r);
        let da_z = dhv * (h_prev[j] - n) * z * (one - z);
        (dir[j], diz[j], din[j]) = (da_r, da_z, da_n);
        (drr[j], drz[j], drn[j]) = (da_r, da_z, r * da_n);
        dh_next[j] = dhv * z;
    }
}
