//! The training run of the library (`charrnn::run`): events, stopping rules, the checkpoint
//! policy, interrupts that resume exactly, the divergence guard, and settings named by field.

use std::cell::Cell;
use std::path::{Path, PathBuf};
use std::time::Duration;

use charrnn::model::CellKind;
use charrnn::run::metrics;
use charrnn::run::{self, Event, Note, RunConfig, RunOutcome, Stop, Text};
use charrnn::{checkpoint, Error};

fn text() -> Text {
    Text {
        name: "the test text".into(),
        content: "The quick brown fox jumps over the lazy dog. Ξένος 中文 ✓ naïve café.\n"
            .repeat(8),
    }
}

/// A small run writing into `dir` (runs after the first replace its model file).
fn base(dir: &Path) -> RunConfig {
    RunConfig {
        overwrite: Some(true),
        text: Some(text()),
        seq_len: Some(8),
        batch: Some(3),
        hidden: Some(8),
        emb: Some(5),
        out: Some(dir.join("model.safetensors")),
        checkpoint_dir: Some(dir.join("checkpoints")),
        ..RunConfig::default()
    }
}

/// What a run reported, owned.
#[derive(Debug, Default)]
struct Seen {
    kinds: Vec<&'static str>,
    steps: Vec<run::StepRecord>,
    checkpoints: Vec<(u64, PathBuf)>,
    samples: Vec<(u64, String)>,
    notes: Vec<Note>,
    start: Option<run::RunInfo>,
    stopped: Option<(u64, Stop, Option<PathBuf>)>,
}

impl Seen {
    fn record(&mut self, e: &Event) {
        self.kinds.push(match e {
            Event::Note(n) => {
                self.notes.push(n.clone());
                "note"
            }
            Event::Start(i) => {
                self.start = Some((*i).clone());
                "start"
            }
            Event::Sample { step, text } => {
                self.samples.push((*step, text.to_string()));
                "sample"
            }
            Event::Step(r) => {
                self.steps.push(**r);
                "step"
            }
            Event::Validation { .. } => "validation",
            Event::Checkpoint { step, path } => {
                self.checkpoints.push((*step, path.to_path_buf()));
                "checkpoint"
            }
            Event::Stopped {
                step,
                stop,
                checkpoint,
            } => {
                self.stopped = Some((*step, *stop, checkpoint.map(Path::to_path_buf)));
                "stopped"
            }
        });
    }
}

/// Run `config`, stopping (as Ctrl-C would) once `stop_after` steps are done.
fn go(config: &RunConfig, stop_after: Option<u64>) -> (charrnn::Result<RunOutcome>, Seen) {
    let mut seen = Seen::default();
    let done = Cell::new(0u64);
    let result = {
        let mut sink = |e: &Event| {
            if let Event::Step(r) = e {
                done.set(r.step + 1);
            }
            seen.record(e);
            Ok(())
        };
        let stop = || stop_after.is_some_and(|k| done.get() >= k);
        run::run(config, &mut sink, &stop)
    };
    (result, seen)
}

fn losses(seen: &Seen) -> Vec<(u64, u64)> {
    seen.steps
        .iter()
        .map(|r| (r.step, r.loss.to_bits()))
        .collect()
}

fn weights(path: &Path) -> Vec<u64> {
    let ck = checkpoint::load::<f64>(path).unwrap();
    ck.model.w.iter().map(|x| x.to_bits()).collect()
}

