//! The vocabulary: the sorted set of Unicode scalar values in a text, as the notebook's
//! `sorted(list(set(data)))`, and the compact id encoding of a text. A model's vocabulary is
//! read from its checkpoint in the order stored there: sorted for a new model, with the
//! characters [`crate::finetune::extend_vocab`] added after the sorted ones.
//!
//! For corpora with many rare characters, [`VocabOptions`] keeps only the frequent ones
//! (`--max-vocab`, `--min-count`) and maps the rest to one unknown symbol, [`UNKNOWN`]
//! (U+FFFD), which is stored in the vocabulary like any other character.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Characters in id order (code-point order, unless characters were added to a trained
/// model's vocabulary: they follow); a character's id is its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
    ascii: [u32; 128],
    other: HashMap<char, u32>,
}

const NONE: u32 = u32::MAX;

/// The symbol rare characters are mapped to when [`VocabOptions`] drops them: U+FFFD, the
/// Unicode replacement character. It sorts with the others by code point.
pub const UNKNOWN: char = '\u{FFFD}';

/// Which characters of a corpus get their own id. The default keeps every one, as the
/// notebook does.
///
/// ```
/// use charrnn::vocab::{CharCounts, Vocab, VocabOptions, UNKNOWN};
///
/// let counts = CharCounts::of_text("aaaa bbb cc d");
/// let opts = VocabOptions { max_vocab: Some(4), ..Default::default() };
/// let vocab = Vocab::from_counts(&counts, opts).unwrap();
/// // The three most frequent characters and the unknown symbol.
/// assert_eq!(vocab.chars(), &[' ', 'a', 'b', UNKNOWN]);
/// assert_eq!(vocab.id_or_unknown('d'), vocab.id(UNKNOWN));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct VocabOptions {
    /// At most this many ids, the unknown symbol included: the most frequent characters are
    /// kept (ties go to the lower code point). At least 2.
    pub max_vocab: Option<usize>,
    /// Only characters seen at least this many times get their own id. At least 1.
    pub min_count: Option<u64>,
}

impl VocabOptions {
    /// Check the limits are usable.
    pub fn validate(&self) -> Result<()> {
        if let Some(m) = self.max_vocab {
            if m < 2 {
                return Err(Error::Config(format!(
                    "`max_vocab` must be at least 2 (a character and the unknown symbol), got {m}"
                )));
            }
        }
        if self.min_count == Some(0) {
            return Err(Error::Config(
                "`min_count` must be at least 1 (1 keeps every character)".into(),
            ));
        }
        Ok(())
    }
}

/// How often each character occurs in a text, and a fingerprint of the text: what a first
/// pass over a corpus collects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CharCounts {
    ascii: [u64; 128],
    other: HashMap<char, u64>,
    total: u64,
    fnv: u64,
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;

impl Default for CharCounts {
    fn default() -> Self {
        CharCounts {
            ascii: [0; 128],
            other: HashMap::new(),
            total: 0,
            fnv: FNV_OFFSET,
        }
    }
}

impl CharCounts {
    /// No characters yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The counts of `text`.
    pub fn of_text(text: &str) -> Self {
        let mut c = Self::new();
        text.chars().for_each(|ch| c.add(ch));
        c
    }

    /// Count one more `c`.
    #[inline]
    pub fn add(&mut self, c: char) {
        if c.is_ascii() {
            self.ascii[c as usize] += 1;
            self.fnv = (self.fnv ^ c as u64).wrapping_mul(FNV_PRIME);
        } else {
            *self.other.entry(c).or_insert(0) += 1;
            let mut buf = [0; 4];
            for &b in c.encode_utf8(&mut buf).as_bytes() {
                self.fnv = (self.fnv ^ b as u64).wrapping_mul(FNV_PRIME);
            }
        }
        self.total += 1;
    }

