//! Seeing inside a model: a text run through it, with what it expected at every character,
//! how surprised it was, what every unit of every layer did, which units track simple
//! features of the text, and how often its gates saturate.
//!
//! [`explain`] runs the text through the model's chunk forward pass ([`Model::forward`]),
//! batch 1, in chunks of [`ExplainConfig::chunk`] steps with the recurrent state carried from
//! one to the next (so the result is that of one pass over the whole text), and collects:
//! - per character `i`: the loss of the model's prediction of it from the characters before
//!   it (`-log2 p(x_i | x_<i)`, none for the first), the probability it gave it, and its top
//!   predictions there; per line, the mean loss; in total, the summed cross-entropy (what
//!   `charrnn score` reports for the same text);
//! - per layer, one [`Channel`] per state the cell carries (h; and c for the LSTM) and per gate
//!   it names ([`crate::model::CellSpec::gate_info`]): `[N, H]`, the values after reading
//!   character `i` (row `i`);
//! - [`Feature`]s of the text itself (inside quotes, position in the line, ...), the state
//!   units that correlate most with each ([`Found`]), and for each gate the share of values
//!   near its bounds ([`Saturation`]).
//!
//! Work and memory are bounded: at most [`ExplainConfig::max_chars`] characters (the first
//! ones) and [`MAX_VALUES`] activations.
//!
//! Shape alphabet: N characters explained, V vocabulary, H hidden, G gates.

mod explanation;
mod features;
mod run;
mod stats;

use crate::error::{Error, Result};
use crate::kernels::Real;
use crate::model::Model;
use crate::vocab::{describe_chars, Vocab};

pub use explanation::{Channel, ChannelKind, Explanation, LineLoss, Loss, ModelSummary};
pub use features::{features, Feature, FEATURES};
pub use stats::{found_neurons, saturation, Found, Neuron, Saturation, HIST_BINS};

/// The most activations (characters x units over all channels) one explanation keeps: 32M,
/// 128 MB of `f32` (about 21,800 characters of a 2 x 128 LSTM, whose report is then 48 MB;
/// 3,600 of a 3 x 512 one).
pub const MAX_VALUES: usize = 1 << 25;

/// What to explain and how much.
#[derive(Clone, Debug, PartialEq)]
pub struct ExplainConfig {
    /// Explain at most this many characters: the first ones of the text (at least 1).
    pub max_chars: usize,
    /// Top predictions kept per character.
    pub top: usize,
    /// Units listed per feature in [`Explanation::found`].
    pub found: usize,
    /// Steps per chunk of the forward pass (a trade of memory for overhead; the result is
    /// the same up to rounding).
    pub chunk: usize,
    /// Leave out characters the model does not know (otherwise they are an error, unless the
    /// vocabulary has the unknown symbol, which stands for them as in training).
    pub skip_unknown: bool,
}

impl Default for ExplainConfig {
    fn default() -> Self {
        ExplainConfig {
            max_chars: 2000,
            top: 5,
            found: 5,
            chunk: 128,
            skip_unknown: false,
        }
    }
}

