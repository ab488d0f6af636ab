//! The tanh RNN layer over a chunk of T steps.
//!
//! Forward: `h_t = tanh(W_ih x_t + W_hh h_{t-1} + b_ih [+ b_hh])`.
//! Backward, from `dh_t` (the loss's gradient at each output):
//! `da_t = (1 - h_t^2) * (dh_t + W_hh^T da_{t+1})`, `dW_hh += sum_t da_t h_{t-1}^T`,
//! `db += sum_t da_t`, `dW_ih += sum_t da_t x_t^T`, `dx_t = W_ih^T da_t`.
//!
//! Shapes (time-major rows, row `t * B + b`): x `[T*B, In]`, h `[(T+1)*B, H]` with block 0 the
//! carried state `h_{-1}`, dh and da `[T*B, H]`.

use crate::kernels::Real;
use crate::kernels::{gemm, gemm_packed, MatMut, MatRef, Packed};
use crate::model::layout::LayerLayout;

/// `w` is the transposed parameter buffer ([`crate::model::Workspace::wt`]). Fill `h[B..]` from `x` and the carried state in `h[..B]`.
pub(crate) fn forward<T: Real>(
    w: &[T],
    l: &LayerLayout,
    x: MatRef<T>,
    whh_t: &Packed<T>,
    h: &mut [T],
    batch: usize,
) {
    let hid = l.hidden;
    let tb = x.rows;
    let wih_t = MatRef::new(&w[l.wih.clone()], l.input, hid);
    // Input projections of all T steps in one product (the notebook's W_xh x first).
    gemm(
        T::one(),
        x,
        wih_t,
        T::zero(),
        MatMut::new(&mut h[batch * hid..], tb, hid),
    );
    let bih = &w[l.bih.clone()];
    let bhh = l.bhh.as_ref().map(|r| &w[r.clone()]);
    for t in 0..tb / batch {
        let (prev, cur) = h.split_at_mut((t + 1) * batch * hid);
        let prev = &prev[t * batch * hid..];
        let cur = &mut cur[..batch * hid];
        gemm_packed(
            MatRef::new(prev, batch, hid),
            whh_t,
            T::one(),
            MatMut::new(cur, batch, hid),
        );
        // The notebook's order: (W_xh x + W_hh h) + b.
        for row in cur.chunks_exact_mut(hid) {
            match bhh {
                Some(b2) => {
                    for ((v, &b1), &b2) in row.iter_mut().zip(bih).zip(b2) {
                        *v = (*v + b1 + b2).tanh_k();
                    }
                }
                None => {
                    for (v, &b1) in row.iter_mut().zip(bih) {
                        *v = (*v + b1).tanh_k();
                    }
                }
            }
        }
    }
}

/// Scratch the backward pass needs, sized by the caller.
pub(crate) struct Scratch<'a, T> {
    /// `[T*B, H]`
    pub da: &'a mut [T],
    /// `[B, H]`
    pub dh_next: &'a mut [T],
}

/// Add this layer's gradients into `g`; consume `dh` (gradient at the outputs); write the
/// gradient at the inputs into `dx` when given.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    w: &[T],
    g: &mut [T],
    l: &LayerLayout,
    x: MatRef<T>,
    whh: &Packed<T>,
    h: &[T],
    dh: &[T],
    s: Scratch<T>,
    dx: Option<&mut [T]>,
    batch: usize,
) {
    let hid = l.hidden;
    let tb = x.rows;
    let steps = tb / batch;
    let bh = batch * hid;
    let da = &mut s.da[..tb * hid];
    s.dh_next.fill(T::zero());
    for t in (0..steps).rev() {
        let ht = &h[(t + 1) * bh..(t + 2) * bh];
        let dht = &dh[t * bh..(t + 1) * bh];
        let dat = &mut da[t * bh..(t + 1) * bh];
        let dh_next = &s.dh_next[..bh];
        for i in 0..bh {
            let d = dht[i] + dh_next[i];
            dat[i] = (T::one() - ht[i] * ht[i]) * d;
        }
        if t > 0 {
            gemm_packed(
                MatRef::new(dat, batch, hid),
                whh,
                T::zero(),
                MatMut::new(s.dh_next, batch, hid),
            );
        }
    }
    super::recurrent_grads(g, l, h, da);
    super::input_grads(w, g, l, x, da, dx);
}