#[test]
fn a_sink_gets_every_step_in_order_and_the_run_writes_its_model() {
    let dir = tempfile::tempdir().unwrap();
    let config = RunConfig {
        steps: Some(12),
        sample_every: Some(5),
        sample_len: Some(7),
        val_frac: Some(0.2),
        eval_every: Some(4),
        metrics: Some(dir.path().join("m.jsonl")),
        ..base(dir.path())
    };
    let (result, seen) = go(&config, None);
    let o = result.unwrap();
    assert_eq!((o.stop, o.steps, o.new_steps), (Stop::Done, 12, 12));
    assert_eq!(
        o.out.as_deref(),
        Some(dir.path().join("model.safetensors").as_path())
    );
    assert_eq!(seen.kinds[0], "start");
    assert_eq!(
        seen.steps.iter().map(|r| r.step).collect::<Vec<_>>(),
        (0..12).collect::<Vec<_>>()
    );
    // Samples before steps 0, 5 and 10, and one at the end, of `sample_len` characters.
    let at: Vec<u64> = seen.samples.iter().map(|s| s.0).collect();
    assert_eq!(at, [0, 5, 10, 12]);
    assert!(seen.samples.iter().all(|s| s.1.chars().count() == 7));
    // Validation after steps 4, 8 and 12 (the end).
    let val: Vec<u64> = seen
        .steps
        .iter()
        .filter(|r| r.val.is_some())
        .map(|r| r.step + 1)
        .collect();
    assert_eq!(val, [4, 8, 12]);
    assert_eq!(seen.stopped, Some((12, Stop::Done, None)));
    let info = seen.start.unwrap();
    assert_eq!(
        (info.total, info.start_step, info.source.as_str()),
        (Some(12), 0, "the test text")
    );
    assert_eq!(info.model.hidden, 8);
    // The metrics file has the records.
    let text = std::fs::read_to_string(dir.path().join("m.jsonl")).unwrap();
    let rows: Vec<metrics::Row> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 12);
    for (row, r) in rows.iter().zip(&seen.steps) {
        assert_eq!(*row, metrics::Row::from(r));
    }
    let ck = checkpoint::load::<f32>(&dir.path().join("model.safetensors")).unwrap();
    assert_eq!(ck.meta["steps"], "12");
    // No checkpoints without `checkpoint_every` when the run ends by its rules.
    assert!(!dir.path().join("checkpoints").exists());
}

#[test]
fn a_stopped_run_resumes_to_the_losses_and_weights_of_one_that_never_stopped() {
    for (cell, dtype) in [
        (CellKind::LSTM, run::Dtype::F32),
        (CellKind::GRU, run::Dtype::F64),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let config = |name: &str| RunConfig {
            cell: Some(cell),
            dtype: Some(dtype),
            layers: Some(2),
            dropout: Some(0.2),
            threads: Some(2),
            optim: Some(charrnn::optim::OptimKind::Adam),
            lr: Some(0.01),
            steps: Some(20),
            val_frac: Some(0.1),
            eval_every: Some(6),
            out: Some(dir.path().join(format!("{name}.safetensors"))),
            checkpoint_dir: Some(dir.path().join(name)),
            ..base(dir.path())
        };
        let (straight, whole) = go(&config("a"), None);
        assert_eq!(straight.unwrap().stop, Stop::Done);

        let (stopped, first) = go(&config("b"), Some(7));
        let o = stopped.unwrap();
        assert_eq!(
            (o.stop, o.steps, o.out.clone()),
            (Stop::Interrupted, 7, None)
        );
        let ck = o.checkpoint.expect("a checkpoint to resume from");
        assert!(
            ck.ends_with("ckpt-step00000007.safetensors"),
            "{}",
            ck.display()
        );
        assert_eq!(seen_stop(&first), Some(Stop::Interrupted));
        assert!(
            !dir.path().join("b.safetensors").exists(),
            "no model file when interrupted"
        );

        // The file alone continues the run (with the text given again).
        let resume = RunConfig {
            resume: Some(ck),
            text: Some(text()),
            ..RunConfig::default()
        };
        let (resumed, rest) = go(&resume, None);
        let o = resumed.unwrap();
        assert_eq!((o.stop, o.steps, o.new_steps), (Stop::Done, 20, 13));
        assert_eq!(rest.start.as_ref().unwrap().start_step, 7);
        let mut joined = losses(&first);
        joined.extend(losses(&rest));
        assert_eq!(joined, losses(&whole), "{cell:?}");
        assert_eq!(
            weights(&dir.path().join("a.safetensors")),
            weights(&dir.path().join("b.safetensors")),
            "{cell:?}"
        );
    }
}

