//! Training with the batch split across threads gives the run one thread gives (the shards'
//! gradients are summed in a fixed order, so only rounding differs), and a seed and a thread
//! count always give the same run.

use charrnn::data::Streams;
use charrnn::model::{CellKind, ModelConfig, CELLS};
use charrnn::train::{init_model, TrainConfig, Trainer};
use charrnn::{Real, Vocab};

fn losses<T: Real>(
    cell: CellKind,
    threads: usize,
    dropout: f64,
    steps: usize,
) -> (Vec<f64>, Vec<f64>) {
    let text = "Sing, goddess, the anger of Achilles son of Peleus, that brought countless ills. "
        .repeat(8);
    let vocab = Vocab::from_text(&text);
    let (seq_len, batch) = (7, 5);
    let streams = Streams::new(vocab.encode(&text).unwrap(), seq_len, batch).unwrap();
    let config = ModelConfig {
        cell,
        vocab: vocab.len(),
        emb: 6,
        hidden: 11,
        layers: 2,
    };
    let model = init_model::<T>(config, 0.1, 3).unwrap();
    let cfg = TrainConfig {
        seq_len,
        batch,
        threads,
        dropout,
        lr: 0.05,
        ..Default::default()
    };
    let mut t = Trainer::new(model, streams, cfg).unwrap();
    let l = (0..steps).map(|_| t.train_step().loss).collect();
    (l, t.model.w.iter().map(|w| w.f64()).collect())
}

fn max_rel(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs() / x.abs().max(y.abs()).max(1e-30))
        .fold(0.0, f64::max)
}

#[test]
fn two_threads_give_the_losses_of_one_f64() {
    for cell in CELLS {
        let (l1, w1) = losses::<f64>(cell, 1, 0.0, 40);
        for threads in [2, 3, 5] {
            let (l2, w2) = losses::<f64>(cell, threads, 0.0, 40);
            assert!(
                max_rel(&l1, &l2) < 1e-10,
                "{cell:?} x{threads}: losses differ by {}",
                max_rel(&l1, &l2)
            );
            assert!(
                max_rel(&w1, &w2) < 1e-8,
                "{cell:?} x{threads}: weights differ by {}",
                max_rel(&w1, &w2)
            );
        }
    }
}

#[test]
fn two_threads_give_the_losses_of_one_f32() {
    for cell in CELLS {
        let (l1, _) = losses::<f32>(cell, 1, 0.0, 40);
        let (l2, _) = losses::<f32>(cell, 2, 0.0, 40);
        assert!(
            max_rel(&l1, &l2) < 1e-4,
            "{cell:?}: losses differ by {}",
            max_rel(&l1, &l2)
        );
    }
}

#[test]
fn a_seed_and_a_thread_count_repeat_exactly_even_with_dropout() {
    for threads in [1, 2] {
        let a = losses::<f32>(CellKind::LSTM, threads, 0.3, 25);
        let b = losses::<f32>(CellKind::LSTM, threads, 0.3, 25);
        assert_eq!(a, b, "threads {threads}");
    }
}

#[test]
fn default_threads_skip_shards_too_small_to_pay() {
    use charrnn::bench::CONFIGS;
    use charrnn::train::useful_threads;
    for bc in CONFIGS {
        let t = useful_threads(&bc.model(65), bc.seq_len, bc.batch, 2);
        // The notebook's model moves more data between cores than a shard saves: one thread;
        // every larger configuration takes both.
        assert_eq!(t, if bc.name == "seed" { 1 } else { 2 }, "{}", bc.name);
        assert_eq!(useful_threads(&bc.model(65), bc.seq_len, bc.batch, 1), 1);
    }
    // Never more than the batch or the threads asked for, never fewer than one.
    let big = CONFIGS[4];
    for (batch, threads) in [(3, 64), (50, 64), (50, 4), (1, 8)] {
        let t = useful_threads(&big.model(65), big.seq_len, batch, threads);
        assert!(
            (1..=batch.min(threads)).contains(&t),
            "{batch} {threads}: {t}"
        );
    }
    assert_eq!(useful_threads(&big.model(65), big.seq_len, 50, 64), 14);
}
