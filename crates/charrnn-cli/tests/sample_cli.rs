//! `charrnn sample` with the whole sampling menu: the real binary against the library, and
//! every bad value.

mod support;

use std::io::Read;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use charrnn::sample::{beam_search, SampleConfig, Sampler};
use support::*;

fn sample(m: &Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(["sample", "--model", m.to_str().unwrap()])
        .args(args)
        .output()
        .unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// What the library makes of the same settings: prime + `n` characters.
fn library(m: &Path, prime: &str, n: usize, seed: u64, config: SampleConfig) -> String {
    let ck = charrnn::checkpoint::load::<f32>(m).unwrap();
    let ids: Vec<u32> = prime.chars().map(|c| ck.vocab.id(c).unwrap()).collect();
    let mut s = Sampler::with_config(&ck.model, seed, config).unwrap();
    let mut text = prime.to_string();
    s.generate(&ids, n, |c| text.push(ck.vocab.char(c)));
    text
}

/// The CLI ends its output with a newline unless the text already does.
fn line(text: &str) -> String {
    if text.ends_with('\n') {
        text.to_string()
    } else {
        format!("{text}\n")
    }
}

#[test]
fn every_sampling_flag_matches_the_library() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let cases: Vec<(Vec<&str>, SampleConfig)> = vec![
        (vec![], SampleConfig::default()),
        (
            vec!["--temperature", "0.6"],
            SampleConfig {
                temperature: 0.6,
                ..Default::default()
            },
        ),
        (
            vec!["--top-k", "3", "--temperature", "1.3"],
            SampleConfig {
                temperature: 1.3,
                top_k: Some(3),
                ..Default::default()
            },
        ),
        (
            vec!["--top-p", "0.8"],
            SampleConfig {
                top_p: Some(0.8),
                ..Default::default()
            },
        ),
        (
            vec!["--argmax"],
            SampleConfig {
                argmax: true,
                ..Default::default()
            },
        ),
    ];
    for (flags, config) in cases {
        let mut args = vec!["--prime", "The f", "-n", "80", "--seed", "9"];
        args.extend(&flags);
        let out = ok(&sample(&m, &args));
        assert_eq!(out, line(&library(&m, "The f", 80, 9, config)), "{flags:?}");
        assert_eq!(
            out,
            ok(&sample(&m, &args)),
            "{flags:?}: same seed, same text"
        );
    }
}

#[test]
fn beam_prints_the_best_continuations() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let ck = charrnn::checkpoint::load::<f32>(&m).unwrap();
    let prime: Vec<u32> = "The ".chars().map(|c| ck.vocab.id(c).unwrap()).collect();
    let beams = beam_search(&ck.model, &prime, 30, 5);
    let expect: Vec<String> = beams[..3]
        .iter()
        .map(|b| line(&format!("The {}", ck.vocab.decode(b.ids.iter().copied()))))
        .collect();
    let out = ok(&sample(
        &m,
        &[
            "--prime",
            "The ",
            "-n",
            "30",
            "--beam",
            "5",
            "--num-samples",
            "3",
        ],
    ));
    assert_eq!(out, expect.join("----\n"));
    // Width 1 is the greedy path.
    let greedy = ok(&sample(&m, &["--prime", "The ", "-n", "30", "--argmax"]));
    let one = ok(&sample(&m, &["--prime", "The ", "-n", "30", "--beam", "1"]));
    assert_eq!(one, greedy);
}

#[test]
fn stop_and_num_samples() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    // Stop at a character the samples produce often: every sample ends at its first one.
    let out = ok(&sample(
        &m,
        &[
            "--prime",
            "The",
            "-n",
            "2000",
            "--seed",
            "4",
            "--stop",
            "o",
            "--num-samples",
            "4",
        ],
    ));
    let samples: Vec<&str> = out.split("----\n").collect();
    assert_eq!(samples.len(), 4, "{out:?}");
    for s in &samples {
        let body = s.strip_prefix("The").unwrap().strip_suffix('\n').unwrap();
        assert!(body.ends_with('o'), "{s:?}");
        assert_eq!(body.matches('o').count(), 1, "{s:?}");
    }
    // The samples follow one another from one generator: the same with any K.
    let two = ok(&sample(
        &m,
        &[
            "--prime",
            "The",
            "-n",
            "2000",
            "--seed",
            "4",
            "--stop",
            "o",
            "--num-samples",
            "2",
        ],
    ));
    assert!(out.starts_with(&two));
    // A stop string spanning characters, with --beam: the text is cut after it.
    let beam = ok(&sample(&m, &["--prime", "The", "-n", "200", "--beam", "2"]));
    let stop: String = beam.chars().skip(8).take(2).collect();
    let cut = ok(&sample(
        &m,
        &[
            "--prime", "The", "-n", "200", "--beam", "2", "--stop", &stop,
        ],
    ));
    let body = cut.strip_prefix("The").unwrap().trim_end_matches('\n');
    assert!(
        body.ends_with(&stop) && body.chars().count() <= 7,
        "{cut:?} / {stop:?}"
    );
}

#[test]
fn output_streams_before_the_run_ends() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let mut child = Command::new(BIN)
        .args(["sample", "--model", m.to_str().unwrap(), "--prime", "The "])
        .args(["-n", "100000000", "--seed", "1"])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let t0 = Instant::now();
    let mut buf = [0u8; 256];
    let k = out.read(&mut buf).unwrap();
    assert!(k > 0 && buf.starts_with(b"The "));
    assert!(t0.elapsed() < Duration::from_secs(20));
    assert!(child.try_wait().unwrap().is_none(), "still generating");
    child.kill().unwrap();
    child.wait().unwrap();
}

#[test]
fn bad_sampling_values() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    for (args, needles) in [
        (
            vec!["--temperature", "0"],
            vec!["--temperature", "--argmax"],
        ),
        (vec!["--temperature", "-1"], vec!["--temperature"]),
        (vec!["--temperature", "nan"], vec!["--temperature"]),
        (vec!["--temperature", "inf"], vec!["--temperature"]),
        (vec!["--temperature", "warm"], vec!["--temperature"]),
        (vec!["--top-k", "0"], vec!["--top-k"]),
        (vec!["--top-k", "-2"], vec!["--top-k"]),
        (vec!["--top-p", "0"], vec!["--top-p"]),
        (vec!["--top-p", "1.5"], vec!["--top-p"]),
        (vec!["--beam", "0"], vec!["--beam"]),
        (vec!["--beam", "5000"], vec!["--beam", "1024"]),
        (
            vec!["--beam", "2", "--num-samples", "3"],
            vec!["--num-samples", "--beam"],
        ),
        (vec!["--num-samples", "0"], vec!["--num-samples"]),
        (vec!["-n", "0"], vec!["--len"]),
        (vec!["-n", "-5"], vec!["--len"]),
        (vec!["--seed", "-1"], vec!["--seed"]),
        (vec!["--stop", ""], vec!["--stop", "empty"]),
        (vec!["--stop", "Z!"], vec!["--stop", "'Z'", "'!'"]),
        (vec!["--argmax", "--temperature", "0.5"], vec!["--argmax"]),
        (vec!["--argmax", "--beam", "2"], vec!["--argmax"]),
        (vec!["--beam", "2", "--top-k", "3"], vec!["--beam"]),
        (vec!["--prime", "Zap"], vec!["'Z'", "--unknown skip"]),
        (vec!["--prime", "ZZ", "--unknown", "skip"], vec!["--prime"]),
    ] {
        assert_bad(&sample(&m, &args), &needles);
    }
}
