//! One character at a time (batch 1, one step): the path sampling takes in f32.
//!
//! The chunk forward pass ([`crate::model::Model::forward`]) is built for many rows: products
//! through the GEMM dispatcher, packed panels, a cache for the backward pass. For a single row
//! that machinery costs more than the arithmetic, so a [`Stepper`] keeps its own copy of the
//! weights, transposed and padded to whole SIMD blocks, and runs each product as one
//! [`matvec_from`]: the same sums as the chunk pass in the same order of terms (input part,
//! then recurrent part, then biases), rounded differently only by the order inside each sum.
//!
//! Shape alphabet: V vocabulary, E embedding, H hidden, G gates (1, 4, 3); `Gp` and `Vp` are
//! G*H and V rounded up to whole blocks of [`MATVEC_LANES`], the pad columns being zero.

use std::cell::OnceCell;

use crate::kernels::Real;
use crate::kernels::{matvec_from, MATVEC_LANES};
use crate::model::cell::{CellKind, Fwd, Recurrence, MAX_STATES};
use crate::model::Model;

const L: usize = MATVEC_LANES;

/// `n` rounded up to whole blocks of [`MATVEC_LANES`].
fn padded(n: usize) -> usize {
    n.div_ceil(MATVEC_LANES) * MATVEC_LANES
}

/// `[cols, Np]` the transpose of the row-major `rows x cols` `src`, each row padded with zeros
/// to `Np = padded(rows)`.
fn transposed_padded<T: Real>(src: &[T], rows: usize, cols: usize) -> Vec<T> {
    let np = padded(rows);
    let mut out = vec![T::zero(); cols * np];
    for i in 0..rows {
        for (j, &v) in src[i * cols..(i + 1) * cols].iter().enumerate() {
            out[j * np + i] = v;
        }
    }
    out
}

/// `v` padded with zeros to `padded(v.len())`.
fn padded_vec<T: Real>(v: &[T]) -> Vec<T> {
    let mut out = v.to_vec();
    out.resize(padded(v.len()), T::zero());
    out
}

/// One layer's weights and state.
#[derive(Clone, Debug)]
struct StepLayer<T> {
    /// `[In, Gp]`
    wih_t: Vec<T>,
    /// `[H, Gp]`; empty for a cell without recurrent weights.
    whh_t: Vec<T>,
    /// `[G*H]`
    bih: Vec<T>,
    /// `[G*H]`; empty when the layer has none.
    bhh: Vec<T>,
    /// `[Gp]` what the input part starts from: the biases the cell adds before the recurrent
    /// part ([`Cell::input_bias`] of a zero row: LSTM `b_ih + b_hh`, GRU `b_ih`, RNN none).
    in_base: Vec<T>,
    /// `[Gp]` what the recurrent part starts from: `b_hh` when the cell keeps it apart, else 0.
    rec_base: Vec<T>,
    /// `[Gp]` the recurrent part of the next step's pre-activations, `W_hh h` (plus `b_hh`
    /// when apart), made as soon as `h` is known, while the output layer's work is in flight.
    rec: Vec<T>,
    /// `[2, H]` per state (h first): block `cur` the state, the other block the next one
    /// while a step runs (then they swap roles).
    states: Vec<Vec<T>>,
    /// Which block of `states` holds the current state.
    cur: usize,
}

impl<T: Real> StepLayer<T> {
    /// `rec` for the current `h`.
    fn recurrent_part(&mut self) {
        if !self.whh_t.is_empty() {
            let h = self.states[0].len() / 2;
            let at = self.cur * h;
            matvec_from(
                &self.states[0][at..at + h],
                &self.whh_t,
                &self.rec_base,
                &mut self.rec,
            );
        }
    }

    /// `gates` (`[Gp]`) <- the input part of the pre-activations for input `x`: `W_ih x` plus
    /// the biases added before the recurrent part.
    /// (`in_base + W_ih x` is the chunk pass's `W_ih x + (b_ih + b_hh)`: one rounding either way.)
    fn input_part(&self, x: &[T], gates: &mut [T]) {
        matvec_from(x, &self.wih_t, &self.in_base, gates);
    }

    /// The state after the last step, `[H]`.
    fn h(&self) -> &[T] {
        self.state(0)
    }

    /// State `i` after the last step, `[H]`.
    fn state(&self, i: usize) -> &[T] {
        let h = self.states[i].len() / 2;
        &self.states[i][self.cur * h..(self.cur + 1) * h]
    }
}

