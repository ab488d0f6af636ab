//! charrnn: character-level recurrent language models, trained and sampled on the CPU.
//!
//! The library never prints; the `charrnn` binary is a thin shell over it.
//!
//! ```
//! use charrnn::{data, model::ModelConfig, model::CellKind, train, Vocab};
//!
//! let text = "hello world, hello rnn. ".repeat(20);
//! let vocab = Vocab::from_text(&text);
//! let streams = data::Streams::new(vocab.encode(&text).unwrap(), 8, 2).unwrap();
//! let config = ModelConfig { cell: CellKind::RNN, vocab: vocab.len(), emb: 4, hidden: 16, layers: 1 };
//! let model = train::init_model::<f32>(config, 0.02, 42).unwrap();
//! let mut trainer = train::Trainer::new(model, streams, train::TrainConfig { seq_len: 8, batch: 2, ..Default::default() }).unwrap();
//! let first = trainer.train_step().loss;
//! for _ in 0..200 {
//!     trainer.train_step();
//! }
//! assert!(trainer.train_step().loss < first);
//! ```

pub mod bench;
pub mod checkpoint;
pub mod corpus;
mod crew;
pub mod data;
pub mod error;
pub mod eval;
pub mod explain;
pub mod finetune;
pub mod fsutil;
pub mod inspect;
pub mod kernels;
pub mod loss;
pub mod memory;
pub mod model;
pub mod optim;
pub mod resume;
pub mod run;
pub mod sample;
pub mod train;
pub mod vocab;

pub use error::{Error, Result};
pub use kernels::Real;
pub use model::{Model, ModelConfig};
pub use vocab::Vocab;
