//! What a recurrent cell is: the floor every cell stands on.
//!
//! A cell is a unit struct in its own file (`rnn.rs`, `lstm.rs`, ...) that implements
//! [`CellSpec`] (its name, gates, state, how its recurrent product enters, how its tensors are
//! named) and [`Cell`] for `f32` and `f64` (its math: the biases it adds to the input
//! projections, one step forward and one step backward over a block of `B` rows). Everything
//! else is shared: the input projections of a whole chunk in one product, the time loop with
//! the recurrent products (`time_loop.rs`), the weight gradients, the batch-1 sampling step
//! (`step.rs`), the layout of the tensors and their checkpoint names (`layout.rs`), flops.
//! The list of cells is [`crate::model::CELLS`]; nothing outside a cell's file knows which
//! cell it is.
//!
//! Shape alphabet: B rows (streams), H hidden, G gates, S states (h; h and c for the LSTM).
//! A layer's pre-activations are `a = W_ih x + W_hh h_{t-1} (+ biases)`, `G*H` per row, split
//! into G blocks of H; `W_ih` is `[G*H, In]`, `W_hh` `[G*H, H]`.

use std::fmt;

use crate::kernels::Real;
use crate::model::layout::Naming;

/// The most states a cell may carry from step to step (h, and the LSTM's c).
pub const MAX_STATES: usize = 2;

/// How a cell's recurrent product `W_hh h_{t-1}` enters its pre-activations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Recurrence {
    /// No recurrent weights: the gates depend on the input only (minGRU). The state still
    /// flows from step to step, through the cell's own update.
    None,
    /// Added into the pre-activations: `a = W_ih x + W_hh h_{t-1} + ...` (tanh RNN, LSTM).
    Added,
    /// Kept apart as `r = W_hh h_{t-1} + b_hh`, for the cell to combine (GRU).
    Apart,
}

/// How a new model's weights are drawn.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Init {
    /// The notebook's: every tensor, biases too, from N(0, std^2).
    Notebook,
    /// PyTorch's defaults ([`crate::model::Model::init_torch`]).
    Torch,
}

impl Init {
    /// `notebook` or `torch`.
    pub fn name(self) -> &'static str {
        match self {
            Init::Notebook => "notebook",
            Init::Torch => "torch",
        }
    }
}

/// Everything about a cell that does not depend on the number type.
pub trait CellSpec: Send + Sync {
    /// The name on the command line and in checkpoint metadata (`cell`).
    fn name(&self) -> &'static str;
    /// One line for `--help`.
    fn about(&self) -> &'static str;
    /// G: blocks of H in the pre-activations.
    fn gates(&self) -> usize;
    /// The states carried from step to step, in order (`h` first); at most [`MAX_STATES`].
    fn states(&self) -> &'static [&'static str];
    /// How the recurrent product enters.
    fn recurrence(&self) -> Recurrence;
    /// Does the cell keep an extra `[T*B, H]` cache per layer for its backward pass?
    fn aux(&self) -> bool {
        false
    }
    /// Does `h_{t-1}` reach `h_t` other than through `W_hh` (GRU and minGRU: `z * h_{t-1}`)?
    /// Then [`Cell::backward_step`] writes that part of the gradient at `h_{t-1}`, and the time
    /// loop adds the part through `W_hh` to it.
    fn carries_h(&self) -> bool {
        false
    }
    /// Which names a model of this cell with `layers` layers is stored under.
    fn naming(&self, layers: usize) -> Naming {
        let _ = layers;
        Naming::Torch
    }

    /// How a new model of this cell with `layers` layers is initialized unless told: PyTorch's
    /// way, which gives gated cells inputs strong enough to learn from the first step.
    fn default_init(&self, layers: usize) -> Init {
        let _ = layers;
        Init::Torch
    }

    /// [`Init::Torch`]: a layer's tensors come from U(-k, k) with this `k`; PyTorch's RNN,
    /// LSTM and GRU take `1/sqrt(hidden)`.
    fn init_bound(&self, input: usize, hidden: usize) -> f64 {
        let _ = input;
        1.0 / (hidden as f64).sqrt()
    }

    /// The G blocks of H that a forward step leaves in `pre`, in order, when they are the
    /// cell's activated gates (what `charrnn explain` shows): their names and activations.
    /// Empty when `pre` keeps something else (the tanh RNN keeps its sums without biases).
    fn gate_info(&self) -> &'static [GateInfo] {
        &[]
    }
}

