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

use crate::kernels::{add_col_sums, gemm, MatMut, MatRef};
use crate::model::layout::LayerLayout;
use crate::model::LayerState;
use crate::real::Real;

#[inline]
fn sigmoid<T: Real>(a: T) -> T {
    T::one() / (T::one() + (-a).exp())
}

/// Fill `s.h[B..]`, `s.gates` and `s.gh_n` from `x` and the carried state in `s.h[..B]`;
/// `gh` (`[B, 3H]`) is scratch.
pub(crate) fn forward<T: Real>(
    w: &[T],
    l: &LayerLayout,
    x: MatRef<T>,
    s: &mut LayerState<T>,
    gh: &mut [T],
    batch: usize,
) {
    let hid = l.hidden;
    let g3 = 3 * hid;
    let tb = x.rows;
    let bh = batch * hid;
    let wih = MatRef::new(&w[l.wih.clone()], g3, l.input);
    let whh = MatRef::new(&w[l.whh.clone()], g3, hid);
    let bih = &w[l.bih.clone()];
    let bhh = &w[l.bhh.clone().expect("a gru layer has bias_hh")];
    // Input projections of all T steps in one product.
    gemm(
        T::one(),
        x,
        wih.t(),
        T::zero(),
        MatMut::new(&mut s.gates, tb, g3),
    );
    let gh = &mut gh[..batch * g3];
    for t in 0..tb / batch {
        let (h_prev, h_cur) = s.h.split_at_mut((t + 1) * bh);
        let h_prev = &h_prev[t * bh..];
        let h_cur = &mut h_cur[..bh];
        let gates = &mut s.gates[t * batch * g3..(t + 1) * batch * g3];
        let gh_n = &mut s.gh_n[t * bh..(t + 1) * bh];
        gemm(
            T::one(),
            MatRef::new(h_prev, batch, hid),
            whh.t(),
            T::zero(),
            MatMut::new(gh, batch, g3),
        );
        for (b, (row, hrow)) in gates
            .chunks_exact_mut(g3)
            .zip(gh.chunks_exact(g3))
            .enumerate()
        {
            for j in 0..hid {
                let (jz, jn) = (hid + j, 2 * hid + j);
                let r = sigmoid(row[j] + bih[j] + hrow[j] + bhh[j]);
                let z = sigmoid(row[jz] + bih[jz] + hrow[jz] + bhh[jz]);
                let hn = hrow[jn] + bhh[jn];
                let n = (row[jn] + bih[jn] + r * hn).tanh();
                (row[j], row[jz], row[jn]) = (r, z, n);
                let k = b * hid + j;
                gh_n[k] = hn;
                h_cur[k] = (T::one() - z) * n + z * h_prev[k];
            }
        }
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
    let whh = MatRef::new(&w[l.whh.clone()], g3, hid);
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
        for (b, row) in gates.chunks_exact(g3).enumerate() {
            let di = &mut dgi_t[b * g3..(b + 1) * g3];
            let dr = &mut dgh_t[b * g3..(b + 1) * g3];
            for j in 0..hid {
                let (jz, jn) = (hid + j, 2 * hid + j);
                let k = b * hid + j;
                let (r, z, n) = (row[j], row[jz], row[jn]);
                let dhv = dht[k] + sc.dh_next[k];
                let da_n = dhv * (T::one() - z) * (T::one() - n * n);
                let da_r = da_n * gh_n[k] * r * (T::one() - r);
                let da_z = dhv * (h_prev[k] - n) * z * (T::one() - z);
                (di[j], di[jz], di[jn]) = (da_r, da_z, da_n);
                (dr[j], dr[jz], dr[jn]) = (da_r, da_z, r * da_n);
                sc.dh_next[k] = dhv * z;
            }
        }
        if t > 0 {
            gemm(
                T::one(),
                MatRef::new(dgh_t, batch, g3),
                whh,
                T::one(),
                MatMut::new(sc.dh_next, batch, hid),
            );
        }
    }
    let dgh_m = MatRef::new(dgh, tb, g3);
    gemm(
        T::one(),
        dgh_m.t(),
        MatRef::new(&s.h[..tb * hid], tb, hid),
        T::one(),
        MatMut::new(&mut g[l.whh.clone()], g3, hid),
    );
    add_col_sums(&mut g[l.bhh.clone().expect("a gru layer has bias_hh")], dgh);
    let dgi_m = MatRef::new(dgi, tb, g3);
    add_col_sums(&mut g[l.bih.clone()], dgi);
    gemm(
        T::one(),
        dgi_m.t(),
        x,
        T::one(),
        MatMut::new(&mut g[l.wih.clone()], g3, l.input),
    );
    let wih = MatRef::new(&w[l.wih.clone()], g3, l.input);
    gemm(
        T::one(),
        dgi_m,
        wih,
        T::zero(),
        MatMut::new(dx, tb, l.input),
    );
}
