//! The prime and the stop text of a sample, as `charrnn sample` and `charrnn serve` take them:
//! checked against the model's vocabulary and encoded; and the seed of a run that gives none.
//! Each caller words the errors for its own flags or fields.

use charrnn::vocab::describe_chars;
use charrnn::Vocab;

/// Why a prime cannot be used.
pub enum PrimeError {
    /// These characters are not in the vocabulary (and were not to be skipped).
    Unknown(Vec<char>),
    /// No character is left once unknown ones are skipped.
    Empty,
}

/// The ids of `text` and the text they spell, unknown characters skipped if `skip`. An empty
/// prime is no prime: the state is warmed with a newline, which is not echoed.
pub fn encode_prime(
    vocab: &Vocab,
    text: &str,
    skip: bool,
) -> std::result::Result<(Vec<u32>, String), PrimeError> {
    if text.is_empty() {
        return Ok((vec![vocab.id('\n').unwrap_or(0)], String::new()));
    }
    let unknown = vocab.unknown(text);
    if !unknown.is_empty() && !skip {
        return Err(PrimeError::Unknown(unknown));
    }
    let kept: String = text.chars().filter(|&c| vocab.id(c).is_some()).collect();
    if kept.is_empty() {
        return Err(PrimeError::Empty);
    }
    let ids = kept.chars().filter_map(|c| vocab.id(c)).collect();
    Ok((ids, kept))
}

/// The ids of a stop string, which must be made of characters the model can produce.
pub fn encode_stop(vocab: &Vocab, stop: &str) -> std::result::Result<Vec<u32>, String> {
    if stop.is_empty() {
        return Err("is empty: give the text to stop after".into());
    }
    let unknown = vocab.unknown(stop);
    if !unknown.is_empty() {
        return Err(format!(
            "has characters the model can never produce: {}",
            describe_chars(&unknown)
        ));
    }
    Ok(stop.chars().filter_map(|c| vocab.id(c)).collect())
}

/// A seed from the clock, for runs that give none.
pub fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}
