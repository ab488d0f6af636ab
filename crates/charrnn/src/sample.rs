//! Sampling text from a model one character at a time: each character costs one step of the
//! model (batch 1), from a state warmed over the prime; the prefix is never re-run.
//!
//! Shape alphabet: V vocabulary, W beam width.
//!
//! The next character is drawn from the model's distribution `p` (`[V]`) reshaped by a
//! [`SampleConfig`], in this order (as in most language-model toolkits):
//! 1. temperature `t`: `q_i ∝ p_i^(1/t)`, i.e. `softmax(logits / t)`;
//! 2. top-k: keep the `k` largest `q_i` (ties go to the lower id), zero the rest;
//! 3. top-p (nucleus): keep the smallest set of largest `q_i` whose sum reaches `p`;
//! 4. renormalize, then draw by inverting the cumulative sum at a uniform `u ∈ [0, 1)`.
//!
//! With `argmax` the most likely character of `p` is taken and no random number is drawn.
//! [`beam_search`] instead looks for the most likely continuation as a whole.
//!
//! ```
//! use charrnn::model::{CellKind, Model, ModelConfig};
//! use charrnn::sample::{SampleConfig, Sampler};
//! use rand::SeedableRng;
//!
//! let config = ModelConfig { cell: CellKind::GRU, vocab: 6, emb: 3, hidden: 8, layers: 1 };
//! let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
//! let model = Model::<f32>::init(config, 0.5, &mut rng);
//! let top3 = SampleConfig { temperature: 0.8, top_k: Some(3), ..Default::default() };
//! let mut sampler = Sampler::with_config(&model, 7, top3).unwrap();
//! let mut text = Vec::new();
//! sampler.generate(&[0, 1], 20, |c| text.push(c));
//! let mut again = Sampler::with_config(&model, 7, top3).unwrap();
//! let mut same = Vec::new();
//! again.generate(&[0, 1], 20, |c| same.push(c));
//! assert_eq!(text, same); // one seed, one text
//! ```

use std::collections::VecDeque;
use std::ops::ControlFlow;

use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::error::{Error, Result};
use crate::kernels::Real;
use crate::model::{Model, Stepper, Workspace};

/// How the next character is chosen from the model's distribution.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SampleConfig {
    /// Finite and > 0: below 1 sharper (towards argmax), above 1 flatter (towards uniform).
    pub temperature: f64,
    /// Keep only the `k >= 1` most likely characters (`k` at least the vocabulary keeps all).
    pub top_k: Option<usize>,
    /// Keep the smallest set of most likely characters whose probability reaches `p ∈ (0, 1]`.
    pub top_p: Option<f64>,
    /// Take the most likely character every time (the other settings then play no part).
    pub argmax: bool,
}

impl Default for SampleConfig {
    /// Plain multinomial sampling from the model's distribution.
    fn default() -> Self {
        SampleConfig {
            temperature: 1.0,
            top_k: None,
            top_p: None,
            argmax: false,
        }
    }
}

impl SampleConfig {
    /// Check every setting's range.
    pub fn validate(&self) -> Result<()> {
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(Error::Config(format!(
                "temperature must be a finite number above 0, got {t} (for the most likely character use argmax)"
            )));
        }
        if self.top_k == Some(0) {
            return Err(Error::Config("top-k must be at least 1, got 0".into()));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(Error::Config(format!("top-p must be in (0, 1], got {p}")));
            }
        }
        Ok(())
    }
}

/// A seeded sampler: owns the model's recurrent state (batch 1), its RNG and the settings.
///
/// The drawn character is only fed back when the next one is asked for, so `n` characters
/// after a prime of `m` cost `m + n - 1` model steps.
pub struct Sampler<'a, T> {
    model: &'a Model<T>,
    engine: Engine<T>,
    rng: Xoshiro256PlusPlus,
    config: SampleConfig,
    fresh: bool,
    /// Drawn but not yet fed.
    pending: Option<u32>,
    /// `[V]` the distribution the last character was drawn from.
    dist: Vec<f64>,
    /// `[V]` ids, scratch for sorting.
    order: Vec<u32>,
    /// `dist` was not filled for the last draw (plain sampling skips it).
    dist_stale: bool,
}