/// Explain `text` with `model` (whose characters are `vocab`'s): see the module docs.
///
/// ```
/// use charrnn::explain::{explain, ExplainConfig};
/// use charrnn::model::{CellKind, Model, ModelConfig};
/// use charrnn::Vocab;
/// use rand::SeedableRng;
///
/// let text = "She said \"hi\" (twice).\n";
/// let vocab = Vocab::from_text(text);
/// let config = ModelConfig { cell: CellKind::LSTM, vocab: vocab.len(), emb: 4, hidden: 8, layers: 2 };
/// let model = Model::<f32>::init(config, 0.3, &mut rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(1));
/// let e = explain(&model, &vocab, text, &ExplainConfig::default()).unwrap();
/// assert_eq!(e.bits.len(), text.chars().count());
/// assert_eq!(e.loss.predicted, text.chars().count() - 1);
/// let c = e.channel(1, "c").unwrap(); // layer 1's cell state, [N, 8]
/// assert_eq!(c.values.len(), 8 * text.chars().count());
/// assert_eq!(e.found[0].feature, "in_quotes");
/// ```
///
/// Fails when the settings are out of range, the text has characters the model does not know
/// (and they are neither skipped nor read as the unknown symbol), no character is left, or
/// the activations would pass [`MAX_VALUES`].
pub fn explain<T: Real>(
    model: &Model<T>,
    vocab: &Vocab,
    text: &str,
    cfg: &ExplainConfig,
) -> Result<Explanation> {
    validate(cfg)?;
    let c = model.config();
    if vocab.len() != c.vocab {
        return Err(Error::Config(format!(
            "the vocabulary has {} characters, the model {}",
            vocab.len(),
            c.vocab
        )));
    }
    let head = &text[..byte_len(text, cfg.max_chars)];
    let truncated = head.len() < text.len();
    let unknown = vocab.unknown(head);
    let replace = vocab.unknown_id().is_some() && !cfg.skip_unknown;
    if !unknown.is_empty() && !cfg.skip_unknown && !replace {
        return Err(Error::Vocab(format!(
            "the text has characters not in the model's vocabulary: {}",
            describe_chars(&unknown)
        )));
    }
    let (mut chars, mut ids) = (Vec::new(), Vec::new());
    let (mut skipped, mut replaced) = (0, 0);
    for ch in head.chars() {
        match (vocab.id(ch), replace) {
            (Some(id), _) => ids.push(id),
            (None, true) => {
                replaced += 1;
                ids.push(vocab.unknown_id().expect("checked above"));
            }
            (None, false) => {
                skipped += 1;
                continue;
            }
        }
        chars.push(ch);
    }
    if chars.is_empty() {
        return Err(Error::Vocab(
            "no character of the text is in the model's vocabulary: nothing to explain".into(),
        ));
    }
    let spec = c.cell.spec();
    let per_char = c.layers * c.hidden * (spec.states().len() + spec.gate_info().len());
    let values = chars.len().saturating_mul(per_char);
    if values > MAX_VALUES {
        return Err(Error::Config(format!(
            "{} characters of this model make {values} activations, over the {MAX_VALUES} one \
             explanation keeps: lower `max_chars` to at most {} characters",
            chars.len(),
            MAX_VALUES / per_char
        )));
    }
    let trace = run::trace(model, &ids, cfg.top, cfg.chunk);
    let features = features(&chars);
    let found = found_neurons(&trace.channels, &features, cfg.found);
    let saturation = saturation(&trace.channels);
    let lines = line_losses(&chars, &trace.bits);
    let predicted = chars.len() - 1;
    let nats_per_char = trace.nats / predicted.max(1) as f64;
    Ok(Explanation {
        model: ModelSummary {
            cell: spec.name(),
            vocab: c.vocab,
            emb: c.emb,
            hidden: c.hidden,
            layers: c.layers,
            states: spec.states().to_vec(),
            gates: spec.gate_info().iter().map(|g| g.name).collect(),
        },
        text: chars.iter().collect(),
        truncated,
        skipped,
        replaced,
        loss: Loss {
            predicted,
            nats: trace.nats,
            nats_per_char,
            bits_per_char: nats_per_char / std::f64::consts::LN_2,
            perplexity: nats_per_char.exp(),
        },
        bits: trace.bits,
        p: trace.p,
        top: trace
            .top
            .into_iter()
            .map(|t| t.into_iter().map(|(id, p)| (vocab.char(id), p)).collect())
            .collect(),
        lines,
        channels: trace.channels,
        features,
        found,
        saturation,
    })
}

fn validate(cfg: &ExplainConfig) -> Result<()> {
    for (name, v) in [("max_chars", cfg.max_chars), ("chunk", cfg.chunk)] {
        if v == 0 {
            return Err(Error::Config(format!("`{name}` must be at least 1")));
        }
    }
    Ok(())
}

/// The length in bytes of the first `n` characters of `s`.
fn byte_len(s: &str, n: usize) -> usize {
    s.char_indices().nth(n).map_or(s.len(), |(b, _)| b)
}

/// The loss per line: each line runs to its newline, included.
fn line_losses(chars: &[char], bits: &[Option<f64>]) -> Vec<LineLoss> {
    let mut lines = Vec::new();
    let mut start = 0;
    for (i, &ch) in chars.iter().enumerate() {
        if ch == '\n' || i + 1 == chars.len() {
            let b: Vec<f64> = bits[start..=i].iter().flatten().copied().collect();
            lines.push(LineLoss {
                start,
                end: i + 1,
                predicted: b.len(),
                bits_per_char: if b.is_empty() {
                    0.0
                } else {
                    b.iter().sum::<f64>() / b.len() as f64
                },
            });
            start = i + 1;
        }
    }
    lines
}
