//! Issue 5, on the real binary: exact resume, checkpoint rotation, interrupts (SIGINT, a
//! second SIGINT, SIGKILL in the middle of a save), stopping rules, the divergence guard,
//! metrics, plots and `inspect`.

mod support;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use support::*;

fn rows(path: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn weights(path: &Path) -> Vec<u64> {
    let ck = charrnn::checkpoint::load::<f64>(path).unwrap();
    ck.model.w.iter().map(|x| x.to_bits()).collect()
}

/// The path after "resume with: charrnn train --resume ".
fn resume_path(text: &str) -> String {
    let at = text
        .find("resume with: charrnn train --resume ")
        .unwrap_or_else(|| panic!("no resume hint in {text:?}"));
    text[at..]
        .lines()
        .next()
        .unwrap()
        .rsplit(' ')
        .next()
        .unwrap()
        .to_string()
}

fn send(child: &Child, signal: libc::c_int) {
    // SAFETY: kill(2) on the pid of a child this test spawned and has not waited for yet.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0, "kill({}, {signal}) failed", child.id());
}

/// Spawn `charrnn` and return once a line of its log (stderr) contains `needle`; the thread
/// returns the whole log.
fn spawn_until(
    f: &Fixture,
    args: &[&str],
    needle: &str,
) -> (Child, std::thread::JoinHandle<String>) {
    let mut child = f
        .cmd(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let needle = needle.to_string();
    let reader = std::thread::spawn(move || {
        let mut all = String::new();
        let mut sent = false;
        for line in BufReader::new(out).lines().map_while(|l| l.ok()) {
            all.push_str(&line);
            all.push('\n');
            if !sent && line.contains(&needle) {
                let _ = tx.send(());
                sent = true;
            }
        }
        all
    });
    rx.recv_timeout(Duration::from_secs(60))
        .expect("the run printed its progress");
    (child, reader)
}

const BASE: [&str; 14] = [
    "train",
    "--data",
    "corpus.txt",
    "--seq-len",
    "8",
    "--batch",
    "3",
    "--hidden",
    "10",
    "--emb",
    "5",
    "--sample-every",
    "0",
    "-q",
];

fn with<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v: Vec<&str> = BASE.to_vec();
    v.extend_from_slice(extra);
    v
}

#[test]
fn resume_through_the_binary_repeats_the_run_exactly() {
    for (cell, dtype, optim) in [
        ("lstm", "f32", "adam"),
        ("gru", "f64", "adagrad"),
        ("rnn", "f32", "rmsprop"),
        ("mingru", "f32", "sgd"),
    ] {
        let f = Fixture::new();
        let common = [
            "--cell",
            cell,
            "--dtype",
            dtype,
            "--optim",
            optim,
            "--layers",
            "2",
            "--dropout",
            "0.2",
            "--threads",
            "2",
            "--val-frac",
            "0.1",
            "--eval-every",
            "7",
            "--lr",
            "0.01",
        ];
        let mut straight = with(&common);
        straight.extend([
            "--steps",
            "40",
            "--metrics",
            "a.jsonl",
            "--out",
            "a.safetensors",
        ]);
        f.ok(&straight);
        let mut half = with(&common);
        half.extend([
            "--steps",
            "17",
            "--metrics",
            "b.jsonl",
            "--out",
            "b.safetensors",
            "--checkpoint-every",
            "17",
        ]);
        f.ok(&half);
        // Beside --out b.safetensors (no run directory): b.checkpoints.
        let ckpts = f.checkpoints("b.checkpoints");
        assert_eq!(ckpts.len(), 1, "{ckpts:?}");
        let ck = format!("b.checkpoints/{}", ckpts[0]);
        // --resume alone takes the rest from the file; --steps is the total.
        f.ok(&["train", "--resume", &ck, "--steps", "40", "-q"]);
        let (a, b) = (rows(&f.path("a.jsonl")), rows(&f.path("b.jsonl")));
        assert_eq!(a.len(), 40);
        assert_eq!(b.len(), 40, "the resumed run appends to the run's metrics");
        for (x, y) in a.iter().zip(&b) {
            for k in [
                "step",
                "epoch",
                "loss",
                "smooth_loss",
                "lr",
                "grad_norm",
                "clip_fraction",
            ] {
                assert_eq!(
                    x[k], y[k],
                    "{cell} {dtype}: {k} differs at step {}",
                    x["step"]
                );
            }
            // The first run also scored the validation text at its end (step 17).
            if x["val_loss"].is_number() && y["val_loss"].is_number() {
                assert_eq!(x["val_loss"], y["val_loss"]);
            }
        }
        assert_eq!(
            weights(&f.path("a.safetensors")),
            weights(&f.path("b.safetensors")),
            "{cell} {dtype}: final weights differ"
        );
    }
}

/// What rotation must keep after the checkpoints of the metrics' validation rows: the last
/// `k` and the lowest validation loss.
fn expected_kept(m: &[serde_json::Value], k: usize) -> Vec<String> {
    let all: Vec<(u64, f64)> = m
        .iter()
        .filter_map(|r| Some((r["step"].as_u64()? + 1, r["val_loss"].as_f64()?)))
        .collect();
    let name = |(s, v): (u64, f64)| format!("ckpt-step{s:08}-val{v:.4}.safetensors");
    let mut out: Vec<String> = all.iter().rev().take(k).map(|&x| name(x)).collect();
    let best = all
        .iter()
        .cloned()
        .min_by(|a, b| a.1.partial_cmp(&b.1).unwrap())
        .unwrap();
    if !out.contains(&name(best)) {
        out.push(name(best));
    }
    out.sort();
    out
}

#[test]
fn rotation_keeps_the_last_k_and_the_best() {
    let f = Fixture::new();
    let args = with(&[
        "--steps",
        "24",
        "--lr",
        "0.3",
        "--checkpoint-every",
        "3",
        "--keep",
        "2",
        "--val-frac",
        "0.2",
        "--metrics",
        "m.jsonl",
    ]);
    f.ok(&args);
    let m = rows(&f.path("m.jsonl"));
    assert_eq!(f.checkpoints("runs/1/checkpoints"), expected_kept(&m, 2));
    let last = f.checkpoints("runs/1/checkpoints").pop().unwrap();
    assert!(last.starts_with("ckpt-step00000024-val"), "{last}");
    // A far too high learning rate from here on makes every later checkpoint worse (though
    // not so much that the divergence guard stops the run): the best stays, beside the last
    // two.
    f.ok(&[
        "train",
        "--resume",
        &format!("runs/1/checkpoints/{last}"),
        "--steps",
        "36",
        "--lr",
        "10",
        "-q",
    ]);
    let m = rows(&f.path("m.jsonl"));
    assert_eq!(m.len(), 36, "the metrics go on, without duplicates");
    assert_eq!(
        m.iter().filter(|r| r["val_loss"].is_number()).count(),
        12,
        "one validation per checkpoint"
    );
    let names = f.checkpoints("runs/1/checkpoints");
    assert_eq!(names, expected_kept(&m, 2));
    assert_eq!(names.len(), 3, "K = 2 plus an earlier best: {names:?}");
    assert!(names[1].starts_with("ckpt-step00000033-val"), "{names:?}");
    assert!(names[2].starts_with("ckpt-step00000036-val"), "{names:?}");
    for n in &names {
        charrnn::resume::load::<f32>(&f.path(&format!("runs/1/checkpoints/{n}"))).unwrap();
    }
}

/// Issue 13: runs never overwrite each other. A second run gets its own directory; an output
/// named explicitly that holds another run's file is refused, naming --overwrite; and a
/// checkpoint directory named explicitly that holds another run's checkpoints is refused.
#[test]
fn a_new_run_gets_its_own_directory_and_never_takes_another_runs_files() {
    let f = Fixture::new();
    f.ok(&with(&["--steps", "4", "--checkpoint-every", "2"]));
    let first = std::fs::read(f.path("runs/1/model.safetensors")).unwrap();
    f.ok(&with(&["--steps", "6", "--checkpoint-every", "2"]));
    assert_eq!(
        std::fs::read(f.path("runs/1/model.safetensors")).unwrap(),
        first
    );
    assert_eq!(f.checkpoints("runs/1/checkpoints").len(), 2);
    assert!(f.path("runs/2/model.safetensors").exists());
    assert!(f
        .path("runs/2/checkpoints/ckpt-step00000006.safetensors")
        .exists());
    assert!(f.path("runs/latest/model.safetensors").exists());
    assert_eq!(
        std::fs::read_link(f.path("runs/latest")).unwrap(),
        Path::new("2")
    );
    // An output named explicitly that exists: refused unless --overwrite.
    f.ok(&with(&[
        "--steps",
        "2",
        "--out",
        "mine.safetensors",
        "--metrics",
        "m.jsonl",
    ]));
    let (model, metrics) = (
        std::fs::read(f.path("mine.safetensors")).unwrap(),
        std::fs::read(f.path("m.jsonl")).unwrap(),
    );
    let o = f.run(&with(&["--steps", "3", "--out", "mine.safetensors"]));
    assert_bad(&o, &["mine.safetensors already exists", "--overwrite"]);
    let o = f.run(&with(&["--steps", "3", "--metrics", "m.jsonl"]));
    assert_bad(&o, &["m.jsonl already exists", "--overwrite"]);
    assert_eq!(std::fs::read(f.path("mine.safetensors")).unwrap(), model);
    assert_eq!(std::fs::read(f.path("m.jsonl")).unwrap(), metrics);
    f.ok(&with(&[
        "--steps",
        "3",
        "--out",
        "mine.safetensors",
        "--overwrite",
    ]));
    assert_ne!(std::fs::read(f.path("mine.safetensors")).unwrap(), model);
    // A checkpoint directory named explicitly that holds another run's checkpoints.
    let o = f.run(&with(&[
        "--steps",
        "4",
        "--checkpoint-dir",
        "runs/1/checkpoints",
    ]));
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("--resume runs/1/checkpoints/ckpt-step00000004")
            && err.contains("--checkpoint-dir"),
        "{err}"
    );
}

