//! Issue 16, the model side of fine-tuning: extending a model's vocabulary leaves its
//! predictions for the known characters unchanged (every cell, depth and naming, f32 and f64),
//! keeps every other weight, writes a checkpoint that loads like any other (also in numpy and
//! PyTorch, when a Python with them is at hand), and passes the gradient check; frozen parts do
//! not move under any optimizer.

mod support;

use std::collections::BTreeMap;

use charrnn::finetune::{extend_vocab, Freeze, Part, VocabFit, MARGIN};
use charrnn::model::{CellKind, Model, ModelConfig, Naming, Workspace, CELLS};
use charrnn::optim::{OptimConfig, OptimKind};
use charrnn::vocab::CharCounts;
use charrnn::{checkpoint, data::Streams, train, Real, Vocab};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

/// The model's text: its characters are the known ones.
const TEXT: &str = "the quick brown fox jumps over the lazy dog; Ξένος café.\n";
/// Characters none of [`TEXT`] has.
const NEW: [char; 3] = ['ß', '€', 'Ü'];

/// A random model over [`TEXT`]'s characters with weights N(0, 0.7^2), so its logits spread
/// over several nats.
fn model<T: Real>(cell: CellKind, layers: usize, seed: u64) -> (Model<T>, Vocab) {
    let vocab = Vocab::from_text(TEXT);
    let config = ModelConfig {
        cell,
        vocab: vocab.len(),
        emb: 6,
        hidden: 12,
        layers,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    (Model::init(config, 0.7, &mut rng), vocab)
}

/// The probabilities `[T*B, V]` of two chunks of [`TEXT`] (T 9, B 3), the second carrying the
/// first's state.
fn probs<T: Real>(m: &Model<T>, vocab: &Vocab) -> Vec<f64> {
    let ids: Vec<u32> = TEXT.chars().map(|c| vocab.id(c).unwrap()).collect();
    let (t, b) = (9, 3);
    let mut ws = Workspace::new(&m.layout, t, b);
    let mut out = Vec::new();
    for chunk in 0..2 {
        let x: Vec<u32> = (0..t * b)
            .map(|r| ids[(chunk * t * b + r * 7) % ids.len()])
            .collect();
        if chunk > 0 {
            ws.carry_state();
        }
        m.forward(&mut ws, &x, None);
        out.extend(ws.probs.iter().map(|p| p.f64()));
    }
    out
}

/// The extension's largest relative change of a known character's probability, the largest
/// share of the new characters in a row, and the smallest of the changes (mathematically >= 0:
/// a known probability can only shrink).
fn changes<T: Real>(cell: CellKind, layers: usize) -> (f64, f64, f64) {
    let (m, vocab) = model::<T>(cell, layers, 3 + layers as u64);
    let (big, more) = extend_vocab(&m, &vocab, &NEW).unwrap();
    let (v, k) = (vocab.len(), NEW.len());
    let (p, q) = (probs(&m, &vocab), probs(&big, &more));
    let (mut worst, mut new_share, mut least) = (0.0f64, 0.0f64, f64::INFINITY);
    for (row, row_q) in p.chunks(v).zip(q.chunks(v + k)) {
        for (a, b) in row.iter().zip(row_q) {
            let rel = (a - b) / a;
            worst = worst.max(rel.abs());
            least = least.min(rel);
        }
        new_share = new_share.max(row_q[v..].iter().sum::<f64>());
    }
    (worst, new_share, least)
}

#[test]
fn extension_keeps_the_known_characters_probabilities_every_cell() {
    // The bound of the scheme: a factor in [1 / (1 + e^-MARGIN), 1] (extend.rs's docs).
    let bound = (-MARGIN).exp();
    for cell in CELLS {
        for layers in [1, 2] {
            let (worst, share, least) = changes::<f64>(cell, layers);
            let what = format!("{} x{layers}", cell.name());
            assert!(worst <= bound * 1.001 + 1e-14, "{what} f64: {worst:e}");
            assert!(
                least >= -1e-14,
                "{what}: a known probability grew by {least:e}"
            );
            assert!(share <= bound, "{what}: the new characters take {share:e}");
            // In f32, within the rounding of the forward pass itself: a few units in the last
            // place (2^-24 = 6.0e-8).
            let (worst, share, _) = changes::<f32>(cell, layers);
            assert!(worst <= 4.0 * 2f64.powi(-24), "{what} f32: {worst:e}");
            assert!(share <= 2.0 * bound, "{what} f32: {share:e}");
        }
    }
}

#[test]
fn extension_keeps_every_other_weight_and_appends_the_ids() {
    for cell in CELLS {
        for layers in [1, 2] {
            let (m, vocab) = model::<f32>(cell, layers, 1);
            let (big, more) = extend_vocab(&m, &vocab, &NEW).unwrap();
            let (v, k, h, e) = (vocab.len(), NEW.len(), 12, 6);
            assert_eq!(&more.chars()[..v], vocab.chars());
            assert_eq!(&more.chars()[v..], &NEW);
            let (l, bl) = (&m.layout, &big.layout);
            for t in &l.tensors {
                let (old, new) = (m.tensor(&t.name).unwrap(), big.tensor(&t.name).unwrap());
                if t.range == l.out_w || t.range == l.out_b {
                    assert_eq!(&new[..old.len()], old, "{}", t.name);
                } else if t.range != l.embed {
                    assert_eq!(new, old, "{}", t.name);
                }
            }
            // The embedding by its strides (the notebook's Wex is [E, V]), new rows the mean.
            let at = |l: &charrnn::model::Layout, i: usize, d: usize| {
                l.embed.start + i * l.embed_cs + d * l.embed_es
            };
            for d in 0..e {
                let mean = (0..v).map(|i| m.w[at(l, i, d)] as f64).sum::<f64>() / v as f64;
                for i in 0..v {
                    assert_eq!(big.w[at(bl, i, d)], m.w[at(l, i, d)]);
                }
                for i in v..v + k {
                    assert!((big.w[at(bl, i, d)] as f64 - mean).abs() < 1e-6);
                }
            }
            let naming = if (cell, layers) == (CellKind::RNN, 1) {
                Naming::Notebook
            } else {
                Naming::Torch
            };
            assert_eq!(bl.naming, naming);
            let bias = &big.w[bl.out_b.clone()];
            let b_mean = bias[..v].iter().map(|&x| x as f64).sum::<f64>() / v as f64;
            let delta = MARGIN + (k as f64).ln() - (v as f64).ln();
            assert!((bias[v] as f64 - (b_mean - delta)).abs() < 1e-5);
            assert_eq!(big.w[bl.out_w.clone()].len(), (v + k) * h);
        }
    }
    // Characters the model has, or given twice, are refused.
    let (m, vocab) = model::<f32>(CellKind::GRU, 1, 1);
    let err = extend_vocab(&m, &vocab, &['q', 'ß'])
        .unwrap_err()
        .to_string();
    assert!(err.contains("'q' (U+0071)"), "{err}");
    assert!(extend_vocab(&m, &vocab, &['ß', 'ß']).is_err());
}

#[test]
fn extended_checkpoint_loads_like_any_other() {
    let dir = tempfile::tempdir().unwrap();
    for cell in CELLS {
        for layers in [1, 2] {
            let (m, vocab) = model::<f64>(cell, layers, 2);
            let (big, more) = extend_vocab(&m, &vocab, &NEW).unwrap();
            let path = dir.path().join("extended.safetensors");
            checkpoint::save(&path, &big, &more, &BTreeMap::new()).unwrap();
            let back = checkpoint::load::<f64>(&path).unwrap();
            assert_eq!(back.vocab, more);
            assert_eq!(back.model.w, big.w);
            assert_eq!(back.model.config(), big.config());
            // The file as another tool sees it: the tensors under the layout's names and
            // shapes, V+K wide where V was, and metadata that says so.
            let bytes = std::fs::read(&path).unwrap();
            let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
            let mut names = st.names();
            names.sort();
            let mut want: Vec<&str> = big.layout.tensors.iter().map(|t| t.name.as_str()).collect();
            want.sort();
            assert_eq!(names, want);
            for t in &big.layout.tensors {
                assert_eq!(st.tensor(&t.name).unwrap().shape(), t.shape.as_slice());
            }
            let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
            let meta = header.metadata().clone().unwrap();
            let v = vocab.len() + NEW.len();
            assert_eq!(meta["vocab_size"], v.to_string());
            let chars: Vec<String> = serde_json::from_str(&meta["vocab"]).unwrap();
            assert_eq!(chars.len(), v);
            assert_eq!(chars[v - 1], NEW[2].to_string());
            // A file without charrnn's metadata (as numpy or PyTorch would write it) is
            // recognised from its tensors alone.
            let shapes: Vec<(String, Vec<usize>)> = st
                .tensors()
                .into_iter()
                .map(|(n, t)| (n, t.shape().to_vec()))
                .collect();
            let config = charrnn::model::Layout::infer(&shapes, Some(cell.name())).unwrap();
            assert_eq!(config, big.config());
        }
    }
}

/// The optional check in numpy and PyTorch: `tests/fixtures/torch/check_extended.py` loads an
/// extended LSTM, GRU and tanh RNN (torch naming) with `safetensors.numpy` and PyTorch's strict
/// `load_state_dict`, runs a text through `nn.Embedding -> nn.LSTM/GRU/RNN -> nn.Linear` before
/// and after the extension, and prints the probabilities. Runs when `CHARRNN_PYTHON` names a
/// Python with numpy, torch and safetensors (e.g. `CHARRNN_PYTHON=/path/to/venv/bin/python`);
/// without it the test says so on stderr and checks nothing, so CI needs no Python.
#[test]
fn extended_checkpoint_loads_in_numpy_and_pytorch() {
    let Some(python) = std::env::var_os("CHARRNN_PYTHON") else {
        eprintln!("skipped: set CHARRNN_PYTHON to a Python with numpy, torch and safetensors");
        return;
    };
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/torch/check_extended.py"
    );
    let dir = tempfile::tempdir().unwrap();
    let text = "the lazy dog jumps; Ξένος café.";
    for (cell, layers) in [(CellKind::LSTM, 2), (CellKind::GRU, 1), (CellKind::RNN, 2)] {
        let (m, vocab) = model::<f64>(cell, layers, 9);
        let (big, more) = extend_vocab(&m, &vocab, &NEW).unwrap();
        let (a, b) = (
            dir.path().join("a.safetensors"),
            dir.path().join("b.safetensors"),
        );
        checkpoint::save(&a, &m, &vocab, &BTreeMap::new()).unwrap();
        checkpoint::save(&b, &big, &more, &BTreeMap::new()).unwrap();
        let out = std::process::Command::new(&python)
            .args([script, a.to_str().unwrap(), b.to_str().unwrap(), text])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "{}: {stderr}", cell.name());
        let r: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        // PyTorch's own forward pass: the known characters' probabilities are unchanged.
        let changed = r["max_rel_change_known"].as_f64().unwrap();
        assert!(
            changed <= (-MARGIN).exp() * 1.001,
            "{}: {changed:e}",
            cell.name()
        );
        // ... and PyTorch's probabilities of the extended model are the library's.
        let theirs: Vec<Vec<f64>> = serde_json::from_value(r["probs"].clone()).unwrap();
        let ids: Vec<u32> = text.chars().map(|c| more.id(c).unwrap()).collect();
        let mut ws = Workspace::new(&big.layout, ids.len(), 1);
        big.forward(&mut ws, &ids, None);
        let v = more.len();
        for (t, row) in theirs.iter().enumerate() {
            assert_eq!(row.len(), v);
            for (j, &p) in row.iter().enumerate() {
                let ours = ws.probs[t * v + j];
                assert!(
                    (ours - p).abs() <= 1e-12 * p.max(1e-300) + 1e-300,
                    "{} t={t} j={j}: {ours} vs {p}",
                    cell.name()
                );
            }
        }
    }
}

