//! The real `charrnn` binary on small corpora: good runs, and every kind of bad input.

mod support;

use support::*;

#[test]
fn train_then_sample_twice_with_a_seed_gives_identical_text() {
    let f = Fixture::new();
    let m = f.trained();
    let args = [
        "sample",
        "--model",
        m.to_str().unwrap(),
        "-n",
        "200",
        "--seed",
        "7",
    ];
    let (a, b) = (f.run(&args), f.run(&args));
    assert!(a.status.success(), "{}", stderr(&a));
    assert_eq!(stdout(&a), stdout(&b));
    assert_eq!(stdout(&a).trim_end_matches('\n').chars().count(), 200);
    let c = f.run(&[
        "sample",
        "--model",
        m.to_str().unwrap(),
        "-n",
        "200",
        "--seed",
        "8",
    ]);
    assert_ne!(stdout(&a), stdout(&c), "another seed, other text");
    let vocab: Vec<char> = corpus().chars().collect();
    assert!(stdout(&a)
        .trim_end_matches('\n')
        .chars()
        .all(|c| vocab.contains(&c)));
}

#[test]
fn sample_output_starts_with_the_prime() {
    let f = Fixture::new();
    let m = f.trained();
    let o = f.run(&[
        "sample",
        "--model",
        m.to_str().unwrap(),
        "-n",
        "30",
        "--prime",
        "The café",
        "--seed",
        "1",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.starts_with("The café"), "{out}");
    assert_eq!(
        out.trim_end_matches('\n').chars().count(),
        "The café".chars().count() + 30
    );
}

#[test]
fn train_prints_progress_samples_and_metrics() {
    let f = Fixture::new();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--steps",
        "45",
        "--seq-len",
        "8",
        "--batch",
        "2",
        "--print-every",
        "20",
        "--sample-every",
        "40",
        "--sample-len",
        "25",
        "--metrics",
        "m.jsonl",
        "--dtype",
        "f64",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Issue 13: the result, the model written, on stdout; the log on stderr.
    assert_eq!(stdout(&o), "runs/1/model.safetensors\n");
    let out = stderr(&o);
    for line in ["iter 0, loss: ", "iter 20, loss: ", "iter 40, loss: "] {
        assert!(out.contains(line), "{line} missing in {out}");
    }
    // Samples at steps 0 and 40, and at the end.
    assert_eq!(out.matches("----\n ").count(), 3, "{out}");
    let metrics = std::fs::read_to_string(f.path("m.jsonl")).unwrap();
    let rows: Vec<serde_json::Value> = metrics
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 45);
    for (i, r) in rows.iter().enumerate() {
        assert_eq!(r["step"].as_u64(), Some(i as u64));
        assert!(r["loss"].as_f64().unwrap() > 0.0 && r["smooth_loss"].as_f64().unwrap() > 0.0);
    }
    // A new run writes into its own directory, runs/N, and runs/latest points at it.
    assert!(f.path("runs/1/model.safetensors").exists());
    assert!(f.path("runs/latest/model.safetensors").exists());
}

#[test]
fn init_from_continues_from_a_checkpoint() {
    let f = Fixture::new();
    let m = f.trained();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--init-from",
        m.to_str().unwrap(),
        "--steps",
        "5",
        "--seq-len",
        "8",
        "--batch",
        "2",
        "--out",
        "again.safetensors",
        "--sample-every",
        "0",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("rnn E4 H8"),
        "sizes come from the file: {}",
        stderr(&o)
    );
}

