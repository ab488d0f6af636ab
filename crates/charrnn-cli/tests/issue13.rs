//! Issue 13's command-line items, on the real binary: closed and full output streams (item
//! 5), clap's whole usage errors (8), unwritable plots, standard input and pipes, the
//! too-short message, `score --help` (9), `inspect --data`, unknown characters alike in
//! `sample` and `score`, SIGTERM's exit code (10), the drawn seed, warnings for flags that do
//! not apply, no lock file left, grouped `train --help`, completions, `--version` (11), and
//! `sample` taking the latest run's model (12).

mod support;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use support::*;

/// A small, quick training run's flags.
const SMALL: [&str; 12] = [
    "--data",
    "corpus.txt",
    "--seq-len",
    "8",
    "--batch",
    "2",
    "--hidden",
    "8",
    "--sample-every",
    "0",
    "--sample-len",
    "10",
];

fn train(f: &Fixture, extra: &[&str]) -> Output {
    let mut args = vec!["train"];
    args.extend(SMALL);
    args.extend(extra);
    f.run(&args)
}

/// `sh -c script` in the fixture, with `$B` the binary; its exit code goes to the file `rc`.
fn sh(f: &Fixture, script: &str) -> Output {
    Command::new("sh")
        .current_dir(f.dir.path())
        .env("B", BIN)
        .args(["-c", script])
        .output()
        .unwrap()
}

fn rc(f: &Fixture) -> i32 {
    std::fs::read_to_string(f.path("rc"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn no_panic(o: &Output) {
    let err = stderr(o);
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "{err}"
    );
}

/// Item 5: `charrnn train | head -1` reads the run's result, the model's path, and the
/// run ends normally; the log goes to stderr.
#[test]
fn train_into_head_gets_the_model_path() {
    let f = Fixture::new();
    let o = sh(
        &f,
        "{ \"$B\" train --data corpus.txt --steps 30 --seq-len 8 --batch 2 --print-every 1 \
         --sample-every 10; echo $? > rc; } 2> log | head -1",
    );
    assert_eq!(rc(&f), 0, "{}", stderr(&o));
    assert_eq!(stdout(&o), "runs/1/model.safetensors\n");
    let log = std::fs::read_to_string(f.path("log")).unwrap();
    assert!(
        log.contains("iter 29, loss") && log.contains("----\n "),
        "{log}"
    );
    assert!(!log.contains("panicked"), "{log}");
    charrnn::checkpoint::load::<f32>(&f.path("runs/1/model.safetensors")).unwrap();
}

/// Item 5: a log that is a closed pipe (`charrnn train 2>&1 | head -1`) stops the run as an
/// interrupt does: it writes a resumable checkpoint and exits 141 (128 + SIGPIPE); no panic,
/// no lost work.
#[test]
fn train_whose_log_is_a_closed_pipe_stops_with_a_checkpoint() {
    let f = Fixture::new();
    let o = sh(
        &f,
        "{ \"$B\" train --data corpus.txt --steps 100000000 --seq-len 8 --batch 2 \
         --print-every 1 --sample-every 0; echo $? > rc; } 2>&1 | head -1",
    );
    assert_eq!(rc(&f), 141, "{}", stdout(&o));
    assert!(
        stdout(&o).starts_with("charrnn: corpus.txt: "),
        "{}",
        stdout(&o)
    );
    let names = f.checkpoints("runs/1/checkpoints");
    assert_eq!(names.len(), 1, "{names:?}");
    let ck = format!("runs/1/checkpoints/{}", names[0]);
    let step = charrnn::resume::load::<f32>(&f.path(&ck))
        .unwrap()
        .state
        .step;
    assert!(step >= 1, "{step}");
    let target = (step + 3).to_string();
    let o = f.ok(&["train", "--resume", &ck, "--steps", &target, "-q"]);
    assert_eq!(stdout(&o), "runs/1/model.safetensors\n");
}

/// Item 5: `charrnn sample | head -c 10` ends quietly, exit 0, nothing on stderr but the seed.
#[test]
fn sample_into_head_ends_quietly() {
    let f = Fixture::new();
    f.trained();
    let o = sh(
        &f,
        "{ \"$B\" sample --model model.safetensors -n 100000000 --seed 1; echo $? > rc; } \
         2> err | head -c 10",
    );
    assert_eq!(rc(&f), 0);
    assert_eq!(o.stdout.len(), 10);
    assert_eq!(std::fs::read_to_string(f.path("err")).unwrap(), "");
}

/// The other commands' arguments, each with something on stdout.
fn writers(f: &Fixture) -> Vec<Vec<String>> {
    f.trained();
    f.ok(&[
        "train",
        "--data",
        "corpus.txt",
        "--steps",
        "5",
        "--seq-len",
        "8",
        "--batch",
        "2",
        "--metrics",
        "m.jsonl",
        "-q",
        "--out",
        "m.safetensors",
    ]);
    [
        "inspect corpus.txt",
        "inspect corpus.txt --json",
        "score --model model.safetensors --data corpus.txt",
        "score --model model.safetensors --data corpus.txt --json",
        "sample --model model.safetensors -n 20 --seed 1",
        "bench --config seed --seconds 0.2 --data corpus.txt",
        "bench --config seed --seconds 0.2 --data corpus.txt --json",
        "plot --metrics m.jsonl --out loss.svg",
        "completions bash",
        "--help",
        "train --help",
        "--version",
    ]
    .iter()
    .map(|a| a.split(' ').map(String::from).collect())
    .collect()
}

/// Item 5: every command into a pipe whose reader has gone: no panic, exit 0.
#[test]
fn every_command_into_a_closed_pipe_ends_quietly() {
    let f = Fixture::new();
    let mut all = writers(&f);
    all.push(
        ["train", "--steps", "3", "--out", "piped.safetensors"]
            .iter()
            .chain(SMALL.iter())
            .map(|s| s.to_string())
            .collect(),
    );
    for args in all {
        let mut child = f
            .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take()); // the reader goes before anything is written
        let o = child.wait_with_output().unwrap();
        no_panic(&o);
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("error"), "{args:?}: {}", stderr(&o));
    }
    // The training run still wrote its model.
    charrnn::checkpoint::load::<f32>(&f.path("piped.safetensors")).unwrap();
}

