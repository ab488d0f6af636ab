//! Exact resume: N steps straight and N/2 steps, a resumable checkpoint, and N/2 more give the
//! same per-step losses and bit-identical weights, for every cell, in f32 and f64, with dropout,
//! across an epoch boundary; and the divergence guard leaves the weights untouched.

use charrnn::checkpoint;
use charrnn::data::Streams;
use charrnn::model::{CellKind, ModelConfig, CELLS};
use charrnn::optim::{OptimConfig, OptimKind, Schedule};
use charrnn::resume;
use charrnn::train::{init_model, TrainConfig, Trainer};
use charrnn::{Error, Real, Vocab};
use std::collections::BTreeMap;

const TEXT: &str =
    "Sing, goddess, the anger of Achilles son of Peleus, that brought countless ills. ";

fn setup<T: Real>(cell: CellKind, threads: usize) -> (Trainer<T>, Vocab) {
    let text = TEXT.repeat(6);
    let vocab = Vocab::from_text(&text);
    let (seq_len, batch) = (7, 5);
    let streams = Streams::new(vocab.encode(&text).unwrap(), seq_len, batch).unwrap();
    let config = ModelConfig {
        cell,
        vocab: vocab.len(),
        emb: 6,
        hidden: 9,
        layers: 2,
    };
    let model = init_model::<T>(config, 0.1, 3).unwrap();
    // A different optimizer per cell, so every kind of optimizer state is carried over.
    let optim = match cell.name() {
        "rnn" => OptimKind::Adagrad,
        "lstm" => OptimKind::Adam,
        "gru" => OptimKind::Sgd,
        _ => OptimKind::Rmsprop,
    };
    let cfg = TrainConfig {
        seq_len,
        batch,
        threads,
        dropout: 0.25,
        lr: 0.01,
        schedule: Schedule::Step {
            factor: 0.9,
            every: 5,
        },
        optim: OptimConfig {
            kind: optim,
            momentum: 0.5,
            ..Default::default()
        },
        seed: 11,
        ..Default::default()
    };
    (Trainer::new(model, streams, cfg).unwrap(), vocab)
}

fn bits<T: Real>(w: &[T]) -> Vec<u64> {
    w.iter().map(|x| x.f64().to_bits()).collect()
}

/// Train `total` steps straight, and `split` + resume to `total`; compare.
fn check<T: Real>(cell: CellKind, threads: usize, split: u64, total: u64) {
    let (mut straight, _) = setup::<T>(cell, threads);
    let a: Vec<u64> = (0..total)
        .map(|_| straight.train_step().loss.to_bits())
        .collect();

    let (mut first, vocab) = setup::<T>(cell, threads);
    for _ in 0..split {
        first.train_step();
    }
    let bytes = resume::to_bytes(&first, &vocab, &BTreeMap::new()).unwrap();
    let streams = first.streams.clone();
    drop(first);
    let ck = checkpoint::from_bytes::<T>(&bytes).unwrap();
    let r = resume::from_parts(ck, &bytes).unwrap();
    assert_eq!(r.threads(), threads.min(5));
    let mut second = r.into_trainer(streams, threads).unwrap();
    assert_eq!(second.step, split);
    let b: Vec<u64> = (split..total)
        .map(|_| second.train_step().loss.to_bits())
        .collect();
    assert_eq!(
        &a[split as usize..],
        &b[..],
        "{cell:?} {} x{threads}: per-step losses differ after resume",
        T::NAME
    );
    assert_eq!(
        bits(&straight.model.w),
        bits(&second.model.w),
        "{cell:?} {} x{threads}: final weights differ",
        T::NAME
    );
    assert_eq!(straight.smooth_loss.to_bits(), second.smooth_loss.to_bits());
    assert_eq!(straight.epoch(), second.epoch());
    assert!(
        straight.epoch() >= 2,
        "the run must cross an epoch boundary"
    );
}

#[test]
fn resume_is_exact_for_every_cell_f64() {
    for cell in CELLS {
        // 6 windows per epoch: split inside the second epoch, and right at a reset.
        check::<f64>(cell, 1, 9, 20);
        check::<f64>(cell, 1, 6, 14);
    }
}

#[test]
fn resume_is_exact_for_every_cell_f32() {
    for cell in CELLS {
        check::<f32>(cell, 1, 9, 20);
    }
}

