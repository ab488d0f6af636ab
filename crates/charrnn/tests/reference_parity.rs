//! Parity with the numpy reference of the seed notebook (`seed_rnn.py`).
//!
//! The fixtures in `tests/fixtures/` were written by `make_fixtures.sh`, which runs the
//! reference on `corpus.txt` (CRLF line endings, accents, Greek, CJK, an emoji): the seeded
//! initial weights, the weights after the last step, and a JSON line per step with the loss and
//! the smoothed loss. Here the library trains from the same initial weights on the same corpus
//! and must follow the reference step by step.
//!
//! Keep the case constants in step with `make_fixtures.sh`.

use std::path::{Path, PathBuf};

use charrnn::checkpoint;
use charrnn::corpus::{self, LoadOptions};
use charrnn::data::Streams;
use charrnn::train::{TrainConfig, Trainer};
use charrnn::Real;

/// Relative tolerance for the f64 run against the f64 reference.
const F64_RTOL: f64 = 1e-9;
/// Relative tolerance for the f32 run's losses against the f64 reference.
const F32_RTOL: f64 = 1e-3;
/// Denominator floor of the relative error: below it the comparison is absolute. No f64 check
/// here needs it (no compared value is that close to zero); it only keeps two exact zeros from
/// dividing 0 by 0.
const TINY: f64 = 1e-300;

struct Case {
    name: &'static str,
    emb: usize,
    hidden: usize,
    seq_len: usize,
    batch: usize,
    steps: usize,
}

const CASE_A: Case = Case {
    name: "a",
    emb: 5,
    hidden: 17,
    seq_len: 13,
    batch: 3,
    steps: 520,
};

const CASE_B: Case = Case {
    name: "b",
    emb: 5,
    hidden: 17,
    seq_len: 13,
    batch: 1,
    steps: 520,
};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests")
        .join("fixtures")
        .join(name)
}

/// `|a - b| / max(|a|, |b|, TINY)`.
fn rel_err(a: f64, b: f64) -> f64 {
    let d = (a - b).abs();
    if d == 0.0 {
        return 0.0;
    }
    d / a.abs().max(b.abs()).max(TINY)
}

#[derive(Debug)]
struct LogLine {
    step: u64,
    loss: f64,
    smooth_loss: f64,
}

fn read_log(path: &Path) -> Vec<LogLine> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("a JSON log line");
            LogLine {
                step: v["step"].as_u64().expect("step"),
                loss: v["loss"].as_f64().expect("loss"),
                smooth_loss: v["smooth_loss"].as_f64().expect("smooth_loss"),
            }
        })
        .collect()
}

/// A trainer on the case's initial weights, set up as the reference ran.
fn trainer<T: Real>(case: &Case) -> Trainer<T> {
    let ck = checkpoint::load::<T>(&fixture(&format!("case_{}_init.safetensors", case.name)))
        .expect("init checkpoint loads");
    let c = ck.model.config();
    assert_eq!(
        (c.emb, c.hidden, c.layers),
        (case.emb, case.hidden, 1),
        "fixture sizes"
    );
    let text = corpus::read_text(&fixture("corpus.txt"), &LoadOptions::default()).expect("corpus");
    assert!(
        !text.contains('\r'),
        "read_text turns CRLF into LF as Python's text mode"
    );
    let ids = ck
        .vocab
        .encode(&text)
        .expect("corpus encodes with the fixture vocabulary");
    let streams = Streams::new(ids, case.seq_len, case.batch).expect("streams");
    let cfg = TrainConfig {
        seq_len: case.seq_len,
        batch: case.batch,
        lr: 0.02,
        ..Default::default()
    };
    Trainer::new(ck.model, streams, cfg).expect("trainer")
}

/// Train f64 for the case's steps; check every step's losses and the final weights.
fn check_f64(case: &Case) {
    let log = read_log(&fixture(&format!("case_{}_log.jsonl", case.name)));
    assert_eq!(log.len(), case.steps, "log lines");
    let mut tr = trainer::<f64>(case);

    let (mut max_loss, mut max_smooth) = (0.0f64, 0.0f64);
    let mut resets = 0;
    for want in &log {
        let got = tr.train_step();
        assert_eq!(got.step, want.step);
        resets += got.reset as usize;
        let (el, es) = (
            rel_err(got.loss, want.loss),
            rel_err(got.smooth_loss, want.smooth_loss),
        );
        assert!(
            el <= F64_RTOL,
            "case {} step {}: loss {} vs reference {} (rel {el:e})",
            case.name,
            want.step,
            got.loss,
            want.loss
        );
        assert!(
            es <= F64_RTOL,
            "case {} step {}: smooth_loss {} vs reference {} (rel {es:e})",
            case.name,
            want.step,
            got.smooth_loss,
            want.smooth_loss
        );
        max_loss = max_loss.max(el);
        max_smooth = max_smooth.max(es);
    }
    // The run must cross the end of the streams more than once (the first window resets too).
    assert!(
        resets >= 3,
        "case {}: only {resets} resets in {} steps: the fixture no longer wraps twice",
        case.name,
        case.steps
    );

    let fin = checkpoint::load::<f64>(&fixture(&format!("case_{}_final.safetensors", case.name)))
        .expect("final checkpoint loads");
    assert_eq!(fin.model.layout, tr.model.layout);
    let mut max_w = 0.0f64;
    for spec in &fin.model.layout.tensors {
        let want = &fin.model.w[spec.range.clone()];
        let got = &tr.model.w[spec.range.clone()];
        for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
            let e = rel_err(g, w);
            assert!(
                e <= F64_RTOL,
                "case {}: final {}[{i}] = {g} vs reference {w} (rel {e:e})",
                case.name,
                spec.name
            );
            max_w = max_w.max(e);
        }
    }
    eprintln!(
        "case {} f64: {} steps, {resets} resets; max rel err loss {max_loss:e}, smooth_loss {max_smooth:e}, final weights {max_w:e}",
        case.name, case.steps
    );
}

#[test]
fn case_a_batch3_matches_reference_f64() {
    check_f64(&CASE_A);
}

#[test]
fn case_b_batch1_matches_reference_f64() {
    check_f64(&CASE_B);
}

/// f32 from the same (rounded) initial weights follows the f64 reference's losses closely.
#[test]
fn case_a_f32_losses_track_reference() {
    let log = read_log(&fixture("case_a_log.jsonl"));
    let mut tr = trainer::<f32>(&CASE_A);
    let mut max = 0.0f64;
    for want in &log[..100] {
        let got = tr.train_step();
        let e = rel_err(got.loss, want.loss);
        assert!(
            e <= F32_RTOL,
            "f32 step {}: loss {} vs reference {} (rel {e:e})",
            want.step,
            got.loss,
            want.loss
        );
        max = max.max(e);
    }
    eprintln!("case a f32: 100 steps, max rel err loss {max:e}");
}
