//! Scoring a text: the model's cross-entropy over every character after the first, with the
//! recurrent state carried through the whole text (batch 1, no dropout).

use crate::kernels::Real;
use crate::model::{Model, Workspace};
use crate::vocab::Ids;

/// The loss of a model on a text.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct EvalStats {
    /// Summed cross-entropy, in nats.
    pub nats: f64,
    /// Characters predicted (the text's length minus one).
    pub chars: usize,
}

impl EvalStats {
    /// Mean loss in nats per character.
    pub fn nats_per_char(&self) -> f64 {
        self.nats / self.chars.max(1) as f64
    }

    /// Mean loss in bits per character.
    pub fn bits_per_char(&self) -> f64 {
        self.nats_per_char() / std::f64::consts::LN_2
    }

    /// `exp(nats per char)`.
    pub fn perplexity(&self) -> f64 {
        self.nats_per_char().exp()
    }
}

/// Score `ids` in windows of `seq_len`, from a zero state carried across windows.
pub fn evaluate<T: Real>(model: &Model<T>, ids: &Ids, seq_len: usize) -> EvalStats {
    let n = ids.len();
    if n < 2 {
        return EvalStats::default();
    }
    let seq_len = seq_len.clamp(1, n - 1);
    let v = model.config().vocab;
    let mut ws = Workspace::new(&model.layout, seq_len, 1);
    ws.frozen = true;
    let mut inputs = vec![0u32; seq_len];
    let mut stats = EvalStats::default();
    let mut p = 0;
    while p < n - 1 {
        let valid = seq_len.min(n - 1 - p);
        for (t, x) in inputs.iter_mut().enumerate() {
            // The tail window is padded; padding comes after every counted step, so it
            // changes nothing that is counted.
            *x = if t < valid { ids.get(p + t) } else { 0 };
        }
        if p == 0 {
            ws.reset_state();
        } else {
            ws.carry_state();
        }
        model.forward(&mut ws, &inputs, None);
        for t in 0..valid {
            let y = ids.get(p + t + 1) as usize;
            stats.nats -= ws.probs[t * v + y].f64().ln();
        }
        stats.chars += valid;
        p += valid;
    }
    stats
}
