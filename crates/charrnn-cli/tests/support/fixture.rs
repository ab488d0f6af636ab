//! A temporary directory with a small corpus, to run the real binary in, and the checks made
//! of a finished run.

use std::path::PathBuf;
use std::process::{Command, Output};

use super::BIN;

/// The text of [`Fixture`]'s `corpus.txt`: one line with several scripts and multi-byte
/// characters, twelve times.
pub fn corpus() -> String {
    "The quick brown fox jumps over the lazy dog. Ξένος 中文 ✓ naïve café.\n".repeat(12)
}

/// A temporary directory holding `corpus.txt` ([`corpus()`]); runs `charrnn` inside it.
pub struct Fixture {
    pub dir: tempfile::TempDir,
}

impl Fixture {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("corpus.txt"), corpus()).unwrap();
        Fixture { dir }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `charrnn args...` in the directory, not yet started.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(BIN);
        c.current_dir(self.dir.path()).args(args);
        c
    }

    /// Run `charrnn args...` in the directory to its end.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run charrnn")
    }

    /// [`Fixture::run`], which must succeed.
    pub fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert!(o.status.success(), "{args:?}: {}", stderr(&o));
        o
    }

    /// Train a small model into `model.safetensors`.
    pub fn trained(&self) -> PathBuf {
        let o = self.run(&[
            "train",
            "--data",
            "corpus.txt",
            "--steps",
            "30",
            "--hidden",
            "8",
            "--seq-len",
            "8",
            "--batch",
            "2",
            "--out",
            "model.safetensors",
            "--sample-every",
            "0",
            "--sample-len",
            "20",
        ]);
        assert!(o.status.success(), "{}", stderr(&o));
        self.path("model.safetensors")
    }

    /// The sorted names of the `ckpt-*` files in the subdirectory `dir`.
    pub fn checkpoints(&self, dir: &str) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(self.path(dir))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| n.starts_with("ckpt-"))
            .collect();
        names.sort();
        names
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A failed run: exit code 2, one line on stderr containing every `needles`, no panic. A
/// usage error (one clap finds) is clap's whole message instead: its first line says what
/// is wrong, and it ends by pointing at the help.
pub fn assert_bad(o: &Output, needles: &[&str]) {
    let err = stderr(o);
    assert_eq!(o.status.code(), Some(2), "exit code; stderr: {err}");
    assert!(
        !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
        "panic: {err}"
    );
    if !err
        .trim_end()
        .ends_with("For more information, try '--help'.")
    {
        assert_eq!(
            err.trim_end().lines().count(),
            1,
            "one line expected: {err:?}"
        );
    }
    assert!(err.starts_with("error: "), "{err}");
    for n in needles {
        assert!(err.contains(n), "{n:?} not in {err:?}");
    }
}
