//! Issue 16, the run side of fine-tuning (`charrnn::run` with `init_from`): a text meets the
//! model character by character (a shuffled vocabulary trains to the same losses; subsets and
//! supersets train), `extend_vocab` in a run, a fresh optimizer by default and
//! `keep_optimizer`, `freeze`, exact resume of a fine-tuning run, and the errors, named by
//! field.

use std::cell::Cell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use charrnn::finetune::Part;
use charrnn::model::{CellKind, Layout, Model};
use charrnn::optim::OptimKind;
use charrnn::run::{self, Dtype, Event, Note, RunConfig, RunOutcome, Stop, Text};
use charrnn::{checkpoint, resume, Vocab};

/// The text the first model trains on.
const FIRST: &str = "The quick brown fox jumps over the lazy dog. A café, naïve and calm.\n";
/// Another text of the same characters, in another order of first appearance.
const SAME_CHARS: &str = "calm and naïve, a lazy dog jumps over the quick brown fox. The café.\n";
/// A text with characters [`FIRST`] lacks: 'ß', 'Ü', 'ü', 'ö', '€'.
const GERMAN: &str = "Über die Straße läuft ein süßer Hund; er frißt Brötchen für 2 €.\n";

fn text(name: &str, content: &str, times: usize) -> Text {
    Text {
        name: name.into(),
        content: content.repeat(times),
    }
}

/// A small f64 run on `t` writing into `dir/name.*`.
fn config(dir: &Path, name: &str, t: Text) -> RunConfig {
    RunConfig {
        text: Some(t),
        dtype: Some(Dtype::F64),
        seq_len: Some(8),
        batch: Some(3),
        hidden: Some(10),
        emb: Some(5),
        threads: Some(1),
        steps: Some(16),
        sample_every: Some(0),
        sample_len: Some(5),
        out: Some(dir.join(format!("{name}.safetensors"))),
        checkpoint_dir: Some(dir.join(name)),
        ..RunConfig::default()
    }
}

/// What a run reported.
#[derive(Default)]
struct Seen {
    losses: Vec<f64>,
    notes: Vec<Note>,
}

/// Run `c`, stopping as Ctrl-C would once `stop_after` steps are done.
fn go(c: &RunConfig, stop_after: Option<u64>) -> (charrnn::Result<RunOutcome>, Seen) {
    let mut seen = Seen::default();
    let done = Cell::new(0u64);
    let result = {
        let mut sink = |e: &Event| {
            match e {
                Event::Step(r) => {
                    done.set(r.step + 1);
                    seen.losses.push(r.loss);
                }
                Event::Note(n) => seen.notes.push(n.clone()),
                _ => {}
            }
            Ok(())
        };
        let stop = || stop_after.is_some_and(|k| done.get() >= k);
        run::run(c, &mut sink, &stop)
    };
    (result, seen)
}

/// A model trained on [`FIRST`] (cell `cell`, two layers), at `dir/first.safetensors`, with a
/// resumable checkpoint of its last step in `dir/first/`.
fn first_model(dir: &Path, cell: CellKind) -> (PathBuf, PathBuf) {
    let c = RunConfig {
        cell: Some(cell),
        layers: Some(2),
        optim: Some(OptimKind::Adam),
        lr: Some(0.01),
        checkpoint_every: Some(16),
        ..config(dir, "first", text("first", FIRST, 6))
    };
    let (r, _) = go(&c, None);
    let o = r.unwrap();
    (o.out.unwrap(), o.checkpoint.unwrap())
}

/// Element (char `i`, dim `e`) of `layout`'s embedding, by its strides.
fn at(l: &Layout, i: usize, e: usize) -> usize {
    l.embed.start + i * l.embed_cs + e * l.embed_es
}

