//! Training only part of a model: the parts held fixed, as ranges of the flat parameter buffer.
//!
//! A [`crate::train::Trainer`] with a [`Freeze`] zeroes the gradient of the frozen parameters
//! before clipping (so the reported norm and a norm clip see only what trains) and clears the
//! optimizer's first buffer for them once, when the freeze is set: with a zero gradient and a
//! zero first moment no optimizer (Adagrad, Adam, RMSprop, SGD with momentum) moves a weight,
//! also when the optimizer's state was carried over from another run.

use std::fmt;
use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::Layout;

/// A part of a model that can be frozen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Part {
    /// `embed`: the embedding (the notebook's `Wex`, PyTorch's `embed.weight`).
    Embed,
    /// `rnn`: every recurrent layer (weights and biases).
    Rnn,
    /// `rnn.K`: recurrent layer K, counted from 0 at the input.
    Layer(usize),
    /// `out`: the output layer (weight and bias).
    Out,
}

impl Part {
    /// The names [`Part::parse`] takes, for messages.
    pub const NAMES: &'static str = "embed, rnn, rnn.K (layer K, from 0) or out";

    /// Parse `embed`, `rnn`, `rnn.K` or `out`.
    ///
    /// ```
    /// use charrnn::finetune::Part;
    ///
    /// assert_eq!(Part::parse("rnn.1").unwrap(), Part::Layer(1));
    /// assert_eq!(Part::Layer(1).to_string(), "rnn.1");
    /// assert!(Part::parse("lstm").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "embed" => Ok(Part::Embed),
            "rnn" => Ok(Part::Rnn),
            "out" => Ok(Part::Out),
            _ => s
                .strip_prefix("rnn.")
                .and_then(|k| k.parse().ok().filter(|n: &usize| n.to_string() == k))
                .map(Part::Layer)
                .ok_or_else(|| {
                    Error::config(format!(
                        "unknown part {s:?} for `freeze`: use {}",
                        Part::NAMES
                    ))
                }),
        }
    }
}

impl fmt::Display for Part {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Part::Embed => f.write_str("embed"),
            Part::Rnn => f.write_str("rnn"),
            Part::Layer(k) => write!(f, "rnn.{k}"),
            Part::Out => f.write_str("out"),
        }
    }
}

impl Serialize for Part {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Part {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Part::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// What a run holds fixed.
///
/// ```
/// use charrnn::finetune::{Freeze, Part};
/// use charrnn::model::{CellKind, Layout, ModelConfig};
///
/// let layout = Layout::new(ModelConfig { cell: CellKind::GRU, vocab: 10, emb: 4, hidden: 8, layers: 2 });
/// let f = Freeze { parts: vec![Part::Embed, Part::Layer(0)], new_from: Some(8) };
/// let frozen = f.ranges(&layout).unwrap();
/// // The embedding's rows of the 8 known characters, then layer 0; characters 8 and 9 train.
/// assert_eq!(frozen[0], layout.embed.start..layout.embed.start + 8 * 4);
/// assert_eq!(frozen[1], layout.layers[0].wih.start..layout.layers[1].wih.start);
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Freeze {
    /// The parts held fixed.
    pub parts: Vec<Part>,
    /// Characters from this id on (those [`super::extend_vocab`] added) train in a frozen
    /// `embed` or `out`: their rows start as placeholders.
    #[serde(default)]
    pub new_from: Option<usize>,
}

impl Freeze {
    /// `parts` frozen, whole.
    pub fn of(parts: &[Part]) -> Self {
        Freeze {
            parts: parts.to_vec(),
            new_from: None,
        }
    }

    /// Nothing frozen.
    pub fn is_empty(&self) -> bool {
        self.parts.is_empty()
    }

    /// The parts as `charrnn train --freeze` takes them (`embed,rnn.1`), in model order, or
    /// `none`.
    pub fn describe(&self) -> String {
        let mut parts = self.parts.clone();
        parts.sort();
        parts.dedup();
        if parts.is_empty() {
            return "none".into();
        }
        parts
            .iter()
            .map(Part::to_string)
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The ranges of `layout`'s flat buffer held fixed, sorted and merged.
    ///
    /// Fails if a part names a layer the model does not have, or if nothing would be left to
    /// train.
    pub fn ranges(&self, layout: &Layout) -> Result<Vec<Range<usize>>> {
        let c = layout.config;
        let known = self.new_from.unwrap_or(c.vocab).min(c.vocab);
        let mut out: Vec<Range<usize>> = Vec::new();
        let layer = |k: usize, out: &mut Vec<Range<usize>>| {
            let l = &layout.layers[k];
            out.extend(
                [Some(&l.wih), l.whh.as_ref(), Some(&l.bih), l.bhh.as_ref()]
                    .into_iter()
                    .flatten()
                    .cloned(),
            );
        };
        for &p in &self.parts {
            match p {
                Part::Embed => {
                    // Element (char i, dim e), by the layout's strides.
                    for i in 0..known {
                        for e in 0..c.emb {
                            let at = layout.embed.start + i * layout.embed_cs + e * layout.embed_es;
                            out.push(at..at + 1);
                        }
                    }
                }
                Part::Rnn => (0..c.layers).for_each(|k| layer(k, &mut out)),
                Part::Layer(k) if k < c.layers => layer(k, &mut out),
                Part::Layer(k) => {
                    let have = match c.layers {
                        1 => "1 layer, rnn.0".to_string(),
                        n => format!("{n} layers, rnn.0 to rnn.{}", n - 1),
                    };
                    return Err(Error::config(format!(
                        "`freeze` rnn.{k}: the model has {have}"
                    )));
                }
                Part::Out => {
                    let (w, b) = (&layout.out_w, &layout.out_b);
                    out.push(w.start..w.start + known * c.hidden);
                    out.push(b.start..b.start + known);
                }
            }
        }
        out.sort_by_key(|r| (r.start, r.end));
        let mut merged: Vec<Range<usize>> = Vec::new();
        for r in out.into_iter().filter(|r| !r.is_empty()) {
            match merged.last_mut() {
                Some(last) if r.start <= last.end => last.end = last.end.max(r.end),
                _ => merged.push(r),
            }
        }
        let frozen: usize = merged.iter().map(|r| r.len()).sum();
        if frozen == layout.len {
            return Err(Error::config(format!(
                "`freeze` {} leaves nothing to train: leave at least one part of the model out",
                self.describe()
            )));
        }
        Ok(merged)
    }
}
