//! `charrnn`: train, sample and score character-level RNN language models.
//!
//! A thin shell over the `charrnn` library: flags are parsed here, validated into library
//! configs, and every error is printed on one line with exit code 2 (a usage error as clap
//! words it: what is wrong, the suggestion or the possible values, and the command's usage
//! line). Results go to standard output, everything else to standard error ([`output`]).

mod bench;
mod builtin;
mod explain;
mod input;
mod inspect;
mod interrupt;
mod metrics;
mod output;
mod plot;
mod progress;
mod sample;
mod score;
mod serve;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// The version `--version` shows: with the commit it was built from, when it was built in a
/// git repository (see build.rs).
const VERSION: &str = env!("CHARRNN_VERSION");

/// Character-level recurrent language models: train one on any text, then sample from it.
#[derive(Parser, Debug)]
#[command(name = "charrnn", version = VERSION)]
pub(crate) struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Train a model (the notebook's tanh RNN by default) and save it.
    #[command(allow_negative_numbers = true)]
    Train(Box<train::TrainArgs>),
    /// Generate text from a saved model.
    #[command(allow_negative_numbers = true)]
    Sample(sample::SampleArgs),
    /// Measure training and sampling speed on named configurations.
    Bench(bench::BenchArgs),
    /// Score a text with a saved model: nats and bits per character, perplexity.
    Score(score::ScoreArgs),
    /// Serve a model over HTTP: streamed sampling, scoring, and a page to try it.
    Serve(serve::ServeArgs),
    /// Plot training and validation loss from a --metrics file (SVG or PNG).
    Plot(plot::PlotArgs),
    /// Describe a corpus: size, characters, the losses a model must beat, windows per epoch.
    Inspect(inspect::InspectArgs),
    /// See inside a model: surprise per character, any neuron, units that track features.
    Explain(explain::ExplainArgs),
    /// Print a completion script for a shell, e.g. `charrnn completions bash >
    /// ~/.local/share/bash-completion/completions/charrnn`.
    Completions(CompletionsArgs),
}

#[derive(clap::Args, Debug)]
struct CompletionsArgs {
    /// The shell
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Floating-point precision of the run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Dtype {
    /// 32-bit: fast, the default.
    F32,
    /// 64-bit: the notebook's arithmetic.
    F64,
}

fn main() -> ExitCode {
    // The matches tell which flags were given (a resumed run checks them against its file).
    let matches = match Cli::command().try_get_matches() {
        Ok(m) => m,
        Err(e) => return usage_error(e),
    };
    let cli = match Cli::from_arg_matches(&matches) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = match cli.command {
        Command::Train(a) => {
            let given = matches
                .subcommand_matches("train")
                .expect("the train subcommand");
            match train::run(*a, given) {
                Ok(code) => return code,
                Err(e) => Err(e),
            }
        }
        Command::Plot(a) => plot::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Sample(a) => sample::run(a),
        Command::Score(a) => score::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Serve(a) => serve::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Completions(a) => {
            let mut script = Vec::new();
            clap_complete::generate(a.shell, &mut Cli::command(), "charrnn", &mut script);
            output::print(script)
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // The reader has gone (`charrnn sample | head`): nothing more to do.
        Err(e) if output::is_closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // The library names settings by their config fields; here they are flags.
            output::log(&format!("error: {}", train::with_flags(e)));
            ExitCode::from(2)
        }
    }
}

/// `--threads`, defaulting to every core.
pub fn resolve_threads(threads: Option<usize>) -> charrnn::Result<usize> {
    match threads {
        Some(0) => Err(charrnn::Error::Config(
            "--threads must be at least 1".into(),
        )),
        Some(n) => Ok(n),
        None => Ok(std::thread::available_parallelism().map_or(1, |n| n.get())),
    }
}

/// Help and version go out on standard output as clap prints them (exit 0); a usage error
/// goes out whole on standard error (exit 2): clap's message names what is wrong, with its
/// suggestion (`--hiden`: `--hidden`) or possible values, the command's usage line and the
/// help to read.
fn usage_error(e: clap::Error) -> ExitCode {
    let code = if e.use_stderr() { 2 } else { 0 };
    match e.print() {
        Err(err) if !e.use_stderr() && err.kind() != std::io::ErrorKind::BrokenPipe => {
            output::log(&format!("error: {}", output::stdout_error(err)));
            ExitCode::from(2)
        }
        _ => ExitCode::from(code),
    }
}