fn seen_stop(seen: &Seen) -> Option<Stop> {
    seen.stopped.as_ref().map(|s| s.1)
}

#[test]
fn stopping_rules_steps_epochs_and_max_time() {
    let dir = tempfile::tempdir().unwrap();
    // 8 lines of 68 characters = 544 = 22 windows of 8 x 3 (528): streams of L = 176, and
    // ceil((176 - 8 - 1) / 8) = 21 windows per epoch.
    let (r, seen) = go(
        &RunConfig {
            epochs: Some(2),
            ..base(dir.path())
        },
        None,
    );
    assert_eq!(r.unwrap().steps, 42);
    assert_eq!(seen.steps.last().unwrap().epoch, 2);
    let (r, _) = go(
        &RunConfig {
            epochs: Some(2),
            steps: Some(30),
            out: Some(dir.path().join("b.safetensors")),
            ..base(dir.path())
        },
        None,
    );
    assert_eq!(r.unwrap().steps, 30, "the earlier of the two");
    let (r, seen) = go(
        &RunConfig {
            max_time: Some(Duration::from_millis(300)),
            sample_every: Some(0),
            ..base(dir.path())
        },
        None,
    );
    let o = r.unwrap();
    assert_eq!(o.stop, Stop::OutOfTime);
    assert_eq!(seen.start.unwrap().total, None);
    let ck = o.checkpoint.unwrap();
    let state = charrnn::resume::load::<f32>(&ck).unwrap().state;
    assert_eq!(state.step, o.steps);
    assert!(
        o.out.unwrap().exists(),
        "out of time still writes the model"
    );
}

#[test]
fn checkpoints_every_n_keep_the_last_k_and_the_best() {
    let dir = tempfile::tempdir().unwrap();
    let config = RunConfig {
        steps: Some(14),
        lr: Some(0.3),
        checkpoint_every: Some(3),
        keep: Some(2),
        val_frac: Some(0.2),
        ..base(dir.path())
    };
    let (r, seen) = go(&config, None);
    r.unwrap();
    let at: Vec<u64> = seen.checkpoints.iter().map(|c| c.0).collect();
    assert_eq!(at, [3, 6, 9, 12, 14], "every 3 steps and at the end");
    let vals: Vec<(u64, f64)> = seen
        .steps
        .iter()
        .filter_map(|r| Some((r.step + 1, r.val?.nats_per_char())))
        .collect();
    let best = vals.iter().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    let mut want: Vec<u64> = vec![12, 14];
    if !want.contains(&best) {
        want.push(best);
    }
    want.sort();
    let mut kept: Vec<u64> = run::checkpoints::list(&dir.path().join("checkpoints"))
        .unwrap()
        .iter()
        .map(|e| e.step)
        .collect();
    kept.sort();
    assert_eq!(kept, want);
    // A new run refuses the directory, naming the field to resume with.
    let (r, _) = go(&config, None);
    let err = r.unwrap_err().to_string();
    assert!(
        err.contains("continue it with `resume`") && err.contains("`checkpoint_dir`"),
        "{err}"
    );
}

