//! The vocabulary: the sorted set of Unicode scalar values in a text, as the notebook's
//! `sorted(list(set(data)))`, and the compact id encoding of a text.

use std::collections::HashMap;

use crate::error::{Error, Result};

/// Characters in code-point order; a character's id is its index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vocab {
    chars: Vec<char>,
    ascii: [u32; 128],
    other: HashMap<char, u32>,
}

const NONE: u32 = u32::MAX;

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

/// `'a', 'é', '\n'` with escapes, for error messages.
pub fn describe_chars(chars: &[char]) -> String {
    chars
        .iter()
        .map(|c| format!("{c:?} (U+{:04X})", *c as u32))
        .collect::<Vec<_>>()
        .join(", ")
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
