//! Named training recipes (`preset`): a model, an optimizer and a schedule that were measured
//! to train well, filled into every setting the caller leaves unset (so each one can still be
//! overridden). `auto` picks one from the text's size and the time budget.
//!
//! The recipes, and what they reach on tiny Shakespeare on the 2-core machine of
//! `docs/performance.md`, are measured by `bench/quality.sh`.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::config::RunConfig;
use crate::model::CellKind;
use crate::optim::{ClipMode, OptimKind};

/// A named recipe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The notebook's model and hyperparameters (what a run without a preset trains).
    Tiny,
    /// A one-layer LSTM of 384: the best we measured for runs of minutes (5 minutes on tiny
    /// Shakespeare, 2 cores: 1.470 nats/char, against 1.512 for 256 units, 1.519 for 2 x 256,
    /// 1.650 for 512).
    Small,
    /// A one-layer LSTM of 512: for runs of an hour or more, where 384 units run out of
    /// capacity before the time does.
    Medium,
    /// Two layers of 512 with dropout: the most capacity, for long runs on large texts.
    Large,
    /// One of the above, from the size of the text and `max_time`.
    Auto,
}

impl Preset {
    /// Every preset, for help texts.
    pub const ALL: [Preset; 5] = [
        Preset::Tiny,
        Preset::Small,
        Preset::Medium,
        Preset::Large,
        Preset::Auto,
    ];

    /// The name on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Tiny => "tiny",
            Preset::Small => "small",
            Preset::Medium => "medium",
            Preset::Large => "large",
            Preset::Auto => "auto",
        }
    }

    /// One line for `--help`.
    pub fn about(self) -> &'static str {
        match self {
            Preset::Tiny => "The notebook's: rnn E4 H32, T32 B4, adagrad 0.02",
            Preset::Small => "lstm E48 H384, T64 B32, adam 3e-3, warmup + cosine",
            Preset::Medium => "lstm E64 H512, T100 B32, adam 2e-3, warmup + cosine",
            Preset::Large => "lstm E64 H512 x2, T100 B32, dropout 0.2, adam 2e-3, warmup + cosine",
            Preset::Auto => "small, medium or large, from the text's size and --max-time (small under 20 minutes)",
        }
    }

    /// The preset `auto` stands for, for a text of `chars` characters and a time budget.
    pub fn resolve(self, chars: u64, max_time: Option<Duration>) -> Preset {
        if self != Preset::Auto {
            return self;
        }
        let minutes = max_time.map_or(f64::INFINITY, |d| d.as_secs_f64() / 60.0);
        // Measured: small beats medium and large at 5 minutes on a 1 MB text, by far (a bigger
        // model sees too few characters in that time). The longer thresholds are scaled from
        // the speeds (medium trains at a third of small's characters per second), not yet
        // measured.
        if chars < 200_000 || minutes < 20.0 {
            Preset::Small
        } else if chars < 5_000_000 || minutes < 120.0 {
            Preset::Medium
        } else {
            Preset::Large
        }
    }

    /// `c` with this (resolved) preset's settings in every field it leaves unset.
    pub fn fill(self, c: &RunConfig) -> RunConfig {
        let mut p = RunConfig::default();
        let recipe = |p: &mut RunConfig, emb, hidden, layers, seq_len, batch, lr, dropout| {
            p.cell = Some(CellKind::LSTM);
            p.emb = Some(emb);
            p.hidden = Some(hidden);
            p.layers = Some(layers);
            p.seq_len = Some(seq_len);
            p.batch = Some(batch);
            p.optim = Some(OptimKind::Adam);
            p.lr = Some(lr);
            p.dropout = Some(dropout);
            p.cosine = Some(true);
            p.lr_min = Some(lr / 20.0);
            p.warmup = Some(100);
            p.clip = Some(5.0);
            p.clip_mode = Some(ClipMode::Norm);
        };
        match self {
            Preset::Tiny | Preset::Auto => {}
            Preset::Small => recipe(&mut p, 48, 384, 1, 64, 32, 3e-3, 0.0),
            Preset::Medium => recipe(&mut p, 64, 512, 1, 100, 32, 2e-3, 0.0),
            Preset::Large => recipe(&mut p, 64, 512, 2, 100, 32, 2e-3, 0.2),
        }
        let schedule_given = c.lr_decay.is_some() || c.cosine.is_some() || c.linear.is_some();
        RunConfig {
            cell: c.cell.or(p.cell),
            emb: c.emb.or(p.emb),
            hidden: c.hidden.or(p.hidden),
            layers: c.layers.or(p.layers),
            seq_len: c.seq_len.or(p.seq_len),
            batch: c.batch.or(p.batch),
            optim: c.optim.or(p.optim),
            lr: c.lr.or(p.lr),
            dropout: c.dropout.or(p.dropout),
            // A schedule given replaces the preset's.
            cosine: if schedule_given { c.cosine } else { p.cosine },
            lr_min: c.lr_min.or(p.lr_min),
            warmup: c.warmup.or(p.warmup),
            clip: c.clip.or(p.clip),
            clip_mode: c.clip_mode.or(p.clip_mode),
            ..c.clone()
        }
    }

    /// Parse a name.
    pub fn parse(name: &str) -> Option<Preset> {
        Preset::ALL.into_iter().find(|p| p.name() == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_preset_fills_only_what_is_unset() {
        let c = RunConfig {
            hidden: Some(128),
            linear: Some(true),
            ..RunConfig::default()
        };
        let f = Preset::Medium.fill(&c);
        assert_eq!(f.hidden, Some(128));
        assert_eq!(f.emb, Some(64));
        assert_eq!(f.cell, Some(CellKind::LSTM));
        assert_eq!((f.cosine, f.linear), (None, Some(true)));
        assert_eq!(Preset::Tiny.fill(&c), c);
    }

    #[test]
    fn auto_picks_by_text_and_time() {
        let min = |m: u64| Some(Duration::from_secs(60 * m));
        assert_eq!(Preset::Auto.resolve(30_000, None), Preset::Small);
        assert_eq!(Preset::Auto.resolve(1_100_000, min(5)), Preset::Small);
        assert_eq!(Preset::Auto.resolve(1_100_000, min(30)), Preset::Medium);
        assert_eq!(Preset::Auto.resolve(1_100_000, None), Preset::Medium);
        assert_eq!(Preset::Auto.resolve(50_000_000, min(60)), Preset::Medium);
        assert_eq!(Preset::Auto.resolve(50_000_000, min(180)), Preset::Large);
        assert_eq!(Preset::Large.resolve(10, None), Preset::Large);
        for p in Preset::ALL {
            assert_eq!(Preset::parse(p.name()), Some(p));
        }
    }
}
