//! Where the CLI writes: a command's result on standard output, everything else (logs,
//! progress, samples while training, notes, warnings, errors) on standard error.
//!
//! Nothing here panics, as `println!` does when its stream is gone. A write to standard
//! output that fails comes back as an error: a closed pipe (`charrnn sample | head`) is told
//! apart by [`is_closed_pipe`] and ends the command quietly; anything else (a full disk,
//! `> /dev/full`) is a one-line error. A log line that cannot be written is dropped, and
//! remembered ([`log_failed`]): `charrnn train` then stops as on an interrupt.

use std::io::Write;
use std::sync::OnceLock;

use charrnn::{Error, Result};

/// Write `text` to standard output, and flush it.
pub fn print(text: impl AsRef<[u8]>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_ref())
        .and_then(|()| out.flush())
        .map_err(stdout_error)
}

/// A failed write to standard output, as an error.
pub fn stdout_error(e: std::io::Error) -> Error {
    Error::Io {
        path: "standard output".into(),
        what: "cannot write",
        source: e,
    }
}

/// Is this a write to a closed pipe (the reader has gone)?
pub fn is_closed_pipe(e: &Error) -> bool {
    matches!(e, Error::Io { source, .. } if source.kind() == std::io::ErrorKind::BrokenPipe)
}

/// Why the first log line that could not be written failed.
static LOG_ERROR: OnceLock<std::io::ErrorKind> = OnceLock::new();

/// Write a line to standard error; if it cannot be, drop it and remember why.
pub fn log(line: &str) {
    let mut err = std::io::stderr().lock();
    if let Err(e) = writeln!(err, "{line}") {
        let _ = LOG_ERROR.set(e.kind());
    }
}

/// Why standard error could not be written to, if it could not.
pub fn log_failed() -> Option<std::io::ErrorKind> {
    LOG_ERROR.get().copied()
}
