//! Where a run's files go, so that runs never overwrite each other or their inputs.
//!
//! A new run gets a directory of its own, `runs/N` (the next free number, taken by creating
//! it, so two runs started at once never share one), unless `run_dir` names one or `out`
//! places the model: its model goes to `RUN_DIR/model.safetensors` and its checkpoints to
//! `RUN_DIR/checkpoints` (beside an `out` given without a run directory: `NAME.checkpoints`),
//! unless `checkpoint_dir` says otherwise; `runs/latest` points at the newest `runs/N`. A resumed run
//! writes where it wrote before. An output named explicitly that already holds a file (another
//! run's model or metrics) is refused unless `overwrite` is set; an output that is the same
//! file as an input (`data`, `resume`, `init_from`; also through links), or as another output,
//! is always refused.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The directory new runs are numbered in.
pub const RUNS: &str = "runs";

/// The name of the link in [`RUNS`] to the newest run's directory.
pub const LATEST: &str = "latest";

/// A run directory this setup created: removed again if the setup fails before the run starts
/// (while it is still empty), kept once [`NewRunDir::keep`] is called.
#[derive(Debug)]
pub(super) struct NewRunDir {
    pub path: PathBuf,
    kept: bool,
}

impl NewRunDir {
    /// Create `runs/N` for the smallest N not taken.
    pub fn next() -> Result<Self> {
        let runs = Path::new(RUNS);
        std::fs::create_dir_all(runs).map_err(|e| Error::io(runs, "cannot create", e))?;
        let mut n = 1 + highest_run(runs);
        loop {
            let path = runs.join(n.to_string());
            match std::fs::create_dir(&path) {
                Ok(()) => return Ok(NewRunDir { path, kept: false }),
                // Another run took it meanwhile.
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => n += 1,
                Err(e) => return Err(Error::io(path, "cannot create the run directory", e)),
            }
        }
    }

    /// `dir`, named by the caller: created if absent (and then removed again on failure).
    pub fn named(dir: &Path) -> Result<Self> {
        if dir.is_dir() {
            return Ok(NewRunDir {
                path: dir.to_path_buf(),
                kept: true,
            });
        }
        std::fs::create_dir_all(dir)
            .map_err(|e| Error::io(dir, "cannot create the run directory", e))?;
        Ok(NewRunDir {
            path: dir.to_path_buf(),
            kept: false,
        })
    }

    /// The run started: the directory stays; `runs/latest` points at it if it is in `runs`.
    pub fn keep(mut self) {
        self.kept = true;
        let runs = Path::new(RUNS);
        if self.path.parent() == Some(runs) {
            if let Some(name) = self.path.file_name() {
                point_latest(runs, Path::new(name));
            }
        }
    }
}

impl Drop for NewRunDir {
    fn drop(&mut self) {
        if !self.kept {
            // Only if still empty: nothing of the user's is ever removed.
            let _ = std::fs::remove_dir(&self.path);
        }
    }
}

/// The highest N of the `runs/N` directories there are (0 if none).
fn highest_run(runs: &Path) -> u64 {
    std::fs::read_dir(runs)
        .map(|rd| {
            rd.flatten()
                .filter_map(|e| e.file_name().to_str()?.parse::<u64>().ok())
                .max()
                .unwrap_or(0)
        })
        .unwrap_or(0)
}

/// Make `runs/latest` a link to `target` (relative to `runs`), replacing the old link
/// atomically. Best effort: a system without links just has no `latest`.
fn point_latest(runs: &Path, target: &Path) {
    #[cfg(unix)]
    {
        let tmp = runs.join(format!(".{LATEST}.{}", std::process::id()));
        let _ = std::fs::remove_file(&tmp);
        if std::os::unix::fs::symlink(target, &tmp).is_ok()
            && std::fs::rename(&tmp, runs.join(LATEST)).is_err()
        {
            let _ = std::fs::remove_file(&tmp);
        }
    }
    #[cfg(not(unix))]
    let _ = (runs, target);
}

