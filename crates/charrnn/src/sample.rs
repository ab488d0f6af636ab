//! Sampling text from a model one character at a time: each character costs one step of the
//! model, from a state warmed over the prime.

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::model::{Model, Workspace};
use crate::real::Real;

/// A seeded sampler: owns the model's recurrent state (batch 1) and the RNG.
pub struct Sampler<'a, T> {
    model: &'a Model<T>,
    ws: Workspace<T>,
    rng: Xoshiro256PlusPlus,
    fresh: bool,
    input: [u32; 1],
}

impl<'a, T: Real> Sampler<'a, T> {
    /// A sampler over `model` with a zero state and an RNG seeded with `seed`.
    pub fn new(model: &'a Model<T>, seed: u64) -> Self {
        Sampler {
            ws: Workspace::new(&model.layout, 1, 1),
            model,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            fresh: true,
            input: [0],
        }
    }

    /// Zero the recurrent state.
    pub fn reset(&mut self) {
        self.fresh = true;
    }

    /// Run one character through the model; the next character's distribution is then
    /// [`Sampler::probs`].
    pub fn feed(&mut self, id: u32) {
        if self.fresh {
            self.ws.reset_state();
            self.fresh = false;
        } else {
            self.ws.carry_state();
        }
        self.input[0] = id;
        self.model.forward(&mut self.ws, &self.input, None);
    }

    /// The distribution over the next character after the last [`Sampler::feed`].
    pub fn probs(&self) -> &[T] {
        &self.ws.probs
    }

    /// Draw the next character from [`Sampler::probs`] (multinomial).
    pub fn draw(&mut self) -> u32 {
        let u: f64 = self.rng.random();
        draw_from(&self.ws.probs, u)
    }

    /// Warm the state over `prime` (from zero), then draw `n` characters, feeding each back,
    /// handing each to `emit` as it is drawn.
    ///
    /// # Panics
    /// If `prime` is empty.
    pub fn generate(&mut self, prime: &[u32], n: usize, mut emit: impl FnMut(u32)) {
        assert!(
            !prime.is_empty(),
            "sampling needs at least one prime character"
        );
        self.reset();
        for &c in prime {
            self.feed(c);
        }
        for i in 0..n {
            let c = self.draw();
            emit(c);
            if i + 1 < n {
                self.feed(c);
            }
        }
    }
}

/// The index where the running sum of `p` first exceeds `u` (in `[0, 1)`).
pub fn draw_from<T: Real>(p: &[T], u: f64) -> u32 {
    let mut acc = 0.0;
    let mut last = 0;
    for (i, &q) in p.iter().enumerate() {
        let q = q.f64();
        if q > 0.0 {
            last = i;
        }
        acc += q;
        if u < acc {
            return i as u32;
        }
    }
    last as u32
}

#[cfg(test)]
mod tests {
    use super::draw_from;

    #[test]
    fn draw_walks_the_cumulative_sum() {
        let p = [0.25f64, 0.0, 0.5, 0.25];
        assert_eq!(draw_from(&p, 0.0), 0);
        assert_eq!(draw_from(&p, 0.2499), 0);
        assert_eq!(draw_from(&p, 0.25), 2);
        assert_eq!(draw_from(&p, 0.9), 3);
        assert_eq!(draw_from(&[0.5f32, 0.5, 0.0], 0.99999999), 1);
    }
}
