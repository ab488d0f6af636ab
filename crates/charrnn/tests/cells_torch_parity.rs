//! LSTM and GRU models against PyTorch in f64: one chunk from a non-zero state, the loss, the
//! final state and every gradient, to 1e-6 relative.
//!
//! The fixtures in `tests/fixtures/torch/` were made by `make_torch_fixtures.py` beside them
//! (PyTorch's `Embedding -> nn.LSTM/nn.GRU -> Linear`, float64); its docstring describes the
//! files.

use std::path::{Path, PathBuf};

use charrnn::model::Workspace;
use charrnn::{checkpoint, corpus, data, Vocab};
use safetensors::SafeTensors;

const TOL: f64 = 1e-6;
/// Values below this are compared in absolute terms.
const FLOOR: f64 = 1e-12;

#[derive(serde::Deserialize)]
struct Info {
    cell: String,
    layers: usize,
    hidden: usize,
    seq: usize,
    batch: usize,
    corpus: String,
    pos: usize,
    inputs: Vec<Vec<u32>>,
    targets: Vec<Vec<u32>>,
}

fn dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/torch")
}

fn f64s(st: &SafeTensors, name: &str) -> (Vec<usize>, Vec<f64>) {
    let t = st
        .tensor(name)
        .unwrap_or_else(|_| panic!("fixture tensor {name} missing"));
    assert_eq!(t.dtype(), safetensors::Dtype::F64, "{name}");
    let v = t
        .data()
        .chunks_exact(8)
        .map(|b| f64::from_le_bytes(b.try_into().unwrap()))
        .collect();
    (t.shape().to_vec(), v)
}

/// The largest `|a - b| / max(|a|, |b|, FLOOR)`.
fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(FLOOR))
        .fold(0.0, f64::max)
}

/// Check one case; returns the largest relative error over loss, states and gradients.
fn check(name: &str) -> f64 {
    let d = dir();
    let info: Info =
        serde_json::from_str(&std::fs::read_to_string(d.join(format!("{name}.json"))).unwrap())
            .unwrap();
    let ck = checkpoint::load::<f64>(&d.join(format!("{name}.safetensors"))).unwrap();
    let model = ck.model;
    let c = model.config();
    assert_eq!(
        (c.cell.name(), c.layers, c.hidden),
        (info.cell.as_str(), info.layers, info.hidden)
    );
    let (t_len, b) = (info.seq, info.batch);
    let h = c.hidden;

    // The chunk is the Rust pipeline's window at `pos` of the same corpus.
    let text = corpus::read_text(&d.join(&info.corpus), &Default::default()).unwrap();
    let vocab = Vocab::from_text(&text);
    assert_eq!(vocab.chars(), ck.vocab.chars());
    let streams = data::Streams::new(vocab.encode(&text).unwrap(), t_len, b).unwrap();
    let inputs: Vec<u32> = info.inputs.concat();
    let targets: Vec<u32> = info.targets.concat();
    for t in 0..t_len {
        for s in 0..b {
            assert_eq!(inputs[t * b + s], streams.at(s, info.pos + t));
            assert_eq!(targets[t * b + s], streams.at(s, info.pos + t + 1));
        }
    }

    let bytes = std::fs::read(d.join(format!("{name}.expected.safetensors"))).unwrap();
    let exp = SafeTensors::deserialize(&bytes).unwrap();
    let lstm = info.cell == "lstm";
    let mut ws = Workspace::new(&model.layout, t_len, b);
    let (_, h0) = f64s(&exp, "h0");
    let c0 = lstm.then(|| f64s(&exp, "c0").1);
    for k in 0..c.layers {
        let (hk, ck) = ws.carried_mut(k);
        hk.copy_from_slice(&h0[k * b * h..(k + 1) * b * h]);
        if let Some(c0) = &c0 {
            ck.copy_from_slice(&c0[k * b * h..(k + 1) * b * h]);
        }
    }
    let loss = model.forward(&mut ws, &inputs, Some(&targets)) / b as f64;
    let mut worst = max_rel(&[loss], &f64s(&exp, "loss").1);

    let (_, h_n) = f64s(&exp, "h_n");
    let c_n = lstm.then(|| f64s(&exp, "c_n").1);
    for k in 0..c.layers {
        let want = &h_n[k * b * h..(k + 1) * b * h];
        worst = worst.max(max_rel(ws.last_state(k), want));
        if let Some(c_n) = &c_n {
            let want = &c_n[k * b * h..(k + 1) * b * h];
            worst = worst.max(max_rel(ws.last_cell_state(k), want));
        }
    }

    let mut g = vec![0.0; model.layout.len];
    model.backward(&mut ws, &inputs, &targets, &mut g);
    for spec in &model.layout.tensors {
        let (shape, want) = f64s(&exp, &format!("grad.{}", spec.name));
        assert_eq!(shape, spec.shape, "{name}: grad.{}", spec.name);
        let err = max_rel(&g[spec.range.clone()], &want);
        assert!(
            err < TOL,
            "{name}: gradient of {} off by {err:.2e}",
            spec.name
        );
        worst = worst.max(err);
    }

    // The final state carries into the next chunk: h and c.
    let last: Vec<(Vec<f64>, Vec<f64>)> = (0..c.layers)
        .map(|k| (ws.last_state(k).to_vec(), ws.last_cell_state(k).to_vec()))
        .collect();
    ws.carry_state();
    for (k, (hk, ck)) in last.iter().enumerate() {
        let carried = ws.carried_mut(k);
        assert_eq!((&*carried.0, &*carried.1), (&hk[..], &ck[..]));
    }
    println!("{name}: max relative error {worst:.2e}");
    assert!(worst < TOL, "{name}: loss or state off by {worst:.2e}");
    worst
}

#[test]
fn lstm_one_layer_matches_torch() {
    check("lstm_l1");
}

#[test]
fn lstm_two_layers_match_torch() {
    check("lstm_l2");
}

#[test]
fn gru_one_layer_matches_torch() {
    check("gru_l1");
}

#[test]
fn gru_two_layers_match_torch() {
    check("gru_l2");
}
