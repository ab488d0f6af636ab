//! A corpus's ids cut into `B` parallel streams walked in windows of `T` steps, as the notebook
//! walks its text. Reading the text is [`crate::corpus`]'s.
//!
//! Shapes: B batch (streams), T window length (`seq_len`), L stream length.

use crate::error::{Error, Result};
use crate::vocab::Ids;

/// A corpus encoded to ids and cut into `batch` parallel streams of equal length, exactly as
/// the notebook: the ids are cut to a multiple of `seq_len * batch` and reshaped row-major into
/// `[B, L]`.
#[derive(Clone, Debug)]
pub struct Streams {
    ids: Ids,
    batch: usize,
    seq_len: usize,
    len: usize,
}

impl Streams {
    /// Cut `ids` for windows of `seq_len` over `batch` streams.
    ///
    /// Fails when the text is too short for one window (each stream needs `2 * seq_len`
    /// characters, so the text needs `2 * seq_len * batch`).
    pub fn new(ids: Ids, seq_len: usize, batch: usize) -> Result<Self> {
        let need = 2 * seq_len * batch;
        if ids.len() < need {
            return Err(Error::config(format!(
                "the text has {} characters; `seq_len` {seq_len} x `batch` {batch} needs at least {need} \
                 (2 x {seq_len} x {batch}: the text is cut into {batch} streams, and each needs two windows, \
                 as a window's targets are its characters one step on): use a longer text or a smaller `seq_len` or `batch`",
                ids.len()
            )));
        }
        let bound = ids.len() / (seq_len * batch) * (seq_len * batch);
        Ok(Streams {
            ids,
            batch,
            seq_len,
            len: bound / batch,
        })
    }

    /// Number of streams (B).
    pub fn batch(&self) -> usize {
        self.batch
    }

    /// Window length (T).
    pub fn seq_len(&self) -> usize {
        self.seq_len
    }

    /// Length of each stream (L).
    pub fn stream_len(&self) -> usize {
        self.len
    }

    /// Id at position `p` of stream `b`.
    #[inline]
    pub fn at(&self, b: usize, p: usize) -> u32 {
        debug_assert!(p < self.len);
        self.ids.get(b * self.len + p)
    }

    /// Windows one epoch has (from one reset to the next).
    pub fn windows_per_epoch(&self) -> usize {
        // Starts p = 0, T, 2T, ... with p + T + 1 < L; at least the one at 0.
        (self.len - self.seq_len - 1).div_ceil(self.seq_len).max(1)
    }

    /// The full id sequence.
    pub fn ids(&self) -> &Ids {
        &self.ids
    }
}

/// Where the next window starts, with the notebook's reset rule.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Cursor {
    /// Next window start (before the reset rule is applied).
    pub p: usize,
    /// Windows taken so far.
    pub n: u64,
}

/// One window: inputs are `[start, start + T)` of every stream, targets one to the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub start: usize,
    /// The hidden state must be zeroed before this window.
    pub reset: bool,
}

impl Cursor {
    /// The window the next call to [`Cursor::advance`] returns, without moving.
    pub fn peek(&self, s: &Streams) -> Window {
        if self.n == 0 || self.p + s.seq_len + 1 >= s.len {
            Window {
                start: 0,
                reset: true,
            }
        } else {
            Window {
                start: self.p,
                reset: false,
            }
        }
    }

    /// Take the next window: reset to 0 when `p + T + 1 >= L` (or on the first), then move
    /// `p` on by `T`.
    pub fn advance(&mut self, s: &Streams) -> Window {
        let w = self.peek(s);
        self.p = w.start + s.seq_len;
        self.n += 1;
        w
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_follows_notebook_rule() {
        let ids = Ids::U8((0..100u8).collect());
        let s = Streams::new(ids, 4, 3).unwrap(); // bound 96, L = 32
        assert_eq!(s.stream_len(), 32);
        assert_eq!(s.at(1, 0), 32);
        let mut c = Cursor::default();
        let mut starts = vec![];
        for _ in 0..10 {
            let w = c.advance(&s);
            starts.push((w.start, w.reset));
        }
        // p + 4 + 1 >= 32 resets at p = 28.
        let expect = [0, 4, 8, 12, 16, 20, 24, 0, 4, 8];
        assert_eq!(starts.iter().map(|x| x.0).collect::<Vec<_>>(), expect);
        assert!(starts[0].1 && starts[7].1 && !starts[1].1);
        assert_eq!(s.windows_per_epoch(), 7);
    }

    #[test]
    fn too_short_says_how_many() {
        let err = Streams::new(Ids::U8(vec![0; 10]), 4, 2)
            .unwrap_err()
            .to_string();
        assert!(err.contains("at least 16"), "{err}");
        assert!(
            err.contains("(2 x 4 x 2: ") && err.contains("two windows"),
            "{err}"
        );
    }
}