/// `m` and `vocab` with the characters renumbered: new id `j` is old id `perm[j]`.
fn permuted(m: &Model<f64>, vocab: &Vocab, perm: &[usize]) -> (Model<f64>, Vocab) {
    let chars = perm.iter().map(|&i| vocab.char(i as u32)).collect();
    let mut p = m.clone();
    let (l, h, e) = (&m.layout, m.config().hidden, m.config().emb);
    for (j, &i) in perm.iter().enumerate() {
        for d in 0..e {
            p.w[at(l, j, d)] = m.w[at(l, i, d)];
        }
        for k in 0..h {
            p.w[l.out_w.start + j * h + k] = m.w[l.out_w.start + i * h + k];
        }
        p.w[l.out_b.start + j] = m.w[l.out_b.start + i];
    }
    (p, Vocab::from_chars(chars).unwrap())
}

/// The shuffled-vocabulary test: the same model with its characters numbered in
/// another order (embedding rows, output rows and biases permuted alike) trains on the same
/// text to the same losses and weights, because the text is encoded with each model's own
/// numbering. Equal to f64 rounding: the softmax sums over the vocabulary in another order.
#[test]
fn a_shuffled_vocabulary_trains_to_the_same_losses() {
    for cell in [CellKind::LSTM, CellKind::MINGRU] {
        let dir = tempfile::tempdir().unwrap();
        let (model, _) = first_model(dir.path(), cell);
        let ck = checkpoint::load::<f64>(&model).unwrap();
        let v = ck.vocab.len();
        // A fixed shuffle: reversed, then every third id rotated.
        let mut perm: Vec<usize> = (0..v).rev().collect();
        perm.rotate_left(v / 3);
        let (pm, pv) = permuted(&ck.model, &ck.vocab, &perm);
        assert_ne!(pv.chars(), ck.vocab.chars());
        let shuffled = dir.path().join("shuffled.safetensors");
        checkpoint::save(&shuffled, &pm, &pv, &BTreeMap::new()).unwrap();

        let tune = |from: &Path, name: &str| RunConfig {
            init_from: Some(from.to_path_buf()),
            cell: None,
            hidden: None,
            emb: None,
            optim: Some(OptimKind::Adagrad),
            ..config(dir.path(), name, text("same chars", SAME_CHARS, 5))
        };
        let (a, sa) = go(&tune(&model, "a"), None);
        let (b, sb) = go(&tune(&shuffled, "b"), None);
        let (a, b) = (a.unwrap(), b.unwrap());
        assert_eq!(sa.losses.len(), 16);
        for (s, (x, y)) in sa.losses.iter().zip(&sb.losses).enumerate() {
            assert!(
                (x - y).abs() <= 1e-10 * x.abs(),
                "{} step {s}: {x} vs {y}",
                cell.name()
            );
        }
        // The trained weights, the shuffled model's put back in the first numbering.
        let wa = checkpoint::load::<f64>(&a.out.unwrap()).unwrap();
        let wb = checkpoint::load::<f64>(&b.out.unwrap()).unwrap();
        assert_eq!(wb.vocab, pv, "the model's own numbering is kept");
        let mut inverse = vec![0; v];
        for (j, &i) in perm.iter().enumerate() {
            inverse[i] = j;
        }
        let (back, back_vocab) = permuted(&wb.model, &wb.vocab, &inverse);
        assert_eq!(back_vocab, wa.vocab);
        for (i, (x, y)) in wa.model.w.iter().zip(&back.w).enumerate() {
            assert!(
                (x - y).abs() <= 1e-10 * (1.0 + x.abs()),
                "weight {i}: {x} vs {y}"
            );
        }
    }
}

