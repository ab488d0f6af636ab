//! `charrnn train`: the notebook's training loop, with its progress lines and samples, grown
//! with LSTM/GRU cells, stacked layers, optimizers, schedules and validation.
//!
//! The run itself is the library's ([`charrnn::run`]): [`args`] holds the flags, [`config`]
//! maps them to a [`charrnn::run::RunConfig`] (and the library's messages back to flag
//! names), [`report`] draws what the run reports and [`warn`] names the flags it will not use.
//!
//! What goes where: the run's result, the path of the model it wrote, is the one line on
//! standard output (`charrnn sample --model "$(charrnn train -q)"`); everything else is a log
//! on standard error. A log that can no longer be written (`charrnn train 2>&1 | head`, a
//! full disk) stops the run as an interrupt does: it finishes the step and writes a
//! resumable checkpoint, so no work is lost; the exit code is then 141 (128 + SIGPIPE, as a
//! shell reports a process a closed pipe ended) for a closed pipe, else 2. A closed standard
//! output at the end, once the model is written, is no error.

use std::path::Path;
use std::process::ExitCode;

use charrnn::run::Stop;
use charrnn::Result;
use clap::ArgMatches;

use crate::{interrupt, output};

mod args;
mod config;
mod finetune;
mod report;
mod warn;

pub use args::{ClipBy, Optim, TrainArgs};
pub use config::with_flags;

/// Run `charrnn train`: exit code 0; 128 + the signal's number when a signal stopped it
/// (after writing a checkpoint), 141 when its log was a closed pipe.
pub fn run(a: TrainArgs, given: &ArgMatches) -> Result<ExitCode> {
    if a.data.as_deref() == Some(Path::new("-")) {
        return Err(charrnn::Error::Config(
            "--data -: training reads its text twice, and again to resume, so it needs a regular file: save the text to one (e.g. `command > corpus.txt`) and give --data corpus.txt".into(),
        ));
    }
    let config = config::run_config(&a, given);
    let mut report = report::Report::new(a.quiet, warn::Given::of(given));
    let stop = || interrupt::requested() || output::log_failed().is_some();
    let result = charrnn::run::run(&config, &mut report, &stop);
    report.finish();
    let outcome = result.map_err(config::with_flags)?;
    if outcome.stop == Stop::Interrupted {
        let code = interrupt::exit_code().unwrap_or(match output::log_failed() {
            Some(std::io::ErrorKind::BrokenPipe) => 141,
            _ => 2,
        });
        return Ok(ExitCode::from(code));
    }
    report.done(&outcome);
    // The run's result: the model it wrote.
    if let Some(out) = &outcome.out {
        output::print(format!("{}\n", out.display())).map_err(|e| {
            if output::is_closed_pipe(&e) {
                e
            } else {
                charrnn::Error::Config(format!("{e} (the model is saved: {})", out.display()))
            }
        })?;
    }
    Ok(ExitCode::SUCCESS)
}
