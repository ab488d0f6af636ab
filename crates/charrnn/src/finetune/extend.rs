//! Adding characters to a trained model's vocabulary without changing what it predicts for
//! the characters it knows.
//!
//! The K new characters take the ids after the model's V (`V..V+K`, in the order given), so
//! every known character keeps its id and every weight of the model is kept as it is: the
//! tensors that do not depend on V bit for bit, and the known characters' rows of the three
//! that do (the embedding, the output weight and bias). Each new character gets (shape alphabet:
//! V known characters, K new ones, E embedding, H hidden):
//! - an embedding row `[E]`: the mean of the known characters' rows. It changes nothing until
//!   the character appears in the input, and starts it as an average input;
//! - an output row `[H]`: the mean of the known rows, `w̄ = (1/V) Σ_j W_j`, and the bias
//!   `b̄ - Δ`, with `b̄` the mean of the known biases and `Δ = MARGIN + ln K - ln V`.
//!
//! At every position, whatever the state, its logit is then `z̄ - Δ`, with `z̄` the mean of the
//! known characters' logits `z_j`. By Jensen, `ln Σ_j exp z_j >= z̄ + ln V`, so the K new terms
//! add at most `K exp(z̄ - Δ) <= exp(-MARGIN) Σ_j exp z_j` to the softmax's denominator: each
//! known character's probability is multiplied by a factor in `[1 / (1 + e^-MARGIN), 1]`, in
//! any context, for every cell and depth, whatever the weights. With [`MARGIN`] = 18 the
//! relative change is below 1.6e-8, a quarter of f32's unit roundoff (2^-24 = 6.0e-8).
//!
//! The price: a new character starts with a probability below `e^-18 / K` of the known ones'
//! total, so its first occurrences cost some 18 nats each until training raises its row (its
//! bias and its `H` output weights all move, so with Adam or Adagrad that takes tens of steps
//! in which it occurs, not thousands).

use crate::error::{Error, Result};
use crate::kernels::Real;
use crate::model::{Layout, Model, ModelConfig};
use crate::vocab::{describe_chars, Vocab};

/// How far, in nats, a new character's logit starts below what would make the known
/// characters' probabilities change by `e^-MARGIN` (see the module docs).
pub const MARGIN: f64 = 18.0;

/// `model` and `vocab` with the characters `new` added after the model's own (see the module
/// docs for the new rows).
///
/// ```
/// use charrnn::finetune::extend_vocab;
/// use charrnn::model::{CellKind, ModelConfig};
/// use charrnn::{train, Vocab};
///
/// let vocab = Vocab::from_text("the cat sat");
/// let config = ModelConfig { cell: CellKind::LSTM, vocab: vocab.len(), emb: 4, hidden: 8, layers: 2 };
/// let model = train::init_model::<f32>(config, 0.5, 1).unwrap();
/// let (bigger, more) = extend_vocab(&model, &vocab, &['ß', 'ä']).unwrap();
/// assert_eq!(more.len(), vocab.len() + 2);
/// assert_eq!(more.id('t'), vocab.id('t')); // every known character keeps its id
/// assert_eq!(more.id('ß'), Some(vocab.len() as u32));
/// assert_eq!(bigger.tensor("rnn.weight_hh_l1"), model.tensor("rnn.weight_hh_l1"));
/// ```
///
/// Fails if a character of `new` is already in `vocab` or given twice, or if the bigger model's
/// size overflows.
///
/// # Panics
/// If `vocab` is not `model`'s (another size).
pub fn extend_vocab<T: Real>(
    model: &Model<T>,
    vocab: &Vocab,
    new: &[char],
) -> Result<(Model<T>, Vocab)> {
    let c = model.config();
    assert_eq!(c.vocab, vocab.len(), "the vocabulary is not the model's");
    let known: Vec<char> = new
        .iter()
        .copied()
        .filter(|&ch| vocab.id(ch).is_some())
        .collect();
    if !known.is_empty() {
        return Err(Error::Vocab(format!(
            "cannot add characters the vocabulary already has: {}",
            describe_chars(&known)
        )));
    }
    let mut chars = vocab.chars().to_vec();
    chars.extend_from_slice(new);
    let bigger = Vocab::from_chars(chars)?;
    let (v, k) = (c.vocab, new.len());
    let config = ModelConfig { vocab: v + k, ..c };
    let layout = Layout::try_new(config).ok_or_else(|| {
        Error::config(format!(
            "a vocabulary of {} characters makes the model's size overflow",
            v + k
        ))
    })?;
    let old = &model.layout;
    let mut w = vec![T::zero(); layout.len];
    // The tensors that do not depend on V, by name (the naming is the cell's and depth's, so
    // the same on both sides).
    for t in &old.tensors {
        if [&old.embed, &old.out_w, &old.out_b].contains(&&t.range) {
            continue;
        }
        let to = layout.tensor(&t.name).expect("the same cell and depth");
        w[to.range.clone()].copy_from_slice(&model.w[t.range.clone()]);
    }
    // The embedding: element (char i, dim e) by each layout's strides (the notebook's `Wex`
    // is [E, V], PyTorch's `embed.weight` [V, E]).
    let at = |l: &Layout, i: usize, e: usize| l.embed.start + i * l.embed_cs + e * l.embed_es;
    for e in 0..c.emb {
        let mut sum = 0.0;
        for i in 0..v {
            let x = model.w[at(old, i, e)];
            sum += x.f64();
            w[at(&layout, i, e)] = x;
        }
        let mean = T::of(sum / v as f64);
        for i in v..v + k {
            w[at(&layout, i, e)] = mean;
        }
    }
    // The output layer: `[V, H]` rows and `[V]` biases in both namings.
    let h = c.hidden;
    let (ow, nw) = (&model.w[old.out_w.clone()], &mut w[layout.out_w.clone()]);
    nw[..v * h].copy_from_slice(ow);
    for j in 0..h {
        let mean = T::of((0..v).map(|i| ow[i * h + j].f64()).sum::<f64>() / v as f64);
        for i in v..v + k {
            nw[i * h + j] = mean;
        }
    }
    let (ob, nb) = (&model.w[old.out_b.clone()], &mut w[layout.out_b.clone()]);
    nb[..v].copy_from_slice(ob);
    let delta = MARGIN + (k.max(1) as f64).ln() - (v as f64).ln();
    let bias = T::of(ob.iter().map(|x| x.f64()).sum::<f64>() / v as f64 - delta);
    nb[v..].fill(bias);
    Ok((Model { layout, w }, bigger))
}
