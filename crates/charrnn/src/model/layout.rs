//! Where every tensor lives in the one flat parameter buffer, and what it is called in files.
//!
//! One table serves both naming schemes:
//! - **notebook**: the seed notebook's one-layer tanh RNN, `Wex [E,V]`, `Wxh [H,E]`,
//!   `Whh [H,H]`, `Why [V,H]`, `bh [H,1]`, `by [V,1]`;
//! - **torch**: the names and shapes of PyTorch's `Embedding -> RNN/LSTM/GRU -> Linear`
//!   (`embed.weight [V,E]`, `rnn.weight_ih_l{k} [G*H, In]`, `rnn.weight_hh_l{k} [G*H, H]`,
//!   `rnn.bias_ih_l{k} [G*H]`, `rnn.bias_hh_l{k} [G*H]`, `out.weight [V,H]`, `out.bias [V]`),
//!   with `G` = 1 (rnn), 4 (lstm, gates i f g o) or 3 (gru, gates r z n).
//!
//! The two differ only in names, in the embedding's orientation (handled by strides) and in
//! the notebook's single recurrent bias.

use std::ops::Range;

use crate::error::{Error, Result};

/// The recurrent cell.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CellKind {
    /// `h = tanh(W_ih x + b_ih + W_hh h + b_hh)`
    Rnn,
    /// PyTorch's LSTM, gates (i, f, g, o).
    Lstm,
    /// PyTorch's GRU, gates (r, z, n).
    Gru,
}

impl CellKind {
    /// Gate blocks per layer (G).
    pub fn gates(self) -> usize {
        match self {
            CellKind::Rnn => 1,
            CellKind::Lstm => 4,
            CellKind::Gru => 3,
        }
    }

    /// The name used on the command line and in metadata.
    pub fn name(self) -> &'static str {
        match self {
            CellKind::Rnn => "rnn",
            CellKind::Lstm => "lstm",
            CellKind::Gru => "gru",
        }
    }

    /// Parse `rnn`, `lstm` or `gru`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "rnn" => Ok(CellKind::Rnn),
            "lstm" => Ok(CellKind::Lstm),
            "gru" => Ok(CellKind::Gru),
            _ => Err(Error::config(format!(
                "unknown cell {s:?}: use rnn, lstm or gru"
            ))),
        }
    }
}

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
            ("--emb", self.emb),
            ("--hidden", self.hidden),
            ("--layers", self.layers),
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

    /// The notebook's naming applies to its own model: one tanh layer.
    pub fn naming(&self) -> Naming {
        if self.cell == CellKind::Rnn && self.layers == 1 {
            Naming::Notebook
        } else {
            Naming::Torch
        }
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
    /// `[G*H, H]`
    pub whh: Range<usize>,
    /// `[G*H]`
    pub bih: Range<usize>,
    /// `[G*H]`; absent in the notebook's model, which has one bias.
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
    /// Lay out the parameters of `config` under the naming its shape calls for.
    pub fn new(config: ModelConfig) -> Self {
        let naming = config.naming();
        let ModelConfig {
            vocab: v,
            emb: e,
            hidden: h,
            layers,
            cell,
        } = config;
        let gh = cell.gates() * h;
        let mut tensors = Vec::new();
        let mut at = 0;
        let mut push = |name: String, shape: Vec<usize>| {
            let n: usize = shape.iter().product();
            let range = at..at + n;
            at += n;
            tensors.push(TensorSpec {
                name,
                shape,
                range: range.clone(),
            });
            range
        };
        let (embed, embed_cs, embed_es, layer_list, out_w, out_b);
        match naming {
            Naming::Notebook => {
                embed = push("Wex".into(), vec![e, v]);
                let wih = push("Wxh".into(), vec![h, e]);
                let whh = push("Whh".into(), vec![h, h]);
                out_w = push("Why".into(), vec![v, h]);
                let bih = push("bh".into(), vec![h, 1]);
                out_b = push("by".into(), vec![v, 1]);
                (embed_cs, embed_es) = (1, v);
                layer_list = vec![LayerLayout {
                    input: e,
                    hidden: h,
                    wih,
                    whh,
                    bih,
                    bhh: None,
                }];
            }
            Naming::Torch => {
                embed = push("embed.weight".into(), vec![v, e]);
                (embed_cs, embed_es) = (e, 1);
                let mut ls = Vec::new();
                for k in 0..layers {
                    let input = if k == 0 { e } else { h };
                    let wih = push(format!("rnn.weight_ih_l{k}"), vec![gh, input]);
                    let whh = push(format!("rnn.weight_hh_l{k}"), vec![gh, h]);
                    let bih = push(format!("rnn.bias_ih_l{k}"), vec![gh]);
                    let bhh = push(format!("rnn.bias_hh_l{k}"), vec![gh]);
                    ls.push(LayerLayout {
                        input,
                        hidden: h,
                        wih,
                        whh,
                        bih,
                        bhh: Some(bhh),
                    });
                }
                layer_list = ls;
                out_w = push("out.weight".into(), vec![v, h]);
                out_b = push("out.bias".into(), vec![v]);
            }
        }
        Layout {
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
        }
    }

    /// Recover the model's sizes from the tensor names and shapes of a file, in either naming.
    /// The caller then checks every tensor against [`Layout::new`] of the result.
    pub fn infer(shapes: &[(String, Vec<usize>)]) -> std::result::Result<ModelConfig, String> {
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
        if get("Wex").is_some() {
            let (e, v) = dims2("Wex")?;
            let (h, _) = dims2("Whh")?;
            return Ok(ModelConfig {
                cell: CellKind::Rnn,
                vocab: v,
                emb: e,
                hidden: h,
                layers: 1,
            });
        }
        if get("embed.weight").is_some() {
            let (v, e) = dims2("embed.weight")?;
            let (gh, h) = dims2("rnn.weight_hh_l0")?;
            let cell = match gh.checked_div(h) {
                Some(1) if gh == h => CellKind::Rnn,
                Some(4) if gh == 4 * h => CellKind::Lstm,
                Some(3) if gh == 3 * h => CellKind::Gru,
                _ => {
                    return Err(format!(
                        "rnn.weight_hh_l0 has shape [{gh}, {h}]: not an rnn, lstm or gru layer"
                    ))
                }
            };
            let mut layers = 1;
            while get(&format!("rnn.weight_hh_l{layers}")).is_some() {
                layers += 1;
            }
            return Ok(ModelConfig {
                cell,
                vocab: v,
                emb: e,
                hidden: h,
                layers,
            });
        }
        Err("no Wex or embed.weight tensor: not a charrnn, notebook or PyTorch char-model checkpoint".into())
    }

    /// The spec of the tensor called `name`.
    pub fn tensor(&self, name: &str) -> Option<&TensorSpec> {
        self.tensors.iter().find(|t| t.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notebook_layout_has_the_notebook_names_and_shapes() {
        let l = Layout::new(ModelConfig {
            cell: CellKind::Rnn,
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
        for cell in [CellKind::Rnn, CellKind::Lstm, CellKind::Gru] {
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
                assert_eq!(Layout::infer(&shapes).unwrap(), c);
            }
        }
    }
}