/// Item 5: every command writing to a full disk (/dev/full): a one-line error, exit 2.
#[test]
fn every_command_into_a_full_disk_is_a_one_line_error() {
    let f = Fixture::new();
    let mut all = writers(&f);
    all.push(
        ["train", "--steps", "3", "--out", "full.safetensors", "-q"]
            .iter()
            .chain(SMALL.iter())
            .map(|s| s.to_string())
            .collect(),
    );
    for args in all {
        let full = std::fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let o = f
            .cmd(&args.iter().map(String::as_str).collect::<Vec<_>>())
            .stdout(full)
            .output()
            .unwrap();
        assert_bad(&o, &["standard output", "No space left on device"]);
    }
    // The training run says its model is saved, and it is.
    charrnn::checkpoint::load::<f32>(&f.path("full.safetensors")).unwrap();
}

/// Item 8: clap's whole message: the suggestion, the possible values, the missing
/// arguments' names, the command's usage line.
#[test]
fn usage_errors_keep_clap_s_whole_message() {
    let f = Fixture::new();
    for (args, needles) in [
        (
            vec!["trian"],
            vec![
                "unrecognized subcommand 'trian'",
                "a similar subcommand exists: 'train'",
                "Usage: charrnn <COMMAND>",
            ],
        ),
        (
            vec!["train", "--hiden", "64"],
            vec![
                "unexpected argument '--hiden'",
                "a similar argument exists: '--hidden'",
                "Usage: charrnn train",
            ],
        ),
        (
            vec!["train", "--cell", "transformer"],
            vec![
                "invalid value 'transformer' for '--cell <CELL>'",
                "[possible values: rnn, lstm, gru, mingru]",
            ],
        ),
        (
            vec!["score", "--json"],
            vec![
                "the following required arguments were not provided",
                "--model <FILE>",
                "--data <FILE>",
                "Usage: charrnn score --model <FILE> --data <FILE>",
            ],
        ),
        (
            vec!["inspect"],
            vec!["required arguments were not provided", "<FILE>"],
        ),
        (
            vec!["completions", "tcsh"],
            vec!["invalid value 'tcsh'", "bash", "zsh", "fish"],
        ),
    ] {
        let o = f.run(&args);
        assert_bad(&o, &needles);
        assert!(stderr(&o).lines().count() > 1, "{}", stderr(&o));
        assert!(stdout(&o).is_empty());
    }
}

