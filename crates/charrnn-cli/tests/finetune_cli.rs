//! Issue 16 on the real binary: `charrnn inspect FILE --model M` says which characters are new
//! to a model, how much of the text they are and whether `--extend-vocab` is needed;
//! `charrnn train --init-from M --extend-vocab` fine-tunes on such a text; bad fine-tuning
//! input is one line and exit code 2.

mod support;

use support::*;

/// A text with characters the fixture's corpus lacks: 'S', 'Ü', 'ß', 'ä', 'ü' (the rest it
/// has).
const GERMAN: &str = "Über die Straße läuft ein süßer hund der Tee mag. ";

fn german(f: &Fixture) -> String {
    std::fs::write(f.path("german.txt"), GERMAN.repeat(10)).unwrap();
    "german.txt".into()
}

/// `charrnn train --data german.txt --init-from model.safetensors` with `more` flags.
fn tune(f: &Fixture, more: &[&str]) -> std::process::Output {
    let mut args = vec![
        "train",
        "--data",
        "german.txt",
        "--init-from",
        "model.safetensors",
        "--steps",
        "6",
        "--seq-len",
        "8",
        "--batch",
        "2",
        "--sample-every",
        "0",
        "--out",
        "tuned.safetensors",
    ];
    args.extend(more);
    f.run(&args)
}

#[test]
fn inspect_with_a_model_names_the_new_characters_and_what_they_cover() {
    let f = Fixture::new();
    f.trained();
    let data = german(&f);
    let o = f.ok(&["inspect", &data, "--model", "model.safetensors"]);
    let out = stdout(&o);
    let total = GERMAN.chars().count() * 10;
    let new = GERMAN.chars().filter(|c| "SÜßäü".contains(*c)).count() * 10;
    for needle in [
        "5 character(s) of the text are new to model.safetensors".to_string(),
        "'S' 10, 'Ü' 10, 'ß' 20, 'ä' 10, 'ü' 10".to_string(),
        format!(
            "they are {new} of its {total} characters ({:.2}%)",
            100.0 * new as f64 / total as f64
        ),
        "needs --extend-vocab".to_string(),
    ] {
        assert!(out.contains(&needle), "{needle:?} not in {out}");
    }
    let o = f.ok(&["inspect", &data, "--model", "model.safetensors", "--json"]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let m = &j["model"];
    assert_eq!(m["new_count"], new as u64);
    assert_eq!(m["extend_vocab_needed"], true);
    assert_eq!(m["new_chars"][1], serde_json::json!(["Ü", 10]));
    let v = m["vocab_size"].as_u64().unwrap();
    assert_eq!(m["extended_vocab_size"], v + 5);
    // The model's own text: nothing new.
    let o = f.ok(&["inspect", "corpus.txt", "--model", "model.safetensors"]);
    assert!(
        stdout(&o).contains("knows every character of the text"),
        "{}",
        stdout(&o)
    );
    // A model that is not there: one line, exit 2.
    assert_bad(
        &f.run(&["inspect", &data, "--model", "nope.safetensors"]),
        &["nope.safetensors"],
    );
}

#[test]
fn init_from_with_new_characters_needs_extend_vocab_and_then_trains() {
    let f = Fixture::new();
    f.trained();
    german(&f);
    assert_bad(
        &tune(&f, &[]),
        &[
            "german.txt has characters that model.safetensors does not know",
            "'ß' (U+00DF)",
            "--extend-vocab",
        ],
    );
    let o = tune(&f, &["--extend-vocab", "--freeze", "embed", "--lr", "0.01"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("--extend-vocab added 5 character(s) the model did not know"),
        "{err}"
    );
    assert!(err.contains("--freeze embed:"), "{err}");
    // The fine-tuned model samples and scores the new characters like any other.
    let o = f.ok(&[
        "score",
        "--model",
        "tuned.safetensors",
        "--data",
        "german.txt",
        "--json",
    ]);
    let j: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(j["nats_per_char"].as_f64().unwrap().is_finite());
}

#[test]
fn bad_fine_tuning_input_is_one_line_and_exit_2() {
    let f = Fixture::new();
    f.trained();
    german(&f);
    // Past --max-vocab.
    assert_bad(
        &tune(&f, &["--extend-vocab", "--max-vocab", "20"]),
        &[
            "--extend-vocab would take the",
            "over --max-vocab 20",
            "raise --max-vocab",
        ],
    );
    // --keep-optimizer with a changed vocabulary.
    assert_bad(
        &tune(&f, &["--extend-vocab", "--keep-optimizer"]),
        &[
            "--keep-optimizer needs the vocabulary of model.safetensors unchanged",
            "drop --keep-optimizer",
        ],
    );
    // Freezing everything.
    assert_bad(
        &f.run(&[
            "train",
            "--data",
            "corpus.txt",
            "--init-from",
            "model.safetensors",
            "--steps",
            "3",
            "--freeze",
            "embed,rnn,out",
            "--out",
            "frozen.safetensors",
        ]),
        &["--freeze embed,rnn,out leaves nothing to train"],
    );
    // A part the model does not have, and no part at all.
    assert_bad(
        &tune(&f, &["--extend-vocab", "--freeze", "rnn.3"]),
        &["--freeze rnn.3: the model has 1 layer, rnn.0"],
    );
    assert_bad(
        &tune(&f, &["--freeze", "lstm"]),
        &["unknown part \"lstm\" for --freeze"],
    );
    // Fine-tuning flags without --init-from.
    assert_bad(
        &f.run(&["train", "--data", "german.txt", "--extend-vocab"]),
        &["--extend-vocab applies to a run that starts from a checkpoint"],
    );
    assert!(!f.path("tuned.safetensors").exists());
}
