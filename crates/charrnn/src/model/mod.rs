//! The model: embedding -> stacked recurrent layers -> linear output -> softmax.
//!
//! Shape alphabet: B batch, T steps in a chunk, V vocabulary, E embedding, H hidden.
//! Activations are time-major: row `t * B + b` holds step t of stream b.
//!
//! All parameters live in one flat buffer laid out by [`Layout`]; gradients and optimizer
//! state mirror it, so an optimizer is one loop.
//!
//! One file per cell (`rnn.rs` tanh, `lstm.rs`, `gru.rs`), each a forward over a chunk that
//! fills the layer's cache in the [`Workspace`] and a backward that adds into the gradient.
//! In training, each layer's output can go through inverted dropout (see [`Mode`]).

mod dropout;
mod gru;
pub mod layout;
mod lstm;
mod rnn;
mod step;

use rand::Rng;
use rand_distr::StandardNormal;

pub use dropout::Mode;
pub use layout::{CellKind, LayerLayout, Layout, ModelConfig, Naming, TensorSpec};
pub use step::Stepper;

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
    /// let config = ModelConfig { cell: CellKind::Lstm, vocab: 5, emb: 3, hidden: 8, layers: 2 };
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
                let gh = layer.whh.len() / h;
                let whh = MatRef::new(&self.w[layer.whh.clone()], gh, h);
                ws.whh_t[k].pack(whh.t());
                ws.whh[k].pack(whh);
            }
            ws.prepared = true;
        }
        for k in 0..ws.layers.len() {
            let (below, rest) = ws.layers.split_at_mut(k);
            let x = match below.last() {
                Some(prev) => MatRef::new(prev.output(ws.masked, b * h), tb, h),
                None => MatRef::new(&ws.x, tb, c.emb),
            };
            let whh_t = &ws.whh_t[k];
            let layer = &l.layers[k];
            let st = &mut rest[0];
            match c.cell {
                CellKind::Rnn => rnn::forward(wt, layer, x, whh_t, &mut st.h, b),
                CellKind::Lstm => lstm::forward(wt, layer, x, whh_t, st, b),
                CellKind::Gru => gru::forward(wt, layer, x, whh_t, st, &mut ws.gh, b),
            }
            if let Some(rng) = rng.as_deref_mut() {
                dropout::draw(&mut st.mask, tb * h, p, rng);
            }
            if ws.masked {
                dropout::apply(&mut st.y, &st.h[b * h..], &st.mask);
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
            match c.cell {
                CellKind::Rnn => {
                    let scratch = rnn::Scratch {
                        da: &mut ws.da,
                        dh_next: &mut ws.dh_next,
                    };
                    rnn::backward(
                        &self.w,
                        g,
                        layer,
                        x,
                        &ws.whh[k],
                        &st.h,
                        &ws.dh,
                        scratch,
                        Some(dx),
                        b,
                    )
                }
                CellKind::Lstm => {
                    let scratch = lstm::Scratch {
                        da: &mut ws.da,
                        dh_next: &mut ws.dh_next,
                        dc_next: &mut ws.dc_next,
                    };
                    lstm::backward(&self.w, g, layer, x, &ws.whh[k], st, &ws.dh, scratch, dx, b)
                }
                CellKind::Gru => {
                    let scratch = gru::Scratch {
                        dgi: &mut ws.da,
                        dgh: &mut ws.dgh,
                        dh_next: &mut ws.dh_next,
                    };
                    gru::backward(&self.w, g, layer, x, &ws.whh[k], st, &ws.dh, scratch, dx, b)
                }
            }
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

/// The part of a layer's backward pass every cell shares, on the recurrent side:
/// `dW_hh += d^T h_prev` and `db_hh += sum_rows d`, for `d` (`[T*B, G*H]`) the gradient at the
/// recurrent pre-activations and `h_prev` (`[T*B, H]`) the states they were computed from.
pub(crate) fn recurrent_grads<T: Real>(g: &mut [T], l: &LayerLayout, h_prev: &[T], d: &[T]) {
    let (hid, gh) = (l.hidden, l.whh.len() / l.hidden);
    let tb = d.len() / gh;
    gemm(
        T::one(),
        MatRef::new(d, tb, gh).t(),
        MatRef::new(&h_prev[..tb * hid], tb, hid),
        T::one(),
        MatMut::new(&mut g[l.whh.clone()], gh, hid),
    );
    if let Some(r) = &l.bhh {
        crate::kernels::add_col_sums(&mut g[r.clone()], d);
    }
}

/// The input side: `dW_ih += d^T x`, `db_ih += sum_rows d`, and, when asked, `dx = d W_ih`
/// (`[T*B, In]`), for `d` (`[T*B, G*H]`) the gradient at the input pre-activations.
pub(crate) fn input_grads<T: Real>(
    w: &[T],
    g: &mut [T],
    l: &LayerLayout,
    x: MatRef<T>,
    d: &[T],
    dx: Option<&mut [T]>,
) {
    let gh = l.wih.len() / l.input;
    let d = MatRef::new(d, x.rows, gh);
    crate::kernels::add_col_sums(&mut g[l.bih.clone()], &d.data[..x.rows * gh]);
    gemm(
        T::one(),
        d.t(),
        x,
        T::one(),
        MatMut::new(&mut g[l.wih.clone()], gh, l.input),
    );
    if let Some(dx) = dx {
        let wih = MatRef::new(&w[l.wih.clone()], gh, l.input);
        gemm(
            T::one(),
            d,
            wih,
            T::zero(),
            MatMut::new(dx, x.rows, l.input),
        );
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
    /// `[(T+1)*B, H]`: block 0 is the state carried in, block t+1 the output of step t.
    pub h: Vec<T>,
    /// LSTM: `[(T+1)*B, H]` cell state, block 0 carried in, block t+1 that of step t.
    pub c: Vec<T>,
    /// LSTM and GRU: `[T*B, G*H]` activated gates, LSTM (i, f, g, o), GRU (r, z, n).
    pub gates: Vec<T>,
    /// LSTM: `[T*B, H]` `tanh(c_t)`.
    pub tanh_c: Vec<T>,
    /// GRU: `[T*B, H]` the recurrent part of the candidate, `W_hn h_{t-1} + b_hn`.
    pub gh_n: Vec<T>,
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
            &self.h[bh..]
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
    /// GRU: `[B, G*H]` one step's recurrent product `W_hh h_{t-1} + b_hh`.
    pub gh: Vec<T>,
    /// `[T*B, max(E, H)]` gradient at the current layer's output.
    pub dh: Vec<T>,
    /// `[T*B, max(E, H)]` gradient at the current layer's input.
    pub dx: Vec<T>,
    /// `[T*B, G*H]` gradient at the pre-activations (GRU: their input part).
    pub da: Vec<T>,
    /// GRU: `[T*B, G*H]` gradient at the recurrent part of the pre-activations.
    pub dgh: Vec<T>,
    /// `[B, H]`
    pub dh_next: Vec<T>,
    /// LSTM: `[B, H]` gradient at the cell state, flowing back a step.
    pub dc_next: Vec<T>,
}

impl<T: Real> Workspace<T> {
    /// Buffers for `layout`'s model over chunks of `steps` x `batch`, state zeroed.
    pub fn new(layout: &Layout, steps: usize, batch: usize) -> Self {
        let c = layout.config;
        let tb = steps * batch;
        let wide = c.emb.max(c.hidden);
        let gh = c.cell.gates() * c.hidden;
        let (lstm, gru) = (c.cell == CellKind::Lstm, c.cell == CellKind::Gru);
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
                    h: vec![T::zero(); (steps + 1) * batch * c.hidden],
                    c: zeros(lstm, (steps + 1) * batch * c.hidden),
                    gates: zeros(lstm || gru, tb * gh),
                    tanh_c: zeros(lstm, tb * c.hidden),
                    gh_n: zeros(gru, tb * c.hidden),
                    mask: Vec::new(),
                    y: Vec::new(),
                })
                .collect(),
            probs: vec![T::zero(); tb * c.vocab],
            masked: false,
            gh: zeros(gru, batch * gh),
            dh: vec![T::zero(); tb * wide],
            dx: vec![T::zero(); tb * wide],
            da: vec![T::zero(); tb * gh],
            dgh: zeros(gru, tb * gh),
            dh_next: vec![T::zero(); batch * c.hidden],
            dc_next: zeros(lstm, batch * c.hidden),
        }
    }

    /// Zero the carried state (h, and the LSTM's c) of every layer.
    pub fn reset_state(&mut self) {
        let n = self.dh_next.len();
        for l in &mut self.layers {
            l.h[..n].fill(T::zero());
            if !l.c.is_empty() {
                l.c[..n].fill(T::zero());
            }
        }
    }

    /// Carry the last step's state (h, and the LSTM's c) into block 0, for the next chunk.
    pub fn carry_state(&mut self) {
        let n = self.dh_next.len();
        for l in &mut self.layers {
            l.h.copy_within(self.steps * n.., 0);
            if !l.c.is_empty() {
                l.c.copy_within(self.steps * n.., 0);
            }
        }
    }

    /// The state of the last step of the last chunk, layer `k`, `[B, H]`.
    pub fn last_state(&self, k: usize) -> &[T] {
        &self.layers[k].h[self.steps * self.dh_next.len()..]
    }

    /// The LSTM cell state of the last step of the last chunk, layer `k`, `[B, H]` (empty for
    /// other cells).
    pub fn last_cell_state(&self, k: usize) -> &[T] {
        let c = &self.layers[k].c;
        &c[c.len().min(self.steps * self.dh_next.len())..]
    }

    /// The state the next chunk starts from, layer `k`: `(h, c)`, `[B, H]` each (`c` empty
    /// unless the cell is an LSTM). Write into it to start from a given state.
    pub fn carried_mut(&mut self, k: usize) -> (&mut [T], &mut [T]) {
        let n = self.dh_next.len();
        let l = &mut self.layers[k];
        let nc = n.min(l.c.len());
        (&mut l.h[..n], &mut l.c[..nc])
    }
}
