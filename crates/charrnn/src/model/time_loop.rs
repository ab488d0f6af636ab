//! One recurrent layer over a chunk of T steps, for any cell: the loop every cell shares.
//!
//! Forward: the input projections of all T steps in one product, `pre = x W_ih^T` (then the
//! cell's [`Cell::input_bias`]); then, step by step, the recurrent product (added into `pre`,
//! or kept apart as `r = b_hh + h_{t-1} W_hh^T`, or none, as the cell's [`Recurrence`] says)
//! and the cell's [`Cell::forward_step`] on the step's B rows.
//!
//! Backward, from `dh` (the loss's gradient at every output), step by step from the last:
//! the cell's [`Cell::backward_step`] gives the gradient at the pre-activations, and the
//! gradient at `h_{t-1}` gets the part through `W_hh`; then, over the whole chunk at once,
//! `dW_hh += d^T h_prev`, `db_hh += sum_rows d` (d the recurrent part's gradient),
//! `dW_ih += dpre^T x`, `db_ih += sum_rows dpre`, `dx = dpre W_ih`.
//!
//! Shapes (time-major rows, row `t * B + b`): x `[T*B, In]`; each state `[(T+1)*B, H]` with
//! block 0 the one carried in; pre, dpre, drec `[T*B, G*H]`; aux `[T*B, H]`; dh `[T*B, H]`;
//! the recurrent scratch `[B, G*H]`; dnext `[B, H]` per state.

use crate::kernels::{gemm, gemm_packed, MatMut, MatRef, Packed, Real};
use crate::model::cell::{split_states, Bwd, Cell, Fwd, Recurrence, MAX_STATES};
use crate::model::layout::LayerLayout;
use crate::model::LayerState;

/// Fill `s` (states from block 1 on, `pre`, `aux`) from `x` and the states carried in
/// (block 0). `w` is the transposed parameter buffer ([`crate::model::Model::transpose_into`]),
/// `whh_t` the layer's prepared `W_hh^T` (unused without recurrence), `rec` `[B, G*H]` scratch.
#[allow(clippy::too_many_arguments)]
pub(crate) fn forward<T: Real>(
    cell: &dyn Cell<T>,
    w: &[T],
    l: &LayerLayout,
    x: MatRef<T>,
    whh_t: &Packed<T>,
    s: &mut LayerState<T>,
    rec: &mut [T],
    batch: usize,
) {
    let (hid, gh) = (l.hidden, l.wih.len() / l.input);
    let tb = x.rows();
    let bh = batch * hid;
    let recurrence = cell.recurrence();
    let wih_t = MatRef::new(&w[l.wih.clone()], l.input, gh);
    let b_ih = &w[l.bih.clone()];
    let b_hh = l.bhh.as_ref().map(|r| &w[r.clone()]);
    // Input projections of all T steps in one product.
    let pre = &mut s.pre[..tb * gh];
    gemm(T::one(), x, wih_t, T::zero(), MatMut::new(pre, tb, gh));
    cell.input_bias(pre, b_ih, b_hh);
    let rec = &mut rec[..if recurrence == Recurrence::Apart {
        batch * gh
    } else {
        0
    }];
    for t in 0..tb / batch {
        let pre = &mut s.pre[t * batch * gh..(t + 1) * batch * gh];
        let (prev, next) = split_states(&mut s.states, t, bh);
        let h_prev = MatRef::new(prev[0], batch, hid);
        let rec: &[T] = match recurrence {
            Recurrence::None => &[],
            Recurrence::Added => {
                gemm_packed(h_prev, whh_t, T::one(), MatMut::new(pre, batch, gh));
                &[]
            }
            Recurrence::Apart => {
                let b_hh = b_hh.expect("a cell with its recurrent part apart has bias_hh");
                for row in rec.chunks_exact_mut(gh) {
                    row.copy_from_slice(b_hh);
                }
                gemm_packed(h_prev, whh_t, T::one(), MatMut::new(rec, batch, gh));
                rec
            }
        };
        let aux: &mut [T] = if s.aux.is_empty() {
            &mut []
        } else {
            &mut s.aux[t * bh..(t + 1) * bh]
        };
        cell.forward_step(Fwd {
            hidden: hid,
            pre,
            rec,
            b_ih,
            b_hh,
            prev,
            next,
            aux,
        });
    }
}

/// Scratch the backward pass needs (see the module docs for shapes).
pub(crate) struct Scratch<'a, T> {
    pub dpre: &'a mut [T],
    /// Empty unless the recurrent part is apart.
    pub drec: &'a mut [T],
    /// One `[B, H]` buffer per state.
    pub dnext: &'a mut [Vec<T>],
}

