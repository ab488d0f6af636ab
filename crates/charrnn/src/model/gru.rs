//! The GRU layer over a chunk of T steps, as PyTorch's `nn.GRU` (gate order r, z, n).
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
//! the recurrent part's `dgh = (da_r, da_z, r * da_n)`; then `dh_next = dh * z + W_hh^T dgh_t`,
//! `dW_hh += sum_t dgh_t h_{t-1}^T`, `db_hh += sum_t dgh_t`, `dW_ih += sum_t dgi_t x_t^T`,
//! `db_ih += sum_t dgi_t`, `dx_t = W_ih^T dgi_t`.
//!
//! Shapes (time-major rows, row `t * B + b`; G = 3): x `[T*B, In]`; h `[(T+1)*B, H]` with
//! block 0 the carried state; gates `[T*B, 3H]` (the activated r, z, n); gh_n `[T*B, H]`;
//! gh `[B, 3H]` (one step's recurrent part, scratch); dh `[T*B, H]`; dgi and dgh `[T*B, 3H]`;
//! dh_next `[B, H]`.

use crate::kernels::Real;
use crate::kernels::{add_row_bias, gemm, gemm_packed, MatMut, MatRef, Packed};
use crate::model::layout::LayerLayout;
use crate::model::LayerState;

/// `w` is the transposed parameter buffer ([`crate::model::Workspace::wt`]). Fill `s.h[B..]`, `s.gates` and `s.gh_n` from `x` and the carried state in `s.h[..B]`;
/// `gh` (`[B, 3H]`) is scratch.
pub(crate) fn forward<T: Real>(
    w: &[T],
    l: &LayerLayout,
    x: MatRef<T>,
    whh_t: &Packed<T>,
    s: &mut LayerState<T>,
    gh: &mut [T],
    batch: usize,
) {
    let hid = l.hidden;
    let g3 = 3 * hid;
    let tb = x.rows;
    let bh = batch * hid;
    let wih_t = MatRef::new(&w[l.wih.clone()], l.input, g3);
    let bih = &w[l.bih.clone()];
    let bhh = &w[l.bhh.clone().expect("a gru layer has bias_hh")];
    // Input projections of all T steps in one product.
    gemm(
        T::one(),
        x,
        wih_t,
        T::zero(),
        MatMut::new(&mut s.gates, tb, g3),
    );
    add_row_bias(&mut s.gates, bih);
    let gh = &mut gh[..batch * g3];
    for t in 0..tb / batch {
        let (h_prev, h_cur) = s.h.split_at_mut((t + 1) * bh);
        let h_prev = &h_prev[t * bh..];
        let h_cur = &mut h_cur[..bh];
        let gates = &mut s.gates[t * batch * g3..(t + 1) * batch * g3];
        let gh_n = &mut s.gh_n[t * bh..(t + 1) * bh];
        for row in gh.chunks_exact_mut(g3) {
            row.copy_from_slice(bhh);
        }
        gemm_packed(
            MatRef::new(h_prev, batch, hid),
            whh_t,
            T::one(),
            MatMut::new(gh, batch, g3),
        );
        for (b, (row, hrow)) in gates
            .chunks_exact_mut(g3)
            .zip(gh.chunks_exact(g3))
            .enumerate()
        {
            let n = b * hid..(b + 1) * hid;
            cell_forward(
                row,
                hrow,
                &h_prev[n.clone()],
                &mut gh_n[n.clone()],
                &mut h_cur[n],
            );
        }
    }
}

/// One row of the GRU update: `row` holds `gi = W_ih x + b_ih` (r, z, n) and gets the
/// activated gates; `hrow` holds `gh = W_hh h + b_hh`; then `gh_n` keeps the recurrent part
/// of the candidate and `h = (1 - z) n + z h_prev`.
#[inline(always)]
pub(super) fn cell_forward<T: Real>(
    row: &mut [T],
    hrow: &[T],
    h_prev: &[T],
    gh_n: &mut [T],
    h: &mut [T],
) {
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

/// Scratch the backward pass needs, sized by the caller.
pub(crate) struct Scratch<'a, T> {
    /// `[T*B, 3H]` gradient at the input part `gi`.
    pub dgi: &'a mut [T],
    /// `[T*B, 3H]` gradient at the recurrent part `gh`.
    pub dgh: &'a mut [T],
    /// `[B, H]`
    pub dh_next: &'a mut [T],
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
    let g3 = 3 * hid;
    let tb = x.rows;
    let bh = batch * hid;
    let dgi = &mut sc.dgi[..tb * g3];
    let dgh = &mut sc.dgh[..tb * g3];
    sc.dh_next.fill(T::zero());
    for t in (0..tb / batch).rev() {
        let rows = t * batch * g3..(t + 1) * batch * g3;
        let h_prev = &s.h[t * bh..(t + 1) * bh];
        let gh_n = &s.gh_n[t * bh..(t + 1) * bh];
        let dht = &dh[t * bh..(t + 1) * bh];
        let gates = &s.gates[rows.clone()];
        let dgi_t = &mut dgi[rows.clone()];
        let dgh_t = &mut dgh[rows];
        for (b, ((row, di), dr)) in gates
            .chunks_exact(g3)
            .zip(dgi_t.chunks_exact_mut(g3))
            .zip(dgh_t.chunks_exact_mut(g3))
            .enumerate()
        {
            let n = b * hid..(b + 1) * hid;
            cell_backward(
                row,
                di,
                dr,
                &h_prev[n.clone()],
                &gh_n[n.clone()],
                &dht[n.clone()],
                &mut sc.dh_next[n],
            );
        }
        if t > 0 {
            gemm_packed(
                MatRef::new(dgh_t, batch, g3),
                whh,
                T::one(),
                MatMut::new(sc.dh_next, batch, hid),
            );
        }
    }
    super::recurrent_grads(g, l, &s.h, dgh);
    super::input_grads(w, g, l, x, dgi, Some(dx));
}
