//! The batch-1 path f32 sampling takes ([`Stepper`]) against the chunk forward pass, and its
//! draw against the softmax (chi-square).

use charrnn::model::{CellKind, Model, ModelConfig, Stepper, Workspace, CELLS};
use charrnn::sample::{SampleConfig, Sampler};
use rand::{Rng, SeedableRng};

mod support;
use support::{chi_square, chi_square_999};

fn model(cell: CellKind, vocab: usize, emb: usize, hidden: usize, layers: usize) -> Model<f32> {
    let config = ModelConfig {
        cell,
        vocab,
        emb,
        hidden,
        layers,
    };
    let mut rng =
        rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(vocab as u64 * 31 + hidden as u64);
    // Recurrent weights of spectral radius about 0.8: rounding differences between the two
    // paths fade instead of growing chaotically from step to step.
    Model::init(config, 0.8 / (hidden as f64).sqrt(), &mut rng)
}

/// Walk `ids` through the stepper and through the chunk pass (one step per chunk, state
/// carried), comparing the distributions after each.
fn assert_same_walk(m: &Model<f32>, s: &mut Stepper<f32>, ids: &[u32]) {
    let mut ws = Workspace::new(&m.layout, 1, 1);
    ws.reset_state();
    s.reset();
    for (i, &id) in ids.iter().enumerate() {
        if i > 0 {
            ws.carry_state();
        }
        m.forward(&mut ws, &[id], None);
        s.step(id);
        let c = m.config();
        for (j, (a, b)) in s.probs().iter().zip(&ws.probs).enumerate() {
            assert!(
                (a - b).abs() <= 2e-6 + 1e-4 * b.abs(),
                "{:?} x{} V{} H{}: step {i}, char {j}: {a} vs {b}",
                c.cell,
                c.layers,
                c.vocab,
                c.hidden
            );
        }
        for k in 0..c.layers {
            let (h, cs) = s.state(k);
            for (a, b) in h.iter().zip(ws.last_state(k)) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{:?} step {i} h of layer {k}: {a} vs {b}",
                    c.cell
                );
            }
            for (a, b) in cs.iter().zip(ws.last_cell_state(k)) {
                assert!(
                    (a - b).abs() < 1e-5,
                    "{:?} step {i} c of layer {k}: {a} vs {b}",
                    c.cell
                );
            }
        }
    }
}

#[test]
fn stepper_matches_the_chunk_pass_for_every_cell() {
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(9);
    for cell in CELLS {
        for (vocab, emb, hidden, layers) in
            [(7, 3, 5, 1), (65, 4, 32, 1), (20, 6, 17, 2), (33, 8, 40, 3)]
        {
            let m = model(cell, vocab, emb, hidden, layers);
            let mut s = Stepper::new(&m);
            let ids: Vec<u32> = (0..60).map(|_| rng.random_range(0..vocab as u32)).collect();
            assert_same_walk(&m, &mut s, &ids);
            // After a reset the state is zero again.
            assert_same_walk(&m, &mut s, &ids[..10]);
        }
    }
}

#[test]
fn stepper_without_the_input_table_matches_too() {
    // 20,000 characters x 3 * 72 gates is past the table's size limit: the input part is
    // computed from the embedding at every step.
    let m = model(CellKind::GRU, 20_000, 8, 72, 1);
    let mut s = Stepper::new(&m);
    assert_same_walk(&m, &mut s, &[0, 19_999, 7, 12_345, 7]);
}

#[test]
fn stepper_draws_invert_the_cumulative_sum() {
    let m = model(CellKind::RNN, 40, 4, 16, 1);
    let mut s = Stepper::new(&m);
    s.step(3);
    let p = s.probs().to_vec();
    // u below the first probability: character 0; just under 1: the last character.
    assert_eq!(s.draw(0.0), 0);
    assert_eq!(s.draw(0.5 * p[0] as f64), 0);
    assert_eq!(s.draw(1.0 - 1e-12), 39);
    // In between: where the running sum first passes u.
    let mut acc = 0.0f64;
    for (i, &q) in p.iter().enumerate() {
        let mid = acc + 0.5 * q as f64;
        assert_eq!(s.draw(mid), i as u32, "u {mid}");
        acc += q as f64;
    }
}

#[test]
fn f32_sampler_draws_match_the_softmax_chi_square() {
    const DRAWS: usize = 30_000;
    for (cell, vocab) in [(CellKind::RNN, 40), (CellKind::LSTM, 23)] {
        let m = model(cell, vocab, 4, 12, 1);
        let mut stepper = Stepper::new(&m);
        stepper.step(1);
        let p: Vec<f64> = stepper.probs().iter().map(|&q| q as f64).collect();
        let mut s = Sampler::with_config(&m, 77, SampleConfig::default()).unwrap();
        let mut counts = vec![0u64; vocab];
        for _ in 0..DRAWS {
            s.generate(&[1], 1, |c| counts[c as usize] += 1);
        }
        let (stat, df) = chi_square(&counts, &p);
        let limit = chi_square_999(df);
        assert!(df >= 5, "{df}");
        assert!(
            stat < limit,
            "{cell:?}: chi2 {stat:.1} >= {limit:.1} (df {df})"
        );
    }
}

#[test]
fn stepper_follows_logits_that_jump_between_steps() {
    // Output weights so large that the largest logit moves by hundreds from one character to
    // the next: the exponentials' offset (the previous step's maximum) must be replaced.
    let mut m = model(CellKind::RNN, 30, 4, 16, 1);
    let out = m.layout.out_w.clone();
    for w in &mut m.w[out] {
        *w *= 400.0;
    }
    let mut s = Stepper::new(&m);
    let ids: Vec<u32> = (0..40).map(|i| (i * 7 % 30) as u32).collect();
    assert_same_walk(&m, &mut s, &ids);
    for &id in &ids {
        s.step(id);
        let p = s.probs();
        assert!(p.iter().all(|q| q.is_finite() && *q >= 0.0));
        assert!((p.iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
}
