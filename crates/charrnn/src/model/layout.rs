//! Where every tensor lives in the one flat parameter buffer, and what it is called in files.
//!
//! One table serves both naming schemes:
//! - **notebook**: the seed notebook's one-layer tanh RNN, `Wex [E,V]`, `Wxh [H,E]`,
//!   `Whh [H,H]`, `Why [V,H]`, `bh [H,1]`, `by [V,1]`;
//! - **torch**: the names and shapes of PyTorch's `Embedding -> RNN/LSTM/GRU -> Linear`
//!   (`embed.weight [V,E]`, `rnn.weight_ih_l{k} [G*H, In]`, `rnn.weight_hh_l{k} [G*H, H]`,
//!   `rnn.bias_ih_l{k} [G*H]`, `rnn.bias_hh_l{k} [G*H]`, `out.weight [V,H]`, `out.bias [V]`),
//!   with `G` the cell's gates (1 rnn, 4 lstm, 3 gru, 2 mingru); a cell without recurrent
//!   weights (mingru) has no `weight_hh`/`bias_hh`.
//!
//! The two differ only in names, in the embedding's orientation (handled by strides) and in
//! the notebook's single recurrent bias. Which naming a model takes is its cell's call
//! ([`crate::model::CellSpec::naming`]): the tanh RNN takes the notebook's for one layer.

use std::ops::Range;

use crate::error::{Error, Result};
use crate::model::cell::{CellKind, Recurrence};

/// The sizes of a model.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ModelConfig {
    pub cell: CellKind,
    /// V
    pub vocab: usize,
    /// E
    pub emb: usize,
    /// H
    pub hidden: usize,
    pub layers: usize,
}

impl ModelConfig {
    /// Check every size is positive.
    pub fn validate(&self) -> Result<()> {
        for (name, v) in [
            ("`emb`", self.emb),
            ("`hidden`", self.hidden),
            ("`layers`", self.layers),
        ] {
            if v == 0 {
                return Err(Error::config(format!("{name} must be at least 1")));
            }
        }
        if self.vocab == 0 {
            return Err(Error::config("the vocabulary is empty"));
        }
        Ok(())
    }

    /// The names this model is stored under (its cell's call).
    pub fn naming(&self) -> Naming {
        self.cell.spec().naming(self.layers)
    }

    /// Floating-point operations to train on one character: the forward multiply-adds of every
    /// layer (input and recurrent products) and of the output layer, times 2 (a multiply and
    /// an add), times 3 (the forward product and backward's two).
    pub fn train_flops_per_char(&self) -> f64 {
        let spec = self.cell.spec();
        let gh = (spec.gates() * self.hidden) as f64;
        let recurrent = spec.recurrence() != Recurrence::None;
        let mut macs = (self.vocab * self.hidden) as f64;
        for k in 0..self.layers {
            let input = if k == 0 { self.emb } else { self.hidden } as f64;
            macs += gh * input;
            if recurrent {
                macs += gh * self.hidden as f64;
            }
        }
        6.0 * macs
    }
}

/// Which set of tensor names a model is stored under.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Naming {
    Notebook,
    Torch,
}

/// One tensor: its file name, shape and place in the flat buffer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub range: Range<usize>,
}

/// The parameter ranges of one recurrent layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerLayout {
    /// Input width (E for layer 0, H above).
    pub input: usize,
    /// H
    pub hidden: usize,
    /// `[G*H, In]`
    pub wih: Range<usize>,
    /// `[G*H, H]`; absent for a cell without recurrent weights.
    pub whh: Option<Range<usize>>,
    /// `[G*H]`
    pub bih: Range<usize>,
    /// `[G*H]`; absent in the notebook's model, which has one bias, and for a cell without
    /// recurrent weights.
    pub bhh: Option<Range<usize>>,
}

/// The whole parameter table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Layout {
    pub config: ModelConfig,
    pub naming: Naming,
    pub tensors: Vec<TensorSpec>,
    /// The embedding table; element (char c, dim e) is at `embed.start + c * embed_cs + e * embed_es`.
    pub embed: Range<usize>,
    pub embed_cs: usize,
    pub embed_es: usize,
    pub layers: Vec<LayerLayout>,
    /// `[V, H]`
    pub out_w: Range<usize>,
    /// `[V]`
    pub out_b: Range<usize>,
    /// Total number of parameters.
    pub len: usize,
}