/// A text with fewer characters than the model trains with the model's vocabulary (no
/// error, no extension); one with more needs `extend_vocab`, and the error says so.
#[test]
fn subsets_train_as_they_are_supersets_need_extend_vocab() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = first_model(dir.path(), CellKind::GRU);
    let v = checkpoint::load::<f64>(&model).unwrap().vocab.len();
    let from = |name: &str, t: Text| RunConfig {
        init_from: Some(model.clone()),
        hidden: None,
        emb: None,
        ..config(dir.path(), name, t)
    };
    let (r, seen) = go(&from("sub", text("sub", "the lazy dog. ", 20)), None);
    let out = r.unwrap().out.unwrap();
    assert!(seen.notes.is_empty(), "{:?}", seen.notes);
    assert_eq!(checkpoint::load::<f64>(&out).unwrap().vocab.len(), v);

    let err = go(&from("super", text("the German text", GERMAN, 6)), None)
        .0
        .unwrap_err()
        .to_string();
    for needle in [
        "the German text has characters that",
        "'ß' (U+00DF)",
        "`extend_vocab`",
    ] {
        assert!(err.contains(needle), "{needle:?} not in {err}");
    }
    let c = RunConfig {
        extend_vocab: Some(true),
        ..from("super", text("the German text", GERMAN, 6))
    };
    let (r, seen) = go(&c, None);
    let out = r.unwrap().out.unwrap();
    // The new characters, in code-point order.
    let new: Vec<char> = GERMAN
        .chars()
        .filter(|&ch| !FIRST.contains(ch))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    assert!(new.len() >= 5 && new.contains(&'ß') && new.contains(&'€'));
    let added = seen
        .notes
        .iter()
        .find_map(|n| match n {
            Note::VocabExtended { added, count, of } => Some((added.clone(), *count, *of)),
            _ => None,
        })
        .expect("a note of the characters added");
    assert_eq!(added.0, new);
    let count = GERMAN.chars().filter(|c| new.contains(c)).count() as u64 * 6;
    assert_eq!(
        (added.1, added.2),
        (count, GERMAN.chars().count() as u64 * 6)
    );
    let ck = checkpoint::load::<f64>(&out).unwrap();
    assert_eq!(ck.vocab.len(), v + new.len());
    assert_eq!(&ck.vocab.chars()[v..], new.as_slice());
}

/// The first steps of a run from an extended model: the known characters' predictions are
/// the model's own, so the first loss over a text of known characters is the same with and
/// without the extension (to f64 rounding and the e^-18 the new rows take).
#[test]
fn extending_does_not_change_the_first_loss_on_known_characters() {
    let dir = tempfile::tempdir().unwrap();
    let (model, _) = first_model(dir.path(), CellKind::LSTM);
    let known = text("known", SAME_CHARS, 5);
    let mut both = known.clone();
    // The new characters at the very end: the first windows see only known ones.
    both.content.push_str("ßü€");
    let from = |name: &str, t: Text, extend| RunConfig {
        init_from: Some(model.clone()),
        extend_vocab: Some(extend),
        hidden: None,
        emb: None,
        steps: Some(1),
        batch: Some(1),
        ..config(dir.path(), name, t)
    };
    let (a, sa) = go(&from("plain", known, false), None);
    let (b, sb) = go(&from("extended", both, true), None);
    a.unwrap();
    b.unwrap();
    let (x, y) = (sa.losses[0], sb.losses[0]);
    assert!((x - y).abs() <= 1e-7 * x, "{x} vs {y}");
}

