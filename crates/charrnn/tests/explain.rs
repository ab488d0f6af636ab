//! `charrnn::explain` against independent references, for every cell and depth: the states
//! against the batch-1 [`Stepper`] stepped one character at a time, the gates against the
//! cells' equations written out here from the weights, the per-character losses against a
//! single chunk over the whole text, and the total against [`evaluate`] (what `charrnn score`
//! prints). Then a hand-built LSTM whose unit 0 follows "inside quotes" must be found first.

use charrnn::eval::evaluate;
use charrnn::explain::{explain, ExplainConfig, Explanation, MAX_VALUES};
use charrnn::model::{CellKind, Model, ModelConfig, Stepper, Workspace, CELLS};
use charrnn::vocab::UNKNOWN;
use charrnn::{Error, Real, Vocab};
use rand::SeedableRng;

const TEXT: &str = "First Citizen:\n\"Before we proceed (any further), hear me speak.\"\n\
    All:\n  Speak, speak. [They gather] 2 or 3 of them say \"You are all resolved rather to \
    die than to famish?\"\n\tResolved. Resolved!\nFirst Citizen:\nFirst, you know Caius \
    Marcius is chief enemy to the people.\n";

fn model<T: Real>(cell: CellKind, vocab: usize, layers: usize, seed: u64) -> Model<T> {
    let config = ModelConfig {
        cell,
        vocab,
        emb: 5,
        hidden: 9,
        layers,
    };
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(seed);
    Model::init(config, 0.4, &mut rng)
}

fn ids(vocab: &Vocab, text: &str) -> Vec<u32> {
    text.chars().map(|c| vocab.id(c).unwrap()).collect()
}

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// `W x + b` for a row-major `[rows, x.len()]` block `w` and bias `b`.
fn affine(w: &[f64], b: &[f64], x: &[f64]) -> Vec<f64> {
    let n = x.len();
    b.iter()
        .enumerate()
        .map(|(r, &bias)| bias + (0..n).map(|j| w[r * n + j] * x[j]).sum::<f64>())
        .collect()
}

/// The activated gates of layer `k` at a step, from its input `x` and `h_prev`, written out
/// from each cell's equations (PyTorch's gate orders).
fn reference_gates(m: &Model<f64>, k: usize, x: &[f64], h_prev: &[f64]) -> Vec<f64> {
    let l = &m.layout.layers[k];
    let w = &m.w;
    let gh = l.wih.len() / l.input;
    let zero = vec![0.0; gh];
    let a_in = affine(&w[l.wih.clone()], &w[l.bih.clone()], x);
    let a_rec = match (&l.whh, &l.bhh) {
        (Some(whh), Some(bhh)) => affine(&w[whh.clone()], &w[bhh.clone()], h_prev),
        (Some(whh), None) => affine(&w[whh.clone()], &zero, h_prev),
        _ => zero.clone(),
    };
    let h = l.hidden;
    match m.config().cell.name() {
        "rnn" => Vec::new(),
        "lstm" => (0..gh)
            .map(|i| {
                let a = a_in[i] + a_rec[i];
                if (2 * h..3 * h).contains(&i) {
                    a.tanh()
                } else {
                    sigmoid(a)
                }
            })
            .collect(),
        "gru" => {
            let r: Vec<f64> = (0..h).map(|j| sigmoid(a_in[j] + a_rec[j])).collect();
            let z = (h..2 * h).map(|j| sigmoid(a_in[j] + a_rec[j]));
            let n = (0..h).map(|j| (a_in[2 * h + j] + r[j] * a_rec[2 * h + j]).tanh());
            r.iter().copied().chain(z).chain(n).collect()
        }
        "mingru" => (0..h)
            .map(|j| sigmoid(a_in[j]))
            .chain((h..2 * h).map(|j| a_in[j]))
            .collect(),
        other => panic!("no reference for cell {other}"),
    }
}

fn close(a: f64, b: f64, tol: f64) -> bool {
    (a - b).abs() <= tol * (1.0 + b.abs())
}