/// Item 9: a plot that cannot be written is a one-line error naming the path, no debug
/// output.
#[test]
fn plot_to_an_unwritable_path_is_one_line() {
    let f = Fixture::new();
    train(&f, &["--steps", "5", "--metrics", "m.jsonl"]);
    for out in ["/proc/x.png", "/proc/x.svg"] {
        let o = f.run(&["plot", "--metrics", "m.jsonl", "--out", out]);
        assert_bad(&o, &[out, "cannot write"]);
        assert!(!stderr(&o).contains("Os {"), "{}", stderr(&o));
    }
}

/// `charrnn ARGS` with `input` on standard input.
fn with_stdin(f: &Fixture, args: &[&str], input: &str) -> Output {
    let mut child = f
        .cmd(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let input = input.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(input.as_bytes());
    });
    let o = child.wait_with_output().unwrap();
    writer.join().unwrap();
    o
}

/// Item 9 and 10: `-` and pipes are read whole by inspect and score (the right sizes); train
/// says it needs a regular file, and why; inspect takes --data as the others do.
#[test]
fn standard_input_and_pipes() {
    let f = Fixture::new();
    let text = corpus();
    let json = |o: &Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", stderr(o));
        serde_json::from_str(stdout(o).trim()).unwrap()
    };
    let file = json(&f.run(&["inspect", "corpus.txt", "--json"]));
    assert_eq!(file["bytes"].as_u64().unwrap() as usize, text.len());
    for args in [
        vec!["inspect", "-", "--json"],
        vec!["inspect", "/dev/stdin", "--json"],
        vec!["inspect", "--data", "-", "--json"],
    ] {
        let piped = json(&with_stdin(&f, &args, &text));
        for k in [
            "bytes",
            "chars",
            "vocab_size",
            "bigram_nats",
            "windows_per_epoch",
        ] {
            assert_eq!(piped[k], file[k], "{args:?}: {k}");
        }
    }
    let by_flag = f.ok(&["inspect", "--data", "corpus.txt"]);
    assert_eq!(stdout(&by_flag), stdout(&f.ok(&["inspect", "corpus.txt"])));
    assert_bad(
        &f.run(&["inspect", "corpus.txt", "--data", "corpus.txt"]),
        &["cannot be used with"],
    );
    let o = with_stdin(&f, &["inspect", "-"], "");
    assert_bad(&o, &["standard input", "empty"]);

    f.trained();
    let from_file = f.ok(&[
        "score",
        "--model",
        "model.safetensors",
        "--data",
        "corpus.txt",
        "--json",
    ]);
    let from_pipe = with_stdin(
        &f,
        &[
            "score",
            "--model",
            "model.safetensors",
            "--data",
            "-",
            "--json",
        ],
        &text,
    );
    assert_eq!(json(&from_pipe), json(&from_file));

    let o = with_stdin(&f, &["train", "--data", "-"], &text);
    assert_bad(&o, &["--data -", "regular file", "corpus.txt"]);
    let o = with_stdin(
        &f,
        &["train", "--data", "/dev/stdin", "--steps", "3"],
        &text,
    );
    assert_bad(
        &o,
        &["/dev/stdin", "not a regular file", "pipe", "save the text"],
    );
}

/// Item 9: `score --help` speaks of the text, not of a prime.
#[test]
fn score_help_speaks_of_the_text() {
    let f = Fixture::new();
    let help = stdout(&f.ok(&["score", "--help"]));
    assert!(!help.to_lowercase().contains("prime"), "{help}");
    assert!(help.contains("--unknown"), "{help}");
}

