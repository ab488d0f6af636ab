//! Inverted dropout on each layer's output (between layers and before the output layer),
//! in training only.
//!
//! Forward: `y = h * m` with `m = 0` with probability p and `1 / (1 - p)` otherwise, one
//! draw per element; backward: `dh = dy * m`. Evaluation and sampling use `h` itself, so
//! nothing needs rescaling there.
//!
//! Masks are drawn from the caller's seeded RNG, one `f64` per element, layer by layer, in
//! row-major order over `[T*B, H]` (an element is dropped when its draw is `< p`).

use rand::Rng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::kernels::Real;

/// How a forward pass treats dropout.
#[derive(Debug)]
pub enum Mode<'a> {
    /// Evaluation and sampling: no dropout, whatever the training used.
    Eval,
    /// Training: drop each element of every layer's output with probability `p` (in `[0, 1)`),
    /// scaling the survivors by `1 / (1 - p)`, with fresh masks drawn from `rng` and kept in the
    /// workspace for the backward pass. `p == 0` draws nothing and is exactly [`Mode::Eval`].
    Train {
        p: f64,
        rng: &'a mut Xoshiro256PlusPlus,
    },
    /// Apply again the masks the last [`Mode::Train`] forward drew into this workspace (none if
    /// it had `p == 0`): the same function of the parameters, as a gradient check needs.
    Replay,
}

/// Fill `mask` (sized to `n` on first use, then reused) with `0` or `1 / (1 - p)`.
pub(crate) fn draw<T: Real>(mask: &mut Vec<T>, n: usize, p: f64, rng: &mut Xoshiro256PlusPlus) {
    mask.resize(n, T::zero());
    let keep = T::of(1.0 / (1.0 - p));
    for m in mask.iter_mut() {
        *m = if rng.random::<f64>() < p {
            T::zero()
        } else {
            keep
        };
    }
}

/// `y = h * mask`, element-wise (`y` sized to `h` on first use).
pub(crate) fn apply<T: Real>(y: &mut Vec<T>, h: &[T], mask: &[T]) {
    y.resize(h.len(), T::zero());
    for ((y, &h), &m) in y.iter_mut().zip(h).zip(mask) {
        *y = h * m;
    }
}

/// `d *= mask`, element-wise, over the first `mask.len()` elements of `d`.
pub(crate) fn backward<T: Real>(d: &mut [T], mask: &[T]) {
    for (d, &m) in d.iter_mut().zip(mask) {
        *d *= m;
    }
}
