//! `Model::backward` against central differences of `Model::forward`, every parameter element,
//! on chunks of text, from a zero and a carried state.
//!
//! `forward` returns the loss summed over time and batch; `backward` adds the gradient of
//! `loss / B` (no clipping: that is `optim::Clip`'s job in the trainer). The numerical
//! gradient is `support::gradcheck`'s fourth-order central difference, that is the
//! Richardson extrapolation `(4 D(h/2) - D(h)) / 3` of `D(h) = (f(w + h) - f(w - h)) / 2h`,
//! whose truncation error is O(h^4).
//!
//! [`check_model`] takes a [`ModelConfig`] and a hook that sets the carried state, so the same
//! check serves other cells and stacks (`cells_gradcheck.rs` checks every cell on random
//! data); beyond the elementwise comparison it checks that backward adds into the gradient
//! and that the embeddings of absent characters get exactly nothing.

mod support;

use charrnn::model::{CellKind, ModelConfig, Workspace};
use charrnn::{train, Model, Vocab};
use support::gradcheck::{compare, TensorReport};

/// Largest accepted `|analytic - numeric| / max(|analytic|, |numeric|, FLOOR)`.
const RTOL: f64 = 1e-6;
/// Denominator floor. The extrapolated difference is itself only accurate to about 1e-11
/// absolute here (rounding of the summed loss, ~1e-14, over the step 1e-3, times the
/// extrapolation's weights; the observed worst is ~7e-12), so a relative test is meaningless for
/// gradients much below 1e-5. An element whose gradients are both below 1e-4 in magnitude is
/// compared absolutely, to 1e-10. The exact zeros (embedding entries of characters absent from
/// the chunk) are checked to be exactly zero on both sides.
const FLOOR: f64 = 1e-4;
/// Finite-difference step (the larger of the two; the other is half of it).
const STEP: f64 = 1e-3;

/// A chunk of `steps` x `batch` ids, time-major, and its targets (the next character).
struct Chunk {
    vocab: Vocab,
    steps: usize,
    batch: usize,
    inputs: Vec<u32>,
    targets: Vec<u32>,
}

/// Cut `text` into `batch` streams and take the first `steps` characters of each as inputs.
/// The vocabulary has a few characters that never appear in the chunk, so part of the
/// embedding's gradient is exactly zero.
fn chunk(text: &str, steps: usize, batch: usize) -> Chunk {
    let vocab = Vocab::from_text(&format!("{text}XYZ"));
    let ids: Vec<u32> = vocab.encode(text).unwrap().iter().collect();
    let stride = ids.len() / batch;
    assert!(stride > steps, "text too short for {steps} x {batch}");
    let mut inputs = Vec::with_capacity(steps * batch);
    let mut targets = Vec::with_capacity(steps * batch);
    for t in 0..steps {
        for b in 0..batch {
            inputs.push(ids[b * stride + t]);
            targets.push(ids[b * stride + t + 1]);
        }
    }
    Chunk {
        vocab,
        steps,
        batch,
        inputs,
        targets,
    }
}

/// Sets the state carried into the chunk, on a fresh workspace.
type StateHook = fn(&mut Workspace<f64>);

/// A zero carried state (the start of an epoch).
fn zero_state(ws: &mut Workspace<f64>) {
    ws.reset_state();
}

/// A non-zero carried state, as in the middle of an epoch: block 0 of every layer's `h`,
/// deterministic values in (-0.9, 0.9).
fn carried_state(ws: &mut Workspace<f64>) {
    let mut s = 0x2545_f491_4f6c_dd1du64;
    for (k, l) in ws.layers.iter_mut().enumerate() {
        let n = l.states[0].len() / (ws.steps + 1);
        for v in &mut l.states[0][..n] {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            *v = 0.9 * ((s >> 11) as f64 / (1u64 << 53) as f64 * 2.0 - 1.0);
        }
        assert!(
            l.states[0][..n].iter().any(|&x| x != 0.0),
            "layer {k} state set"
        );
    }
}

