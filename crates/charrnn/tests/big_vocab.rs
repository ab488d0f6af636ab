//! Issue 7: a corpus of 20,000 distinct characters (CJK ideographs) encodes in 16-bit ids,
//! trains (loss finite and falling over a few steps), samples, round-trips through a
//! checkpoint, and its V x H output layer and softmax keep exact gradients at that width.

use charrnn::corpus::{self, LoadOptions};
use charrnn::model::{CellKind, ModelConfig, Workspace};
use charrnn::sample::{SampleConfig, Sampler};
use charrnn::train::{self, TrainConfig, Trainer};
use charrnn::vocab::{Ids, VocabOptions, UNKNOWN};
use charrnn::{checkpoint, data, Model};

const V: usize = 20_000;

/// Ideograph `i` of the 20,000 from U+4E00.
fn ideograph(i: u32) -> char {
    char::from_u32(0x4e00 + i).unwrap()
}

/// Every one of the 20,000 ideographs, in order, `repeat` times.
fn text(repeat: usize) -> String {
    let one: String = (0..V as u32).map(ideograph).collect();
    one.repeat(repeat)
}

/// Text as a real script uses its characters: `n` ideographs drawn from a Zipf-like
/// (log-uniform) law, so a few are frequent and most are rare, then every one of the 20,000
/// once (at the end, past where the few training steps below reach).
fn zipf_text(n: usize) -> String {
    let mut s = 0x9e37_79b9_7f4a_7c15u64;
    let mut out: String = (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            let u = (s >> 11) as f64 / (1u64 << 53) as f64;
            ideograph(((V as f64).ln() * u).exp() as u32 - 1)
        })
        .collect();
    out.push_str(&text(1));
    out
}

#[test]
fn twenty_thousand_characters_train_and_sample() {
    let c = corpus::load_str(&zipf_text(200_000), &LoadOptions::default()).unwrap();
    assert_eq!(c.vocab.len(), V);
    assert!(matches!(c.ids, Ids::U16(_)), "16-bit ids for V = {V}");
    let config = ModelConfig {
        cell: CellKind::RNN,
        vocab: V,
        emb: 8,
        hidden: 32,
        layers: 1,
    };
    let model = train::init_model::<f32>(config, 0.02, 1).unwrap();
    let cfg = TrainConfig {
        seq_len: 16,
        batch: 4,
        lr: 0.05,
        threads: 2,
        ..Default::default()
    };
    let streams = data::Streams::new(c.ids, cfg.seq_len, cfg.batch).unwrap();
    let mut trainer = Trainer::new(model, streams, cfg).unwrap();
    let started = std::time::Instant::now();
    let losses: Vec<f64> = (0..30).map(|_| trainer.train_step().loss).collect();
    let per_step = started.elapsed().as_secs_f64() / 30.0;
    assert!(losses.iter().all(|l| l.is_finite()), "{losses:?}");
    // The first loss is about T * B * ln V: every character equally likely.
    let uniform = (16 * 4) as f64 * (V as f64).ln();
    assert!(
        (losses[0] - uniform).abs() < 0.01 * uniform,
        "{} vs {uniform}",
        losses[0]
    );
    let first: f64 = losses[..5].iter().sum();
    let last: f64 = losses[25..].iter().sum();
    assert!(last < 0.9 * first, "loss did not fall: {losses:?}");
    // Generous: a step is ~40 MFLOP forward here; it must not be pathological.
    assert!(per_step < 2.0, "{per_step} s per step");

    // Sampling: plain, and with top-k and top-p over the 20,000-way distribution.
    for config in [
        SampleConfig::default(),
        SampleConfig {
            top_k: Some(50),
            top_p: Some(0.9),
            temperature: 0.8,
            ..Default::default()
        },
    ] {
        let mut s = Sampler::with_config(&trainer.model, 7, config).unwrap();
        let mut out = Vec::new();
        s.generate(&[0], 200, |id| out.push(id));
        assert_eq!(out.len(), 200);
        assert!(out.iter().all(|&id| (id as usize) < V));
        let text = c.vocab.decode(out);
        assert_eq!(text.chars().count(), 200);
    }

    // A checkpoint of it loads back with the same vocabulary and weights.
    let bytes = checkpoint::to_bytes(&trainer.model, &c.vocab, &Default::default()).unwrap();
    let ck = checkpoint::from_bytes::<f32>(&bytes).unwrap();
    assert_eq!(ck.vocab, c.vocab);
    assert_eq!(ck.model.w, trainer.model.w);
}

