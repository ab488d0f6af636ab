//! Ctrl-C (SIGINT), SIGTERM and SIGHUP during training: the first asks the loop to stop after
//! the current step (it then writes a resumable checkpoint); the second exits at once. Either
//! way the exit code is 128 + the signal's number, as a shell reports a process the signal
//! ended: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP. Every file charrnn writes is
//! written atomically (temp file + rename), so exiting mid-write damages nothing: the previous
//! file stays whole and only a temp file may be left.

use std::sync::atomic::{AtomicI32, Ordering};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use crate::output;

/// The first signal received (0: none yet).
static SIGNAL: AtomicI32 = AtomicI32::new(0);

/// Handle SIGINT, SIGTERM and SIGHUP from now on (on a thread of their own). Call once.
pub fn install() -> charrnn::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| charrnn::Error::Config(format!("cannot install the Ctrl-C handler: {e}")))?;
    std::thread::spawn(move || {
        for signal in signals.forever() {
            if SIGNAL
                .compare_exchange(0, signal, Ordering::SeqCst, Ordering::SeqCst)
                .is_err()
            {
                output::log(&format!(
                    "\n{}: exiting now (files already written are intact)",
                    name(signal)
                ));
                std::process::exit(128 + signal);
            }
            output::log(&format!(
                "\n{}: finishing this step and writing a checkpoint (interrupt again to quit at once)",
                name(signal)
            ));
        }
    });
    Ok(())
}

/// Has a stop been asked for?
pub fn requested() -> bool {
    SIGNAL.load(Ordering::SeqCst) != 0
}

/// The exit code after a stop that a signal asked for (128 + its number).
pub fn exit_code() -> Option<u8> {
    match SIGNAL.load(Ordering::SeqCst) {
        0 => None,
        s => u8::try_from(128 + s).ok(),
    }
}

fn name(signal: i32) -> &'static str {
    match signal {
        SIGINT => "interrupted (SIGINT)",
        SIGTERM => "terminated (SIGTERM)",
        SIGHUP => "hung up (SIGHUP)",
        _ => "signalled",
    }
}