impl<'a, T: Real> Sampler<'a, T> {
    /// A sampler over `model` with a zero state, plain multinomial sampling and an RNG seeded
    /// with `seed`.
    pub fn new(model: &'a Model<T>, seed: u64) -> Self {
        let v = model.config().vocab;
        let engine = if T::FAST {
            Engine::Step(Box::new(Stepper::new(model)))
        } else {
            Engine::Chunk(Box::new(frozen_workspace(model, 1, 1)))
        };
        Sampler {
            engine,
            model,
            rng: Xoshiro256PlusPlus::seed_from_u64(seed),
            config: SampleConfig::default(),
            fresh: true,
            pending: None,
            dist: vec![0.0; v],
            order: (0..v as u32).collect(),
            dist_stale: false,
        }
    }

    /// [`Sampler::new`] with the given settings, checked.
    pub fn with_config(model: &'a Model<T>, seed: u64, config: SampleConfig) -> Result<Self> {
        config.validate()?;
        let mut s = Self::new(model, seed);
        s.config = config;
        Ok(s)
    }

    /// The settings in use.
    pub fn config(&self) -> SampleConfig {
        self.config
    }

    /// Zero the recurrent state.
    pub fn reset(&mut self) {
        self.fresh = true;
        self.pending = None;
    }

    /// Run one character through the model (after any drawn character not yet fed); the next
    /// character's distribution is then [`Sampler::probs`].
    pub fn feed(&mut self, id: u32) {
        if let Some(p) = self.pending.take() {
            self.step(p);
        }
        self.step(id);
    }

    fn step(&mut self, id: u32) {
        let fresh = std::mem::replace(&mut self.fresh, false);
        match &mut self.engine {
            Engine::Step(s) => {
                if fresh {
                    s.reset();
                }
                s.step(id);
            }
            Engine::Chunk(ws) => {
                if fresh {
                    ws.reset_state();
                } else {
                    ws.carry_state();
                }
                self.model.forward(ws, &[id], None);
            }
        }
    }

    /// Zero the state and warm it over every character of `prime`: the next
    /// [`Sampler::next_char`] draws the character that follows it.
    ///
    /// # Panics
    /// If `prime` is empty.
    pub fn prime(&mut self, prime: &[u32]) {
        assert!(
            !prime.is_empty(),
            "sampling needs at least one prime character"
        );
        self.reset();
        for &c in prime {
            self.step(c);
        }
    }

    /// The model's distribution (temperature 1, unfiltered) that the next character is drawn
    /// from, or that the last one was drawn from if it is not fed yet.
    pub fn probs(&self) -> &[T] {
        self.engine.probs()
    }

    /// `[V]` the distribution the last character was drawn from: [`Sampler::probs`] after the
    /// temperature, top-k and top-p (one-hot under argmax). Ask before the next model step
    /// (plain sampling makes it only when asked, from [`Sampler::probs`]).
    pub fn last_distribution(&mut self) -> &[f64] {
        if self.dist_stale {
            shape_distribution(
                self.engine.weights(),
                &self.config,
                &mut self.dist,
                &mut self.order,
            );
            self.dist_stale = false;
        }
        &self.dist
    }

    /// Draw a character from [`Sampler::probs`] under the settings, without feeding it.
    ///
    /// # Panics
    /// If the sampler was never primed or fed (there is no distribution to draw from).
    pub fn draw(&mut self) -> u32 {
        assert!(!self.fresh, "prime the sampler before drawing");
        let c = &self.config;
        if c.temperature == 1.0 && c.top_k.is_none() && c.top_p.is_none() && !c.argmax {
            // Plain sampling draws from the model's distribution as it is.
            self.dist_stale = true;
            let u: f64 = self.rng.random();
            return match &self.engine {
                Engine::Step(s) => s.draw(u),
                Engine::Chunk(ws) => draw_from(&ws.probs, u),
            };
        }
        self.dist_stale = false;
        // Shaping normalizes for itself: the unnormalized weights will do.
        let p = self.engine.weights();
        shape_distribution(p, &self.config, &mut self.dist, &mut self.order);
        if self.config.argmax {
            return argmax(p);
        }
        let u: f64 = self.rng.random();
        draw_from(&self.dist, u)
    }