#[test]
fn a_diverging_run_names_its_last_checkpoint_and_writes_no_model() {
    let dir = tempfile::tempdir().unwrap();
    // Three good steps, checkpointed; then a learning rate that blows the weights up.
    let good = RunConfig {
        steps: Some(3),
        checkpoint_every: Some(1),
        ..base(dir.path())
    };
    let (r, _) = go(&good, None);
    let ck = r.unwrap().checkpoint.expect("checkpointed");
    let config = RunConfig {
        resume: Some(ck.clone()),
        text: Some(text()),
        steps: Some(50),
        lr: Some(1e38),
        out: Some(dir.path().join("diverged.safetensors")),
        ..RunConfig::default()
    };
    let (r, _) = go(&config, None);
    match r.unwrap_err() {
        Error::RunDiverged {
            step,
            what,
            last_checkpoint,
            out,
        } => {
            assert_eq!(step, 3);
            assert!(what.contains("`lr` 1e38"), "{what}");
            assert_eq!(last_checkpoint.as_deref(), Some(ck.as_path()));
            charrnn::resume::load::<f32>(&ck).unwrap();
            assert!(!out.exists());
        }
        e => panic!("{e}"),
    }
}

/// Issue 13: finite but exploding runs stop too, naming the cause: a loss far above a uniform
/// guess's, or a weight far beyond any trained model's.
#[test]
fn the_guard_stops_finite_explosions() {
    use charrnn::data::Streams;
    use charrnn::model::ModelConfig;
    use charrnn::train::{init_model, TrainConfig, Trainer, EXPLODING_LOSS};
    let vocab = charrnn::Vocab::from_text(&text().content);
    let ids = vocab.encode(&text().content).unwrap();
    let config = ModelConfig {
        cell: CellKind::GRU,
        vocab: vocab.len(),
        emb: 4,
        hidden: 8,
        layers: 1,
    };
    let cfg = TrainConfig {
        seq_len: 8,
        batch: 2,
        ..Default::default()
    };
    // An output bias that makes the model sure of one character: a finite loss of hundreds
    // of nats per character.
    let mut model = init_model::<f32>(config, 0.1, 1).unwrap();
    let b = model.layout.out_b.start;
    model.w[b] = 1000.0;
    let streams = Streams::new(ids.clone(), 8, 2).unwrap();
    let mut t = Trainer::new(model, streams, cfg.clone()).unwrap();
    let before = t.model.w.clone();
    match t.try_train_step().unwrap_err() {
        Error::Diverged { step: 0, what } => {
            assert!(what.contains("nats per character"), "{what}");
            assert!(what.contains(&format!("{EXPLODING_LOSS} times")), "{what}");
            assert!(what.contains("`lr` 0.02"), "{what}");
        }
        e => panic!("{e}"),
    }
    assert_eq!(t.model.w, before, "nothing applied");
    // Plain SGD at a learning rate of 1e30 without clipping: finite weights of 1e29 and more.
    let cfg = TrainConfig {
        lr: 1e30,
        clip: charrnn::optim::Clip {
            value: None,
            ..Default::default()
        },
        optim: charrnn::optim::OptimConfig {
            kind: charrnn::optim::OptimKind::Sgd,
            ..Default::default()
        },
        ..cfg
    };
    let model = init_model::<f32>(config, 0.1, 1).unwrap();
    let streams = Streams::new(ids, 8, 2).unwrap();
    let mut t = Trainer::new(model, streams, cfg).unwrap();
    match t.try_train_step().unwrap_err() {
        Error::Diverged { what, .. } => {
            assert!(
                what.contains("made a weight") && what.contains("beyond"),
                "{what}"
            );
            assert!(
                what.contains("`lr` 1e30") && what.contains("`clip` 0"),
                "{what}"
            );
        }
        e => panic!("{e}"),
    }
}

