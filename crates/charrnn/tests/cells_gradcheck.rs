//! Numerical gradient checks in f64 of the whole model (embedding, every recurrent layer, the
//! output layer) for each cell at 1 and 3 layers, from a non-zero carried state; then dropout:
//! off in evaluation, and checked through a fixed mask in training.
//!
//! The numerical gradient of `loss / B` is the fourth-order central difference
//! `(8 (L(w+e) - L(w-e)) - (L(w+2e) - L(w-2e))) / 12e`: its truncation error is O(e^4), so e
//! can be large enough (1e-3) that rounding (about `1e-16 * L / e`) stays near 1e-12, where the
//! two-point difference at any e leaves ~1e-10 on gradients of ~1e-4. The relative error of
//! one element is `|a - n| / max(|a|, |n|, FLOOR)`.

use charrnn::model::{CellKind, Mode, Model, ModelConfig, Workspace, CELLS};
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

const EPS: f64 = 1e-3;
/// Gradients below this are compared in absolute terms.
const FLOOR: f64 = 1e-5;
const TOL: f64 = 1e-6;

struct Case {
    model: Model<f64>,
    ws: Workspace<f64>,
    inputs: Vec<u32>,
    targets: Vec<u32>,
}

fn case(cell: CellKind, layers: usize, seed: u64) -> Case {
    let (vocab, steps, batch) = (6, 5, 3);
    let config = ModelConfig {
        cell,
        vocab,
        emb: 4,
        hidden: 5,
        layers,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let model = Model::init(config, 0.5, &mut rng);
    let mut ws = Workspace::new(&model.layout, steps, batch);
    for k in 0..layers {
        let (h, c) = ws.carried_mut(k);
        for v in h.iter_mut().chain(c.iter_mut()) {
            *v = rng.random_range(-0.8..0.8);
        }
    }
    let ids = |rng: &mut Xoshiro256PlusPlus| -> Vec<u32> {
        (0..steps * batch)
            .map(|_| rng.random_range(0..vocab as u32))
            .collect()
    };
    let inputs = ids(&mut rng);
    let targets = ids(&mut rng);
    Case {
        model,
        ws,
        inputs,
        targets,
    }
}

/// The analytic gradient of `loss / B` after a forward in `mode`.
fn analytic(c: &mut Case, mode: Mode) -> Vec<f64> {
    let mut g = vec![0.0; c.model.layout.len];
    c.model
        .forward_with(&mut c.ws, &c.inputs, Some(&c.targets), mode);
    c.model.backward(&mut c.ws, &c.inputs, &c.targets, &mut g);
    g
}

/// The largest relative error of `analytic` against central differences, each evaluated with
/// a forward in `mode()`; with the name of the tensor where it occurs.
fn max_rel_error(
    c: &mut Case,
    analytic: &[f64],
    mode: impl Fn() -> Mode<'static>,
) -> (f64, String) {
    let b = c.ws.batch as f64;
    let mut worst = (0.0, String::new());
    for spec in c.model.layout.tensors.clone() {
        for i in spec.range.clone() {
            let w0 = c.model.w[i];
            let mut at = |d: f64| {
                c.model.w[i] = w0 + d;
                c.model
                    .forward_with(&mut c.ws, &c.inputs, Some(&c.targets), mode())
            };
            let (l1, l2) = (at(EPS) - at(-EPS), at(2.0 * EPS) - at(-2.0 * EPS));
            c.model.w[i] = w0;
            let num = (8.0 * l1 - l2) / (12.0 * EPS * b);
            let a = analytic[i];
            let rel = (a - num).abs() / a.abs().max(num.abs()).max(FLOOR);
            if rel > worst.0 {
                worst = (
                    rel,
                    format!("{}[{}]: {a} vs {num}", spec.name, i - spec.range.start),
                );
            }
        }
    }
    worst
}

fn check(cell: CellKind, layers: usize) {
    let mut c = case(cell, layers, 7 + layers as u64);
    let g = analytic(&mut c, Mode::Eval);
    assert!(g.iter().any(|&v| v.abs() > 1e-3), "a degenerate case");
    let (err, at) = max_rel_error(&mut c, &g, || Mode::Eval);
    println!(
        "{} x{layers}: max relative error {err:.2e} at {at}",
        cell.name()
    );
    assert!(
        err < TOL,
        "{} x{layers}: relative error {err:.2e} at {at}",
        cell.name()
    );
}

#[test]
fn rnn_one_layer() {
    check(CellKind::RNN, 1);
}

#[test]
fn rnn_three_layers() {
    check(CellKind::RNN, 3);
}

#[test]
fn lstm_one_layer() {
    check(CellKind::LSTM, 1);
}

#[test]
fn lstm_three_layers() {
    check(CellKind::LSTM, 3);
}

#[test]
fn gru_one_layer() {
    check(CellKind::GRU, 1);
}

#[test]
fn gru_three_layers() {
    check(CellKind::GRU, 3);
}

#[test]
fn mingru_one_layer() {
    check(CellKind::MINGRU, 1);
}

#[test]
fn mingru_three_layers() {
    check(CellKind::MINGRU, 3);
}

#[test]
fn dropout_is_off_in_evaluation() {
    for cell in CELLS {
        let mut c = case(cell, 3, 3);
        let (x, y) = (c.inputs.clone(), c.targets.clone());
        let eval = c.model.forward(&mut c.ws, &x, Some(&y));
        let probs = c.ws.probs.clone();
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(5);
        let p0 = c.model.forward_with(
            &mut c.ws,
            &x,
            Some(&y),
            Mode::Train {
                p: 0.0,
                rng: &mut rng,
            },
        );
        assert_eq!(
            p0,
            eval,
            "{}: dropout 0 must be the plain forward",
            cell.name()
        );
        assert_eq!(c.ws.probs, probs);
        let dropped = c.model.forward_with(
            &mut c.ws,
            &x,
            Some(&y),
            Mode::Train {
                p: 0.5,
                rng: &mut rng,
            },
        );
        assert_ne!(
            dropped,
            eval,
            "{}: dropout 0.5 changed nothing",
            cell.name()
        );
        // Evaluation after training ignores the masks left in the workspace.
        assert_eq!(c.model.forward(&mut c.ws, &x, Some(&y)), eval);
        assert_eq!(c.ws.probs, probs);
        // Sampling-style forwards (no targets) are deterministic too.
        c.model.forward(&mut c.ws, &x, None);
        let p1 = c.ws.probs.clone();
        c.model.forward(&mut c.ws, &x, None);
        assert_eq!(c.ws.probs, p1);
    }
}

#[test]
fn dropout_masks_drop_p_and_scale_the_rest() {
    let mut c = case(CellKind::LSTM, 2, 1);
    let (x, y) = (c.inputs.clone(), c.targets.clone());
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(9);
    let (mut zeros, mut n) = (0, 0);
    for _ in 0..200 {
        c.model.forward_with(
            &mut c.ws,
            &x,
            Some(&y),
            Mode::Train {
                p: 0.25,
                rng: &mut rng,
            },
        );
        for l in &c.ws.layers {
            for &m in &l.mask {
                assert!(m == 0.0 || m == 1.0 / 0.75, "mask value {m}");
                zeros += usize::from(m == 0.0);
                n += 1;
            }
        }
    }
    let frac = zeros as f64 / n as f64;
    assert!((frac - 0.25).abs() < 0.01, "dropped {frac}, expected 0.25");
}

#[test]
fn gradient_check_through_a_fixed_dropout_mask() {
    for cell in CELLS {
        let mut c = case(cell, 3, 11);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let g = analytic(
            &mut c,
            Mode::Train {
                p: 0.3,
                rng: &mut rng,
            },
        );
        let masks: Vec<Vec<f64>> = c.ws.layers.iter().map(|l| l.mask.clone()).collect();
        assert!(masks.iter().all(|m| m.contains(&0.0)), "no element dropped");
        let (err, at) = max_rel_error(&mut c, &g, || Mode::Replay);
        let after: Vec<Vec<f64>> = c.ws.layers.iter().map(|l| l.mask.clone()).collect();
        assert_eq!(masks, after, "replay must not redraw");
        println!(
            "{} x3, dropout 0.3: max relative error {err:.2e} at {at}",
            cell.name()
        );
        assert!(
            err < TOL,
            "{} x3 dropout: relative error {err:.2e} at {at}",
            cell.name()
        );
    }
}