    /// The next character: feeds the last drawn one (one model step), then draws.
    ///
    /// # Panics
    /// If the sampler was never primed or fed.
    pub fn next_char(&mut self) -> u32 {
        assert!(!self.fresh, "prime the sampler before drawing");
        if let Some(p) = self.pending.take() {
            self.step(p);
        }
        let c = self.draw();
        self.pending = Some(c);
        c
    }

    /// Warm the state over `prime` (from zero), then draw `n` characters, feeding each back,
    /// handing each to `emit` as it is drawn.
    ///
    /// # Panics
    /// If `prime` is empty.
    pub fn generate(&mut self, prime: &[u32], n: usize, mut emit: impl FnMut(u32)) {
        self.generate_until(prime, n, &[], |c| {
            emit(c);
            ControlFlow::Continue(())
        });
    }

    /// [`Sampler::generate`] that also stops once the generated characters end with `stop`
    /// (if not empty; the stop string is emitted) or when `emit` breaks. Returns the number of
    /// characters emitted.
    ///
    /// # Panics
    /// If `prime` is empty.
    pub fn generate_until(
        &mut self,
        prime: &[u32],
        n: usize,
        stop: &[u32],
        mut emit: impl FnMut(u32) -> ControlFlow<()>,
    ) -> usize {
        self.prime(prime);
        let mut stop = StopMatcher::new(stop);
        for i in 0..n {
            let c = self.next_char();
            if emit(c).is_break() || stop.push(c) {
                return i + 1;
            }
        }
        n
    }
}

/// How a [`Sampler`] runs the model: f32 takes the batch-1 [`Stepper`]; f64 the chunk forward
/// pass (batch 1, one step), so its probabilities are those of the notebook's arithmetic.
enum Engine<T> {
    Step(Box<Stepper<T>>),
    Chunk(Box<Workspace<T>>),
}

impl<T: Real> Engine<T> {
    fn probs(&self) -> &[T] {
        match self {
            Engine::Step(s) => s.probs(),
            Engine::Chunk(ws) => &ws.probs,
        }
    }

    /// The distribution up to a positive factor.
    fn weights(&self) -> &[T] {
        match self {
            Engine::Step(s) => s.weights(),
            Engine::Chunk(ws) => &ws.probs,
        }
    }
}

/// Watches a stream of ids for a stop sequence.
#[derive(Clone, Debug)]
pub struct StopMatcher {
    stop: Vec<u32>,
    tail: VecDeque<u32>,
}

impl StopMatcher {
    /// A matcher for `stop` (an empty one never matches).
    pub fn new(stop: &[u32]) -> Self {
        StopMatcher {
            stop: stop.to_vec(),
            tail: VecDeque::with_capacity(stop.len()),
        }
    }

    /// Add one id; true when the ids pushed so far end with the stop sequence.
    pub fn push(&mut self, id: u32) -> bool {
        if self.stop.is_empty() {
            return false;
        }
        if self.tail.len() == self.stop.len() {
            self.tail.pop_front();
        }
        self.tail.push_back(id);
        self.tail.iter().eq(self.stop.iter())
    }
}

/// The first index of the largest value.
pub fn argmax<T: Real>(p: &[T]) -> u32 {
    let mut best = 0;
    for (i, &q) in p.iter().enumerate() {
        if q > p[best] {
            best = i;
        }
    }
    best as u32
}