#[test]
fn builtin_corpus_trains_with_no_data_flag() {
    let f = Fixture::new();
    let o = f.run(&[
        "train",
        "--steps",
        "20",
        "--sample-every",
        "0",
        "--sample-len",
        "10",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("built-in corpus"));
}

#[test]
fn bad_corpus_files() {
    let f = Fixture::new();
    assert_bad(
        &f.run(&["train", "--data", "nope.txt"]),
        &["nope.txt", "no such file"],
    );
    std::fs::create_dir(f.path("adir")).unwrap();
    assert_bad(&f.run(&["train", "--data", "adir"]), &["adir", "directory"]);
    std::fs::write(f.path("empty.txt"), "").unwrap();
    assert_bad(
        &f.run(&["train", "--data", "empty.txt"]),
        &["empty.txt", "empty"],
    );
    std::fs::write(f.path("latin1.txt"), b"abc caf\xe9 more text").unwrap();
    assert_bad(
        &f.run(&["train", "--data", "latin1.txt"]),
        &["UTF-8", "byte offset 7"],
    );
    std::fs::write(f.path("short.txt"), "tiny text").unwrap();
    assert_bad(
        &f.run(&["train", "--data", "short.txt"]),
        &[
            "9 characters",
            "at least 256",
            "(2 x 32 x 4: ",
            "two windows",
        ],
    );
}

#[test]
fn bad_sizes_rates_and_steps() {
    let f = Fixture::new();
    for (flag, value, needle) in [
        ("--hidden", "0", "--hidden"),
        ("--emb", "0", "--emb"),
        ("--seq-len", "0", "--seq-len"),
        ("--batch", "0", "--batch"),
        ("--hidden", "-3", "--hidden"),
        ("--batch", "-1", "--batch"),
        ("--lr", "0", "--lr"),
        ("--lr", "-0.1", "--lr"),
        ("--std", "0", "--std"),
        ("--std", "-1", "--std"),
        ("--steps", "0", "--steps"),
        ("--steps", "-5", "--steps"),
        ("--clip", "-1", "--clip"),
        ("--lr", "abc", "--lr"),
    ] {
        let o = f.run(&["train", "--data", "corpus.txt", flag, value]);
        assert_bad(&o, &[needle]);
    }
    assert_bad(
        &f.run(&["train", "--data", "corpus.txt", "--dtype", "f16"]),
        &["f16"],
    );
}

#[test]
fn prime_outside_vocabulary_is_named() {
    let f = Fixture::new();
    let m = f.trained();
    let o = f.run(&[
        "sample",
        "--model",
        m.to_str().unwrap(),
        "--prime",
        "The Zebra",
        "--seed",
        "1",
    ]);
    assert_bad(&o, &["'Z'", "--unknown skip"]);
    let o = f.run(&[
        "sample",
        "--model",
        m.to_str().unwrap(),
        "--prime",
        "The Zebra",
        "--unknown",
        "skip",
        "-n",
        "5",
    ]);
    assert!(o.status.success());
    assert!(stdout(&o).starts_with("The ebra"));
}

/// Rewrites one tensor: (name, shape, bytes) -> (shape, bytes).
type Change = dyn Fn(&str, Vec<usize>, Vec<u8>) -> (Vec<usize>, Vec<u8>);

#[test]
fn bad_checkpoints() {
    let f = Fixture::new();
    let m = f.trained();
    assert_bad(
        &f.run(&["sample", "--model", "missing.safetensors"]),
        &["missing.safetensors", "no such"],
    );
    let bytes = std::fs::read(&m).unwrap();
    std::fs::write(f.path("trunc.safetensors"), &bytes[..bytes.len() / 2]).unwrap();
    assert_bad(
        &f.run(&["sample", "--model", "trunc.safetensors"]),
        &["trunc.safetensors", "truncated"],
    );
    std::fs::write(f.path("text.safetensors"), corpus()).unwrap();
    assert_bad(
        &f.run(&["sample", "--model", "text.safetensors"]),
        &["text.safetensors", "safetensors"],
    );
    assert_bad(
        &f.run(&[
            "train",
            "--data",
            "corpus.txt",
            "--init-from",
            "trunc.safetensors",
        ]),
        &["trunc.safetensors"],
    );

    // Tensors with the wrong shapes, and a vocabulary whose size disagrees.
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let meta = header.metadata().clone().unwrap();
    let rewrite = |name: &str, change: &Change, meta| {
        let tensors: Vec<(String, Vec<usize>, Vec<u8>)> = st
            .tensors()
            .into_iter()
            .map(|(n, v)| {
                let (s, d) = change(&n, v.shape().to_vec(), v.data().to_vec());
                (n, s, d)
            })
            .collect();
        let views = tensors.iter().map(|(n, s, d)| {
            (
                n.clone(),
                safetensors::tensor::TensorView::new(safetensors::Dtype::F32, s.clone(), d)
                    .unwrap(),
            )
        });
        std::fs::write(
            f.path(name),
            safetensors::serialize(views, Some(meta)).unwrap(),
        )
        .unwrap();
    };
    rewrite(
        "shape.safetensors",
        &|n, s, d| {
            if n == "Whh" {
                (vec![s[0] - 1, s[1]], d[..d.len() - s[1] * 4].to_vec())
            } else {
                (s, d)
            }
        },
        meta.clone(),
    );
    assert_bad(
        &f.run(&["sample", "--model", "shape.safetensors"]),
        &["shape.safetensors", "has shape", "expected"],
    );
    let mut short_vocab = meta.clone();
    let v: Vec<String> = serde_json::from_str(&meta["vocab"]).unwrap();
    short_vocab.insert(
        "vocab".into(),
        serde_json::to_string(&v[..v.len() - 1]).unwrap(),
    );
    rewrite("vocab.safetensors", &|_, s, d| (s, d), short_vocab);
    assert_bad(
        &f.run(&["sample", "--model", "vocab.safetensors"]),
        &["vocab.safetensors", "vocabulary"],
    );
}

#[test]
fn failed_run_leaves_the_previous_out_file_intact() {
    let f = Fixture::new();
    let m = f.trained();
    let before = std::fs::read(&m).unwrap();
    // Unknown characters for the model: the run fails before training.
    std::fs::write(f.path("other.txt"), "ZZZZ QQQQ ".repeat(50)).unwrap();
    std::fs::write(f.path("prev.safetensors"), &before).unwrap();
    let o = f.run(&[
        "train",
        "--data",
        "other.txt",
        "--init-from",
        "model.safetensors",
        "--out",
        "prev.safetensors",
        "--overwrite",
    ]);
    assert_bad(&o, &["'Z'"]);
    assert_eq!(std::fs::read(f.path("prev.safetensors")).unwrap(), before);
    assert_eq!(std::fs::read(&m).unwrap(), before);
    // Writing over the model it starts from is refused before anything is done.
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--init-from",
        "model.safetensors",
        "--out",
        "model.safetensors",
    ]);
    assert_bad(&o, &["--out model.safetensors", "same file as --init-from"]);
    assert_eq!(std::fs::read(&m).unwrap(), before);
    // No temp files are left behind by the successful saves either.
    let names: Vec<String> = std::fs::read_dir(f.dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(names.iter().all(|n| !n.contains(".tmp")), "{names:?}");
}