/// Check every gradient element of a model of `config`, initialised from N(0, std^2) with
/// `seed`, on `chunk` with the carried state `state`. Panics naming the worst element of the
/// first tensor off by more than [`RTOL`]; returns the worst element of each tensor.
fn check_model(
    config: ModelConfig,
    std: f64,
    seed: u64,
    chunk: &Chunk,
    state: StateHook,
) -> Vec<TensorReport> {
    assert_eq!(config.vocab, chunk.vocab.len());
    let mut model: Model<f64> = train::init_model(config, std, seed).unwrap();
    let mut template = Workspace::new(&model.layout, chunk.steps, chunk.batch);
    state(&mut template);
    let b = chunk.batch as f64;

    let loss = |model: &Model<f64>| -> f64 {
        let mut ws = template.clone();
        model.forward(&mut ws, &chunk.inputs, Some(&chunk.targets)) / b
    };

    // Analytic gradient; a second pass must add the same again (backward accumulates).
    let mut g = vec![0.0; model.layout.len];
    let mut ws = template.clone();
    model.forward(&mut ws, &chunk.inputs, Some(&chunk.targets));
    model.backward(&mut ws, &chunk.inputs, &chunk.targets, &mut g);
    let mut g2 = g.clone();
    let mut ws = template.clone();
    model.forward(&mut ws, &chunk.inputs, Some(&chunk.targets));
    model.backward(&mut ws, &chunk.inputs, &chunk.targets, &mut g2);
    for (i, (&a, &a2)) in g.iter().zip(&g2).enumerate() {
        assert!(
            (a2 - 2.0 * a).abs() <= 1e-14 * a.abs(),
            "backward must add into g: element {i}, {a2} after two passes, {a} after one"
        );
    }

    // `compare`'s step e is the smaller of the two steps: it differences at e and 2e.
    let reports = compare(&mut model, &g, STEP / 2.0, FLOOR, loss);
    for r in &reports {
        assert!(
            r.max_rel <= RTOL,
            "{:?} {}[{}]: analytic {:e}, numeric {:e}, rel err {:e}",
            config.cell,
            r.name,
            r.worst_index,
            r.analytic,
            r.numeric,
            r.max_rel
        );
    }

    // Characters absent from the chunk: their embedding rows get exactly nothing, and moving
    // them changes the loss by exactly nothing.
    let l = &model.layout;
    let absent: Vec<u32> = (0..config.vocab as u32)
        .filter(|c| !chunk.inputs.contains(c))
        .collect();
    assert!(
        !absent.is_empty(),
        "the chunk should leave some characters out"
    );
    for &c in &absent {
        for e in 0..config.emb {
            let i = l.embed.start + c as usize * l.embed_cs + e * l.embed_es;
            assert_eq!(g[i], 0.0, "embedding of absent char {c}, dim {e}");
            let w0 = model.w[i];
            model.w[i] = w0 + STEP;
            let up = loss(&model);
            model.w[i] = w0;
            assert_eq!(up, loss(&model), "loss moved with an unused embedding");
        }
    }
    reports
}

/// Run [`check_model`] with both a zero and a carried initial state and print the worst
/// errors (visible with `--nocapture`).
fn check_both_states(label: &str, config: ModelConfig, std: f64, chunk: &Chunk) {
    for (state_name, state) in [
        ("zero state", zero_state as StateHook),
        ("carried state", carried_state as StateHook),
    ] {
        let reports = check_model(config, std, 11, chunk, state);
        let worst = reports.iter().map(|r| r.max_rel).fold(0.0f64, f64::max);
        eprintln!("{label}, {state_name}: max rel err {worst:e}");
        for r in &reports {
            eprintln!(
                "    {:<20} {:e} at [{}] (analytic {:e}, numeric {:e}); {} non-zero below the floor",
                r.name, r.max_rel, r.worst_index, r.analytic, r.numeric, r.floored
            );
        }
    }
}

const TEXT: &str = "the cat sat on the mat; the rat ran at the cat.";

/// The notebook's model: one tanh layer, its own tensor names.
#[test]
fn notebook_rnn_gradients_match_central_differences() {
    let chunk = chunk(TEXT, 4, 2);
    let config = ModelConfig {
        cell: CellKind::RNN,
        vocab: chunk.vocab.len(),
        emb: 3,
        hidden: 5,
        layers: 1,
    };
    // A larger spread than the notebook's 0.02 so the tanh is well off its linear part and
    // every gradient is sizeable.
    check_both_states("rnn, 1 layer", config, 0.5, &chunk);
}

/// The notebook's model with one stream (B = 1) and a longer chunk.
#[test]
fn notebook_rnn_gradients_batch1() {
    let chunk = chunk(TEXT, 7, 1);
    let config = ModelConfig {
        cell: CellKind::RNN,
        vocab: chunk.vocab.len(),
        emb: 3,
        hidden: 5,
        layers: 1,
    };
    check_both_states("rnn, 1 layer, B=1", config, 0.5, &chunk);
}

/// Two stacked tanh layers (PyTorch naming, two biases per layer).
#[test]
fn stacked_rnn_gradients_match_central_differences() {
    let chunk = chunk(TEXT, 4, 2);
    let config = ModelConfig {
        cell: CellKind::RNN,
        vocab: chunk.vocab.len(),
        emb: 3,
        hidden: 5,
        layers: 2,
    };
    check_both_states("rnn, 2 layers", config, 0.5, &chunk);
}
