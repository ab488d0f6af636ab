//! `charrnn train`'s flags as a [`RunConfig`], and the library's messages in flag names.
//!
//! A flag given on the command line becomes `Some` in the config; one left at its default
//! becomes `None`, which the library reads as the same default for a new run and as "the
//! saved value" for a resumed one (so `--resume FILE` alone continues a run, and a flag given
//! with it is checked against the file). Every config field is the flag of the same name with
//! `-` for `_`; the library names fields in backticks (`` `lr` ``), shown here as `--lr`.

use charrnn::optim::{ClipMode, OptimKind};
use charrnn::run::{self, RunConfig, Text};
use charrnn::Error;
use clap::parser::ValueSource;
use clap::ArgMatches;

use super::{ClipBy, Optim, TrainArgs};
use crate::{builtin, Dtype};

/// What the built-in corpus is called in messages.
pub const BUILTIN_NAME: &str = "the built-in corpus";

/// The run the flags ask for.
pub fn run_config(a: &TrainArgs, m: &ArgMatches) -> RunConfig {
    // A flag with a default counts only when given.
    let given = |id: &str| m.value_source(id) == Some(ValueSource::CommandLine);
    RunConfig {
        resume: a.resume.clone(),
        init_from: a.init_from.clone(),
        preset: a.preset,
        extend_vocab: given("extend_vocab").then_some(a.finetune.extend_vocab),
        keep_optimizer: given("keep_optimizer").then_some(a.finetune.keep_optimizer),
        freeze: given("freeze").then(|| a.finetune.freeze.clone()),
        data: a.data.clone(),
        text: Some(Text {
            name: BUILTIN_NAME.into(),
            content: builtin::text(),
        }),
        keep_cr: given("keep_cr").then_some(a.keep_cr),
        max_vocab: a.max_vocab,
        min_count: a.min_count,
        dtype: given("dtype").then_some(match a.dtype {
            Dtype::F32 => run::Dtype::F32,
            Dtype::F64 => run::Dtype::F64,
        }),
        cell: a.cell,
        layers: a.layers,
        emb: a.emb,
        hidden: a.hidden,
        init: a.init,
        std: given("std").then_some(a.std),
        seed: given("seed").then_some(a.seed),
        dropout: given("dropout").then_some(a.dropout),
        seq_len: given("seq_len").then_some(a.seq_len),
        batch: given("batch").then_some(a.batch),
        optim: given("optim").then_some(match a.optim {
            Optim::Adagrad => OptimKind::Adagrad,
            Optim::Adam => OptimKind::Adam,
            Optim::Rmsprop => OptimKind::Rmsprop,
            Optim::Sgd => OptimKind::Sgd,
        }),
        lr: given("lr").then_some(a.lr),
        lr_decay: a.lr_decay,
        lr_decay_every: given("lr_decay_every").then_some(a.lr_decay_every),
        cosine: given("cosine").then_some(a.cosine),
        linear: given("linear").then_some(a.linear),
        warmup: given("warmup").then_some(a.warmup),
        lr_min: given("lr_min").then_some(a.lr_min),
        beta1: given("beta1").then_some(a.beta1),
        beta2: given("beta2").then_some(a.beta2),
        alpha: given("alpha").then_some(a.alpha),
        momentum: given("momentum").then_some(a.momentum),
        eps: given("eps").then_some(a.eps),
        clip: given("clip").then_some(a.clip),
        clip_mode: given("clip_mode").then_some(match a.clip_mode {
            ClipBy::Value => ClipMode::Value,
            ClipBy::Norm => ClipMode::Norm,
        }),
        clip_embedding: given("clip_embedding").then_some(a.clip_embedding),
        threads: a.threads,
        steps: a.steps,
        epochs: a.epochs,
        max_time: a.max_time,
        val_frac: given("val_frac").then_some(a.val_frac),
        eval_every: given("eval_every").then_some(a.eval_every),
        run_dir: a.run_dir.clone(),
        overwrite: given("overwrite").then_some(a.overwrite),
        out: a.out.clone(),
        metrics: a.metrics.clone(),
        checkpoint_dir: a.checkpoint_dir.clone(),
        checkpoint_every: given("checkpoint_every").then_some(a.checkpoint_every),
        keep: given("keep").then_some(a.keep),
        print_every: given("print_every").then_some(a.print_every),
        sample_every: given("sample_every").then_some(a.sample_every),
        sample_len: given("sample_len").then_some(a.sample_len),
    }
}