/// Item 10: on a model with the unknown symbol (--max-vocab), `sample` and `score` both read
/// unknown characters as it, saying so; `--unknown error` refuses them in both; on a model
/// without it both refuse by default, and `--unknown replace` is an error.
#[test]
fn unknown_characters_alike_in_sample_and_score() {
    let f = Fixture::new();
    f.ok(&[
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
        "--out",
        "small.safetensors",
        "-q",
    ]);
    std::fs::write(f.path("zq.txt"), "The Zebra and the Quail. ".repeat(4)).unwrap();
    let sample = |m: &str, unknown: &[&str]| {
        let mut args = vec![
            "sample",
            "--model",
            m,
            "--prime",
            "The Zebra",
            "-n",
            "5",
            "--seed",
            "1",
        ];
        args.extend(unknown);
        f.run(&args)
    };
    let score = |m: &str, unknown: &[&str]| {
        let mut args = vec!["score", "--model", m, "--data", "zq.txt"];
        args.extend(unknown);
        f.run(&args)
    };
    for o in [
        sample("small.safetensors", &[]),
        score("small.safetensors", &[]),
    ] {
        assert!(o.status.success(), "{}", stderr(&o));
        assert!(
            stderr(&o).contains("unknown symbol U+FFFD") && stderr(&o).contains("'Z'"),
            "{}",
            stderr(&o)
        );
    }
    assert!(stdout(&sample("small.safetensors", &[])).starts_with("\u{FFFD}"));
    for o in [
        sample("small.safetensors", &["--unknown", "error"]),
        score("small.safetensors", &["--unknown", "error"]),
    ] {
        assert_bad(&o, &["'Z'", "--unknown skip"]);
    }
    f.trained();
    for o in [
        sample("model.safetensors", &[]),
        score("model.safetensors", &[]),
    ] {
        assert_bad(&o, &["'Z'", "--unknown skip"]);
    }
    for o in [
        sample("model.safetensors", &["--unknown", "replace"]),
        score("model.safetensors", &["--unknown", "replace"]),
    ] {
        assert_bad(
            &o,
            &["--unknown replace", "no unknown symbol", "--max-vocab"],
        );
    }
    let o = score("model.safetensors", &["--unknown", "skip"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("left out"), "{}", stderr(&o));
}

/// Item 11: without --seed, `sample` says on stderr which seed it drew, and that seed gives
/// the same text again.
#[test]
fn sample_tells_the_seed_it_drew() {
    let f = Fixture::new();
    let m = f.trained();
    let m = m.to_str().unwrap();
    let o = f.ok(&["sample", "--model", m, "-n", "80"]);
    let err = stderr(&o);
    let seed = err
        .strip_prefix("seed: ")
        .and_then(|s| s.split(' ').next())
        .unwrap_or_else(|| panic!("no seed in {err:?}"));
    assert!(
        err.contains(&format!("--seed {seed} gives this text again")),
        "{err}"
    );
    let again = f.ok(&["sample", "--model", m, "-n", "80", "--seed", seed]);
    assert_eq!(stdout(&again), stdout(&o));
    assert_eq!(stderr(&again), "", "a seed given is not told");
}

/// Item 11: flags the run does not use are named in warnings (also with --quiet); flags it
/// uses are not.
#[test]
fn flags_that_do_not_apply_warn() {
    let f = Fixture::new();
    let m = f.trained();
    let m = m.to_str().unwrap();
    for (extra, needles) in [
        (
            vec!["--beta1", "0.5"],
            vec!["warning: --beta1 has no effect", "--optim adam", "adagrad"],
        ),
        (
            vec!["--optim", "adam", "--momentum", "0.9", "--alpha", "0.9"],
            vec![
                "--momentum has no effect",
                "--optim sgd",
                "--alpha has no effect",
            ],
        ),
        (
            vec!["--optim", "sgd", "--beta1", "0.5", "--beta2", "0.9"],
            vec!["--beta1, --beta2 have no effect: only --optim adam uses them"],
        ),
        (
            vec!["--lr-decay-every", "10"],
            vec!["--lr-decay-every has no effect", "--lr-decay"],
        ),
        (
            vec!["--lr-min", "0.001"],
            vec!["--lr-min has no effect", "--cosine"],
        ),
        (
            vec!["--init-from", m, "--max-vocab", "5", "--min-count", "2"],
            vec!["--max-vocab, --min-count have no effect", "--init-from"],
        ),
        (
            vec!["--cell", "gru", "--std", "0.1"],
            vec!["--std has no effect", "--init notebook", "--init torch"],
        ),
        (
            vec!["--clip", "0", "--clip-mode", "norm"],
            vec!["--clip-mode has no effect", "--clip 0"],
        ),
        (
            vec!["-q", "--eval-every", "5"],
            vec!["--eval-every has no effect", "--val-frac"],
        ),
    ] {
        let mut args = vec!["--steps", "3", "--run-dir", "w", "--overwrite"];
        args.extend(&extra);
        let o = train(&f, &args);
        assert!(o.status.success(), "{extra:?}: {}", stderr(&o));
        for n in needles {
            assert!(
                stderr(&o).contains(n),
                "{extra:?}: {n:?} not in {}",
                stderr(&o)
            );
        }
        std::fs::remove_dir_all(f.path("w")).unwrap();
    }
    // Flags the run uses: no warning.
    let o = train(
        &f,
        &[
            "--steps",
            "3",
            "--optim",
            "adam",
            "--beta1",
            "0.8",
            "--lr-decay",
            "0.5",
            "--lr-decay-every",
            "2",
            "--val-frac",
            "0.2",
            "--eval-every",
            "2",
        ],
    );
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

/// Item 11: a run leaves no `.charrnn.lock` in its checkpoint directory, finished or
/// interrupted.
#[test]
fn no_lock_file_is_left_behind() {
    let f = Fixture::new();
    let o = train(&f, &["--steps", "6", "--checkpoint-every", "2", "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(f.checkpoints("runs/1/checkpoints").len(), 3);
    assert!(!f.path("runs/1/checkpoints/.charrnn.lock").exists());
    // Interrupted by a closed log: still none.
    sh(
        &f,
        "\"$B\" train --data corpus.txt --steps 100000000 --seq-len 8 --batch 2 \
         --print-every 1 --sample-every 0 2>&1 | head -1 > /dev/null",
    );
    assert_eq!(f.checkpoints("runs/2/checkpoints").len(), 1);
    let names: Vec<_> = std::fs::read_dir(f.path("runs/2/checkpoints"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
}

/// Item 11: `train --help` groups its flags under headings and ends with examples.
#[test]
fn train_help_is_grouped_with_examples() {
    let f = Fixture::new();
    let help = stdout(&f.ok(&["train", "--help"]));
    let mut at = 0;
    for heading in [
        "Data:",
        "Model:",
        "Optimizer:",
        "Schedule:",
        "Stopping:",
        "Checkpoints and outputs:",
        "Reporting:",
        "Examples:",
    ] {
        let found = help[at..]
            .find(&format!("\n{heading}\n"))
            .unwrap_or_else(|| panic!("{heading} missing or out of order in {help}"));
        at += found + 1;
    }
    // A flag under its group.
    let optimizer =
        &help[help.find("\nOptimizer:\n").unwrap()..help.find("\nSchedule:\n").unwrap()];
    assert!(optimizer.contains("--beta1") && !optimizer.contains("--hidden"));
    assert!(
        help.contains("charrnn train --resume runs/1/checkpoints/"),
        "{help}"
    );
}

/// Item 11: completion scripts for the usual shells.
#[test]
fn completions_for_each_shell() {
    let f = Fixture::new();
    for (shell, needle) in [
        ("bash", "_charrnn()"),
        ("zsh", "#compdef charrnn"),
        ("fish", "complete -c charrnn"),
        ("elvish", "charrnn"),
        ("powershell", "charrnn"),
    ] {
        let out = stdout(&f.ok(&["completions", shell]));
        assert!(out.contains(needle), "{shell}: {out}");
        assert!(
            out.contains("train") && out.contains("--max-time"),
            "{shell}"
        );
    }
}

/// Item 11: `--version` names the commit the binary was built from.
#[test]
fn version_names_the_commit() {
    let f = Fixture::new();
    let v = stdout(&f.ok(&["--version"]));
    let want = format!("charrnn {}", env!("CARGO_PKG_VERSION"));
    assert!(v.starts_with(&want), "{v}");
    let head = Command::new("git")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(["rev-parse", "--short=12", "HEAD"])
        .output();
    if let Some(h) = head.ok().filter(|h| h.status.success()) {
        let commit = String::from_utf8(h.stdout).unwrap();
        assert!(
            v.contains(&format!("(commit {}, ", commit.trim())),
            "{v} vs HEAD {commit}"
        );
    }
}

/// Item 12: `charrnn train` then `charrnn sample` samples the model the run wrote; the run
/// says so; without a finished run, the error says what to do.
#[test]
fn sample_takes_the_latest_run_s_model() {
    let f = Fixture::new();
    assert_bad(
        &f.run(&["sample", "-n", "5"]),
        &[
            "no --model given",
            "runs/latest/model.safetensors",
            "--model FILE",
        ],
    );
    let o = train(&f, &["--steps", "5"]);
    assert!(
        stderr(&o).contains("sample it: charrnn sample -n 500"),
        "{}",
        stderr(&o)
    );
    let latest = f.ok(&["sample", "-n", "40", "--seed", "2"]);
    assert!(
        stderr(&latest).contains("runs/latest/model.safetensors"),
        "{}",
        stderr(&latest)
    );
    let named = f.ok(&[
        "sample",
        "--model",
        "runs/1/model.safetensors",
        "-n",
        "40",
        "--seed",
        "2",
    ]);
    assert_eq!(stdout(&latest), stdout(&named));
    // A run elsewhere names its model in the hint.
    let o = train(&f, &["--steps", "5", "--out", "elsewhere.safetensors"]);
    assert!(
        stderr(&o).contains("sample it: charrnn sample --model elsewhere.safetensors"),
        "{}",
        stderr(&o)
    );
    // A run stopped before its end has no model yet.
    sh(
        &f,
        "\"$B\" train --data corpus.txt --steps 100000000 --seq-len 8 --batch 2 \
         --print-every 1 --sample-every 0 2>&1 | head -1 > /dev/null",
    );
    assert!(Path::new(&f.path("runs/latest/checkpoints")).is_dir());
    assert_bad(
        &f.run(&["sample", "-n", "5"]),
        &["no --model given", "has no model yet", "--resume"],
    );
}

/// Item 12: the README installs `charrnn` before using it, its quick try samples the model
/// the first command wrote, and the output it shows has the current shape: the header the
/// binary prints now (numbers aside), the model in runs/1, the result line on stdout last.
#[test]
fn readme_quick_try_matches_the_binary() {
    let readme = include_str!("../../../README.md");
    let quick = &readme[readme.find("## Three commands").unwrap()..];
    let commands = &quick[..quick.find("```\n\n").unwrap()];
    assert!(commands.contains("cargo install --path crates/charrnn-cli"));
    assert!(commands.contains("\ncharrnn train "), "{commands}");
    let sample = commands
        .lines()
        .find(|l| l.starts_with("charrnn sample"))
        .unwrap();
    assert!(!sample.contains("--model"), "{sample}");
    let begin = "<!-- begin: charrnn train's output, left out of the built-in corpus -->\n```\n";
    let shown = &readme[readme.find(begin).unwrap() + begin.len()..];
    let shown: Vec<&str> = shown[..shown.find("```").unwrap()].lines().collect();
    let digits = |s: &str| {
        let mut out = String::new();
        for c in s.chars() {
            if c.is_ascii_digit() {
                if !out.ends_with('N') {
                    out.push('N');
                }
            } else {
                out.push(c);
            }
        }
        out
    };
    let f = Fixture::new();
    let o = f.ok(&[
        "train",
        "--steps",
        "1",
        "--sample-every",
        "0",
        "--sample-len",
        "5",
    ]);
    let header = stderr(&o).lines().next().unwrap().to_string();
    assert_eq!(digits(shown[0]), digits(&header));
    let n = shown.len();
    assert!(
        shown[n - 3].starts_with("done: 50000 steps")
            && shown[n - 3].ends_with("; saved runs/1/model.safetensors"),
        "{}",
        shown[n - 3]
    );
    assert_eq!(shown[n - 2], "sample it: charrnn sample -n 500");
    assert_eq!(shown[n - 1], stdout(&o).trim_end());
}
