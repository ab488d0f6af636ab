//! Writing files so that a crash never leaves a half-written one (temp file, fsync, rename),
//! and locking a directory so that two runs never write into it at once.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Write `bytes` to `path` atomically: readers see the old file or the new one, never a mix.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = check_target(path)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    result.map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        Error::io(path, "cannot write", e)
    })
}

/// Check that `path` can be written (its directory exists and it is not a directory) before
/// hours are spent computing what goes in it; returns the directory.
pub fn check_target(path: &Path) -> Result<&Path> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(Error::Config(format!(
            "{}: the directory {} does not exist: create it or choose another path",
            path.display(),
            dir.display()
        )));
    }
    if path.is_dir() {
        return Err(Error::Config(format!(
            "{}: is a directory: give a file name",
            path.display()
        )));
    }
    Ok(dir)
}

/// An exclusive claim on a directory, so that two runs never write checkpoints into the same
/// one: an OS file lock (`flock`) on `DIR/.charrnn.lock`, released when the value is dropped
/// or the process dies, even by `SIGKILL` (so a crashed run never leaves a stale lock).
///
/// Dropping the value also removes the lock file, so a finished run leaves none behind. It is
/// removed while still locked, and [`DirLock::acquire`] checks that the file it locked is the
/// one in the directory (else it tries again), so a run that opened the file just before it
/// was removed never holds a lock on a file nobody else can see. A run that dies leaves the
/// file, unlocked: the next run takes it as it is.
///
/// ```
/// use charrnn::fsutil::DirLock;
///
/// let dir = tempfile::tempdir().unwrap();
/// let lock = DirLock::acquire(dir.path()).unwrap();
/// let err = DirLock::acquire(dir.path()).unwrap_err().to_string();
/// assert!(err.contains("another charrnn run"), "{err}");
/// drop(lock);
/// assert!(!dir.path().join(DirLock::FILE_NAME).exists());
/// DirLock::acquire(dir.path()).unwrap();
/// ```
#[derive(Debug)]
pub struct DirLock {
    _file: std::fs::File,
    path: std::path::PathBuf,
}

impl DirLock {
    /// The name of the lock file inside a locked directory.
    pub const FILE_NAME: &'static str = ".charrnn.lock";