/// The output layer's and the embedding's gradients at V = 20,000 against central
/// differences, in f64, on sampled elements (every element would be 20,000 x 5 forward
/// passes). Relative error < 1e-6 (absolute 1e-10 below 1e-4), as `gradient_check.rs`.
#[test]
fn output_layer_gradient_is_exact_at_twenty_thousand() {
    let config = ModelConfig {
        cell: CellKind::LSTM,
        vocab: V,
        emb: 3,
        hidden: 4,
        layers: 1,
    };
    let mut model: Model<f64> = train::init_model(config, 0.5, 3).unwrap();
    let (steps, batch) = (3, 2);
    let inputs: Vec<u32> = vec![5, 19_999, 123, 7, 5, 10_000];
    let targets: Vec<u32> = vec![19_999, 123, 7, 5, 10_000, 0];
    let loss = |m: &Model<f64>| {
        let mut ws = Workspace::new(&m.layout, steps, batch);
        m.forward(&mut ws, &inputs, Some(&targets)) / batch as f64
    };
    let mut ws = Workspace::new(&model.layout, steps, batch);
    model.forward(&mut ws, &inputs, Some(&targets));
    let mut g = vec![0.0; model.layout.len];
    model.backward(&mut ws, &inputs, &targets, &mut g);
    let l = model.layout.clone();
    let h = config.hidden;
    let mut checked = Vec::new();
    // Rows of targets, of a character never seen, and the last row; every column.
    for row in [0usize, 7, 123, 19_999, 15_000] {
        for col in 0..h {
            checked.push(l.out_w.start + row * h + col);
        }
        checked.push(l.out_b.start + row);
    }
    for c in [5usize, 19_999, 10_000] {
        for e in 0..config.emb {
            checked.push(l.embed.start + c * l.embed_cs + e * l.embed_es);
        }
    }
    for i in checked {
        let w0 = model.w[i];
        let mut diff = |step: f64| {
            model.w[i] = w0 + step;
            let up = loss(&model);
            model.w[i] = w0 - step;
            let down = loss(&model);
            model.w[i] = w0;
            (up - down) / (2.0 * step)
        };
        let numeric = (4.0 * diff(5e-4) - diff(1e-3)) / 3.0;
        // Below 1e-4 the difference is compared absolutely, to 1e-10 (the extrapolated
        // difference's own accuracy), as in `gradient_check.rs`.
        let scale = g[i].abs().max(numeric.abs()).max(1e-4);
        assert!(
            (g[i] - numeric).abs() / scale < 1e-6,
            "parameter {i}: analytic {}, numeric {numeric}",
            g[i]
        );
    }
}

/// `--max-vocab`: the 20,000 characters at different frequencies, cut to the 1,000 most
/// frequent plus the unknown symbol; the ids drop to 16 bits of 1,000 values.
#[test]
fn max_vocab_maps_the_rarest_to_the_unknown_symbol() {
    // Character i occurs 1 + (i < 999) * 2 times: the first 999 are the frequent ones.
    let mut t = text(1);
    t.extend((0..999u32).map(|i| char::from_u32(0x4e00 + i).unwrap()));
    t.extend((0..999u32).map(|i| char::from_u32(0x4e00 + i).unwrap()));
    let opts = LoadOptions {
        vocab: VocabOptions {
            max_vocab: Some(1000),
            min_count: None,
        },
        ..Default::default()
    };
    let c = corpus::load_str(&t, &opts).unwrap();
    assert_eq!(c.vocab.len(), 1000);
    assert_eq!(c.distinct, V);
    assert_eq!(c.replaced, (V - 999) as u64);
    let unk = c.vocab.id(UNKNOWN).unwrap();
    assert!(matches!(c.ids, Ids::U16(_)));
    let decoded = c.vocab.decode(c.ids.iter());
    let expect: String = t
        .chars()
        .map(|ch| {
            if (ch as u32) < 0x4e00 + 999 {
                ch
            } else {
                UNKNOWN
            }
        })
        .collect();
    assert_eq!(decoded, expect);
    assert_eq!(
        c.ids.iter().filter(|&i| i == unk).count(),
        c.replaced as usize
    );
}
