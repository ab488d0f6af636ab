//! Twenty steps of training with Adam against PyTorch in f64, for LSTM and GRU at one and two
//! layers: every step's loss and the final weights, to 1e-6 relative.
//!
//! The run is the PyTorch peer's loop (`shared/bench/torch_peer.py`): windows over B streams,
//! the hidden state carried between windows and reset when the streams wrap (they wrap once,
//! at step 11), loss = summed cross-entropy / B, every gradient clipped to [-1, 1] (the
//! embedding's too, as `clip_grad_value_`), `torch.optim.Adam(lr=0.01)`. At 1.0 clipping
//! changes a few elements per step and never the embedding's, so one more GRU run clips at
//! 0.05, where it changes many, the embedding's included.
//!
//! The fixtures in `tests/fixtures/torch/` were made by `make_adam_fixtures.py` beside them,
//! which starts from the initial weights `NAME.safetensors` of `make_torch_fixtures.py`; its
//! docstring describes the files.

use std::path::{Path, PathBuf};

use charrnn::optim::{Clip, ClipMode, OptimConfig, OptimKind};
use charrnn::train::{TrainConfig, Trainer};
use charrnn::{checkpoint, corpus, data, Vocab};
use safetensors::SafeTensors;

const TOL: f64 = 1e-6;
/// Values below this are compared in absolute terms.
const FLOOR: f64 = 1e-12;

#[derive(serde::Deserialize)]
struct Info {
    init: String,
    cell: String,
    layers: usize,
    seq: usize,
    batch: usize,
    stream_len: usize,
    corpus: String,
    optim: String,
    lr: f64,
    betas: [f64; 2],
    eps: f64,
    clip: f64,
    steps: usize,
    starts: Vec<usize>,
    resets: Vec<bool>,
    /// Gradient elements clipping changed, per step.
    clipped: Vec<usize>,
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

/// Train one case as the fixture did and compare; prints the largest relative errors of the
/// per-step losses and of the final weights.
fn check(name: &str) {
    let d = dir();
    let info: Info = serde_json::from_str(
        &std::fs::read_to_string(d.join(format!("adam_{name}.json"))).unwrap(),
    )
    .unwrap();
    let ck = checkpoint::load::<f64>(&d.join(&info.init)).unwrap();
    let c = ck.model.config();
    assert_eq!((c.cell.name(), c.layers), (info.cell.as_str(), info.layers));

    let text = corpus::read_text(&d.join(&info.corpus), &Default::default()).unwrap();
    let vocab = Vocab::from_text(&text);
    assert_eq!(vocab.chars(), ck.vocab.chars());
    let (t_len, b) = (info.seq, info.batch);
    let streams = data::Streams::new(vocab.encode(&text).unwrap(), t_len, b).unwrap();
    assert_eq!(streams.stream_len(), info.stream_len);

    assert_eq!(info.optim, "adam");
    let optim = OptimConfig {
        kind: OptimKind::Adam,
        beta1: info.betas[0],
        beta2: info.betas[1],
        eps: info.eps,
        ..Default::default()
    };
    // torch's default betas and eps are also ours.
    assert_eq!(
        optim,
        OptimConfig {
            kind: OptimKind::Adam,
            ..Default::default()
        }
    );
    let cfg = TrainConfig {
        seq_len: t_len,
        batch: b,
        lr: info.lr,
        optim,
        // torch's clip_grad_value_ clips every parameter, the embedding included.
        clip: Clip {
            value: Some(info.clip),
            mode: ClipMode::Value,
            embedding: true,
        },
        ..Default::default()
    };
    let mut trainer = Trainer::new(ck.model, streams, cfg).unwrap();
    let n = trainer.model.layout.len as f64;

    let bytes = std::fs::read(d.join(format!("adam_{name}.expected.safetensors"))).unwrap();
    let exp = SafeTensors::deserialize(&bytes).unwrap();
    let (_, want_loss) = f64s(&exp, "loss");
    assert_eq!(want_loss.len(), info.steps);
    assert!(
        info.resets[1..].contains(&true),
        "{name}: the fixture never wraps"
    );

    let mut loss_err = 0.0f64;
    for (i, &want) in want_loss.iter().enumerate() {
        let s = trainer.train_step();
        assert_eq!(
            (trainer.cursor.p - t_len, s.reset),
            (info.starts[i], info.resets[i]),
            "{name}: step {i} window"
        );
        // Ours is summed over time and batch; torch's is divided by B.
        let err = max_rel(&[s.loss / b as f64], &[want]);
        assert!(
            err < TOL,
            "{name}: step {i} loss {} vs torch {want} ({err:.2e})",
            s.loss / b as f64
        );
        assert_eq!(
            (s.clip.fraction * n).round() as usize,
            info.clipped[i],
            "{name}: step {i} clipped elements"
        );
        loss_err = loss_err.max(err);
    }

    let mut weight_err = 0.0f64;
    for spec in &trainer.model.layout.tensors {
        let (shape, want) = f64s(&exp, &spec.name);
        assert_eq!(shape, spec.shape, "{name}: {}", spec.name);
        let err = max_rel(&trainer.model.w[spec.range.clone()], &want);
        assert!(err < TOL, "{name}: final {} off by {err:.2e}", spec.name);
        weight_err = weight_err.max(err);
    }
    println!(
        "adam_{name}: max relative error, losses {loss_err:.2e}, final weights {weight_err:.2e}"
    );
}

#[test]
fn lstm_one_layer_trains_as_torch_adam() {
    check("lstm_l1");
}

#[test]
fn lstm_two_layers_train_as_torch_adam() {
    check("lstm_l2");
}

#[test]
fn gru_one_layer_trains_as_torch_adam() {
    check("gru_l1");
}

#[test]
fn gru_two_layers_train_as_torch_adam() {
    check("gru_l2");
}

#[test]
fn gru_clipped_hard_trains_as_torch_adam() {
    check("gru_l1_clip05");
}
