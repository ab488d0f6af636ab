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

use crate::kernels::{add_col_sums, gemm, MatMut, MatRef};
use crate::model::layout::LayerLayout;
use crate::model::LayerState;
use crate::real::Real;

#[inline]
fn sigmoid<T: Real>(a: T) -> T {
    T::one() / (T::one() + (-a).exp())
}

/// Fill `s.h[B..]`, `s.c[B..]`, `s.gates` and `s.tanh_c` from `x` and the carried state in
/// `s.h[..B]`, `s.c[..B]`.
pub(crate) fn forward<T: Real>(
    w: &[T],
    l: &LayerLayout,
    x: MatRef<T>,
    s: &mut LayerState<T>,
    batch: usize,
) {
    let hid = l.hidden;
    let g4 = 4 * hid;
    let tb = x.rows;
    let bh = batch * hid;
    let wih = MatRef::new(&w[l.wih.clone()], g4, l.input);
    let whh = MatRef::new(&w[l.whh.clone()], g4, hid);
    let bih = &w[l.bih.clone()];
    let bhh = &w[l.bhh.clone().expect("an lstm layer has bias_hh")];
    // Input projections of all T steps in one product.
    gemm(
        T::one(),
        x,
        wih.t(),
        T::zero(),
        MatMut::new(&mut s.gates, tb, g4),
    );
    for t in 0..tb / batch {
        let (h_prev, h_cur) = s.h.split_at_mut((t + 1) * bh);
        let h_prev = &h_prev[t * bh..];
        let h_cur = &mut h_cur[..bh];
        let (c_prev, c_cur) = s.c.split_at_mut((t + 1) * bh);
        let c_prev = &c_prev[t * bh..];
        let c_cur = &mut c_cur[..bh];
        let gates = &mut s.gates[t * batch * g4..(t + 1) * batch * g4];
        let tanh_c = &mut s.tanh_c[t * bh..(t + 1) * bh];
        gemm(
            T::one(),
            MatRef::new(h_prev, batch, hid),
            whh.t(),
            T::one(),
            MatMut::new(gates, batch, g4),
        );
        for (b, row) in gates.chunks_exact_mut(g4).enumerate() {
            let (ri, rest) = row.split_at_mut(hid);
            let (rf, rest) = rest.split_at_mut(hid);
            let (rg, ro) = rest.split_at_mut(hid);
            for j in 0..hid {
                let i = sigmoid(ri[j] + bih[j] + bhh[j]);
                let f = sigmoid(rf[j] + bih[hid + j] + bhh[hid + j]);
                let g = (rg[j] + bih[2 * hid + j] + bhh[2 * hid + j]).tanh();
                let o = sigmoid(ro[j] + bih[3 * hid + j] + bhh[3 * hid + j]);
                (ri[j], rf[j], rg[j], ro[j]) = (i, f, g, o);
                let n = b * hid + j;
                let c = f * c_prev[n] + i * g;
                let tc = c.tanh();
                c_cur[n] = c;
                tanh_c[n] = tc;
                h_cur[n] = o * tc;
            }
        }
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
    let whh = MatRef::new(&w[l.whh.clone()], g4, hid);
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
            for j in 0..hid {
                let n = b * hid + j;
                let (i, f) = (row[j], row[hid + j]);
                let (gg, o) = (row[2 * hid + j], row[3 * hid + j]);
                let tc = tanh_c[n];
                let dhv = dht[n] + sc.dh_next[n];
                let dc = sc.dc_next[n] + dhv * o * (T::one() - tc * tc);
                drow[j] = dc * gg * i * (T::one() - i);
                drow[hid + j] = dc * c_prev[n] * f * (T::one() - f);
                drow[2 * hid + j] = dc * i * (T::one() - gg * gg);
                drow[3 * hid + j] = dhv * tc * o * (T::one() - o);
                sc.dc_next[n] = dc * f;
            }
        }
        if t > 0 {
            gemm(
                T::one(),
                MatRef::new(dat, batch, g4),
                whh,
                T::zero(),
                MatMut::new(sc.dh_next, batch, hid),
            );
        }
    }
    let da_m = MatRef::new(da, tb, g4);
    gemm(
        T::one(),
        da_m.t(),
        MatRef::new(&s.h[..tb * hid], tb, hid),
        T::one(),
        MatMut::new(&mut g[l.whh.clone()], g4, hid),
    );
    add_col_sums(&mut g[l.bih.clone()], da);
    add_col_sums(
        &mut g[l.bhh.clone().expect("an lstm layer has bias_hh")],
        da,
    );
    gemm(
        T::one(),
        da_m.t(),
        x,
        T::one(),
        MatMut::new(&mut g[l.wih.clone()], g4, l.input),
    );
    let wih = MatRef::new(&w[l.wih.clone()], g4, l.input);
    gemm(T::one(), da_m, wih, T::zero(), MatMut::new(dx, tb, l.input));
}
