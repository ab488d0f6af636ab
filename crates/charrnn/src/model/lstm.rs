//! The LSTM cell, as PyTorch's `nn.LSTM` (gate order i, f, g, o).
//!
//! Forward, with `a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh` split into four blocks of H:
//! `i = σ(a_i)`, `f = σ(a_f)`, `g = tanh(a_g)`, `o = σ(a_o)`,
//! `c_t = f * c_{t-1} + i * g`, `h_t = o * tanh(c_t)`.
//!
//! Backward, from `dh_t` (the loss's gradient at each output) plus what flows back from step
//! t+1 (`dh_next`, `dc_next`):
//! `dh = dh_t + dh_next`, `dc = dc_next + dh * o * (1 - tanh(c_t)^2)`,
//! `da_i = dc * g * i(1-i)`, `da_f = dc * c_{t-1} * f(1-f)`, `da_g = dc * i * (1-g^2)`,
//! `da_o = dh * tanh(c_t) * o(1-o)`; then `dc_next = dc * f`, and the time loop sends
//! `dh_next = W_hh^T da_t` back a step.
//!
//! Two states (h, c), G = 4; `pre` keeps the activated gates (i, f, g, o) and `aux` `tanh(c_t)`.

use crate::kernels::{add_row_bias2, Real};
use crate::model::cell::{Bwd, Cell, CellKind, CellSpec, Fwd, GateInfo, Recurrence, Squash};

/// PyTorch's LSTM.
pub struct Lstm;

/// Its handle.
pub const LSTM: CellKind = CellKind::of(&Lstm);

impl CellSpec for Lstm {
    fn name(&self) -> &'static str {
        "lstm"
    }

    fn about(&self) -> &'static str {
        "Long short-term memory (PyTorch's gate order i, f, g, o)"
    }

    fn gates(&self) -> usize {
        4
    }

    fn states(&self) -> &'static [&'static str] {
        &["h", "c"]
    }

    fn recurrence(&self) -> Recurrence {
        Recurrence::Added
    }

    fn aux(&self) -> bool {
        true
    }

    fn gate_info(&self) -> &'static [GateInfo] {
        const G: [GateInfo; 4] = [
            GateInfo {
                name: "i",
                about: "input gate: how much of the candidate enters the cell",
                squash: Squash::Sigmoid,
            },
            GateInfo {
                name: "f",
                about: "forget gate: how much of the cell state is kept",
                squash: Squash::Sigmoid,
            },
            GateInfo {
                name: "g",
                about: "candidate cell value",
                squash: Squash::Tanh,
            },
            GateInfo {
                name: "o",
                about: "output gate: how much of tanh(c) becomes h",
                squash: Squash::Sigmoid,
            },
        ];
        &G
    }
}

impl<T: Real> Cell<T> for Lstm {
    fn input_bias(&self, pre: &mut [T], b_ih: &[T], b_hh: Option<&[T]>) {
        add_row_bias2(pre, b_ih, b_hh.expect("an lstm layer has bias_hh"));
    }

    fn forward_step(&self, s: Fwd<'_, T>) {
        let hid = s.hidden;
        let [h, c] = s.next;
        let rows = s.pre.chunks_exact_mut(4 * hid);
        for (b, row) in rows.enumerate().take(h.len() / hid) {
            let n = b * hid..(b + 1) * hid;
            cell_forward(
                row,
                &s.prev[1][n.clone()],
                &mut c[n.clone()],
                &mut s.aux[n.clone()],
                &mut h[n],
            );
        }
    }

    fn backward_step(&self, s: Bwd<'_, T>) {
        let hid = s.hidden;
        let [dh_next, dc_next] = s.dnext;
        let rows = s
            .pre
            .chunks_exact(4 * hid)
            .zip(s.dpre.chunks_exact_mut(4 * hid));
        for (b, (row, drow)) in rows.enumerate().take(s.dh.len() / hid) {
            let n = b * hid..(b + 1) * hid;
            cell_backward(
                row,
                drow,
                &s.prev[1][n.clone()],
                &s.aux[n.clone()],
                &s.dh[n.clone()],
                &dh_next[n.clone()],
                &mut dc_next[n],
            );
        }
    }
}

/// One row of the LSTM update: `row` holds the pre-activations (i, f, g, o) and gets the
/// activated gates; then `c = f c_prev + i g`, `tanh_c = tanh(c)`, `h = o tanh_c`.
#[inline(always)]
fn cell_forward<T: Real>(row: &mut [T], c_prev: &[T], c: &mut [T], tanh_c: &mut [T], h: &mut [T]) {
    let hid = c_prev.len();
    let (ri, rest) = row.split_at_mut(hid);
    let (rf, rest) = rest.split_at_mut(hid);
    let (rg, ro) = rest.split_at_mut(hid);
    let (ro, c, tanh_c, h) = (
        &mut ro[..hid],
        &mut c[..hid],
        &mut tanh_c[..hid],
        &mut h[..hid],
    );
    for j in 0..hid {
        let i = ri[j].sigmoid_k();
        let f = rf[j].sigmoid_k();
        let g = rg[j].tanh_k();
        let o = ro[j].sigmoid_k();
        (ri[j], rf[j], rg[j], ro[j]) = (i, f, g, o);
        let cj = f * c_prev[j] + i * g;
        let tc = cj.tanh_k();
        c[j] = cj;
        tanh_c[j] = tc;
        h[j] = o * tc;
    }
}

/// One row of the LSTM backward step: the gradients at the four pre-activations into `drow`,
/// and `dc_next <- dc * f`.
#[inline(always)]
fn cell_backward<T: Real>(
    row: &[T],
    drow: &mut [T],
    c_prev: &[T],
    tanh_c: &[T],
    dh: &[T],
    dh_next: &[T],
    dc_next: &mut [T],
) {
    let hid = c_prev.len();
    let (gi, rest) = row.split_at(hid);
    let (gf, rest) = rest.split_at(hid);
    let (gg, go) = rest.split_at(hid);
    let (di, rest) = drow.split_at_mut(hid);
    let (df, rest) = rest.split_at_mut(hid);
    let (dg, d_o) = rest.split_at_mut(hid);
    let (go, d_o, tanh_c, dh, dh_next, dc_next) = (
        &go[..hid],
        &mut d_o[..hid],
        &tanh_c[..hid],
        &dh[..hid],
        &dh_next[..hid],
        &mut dc_next[..hid],
    );
    let one = T::one();
    for j in 0..hid {
        let (i, f, g, o) = (gi[j], gf[j], gg[j], go[j]);
        let tc = tanh_c[j];
        let dhv = dh[j] + dh_next[j];
        let dc = dc_next[j] + dhv * o * (one - tc * tc);
        di[j] = dc * g * i * (one - i);
        df[j] = dc * c_prev[j] * f * (one - f);
        dg[j] = dc * i * (one - g * g);
        d_o[j] = dhv * tc * o * (one - o);
        dc_next[j] = dc * f;
    }
}