/// States against the f64 Stepper, gates against [`reference_gates`], losses against one
/// chunk over the whole text, the total against `evaluate`.
fn check_f64(cell: CellKind, layers: usize) {
    let vocab = Vocab::from_text(TEXT);
    let m = model::<f64>(cell, vocab.len(), layers, 11 + layers as u64);
    let cfg = ExplainConfig {
        chunk: 37, // chunks of odd length: the state crosses many boundaries
        ..Default::default()
    };
    let e = explain(&m, &vocab, TEXT, &cfg).unwrap();
    let ids = ids(&vocab, TEXT);
    let n = ids.len();
    let c = m.config();
    let spec = cell.spec();
    let tag = format!("{} x{layers}", cell.name());
    assert_eq!(
        e.channels.len(),
        layers * (spec.states().len() + spec.gate_info().len()),
        "{tag}"
    );
    // States, one character at a time through the batch-1 path.
    let mut s = Stepper::new(&m);
    // The embedded input and each layer's h before the step.
    let l = &m.layout;
    for (i, &id) in ids.iter().enumerate() {
        let mut below: Vec<f64> = (0..c.emb)
            .map(|j| m.w[l.embed.start + id as usize * l.embed_cs + j * l.embed_es])
            .collect();
        let prev: Vec<Vec<f64>> = (0..layers).map(|k| s.state(k).0.to_vec()).collect();
        s.step(id);
        for (k, h_prev) in prev.iter().enumerate() {
            let (h, cs) = s.state(k);
            for (name, want) in [("h", h), ("c", cs)] {
                let Some(ch) = e.channel(k, name) else {
                    assert!(want.is_empty(), "{tag}: no channel {name}");
                    continue;
                };
                for (u, &w) in want.iter().enumerate() {
                    let got = ch.value(i, u) as f64;
                    assert!(
                        close(got, w, 1e-6),
                        "{tag} {name}{k}[{u}] at {i}: {got} vs {w}"
                    );
                }
            }
            let gates = reference_gates(&m, k, &below, h_prev);
            for (j, g) in spec.gate_info().iter().enumerate() {
                let ch = e.channel(k, g.name).unwrap();
                for u in 0..c.hidden {
                    let (got, want) = (ch.value(i, u) as f64, gates[j * c.hidden + u]);
                    assert!(
                        close(got, want, 1e-6),
                        "{tag} gate {}{k}[{u}] at {i}: {got} vs {want}",
                        g.name
                    );
                }
            }
            below = h.to_vec();
        }
        if i + 1 < n {
            let p = s.probs()[ids[i + 1] as usize];
            let got = e.p[i + 1].unwrap() as f64;
            assert!(close(got, p, 1e-6), "{tag} p at {}: {got} vs {p}", i + 1);
        }
    }
    // Losses against one chunk over the whole text.
    let mut ws = Workspace::new(&m.layout, n, 1);
    ws.reset_state();
    m.forward(&mut ws, &ids, None);
    assert_eq!(e.bits[0], None);
    for (i, (&id, bits)) in ids.iter().zip(&e.bits).enumerate().skip(1) {
        let want = -ws.probs[(i - 1) * c.vocab + id as usize].log2();
        let got = bits.unwrap();
        assert!(
            close(got, want, 1e-12),
            "{tag} bits at {i}: {got} vs {want}"
        );
    }
    let total = evaluate(&m, &vocab.encode(TEXT).unwrap(), 128);
    assert_eq!(e.loss.predicted, total.chars, "{tag}");
    assert!(
        close(e.loss.nats, total.nats, 1e-12),
        "{tag}: {} vs {}",
        e.loss.nats,
        total.nats
    );
    assert!(
        close(e.loss.bits_per_char, total.bits_per_char(), 1e-12),
        "{tag}"
    );
    // The per-line means add up to the total.
    let lines: f64 = e
        .lines
        .iter()
        .map(|l| l.bits_per_char * l.predicted as f64)
        .sum();
    assert!(
        close(lines, total.nats / std::f64::consts::LN_2, 1e-12),
        "{tag}"
    );
    assert_eq!(e.lines.last().unwrap().end, n);
}

#[test]
fn activations_and_losses_match_the_references_for_every_cell_and_depth() {
    for cell in CELLS {
        for layers in [1, 2, 3] {
            check_f64(cell, layers);
        }
    }
}

