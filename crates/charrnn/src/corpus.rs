//! Reading a corpus: the one reader of text files (and of texts in memory), streaming them
//! into ids in bounded memory.
//!
//! The file is read in blocks of [`LoadOptions::block_size`] bytes, never as one `String`:
//! a first pass validates UTF-8, applies the universal-newline rule and counts characters
//! ([`scan`]); the vocabulary is built from the counts ([`Vocab::from_counts`]); a second pass
//! encodes straight into a vector of the narrowest id width, allocated once at its exact
//! length ([`encode`]). Peak memory is the ids (one byte per character for a vocabulary of up
//! to 256) plus one block, whatever the size of the file.
//!
//! The result is the one the notebook's `open(path).read()` gives: `\r\n` and a lone `\r`
//! become `\n` (unless `keep_cr`), also when a block boundary falls between `\r` and `\n` or
//! inside a multi-byte character; invalid UTF-8 is an error naming the byte offset of the
//! first invalid byte. [`read_text`] gives the decoded text itself, through the same decoder,
//! for tools and tests that need it whole; [`universal_newlines`] is the newline rule on a
//! whole string, the obvious twin the block decoder is tested and fuzzed against.
//!
//! ```
//! use charrnn::corpus::{self, LoadOptions};
//!
//! let dir = tempfile::tempdir().unwrap();
//! let path = dir.path().join("corpus.txt");
//! std::fs::write(&path, "héllo\r\nwörld\r").unwrap();
//! let mut seen = 0;
//! let c = corpus::load(&path, &LoadOptions::default(), |p| seen = p.done).unwrap();
//! assert_eq!(c.vocab.decode(c.ids.iter()), "héllo\nwörld\n");
//! assert_eq!(c.ids.width(), 1);
//! assert_eq!(seen, 15);
//! ```

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::vocab::{describe_chars, CharCounts, Ids, Vocab, VocabOptions};

/// How to read a corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoadOptions {
    /// Keep `\r\n` and lone `\r` as they are (by default they become `\n`, as Python's text
    /// mode reads them).
    pub keep_cr: bool,
    /// Which characters get their own id (default: all).
    pub vocab: VocabOptions,
    /// Bytes read at a time (at least 4; default 1 MiB).
    pub block_size: usize,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            keep_cr: false,
            vocab: VocabOptions::default(),
            block_size: 1 << 20,
        }
    }
}

/// Which pass over the file a [`Progress`] report is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Validating and counting characters, for the vocabulary.
    Vocab,
    /// Encoding to ids.
    Encode,
}

/// How far a pass has got: `done` of `total` bytes (the file's size when the pass began).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Progress {
    pub phase: Phase,
    pub done: u64,
    pub total: u64,
}

/// What to do with characters the vocabulary has no id for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnUnknown {
    /// Fail, listing them.
    Error,
    /// Leave them out of the ids.
    Skip,
    /// Map them to [`crate::vocab::UNKNOWN`]'s id (fails if the vocabulary lacks it).
    Replace,
}

/// A corpus encoded to ids.
#[derive(Clone, Debug)]
pub struct Corpus {
    pub vocab: Vocab,
    /// One id per character, in the narrowest width that holds the vocabulary.
    pub ids: Ids,
    /// Characters mapped to the unknown symbol (0 unless [`LoadOptions::vocab`] drops some).
    pub replaced: u64,
    /// Distinct characters in the text (before any were dropped).
    pub distinct: usize,
    /// [`CharCounts::fingerprint`] of the text (after the newline rule).
    pub fingerprint: u64,
}

/// Where a corpus comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source<'a> {
    /// A file, read in blocks, once per pass. The two-pass readers ([`scan`] and [`encode`],
    /// so [`load`]) need a regular file and refuse anything else (a pipe, a terminal, a
    /// device) with a message saying so: read it with [`read_all`] and give it as
    /// [`Source::Read`]. The one-pass readers ([`read_text`], [`read_head`]) take any file.
    File(&'a Path),
    /// Bytes in memory (the built-in corpus), read the same way; errors name `<text>`.
    Bytes(&'a [u8]),
    /// The bytes of a file that can be read only once (a pipe, standard input), read by
    /// [`read_all`]: treated as a file (it must not be empty), errors name `name`.
    Read { name: &'a Path, bytes: &'a [u8] },
}

impl<'a> Source<'a> {
    /// A text in memory.
    pub fn text(text: &'a str) -> Self {
        Source::Bytes(text.as_bytes())
    }

    /// The name errors give the source.
    fn name(&self) -> &'a Path {
        match self {
            Source::File(p) | Source::Read { name: p, .. } => p,
            Source::Bytes(_) => Path::new("<text>"),
        }
    }
}