/// Issue 13: an output is never the same file as an input, or as another output, also
/// through a link.
#[test]
fn outputs_never_clobber_inputs() {
    let f = Fixture::new();
    let corpus_before = std::fs::read(f.path("corpus.txt")).unwrap();
    std::os::unix::fs::symlink("corpus.txt", f.path("link.txt")).unwrap();
    for (flag, path) in [
        ("--out", "corpus.txt"),
        ("--metrics", "corpus.txt"),
        ("--out", "link.txt"),
        ("--metrics", "./link.txt"),
    ] {
        let o = f.run(&with(&["--steps", "2", flag, path, "--overwrite"]));
        assert_bad(&o, &[flag, "same file as --data"]);
    }
    let o = f.run(&with(&[
        "--steps",
        "2",
        "--out",
        "x.safetensors",
        "--metrics",
        "sub/../x.safetensors",
    ]));
    assert_eq!(o.status.code(), Some(2));
    f.ok(&with(&["--steps", "2", "--out", "x.safetensors"]));
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--init-from",
        "x.safetensors",
        "--metrics",
        "x.safetensors",
    ]);
    assert_bad(&o, &["--metrics x.safetensors", "same file as --init-from"]);
    assert_eq!(std::fs::read(f.path("corpus.txt")).unwrap(), corpus_before);
    charrnn::checkpoint::load::<f32>(&f.path("x.safetensors")).unwrap();
}