/// Write into `out` (`[V]`, normalized) the distribution `config` makes of `p` (`[V]`): see the
/// module docs for the order of the steps. `p` may be scaled by any positive factor (each
/// step works on ratios, and the result is normalized). `order` is scratch of any contents.
///
/// # Panics
/// If `out` is not as long as `p`.
pub fn shape_distribution<T: Real>(
    p: &[T],
    config: &SampleConfig,
    out: &mut [f64],
    order: &mut Vec<u32>,
) {
    assert_eq!(out.len(), p.len(), "one output per character");
    if config.argmax {
        out.fill(0.0);
        out[argmax(p) as usize] = 1.0;
        return;
    }
    let t = config.temperature;
    if t == 1.0 {
        for (o, &q) in out.iter_mut().zip(p) {
            *o = q.f64();
        }
    } else {
        // p_i^(1/t) relative to the largest, so that a small t cannot overflow.
        let top = p[argmax(p) as usize].f64().ln();
        for (o, &q) in out.iter_mut().zip(p) {
            *o = ((q.f64().ln() - top) / t).exp();
        }
    }
    let v = p.len();
    let k = config.top_k.unwrap_or(v).min(v);
    let nucleus = config.top_p.filter(|&x| x < 1.0);
    if k < v || nucleus.is_some() {
        order.clear();
        order.extend(0..v as u32);
        if k < v {
            order.select_nth_unstable_by(k - 1, most_likely_first(out));
            for &i in &order[k..] {
                out[i as usize] = 0.0;
            }
        }
        if let Some(top_p) = nucleus {
            let kept = &mut order[..k];
            kept.sort_unstable_by(most_likely_first(out));
            let sum: f64 = kept.iter().map(|&i| out[i as usize]).sum();
            let mut acc = 0.0;
            let mut keep = k;
            for (j, &i) in kept.iter().enumerate() {
                acc += out[i as usize] / sum;
                if acc >= top_p {
                    keep = j + 1;
                    break;
                }
            }
            for &i in &kept[keep..] {
                out[i as usize] = 0.0;
            }
        }
    }
    let sum: f64 = out.iter().sum();
    out.iter_mut().for_each(|o| *o /= sum);
}

/// A workspace over a model whose weights stay fixed while it samples, so they are prepared
/// for the kernels once, not at every character.
fn frozen_workspace<T: Real>(model: &Model<T>, steps: usize, batch: usize) -> Workspace<T> {
    let mut ws = Workspace::new(&model.layout, steps, batch);
    ws.frozen = true;
    ws
}

/// Orders ids by `p`, most likely first; equal probabilities go to the lower id.
fn most_likely_first(p: &[f64]) -> impl Fn(&u32, &u32) -> std::cmp::Ordering + '_ {
    |a, b| p[*b as usize].total_cmp(&p[*a as usize]).then(a.cmp(b))
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

/// One continuation found by [`beam_search`].
#[derive(Clone, Debug, PartialEq)]
pub struct Beam {
    /// The generated ids (without the prime).
    pub ids: Vec<u32>,
    /// Their log-probability given the prime, in nats.
    pub logp: f64,
}

