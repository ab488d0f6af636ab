//! Knowing a corpus before training on it: character counts, and the loss of the simplest
//! models on its held-out tail, the bars a trained model must beat.
//!
//! The text's ids are split into a head (fit) and a tail (the last `val_frac`, scored), as
//! `charrnn train --val-frac` splits them. With V the vocabulary size of the whole text:
//! - uniform: `-ln(1/V)` per character;
//! - unigram: `p(c) = (n(c) + 1) / (N + V)` over the head's N characters (add-one smoothing),
//!   scored on every tail character;
//! - bigram: `p(c | a) = (n(a c) + 1) / (n(a .) + V)` over the head's pairs (add-one), scored
//!   on every tail character given the one before it (the head's last for the first).

use crate::vocab::Ids;

/// Loss of the three baselines on the tail, in nats per character.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Baselines {
    pub uniform: f64,
    pub unigram: f64,
    pub bigram: f64,
    /// Characters scored (the tail's length).
    pub scored: usize,
}

/// How often each id occurs: `counts[id]`, `V` long.
pub fn counts(ids: &Ids, vocab: usize) -> Vec<u64> {
    let mut n = vec![0u64; vocab];
    for id in ids.iter() {
        n[id as usize] += 1;
    }
    n
}

/// Fit on `ids[..split]`, score `ids[split..]` (see the module docs for the smoothing).
///
/// ```
/// use charrnn::{inspect, Vocab};
///
/// let text = "abcabcabcabcabcabcabcabcabcabc";
/// let vocab = Vocab::from_text(text);
/// let ids = vocab.encode(text).unwrap();
/// let b = inspect::baselines(&ids, vocab.len(), 24);
/// // "c" always follows "b": the bigram model knows, the unigram model does not.
/// assert!(b.bigram < b.unigram && b.unigram <= b.uniform + 1e-12);
/// ```
///
/// # Panics
/// If `split` is 0 or not below `ids.len()`, or an id is not below `vocab`.
pub fn baselines(ids: &Ids, vocab: usize, split: usize) -> Baselines {
    assert!(
        split > 0 && split < ids.len(),
        "the head and the tail must both be non-empty"
    );
    let v = vocab as f64;
    let mut uni = vec![0u64; vocab];
    let mut bi = vec![0u64; vocab * vocab];
    let mut prev = None;
    for id in ids.iter().take(split) {
        let id = id as usize;
        uni[id] += 1;
        if let Some(a) = prev {
            bi[a * vocab + id] += 1;
        }
        prev = Some(id);
    }
    // n(a .): pairs that start with a (the head's last character starts none).
    let mut from = vec![0u64; vocab];
    for a in 0..vocab {
        from[a] = bi[a * vocab..(a + 1) * vocab].iter().sum();
    }
    let head = split as f64;
    let (mut u, mut b) = (0.0, 0.0);
    let mut prev = ids.get(split - 1) as usize;
    for id in ids.iter().skip(split) {
        let id = id as usize;
        u -= ((uni[id] as f64 + 1.0) / (head + v)).ln();
        b -= ((bi[prev * vocab + id] as f64 + 1.0) / (from[prev] as f64 + v)).ln();
        prev = id;
    }
    let scored = ids.len() - split;
    Baselines {
        uniform: v.ln(),
        unigram: u / scored as f64,
        bigram: b / scored as f64,
        scored,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn baselines_by_hand() {
        // Head "abab" (a=0, b=1), tail "ab"; V = 2.
        let ids = Ids::U8(vec![0, 1, 0, 1, 0, 1]);
        let b = baselines(&ids, 2, 4);
        assert!((b.uniform - 2f64.ln()).abs() < 1e-12);
        // Unigram: p(a) = p(b) = (2 + 1) / (4 + 2).
        assert!((b.unigram - 2f64.ln()).abs() < 1e-12);
        // Bigram pairs in the head: ab, ba, ab. p(a|b) = (1+1)/(1+2), p(b|a) = (2+1)/(2+2).
        let want = -((2.0f64 / 3.0).ln() + (3.0f64 / 4.0).ln()) / 2.0;
        assert!((b.bigram - want).abs() < 1e-12, "{} vs {want}", b.bigram);
        assert_eq!(b.scored, 2);
        assert_eq!(counts(&ids, 2), vec![3, 3]);
    }
}
