//! The corpus: reading a text file as the notebook does, and cutting its ids into `B` parallel
//! streams walked in windows of `T` steps.
//!
//! Shapes: B batch (streams), T window length (`seq_len`), L stream length.

use std::path::Path;

use crate::error::{Error, Result};
use crate::vocab::{Ids, Vocab};

/// How to read a text file.
#[derive(Clone, Copy, Debug, Default)]
pub struct ReadOptions {
    /// Keep `\r\n` and lone `\r` as they are. By default they become `\n`, as Python's text mode
    /// (and so the notebook) reads them.
    pub keep_cr: bool,
}

/// Read a UTF-8 text file, turning `\r\n` and `\r` into `\n` unless `opts.keep_cr`.
///
/// This holds the whole text; to train on a large file, [`crate::corpus::load`] streams it
/// into ids instead.
///
/// Fails with a message naming the problem for a missing file, a directory, an empty file or
/// invalid UTF-8 (with the byte offset).
pub fn read_text(path: &Path, opts: ReadOptions) -> Result<String> {
    if path.is_dir() {
        return Err(Error::Corpus {
            path: path.into(),
            msg: "is a directory: give a text file".into(),
        });
    }
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Corpus {
                path: path.into(),
                msg: "no such file: check the path".into(),
            }
        } else {
            Error::io(path, "cannot read", e)
        }
    })?;
    let text = String::from_utf8(bytes).map_err(|e| Error::Corpus {
        path: path.into(),
        msg: format!(
            "not valid UTF-8 at byte offset {}: convert the file to UTF-8 (e.g. iconv -t UTF-8)",
            e.utf8_error().valid_up_to()
        ),
    })?;
    if text.is_empty() {
        return Err(Error::Corpus {
            path: path.into(),
            msg: "is empty: give a file with text in it".into(),
        });
    }
    Ok(if opts.keep_cr {
        text
    } else {
        universal_newlines(text)
    })
}

/// Python's universal newlines: `\r\n` -> `\n`, lone `\r` -> `\n`.
pub fn universal_newlines(text: String) -> String {
    if !text.contains('\r') {
        return text;
    }
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\r' {
            if chars.peek() == Some(&'\n') {
                chars.next();
            }
            out.push('\n');
        } else {
            out.push(c);
        }
    }
    out
}

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
                "the text has {} characters; seq-len {seq_len} x batch {batch} needs at least {need}: \
                 use a longer text or a smaller --seq-len/--batch",
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

/// Read, build the vocabulary of, and encode a corpus file, in bounded memory (see
/// [`crate::corpus::load`], which also takes vocabulary options and reports progress).
pub fn load_corpus(path: &Path, opts: ReadOptions) -> Result<(Vocab, Ids)> {
    let opts = crate::corpus::LoadOptions {
        keep_cr: opts.keep_cr,
        ..Default::default()
    };
    let c = crate::corpus::load(path, &opts, |_| {})?;
    Ok((c.vocab, c.ids))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn newlines_like_python() {
        assert_eq!(
            universal_newlines("a\r\nb\rc\n\r\r\n".into()),
            "a\nb\nc\n\n\n"
        );
    }

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
    }
}
