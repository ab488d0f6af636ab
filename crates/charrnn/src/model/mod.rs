//! The model: embedding -> stacked recurrent layers -> linear output -> softmax.
//!
//! Shape alphabet: B batch, T steps in a chunk, V vocabulary, E embedding, H hidden.
//! Activations are time-major: row `t * B + b` holds step t of stream b.
//!
//! All parameters live in one flat buffer laid out by [`Layout`]; gradients and optimizer
//! state mirror it, so an optimizer is one loop.

pub mod layout;
mod rnn;

use rand::Rng;
use rand_distr::StandardNormal;

pub use layout::{CellKind, LayerLayout, Layout, ModelConfig, Naming, TensorSpec};

use crate::kernels::{add_row_bias, gemm, MatMut, MatRef};
use crate::loss;
use crate::real::Real;

/// A model's parameters.
#[derive(Clone, Debug)]
pub struct Model<T> {
    pub layout: Layout,
    /// Flat parameter buffer, `layout.len` long.
    pub w: Vec<T>,
}

impl<T: Real> Model<T> {
    /// Every parameter, biases included, drawn from N(0, std^2) in layout order.
    pub fn init(config: ModelConfig, std: f64, rng: &mut impl Rng) -> Self {
        let layout = Layout::new(config);
        let w = (0..layout.len)
            .map(|_| T::of(rng.sample::<f64, _>(StandardNormal) * std))
            .collect();
        Model { layout, w }
    }

    /// The model's sizes.
    pub fn config(&self) -> ModelConfig {
        self.layout.config
    }

    /// A view of the tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&[T]> {
        self.layout.tensor(name).map(|t| &self.w[t.range.clone()])
    }

    /// Run a chunk forward. `inputs` holds `T * B` ids, time-major. Leaves the output
    /// probabilities in `ws.probs`; with `targets`, returns the summed cross-entropy.
    ///
    /// The recurrent state is read from (and left in) the workspace: call
    /// [`Workspace::reset_state`] or [`Workspace::carry_state`] first.
    ///
    /// # Panics
    /// If `inputs` does not have `T * B` ids for the workspace's T and B.
    pub fn forward(&self, ws: &mut Workspace<T>, inputs: &[u32], targets: Option<&[u32]>) -> f64 {
        let (b, tb) = (ws.batch, ws.steps * ws.batch);
        assert_eq!(inputs.len(), tb, "inputs must be T*B ids");
        let l = &self.layout;
        let c = l.config;
        // Embedding: a gather, x[r, e] = emb(inputs[r], e).
        let emb = &self.w[l.embed.clone()];
        for (row, &id) in ws.x.chunks_exact_mut(c.emb).zip(inputs) {
            for (e, v) in row.iter_mut().enumerate() {
                *v = emb[id as usize * l.embed_cs + e * l.embed_es];
            }
        }
        for k in 0..ws.layers.len() {
            let (below, rest) = ws.layers.split_at_mut(k);
            let x = match below.last() {
                Some(prev) => MatRef::new(&prev.h[b * c.hidden..], tb, c.hidden),
                None => MatRef::new(&ws.x, tb, c.emb),
            };
            let layer = &l.layers[k];
            match c.cell {
                CellKind::Rnn => rnn::forward(&self.w, layer, x, &mut rest[0].h, b),
                CellKind::Lstm | CellKind::Gru => unimplemented!("cell not built yet"),
            }
        }
        let top = &ws.layers.last().expect("at least one layer").h[b * c.hidden..];
        let why = MatRef::new(&self.w[l.out_w.clone()], c.vocab, c.hidden);
        gemm(
            T::one(),
            MatRef::new(top, tb, c.hidden),
            why.t(),
            T::zero(),
            MatMut::new(&mut ws.probs, tb, c.vocab),
        );
        add_row_bias(&mut ws.probs, &self.w[l.out_b.clone()]);
        match targets {
            Some(y) => {
                assert_eq!(y.len(), tb, "targets must be T*B ids");
                loss::softmax_xent(&mut ws.probs, c.vocab, y)
            }
            None => {
                loss::softmax_rows(&mut ws.probs, c.vocab);
                0.0
            }
        }
    }

    /// Backpropagate the chunk last run by [`Model::forward`] (with the same ids) and add the
    /// gradient of `loss / B` into `g`.
    pub fn backward(&self, ws: &mut Workspace<T>, inputs: &[u32], targets: &[u32], g: &mut [T]) {
        let (b, tb) = (ws.batch, ws.steps * ws.batch);
        let l = &self.layout;
        let c = l.config;
        let h = c.hidden;
        loss::softmax_xent_backward(&mut ws.probs, c.vocab, targets, b);
        let d_out = MatRef::new(&ws.probs, tb, c.vocab);
        let top = &ws.layers.last().expect("at least one layer").h;
        gemm(
            T::one(),
            d_out.t(),
            MatRef::new(&top[b * h..], tb, h),
            T::one(),
            MatMut::new(&mut g[l.out_w.clone()], c.vocab, h),
        );
        crate::kernels::add_col_sums(&mut g[l.out_b.clone()], &ws.probs);
        let why = MatRef::new(&self.w[l.out_w.clone()], c.vocab, h);
        gemm(
            T::one(),
            d_out,
            why,
            T::zero(),
            MatMut::new(&mut ws.dh, tb, h),
        );
        for k in (0..ws.layers.len()).rev() {
            let layer = &l.layers[k];
            let (below, rest) = ws.layers.split_at(k);
            let x = match below.last() {
                Some(prev) => MatRef::new(&prev.h[b * h..], tb, h),
                None => MatRef::new(&ws.x, tb, c.emb),
            };
            let scratch = rnn::Scratch {
                da: &mut ws.da,
                dh_next: &mut ws.dh_next,
            };
            // The gradient at this layer's input becomes the next layer down's `dh`.
            let dx = &mut ws.dx[..tb * layer.input];
            match c.cell {
                CellKind::Rnn => rnn::backward(
                    &self.w,
                    g,
                    layer,
                    x,
                    &rest[0].h,
                    &ws.dh,
                    scratch,
                    Some(dx),
                    b,
                ),
                CellKind::Lstm | CellKind::Gru => unimplemented!("cell not built yet"),
            }
            std::mem::swap(&mut ws.dh, &mut ws.dx);
        }
        // Embedding: a scatter-add of the input gradient, now in `ws.dh` ([T*B, E]).
        let demb = &mut g[l.embed.clone()];
        for (row, &id) in ws.dh.chunks_exact(c.emb).zip(inputs) {
            for (e, &d) in row.iter().enumerate() {
                demb[id as usize * l.embed_cs + e * l.embed_es] += d;
            }
        }
    }
}