#[test]
fn gradient_check_passes_on_an_extended_model() {
    use support::gradcheck::{Case, TOL};
    let vocab = Vocab::from_chars("abcdef".chars().collect()).unwrap();
    for cell in CELLS {
        for layers in [1, 2] {
            let mut c = Case::new(cell, layers, 40 + layers as u64);
            let (big, _) = extend_vocab(&c.model, &vocab, &['x', 'y']).unwrap();
            // The same carried state, in a workspace as wide as the new vocabulary.
            let mut ws = Workspace::new(&big.layout, c.ws.steps, c.ws.batch);
            for k in 0..layers {
                let (h, cs) = c.ws.carried_mut(k);
                let (h, cs) = (h.to_vec(), cs.to_vec());
                let (h2, c2) = ws.carried_mut(k);
                h2.copy_from_slice(&h);
                c2.copy_from_slice(&cs);
            }
            c.model = big;
            c.ws = ws;
            // The new characters in the input and as targets (ids 6 and 7).
            for i in [0, 4, 9] {
                c.inputs[i] = 6 + (i % 2) as u32;
                c.targets[i + 1] = 7 - (i % 2) as u32;
            }
            let g = c.analytic(charrnn::model::Mode::Eval);
            let (err, at) = c.max_rel_error(&g, || charrnn::model::Mode::Eval);
            assert!(err < TOL, "{} x{layers}: {err:e} at {at}", cell.name());
        }
    }
}