/// Read, build the vocabulary of and encode a corpus file in two streaming passes
/// ([`scan`], [`Vocab::from_counts`], [`encode`]).
///
/// `progress` is called after every block of each pass. Fails with a message naming the file
/// for a missing file, a directory, an empty file, invalid UTF-8 (with its byte offset), bad
/// vocabulary options, or a file that changes between the passes.
pub fn load(path: &Path, opts: &LoadOptions, progress: impl FnMut(Progress)) -> Result<Corpus> {
    load_source(Source::File(path), opts, progress)
}

/// [`load`] for a text already in memory (the built-in corpus): the same newline rule,
/// vocabulary options and encoding.
pub fn load_str(text: &str, opts: &LoadOptions) -> Result<Corpus> {
    load_bytes(text.as_bytes(), opts)
}

/// [`load`] for bytes in memory: the same UTF-8 check (errors name the file `<text>`),
/// newline rule, vocabulary options and encoding, block by block.
pub fn load_bytes(bytes: &[u8], opts: &LoadOptions) -> Result<Corpus> {
    load_source(Source::Bytes(bytes), opts, |_| {})
}

/// [`load`] for any [`Source`].
pub fn load_source(
    src: Source,
    opts: &LoadOptions,
    mut progress: impl FnMut(Progress),
) -> Result<Corpus> {
    let counts = scan(src, opts, &mut progress)?;
    let vocab = Vocab::from_counts(&counts, opts.vocab)?;
    let (_, replaced) = counts.unknown_to(&vocab);
    let ids = encode(
        src,
        opts,
        &vocab,
        &counts,
        OnUnknown::Replace,
        &mut progress,
    )?;
    Ok(Corpus {
        vocab,
        ids,
        replaced,
        distinct: counts.distinct(),
        fingerprint: counts.fingerprint(),
    })
}

/// First pass: check the source is UTF-8 and count its characters (after the newline rule).
/// A file must not be empty; bytes in memory may be.
pub fn scan(
    src: Source,
    opts: &LoadOptions,
    mut progress: impl FnMut(Progress),
) -> Result<CharCounts> {
    two_passes(src)?;
    let mut counts = CharCounts::new();
    pass(src, opts, Phase::Vocab, &mut progress, &mut |c| {
        counts.add(c);
        Ok(())
    })
    .map_err(|e| e.into_error(src.name()))?;
    if let (Source::File(path) | Source::Read { name: path, .. }, 0) = (src, counts.total()) {
        return Err(empty(path));
    }
    Ok(counts)
}

/// Read a whole text file into a `String`: the same checks (a missing file, a directory, an
/// empty file, invalid UTF-8 with its byte offset), messages and newline rule as [`load`].
/// Only `keep_cr` and `block_size` of `opts` apply.
///
/// This holds the whole text; training streams a file into ids instead ([`load`]).
pub fn read_text(path: &Path, opts: &LoadOptions) -> Result<String> {
    let src = Source::File(path);
    let mut text = String::new();
    pass(src, opts, Phase::Vocab, &mut |_| {}, &mut |c| {
        text.push(c);
        Ok(())
    })
    .map_err(|e| e.into_error(path))?;
    if text.is_empty() {
        return Err(empty(path));
    }
    Ok(text)
}

/// Python's universal newlines on a whole string: `\r\n` -> `\n`, lone `\r` -> `\n` (what
/// the block decoder does across block boundaries, written the obvious way).
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

fn empty(path: &Path) -> Error {
    Error::Corpus {
        path: path.into(),
        msg: "is empty: give a file with text in it".into(),
    }
}

/// Second pass: encode the source with `vocab`, given the `counts` [`scan`] returned for it
/// (they size the id vector exactly). Characters without an id are handled per `unknown`.
///
/// Fails if the file no longer matches `counts` (it changed between the passes).
pub fn encode(
    src: Source,
    opts: &LoadOptions,
    vocab: &Vocab,
    counts: &CharCounts,
    unknown: OnUnknown,
    mut progress: impl FnMut(Progress),
) -> Result<Ids> {
    two_passes(src)?;
    encode_with(vocab, counts, unknown, |f| {
        pass(src, opts, Phase::Encode, &mut progress, f)
    })
    .map_err(|e| e.into_error(src.name()))
}

