//! The LSTM layer over a chunk of T steps, as PyTorch's `nn.LSTM` (gate order i, f, g, o).
//!
//! Forward, with `a_t = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh` split into four blocks of H:
//! `i = σ(a_i)`, `f = σ(a_f)`, `g = tanh(a_g)`, `o = σ(a_o)`,
//! `c_t = f * c_{t-1} + i * g`, `h_t = o * tanh(c_t)`.
//!
//! Backward, from `dh_t` (the loss's gradient at each output) plus what flows back from step
//! t+1 (`dh_next`, `dc_next`):
//! `dh = dh_t + dh_next`, `dc = dc_next + dh * o * (1 - tanh(c_t)^2)`,
//! `da_i = dc * g * i(1-i)`, `da_f = dc * c_{t-1} * f(1-f)`, `da_g = dc * i * (1-g^2)`,
//! `da_o = dh * tanh(c_t) * o(1-o)`; then `dc_next = dc * f`, `dh_next = W_hh^T da_t`,
//! `dW_hh += sum_t da_t h_{t-1}^T`, `db_ih, db_hh += sum_t da_t`, `dW_ih += sum_t da_t x_t^T`,
//! `dx_t = W_ih^T da_t`.
//!
//! Shapes (time-major rows, row `t * B + b`; G = 4): x `[T*B, In]`; h and c `[(T+1)*B, H]` with
//! block 0 the carried state; gates `[T*B, 4H]` (the activated i, f, g, o); tanh_c `[T*B, H]`;
//! dh `[T*B, H]`; da `[T*B, 4H]`; dh_next and dc_next `[B, H]`.

use crate::kernels::Real;
use crate::kernels::{add_row_bias2, gemm, gemm_packed, MatMut, MatRef, Packed};
use crate::model::layout::LayerLayout;
use crate::model::LayerState;

/// `w` is the transposed parameter buffer ([`crate::model::Workspace::wt`]). Fill `s.h[B..]`, `s.c[B..]`, `s.gates` and `s.tanh_c` from `x` and the carried state in
/// `s.h[..B]`, `s.c[..B]`.
pub(crate) fn forward<T: Real>(
    w: &[T],
    l: &LayerLayout,
    x: MatRef<T>,
    whh_t: &Packed<T>,
    s: &mut LayerState<T>,
    batch: usize,
) {
    let hid = l.hidden;
    let g4 = 4 * hid;
    let tb = x.rows;
    let bh = batch * hid;
    let wih_t = MatRef::new(&w[l.wih.clone()], l.input, g4);
    let bih = &w[l.bih.clone()];
    let bhh = &w[l.bhh.clone().expect("an lstm layer has bias_hh")];
    // Input projections of all T steps in one product.
    gemm(
        T::one(),
        x,
        wih_t,
        T::zero(),
        MatMut::new(&mut s.gates, tb, g4),
    );
    add_row_bias2(&mut s.gates, bih, bhh);
    for t in 0..tb / batch {
        let (h_prev, h_cur) = s.h.split_at_mut((t + 1) * bh);
        let h_prev = &h_prev[t * bh..];
        let h_cur = &mut h_cur[..bh];
        let (c_prev, c_cur) = s.c.split_at_mut((t + 1) * bh);
        let c_prev = &c_prev[t * bh..];
        let c_cur = &mut c_cur[..bh];
        let gates = &mut s.gates[t * batch * g4..(t + 1) * batch * g4];
        let tanh_c = &mut s.tanh_c[t * bh..(t + 1) * bh];
        gemm_packed(
            MatRef::new(h_prev, batch, hid),
            whh_t,
            T::one(),
            MatMut::new(gates, batch, g4),
        );
        for (b, row) in gates.chunks_exact_mut(g4).enumerate() {
            let n = b * hid..(b + 1) * hid;
            cell_forward(
                row,
                &c_prev[n.clone()],
                &mut c_cur[n.clone()],
                &mut tanh_c[n.clone()],
                &mut h_cur[n],
            );
        }
    }
}

/// One row of the LSTM update: `row` holds the pre-activations (i, f, g, o) and gets the
/// activated gates; then `c = f c_prev + i g`, `tanh_c = tanh(c)`, `h = o tanh_c`.
#[inline(always)]
pub(super) fn cell_forward<T: Real>(
    row: &mut [T],
    c_prev: &[T],
    c: &mut [T],
    tanh_c: &mut [T],
    h: &mut [T],
) {
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

/// Scratch the backward pass needs, sized by the caller.
pub(crate) struct Scratch<'a, T> {
    /// `[T*B, 4H]`
    pub da: &'a mut [T],
    /// `[B, H]`
    pub dh_next: &'a mut [T],
    /// `[B, H]`
    pub dc_next: &'a mut [T],
}

/// Add this layer's gradients into `g`, from `dh` (the gradient at the outputs, `[T*B, H]`);
/// write the gradient at the inputs into `dx` (`[T*B, In]`).
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    w: &[T],
    g: &mut [T],
    l: &LayerLayout,
    x: MatRef<T>,
    whh: &Packed<T>,
    s: &LayerState<T>,
    dh: &[T],
    sc: Scratch<T>,
    dx: &mut [T],
    batch: usize,
) {
    let hid = l.hidden;
    let g4 = 4 * hid;
    let tb = x.rows;
    let bh = batch * hid;
    let da = &mut sc.da[..tb * g4];
    sc.dh_next.fill(T::zero());
    sc.dc_next.fill(T::zero());
    for t in (0..tb / batch).rev() {
        let c_prev = &s.c[t * bh..(t + 1) * bh];
        let tanh_c = &s.tanh_c[t * bh..(t + 1) * bh];
        let dht = &dh[t * bh..(t + 1) * bh];
        let gates = &s.gates[t * batch * g4..(t + 1) * batch * g4];
        let dat = &mut da[t * batch * g4..(t + 1) * batch * g4];
        for (b, (row, drow)) in gates
            .chunks_exact(g4)
            .zip(dat.chunks_exact_mut(g4))
            .enumerate()
        {
            let n = b * hid..(b + 1) * hid;
            cell_backward(
                row,
                drow,
                &c_prev[n.clone()],
                &tanh_c[n.clone()],
                &dht[n.clone()],
                &sc.dh_next[n.clone()],
                &mut sc.dc_next[n],
            );
        }
        if t > 0 {
            gemm_packed(
                MatRef::new(dat, batch, g4),
                whh,
                T::zero(),
                MatMut::new(sc.dh_next, batch, hid),
            );
        }
    }
    super::recurrent_grads(g, l, &s.h, da);
    super::input_grads(w, g, l, x, da, Some(dx));
}