#[test]
fn resume_refuses_changed_settings_and_another_text() {
    let f = Fixture::new();
    f.ok(&with(&["--steps", "4", "--checkpoint-every", "4"]));
    let ck = "runs/1/checkpoints/ckpt-step00000004.safetensors";
    // The same value is fine, another is named.
    f.ok(&[
        "train", "--resume", ck, "--steps", "6", "--hidden", "10", "--batch", "3", "-q",
    ]);
    let o = f.run(&["train", "--resume", ck, "--steps", "8", "--batch", "4"]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--batch 4") && err.contains("3") && err.contains("--init-from"),
        "{err}"
    );
    std::fs::write(f.path("other.txt"), corpus().replace("fox", "dog")).unwrap();
    let o = f.run(&[
        "train",
        "--resume",
        ck,
        "--data",
        "other.txt",
        "--steps",
        "8",
    ]);
    assert!(stderr(&o).contains("is not the text"), "{}", stderr(&o));
    // A plain model file is not resumable, and says what to do instead.
    let o = f.run(&["train", "--resume", "runs/1/model.safetensors"]);
    assert!(stderr(&o).contains("--init-from"), "{}", stderr(&o));
    // Issue 13: resuming to no more steps than done is an error naming the checkpoint's
    // step, and writes nothing.
    let model = std::fs::read(f.path("runs/1/model.safetensors")).unwrap();
    for steps in ["4", "3"] {
        let o = f.run(&["train", "--resume", ck, "--steps", steps]);
        assert_bad(
            &o,
            &[
                "is at step 4",
                &format!("--steps {steps}"),
                "larger --steps",
            ],
        );
    }
    assert_eq!(
        std::fs::read(f.path("runs/1/model.safetensors")).unwrap(),
        model
    );
}