/// Views of each state buffer (`[2, H]`): block `cur`, the current state, and the other,
/// for the next one.
fn current_and_next<T>(
    states: &mut [Vec<T>],
    cur: usize,
    h: usize,
) -> ([&[T]; MAX_STATES], [&mut [T]; MAX_STATES]) {
    let mut prev: [&[T]; MAX_STATES] = [&[], &[]];
    let mut next: [&mut [T]; MAX_STATES] = [&mut [], &mut []];
    for ((p, n), s) in prev.iter_mut().zip(next.iter_mut()).zip(states) {
        let (a, b) = s.split_at_mut(h);
        (*p, *n) = if cur == 0 { (a, b) } else { (b, a) };
    }
    (prev, next)
}

/// The largest input-part table ([`Stepper`]'s `xtab`) made, in elements (16 MB of f32).
const MAX_TABLE: usize = 1 << 22;

/// A model prepared for batch-1 steps, with its recurrent state.
///
/// ```
/// use charrnn::model::{CellKind, Model, ModelConfig, Stepper, Workspace};
/// use rand::SeedableRng;
///
/// let config = ModelConfig { cell: CellKind::LSTM, vocab: 7, emb: 3, hidden: 5, layers: 2 };
/// let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
/// let model = Model::<f32>::init(config, 0.5, &mut rng);
/// let mut stepper = Stepper::new(&model);
/// let mut ws = Workspace::new(&model.layout, 2, 1);
/// ws.reset_state();
/// model.forward(&mut ws, &[3, 1], None); // the chunk pass over two steps
/// stepper.step(3);
/// stepper.step(1);
/// for (a, b) in stepper.probs().iter().zip(&ws.probs[7..]) {
///     assert!((a - b).abs() < 1e-6);
/// }
/// ```
#[derive(Clone, Debug)]
pub struct Stepper<T> {
    cell: CellKind,
    vocab: usize,
    hidden: usize,
    /// `[V, E]` the embedding, one row per character.
    embed: Vec<T>,
    /// `[V, Gp]` layer 0's input part ([`StepLayer::input_part`]) for every character, or
    /// empty when it would pass [`MAX_TABLE`].
    xtab: Vec<T>,
    layers: Vec<StepLayer<T>>,
    /// `[H, Vp]`
    why_t: Vec<T>,
    /// `[Vp]`
    by: Vec<T>,
    /// `[E]` the embedded input.
    x: Vec<T>,
    /// `[Gp]` the input part when not from `xtab`.
    xin: Vec<T>,
    /// `[Gp]` pre-activations (GRU: their input part).
    gates: Vec<T>,
    /// `[H]` the cell's extra cache ([`crate::model::CellSpec::aux`]), or empty.
    aux: Vec<T>,
    /// `[Vp]` logits, then `e^(logit - max)`.
    exps: Vec<T>,
    /// `[Vp / MATVEC_LANES]` the running sum of `exps` at the end of each block.
    ends: Vec<T>,
    /// The sum of `exps`: the last of `ends`.
    total: T,
    /// The largest logit of the last step: the offset of the next step's exponentials.
    offset: Option<T>,
    /// How far this step's largest logit may rise above the offset: `80 - ln V`, so the
    /// terms stay below `e^80` and their sum below `e^80` (f32 holds `e^88`).
    max_rise: T,
    /// 1 for the characters of the last block of `exps`, 0 for its pad entries.
    last_mask: [T; L],
    /// `[V]` `exps / total`, made when first asked for after a step (sampling draws from
    /// `exps` and never needs it).
    probs: OnceCell<Box<[T]>>,
}

