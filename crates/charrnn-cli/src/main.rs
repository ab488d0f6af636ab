//! `charrnn`: train, sample and score character-level RNN language models.
//!
//! A thin shell over the `charrnn` library: flags are parsed here, validated into library
//! configs, and every error is printed on one line with exit code 2.

mod bench;
mod builtin;
mod explain;
mod inspect;
mod interrupt;
mod metrics;
mod plot;
mod progress;
mod sample;
mod score;
mod serve;
mod train;

use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

/// Character-level recurrent language models: train one on any text, then sample from it.
#[derive(Parser, Debug)]
#[command(name = "charrnn", version)]
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
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // The library names settings by their config fields; here they are flags.
            eprintln!("error: {}", train::with_flags(e));
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

/// Help and version go out as clap prints them; a usage error becomes one line, exit 2.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.use_stderr() {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    let text = e.render().to_string();
    let mut lines = text.lines().filter(|l| !l.trim().is_empty());
    let first = lines.next().unwrap_or("invalid arguments");
    let mut first = first.strip_prefix("error: ").unwrap_or(first).to_string();
    // "the following required arguments were not provided:" lists them on indented lines.
    if first.ends_with(':') {
        let listed: Vec<&str> = lines
            .take_while(|l| l.starts_with("  "))
            .map(str::trim)
            .collect();
        first = format!("{first} {}", listed.join(", "));
    }
    eprintln!("error: {first} (see charrnn --help)");
    ExitCode::from(2)
}
