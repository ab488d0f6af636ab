//! The model: embedding -> stacked recurrent layers -> linear output -> softmax.
//!
//! Shape alphabet: B batch, T steps in a chunk, V vocabulary, E embedding, H hidden.
//! Activations are time-major: row `t * B + b` holds step t of stream b.
//!
//! All parameters live in one flat buffer laid out by [`Layout`]; gradients and optimizer
//! state mirror it, so an optimizer is one loop.
//!
//! One file per cell (`rnn.rs` tanh, `lstm.rs`, `gru.rs`, `mingru.rs`), each implementing
//! [`CellSpec`] and [`Cell`] (see `cell.rs`); [`CELLS`] lists them. The time loop over a chunk
//! (`time_loop.rs`) is shared: it fills each layer's cache in the [`Workspace`] going forward
//! and adds into the gradient going back. In training, each layer's output can go through
//! inverted dropout (see [`Mode`]).

pub mod cell;
mod dropout;
mod gru;
pub mod layout;
mod lstm;
mod mingru;
mod rnn;
mod step;
mod time_loop;

use rand::Rng;
use rand_distr::StandardNormal;

pub use cell::{Cell, CellKind, CellSpec, GateInfo, Init, Recurrence, Squash};
pub use dropout::Mode;
pub use layout::{LayerLayout, Layout, ModelConfig, Naming, TensorSpec};
pub use step::Stepper;

/// Every cell this build has, one line each: the registry. The order is the one `--help`
/// lists them in, and the one a file without `cell` metadata is matched against (so the
/// cells PyTorch has come first).
pub const CELLS: [CellKind; 4] = [rnn::RNN, lstm::LSTM, gru::GRU, mingru::MINGRU];

/// The names of [`CELLS`].
pub fn cell_names() -> Vec<&'static str> {
    CELLS.iter().map(|c| c.name()).collect()
}