/// The first `max_chars` characters of `src` under the newline rule of `opts`, and whether it
/// has more: reads a block past them at most, whatever the size of the file.
///
/// ```
/// use charrnn::corpus::{read_head, LoadOptions, Source};
///
/// let opts = LoadOptions::default();
/// assert_eq!(read_head(Source::text("ab\r\ncd"), &opts, 4).unwrap(), ("ab\nc".into(), true));
/// assert_eq!(read_head(Source::text("ab"), &opts, 3).unwrap(), ("ab".into(), false));
/// ```
///
/// Fails as [`scan`] does (a missing, empty or unreadable file, invalid UTF-8 in the part read).
pub fn read_head(src: Source, opts: &LoadOptions, max_chars: usize) -> Result<(String, bool)> {
    let mut text = String::new();
    let (mut n, mut more) = (0, false);
    let read = pass(src, opts, Phase::Vocab, &mut |_| {}, &mut |c| {
        if n == max_chars {
            more = true;
            return Err(Stop::Enough);
        }
        text.push(c);
        n += 1;
        Ok(())
    });
    match read {
        Ok(()) | Err(Stop::Enough) => {}
        Err(e) => return Err(e.into_error(src.name())),
    }
    if let (Source::File(path), true) = (src, text.is_empty() && !more) {
        return Err(Error::Corpus {
            path: path.into(),
            msg: "is empty: give a file with text in it".into(),
        });
    }
    Ok((text, more))
}

/// Why a pass stopped.
#[derive(Debug)]
enum Stop {
    /// The caller has what it needs ([`read_head`]).
    Enough,
    Io(std::io::Error),
    Utf8 {
        offset: u64,
    },
    Unknown(Vec<char>),
    Changed,
    Error(Error),
}

impl Stop {
    fn into_error(self, path: &Path) -> Error {
        let corpus = |msg: String| Error::Corpus {
            path: PathBuf::from(path),
            msg,
        };
        match self {
            Stop::Enough => unreachable!("read_head stops its own pass"),
            Stop::Io(e) => Error::io(path, "cannot read", e),
            Stop::Utf8 { offset } => corpus(format!(
                "not valid UTF-8 at byte offset {offset}: convert the file to UTF-8 (e.g. iconv -t UTF-8)"
            )),
            Stop::Unknown(chars) => corpus(format!(
                "characters not in the model's vocabulary: {}",
                describe_chars(&chars)
            )),
            Stop::Changed => corpus(
                "changed while it was being read: let the program writing it finish, then retry"
                    .into(),
            ),
            Stop::Error(e) => e,
        }
    }
}

/// Encode the characters a `run` of the decoder yields, `counts.total()` of them (fewer
/// when skipping), into the narrowest width for `vocab`.
fn encode_with(
    vocab: &Vocab,
    counts: &CharCounts,
    unknown: OnUnknown,
    run: impl FnOnce(&mut dyn FnMut(char) -> Result<(), Stop>) -> Result<(), Stop>,
) -> Result<Ids, Stop> {
    let (missing, n_missing) = counts.unknown_to(vocab);
    let n = match unknown {
        OnUnknown::Error if !missing.is_empty() => return Err(Stop::Unknown(missing)),
        OnUnknown::Replace if !missing.is_empty() && vocab.unknown_id().is_none() => {
            return Err(Stop::Unknown(missing))
        }
        OnUnknown::Skip => counts.total() - n_missing,
        _ => counts.total(),
    };
    let n = usize::try_from(n).map_err(|_| {
        Stop::Error(Error::config(format!(
            "{n} characters do not fit in memory on this machine"
        )))
    })?;
    let lookup = |c: char| match unknown {
        OnUnknown::Replace => vocab.id_or_unknown(c),
        _ => vocab.id(c),
    };
    let skip = unknown == OnUnknown::Skip;
    fn fill<W>(
        n: usize,
        run: impl FnOnce(&mut dyn FnMut(char) -> Result<(), Stop>) -> Result<(), Stop>,
        lookup: impl Fn(char) -> Option<u32>,
        skip: bool,
        conv: fn(u32) -> W,
    ) -> Result<Vec<W>, Stop> {
        let mut v = Vec::with_capacity(n);
        run(&mut |c| {
            match lookup(c) {
                Some(id) if v.len() < n => v.push(conv(id)),
                None if skip => {}
                // More characters, or other ones, than the first pass saw.
                _ => return Err(Stop::Changed),
            }
            Ok(())
        })?;
        if v.len() != n {
            return Err(Stop::Changed);
        }
        Ok(v)
    }
    Ok(if vocab.len() <= 1 << 8 {
        Ids::U8(fill(n, run, lookup, skip, |i| i as u8)?)
    } else if vocab.len() <= 1 << 16 {
        Ids::U16(fill(n, run, lookup, skip, |i| i as u16)?)
    } else {
        Ids::U32(fill(n, run, lookup, skip, |i| i)?)
    })
}

