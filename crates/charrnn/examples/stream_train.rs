//! Train a few steps on a corpus loaded by the streaming loader, as `charrnn train` does once
//! it is wired to `corpus::load`; used by `bench/big_corpus.sh` to measure peak memory.
//!
//! ```text
//! cargo run --release --example stream_train -- CORPUS [STEPS]
//! ```

use std::io::Write;
use std::path::PathBuf;

use charrnn::corpus::{self, LoadOptions};
use charrnn::data::Streams;
use charrnn::model::{CellKind, ModelConfig};
use charrnn::train::{self, TrainConfig, Trainer};

fn main() -> charrnn::Result<()> {
    let mut args = std::env::args().skip(1);
    let path = PathBuf::from(args.next().expect("usage: stream_train CORPUS [STEPS]"));
    let steps: u64 = args.next().map_or(20, |s| s.parse().expect("STEPS"));
    let mut shown = 0;
    let c = corpus::load(&path, &LoadOptions::default(), |p| {
        let pct = p.done * 100 / p.total.max(1);
        if pct >= shown + 10 || p.done == p.total {
            shown = pct;
            eprint!("\r{:?}: {pct}%   ", p.phase);
            let _ = std::io::stderr().flush();
        }
    })?;
    eprintln!();
    println!(
        "{} characters, vocabulary {}, {}-byte ids",
        c.ids.len(),
        c.vocab.len(),
        c.ids.width()
    );
    let cfg = TrainConfig {
        threads: 2,
        ..Default::default()
    };
    let config = ModelConfig {
        cell: CellKind::RNN,
        vocab: c.vocab.len(),
        emb: 4,
        hidden: 64,
        layers: 1,
    };
    let model = train::init_model::<f32>(config, 0.02, 0)?;
    let streams = Streams::new(c.ids, cfg.seq_len, cfg.batch)?;
    let mut trainer = Trainer::new(model, streams, cfg)?;
    let mut last = 0.0;
    for _ in 0..steps {
        last = trainer.train_step().loss;
    }
    println!("{steps} steps, last loss {last:.3}");
    Ok(())
}