#[test]
fn out_into_a_missing_directory_is_a_clear_error() {
    let f = Fixture::new();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--steps",
        "2",
        "--out",
        "no/such/dir/m.safetensors",
        "--sample-every",
        "0",
    ]);
    assert_bad(&o, &["does not exist"]);
}

#[test]
fn every_cell_and_depth_trains_validates_samples_and_scores() {
    let f = Fixture::new();
    for (cell, layers, optim) in [
        ("rnn", "2", "rmsprop"),
        ("lstm", "1", "adam"),
        ("gru", "3", "sgd"),
    ] {
        let out = format!("{cell}.safetensors");
        let o = f.run(&[
            "train",
            "--data",
            "corpus.txt",
            "--cell",
            cell,
            "--layers",
            layers,
            "--optim",
            optim,
            "--hidden",
            "12",
            "--emb",
            "6",
            "--steps",
            "25",
            "--seq-len",
            "8",
            "--batch",
            "2",
            "--val-frac",
            "0.2",
            "--eval-every",
            "10",
            "--dropout",
            "0.2",
            "--sample-every",
            "0",
            "--sample-len",
            "10",
            "--out",
            &out,
        ]);
        assert!(o.status.success(), "{cell}: {}", stderr(&o));
        let text = stderr(&o);
        assert_eq!(
            text.matches("validation loss").count(),
            3,
            "steps 10, 20 and the end: {text}"
        );
        let s = f.run(&[
            "sample", "--model", &out, "-n", "40", "--seed", "3", "--prime", "The",
        ]);
        assert!(s.status.success(), "{}", stderr(&s));
        assert_eq!(stdout(&s).trim_end_matches('\n').chars().count(), 43);
        let sc = f.run(&["score", "--model", &out, "--data", "corpus.txt", "--json"]);
        assert!(sc.status.success(), "{}", stderr(&sc));
        let j: serde_json::Value = serde_json::from_str(stdout(&sc).trim()).unwrap();
        let nats = j["nats_per_char"].as_f64().unwrap();
        assert!(
            (j["bits_per_char"].as_f64().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-9
        );
        assert!((j["perplexity"].as_f64().unwrap() - nats.exp()).abs() < 1e-6);
        assert_eq!(
            j["chars"].as_u64().unwrap() as usize,
            corpus().chars().count() - 1
        );
        // The checkpoint names its cell; re-training from it infers cell, layers and sizes.
        let again = f.run(&[
            "train",
            "--data",
            "corpus.txt",
            "--init-from",
            &out,
            "--steps",
            "2",
            "--seq-len",
            "8",
            "--batch",
            "2",
            "--sample-every",
            "0",
            "--out",
            "again.safetensors",
            "--overwrite",
        ]);
        assert!(again.status.success(), "{}", stderr(&again));
        assert!(
            stderr(&again).contains(&format!("{cell} E6 H12 x{layers}")),
            "{}",
            stderr(&again)
        );
    }
}

#[test]
fn score_lists_unknown_characters_unless_skipped() {
    let f = Fixture::new();
    let m = f.trained();
    std::fs::write(f.path("other.txt"), "The fox Zigzags over Quays.").unwrap();
    let o = f.run(&[
        "score",
        "--model",
        m.to_str().unwrap(),
        "--data",
        "other.txt",
    ]);
    assert_bad(&o, &["'Z'", "'Q'", "--unknown skip"]);
    let o = f.run(&[
        "score",
        "--model",
        m.to_str().unwrap(),
        "--data",
        "other.txt",
        "--unknown",
        "skip",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stdout(&o).contains("bits/char"));
}

#[test]
fn bad_cells_optimizers_layers_dropout() {
    let f = Fixture::new();
    for (args, needle) in [
        (vec!["--cell", "transformer"], "transformer"),
        (vec!["--optim", "lion"], "lion"),
        (vec!["--layers", "0"], "--layers"),
        (vec!["--dropout", "1"], "--dropout"),
        (vec!["--dropout", "-0.1"], "--dropout"),
        (vec!["--val-frac", "1.5"], "--val-frac"),
        (vec!["--lr-decay", "0"], "--lr-decay"),
    ] {
        let mut full = vec!["train", "--data", "corpus.txt", "--steps", "2"];
        full.extend(args);
        assert_bad(&f.run(&full), &[needle]);
    }
    let m = f.trained();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--init-from",
        m.to_str().unwrap(),
        "--cell",
        "lstm",
    ]);
    assert_bad(&o, &["--cell lstm", "rnn"]);
}

