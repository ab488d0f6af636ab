//! Scoring a text: the model's cross-entropy over every character after the first, with the
//! recurrent state carried through the whole text (batch 1, no dropout): [`evaluate`]; or,
//! much faster, the text cut into streams scored side by side as one batch, on several
//! threads: [`evaluate_streams`], what training's validation uses.

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

/// Characters of the text before a stream's start that are run through the model (not
/// scored) to warm its state: the state after this much context is close to the one carried
/// from the text's start, so cutting the text into streams costs almost nothing in accuracy.
pub const WARMUP_CHARS: usize = 256;

/// [`evaluate`], faster: the text cut into `streams` consecutive parts of about equal length,
/// scored as one batch (one row per part) in windows of `seq_len`, split over `threads`
/// threads. Each part but the first starts from the state after the [`WARMUP_CHARS`]
/// characters before it. Every character after the first is scored once; with one stream
/// this is exactly [`evaluate`].
pub fn evaluate_streams<T: Real>(
    model: &Model<T>,
    ids: &Ids,
    seq_len: usize,
    streams: usize,
    threads: usize,
) -> EvalStats {
    let n = ids.len();
    if n < 2 {
        return EvalStats::default();
    }
    // Prediction positions 0..n-1 (position p predicts character p+1), cut into parts.
    let preds = n - 1;
    let streams = streams.clamp(1, preds);
    let len = preds.div_ceil(streams);
    let parts: Vec<(usize, usize)> = (0..streams)
        .map(|s| (s * len, ((s + 1) * len).min(preds)))
        .filter(|(a, b)| a < b)
        .collect();
    let threads = threads.clamp(1, parts.len());
    let per = parts.len().div_ceil(threads);
    let seq_len = seq_len.clamp(1, len);
    let run = |chunk: &[(usize, usize)]| score_parts(model, ids, seq_len, chunk);
    if threads == 1 {
        return run(&parts);
    }
    std::thread::scope(|scope| {
        let handles: Vec<_> = parts
            .chunks(per)
            .map(|c| scope.spawn(move || run(c)))
            .collect();
        handles.into_iter().fold(EvalStats::default(), |acc, h| {
            let s = h.join().expect("an evaluation thread panicked");
            EvalStats {
                nats: acc.nats + s.nats,
                chars: acc.chars + s.chars,
            }
        })
    })
}

/// Score the prediction positions `[a, b)` of each part, one batch row per part.
fn score_parts<T: Real>(
    model: &Model<T>,
    ids: &Ids,
    seq_len: usize,
    parts: &[(usize, usize)],
) -> EvalStats {
    let b = parts.len();
    let v = model.config().vocab;
    let mut ws = Workspace::new(&model.layout, seq_len, b);
    ws.frozen = true;
    ws.reset_state();
    let mut inputs = vec![0u32; seq_len * b];
    // Warm each part's state on the characters before it, in whole windows of `seq_len`
    // ending exactly at its start (parts with less before them start later, from zero).
    let warm: Vec<usize> = parts
        .iter()
        .map(|&(a, _)| a.min(WARMUP_CHARS) / seq_len * seq_len)
        .collect();
    let longest = warm.iter().copied().max().unwrap_or(0);
    let mut started = false;
    for w in (0..longest).step_by(seq_len) {
        for (row, (&(a, _), &k)) in parts.iter().zip(&warm).enumerate() {
            for t in 0..seq_len {
                // Position `a - longest + w + t`: before the part's warm-up, the row holds
                // zeros that a reset below discards.
                let back = longest - w - t;
                inputs[t * b + row] = if back <= k { ids.get(a - back) } else { 0 };
            }
        }
        if started {
            ws.carry_state();
        }
        started = true;
        model.forward(&mut ws, &inputs, None);
        // Rows whose warm-up had not begun ran on zeros: zero their state again.
        for (row, &k) in warm.iter().enumerate() {
            if longest - w > k {
                reset_row(&mut ws, row);
            }
        }
    }
    let mut stats = EvalStats::default();
    let longest_part = parts.iter().map(|&(a, c)| c - a).max().unwrap_or(0);
    for w in (0..longest_part).step_by(seq_len) {
        for (row, &(a, c)) in parts.iter().enumerate() {
            for t in 0..seq_len {
                let p = a + w + t;
                inputs[t * b + row] = if p < c { ids.get(p) } else { 0 };
            }
        }
        if started {
            ws.carry_state();
        } else {
            ws.reset_state();
        }
        started = true;
        model.forward(&mut ws, &inputs, None);
        for (row, &(a, c)) in parts.iter().enumerate() {
            for t in 0..seq_len {
                let p = a + w + t;
                if p < c {
                    let y = ids.get(p + 1) as usize;
                    stats.nats -= ws.probs[(t * b + row) * v + y].f64().ln();
                    stats.chars += 1;
                }
            }
        }
    }
    stats
}

/// Zero the state row `row` will carry into the next window.
fn reset_row<T: Real>(ws: &mut Workspace<T>, row: usize) {
    let steps = ws.steps;
    let h = ws.layers[0].states[0].len() / ((steps + 1) * ws.batch);
    for l in &mut ws.layers {
        for s in &mut l.states {
            s[(steps * ws.batch + row) * h..(steps * ws.batch + row + 1) * h].fill(T::zero());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CellKind, ModelConfig};
    use rand::SeedableRng;

    /// A model whose state forgets its start (weights small enough to contract), as a trained
    /// one does: then a warmed-up stream is scored as if carried from the text's start.
    fn model(cell: CellKind) -> Model<f64> {
        let config = ModelConfig {
            cell,
            vocab: 7,
            emb: 3,
            hidden: 8,
            layers: 2,
        };
        let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
        Model::init(config, 0.3, &mut rng)
    }

    fn text(n: usize) -> Ids {
        Ids::U8((0..n).map(|i| ((i * 7 + i / 5) % 7) as u8).collect())
    }

    #[test]
    fn one_stream_is_the_whole_text_exactly() {
        for cell in crate::model::CELLS {
            let m = model(cell);
            for n in [2, 9, 100, 1001] {
                let ids = text(n);
                assert_eq!(evaluate_streams(&m, &ids, 16, 1, 1), evaluate(&m, &ids, 16));
            }
        }
    }

    #[test]
    fn streams_score_every_character_once_and_close_to_the_whole() {
        for cell in crate::model::CELLS {
            let m = model(cell);
            let ids = text(2000);
            let whole = evaluate(&m, &ids, 32);
            // More streams than characters: one each, every one scored once.
            assert_eq!(evaluate_streams(&m, &text(300), 32, 5000, 3).chars, 299);
            for (streams, threads) in [(2, 1), (3, 2), (6, 2)] {
                let s = evaluate_streams(&m, &ids, 32, streams, threads);
                assert_eq!(s.chars, 1999, "{cell} {streams}");
                // Warmed-up streams differ from one carried state only by what the context
                // before the warm-up still changes.
                let d = (s.nats_per_char() - whole.nats_per_char()).abs();
                assert!(
                    d < 1e-3 * whole.nats_per_char().max(1.0),
                    "{cell} {streams}: {d}"
                );
            }
            // Threads change nothing but the order of the sums.
            let (a, b) = (
                evaluate_streams(&m, &ids, 32, 8, 1),
                evaluate_streams(&m, &ids, 32, 8, 3),
            );
            assert_eq!(a.chars, b.chars);
            assert!((a.nats - b.nats).abs() < 1e-9 * a.nats);
        }
    }
}