#[test]
fn sigint_writes_a_checkpoint_that_resumes() {
    sigint_or_sigterm(libc::SIGINT);
}

/// Issue 13: and exits 143 (128 + SIGTERM), not 130.
#[test]
fn sigterm_writes_a_checkpoint_that_resumes() {
    sigint_or_sigterm(libc::SIGTERM);
}

fn sigint_or_sigterm(signal: libc::c_int) {
    let f = Fixture::new();
    let args = [
        "train",
        "--data",
        "corpus.txt",
        "--seq-len",
        "8",
        "--batch",
        "3",
        "--hidden",
        "10",
        "--steps",
        "100000000",
        "--print-every",
        "50",
        "--sample-every",
        "0",
        "--metrics",
        "m.jsonl",
    ];
    let (mut child, reader) = spawn_until(&f, &args, "iter 50,");
    send(&child, signal);
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(128 + signal), "{err}");
    let ck = resume_path(&err);
    let r = charrnn::resume::load::<f32>(&f.path(&ck)).unwrap();
    let step = r.state.step;
    assert!(step > 50, "{step}");
    assert_eq!(rows(&f.path("m.jsonl")).len() as u64, step);
    let target = (step + 5).to_string();
    let o = f.ok(&["train", "--resume", &ck, "--steps", &target, "-q"]);
    assert!(stderr(&o).is_empty(), "quiet: {}", stderr(&o));
    assert_eq!(stdout(&o), "runs/1/model.safetensors\n");
    let ck = charrnn::checkpoint::load::<f32>(&f.path("runs/1/model.safetensors")).unwrap();
    assert_eq!(ck.meta["steps"], target);
    assert_eq!(rows(&f.path("m.jsonl")).len() as u64, step + 5);
}

