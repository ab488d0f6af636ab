//! `charrnn --version` names the commit the binary was built from: `0.1.0 (commit
//! 1a2b3c4d5e6f, 2026-11-29)`. Where git or the repository is absent (a source tarball, a
//! package), it is the version alone.

use std::path::Path;
use std::process::Command;

/// `git ARGS`' output, trimmed, if it ran and said something.
fn git(args: &[&str]) -> Option<String> {
    let out = Command::new("git").args(args).output().ok()?;
    let text = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    let version = std::env::var("CARGO_PKG_VERSION").unwrap_or_default();
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    let date = git(&["log", "-1", "--format=%cs", "HEAD"]);
    let long = match (commit, date) {
        (Some(c), Some(d)) => format!("{version} (commit {c}, {d})"),
        (Some(c), None) => format!("{version} (commit {c})"),
        _ => version,
    };
    println!("cargo:rustc-env=CHARRNN_VERSION={long}");
    // Built again when HEAD moves: HEAD itself (a checkout), the branch it names (a commit),
    // and the packed refs.
    println!("cargo:rerun-if-changed=build.rs");
    let branch = git(&["rev-parse", "--symbolic-full-name", "HEAD"]);
    let paths = [
        git(&["rev-parse", "--git-path", "HEAD"]),
        branch.and_then(|b| git(&["rev-parse", "--git-path", &b])),
        git(&["rev-parse", "--git-path", "packed-refs"]),
    ];
    for path in paths.into_iter().flatten() {
        if Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
}