/// One pass over `src`, calling `f` on every character.
fn pass(
    src: Source,
    opts: &LoadOptions,
    phase: Phase,
    progress: &mut dyn FnMut(Progress),
    f: &mut dyn FnMut(char) -> Result<(), Stop>,
) -> Result<(), Stop> {
    let mut done = 0;
    match src {
        Source::File(path) => {
            let file = open_any(path).map_err(Stop::Error)?;
            let total = file.metadata().map(|m| m.len()).unwrap_or(0);
            decode_blocks(file, opts, f, |n| {
                done += n as u64;
                progress(Progress { phase, done, total });
            })
        }
        Source::Bytes(bytes) | Source::Read { bytes, .. } => {
            let total = bytes.len() as u64;
            decode_blocks(bytes, opts, f, |n| {
                done += n as u64;
                progress(Progress { phase, done, total });
            })
        }
    }
}

/// A file read in two passes must be a regular file: a pipe, a terminal or a device would
/// give its text to the first pass only. (Missing files and directories are left to the
/// pass's own messages.)
fn two_passes(src: Source) -> Result<()> {
    let Source::File(path) = src else {
        return Ok(());
    };
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() && !m.is_dir() => Err(Error::Corpus {
            path: path.into(),
            msg: "is not a regular file but a pipe, a terminal or a device, which can be read only once, and a corpus is read twice: save the text to a file and give that".into(),
        }),
        _ => Ok(()),
    }
}

/// Open a file of any kind, with messages for a directory or a missing file.
fn open_any(path: &Path) -> Result<File> {
    if path.is_dir() {
        return Err(Error::Corpus {
            path: path.into(),
            msg: "is a directory: give a text file".into(),
        });
    }
    File::open(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Error::Corpus {
                path: path.into(),
                msg: "no such file: check the path".into(),
            }
        } else {
            Error::io(path, "cannot read", e)
        }
    })
}

/// Read the whole of a file of any kind (a pipe, a device, `/dev/stdin`) into memory, to
/// give it as a [`Source::Read`]: for a text that can be read only once. The same messages as
/// [`load`] for a missing file or a directory.
pub fn read_all(path: &Path) -> Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_any(path)?
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io(path, "cannot read", e))?;
    Ok(bytes)
}

