//! A text to read once (`inspect`, `score`, `bench`): a regular file is streamed as it is;
//! `-` (standard input), a pipe or a device (`<(command)`, `/dev/stdin`) is read whole into
//! memory first, since it can be read only once and a corpus is read twice.

use std::io::Read;
use std::path::{Path, PathBuf};

use charrnn::corpus::{self, Source};
use charrnn::{Error, Result};

/// A text file, or the bytes of one that can be read only once.
pub enum Input {
    File(PathBuf),
    Read { name: PathBuf, bytes: Vec<u8> },
}

impl Input {
    /// `path` (`-`: standard input), read now if it can be read only once.
    pub fn open(path: &Path) -> Result<Input> {
        if path == Path::new("-") {
            let mut bytes = Vec::new();
            std::io::stdin()
                .lock()
                .read_to_end(&mut bytes)
                .map_err(|e| Error::Io {
                    path: "standard input".into(),
                    what: "cannot read",
                    source: e,
                })?;
            return Ok(Input::Read {
                name: "standard input".into(),
                bytes,
            });
        }
        match std::fs::metadata(path) {
            Ok(m) if !m.is_file() && !m.is_dir() => Ok(Input::Read {
                name: path.to_path_buf(),
                bytes: corpus::read_all(path)?,
            }),
            // Missing files and directories get the corpus reader's messages.
            _ => Ok(Input::File(path.to_path_buf())),
        }
    }

    pub fn source(&self) -> Source<'_> {
        match self {
            Input::File(p) => Source::File(p),
            Input::Read { name, bytes } => Source::Read { name, bytes },
        }
    }

    /// What messages call it.
    pub fn name(&self) -> &Path {
        match self {
            Input::File(p) => p,
            Input::Read { name, .. } => name,
        }
    }

    /// Its size in bytes.
    pub fn bytes(&self) -> u64 {
        match self {
            Input::File(p) => std::fs::metadata(p).map_or(0, |m| m.len()),
            Input::Read { bytes, .. } => bytes.len() as u64,
        }
    }
}
