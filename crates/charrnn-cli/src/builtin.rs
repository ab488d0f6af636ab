//! The built-in corpus: charrnn's own documentation and source, compiled into the binary so
//! that `charrnn train` works on a fresh machine with nothing to download.
//!
//! The README shows what `charrnn train` prints when it trains on this corpus; that output,
//! between the markers [`BEGIN`] and [`END`], is left out of the corpus (it could not show
//! the run's real output if it were part of the run's text).

/// Where the README's example output starts and ends.
pub const BEGIN: &str = "<!-- begin: charrnn train's output, left out of the built-in corpus -->";
pub const END: &str = "<!-- end: charrnn train's output -->";

const README: &str = include_str!("../../../README.md");

/// The source files, after the README.
const SOURCE: &str = concat!(
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

/// About 100 KB of English prose and Rust: the README (less its example output) and source.
pub fn text() -> String {
    let readme = match (README.find(BEGIN), README.find(END)) {
        (Some(b), Some(e)) if b < e => [&README[..b], &README[e + END.len()..]].concat(),
        _ => README.to_string(),
    };
    readme + SOURCE
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_readme_s_example_output_is_left_out() {
        let text = text();
        assert!(README.contains(BEGIN) && README.contains(END));
        assert!(!text.contains(BEGIN) && !text.contains(END));
        assert!(text.contains("# charrnn") && text.ends_with(include_str!("sample.rs")));
    }
}
