//! Helpers shared by the CLI's integration tests, which run the real binary:
//! - [`Fixture`]: a temporary directory holding [`corpus()`], to run `charrnn` in, and the
//!   checks every test makes of a run ([`stdout`], [`stderr`], [`assert_bad`]);
//! - [`model_file`]: a small model written with the library, for the sampling, server and
//!   browser tests;
//! - [`http`]: `charrnn serve` on 127.0.0.1 and a plain HTTP/1.1 client;
//! - [`browser`]: headless Chromium over the DevTools protocol, for the browser tests.
//!
//! Each test file uses part of it, hence the allowed unused items and imports.

#![allow(dead_code, unused_imports)]

pub mod browser;
mod fixture;
mod http;

pub use fixture::*;
pub use http::*;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use charrnn::model::{CellKind, Model, ModelConfig};
use charrnn::Vocab;
use rand::SeedableRng;

pub const BIN: &str = env!("CARGO_BIN_EXE_charrnn");

/// The text whose characters make the vocabulary of [`model_file`]'s model.
pub const TEXT: &str = "The quick brown fox jumps over the lazy dog. Ξένος café.\n";

/// A random LSTM over [`TEXT`]'s characters (weights with std 0.5, so far from uniform),
/// saved as `model.safetensors` in `dir`.
pub fn model_file(dir: &Path) -> PathBuf {
    let vocab = Vocab::from_text(TEXT);
    let config = ModelConfig {
        cell: CellKind::LSTM,
        vocab: vocab.len(),
        emb: 8,
        hidden: 24,
        layers: 2,
    };
    let mut rng = rand_xoshiro::Xoshiro256PlusPlus::seed_from_u64(5);
    let model = Model::<f32>::init(config, 0.5, &mut rng);
    let path = dir.join("model.safetensors");
    charrnn::checkpoint::save(&path, &model, &vocab, &BTreeMap::new()).unwrap();
    path
}
