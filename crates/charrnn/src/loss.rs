//! Softmax and cross-entropy, fused, over rows of logits `[N, V]`.
//!
//! Forward turns each row into probabilities in place, `p = exp(o - max o) / sum exp(o - max o)`
//! (the notebook's stable softmax), and returns `sum_rows -ln p[target]`.
//! Backward turns probabilities into `do = (p - onehot(target)) / batch` in place.

use crate::kernels;
use crate::kernels::Real;

/// Softmax every row of `x` (`[N, V]`) in place.
pub fn softmax_rows<T: Real>(x: &mut [T], v: usize) {
    if T::FAST {
        x.chunks_exact_mut(v).for_each(softmax_row_fast);
        return;
    }
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

/// One row's softmax in 16-lane blocks (lane-wise maximum and sum, one reduction across the
/// lanes each, the last partial block element by element), multiplying by `1 / sum`.
fn softmax_row_fast<T: Real>(row: &mut [T]) {
    const L: usize = 16;
    let (blocks, tail) = row.as_chunks_mut::<L>();
    let mut m = [T::neg_infinity(); L];
    for b in blocks.iter() {
        for l in 0..L {
            m[l] = if b[l] > m[l] { b[l] } else { m[l] };
        }
    }
    let mut top = T::max16(&m);
    for &t in tail.iter() {
        top = if t > top { t } else { top };
    }
    let mut s = [T::zero(); L];
    for b in blocks.iter_mut() {
        for l in 0..L {
            b[l] = (b[l] - top).exp_k();
            s[l] += b[l];
        }
    }
    let mut sum = T::sum16(&s);
    for t in tail.iter_mut() {
        *t = (*t - top).exp_k();
        sum += *t;
    }
    let inv = T::one() / sum;
    row.iter_mut().for_each(|o| *o *= inv);
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
    let inv = T::one() / b;
    for (row, &y) in p.chunks_exact_mut(v).zip(targets) {
        if T::FAST {
            // Scale, then subtract: a scalar store just before the vector loads of the same
            // row would stall them (no store forwarding into a wider load).
            row.iter_mut().for_each(|d| *d *= inv);
            row[y as usize] -= inv;
        } else {
            row[y as usize] -= T::one();
            row.iter_mut().for_each(|d| *d /= b);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_block_softmax_matches_f64_for_every_tail_length() {
        let mut seed = 1u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((seed >> 11) as f64 / (1u64 << 53) as f64) * 20.0 - 10.0
        };
        for v in [1, 2, 15, 16, 17, 31, 65, 100] {
            let rows = 3;
            let x64: Vec<f64> = (0..rows * v).map(|_| next()).collect();
            let mut x32: Vec<f32> = x64.iter().map(|&x| x as f32).collect();
            let mut want = x64.clone();
            softmax_rows(&mut want, v);
            softmax_rows(&mut x32, v);
            for (i, (&a, &b)) in x32.iter().zip(&want).enumerate() {
                assert!(
                    (a as f64 - b).abs() <= 1e-6 * b.max(1e-3),
                    "V={v} [{i}]: {a} vs {b}"
                );
            }
            for row in x32.chunks_exact(v) {
                assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-5);
            }
        }
    }
}