    /// Lock `dir` (which must exist) or fail at once, naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<DirLock> {
        if !dir.is_dir() {
            return Err(Error::Config(format!(
                "{}: not a directory: create it first or choose another",
                dir.display()
            )));
        }
        let path = dir.join(Self::FILE_NAME);
        // A holder releasing its lock removes the file first: if that happened between our
        // open and our lock, ours is on a file no longer in the directory, so try again.
        let mut tries = 0;
        let mut file = loop {
            let file = Self::try_lock(dir, &path)?;
            if is_at(&file, &path) {
                break file;
            }
            tries += 1;
            if tries == 100 {
                return Err(Error::Config(format!(
                    "{}: the lock file keeps being removed and made again: is another program working in this directory?",
                    path.display()
                )));
            }
        };
        // Who holds it, for the message a second run prints.
        let _ = file.set_len(0);
        let _ = write!(file, "{}", std::process::id());
        let _ = file.flush();
        Ok(DirLock { _file: file, path })
    }

    /// Open (or make) the lock file and lock it, or fail naming the holder.
    fn try_lock(dir: &Path, path: &Path) -> Result<std::fs::File> {
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(|e| Error::io(path, "cannot create the lock file", e))?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = std::io::Read::read_to_string(&mut file, &mut holder);
                let holder = holder.trim();
                let who = if holder.is_empty() {
                    "another charrnn run".to_string()
                } else {
                    format!("another charrnn run (process {holder})")
                };
                Err(Error::Config(format!(
                    "{}: {who} is writing checkpoints here: wait for it to finish or choose another directory",
                    dir.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => Err(Error::io(path, "cannot lock", e)),
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for DirLock {
    /// Remove the lock file, still holding the lock (the file handle closes after this).
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Is `file` the file at `path` (not one removed from there)?
#[cfg(unix)]
fn is_at(file: &std::fs::File, path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (file.metadata(), std::fs::metadata(path)) {
        (Ok(a), Ok(b)) => (a.dev(), a.ino()) == (b.dev(), b.ino()),
        _ => false,
    }
}

/// Elsewhere an open file cannot be removed, so it is.
#[cfg(not(unix))]
fn is_at(_: &std::fs::File, _: &Path) -> bool {
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_locked_directory_refuses_a_second_claim_until_released() {
        let dir = tempfile::tempdir().unwrap();
        let lock = DirLock::acquire(dir.path()).unwrap();
        let err = DirLock::acquire(dir.path()).unwrap_err().to_string();
        let pid = std::process::id().to_string();
        assert!(err.contains(&format!("(process {pid})")), "{err}");
        assert!(err.contains("choose another directory"), "{err}");
        drop(lock);
        let _again = DirLock::acquire(dir.path()).unwrap();
        let missing = dir.path().join("nope");
        assert!(DirLock::acquire(&missing).is_err());
    }

    /// Issue 13: a released lock leaves no file; one left by a run that died is taken.
    #[test]
    fn a_released_lock_leaves_no_file_and_a_left_one_is_taken() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(DirLock::FILE_NAME);
        let lock = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(lock.path(), file);
        assert!(file.exists());
        drop(lock);
        assert!(!file.exists());
        std::fs::write(&file, "12345").unwrap();
        let lock = DirLock::acquire(dir.path()).unwrap();
        assert_eq!(
            std::fs::read_to_string(&file).unwrap(),
            std::process::id().to_string()
        );
        drop(lock);
        assert!(!file.exists());
    }

    /// The file a holder removes on release may have been opened by another run just before:
    /// that run's lock is then on a file no longer in the directory, and a third run could
    /// lock a new file beside it. `is_at` tells the two apart, so `acquire` tries again.
    #[cfg(unix)]
    #[test]
    fn a_lock_on_a_removed_file_is_not_taken_for_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(DirLock::FILE_NAME);
        let old = std::fs::File::create(&path).unwrap();
        assert!(is_at(&old, &path));
        std::fs::remove_file(&path).unwrap();
        assert!(!is_at(&old, &path));
        std::fs::write(&path, "").unwrap();
        assert!(!is_at(&old, &path));
        let lock = DirLock::acquire(dir.path()).unwrap();
        assert!(is_at(&lock._file, &path));
    }

    /// A holder killed with SIGKILL leaves no stale lock: `flock(1)` takes the same kind of
    /// lock (`flock(2)`) as `DirLock`.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_killed_holder_leaves_no_stale_lock() {
        use std::process::Command;
        use std::time::{Duration, Instant};
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join(DirLock::FILE_NAME);
        if Command::new("flock").arg("--version").output().is_err() {
            return; // no flock(1) here
        }
        // One process holding the lock: the shell locks fd 9, then becomes `sleep`.
        let mut child = Command::new("sh")
            .args(["-c", r#"exec 9>"$1" && flock 9 && exec sleep 30"#, "sh"])
            .arg(&file)
            .spawn()
            .unwrap();
        // Looked at without DirLock, which would remove the file it locked when dropped.
        let held = || {
            std::fs::File::open(&file)
                .is_ok_and(|f| matches!(f.try_lock(), Err(std::fs::TryLockError::WouldBlock)))
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !held() {
            assert!(Instant::now() < deadline, "flock(1) never took the lock");
            std::thread::sleep(Duration::from_millis(10));
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // The kernel drops the lock with the process; allow it a moment.
        let deadline = Instant::now() + Duration::from_secs(10);
        while DirLock::acquire(dir.path()).is_err() {
            assert!(Instant::now() < deadline, "the lock outlived its holder");
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}