/// A fresh optimizer by default, even from a resumable checkpoint: the same losses as from the
/// plain model file. `keep_optimizer` carries the checkpoint's state (the update count goes
/// on from it) and its optimizer.
#[test]
fn a_fresh_optimizer_by_default_and_keep_optimizer_carries_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let (model, ckpt) = first_model(dir.path(), CellKind::LSTM);
    let saved = resume::load::<f64>(&ckpt).unwrap();
    assert_eq!(saved.state.optim_t, 16);
    let from = |path: &Path, name: &str, keep: Option<bool>| RunConfig {
        init_from: Some(path.to_path_buf()),
        keep_optimizer: keep,
        hidden: None,
        emb: None,
        optim: None,
        lr: Some(0.01),
        checkpoint_every: Some(16),
        ..config(dir.path(), name, text("same chars", SAME_CHARS, 5))
    };
    let (a, sa) = go(&from(&model, "a", None), None);
    let (b, sb) = go(&from(&ckpt, "b", None), None);
    let (k, sk) = go(&from(&ckpt, "k", Some(true)), None);
    let (a, b, k) = (a.unwrap(), b.unwrap(), k.unwrap());
    assert_eq!(
        sa.losses, sb.losses,
        "a resumable checkpoint starts a fresh optimizer"
    );
    let state = |o: &RunOutcome| resume::load::<f64>(o.checkpoint.as_ref().unwrap()).unwrap();
    // The default optimizer is the notebook's Adagrad; --keep-optimizer takes the checkpoint's
    // Adam, with its moments and update count.
    assert_eq!(state(&a).config.optim.kind, OptimKind::Adagrad);
    assert_eq!(state(&b).state.optim_t, 16);
    let kept = state(&k);
    assert_eq!(kept.config.optim.kind, OptimKind::Adam);
    assert_eq!(kept.state.optim_t, 32);
    assert_eq!(sk.losses[0], sa.losses[0], "the same weights at step 0");
    assert!(sk.losses[1..] != sa.losses[1..]);
    assert!(sk.notes.iter().any(|n| matches!(
        n,
        Note::OptimizerKept {
            updates: 16,
            optim: OptimKind::Adam,
            ..
        }
    )));
    // A fresh Adam differs from the carried one: the carried moments matter.
    let (f, sf) = go(
        &RunConfig {
            optim: Some(OptimKind::Adam),
            ..from(&ckpt, "f", None)
        },
        None,
    );
    f.unwrap();
    assert!(sf.losses[1..] != sk.losses[1..]);
}

/// A fine-tuning run (extended vocabulary, frozen embedding, Adam) stopped and resumed gives
/// the losses and weights of one that never stopped, bit for bit; the frozen part stays as it
/// was but for the added characters' rows.
#[test]
fn resume_is_exact_in_a_fine_tuning_run() {
    for dtype in [Dtype::F32, Dtype::F64] {
        let dir = tempfile::tempdir().unwrap();
        let (model, _) = first_model(dir.path(), CellKind::GRU);
        let tune = |name: &str| RunConfig {
            init_from: Some(model.clone()),
            extend_vocab: Some(true),
            freeze: Some(vec![Part::Embed]),
            dtype: Some(dtype),
            hidden: None,
            emb: None,
            optim: Some(OptimKind::Adam),
            lr: Some(0.005),
            steps: Some(20),
            cosine: Some(true),
            val_frac: Some(0.1),
            eval_every: Some(7),
            ..config(dir.path(), name, text("the German text", GERMAN, 8))
        };
        let (r, whole) = go(&tune("a"), None);
        r.unwrap();
        let (r, first) = go(&tune("b"), Some(9));
        let o = r.unwrap();
        assert_eq!((o.stop, o.steps), (Stop::Interrupted, 9));
        let resumed = RunConfig {
            resume: o.checkpoint,
            text: Some(text("the German text", GERMAN, 8)),
            ..RunConfig::default()
        };
        let (r, rest) = go(&resumed, None);
        assert_eq!(r.unwrap().steps, 20);
        let bits = |s: &Seen| s.losses.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        let mut joined = bits(&first);
        joined.extend(bits(&rest));
        assert_eq!(joined, bits(&whole), "{dtype:?}");
        let w = |name: &str| {
            let ck = checkpoint::load::<f64>(&dir.path().join(format!("{name}.safetensors")));
            ck.unwrap()
                .model
                .w
                .iter()
                .map(|x| x.to_bits())
                .collect::<Vec<_>>()
        };
        assert_eq!(w("a"), w("b"), "{dtype:?}");
        // The known characters' embedding rows are the first model's; the added ones moved.
        let first_ck = checkpoint::load::<f64>(&model).unwrap();
        let tuned = checkpoint::load::<f64>(&dir.path().join("a.safetensors")).unwrap();
        let (l0, l1) = (&first_ck.model.layout, &tuned.model.layout);
        let (v, e) = (first_ck.vocab.len(), first_ck.model.config().emb);
        for i in 0..v {
            for d in 0..e {
                let (x, y) = (first_ck.model.w[at(l0, i, d)], tuned.model.w[at(l1, i, d)]);
                assert_eq!(x as f32, y as f32, "{dtype:?} known row {i}");
            }
        }
        let ss = tuned.vocab.id('ß').unwrap() as usize;
        let mean = (0..v).map(|i| first_ck.model.w[at(l0, i, 0)]).sum::<f64>() / v as f64;
        assert!(
            (tuned.model.w[at(l1, ss, 0)] - mean).abs() > 1e-6,
            "{dtype:?}"
        );
        // The freeze is part of the resumed run: another one is refused.
        let err = go(
            &RunConfig {
                freeze: Some(vec![Part::Out]),
                ..resumed.clone()
            },
            None,
        )
        .0
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("`freeze` out differs from the resumed run's embed"),
            "{err}"
        );
    }
}