#[test]
fn settings_are_checked_and_named_by_field() {
    let dir = tempfile::tempdir().unwrap();
    for (bad, field) in [
        (
            RunConfig {
                steps: Some(0),
                ..base(dir.path())
            },
            "`steps` must be at least 1",
        ),
        (
            RunConfig {
                keep: Some(0),
                ..base(dir.path())
            },
            "`keep` must be at least 1",
        ),
        (
            RunConfig {
                clip: Some(-1.0),
                ..base(dir.path())
            },
            "`clip` must be 0 (off)",
        ),
        (
            RunConfig {
                threads: Some(0),
                ..base(dir.path())
            },
            "`threads` must be at least 1",
        ),
        (
            RunConfig {
                text: None,
                ..base(dir.path())
            },
            "give `data` (a file) or `text`",
        ),
        (
            RunConfig {
                cosine: Some(true),
                linear: Some(true),
                ..base(dir.path())
            },
            "`cosine` and `linear` exclude each other",
        ),
    ] {
        let err = go(&bad, None).0.unwrap_err().to_string();
        assert!(err.contains(field), "{err}");
    }
    // A resumed run refuses another batch or another text, and reports a new learning rate.
    let first = RunConfig {
        steps: Some(4),
        checkpoint_every: Some(4),
        ..base(dir.path())
    };
    go(&first, None).0.unwrap();
    let ck = dir.path().join("checkpoints/ckpt-step00000004.safetensors");
    let resume = |c: RunConfig| RunConfig {
        resume: Some(ck.clone()),
        text: Some(text()),
        ..c
    };
    let err = go(
        &resume(RunConfig {
            batch: Some(4),
            ..Default::default()
        }),
        None,
    )
    .0
    .unwrap_err();
    assert!(
        err.to_string()
            .contains("`batch` 4 differs from the resumed run's 3"),
        "{err}"
    );
    let other = Text {
        content: text().content.replace("fox", "dog"),
        ..text()
    };
    let err = go(
        &RunConfig {
            text: Some(other),
            ..resume(RunConfig::default())
        },
        None,
    )
    .0
    .unwrap_err();
    assert!(err.to_string().contains("is not the text"), "{err}");
    let (r, seen) = go(
        &resume(RunConfig {
            lr: Some(0.05),
            steps: Some(6),
            ..Default::default()
        }),
        None,
    );
    assert_eq!(r.unwrap().steps, 6);
    assert_eq!(
        seen.notes,
        [Note::LrReplaced {
            lr: 0.05,
            was: 0.02,
            step: 4
        }]
    );
    assert_eq!(seen.kinds[..2], ["note", "start"]);
}

/// Issue 11: warmup, then an annealed rate that ends with the run, whichever stopping rule
/// ends it: the rate at the warmup's end, the midpoint and the end, for `steps`, `epochs` and
/// `max_time`.
#[test]
fn schedules_end_with_the_run_whichever_rule_ends_it() {
    let dir = tempfile::tempdir().unwrap();
    let (lr, min) = (0.01, 0.001);
    let cosine = |x: f64| min + (lr - min) * 0.5 * (1.0 + (std::f64::consts::PI * x).cos());
    let close = |a: f64, b: f64| (a - b).abs() < 1e-12 * lr;
    let scheduled = |c: RunConfig| RunConfig {
        lr: Some(lr),
        lr_min: Some(min),
        warmup: Some(4),
        cosine: Some(true),
        optim: Some(charrnn::optim::OptimKind::Adam),
        ..c
    };
    // `steps`: 20 steps.
    let (r, seen) = go(
        &scheduled(RunConfig {
            steps: Some(20),
            ..base(dir.path())
        }),
        None,
    );
    r.unwrap();
    let lrs: Vec<f64> = seen.steps.iter().map(|s| s.lr).collect();
    assert!(close(lrs[0], cosine(0.0) / 4.0), "{lrs:?}");
    assert!(close(lrs[3], cosine(3.0 / 20.0)), "warmup end: {lrs:?}");
    assert!(close(lrs[10], (lr + min) / 2.0), "midpoint: {lrs:?}");
    assert!(close(lrs[19], cosine(19.0 / 20.0)), "end: {lrs:?}");
    // `epochs`: the run's total is two epochs' windows.
    let (r, seen) = go(
        &scheduled(RunConfig {
            epochs: Some(2),
            ..base(dir.path())
        }),
        None,
    );
    let total = r.unwrap().steps;
    let lrs: Vec<f64> = seen.steps.iter().map(|s| s.lr).collect();
    assert_eq!(seen.start.as_ref().unwrap().total, Some(total));
    let mid = (total / 2) as usize;
    assert!(
        close(lrs[mid], cosine(mid as f64 / total as f64)),
        "{lrs:?}"
    );
    assert!(close(
        *lrs.last().unwrap(),
        cosine((total - 1) as f64 / total as f64)
    ));
    // `max_time`: by the clock, ending near `lr_min` at the budget's end.
    let (r, seen) = go(
        &scheduled(RunConfig {
            max_time: Some(Duration::from_millis(600)),
            ..base(dir.path())
        }),
        None,
    );
    assert_eq!(r.unwrap().stop, Stop::OutOfTime);
    let s = &seen.steps;
    assert!(s.len() > 8, "{} steps", s.len());
    for w in s[4..].windows(2) {
        assert!(w[1].lr <= w[0].lr, "the rate only falls after warmup");
    }
    assert!(s.iter().all(|r| r.lr >= min && r.lr <= lr));
    let last = s.last().unwrap();
    assert!(
        last.lr < min + 0.1 * (lr - min),
        "the last rate {} is near lr_min",
        last.lr
    );
}