/// The block decoder: UTF-8 validated block by block (a character cut by a block boundary is
/// carried into the next block), `\r\n` and `\r` turned into `\n` with the state carried
/// across blocks. `read` is called with the bytes consumed after each block.
fn decode_blocks(
    mut r: impl Read,
    opts: &LoadOptions,
    f: &mut dyn FnMut(char) -> Result<(), Stop>,
    mut read: impl FnMut(usize),
) -> Result<(), Stop> {
    let block = opts.block_size.max(4);
    // A block, after at most 3 bytes of a character carried from the previous one.
    let mut buf = vec![0u8; block + 3];
    let mut carry = 0;
    // File offset of buf[0].
    let mut base: u64 = 0;
    let mut after_cr = false;
    let keep_cr = opts.keep_cr;
    let mut emit = |s: &str| -> Result<(), Stop> {
        for c in s.chars() {
            if keep_cr {
                f(c)?;
            } else if c == '\r' {
                after_cr = true;
                f('\n')?;
            } else if std::mem::take(&mut after_cr) && c == '\n' {
                // The \n of a \r\n: already emitted.
            } else {
                f(c)?;
            }
        }
        Ok(())
    };
    loop {
        let n = match r.read(&mut buf[carry..carry + block]) {
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(Stop::Io(e)),
        };
        if n == 0 {
            if carry > 0 {
                // The file ends inside a character.
                return Err(Stop::Utf8 { offset: base });
            }
            return Ok(());
        }
        let data = &buf[..carry + n];
        let valid = match std::str::from_utf8(data) {
            Ok(s) => {
                emit(s)?;
                data.len()
            }
            Err(e) => {
                let valid = e.valid_up_to();
                if e.error_len().is_some() {
                    return Err(Stop::Utf8 {
                        offset: base + valid as u64,
                    });
                }
                emit(std::str::from_utf8(&data[..valid]).expect("valid prefix"))?;
                valid
            }
        };
        let len = data.len();
        buf.copy_within(valid..len, 0);
        carry = len - valid;
        base += valid as u64;
        read(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars_of(bytes: &[u8], keep_cr: bool, block_size: usize) -> Result<String, u64> {
        let opts = LoadOptions {
            keep_cr,
            block_size,
            ..Default::default()
        };
        let mut out = String::new();
        let push = &mut |c| {
            out.push(c);
            Ok(())
        };
        match pass(Source::Bytes(bytes), &opts, Phase::Vocab, &mut |_| {}, push) {
            Ok(()) => Ok(out),
            Err(Stop::Utf8 { offset }) => Err(offset),
            Err(e) => panic!("{e:?}"),
        }
    }

    /// Issue 13: a pipe is refused as a file (it cannot be read twice) with a message saying
    /// so; read whole, it loads as a file would, and errors name it.
    #[cfg(unix)]
    #[test]
    fn a_pipe_is_read_whole_not_twice() {
        use std::io::Write;
        use std::process::{Child, ChildStdout, Command, Stdio};
        // `text` through `cat`: its output pipe, by a path.
        let pipe = |text: &[u8]| -> (Child, ChildStdout, PathBuf) {
            let mut child = Command::new("cat")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .spawn()
                .unwrap();
            child.stdin.take().unwrap().write_all(text).unwrap();
            let out = child.stdout.take().unwrap();
            let fd = std::os::fd::AsRawFd::as_raw_fd(&out);
            (child, out, PathBuf::from(format!("/dev/fd/{fd}")))
        };
        let (mut child, _out, path) = pipe(b"hello\r\nworld");
        let err = load(&path, &LoadOptions::default(), |_| {}).unwrap_err();
        assert!(
            err.to_string().contains("not a regular file") && err.to_string().contains("save"),
            "{err}"
        );
        let bytes = read_all(&path).unwrap();
        child.wait().unwrap();
        let src = Source::Read {
            name: Path::new("standard input"),
            bytes: &bytes,
        };
        let c = load_source(src, &LoadOptions::default(), |_| {}).unwrap();
        assert_eq!(c.vocab.decode(c.ids.iter()), "hello\nworld");
        let empty = Source::Read {
            name: Path::new("standard input"),
            bytes: b"",
        };
        let err = load_source(empty, &LoadOptions::default(), |_| {}).unwrap_err();
        assert_eq!(
            err.to_string(),
            "standard input: is empty: give a file with text in it"
        );
        // A one-pass reader takes a pipe as it is.
        let (mut child, _out, path) = pipe(b"hello\r\nworld");
        let head = read_head(Source::File(&path), &LoadOptions::default(), 7).unwrap();
        assert_eq!(head, ("hello\nw".into(), true));
        child.wait().unwrap();
    }

    #[test]
    fn newlines_like_python() {
        assert_eq!(
            universal_newlines("a\r\nb\rc\n\r\r\n".into()),
            "a\nb\nc\n\n\n"
        );
    }

    #[test]
    fn read_text_is_the_decoded_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.txt");
        let text = "a\r\nb\rc\n\r\r\nü\r\n中\r🙂\r\r";
        std::fs::write(&path, text).unwrap();
        for block in [4, 5, 7, 64] {
            let opts = |keep_cr| LoadOptions {
                keep_cr,
                block_size: block,
                ..Default::default()
            };
            let got = read_text(&path, &opts(false)).unwrap();
            assert_eq!(got, universal_newlines(text.into()));
            assert_eq!(read_text(&path, &opts(true)).unwrap(), text);
        }
        std::fs::write(&path, "").unwrap();
        let err = read_text(&path, &LoadOptions::default()).unwrap_err();
        assert!(err
            .to_string()
            .ends_with("is empty: give a file with text in it"));
    }

    #[test]
    fn newlines_across_every_block_boundary() {
        let text = "a\r\nb\rc\n\r\r\nü\r\n中\r🙂\r\r";
        let want = "a\nb\nc\n\n\nü\n中\n🙂\n\n";
        for block in 4..text.len() + 2 {
            assert_eq!(chars_of(text.as_bytes(), false, block).unwrap(), want);
            assert_eq!(chars_of(text.as_bytes(), true, block).unwrap(), text);
        }
    }

    #[test]
    fn invalid_utf8_offset_is_that_of_the_first_bad_byte() {
        for block in 4..12 {
            assert_eq!(chars_of(b"abc\xffdef", false, block), Err(3));
            assert_eq!(
                chars_of("aé\u{4e2d}".as_bytes(), false, block).unwrap(),
                "aé中"
            );
            // A character cut off by the end of the file.
            assert_eq!(chars_of(b"abcdefg\xe4\xb8", false, block), Err(7));
            // A lead byte followed by a non-continuation.
            assert_eq!(chars_of(b"abcdef\xe4(", false, block), Err(6));
        }
    }
}