impl Layout {
    /// Lay out the parameters of `config` under the naming its cell calls for.
    ///
    /// # Panics
    /// If the parameter count overflows `usize` (see [`Layout::try_new`]).
    pub fn new(config: ModelConfig) -> Self {
        Self::try_new(config).expect("the model's parameter count overflows")
    }

    /// [`Layout::new`], or `None` if a tensor's size or the parameter count overflows `usize`
    /// (sizes read from a file are checked this way before anything is allocated from them).
    pub fn try_new(config: ModelConfig) -> Option<Self> {
        let naming = config.naming();
        let spec = config.cell.spec();
        let recurrent = spec.recurrence() != Recurrence::None;
        let ModelConfig {
            vocab: v,
            emb: e,
            hidden: h,
            layers,
            ..
        } = config;
        let gh = spec.gates().checked_mul(h)?;
        let mut tensors = Vec::new();
        let mut at = 0usize;
        let mut push = |name: String, shape: Vec<usize>| -> Option<Range<usize>> {
            let n = shape.iter().try_fold(1usize, |a, &d| a.checked_mul(d))?;
            let range = at..at.checked_add(n)?;
            at = range.end;
            tensors.push(TensorSpec {
                name,
                shape,
                range: range.clone(),
            });
            Some(range)
        };
        let (embed, embed_cs, embed_es, layer_list, out_w, out_b);
        match naming {
            Naming::Notebook => {
                embed = push("Wex".into(), vec![e, v])?;
                let wih = push("Wxh".into(), vec![gh, e])?;
                let whh = push("Whh".into(), vec![gh, h])?;
                out_w = push("Why".into(), vec![v, h])?;
                let bih = push("bh".into(), vec![gh, 1])?;
                out_b = push("by".into(), vec![v, 1])?;
                (embed_cs, embed_es) = (1, v);
                layer_list = vec![LayerLayout {
                    input: e,
                    hidden: h,
                    wih,
                    whh: Some(whh),
                    bih,
                    bhh: None,
                }];
            }
            Naming::Torch => {
                embed = push("embed.weight".into(), vec![v, e])?;
                (embed_cs, embed_es) = (e, 1);
                let mut ls = Vec::new();
                for k in 0..layers {
                    let input = if k == 0 { e } else { h };
                    let wih = push(format!("rnn.weight_ih_l{k}"), vec![gh, input])?;
                    let whh = match recurrent {
                        true => Some(push(format!("rnn.weight_hh_l{k}"), vec![gh, h])?),
                        false => None,
                    };
                    let bih = push(format!("rnn.bias_ih_l{k}"), vec![gh])?;
                    let bhh = match recurrent {
                        true => Some(push(format!("rnn.bias_hh_l{k}"), vec![gh])?),
                        false => None,
                    };
                    ls.push(LayerLayout {
                        input,
                        hidden: h,
                        wih,
                        whh,
                        bih,
                        bhh,
                    });
                }
                layer_list = ls;
                out_w = push("out.weight".into(), vec![v, h])?;
                out_b = push("out.bias".into(), vec![v])?;
            }
        }
        Some(Layout {
            config,
            naming,
            tensors,
            embed,
            embed_cs,
            embed_es,
            layers: layer_list,
            out_w,
            out_b,
            len: at,
        })
    }