#[test]
fn a_second_sigint_exits_at_once_and_damages_nothing() {
    let f = Fixture::new();
    // A model whose checkpoint takes a while to write, every step.
    let args = [
        "train",
        "--data",
        "corpus.txt",
        "--seq-len",
        "4",
        "--batch",
        "1",
        "--hidden",
        "400",
        "--emb",
        "4",
        "--steps",
        "100000000",
        "--print-every",
        "1",
        "--sample-every",
        "0",
        "--checkpoint-every",
        "1",
        "--keep",
        "2",
    ];
    let (mut child, reader) = spawn_until(&f, &args, "iter 3,");
    send(&child, libc::SIGINT);
    send(&child, libc::SIGINT);
    let status = child.wait().unwrap();
    reader.join().unwrap();
    assert_eq!(status.code(), Some(130));
    let names = f.checkpoints("runs/1/checkpoints");
    assert!(!names.is_empty());
    for n in names {
        charrnn::resume::load::<f32>(&f.path(&format!("runs/1/checkpoints/{n}"))).unwrap();
    }
}

#[test]
fn sigkill_during_saves_leaves_every_checkpoint_loadable() {
    let f = Fixture::new();
    let args = [
        "train",
        "--data",
        "corpus.txt",
        "--seq-len",
        "4",
        "--batch",
        "1",
        "--hidden",
        "400",
        "--emb",
        "4",
        "--steps",
        "100000000",
        "--print-every",
        "1",
        "--sample-every",
        "0",
        "--checkpoint-every",
        "1",
        "--keep",
        "2",
        "--run-dir",
        "r",
    ];
    for delay_ms in [0, 7, 23, 41] {
        let (mut child, reader) = spawn_until(&f, &args, "iter 2,");
        std::thread::sleep(Duration::from_millis(delay_ms));
        child.kill().unwrap(); // SIGKILL: no handler runs.
        child.wait().unwrap();
        reader.join().unwrap();
        let names = f.checkpoints("r/checkpoints");
        assert!(!names.is_empty());
        for n in &names {
            charrnn::resume::load::<f32>(&f.path(&format!("r/checkpoints/{n}")))
                .unwrap_or_else(|e| panic!("{n} after a kill at +{delay_ms} ms: {e}"));
        }
        std::fs::remove_dir_all(f.path("r")).unwrap();
    }
}

#[test]
fn a_diverging_run_stops_and_names_the_last_good_checkpoint() {
    let f = Fixture::new();
    f.ok(&with(&["--steps", "3", "--checkpoint-every", "1"]));
    let good = "runs/1/checkpoints/ckpt-step00000003.safetensors";
    let o = f.run(&[
        "train",
        "--resume",
        good,
        "--steps",
        "50",
        "--lr",
        "1e38",
        "--out",
        "diverged.safetensors",
    ]);
    assert_eq!(o.status.code(), Some(2));
    let err = stderr(&o);
    assert!(
        err.contains("training diverged at step 3") && err.contains("--lr 1e38"),
        "{err}"
    );
    let named = err
        .split("the last good checkpoint, ")
        .nth(1)
        .and_then(|s| s.split(',').next())
        .unwrap_or_else(|| panic!("no checkpoint named: {err}"));
    assert_eq!(named, good);
    charrnn::resume::load::<f32>(&f.path(named)).unwrap();
    assert!(!f.path("diverged.safetensors").exists());
}

/// Issue 13: absurd settings that stay finite (plain SGD at 1e30, no clipping) stop at once
/// with the cause named, exit 2, and write no model.
#[test]
fn absurd_settings_stop_with_the_cause_named() {
    let f = Fixture::new();
    let o = f.run(&with(&[
        "--optim",
        "sgd",
        "--lr",
        "1e30",
        "--clip",
        "0",
        "--steps",
        "100",
        "--out",
        "m.safetensors",
    ]));
    assert_bad(
        &o,
        &["training diverged at step 0", "--lr 1e30", "--clip 0"],
    );
    assert!(!f.path("m.safetensors").exists());
}

