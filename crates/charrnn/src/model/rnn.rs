//! The tanh RNN: the notebook's cell.
//!
//! Forward: `h_t = tanh(W_ih x_t + W_hh h_{t-1} + b_ih [+ b_hh])`, summed in the notebook's
//! order `(W_xh x + W_hh h) + b`. Backward, from `dh_t` (the loss's gradient at the output) and
//! `dh_next` (what flows back from step t+1): `da_t = (1 - h_t^2) * (dh_t + dh_next)`, and the
//! time loop sends `W_hh^T da_t` back a step.
//!
//! One state (h), one gate block (G = 1). With one layer the model is the notebook's and is
//! stored under its names (`Wex`, `Wxh`, `Whh`, `Why`, `bh`, `by`), with one bias.

use crate::kernels::Real;
use crate::model::cell::{Bwd, Cell, CellKind, CellSpec, Fwd, GateInfo, Init, Recurrence};
use crate::model::layout::Naming;

/// The tanh RNN.
pub struct Rnn;

/// Its handle.
pub const RNN: CellKind = CellKind::of(&Rnn);

impl CellSpec for Rnn {
    fn name(&self) -> &'static str {
        "rnn"
    }

    fn about(&self) -> &'static str {
        "The notebook's tanh RNN"
    }

    fn gates(&self) -> usize {
        1
    }

    fn states(&self) -> &'static [&'static str] {
        &["h"]
    }

    fn recurrence(&self) -> Recurrence {
        Recurrence::Added
    }

    fn naming(&self, layers: usize) -> Naming {
        if layers == 1 {
            Naming::Notebook
        } else {
            Naming::Torch
        }
    }

    /// The notebook's model (one layer) keeps the notebook's N(0, std^2), so the first command
    /// and the parity with the notebook stay exact; stacked layers take PyTorch's.
    fn default_init(&self, layers: usize) -> Init {
        if layers == 1 {
            Init::Notebook
        } else {
            Init::Torch
        }
    }

    fn gate_info(&self) -> &'static [GateInfo] {
        // No gates: `pre` keeps `W_ih x + W_hh h` without the biases, and h is its tanh.
        &[]
    }
}

impl<T: Real> Cell<T> for Rnn {
    fn input_bias(&self, _pre: &mut [T], _b_ih: &[T], _b_hh: Option<&[T]>) {
        // The biases come last, in the step: the notebook's (W_xh x + W_hh h) + b.
    }

    fn forward_step(&self, s: Fwd<'_, T>) {
        let [h, _] = s.next;
        let pre = &s.pre[..h.len()];
        let hid = s.hidden;
        for (row, hrow) in pre.chunks_exact(hid).zip(h.chunks_exact_mut(hid)) {
            match s.b_hh {
                Some(b2) => {
                    for (((o, &v), &b1), &b2) in hrow.iter_mut().zip(row).zip(s.b_ih).zip(b2) {
                        *o = (v + b1 + b2).tanh_k();
                    }
                }
                None => {
                    for ((o, &v), &b1) in hrow.iter_mut().zip(row).zip(s.b_ih) {
                        *o = (v + b1).tanh_k();
                    }
                }
            }
        }
    }

    fn backward_step(&self, s: Bwd<'_, T>) {
        let ht = s.next[0];
        let dh_next = &*s.dnext[0];
        let da = &mut s.dpre[..ht.len()];
        for i in 0..ht.len() {
            let d = s.dh[i] + dh_next[i];
            da[i] = (T::one() - ht[i] * ht[i]) * d;
        }
    }
}
