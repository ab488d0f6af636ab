//! Ctrl-C and SIGTERM during training: the first asks the loop to stop after the current step
//! (it then writes a resumable checkpoint); the second exits at once. Every file charrnn writes
//! is written atomically (temp file + rename), so exiting mid-write damages nothing: the
//! previous file stays whole and only a temp file may be left.

use std::sync::atomic::{AtomicUsize, Ordering};

static SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// Exit code after an interrupt (128 + SIGINT, as shells report it).
pub const EXIT_CODE: u8 = 130;

/// Install the handler (SIGINT, SIGTERM and SIGHUP). Call once.
pub fn install() -> charrnn::Result<()> {
    ctrlc::set_handler(|| {
        if SIGNALS.fetch_add(1, Ordering::SeqCst) >= 1 {
            eprintln!("\ninterrupted again: exiting now (files already written are intact)");
            std::process::exit(EXIT_CODE as i32);
        }
        eprintln!("\ninterrupted: finishing this step and writing a checkpoint (interrupt again to quit at once)");
    })
    .map_err(|e| charrnn::Error::Config(format!("cannot install the Ctrl-C handler: {e}")))
}

/// Has a stop been asked for?
pub fn requested() -> bool {
    SIGNALS.load(Ordering::SeqCst) > 0
}
