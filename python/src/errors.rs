//! charrnn's errors as Python exceptions, and the guard that keeps panics out of Python.
//!
//! Every message is the library's, the one `charrnn` prints after `error:`, except that
//! settings stay named as the library names them, `` `lr` ``: the keyword argument of the same
//! name. The exception's type says what kind of failure it is:
//!
//! | charrnn error | Python exception |
//! |---|---|
//! | a file that does not exist (data, checkpoint) | `FileNotFoundError` |
//! | a directory where a file was expected | `IsADirectoryError` |
//! | other I/O failures | `PermissionError` or `OSError` |
//! | training diverged | `charrnn.DivergedError` (an `ArithmeticError`) |
//! | everything else (settings, text, checkpoints' contents) | `ValueError` |

use std::any::Any;
use std::io::ErrorKind;
use std::panic::{catch_unwind, AssertUnwindSafe};

use charrnn::Error;
use pyo3::exceptions::{
    PyArithmeticError, PyFileNotFoundError, PyIsADirectoryError, PyKeyboardInterrupt, PyOSError,
    PyPermissionError, PyRuntimeError, PyValueError,
};
use pyo3::prelude::*;

pyo3::create_exception!(
    charrnn,
    DivergedError,
    PyArithmeticError,
    "Training diverged: a loss, gradient or weight became NaN, infinite or wildly large.\n\n\
     The model file was not written; the last good checkpoint (named in the message) is intact."
);

pyo3::create_exception!(
    charrnn,
    Interrupted,
    PyKeyboardInterrupt,
    "Training was interrupted (Ctrl-C, or the notebook's stop button) after a whole step.\n\n\
     A resumable checkpoint was written first: its path is `.checkpoint` and the step it holds\n\
     `.step`; continue with `charrnn.train(resume=e.checkpoint)`."
);

/// The Python exception for a charrnn error.
pub fn to_py(e: Error) -> PyErr {
    let msg = e.to_string();
    let starts = |m: &str, p: &str| m.starts_with(p);
    match &e {
        Error::Io { source, .. } => match source.kind() {
            ErrorKind::NotFound => PyFileNotFoundError::new_err(msg),
            ErrorKind::PermissionDenied => PyPermissionError::new_err(msg),
            ErrorKind::IsADirectory => PyIsADirectoryError::new_err(msg),
            _ => PyOSError::new_err(msg),
        },
        Error::Corpus { msg: m, .. } if starts(m, "no such file") => {
            PyFileNotFoundError::new_err(msg)
        }
        Error::Checkpoint { msg: m, .. } if starts(m, "no such checkpoint file") => {
            PyFileNotFoundError::new_err(msg)
        }
        Error::Corpus { msg: m, .. } | Error::Checkpoint { msg: m, .. }
            if starts(m, "is a directory") =>
        {
            PyIsADirectoryError::new_err(msg)
        }
        Error::Diverged { .. } | Error::RunDiverged { .. } => DivergedError::new_err(msg),
        _ => PyValueError::new_err(msg),
    }
}

/// `Result<T, charrnn::Error>` into `PyResult<T>`.
pub trait IntoPy<T> {
    fn py_err(self) -> PyResult<T>;
}

impl<T> IntoPy<T> for charrnn::Result<T> {
    fn py_err(self) -> PyResult<T> {
        self.map_err(to_py)
    }
}

/// Run `f`, turning a panic into a `RuntimeError`: no panic crosses into Python (PyO3 would
/// raise `PanicException`, a `BaseException` that `except Exception` does not catch).
pub fn guard<T>(f: impl FnOnce() -> PyResult<T>) -> PyResult<T> {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or_else(|p| Err(panic_error(p)))
}

/// [`guard`] for code that runs without the GIL: the panic comes back as a message, made into
/// an exception once the GIL is held again.
pub fn guard_detached<T>(f: impl FnOnce() -> T) -> Result<T, String> {
    catch_unwind(AssertUnwindSafe(f)).map_err(|p| panic_message(&*p))
}

/// The exception for a panic's message.
pub fn internal(msg: String) -> PyErr {
    PyRuntimeError::new_err(format!(
        "charrnn internal error (a bug: please report it with what you ran): {msg}"
    ))
}

fn panic_error(p: Box<dyn Any + Send>) -> PyErr {
    internal(panic_message(&*p))
}

fn panic_message(p: &(dyn Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic without a message".into()
    }
}