/// Issue 11: with warmup and an annealed schedule on, N steps straight and N/2 + a resume to
/// N give the same losses and weights, bit for bit.
#[test]
fn resume_is_exact_with_a_schedule() {
    let dir = tempfile::tempdir().unwrap();
    let config = |d: &str| RunConfig {
        steps: Some(24),
        warmup: Some(5),
        linear: Some(true),
        lr_min: Some(0.001),
        cell: Some(CellKind::LSTM),
        out: Some(dir.path().join(format!("{d}.safetensors"))),
        checkpoint_dir: Some(dir.path().join(d)),
        ..base(dir.path())
    };
    let (r, straight) = go(&config("a"), None);
    r.unwrap();
    let (r, first) = go(&config("b"), Some(12));
    let ck = r.unwrap().checkpoint.unwrap();
    let (r, second) = go(
        &RunConfig {
            resume: Some(ck),
            text: Some(text()),
            ..RunConfig::default()
        },
        None,
    );
    r.unwrap();
    let mut resumed = losses(&first);
    resumed.extend(losses(&second));
    assert_eq!(losses(&straight), resumed);
    let lrs = |s: &Seen| s.steps.iter().map(|r| r.lr.to_bits()).collect::<Vec<_>>();
    let mut resumed_lr = lrs(&first);
    resumed_lr.extend(lrs(&second));
    assert_eq!(lrs(&straight), resumed_lr);
    let w = |p: &str| {
        charrnn::checkpoint::load::<f32>(&dir.path().join(p))
            .unwrap()
            .model
            .w
            .iter()
            .map(|x| x.to_bits())
            .collect::<Vec<_>>()
    };
    assert_eq!(w("a.safetensors"), w("b.safetensors"));
}

/// Issue 11: validation is scored in streams side by side (fast), and each step that scored
/// it says how long that took.
#[test]
fn validation_is_timed_and_close_to_the_whole_text_score() {
    let dir = tempfile::tempdir().unwrap();
    let config = RunConfig {
        steps: Some(6),
        val_frac: Some(0.5),
        eval_every: Some(3),
        ..base(dir.path())
    };
    let (r, seen) = go(&config, None);
    r.unwrap();
    let scored: Vec<_> = seen.steps.iter().filter(|s| s.val.is_some()).collect();
    assert_eq!(scored.len(), 2);
    assert!(scored.iter().all(|s| s.val_secs.is_some_and(|t| t >= 0.0)));
    assert!(seen
        .steps
        .iter()
        .all(|s| s.val.is_some() == s.val_secs.is_some()));
}
