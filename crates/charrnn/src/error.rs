//! One error type for everything a user can cause; the CLI prints it on one line.

use std::path::PathBuf;

/// Result alias used throughout the library.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What can go wrong with a user's data, settings or files.
///
/// Each message names the problem and, where there is one, the fix.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be opened, read or written.
    #[error("{path}: {what}: {source}")]
    Io {
        path: PathBuf,
        what: &'static str,
        #[source]
        source: std::io::Error,
    },
    /// The corpus is unusable (empty, not UTF-8, too short, ...).
    #[error("{path}: {msg}")]
    Corpus { path: PathBuf, msg: String },
    /// A setting is out of range.
    #[error("{0}")]
    Config(String),
    /// A checkpoint file is unreadable or inconsistent.
    #[error("{path}: {msg}")]
    Checkpoint { path: PathBuf, msg: String },
    /// Text contains characters the model does not know.
    #[error("{0}")]
    Vocab(String),
    /// Training produced a NaN or infinite loss or gradient.
    #[error("training diverged at step {step}: {what}")]
    Diverged { step: u64, what: String },
    /// A training run ([`crate::run`]) diverged: it stopped without writing its model file
    /// (`out`); `last_checkpoint` (the last one written or resumed from) is intact.
    #[error("training diverged at step {step}: {what}; {}", diverged_advice(.last_checkpoint.as_deref(), .out))]
    RunDiverged {
        step: u64,
        what: String,
        last_checkpoint: Option<PathBuf>,
        out: PathBuf,
    },
}

fn diverged_advice(last: Option<&std::path::Path>, out: &std::path::Path) -> String {
    let last = match last {
        Some(p) => format!(
            "the last good checkpoint, {}, is intact: `resume` it with a smaller `lr`",
            p.display()
        ),
        None => "no checkpoint was written (`checkpoint_every` keeps some): start again with a smaller `lr`".into(),
    };
    format!("{last}; {} was not written", out.display())
}

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, what: &'static str, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            what,
            source,
        }
    }

    pub(crate) fn checkpoint(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::Checkpoint {
            path: path.into(),
            msg: msg.into(),
        }
    }

    pub(crate) fn config(msg: impl Into<String>) -> Self {
        Error::Config(msg.into())
    }
}