impl<T: Real> Stepper<T> {
    /// Prepare `model`'s weights (a copy: later changes to the model are not seen); the state
    /// starts at zero.
    pub fn new(model: &Model<T>) -> Self {
        let l = &model.layout;
        let c = l.config;
        let w = &model.w;
        let cell = c.cell.cell::<T>();
        let gh = cell.gates() * c.hidden;
        let apart = cell.recurrence() == Recurrence::Apart;
        let mut embed = vec![T::zero(); c.vocab * c.emb];
        for (id, row) in embed.chunks_exact_mut(c.emb).enumerate() {
            for (e, v) in row.iter_mut().enumerate() {
                *v = w[l.embed.start + id * l.embed_cs + e * l.embed_es];
            }
        }
        let layers: Vec<StepLayer<T>> =
            l.layers
                .iter()
                .map(|ll| {
                    let bih = w[ll.bih.clone()].to_vec();
                    let bhh = ll
                        .bhh
                        .as_ref()
                        .map_or_else(Vec::new, |r| w[r.clone()].to_vec());
                    let mut in_base = vec![T::zero(); padded(gh)];
                    cell.input_bias(&mut in_base[..gh], &bih, (!bhh.is_empty()).then_some(&bhh));
                    let rec_base = match apart {
                        true => padded_vec(&bhh),
                        false => vec![T::zero(); padded(gh)],
                    };
                    StepLayer {
                        wih_t: transposed_padded(&w[ll.wih.clone()], gh, ll.input),
                        whh_t: ll.whh.as_ref().map_or_else(Vec::new, |r| {
                            transposed_padded(&w[r.clone()], gh, c.hidden)
                        }),
                        bih,
                        bhh,
                        in_base,
                        rec_base,
                        rec: vec![T::zero(); padded(gh)],
                        states: vec![vec![T::zero(); 2 * c.hidden]; cell.states().len()],
                        cur: 0,
                    }
                })
                .collect();
        let gp = padded(gh);
        let xtab = if c.vocab * gp <= MAX_TABLE {
            let mut t = vec![T::zero(); c.vocab * gp];
            for (row, x) in t.chunks_exact_mut(gp).zip(embed.chunks_exact(c.emb)) {
                layers[0].input_part(x, row);
            }
            t
        } else {
            Vec::new()
        };
        let vp = padded(c.vocab);
        let mut stepper = Stepper {
            cell: c.cell,
            vocab: c.vocab,
            hidden: c.hidden,
            embed,
            xtab,
            layers,
            why_t: transposed_padded(&w[l.out_w.clone()], c.vocab, c.hidden),
            by: {
                // Pad logits of -inf, out of the maximum's way.
                let mut by = padded_vec(&w[l.out_b.clone()]);
                by[c.vocab..].fill(T::neg_infinity());
                by
            },
            x: vec![T::zero(); c.emb],
            xin: vec![T::zero(); gp],
            gates: vec![T::zero(); gp],
            aux: vec![T::zero(); if cell.aux() { c.hidden } else { 0 }],
            exps: vec![T::zero(); vp],
            ends: vec![T::zero(); vp / MATVEC_LANES],
            total: T::one(),
            offset: None,
            max_rise: T::of(80.0 - (c.vocab as f64).ln()),
            last_mask: std::array::from_fn(|l| {
                if vp - L + l < c.vocab {
                    T::one()
                } else {
                    T::zero()
                }
            }),
            probs: OnceCell::new(),
        };
        stepper.reset();
        stepper
    }

    /// Zero the recurrent state.
    pub fn reset(&mut self) {
        for s in &mut self.layers {
            for st in &mut s.states {
                st.fill(T::zero());
            }
            s.recurrent_part();
        }
    }

    /// Layer `k`'s state: `(h, c)`, `[H]` each (`c` empty for a cell with one state).
    pub fn state(&self, k: usize) -> (&[T], &[T]) {
        let l = &self.layers[k];
        (
            l.state(0),
            if l.states.len() > 1 { l.state(1) } else { &[] },
        )
    }

    /// Run character `id` through the model from the current state; the next character's
    /// distribution is then [`Stepper::probs`].
    ///
    /// # Panics
    /// If `id` is not in the vocabulary.
    pub fn step(&mut self, id: u32) {
        let (hid, id) = (self.hidden, id as usize);
        assert!(id < self.vocab, "character id {id} outside the vocabulary");
        let cell = self.cell.cell::<T>();
        let recurrence = cell.recurrence();
        let gh = cell.gates() * hid;
        for k in 0..self.layers.len() {
            let (below, rest) = self.layers.split_at_mut(k);
            let s = &mut rest[0];
            let gp = self.gates.len();
            let inp: &[T] = match below.last() {
                None if !self.xtab.is_empty() => &self.xtab[id * gp..(id + 1) * gp],
                None => {
                    let e = self.x.len();
                    self.x.copy_from_slice(&self.embed[id * e..(id + 1) * e]);
                    s.input_part(&self.x, &mut self.xin);
                    &self.xin
                }
                Some(b) => {
                    s.input_part(b.h(), &mut self.xin);
                    &self.xin
                }
            };
            // The sums in the chunk pass's order: input part (+ biases), then recurrent part;
            // the cell adds the rest (the tanh RNN its biases: the notebook's (W_xh x + W_hh h) + b).
            let pre = &mut self.gates[..gh];
            match recurrence {
                Recurrence::Added => {
                    for ((v, &x), &r) in pre.iter_mut().zip(inp).zip(&s.rec) {
                        *v = x + r;
                    }
                }
                _ => pre.copy_from_slice(&inp[..gh]),
            }
            let (prev, next) = current_and_next(&mut s.states, s.cur, hid);
            cell.forward_step(Fwd {
                hidden: hid,
                pre,
                rec: match recurrence {
                    Recurrence::Apart => &s.rec[..gh],
                    _ => &[],
                },
                b_ih: &s.bih,
                b_hh: (!s.bhh.is_empty()).then_some(&s.bhh[..]),
                prev,
                next,
                aux: &mut self.aux,
            });
            s.cur ^= 1;
        }
        self.output();
    }