/// The file behind `path`, to tell whether two paths are the same file: its device and inode
/// when it exists (links followed), else its absolute path with the directory resolved.
#[derive(Debug, PartialEq, Eq)]
enum Identity {
    Inode(u64, u64),
    Path(PathBuf),
}

fn identity(path: &Path) -> Option<Identity> {
    #[cfg(unix)]
    if let Ok(m) = std::fs::metadata(path) {
        use std::os::unix::fs::MetadataExt;
        return Some(Identity::Inode(m.dev(), m.ino()));
    }
    if let Ok(p) = std::fs::canonicalize(path) {
        return Some(Identity::Path(p));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    let dir = std::fs::canonicalize(dir).ok()?;
    Some(Identity::Path(dir.join(path.file_name()?)))
}

/// Refuse outputs that are the same file as an input or as each other. `inputs` and
/// `outputs` are (field, path) pairs.
pub(super) fn check_distinct(inputs: &[(&str, &Path)], outputs: &[(&str, &Path)]) -> Result<()> {
    for (i, &(field, out)) in outputs.iter().enumerate() {
        let Some(id) = identity(out) else { continue };
        for &(other, input) in inputs {
            if identity(input).as_ref() == Some(&id) {
                return Err(Error::config(format!(
                    "`{field}` {} is the same file as `{other}` {}: writing it would destroy the {other}; give another `{field}`",
                    out.display(),
                    input.display()
                )));
            }
        }
        for &(other, out2) in &outputs[i + 1..] {
            if identity(out2).as_ref() == Some(&id) {
                return Err(Error::config(format!(
                    "`{field}` {} and `{other}` {} are the same file: give them different paths",
                    out.display(),
                    out2.display()
                )));
            }
        }
    }
    Ok(())
}

/// Refuse to replace an existing file at `path` (an output named explicitly, `field`) unless
/// `overwrite`.
pub(super) fn check_fresh(field: &str, path: &Path, overwrite: bool) -> Result<()> {
    if !overwrite && path.is_file() {
        return Err(Error::config(format!(
            "{} already exists (another run's {}): give another `{field}`, or `overwrite` to replace it",
            path.display(),
            if field == "out" { "model" } else { field }
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_file_through_a_link_and_through_dot_dot() {
        let d = tempfile::tempdir().unwrap();
        let a = d.path().join("a.txt");
        std::fs::write(&a, "x").unwrap();
        let sub = d.path().join("sub");
        std::fs::create_dir(&sub).unwrap();
        let via = sub.join("../a.txt");
        let err = check_distinct(&[("data", &a)], &[("out", &via)]).unwrap_err();
        assert!(err.to_string().contains("same file as `data`"), "{err}");
        #[cfg(unix)]
        {
            let link = d.path().join("link.txt");
            std::os::unix::fs::symlink(&a, &link).unwrap();
            assert!(check_distinct(&[("data", &a)], &[("metrics", &link)]).is_err());
        }
        // Two outputs that do not exist yet, spelled differently.
        let (m1, m2) = (d.path().join("m.jsonl"), sub.join("../m.jsonl"));
        let err = check_distinct(&[], &[("out", &m1), ("metrics", &m2)]).unwrap_err();
        assert!(err.to_string().contains("are the same file"), "{err}");
        let other = d.path().join("b.txt");
        check_distinct(&[("data", &a)], &[("out", &other), ("metrics", &m1)]).unwrap();
    }

    #[test]
    fn an_existing_output_needs_overwrite() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("model.safetensors");
        check_fresh("out", &f, false).unwrap();
        std::fs::write(&f, "x").unwrap();
        let err = check_fresh("out", &f, false).unwrap_err().to_string();
        assert!(
            err.contains("another run's model") && err.contains("`overwrite`"),
            "{err}"
        );
        check_fresh("out", &f, true).unwrap();
    }
}
