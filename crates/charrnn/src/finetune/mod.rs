//! Fine-tuning: going on training a trained model on another text, which may hold characters
//! the model has never seen.
//!
//! A model and a text meet character by character, never id by id: the text is encoded with
//! the model's own vocabulary, so a text whose characters are a subset, a superset or any
//! reordering of the model's trains with the model's numbering. [`VocabFit`] says how a text's
//! characters fit a model's vocabulary (what `charrnn inspect FILE --model M` reports);
//! [`extend_vocab`] adds the ones it lacks without changing what the model predicts for the
//! others; [`Freeze`] holds parts of the model fixed while the rest trains.
//!
//! A run starts from a checkpoint with [`crate::run::RunConfig`]'s `init_from`, and these with
//! `extend_vocab`, `keep_optimizer` (carry a resumable checkpoint's optimizer state) and
//! `freeze`; its learning rate and schedule are its own.

mod extend;
mod freeze;

pub use extend::{extend_vocab, MARGIN};
pub use freeze::{Freeze, Part};

use crate::vocab::{Vocab, UNKNOWN};

/// How a text's characters fit a model's vocabulary.
///
/// ```
/// use charrnn::finetune::VocabFit;
/// use charrnn::vocab::{CharCounts, Vocab};
///
/// let model = Vocab::from_text("the cat sat");
/// let fit = VocabFit::new(&CharCounts::of_text("die Katze saß").sorted(), &model);
/// assert_eq!(fit.new_chars(), vec!['K', 'd', 'i', 'z', 'ß']);
/// assert_eq!(fit.new_count, 5);
/// assert!(fit.needs_extend());
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct VocabFit {
    /// Characters of the text, repeats included.
    pub text_chars: u64,
    /// Distinct characters of the text.
    pub text_distinct: usize,
    /// The text's characters the model has no id for, with how often each occurs, in
    /// code-point order.
    pub new: Vec<(char, u64)>,
    /// Occurrences of those characters in the text.
    pub new_count: u64,
    /// The model's vocabulary size.
    pub model_vocab: usize,
    /// The model's characters the text does not use.
    pub unused: usize,
    /// The model has the unknown symbol U+FFFD: without extending, the new characters are
    /// read as it.
    pub has_unknown: bool,
}

impl VocabFit {
    /// The fit of a text's characters `text` (each with its count, as
    /// [`crate::vocab::CharCounts::sorted`] gives them) to the model's `vocab`.
    pub fn new(text: &[(char, u64)], vocab: &Vocab) -> Self {
        let new: Vec<(char, u64)> = text
            .iter()
            .copied()
            .filter(|&(c, n)| n > 0 && vocab.id(c).is_none())
            .collect();
        let used = text
            .iter()
            .filter(|&&(c, n)| n > 0 && vocab.id(c).is_some())
            .count();
        VocabFit {
            text_chars: text.iter().map(|x| x.1).sum(),
            text_distinct: text.iter().filter(|x| x.1 > 0).count(),
            new_count: new.iter().map(|x| x.1).sum(),
            new,
            model_vocab: vocab.len(),
            unused: vocab.len() - used,
            has_unknown: vocab.id(UNKNOWN).is_some(),
        }
    }

    /// The new characters, in code-point order.
    pub fn new_chars(&self) -> Vec<char> {
        self.new.iter().map(|x| x.0).collect()
    }

    /// The share of the text's characters that are new, in `[0, 1]`.
    pub fn new_share(&self) -> f64 {
        self.new_count as f64 / self.text_chars.max(1) as f64
    }

    /// Training on the text from this model needs `extend_vocab`: it has new characters and
    /// the model has no unknown symbol to read them as.
    pub fn needs_extend(&self) -> bool {
        !self.new.is_empty() && !self.has_unknown
    }

    /// The vocabulary size once extended.
    pub fn extended_vocab(&self) -> usize {
        self.model_vocab + self.new.len()
    }
}