/// The recurrent state and activations of one layer.
#[derive(Clone, Debug)]
pub struct LayerState<T> {
    /// `[(T+1)*B, H]`: block 0 is the state carried in, block t+1 the output of step t.
    pub h: Vec<T>,
}

/// Preallocated buffers for chunks of `steps` x `batch`: nothing is allocated per step.
#[derive(Clone, Debug)]
pub struct Workspace<T> {
    pub steps: usize,
    pub batch: usize,
    /// `[T*B, E]` embedded inputs.
    pub x: Vec<T>,
    pub layers: Vec<LayerState<T>>,
    /// `[T*B, V]` logits, then probabilities, then their gradient.
    pub probs: Vec<T>,
    /// `[T*B, max(E, H)]` gradient at the current layer's output.
    pub dh: Vec<T>,
    /// `[T*B, max(E, H)]` gradient at the current layer's input.
    pub dx: Vec<T>,
    /// `[T*B, G*H]`
    pub da: Vec<T>,
    /// `[B, H]`
    pub dh_next: Vec<T>,
}

impl<T: Real> Workspace<T> {
    /// Buffers for `layout`'s model over chunks of `steps` x `batch`, state zeroed.
    pub fn new(layout: &Layout, steps: usize, batch: usize) -> Self {
        let c = layout.config;
        let tb = steps * batch;
        let wide = c.emb.max(c.hidden);
        Workspace {
            steps,
            batch,
            x: vec![T::zero(); tb * c.emb],
            layers: (0..c.layers)
                .map(|_| LayerState {
                    h: vec![T::zero(); (steps + 1) * batch * c.hidden],
                })
                .collect(),
            probs: vec![T::zero(); tb * c.vocab],
            dh: vec![T::zero(); tb * wide],
            dx: vec![T::zero(); tb * wide],
            da: vec![T::zero(); tb * c.cell.gates() * c.hidden],
            dh_next: vec![T::zero(); batch * c.hidden],
        }
    }

    /// Zero the carried state of every layer.
    pub fn reset_state(&mut self) {
        for l in &mut self.layers {
            let n = l.h.len() / (self.steps + 1);
            l.h[..n].fill(T::zero());
        }
    }

    /// Carry the last step's state into block 0, for the next chunk.
    pub fn carry_state(&mut self) {
        for l in &mut self.layers {
            let n = l.h.len() / (self.steps + 1);
            l.h.copy_within(self.steps * n.., 0);
        }
    }

    /// The state of the last step of the last chunk, layer `k`, `[B, H]`.
    pub fn last_state(&self, k: usize) -> &[T] {
        let h = &self.layers[k].h;
        &h[self.steps * h.len() / (self.steps + 1)..]
    }
}