/// Bad combinations, one error each, naming the fields (the CLI writes them as flags).
#[test]
fn bad_fine_tuning_settings_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let (model, ckpt) = first_model(dir.path(), CellKind::RNN);
    let v = checkpoint::load::<f64>(&model).unwrap().vocab.len();
    let german = || text("the German text", GERMAN, 6);
    let from = |path: &Path, t: Text| RunConfig {
        init_from: Some(path.to_path_buf()),
        hidden: None,
        emb: None,
        ..config(dir.path(), "bad", t)
    };
    let cases: Vec<(RunConfig, Vec<String>)> = vec![
        (
            RunConfig {
                extend_vocab: Some(true),
                max_vocab: Some(v + 2),
                ..from(&model, german())
            },
            vec![
                "`extend_vocab` would take the".into(),
                format!("over `max_vocab` {}", v + 2),
            ],
        ),
        (
            RunConfig {
                extend_vocab: Some(true),
                keep_optimizer: Some(true),
                ..from(&ckpt, german())
            },
            vec!["`keep_optimizer` needs the vocabulary".into()],
        ),
        (
            RunConfig {
                keep_optimizer: Some(true),
                ..from(&model, text("same", SAME_CHARS, 5))
            },
            vec!["no optimizer state".into(), "drop `keep_optimizer`".into()],
        ),
        (
            RunConfig {
                keep_optimizer: Some(true),
                optim: Some(OptimKind::Sgd),
                ..from(&ckpt, text("same", SAME_CHARS, 5))
            },
            vec!["`optim` sgd differs from the optimizer".into()],
        ),
        (
            RunConfig {
                freeze: Some(vec![Part::Embed, Part::Rnn, Part::Out]),
                ..from(&model, text("same", SAME_CHARS, 5))
            },
            vec!["`freeze` embed,rnn,out leaves nothing to train".into()],
        ),
        (
            RunConfig {
                freeze: Some(vec![Part::Layer(2)]),
                ..from(&model, text("same", SAME_CHARS, 5))
            },
            vec!["`freeze` rnn.2: the model has 2 layers, rnn.0 to rnn.1".into()],
        ),
        (
            RunConfig {
                extend_vocab: Some(true),
                ..config(dir.path(), "bad", german())
            },
            vec!["`extend_vocab` applies to a run that starts from a checkpoint".into()],
        ),
    ];
    for (c, needles) in cases {
        let err = go(&c, None).0.unwrap_err().to_string();
        for n in &needles {
            assert!(err.contains(n.as_str()), "{n:?} not in {err}");
        }
        assert!(!dir.path().join("bad.safetensors").exists());
    }
    // Freezing every part is fine when added characters are left to train.
    let c = RunConfig {
        extend_vocab: Some(true),
        freeze: Some(vec![Part::Embed, Part::Rnn, Part::Out]),
        ..from(&model, german())
    };
    let (r, seen) = go(&c, None);
    r.unwrap();
    let frozen = seen.notes.iter().find_map(|n| match n {
        Note::Frozen { training, of, .. } => Some((*training, *of)),
        _ => None,
    });
    let (training, of) = frozen.expect("a note of what trains");
    let k = checkpoint::load::<f64>(&dir.path().join("bad.safetensors"))
        .unwrap()
        .vocab
        .len()
        - v;
    // The added characters' embedding rows (E 5), output rows (H 10) and biases.
    assert_eq!(training, k * (5 + 10 + 1));
    assert!(of > training);
}