#[test]
fn resume_is_exact_with_threads() {
    for cell in [CellKind::LSTM, CellKind::GRU, CellKind::MINGRU] {
        check::<f32>(cell, 2, 8, 16);
        check::<f64>(cell, 3, 8, 16);
    }
}

#[test]
fn resume_with_another_thread_count_continues_the_run() {
    // Without dropout, only the rounding of the gradient sums differs between thread counts.
    let (mut straight, vocab) = setup::<f64>(CellKind::LSTM, 1);
    straight.cfg.dropout = 0.0;
    for _ in 0..8 {
        straight.train_step();
    }
    let bytes = resume::to_bytes(&straight, &vocab, &BTreeMap::new()).unwrap();
    let r = resume::from_parts(checkpoint::from_bytes::<f64>(&bytes).unwrap(), &bytes).unwrap();
    let mut other = r.into_trainer(straight.streams.clone(), 3).unwrap();
    assert_eq!(other.threads(), 3);
    for _ in 0..8 {
        let (x, y) = (straight.train_step().loss, other.train_step().loss);
        assert!((x - y).abs() < 1e-9 * x.abs(), "{x} vs {y}");
    }
}

#[test]
fn a_plain_model_file_is_not_resumable_and_says_so() {
    let (t, vocab) = setup::<f32>(CellKind::RNN, 1);
    let bytes = checkpoint::to_bytes(&t.model, &vocab, &BTreeMap::new()).unwrap();
    let err =
        resume::from_parts(checkpoint::from_bytes::<f32>(&bytes).unwrap(), &bytes).unwrap_err();
    assert!(err.contains("`init_from`"), "{err}");
}

#[test]
fn a_resumable_checkpoint_loads_as_a_model() {
    let (mut t, vocab) = setup::<f32>(CellKind::LSTM, 1);
    t.train_step();
    let bytes = resume::to_bytes(&t, &vocab, &BTreeMap::new()).unwrap();
    let ck = checkpoint::from_bytes::<f32>(&bytes).unwrap();
    assert_eq!(bits(&ck.model.w), bits(&t.model.w));
    assert!(resume::is_resumable(&ck.meta));
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut names = st.names();
    names.sort();
    assert!(names.contains(&"train.optim.v") && names.contains(&"train.state.c"));
    // f32 state is refused by an f64 trainer, with the fix.
    let ck64 = checkpoint::from_bytes::<f64>(&bytes).unwrap();
    let err = resume::from_parts(ck64, &bytes).unwrap_err();
    assert!(err.contains("`dtype` f32"), "{err}");
}

#[test]
fn a_nan_weight_trips_the_guard_and_changes_nothing() {
    for cell in CELLS {
        let (mut t, _) = setup::<f32>(cell, 1);
        t.train_step();
        let i = t.model.layout.tensors[1].range.start;
        t.model.w[i] = f32::NAN;
        let before = bits(&t.model.w);
        let (step, smooth, m) = (t.step, t.smooth_loss, t.optim.m.clone());
        match t.try_train_step() {
            Err(Error::Diverged { step: s, what }) => {
                assert_eq!(s, step);
                assert!(what.contains("NaN"), "{what}");
            }
            other => panic!("{cell:?}: expected the guard to trip, got {other:?}"),
        }
        assert_eq!(bits(&t.model.w), before);
        assert_eq!((t.step, t.smooth_loss.to_bits()), (step, smooth.to_bits()));
        assert_eq!(bits(&t.optim.m), bits(&m));
    }
}

#[test]
fn an_absurd_learning_rate_trips_the_guard_before_a_weight_overflows_unseen() {
    let (mut t, _) = setup::<f32>(CellKind::RNN, 1);
    t.cfg.lr = 1e38;
    t.cfg.clip.value = None;
    t.cfg.dropout = 0.0;
    let mut tripped = false;
    for _ in 0..50 {
        match t.try_train_step() {
            Ok(_) => assert!(
                t.model.w.iter().all(|x| x.is_finite()),
                "a step that succeeded left a non-finite weight"
            ),
            Err(Error::Diverged { .. }) => {
                tripped = true;
                break;
            }
            Err(e) => panic!("{e}"),
        }
    }
    assert!(tripped, "lr 1e38 must diverge");
}