    /// From the new states: the logits, the next step's recurrent parts, the softmax.
    #[inline(always)]
    fn output(&mut self) {
        let top = self.layers.last().expect("at least one layer").h();
        matvec_from(top, &self.why_t, &self.by, &mut self.exps);
        // The next step's recurrent products need only this step's states: issued here, they
        // overlap the softmax and the draw, which wait on one another.
        for s in &mut self.layers {
            s.recurrent_part();
        }
        self.softmax();
    }

    /// `exps`, `ends`, `total` and `probs` from the logits in `exps`: whole blocks, lane-wise
    /// work and in-register sums across the lanes, to keep the chain the draw waits on short.
    ///
    /// The exponentials are taken relative to the previous step's largest logit, not this
    /// step's: softmax does not depend on the offset, and this way they need not wait for the
    /// maximum. That maximum is checked after (a branch the CPU predicts): if the offset is
    /// more than `max_rise` below it (the sum could overflow) or 20 above it (the terms exp
    /// clamps from below, at e^-87, would weigh more than in the chunk pass, noticeably so
    /// once a temperature sharpens or flattens them), they are taken again from it.
    fn softmax(&mut self) {
        let mut m = [T::neg_infinity(); L];
        for b in self.exps.chunks_exact(L) {
            for l in 0..L {
                m[l] = if b[l] > m[l] { b[l] } else { m[l] };
            }
        }
        let top = T::max16(&m);
        let offset = self.offset.unwrap_or(top);
        let d = top - offset;
        if d <= self.max_rise && d >= T::of(-20.0) {
            self.exponentials(offset);
        } else {
            self.exponentials(top);
        }
        self.offset = Some(top);
        self.probs.take();
    }

    /// `exps <- e^(exps - offset)`, the pad entries zero; `ends` and `total`.
    #[inline(always)]
    fn exponentials(&mut self, offset: T) {
        let last = self.ends.len() - 1;
        let mut run = T::zero();
        for (i, (b, end)) in self
            .exps
            .chunks_exact_mut(L)
            .zip(&mut self.ends)
            .enumerate()
        {
            let b: &mut [T; L] = b.try_into().expect("whole blocks");
            for v in b.iter_mut() {
                *v = (*v - offset).exp_k();
            }
            if i == last {
                // The pad entries to exactly zero: e^-87 (where exp clamps) would turn
                // subnormal when normalized, and subnormals cost the CPU a slow assist.
                for (v, &m) in b.iter_mut().zip(&self.last_mask) {
                    *v *= m;
                }
            }
            run += T::sum16(b);
            *end = run;
        }
        self.total = run;
    }

    /// `[V]` the distribution of the character after the last one stepped.
    pub fn probs(&self) -> &[T] {
        self.probs.get_or_init(|| {
            let inv = T::one() / self.total;
            self.exps[..self.vocab].iter().map(|&e| e * inv).collect()
        })
    }

    /// `[V]` the distribution of [`Stepper::probs`] before it is normalized (it sums to some
    /// positive number, not 1): what a draw that normalizes for itself can use as it is.
    pub fn weights(&self) -> &[T] {
        &self.exps[..self.vocab]
    }

    /// Draw from [`Stepper::probs`] with a uniform `u` in `[0, 1)`: the first character whose
    /// running sum passes `u` (a block at a time, on the unnormalized exponentials, so the
    /// draw need not wait for the division).
    pub fn draw(&self, u: f64) -> u32 {
        let target = T::of(u) * self.total;
        // The block holding `target`: how many blocks end at or below it (independent
        // compares, no branch).
        let b = self
            .ends
            .iter()
            .map(|&e| (e <= target) as usize)
            .sum::<usize>();
        let acc = if b == 0 { T::zero() } else { self.ends[b - 1] };
        if b < self.ends.len() {
            let block: &[T; L] = self.exps[b * L..(b + 1) * L]
                .try_into()
                .expect("whole blocks");
            match T::first_running_sum_above16(block, target - acc) {
                Some(i) if b * L + i < self.vocab => return (b * L + i) as u32,
                _ => {
                    // Rounding: the block's sum passed `target`, its running sum did not.
                    let end = ((b + 1) * L).min(self.vocab);
                    if let Some(i) = last_positive(&self.exps[b * L..end]) {
                        return (b * L + i) as u32;
                    }
                }
            }
        }
        last_positive(&self.exps[..self.vocab]).unwrap_or(0) as u32
    }
}

/// The index of the last element above zero.
fn last_positive<T: Real>(x: &[T]) -> Option<usize> {
    x.iter().rposition(|&v| v > T::zero())
}