#[test]
fn f32_total_equals_evaluate_as_score_runs_it() {
    let vocab = Vocab::from_text(TEXT);
    for cell in CELLS {
        let m = model::<f32>(cell, vocab.len(), 2, 3);
        let e = explain(&m, &vocab, TEXT, &ExplainConfig::default()).unwrap();
        let ids = vocab.encode(TEXT).unwrap();
        let s = evaluate(&m, &ids, 128);
        assert_eq!(e.loss.predicted, s.chars);
        assert!(
            close(e.loss.nats, s.nats, 1e-6),
            "{}: {} vs {}",
            cell.name(),
            e.loss.nats,
            s.nats
        );
        // Chunks of another length give the same activations, to rounding.
        let other = explain(
            &m,
            &vocab,
            TEXT,
            &ExplainConfig {
                chunk: 5,
                ..Default::default()
            },
        )
        .unwrap();
        for (a, b) in e.channels.iter().zip(&other.channels) {
            for (x, y) in a.values.iter().zip(&b.values) {
                assert!(
                    (x - y).abs() < 1e-5,
                    "{} {}: {x} vs {y}",
                    cell.name(),
                    a.name
                );
            }
        }
    }
}

/// An LSTM whose unit 0 flips its cell state at every `"`: the input gate opens and the
/// forget gate closes at a quote, and the candidate is `tanh(-10 h_0 + 3)`, so a quote read
/// outside (h_0 <= 0) writes c_0 = +1 and one read inside (h_0 = tanh(1)) writes c_0 = -1.
/// Every other weight is small and random.
fn quote_tracker(vocab: &Vocab) -> Model<f64> {
    let h = 16;
    let config = ModelConfig {
        cell: CellKind::LSTM,
        vocab: vocab.len(),
        emb: 4,
        hidden: h,
        layers: 1,
    };
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let mut m = Model::<f64>::init(config, 0.3, &mut rng);
    let l = m.layout.clone();
    let q = vocab.id('"').unwrap() as usize;
    // Embedding dimension 0 is "this is a quote".
    for c in 0..vocab.len() {
        m.w[l.embed.start + c * l.embed_cs] = if c == q { 1.0 } else { 0.0 };
    }
    let k = &l.layers[0];
    let (wih, whh) = (k.wih.start, k.whh.clone().unwrap().start);
    let (bih, bhh) = (k.bih.start, k.bhh.clone().unwrap().start);
    let row = |gate: usize| gate * h; // unit 0 of gate block `gate` (i, f, g, o)
    for gate in 0..4 {
        let r = row(gate);
        for j in 0..config.emb {
            m.w[wih + r * config.emb + j] = 0.0;
        }
        for j in 0..h {
            m.w[whh + r * h + j] = 0.0;
        }
        m.w[bhh + r] = 0.0;
    }
    // Units 1.. do not read embedding dimension 0 (the quote) at all.
    for r in 0..4 * h {
        if r % h != 0 {
            m.w[wih + r * config.emb] = 0.0;
        }
    }
    m.w[wih + row(0) * config.emb] = 20.0; // i: open at a quote
    m.w[bih + row(0)] = -10.0;
    m.w[wih + row(1) * config.emb] = -20.0; // f: closed at a quote
    m.w[bih + row(1)] = 10.0;
    m.w[whh + row(2) * h] = -10.0; // g = tanh(-10 h_0 + 3)
    m.w[bih + row(2)] = 3.0;
    m.w[bih + row(3)] = 10.0; // o: open
    m
}

#[test]
fn a_hand_built_quote_unit_is_found_first() {
    let text = "\"Good morrow,\" quoth he. \"And to you,\" said she, \"a fair day.\" \
        They walked on (slowly) to the market, where \"fish\" and \"bread\" were sold; \
        \"Three pence!\" cried one. Then all was quiet.\n"
        .repeat(3);
    let vocab = Vocab::from_text(&text);
    let m = quote_tracker(&vocab);
    let e = explain(&m, &vocab, &text, &ExplainConfig::default()).unwrap();
    let found = e.found.iter().find(|f| f.feature == "in_quotes").unwrap();
    assert!(found.varies);
    let best = &found.neurons[0];
    assert_eq!((best.layer, best.unit), (0, 0), "{:?}", found.neurons);
    assert!(best.r > 0.9, "{:?}", found.neurons);
    // The runner-up is far behind: the other units are random.
    assert!(
        found.neurons[1].r.abs() < best.r - 0.2,
        "{:?}",
        found.neurons
    );
}