/// Every element of `w` in `ranges`.
fn within(ranges: &[std::ops::Range<usize>], i: usize) -> bool {
    ranges.iter().any(|r| r.contains(&i))
}

#[test]
fn frozen_parts_do_not_move_under_any_optimizer() {
    let text = format!("{TEXT}Große Übung: 5 €, süß.\n").repeat(3);
    let optims = [
        (OptimKind::Adagrad, 0.0),
        (OptimKind::Adam, 0.0),
        (OptimKind::Rmsprop, 0.0),
        (OptimKind::Sgd, 0.9),
    ];
    let freezes: [&[Part]; 5] = [
        &[Part::Embed],
        &[Part::Rnn],
        &[Part::Layer(1)],
        &[Part::Out],
        &[Part::Embed, Part::Rnn, Part::Out],
    ];
    for (cell, layers) in [(CellKind::RNN, 1), (CellKind::LSTM, 2)] {
        let (m, vocab) = model::<f64>(cell, layers, 5);
        let fit = VocabFit::new(&CharCounts::of_text(&text).sorted(), &vocab);
        let (big, more) = extend_vocab(&m, &vocab, &fit.new_chars()).unwrap();
        let streams = Streams::new(more.encode(&text).unwrap(), 8, 2).unwrap();
        for (kind, momentum) in optims {
            for parts in freezes {
                if parts.contains(&Part::Layer(1)) && layers < 2 {
                    continue;
                }
                let cfg = train::TrainConfig {
                    seq_len: 8,
                    batch: 2,
                    lr: 0.01,
                    optim: OptimConfig {
                        kind,
                        momentum,
                        ..Default::default()
                    },
                    ..Default::default()
                };
                let mut t = train::Trainer::new(big.clone(), streams.clone(), cfg).unwrap();
                // A state carried from another run (as `keep_optimizer` brings): non-zero
                // moments everywhere, which would move a weight with no gradient.
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(1);
                t.optim.t = 50;
                t.optim
                    .m
                    .iter_mut()
                    .for_each(|x| *x = rng.random_range(0.01..0.1));
                t.optim
                    .v
                    .iter_mut()
                    .for_each(|x| *x = rng.random_range(0.01..0.1));
                let freeze = Freeze {
                    parts: parts.to_vec(),
                    new_from: Some(vocab.len()),
                };
                t.set_freeze(freeze.clone()).unwrap();
                let frozen = freeze.ranges(&t.model.layout).unwrap();
                let before = t.model.w.clone();
                for _ in 0..6 {
                    t.train_step();
                    assert!(t
                        .grads()
                        .iter()
                        .enumerate()
                        .all(|(i, &g)| g == 0.0 || !within(&frozen, i)));
                }
                let what = format!(
                    "{} x{layers} {} {}",
                    cell.name(),
                    kind.name(),
                    freeze.describe()
                );
                for (i, (a, b)) in before.iter().zip(&t.model.w).enumerate() {
                    if within(&frozen, i) {
                        assert_eq!(a.to_bits(), b.to_bits(), "{what}: frozen weight {i} moved");
                    }
                }
                // Everything else trains: every tensor not wholly frozen moved somewhere,
                // the new characters' rows of a frozen embedding or output layer too.
                let l = &t.model.layout;
                for spec in &l.tensors {
                    let free: Vec<usize> = spec
                        .range
                        .clone()
                        .filter(|&i| !within(&frozen, i))
                        .collect();
                    if !free.is_empty() {
                        assert!(
                            free.iter().any(|&i| before[i] != t.model.w[i]),
                            "{what}: {} did not train",
                            spec.name
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn freezing_everything_or_a_missing_layer_is_refused() {
    let (m, _) = model::<f32>(CellKind::GRU, 2, 1);
    let all = Freeze::of(&[Part::Embed, Part::Layer(0), Part::Layer(1), Part::Out]);
    let err = all.ranges(&m.layout).unwrap_err().to_string();
    assert!(
        err.contains("`freeze` embed,rnn.0,rnn.1,out leaves nothing to train"),
        "{err}"
    );
    // With characters added, their rows are left to train.
    let some = Freeze {
        new_from: Some(m.config().vocab - 1),
        ..all
    };
    assert!(some.ranges(&m.layout).is_ok());
    let err = Freeze::of(&[Part::Layer(2)])
        .ranges(&m.layout)
        .unwrap_err()
        .to_string();
    assert!(err.contains("rnn.0 to rnn.1"), "{err}");
    assert!(Part::parse("rnn.01").is_err() && Part::parse("rnn.x").is_err());
}