    /// FNV-1a (64-bit) of the UTF-8 bytes of the characters counted, in order: the same as
    /// hashing the text as one string, so a run can check it resumes on the same text.
    ///
    /// ```
    /// use charrnn::vocab::CharCounts;
    ///
    /// let fnv = "héllo".bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
    ///     (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    /// });
    /// assert_eq!(CharCounts::of_text("héllo").fingerprint(), fnv);
    /// ```
    pub fn fingerprint(&self) -> u64 {
        self.fnv
    }

    /// Characters counted, repeats included.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Distinct characters counted.
    pub fn distinct(&self) -> usize {
        self.ascii.iter().filter(|&&n| n > 0).count() + self.other.len()
    }

    /// How often `c` was seen.
    pub fn get(&self, c: char) -> u64 {
        if c.is_ascii() {
            self.ascii[c as usize]
        } else {
            self.other.get(&c).copied().unwrap_or(0)
        }
    }

    /// Every character seen, with its count, in code-point order.
    pub fn sorted(&self) -> Vec<(char, u64)> {
        let mut out: Vec<(char, u64)> = (0u8..128)
            .filter(|&b| self.ascii[b as usize] > 0)
            .map(|b| (char::from(b), self.ascii[b as usize]))
            .collect();
        let mut other: Vec<(char, u64)> = self.other.iter().map(|(&c, &n)| (c, n)).collect();
        other.sort_unstable();
        out.extend(other);
        out
    }

    /// The characters seen that `vocab` has no id for, in code-point order, and how many
    /// times they occur in all.
    pub fn unknown_to(&self, vocab: &Vocab) -> (Vec<char>, u64) {
        let mut n = 0;
        let chars = self
            .sorted()
            .into_iter()
            .filter(|&(c, k)| {
                let missing = vocab.id(c).is_none();
                n += if missing { k } else { 0 };
                missing
            })
            .map(|(c, _)| c)
            .collect();
        (chars, n)
    }
}

impl Vocab {
    /// The vocabulary of `text`: its distinct characters, sorted by code point.
    pub fn from_text(text: &str) -> Self {
        let mut seen_ascii = [false; 128];
        let mut other = std::collections::BTreeSet::new();
        for c in text.chars() {
            if c.is_ascii() {
                seen_ascii[c as usize] = true;
            } else {
                other.insert(c);
            }
        }
        let mut chars: Vec<char> = (0u8..128)
            .filter(|&b| seen_ascii[b as usize])
            .map(char::from)
            .collect();
        chars.extend(other);
        Self::build(chars)
    }

    /// The vocabulary of counted characters under `opts`: every character (sorted by code
    /// point, as [`Vocab::from_text`]) unless `opts` drops some, in which case the kept ones
    /// and [`UNKNOWN`] (sorted together). `UNKNOWN` itself, when the text has it, is always
    /// kept.
    ///
    /// Fails when `opts` is invalid or leaves no character of the text.
    pub fn from_counts(counts: &CharCounts, opts: VocabOptions) -> Result<Self> {
        opts.validate()?;
        let all = counts.sorted();
        let min = opts.min_count.unwrap_or(1);
        let mut kept: Vec<(char, u64)> = all
            .iter()
            .copied()
            .filter(|&(c, n)| c != UNKNOWN && n >= min)
            .collect();
        let others = all.iter().filter(|&&(c, _)| c != UNKNOWN).count();
        let mut need_unknown = kept.len() < others || counts.get(UNKNOWN) > 0;
        if let Some(max) = opts.max_vocab {
            if kept.len() + usize::from(need_unknown) > max {
                // Most frequent first; ties to the lower code point.
                kept.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
                kept.truncate(max - 1);
                need_unknown = true;
            }
        }
        // A text of nothing but the unknown symbol has a vocabulary of that symbol alone.
        if kept.is_empty() && others > 0 {
            return Err(Error::Config(format!(
                "`min_count` {min} leaves no character of the text (the most frequent occurs {} times): lower it",
                all.iter().map(|x| x.1).max().unwrap_or(0)
            )));
        }
        let mut chars: Vec<char> = kept.into_iter().map(|(c, _)| c).collect();
        if need_unknown {
            chars.push(UNKNOWN);
        }
        chars.sort_unstable();
        Ok(Self::build(chars))
    }

