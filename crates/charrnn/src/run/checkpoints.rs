//! The checkpoint directory of a run: names that say the step and the validation loss
//! (`ckpt-step00001200-val1.5432.safetensors`), and rotation that keeps the last K plus the
//! best by validation loss. Files with other names (temp files, the lock) are never touched.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// One checkpoint file found in the directory.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    pub path: PathBuf,
    pub step: u64,
    /// Validation loss in nats per character, when the name carries one.
    pub val: Option<f64>,
}

/// The file name of the checkpoint at `step` (after `step` steps), with its validation loss.
pub fn name(step: u64, val: Option<f64>) -> String {
    match val {
        Some(v) if v.is_finite() => format!("ckpt-step{step:08}-val{v:.4}.safetensors"),
        _ => format!("ckpt-step{step:08}.safetensors"),
    }
}

/// Parse a name made by [`name`]; anything else (temp files too) is `None`.
pub fn parse(file_name: &str) -> Option<(u64, Option<f64>)> {
    let rest = file_name
        .strip_prefix("ckpt-step")?
        .strip_suffix(".safetensors")?;
    let (step, val) = match rest.split_once("-val") {
        Some((s, v)) => (s, Some(v.parse::<f64>().ok()?)),
        None => (rest, None),
    };
    if step.is_empty() || !step.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((step.parse().ok()?, val))
}

/// The checkpoints in `dir`, by step (an absent directory has none).
pub fn list(dir: &Path) -> Result<Vec<Entry>> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => {
            return Err(Error::Config(format!(
                "{}: cannot list the checkpoint directory: {e}",
                dir.display()
            )))
        }
    };
    let mut out = Vec::new();
    for e in rd.flatten() {
        let name = e.file_name();
        if let Some((step, val)) = parse(&name.to_string_lossy()) {
            out.push(Entry {
                path: e.path(),
                step,
                val,
            });
        }
    }
    out.sort_by_key(|e| e.step);
    Ok(out)
}

/// What rotation keeps of `entries` (only those up to `current`: later ones, left by a run that
/// went further before being resumed from an earlier checkpoint, are not touched): the `keep`
/// latest, and the one with the lowest validation loss.
pub fn kept(entries: &[Entry], current: u64, keep: usize) -> Vec<PathBuf> {
    let mut mine: Vec<&Entry> = entries.iter().filter(|e| e.step <= current).collect();
    mine.sort_by_key(|e| std::cmp::Reverse(e.step));
    let mut out: Vec<PathBuf> = mine.iter().take(keep).map(|e| e.path.clone()).collect();
    let best = mine
        .iter()
        .filter(|e| e.val.is_some())
        .min_by(|a, b| a.val.partial_cmp(&b.val).expect("finite losses"));
    if let Some(b) = best {
        if !out.contains(&b.path) {
            out.push(b.path.clone());
        }
    }
    out
}

/// Delete what [`kept`] does not keep; returns the paths deleted.
pub fn rotate(dir: &Path, current: u64, keep: usize) -> Result<Vec<PathBuf>> {
    let entries = list(dir)?;
    let keep = kept(&entries, current, keep);
    let mut gone = Vec::new();
    for e in entries {
        if e.step <= current && !keep.contains(&e.path) {
            std::fs::remove_file(&e.path).map_err(|err| Error::Io {
                path: e.path.clone(),
                what: "cannot delete an old checkpoint",
                source: err,
            })?;
            gone.push(e.path);
        }
    }
    Ok(gone)
}

/// The directory, created if needed.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| {
        Error::Config(format!(
            "{}: cannot create the checkpoint directory: {e}",
            dir.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        assert_eq!(
            name(1200, Some(1.54321)),
            "ckpt-step00001200-val1.5432.safetensors"
        );
        assert_eq!(
            parse(&name(1200, Some(1.54321))),
            Some((1200, Some(1.5432)))
        );
        assert_eq!(parse(&name(7, None)), Some((7, None)));
        assert_eq!(parse(".ckpt-step00000007.safetensors.tmp12"), None);
        assert_eq!(parse("ckpt-step.safetensors"), None);
        assert_eq!(parse("ckpt-step12-valx.safetensors"), None);
    }

    #[test]
    fn keeps_the_last_k_and_the_best() {
        let e = |step, val| Entry {
            path: PathBuf::from(name(step, val)),
            step,
            val,
        };
        let entries = vec![
            e(10, Some(2.0)),
            e(20, Some(1.0)),
            e(30, Some(1.5)),
            e(40, Some(1.7)),
            e(50, None),
            e(90, Some(0.1)),
        ];
        let k = kept(&entries, 50, 2);
        assert_eq!(
            k,
            vec![
                PathBuf::from(name(50, None)),
                PathBuf::from(name(40, Some(1.7))),
                PathBuf::from(name(20, Some(1.0)))
            ]
        );
        // The best among the latest is not kept twice.
        assert_eq!(kept(&entries, 30, 2).len(), 2);
    }
}