/// Issue 13: a model too big for the machine's memory is refused before anything is
/// allocated, saying how much it needs; no run directory is left behind.
#[test]
fn a_model_too_big_for_memory_says_how_much_it_needs() {
    let f = Fixture::new();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--hidden",
        "100000",
        "--steps",
        "3",
    ]);
    assert_bad(
        &o,
        &[
            "needs about",
            "GB of memory",
            "--hidden 100000",
            "make it smaller",
        ],
    );
    assert!(!f.path("runs/1").exists());
}

#[test]
fn epochs_and_max_time_stop_the_run() {
    let f = Fixture::new();
    f.ok(&with(&["--epochs", "2", "--metrics", "m.jsonl"]));
    let m = rows(&f.path("m.jsonl"));
    // 12 lines of 68 characters = 816 = 34 windows of 8 x 3: streams of L = 272, and
    // ceil((272 - 8 - 1) / 8) = 33 windows per epoch.
    assert_eq!(m.len(), 66);
    assert_eq!(m.last().unwrap()["epoch"], 2);
    let t = Instant::now();
    let o = f.run(&[
        "train",
        "--data",
        "corpus.txt",
        "--max-time",
        "1s",
        "--sample-every",
        "0",
        "--checkpoint-dir",
        "timed",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(t.elapsed() < Duration::from_secs(30));
    let out = stderr(&o);
    assert!(out.contains("--max-time 1s reached"), "{out}");
    let hint = longer_hint(&out);
    assert!(hint.ends_with("--max-time 2s"), "{hint}");
    let ck = hint.split(' ').nth(3).unwrap().to_string();
    let first = charrnn::resume::load::<f32>(&f.path(&ck))
        .unwrap()
        .state
        .step;
    assert!(f.path("runs/2/model.safetensors").exists());
    // Issue 13: the budget is the run's, across resumes. Resumed as it was, it is spent.
    let o = f.run(&["train", "--resume", &ck]);
    assert_bad(&o, &["budget of 1 s", "is spent", "larger --max-time"]);
    // The printed command trains about one second more, and stops by the budget again.
    let t = Instant::now();
    let args: Vec<&str> = hint.split(' ').skip(1).collect();
    let o = f.ok(&args);
    assert!(t.elapsed() < Duration::from_secs(30));
    let out = stderr(&o);
    assert!(out.contains("--max-time 2s reached"), "{out}");
    let ck2 = longer_hint(&out).split(' ').nth(3).unwrap().to_string();
    let second = charrnn::resume::load::<f32>(&f.path(&ck2))
        .unwrap()
        .state
        .step;
    assert!(second > first, "{first} -> {second}");
}

/// Issue 13: a time-limited run stopped early (Ctrl-C) and resumed with the printed command
/// keeps its time budget: it stops by it, not never.
#[test]
fn a_resumed_time_limited_run_stops_by_its_budget() {
    let f = Fixture::new();
    let args = [
        "train",
        "--data",
        "corpus.txt",
        "--max-time",
        "3s",
        "--print-every",
        "50",
        "--sample-every",
        "0",
    ];
    let (mut child, reader) = spawn_until(&f, &args, "iter 50,");
    send(&child, libc::SIGINT);
    let status = child.wait().unwrap();
    let err = reader.join().unwrap();
    assert_eq!(status.code(), Some(130), "{err}");
    let ck = resume_path(&err);
    let t = Instant::now();
    let o = f.ok(&["train", "--resume", &ck, "--sample-every", "0"]);
    assert!(t.elapsed() < Duration::from_secs(30), "{:?}", t.elapsed());
    // Issue 13: on the same stream as the interrupt's message.
    assert!(
        stderr(&o).contains("--max-time 3s reached"),
        "{}",
        stderr(&o)
    );
}

/// The command after "to train longer: ".
fn longer_hint(text: &str) -> String {
    let at = text
        .find("to train longer: ")
        .unwrap_or_else(|| panic!("no hint in {text:?}"));
    let line = text[at + "to train longer: ".len()..]
        .lines()
        .next()
        .unwrap();
    line.split(" (").next().unwrap().to_string()
}

#[test]
fn metrics_have_every_field_and_plot_draws_svg_and_png() {
    let f = Fixture::new();
    f.ok(&with(&[
        "--steps",
        "30",
        "--val-frac",
        "0.2",
        "--eval-every",
        "10",
        "--metrics",
        "m.jsonl",
    ]));
    let m = rows(&f.path("m.jsonl"));
    for k in [
        "step",
        "epoch",
        "loss",
        "smooth_loss",
        "lr",
        "grad_norm",
        "clip_fraction",
        "chars_per_s",
        "elapsed",
    ] {
        assert!(m.iter().all(|r| r[k].is_number()), "{k}");
    }
    let with_val: Vec<_> = m.iter().filter(|r| r["val_loss"].is_number()).collect();
    assert_eq!(with_val.len(), 3);
    let r = with_val[0];
    let bpc = r["val_loss"].as_f64().unwrap() / std::f64::consts::LN_2;
    assert!((r["val_bpc"].as_f64().unwrap() - bpc).abs() < 1e-12);
    assert!(m
        .windows(2)
        .all(|w| w[0]["elapsed"].as_f64() <= w[1]["elapsed"].as_f64()));

    let o = f.ok(&["plot", "--metrics", "m.jsonl", "--out", "loss.svg"]);
    assert!(
        stdout(&o).contains("30 steps (3 validations)"),
        "{}",
        stdout(&o)
    );
    let svg = std::fs::read_to_string(f.path("loss.svg")).unwrap();
    assert!(
        svg.starts_with("<svg")
            && svg.contains("validation loss")
            && svg.contains("elapsed (seconds)")
    );
    f.ok(&[
        "plot",
        "--metrics",
        "m.jsonl",
        "--out",
        "loss.png",
        "--x",
        "step",
    ]);
    let png = std::fs::read(f.path("loss.png")).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let o = f.run(&["plot", "--metrics", "m.jsonl", "--out", "loss.pdf"]);
    assert!(stderr(&o).contains(".svg or .png"), "{}", stderr(&o));
    let o = f.run(&["plot", "--metrics", "corpus.txt"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(stderr(&o).contains("not a metrics row"), "{}", stderr(&o));
}

#[test]
fn inspect_reports_the_bars_to_beat() {
    let f = Fixture::new();
    let o = f.ok(&[
        "inspect",
        "corpus.txt",
        "--json",
        "--seq-len",
        "8",
        "--batch",
        "3",
    ]);
    let j: serde_json::Value = serde_json::from_str(stdout(&o).trim()).unwrap();
    let text = corpus();
    let mut chars: Vec<char> = text.chars().collect();
    assert_eq!(j["chars"].as_u64().unwrap() as usize, chars.len());
    assert_eq!(j["bytes"].as_u64().unwrap() as usize, text.len());
    chars.sort();
    chars.dedup();
    assert_eq!(j["vocab_size"].as_u64().unwrap() as usize, chars.len());
    let u = j["uniform_nats"].as_f64().unwrap();
    assert!((u - (chars.len() as f64).ln()).abs() < 1e-12);
    let (uni, bi) = (
        j["unigram_nats"].as_f64().unwrap(),
        j["bigram_nats"].as_f64().unwrap(),
    );
    assert!(bi < uni && uni < u, "{bi} < {uni} < {u}");
    assert_eq!(j["most_frequent"][0][0], " ");
    assert!(j["windows_per_epoch"].as_u64().unwrap() > 0);
    assert!(
        j["warnings"][0].as_str().unwrap().contains("memorise"),
        "{j}"
    );
    let o = f.ok(&["inspect", "corpus.txt"]);
    let out = stdout(&o);
    assert!(
        out.contains("bigram") && out.contains("bits/char") && out.contains("add-one"),
        "{out}"
    );
    let o = f.run(&["inspect", "missing.txt"]);
    assert_eq!(o.status.code(), Some(2));
}