/// The function that made a gate's values, and so the range they lie in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Squash {
    /// `σ`: values in (0, 1), a gate that lets through a share.
    Sigmoid,
    /// `tanh`: values in (-1, 1), a candidate value.
    Tanh,
    /// None: a linear value (minGRU's candidate).
    Identity,
}

impl Squash {
    /// The range of the values, `None` when unbounded.
    pub fn range(self) -> Option<(f64, f64)> {
        match self {
            Squash::Sigmoid => Some((0.0, 1.0)),
            Squash::Tanh => Some((-1.0, 1.0)),
            Squash::Identity => None,
        }
    }
}

/// One gate block of a cell's `pre` after a forward step (see [`CellSpec::gate_info`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GateInfo {
    /// Its usual name (`i`, `f`, `g`, `o`; `r`, `z`, `n`; `z`, `ĥ`).
    pub name: &'static str,
    /// What it does, in a few words.
    pub about: &'static str,
    pub squash: Squash,
}

/// One step forward over a block of B rows: what the time loop hands a cell.
///
/// Slices are row-major blocks of B rows; states the cell does not have are empty.
pub struct Fwd<'a, T> {
    /// H.
    pub hidden: usize,
    /// `[B, G*H]` in: the pre-activations (the input part with the biases of
    /// [`Cell::input_bias`], plus `W_hh h_{t-1}` when [`Recurrence::Added`]); out: whatever
    /// [`Cell::backward_step`] needs of them (usually the activated gates).
    pub pre: &'a mut [T],
    /// `[B, G*H]` [`Recurrence::Apart`]: `W_hh h_{t-1} + b_hh`; otherwise empty.
    pub rec: &'a [T],
    /// `[G*H]` the input bias, and the recurrent one if the cell's layout has it.
    pub b_ih: &'a [T],
    pub b_hh: Option<&'a [T]>,
    /// `[B, H]` each: the states carried in, by [`CellSpec::states`].
    pub prev: [&'a [T]; MAX_STATES],
    /// `[B, H]` each: the new states, to write.
    pub next: [&'a mut [T]; MAX_STATES],
    /// `[B, H]` the cell's extra cache when [`CellSpec::aux`], to write; otherwise empty.
    pub aux: &'a mut [T],
}

/// One step backward over a block of B rows.
pub struct Bwd<'a, T> {
    /// H.
    pub hidden: usize,
    /// `[B, G*H]` what [`Cell::forward_step`] left in `pre`.
    pub pre: &'a [T],
    /// `[B, H]` each: the states carried into this step, and the ones it made.
    pub prev: [&'a [T]; MAX_STATES],
    pub next: [&'a [T]; MAX_STATES],
    /// `[B, H]` what the forward step left in `aux` (or empty).
    pub aux: &'a [T],
    /// `[B, H]` the loss's gradient at this step's output `h_t`, from above.
    pub dh: &'a [T],
    /// `[B, H]` each, in: the gradient at this step's new states from the step after (zero at
    /// the chunk's last step); out: the gradient at the states carried in, except the part
    /// through `W_hh` (which the time loop adds, or writes when the cell does not
    /// [`CellSpec::carries_h`]: then `dnext[0]` need not be written).
    pub dnext: [&'a mut [T]; MAX_STATES],
    /// `[B, G*H]` out: the gradient at the input part of the pre-activations.
    pub dpre: &'a mut [T],
    /// `[B, G*H]` out, [`Recurrence::Apart`]: the gradient at the recurrent part `r`;
    /// otherwise empty (the recurrent part's gradient is `dpre`'s).
    pub drec: &'a mut [T],
}

/// A cell's math in the number type `T`.
pub trait Cell<T: Real>: CellSpec {
    /// Add to the input projections `x W_ih^T` (`pre`, rows of `G*H`) the biases this cell
    /// adds before the time loop (none, `b_ih`, or `b_ih + b_hh`). The order of the sums is
    /// the cell's: the f64 parity tests hold it to the reference's.
    fn input_bias(&self, pre: &mut [T], b_ih: &[T], b_hh: Option<&[T]>);
    /// One step forward (see [`Fwd`]).
    fn forward_step(&self, s: Fwd<'_, T>);
    /// One step backward (see [`Bwd`]).
    fn backward_step(&self, s: Bwd<'_, T>);
}

/// A cell, as models, configs and files name it: a handle on its implementation.
///
/// Compares, prints and serializes as its name.
#[derive(Clone, Copy)]
pub struct CellKind {
    spec: &'static dyn CellSpec,
    f32: &'static dyn Cell<f32>,
    f64: &'static dyn Cell<f64>,
}

impl CellKind {
    /// The handle of a cell type (each cell's file makes its constant with this).
    pub const fn of<C: Cell<f32> + Cell<f64>>(cell: &'static C) -> Self {
        CellKind {
            spec: cell,
            f32: cell,
            f64: cell,
        }
    }

    /// The tanh RNN (the notebook's cell).
    pub const RNN: CellKind = super::rnn::RNN;
    /// PyTorch's LSTM.
    pub const LSTM: CellKind = super::lstm::LSTM;
    /// PyTorch's GRU.
    pub const GRU: CellKind = super::gru::GRU;
    /// The minimal GRU of Feng et al. (2024).
    pub const MINGRU: CellKind = super::mingru::MINGRU;

    /// What the cell is.
    pub fn spec(self) -> &'static dyn CellSpec {
        self.spec
    }

    /// The cell's math in `T`.
    pub fn cell<T: Real>(self) -> &'static dyn Cell<T> {
        use std::any::{Any, TypeId};
        let any: &dyn Any = if TypeId::of::<T>() == TypeId::of::<f32>() {
            &self.f32
        } else {
            &self.f64
        };
        *any.downcast_ref::<&'static dyn Cell<T>>()
            .expect("charrnn computes in f32 or f64")
    }

    /// The name on the command line and in metadata.
    pub fn name(self) -> &'static str {
        self.spec.name()
    }

    /// G: blocks of H in the pre-activations.
    pub fn gates(self) -> usize {
        self.spec.gates()
    }

    /// The cell called `name`, from [`crate::model::CELLS`].
    pub fn parse(name: &str) -> crate::Result<Self> {
        super::CELLS
            .iter()
            .copied()
            .find(|c| c.name() == name)
            .ok_or_else(|| {
                crate::Error::config(format!(
                    "unknown cell {name:?}: use {}",
                    super::cell_names().join(", ")
                ))
            })
    }
}

impl PartialEq for CellKind {
    fn eq(&self, other: &Self) -> bool {
        self.name() == other.name()
    }
}

impl Eq for CellKind {}

impl fmt::Debug for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl fmt::Display for CellKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl serde::Serialize for CellKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

impl<'de> serde::Deserialize<'de> for CellKind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let name = String::deserialize(d)?;
        CellKind::parse(&name).map_err(serde::de::Error::custom)
    }
}

/// `[B, H]` views of blocks t and t+1 of each state buffer, `[(T+1)*B, H]` each: the states
/// carried in (block t) and the new ones (block t+1), as [`Fwd`] and [`Bwd`] take them.
pub(crate) fn split_states<T>(
    states: &mut [Vec<T>],
    t: usize,
    bh: usize,
) -> ([&[T]; MAX_STATES], [&mut [T]; MAX_STATES]) {
    let mut prev: [&[T]; MAX_STATES] = [&[], &[]];
    let mut next: [&mut [T]; MAX_STATES] = [&mut [], &mut []];
    for ((p, n), s) in prev.iter_mut().zip(next.iter_mut()).zip(states) {
        let (before, after) = s.split_at_mut((t + 1) * bh);
        *p = &before[t * bh..];
        *n = &mut after[..bh];
    }
    (prev, next)
}