#[test]
fn unknown_characters_are_named_skipped_or_read_as_the_unknown_symbol() {
    let vocab = Vocab::from_text("abc \n");
    let m = model::<f32>(CellKind::GRU, vocab.len(), 1, 1);
    let cfg = ExplainConfig::default();
    match explain(&m, &vocab, "abc xyz", &cfg) {
        Err(Error::Vocab(msg)) => {
            assert!(msg.contains("'x'") && msg.contains("'z'"), "{msg}")
        }
        other => panic!("{other:?}"),
    }
    let skip = ExplainConfig {
        skip_unknown: true,
        ..Default::default()
    };
    let e = explain(&m, &vocab, "abc xyz a", &skip).unwrap();
    assert_eq!((e.text.as_str(), e.skipped), ("abc  a", 3));
    assert!(explain(&m, &vocab, "xyz", &skip).is_err());
    // A vocabulary with the unknown symbol reads them as it, as training did.
    let vocab = Vocab::from_chars(vec!['a', 'b', UNKNOWN]).unwrap();
    let m = model::<f32>(CellKind::RNN, vocab.len(), 1, 1);
    let e = explain(&m, &vocab, "abxa", &cfg).unwrap();
    assert_eq!((e.text.as_str(), e.replaced), ("abxa", 1));
    let s = evaluate(&m, &vocab.encode("ab\u{FFFD}a").unwrap(), 128);
    assert!(close(e.loss.nats, s.nats, 1e-6));
}

#[test]
fn work_is_bounded() {
    let vocab = Vocab::from_text(TEXT);
    let m = model::<f32>(CellKind::LSTM, vocab.len(), 1, 1);
    let cfg = ExplainConfig {
        max_chars: 10,
        ..Default::default()
    };
    let e: Explanation = explain(&m, &vocab, TEXT, &cfg).unwrap();
    assert!(e.truncated);
    assert_eq!(e.text, TEXT.chars().take(10).collect::<String>());
    assert!(e.channels.iter().all(|c| c.values.len() == 10 * 9));
    let e = explain(&m, &vocab, &TEXT[..10], &cfg).unwrap();
    assert!(!e.truncated);
    // Too many activations is an error that says how many characters fit: here 9 units of
    // 6 channels (h, c, i, f, g, o) per character.
    let fit = MAX_VALUES / (6 * 9);
    let cfg = ExplainConfig {
        max_chars: fit + 1,
        ..Default::default()
    };
    let long = "a".repeat(fit + 1);
    match explain(&m, &vocab, &long, &cfg) {
        Err(Error::Config(msg)) => {
            assert!(msg.contains(&format!("at most {fit} characters")), "{msg}")
        }
        other => panic!("{:?}", other.map(|e| e.loss)),
    }
}

#[test]
fn gate_saturation_counts_every_value() {
    let vocab = Vocab::from_text(TEXT);
    for cell in CELLS {
        let m = model::<f32>(cell, vocab.len(), 2, 5);
        let e = explain(&m, &vocab, TEXT, &ExplainConfig::default()).unwrap();
        let bounded = cell
            .spec()
            .gate_info()
            .iter()
            .filter(|g| g.squash.range().is_some())
            .count();
        assert_eq!(e.saturation.len(), 2 * bounded, "{}", cell.name());
        for s in &e.saturation {
            let ch = e.channel(s.layer, s.gate).unwrap();
            let low = ch.values.iter().filter(|&&x| (x as f64) < s.low).count();
            let high = ch.values.iter().filter(|&&x| (x as f64) > s.high).count();
            let all = ch.values.len() as f64;
            assert!(close(s.low_share, low as f64 / all, 1e-12));
            assert!(close(s.high_share, high as f64 / all, 1e-12));
            assert!(close(s.hist.iter().sum::<f64>(), 1.0, 1e-9));
            assert_eq!(s.units.len(), 9);
        }
    }
}

#[test]
fn every_cell_names_all_its_gates_or_none() {
    for cell in CELLS {
        let n = cell.spec().gate_info().len();
        assert!(n == 0 || n == cell.gates(), "{}", cell.name());
    }
}