#[test]
fn checkpoint_whose_tensors_do_not_match_its_declared_cell() {
    let f = Fixture::new();
    let m = f.trained();
    let bytes = std::fs::read(&m).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let mut meta = header.metadata().clone().unwrap();
    meta.insert("cell".into(), "lstm".into());
    let tensors = st.tensors();
    std::fs::write(
        f.path("liar.safetensors"),
        safetensors::serialize(tensors, Some(meta)).unwrap(),
    )
    .unwrap();
    assert_bad(
        &f.run(&["sample", "--model", "liar.safetensors"]),
        &["liar.safetensors", "cell lstm"],
    );
}

#[test]
fn max_vocab_maps_rare_characters_to_the_unknown_symbol() {
    let f = Fixture::new();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--steps",
        "5",
        "--seq-len",
        "8",
        "--batch",
        "2",
        "--max-vocab",
        "12",
        "--sample-every",
        "0",
        "--out",
        "small.safetensors",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("vocabulary 12;"), "{}", stderr(&o));
    let bytes = std::fs::read(f.path("small.safetensors")).unwrap();
    let (_, header) = safetensors::SafeTensors::read_metadata(&bytes).unwrap();
    let vocab: Vec<String> =
        serde_json::from_str(&header.metadata().clone().unwrap()["vocab"]).unwrap();
    assert_eq!(vocab.len(), 12);
    assert!(vocab.iter().any(|c| c == "\u{FFFD}"), "{vocab:?}");
    // Scoring any text with it works: unknown characters become the unknown symbol.
    let s = f.run(&[
        "score",
        "--model",
        "small.safetensors",
        "--data",
        "corpus.txt",
        "--json",
    ]);
    assert!(s.status.success(), "{}", stderr(&s));
    assert_bad(
        &f.run(&["train", "--data", "corpus.txt", "--max-vocab", "1"]),
        &["--max-vocab"],
    );
}

#[test]
fn a_second_run_on_a_locked_checkpoint_directory_refuses() {
    let f = Fixture::new();
    std::fs::create_dir(f.path("ck")).unwrap();
    let _held = charrnn::fsutil::DirLock::acquire(&f.path("ck")).unwrap();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--steps",
        "5",
        "--seq-len",
        "8",
        "--batch",
        "2",
        "--checkpoint-dir",
        "ck",
    ]);
    assert_bad(&o, &["ck", "another charrnn run"]);
}

#[test]
fn presets_fill_what_the_flags_leave() {
    let f = Fixture::new();
    let train = |extra: &[&str]| {
        let mut args = vec!["train", "--steps", "2", "--sample-every", "0"];
        args.extend_from_slice(extra);
        let o = f.run(&args);
        assert!(o.status.success(), "{}", stderr(&o));
        stderr(&o)
    };
    let log = train(&["--preset", "small"]);
    assert!(log.contains("lstm E48 H384 x1"), "{log}");
    assert!(log.contains("T64 B32, adam"), "{log}");
    // A flag given wins over the recipe's value; the rest stays the recipe's.
    let log = train(&["--preset", "small", "--hidden", "40"]);
    assert!(log.contains("lstm E48 H40 x1"), "{log}");
    // auto: the built-in corpus is small, so the small recipe.
    let log = train(&["--preset", "auto"]);
    assert!(log.contains("lstm E48 H384 x1"), "{log}");
    // tiny is the notebook's model, what a run without a preset trains.
    let log = train(&["--preset", "tiny"]);
    assert!(log.contains("rnn E4 H32 x1"), "{log}");
    assert_bad(
        &f.run(&["train", "--preset", "huge"]),
        &["huge", "small", "medium"],
    );
}