    /// A vocabulary from characters in index order (as stored in a checkpoint).
    ///
    /// Fails on duplicates; the order is kept as given.
    pub fn from_chars(chars: Vec<char>) -> Result<Self> {
        let v = Self::build(chars);
        if v.other.len() + v.ascii.iter().filter(|&&i| i != NONE).count() != v.chars.len() {
            return Err(Error::Vocab("vocabulary has duplicate characters".into()));
        }
        Ok(v)
    }

    fn build(chars: Vec<char>) -> Self {
        let mut ascii = [NONE; 128];
        let mut other = HashMap::new();
        for (i, &c) in chars.iter().enumerate() {
            if c.is_ascii() {
                ascii[c as usize] = i as u32;
            } else {
                other.insert(c, i as u32);
            }
        }
        Vocab {
            chars,
            ascii,
            other,
        }
    }

    /// Number of characters.
    pub fn len(&self) -> usize {
        self.chars.len()
    }

    /// True when there are no characters.
    pub fn is_empty(&self) -> bool {
        self.chars.is_empty()
    }

    /// The characters in id order.
    pub fn chars(&self) -> &[char] {
        &self.chars
    }

    /// The id of `c`, if it is in the vocabulary.
    #[inline]
    pub fn id(&self, c: char) -> Option<u32> {
        if c.is_ascii() {
            let i = self.ascii[c as usize];
            (i != NONE).then_some(i)
        } else {
            self.other.get(&c).copied()
        }
    }

    /// The id of `c`, or of [`UNKNOWN`] when `c` has none and the vocabulary has `UNKNOWN`.
    #[inline]
    pub fn id_or_unknown(&self, c: char) -> Option<u32> {
        self.id(c).or_else(|| self.unknown_id())
    }

    /// The id of [`UNKNOWN`], if the vocabulary has it.
    pub fn unknown_id(&self) -> Option<u32> {
        self.other.get(&UNKNOWN).copied()
    }

    /// The character with id `i`.
    ///
    /// # Panics
    /// If `i` is not a valid id.
    pub fn char(&self, i: u32) -> char {
        self.chars[i as usize]
    }

    /// The distinct characters of `text` that are not in the vocabulary, in order of appearance.
    pub fn unknown(&self, text: &str) -> Vec<char> {
        let mut out = Vec::new();
        for c in text.chars() {
            if self.id(c).is_none() && !out.contains(&c) {
                out.push(c);
            }
        }
        out
    }

    /// Encode `text` to ids, failing with the list of unknown characters.
    pub fn encode(&self, text: &str) -> Result<Ids> {
        let unknown = self.unknown(text);
        if !unknown.is_empty() {
            return Err(Error::Vocab(format!(
                "characters not in the model's vocabulary: {}",
                describe_chars(&unknown)
            )));
        }
        let n = text.chars().count();
        let ids = text.chars().map(|c| self.id(c).expect("checked above"));
        Ok(Ids::collect(self.len(), n, ids))
    }

    /// Decode ids to text.
    pub fn decode(&self, ids: impl IntoIterator<Item = u32>) -> String {
        ids.into_iter().map(|i| self.char(i)).collect()
    }
}

/// `'a', 'é', '\n'` with escapes, for error messages; past 40 characters, the first 40 and
/// how many more.
pub fn describe_chars(chars: &[char]) -> String {
    const SHOWN: usize = 40;
    let mut s = chars
        .iter()
        .take(SHOWN)
        .map(|c| format!("{c:?} (U+{:04X})", *c as u32))
        .collect::<Vec<_>>()
        .join(", ");
    if chars.len() > SHOWN {
        s += &format!(" and {} more", chars.len() - SHOWN);
    }
    s
}

/// A text as ids, in the smallest integer width that holds the vocabulary.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ids {
    U8(Vec<u8>),
    U16(Vec<u16>),
    U32(Vec<u32>),
}

