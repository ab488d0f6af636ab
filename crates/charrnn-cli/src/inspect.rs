//! `charrnn inspect`: what a corpus holds before an hour is spent on it: size, characters, the
//! losses of uniform, unigram and bigram models on its held-out tail (the bars a trained model
//! must beat), and how many windows an epoch has; with `--model`, which of its characters a
//! trained model lacks (what fine-tuning it on the text needs).

use std::path::PathBuf;

use charrnn::corpus::{self, LoadOptions};
use charrnn::data::Streams;
use charrnn::finetune::VocabFit;
use charrnn::inspect::{baselines, counts};
use charrnn::{Error, Result};
use clap::Args;
use serde::Serialize;

use crate::input::Input;
use crate::output;

/// Flags of `charrnn inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The UTF-8 text file (`-`: standard input; a pipe works too)
    #[arg(value_name = "FILE", required_unless_present = "data")]
    pub file: Option<PathBuf>,
    /// The same, as a flag, as the other commands take it
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    pub data: Option<PathBuf>,
    /// Print one JSON object instead of text
    #[arg(long)]
    pub json: bool,
    /// Score the baselines on this last fraction of the text (fitting them on the rest)
    #[arg(long, default_value_t = 0.1, value_name = "F")]
    pub val_frac: f64,
    /// Window length (T), for the windows per epoch
    #[arg(long, default_value_t = 32, value_name = "N")]
    pub seq_len: usize,
    /// Parallel streams (B), for the windows per epoch
    #[arg(long, default_value_t = 4, value_name = "N")]
    pub batch: usize,
    /// Keep `\r\n` and lone `\r` as they are (as train --keep-cr)
    #[arg(long)]
    pub keep_cr: bool,
    /// How many of the most and least frequent characters to list
    #[arg(long, default_value_t = 10, value_name = "N")]
    pub top: usize,
    /// Also say which of the text's characters this model does not know, how much of the text
    /// they are, and whether training from it (train --init-from) needs --extend-vocab
    #[arg(long, value_name = "FILE")]
    pub model: Option<PathBuf>,
}

/// The report; also the `--json` output.
#[derive(Serialize)]
struct Report {
    file: String,
    bytes: u64,
    chars: usize,
    vocab_size: usize,
    /// `[char, count]`, most frequent first.
    most_frequent: Vec<(String, u64)>,
    /// `[char, count]`, least frequent first.
    least_frequent: Vec<(String, u64)>,
    val_frac: f64,
    train_chars: usize,
    val_chars: usize,
    smoothing: &'static str,
    uniform_nats: f64,
    uniform_bits: f64,
    unigram_nats: f64,
    unigram_bits: f64,
    bigram_nats: f64,
    bigram_bits: f64,
    seq_len: usize,
    batch: usize,
    /// Windows of `seq_len` x `batch` per pass over the training part (0: too short).
    windows_per_epoch: usize,
    warnings: Vec<String>,
    /// With `--model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    model: Option<ModelFit>,
}

/// How the text's characters fit `--model`'s vocabulary.
#[derive(Serialize)]
struct ModelFit {
    path: String,
    vocab_size: usize,
    /// `[char, count]` of the characters the model does not know, in code-point order.
    new_chars: Vec<(String, u64)>,
    /// Their occurrences in the text, and their share of it.
    new_count: u64,
    new_share: f64,
    /// The model's characters the text does not use.
    unused_model_chars: usize,
    /// The model has U+FFFD, which stands for unknown characters without --extend-vocab.
    has_unknown_symbol: bool,
    extend_vocab_needed: bool,
    /// The vocabulary size with --extend-vocab.
    extended_vocab_size: usize,
}

impl ModelFit {
    fn new(path: &std::path::Path, fit: &VocabFit) -> Self {
        ModelFit {
            path: path.display().to_string(),
            vocab_size: fit.model_vocab,
            new_chars: fit.new.iter().map(|&(c, n)| (c.to_string(), n)).collect(),
            new_count: fit.new_count,
            new_share: fit.new_share(),
            unused_model_chars: fit.unused,
            has_unknown_symbol: fit.has_unknown,
            extend_vocab_needed: fit.needs_extend(),
            extended_vocab_size: fit.extended_vocab(),
        }
    }

    /// What the text report says of it.
    fn lines(&self, text_chars: usize) -> Vec<String> {
        let m = format!("{} (vocabulary {})", self.path, self.vocab_size);
        if self.new_chars.is_empty() {
            return vec![format!(
                "{m} knows every character of the text: train from it with --init-from, no --extend-vocab needed"
            )];
        }
        const SHOWN: usize = 20;
        let mut list = self
            .new_chars
            .iter()
            .take(SHOWN)
            .flat_map(|(c, n)| c.chars().map(move |c| format!("{c:?} {n}")))
            .collect::<Vec<_>>()
            .join(", ");
        if self.new_chars.len() > SHOWN {
            list += &format!(" and {} more", self.new_chars.len() - SHOWN);
        }
        let then = if self.extend_vocab_needed {
            "training from it needs --extend-vocab (the model has no unknown symbol U+FFFD to read them as)"
        } else {
            "without --extend-vocab the model reads them as its unknown symbol U+FFFD; --extend-vocab gives them their own"
        };
        vec![
            format!(
                "{} character(s) of the text are new to {m}: {list}",
                self.new_chars.len()
            ),
            format!(
                "they are {} of its {text_chars} characters ({:.2}%); {then}: --init-from {} --extend-vocab makes the vocabulary {}",
                self.new_count,
                100.0 * self.new_share,
                self.path,
                self.extended_vocab_size
            ),
        ]
    }
}