/// A library error as `charrnn train` says it: config fields as flags, and a diverged run's
/// advice as command lines.
pub fn with_flags(e: Error) -> Error {
    match e {
        Error::RunDiverged {
            step,
            what,
            last_checkpoint,
            out,
        } => {
            let last = match last_checkpoint {
                Some(p) => format!(
                    "the last good checkpoint, {}, is intact: continue from it with a smaller learning rate (charrnn train --resume {} --lr F)",
                    p.display(),
                    p.display()
                ),
                None => "no checkpoint was written (--checkpoint-every N keeps some): start again with a smaller --lr".into(),
            };
            Error::Config(format!(
                "training diverged at step {step}: {what}; {last}; {} was not written",
                out.display()
            ))
        }
        Error::Config(msg) => Error::Config(flags(&msg)),
        Error::Vocab(msg) => Error::Vocab(flags(&msg)),
        Error::Corpus { path, msg } => Error::Corpus {
            path,
            msg: flags(&msg),
        },
        Error::Checkpoint { path, msg } => Error::Checkpoint {
            path,
            msg: flags(&msg),
        },
        e => e,
    }
}

/// `msg` with every `` `field` `` of [`RunConfig`] written as its flag.
pub(super) fn flags(msg: &str) -> String {
    let fields = field_names();
    let mut out = String::with_capacity(msg.len());
    let mut rest = msg;
    while let Some(open) = rest.find('`') {
        let after = &rest[open + 1..];
        match after.find('`') {
            Some(close) if fields.iter().any(|f| f == &after[..close]) => {
                out.push_str(&rest[..open]);
                out.push_str("--");
                out.push_str(&after[..close].replace('_', "-"));
                rest = &after[close + 1..];
            }
            _ => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// The names of [`RunConfig`]'s fields.
fn field_names() -> Vec<String> {
    match serde_json::to_value(RunConfig::default()) {
        Ok(serde_json::Value::Object(m)) => m.keys().cloned().collect(),
        _ => unreachable!("a config serializes to an object"),
    }
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, FromArgMatches};

    use super::*;

    fn parse(args: &[&str]) -> RunConfig {
        let mut argv = vec!["charrnn", "train"];
        argv.extend(args);
        let m = crate::Cli::command().get_matches_from(argv);
        let sub = m.subcommand_matches("train").unwrap();
        let a = TrainArgs::from_arg_matches(sub).unwrap();
        run_config(&a, sub)
    }

    #[test]
    fn every_config_field_is_a_flag() {
        let cmd = crate::Cli::command();
        let train = cmd.find_subcommand("train").unwrap();
        for f in field_names().iter().filter(|f| *f != "text") {
            let flag = f.replace('_', "-");
            assert!(
                train.get_arguments().any(|a| a.get_long() == Some(&flag)),
                "--{flag}"
            );
        }
    }

    #[test]
    fn clap_defaults_are_the_library_defaults() {
        // Every flag with a default, given at that default.
        let cmd = crate::Cli::command();
        let train = cmd.find_subcommand("train").unwrap();
        let mut args = Vec::new();
        for arg in train.get_arguments() {
            if let (Some(long), [d], true) = (
                arg.get_long(),
                arg.get_default_values(),
                arg.get_action().takes_values(),
            ) {
                args.push(format!("--{long}"));
                args.push(d.to_string_lossy().into_owned());
            }
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        assert!(args.len() > 40, "{args:?}");
        let want = RunConfig {
            // Flags without a value, or whose default is in their help text only.
            keep_cr: None,
            cosine: None,
            linear: None,
            clip_embedding: None,
            overwrite: None,
            cell: None,
            layers: None,
            emb: None,
            hidden: None,
            text: parse(&[]).text,
            ..RunConfig::defaults()
        };
        assert_eq!(parse(&args), want);
        // Left out, they are `None`: the same defaults for a new run.
        assert_eq!(
            parse(&[]),
            RunConfig {
                text: want.text.clone(),
                ..RunConfig::default()
            }
        );
    }

    #[test]
    fn fields_become_flags() {
        assert_eq!(
            flags("`val_frac` 0.5 differs; drop `val_frac` or use `init_from` (`x`) `"),
            "--val-frac 0.5 differs; drop --val-frac or use --init-from (`x`) `"
        );
    }
}
