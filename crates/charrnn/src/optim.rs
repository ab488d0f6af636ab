//! Gradient clipping and optimizers over the flat parameter buffer.

use crate::kernels;
use crate::model::Layout;
use crate::real::Real;

/// How gradients are clipped before the update.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Clip {
    /// Clip every element to `[-value, value]`; `None` turns clipping off.
    pub value: Option<f64>,
    /// Clip the embedding's gradient too (the notebook does not).
    pub embedding: bool,
}

impl Default for Clip {
    fn default() -> Self {
        Clip {
            value: Some(1.0),
            embedding: false,
        }
    }
}

impl Clip {
    /// Clip `g` in place; returns how many elements were clipped.
    pub fn apply<T: Real>(&self, layout: &Layout, g: &mut [T]) -> usize {
        let Some(c) = self.value else { return 0 };
        let c = T::of(c);
        let mut n = 0;
        for t in &layout.tensors {
            if t.range == layout.embed && !self.embedding {
                continue;
            }
            n += kernels::clip(&mut g[t.range.clone()], c);
        }
        n
    }
}

/// Adagrad as the notebook: `m += g*g; w += -lr * g / sqrt(m + 1e-8)`.
#[derive(Clone, Debug)]
pub struct Adagrad<T> {
    /// Sum of squared gradients, mirroring the parameters.
    pub mem: Vec<T>,
}

impl<T: Real> Adagrad<T> {
    /// Zeroed state for `n` parameters.
    pub fn new(n: usize) -> Self {
        Adagrad {
            mem: vec![T::zero(); n],
        }
    }

    /// One update with learning rate `lr`.
    pub fn step(&mut self, w: &mut [T], g: &[T], lr: f64) {
        let neg_lr = T::of(-lr);
        let eps = T::of(1e-8);
        for ((w, &g), m) in w.iter_mut().zip(g).zip(self.mem.iter_mut()) {
            *m += g * g;
            *w += neg_lr * g / (*m + eps).sqrt();
        }
    }
}
