//! What [`super::explain`] returns: the explanation of a text, its parts, and their shapes
//! (N characters explained, H hidden).

use serde::Serialize;

use super::{Feature, Found, Saturation};
use crate::model::Squash;

/// The model an explanation is of.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ModelSummary {
    pub cell: &'static str,
    pub vocab: usize,
    pub emb: usize,
    pub hidden: usize,
    pub layers: usize,
    /// The states each layer carries (`h`; `h`, `c`).
    pub states: Vec<&'static str>,
    /// The gates each layer shows (empty for the tanh RNN).
    pub gates: Vec<&'static str>,
}

/// The loss over the whole text.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Loss {
    /// Characters predicted: all but the first.
    pub predicted: usize,
    /// Summed cross-entropy, in nats, in the order of the text (as `charrnn score` sums it).
    pub nats: f64,
    pub nats_per_char: f64,
    pub bits_per_char: f64,
    pub perplexity: f64,
}

/// The loss of one line: characters `start..end` (its newline included).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct LineLoss {
    pub start: usize,
    pub end: usize,
    /// Characters of the line with a prediction (the text's first has none).
    pub predicted: usize,
    /// Their mean loss in bits (0 when none).
    pub bits_per_char: f64,
}

/// What a channel holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChannelKind {
    /// A state carried from step to step (h, c).
    State,
    /// An activated gate (or candidate) of the cell's step.
    Gate,
}

/// One quantity of one layer over the text: `[N, H]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Channel {
    pub layer: usize,
    /// `h`, `c`, or the gate's name (`i`, `f`, `g`, `o`; `r`, `z`, `n`; `z`, `ĥ`).
    pub name: &'static str,
    pub kind: ChannelKind,
    /// For a gate, the function that made it (`None` for states).
    pub squash: Option<Squash>,
    /// H
    pub units: usize,
    /// `[N, H]` row `i`: the values after reading character `i` (an f64 model's, rounded).
    pub values: Vec<f32>,
}

impl Channel {
    /// Unit `u`'s value after character `i`.
    pub fn value(&self, i: usize, u: usize) -> f32 {
        self.values[i * self.units + u]
    }
}

/// A text seen through a model (see the module docs).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    pub model: ModelSummary,
    /// The characters explained: the text's first [`super::ExplainConfig::max_chars`], less any
    /// unknown ones skipped.
    pub text: String,
    /// The text had more characters than were explained.
    pub truncated: bool,
    /// Unknown characters left out ([`super::ExplainConfig::skip_unknown`]).
    pub skipped: usize,
    /// Unknown characters read as the vocabulary's unknown symbol.
    pub replaced: usize,
    pub loss: Loss,
    /// `[N]` the loss of each character in bits (`None` for the first).
    pub bits: Vec<Option<f64>>,
    /// `[N]` the probability the model gave each character (`None` for the first).
    pub p: Vec<Option<f32>>,
    /// `[N]` the model's most likely characters at each position, most likely first, with
    /// their probabilities (empty for the first).
    pub top: Vec<Vec<(char, f32)>>,
    pub lines: Vec<LineLoss>,
    /// Per layer: its states, then its gates.
    pub channels: Vec<Channel>,
    pub features: Vec<Feature>,
    /// Per feature (in [`super::FEATURES`] order), the state units that correlate most with it.
    pub found: Vec<Found>,
    /// Per layer and bounded gate, how often it is near its bounds.
    pub saturation: Vec<Saturation>,
}

impl Explanation {
    /// The channel `name` of `layer`.
    pub fn channel(&self, layer: usize, name: &str) -> Option<&Channel> {
        self.channels
            .iter()
            .find(|c| c.layer == layer && c.name == name)
    }
}