impl Ids {
    /// Collect `n` ids below `vocab_len` into the narrowest width.
    pub fn collect(vocab_len: usize, n: usize, ids: impl Iterator<Item = u32>) -> Self {
        if vocab_len <= 1 << 8 {
            let mut v = Vec::with_capacity(n);
            v.extend(ids.map(|i| i as u8));
            Ids::U8(v)
        } else if vocab_len <= 1 << 16 {
            let mut v = Vec::with_capacity(n);
            v.extend(ids.map(|i| i as u16));
            Ids::U16(v)
        } else {
            let mut v = Vec::with_capacity(n);
            v.extend(ids);
            Ids::U32(v)
        }
    }

    /// Number of ids.
    pub fn len(&self) -> usize {
        match self {
            Ids::U8(v) => v.len(),
            Ids::U16(v) => v.len(),
            Ids::U32(v) => v.len(),
        }
    }

    /// True when empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Id at position `i`.
    #[inline]
    pub fn get(&self, i: usize) -> u32 {
        match self {
            Ids::U8(v) => v[i] as u32,
            Ids::U16(v) => v[i] as u32,
            Ids::U32(v) => v[i],
        }
    }

    /// Bytes used per id.
    pub fn width(&self) -> usize {
        match self {
            Ids::U8(_) => 1,
            Ids::U16(_) => 2,
            Ids::U32(_) => 4,
        }
    }

    /// The ids before `k` and from `k` on.
    ///
    /// # Panics
    /// If `k > self.len()`.
    pub fn split_at(mut self, k: usize) -> (Ids, Ids) {
        let tail = match &mut self {
            Ids::U8(v) => Ids::U8(v.split_off(k)),
            Ids::U16(v) => Ids::U16(v.split_off(k)),
            Ids::U32(v) => Ids::U32(v.split_off(k)),
        };
        (self, tail)
    }

    /// Iterate over the ids.
    pub fn iter(&self) -> impl Iterator<Item = u32> + '_ {
        (0..self.len()).map(|i| self.get(i))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_by_code_point_and_round_trips() {
        let text = "héllo wörld ΑΒγ 中文 🙂\n";
        let v = Vocab::from_text(text);
        let mut expect: Vec<char> = text.chars().collect();
        expect.sort();
        expect.dedup();
        assert_eq!(v.chars(), &expect[..]);
        let ids = v.encode(text).unwrap();
        assert_eq!(ids.width(), 1);
        assert_eq!(v.decode(ids.iter()), text);
    }

    #[test]
    fn unknown_chars_are_listed() {
        let v = Vocab::from_text("abc");
        let err = v.encode("abxyx").unwrap_err().to_string();
        assert!(err.contains("'x'") && err.contains("'y'"), "{err}");
    }

    #[test]
    fn a_text_of_only_the_unknown_symbol_has_it_alone() {
        let text = "\u{FFFD}\u{FFFD}";
        let v = Vocab::from_counts(&CharCounts::of_text(text), VocabOptions::default()).unwrap();
        assert_eq!(v, Vocab::from_text(text));
        let err = Vocab::from_counts(
            &CharCounts::of_text("ab\u{FFFD}"),
            VocabOptions {
                min_count: Some(2),
                max_vocab: None,
            },
        )
        .unwrap_err();
        assert!(err.to_string().contains("leaves no character"), "{err}");
    }

    #[test]
    fn duplicates_rejected() {
        assert!(Vocab::from_chars(vec!['a', 'b', 'a']).is_err());
        assert!(Vocab::from_chars(vec!['é', 'b', 'é']).is_err());
    }

    #[test]
    fn wide_vocab_uses_u16() {
        let text: String = (0..300u32)
            .filter_map(|i| char::from_u32(0x4e00 + i))
            .collect();
        let v = Vocab::from_text(&text);
        assert_eq!(v.encode(&text).unwrap().width(), 2);
    }
}
