//! `charrnn.train`'s keyword arguments as a [`RunConfig`]: one keyword per field (the names of
//! `charrnn train`'s flags with `_`), `None` for "not given" (the default of a new run, the saved
//! value of a resumed one), exactly as the CLI leaves a flag out.
//!
//! Values go through serde ([`pythonize`]), field by field so that an error names its keyword;
//! a few are made serde's shape first: paths (`str` or `os.PathLike`), `text` (a `str`, the text
//! itself), and `max_time` (seconds, a `datetime.timedelta`, or a string such as `"90s"`,
//! `"10m"`, `"1h30m"` as `--max-time` takes).

use std::time::Duration;

use charrnn::run::RunConfig;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyString};

/// What a text given as `text` is called in messages.
pub const TEXT_NAME: &str = "the `text` given";

/// The fields of [`RunConfig`], in order: the keyword arguments `charrnn.train` takes.
pub fn field_names() -> Vec<String> {
    match serde_json::to_value(RunConfig::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => unreachable!("a config serializes to an object"),
    }
}

const PATHS: [&str; 7] = [
    "resume",
    "init_from",
    "data",
    "run_dir",
    "out",
    "metrics",
    "checkpoint_dir",
];

/// The run `options` (keyword -> value) asks for.
pub fn run_config(py: Python<'_>, options: &Bound<'_, PyDict>) -> PyResult<RunConfig> {
    let fields = field_names();
    let shaped = PyDict::new(py);
    for (k, v) in options.iter() {
        let key: String = k.extract()?;
        if !fields.contains(&key) {
            return Err(PyTypeError::new_err(unexpected(&key, &fields)));
        }
        if v.is_none() {
            continue;
        }
        let value = shape(py, &key, &v)?;
        // One field at a time, so that the error names it.
        let one = PyDict::new(py);
        one.set_item(&key, &value)?;
        if let Err(e) = pythonize::depythonize::<RunConfig>(&one) {
            return Err(field_error(&key, &v, &e.to_string()));
        }
        shaped.set_item(&key, value)?;
    }
    pythonize::depythonize::<RunConfig>(&shaped).map_err(|e| PyValueError::new_err(e.to_string()))
}

/// `value` of field `key` in serde's shape.
fn shape<'py>(
    py: Python<'py>,
    key: &str,
    value: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    if PATHS.contains(&key) {
        let os = py.import("os")?;
        return os.call_method1("fspath", (value,)).map_err(|_| {
            PyTypeError::new_err(format!(
                "`{key}` must be a path (str or os.PathLike), got {}",
                type_name(value)
            ))
        });
    }
    match key {
        "text" => {
            if !value.is_instance_of::<PyString>() {
                return Err(PyTypeError::new_err(format!(
                    "`text` must be a str (the text itself; a file is `data`), got {}",
                    type_name(value)
                )));
            }
            let text = PyDict::new(py);
            text.set_item("name", TEXT_NAME)?;
            text.set_item("content", value)?;
            Ok(text.into_any())
        }
        "max_time" => {
            let d = duration(value)?;
            let out = PyDict::new(py);
            out.set_item("secs", d.as_secs())?;
            out.set_item("nanos", d.subsec_nanos())?;
            Ok(out.into_any())
        }
        _ => Ok(value.clone()),
    }
}

/// `max_time` as a [`Duration`]: seconds, a `timedelta`, or a string `--max-time` takes.
pub fn duration(value: &Bound<'_, PyAny>) -> PyResult<Duration> {
    let secs: f64 = if let Ok(s) = value.extract::<String>() {
        return humantime::parse_duration(s.trim()).map_err(|e| {
            PyValueError::new_err(format!(
                "`max_time` {s:?} is not a duration ({e}): give seconds, a datetime.timedelta, or a string such as \"90s\", \"10m\", \"1h30m\""
            ))
        });
    } else if value.hasattr("total_seconds")? {
        value.call_method0("total_seconds")?.extract()?
    } else if value.is_instance_of::<pyo3::types::PyBool>() {
        return Err(PyTypeError::new_err(
            "`max_time` must be a duration, got bool",
        ));
    } else {
        value.extract().map_err(|_| {
            PyTypeError::new_err(format!(
                "`max_time` must be seconds, a datetime.timedelta or a string such as \"10m\", got {}",
                type_name(value)
            ))
        })?
    };
    if !(secs.is_finite() && (0.0..1e15).contains(&secs)) {
        return Err(PyValueError::new_err(format!(
            "`max_time` must be a positive number of seconds, got {secs}"
        )));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// The exception for a value serde refused: a `TypeError` for a value of the wrong type, a
/// `ValueError` for one out of range or not among the choices.
fn field_error(key: &str, value: &Bound<'_, PyAny>, serde_msg: &str) -> PyErr {
    let repr = value
        .repr()
        .map(|r| r.to_string())
        .unwrap_or_else(|_| "?".into());
    let repr = if repr.chars().count() > 60 {
        format!("{}...", repr.chars().take(60).collect::<String>())
    } else {
        repr
    };
    let msg = format!("`{key}` = {repr}: {serde_msg}");
    if serde_msg.starts_with("invalid type") || serde_msg.starts_with("TypeError") {
        PyTypeError::new_err(msg)
    } else {
        PyValueError::new_err(msg)
    }
}

/// Python's own message for an unknown keyword, with the nearest known one.
fn unexpected(key: &str, fields: &[String]) -> String {
    let near = fields
        .iter()
        .map(|f| (edit_distance(key, f), f))
        .filter(|(d, _)| *d <= 2)
        .min_by_key(|(d, _)| *d);
    match near {
        Some((_, f)) => {
            format!("train() got an unexpected keyword argument '{key}' (did you mean '{f}'?)")
        }
        None => format!("train() got an unexpected keyword argument '{key}'"),
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

pub fn type_name(v: &Bound<'_, PyAny>) -> String {
    v.get_type()
        .name()
        .map(|n| n.to_string())
        .unwrap_or_else(|_| "?".into())
}