    /// Recover a model's config from a file's tensor names and shapes (either naming) and its
    /// `cell` metadata, if any; the result's layout has exactly those tensors.
    ///
    /// The sizes come from the embedding and the recurrent weights (or the output layer), the
    /// depth from the layer indices. The cell is the one the metadata names (an error names the cell the tensors
    /// fit, if another does); without metadata (a file from numpy or PyTorch), the first cell
    /// of [`crate::model::CELLS`] whose layout has exactly these tensors. Sizes are checked (no
    /// overflow) before anything is laid out.
    pub fn infer(
        shapes: &[(String, Vec<usize>)],
        cell: Option<&str>,
    ) -> std::result::Result<ModelConfig, String> {
        let get = |name: &str| {
            shapes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, s)| s.clone())
        };
        let dims2 = |name: &str| -> std::result::Result<(usize, usize), String> {
            match get(name) {
                Some(s) if s.len() == 2 => Ok((s[0], s[1])),
                Some(s) => Err(format!(
                    "tensor {name} has shape {s:?}, expected two dimensions"
                )),
                None => Err(format!("tensor {name} is missing")),
            }
        };
        let (vocab, emb, hidden, layers) = if get("Wex").is_some() {
            let (e, v) = dims2("Wex")?;
            let (h, _) = dims2("Whh")?;
            (v, e, h, 1)
        } else if get("embed.weight").is_some() {
            let (v, e) = dims2("embed.weight")?;
            // H from the recurrent weights where the cell has them, else the output layer.
            let (_, h) = match get("rnn.weight_hh_l0") {
                Some(_) => dims2("rnn.weight_hh_l0")?,
                None => dims2("out.weight")?,
            };
            // One past the highest layer index any tensor has (at least one layer).
            let layers = shapes
                .iter()
                .filter_map(|(n, _)| n.strip_prefix("rnn.")?.rsplit_once("_l")?.1.parse().ok())
                .map(|k: usize| k.saturating_add(1))
                .max()
                .unwrap_or(1);
            (v, e, h, layers)
        } else {
            return Err("no Wex or embed.weight tensor: not a charrnn, notebook or PyTorch char-model checkpoint".into());
        };
        let config = |cell| ModelConfig {
            cell,
            vocab,
            emb,
            hidden,
            layers,
        };
        let fits = |cell| match Layout::try_new(config(cell)) {
            Some(l) => {
                l.tensors.len() == shapes.len()
                    && l.tensors
                        .iter()
                        .all(|t| get(&t.name).as_ref() == Some(&t.shape))
            }
            None => false,
        };
        match cell {
            Some(name) => {
                let kind = CellKind::parse(name).map_err(|_| {
                    format!(
                        "its cell {:?} is not one this build knows ({}): use a newer charrnn",
                        shorten(name),
                        super::cell_names().join(", ")
                    )
                })?;
                if fits(kind) {
                    return Ok(config(kind));
                }
                match super::CELLS.iter().find(|&&c| fits(c)) {
                    Some(other) => Err(format!(
                        "metadata says cell {} but the tensors are those of a {} model",
                        kind.name(),
                        other.name()
                    )),
                    // Tensor by tensor, the caller says what does not fit.
                    None => Ok(config(kind)),
                }
            }
            None => super::CELLS
                .iter()
                .copied()
                .find(|&c| fits(c))
                .map(config)
                .ok_or_else(|| {
                    format!(
                        "its tensors fit no {} model of embedding {emb}, hidden {hidden} and {layers} layer(s), and it has no \"cell\" metadata to say which it is",
                        super::cell_names().join(", ")
                    )
                }),
        }
    }

    /// The spec of the tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorSpec> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

/// A value from a file, cut to a length fit for an error message.
fn shorten(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        Some((i, _)) => format!("{}...", &s[..i]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_layout_has_the_notebook_names_and_shapes() {
        let l = Layout::new(ModelConfig {
            cell: CellKind::RNN,
            vocab: 7,
            emb: 4,
            hidden: 5,
            layers: 1,
        });
        let names: Vec<_> = l
            .tensors
            .iter()
            .map(|t| (t.name.as_str(), t.shape.clone()))
            .collect();
        assert_eq!(
            names,
            vec![
                ("Wex", vec![4, 7]),
                ("Wxh", vec![5, 4]),
                ("Whh", vec![5, 5]),
                ("Why", vec![7, 5]),
                ("bh", vec![5, 1]),
                ("by", vec![7, 1])
            ]
        );
        assert_eq!(l.len, 28 + 20 + 25 + 35 + 5 + 7);
    }

    #[test]
    fn infer_round_trips() {
        for cell in crate::model::CELLS {
            for layers in [1, 3] {
                let c = ModelConfig {
                    cell,
                    vocab: 11,
                    emb: 3,
                    hidden: 6,
                    layers,
                };
                let l = Layout::new(c);
                let shapes: Vec<_> = l
                    .tensors
                    .iter()
                    .map(|t| (t.name.clone(), t.shape.clone()))
                    .collect();
                assert_eq!(Layout::infer(&shapes, None).unwrap(), c);
                assert_eq!(Layout::infer(&shapes, Some(cell.name())).unwrap(), c);
            }
        }
    }
}
