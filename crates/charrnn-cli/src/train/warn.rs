//! Flags given on the command line that the run will not use: each is named in a warning
//! (why it has no effect, and what would use it), so nothing is ignored silently. They are
//! told once the run is set up, from what it really is (a resumed run's optimizer and
//! schedule come from its checkpoint).

use charrnn::model::Init;
use charrnn::optim::{ClipMode, OptimKind, Schedule};
use charrnn::run::RunInfo;
use clap::parser::ValueSource;
use clap::ArgMatches;

/// Which flags were given.
pub struct Given {
    ids: Vec<String>,
}

impl Given {
    pub fn of(m: &ArgMatches) -> Self {
        let ids = m
            .ids()
            .filter(|id| m.value_source(id.as_str()) == Some(ValueSource::CommandLine))
            .map(|id| id.as_str().to_string())
            .collect();
        Given { ids }
    }

    fn has(&self, id: &str) -> bool {
        self.ids.iter().any(|i| i == id)
    }
}

/// The warnings for the flags `given` that `info`'s run does not use.
pub fn warnings(given: &Given, info: &RunInfo) -> Vec<String> {
    let mut out = Vec::new();
    let mut unused = |ids: &[&str], why: &str| {
        let named: Vec<String> = ids
            .iter()
            .filter(|id| given.has(id))
            .map(|id| format!("--{}", id.replace('_', "-")))
            .collect();
        if !named.is_empty() {
            let (verb, it) = match named.len() {
                1 => ("has", "it"),
                _ => ("have", "them"),
            };
            let why = why.replace("{it}", it);
            out.push(format!("{} {verb} no effect: {why}", named.join(", ")));
        }
    };
    let t = &info.train;
    let kind = t.optim.kind.name();
    if t.optim.kind != OptimKind::Adam {
        unused(
            &["beta1", "beta2"],
            &format!("only --optim adam uses {{it}}, and this run's optimizer is {kind}"),
        );
    }
    if t.optim.kind != OptimKind::Rmsprop {
        unused(
            &["alpha"],
            &format!("only --optim rmsprop uses {{it}}, and this run's optimizer is {kind}"),
        );
    }
    if t.optim.kind != OptimKind::Sgd {
        unused(
            &["momentum"],
            &format!("only --optim sgd uses {{it}}, and this run's optimizer is {kind}"),
        );
    } else {
        unused(&["eps"], "--optim sgd has no epsilon");
    }
    if !matches!(t.schedule, Schedule::Step { .. }) {
        unused(
            &["lr_decay_every"],
            "it is the period of --lr-decay, and this run's learning rate does not decay in steps",
        );
    }
    if !matches!(t.schedule, Schedule::Anneal { .. }) {
        unused(
            &["lr_min"],
            "only --cosine and --linear use {it}, and this run's learning rate is not annealed",
        );
    }
    if t.clip.value.is_none() {
        unused(
            &["clip_mode", "clip_embedding"],
            "--clip 0 turns clipping off",
        );
    } else if t.clip.mode == ClipMode::Norm {
        unused(
            &["clip_embedding"],
            "the global norm (--clip-mode norm) always covers the embedding's gradient",
        );
    }
    let from = if given.has("resume") {
        Some("--resume")
    } else if given.has("init_from") {
        Some("--init-from")
    } else {
        None
    };
    if let Some(flag) = from {
        // --extend-vocab keeps the extended vocabulary within --max-vocab.
        let vocab_flags: &[&str] = if from == Some("--init-from") && given.has("extend_vocab") {
            &["min_count"]
        } else {
            &["max_vocab", "min_count"]
        };
        unused(
            vocab_flags,
            &format!("the vocabulary comes from the {flag} checkpoint"),
        );
        unused(
            &["init", "std"],
            &format!("the weights come from the {flag} checkpoint"),
        );
    } else {
        let m = &info.model;
        let init = info
            .settings
            .init
            .unwrap_or_else(|| m.cell.spec().default_init(m.layers));
        if init != Init::Notebook {
            unused(
                &["std"],
                &format!(
                    "only --init notebook uses {{it}}, and this model's weights are drawn by --init {}",
                    init.name()
                ),
            );
        }
    }
    if info.val_chars == 0 {
        unused(
            &["eval_every"],
            "no text is held out for validation: give --val-frac F",
        );
    }
    out
}
