//! Softmax and cross-entropy, fused, over rows of logits `[N, V]`.
//!
//! Forward turns each row into probabilities in place, `p = exp(o - max o) / sum exp(o - max o)`
//! (the notebook's stable softmax), and returns `sum_rows -ln p[target]`.
//! Backward turns probabilities into `do = (p - onehot(target)) / batch` in place.

use crate::kernels;
use crate::real::Real;

/// Softmax every row of `x` (`[N, V]`) in place.
pub fn softmax_rows<T: Real>(x: &mut [T], v: usize) {
    for row in x.chunks_exact_mut(v) {
        let max = kernels::max(row);
        for o in row.iter_mut() {
            *o = (*o - max).exp_k();
        }
        let sum = kernels::sum(row);
        if T::FAST {
            let inv = T::one() / sum;
            row.iter_mut().for_each(|o| *o *= inv);
        } else {
            // The notebook's e / sum, exactly.
            row.iter_mut().for_each(|o| *o /= sum);
        }
    }
}

/// Softmax in place and return the summed cross-entropy of `targets` (one per row), in f64.
pub fn softmax_xent<T: Real>(x: &mut [T], v: usize, targets: &[u32]) -> f64 {
    softmax_rows(x, v);
    let mut loss = 0.0;
    for (row, &y) in x.chunks_exact(v).zip(targets) {
        loss += (-row[y as usize].ln()).f64();
    }
    loss
}

/// Turn probabilities into the gradient of the summed loss divided by `batch`: `(p - y) / batch`.
pub fn softmax_xent_backward<T: Real>(p: &mut [T], v: usize, targets: &[u32], batch: usize) {
    let b = T::of(batch as f64);
    for (row, &y) in p.chunks_exact_mut(v).zip(targets) {
        row[y as usize] -= T::one();
        for d in row.iter_mut() {
            *d /= b;
        }
    }
}