/// Add this layer's gradients into `g` from `dh` (the gradient at its outputs, `[T*B, H]`),
/// through the chunk last run by [`forward`]; write the gradient at its inputs into `dx`
/// (`[T*B, In]`). `w` holds the parameters as they are (not transposed); `whh` is the
/// layer's prepared `W_hh`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn backward<T: Real>(
    cell: &dyn Cell<T>,
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
    let (hid, gh) = (l.hidden, l.wih.len() / l.input);
    let tb = x.rows();
    let bh = batch * hid;
    let recurrence = cell.recurrence();
    let apart = recurrence == Recurrence::Apart;
    let dpre = &mut sc.dpre[..tb * gh];
    let drec: &mut [T] = if apart {
        &mut sc.drec[..tb * gh]
    } else {
        &mut []
    };
    for d in sc.dnext.iter_mut() {
        d.fill(T::zero());
    }
    // Through W_hh the gradient at h_{t-1} is added to the cell's direct part, or is all of it.
    let beta = if cell.carries_h() {
        T::one()
    } else {
        T::zero()
    };
    for t in (0..tb / batch).rev() {
        let rows = t * batch * gh..(t + 1) * batch * gh;
        let mut prev: [&[T]; MAX_STATES] = [&[], &[]];
        let mut next: [&[T]; MAX_STATES] = [&[], &[]];
        for ((p, n), st) in prev.iter_mut().zip(next.iter_mut()).zip(&s.states) {
            *p = &st[t * bh..(t + 1) * bh];
            *n = &st[(t + 1) * bh..(t + 2) * bh];
        }
        let mut dnext: [&mut [T]; MAX_STATES] = [&mut [], &mut []];
        for (d, buf) in dnext.iter_mut().zip(sc.dnext.iter_mut()) {
            *d = &mut buf[..];
        }
        let [dh_next, dnext_rest] = dnext;
        let dpre_t = &mut dpre[rows.clone()];
        let drec_t: &mut [T] = if apart {
            &mut drec[rows.clone()]
        } else {
            &mut []
        };
        cell.backward_step(Bwd {
            hidden: hid,
            pre: &s.pre[rows.clone()],
            prev,
            next,
            aux: if s.aux.is_empty() {
                &[]
            } else {
                &s.aux[t * bh..(t + 1) * bh]
            },
            dh: &dh[t * bh..(t + 1) * bh],
            dnext: [&mut *dh_next, dnext_rest],
            dpre: &mut *dpre_t,
            drec: &mut *drec_t,
        });
        if t > 0 && recurrence != Recurrence::None {
            let d: &[T] = if apart { drec_t } else { dpre_t };
            gemm_packed(
                MatRef::new(d, batch, gh),
                whh,
                beta,
                MatMut::new(dh_next, batch, hid),
            );
        }
    }
    if recurrence != Recurrence::None {
        recurrent_grads(g, l, &s.states[0], if apart { drec } else { dpre });
    }
    input_grads(w, g, l, x, dpre, dx);
}

/// The recurrent side of a layer's weight gradients: `dW_hh += d^T h_prev` and
/// `db_hh += sum_rows d`, for `d` (`[T*B, G*H]`) the gradient at the recurrent part of the
/// pre-activations and `h_prev` (`[T*B, H]`, the first T blocks of h) the states it came from.
fn recurrent_grads<T: Real>(g: &mut [T], l: &LayerLayout, h_prev: &[T], d: &[T]) {
    let whh = l
        .whh
        .clone()
        .expect("a layer with recurrence has weight_hh");
    let (hid, gh) = (l.hidden, whh.len() / l.hidden);
    let tb = d.len() / gh;
    gemm(
        T::one(),
        MatRef::new(d, tb, gh).t(),
        MatRef::new(&h_prev[..tb * hid], tb, hid),
        T::one(),
        MatMut::new(&mut g[whh], gh, hid),
    );
    if let Some(r) = &l.bhh {
        crate::kernels::add_col_sums(&mut g[r.clone()], d);
    }
}

/// The input side: `dW_ih += d^T x`, `db_ih += sum_rows d`, and `dx = d W_ih` (`[T*B, In]`),
/// for `d` (`[T*B, G*H]`) the gradient at the input part of the pre-activations.
fn input_grads<T: Real>(
    w: &[T],
    g: &mut [T],
    l: &LayerLayout,
    x: MatRef<T>,
    d: &[T],
    dx: &mut [T],
) {
    let gh = l.wih.len() / l.input;
    let d = MatRef::new(d, x.rows(), gh);
    crate::kernels::add_col_sums(&mut g[l.bih.clone()], &d.data()[..x.rows() * gh]);
    gemm(
        T::one(),
        d.t(),
        x,
        T::one(),
        MatMut::new(&mut g[l.wih.clone()], gh, l.input),
    );
    let wih = MatRef::new(&w[l.wih.clone()], gh, l.input);
    gemm(
        T::one(),
        d,
        wih,
        T::zero(),
        MatMut::new(dx, x.rows(), l.input),
    );
}
