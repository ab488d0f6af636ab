//! Numerical gradient checks in f64 of the whole model (embedding, every recurrent layer, the
//! output layer) for each cell at 1 and 3 layers, from a non-zero carried state; then dropout:
//! off in evaluation, and checked through a fixed mask in training. The check, its difference
//! formula and its tolerances are `support::gradcheck`'s.

mod support;

use charrnn::model::{CellKind, Mode, CELLS};
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;
use support::gradcheck::{check_cell, Case, TOL};

#[test]
fn rnn_one_layer() {
    check_cell(CellKind::RNN, 1);
}

#[test]
fn rnn_three_layers() {
    check_cell(CellKind::RNN, 3);
}

#[test]
fn lstm_one_layer() {
    check_cell(CellKind::LSTM, 1);
}

#[test]
fn lstm_three_layers() {
    check_cell(CellKind::LSTM, 3);
}

#[test]
fn gru_one_layer() {
    check_cell(CellKind::GRU, 1);
}

#[test]
fn gru_three_layers() {
    check_cell(CellKind::GRU, 3);
}

#[test]
fn mingru_one_layer() {
    check_cell(CellKind::MINGRU, 1);
}

#[test]
fn mingru_three_layers() {
    check_cell(CellKind::MINGRU, 3);
}

#[test]
fn dropout_is_off_in_evaluation() {
    for cell in CELLS {
        let mut c = Case::new(cell, 3, 3);
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
    let mut c = Case::new(CellKind::LSTM, 2, 1);
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
        let mut c = Case::new(cell, 3, 11);
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(2);
        let g = c.analytic(Mode::Train {
            p: 0.3,
            rng: &mut rng,
        });
        let masks: Vec<Vec<f64>> = c.ws.layers.iter().map(|l| l.mask.clone()).collect();
        assert!(masks.iter().all(|m| m.contains(&0.0)), "no element dropped");
        let (err, at) = c.max_rel_error(&g, || Mode::Replay);
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