/// Beam search for the most likely continuation of `n` characters after `prime`: keeps the
/// `width` most likely prefixes at each step and returns them, most likely first (fewer than
/// `width` when the vocabulary allows fewer).
///
/// The beams run as one batch of W, so each generated character costs one batched step of the
/// model; states follow their beams by copying rows.
///
/// ```
/// use charrnn::model::{CellKind, Model, ModelConfig};
/// use charrnn::sample::beam_search;
/// use rand::SeedableRng;
///
/// let config = ModelConfig { cell: CellKind::LSTM, vocab: 5, emb: 3, hidden: 8, layers: 2 };
/// let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(3);
/// let model = Model::<f64>::init(config, 0.5, &mut rng);
/// let beams = beam_search(&model, &[1, 2], 10, 4);
/// assert_eq!(beams.len(), 4);
/// assert!(beams.windows(2).all(|b| b[0].logp >= b[1].logp));
/// assert_eq!(beams[0].ids.len(), 10);
/// ```
///
/// # Panics
/// If `prime` is empty or `width` is 0.
pub fn beam_search<T: Real>(model: &Model<T>, prime: &[u32], n: usize, width: usize) -> Vec<Beam> {
    assert!(!prime.is_empty(), "beam search needs a prime character");
    assert!(width > 0, "beam width must be at least 1");
    let c = model.config();
    let (v, h) = (c.vocab, c.hidden);
    if n == 0 {
        return vec![Beam {
            ids: Vec::new(),
            logp: 0.0,
        }];
    }
    // Warm one state over the prime in one chunk.
    let mut one = frozen_workspace(model, prime.len(), 1);
    one.reset_state();
    model.forward(&mut one, prime, None);
    let last = &one.probs[(prime.len() - 1) * v..];

    let mut ws = frozen_workspace(model, 1, width);
    for k in 0..c.layers {
        let (hs, cs) = (one.last_state(k).to_vec(), one.last_cell_state(k).to_vec());
        let (h0, c0) = ws.carried_mut(k);
        for b in 0..width {
            h0[b * h..(b + 1) * h].copy_from_slice(&hs);
            if !cs.is_empty() {
                c0[b * h..(b + 1) * h].copy_from_slice(&cs);
            }
        }
    }
    // Scores of the live beams, and for each step each beam's (parent, id).
    let mut scores = vec![0.0f64];
    let mut history: Vec<Vec<(u32, u32)>> = Vec::with_capacity(n);
    let mut cand: Vec<(f64, u32, u32)> = Vec::with_capacity(width * v);
    let mut inputs = vec![0u32; width];
    let mut scratch_h = vec![T::zero(); width * h];
    let mut scratch_c = scratch_h.clone();
    for step in 0..n {
        cand.clear();
        for (b, &s) in scores.iter().enumerate() {
            let p = if step == 0 {
                last
            } else {
                &ws.probs[b * v..(b + 1) * v]
            };
            cand.extend((0..v).map(|i| (s + p[i].f64().ln(), b as u32, i as u32)));
        }
        // Best first; equal scores go to the lower beam, then the lower id.
        let by_score = |x: &(f64, u32, u32), y: &(f64, u32, u32)| {
            y.0.total_cmp(&x.0).then((x.1, x.2).cmp(&(y.1, y.2)))
        };
        let keep = width.min(cand.len());
        if keep < cand.len() {
            cand.select_nth_unstable_by(keep - 1, by_score);
            cand.truncate(keep);
        }
        cand.sort_by(by_score);
        scores.clear();
        scores.extend(cand.iter().map(|x| x.0));
        history.push(cand.iter().map(|x| (x.1, x.2)).collect());
        if step + 1 == n {
            break;
        }
        // Each new beam starts from its parent's state; step 0's parents all hold the prime's.
        if step > 0 {
            ws.carry_state();
            for k in 0..c.layers {
                let lstm = !ws.last_cell_state(k).is_empty();
                scratch_h.copy_from_slice(ws.last_state(k));
                if lstm {
                    scratch_c.copy_from_slice(ws.last_cell_state(k));
                }
                let (h0, c0) = ws.carried_mut(k);
                for (j, x) in cand.iter().enumerate() {
                    let src = x.1 as usize * h..(x.1 as usize + 1) * h;
                    h0[j * h..(j + 1) * h].copy_from_slice(&scratch_h[src.clone()]);
                    if lstm {
                        c0[j * h..(j + 1) * h].copy_from_slice(&scratch_c[src]);
                    }
                }
            }
        }
        inputs.fill(0);
        for (j, x) in cand.iter().enumerate() {
            inputs[j] = x.2;
        }
        model.forward(&mut ws, &inputs, None);
    }
    // Walk the back-pointers from each final beam.
    (0..scores.len())
        .map(|j| {
            let mut ids = vec![0u32; n];
            let mut at = j;
            for t in (0..n).rev() {
                let (parent, id) = history[t][at];
                ids[t] = id;
                at = parent as usize;
            }
            Beam {
                ids,
                logp: scores[j],
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_walks_the_cumulative_sum() {
        let p = [0.25f64, 0.0, 0.5, 0.25];
        assert_eq!(draw_from(&p, 0.0), 0);
        assert_eq!(draw_from(&p, 0.2499), 0);
        assert_eq!(draw_from(&p, 0.25), 2);
        assert_eq!(draw_from(&p, 0.9), 3);
        assert_eq!(draw_from(&[0.5f32, 0.5, 0.0], 0.99999999), 1);
    }

    fn shaped(p: &[f64], config: SampleConfig) -> Vec<f64> {
        let mut out = vec![0.0; p.len()];
        shape_distribution(p, &config, &mut out, &mut Vec::new());
        out
    }

    #[test]
    fn temperature_top_k_and_top_p_by_hand() {
        let p = [0.1, 0.4, 0.2, 0.3];
        let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-12);
        assert!(close(&shaped(&p, SampleConfig::default()), &p));
        // t = 0.5 squares the probabilities: 0.01, 0.16, 0.04, 0.09 over 0.30.
        let t = SampleConfig {
            temperature: 0.5,
            ..Default::default()
        };
        assert!(close(
            &shaped(&p, t),
            &[0.01 / 0.3, 0.16 / 0.3, 0.04 / 0.3, 0.09 / 0.3]
        ));
        let k2 = SampleConfig {
            top_k: Some(2),
            ..Default::default()
        };
        assert!(close(&shaped(&p, k2), &[0.0, 0.4 / 0.7, 0.0, 0.3 / 0.7]));
        // 0.4 < 0.5 <= 0.4 + 0.3: the nucleus is {1, 3}.
        let p5 = SampleConfig {
            top_p: Some(0.5),
            ..Default::default()
        };
        assert!(close(&shaped(&p, p5), &[0.0, 0.4 / 0.7, 0.0, 0.3 / 0.7]));
        let p4 = SampleConfig {
            top_p: Some(0.4),
            ..Default::default()
        };
        assert!(close(&shaped(&p, p4), &[0.0, 1.0, 0.0, 0.0]));
        let arg = SampleConfig {
            argmax: true,
            ..Default::default()
        };
        assert_eq!(shaped(&p, arg), [0.0, 1.0, 0.0, 0.0]);
        // A tiny temperature does not overflow: all mass on the largest.
        let cold = SampleConfig {
            temperature: 1e-300,
            ..Default::default()
        };
        assert_eq!(shaped(&p, cold), [0.0, 1.0, 0.0, 0.0]);
    }

    #[test]
    fn shaping_ignores_the_scale_of_its_input() {
        let p = [0.1f64, 0.4, 0.2, 0.3];
        let scaled = p.map(|x| x * 37.5);
        for config in [
            SampleConfig::default(),
            SampleConfig {
                temperature: 0.6,
                top_k: Some(3),
                top_p: Some(0.8),
                argmax: false,
            },
        ] {
            for (a, b) in shaped(&p, config).iter().zip(shaped(&scaled, config)) {
                assert!((a - b).abs() < 1e-12, "{config:?}: {a} vs {b}");
            }
        }
    }

    #[test]
    fn ties_go_to_the_lower_id() {
        let p = [0.3, 0.3, 0.3, 0.1];
        assert_eq!(argmax(&p), 0);
        let k2 = SampleConfig {
            top_k: Some(2),
            ..Default::default()
        };
        assert_eq!(shaped(&p, k2), [0.5, 0.5, 0.0, 0.0]);
    }

    #[test]
    fn settings_out_of_range_are_errors() {
        for bad in [
            SampleConfig {
                temperature: 0.0,
                ..Default::default()
            },
            SampleConfig {
                temperature: f64::NAN,
                ..Default::default()
            },
            SampleConfig {
                top_k: Some(0),
                ..Default::default()
            },
            SampleConfig {
                top_p: Some(0.0),
                ..Default::default()
            },
            SampleConfig {
                top_p: Some(1.5),
                ..Default::default()
            },
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
        assert!(SampleConfig::default().validate().is_ok());
    }

    #[test]
    fn stop_matcher_sees_the_sequence_end() {
        let mut m = StopMatcher::new(&[1, 2]);
        assert!(!m.push(1));
        assert!(!m.push(1));
        assert!(m.push(2));
        assert!(!m.push(2));
        let mut none = StopMatcher::new(&[]);
        assert!(!none.push(0));
    }
}