pub fn run(a: InspectArgs) -> Result<()> {
    if !(a.val_frac > 0.0 && a.val_frac < 1.0) {
        return Err(Error::Config(format!(
            "--val-frac must be in (0, 1), got {}",
            a.val_frac
        )));
    }
    if a.seq_len == 0 || a.batch == 0 {
        return Err(Error::Config(
            "--seq-len and --batch must be at least 1".into(),
        ));
    }
    let opts = LoadOptions {
        keep_cr: a.keep_cr,
        ..LoadOptions::default()
    };
    let path = a
        .file
        .as_ref()
        .or(a.data.as_ref())
        .expect("clap requires one");
    let input = Input::open(path)?;
    let corpus::Corpus { vocab, ids, .. } = corpus::load_source(input.source(), &opts, |_| {})?;
    let bytes = input.bytes();
    let n = ids.len();
    let split = n - (n as f64 * a.val_frac) as usize;
    if n < 3 || split < 2 || split >= n {
        return Err(Error::Corpus {
            path: input.name().to_path_buf(),
            msg: format!(
                "has {n} characters: too few to hold out --val-frac {} of them",
                a.val_frac
            ),
        });
    }
    let v = vocab.len();
    let b = baselines(&ids, v, split);
    let freq = counts(&ids, v);
    let mut order: Vec<usize> = (0..v).collect();
    order.sort_by_key(|&i| (std::cmp::Reverse(freq[i]), i));
    let show = |i: usize| (vocab.char(i as u32).to_string(), freq[i]);
    let most = order.iter().take(a.top).map(|&i| show(i)).collect();
    let least = order.iter().rev().take(a.top).map(|&i| show(i)).collect();
    let mut warnings = Vec::new();
    let (train_ids, _) = ids.clone().split_at(split);
    let wpe = match Streams::new(train_ids, a.seq_len, a.batch) {
        Ok(s) => s.windows_per_epoch(),
        Err(e) => {
            warnings.push(format!(
                "the training part is too short: {}",
                crate::train::with_flags(e)
            ));
            0
        }
    };
    if wpe > 0 && wpe < 100 {
        warnings.push(format!(
            "an epoch is only {wpe} windows of {} x {}: a model will soon memorise this text; use more text, or a smaller --seq-len or --batch",
            a.seq_len, a.batch
        ));
    }
    let unseen = (split..n)
        .map(|i| ids.get(i))
        .filter(|&id| (0..split).all(|j| ids.get(j) != id))
        .count();
    if unseen > 0 {
        warnings.push(format!(
            "{unseen} held-out characters never occur in the training part"
        ));
    }
    let model = match &a.model {
        Some(path) => {
            let ck = charrnn::checkpoint::load::<f32>(path)?;
            let mut chars: Vec<(char, u64)> =
                (0..v).map(|i| (vocab.char(i as u32), freq[i])).collect();
            chars.sort_unstable();
            Some(ModelFit::new(path, &VocabFit::new(&chars, &ck.vocab)))
        }
        None => None,
    };
    let bits = |x: f64| x / std::f64::consts::LN_2;
    let r = Report {
        file: input.name().display().to_string(),
        bytes,
        chars: n,
        vocab_size: v,
        most_frequent: most,
        least_frequent: least,
        val_frac: a.val_frac,
        train_chars: split,
        val_chars: n - split,
        smoothing: "add-one (Laplace), fit on the training part",
        uniform_nats: b.uniform,
        uniform_bits: bits(b.uniform),
        unigram_nats: b.unigram,
        unigram_bits: bits(b.unigram),
        bigram_nats: b.bigram,
        bigram_bits: bits(b.bigram),
        seq_len: a.seq_len,
        batch: a.batch,
        windows_per_epoch: wpe,
        warnings,
        model,
    };
    if a.json {
        let json = serde_json::to_string(&r).expect("reports serialize");
        return output::print(format!("{json}\n"));
    }
    let list = |xs: &[(String, u64)]| {
        xs.iter()
            .map(|(c, k)| format!("{c:?} {k}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut lines = vec![
        format!(
            "{}: {} bytes, {} characters, vocabulary {}",
            r.file, r.bytes, r.chars, r.vocab_size
        ),
        format!("most frequent:  {}", list(&r.most_frequent)),
        format!("least frequent: {}", list(&r.least_frequent)),
        format!(
            "loss on the last {:.0}% ({} characters), fit on the first {} with add-one smoothing:",
            100.0 * r.val_frac,
            r.val_chars,
            r.train_chars
        ),
    ];
    for (name, nats) in [
        ("uniform", r.uniform_nats),
        ("unigram", r.unigram_nats),
        ("bigram", r.bigram_nats),
    ] {
        lines.push(format!(
            "  {name:8} {nats:.4} nats/char  {:.4} bits/char",
            bits(nats)
        ));
    }
    lines.push(format!(
        "an epoch (--seq-len {} --batch {}) has {} windows ({} steps cover the text once)",
        r.seq_len, r.batch, r.windows_per_epoch, r.windows_per_epoch
    ));
    if let Some(m) = &r.model {
        lines.extend(m.lines(r.chars));
    }
    lines.extend(r.warnings.iter().map(|w| format!("warning: {w}")));
    lines.push(String::new());
    output::print(lines.join("\n"))
}
