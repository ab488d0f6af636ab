//! Reading a `--metrics` file (for `charrnn plot`); its rows are the library's
//! ([`charrnn::run::metrics`], which also writes them).

use std::path::Path;

pub use charrnn::run::metrics::Row;
use charrnn::{Error, Result};

/// Read every row of a metrics file.
pub fn read(path: &Path) -> Result<Vec<Row>> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::Config(format!(
            "{}: cannot read the metrics file: {e}",
            path.display()
        ))
    })?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let row: Row = serde_json::from_str(line).map_err(|e| {
            Error::Config(format!(
                "{}:{}: not a metrics row ({e}): give the file written by charrnn train --metrics",
                path.display(),
                i + 1
            ))
        })?;
        rows.push(row);
    }
    Ok(rows)
}
