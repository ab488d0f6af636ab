//! Issue 7: a run killed (SIGKILL) at a random moment while it writes `--out` never leaves a
//! file that loads wrong: afterwards the file is byte for byte the previous version, or the
//! new one, complete and loadable.
//!
//! The real binary trains one step of a model large enough (~9 MB of weights) that writing
//! it takes a while, and is killed again and again for about 12 seconds: every other run at a
//! uniformly random moment of 1.5 calibrated run times, the others a random 0-20 ms after their
//! temporary file appears, that is while the checkpoint is being written.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use charrnn::checkpoint;
use rand::{Rng, SeedableRng};
use support::BIN;

fn train(dir: &Path, seed: u64) -> Command {
    let mut c = Command::new(BIN);
    c.current_dir(dir)
        .args(["train", "--data", "corpus.txt", "--steps", "1"])
        .args([
            "--hidden",
            "1500",
            "--emb",
            "4",
            "--seq-len",
            "4",
            "--batch",
            "1",
        ])
        .args([
            "--print-every",
            "0",
            "--sample-every",
            "0",
            "--sample-len",
            "1",
        ])
        .args([
            "--threads",
            "1",
            "--out",
            "model.safetensors",
            "--overwrite",
        ])
        .args(["--seed", &seed.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    c
}

/// The seed a checkpoint was trained with (the trainer records it in the metadata).
fn seed_of(bytes: &[u8]) -> String {
    let ck = checkpoint::from_bytes::<f32>(bytes).expect("the file on disk loads");
    ck.meta.get("seed").cloned().unwrap_or_default()
}

#[test]
#[ignore = "slow: kills training runs for 12 s; run with `cargo test -- --ignored`"]
fn killed_writes_leave_the_old_file_or_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("corpus.txt"),
        "a small corpus for a large model. ".repeat(20),
    )
    .unwrap();
    let out = dir.path().join("model.safetensors");

    // Calibrate: the median of three full runs, which also leave the first version.
    let mut times: Vec<Duration> = (0..3)
        .map(|_| {
            let t = Instant::now();
            assert!(train(dir.path(), 0).status().unwrap().success());
            t.elapsed()
        })
        .collect();
    times.sort();
    let full = times[1];
    let mut previous = std::fs::read(&out).unwrap();
    assert_eq!(seed_of(&previous), "0");

    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(7);
    let (mut killed, mut replaced, mut kept) = (0, 0, 0);
    let started = Instant::now();
    let mut seed = 1;
    while started.elapsed() < Duration::from_secs(12) && seed < 400 {
        let mut child = train(dir.path(), seed).spawn().unwrap();
        if seed % 2 == 0 {
            // Anywhere in the run (or past it, so that some runs finish).
            std::thread::sleep(full.mul_f64(rng.random_range(0.0..1.5)));
        } else {
            // While writing: `fsutil::write_atomic` writes `.NAME.tmpPID`, then renames it.
            let tmp = dir
                .path()
                .join(format!(".model.safetensors.tmp{}", child.id()));
            let deadline = Instant::now() + full * 10;
            while !tmp.exists() && Instant::now() < deadline {
                if child.try_wait().unwrap().is_some() {
                    break;
                }
                std::thread::sleep(Duration::from_micros(200));
            }
            std::thread::sleep(Duration::from_micros(rng.random_range(0..20_000)));
        }
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap(); // SIGKILL
            killed += 1;
        }
        child.wait().unwrap();
        let now = std::fs::read(&out).expect("model.safetensors is never missing");
        if now == previous {
            kept += 1;
        } else {
            // Not the old bytes: then the complete new version, of this run.
            assert_eq!(seed_of(&now), seed.to_string(), "run {seed}");
            replaced += 1;
            previous = now;
        }
        seed += 1;
    }
    // Killed runs may leave their temporary file (each one a kill in the middle of a write);
    // never anything under the real name.
    let mut mid_write = 0;
    for e in std::fs::read_dir(dir.path()).unwrap() {
        let name = e.unwrap().file_name().to_string_lossy().into_owned();
        if name.starts_with(".model.safetensors.tmp") {
            mid_write += 1;
        } else {
            assert!(
                name == "corpus.txt" || name == "model.safetensors",
                "{name}"
            );
        }
    }
    eprintln!(
        "{} runs in {:.1} s (a full run {full:?}): {killed} killed, {mid_write} of them while \
         writing; {kept} left the old file, {replaced} the new one",
        seed - 1,
        started.elapsed().as_secs_f64()
    );
    assert!(
        killed >= 10 && mid_write >= 3 && replaced >= 2,
        "too few of each outcome to mean anything: {killed} killed, {mid_write} while writing, \
         {replaced} replaced"
    );
}
