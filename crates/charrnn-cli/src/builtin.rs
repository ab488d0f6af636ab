//! The built-in corpus: charrnn's own documentation and source, compiled into the binary so
//! that `charrnn train` works on a fresh machine with nothing to download.

/// About 100 KB of English prose and Rust.
pub const TEXT: &str = concat!(
    include_str!("../../../README.md"),
    include_str!("../../charrnn/src/lib.rs"),
    include_str!("../../charrnn/src/data.rs"),
    include_str!("../../charrnn/src/vocab.rs"),
    include_str!("../../charrnn/src/model/mod.rs"),
    include_str!("../../charrnn/src/model/layout.rs"),
    include_str!("../../charrnn/src/model/rnn.rs"),
    include_str!("../../charrnn/src/loss.rs"),
    include_str!("../../charrnn/src/optim.rs"),
    include_str!("../../charrnn/src/train.rs"),
    include_str!("../../charrnn/src/sample.rs"),
    include_str!("../../charrnn/src/checkpoint.rs"),
    include_str!("main.rs"),
    include_str!("train.rs"),
    include_str!("sample.rs"),
);