use crate::kernels::Real;
use crate::kernels::{add_row_bias, gemm, MatMut, MatRef, Packed};
use crate::loss;

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

    /// PyTorch's default initialization ([`Init::Torch`]): the embedding from N(0, 1), each
    /// layer's tensors from U(-k, k) with `k` the cell's [`CellSpec::init_bound`] (`1/sqrt(H)`
    /// for PyTorch's RNN, LSTM and GRU), the output layer's weight and bias from
    /// U(-1/sqrt(H), 1/sqrt(H)) (`nn.Linear`'s). Drawn tensor by tensor in layout order.
    pub fn init_torch(config: ModelConfig, rng: &mut impl Rng) -> Self {
        let layout = Layout::new(config);
        let spec = config.cell.spec();
        let mut w = vec![T::zero(); layout.len];
        for t in &layout.tensors {
            let r = t.range.clone();
            let layer = layout.layers.iter().find(|l| {
                [Some(&l.wih), l.whh.as_ref(), Some(&l.bih), l.bhh.as_ref()]
                    .into_iter()
                    .flatten()
                    .any(|x| *x == r)
            });
            let bound = match layer {
                Some(l) => Some(spec.init_bound(l.input, l.hidden)),
                None if r == layout.embed => None,
                None => Some(1.0 / (config.hidden as f64).sqrt()),
            };
            for v in &mut w[r] {
                *v = T::of(match bound {
                    Some(k) => rng.random_range(-k..k),
                    None => rng.sample::<f64, _>(StandardNormal),
                });
            }
        }
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

    /// Run a chunk forward in evaluation mode (no dropout): [`Model::forward_with`] with
    /// [`Mode::Eval`]. `inputs` holds `T * B` ids, time-major. Leaves the output probabilities in
    /// `ws.probs`; with `targets`, returns the summed cross-entropy.
    ///
    /// The recurrent state is read from (and left in) the workspace: call
    /// [`Workspace::reset_state`] or [`Workspace::carry_state`] first.
    ///
    /// # Panics
    /// If `inputs` does not have `T * B` ids for the workspace's T and B.
    pub fn forward(&self, ws: &mut Workspace<T>, inputs: &[u32], targets: Option<&[u32]>) -> f64 {
        self.forward_with(ws, inputs, targets, Mode::Eval)
    }

    /// [`Model::forward`] with dropout as `mode` says: training draws fresh masks (and keeps
    /// them for [`Model::backward`]), evaluation uses none, replay reuses the last ones.
    ///
    /// ```
    /// use charrnn::model::{CellKind, Mode, Model, ModelConfig, Workspace};
    /// use rand::SeedableRng;
    ///
    /// let config = ModelConfig { cell: CellKind::LSTM, vocab: 5, emb: 3, hidden: 8, layers: 2 };
    /// let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1);
    /// let model = Model::<f64>::init(config, 0.1, &mut rng);
    /// let mut ws = Workspace::new(&model.layout, 4, 2);
    /// let (x, y) = ([0, 1, 2, 3, 4, 0, 1, 2], [1, 2, 3, 4, 0, 1, 2, 3]);
    /// let train = model.forward_with(&mut ws, &x, Some(&y), Mode::Train { p: 0.5, rng: &mut rng });
    /// let mut grads = vec![0.0; model.layout.len];
    /// model.backward(&mut ws, &x, &y, &mut grads); // through the same masks
    /// assert_eq!(model.forward_with(&mut ws, &x, Some(&y), Mode::Replay), train);
    /// assert_eq!(model.forward(&mut ws, &x, Some(&y)), model.forward(&mut ws, &x, Some(&y)));
    /// ```
    ///
    /// # Panics
    /// If `inputs` does not have `T * B` ids for the workspace's T and B, or a training `p` is
    /// outside `[0, 1)`.
    pub fn forward_with(
        &self,
        ws: &mut Workspace<T>,
        inputs: &[u32],
        targets: Option<&[u32]>,
        mode: Mode<'_>,
    ) -> f64 {
        let mut wt = std::mem::take(&mut ws.wt);
        if !(ws.frozen && ws.prepared) {
            self.transpose_into(&mut wt);
        }
        let loss = self.forward_prepared(&wt, ws, inputs, targets, mode);
        ws.wt = wt;
        loss
    }

    /// Copy the parameters into `wt` with the matrices the forward pass multiplies on the
    /// right over a whole chunk (each layer's `W_ih` and the output weights) transposed, so
    /// those products read contiguous rows. Done once per step and shared by every shard.
    /// (`W_hh` stays as it is: the forward pass packs it into panels from the weights.)
    pub fn transpose_into(&self, wt: &mut Vec<T>) {
        let l = &self.layout;
        wt.resize(self.w.len(), T::zero());
        wt.copy_from_slice(&self.w);
        let c = l.config;
        for layer in &l.layers {
            let gh = layer.wih.len() / layer.input;
            transpose(
                &self.w[layer.wih.clone()],
                gh,
                layer.input,
                &mut wt[layer.wih.clone()],
            );
        }
        transpose(
            &self.w[l.out_w.clone()],
            c.vocab,
            c.hidden,
            &mut wt[l.out_w.clone()],
        );
    }

    /// [`Model::forward_with`] with the transposed parameters already made by
    /// [`Model::transpose_into`] from the current weights.
    pub fn forward_prepared(
        &self,
        wt: &[T],
        ws: &mut Workspace<T>,
        inputs: &[u32],
        targets: Option<&[u32]>,
        mode: Mode<'_>,
    ) -> f64 {
        assert_eq!(
            wt.len(),
            self.w.len(),
            "transposed parameters of another model"
        );
        let (b, tb) = (ws.batch, ws.steps * ws.batch);
        assert_eq!(inputs.len(), tb, "inputs must be T*B ids");
        let l = &self.layout;
        let c = l.config;
        let h = c.hidden;
        let (p, mut rng) = match mode {
            Mode::Eval => {
                ws.masked = false;
                (0.0, None)
            }
            Mode::Train { p, rng } => {
                assert!(
                    (0.0..1.0).contains(&p),
                    "dropout must be in [0, 1), got {p}"
                );
                ws.masked = p > 0.0;
                if !ws.masked {
                    // Nothing for a later replay to apply.
                    ws.layers.iter_mut().for_each(|s| s.mask.clear());
                }
                (p, ws.masked.then_some(rng))
            }
            Mode::Replay => {
                ws.masked = !ws.layers[0].mask.is_empty();
                (0.0, None)
            }
        };
        // Embedding: a gather, x[r, e] = emb(inputs[r], e).
        let emb = &self.w[l.embed.clone()];
        for (row, &id) in ws.x.chunks_exact_mut(c.emb).zip(inputs) {
            for (e, v) in row.iter_mut().enumerate() {
                *v = emb[id as usize * l.embed_cs + e * l.embed_es];
            }
        }
        // The recurrent weights, multiplied at every step: prepared once per chunk (W_hh^T for
        // this pass, W_hh for the backward pass).
        if !(ws.frozen && ws.prepared) {
            for (k, layer) in l.layers.iter().enumerate() {
                if let Some(r) = &layer.whh {
                    let whh = MatRef::new(&self.w[r.clone()], r.len() / h, h);
                    ws.whh_t[k].pack(whh.t());
                    ws.whh[k].pack(whh);
                }
            }
            ws.prepared = true;
        }
        let cell = c.cell.cell::<T>();
        for k in 0..ws.layers.len() {
            let (below, rest) = ws.layers.split_at_mut(k);
            let x = match below.last() {
                Some(prev) => MatRef::new(prev.output(ws.masked, b * h), tb, h),
                None => MatRef::new(&ws.x, tb, c.emb),
            };
            let st = &mut rest[0];
            time_loop::forward(cell, wt, &l.layers[k], x, &ws.whh_t[k], st, &mut ws.rec, b);
            if let Some(rng) = rng.as_deref_mut() {
                dropout::draw(&mut st.mask, tb * h, p, rng);
            }
            if ws.masked {
                dropout::apply(&mut st.y, &st.states[0][b * h..], &st.mask);
            }
        }
        let top = ws.layers.last().expect("at least one layer");
        let why_t = MatRef::new(&wt[l.out_w.clone()], h, c.vocab);
        gemm(
            T::one(),
            MatRef::new(top.output(ws.masked, b * h), tb, h),
            why_t,
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

    /// Backpropagate the chunk last run by [`Model::forward_with`] (with the same ids, through
    /// the same dropout masks if it used any) and add the gradient of `loss / ws.grad_div` (`loss / B` unless sharded) into `g`.
    pub fn backward(&self, ws: &mut Workspace<T>, inputs: &[u32], targets: &[u32], g: &mut [T]) {
        let (b, tb) = (ws.batch, ws.steps * ws.batch);
        let l = &self.layout;
        let c = l.config;
        let h = c.hidden;
        let masked = ws.masked;
        let cell = c.cell.cell::<T>();
        loss::softmax_xent_backward(&mut ws.probs, c.vocab, targets, ws.grad_div);
        let d_out = MatRef::new(&ws.probs, tb, c.vocab);
        let top = ws.layers.last().expect("at least one layer");
        gemm(
            T::one(),
            d_out.t(),
            MatRef::new(top.output(masked, b * h), tb, h),
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
        if masked {
            dropout::backward(&mut ws.dh, &top.mask);
        }
        for k in (0..ws.layers.len()).rev() {
            let layer = &l.layers[k];
            let (below, rest) = ws.layers.split_at(k);
            let x = match below.last() {
                Some(prev) => MatRef::new(prev.output(masked, b * h), tb, h),
                None => MatRef::new(&ws.x, tb, c.emb),
            };
            let st = &rest[0];
            // The gradient at this layer's input becomes the next layer down's `dh`.
            let dx = &mut ws.dx[..tb * layer.input];
            let scratch = time_loop::Scratch {
                dpre: &mut ws.dpre,
                drec: &mut ws.drec,
                dnext: &mut ws.dnext,
            };
            time_loop::backward(
                cell, &self.w, g, layer, x, &ws.whh[k], st, &ws.dh, scratch, dx, b,
            );
            std::mem::swap(&mut ws.dh, &mut ws.dx);
            if let (true, Some(prev)) = (masked, below.last()) {
                dropout::backward(&mut ws.dh, &prev.mask);
            }
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

/// `dst[j, i] = src[i, j]` for a row-major `rows x cols` `src`, in 16 x 16 tiles.
fn transpose<T: Copy>(src: &[T], rows: usize, cols: usize, dst: &mut [T]) {
    const TILE: usize = 16;
    let (src, dst) = (&src[..rows * cols], &mut dst[..rows * cols]);
    for i0 in (0..rows).step_by(TILE) {
        for j0 in (0..cols).step_by(TILE) {
            for i in i0..(i0 + TILE).min(rows) {
                let row = &src[i * cols..(i + 1) * cols];
                for j in j0..(j0 + TILE).min(cols) {
                    dst[j * rows + i] = row[j];
                }
            }
        }
    }
}

/// The recurrent state and activations of one layer: what its backward pass needs.
///
/// Buffers a cell does not use are empty.
#[derive(Clone, Debug)]
pub struct LayerState<T> {
    /// One `[(T+1)*B, H]` buffer per state of the cell (h, then the LSTM's c): block 0 is the
    /// state carried in, block t+1 that of step t.
    pub states: Vec<Vec<T>>,
    /// `[T*B, G*H]` the pre-activations, then what the cell keeps of them (activated gates).
    pub pre: Vec<T>,
    /// `[T*B, H]` the cell's extra cache ([`CellSpec::aux`]).
    pub aux: Vec<T>,
    /// `[T*B, H]` dropout mask on the output (`0` or `1 / (1 - p)`), once training drew one.
    pub mask: Vec<T>,
    /// `[T*B, H]` the output after dropout, `h[B..] * mask`, once training drew a mask.
    pub y: Vec<T>,
}

impl<T> LayerState<T> {
    /// The output `[T*B, H]` as the layer above sees it: dropped out when `masked`.
    fn output(&self, masked: bool, bh: usize) -> &[T] {
        if masked {
            &self.y
        } else {
            &self.states[0][bh..]
        }
    }
}

/// Preallocated buffers for chunks of `steps` x `batch`: nothing is allocated per step (the
/// dropout buffers are sized once, by the first training forward that uses them).
#[derive(Clone, Debug)]
pub struct Workspace<T> {
    pub steps: usize,
    pub batch: usize,
    /// Backward computes the gradient of `loss / grad_div`: the batch, or the whole batch
    /// when this workspace holds one shard of it.
    pub grad_div: usize,
    /// The parameters with the right-hand matrices of the forward products transposed
    /// ([`Model::transpose_into`]): refreshed by every [`Model::forward_with`].
    pub wt: Vec<T>,
    /// The model's weights will not change while this workspace is used (sampling, scoring):
    /// the forward pass then prepares them (transposes, packs) once instead of every call.
    pub frozen: bool,
    /// The prepared weights are there (see `frozen`).
    prepared: bool,
    /// Each layer's `W_hh^T`, prepared by the forward pass for its per-step products.
    pub whh_t: Vec<Packed<T>>,
    /// Each layer's `W_hh`, prepared by the forward pass for the backward pass's steps.
    pub whh: Vec<Packed<T>>,
    /// `[T*B, E]` embedded inputs.
    pub x: Vec<T>,
    pub layers: Vec<LayerState<T>>,
    /// `[T*B, V]` logits, then probabilities, then their gradient.
    pub probs: Vec<T>,
    /// The last forward applied the layers' dropout masks (so backward must too).
    pub masked: bool,
    /// `[B, G*H]` one step's recurrent part, for a cell that keeps it apart
    /// ([`Recurrence::Apart`]).
    pub rec: Vec<T>,
    /// `[T*B, max(E, H)]` gradient at the current layer's output.
    pub dh: Vec<T>,
    /// `[T*B, max(E, H)]` gradient at the current layer's input.
    pub dx: Vec<T>,
    /// `[T*B, G*H]` gradient at the (input part of the) pre-activations.
    pub dpre: Vec<T>,
    /// `[T*B, G*H]` gradient at the recurrent part, when apart.
    pub drec: Vec<T>,
    /// `[B, H]` per state: the gradient flowing back a step.
    pub dnext: Vec<Vec<T>>,
}

impl<T: Real> Workspace<T> {
    /// Buffers for `layout`'s model over chunks of `steps` x `batch`, state zeroed.
    pub fn new(layout: &Layout, steps: usize, batch: usize) -> Self {
        let c = layout.config;
        let spec = c.cell.spec();
        let tb = steps * batch;
        let bh = batch * c.hidden;
        let wide = c.emb.max(c.hidden);
        let gh = spec.gates() * c.hidden;
        let apart = spec.recurrence() == Recurrence::Apart;
        let n_states = spec.states().len();
        let zeros = |used: bool, n: usize| if used { vec![T::zero(); n] } else { Vec::new() };
        Workspace {
            steps,
            batch,
            grad_div: batch,
            wt: vec![T::zero(); layout.len],
            frozen: false,
            prepared: false,
            whh_t: vec![Packed::default(); c.layers],
            whh: vec![Packed::default(); c.layers],
            x: vec![T::zero(); tb * c.emb],
            layers: (0..c.layers)
                .map(|_| LayerState {
                    states: vec![vec![T::zero(); (steps + 1) * bh]; n_states],
                    pre: vec![T::zero(); tb * gh],
                    aux: zeros(spec.aux(), tb * c.hidden),
                    mask: Vec::new(),
                    y: Vec::new(),
                })
                .collect(),
            probs: vec![T::zero(); tb * c.vocab],
            masked: false,
            rec: zeros(apart, batch * gh),
            dh: vec![T::zero(); tb * wide],
            dx: vec![T::zero(); tb * wide],
            dpre: vec![T::zero(); tb * gh],
            drec: zeros(apart, tb * gh),
            dnext: vec![vec![T::zero(); bh]; n_states],
        }
    }

    /// `[B, H]` elements: one state of one layer for one chunk step.
    fn block(&self) -> usize {
        self.dnext[0].len()
    }

    /// Zero the carried state of every layer.
    pub fn reset_state(&mut self) {
        let n = self.block();
        for l in &mut self.layers {
            for s in &mut l.states {
                s[..n].fill(T::zero());
            }
        }
    }

    /// Carry the last step's state into block 0, for the next chunk.
    pub fn carry_state(&mut self) {
        let n = self.block();
        for l in &mut self.layers {
            for s in &mut l.states {
                s.copy_within(self.steps * n.., 0);
            }
        }
    }

    /// The states each layer carries (1, or 2 for the LSTM's h and c).
    pub fn state_count(&self) -> usize {
        self.layers[0].states.len()
    }

    /// State `s` (0 is h) of layer `k` after the last step of the last chunk, `[B, H]`.
    pub fn last(&self, k: usize, s: usize) -> &[T] {
        let n = self.block();
        &self.layers[k].states[s][self.steps * n..]
    }

    /// State `s` (0 is h) of layer `k` that the next chunk starts from, `[B, H]`: write into
    /// it to start from a given state.
    pub fn carried(&mut self, k: usize, s: usize) -> &mut [T] {
        let n = self.block();
        &mut self.layers[k].states[s][..n]
    }

    /// The hidden state of the last step of the last chunk, layer `k`, `[B, H]`.
    pub fn last_state(&self, k: usize) -> &[T] {
        self.last(k, 0)
    }

    /// The second state (the LSTM's cell state) of the last step of the last chunk, layer
    /// `k`, `[B, H]`; empty for a cell with one state.
    pub fn last_cell_state(&self, k: usize) -> &[T] {
        match self.state_count() {
            1 => &[],
            _ => self.last(k, 1),
        }
    }

    /// The state the next chunk starts from, layer `k`: `(h, c)`, `[B, H]` each (`c` empty
    /// for a cell with one state). Write into it to start from a given state.
    pub fn carried_mut(&mut self, k: usize) -> (&mut [T], &mut [T]) {
        let n = self.block();
        let (h, rest) = self.layers[k].states.split_at_mut(1);
        let c: &mut [T] = match rest.first_mut() {
            Some(c) => &mut c[..n],
            None => &mut [],
        };
        (&mut h[0][..n], c)
    }
}
